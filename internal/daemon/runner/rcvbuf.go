//go:build unix

package runner

import (
	"context"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/urlsession-go/urlsession/internal/dscp"
)

// The receive buffer of a transfer connection by default (Options
// ReceiveBuffer 0) is sized to its path, from the smoothed round-trip
// time the kernel measured during the TCP handshake.
//
// What sits in the receive buffer when the daemon is killed is fetched
// again, and the kernel's autotuning lets the buffer grow to several MiB
// on any path whose reader falls behind, loopback and LAN included. A
// fixed buffer bounds that, but caps the window, and with it throughput,
// at about buffer/RTT. A buffer of RTT × pathRate leaves the window at
// the bandwidth-delay product of a pathRate path: on a loopback or LAN
// path (an RTT well under a millisecond) that is a few hundred KiB, while
// a long path, whose product exceeds what a fixed buffer may be given,
// keeps autotuning.
const (
	// pathRate is the nominal rate the buffer is sized for, in bytes per
	// second: 10 Gbit/s, the fastest link common on the hosts the daemon
	// runs on, and ten times a gigabit link, which leaves those room for
	// the RTT to grow under load before the window limits them.
	pathRate = 10_000_000_000 / 8
	// minPathBuffer is the least buffer set: short paths would otherwise
	// get a few KiB, which makes the sender wait on window updates. 256
	// KiB held what a kill loses on loopback to under 0.5 MiB (the kernel
	// doubles the value for its bookkeeping) at no measurable cost in
	// loopback throughput.
	minPathBuffer = 256 << 10
	// defaultAutotuneMax stands for net.ipv4.tcp_rmem's maximum when it
	// cannot be read: the kernel's default, 6 MiB.
	defaultAutotuneMax = 6 << 20
	// defaultRmemMax stands for net.core.rmem_max, the cap on SO_RCVBUF,
	// when it cannot be read: the kernel's default.
	defaultRmemMax = 212992
)

// pathReceiveBuffer returns the SO_RCVBUF to give a connection whose
// smoothed round-trip time is rtt, or 0 to leave the kernel's autotuning
// alone: rtt × pathRate, at least minPathBuffer, or 0 when that product
// exceeds limit (what autotuning may grow the buffer to, or what
// SO_RCVBUF may be set to, whichever is less) or rtt is not known (0).
func pathReceiveBuffer(rtt time.Duration, limit int) int {
	if rtt <= 0 {
		return 0
	}
	n := rtt.Microseconds() * (pathRate / 1_000_000)
	if n > int64(limit) {
		return 0
	}
	return max(int(n), minPathBuffer)
}

// dialFunc returns the DialContext a Runner gives its session when the
// Configuration has none, or nil to keep the session's own dialer: a
// fixed receive buffer for n > 0, one sized to the path for n == 0 where
// the system tells a connection's round-trip time, and none (the
// kernel's autotuning) for n < 0.
//
// Its sockets are marked with the DiffServ code point mark (see
// urlsession.NetworkServiceType); 0 leaves them unmarked.
func dialFunc(n, mark int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	switch {
	case n > 0:
		return fixedBufferDialer(n, mark).DialContext
	case n == 0 && havePathBuffer:
		d := &net.Dialer{KeepAlive: 30 * time.Second, Control: dscp.Control(mark, nil)}
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if tc, ok := c.(*net.TCPConn); ok {
				sizeToPath(tc)
			}
			return c, nil
		}
	}
	return nil
}

// fixedBufferDialer returns a dialer whose TCP connections have a
// receive buffer of n bytes (set before connecting, so that the window
// scale fits it), marked with the DiffServ code point mark.
func fixedBufferDialer(n, mark int) *net.Dialer {
	return &net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: dscp.Control(mark, func(network, _ string, c syscall.RawConn) error {
			if !strings.HasPrefix(network, "tcp") {
				return nil
			}
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
			})
			if err != nil {
				return err
			}
			return serr
		}),
	}
}
