//go:build unix

package runner

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPathBuffer: by default the runner's session dials TCP connections
// whose receive buffer is sized to the path: on loopback, a bounded
// buffer instead of the kernel's autotuned one. With ReceiveBuffer -1
// the session keeps its own dialer.
func TestPathBuffer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	defer func() {
		ln.Close()
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	}()

	r := newRunner(t, nil)
	cfg := r.s.Configuration()
	if cfg.DialContext == nil || cfg.DialUDPContext == nil {
		t.Fatalf("the runner's configuration has DialContext %v, DialUDPContext %v: want both", cfg.DialContext != nil, cfg.DialUDPContext != nil)
	}
	c, err := cfg.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rtt, got := rttAndBuffer(t, c)
	limit := bufferLimit()
	want := pathReceiveBuffer(rtt, limit)
	t.Logf("loopback RTT %v, limit %d: buffer %d, SO_RCVBUF reads %d", rtt, limit, want, got)
	if want == 0 || want > 1<<20 {
		t.Fatalf("a loopback connection (RTT %v) is given buffer %d, want a bounded one", rtt, want)
	}
	if wantRead := 2 * min(want, rmemMax(t)); got != wantRead {
		t.Errorf("SO_RCVBUF of the runner's connection reads %d, want %d (twice %d)", got, wantRead, want)
	}

	// The kernel's own sizing, for comparison: the check above tells the
	// two apart only when they differ.
	plain, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	_, auto := rttAndBuffer(t, plain)
	t.Logf("an autotuned connection's SO_RCVBUF reads %d", auto)
	if auto == got {
		t.Logf("which does not tell the two apart")
	}

	r = newRunner(t, func(o *Options) { o.ReceiveBuffer = -1 })
	if cfg := r.s.Configuration(); cfg.DialContext != nil || cfg.DialUDPContext != nil {
		t.Errorf("with ReceiveBuffer -1 the runner set a DialContext (%v) or DialUDPContext (%v)", cfg.DialContext != nil, cfg.DialUDPContext != nil)
	}
}

// rttAndBuffer returns a connection's smoothed RTT and SO_RCVBUF.
func rttAndBuffer(t *testing.T, c net.Conn) (time.Duration, int) {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var buf int
	var ierr, berr error
	rc.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		buf, berr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	if ierr != nil || berr != nil {
		t.Fatalf("TCP_INFO: %v; SO_RCVBUF: %v", ierr, berr)
	}
	return time.Duration(info.Rtt) * time.Microsecond, buf
}

func rmemMax(t *testing.T) int {
	n, err := strconv.Atoi(strings.TrimSpace(readSysctl("/proc/sys/net/core/rmem_max")))
	if err != nil {
		t.Skip("net.core.rmem_max cannot be read")
	}
	return n
}
