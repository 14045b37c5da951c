//go:build !unix

package dscp

import "syscall"

// Mark does nothing where sockets are not marked.
func Mark(string, syscall.RawConn, int) {}
