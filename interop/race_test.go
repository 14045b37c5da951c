//go:build interop && race

package interop

// raceEnabled reports whether the race detector is built in.
const raceEnabled = true
