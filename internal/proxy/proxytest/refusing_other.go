//go:build !unix

package proxytest

import (
	"net"
	"testing"
)

// Refusing returns the address of a loopback port nothing listens on.
func Refusing(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
