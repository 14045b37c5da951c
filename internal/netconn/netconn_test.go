//go:build unix

package netconn

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return Watch(c), s
}

func TestWatch(t *testing.T) {
	c, _ := pair(t)
	if _, ok := c.(*Conn); !ok {
		t.Fatalf("Watch of a TCP connection gave %T", c)
	}
	if _, ok := c.(io.ReaderFrom); !ok {
		t.Error("the watched connection lost ReadFrom (sendfile, splice)")
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if w := Watch(p1); w != p1 {
		t.Errorf("Watch of a pipe gave %T, want the pipe itself", w)
	}
}

// With a notifier, a read that finds the socket empty calls it before
// it waits, and then returns what arrives.
func TestOnReadBlock(t *testing.T) {
	c, s := pair(t)
	blocked := make(chan struct{}, 1)
	c.(*Conn).OnReadBlock(func() bool {
		select {
		case blocked <- struct{}{}:
		default:
		}
		return false
	})
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(buf[:n])
	}()
	select {
	case <-blocked:
	case s := <-got:
		t.Fatalf("read %q before anything was sent", s)
	case <-time.After(10 * time.Second):
		t.Fatal("the notifier was not called")
	}
	s.Write([]byte("hello"))
	if r := <-got; r != "hello" {
		t.Fatalf("read %q", r)
	}
}

// Errors are net.TCPConn's: end of file, deadlines, closing.
func TestWatchedErrors(t *testing.T) {
	c, s := pair(t)
	c.(*Conn).OnReadBlock(func() bool { return false })
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	s.Close()
	if _, err := c.Read(make([]byte, 10)); err != io.EOF {
		t.Errorf("read at the peer's close: %v, want io.EOF", err)
	}
	c.Close()
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v", err)
	}
}

// A notifier that returns true makes the read return ErrWouldBlock, a
// temporary net.Error, instead of waiting; the next read gets the data.
func TestOnReadBlockStops(t *testing.T) {
	c, s := pair(t)
	calls := 0
	c.(*Conn).OnReadBlock(func() bool { calls++; return true })
	buf := make([]byte, 10)
	n, err := c.Read(buf)
	var ne net.Error
	if n != 0 || !errors.Is(err, ErrWouldBlock) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read of an empty socket: %d, %v", n, err)
	}
	if calls != 1 {
		t.Errorf("the notifier ran %d times", calls)
	}
	s.Write([]byte("hi"))
	c.(*Conn).OnReadBlock(func() bool { return false })
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "hi" {
		t.Errorf("read after the data came: %q, %v", buf[:n], err)
	}
}
