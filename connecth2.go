package urlsession

// CONNECT over HTTP/2 (RFC 9113 8.5): the tunnel is one stream of a
// connection of its own; the request body carries the bytes written, the
// response body those read, and ending the request body (END_STREAM) is
// the half-close. h2Tunnel makes that stream a net.Conn with deadlines, for
// a stream task.

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// roundTripH2 sends req, a CONNECT, on tc, a TLS connection that
// negotiated HTTP/2; ctx bounds the wait for the answer.
func (c connectTransport) roundTripH2(ctx context.Context, tc *tls.Conn, req *http.Request) (*http.Response, error) {
	cc, err := (&http2.Transport{}).NewClientConn(tc)
	if err != nil {
		tc.Close()
		return nil, err
	}
	// The stream outlives the data task's context, which ends when the
	// task completes; only the wait for the answer is bounded by it.
	streamCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := newTunnelWriter()
	r2 := req.Clone(streamCtx)
	r2.Body, r2.GetBody, r2.ContentLength = w, nil, -1
	if r2.Host == "" {
		r2.Host = req.URL.Host
	}
	stopWait := context.AfterFunc(ctx, cancel)
	resp, err := cc.RoundTrip(r2)
	waited := stopWait()
	if err == nil && !waited {
		resp.Body.Close()
		err = context.Cause(ctx)
	}
	if err != nil {
		cancel()
		cc.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	end := func() { cancel(); cc.Close() }
	if resp.StatusCode/100 != 2 {
		w.Close()
		resp.Body = &h2Body{ReadCloser: resp.Body, end: end, stop: context.AfterFunc(ctx, end)}
		return resp, nil
	}
	tun := newH2Tunnel(tc, resp.Body, w, end)
	tun.stop = context.AfterFunc(ctx, func() { tun.Close() })
	resp.Body = tun
	resp.ContentLength = -1
	return resp, nil
}

// h2Body is the body of a refusal over HTTP/2; closing it closes the
// connection, as the end of the request's context does.
type h2Body struct {
	io.ReadCloser
	end  func()
	stop func() bool
}

func (b *h2Body) Close() error {
	b.stop()
	err := b.ReadCloser.Close()
	b.end()
	return err
}

// h2Tunnel is an HTTP/2 CONNECT stream as a net.Conn. A goroutine reads
// the response body ahead by one chunk, so that reads can honour
// deadlines; it ends with the body or with Close.
type h2Tunnel struct {
	tc   *tls.Conn
	body io.ReadCloser
	w    *tunnelWriter
	end  func()

	chunks chan []byte
	rdone  chan struct{} // closed after the last chunk, with rerr set
	rerr   error
	gone   chan struct{} // closed by Close
	once   sync.Once
	rdl    *deadlineTimer

	mu   sync.Mutex // serializes Read
	left []byte

	stop func() bool // stops closing the tunnel when the request's context ends
}

func (t *h2Tunnel) detach() {
	if t.stop != nil {
		t.stop()
	}
}

func newH2Tunnel(tc *tls.Conn, body io.ReadCloser, w *tunnelWriter, end func()) *h2Tunnel {
	t := &h2Tunnel{tc: tc, body: body, w: w, end: end, chunks: make(chan []byte), rdone: make(chan struct{}),
		gone: make(chan struct{}), rdl: newDeadlineTimer()}
	go t.pump()
	return t
}

func (t *h2Tunnel) pump() {
	for {
		buf := make([]byte, 32<<10)
		n, err := t.body.Read(buf)
		if n > 0 {
			select {
			case t.chunks <- buf[:n]:
			case <-t.gone:
				return
			}
		}
		if err != nil {
			t.rerr = err
			close(t.rdone)
			return
		}
	}
}

func (t *h2Tunnel) Read(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.left) > 0 {
		n := copy(p, t.left)
		t.left = t.left[n:]
		return n, nil
	}
	select {
	case <-t.gone:
		return 0, net.ErrClosed
	case <-t.rdl.wait():
		return 0, os.ErrDeadlineExceeded
	default:
	}
	select {
	case b := <-t.chunks:
		n := copy(p, b)
		t.left = b[n:]
		return n, nil
	case <-t.rdone:
		return 0, t.rerr
	case <-t.gone:
		return 0, net.ErrClosed
	case <-t.rdl.wait():
		return 0, os.ErrDeadlineExceeded
	}
}

func (t *h2Tunnel) Write(p []byte) (int, error) { return t.w.Write(p) }

// CloseWrite ends the request body: END_STREAM, the peer's end-of-file.
func (t *h2Tunnel) CloseWrite() error { return t.w.Close() }

// CloseRead stops nothing: HTTP/2 has no way to refuse one direction of a
// stream without resetting it.
func (t *h2Tunnel) CloseRead() error { return nil }

func (t *h2Tunnel) Close() error {
	t.detach()
	t.once.Do(func() {
		close(t.gone)
		t.w.abort()
		t.body.Close()
		t.end()
	})
	return nil
}

func (t *h2Tunnel) LocalAddr() net.Addr  { return t.tc.LocalAddr() }
func (t *h2Tunnel) RemoteAddr() net.Addr { return t.tc.RemoteAddr() }
func (t *h2Tunnel) SetDeadline(d time.Time) error {
	t.rdl.set(d)
	t.w.dl.set(d)
	return nil
}
func (t *h2Tunnel) SetReadDeadline(d time.Time) error  { t.rdl.set(d); return nil }
func (t *h2Tunnel) SetWriteDeadline(d time.Time) error { t.w.dl.set(d); return nil }

// tunnelWriter is the request body of an HTTP/2 CONNECT: Write hands its
// bytes to the transport's Read, honouring a deadline; Close ends the
// body.
type tunnelWriter struct {
	data     chan []byte
	consumed chan int
	closed   chan struct{} // Close: end-of-file for Read
	aborted  chan struct{} // abort: an error for both
	once     sync.Once
	abortOne sync.Once
	dl       *deadlineTimer
}

func newTunnelWriter() *tunnelWriter {
	return &tunnelWriter{data: make(chan []byte), consumed: make(chan int), closed: make(chan struct{}),
		aborted: make(chan struct{}), dl: newDeadlineTimer()}
}

// Read is the transport's side.
func (w *tunnelWriter) Read(p []byte) (int, error) {
	select {
	case b := <-w.data:
		n := copy(p, b)
		w.consumed <- n
		return n, nil
	case <-w.closed:
		return 0, io.EOF
	case <-w.aborted:
		return 0, net.ErrClosed
	}
}

// Write is the stream task's side.
func (w *tunnelWriter) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		select {
		case <-w.dl.wait():
			return total, os.ErrDeadlineExceeded
		default:
		}
		select {
		case w.data <- p:
			n := <-w.consumed
			p = p[n:]
			total += n
		case <-w.closed:
			return total, errors.New("urlsession: write on a tunnel whose write side is closed")
		case <-w.aborted:
			return total, net.ErrClosed
		case <-w.dl.wait():
			return total, os.ErrDeadlineExceeded
		}
	}
	return total, nil
}

func (w *tunnelWriter) Close() error {
	w.once.Do(func() { close(w.closed) })
	return nil
}

func (w *tunnelWriter) abort() { w.abortOne.Do(func() { close(w.aborted) }) }

// deadlineTimer is a deadline as a channel closed when it passes.
type deadlineTimer struct {
	mu      sync.Mutex
	timer   *time.Timer
	expired chan struct{}
}

func newDeadlineTimer() *deadlineTimer { return &deadlineTimer{expired: make(chan struct{})} }

// set moves the deadline to d; the zero time means none.
func (d *deadlineTimer) set(at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.expired // the timer fired: wait for it to close the channel
	}
	d.timer = nil
	passed := false
	select {
	case <-d.expired:
		passed = true
	default:
	}
	if at.IsZero() {
		if passed {
			d.expired = make(chan struct{})
		}
		return
	}
	if wait := time.Until(at); wait > 0 {
		if passed {
			d.expired = make(chan struct{})
		}
		ch := d.expired
		d.timer = time.AfterFunc(wait, func() { close(ch) })
		return
	}
	if !passed {
		close(d.expired)
	}
}

// wait returns a channel closed once the deadline passed.
func (d *deadlineTimer) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired
}
