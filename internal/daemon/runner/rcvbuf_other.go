//go:build unix && !linux

package runner

import "net"

// havePathBuffer tells whether sizeToPath does anything: not where the
// connection's round-trip time cannot be read (the kernel's own sizing
// applies).
const havePathBuffer = false

func sizeToPath(c *net.TCPConn) int { return 0 }
