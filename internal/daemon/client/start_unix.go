//go:build unix

package client

import "syscall"

// detached returns the attributes that start the daemon in a session of
// its own, so that the terminal's signals (Ctrl-C, hang-up) do not reach
// it when the program that started it gets them.
func detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}
