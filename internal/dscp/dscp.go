// Package dscp marks sockets with a Differentiated Services code point
// (RFC 2474), for the session's NetworkServiceType.
package dscp

import "syscall"

// Control returns a net.Dialer Control function that marks each socket
// with code point d before it connects, and also runs then, if not nil;
// with d 0 it returns then.
func Control(d int, then func(network, address string, c syscall.RawConn) error) func(network, address string, c syscall.RawConn) error {
	if d == 0 {
		return then
	}
	return func(network, address string, c syscall.RawConn) error {
		Mark(network, c, d)
		if then != nil {
			return then(network, address, c)
		}
		return nil
	}
}
