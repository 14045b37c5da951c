//go:build race

package urlsession

// raceEnabled reports whether the race detector is built in.
const raceEnabled = true
