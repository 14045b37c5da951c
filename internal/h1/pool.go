package h1

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/urlsession-go/urlsession/internal/netconn"
)

// Config is a Pool's settings; Install takes them from the transport.
type Config struct {
	// Dial opens a connection to addr ("host:port"). Required.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxConnsPerHost bounds the connections to one host:port, idle,
	// busy and being dialled; past it, requests wait. Zero means no limit.
	MaxConnsPerHost int
	// MaxIdleConnsPerHost bounds the idle connections kept for one
	// host:port; zero means 2, as in net/http.
	MaxIdleConnsPerHost int
	// IdleTimeout closes a connection idle this long; zero keeps it until
	// it is next used.
	IdleTimeout time.Duration
	// MaxResponseHeaderBytes bounds a response's header section
	// (informational responses count with the final one); zero means
	// 10 MiB, as in net/http.
	MaxResponseHeaderBytes int64
	// ReadBufferSize and WriteBufferSize size a connection's buffers;
	// zero means 4 KiB.
	ReadBufferSize, WriteBufferSize int
	// Handles, if set, must also accept a request for the Pool to take
	// it.
	Handles func(*http.Request) bool
}

// errPoolClosed is returned by get once Close was called; RoundTrip then
// hands the request to net/http.
var errPoolClosed = errors.New("h1: pool closed")

// Pool is the HTTP/1.1 connections of one http.Transport, by host:port.
type Pool struct {
	cfg Config

	mu     sync.Mutex
	closed bool
	hosts  map[string]*host
}

// host is the connections to one host:port.
type host struct {
	addr    string
	n       int       // open or being dialled
	idle    []*conn   // most recently used last
	waiters []*waiter // first come first served
}

// waiter is a request waiting for a connection past MaxConnsPerHost. It
// receives either an idle connection or the right to dial one.
type waiter struct{ ch chan *conn } // nil: dial

// NewPool returns an empty pool.
func NewPool(cfg Config) *Pool {
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = 2
	}
	if cfg.MaxResponseHeaderBytes <= 0 {
		cfg.MaxResponseHeaderBytes = 10 << 20
	}
	if cfg.ReadBufferSize <= 0 {
		cfg.ReadBufferSize = 4 << 10
	}
	if cfg.WriteBufferSize <= 0 {
		cfg.WriteBufferSize = 4 << 10
	}
	return &Pool{cfg: cfg, hosts: make(map[string]*host)}
}

// Install makes tr send its direct plain http requests through a new Pool
// with tr's settings (dialler, connection limits, idle timeout, header
// limit, buffer sizes), handles being Config.Handles. A transport that
// disables keep-alives or has a response header timeout keeps net/http's
// client, and Install returns nil. It panics, as RegisterProtocol does,
// if tr already has an "http" protocol.
func Install(tr *http.Transport, handles func(*http.Request) bool) *Pool {
	if tr.DisableKeepAlives || tr.ResponseHeaderTimeout != 0 || tr.DialContext == nil {
		return nil
	}
	p := NewPool(Config{
		Dial:                   tr.DialContext,
		MaxConnsPerHost:        tr.MaxConnsPerHost,
		MaxIdleConnsPerHost:    tr.MaxIdleConnsPerHost,
		IdleTimeout:            tr.IdleConnTimeout,
		MaxResponseHeaderBytes: tr.MaxResponseHeaderBytes,
		ReadBufferSize:         tr.ReadBufferSize,
		WriteBufferSize:        tr.WriteBufferSize,
		Handles:                handles,
	})
	tr.RegisterProtocol("http", p)
	return p
}

// CloseIdleConnections closes the idle connections; busy ones stay.
func (p *Pool) CloseIdleConnections() {
	p.mu.Lock()
	var idle []*conn
	for _, h := range p.hosts {
		idle = append(idle, h.idle...)
		h.n -= len(h.idle)
		h.idle = nil
		p.forgetLocked(h)
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// Close makes the pool take no more requests (net/http's client gets
// them) and closes its idle connections; the others close when their
// response ends.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.CloseIdleConnections()
}

// get returns a connection to addr: the most recently used idle one that
// is still open and quiet, a new one, or, past MaxConnsPerHost, the first
// to come free. reused is false for a new connection; idle is how long a
// reused one had been idle (at least 1ns), zero for one handed over by the
// request before it.
func (p *Pool) get(ctx context.Context, addr string) (c *conn, reused bool, idle time.Duration, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, 0, errPoolClosed
	}
	h := p.hosts[addr]
	if h == nil {
		h = &host{addr: addr}
		p.hosts[addr] = h
	}
	for len(h.idle) > 0 {
		c = h.idle[len(h.idle)-1]
		h.idle = h.idle[:len(h.idle)-1]
		idle = time.Since(c.idleAt)
		if p.cfg.IdleTimeout > 0 && idle >= p.cfg.IdleTimeout {
			h.n--
			c.nc.Close()
			continue
		}
		p.mu.Unlock()
		// A server that closed the connection, or sent what nobody asked
		// for, while it was idle: its bytes must not pass for a response.
		if !c.open() {
			c.nc.Close()
			p.release(h)
			return p.get(ctx, addr)
		}
		return c, true, max(idle, 1), nil
	}
	if max := p.cfg.MaxConnsPerHost; max > 0 && h.n >= max {
		w := &waiter{ch: make(chan *conn, 1)}
		h.waiters = append(h.waiters, w)
		p.mu.Unlock()
		select {
		case c = <-w.ch:
		case <-ctx.Done():
			p.mu.Lock()
			for i, x := range h.waiters {
				if x == w {
					h.waiters = append(h.waiters[:i], h.waiters[i+1:]...)
					p.mu.Unlock()
					return nil, false, 0, context.Cause(ctx)
				}
			}
			p.mu.Unlock()
			// Served meanwhile: give it back.
			if c = <-w.ch; c != nil {
				p.put(c)
			} else {
				p.release(h)
			}
			return nil, false, 0, context.Cause(ctx)
		}
		if c != nil {
			return c, true, 0, nil
		}
		// The right to dial: h.n already counts the connection.
	} else {
		h.n++
		p.mu.Unlock()
	}
	nc, err := p.cfg.Dial(ctx, "tcp", addr)
	if err != nil {
		p.release(h)
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return nil, false, 0, err
	}
	return p.newConn(h, nc), false, 0, nil
}

// forgetLocked drops h from the pool once it has no connection and no
// waiter, so that a session talking to many hosts keeps none of them.
func (p *Pool) forgetLocked(h *host) {
	if h.n == 0 && len(h.idle) == 0 && len(h.waiters) == 0 && p.hosts[h.addr] == h {
		delete(p.hosts, h.addr)
	}
}

// release forgets one of h's connections (closed, or never dialled) and
// lets the first waiter dial in its place.
func (p *Pool) release(h *host) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(h.waiters) > 0 {
		w := h.waiters[0]
		h.waiters = h.waiters[1:]
		w.ch <- nil
		return
	}
	h.n--
	p.forgetLocked(h)
}

// put makes c, whose last response ended cleanly, idle, or hands it to
// the first waiter.
func (p *Pool) put(c *conn) {
	h := c.h
	p.mu.Lock()
	if len(h.waiters) > 0 {
		w := h.waiters[0]
		h.waiters = h.waiters[1:]
		p.mu.Unlock()
		w.ch <- c
		return
	}
	if p.closed || len(h.idle) >= p.cfg.MaxIdleConnsPerHost {
		h.n--
		p.mu.Unlock()
		c.nc.Close()
		return
	}
	c.idleAt = time.Now()
	h.idle = append(h.idle, c)
	if d := p.cfg.IdleTimeout; d > 0 {
		if c.idleTimer == nil {
			c.idleTimer = time.AfterFunc(d, func() { p.closeIfIdle(c) })
		} else {
			c.idleTimer.Reset(d)
		}
	}
	p.mu.Unlock()
}

// closeIfIdle closes c if it is still idle and has been for IdleTimeout.
func (p *Pool) closeIfIdle(c *conn) {
	h := c.h
	p.mu.Lock()
	for i, x := range h.idle {
		if x == c && time.Since(c.idleAt) >= p.cfg.IdleTimeout {
			h.idle = append(h.idle[:i], h.idle[i+1:]...)
			h.n--
			p.forgetLocked(h)
			p.mu.Unlock()
			c.nc.Close()
			return
		}
	}
	p.mu.Unlock()
}

// drop closes c, which carries no more requests, and frees its place.
func (p *Pool) drop(c *conn) {
	c.nc.Close()
	p.release(c.h)
}

// conn is one connection.
type conn struct {
	h         *host
	nc        net.Conn
	watched   *netconn.Conn // nc's socket, when watched: see roundTrip
	r         connReader
	w         connWriter
	br        *bufio.Reader
	bw        *bufio.Writer
	idleAt    time.Time
	idleTimer *time.Timer
}

func (p *Pool) newConn(h *host, nc net.Conn) *conn {
	c := &conn{h: h, nc: nc, watched: netconn.Of(nc)}
	c.r.nc, c.w.nc = nc, nc
	c.r.limit = -1
	c.br = bufio.NewReaderSize(&c.r, p.cfg.ReadBufferSize)
	c.bw = bufio.NewWriterSize(&c.w, p.cfg.WriteBufferSize)
	return c
}

// connReader reads the connection, counting the bytes and, while limit is
// not negative, allowing only that many more.
type connReader struct {
	nc    net.Conn
	n     int64 // read since the request began
	limit int64 // -1: none
	err   error // the connection's last error since the request began
}

// errLimit is read once the header limit is reached; readResponse turns
// it into net/http's error.
var errLimit = errors.New("h1: header limit reached")

func (r *connReader) Read(p []byte) (int, error) {
	if r.limit == 0 {
		return 0, errLimit
	}
	if r.limit > 0 && int64(len(p)) > r.limit {
		p = p[:r.limit]
	}
	n, err := r.nc.Read(p)
	if err != nil {
		r.err = err
	}
	r.n += int64(n)
	if r.limit > 0 {
		r.limit -= int64(n)
	}
	return n, err
}

// connWriter writes the connection, counting the bytes.
type connWriter struct {
	nc  net.Conn
	n   int64 // written since the request began
	err error // the connection's last error since the request began
}

func (w *connWriter) Write(p []byte) (int, error) {
	n, err := w.nc.Write(p)
	if err != nil {
		w.err = err
	}
	w.n += int64(n)
	return n, err
}
