//go:build unix

package dscp

import (
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Mark sets code point d (0 to 63) on the socket c of network ("tcp4",
// "udp6"...): the IPv4 TOS byte or the IPv6 traffic class, whose two low
// bits (ECN) stay the kernel's. The marking is advice to the network, so
// a refusal is not reported.
func Mark(network string, c syscall.RawConn, d int) {
	c.Control(func(fd uintptr) {
		if strings.HasSuffix(network, "6") {
			unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_TCLASS, d<<2)
			return
		}
		unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS, d<<2)
	})
}
