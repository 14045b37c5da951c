//go:build unix && !linux

package main

// bindsDevice: on other Unix systems --interface NAME binds to the
// interface's addresses instead of the interface itself.
const bindsDevice = false

func bindDevice(int, string) error { return nil }
