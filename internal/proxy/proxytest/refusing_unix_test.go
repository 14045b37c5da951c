//go:build unix

package proxytest

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

func TestRefusingRefuses(t *testing.T) {
	addr := Refusing(t)
	for range 3 {
		_, err := net.Dial("tcp", addr)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v, want refused", addr, err)
		}
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Fatalf("another listener took %s", addr)
	}
}
