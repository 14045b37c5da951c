//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import "os"

// lockFile does nothing where there is no flock.
func lockFile(f *os.File, exclusive bool) error { return nil }
