// Package netconn wraps a TCP connection so that its single reader can
// learn when a read is about to wait for the network.
//
// A reader that hands data on to other goroutines (the HTTP/2 client's
// connection reader, which wakes each stream's body reader) can then hold
// its wake-ups while more data is already there to be read, and deliver
// them just before it would block: the body readers wake once per burst
// rather than once per frame.
//
// On Linux a reader that knows more bytes are coming (the rest of a
// response body of known length) says so with Expect; while the peer then
// sends fast, a read that finds the socket empty asks the kernel to wake it
// only once a batch of bytes is in (SO_RCVLOWAT), so that the reader wakes
// once per batch rather than once per TLS record or TCP segment. See
// [Conn.Expect].
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
	r       reader // the state of a Read in progress through the RawConn
}

// Of returns the *Conn under c, a connection from Watch or a TLS
// connection over one, or nil.
func Of(c net.Conn) *Conn {
	for range 4 {
		switch x := c.(type) {
		case *Conn:
			return x
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// Expect tells c that at least n more bytes will come from the peer
// without anything more being sent to it (the rest of a response body
// whose length is known, within what the peer's flow control lets it
// send), counting from the bytes c has read so far; fewer than a batch's
// least (32 KiB), or n <= 0, withdraws what was said. c counts the bytes
// it reads against n. Any goroutine may call it.
//
// While enough bytes are expected and the peer has been sending them at
// tens of megabytes a second or more, a Read that finds the socket empty
// waits for a batch of them (about a millisecond's worth, from 32 to 256
// KiB, never more than is expected) rather than for the first one, so
// that a fast transfer wakes its reader once per batch: over TLS from a
// server on the same machine, that takes about half of the reader's CPU
// time per byte. A batch that has not come whole within 5 ms is given to
// the reader as it is, and batching waits until the peer is fast again; so
// a wrong expectation, or a peer that slows down, costs a read at most
// that much delay. Where the kernel cannot batch, Expect only counts (on
// Linux before 5.0) or does nothing (on other systems).
func (c *Conn) Expect(n int64) { c.r.b.setExpect(n) }

// Expected returns how many of the bytes Expect announced c has yet to
// read: 0 when none are, and always 0 on systems other than Linux.
func (c *Conn) Expected() int64 { return c.r.b.expected() }

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
	if (f == nil && !c.r.b.active()) || len(p) == 0 {
		return c.TCPConn.Read(p)
	}
	var block func() bool
	if f != nil {
		block = *f
	}
	n, err := c.r.read(p, block)
	if err != nil && err != io.EOF {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, err
}
