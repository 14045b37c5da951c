//go:build unix

package h1

import "syscall"

// open reports whether c, idle, is still open and has nothing to read: a
// server that closed it, or sent bytes nobody asked for, fails it. It
// looks without blocking, and only at a connection that is a
// syscall.Conn (a TCP connection); it says yes for others.
func (c *conn) open() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	alive := true
	var b [1]byte
	raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return alive
}
