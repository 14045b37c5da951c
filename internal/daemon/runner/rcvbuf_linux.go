//go:build unix

package runner

import (
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// havePathBuffer tells whether sizeToPath does anything.
const havePathBuffer = true

// sizeToPath gives an established connection the receive buffer
// pathReceiveBuffer chooses for its smoothed RTT (TCP_INFO's tcpi_rtt,
// measured by the handshake) and returns it; 0 leaves the buffer to the
// kernel's autotuning, as does any error. Setting it after the handshake
// keeps the window scale the kernel chose for autotuning, which fits any
// smaller buffer.
func sizeToPath(c *net.TCPConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var n int
	rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return
		}
		n = pathReceiveBuffer(time.Duration(info.Rtt)*time.Microsecond, bufferLimit())
		if n > 0 && unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n) != nil {
			n = 0
		}
	})
	return n
}

// bufferLimit is the largest buffer sizeToPath sets: the lesser of
// net.ipv4.tcp_rmem's maximum (beyond it autotuning does as well) and
// net.core.rmem_max (the kernel silently caps SO_RCVBUF there, which
// would cap the window below the path's product).
var bufferLimit = sync.OnceValue(func() int {
	auto := defaultAutotuneMax
	if f := strings.Fields(readSysctl("/proc/sys/net/ipv4/tcp_rmem")); len(f) == 3 {
		if v, err := strconv.Atoi(f[2]); err == nil && v > 0 {
			auto = v
		}
	}
	rmem := defaultRmemMax
	if v, err := strconv.Atoi(strings.TrimSpace(readSysctl("/proc/sys/net/core/rmem_max"))); err == nil && v > 0 {
		rmem = v
	}
	return min(auto, rmem)
})

func readSysctl(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}
