//go:build !linux

package netconn

import "syscall"

// batch is Linux's; elsewhere a read wakes for its first byte.
type batch struct{}

func (*batch) init(syscall.RawConn) {}
func (*batch) active() bool         { return false }
func (*batch) setExpect(int64)      {}
func (*batch) expected() int64      { return 0 }
func (*batch) wait(uintptr)         {}
func (*batch) got(int)              {}
func (*batch) woke()                {}
