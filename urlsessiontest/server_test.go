package urlsessiontest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exchange dials addr, writes req, and returns everything the server sends
// until it closes its side.
func exchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading response: %v (got %q)", err, b)
	}
	return string(b)
}

// closePromptly closes s and fails the test if Close takes more than a few
// seconds.
func closePromptly(t *testing.T, s *Server) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Server.Close did not return")
	}
}

// noKeepAlive returns a client that does not reuse connections or decode
// bodies, so it sees exactly what the server sends.
func noKeepAlive() *http.Client {
	return &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true},
		Timeout:   10 * time.Second,
	}
}

const getRoot = "GET / HTTP/1.1\r\nHost: example\r\n\r\n"

func TestServerAddress(t *testing.T) {
	s := NewServer(Raw(""))
	defer s.Close()
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr = %q, want 127.0.0.1:<port>", s.Addr)
	}
	if s.URL != "http://"+s.Addr {
		t.Fatalf("URL = %q, want http://%s", s.URL, s.Addr)
	}
}

func TestRaw(t *testing.T) {
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"
	s := NewServer(Raw(resp))
	defer s.Close()

	if got := exchange(t, s.Addr, getRoot); got != resp {
		t.Fatalf("got %q, want %q", got, resp)
	}
	r, err := noKeepAlive().Get(s.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil || string(b) != "hello" || r.Header.Get("X-A") != "b" {
		t.Fatalf("body %q, err %v, header %v", b, err, r.Header)
	}
	if n := s.Requests(); n != 2 {
		t.Fatalf("Requests() = %d, want 2", n)
	}
}

// TestRawUnreadBody checks that a response survives a large request body the
// script never reads (closing with unread data would send a reset).
func TestRawUnreadBody(t *testing.T) {
	const resp = "HTTP/1.1 413 Too Big\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
	s := NewServer(Raw(resp))
	defer s.Close()

	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	const size = 8 << 20
	go func() {
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		c.Write(make([]byte, size))
	}()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != resp {
		t.Fatalf("got %q, %v; want %q", got, err, resp)
	}
}

func TestUnparsableRequest(t *testing.T) {
	called := make(chan struct{}, 1)
	s := NewServer(func(*Conn) { called <- struct{}{} })
	defer s.Close()
	if got := exchange(t, s.Addr, "NOT HTTP\r\n\r\n"); got != "" {
		t.Fatalf("got %q, want nothing", got)
	}
	s.Close()
	if len(called) != 0 || s.Requests() != 0 {
		t.Fatalf("script called %d times, Requests() = %d; want 0, 0", len(called), s.Requests())
	}
}

func TestScriptSeesRequest(t *testing.T) {
	type seen struct {
		method, uri, body string
	}
	ch := make(chan seen, 1)
	s := NewServer(func(c *Conn) {
		b, _ := io.ReadAll(c.Request.Body)
		ch <- seen{c.Request.Method, c.Request.RequestURI, string(b)}
		c.WriteString("HTTP/1.1 204 No Content\r\n\r\n")
	})
	defer s.Close()
	got := exchange(t, s.Addr, "PUT /p?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	if got != "HTTP/1.1 204 No Content\r\n\r\n" {
		t.Fatalf("response %q", got)
	}
	if v := <-ch; v != (seen{"PUT", "/p?q=1", "abc"}) {
		t.Fatalf("script saw %+v", v)
	}
}

func TestStatusLine(t *testing.T) {
	s := NewServer(StatusLine("HTTP/1.1 99 OK"))
	defer s.Close()
	const want = "HTTP/1.1 99 OK\r\nContent-Length: 0\r\n\r\n"
	if got := exchange(t, s.Addr, getRoot); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if r, err := noKeepAlive().Get(s.URL); err == nil {
		r.Body.Close()
		t.Fatalf("net/http accepted status %q", r.Status)
	}
}

func TestLyingContentLength(t *testing.T) {
	s := NewServer(LyingContentLength(10, "abc"))
	defer s.Close()
	const want = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
	if got := exchange(t, s.Addr, getRoot); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	r, err := noKeepAlive().Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != "abc" {
		t.Fatalf("ReadAll = %q, %v; want \"abc\", unexpected EOF", b, err)
	}
}

func TestNoLength(t *testing.T) {
	s := NewServer(NoLength("until close"))
	defer s.Close()
	const want = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close"
	if got := exchange(t, s.Addr, getRoot); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	r, err := noKeepAlive().Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil || string(b) != "until close" || r.ContentLength != -1 || r.TransferEncoding != nil {
		t.Fatalf("body %q, err %v, ContentLength %d, TransferEncoding %q", b, err, r.ContentLength, r.TransferEncoding)
	}
}

func TestHugeHeaders(t *testing.T) {
	for _, n := range []int{0, 50, 51, 52, 63, 64, 100, 1062, 1074, 1075, 1076, 1100, 3000, 100000} {
		s := NewServer(HugeHeaders(n))
		got := exchange(t, s.Addr, getRoot)
		s.Close()

		want := max(n, HugeHeadersMin)
		if len(got) != want || !strings.HasSuffix(got, "\r\n\r\n") || strings.Index(got, "\r\n\r\n") != want-4 {
			t.Fatalf("n=%d: got %d bytes, want a %d-byte head ending in CRLFCRLF", n, len(got), want)
		}
		lines := strings.Split(strings.TrimSuffix(got, "\r\n\r\n"), "\r\n")
		if lines[0] != "HTTP/1.1 200 OK" || lines[1] != "Content-Length: 0" || len(lines) < 3 {
			t.Fatalf("n=%d: head starts %q", n, lines[:min(3, len(lines))])
		}
		for _, l := range lines[2:] {
			v, ok := strings.CutPrefix(l, "X-Filler: ")
			if !ok || v == "" || strings.Trim(v, "a") != "" || len(l)+2 > 1024 {
				t.Fatalf("n=%d: bad filler line %q (%d bytes)", n, l, len(l)+2)
			}
		}
	}

	s := NewServer(HugeHeaders(1 << 20))
	defer s.Close()
	c := &http.Client{Transport: &http.Transport{MaxResponseHeaderBytes: 64 << 10}}
	if r, err := c.Get(s.URL); err == nil {
		r.Body.Close()
		t.Fatal("net/http accepted 1 MiB of headers with a 64 KiB limit")
	}
	c.CloseIdleConnections()

	s2 := NewServer(HugeHeaders(5000))
	defer s2.Close()
	r, err := noKeepAlive().Get(s2.URL)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 || len(r.Header["X-Filler"]) < 5 {
		t.Fatalf("status %d with %d X-Filler values", r.StatusCode, len(r.Header["X-Filler"]))
	}
}

func TestHangCloseWhileStalled(t *testing.T) {
	stalled := make(chan struct{})
	s := NewServer(func(c *Conn) {
		close(stalled)
		Hang()(c)
	})
	errc := make(chan error, 1)
	go func() {
		r, err := noKeepAlive().Get(s.URL)
		if err == nil {
			r.Body.Close()
		}
		errc <- err
	}()
	<-stalled
	select {
	case err := <-errc:
		t.Fatalf("client returned before Close: %v", err)
	default:
	}
	closePromptly(t, s)
	if err := <-errc; err == nil {
		t.Fatal("client got a response from a hung server")
	}
	if s.Requests() != 1 {
		t.Fatalf("Requests() = %d, want 1", s.Requests())
	}
}

// TestCloseMidRequestHeaders closes the server while a client has sent only
// part of its request head.
func TestCloseMidRequestHeaders(t *testing.T) {
	s := NewServer(func(c *Conn) { t.Error("script called for an incomplete request") })
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Partial:")
	closePromptly(t, s)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after Close = %d, %v; want the connection closed", n, err)
	}
}

// TestCloseMidRequestBody closes the server while a client is still uploading
// a body the script is reading.
func TestCloseMidRequestBody(t *testing.T) {
	reading := make(chan struct{})
	s := NewServer(func(c *Conn) {
		close(reading)
		io.Copy(io.Discard, c.Request.Body)
	})
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", s.URL+"/upload", endless{})
		r, err := noKeepAlive().Do(req)
		if err == nil {
			r.Body.Close()
		}
		errc <- err
	}()
	<-reading
	closePromptly(t, s)
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("client got a response")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client still blocked after Close")
	}
}

func TestRedirectLoop(t *testing.T) {
	s := NewServer(RedirectLoop())
	defer s.Close()

	// Pipelined on one connection; the second request asks to close.
	got := exchange(t, s.Addr, "GET /a?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /b%20c HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"+
		"GET http://x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	want := "HTTP/1.1 302 Found\r\nLocation: /ax\r\nContent-Length: 0\r\n\r\n" +
		"HTTP/1.1 302 Found\r\nLocation: /b%20cx\r\nContent-Length: 0\r\n\r\n" +
		"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if s.Requests() != 3 {
		t.Fatalf("Requests() = %d, want 3", s.Requests())
	}

	var paths []string
	stop := errors.New("enough")
	conns, reused := 0, 0
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		paths = append(paths, req.URL.Path)
		if len(via) == 5 {
			return stop
		}
		return nil
	}}
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) {
			conns++
			if i.Reused {
				reused++
			}
		},
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/r", nil)
	r, err := c.Do(req)
	if !errors.Is(err, stop) {
		t.Fatalf("Do = %v, want the CheckRedirect error", err)
	}
	r.Body.Close()
	if want := "/rx /rxx /rxxx /rxxxx /rxxxxx"; strings.Join(paths, " ") != want {
		t.Fatalf("redirected to %q, want %q", paths, want)
	}
	if conns != 5 || reused != 4 {
		t.Fatalf("%d connections used, %d reused; want 5, 4 (keep-alive)", conns, reused)
	}
	if s.Requests() != 3+5 {
		t.Fatalf("Requests() = %d, want 8", s.Requests())
	}
}

func TestConnDelay(t *testing.T) {
	res := make(chan [2]bool, 1)
	s := NewServer(func(c *Conn) {
		short := c.Delay(time.Millisecond)
		c.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		res <- [2]bool{short, c.Delay(time.Hour)}
	})
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, getRoot)
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
		t.Fatal(err)
	}
	closePromptly(t, s)
	if got := <-res; got != [2]bool{true, false} {
		t.Fatalf("Delay results %v, want [true false]", got)
	}
}

func TestConnReset(t *testing.T) {
	s := NewServer(func(c *Conn) {
		c.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
		c.Reset()
	})
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, getRoot)
	_, err = io.ReadAll(c)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("ReadAll error = %v, want connection reset", err)
	}
}

func TestNextRequestDiscardsBody(t *testing.T) {
	bodies := make(chan string, 2)
	s := NewServer(func(c *Conn) {
		// Read only part of the first body; NextRequest discards the rest.
		b := make([]byte, 2)
		io.ReadFull(c.Request.Body, b)
		bodies <- string(b)
		if _, err := c.NextRequest(); err != nil {
			t.Error(err)
			return
		}
		all, _ := io.ReadAll(c.Request.Body)
		bodies <- c.Request.URL.Path + " " + string(all)
		c.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	defer s.Close()
	got := exchange(t, s.Addr, "POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabcdef"+
		"POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n")
	if got != "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" {
		t.Fatalf("response %q", got)
	}
	if a, b := <-bodies, <-bodies; a != "ab" || b != "/2 xyz" {
		t.Fatalf("script read %q then %q", a, b)
	}
	if s.Requests() != 2 {
		t.Fatalf("Requests() = %d, want 2", s.Requests())
	}
}

func TestCloseTwiceAndManyConns(t *testing.T) {
	s := NewServer(Hang())
	var conns []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, getRoot)
		conns = append(conns, c)
	}
	closePromptly(t, s)
	closePromptly(t, s)
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection still open after Close: %v", err)
		}
	}
}

// endless is a request body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }
