package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestHostileResponses scripts servers that answer a GET with broken or
// oversized responses. Each must fail with the expected error, at
// RoundTrip or at the body's Read, without a panic, a hang or a leaked
// goroutine; the connection is not used again, and the next request
// succeeds on a new one.
func TestHostileResponses(t *testing.T) {
	bigHeader := "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("x", 8000) + "\r\nContent-Length: 0\r\n\r\n"
	var manyLines strings.Builder
	manyLines.WriteString("HTTP/1.1 200 OK\r\n")
	for i := range 200 {
		fmt.Fprintf(&manyLines, "X-Line-%d: %s\r\n", i, strings.Repeat("y", 40))
	}
	manyLines.WriteString("Content-Length: 0\r\n\r\n")
	bigHints := strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: <"+strings.Repeat("z", 1000)+">\r\n\r\n", 5) + okResponse("x")

	const (
		atRoundTrip = "RoundTrip"
		atRead      = "Read"
	)
	cases := []struct {
		name       string
		maxHeader  int64
		response   string
		closeAfter bool // the server ends its side after the response
		failAt     string
		wantErr    string // a part of the error's text
		wantIs     error
	}{
		{name: "header larger than the limit", maxHeader: 4096, response: bigHeader, failAt: atRoundTrip, wantErr: "server response headers exceeded 4096 bytes"},
		{name: "many header lines past the limit", maxHeader: 4096, response: manyLines.String(), failAt: atRoundTrip, wantErr: "server response headers exceeded 4096 bytes"},
		{name: "informational headers past the limit", maxHeader: 4096, response: bigHints, failAt: atRoundTrip, wantErr: "server response headers exceeded 4096 bytes"},
		{name: "endless header", maxHeader: 4096, response: "HTTP/1.1 200 OK\r\nX-A: " + strings.Repeat("a", 100_000), failAt: atRoundTrip, wantErr: "server response headers exceeded"},
		{name: "malformed status code", response: "HTTP/1.1 abc OK\r\n\r\n", failAt: atRoundTrip, wantErr: "malformed"},
		{name: "status code of two digits", response: "HTTP/1.1 99 OK\r\n\r\n", failAt: atRoundTrip, wantErr: "malformed"},
		{name: "status code of four digits", response: "HTTP/1.1 2000 OK\r\n\r\n", failAt: atRoundTrip, wantErr: "malformed"},
		{name: "malformed version", response: "HTTP/9.x 200 OK\r\n\r\n", failAt: atRoundTrip, wantErr: "malformed"},
		{name: "not HTTP at all", response: "SSH-2.0-OpenSSH_9.6\r\n\r\n", failAt: atRoundTrip, wantErr: "malformed"},
		{name: "status line without status", response: "HTTP/1.1\r\n\r\n", failAt: atRoundTrip, wantErr: "malformed"},
		{name: "malformed header line", response: "HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n", failAt: atRoundTrip, wantErr: "malformed MIME header"},
		{name: "bad Content-Length", response: "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", failAt: atRoundTrip, wantErr: "bad Content-Length"},
		{name: "negative Content-Length", response: "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", failAt: atRoundTrip, wantErr: "bad Content-Length"},
		{name: "conflicting Content-Length", response: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", failAt: atRoundTrip, wantErr: "multiple Content-Length"},
		{name: "unsupported transfer coding", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx", failAt: atRoundTrip, wantErr: "unsupported transfer encoding"},
		{name: "bad chunk size", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", failAt: atRead, wantErr: "invalid byte in chunk length"},
		{name: "chunk without its CRLF", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", failAt: atRead, wantErr: "malformed chunked encoding"},
		{name: "chunk size overflow", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", failAt: atRead, wantErr: "chunk length too large"},
		{name: "truncated chunked body", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", closeAfter: true, failAt: atRead, wantIs: io.ErrUnexpectedEOF},
		{name: "body shorter than Content-Length", response: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", closeAfter: true, failAt: atRead, wantIs: io.ErrUnexpectedEOF},
		{name: "closed inside the header", response: "HTTP/1.1 200 OK\r\nX-A: 1\r\n", closeAfter: true, failAt: atRoundTrip, wantIs: io.ErrUnexpectedEOF},
		{name: "closed without an answer", response: "", closeAfter: true, failAt: atRoundTrip, wantIs: io.EOF},
		{name: "unexpected 101", response: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nraw bytes", failAt: atRoundTrip, wantErr: "101 Switching Protocols"},
		{name: "too many 1xx", response: strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 6) + okResponse("x"), failAt: atRoundTrip, wantErr: "too many 1xx"},
		{name: "endless 1xx", response: strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 10_000), failAt: atRoundTrip, wantErr: "too many 1xx"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			s, conn0Requests, conn0Closed := firstConnServer(t, tc.response, tc.closeAfter, "", "next")
			p := newTestPool(t, Config{Dial: (&net.Dialer{}).DialContext, MaxResponseHeaderBytes: tc.maxHeader})
			ctx := testCtx(t)
			req, _ := http.NewRequestWithContext(ctx, "GET", s.URL(), nil)
			resp, err := p.RoundTrip(req)
			if tc.failAt == atRead {
				if err != nil {
					t.Fatalf("RoundTrip: %v; want the error at Read", err)
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			} else if err == nil {
				resp.Body.Close()
				t.Fatalf("RoundTrip returned status %d; want an error", resp.StatusCode)
			}
			if ctx.Err() != nil {
				t.Fatalf("the client hung: %v", err)
			}
			switch {
			case err == nil:
				t.Fatal("no error")
			case tc.wantIs != nil && !errors.Is(err, tc.wantIs):
				t.Errorf("error %v, want %v", err, tc.wantIs)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q, want one containing %q", err, tc.wantErr)
			}
			await(t, conn0Closed, "the client to close the connection")
			if got, err := poolGet(p, testCtx(t), s.URL()); err != nil || got != "next" {
				t.Errorf("next request: %q, %v", got, err)
			}
			if s.Conns() != 2 || conn0Requests.Load() != 1 {
				t.Errorf("%d connections, %d requests on the first; want the first not reused", s.Conns(), conn0Requests.Load())
			}
		})
	}
}

// TestHeaderLimitBoundary checks MaxResponseHeaderBytes exactly: a header
// section of that many bytes is read, one byte more is refused.
func TestHeaderLimitBoundary(t *testing.T) {
	const limit = 4096
	head := func(size int) string {
		const start, end = "HTTP/1.1 200 OK\r\nX-Pad: ", "\r\nContent-Length: 2\r\n\r\n"
		return start + strings.Repeat("p", size-len(start)-len(end)) + end
	}
	for _, tc := range []struct {
		size int
		ok   bool
	}{{limit, true}, {limit + 1, false}} {
		s := newScriptServer(t, func(c *serverConn) {
			if _, _, err := c.readRequest(); err != nil {
				return
			}
			c.write(head(tc.size) + "ok")
			c.rest()
		})
		p := newTestPool(t, Config{Dial: (&net.Dialer{}).DialContext, MaxResponseHeaderBytes: limit})
		got, err := poolGet(p, testCtx(t), s.URL())
		if tc.ok && (err != nil || got != "ok") {
			t.Errorf("header of %d bytes: %q, %v; want it read", tc.size, got, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "server response headers exceeded")) {
			t.Errorf("header of %d bytes: %q, %v; want the limit's error", tc.size, got, err)
		}
	}
}

// TestGarbageAfterResponseIsNotReused scripts a server that sends bytes
// nobody asked for right after a complete response (junk, or a whole
// second response): the connection must not carry another request, so
// the next one goes to a new connection and gets that connection's
// answer, never the unasked-for bytes.
func TestGarbageAfterResponseIsNotReused(t *testing.T) {
	for _, extra := range []struct{ name, bytes string }{
		{"junk", "garbage\r\n\r\n"},
		{"second response", okResponse("stale")},
	} {
		for _, method := range []string{"GET", "POST"} {
			t.Run(extra.name+"/"+method, func(t *testing.T) {
				checkGoroutines(t)
				var conn0Requests atomic.Int32
				s := newScriptServer(t, func(c *serverConn) {
					if c.n > 0 {
						serveOK("fresh")(c)
						return
					}
					if _, _, err := c.readRequest(); err != nil {
						return
					}
					conn0Requests.Add(1)
					// One write, so that the extra bytes arrive with the
					// response.
					c.write(okResponse("first") + extra.bytes)
					for {
						if _, _, err := c.readRequest(); err != nil {
							return
						}
						conn0Requests.Add(1)
						c.respond("fresh")
					}
				})
				p := newTestPool(t, Config{Dial: (&net.Dialer{}).DialContext})
				if got, err := poolGet(p, testCtx(t), s.URL()); err != nil || got != "first" {
					t.Fatalf("first request: %q, %v", got, err)
				}
				req, _ := http.NewRequestWithContext(testCtx(t), method, s.URL(), strings.NewReader("b"))
				if method == "GET" {
					req.Body, req.ContentLength, req.GetBody = nil, 0, nil
				}
				resp, err := p.RoundTrip(req)
				if err != nil {
					t.Fatalf("second request: %v", err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != "fresh" {
					t.Errorf("second request got %q, %v; want the new connection's answer %q", b, err, "fresh")
				}
				if n := conn0Requests.Load(); n != 1 {
					t.Errorf("the connection that sent unasked-for bytes carried %d requests; want 1", n)
				}
			})
		}
	}
}

// FuzzResponses feeds arbitrary bytes as a server's answer to a GET over
// an in-memory connection. The client must return a response or an
// error, never panic or hang, and never send another request on a
// connection whose exchange failed.
func FuzzResponses(f *testing.F) {
	for _, seed := range []string{
		okResponse("hello"),
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n0\r\nX-T: v\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nclose-delimited",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n" + okResponse("x"),
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
		okResponse("a") + "garbage",
		okResponse("a") + okResponse("b"),
		"garbage\r\n\r\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(fuzzResponse)
}

// fuzzResponse is one run of FuzzResponses: a GET answered with data,
// then a second GET.
func fuzzResponse(t *testing.T, data []byte) {
	const url = "http://fuzz.test/"
	var (
		mu    sync.Mutex
		conns []*writeCounter
		wg    sync.WaitGroup
	)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		cc, sc := net.Pipe()
		mu.Lock()
		n := len(conns)
		wc := &writeCounter{Conn: cc}
		conns = append(conns, wc)
		mu.Unlock()
		answer := data
		if n > 0 {
			answer = []byte(okResponse("ok"))
		}
		wg.Go(func() { fuzzServe(sc, answer) })
		return wc, nil
	}
	p := NewPool(Config{Dial: dial, MaxResponseHeaderBytes: 4096})
	defer wg.Wait()
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	failed := true
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := p.RoundTrip(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		failed = err != nil
	}
	if ctx.Err() != nil {
		t.Fatalf("the client hung on %q", data)
	}
	mu.Lock()
	first := conns[0]
	mu.Unlock()
	writes := first.writes.Load()

	// A second request: after a failure it must not go to the first
	// connection.
	req, _ = http.NewRequestWithContext(ctx, "GET", url, nil)
	if resp, err := p.RoundTrip(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if ctx.Err() != nil {
		t.Fatalf("the second request hung after %q", data)
	}
	if failed && first.writes.Load() != writes {
		t.Fatalf("a request was written on a connection whose exchange failed (%v), after %q", err, data)
	}
}

// fuzzServe reads one request, then writes answer and closes, while
// still reading whatever the client sends so that its writes never block.
func fuzzServe(c net.Conn, answer []byte) {
	defer c.Close()
	br := bufio.NewReader(c)
	if _, err := http.ReadRequest(br); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(io.Discard, br)
	}()
	c.Write(answer)
	c.Close()
	<-done
}
