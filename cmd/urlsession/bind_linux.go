package main

import "syscall"

// bindsDevice: Linux sends a socket's packets through one interface
// (SO_BINDTODEVICE), as curl does for --interface NAME.
const bindsDevice = true

func bindDevice(fd int, name string) error {
	return syscall.SetsockoptString(fd, syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, name)
}
