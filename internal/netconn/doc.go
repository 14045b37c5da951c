// Package netconn wraps a TCP connection so that its single reader can
// learn when a read is about to wait for the network.
//
// A reader that hands data on to other goroutines (the HTTP/2 client's
// connection reader, which wakes each stream's body reader) can then hold
// its wake-ups while more data is already there to be read, and deliver
// them just before it would block: the body readers wake once per burst
// rather than once per frame.
package netconn

import (
	"io"
	"net"
	"sync/atomic"
)

// BlockNotifier is implemented by connections from [Watch]:
// OnReadBlock(f) makes each later Read call f, on the reading goroutine,
// whenever the socket has nothing to read and Read is about to wait for
// it. If f returns true, Read returns at once with an error that matches
// [ErrWouldBlock] instead of waiting. f must not block. Only one
// goroutine at a time may be reading while f is set.
type BlockNotifier interface {
	OnReadBlock(f func() bool)
}

// ErrWouldBlock is the error of a Read that a BlockNotifier's function
// stopped from waiting. It is a net.Error whose Timeout and Temporary
// report true, so that crypto/tls keeps the connection usable after it, as
// after a read deadline.
var ErrWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "netconn: read would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// Conn is a TCP connection whose reads can notify a waiting reader (see
// [BlockNotifier]). Every other method is the TCP connection's; in
// particular io.Copy to it still uses the kernel's splice and sendfile.
type Conn struct {
	*net.TCPConn
	onBlock atomic.Pointer[func() bool]
	r       reader // the state of a Read in progress while onBlock is set
}

// Watch returns c wrapped as a *Conn when it is a *net.TCPConn on a
// platform that supports it, and c itself otherwise.
func Watch(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok || !supported {
		return c
	}
	wc := &Conn{TCPConn: tc}
	if err := wc.r.init(tc); err != nil {
		return c
	}
	return wc
}

// OnReadBlock implements BlockNotifier. A nil f turns notifications off.
func (c *Conn) OnReadBlock(f func() bool) {
	if f == nil {
		c.onBlock.Store(nil)
		return
	}
	c.onBlock.Store(&f)
}

// Read reads as net.TCPConn's Read does. With a notifier set, a read that
// finds the socket empty calls it before it waits, and returns
// ErrWouldBlock instead when it says so.
func (c *Conn) Read(p []byte) (int, error) {
	f := c.onBlock.Load()
	if f == nil || len(p) == 0 {
		return c.TCPConn.Read(p)
	}
	n, err := c.r.read(p, *f)
	if err != nil && err != io.EOF {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, err
}
