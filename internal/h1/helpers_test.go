package h1

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hangLimit bounds every wait in these tests, so that a client that hangs
// fails its test instead of stalling the whole run.
const hangLimit = 20 * time.Second

// testCtx returns a context that ends with the test or after hangLimit.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), hangLimit)
	t.Cleanup(cancel)
	return ctx
}

// serverConn is the server's end of one connection, with a buffered reader.
type serverConn struct {
	net.Conn
	br *bufio.Reader
	n  int // 0 for the first connection, 1 for the second, ...
}

func newServerConn(c net.Conn, n int) *serverConn {
	return &serverConn{Conn: c, br: bufio.NewReader(c), n: n}
}

// readRequest reads one request and its whole body.
func (c *serverConn) readRequest() (*http.Request, []byte, error) {
	req, err := http.ReadRequest(c.br)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(req.Body)
	return req, body, err
}

// readHead reads a request's header section as it came on the wire,
// up to and including the blank line.
func (c *serverConn) readHead() (string, error) {
	var sb strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			return sb.String(), err
		}
		if line == "\r\n" {
			return sb.String(), nil
		}
	}
}

// write writes s.
func (c *serverConn) write(s string) error {
	_, err := io.WriteString(c.Conn, s)
	return err
}

// respond writes a 200 response with body and a Content-Length.
func (c *serverConn) respond(body string) error {
	return c.write(okResponse(body))
}

// rest reads until the client closes the connection (or the server is
// closed) and returns what came meanwhile.
func (c *serverConn) rest() []byte {
	b, _ := io.ReadAll(c.br)
	return b
}

// closeWrite ends the server's side of a TCP connection while still
// letting it read.
func (c *serverConn) closeWrite() {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.CloseWrite()
		return
	}
	c.Conn.Close()
}

func okResponse(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// serveOK answers every request on the connection with 200 and body.
func serveOK(body string) func(*serverConn) {
	return func(c *serverConn) {
		for {
			if _, _, err := c.readRequest(); err != nil {
				return
			}
			if c.respond(body) != nil {
				return
			}
		}
	}
}

// scriptServer accepts TCP connections on 127.0.0.1 and runs its function
// on each, in a goroutine of its own. Close closes the listener and every
// connection and waits for the functions to return.
type scriptServer struct {
	ln       net.Listener
	fn       func(*serverConn)
	accepted atomic.Int32
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
	closed   bool
	once     sync.Once
}

func newScriptServer(t testing.TB, fn func(*serverConn)) *scriptServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{ln: ln, fn: fn}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

func (s *scriptServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns = append(s.conns, c)
		n := int(s.accepted.Add(1)) - 1
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.fn(newServerConn(c, n))
		}()
	}
}

// Addr is the server's host:port.
func (s *scriptServer) Addr() string { return s.ln.Addr().String() }

// URL is "http://" and the server's host:port.
func (s *scriptServer) URL() string { return "http://" + s.Addr() }

// Conns is how many connections the server accepted so far.
func (s *scriptServer) Conns() int { return int(s.accepted.Load()) }

func (s *scriptServer) Close() {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.ln.Close()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
}

// pipeNet is an in-memory network for Config.Dial: each dial makes a
// net.Pipe and runs serve on its server end in a goroutine of its own.
// It works inside a synctest bubble, which real sockets do not.
type pipeNet struct {
	serve func(*serverConn)
	mu    sync.Mutex
	dials int
	wg    sync.WaitGroup
}

func newPipeNet(serve func(*serverConn)) *pipeNet { return &pipeNet{serve: serve} }

func (pn *pipeNet) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cc, sc := net.Pipe()
	pn.mu.Lock()
	n := pn.dials
	pn.dials++
	pn.wg.Add(1)
	pn.mu.Unlock()
	go func() {
		defer pn.wg.Done()
		defer sc.Close()
		pn.serve(newServerConn(sc, n))
	}()
	return cc, nil
}

// Dials is how many connections were dialled so far.
func (pn *pipeNet) Dials() int {
	pn.mu.Lock()
	defer pn.mu.Unlock()
	return pn.dials
}

// Wait waits for every serve function to return.
func (pn *pipeNet) Wait() { pn.wg.Wait() }

// dialCounter dials TCP and counts the dials.
type dialCounter struct {
	d net.Dialer
	n atomic.Int32
}

func (dc *dialCounter) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	dc.n.Add(1)
	return dc.d.DialContext(ctx, network, addr)
}

func (dc *dialCounter) Dials() int { return int(dc.n.Load()) }

// newClient returns a client whose transport has a Pool installed with
// cfg's settings (Dial defaults to a plain TCP dial), and the Pool. Both
// are closed when the test ends.
func newClient(t testing.TB, cfg Config) (*http.Client, *Pool) {
	t.Helper()
	dial := cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	tr := &http.Transport{
		DialContext:            dial,
		MaxConnsPerHost:        cfg.MaxConnsPerHost,
		MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:        cfg.IdleTimeout,
		MaxResponseHeaderBytes: cfg.MaxResponseHeaderBytes,
		ReadBufferSize:         cfg.ReadBufferSize,
		WriteBufferSize:        cfg.WriteBufferSize,
	}
	p := Install(tr, cfg.Handles)
	if p == nil {
		t.Fatal("Install returned nil")
	}
	t.Cleanup(func() {
		p.Close()
		tr.CloseIdleConnections()
	})
	return &http.Client{Transport: tr}, p
}

// newTestPool returns a Pool that is closed when the test ends.
func newTestPool(t testing.TB, cfg Config) *Pool {
	p := NewPool(cfg)
	t.Cleanup(p.Close)
	return p
}

// payload returns n deterministic pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// onlyReader hides every method of a reader but Read, so that
// net/http does not know its length.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// trackedBody is a request body that records whether it was read or
// closed.
type trackedBody struct {
	r      io.Reader
	read   atomic.Bool
	closed atomic.Bool
}

func newTrackedBody(s string) *trackedBody { return &trackedBody{r: strings.NewReader(s)} }

func (b *trackedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

func (b *trackedBody) Close() error {
	b.closed.Store(true)
	return nil
}

// doGet sends a GET through c and returns the body, failing the test on
// any error or a status other than 200.
func doGet(t testing.TB, c *http.Client, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	return string(b)
}

// poolGet sends a GET through p.RoundTrip with ctx and returns the body.
func poolGet(p *Pool, ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return "", err
	}
	resp, err := p.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// traceLog records the httptrace hooks a request calls, in order.
type traceLog struct {
	mu     sync.Mutex
	events []string
	conns  []httptrace.GotConnInfo
}

func (l *traceLog) add(s string) {
	l.mu.Lock()
	l.events = append(l.events, s)
	l.mu.Unlock()
}

func (l *traceLog) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) { l.add("GetConn") },
		GotConn: func(info httptrace.GotConnInfo) {
			l.mu.Lock()
			l.conns = append(l.conns, info)
			l.mu.Unlock()
			l.add("GotConn")
		},
		WroteHeaders:         func() { l.add("WroteHeaders") },
		WroteRequest:         func(httptrace.WroteRequestInfo) { l.add("WroteRequest") },
		GotFirstResponseByte: func() { l.add("GotFirstResponseByte") },
	}
}

func (l *traceLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	return e
}

// checkGoroutines fails the test if, once the test and its other
// cleanups are over, more goroutines run than when it started. Call it
// first in a test, so that its check runs after every other cleanup.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(hangLimit)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines before the test, %d after it:\n%s", before, n, buf)
				return
			}
			// Goroutines that are ending need a moment to be gone;
			// this only polls the count, it orders nothing.
			time.Sleep(time.Millisecond)
		}
	})
}

// await waits for ch to be closed or to yield, failing the test after
// hangLimit.
func await[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(hangLimit)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// hostState reports the Pool's count of open connections to addr, its
// idle ones and its waiting requests.
func hostState(p *Pool, addr string) (n, idle, waiters int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hosts[addr]
	if h == nil {
		return 0, 0, 0
	}
	return h.n, len(h.idle), len(h.waiters)
}

// newHTTPServer starts a net/http test server on 127.0.0.1.
func newHTTPServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// echoHandler reports what it received in response headers and answers
// with the method and the body's length.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("X-Method", r.Method)
	h.Set("X-Content-Length", strconv.FormatInt(r.ContentLength, 10))
	h.Set("X-Transfer-Encoding", strings.Join(r.TransferEncoding, ","))
	h.Set("X-Sum", sum(body))
	h.Set("X-Accept-Encoding", r.Header.Get("Accept-Encoding"))
	h.Set("X-Trailer", r.Trailer.Get("X-Checksum"))
	fmt.Fprintf(w, "%s %d", r.Method, len(body))
}

// connCounter follows a net/http server's connections through ConnState.
type connCounter struct {
	mu               sync.Mutex
	open, max, total int
}

func (cc *connCounter) state(_ net.Conn, s http.ConnState) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	switch s {
	case http.StateNew:
		cc.open++
		cc.total++
		cc.max = max(cc.max, cc.open)
	case http.StateClosed, http.StateHijacked:
		cc.open--
	}
}

func (cc *connCounter) get() (maxOpen, total int) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.max, cc.total
}

func newCountedServer(t *testing.T, h http.Handler) (*httptest.Server, *connCounter) {
	cc := &connCounter{}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = cc.state
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cc
}

// holdServer answers /hold with half a body, the other half once release
// is closed, and other paths with "ae=" and the request's Accept-Encoding
// (net/http's client asks for gzip, the Pool does not). It sends a
// connection's number on closed when the connection ends.
func holdServer(closed chan<- int, release <-chan struct{}) func(*serverConn) {
	return func(c *serverConn) {
		defer func() { closed <- c.n }()
		for {
			req, _, err := c.readRequest()
			if err != nil {
				return
			}
			if req.URL.Path == "/hold" {
				c.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nho")
				<-release
				c.write("ld")
				continue
			}
			c.respond("ae=" + req.Header.Get("Accept-Encoding"))
		}
	}
}

// writeCounter counts the writes on a client's connection.
type writeCounter struct {
	net.Conn
	writes atomic.Int32
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes.Add(1)
	return w.Conn.Write(p)
}

// firstConnServer starts a server whose connection 0 answers its first
// request with the raw response first (then closes its writing side if
// closeAfter) and counts that request and any later one it reads,
// answering those with again unless it is empty; other connections
// answer every request with other. conn0Closed is closed when connection
// 0's script ends.
func firstConnServer(t testing.TB, first string, closeAfter bool, again, other string) (s *scriptServer, conn0Requests *atomic.Int32, conn0Closed chan struct{}) {
	conn0Requests = new(atomic.Int32)
	conn0Closed = make(chan struct{})
	s = newScriptServer(t, func(c *serverConn) {
		if c.n > 0 {
			serveOK(other)(c)
			return
		}
		defer close(conn0Closed)
		if _, _, err := c.readRequest(); err != nil {
			return
		}
		conn0Requests.Add(1)
		c.write(first)
		if closeAfter {
			c.closeWrite()
		}
		for {
			if _, _, err := c.readRequest(); err != nil {
				return
			}
			conn0Requests.Add(1)
			if again != "" {
				c.respond(again)
			}
		}
	})
	return s, conn0Requests, conn0Closed
}
