package pipeline

// Scenarios ported from OkHttp's CacheTest.kt (square/okhttp, Apache-2.0;
// names kept in the comments), run through Followup, Bridge, Cache and
// Dispatch against a real loopback server.

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/urlcache"
)

// reply is one scripted response.
type reply struct {
	status  int
	body    string
	headers []string // "Name: value"; "Date:" alone suppresses the Date header
	raw     string   // written as is on the hijacked connection, which is then closed
	f       func(w http.ResponseWriter, r *http.Request)
}

// origin is a server that answers with scripted replies in order and
// records the requests it gets.
type origin struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	replies []reply
	reqs    []*http.Request
}

func newOrigin(t *testing.T) *origin {
	o := &origin{t: t}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	rec := r.Clone(context.Background())
	rec.Body = nil
	o.reqs = append(o.reqs, rec)
	if len(o.replies) == 0 {
		o.mu.Unlock()
		o.t.Errorf("unexpected request %d: %s %s", len(o.reqs), r.Method, r.URL)
		http.Error(w, "unexpected", 500)
		return
	}
	rp := o.replies[0]
	o.replies = o.replies[1:]
	o.mu.Unlock()
	io.Copy(io.Discard, r.Body)
	switch {
	case rp.f != nil:
		rp.f(w, r)
	case rp.raw != "":
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			o.t.Error(err)
			return
		}
		buf.WriteString(rp.raw)
		buf.Flush()
		conn.Close()
	default:
		for _, l := range rp.headers {
			k, v, _ := strings.Cut(l, ":")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if k == "Date" && v == "" {
				w.Header()["Date"] = nil
				continue
			}
			w.Header().Add(k, v)
		}
		status := rp.status
		if status == 0 {
			status = 200
		}
		w.WriteHeader(status)
		io.WriteString(w, rp.body)
	}
}

func (o *origin) enqueue(rs ...reply) {
	o.mu.Lock()
	o.replies = append(o.replies, rs...)
	o.mu.Unlock()
}

func (o *origin) url(path string) string { return o.srv.URL + path }

// count returns the number of requests the server got.
func (o *origin) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.reqs)
}

// request returns the i-th request the server got (from 0).
func (o *origin) request(i int) *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	if i >= len(o.reqs) {
		o.t.Fatalf("request %d: the server got only %d", i, len(o.reqs))
	}
	return o.reqs[i]
}

// testClock is the stage's time, starting at the real time (which the
// server's Date headers use) and moved by tests.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testHooks is a minimal Hooks; willCache, when set, makes it a CacheHooks.
type testHooks struct{}

func (testHooks) WillRedirect(_ context.Context, _ *http.Response, next *http.Request) (*http.Request, error) {
	return next, nil
}
func (testHooks) NewBodyStream(context.Context) (io.ReadCloser, error) { return nil, nil }
func (testHooks) BodySent(n, total, expected int64)                    {}
func (testHooks) WaitingForConnectivity()                              {}
func (testHooks) Received(n int64)                                     {}

type cacheHooks struct {
	testHooks
	asks  bool // AsksWillCacheResponse: asked with the whole body
	mu    sync.Mutex
	calls []*urlcache.CachedResponse
	f     func(*urlcache.CachedResponse) *urlcache.CachedResponse
}

func (h *cacheHooks) AsksWillCacheResponse() bool { return h.asks }

func (h *cacheHooks) callCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.calls)
}

func (h *cacheHooks) WillCacheResponse(_ context.Context, p *urlcache.CachedResponse) (*urlcache.CachedResponse, error) {
	h.mu.Lock()
	h.calls = append(h.calls, p)
	h.mu.Unlock()
	if h.f != nil {
		return h.f(p), nil
	}
	return p, nil
}

var _ CacheHooks = (*cacheHooks)(nil)

// env is a chain with a cache in front of an origin.
type env struct {
	t      *testing.T
	o      *origin
	uc     *urlcache.Cache
	clk    *testClock
	chain  Chain
	hooks  Hooks
	policy int
	last   *Call
}

func newEnv(t *testing.T) *env {
	uc, err := urlcache.New(urlcache.Options{
		MemoryCapacity: 1 << 20,
		DiskCapacity:   10 << 20,
		Directory:      filepath.Join(t.TempDir(), "cache"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	return newEnvWith(t, uc)
}

func newEnvWith(t *testing.T, uc *urlcache.Cache) *env {
	e := &env{t: t, o: newOrigin(t), uc: uc, clk: &testClock{t: time.Now()}, hooks: testHooks{}}
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	e.chain = Chain{Followup{}, &Bridge{}, &Cache{Cache: uc, Now: e.clk.Now}, &Dispatch{Transport: tr}}
	return e
}

// date formats the stage's now plus d as an HTTP date.
func (e *env) date(d time.Duration) string { return e.clk.Now().Add(d).UTC().Format(http.TimeFormat) }

// do sends a request through the chain.
func (e *env) do(method, path string, headers ...string) (*http.Response, error) {
	req, err := http.NewRequest(method, e.o.url(path), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if method == "POST" || method == "PUT" {
		req, _ = http.NewRequest(method, e.o.url(path), strings.NewReader("foo"))
	}
	for _, l := range headers {
		k, v, _ := strings.Cut(l, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	call := &Call{Hooks: e.hooks, Metrics: true, CachePolicy: e.policy}
	e.last = call
	return e.chain.Do(context.Background(), call, req)
}

// get sends a request and returns its response with the whole body read.
func (e *env) get(path string, headers ...string) (*http.Response, string) {
	e.t.Helper()
	return e.send("GET", path, headers...)
}

func (e *env) send(method, path string, headers ...string) (*http.Response, string) {
	e.t.Helper()
	resp, err := e.do(method, path, headers...)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		e.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp, string(b)
}

func (e *env) body(path string, headers ...string) string {
	e.t.Helper()
	_, b := e.get(path, headers...)
	return b
}

func (e *env) wantBody(path, want string, headers ...string) {
	e.t.Helper()
	if got := e.body(path, headers...); got != want {
		e.t.Errorf("GET %s %q: body %q, want %q", path, headers, got, want)
	}
}

func (e *env) wantCount(want int) {
	e.t.Helper()
	if got := e.o.count(); got != want {
		e.t.Errorf("server got %d requests, want %d", got, want)
	}
}

// stored looks the path up in the cache directly, as a GET from the Bridge.
func (e *env) stored(path string) *urlcache.CachedResponse {
	req, _ := http.NewRequest("GET", e.o.url(path), nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	return e.uc.CachedResponse(req)
}

// assertFullyCached: the second GET is answered from the cache.
func (e *env) assertFullyCached(headers ...string) {
	e.t.Helper()
	e.o.enqueue(reply{body: "A", headers: headers}, reply{body: "B", headers: headers})
	e.wantBody("/", "A")
	e.wantBody("/", "A")
	e.wantCount(1)
}

// assertNotCached: the second GET goes to the server unconditionally.
func (e *env) assertNotCached(headers ...string) {
	e.t.Helper()
	e.o.enqueue(reply{body: "A", headers: headers}, reply{body: "B"})
	e.wantBody("/", "A")
	e.wantBody("/", "B")
	if n := e.o.count(); n == 2 {
		r := e.o.request(1)
		if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
			e.t.Errorf("the second request was conditional: %v", r.Header)
		}
	}
}

// assertConditionallyCached: a 304 serves the stored response; a 200
// replaces it. It returns the conditional request.
func (e *env) assertConditionallyCached(headers ...string) *http.Request {
	e.t.Helper()
	e.o.enqueue(
		reply{status: 200, body: "A", headers: headers},
		reply{status: 304},
		reply{status: 200, body: "B", headers: headers},
		reply{status: 200, body: "C"},
	)
	resp, body := e.get("/valid")
	if body != "A" || resp.StatusCode != 200 {
		e.t.Errorf("first: %d %q", resp.StatusCode, body)
	}
	resp, body = e.get("/valid")
	if body != "A" || resp.StatusCode != 200 {
		e.t.Errorf("after a 304: %d %q, want the stored 200 A", resp.StatusCode, body)
	}
	e.wantBody("/invalid", "B")
	e.wantBody("/invalid", "C")
	e.wantCount(4)
	return e.o.request(1)
}

func TestCacheResponseCachingByResponseCode(t *testing.T) {
	t.Parallel()
	// responseCachingByResponseCode, with heuristic freshness only (with
	// explicit freshness RFC 9111 lets any final status but 206 and 304 be
	// stored; see urlcache.TestStorable).
	cacheable := map[int]bool{200: true, 203: true, 204: true, 300: true, 301: true, 308: true, 404: true, 405: true, 410: true, 414: true, 501: true}
	e := newEnv(t)
	for _, code := range []int{200, 201, 202, 203, 204, 205, 206, 207, 300, 301, 302, 303, 304, 305, 306, 307, 308,
		400, 401, 402, 403, 404, 405, 406, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 500, 501, 502, 503, 504, 505, 506} {
		path := fmt.Sprintf("/%d", code)
		body := "ABCDE"
		if code == 204 || code == 205 || code == 304 {
			body = ""
		}
		hs := []string{"Last-Modified: " + e.date(-time.Hour), "WWW-Authenticate: challenge"}
		if code == 206 {
			hs = append(hs, "Content-Range: bytes 0-4/10")
		}
		e.o.enqueue(reply{status: code, body: body, headers: hs})
		resp, err := e.do("GET", path)
		if err != nil {
			t.Fatalf("%d: %v", code, err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := e.stored(path) != nil; got != cacheable[code] {
			t.Errorf("status %d: stored = %v, want %v", code, got, cacheable[code])
		}
	}
}

func TestCacheWith1xxInformationalResponse(t *testing.T) {
	t.Parallel()
	// responseCachingWith1xxInformationalResponse
	for _, code := range []int{102, 103} {
		e := newEnv(t)
		e.o.enqueue(reply{f: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(code)
			w.Header().Set("Cache-Control", "max-age=60")
			w.WriteHeader(200)
			io.WriteString(w, "ABCDE")
		}})
		e.wantBody("/", "ABCDE")
		e.wantBody("/", "ABCDE")
		e.wantCount(1)
	}
}

func TestCacheResponseCachingAndBodyReadInPieces(t *testing.T) {
	t.Parallel()
	// responseCachingAndInputStreamSkipWith{FixedLength,ChunkedEncoding,NoLengthHeaders}
	const text = "I love puppies but hate spiders"
	for _, kind := range []string{"fixed", "chunked", "eof"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t)
			head := "HTTP/1.1 200 Fantastic\r\nLast-Modified: " + e.date(-time.Hour) + "\r\nExpires: " + e.date(time.Hour) + "\r\n"
			switch kind {
			case "fixed":
				e.o.enqueue(reply{raw: head + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(text), text)})
			case "chunked":
				e.o.enqueue(reply{raw: head + "Transfer-Encoding: chunked\r\n\r\n" + chunked(text, 1)})
			case "eof":
				e.o.enqueue(reply{raw: head + "Connection: close\r\n\r\n" + text})
			}
			resp, err := e.do("GET", "/")
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			buf := make([]byte, 7)
			for {
				n, err := resp.Body.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			resp.Body.Close()
			if string(got) != text {
				t.Fatalf("body %q", got)
			}
			resp2, body := e.get("/")
			if body != text || resp2.StatusCode != 200 || resp2.Status != "200 Fantastic" {
				t.Errorf("from the cache: %q %q", resp2.Status, body)
			}
			e.wantCount(1)
		})
	}
}

// chunked encodes s in chunks of n bytes, with the final chunk.
func chunked(s string, n int) string {
	var b strings.Builder
	for len(s) > 0 {
		c := s[:min(n, len(s))]
		s = s[len(c):]
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(c), c)
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

func TestCacheServerDisconnectsPrematurely(t *testing.T) {
	t.Parallel()
	// serverDisconnectsPrematurelyWith{ContentLengthHeader,ChunkedEncoding}
	for _, kind := range []string{"fixed", "chunked"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t)
			head := "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
			switch kind {
			case "fixed":
				e.o.enqueue(reply{raw: head + "Content-Length: 32\r\n\r\nABCDE\nFGHIJKLMNOP"})
			case "chunked":
				e.o.enqueue(reply{raw: head + "Transfer-Encoding: chunked\r\n\r\n10\r\nABCDE\nFGHIJKLMNO\r\n"})
			}
			e.o.enqueue(reply{body: "Request #2"})
			resp, err := e.do("GET", "/")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(resp.Body); err == nil {
				t.Error("reading a truncated body succeeded")
			}
			resp.Body.Close()
			if e.stored("/") != nil {
				t.Error("a truncated body was stored")
			}
			e.wantBody("/", "Request #2")
			e.wantCount(2)
		})
	}
}

func TestCacheClientPrematureDisconnect(t *testing.T) {
	t.Parallel()
	// clientPrematureDisconnectWith{ContentLengthHeader,ChunkedEncoding,NoLengthHeaders}
	text := "ABCDE\nFGHIJKLMNOPQRSTUVWXYZ" + strings.Repeat(".", 2000)
	for _, kind := range []string{"fixed", "chunked", "eof"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t)
			head := "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
			switch kind {
			case "fixed":
				e.o.enqueue(reply{raw: head + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(text), text)})
			case "chunked":
				e.o.enqueue(reply{raw: head + "Transfer-Encoding: chunked\r\n\r\n" + chunked(text, 1024)})
			case "eof":
				e.o.enqueue(reply{raw: head + "Connection: close\r\n\r\n" + text})
			}
			e.o.enqueue(reply{body: "Request #2"})
			resp, err := e.do("GET", "/")
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5)
			io.ReadFull(resp.Body, buf)
			resp.Body.Close()
			if string(buf) != "ABCDE" {
				t.Fatalf("read %q", buf)
			}
			if e.stored("/") != nil {
				t.Error("a body the client stopped reading was stored")
			}
			e.wantBody("/", "Request #2")
		})
	}
}

func TestCacheRedirects(t *testing.T) {
	t.Parallel()
	t.Run("responseCachingAndRedirects", func(t *testing.T) {
		e := newEnv(t)
		fresh := []string{"Last-Modified: " + e.date(-time.Hour), "Expires: " + e.date(time.Hour)}
		e.o.enqueue(
			reply{status: 301, headers: append([]string{"Location: /foo"}, fresh...)},
			reply{body: "ABC", headers: fresh},
			reply{body: "DEF"},
		)
		e.wantBody("/", "ABC")
		e.wantBody("/", "ABC")
		e.wantCount(2)
	})
	t.Run("redirectToCachedResult", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(
			reply{body: "ABC", headers: []string{"Cache-Control: max-age=60"}},
			reply{status: 301, headers: []string{"Location: /foo"}},
			reply{body: "DEF"},
		)
		e.wantBody("/foo", "ABC")
		e.wantBody("/bar", "ABC")
		e.wantBody("/baz", "DEF")
		for i, want := range []string{"/foo", "/bar", "/baz"} {
			if got := e.o.request(i).URL.Path; got != want {
				t.Errorf("request %d: %s, want %s", i, got, want)
			}
		}
	})
	for _, code := range []int{302, 307} {
		for _, h := range []string{"Expires: " + time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), "Cache-Control: max-age=60"} {
			t.Run(fmt.Sprintf("%d cached with %s", code, h[:strings.Index(h, ":")]), func(t *testing.T) {
				// foundCachedWith{Expires,CacheControl}Header, temporaryRedirectCachedWith...
				e := newEnv(t)
				e.o.enqueue(
					reply{status: code, headers: []string{h, "Location: /a"}},
					reply{body: "a", headers: []string{h}},
					reply{body: "b"}, reply{body: "c"},
				)
				e.wantBody("/", "a")
				e.wantBody("/", "a")
				e.wantCount(2)
			})
		}
		t.Run(fmt.Sprintf("%d not cached without headers", code), func(t *testing.T) {
			e := newEnv(t)
			e.o.enqueue(reply{status: code, headers: []string{"Location: /a"}}, reply{body: "a"}, reply{body: "b"})
			e.wantBody("/", "a")
			e.wantBody("/", "b")
		})
	}
	t.Run("cachedRedirect", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(
			reply{status: 301, headers: []string{"Cache-Control: max-age=60", "Location: /bar"}},
			reply{body: "ABC"}, reply{body: "ABC"},
		)
		e.wantBody("/", "ABC")
		e.wantBody("/", "ABC")
		e.wantCount(3)
		if got := e.o.request(2).URL.Path; got != "/bar" {
			t.Errorf("the cached redirect was not followed: %s", got)
		}
	})
}

func TestCacheFreshness(t *testing.T) {
	t.Parallel()
	type check func(e *env)
	full := func(hs ...func(e *env) string) check {
		return func(e *env) { e.assertFullyCached(headers(e, hs)...) }
	}
	not := func(hs ...func(e *env) string) check {
		return func(e *env) { e.assertNotCached(headers(e, hs)...) }
	}
	cond := func(wantIMS bool, hs ...func(e *env) string) check {
		return func(e *env) {
			lm := e.date(-2 * time.Hour)
			all := append([]string{}, headers(e, hs)...)
			for i, h := range all {
				if strings.HasPrefix(h, "Last-Modified:") {
					lm = strings.TrimSpace(strings.TrimPrefix(h, "Last-Modified:"))
					all[i] = "Last-Modified: " + lm
				}
			}
			r := e.assertConditionallyCached(all...)
			if wantIMS && r.Header.Get("If-Modified-Since") != lm {
				e.t.Errorf("If-Modified-Since = %q, want %q", r.Header.Get("If-Modified-Since"), lm)
			}
		}
	}
	lastModified := func(d time.Duration) func(e *env) string {
		return func(e *env) string { return "Last-Modified: " + e.date(d) }
	}
	dateH := func(d time.Duration) func(e *env) string { return func(e *env) string { return "Date: " + e.date(d) } }
	expires := func(d time.Duration) func(e *env) string {
		return func(e *env) string { return "Expires: " + e.date(d) }
	}
	lit := func(s string) func(e *env) string { return func(*env) string { return s } }

	for _, tc := range []struct {
		name string
		run  check
	}{
		{"defaultExpirationDateFullyCachedForLessThan24Hours", full(lastModified(-105*time.Second), dateH(-5*time.Second))},
		{"defaultExpirationDateConditionallyCached", cond(true, lastModified(-115*time.Second), dateH(-15*time.Second))},
		{"defaultExpirationDateFullyCachedForMoreThan24Hours", full(lastModified(-105*24*time.Hour), dateH(-5*24*time.Hour))},
		{"expirationDateInThePastWithLastModifiedHeader", cond(true, lastModified(-2*time.Hour), expires(-time.Hour))},
		{"expirationDateInThePastWithNoLastModifiedHeader", not(expires(-time.Hour))},
		{"expirationDateInTheFuture", full(expires(time.Hour))},
		{"maxAgePreferredWithMaxAgeAndExpires", full(dateH(0), expires(-time.Hour), lit("Cache-Control: max-age=60"))},
		{"maxAgeInThePastWithDateAndLastModifiedHeaders", cond(true, dateH(-120*time.Second), lastModified(-2*time.Hour), lit("Cache-Control: max-age=60"))},
		{"maxAgeInThePastWithDateHeaderButNoLastModifiedHeader", not(dateH(-120*time.Second), lit("Cache-Control: max-age=60"))},
		{"maxAgeInTheFutureWithDateHeader", full(dateH(0), lit("Cache-Control: max-age=60"))},
		{"maxAgeInTheFutureWithNoDateHeader", full(lit("Date:"), lit("Cache-Control: max-age=60"))},
		{"maxAgeWithLastModifiedButNoServedDate", full(lit("Date:"), lastModified(-120*time.Second), lit("Cache-Control: max-age=60"))},
		{"maxAgeInTheFutureWithDateAndLastModifiedHeaders", full(lastModified(-120*time.Second), dateH(0), lit("Cache-Control: max-age=60"))},
		{"maxAgePreferredOverLowerSharedMaxAge", full(dateH(-2*time.Minute), lit("Cache-Control: s-maxage=60"), lit("Cache-Control: max-age=180"))},
		{"maxAgePreferredOverHigherMaxAge", not(dateH(-2*time.Minute), lit("Cache-Control: s-maxage=180"), lit("Cache-Control: max-age=60"))},
		{"expiresDateBeforeModifiedDate", cond(false, lastModified(-time.Hour), expires(-2*time.Hour))},
		{"etagAndExpirationDateInTheFuture", full(lit("ETag: v1"), lastModified(-2*time.Hour), expires(time.Hour))},
		{"cacheControlNoCache", not(lit("Cache-Control: no-cache"))},
		{"cacheControlNoCacheAndExpirationDateInTheFuture", cond(true, lastModified(-2*time.Hour), expires(time.Hour), lit("Cache-Control: no-cache"))},
		{"pragmaNoCache", not(lit("Pragma: no-cache"))},
		{"pragmaNoCacheAndExpirationDateInTheFuture", cond(true, lastModified(-2*time.Hour), expires(time.Hour), lit("Pragma: no-cache"))},
		{"cacheControlNoStore", not(lit("Cache-Control: no-store"))},
		{"cacheControlNoStoreAndExpirationDateInTheFuture", not(lastModified(-2*time.Hour), expires(time.Hour), lit("Cache-Control: no-store"))},
		{"immutableIsCached", full(lit("Cache-Control: immutable, max-age=10"))},
		{"immutableIsNotCachedBeyondFreshnessLifetime", cond(true, lit("Cache-Control: immutable"), lastModified(-115*time.Second), dateH(-15*time.Second))},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(newEnv(t)) })
	}
}

func headers(e *env, hs []func(e *env) string) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h(e)
	}
	return out
}

func TestCacheNoDefaultExpirationForUrlsWithQueryString(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.o.enqueue(reply{body: "A", headers: []string{"Last-Modified: " + e.date(-105*time.Second), "Date: " + e.date(-5*time.Second)}}, reply{body: "B"})
	e.wantBody("/?foo=bar", "A")
	e.wantBody("/?foo=bar", "B")
}

func TestCacheExpiresWithTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60", "ETag: \"v1\""}}, reply{status: 304})
	e.wantBody("/", "A")
	e.clk.Advance(30 * time.Second)
	resp, body := e.get("/")
	if body != "A" || resp.Header.Get("Age") != "30" {
		t.Errorf("at 30 s: %q, Age %q; want A, Age 30", body, resp.Header.Get("Age"))
	}
	e.wantCount(1)
	e.clk.Advance(31 * time.Second)
	e.wantBody("/", "A")
	e.wantCount(2)
	if got := e.o.request(1).Header.Get("If-None-Match"); got != `"v1"` {
		t.Errorf("If-None-Match = %q", got)
	}
}

func TestCacheImmutable(t *testing.T) {
	t.Parallel()
	// immutableIsCachedAfterMultipleCalls
	e := newEnv(t)
	e.o.enqueue(reply{body: "A"}, reply{body: "B", headers: []string{"Cache-Control: immutable, max-age=10"}}, reply{body: "C"})
	e.wantBody("/", "A")
	e.wantBody("/", "B")
	e.wantBody("/", "B")
}

func TestCacheRequestMethods(t *testing.T) {
	t.Parallel()
	// requestMethod{Options,Get,Head,Post,Put,Delete,Trace}IsCached/NotCached
	for _, tc := range []struct {
		method string
		cached bool
	}{
		{"GET", true}, {"HEAD", false}, {"POST", false}, {"PUT", false}, {"DELETE", false}, {"TRACE", false}, {"OPTIONS", false},
	} {
		t.Run(tc.method, func(t *testing.T) {
			e := newEnv(t)
			e.o.enqueue(
				reply{headers: []string{"Expires: " + e.date(time.Hour), "X-Response-ID: 1"}},
				reply{headers: []string{"X-Response-ID: 2"}},
			)
			r1, _ := e.send(tc.method, "/")
			if r1.Header.Get("X-Response-ID") != "1" {
				t.Fatalf("first response %v", r1.Header)
			}
			r2, _ := e.get("/")
			want := "2"
			if tc.cached {
				want = "1"
			}
			if got := r2.Header.Get("X-Response-ID"); got != want {
				t.Errorf("second response is %s, want %s", got, want)
			}
		})
	}
}

func TestCacheHeadFromStoredGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.o.enqueue(reply{body: "ABCDE", headers: []string{"Cache-Control: max-age=60", "X-Id: 1"}})
	e.wantBody("/", "ABCDE")
	resp, body := e.send("HEAD", "/")
	if body != "" || resp.Header.Get("X-Id") != "1" || resp.ContentLength != 5 {
		t.Errorf("HEAD: %q %v length %d; want the stored headers, no body, length 5", body, resp.Header, resp.ContentLength)
	}
	e.wantCount(1)
}

func TestCacheHeadUpdatesStoredResponse(t *testing.T) {
	t.Parallel()
	stale := []string{"ETag: \"v1\"", "Cache-Control: max-age=0", "X-V: 1"}
	for _, tc := range []struct {
		name    string
		stored  []string
		head    reply
		updated bool // the stored response is updated (else removed)
	}{
		{"same ETag", stale, reply{headers: []string{"ETag: \"v1\"", "Cache-Control: max-age=600", "X-V: 2"}}, true},
		{"same ETag and Content-Length", stale, reply{headers: []string{"ETag: \"v1\"", "Cache-Control: max-age=600", "X-V: 2", "Content-Length: 1"}}, true},
		{"no validators on either", []string{"Cache-Control: max-age=1", "X-V: 1"}, reply{headers: []string{"Cache-Control: max-age=600", "X-V: 2"}}, true},
		{"other ETag", stale, reply{headers: []string{"ETag: \"v2\"", "Cache-Control: max-age=600", "X-V: 2"}}, false},
		{"other Content-Length", stale, reply{headers: []string{"ETag: \"v1\"", "Cache-Control: max-age=600", "X-V: 2", "Content-Length: 7"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.o.enqueue(reply{body: "A", headers: tc.stored}, tc.head, reply{body: "B", headers: []string{"Cache-Control: max-age=600"}})
			e.wantBody("/", "A")
			e.clk.Advance(2 * time.Second)
			if r, _ := e.send("HEAD", "/"); r.StatusCode != 200 || r.Header.Get("X-V") != "2" {
				t.Fatalf("HEAD: %d X-V %q, want the server's 200", r.StatusCode, r.Header.Get("X-V"))
			}
			e.wantCount(2)
			r, body := e.get("/")
			if tc.updated {
				if body != "A" || r.Header.Get("X-V") != "2" {
					t.Errorf("GET after the HEAD: %q X-V %q, want the stored A with X-V 2", body, r.Header.Get("X-V"))
				}
				e.wantCount(2)
			} else {
				if body != "B" {
					t.Errorf("GET after the HEAD: %q, want B from the server", body)
				}
				e.wantCount(3)
			}
		})
	}
	t.Run("a 404 changes nothing", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"ETag: \"v1\"", "Cache-Control: max-age=60"}}, reply{status: 404})
		e.wantBody("/", "A")
		e.policy = ReloadIgnoringLocalCacheData
		e.send("HEAD", "/")
		e.policy = UseProtocolCachePolicy
		e.wantBody("/", "A")
		e.wantCount(2)
	})
	t.Run("with a reload policy", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"ETag: \"v1\"", "Cache-Control: max-age=60", "X-V: 1"}},
			reply{headers: []string{"ETag: \"v1\"", "Cache-Control: max-age=60", "X-V: 2"}})
		e.wantBody("/", "A")
		e.policy = ReloadIgnoringLocalCacheData
		e.send("HEAD", "/")
		e.policy = UseProtocolCachePolicy
		if r, b := e.get("/"); b != "A" || r.Header.Get("X-V") != "2" {
			t.Errorf("%q X-V %q", b, r.Header.Get("X-V"))
		}
		e.wantCount(2)
	})
}

func TestCacheInvalidation(t *testing.T) {
	t.Parallel()
	// postInvalidatesCache, putInvalidatesCache, deleteMethodInvalidatesCache,
	// putInvalidatesWithNoContentResponse, plus PATCH and Location.
	for _, tc := range []struct {
		method string
		status int
	}{
		{"POST", 200}, {"PUT", 200}, {"DELETE", 200}, {"PATCH", 200}, {"PUT", 204},
	} {
		t.Run(fmt.Sprintf("%s %d", tc.method, tc.status), func(t *testing.T) {
			e := newEnv(t)
			b := "B"
			if tc.status == 204 {
				b = ""
			}
			e.o.enqueue(reply{body: "A", headers: []string{"Expires: " + e.date(time.Hour)}}, reply{status: tc.status, body: b}, reply{body: "C"})
			e.wantBody("/", "A")
			if _, got := e.send(tc.method, "/"); got != b {
				t.Errorf("%s: %q", tc.method, got)
			}
			e.wantBody("/", "C")
		})
	}
	t.Run("postInvalidatesCacheWithUncacheableResponse", func(t *testing.T) {
		// OkHttp invalidates on a 500 too; RFC 9111 section 4.4 asks it for
		// non-error responses only, so the stored response stays.
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Expires: " + e.date(time.Hour)}}, reply{status: 500, body: "B"}, reply{body: "C"})
		e.wantBody("/", "A")
		e.send("POST", "/")
		e.wantBody("/", "A")
	})
	t.Run("Location and Content-Location", func(t *testing.T) {
		e := newEnv(t)
		fresh := []string{"Cache-Control: max-age=60"}
		e.o.enqueue(reply{body: "x", headers: fresh}, reply{body: "y", headers: fresh}, reply{body: "z", headers: fresh},
			reply{status: 201, headers: []string{"Location: /x", "Content-Location: /y"}},
			reply{body: "x2"}, reply{body: "y2"})
		e.wantBody("/x", "x")
		e.wantBody("/y", "y")
		e.wantBody("/z", "z")
		e.send("POST", "/z")
		e.wantBody("/x", "x2")
		e.wantBody("/y", "y2")
		e.wantCount(6)
	})
}

func TestCacheValidators(t *testing.T) {
	t.Parallel()
	t.Run("etag", func(t *testing.T) {
		e := newEnv(t)
		r := e.assertConditionallyCached("ETag: v1")
		if r.Header.Get("If-None-Match") != "v1" {
			t.Errorf("If-None-Match = %q", r.Header.Get("If-None-Match"))
		}
	})
	t.Run("etagAndExpirationDateInThePast", func(t *testing.T) {
		// OkHttp sends If-None-Match alone; RFC 9111 section 4.3.1 asks for
		// both validators when the stored response has both.
		e := newEnv(t)
		lm := e.date(-2 * time.Hour)
		r := e.assertConditionallyCached("ETag: v1", "Last-Modified: "+lm, "Expires: "+e.date(-time.Hour))
		if r.Header.Get("If-None-Match") != "v1" || r.Header.Get("If-Modified-Since") != lm {
			t.Errorf("conditions %v", r.Header)
		}
	})
	t.Run("retainServedDateFormat", func(t *testing.T) {
		e := newEnv(t)
		ny, _ := time.LoadLocation("America/New_York")
		if ny == nil {
			ny = time.FixedZone("EST", -5*3600)
		}
		lm := e.clk.Now().Add(-time.Hour).In(ny).Format("Mon 02-Jan-2006 15:04:05 MST")
		served := e.clk.Now().Add(-2 * time.Hour).In(ny).Format("Mon 02-Jan-2006 15:04:05 MST")
		e.o.enqueue(reply{body: "A", headers: []string{"Last-Modified: " + lm, "Expires: " + served}}, reply{status: 304})
		e.wantBody("/", "A")
		e.wantBody("/", "A")
		if got := e.o.request(0).Header.Get("If-Modified-Since"); got != "" {
			t.Errorf("first request conditional: %q", got)
		}
		if got := e.o.request(1).Header.Get("If-Modified-Since"); got != lm {
			t.Errorf("If-Modified-Since = %q, want %q as served", got, lm)
		}
	})
	t.Run("conditionalHitUpdatesCache", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(
			reply{body: "A", headers: []string{"Last-Modified: " + e.date(0), "Cache-Control: max-age=0"}},
			reply{status: 304, headers: []string{"Cache-Control: max-age=30", "Allow: GET, HEAD", "Date: " + e.date(time.Second)}},
			reply{body: "B"},
		)
		r1, b1 := e.get("/a")
		if b1 != "A" || r1.Header.Get("Allow") != "" {
			t.Errorf("first: %q %v", b1, r1.Header)
		}
		e.clk.Advance(time.Second)
		r2, b2 := e.get("/a")
		if r2.StatusCode != 200 || b2 != "A" || r2.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("conditional hit: %d %q %v", r2.StatusCode, b2, r2.Header)
		}
		e.clk.Advance(time.Second)
		r3, b3 := e.get("/a")
		if b3 != "A" || r3.Header.Get("Allow") != "GET, HEAD" || r3.Header.Get("Age") != "1" {
			t.Errorf("full hit: %q %v", b3, r3.Header)
		}
		e.wantCount(2)
		if st := e.stored("/a"); st == nil || !st.ResponseTime.Equal(e.clk.Now().Add(-time.Second)) {
			t.Errorf("the stored response time was not updated: %v", st)
		}
	})
	t.Run("conditionalMissUpdatesCache", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"ETag: v1"}}, reply{status: 304},
			reply{body: "B", headers: []string{"ETag: v2"}}, reply{status: 304})
		for _, want := range []string{"A", "A", "B", "B"} {
			e.wantBody("/", want)
		}
		for i, want := range []string{"", "v1", "v1", "v2"} {
			if got := e.o.request(i).Header.Get("If-None-Match"); got != want {
				t.Errorf("request %d: If-None-Match %q, want %q", i, got, want)
			}
		}
	})
	t.Run("conditionalHitHeadersCombined", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(
			reply{body: "abcd", headers: []string{"Etag: a", "Cache-Control: max-age=0", "A: a1", "B: b2", "B: b3"}},
			reply{status: 304, headers: []string{"B: b4", "B: b5", "C: c6"}},
		)
		e.wantBody("/", "abcd")
		r, b := e.get("/")
		if b != "abcd" || r.Header.Get("A") != "a1" || strings.Join(r.Header["B"], ",") != "b4,b5" || r.Header.Get("C") != "c6" ||
			r.Header.Get("Etag") != "a" || r.Header.Get("Content-Length") != "4" {
			t.Errorf("combined headers %v", r.Header)
		}
	})
	t.Run("getHeadersReturnsNetworkEndToEndHeaders", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Allow: GET, HEAD", "Last-Modified: " + e.date(-time.Hour), "Cache-Control: max-age=0"}},
			reply{status: 304, headers: []string{"Allow: GET, HEAD, PUT"}})
		e.wantBody("/", "A")
		if r, _ := e.get("/"); r.Header.Get("Allow") != "GET, HEAD, PUT" {
			t.Errorf("Allow = %q", r.Header.Get("Allow"))
		}
	})
	t.Run("warnings", func(t *testing.T) {
		// getHeadersDeletesCached100LevelWarnings, getHeadersRetainsCached200LevelWarnings
		for _, tc := range []struct{ warning, want string }{{"199 test danger", ""}, {"299 test danger", "299 test danger"}} {
			e := newEnv(t)
			e.o.enqueue(reply{body: "A", headers: []string{"Warning: " + tc.warning, "Last-Modified: " + e.date(-time.Hour), "Cache-Control: max-age=0"}},
				reply{status: 304})
			if r, _ := e.get("/"); r.Header.Get("Warning") != tc.warning {
				t.Errorf("first Warning %q", r.Header.Get("Warning"))
			}
			if r, _ := e.get("/"); r.Header.Get("Warning") != tc.want {
				t.Errorf("Warning after a 304 = %q, want %q", r.Header.Get("Warning"), tc.want)
			}
		}
	})
	t.Run("serverReturnsDocumentOlderThanCache", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(
			reply{body: "A", headers: []string{"Last-Modified: " + e.date(-2*time.Hour), "Expires: " + e.date(-time.Hour)}},
			reply{body: "B", headers: []string{"Last-Modified: " + e.date(-4*time.Hour)}},
			reply{status: 304},
		)
		e.wantBody("/", "A")
		e.wantBody("/", "B")
		e.wantBody("/", "B")
	})
	t.Run("etagConditionCanBeNonAscii", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "abcd", headers: []string{"Etag: α", "Cache-Control: max-age=0"}}, reply{status: 304})
		e.wantBody("/", "abcd")
		e.wantBody("/", "abcd")
		if got := e.o.request(1).Header.Get("If-None-Match"); got != "α" {
			t.Errorf("If-None-Match = %q", got)
		}
	})
	t.Run("304 for another representation", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"ETag: \"v1\"", "Cache-Control: max-age=0"}},
			reply{status: 304, headers: []string{"ETag: \"v2\""}},
			reply{body: "B", headers: []string{"ETag: \"v2\""}})
		e.wantBody("/", "A")
		e.wantBody("/", "B")
		if got := e.o.request(2).Header.Get("If-None-Match"); got != "" {
			t.Errorf("the retry was conditional: %q", got)
		}
	})
}

func TestCacheClientSuppliedConditions(t *testing.T) {
	t.Parallel()
	// clientSuppliedIfModifiedSinceWithCachedResult, clientSuppliedIfNoneMatchSinceWithCachedResult
	for _, tc := range []struct {
		seed      []string
		name, val string
		other     string
	}{
		{[]string{"ETag: v3", "Cache-Control: max-age=0"}, "If-Modified-Since", time.Now().Add(-24 * time.Hour).UTC().Format(http.TimeFormat), "If-None-Match"},
		{[]string{"Last-Modified: " + time.Now().Add(-3*time.Minute).UTC().Format(http.TimeFormat), "Cache-Control: max-age=0"}, "If-None-Match", "v1", "If-Modified-Since"},
	} {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: tc.seed}, reply{status: 304})
		e.wantBody("/", "A")
		r, b := e.get("/", tc.name+": "+tc.val)
		if r.StatusCode != 304 || b != "" {
			t.Errorf("%s: %d %q, want the server's 304", tc.name, r.StatusCode, b)
		}
		req := e.o.request(1)
		if req.Header.Get(tc.name) != tc.val || req.Header.Get(tc.other) != "" {
			t.Errorf("%s: request headers %v", tc.name, req.Header)
		}
	}
	t.Run("clientSuppliedConditionWithoutCachedResult", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{status: 304})
		r, b := e.get("/", "If-Modified-Since: "+e.date(-24*time.Hour))
		if r.StatusCode != 304 || b != "" {
			t.Errorf("%d %q", r.StatusCode, b)
		}
	})
}

func TestCacheRequestDirectives(t *testing.T) {
	t.Parallel()
	t.Run("clientSideNoStore", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60"}}, reply{body: "B", headers: []string{"Cache-Control: max-age=60"}})
		e.wantBody("/", "A", "Cache-Control: no-store")
		e.wantBody("/", "B")
	})
	t.Run("requestMaxAge", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Last-Modified: " + e.date(-2*time.Hour), "Date: " + e.date(-time.Minute), "Expires: " + e.date(time.Hour)}},
			reply{body: "B"})
		e.wantBody("/", "A")
		e.wantBody("/", "B", "Cache-Control: max-age=30")
	})
	t.Run("requestMinFresh", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60", "Date: " + e.date(0)}}, reply{body: "B"})
		e.wantBody("/", "A")
		e.wantBody("/", "B", "Cache-Control: min-fresh=120")
	})
	for _, v := range []string{"max-stale=180", "max-stale"} {
		t.Run("requestMaxStale "+v, func(t *testing.T) {
			e := newEnv(t)
			e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=120", "Date: " + e.date(-4*time.Minute)}}, reply{body: "B"})
			e.wantBody("/", "A")
			e.wantBody("/", "A", "Cache-Control: "+v)
		})
	}
	t.Run("requestMaxStaleNotHonoredWithMustRevalidate", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=120, must-revalidate", "Date: " + e.date(-4*time.Minute)}}, reply{body: "B"})
		e.wantBody("/", "A")
		e.wantBody("/", "B", "Cache-Control: max-stale=180")
	})
	t.Run("requestOnlyIfCachedWithNoResponseCached", func(t *testing.T) {
		e := newEnv(t)
		r, b := e.get("/", "Cache-Control: only-if-cached")
		if r.StatusCode != 504 || b != "" {
			t.Errorf("%d %q, want 504", r.StatusCode, b)
		}
		e.wantCount(0)
	})
	t.Run("requestOnlyIfCachedWithFullResponseCached", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=30", "Date: " + e.date(0)}})
		e.wantBody("/", "A")
		e.wantBody("/", "A", "Cache-Control: only-if-cached")
		e.wantCount(1)
	})
	for name, hs := range map[string][]string{
		"requestOnlyIfCachedWithConditionalResponseCached": {"Cache-Control: max-age=30", "Date: " + time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat)},
		"requestOnlyIfCachedWithUnhelpfulResponseCached":   nil,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.o.enqueue(reply{body: "A", headers: hs})
			e.wantBody("/", "A")
			r, b := e.get("/", "Cache-Control: only-if-cached")
			if r.StatusCode != 504 || b != "" {
				t.Errorf("%d %q, want 504", r.StatusCode, b)
			}
			e.wantCount(1)
		})
	}
	for _, h := range []string{"Cache-Control: no-cache", "Pragma: no-cache"} {
		t.Run("request "+h, func(t *testing.T) {
			// requestCacheControlNoCache, requestPragmaNoCache
			e := newEnv(t)
			lm := e.date(-120 * time.Second)
			e.o.enqueue(reply{body: "A", headers: []string{"Last-Modified: " + lm, "Date: " + e.date(0), "Cache-Control: max-age=60"}}, reply{body: "B"})
			e.wantBody("/", "A")
			e.wantBody("/", "B", h)
			if got := e.o.request(1).Header.Get("If-Modified-Since"); got != lm {
				t.Errorf("the request was not a revalidation: If-Modified-Since %q", got)
			}
		})
	}
}

func TestCacheRanges(t *testing.T) {
	t.Parallel()
	t.Run("partialRangeResponsesDoNotCorruptCache", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{status: 206, body: "AA", headers: []string{"Expires: " + e.date(time.Hour), "Content-Range: bytes 1000-1001/2000"}}, reply{body: "BB"})
		e.wantBody("/", "AA", "Range: bytes=1000-1001")
		e.wantBody("/", "BB")
	})
	t.Run("doNotCachePartialResponse", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{status: 206, body: "A", headers: []string{"Date: " + e.date(0), "Content-Range: bytes 100-100/200", "Cache-Control: max-age=60"}},
			reply{body: "B"})
		e.wantBody("/", "A")
		if e.stored("/") != nil {
			t.Error("a 206 was stored")
		}
		e.wantBody("/", "B")
	})
	t.Run("range request with If-Range bypasses a stored response", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "ABCD", headers: []string{"Cache-Control: max-age=60", "ETag: \"v1\""}},
			reply{status: 206, body: "B", headers: []string{"Content-Range: bytes 1-1/4"}})
		e.wantBody("/", "ABCD")
		r, b := e.get("/", "Range: bytes=1-1", "If-Range: \"v1\"")
		if r.StatusCode != 206 || b != "B" {
			t.Errorf("%d %q", r.StatusCode, b)
		}
		e.wantBody("/", "ABCD")
		e.wantCount(2)
	})
	t.Run("ranges from a stored response", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "ABCDEFGHIJ", headers: []string{"Cache-Control: max-age=60", "Content-Type: text/plain", "ETag: \"v1\""}})
		e.wantBody("/", "ABCDEFGHIJ")
		for _, tc := range []struct {
			rng, body, contentRange string
			status                  int
		}{
			{"bytes=2-4", "CDE", "bytes 2-4/10", 206},
			{"bytes=7-", "HIJ", "bytes 7-9/10", 206},
			{"bytes=-2", "IJ", "bytes 8-9/10", 206},
			{"bytes=-20", "ABCDEFGHIJ", "bytes 0-9/10", 206},
			{"bytes=5-100", "FGHIJ", "bytes 5-9/10", 206},
			{"bytes=10-", "", "bytes */10", 416},
			{"bytes=-0", "", "bytes */10", 416},
		} {
			r, b := e.get("/", "Range: "+tc.rng)
			if r.StatusCode != tc.status || b != tc.body || r.Header.Get("Content-Range") != tc.contentRange ||
				r.Header.Get("Content-Length") != strconv.Itoa(len(tc.body)) || r.ContentLength != int64(len(tc.body)) {
				t.Errorf("%s: %d %q Content-Range %q Content-Length %q (%d); want %d %q %q %d", tc.rng, r.StatusCode, b,
					r.Header.Get("Content-Range"), r.Header.Get("Content-Length"), r.ContentLength, tc.status, tc.body, tc.contentRange, len(tc.body))
			}
			if tc.status == 206 && r.Header.Get("Content-Type") != "text/plain" {
				t.Errorf("%s: Content-Type %q, want the stored one", tc.rng, r.Header.Get("Content-Type"))
			}
			if txs := e.last.Transactions(); len(txs) != 1 || txs[0].Snapshot().FetchType != FetchLocalCache {
				t.Errorf("%s: not a local-cache transaction", tc.rng)
			}
		}
		e.wantCount(1)
		e.wantBody("/", "ABCDEFGHIJ")
		if cr := e.stored("/"); cr == nil || cr.Response.StatusCode != 200 || string(cr.Body) != "ABCDEFGHIJ" {
			t.Error("the stored response changed")
		}
	})
	t.Run("several ranges go to the server", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "ABCDEFGHIJ", headers: []string{"Cache-Control: max-age=60"}},
			reply{status: 206, body: "multipart", headers: []string{"Content-Type: multipart/byteranges; boundary=x"}})
		e.wantBody("/", "ABCDEFGHIJ")
		if r, b := e.get("/", "Range: bytes=0-1,4-5"); r.StatusCode != 206 || b != "multipart" {
			t.Errorf("%d %q", r.StatusCode, b)
		}
		e.wantCount(2)
		e.wantBody("/", "ABCDEFGHIJ")
	})
	t.Run("a stale response is not cut", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "ABCDEFGHIJ", headers: []string{"Cache-Control: max-age=60", "ETag: \"v1\""}},
			reply{status: 206, body: "BC", headers: []string{"Content-Range: bytes 1-2/10"}})
		e.wantBody("/", "ABCDEFGHIJ")
		e.clk.Advance(2 * time.Minute)
		if r, b := e.get("/", "Range: bytes=1-2"); r.StatusCode != 206 || b != "BC" {
			t.Errorf("%d %q", r.StatusCode, b)
		}
		e.wantCount(2)
		if r := e.o.request(1); r.Header.Get("Range") != "bytes=1-2" || r.Header.Get("If-None-Match") != "" {
			t.Errorf("the server got %v, want the request as it was", r.Header)
		}
	})
	t.Run("a coded body is not cut", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: gz("ABCDEFGHIJ"), headers: []string{"Cache-Control: max-age=60", "Content-Encoding: gzip"}},
			reply{status: 206, body: "x", headers: []string{"Content-Range: bytes 1-1/30"}})
		e.wantBody("/", "ABCDEFGHIJ")
		if r, b := e.get("/", "Range: bytes=1-1", "Accept-Encoding: identity"); r.StatusCode != 206 || b != "x" {
			t.Errorf("%d %q", r.StatusCode, b)
		}
		e.wantCount(2)
	})
	t.Run("returnCacheDataDontLoad answers a coded body whole", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: gz("ABCDEFGHIJ"), headers: []string{"Cache-Control: max-age=60", "Content-Encoding: gzip"}})
		e.wantBody("/", "ABCDEFGHIJ")
		e.policy = ReturnCacheDataDontLoad
		if r, b := e.get("/", "Range: bytes=1-1"); r.StatusCode != 200 || b != "ABCDEFGHIJ" {
			t.Errorf("%d %q", r.StatusCode, b)
		}
		e.wantCount(1)
	})
	t.Run("returnCacheDataDontLoad answers several ranges whole", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "ABCDEFGHIJ", headers: []string{"Cache-Control: max-age=60"}})
		e.wantBody("/", "ABCDEFGHIJ")
		e.policy = ReturnCacheDataDontLoad
		if r, b := e.get("/", "Range: bytes=0-1,4-5"); r.StatusCode != 200 || b != "ABCDEFGHIJ" {
			t.Errorf("%d %q", r.StatusCode, b)
		}
		e.wantCount(1)
	})
}

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	w.Close()
	return b.String()
}

func TestCacheEncoding(t *testing.T) {
	t.Parallel()
	for name, fresh := range map[string]time.Duration{"nonIdentityEncodingAndConditionalCache": -time.Hour, "nonIdentityEncodingAndFullCache": time.Hour} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.o.enqueue(reply{body: gz("ABCABCABC"), headers: []string{"Content-Encoding: gzip", "Last-Modified: " + e.date(-2*time.Hour), "Expires: " + e.date(fresh)}},
				reply{status: 304}, reply{status: 304})
			for range 3 {
				e.wantBody("/", "ABCABCABC")
			}
			if st := e.stored("/"); st == nil || st.Response.Header.Get("Content-Encoding") != "gzip" || string(st.Body) != gz("ABCABCABC") {
				t.Error("the entry does not hold the body as received")
			}
		})
	}
	t.Run("previouslyNotGzippedContentIsNotModifiedAndSpecifiesGzipEncoding", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "ABCABCABC", headers: []string{"Content-Type: text/plain", "Last-Modified: " + e.date(-2*time.Hour), "Expires: " + e.date(-time.Hour)}},
			reply{status: 304, headers: []string{"Content-Type: text/plain", "Content-Encoding: gzip"}},
			reply{body: "DEFDEFDEF"})
		e.wantBody("/", "ABCABCABC")
		e.wantBody("/", "ABCABCABC")
		e.wantBody("/", "DEFDEFDEF")
	})
	t.Run("changedGzippedContentIsNotModifiedAndSpecifiesNewEncoding", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: gz("ABCABCABC"), headers: []string{"Content-Type: text/plain", "Last-Modified: " + e.date(-2*time.Hour), "Expires: " + e.date(-time.Hour), "Content-Encoding: gzip"}},
			reply{status: 304, headers: []string{"Content-Type: text/plain", "Content-Encoding: identity"}},
			reply{body: "DEFDEFDEF"})
		e.wantBody("/", "ABCABCABC")
		e.wantBody("/", "ABCABCABC")
		e.wantBody("/", "DEFDEFDEF")
	})
	t.Run("notModifiedSpecifiesEncoding", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: gz("ABCABCABC"), headers: []string{"Content-Encoding: gzip", "Last-Modified: " + e.date(-2*time.Hour), "Expires: " + e.date(-time.Hour)}},
			reply{status: 304, headers: []string{"Content-Encoding: gzip"}},
			reply{body: "DEFDEFDEF"})
		e.wantBody("/", "ABCABCABC")
		e.wantBody("/", "ABCABCABC")
		e.wantBody("/", "DEFDEFDEF")
	})
	t.Run("gzipAndVaryOnAcceptEncoding", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: gz("ABCABCABC"), headers: []string{"Content-Encoding: gzip", "Vary: Accept-Encoding", "Cache-Control: max-age=60"}}, reply{body: "FAIL"})
		e.wantBody("/", "ABCABCABC")
		e.wantBody("/", "ABCABCABC")
		e.wantCount(1)
	})
}

func TestCacheVary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		vary         []string
		first, later []string // request headers
		hit          bool
	}{
		{"varyMatchesChangedRequestHeaderField", []string{"Accept-Language"}, []string{"Accept-Language: fr-CA"}, []string{"Accept-Language: en-US"}, false},
		{"varyMatchesUnchangedRequestHeaderField", []string{"Accept-Language"}, []string{"Accept-Language: fr-CA"}, []string{"Accept-Language: fr-CA"}, true},
		{"varyMatchesAbsentRequestHeaderField", []string{"Foo"}, nil, nil, true},
		{"varyMatchesAddedRequestHeaderField", []string{"Foo"}, nil, []string{"Foo: bar"}, false},
		{"varyMatchesRemovedRequestHeaderField", []string{"Foo"}, []string{"Foo: bar"}, nil, false},
		{"varyFieldsAreCaseInsensitive", []string{"ACCEPT-LANGUAGE"}, []string{"Accept-Language: fr-CA"}, []string{"accept-language: fr-CA"}, true},
		{"varyMultipleFieldsWithMatch", []string{"Accept-Language, Accept-Charset", "Accept-Encoding"},
			[]string{"Accept-Language: fr-CA", "Accept-Charset: UTF-8", "Accept-Encoding: identity"},
			[]string{"Accept-Language: fr-CA", "Accept-Charset: UTF-8", "Accept-Encoding: identity"}, true},
		{"varyMultipleFieldsWithNoMatch", []string{"Accept-Language, Accept-Charset", "Accept-Encoding"},
			[]string{"Accept-Language: fr-CA", "Accept-Charset: UTF-8", "Accept-Encoding: identity"},
			[]string{"Accept-Language: en-CA", "Accept-Charset: UTF-8", "Accept-Encoding: identity"}, false},
		{"varyMultipleFieldValuesWithMatch", []string{"Accept-Language"},
			[]string{"Accept-Language: fr-CA, fr-FR", "Accept-Language: en-US"}, []string{"Accept-Language: fr-CA, fr-FR", "Accept-Language: en-US"}, true},
		{"varyMultipleFieldValuesWithNoMatch", []string{"Accept-Language"},
			[]string{"Accept-Language: fr-CA, fr-FR", "Accept-Language: en-US"}, []string{"Accept-Language: fr-CA", "Accept-Language: en-US"}, false},
		{"varyAsterisk", []string{"*"}, nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			hs := []string{"Cache-Control: max-age=60"}
			for _, v := range tc.vary {
				hs = append(hs, "Vary: "+v)
			}
			e.o.enqueue(reply{body: "A", headers: hs}, reply{body: "B"})
			e.wantBody("/", "A", tc.first...)
			want := "B"
			if tc.hit {
				want = "A"
			}
			e.wantBody("/", want, tc.later...)
		})
	}
}

func TestCacheOther(t *testing.T) {
	t.Parallel()
	t.Run("contentLocationDoesNotPopulateCache", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60", "Content-Location: /bar"}}, reply{body: "B"})
		e.wantBody("/foo", "A")
		e.wantBody("/bar", "B")
	})
	t.Run("cachePlusCookies", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Set-Cookie: a=FIRST", "Last-Modified: " + e.date(-time.Hour), "Cache-Control: max-age=0"}},
			reply{status: 304, headers: []string{"Set-Cookie: a=SECOND", "Cache-Control: max-age=60"}})
		if r, _ := e.get("/"); r.Header.Get("Set-Cookie") != "a=FIRST" {
			t.Errorf("first Set-Cookie %q", r.Header.Get("Set-Cookie"))
		}
		if r, _ := e.get("/"); r.Header.Get("Set-Cookie") != "a=SECOND" {
			t.Errorf("after the 304: Set-Cookie %q, want the 304's", r.Header.Get("Set-Cookie"))
		}
		if r, _ := e.get("/"); r.Header.Get("Set-Cookie") != "" {
			t.Errorf("a cookie was replayed from the cache: %q", r.Header.Get("Set-Cookie"))
		}
		e.wantCount(2)
	})
	t.Run("evictAll", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60"}}, reply{body: "B"})
		e.wantBody("/", "A")
		e.uc.RemoveAllCachedResponses()
		e.wantBody("/", "B")
	})
	t.Run("no-store response removes the stored one", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"ETag: v1", "Cache-Control: max-age=0"}},
			reply{body: "B", headers: []string{"Cache-Control: no-store"}})
		e.wantBody("/", "A")
		e.wantBody("/", "B")
		if e.stored("/") != nil {
			t.Error("the older response is still stored")
		}
	})
	t.Run("too large for the cache", func(t *testing.T) {
		uc, _ := urlcache.New(urlcache.Options{MemoryCapacity: 20 * 1000})
		e := newEnvWith(t, uc)
		big, small := strings.Repeat("x", 1001), strings.Repeat("y", 900)
		e.o.enqueue(reply{body: big, headers: []string{"Cache-Control: max-age=60"}}, reply{body: small, headers: []string{"Cache-Control: max-age=60"}})
		e.wantBody("/big", big)
		e.wantBody("/small", small)
		if e.stored("/big") != nil || e.stored("/small") == nil {
			t.Error("the 5% rule was not applied")
		}
	})
	t.Run("nil cache passes through", func(t *testing.T) {
		e := newEnvWith(t, nil)
		e.chain[2] = &Cache{}
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60"}}, reply{body: "B"})
		e.wantBody("/", "A")
		e.wantBody("/", "B")
	})
}

func TestCacheHitMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.o.enqueue(reply{body: "ABCDE", headers: []string{"Cache-Control: max-age=60"}})
	e.wantBody("/", "ABCDE")
	if txs := e.last.Transactions(); len(txs) != 1 || txs[0].Snapshot().FetchType != FetchNetworkLoad {
		t.Fatalf("network fetch: %d transactions", len(txs))
	}
	e.wantBody("/", "ABCDE")
	txs := e.last.Transactions()
	if len(txs) != 1 {
		t.Fatalf("cache hit: %d transactions, want 1", len(txs))
	}
	d := txs[0].Snapshot()
	if d.FetchType != FetchLocalCache || d.Request == nil || d.Response == nil || d.FetchStart.IsZero() ||
		d.ResponseStart.IsZero() || d.ResponseEnd.Before(d.FetchStart) || d.ResponseBodyBytesReceived != 5 || d.ResponseHeaderBytesReceived == 0 ||
		d.RequestHeaderBytesSent != 0 || d.RemoteAddr != nil {
		t.Errorf("cache hit transaction %+v", d)
	}
}

func TestCachePolicies(t *testing.T) {
	t.Parallel()
	stale := func(e *env) reply {
		return reply{body: "A", headers: []string{"ETag: v1", "Cache-Control: max-age=60", "Date: " + e.date(-2*time.Minute)}}
	}
	fresh := func(e *env) reply {
		return reply{body: "A", headers: []string{"ETag: v1", "Cache-Control: max-age=60"}}
	}
	t.Run("0 useProtocolCachePolicy", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(fresh(e))
		e.wantBody("/", "A")
		e.wantBody("/", "A")
		e.wantCount(1)
	})
	t.Run("1 reloadIgnoringLocalCacheData", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(fresh(e), reply{body: "B", headers: []string{"Cache-Control: max-age=60"}})
		e.wantBody("/", "A")
		e.policy = ReloadIgnoringLocalCacheData
		e.wantBody("/", "B")
		if r := e.o.request(1); r.Header.Get("If-None-Match") != "" || r.Header.Get("Cache-Control") != "" {
			t.Errorf("request headers %v", r.Header)
		}
		e.policy = UseProtocolCachePolicy
		e.wantBody("/", "B") // stored by the reload
		e.wantCount(2)
	})
	t.Run("2 returnCacheDataElseLoad", func(t *testing.T) {
		e := newEnv(t)
		e.policy = ReturnCacheDataElseLoad
		e.o.enqueue(stale(e), reply{body: "C"})
		e.wantBody("/", "A") // loaded
		e.wantBody("/", "A") // stale, used anyway
		e.wantCount(1)
		e.wantBody("/other", "C")
	})
	t.Run("3 returnCacheDataDontLoad", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(stale(e))
		e.wantBody("/", "A")
		e.policy = ReturnCacheDataDontLoad
		e.wantBody("/", "A")
		_, err := e.do("GET", "/missing")
		var fe *fail.Error
		if !errors.As(err, &fe) || fe.Code != -2000 {
			t.Errorf("miss: %v, want code -2000", err)
		}
		e.wantCount(1)
	})
	t.Run("4 reloadIgnoringLocalAndRemoteCacheData", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(fresh(e), reply{body: "B", headers: []string{"Cache-Control: max-age=60"}})
		e.wantBody("/", "A")
		e.policy = ReloadIgnoringLocalAndRemoteCacheData
		e.wantBody("/", "B")
		r := e.o.request(1)
		if r.Header.Get("Cache-Control") != "no-cache" || r.Header.Get("Pragma") != "no-cache" || r.Header.Get("If-None-Match") != "" {
			t.Errorf("request headers %v", r.Header)
		}
		e.policy = UseProtocolCachePolicy
		e.wantBody("/", "B")
		e.wantCount(2)
	})
	t.Run("5 reloadRevalidatingCacheData", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(fresh(e), reply{status: 304}, reply{body: "N"})
		e.wantBody("/", "A")
		e.policy = ReloadRevalidatingCacheData
		e.wantBody("/", "A") // fresh, but validated anyway
		if got := e.o.request(1).Header.Get("If-None-Match"); got != "v1" {
			t.Errorf("If-None-Match = %q", got)
		}
		e.wantBody("/new", "N") // nothing stored: a plain load
		e.wantCount(3)
	})
}

func TestCacheWillCacheResponse(t *testing.T) {
	t.Parallel()
	t.Run("refuse", func(t *testing.T) {
		e := newEnv(t)
		h := &cacheHooks{f: func(*urlcache.CachedResponse) *urlcache.CachedResponse { return nil }}
		e.hooks = h
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60"}}, reply{body: "B", headers: []string{"Cache-Control: max-age=60"}})
		e.wantBody("/", "A")
		e.wantBody("/", "B")
		if len(h.calls) != 2 {
			t.Errorf("%d calls, want 2", len(h.calls))
		}
	})
	t.Run("refuse with the whole body", func(t *testing.T) {
		e := newEnv(t)
		h := &cacheHooks{asks: true, f: func(*urlcache.CachedResponse) *urlcache.CachedResponse { return nil }}
		e.hooks = h
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60"}}, reply{body: "B", headers: []string{"Cache-Control: max-age=60"}})
		e.wantBody("/", "A")
		e.wantBody("/", "B")
		if len(h.calls) != 2 {
			t.Errorf("%d calls, want 2", len(h.calls))
		}
	})
	t.Run("asked with the whole body, before the end", func(t *testing.T) {
		for _, length := range []bool{true, false} {
			e := newEnv(t)
			h := &cacheHooks{asks: true, f: func(p *urlcache.CachedResponse) *urlcache.CachedResponse {
				c := *p
				c.UserInfo = map[string]string{"by": "delegate"}
				c.Body = []byte("changed")
				return &c
			}}
			e.hooks = h
			e.o.enqueue(reply{f: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				if length {
					w.Header().Set("Content-Length", "6")
				}
				io.WriteString(w, "ABC")
				w.(http.Flusher).Flush()
				io.WriteString(w, "DEF")
			}})
			resp, err := e.do("GET", "/")
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			buf := make([]byte, 64)
			for {
				n, err := resp.Body.Read(buf)
				got = append(got, buf[:n]...)
				if n > 0 && h.callCount() != 0 {
					t.Fatalf("asked before the reader had byte %d", len(got))
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			resp.Body.Close()
			if string(got) != "ABCDEF" || h.callCount() != 1 {
				t.Fatalf("read %q with %d calls, want ABCDEF and 1 call", got, h.callCount())
			}
			if p := h.calls[0]; string(p.Body) != "ABCDEF" || p.StoragePolicy != urlcache.Allowed {
				t.Errorf("proposed body %q policy %v", p.Body, p.StoragePolicy)
			}
			if st := e.stored("/"); st == nil || st.UserInfo["by"] != "delegate" || string(st.Body) != "changed" {
				t.Errorf("stored %+v", st)
			}
		}
	})
	t.Run("not asked for a body cut short", func(t *testing.T) {
		e := newEnv(t)
		h := &cacheHooks{asks: true}
		e.hooks = h
		e.o.enqueue(reply{f: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "ABC")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}})
		resp, err := e.do("GET", "/")
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if h.callCount() != 0 || e.stored("/") != nil {
			t.Errorf("%d calls, stored %v; want none", h.callCount(), e.stored("/"))
		}
	})
	t.Run("change", func(t *testing.T) {
		e := newEnv(t)
		h := &cacheHooks{f: func(p *urlcache.CachedResponse) *urlcache.CachedResponse {
			c := *p
			c.StoragePolicy = urlcache.AllowedInMemoryOnly
			c.UserInfo = map[string]string{"by": "delegate"}
			return &c
		}}
		e.hooks = h
		e.o.enqueue(reply{body: "ABC", headers: []string{"Cache-Control: max-age=60", "X-A: 1"}})
		resp, err := e.do("GET", "/")
		if err != nil {
			t.Fatal(err)
		}
		// Asked when the response arrived, before the body was read.
		if len(h.calls) != 1 {
			t.Fatalf("%d calls before reading the body, want 1", len(h.calls))
		}
		p := h.calls[0]
		if p.Body != nil || p.Response.Header.Get("X-A") != "1" || p.StoragePolicy != urlcache.Allowed || p.Response.StatusCode != 200 {
			t.Errorf("proposed %+v", p)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		st := e.stored("/")
		if st == nil || st.UserInfo["by"] != "delegate" || st.StoragePolicy != urlcache.AllowedInMemoryOnly || string(st.Body) != "ABC" {
			t.Errorf("stored %+v", st)
		}
		e.uc.SetMemoryCapacity(0)
		if e.stored("/") != nil {
			t.Error("a memory-only entry reached the disk")
		}
	})
	t.Run("not asked for what cannot be stored", func(t *testing.T) {
		e := newEnv(t)
		h := &cacheHooks{}
		e.hooks = h
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: no-store"}}, reply{status: 206, body: "A"})
		e.wantBody("/", "A")
		e.wantBody("/", "A", "Range: bytes=0-0")
		if len(h.calls) != 0 {
			t.Errorf("%d calls, want 0", len(h.calls))
		}
	})
}

// TestCacheStreams checks that the body reaches the caller while it is
// stored: the first bytes arrive before the server has sent the rest.
func TestCacheStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	e.o.enqueue(reply{f: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "-last")
	}})
	resp, err := e.do("GET", "/")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first" {
		t.Fatalf("read %q %v", buf, err)
	}
	if e.stored("/") != nil {
		t.Error("visible in the cache before the body completed")
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(rest) != "-last" {
		t.Fatalf("rest %q", rest)
	}
	if st := e.stored("/"); st == nil || string(st.Body) != "first-last" {
		t.Errorf("stored %v", st)
	}
}

// TestCacheCloseWithoutEOF: a reader that stops at the announced length
// without reading io.EOF still gets the entry committed.
func TestCacheCloseWithoutEOF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.o.enqueue(reply{body: "ABCDE", headers: []string{"Cache-Control: max-age=60"}})
	resp, err := e.do("GET", "/")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	io.ReadFull(resp.Body, buf)
	resp.Body.Close()
	if e.stored("/") == nil {
		t.Error("a complete body read without io.EOF was not stored")
	}
}

// TestCacheSkipsUnusableResponses: a response with no freshness and no
// validator is not stored under the protocol policy (nothing could ever
// use it), but is under the policies that use cached data whatever its age.
func TestCacheSkipsUnusableResponses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.o.enqueue(reply{body: "A"}, reply{body: "B"}, reply{body: "C"})
	e.wantBody("/", "A")
	if e.stored("/") != nil {
		t.Error("stored a response HTTP caching can never use")
	}
	e.policy = ReturnCacheDataElseLoad
	e.wantBody("/", "B")
	e.wantBody("/", "B") // from the cache
	e.wantCount(2)

	e = newEnv(t) // an Expires that is no date is no freshness
	e.o.enqueue(reply{body: "A", headers: []string{"Expires: " + strings.Replace(e.date(time.Hour), " ", "  ", 1)}})
	e.wantBody("/", "A")
	if e.stored("/") != nil {
		t.Error("stored a response with an invalid Expires and nothing else")
	}
}

func TestCacheHopByHopFields(t *testing.T) {
	t.Parallel()
	hop := []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Upgrade", "X-Conn", "X-Conn-2"}
	check := func(t *testing.T, what string, h http.Header) {
		t.Helper()
		for _, k := range hop {
			if v, ok := h[k]; ok {
				t.Errorf("%s has %s: %q", what, k, v)
			}
		}
		if h.Get("X-Kept") == "" {
			t.Errorf("%s lost X-Kept: %v", what, h)
		}
	}
	t.Run("stored response", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{raw: "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nConnection: X-Conn, keep-alive\r\nConnection: x-conn-2\r\n" +
			"X-Conn: secret\r\nX-Conn-2: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n" +
			"Upgrade: h2c\r\nX-Kept: 1\r\nContent-Length: 1\r\n\r\nA"})
		e.wantBody("/", "A")
		cr := e.stored("/")
		if cr == nil {
			t.Fatal("not stored")
		}
		check(t, "the stored response", cr.Response.Header)
		resp, body := e.get("/")
		if body != "A" {
			t.Fatalf("hit: %q", body)
		}
		check(t, "the response from the cache", resp.Header)
		e.wantCount(1)
	})
	t.Run("304", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"ETag: v1", "Cache-Control: max-age=0", "X-Kept: 1"}},
			reply{raw: "HTTP/1.1 304 Not Modified\r\nETag: v1\r\nCache-Control: max-age=60\r\nConnection: X-Conn\r\nX-Conn: secret\r\n" +
				"Keep-Alive: timeout=5\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\n\r\n"})
		e.wantBody("/", "A")
		resp, body := e.get("/")
		if body != "A" || resp.StatusCode != 200 {
			t.Fatalf("after the 304: %d %q", resp.StatusCode, body)
		}
		check(t, "the merged response", resp.Header)
		check(t, "the updated stored response", e.stored("/").Response.Header)
		e.wantCount(2)
	})
}

func TestCacheAuthorization(t *testing.T) {
	t.Parallel()
	const alice, bob = "Authorization: Basic YWxpY2U6YQ==", "Authorization: Basic Ym9iOmI="
	// RFC 9111 section 3.5: the response to a request with Authorization
	// is stored only when it says public, must-revalidate or s-maxage.
	for _, cc := range []string{"max-age=60", "private, max-age=60"} {
		t.Run("not stored with "+cc, func(t *testing.T) {
			e := newEnv(t)
			e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: " + cc}}, reply{body: "B"})
			e.wantBody("/", "A", alice)
			e.wantBody("/", "B", alice)
			e.wantCount(2)
		})
	}
	for _, cc := range []string{"public, max-age=60", "must-revalidate, max-age=60", "s-maxage=60, max-age=60"} {
		t.Run("stored with "+cc, func(t *testing.T) {
			// authorizationResponseCachedWith{SMaxAge,Public,MustRevalidate},
			// but only for the same credentials.
			e := newEnv(t)
			h := []string{"Cache-Control: " + cc}
			e.o.enqueue(reply{body: "alice's", headers: h}, reply{body: "bob's", headers: h}, reply{body: "anyone's", headers: h},
				reply{body: "alice's again", headers: h})
			e.wantBody("/", "alice's", alice)
			e.wantBody("/", "alice's", alice)
			e.wantCount(1)
			e.wantBody("/", "bob's", bob) // never alice's
			e.wantCount(2)
			e.wantBody("/", "bob's", bob)
			e.wantBody("/", "anyone's") // no credentials: never bob's
			e.wantCount(3)
			e.wantBody("/", "anyone's")
			e.wantBody("/", "alice's again", alice)
			e.wantCount(4)
		})
	}
	t.Run("a response stored without credentials is not served with them", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "public", headers: []string{"Cache-Control: max-age=60"}}, reply{body: "alice's", headers: []string{"Cache-Control: max-age=60"}})
		e.wantBody("/", "public")
		e.wantBody("/", "alice's", alice)
		e.wantCount(2)
	})
	t.Run("HEAD", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: public, max-age=60", "X-Who: alice"}}, reply{headers: []string{"X-Who: server"}})
		e.wantBody("/", "A", alice)
		if r, _ := e.send("HEAD", "/", bob); r.Header.Get("X-Who") != "server" {
			t.Errorf("HEAD with other credentials answered from the cache: X-Who %q", r.Header.Get("X-Who"))
		}
		e.wantCount(2)
	})
}

func TestCacheMalformedFreshness(t *testing.T) {
	t.Parallel()
	// Each response would be fresh for an hour if its fields were read
	// leniently; read strictly, it is already stale (RFC 9111 sections 5.1,
	// 5.2 and 5.3).
	for _, tc := range []struct {
		name    string
		headers func(e *env) []string
	}{
		{"Expires with two spaces", func(e *env) []string {
			return []string{"Expires: " + strings.Replace(e.date(time.Hour), " ", "  ", 1)}
		}},
		{"Expires with a one-digit hour", func(e *env) []string {
			d := e.clk.Now().Add(24 * time.Hour).UTC()
			d = time.Date(d.Year(), d.Month(), d.Day(), 9, 0, 0, 0, time.UTC)
			return []string{"Date: " + e.date(0), "Expires: " + strings.Replace(d.Format(http.TimeFormat), " 09:", " 9:", 1)}
		}},
		{"Expires on two lines", func(e *env) []string {
			return []string{"Expires: " + e.date(time.Hour), "Expires: " + e.date(time.Hour)}
		}},
		{"max-age with a space before =", func(e *env) []string { return []string{"Cache-Control: max-age =3600"} }},
		{"an Age list taken whole", func(e *env) []string { return []string{"Cache-Control: max-age=3600", "Age: 7200, 0"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			h := append(tc.headers(e), "ETag: v1")
			e.o.enqueue(reply{body: "A", headers: h}, reply{status: 304})
			e.wantBody("/", "A")
			e.wantBody("/", "A")
			e.wantCount(2)
			if r := e.o.request(1); r.Header.Get("If-None-Match") != "v1" {
				t.Errorf("second request %v, want a conditional one", r.Header)
			}
		})
	}
}
