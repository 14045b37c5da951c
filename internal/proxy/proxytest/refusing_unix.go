//go:build unix

package proxytest

import (
	"net"
	"strconv"
	"syscall"
	"testing"
)

// Refusing returns the address of a loopback port nothing listens on: a
// socket holds it, bound and not listening, until the test ends, so that
// connections to it are refused and no other test's listener can take the
// port meanwhile (as one could take a port found free and let go).
func Refusing(t testing.TB) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fd)
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}
