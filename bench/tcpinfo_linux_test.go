package bench

import (
	"net"

	"golang.org/x/sys/unix"
)

// bytesAcked returns the bytes the peer of a TCP connection acknowledged
// (tcpi_bytes_acked: the response's header and body), or -1.
func bytesAcked(c net.Conn) int64 {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return -1
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1
	}
	n := int64(-1)
	rc.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			n = int64(info.Bytes_acked)
		}
	})
	return n
}
