package urlsessiontest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a loopback TCP server that answers each connection with a script,
// for responses net/http's server refuses to produce (bad status lines, lying
// lengths, stalls).
//
// A Server is safe for concurrent use. It must be closed with [Server.Close].
type Server struct {
	// URL is the base URL of the server, "http://127.0.0.1:port", with no
	// trailing slash.
	URL string

	// Addr is the address the server listens on, "127.0.0.1:port".
	Addr string

	ln       net.Listener
	script   func(*Conn)
	done     chan struct{} // closed by Close
	once     sync.Once
	wg       sync.WaitGroup // accept loop and connection goroutines
	requests atomic.Int64

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

// NewServer starts a Server listening on 127.0.0.1:0 that calls script, in a
// goroutine of its own, for every accepted connection.
//
// Before calling script the server reads the connection's first request with
// http.ReadRequest from a bufio.Reader; the request's body is not consumed,
// so the script can read it through Request.Body (or the raw bytes through
// Reader). If the first request cannot be parsed, the connection is closed
// without calling script.
//
// After script returns, the server half-closes the connection (so the client
// reads EOF after the script's bytes), discards anything more the client
// sends until the client closes its side or the Server is closed, and then
// closes the connection. Discarding instead of closing at once keeps unread
// request bytes from turning the close into a TCP reset that could destroy
// the response before the client reads it; use [Conn.Reset] to reset on
// purpose.
//
// NewServer panics if script is nil or if it cannot listen. The server stops
// accepting connections if Accept fails.
func NewServer(script func(c *Conn)) *Server {
	if script == nil {
		panic("urlsessiontest: NewServer called with nil script")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("urlsessiontest: listening on 127.0.0.1:0: %v", err))
	}
	s := &Server{
		URL:    "http://" + ln.Addr().String(),
		Addr:   ln.Addr().String(),
		ln:     ln,
		script: script,
		done:   make(chan struct{}),
		conns:  make(map[net.Conn]struct{}),
	}
	s.wg.Add(1)
	go s.serve()
	return s
}

// Close shuts the server down: it unblocks every [Conn.Stall] and
// [Conn.Delay], closes the listener and every live connection, and waits for
// all script goroutines to return. Scripts still running see their reads and
// writes fail. Close may be called more than once; every call waits.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.mu.Lock()
		s.closed = true
		s.ln.Close()
		for nc := range s.conns {
			nc.Close()
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
}

// Requests reports how many requests the server has parsed: one for each
// connection whose first request was parsed (and handed to the script), plus
// one for each further request read with [Conn.NextRequest]. A request is
// counted before the script sees it.
func (s *Server) Requests() int {
	return int(s.requests.Load())
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(nc) {
			nc.Close()
			return
		}
		go s.handle(nc)
	}
}

// track registers nc as live and counts its goroutine. It reports false if
// the server is already closed.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[nc] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(nc net.Conn) {
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
	nc.Close()
}

func (s *Server) handle(nc net.Conn) {
	defer s.wg.Done()
	defer s.untrack(nc)

	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	s.requests.Add(1)
	s.script(&Conn{Conn: nc, Request: req, Reader: br, srv: s})

	if tc, ok := nc.(*net.TCPConn); ok && tc.CloseWrite() == nil {
		io.Copy(io.Discard, tc) // until the client closes or Close closes tc
	}
}

// Conn is one accepted connection of a [Server], as handed to its script.
//
// The embedded net.Conn is the raw connection: writes go to the client
// verbatim. Reads should go through Reader, which may hold bytes already
// read from the connection.
type Conn struct {
	net.Conn

	// Request is the request the script is answering: the connection's first
	// request, or the one most recently read by NextRequest. Its body has not
	// been consumed unless the script consumed it.
	Request *http.Request

	// Reader is the buffered reader Request was read from; Request.Body reads
	// from it.
	Reader *bufio.Reader

	srv *Server
}

// WriteString writes s to the connection verbatim, with no framing or
// buffering, and returns the error, if any, of the write.
func (c *Conn) WriteString(s string) error {
	_, err := io.WriteString(c.Conn, s)
	return err
}

// Stall blocks until the Server is closed. A script calls it to accept a
// request and never answer.
func (c *Conn) Stall() {
	<-c.srv.done
}

// Delay blocks for d or until the Server is closed, whichever comes first.
// It reports whether the full delay elapsed; on false the script should
// return.
func (c *Conn) Delay(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.srv.done:
		return false
	}
}

// Reset closes the connection abortively, so the client sees a TCP reset
// ("connection reset by peer") instead of an orderly EOF. Data written but
// not yet delivered may be lost.
func (c *Conn) Reset() error {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	return c.Conn.Close()
}

// NextRequest reads the next request on a persistent connection. It first
// reads and discards the rest of the current request's body, then parses the
// next request from Reader, stores it in Request, counts it in
// [Server.Requests], and returns it. On error (typically io.EOF, when the
// client closed the connection) Request is left unchanged.
func (c *Conn) NextRequest() (*http.Request, error) {
	if c.Request != nil && c.Request.Body != nil {
		if _, err := io.Copy(io.Discard, c.Request.Body); err != nil {
			return nil, err
		}
		c.Request.Body.Close()
	}
	req, err := http.ReadRequest(c.Reader)
	if err != nil {
		return nil, err
	}
	c.srv.requests.Add(1)
	c.Request = req
	return req, nil
}
