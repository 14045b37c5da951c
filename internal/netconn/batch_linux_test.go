//go:build linux

package netconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fastPeer makes every connection's peer count as fast (a batch of
// rate bytes a millisecond) and a late batch wait for wait, for the test.
func fastPeer(t *testing.T, rate int64, wait time.Duration) {
	t.Helper()
	if !kernelBatches() {
		t.Skip("this kernel does not batch wake-ups")
	}
	oldRate, oldWait := fixedRate, batchWait
	fixedRate, batchWait = rate, wait
	t.Cleanup(func() { fixedRate, batchWait = oldRate, oldWait })
}

// lowat returns c's SO_RCVLOWAT.
func lowat(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	v := -1
	rc.Control(func(fd uintptr) {
		v, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT)
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// batchPair is pair with a receive buffer that holds the largest batch.
func batchPair(t *testing.T) (net.Conn, net.Conn) {
	c, s := pair(t)
	if err := c.(*Conn).SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	return c, s
}

type readResult struct {
	n   int
	err error
}

// readAsync reads once into buf on another goroutine.
func readAsync(c net.Conn, buf []byte) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		n, err := c.Read(buf)
		ch <- readResult{n, err}
	}()
	return ch
}

// pendingRead is a read that waits for a batch on c, whose peer is s.
type pendingRead struct {
	c, s    net.Conn
	buf     []byte
	got     <-chan readResult
	size    int        // the batch it waits for
	batches <-chan int // the batch of each read that waits from then on
}

// waitingRead makes a connection expect n bytes from a peer that counts
// as fast (rate and wait as for fastPeer), starts a read into a 1 MiB
// buffer, and returns once that read waits for a batch.
func waitingRead(t *testing.T, rate int64, wait time.Duration, n int64) *pendingRead {
	t.Helper()
	fastPeer(t, rate, wait)
	batches := make(chan int, 16)
	f := func(n int) {
		select {
		case batches <- n:
		default:
		}
	}
	testHookWait.Store(&f)
	t.Cleanup(func() { testHookWait.Store(nil) })
	p := &pendingRead{batches: batches, buf: make([]byte, 1<<20)}
	p.c, p.s = batchPair(t)
	p.c.(*Conn).Expect(n)
	p.got = readAsync(p.c, p.buf)
	p.size = nextBatch(t, p, func(size int) bool { return size > 1 })
	return p
}

// nextBatch returns the batch of the next read that waits for one that
// want accepts, failing if the read in progress returns first.
func nextBatch(t *testing.T, p *pendingRead, want func(int) bool) int {
	t.Helper()
	for {
		select {
		case size := <-p.batches:
			if want(size) {
				return size
			}
		case r := <-p.got:
			t.Fatalf("the read returned %d, %v before it waited as expected", r.n, r.err)
		case <-time.After(10 * time.Second):
			t.Fatal("no read waited as expected")
		}
	}
}

// With bytes expected from a fast peer, a read that finds the socket empty
// waits for a batch: it gets nothing for the first bytes, and a batch or
// more once they are in.
func TestExpectBatches(t *testing.T) {
	p := waitingRead(t, 64<<10, time.Minute, 1<<20)
	s, got := p.s, p.got
	if p.size != 64<<10 || lowat(t, p.c) != 64<<10 {
		t.Errorf("the read waits for %d bytes (SO_RCVLOWAT %d), want %d", p.size, lowat(t, p.c), 64<<10)
	}
	s.Write(make([]byte, 1000))
	select {
	case r := <-got:
		t.Fatalf("the read returned %d, %v for 1000 bytes of a batch", r.n, r.err)
	case <-time.After(20 * time.Millisecond):
	}
	s.Write(make([]byte, 100<<10))
	r := <-got
	if r.err != nil || r.n < 64<<10 {
		t.Fatalf("read %d, %v; want a batch of 64 KiB or more", r.n, r.err)
	}
}

// The batch never exceeds what is expected, and once the expected bytes
// are read, a read wakes for the first byte again.
func TestExpectBounds(t *testing.T) {
	p := waitingRead(t, 256<<10, time.Minute, 40<<10)
	c, s, buf, got := p.c, p.s, p.buf, p.got
	if p.size != 32<<10 {
		t.Errorf("with 40 KiB expected the read waits for %d bytes, want 32 KiB", p.size)
	}
	s.Write(make([]byte, 40<<10))
	total := 0
	for total < 40<<10 {
		r := <-got
		if r.err != nil {
			t.Fatal(r.err)
		}
		total += r.n
		if total < 40<<10 {
			got = readAsync(c, buf)
		}
	}
	if n := c.(*Conn).Expected(); n != 0 {
		t.Errorf("%d bytes still expected after all came", n)
	}
	// The next read to wait does so for the first byte.
	got = readAsync(c, buf)
	p.got = got
	nextBatch(t, p, func(size int) bool { return size == 1 })
	if v := lowat(t, c); v != 1 {
		t.Errorf("SO_RCVLOWAT %d once nothing is expected", v)
	}
	s.Write([]byte("x"))
	if r := <-got; r.n != 1 || r.err != nil {
		t.Fatalf("read %d, %v after the expected bytes; want the 1 byte sent", r.n, r.err)
	}
}

// A batch that does not come whole in time is given as it is, and the
// next read waits for the first byte until the rate is measured again.
func TestExpectLate(t *testing.T) {
	p := waitingRead(t, 64<<10, 5*time.Millisecond, 1<<20)
	c, s, buf, got := p.c, p.s, p.buf, p.got
	s.Write([]byte("hello"))
	select {
	case r := <-got:
		if r.err != nil || string(buf[:r.n]) != "hello" {
			t.Fatalf("read %q, %v", buf[:r.n], r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a late batch kept the read waiting")
	}
	got = readAsync(c, buf)
	s.Write([]byte("again"))
	if r := <-got; r.err != nil || string(buf[:r.n]) != "again" {
		t.Fatalf("read %q, %v", buf[:r.n], r.err)
	}
}

// Withdrawing the expectation gives a waiting read what there is.
func TestExpectWithdrawn(t *testing.T) {
	p := waitingRead(t, 64<<10, time.Minute, 1<<20)
	c, s, buf, got := p.c, p.s, p.buf, p.got
	s.Write([]byte("hello"))
	c.(*Conn).Expect(0)
	select {
	case r := <-got:
		if r.err != nil || string(buf[:r.n]) != "hello" {
			t.Fatalf("read %q, %v", buf[:r.n], r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read kept waiting for a batch no longer expected")
	}
}

// The peer's close, a deadline and closing the connection end a read that
// waits for a batch, as any read.
func TestExpectEnds(t *testing.T) {
	t.Run("close", func(t *testing.T) {
		p := waitingRead(t, 64<<10, time.Minute, 1<<20)
		c, s, buf, got := p.c, p.s, p.buf, p.got
		s.Write([]byte("bye"))
		s.Close()
		r := <-got
		if r.err != nil || string(buf[:r.n]) != "bye" {
			t.Fatalf("read %q, %v", buf[:r.n], r.err)
		}
		if n, err := c.Read(buf); n != 0 || err != io.EOF {
			t.Fatalf("read %d, %v after the close; want io.EOF", n, err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		p := waitingRead(t, 64<<10, time.Minute, 1<<20)
		c, got := p.c, p.got
		c.SetReadDeadline(time.Now())
		r := <-got
		if !errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Fatalf("read %d, %v past the deadline", r.n, r.err)
		}
	})
	t.Run("Close", func(t *testing.T) {
		p := waitingRead(t, 64<<10, time.Minute, 1<<20)
		c, got := p.c, p.got
		c.Close()
		if r := <-got; !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("read %d, %v after Close", r.n, r.err)
		}
	})
}

// A fast transfer with batching on arrives whole and in order, whatever
// the read sizes, with the peer's real rate measured.
func TestExpectStream(t *testing.T) {
	c, s := batchPair(t)
	const size = 32 << 20
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i * 7 >> 3)
	}
	c.(*Conn).Expect(size)
	var wrote atomic.Int64
	go func() {
		for off := 0; off < size; off += 100 << 10 {
			n, _ := s.Write(want[off:min(off+100<<10, size)])
			wrote.Add(int64(n))
		}
	}()
	var got bytes.Buffer
	buf := make([]byte, 17<<10)
	for got.Len() < size {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf[:1+got.Len()%len(buf)])
		if err != nil {
			t.Fatalf("after %d bytes: %v", got.Len(), err)
		}
		got.Write(buf[:n])
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("the bytes read differ from those sent")
	}
}
