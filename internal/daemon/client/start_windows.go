//go:build windows

package client

import "syscall"

// detachedProcess is DETACHED_PROCESS: the daemon has no console, so
// closing the starting program's console does not end it.
const detachedProcess = 0x00000008

// detached returns the attributes that start the daemon in a process
// group of its own, without the console of the program that started it,
// so that Ctrl-C there does not reach it.
func detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP | detachedProcess}
}
