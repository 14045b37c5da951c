//go:build !unix

package main

import (
	"errors"
	"syscall"
)

// control refuses: binding a connection is done on Unix systems only.
func (b bindSpec) control(string, string, syscall.RawConn) error {
	return &bindError{errors.New("--interface and --local-port are not supported on this system")}
}
