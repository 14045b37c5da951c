package h1

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"
)

// TestMethodsWithKnownLengthBodies sends each common method, with and
// without a body of known length, to net/http's server through an
// installed Pool, and checks what the server received and what came back.
// All requests share one connection.
func TestMethodsWithKnownLengthBodies(t *testing.T) {
	srv, cc := newCountedServer(t, http.HandlerFunc(echoHandler))
	c, p := newClient(t, Config{})
	cases := []struct {
		method string
		body   []byte
	}{
		{"GET", nil},
		{"HEAD", nil},
		{"POST", []byte("hello")},
		{"PUT", payload(3000, 1)},
		{"DELETE", nil},
		{"PATCH", []byte("x")},
		{"OPTIONS", nil},
		{"PROPFIND", []byte("<propfind/>")},
	}
	for _, tc := range cases {
		var body io.Reader
		if tc.body != nil {
			body = bytes.NewReader(tc.body)
		}
		req, err := http.NewRequestWithContext(testCtx(t), tc.method, srv.URL+"/m", body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.method, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: reading the body: %v", tc.method, err)
		}
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("X-Method") != tc.method || h.Get("X-Sum") != sum(tc.body) ||
			h.Get("X-Content-Length") != strconv.Itoa(len(tc.body)) || h.Get("X-Transfer-Encoding") != "" {
			t.Errorf("%s: status %d, server saw method %q, length %s, transfer encoding %q, sum %s",
				tc.method, resp.StatusCode, h.Get("X-Method"), h.Get("X-Content-Length"), h.Get("X-Transfer-Encoding"), h.Get("X-Sum"))
		}
		if ae := h.Get("X-Accept-Encoding"); ae != "" {
			t.Errorf("%s: the request asked for compression (%q): net/http's client sent it, not the Pool", tc.method, ae)
		}
		want := fmt.Sprintf("%s %d", tc.method, len(tc.body))
		if tc.method == "HEAD" {
			want = ""
		}
		if string(got) != want {
			t.Errorf("%s: body %q, want %q", tc.method, got, want)
		}
	}
	if _, total := cc.get(); total != 1 {
		t.Errorf("the server saw %d connections, want 1", total)
	}
	if n, idle, _ := hostState(p, srv.Listener.Addr().String()); n != 1 || idle != 1 {
		t.Errorf("pool: %d connections, %d idle; want 1 and 1", n, idle)
	}
}

// TestUnknownLengthBodyIsChunked checks that a body of unknown length
// is sent with chunked transfer coding and arrives whole.
func TestUnknownLengthBodyIsChunked(t *testing.T) {
	srv := newHTTPServer(t, http.HandlerFunc(echoHandler))
	c, _ := newClient(t, Config{})
	data := payload(100_000, 2)
	for _, method := range []string{"POST", "PUT"} {
		req, err := http.NewRequestWithContext(testCtx(t), method, srv.URL, onlyReader{bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		h := resp.Header
		if h.Get("X-Transfer-Encoding") != "chunked" || h.Get("X-Content-Length") != "-1" || h.Get("X-Sum") != sum(data) {
			t.Errorf("%s: server saw transfer encoding %q, length %s, sum %s", method,
				h.Get("X-Transfer-Encoding"), h.Get("X-Content-Length"), h.Get("X-Sum"))
		}
	}
}

// TestRequestTrailers checks that a chunked request's trailers reach the
// server.
func TestRequestTrailers(t *testing.T) {
	srv := newHTTPServer(t, http.HandlerFunc(echoHandler))
	c, _ := newClient(t, Config{})
	data := payload(10_000, 3)
	req, err := http.NewRequestWithContext(testCtx(t), "POST", srv.URL, onlyReader{bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Trailer = http.Header{"X-Checksum": {sum(data)}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get("X-Trailer"); got != sum(data) {
		t.Errorf("server saw trailer X-Checksum %q, want %q", got, sum(data))
	}
}

// TestResponseTrailers checks that a response's trailers, declared and
// undeclared, are in resp.Trailer once the body was read to its end,
// and not before.
func TestResponseTrailers(t *testing.T) {
	srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Tail")
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Tail", "end")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	}))
	c, _ := newClient(t, Config{})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v, ok := resp.Trailer["X-Tail"]; !ok || v != nil {
		t.Errorf("before the body's end, Trailer is %v; want the declared key with no value", resp.Trailer)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "body" {
		t.Fatalf("body %q, %v", b, err)
	}
	if resp.Trailer.Get("X-Tail") != "end" || resp.Trailer.Get("X-Late") != "late" {
		t.Errorf("after the body's end, Trailer is %v", resp.Trailer)
	}
}

// TestResponsesWithoutBody checks 204, 304 and a HEAD's response: no body
// is read, and the connection serves the next request.
func TestResponsesWithoutBody(t *testing.T) {
	srv, cc := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Content-Length", "1234")
			w.WriteHeader(200)
		}
	}))
	c, _ := newClient(t, Config{})
	for i, tc := range []struct {
		method, path string
		code         int
	}{{"GET", "/204", 204}, {"GET", "/304", 304}, {"HEAD", "/head", 200}, {"GET", "/204", 204}} {
		var log traceLog
		ctx := httptrace.WithClientTrace(testCtx(t), log.trace())
		req, _ := http.NewRequestWithContext(ctx, tc.method, srv.URL+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || len(b) != 0 || err != nil {
			t.Errorf("%s %s: status %d, body %q, %v", tc.method, tc.path, resp.StatusCode, b, err)
		}
		if tc.method == "HEAD" && resp.ContentLength != 1234 {
			t.Errorf("HEAD: ContentLength %d, want 1234", resp.ContentLength)
		}
		if len(log.conns) != 1 || log.conns[0].Reused != (i > 0) {
			t.Errorf("%s %s: GotConn %+v; want one, reused after the first request", tc.method, tc.path, log.conns)
		}
	}
	if _, total := cc.get(); total != 1 {
		t.Errorf("the server saw %d connections, want 1", total)
	}
}

// TestBigBodies moves 8 MiB each way, with known and unknown lengths, and
// both at once through an echoing handler, checking them by hash.
func TestBigBodies(t *testing.T) {
	const size = 8 << 20
	up := payload(size, 4)
	down := payload(size, 5)
	mux := http.NewServeMux()
	mux.HandleFunc("/sum", echoHandler)
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(down)
	})
	mux.HandleFunc("/download-chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Write(down)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		w.Header().Set("Content-Length", r.Header.Get("Content-Length"))
		io.Copy(w, r.Body)
	})
	srv := newHTTPServer(t, mux)
	c, _ := newClient(t, Config{})

	do := func(method, path string, body io.Reader, length int64) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(testCtx(t), method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.ContentLength = length
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		if _, err := io.Copy(h, resp.Body); err != nil {
			t.Fatalf("%s %s: reading the body: %v", method, path, err)
		}
		return resp, hex.EncodeToString(h.Sum(nil))
	}

	if resp, _ := do("POST", "/sum", bytes.NewReader(up), size); resp.Header.Get("X-Sum") != sum(up) {
		t.Errorf("upload of known length: server's hash %s, want %s", resp.Header.Get("X-Sum"), sum(up))
	}
	if resp, _ := do("PUT", "/sum", onlyReader{bytes.NewReader(up)}, -1); resp.Header.Get("X-Sum") != sum(up) || resp.Header.Get("X-Transfer-Encoding") != "chunked" {
		t.Errorf("chunked upload: server's hash %s (%q), want %s", resp.Header.Get("X-Sum"), resp.Header.Get("X-Transfer-Encoding"), sum(up))
	}
	if resp, h := do("GET", "/download", nil, 0); h != sum(down) || resp.ContentLength != size {
		t.Errorf("download of known length: hash %s length %d, want %s", h, resp.ContentLength, sum(down))
	}
	if resp, h := do("GET", "/download-chunked", nil, 0); h != sum(down) || resp.ContentLength != -1 {
		t.Errorf("chunked download: hash %s length %d, want %s", h, resp.ContentLength, sum(down))
	}
	if _, h := do("POST", "/echo", bytes.NewReader(up), size); h != sum(up) {
		t.Errorf("echo both ways at once: hash %s, want %s", h, sum(up))
	}
}

// TestConcurrentRequestsRespectMaxConnsPerHost sends 200 requests at once
// with MaxConnsPerHost 3: all succeed, and the server never sees more
// than 3 connections.
func TestConcurrentRequestsRespectMaxConnsPerHost(t *testing.T) {
	srv, cc := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	}))
	c, p := newClient(t, Config{MaxConnsPerHost: 3, MaxIdleConnsPerHost: 3})
	const n = 200
	start := make(chan struct{})
	var wg sync.WaitGroup
	ctx := testCtx(t)
	for i := range n {
		wg.Go(func() {
			<-start
			path := fmt.Sprintf("/%d", i)
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != path {
				t.Errorf("request %d: body %q, %v", i, b, err)
			}
		})
	}
	close(start)
	wg.Wait()
	maxOpen, total := cc.get()
	if maxOpen > 3 || total > 3 {
		t.Errorf("server saw up to %d connections open at once and %d in all; want at most 3", maxOpen, total)
	}
	if conns, idle, waiters := hostState(p, srv.Listener.Addr().String()); conns > 3 || idle != conns || waiters != 0 {
		t.Errorf("pool after the requests: %d connections, %d idle, %d waiters", conns, idle, waiters)
	}
}

// TestSequentialRequestsReuseOneConnection checks that GETs one after
// another share a connection, GotConn reporting it reused after the first.
func TestSequentialRequestsReuseOneConnection(t *testing.T) {
	srv, cc := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	c, _ := newClient(t, Config{})
	for i := range 10 {
		var info httptrace.GotConnInfo
		ctx := httptrace.WithClientTrace(testCtx(t), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { info = i },
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello" {
			t.Fatalf("body %q", b)
		}
		if info.Reused != (i > 0) || info.WasIdle != (i > 0) || info.Conn == nil {
			t.Errorf("request %d: GotConn %+v", i, info)
		}
	}
	if _, total := cc.get(); total != 1 {
		t.Errorf("the server saw %d connections, want 1", total)
	}
}

// TestRequestWireFormat checks the bytes of request heads: request line,
// Host, the default User-Agent, Connection: close for req.Close, and no
// Accept-Encoding.
func TestRequestWireFormat(t *testing.T) {
	heads := make(chan string, 1)
	s := newScriptServer(t, func(c *serverConn) {
		for {
			head, err := c.readHead()
			if err != nil {
				return
			}
			if strings.Contains(head, "Content-Length: 2\r\n") {
				io.CopyN(io.Discard, c.br, 2)
			}
			heads <- head
			if c.respond("ok") != nil {
				return
			}
		}
	})
	c, _ := newClient(t, Config{})
	addr := s.Addr()
	cases := []struct {
		name  string
		setup func(*http.Request)
		body  string
		path  string
		want  string
	}{
		{"plain GET", nil, "", "/a/b?c=d&e",
			"GET /a/b?c=d&e HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: Go-http-client/1.1\r\n\r\n"},
		{"req.Close", func(r *http.Request) { r.Close = true }, "", "/",
			"GET / HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: Go-http-client/1.1\r\nConnection: close\r\n\r\n"},
		{"own User-Agent and header", func(r *http.Request) {
			r.Header.Set("User-Agent", "test/1")
			r.Header.Set("X-A", "1")
		}, "", "/", "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: test/1\r\nX-A: 1\r\n\r\n"},
		{"Host override", func(r *http.Request) { r.Host = "example.com" }, "", "/",
			"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Go-http-client/1.1\r\n\r\n"},
		{"HEAD", func(r *http.Request) { r.Method = "HEAD" }, "", "/h",
			"HEAD /h HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: Go-http-client/1.1\r\n\r\n"},
		{"POST", func(r *http.Request) { r.Method = "POST" }, "hi", "/p",
			"POST /p HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 2\r\n\r\n"},
	}
	for _, tc := range cases {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		req, err := http.NewRequestWithContext(testCtx(t), "GET", s.URL()+tc.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if tc.setup != nil {
			tc.setup(req)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got := await(t, heads, "the request head")
		if got != tc.want {
			t.Errorf("%s: the server read\n%q\nwant\n%q", tc.name, got, tc.want)
		}
		if strings.Contains(strings.ToLower(got), "accept-encoding") {
			t.Errorf("%s: the request asks for compression", tc.name)
		}
	}
}

// TestKeepAliveRules checks when a connection carries a second request:
// only after a response that ended cleanly, was read to its end, and
// neither side asked to close. Otherwise the second request dials anew
// and the first connection is closed.
func TestKeepAliveRules(t *testing.T) {
	cases := []struct {
		name          string
		first         string // the server's answer to the first request
		closeAfter    bool   // the server ends its side after answering
		reqClose      bool   // the first request has req.Close set
		reqConnection string // the first request's Connection header
		readN         int    // read this many bytes of the first body then close it; 0: read it all
		wantBody      string
		reused        bool
	}{
		{name: "content-length", first: okResponse("hello"), wantBody: "hello", reused: true},
		{name: "chunked", first: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", wantBody: "hello", reused: true},
		{name: "empty body", first: okResponse(""), wantBody: "", reused: true},
		{name: "HTTP/1.0 with keep-alive", first: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello", wantBody: "hello", reused: true},
		{name: "Connection: close", first: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", wantBody: "hello"},
		{name: "Connection: close without body", first: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", wantBody: ""},
		{name: "HTTP/1.0 without keep-alive", first: "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", wantBody: "hello"},
		{name: "close-delimited body", first: "HTTP/1.1 200 OK\r\n\r\nhello", closeAfter: true, wantBody: "hello"},
		{name: "body closed early", first: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", readN: 2, wantBody: "he"},
		{name: "request with Connection: close", first: okResponse("hello"), reqClose: true, wantBody: "hello"},
		{name: "request with a Connection: close header", first: okResponse("hello"), reqConnection: "keep-alive, Close", wantBody: "hello"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, conn0Requests, conn0Closed := firstConnServer(t, tc.first, tc.closeAfter, "second", "second")
			c, _ := newClient(t, Config{})
			req, _ := http.NewRequestWithContext(testCtx(t), "GET", s.URL(), nil)
			req.Close = tc.reqClose
			if tc.reqConnection != "" {
				req.Header.Set("Connection", tc.reqConnection)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var b []byte
			if tc.readN > 0 {
				b = make([]byte, tc.readN)
				_, err = io.ReadFull(resp.Body, b)
			} else {
				b, err = io.ReadAll(resp.Body)
			}
			resp.Body.Close()
			if err != nil || string(b) != tc.wantBody {
				t.Fatalf("first body %q, %v; want %q", b, err, tc.wantBody)
			}
			if got := doGet(t, c, s.URL()); got != "second" {
				t.Fatalf("second body %q", got)
			}
			if tc.reused {
				if s.Conns() != 1 || conn0Requests.Load() != 2 {
					t.Errorf("%d connections, %d requests on the first; want the first connection reused", s.Conns(), conn0Requests.Load())
				}
				return
			}
			if s.Conns() != 2 || conn0Requests.Load() != 1 {
				t.Errorf("%d connections, %d requests on the first; want a new connection", s.Conns(), conn0Requests.Load())
			}
			await(t, conn0Closed, "the client to close the first connection")
		})
	}
}

// TestRetryOnServerClosedIdleConnection scripts a server that reads a
// second request on a kept-alive connection and closes it without an
// answer, and checks which requests are sent again on a new connection
// (net/http's rule: idempotent methods, or an Idempotency-Key, with a body
// that can be had again) and which fail.
func TestRetryOnServerClosedIdleConnection(t *testing.T) {
	type bodyKind int
	const (
		noBody bodyKind = iota
		bodyWithGetBody
		bodyWithoutGetBody
	)
	cases := []struct {
		name    string
		method  string
		body    bodyKind
		header  string // a header to set, with value "k1"
		retried bool
	}{
		{"GET", "GET", noBody, "", true},
		{"HEAD", "HEAD", noBody, "", true},
		{"OPTIONS", "OPTIONS", noBody, "", true},
		{"TRACE", "TRACE", noBody, "", true},
		{"GET with GetBody", "GET", bodyWithGetBody, "", true},
		{"GET with body and no GetBody", "GET", bodyWithoutGetBody, "", false},
		{"POST without GetBody", "POST", bodyWithoutGetBody, "", false},
		{"POST with GetBody", "POST", bodyWithGetBody, "", false},
		{"POST with GetBody and Idempotency-Key", "POST", bodyWithGetBody, "Idempotency-Key", true},
		{"POST with GetBody and X-Idempotency-Key", "POST", bodyWithGetBody, "X-Idempotency-Key", true},
		{"POST without GetBody and Idempotency-Key", "POST", bodyWithoutGetBody, "Idempotency-Key", false},
		{"PUT without body", "PUT", noBody, "", false},
		{"DELETE", "DELETE", noBody, "", false},
		{"DELETE with Idempotency-Key", "DELETE", noBody, "Idempotency-Key", true},
	}
	const data = "payload-to-send"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			retriedBody := make(chan string, 1)
			s := newScriptServer(t, func(c *serverConn) {
				switch c.n {
				case 0:
					if _, _, err := c.readRequest(); err != nil {
						return
					}
					c.respond("first")
					c.readRequest()
					// Closed without an answer.
				default:
					req, body, err := c.readRequest()
					if err != nil {
						return
					}
					retriedBody <- string(body)
					if req.Method == "HEAD" {
						c.write("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n")
					} else {
						c.respond("retried")
					}
				}
			})
			p := newTestPool(t, Config{Dial: (&net.Dialer{}).DialContext})
			if got, err := poolGet(p, testCtx(t), s.URL()); err != nil || got != "first" {
				t.Fatalf("first request: %q, %v", got, err)
			}
			var body io.Reader
			if tc.body != noBody {
				body = strings.NewReader(data)
			}
			req, _ := http.NewRequestWithContext(testCtx(t), tc.method, s.URL(), body)
			var getBodies atomic.Int32
			switch tc.body {
			case bodyWithGetBody:
				req.GetBody = func() (io.ReadCloser, error) {
					getBodies.Add(1)
					return io.NopCloser(strings.NewReader(data)), nil
				}
			case bodyWithoutGetBody:
				req.GetBody = nil
			}
			if tc.header != "" {
				req.Header[tc.header] = []string{"k1"}
			}
			resp, err := p.RoundTrip(req)
			if !tc.retried {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("status %d; want an error", resp.StatusCode)
				}
				if s.Conns() != 1 {
					t.Errorf("%d connections; want no retry", s.Conns())
				}
				return
			}
			if err != nil {
				t.Fatalf("want a retry on a new connection: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.method != "HEAD" && string(b) != "retried" {
				t.Errorf("body %q", b)
			}
			got := await(t, retriedBody, "the retried request")
			want := ""
			if tc.body != noBody {
				want = data
			}
			if got != want || s.Conns() != 2 {
				t.Errorf("retried request's body %q on %d connections; want %q on 2", got, s.Conns(), want)
			}
			if tc.body == bodyWithGetBody && getBodies.Load() != 1 {
				t.Errorf("GetBody called %d times, want 1", getBodies.Load())
			}
		})
	}
}

// TestRetryWhenNothingWasWritten uses in-memory connections whose server
// end closes after the first response, so that the next request cannot
// write a byte: a request with a body is then sent again on a new
// connection if GetBody can give the body again, whatever its method.
func TestRetryWhenNothingWasWritten(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		getBody bool
		getErr  bool
		retried bool
	}{
		{"POST with GetBody", "POST", true, false, true},
		{"PATCH with GetBody", "PATCH", true, false, true},
		{"POST without GetBody", "POST", false, false, false},
		{"POST whose GetBody fails", "POST", true, true, false},
		{"GET", "GET", false, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			retriedBody := make(chan string, 1)
			pn := newPipeNet(func(c *serverConn) {
				_, body, err := c.readRequest()
				if err != nil {
					return
				}
				if c.n == 0 {
					c.respond("first")
					return // closes the connection
				}
				retriedBody <- string(body)
				c.respond("retried")
			})
			p := newTestPool(t, Config{Dial: pn.Dial})
			if got, err := poolGet(p, testCtx(t), "http://pipe.test/"); err != nil || got != "first" {
				t.Fatalf("first request: %q, %v", got, err)
			}
			tb := newTrackedBody("data")
			req, _ := http.NewRequestWithContext(testCtx(t), tc.method, "http://pipe.test/", nil)
			if tc.method != "GET" {
				req.Body = tb
				req.ContentLength = 4
			}
			var getBodies atomic.Int32
			if tc.getBody {
				req.GetBody = func() (io.ReadCloser, error) {
					getBodies.Add(1)
					if tc.getErr {
						return nil, errors.New("no body again")
					}
					return io.NopCloser(strings.NewReader("data")), nil
				}
			}
			resp, err := p.RoundTrip(req)
			if tc.method != "GET" && !tb.closed.Load() {
				t.Error("the request body was not closed")
			}
			if !tc.retried {
				if err == nil {
					resp.Body.Close()
					t.Fatal("want an error")
				}
				if pn.Dials() != 1 {
					t.Errorf("%d dials, want 1", pn.Dials())
				}
				return
			}
			if err != nil {
				t.Fatalf("want a retry: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := ""
			if tc.method != "GET" {
				want = "data"
			}
			if string(b) != "retried" || pn.Dials() != 2 || await(t, retriedBody, "the retried request") != want {
				t.Errorf("body %q after %d dials", b, pn.Dials())
			}
			p.Close()
			pn.Wait()
		})
	}
}

// TestNoRetryOnFreshConnection checks that a request that fails on a
// connection dialled for it is not sent again, even when idempotent.
func TestNoRetryOnFreshConnection(t *testing.T) {
	s := newScriptServer(t, func(c *serverConn) {
		c.readRequest() // and close without answering
	})
	var dc dialCounter
	p := newTestPool(t, Config{Dial: dc.Dial})
	for _, method := range []string{"GET", "HEAD", "POST"} {
		before := dc.Dials()
		req, _ := http.NewRequestWithContext(testCtx(t), method, s.URL(), nil)
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		resp, err := p.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: want an error", method)
		}
		if n := dc.Dials() - before; n != 1 {
			t.Errorf("%s: %d dials, want exactly 1", method, n)
		}
	}
}

// TestDialError checks that a failed dial is returned, closes the
// request's body, and frees the connection's place.
func TestDialError(t *testing.T) {
	dialErr := errors.New("no route")
	var dials atomic.Int32
	p := newTestPool(t, Config{MaxConnsPerHost: 1, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, dialErr
	}})
	for i := range 3 {
		tb := newTrackedBody("x")
		req, _ := http.NewRequestWithContext(testCtx(t), "POST", "http://h.test/", tb)
		req.ContentLength = 1
		_, err := p.RoundTrip(req)
		if !errors.Is(err, dialErr) || !tb.closed.Load() {
			t.Errorf("attempt %d: %v, body closed %v", i, err, tb.closed.Load())
		}
	}
	if dials.Load() != 3 {
		t.Errorf("%d dials, want 3", dials.Load())
	}
	if n, _, _ := hostState(p, "h.test:80"); n != 0 {
		t.Errorf("%d connections counted after failed dials", n)
	}
}

// TestCancelWhileAwaitingHeaders cancels a request while the server
// stalls before answering: RoundTrip returns the context's error (or the
// cause given to WithCancelCause), and the connection is closed and not
// reused.
func TestCancelWhileAwaitingHeaders(t *testing.T) {
	myCause := errors.New("stopped by the test")
	for _, tc := range []struct {
		name      string
		viaClient bool
		cause     error
	}{
		{"http.Client", true, nil},
		{"http.Client with a cause", true, myCause},
		{"Pool.RoundTrip", false, nil},
		{"Pool.RoundTrip with a cause", false, myCause},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotRequest := make(chan struct{}, 1)
			conn0Closed := make(chan struct{})
			s := newScriptServer(t, func(c *serverConn) {
				if c.n > 0 {
					serveOK("later")(c)
					return
				}
				defer close(conn0Closed)
				if _, _, err := c.readRequest(); err != nil {
					return
				}
				gotRequest <- struct{}{}
				c.rest() // stall until the client closes
			})
			c, p := newClient(t, Config{})
			ctx, cancel := context.WithCancelCause(testCtx(t))
			req, _ := http.NewRequestWithContext(ctx, "GET", s.URL(), nil)
			errc := make(chan error, 1)
			go func() {
				var resp *http.Response
				var err error
				if tc.viaClient {
					resp, err = c.Do(req)
				} else {
					resp, err = p.RoundTrip(req)
				}
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			await(t, gotRequest, "the request")
			cancel(tc.cause)
			want := tc.cause
			if want == nil {
				want = context.Canceled
			}
			err := await(t, errc, "RoundTrip to return after the cancellation")
			if !errors.Is(err, want) {
				t.Errorf("RoundTrip returned %v, want %v", err, want)
			}
			if !tc.viaClient && err != want {
				t.Errorf("RoundTrip returned %v, want exactly %v", err, want)
			}
			await(t, conn0Closed, "the connection to be closed")
			if got := doGet(t, c, s.URL()); got != "later" || s.Conns() != 2 {
				t.Errorf("after the cancellation: %q on %d connections", got, s.Conns())
			}
		})
	}
}

// TestCancelWhileReadingBody cancels a request while its body is being
// read: Read returns the context's cause, and the connection is closed.
func TestCancelWhileReadingBody(t *testing.T) {
	conn0Closed := make(chan struct{})
	s := newScriptServer(t, func(c *serverConn) {
		if c.n > 0 {
			serveOK("later")(c)
			return
		}
		defer close(conn0Closed)
		if _, _, err := c.readRequest(); err != nil {
			return
		}
		c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
		c.rest()
	})
	p := newTestPool(t, Config{Dial: (&net.Dialer{}).DialContext})
	myCause := errors.New("enough")
	ctx, cancel := context.WithCancelCause(testCtx(t))
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL(), nil)
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "0123456789" {
		t.Fatalf("read %q, %v", buf, err)
	}
	cancel(myCause)
	if _, err := resp.Body.Read(buf); err != myCause {
		t.Errorf("Read after the cancellation: %v, want %v", err, myCause)
	}
	if _, err := resp.Body.Read(buf); err != myCause {
		t.Errorf("second Read after the cancellation: %v, want %v", err, myCause)
	}
	resp.Body.Close()
	await(t, conn0Closed, "the connection to be closed")
	if got, err := poolGet(p, testCtx(t), s.URL()); got != "later" || err != nil || s.Conns() != 2 {
		t.Errorf("next request: %q, %v, on %d connections; want a new one", got, err, s.Conns())
	}
}

// TestCancelWhileWaitingForConnection cancels a request waiting for a
// connection past MaxConnsPerHost: it returns the context's cause and
// leaves no trace in the pool, so that later requests proceed.
func TestCancelWhileWaitingForConnection(t *testing.T) {
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	s := newScriptServer(t, func(c *serverConn) {
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
			c.respond("ok")
		}
	})
	t.Cleanup(releaseOnce) // before the server's Close, which waits for the handler
	p := newTestPool(t, Config{Dial: (&net.Dialer{}).DialContext, MaxConnsPerHost: 1})
	addr := s.Addr()
	reqA, _ := http.NewRequestWithContext(testCtx(t), "GET", s.URL()+"/hold", nil)
	respA, err := p.RoundTrip(reqA)
	if err != nil {
		t.Fatal(err)
	}
	myCause := errors.New("waited too long")
	for range 3 {
		started := make(chan struct{})
		ctx, cancel := context.WithCancelCause(testCtx(t))
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GetConn: func(string) { close(started) }})
		errc := make(chan error, 1)
		go func() {
			_, err := poolGet(p, ctx, s.URL()+"/b")
			errc <- err
		}()
		<-started
		cancel(myCause)
		if err := await(t, errc, "the waiting request"); err != myCause {
			t.Errorf("waiting request returned %v, want %v", err, myCause)
		}
		if n, idle, waiters := hostState(p, addr); n != 1 || idle != 0 || waiters != 0 {
			t.Errorf("pool: %d connections, %d idle, %d waiters; want 1, 0, 0", n, idle, waiters)
		}
	}
	releaseOnce()
	if b, err := io.ReadAll(respA.Body); err != nil || string(b) != "hold" {
		t.Fatalf("first body %q, %v", b, err)
	}
	respA.Body.Close()
	if got, err := poolGet(p, testCtx(t), s.URL()+"/c"); err != nil || got != "ok" {
		t.Errorf("later request: %q, %v", got, err)
	}
	if n, idle, waiters := hostState(p, addr); n != 1 || idle != 1 || waiters != 0 || s.Conns() != 1 {
		t.Errorf("pool: %d connections, %d idle, %d waiters, server %d; want 1, 1, 0, 1", n, idle, waiters, s.Conns())
	}
}

// TestCancelRacesHandoff cancels a waiting request just as a connection
// is handed to it, many times: whichever wins, the pool's count stays
// right and the next request proceeds.
func TestCancelRacesHandoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet(serveOK("ok"))
		p := NewPool(Config{Dial: pn.Dial, MaxConnsPerHost: 1})
		const url = "http://pipe.test/"
		for i := range 30 {
			reqA, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
			respA, err := p.RoundTrip(reqA)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() {
				_, err := poolGet(p, ctx, url)
				errc <- err
			}()
			synctest.Wait() // the second request waits for the connection
			if _, _, waiters := hostState(p, "pipe.test:80"); waiters != 1 {
				t.Fatalf("round %d: %d waiters, want 1", i, waiters)
			}
			cancel()
			io.ReadAll(respA.Body) // hands the connection over
			respA.Body.Close()
			if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("round %d: waiting request: %v", i, err)
			}
			if got, err := poolGet(p, t.Context(), url); err != nil || got != "ok" {
				t.Fatalf("round %d: next request: %q, %v", i, got, err)
			}
			if n, idle, waiters := hostState(p, "pipe.test:80"); n != 1 || idle != 1 || waiters != 0 {
				t.Fatalf("round %d: pool: %d connections, %d idle, %d waiters", i, n, idle, waiters)
			}
		}
		p.Close()
		pn.Wait()
	})
}

// TestCancelledContextSendsNothing sends requests whose context ended
// before RoundTrip was called, with an idle connection at hand: as with
// net/http, each returns the context's error and nothing of it is written
// to the connection.
func TestCancelledContextSendsNothing(t *testing.T) {
	s := newScriptServer(t, serveOK("ok"))
	var mu sync.Mutex
	var conns []*writeCounter
	p := newTestPool(t, Config{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		wc := &writeCounter{Conn: c}
		mu.Lock()
		conns = append(conns, wc)
		mu.Unlock()
		return wc, nil
	}})
	writes := func() (n int32) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			n += c.writes.Load()
		}
		return n
	}
	const rounds = 10
	written := 0
	for i := range rounds {
		if _, err := poolGet(p, testCtx(t), s.URL()+"/warm"); err != nil {
			t.Fatal(err)
		}
		before := writes()
		ctx, cancel := context.WithCancel(testCtx(t))
		cancel()
		if _, err := poolGet(p, ctx, s.URL()+"/cancelled"); !errors.Is(err, context.Canceled) {
			t.Errorf("round %d: request with a cancelled context returned %v", i, err)
		}
		if writes() != before {
			written++
		}
	}
	if written > 0 {
		t.Errorf("%d of %d requests whose context was already cancelled were written to a connection", written, rounds)
	}
}

// TestBlockedRequestBodyDoesNotBlockRoundTrip checks that RoundTrip
// returns when its context is cancelled, or the server answers with an
// error, while the request body's Read blocks: the body is the caller's
// and may never yield, as with an io.Pipe nobody writes to.
func TestBlockedRequestBodyDoesNotBlockRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply string // written once the request head arrived; "" cancels the context instead
	}{
		{"context cancelled", ""},
		{"malformed answer", "garbage\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				gotHead := make(chan struct{})
				pn := newPipeNet(func(c *serverConn) {
					if _, err := c.readHead(); err != nil {
						return
					}
					close(gotHead)
					if tc.reply != "" {
						c.write(tc.reply)
					}
					c.rest()
				})
				p := NewPool(Config{Dial: pn.Dial})
				pr, pw := io.Pipe()
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "POST", "http://pipe.test/", pr)
				req.ContentLength = -1
				errc := make(chan error, 1)
				go func() {
					resp, err := p.RoundTrip(req)
					if err == nil {
						resp.Body.Close()
					}
					errc <- err
				}()
				<-gotHead
				if tc.reply == "" {
					cancel()
				}
				synctest.Wait()
				select {
				case err := <-errc:
					if err == nil || (tc.reply == "" && !errors.Is(err, context.Canceled)) {
						t.Errorf("RoundTrip returned %v", err)
					}
				default:
					t.Errorf("RoundTrip is still blocked in the request body's Read after the exchange failed")
					pw.CloseWithError(errors.New("test gave up"))
					<-errc
				}
				pw.Close()
				p.Close()
				pn.Wait()
			})
		})
	}
}

// TestInformationalResponses checks that 103 and 100 responses before the
// final one are skipped, reported through Got1xxResponse and
// Got100Continue, and leave the connection usable.
func TestInformationalResponses(t *testing.T) {
	s := newScriptServer(t, func(c *serverConn) {
		for {
			if _, _, err := c.readRequest(); err != nil {
				return
			}
			c.write("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
				"HTTP/1.1 100 Continue\r\n\r\n" + okResponse("final"))
		}
	})
	c, _ := newClient(t, Config{})
	for i := range 2 {
		var mu sync.Mutex
		var codes []int
		var links []string
		var continues int
		ctx := httptrace.WithClientTrace(testCtx(t), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				mu.Lock()
				defer mu.Unlock()
				codes = append(codes, code)
				links = append(links, h.Get("Link"))
				return nil
			},
			Got100Continue: func() {
				mu.Lock()
				continues++
				mu.Unlock()
			},
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL(), nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "final" {
			t.Errorf("status %d body %q", resp.StatusCode, b)
		}
		if fmt.Sprint(codes) != "[103 100]" || links[0] != "</a.css>; rel=preload" || continues != 1 {
			t.Errorf("round %d: Got1xxResponse %v %q, Got100Continue %d times", i, codes, links, continues)
		}
	}
	if s.Conns() != 1 {
		t.Errorf("%d connections, want 1", s.Conns())
	}
}

// TestInformationalLimits checks the bound of five informational
// responses, the failure on an unasked-for 101, and an error returned by
// Got1xxResponse.
func TestInformationalLimits(t *testing.T) {
	hookErr := errors.New("no hints please")
	cases := []struct {
		name    string
		head    string
		hook    bool
		wantErr string
		wantIs  error
	}{
		{"five 1xx", strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 5), false, "", nil},
		{"six 1xx", strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 6), false, "too many 1xx", nil},
		{"six 1xx with a hook", strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 6), true, "too many 1xx", nil},
		{"six 100 Continue", strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 6), false, "too many 1xx", nil},
		{"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n", false, "101 Switching Protocols", nil},
		{"101 after 103", "HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", false, "101 Switching Protocols", nil},
		{"hook fails", "HTTP/1.1 103 Early Hints\r\n\r\n", true, "", hookErr},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var conn0Requests atomic.Int32
			s := newScriptServer(t, func(c *serverConn) {
				if c.n > 0 {
					serveOK("next")(c)
					return
				}
				for {
					if _, _, err := c.readRequest(); err != nil {
						return
					}
					if conn0Requests.Add(1) == 1 {
						c.write(tc.head + okResponse("final"))
					} else {
						c.respond("next")
					}
				}
			})
			p := newTestPool(t, Config{Dial: (&net.Dialer{}).DialContext})
			ctx := testCtx(t)
			if tc.hook {
				ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
					Got1xxResponse: func(int, textproto.MIMEHeader) error {
						if tc.wantIs != nil {
							return tc.wantIs
						}
						return nil
					},
				})
			}
			got, err := poolGet(p, ctx, s.URL())
			switch {
			case tc.wantErr == "" && tc.wantIs == nil:
				if err != nil || got != "final" {
					t.Fatalf("%q, %v; want the final response", got, err)
				}
			case tc.wantIs != nil:
				if !errors.Is(err, tc.wantIs) {
					t.Fatalf("%v, want %v", err, tc.wantIs)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%v, want an error containing %q", err, tc.wantErr)
				}
			}
			// After a failure the connection is not used again.
			next, err := poolGet(p, testCtx(t), s.URL())
			if err != nil || next != "next" {
				t.Fatalf("next request: %q, %v", next, err)
			}
			wantConns := 2
			if err == nil && tc.wantErr == "" && tc.wantIs == nil {
				wantConns = 1
			}
			if s.Conns() != wantConns {
				t.Errorf("%d connections, want %d", s.Conns(), wantConns)
			}
		})
	}
}

// TestInformationalHeadersCountTowardLimit checks that, unless
// Got1xxResponse sees them, informational responses' headers count with
// the final one's against MaxResponseHeaderBytes.
func TestInformationalHeadersCountTowardLimit(t *testing.T) {
	hint := "HTTP/1.1 103 Early Hints\r\nLink: <" + strings.Repeat("a", 800) + ">\r\n\r\n"
	s := newScriptServer(t, func(c *serverConn) {
		for {
			if _, _, err := c.readRequest(); err != nil {
				return
			}
			c.write(strings.Repeat(hint, 3) + okResponse("final"))
		}
	})
	p := newTestPool(t, Config{Dial: (&net.Dialer{}).DialContext, MaxResponseHeaderBytes: 2048})
	if _, err := poolGet(p, testCtx(t), s.URL()); err == nil || !strings.Contains(err.Error(), "server response headers exceeded 2048 bytes") {
		t.Errorf("without a Got1xxResponse hook: %v; want the header limit's error", err)
	}
	var seen atomic.Int32
	ctx := httptrace.WithClientTrace(testCtx(t), &httptrace.ClientTrace{
		Got1xxResponse: func(int, textproto.MIMEHeader) error { seen.Add(1); return nil },
	})
	if got, err := poolGet(p, ctx, s.URL()); err != nil || got != "final" || seen.Load() != 3 {
		t.Errorf("with a hook: %q, %v, %d informational responses seen", got, err, seen.Load())
	}
}

// busyAndIdle starts a server that holds "/hold" until released and a
// client with two connections to it: connection 0 busy with a held
// response, connection 1 idle. closed receives the number of each
// connection the server sees closed.
func busyAndIdle(t *testing.T) (s *scriptServer, c *http.Client, p *Pool, busy *http.Response, closed chan int, releaseOnce func()) {
	t.Helper()
	closed = make(chan int, 10)
	release := make(chan struct{})
	releaseOnce = sync.OnceFunc(func() { close(release) })
	s = newScriptServer(t, holdServer(closed, release))
	t.Cleanup(releaseOnce) // before the server's Close, which waits for the handler
	c, p = newClient(t, Config{})
	busy, err := c.Get(s.URL() + "/hold")
	if err != nil {
		t.Fatal(err)
	}
	if got := doGet(t, c, s.URL()); got != "ae=" {
		t.Fatalf("a GET beside the held one: %q", got)
	}
	return s, c, p, busy, closed, releaseOnce
}

// TestCloseIdleConnections checks that idle connections are closed (the
// server sees EOF), that busy ones stay, and that the next request dials.
func TestCloseIdleConnections(t *testing.T) {
	s, c, p, busy, closed, releaseOnce := busyAndIdle(t)
	p.CloseIdleConnections()
	if n := await(t, closed, "the idle connection to close"); n != 1 {
		t.Errorf("connection %d closed, want the idle one, 1", n)
	}
	if n, idle, _ := hostState(p, s.Addr()); n != 1 || idle != 0 {
		t.Errorf("pool: %d connections, %d idle; want 1, 0", n, idle)
	}
	releaseOnce()
	if b, err := io.ReadAll(busy.Body); err != nil || string(b) != "hold" {
		t.Fatalf("busy body %q, %v", b, err)
	}
	busy.Body.Close()
	// The busy connection went back to the pool and serves the next request.
	if got := doGet(t, c, s.URL()); got != "ae=" || s.Conns() != 2 {
		t.Errorf("next request: %q on %d connections; want the kept one", got, s.Conns())
	}
	select {
	case n := <-closed:
		t.Errorf("connection %d closed", n)
	default:
	}
}

// TestClose checks that Close closes idle connections, that afterwards
// RoundTrip declines every request without touching it (so net/http's
// client sends them), and that a busy connection finishes its response
// and is then closed.
func TestClose(t *testing.T) {
	s, c, p, busy, closed, releaseOnce := busyAndIdle(t)
	p.Close()
	if n := await(t, closed, "the idle connection to close"); n != 1 {
		t.Errorf("connection %d closed, want the idle one, 1", n)
	}

	tb := newTrackedBody("data")
	req, _ := http.NewRequest("POST", s.URL(), tb)
	if resp, err := p.RoundTrip(req); resp != nil || err != http.ErrSkipAltProtocol {
		t.Errorf("RoundTrip after Close: %v, %v; want ErrSkipAltProtocol", resp, err)
	}
	if tb.read.Load() || tb.closed.Load() {
		t.Errorf("RoundTrip after Close touched the body: read %v, closed %v", tb.read.Load(), tb.closed.Load())
	}
	if got := doGet(t, c, s.URL()); got != "ae=gzip" {
		t.Errorf("after Close the client's request was sent by %q; want net/http's client", got)
	}

	releaseOnce()
	if b, err := io.ReadAll(busy.Body); err != nil || string(b) != "hold" {
		t.Fatalf("busy body %q, %v", b, err)
	}
	busy.Body.Close()
	if n := await(t, closed, "the busy connection to close"); n != 0 {
		t.Errorf("connection %d closed, want the busy one, 0", n)
	}
	if n, idle, _ := hostState(p, s.Addr()); n != 0 || idle != 0 {
		t.Errorf("pool after Close: %d connections, %d idle", n, idle)
	}
}

// TestIdleTimeout checks, with a fake clock, that a connection idle for
// IdleTimeout is closed and the next request dials, while one used again
// before that is kept.
func TestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var closed atomic.Int32
		pn := newPipeNet(func(c *serverConn) {
			serveOK("ok")(c)
			closed.Add(1)
		})
		p := NewPool(Config{Dial: pn.Dial, IdleTimeout: 30 * time.Second})
		get := func() {
			t.Helper()
			if got, err := poolGet(p, t.Context(), "http://pipe.test/"); err != nil || got != "ok" {
				t.Fatalf("GET: %q, %v", got, err)
			}
		}
		get()
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if closed.Load() != 0 {
			t.Fatal("connection closed before its idle timeout")
		}
		get()
		if pn.Dials() != 1 {
			t.Fatalf("%d dials; want the connection reused", pn.Dials())
		}
		time.Sleep(31 * time.Second)
		synctest.Wait()
		if closed.Load() != 1 {
			t.Fatal("connection still open after its idle timeout")
		}
		if n, idle, _ := hostState(p, "pipe.test:80"); n != 0 || idle != 0 {
			t.Errorf("pool: %d connections, %d idle; want none", n, idle)
		}
		get()
		if pn.Dials() != 2 {
			t.Errorf("%d dials; want a new connection after the timeout", pn.Dials())
		}
		p.Close()
		pn.Wait()
	})
}

// TestIdleTimerSparesBusyConnection checks that an idle timer that comes
// due while its connection carries another request does not close it.
func TestIdleTimerSparesBusyConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var closed atomic.Int32
		pn := newPipeNet(func(c *serverConn) {
			defer closed.Add(1)
			for i := 0; ; i++ {
				if _, _, err := c.readRequest(); err != nil {
					return
				}
				if i == 1 {
					time.Sleep(20 * time.Second) // a slow answer
				}
				c.respond("ok")
			}
		})
		p := NewPool(Config{Dial: pn.Dial, IdleTimeout: 30 * time.Second})
		for i, pause := range []time.Duration{0, 20 * time.Second, 29 * time.Second} {
			time.Sleep(pause)
			if got, err := poolGet(p, t.Context(), "http://pipe.test/"); err != nil || got != "ok" {
				t.Fatalf("request %d: %q, %v", i, got, err)
			}
		}
		if pn.Dials() != 1 || closed.Load() != 0 {
			t.Errorf("%d dials, %d connections closed; want one connection throughout", pn.Dials(), closed.Load())
		}
		p.Close()
		pn.Wait()
	})
}

// TestMaxIdleConnsPerHost checks that only MaxIdleConnsPerHost
// connections are kept idle; the others close when their response ends.
func TestMaxIdleConnsPerHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var closed atomic.Int32
		pn := newPipeNet(func(c *serverConn) {
			serveOK("ok")(c)
			closed.Add(1)
		})
		p := NewPool(Config{Dial: pn.Dial, MaxIdleConnsPerHost: 2})
		var resps []*http.Response
		for range 3 {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://pipe.test/", nil)
			resp, err := p.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resps = append(resps, resp)
		}
		for _, resp := range resps {
			io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		synctest.Wait()
		if n, idle, _ := hostState(p, "pipe.test:80"); n != 2 || idle != 2 || closed.Load() != 1 || pn.Dials() != 3 {
			t.Errorf("pool: %d connections, %d idle, %d closed of %d; want 2, 2, 1 of 3", n, idle, closed.Load(), pn.Dials())
		}
		p.Close()
		pn.Wait()
	})
}

// TestMostRecentlyUsedFirst checks that the idle connection returned last
// is the one used next.
func TestMostRecentlyUsedFirst(t *testing.T) {
	pn := newPipeNet(func(c *serverConn) {
		serveOK(fmt.Sprintf("conn%d", c.n))(c)
	})
	p := newTestPool(t, Config{Dial: pn.Dial})
	start := func() *http.Response {
		req, _ := http.NewRequestWithContext(testCtx(t), "GET", "http://pipe.test/", nil)
		resp, err := p.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	finish := func(resp *http.Response) string {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	a, b := start(), start()
	if finish(b) != "conn1" || finish(a) != "conn0" {
		t.Fatal("unexpected connections")
	}
	// conn0 went back last.
	for range 2 {
		if got := finish(start()); got != "conn0" {
			t.Errorf("next request on %s, want conn0", got)
		}
	}
	c, d := start(), start()
	if got := finish(c) + finish(d); got != "conn0conn1" {
		t.Errorf("two at once on %s, want conn0conn1", got)
	}
	if got := finish(start()); got != "conn1" {
		t.Errorf("next request on %s, want conn1", got)
	}
	p.Close()
	pn.Wait()
}

// TestHandoffGotConnInfo checks what GotConn reports to a request that
// waited past MaxConnsPerHost and was handed a connection straight from
// another request: reused, and not idle for longer than it has existed.
func TestHandoffGotConnInfo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		pn := newPipeNet(serveOK("ok"))
		p := NewPool(Config{Dial: pn.Dial, MaxConnsPerHost: 1})
		reqA, _ := http.NewRequestWithContext(t.Context(), "GET", "http://pipe.test/", nil)
		respA, err := p.RoundTrip(reqA)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		var info httptrace.GotConnInfo
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { info = i },
		})
		errc := make(chan error, 1)
		go func() {
			_, err := poolGet(p, ctx, "http://pipe.test/")
			errc <- err
		}()
		synctest.Wait()
		io.ReadAll(respA.Body)
		respA.Body.Close()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !info.Reused {
			t.Errorf("GotConn %+v; want Reused", info)
		}
		if info.WasIdle && info.IdleTime > time.Since(start) {
			t.Errorf("GotConn reports the connection idle for %v, but it was opened %v ago and never idle", info.IdleTime, time.Since(start))
		}
		p.Close()
		pn.Wait()
	})
}

// TestSkipsRequestsItDoesNotTake checks each kind of request the Pool
// declines: RoundTrip returns http.ErrSkipAltProtocol without reading or
// closing the body and without dialling.
func TestSkipsRequestsItDoesNotTake(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(*http.Request)
		handles func(*http.Request) bool
		closed  bool
	}{
		{name: "https", setup: func(r *http.Request) { r.URL.Scheme = "https" }},
		{name: "ftp", setup: func(r *http.Request) { r.URL.Scheme = "ftp" }},
		{name: "CONNECT", setup: func(r *http.Request) { r.Method = "CONNECT" }},
		{name: "method with a space", setup: func(r *http.Request) { r.Method = "BAD METHOD" }},
		{name: "method with a newline", setup: func(r *http.Request) { r.Method = "GET\n" }},
		{name: "header name with a space", setup: func(r *http.Request) { r.Header["Bad Name"] = []string{"x"} }},
		{name: "header name with a colon", setup: func(r *http.Request) { r.Header["X:Y"] = []string{"x"} }},
		{name: "header value with CRLF", setup: func(r *http.Request) { r.Header["X-A"] = []string{"a\r\nX-Injected: 1"} }},
		{name: "header value with NUL", setup: func(r *http.Request) { r.Header["X-A"] = []string{"a\x00b"} }},
		{name: "Upgrade", setup: func(r *http.Request) { r.Header.Set("Upgrade", "websocket") }},
		{name: "Expect", setup: func(r *http.Request) { r.Header.Set("Expect", "100-continue") }},
		{name: "Connection: Upgrade", setup: func(r *http.Request) { r.Header.Set("Connection", "Upgrade") }},
		{name: "Connection: keep-alive, upgrade", setup: func(r *http.Request) { r.Header.Set("Connection", "keep-alive, upgrade") }},
		{name: "Connection: upgrade in a second value", setup: func(r *http.Request) { r.Header["Connection"] = []string{"keep-alive", "UPGRADE"} }},
		{name: "non-ASCII host", setup: func(r *http.Request) { r.URL.Host = "bücher.example" }},
		{name: "non-ASCII host with port", setup: func(r *http.Request) { r.URL.Host = "bücher.example:8080" }},
		{name: "nil header", setup: func(r *http.Request) { r.Header = nil }},
		{name: "no host", setup: func(r *http.Request) { r.URL.Host = "" }},
		{name: "nil URL", setup: func(r *http.Request) { r.URL = nil }},
		{name: "Handles refuses", handles: func(*http.Request) bool { return false }},
		{name: "pool closed", closed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var dials atomic.Int32
			p := newTestPool(t, Config{Handles: tc.handles, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return nil, errors.New("no dialling here")
			}})
			if tc.closed {
				p.Close()
			}
			tb := newTrackedBody("data")
			u, _ := url.Parse("http://example.test/path")
			req := &http.Request{Method: "POST", URL: u, Header: http.Header{}, Body: tb, ContentLength: 4, Host: u.Host}
			if tc.setup != nil {
				tc.setup(req)
			}
			resp, err := p.RoundTrip(req)
			if resp != nil || err != http.ErrSkipAltProtocol {
				t.Errorf("RoundTrip: %v, %v; want nil, ErrSkipAltProtocol", resp, err)
			}
			if tb.read.Load() || tb.closed.Load() || dials.Load() != 0 {
				t.Errorf("body read %v, closed %v; %d dials; want none", tb.read.Load(), tb.closed.Load(), dials.Load())
			}
		})
	}
}

// TestTakesOrdinaryRequests checks requests the Pool does take, including
// an unusual but valid method and a Connection header without upgrade,
// and the address each is sent to.
func TestTakesOrdinaryRequests(t *testing.T) {
	cases := []struct {
		url, method string
		header      http.Header
		addr        string
	}{
		{"http://example.test/", "GET", nil, "example.test:80"},
		{"http://example.test:8080/x", "", nil, "example.test:8080"},
		{"http://[::1]:81/", "PROPFIND", nil, "[::1]:81"},
		{"http://example.test/", "GET", http.Header{"Connection": {"keep-alive"}}, "example.test:80"},
		{"http://xn--bcher-kva.example/", "GET", nil, "xn--bcher-kva.example:80"},
	}
	for _, tc := range cases {
		var got string
		p := newTestPool(t, Config{
			Handles: func(*http.Request) bool { return true },
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				got = addr
				return nil, errors.New("stop here")
			}})
		u, _ := url.Parse(tc.url)
		h := tc.header
		if h == nil {
			h = http.Header{}
		}
		req := &http.Request{Method: tc.method, URL: u, Header: h, Host: u.Host}
		if _, err := p.RoundTrip(req); err == http.ErrSkipAltProtocol || got != tc.addr {
			t.Errorf("%s %s: %v, dialled %q; want a dial to %q", tc.method, tc.url, err, got, tc.addr)
		}
	}
}

// TestSkippedRequestsGoToNetHTTP checks, through http.Client, that the
// requests the Pool declines are sent by net/http's client (which asks
// for gzip) and those it takes are not.
func TestSkippedRequestsGoToNetHTTP(t *testing.T) {
	srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ae="+r.Header.Get("Accept-Encoding"))
	}))
	c, _ := newClient(t, Config{Handles: func(r *http.Request) bool { return r.URL.Path != "/refused" }})
	cases := []struct {
		name   string
		method string
		path   string
		header http.Header
		want   string
	}{
		{"taken", "GET", "/", nil, "ae="},
		{"refused by Handles", "GET", "/refused", nil, "ae=gzip"},
		{"Expect: 100-continue", "POST", "/", http.Header{"Expect": {"100-continue"}}, "ae=gzip"},
		{"taken POST", "POST", "/", nil, "ae="},
	}
	for _, tc := range cases {
		req, _ := http.NewRequestWithContext(testCtx(t), tc.method, srv.URL+tc.path, strings.NewReader("body"))
		for k, v := range tc.header {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, b, tc.want)
		}
	}
}

// TestTraceOrder checks the httptrace hooks of a GET on a new connection
// and on a reused one: each is called once, in order.
func TestTraceOrder(t *testing.T) {
	s := newScriptServer(t, serveOK("ok"))
	c, _ := newClient(t, Config{})
	want := []string{"GetConn", "GotConn", "WroteHeaders", "WroteRequest", "GotFirstResponseByte"}
	for i := range 2 {
		var log traceLog
		ctx := httptrace.WithClientTrace(testCtx(t), log.trace())
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL(), nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := log.take(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("request %d: hooks %v, want %v", i, got, want)
		}
		if len(log.conns) != 1 || log.conns[0].Reused != (i == 1) {
			t.Errorf("request %d: GotConn %+v", i, log.conns)
		}
	}
}

// TestTraceWroteRequestOnce checks that WroteRequest is called once for a
// request with a body, with no error.
func TestTraceWroteRequestOnce(t *testing.T) {
	s := newScriptServer(t, serveOK("ok"))
	c, _ := newClient(t, Config{})
	var mu sync.Mutex
	var calls []httptrace.WroteRequestInfo
	ctx := httptrace.WithClientTrace(testCtx(t), &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			mu.Lock()
			calls = append(calls, info)
			mu.Unlock()
		},
	})
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL(), strings.NewReader("body"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 || calls[0].Err != nil {
		t.Errorf("WroteRequest calls: %+v; want one without error", calls)
	}
}

// TestInstall checks which transports keep net/http's client, that the
// Pool takes the transport's settings, and that a second Install panics.
func TestInstall(t *testing.T) {
	dial := (&net.Dialer{}).DialContext
	for name, tr := range map[string]*http.Transport{
		"keep-alives disabled":    {DialContext: dial, DisableKeepAlives: true},
		"response header timeout": {DialContext: dial, ResponseHeaderTimeout: time.Second},
		"no DialContext":          {},
	} {
		if p := Install(tr, nil); p != nil {
			t.Errorf("%s: Install returned a Pool", name)
		}
		// Nothing was registered: registering "http" does not panic.
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: a protocol was registered: %v", name, r)
				}
			}()
			tr.RegisterProtocol("http", http.NewFileTransport(http.Dir(".")))
		}()
	}

	tr := &http.Transport{
		DialContext:            dial,
		MaxConnsPerHost:        7,
		MaxIdleConnsPerHost:    5,
		IdleConnTimeout:        time.Minute,
		MaxResponseHeaderBytes: 1234,
		ReadBufferSize:         8192,
		WriteBufferSize:        16384,
	}
	handles := func(*http.Request) bool { return true }
	p := Install(tr, handles)
	if p == nil {
		t.Fatal("Install returned nil")
	}
	defer p.Close()
	cfg := p.cfg
	if cfg.MaxConnsPerHost != 7 || cfg.MaxIdleConnsPerHost != 5 || cfg.IdleTimeout != time.Minute ||
		cfg.MaxResponseHeaderBytes != 1234 || cfg.ReadBufferSize != 8192 || cfg.WriteBufferSize != 16384 ||
		cfg.Handles == nil || cfg.Dial == nil {
		t.Errorf("settings %+v", cfg)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a second Install did not panic")
			}
		}()
		Install(tr, nil)
	}()

	d := NewPool(Config{}).cfg
	if d.MaxIdleConnsPerHost != 2 || d.MaxResponseHeaderBytes != 10<<20 || d.ReadBufferSize != 4<<10 || d.WriteBufferSize != 4<<10 || d.MaxConnsPerHost != 0 {
		t.Errorf("defaults %+v", d)
	}
}

// TestReadAfterClose checks the response body's behaviour after Close.
func TestReadAfterClose(t *testing.T) {
	s := newScriptServer(t, serveOK("hello"))
	p := newTestPool(t, Config{Dial: (&net.Dialer{}).DialContext})
	req, _ := http.NewRequestWithContext(testCtx(t), "GET", s.URL(), nil)
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n, err := resp.Body.Read(make([]byte, 10)); n != 0 || err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Read after Close: %d, %v", n, err)
	}
	// Reading to the end then closing keeps the connection.
	req, _ = http.NewRequestWithContext(testCtx(t), "GET", s.URL(), nil)
	resp, err = p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "hello" {
		t.Fatalf("%q, %v", b, err)
	}
	if n, err := resp.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read after EOF: %d, %v", n, err)
	}
	resp.Body.Close()
	if n, idle, _ := hostState(p, s.Addr()); n != 1 || idle != 1 || s.Conns() != 2 {
		t.Errorf("pool: %d connections, %d idle, server %d", n, idle, s.Conns())
	}
}

// TestResponseBeforeBodyWritten has the server answer before it has the
// whole request body. With a fake clock: if the body's end is written
// within a short wait after the response, the connection is kept;
// otherwise it is closed, and the next request dials.
func TestResponseBeforeBodyWritten(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration // before the rest of the body comes
		kept  bool
	}{
		{"body ends soon after", 10 * time.Millisecond, true},
		{"body ends late", 10 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bodies := make(chan string, 2)
				pn := newPipeNet(func(c *serverConn) {
					for {
						req, err := http.ReadRequest(c.br)
						if err != nil {
							return
						}
						if c.respond("early") != nil {
							return
						}
						b, err := io.ReadAll(req.Body)
						if err != nil {
							return
						}
						bodies <- string(b)
					}
				})
				p := NewPool(Config{Dial: pn.Dial})
				pr, pw := io.Pipe()
				req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://pipe.test/", pr)
				req.ContentLength = -1
				resp, err := p.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				fed := make(chan struct{})
				var werr error
				go func() {
					defer close(fed)
					time.Sleep(tc.delay)
					_, werr = pw.Write([]byte("late body"))
					pw.Close()
				}()
				if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "early" {
					t.Fatalf("%q, %v", b, err)
				}
				resp.Body.Close()
				<-fed
				if !tc.kept && werr != io.ErrClosedPipe {
					// The exchange ended with the response: the body it
					// gave up on is closed, and nothing more is read of it.
					t.Errorf("writing the body after the response: %v, want io.ErrClosedPipe", werr)
				}
				if tc.kept && <-bodies != "late body" {
					t.Error("the server did not get the whole body")
				}
				if got, err := poolGet(p, t.Context(), "http://pipe.test/"); err != nil || got != "early" {
					t.Fatalf("next request: %q, %v", got, err)
				}
				want := 2
				if tc.kept {
					want = 1
				}
				if pn.Dials() != want {
					t.Errorf("%d dials, want %d", pn.Dials(), want)
				}
				p.Close()
				pn.Wait()
			})
		})
	}
}

// TestRequestBodyErrors checks that a request body that fails, or is
// shorter than its ContentLength, fails the request with that error, on
// a new or a reused connection, without a retry.
func TestRequestBodyErrors(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name    string
		body    func() io.Reader
		length  int64
		wantIs  error
		wantErr string
	}{
		{"body fails", func() io.Reader { return io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(boom)) }, -1, boom, ""},
		{"body shorter than ContentLength", func() io.Reader { return strings.NewReader("abc") }, 10, nil, "ContentLength=10 with Body length 3"},
	}
	for _, tc := range cases {
		for _, reused := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/reused=%v", tc.name, reused), func(t *testing.T) {
				s := newScriptServer(t, serveOK("ok"))
				var dc dialCounter
				p := newTestPool(t, Config{Dial: dc.Dial})
				if reused {
					if _, err := poolGet(p, testCtx(t), s.URL()); err != nil {
						t.Fatal(err)
					}
				}
				req, _ := http.NewRequestWithContext(testCtx(t), "PUT", s.URL(), tc.body())
				req.ContentLength = tc.length
				var getBodies atomic.Int32
				req.GetBody = func() (io.ReadCloser, error) {
					getBodies.Add(1)
					return io.NopCloser(tc.body()), nil
				}
				req.Header.Set("Idempotency-Key", "k")
				resp, err := p.RoundTrip(req)
				if err == nil {
					resp.Body.Close()
					t.Fatal("no error")
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
					t.Errorf("error %v, want %v", err, tc.wantIs)
				}
				if tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q, want one containing %q", err, tc.wantErr)
				}
				if getBodies.Load() != 0 || dc.Dials() != 1 {
					t.Errorf("GetBody called %d times, %d dials; want no retry", getBodies.Load(), dc.Dials())
				}
				if n, idle, _ := hostState(p, s.Addr()); n != 0 || idle != 0 {
					t.Errorf("pool: %d connections, %d idle; want the failed one closed", n, idle)
				}
			})
		}
	}
}

// TestConcurrentReadAndClose closes a response body while another
// goroutine reads it: the Read ends with an error and the connection is
// closed.
func TestConcurrentReadAndClose(t *testing.T) {
	conn0Closed := make(chan struct{})
	s := newScriptServer(t, func(c *serverConn) {
		defer close(conn0Closed)
		if _, _, err := c.readRequest(); err != nil {
			return
		}
		c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab")
		c.rest()
	})
	p := newTestPool(t, Config{Dial: (&net.Dialer{}).DialContext})
	req, _ := http.NewRequestWithContext(testCtx(t), "GET", s.URL(), nil)
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		errc <- err
	}()
	resp.Body.Close()
	if err := await(t, errc, "the Read to end"); err == nil {
		t.Error("Read ended without an error")
	}
	await(t, conn0Closed, "the connection to close")
}

// TestDialFailureLetsWaiterDial checks that a failed dial passes its
// place to a request waiting past MaxConnsPerHost, which then dials.
func TestDialFailureLetsWaiterDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var calls atomic.Int32
		pn := newPipeNet(serveOK("ok"))
		refused := errors.New("refused")
		p := NewPool(Config{MaxConnsPerHost: 1, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if calls.Add(1) == 1 {
				<-gate
				return nil, refused
			}
			return pn.Dial(ctx, network, addr)
		}})
		errA := make(chan error, 1)
		go func() {
			_, err := poolGet(p, t.Context(), "http://pipe.test/")
			errA <- err
		}()
		synctest.Wait() // the first request is dialling
		resB := make(chan string, 1)
		go func() {
			got, err := poolGet(p, t.Context(), "http://pipe.test/")
			if err != nil {
				got = err.Error()
			}
			resB <- got
		}()
		synctest.Wait() // the second waits
		if n, _, waiters := hostState(p, "pipe.test:80"); n != 1 || waiters != 1 {
			t.Fatalf("pool: %d connections, %d waiters; want 1 and 1", n, waiters)
		}
		close(gate)
		if err := <-errA; err != refused {
			t.Errorf("first request: %v, want %v", err, refused)
		}
		if got := <-resB; got != "ok" {
			t.Errorf("second request: %q", got)
		}
		if n, idle, waiters := hostState(p, "pipe.test:80"); n != 1 || idle != 1 || waiters != 0 {
			t.Errorf("pool: %d connections, %d idle, %d waiters; want 1, 1, 0", n, idle, waiters)
		}
		p.Close()
		pn.Wait()
	})
}

// TestNonReplayableRequestChecksIdleConnection checks that a request that
// could not be sent again does not go to an idle connection the server
// has closed: it is sent on a new one and succeeds.
func TestNonReplayableRequestChecksIdleConnection(t *testing.T) {
	for _, method := range []string{"POST", "PUT", "PATCH"} {
		t.Run(method, func(t *testing.T) {
			closed := make(chan struct{})
			s := newScriptServer(t, func(c *serverConn) {
				if c.n > 0 {
					serveOK("second")(c)
					return
				}
				if _, _, err := c.readRequest(); err != nil {
					return
				}
				c.respond("first")
				c.Close()
				close(closed)
			})
			p := newTestPool(t, Config{Dial: (&net.Dialer{}).DialContext})
			if got, err := poolGet(p, testCtx(t), s.URL()); err != nil || got != "first" {
				t.Fatalf("first request: %q, %v", got, err)
			}
			await(t, closed, "the server to close the connection")
			req, _ := http.NewRequestWithContext(testCtx(t), method, s.URL(), onlyReader{strings.NewReader("data")})
			req.ContentLength = 4
			resp, err := p.RoundTrip(req)
			if err != nil {
				t.Fatalf("%s after the server closed the idle connection: %v", method, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "second" || s.Conns() != 2 {
				t.Errorf("%q on %d connections", b, s.Conns())
			}
		})
	}
}

// afterFuncCtx is a context with its own AfterFunc method, which the Pool
// uses in place of context.AfterFunc.
type afterFuncCtx struct {
	context.Context
	registered, stopped atomic.Int32
}

func (c *afterFuncCtx) AfterFunc(f func()) func() bool {
	c.registered.Add(1)
	stop := context.AfterFunc(c.Context, f)
	return func() bool {
		c.stopped.Add(1)
		return stop()
	}
}

// TestContextWithAfterFunc checks that a context's own AfterFunc method
// is used to follow its end: registered once per exchange and stopped
// when the exchange ends, and that its cancellation still ends a request.
func TestContextWithAfterFunc(t *testing.T) {
	gotStall := make(chan struct{}, 1)
	s := newScriptServer(t, func(c *serverConn) {
		for {
			req, _, err := c.readRequest()
			if err != nil {
				return
			}
			if req.URL.Path == "/stall" {
				gotStall <- struct{}{}
				c.rest()
				return
			}
			c.respond("ok")
		}
	})
	p := newTestPool(t, Config{Dial: (&net.Dialer{}).DialContext})
	ctx := &afterFuncCtx{Context: testCtx(t)}
	for range 2 {
		if got, err := poolGet(p, ctx, s.URL()); err != nil || got != "ok" {
			t.Fatalf("%q, %v", got, err)
		}
	}
	if ctx.registered.Load() != 2 || ctx.stopped.Load() != 2 {
		t.Errorf("AfterFunc registered %d times, stopped %d times; want 2 and 2", ctx.registered.Load(), ctx.stopped.Load())
	}
	inner, cancel := context.WithCancel(testCtx(t))
	ctx = &afterFuncCtx{Context: inner}
	errc := make(chan error, 1)
	go func() {
		_, err := poolGet(p, ctx, s.URL()+"/stall")
		errc <- err
	}()
	await(t, gotStall, "the request")
	cancel()
	if err := await(t, errc, "RoundTrip"); !errors.Is(err, context.Canceled) {
		t.Errorf("RoundTrip returned %v, want context.Canceled", err)
	}
	if ctx.registered.Load() != 1 {
		t.Errorf("AfterFunc registered %d times, want 1", ctx.registered.Load())
	}
}
