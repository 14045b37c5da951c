//go:build !linux

package main

// bindsDevice: elsewhere --interface NAME binds to the interface's
// addresses instead of the interface itself.
const bindsDevice = false

func bindDevice(int, string) error { return nil }
