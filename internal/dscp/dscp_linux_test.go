package dscp

import (
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Control marks the socket before it connects and runs the function it
// wraps; with code point 0 it is that function.
func TestControl(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		host := "127.0.0.1"
		level, opt := unix.IPPROTO_IP, unix.IP_TOS
		if network == "tcp6" {
			host = "::1"
			level, opt = unix.IPPROTO_IPV6, unix.IPV6_TCLASS
		}
		ln, err := net.Listen(network, net.JoinHostPort(host, "0"))
		if err != nil {
			t.Logf("%s: %v; skipped", network, err)
			continue
		}
		defer ln.Close()
		ran := false
		then := func(string, string, syscall.RawConn) error { ran = true; return nil }
		d := net.Dialer{Control: Control(46, then)}
		c, err := d.Dial(network, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		raw, _ := c.(*net.TCPConn).SyscallConn()
		var v int
		raw.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), level, opt) })
		if err != nil || v != 46<<2 || !ran {
			t.Errorf("%s: marking %#x (%v), wrapped function ran %t; want %#x and true", network, v, err, ran, 46<<2)
		}
	}
	if Control(0, nil) != nil {
		t.Error("Control(0, nil) is not nil")
	}
}
