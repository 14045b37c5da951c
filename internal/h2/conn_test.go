package h2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
)

// ---- Against net/http's HTTP/2 server ----

func TestRealGet(t *testing.T) {
	srv := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
		w.Header().Set("X-URI", r.RequestURI)
		w.Header().Set("X-UA", r.UserAgent())
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		io.WriteString(w, "hello "+r.Host)
	}), nil)
	c, _, _ := srv.client(t, Config{})
	resp, err := c.Get(srv.URL + "/a/b?c=d&e")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.Proto != "HTTP/2.0" {
		t.Fatalf("proto %q (%d)", resp.Proto, resp.ProtoMajor)
	}
	if resp.StatusCode != 200 || resp.Status != "200 OK" {
		t.Fatalf("status %q", resp.Status)
	}
	if got := resp.Header.Get("X-Proto"); got != "HTTP/2.0" {
		t.Errorf("server saw %q", got)
	}
	if got := resp.Header.Get("X-URI"); got != "/a/b?c=d&e" {
		t.Errorf("server saw URI %q", got)
	}
	if got := resp.Header.Get("X-UA"); got != "Go-http-client/2.0" {
		t.Errorf("server saw User-Agent %q", got)
	}
	if got := resp.Header.Values("X-Multi"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("X-Multi = %q", got)
	}
	if resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
		t.Errorf("resp.TLS = %+v", resp.TLS)
	}
	want := "hello " + strings.TrimPrefix(srv.URL, "https://")
	if got := readAllString(t, resp.Body); got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if resp.ContentLength != int64(len(want)) {
		t.Errorf("ContentLength %d, want %d", resp.ContentLength, len(want))
	}
}

func TestRealHead(t *testing.T) {
	srv := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("Content-Length", "1234")
		if r.Method != http.MethodHead {
			w.Write(make([]byte, 1234))
		}
	}), nil)
	c, _, _ := srv.client(t, Config{})
	resp, err := c.Head(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.Header.Get("X-Method") != "HEAD" {
		t.Fatalf("proto %d, method %q", resp.ProtoMajor, resp.Header.Get("X-Method"))
	}
	if resp.ContentLength != 1234 {
		t.Errorf("ContentLength %d, want 1234", resp.ContentLength)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if n != 0 || err != nil {
		t.Errorf("HEAD body: %d bytes, %v", n, err)
	}
	// The connection goes on.
	resp, err = c.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readAllString(t, resp.Body)); n != 1234 {
		t.Errorf("GET after HEAD: %d bytes", n)
	}
	resp.Body.Close()
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections", n)
	}
}

// echoHandler answers with what the server received.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("X-Proto", r.Proto)
	w.Header().Set("X-Content-Length", strconv.FormatInt(r.ContentLength, 10))
	w.Header().Set("X-Sum", sum(body))
	w.Header().Set("X-Len", strconv.Itoa(len(body)))
	w.Header().Set("X-Trailer", r.Trailer.Get("X-Client-Sum"))
	w.Header().Set("X-Expect", r.Header.Get("Expect"))
}

func TestRealPost(t *testing.T) {
	srv := newRealServer(t, http.HandlerFunc(echoHandler), nil)
	c, _, _ := srv.client(t, Config{})
	data := payload(300<<10, 1)
	for _, tc := range []struct {
		name   string
		body   func() io.Reader
		wantCL string
		want   []byte
	}{
		{"known length", func() io.Reader { return bytes.NewReader(data) }, strconv.Itoa(len(data)), data},
		{"unknown length", func() io.Reader { return onlyReader{bytes.NewReader(data)} }, "-1", data},
		{"unknown length, empty", func() io.Reader { return onlyReader{strings.NewReader("")} }, "-1", nil},
		{"no body", func() io.Reader { return nil }, "0", nil},
		{"small", func() io.Reader { return strings.NewReader("x") }, "1", []byte("x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := newReq(t, "POST", srv.URL+"/", tc.body())
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("X-Proto") != "HTTP/2.0" {
				t.Fatalf("status %d, proto %q", resp.StatusCode, resp.Header.Get("X-Proto"))
			}
			if got := resp.Header.Get("X-Content-Length"); got != tc.wantCL {
				t.Errorf("server saw ContentLength %s, want %s", got, tc.wantCL)
			}
			if got, want := resp.Header.Get("X-Len"), strconv.Itoa(len(tc.want)); got != want {
				t.Errorf("server read %s bytes, want %s", got, want)
			}
			if got := resp.Header.Get("X-Sum"); got != sum(tc.want) {
				t.Errorf("server read other bytes")
			}
		})
	}
}

// trailerBody sets its request's trailer when it reaches EOF, as a
// streaming body does.
type trailerBody struct {
	r  io.Reader
	h  http.Header
	hs func() []byte
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.h.Set("X-Client-Sum", hex.EncodeToString(b.hs()))
	}
	return n, err
}

func TestRealRequestTrailers(t *testing.T) {
	srv := newRealServer(t, http.HandlerFunc(echoHandler), nil)
	c, _, _ := srv.client(t, Config{})
	data := payload(100<<10, 2)
	h := sha256.New()
	req := newReq(t, "POST", srv.URL+"/", nil)
	req.Trailer = http.Header{"X-Client-Sum": nil}
	req.Body = io.NopCloser(&trailerBody{r: io.TeeReader(bytes.NewReader(data), h), h: req.Trailer, hs: func() []byte { return h.Sum(nil) }})
	req.ContentLength = -1
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Trailer"); got != sum(data) {
		t.Errorf("server saw trailer %q, want %q", got, sum(data))
	}
	if got := resp.Header.Get("X-Sum"); got != sum(data) {
		t.Errorf("server read other bytes")
	}
}

func TestRealResponseTrailers(t *testing.T) {
	data := payload(200<<10, 3)
	srv := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum, X-Other")
		w.Write(data)
		w.Header().Set("X-Sum", sum(data))
		w.Header().Set("X-Other", "o")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	}), nil)
	c, _, _ := srv.client(t, Config{})
	resp, err := c.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, ok := resp.Trailer["X-Sum"]; !ok {
		t.Errorf("declared trailers before the body: %v", resp.Trailer)
	}
	if v := resp.Trailer.Get("X-Sum"); v != "" {
		t.Errorf("trailer value %q before the body", v)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("body: %d bytes, %v", len(b), err)
	}
	if got := resp.Trailer.Get("X-Sum"); got != sum(data) {
		t.Errorf("trailer X-Sum %q", got)
	}
	if got := resp.Trailer.Get("X-Other"); got != "o" {
		t.Errorf("trailer X-Other %q", got)
	}
	if got := resp.Trailer.Get("X-Late"); got != "late" {
		t.Errorf("trailer X-Late %q (%v)", got, resp.Trailer)
	}
}

func TestReal204(t *testing.T) {
	srv := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-A", "b")
		w.WriteHeader(http.StatusNoContent)
	}), nil)
	c, _, _ := srv.client(t, Config{})
	for range 3 {
		resp, err := c.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 204 || resp.Header.Get("X-A") != "b" || resp.ProtoMajor != 2 {
			t.Fatalf("status %d, X-A %q, proto %d", resp.StatusCode, resp.Header.Get("X-A"), resp.ProtoMajor)
		}
		if resp.ContentLength > 0 {
			t.Errorf("ContentLength %d", resp.ContentLength)
		}
		if got := readAllString(t, resp.Body); got != "" {
			t.Errorf("body %q", got)
		}
		resp.Body.Close()
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections", n)
	}
}

func TestRealLargeResponse(t *testing.T) {
	data := payload(32<<20, 4)
	srv := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	}), nil)
	c, _, p := srv.client(t, Config{})
	resp, err := c.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, resp.Body, make([]byte, 32<<10))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("read %d bytes, %v; want %d", n, err, len(data))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum(data) {
		t.Fatal("body differs")
	}
	for _, cc := range poolConns(p) {
		if leak := connWindowLeak(cc); leak != 0 {
			t.Errorf("connection window short by %d", leak)
		}
	}
}

func TestRealLargeRequest(t *testing.T) {
	srv := newRealServer(t, http.HandlerFunc(echoHandler), nil)
	c, _, _ := srv.client(t, Config{})
	all := payload(16<<20, 5)
	for _, known := range []bool{true, false} {
		data := all
		var body io.Reader = bytes.NewReader(data)
		if !known {
			data = all[:8<<20]
			body = onlyReader{bytes.NewReader(data)}
		}
		resp, err := c.Do(newReq(t, "PUT", srv.URL+"/", body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Len"); got != strconv.Itoa(len(data)) {
			t.Errorf("known=%v: server read %s bytes", known, got)
		}
		if got := resp.Header.Get("X-Sum"); got != sum(data) {
			t.Errorf("known=%v: server read other bytes", known)
		}
	}
}

func TestRealConcurrentMaxStreams(t *testing.T) {
	var inflight, peak atomic.Int32
	srv := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		io.WriteString(w, "r"+r.URL.Query().Get("i"))
	}), func(s *httptest.Server) { s.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 5} })
	c, _, _ := srv.client(t, Config{})
	getString(t, c, srv.URL+"/?i=warm")

	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			resp, err := c.Get(fmt.Sprintf("%s/?i=%d", srv.URL, i))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || string(b) != fmt.Sprintf("r%d", i) || resp.ProtoMajor != 2 {
				errs <- fmt.Errorf("request %d: %q, %v, proto %d", i, b, err, resp.ProtoMajor)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p := peak.Load(); p > 5 {
		t.Errorf("%d handlers at once", p)
	}
	if c := srv.conns.Load(); c != 1 {
		t.Errorf("%d connections, want 1", c)
	}
}

// Closing bodies early resets their streams and gives their share of the
// connection window back.
func TestRealCloseBodyEarly(t *testing.T) {
	big := payload(3<<20, 6)
	srv := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			io.WriteString(w, "small")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		for b := big; len(b) > 0; b = b[min(len(b), 64<<10):] {
			if _, err := w.Write(b[:min(len(b), 64<<10)]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}), nil)
	c, _, p := srv.client(t, Config{})
	for range 5 {
		resp, err := c.Get(srv.URL + "/big")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, err := resp.Body.Read(make([]byte, 10)); err == nil || err.Error() != "http2: response body closed" {
			t.Errorf("Read after Close: %v", err)
		}
	}
	b, err := getBytes(t, c, srv.URL+"/big")
	if err != nil || !bytes.Equal(b, big) {
		t.Fatalf("full body: %d bytes, %v", len(b), err)
	}
	conns := poolConns(p)
	if len(conns) != 1 {
		t.Fatalf("%d pooled connections", len(conns))
	}
	// The resets go out on their own; a few more exchanges let the server
	// see them and the last of the closed streams' data arrive.
	leak := -1
	for range 5 {
		if got := getString(t, c, srv.URL+"/small"); got != "small" {
			t.Errorf("small body %q", got)
		}
		if leak = connWindowLeak(conns[0]); leak == 0 {
			break
		}
	}
	if leak != 0 {
		t.Errorf("connection window short by %d bytes after closing bodies", leak)
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections", n)
	}
}

func TestRealTrace(t *testing.T) {
	srv := newRealServer(t, http.HandlerFunc(echoHandler), nil)
	c, _, _ := srv.client(t, Config{})
	for i, wantReused := range []bool{false, true, true} {
		var mu sync.Mutex
		var got []string
		var info httptrace.GotConnInfo
		wrote := make(chan struct{})
		note := func(s string) { mu.Lock(); got = append(got, s); mu.Unlock() }
		trace := &httptrace.ClientTrace{
			GotConn:      func(i httptrace.GotConnInfo) { info = i; note("GotConn") },
			WroteHeaders: func() { note("WroteHeaders") },
			WroteRequest: func(i httptrace.WroteRequestInfo) {
				note(fmt.Sprintf("WroteRequest(%v)", i.Err))
				close(wrote)
			},
			GotFirstResponseByte: func() { note("GotFirstResponseByte") },
		}
		var body io.Reader
		if i == 2 {
			body = strings.NewReader("body")
		}
		req := newReq(t, "POST", srv.URL+"/", body).WithContext(httptrace.WithClientTrace(context.Background(), trace))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAllString(t, resp.Body)
		resp.Body.Close()
		// The body's writer may report after the response is read.
		recv(t, wrote)
		// GotFirstResponseByte may come before WroteHeaders or
		// WroteRequest; the rest is in order.
		mu.Lock()
		var order []string
		for _, s := range got {
			if s != "GotFirstResponseByte" {
				order = append(order, s)
			}
		}
		want := []string{"GotConn", "WroteHeaders", "WroteRequest(<nil>)"}
		if strings.Join(order, " ") != strings.Join(want, " ") || len(got) != 4 {
			t.Errorf("request %d: trace %q, want %q and GotFirstResponseByte", i, got, want)
		}
		mu.Unlock()
		if info.Reused != wantReused {
			t.Errorf("request %d: Reused %v, want %v", i, info.Reused, wantReused)
		}
		if info.Conn == nil {
			t.Errorf("request %d: no Conn", i)
		}
	}
}

func TestRealExpectContinue(t *testing.T) {
	srv := newRealServer(t, http.HandlerFunc(echoHandler), nil)
	c, _, _ := srv.client(t, Config{ExpectContinueTimeout: time.Hour})
	var got100 atomic.Int32
	trace := &httptrace.ClientTrace{Got100Continue: func() { got100.Add(1) }}
	data := payload(100<<10, 7)
	req := newReq(t, "PUT", srv.URL+"/", bytes.NewReader(data)).WithContext(httptrace.WithClientTrace(context.Background(), trace))
	req.Header.Set("Expect", "100-continue")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Sum"); got != sum(data) {
		t.Errorf("server read other bytes (%s)", resp.Header.Get("X-Len"))
	}
	if n := got100.Load(); n != 1 {
		t.Errorf("Got100Continue called %d times", n)
	}
}

// A request the server has not answered does not keep the connection from
// closing when idle connections are closed; one without streams does.
func TestRealCloseIdleConnections(t *testing.T) {
	release := make(chan struct{})
	srv := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "done")
	}), nil)
	c, tr, p := srv.client(t, Config{})
	getString(t, c, srv.URL+"/")
	waitIdle(t, poolConns(p)[0])
	tr.CloseIdleConnections()
	if n := len(poolConns(p)); n != 0 {
		t.Fatalf("%d connections pooled after CloseIdleConnections", n)
	}
	// Busy now.
	resp, err := c.Get(srv.URL + "/wait")
	if err != nil {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	close(release)
	if got := readAllString(t, resp.Body); got != "done" {
		t.Errorf("body %q", got)
	}
	resp.Body.Close()
	getString(t, c, srv.URL+"/")
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the idle one closed, the busy one kept)", n)
	}
}

func TestRealHTTP1Fallback(t *testing.T) {
	srv := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}), func(s *httptest.Server) { s.EnableHTTP2 = false })
	c, _, p := srv.client(t, Config{})
	resp, err := c.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := readAllString(t, resp.Body); got != "HTTP/1.1" || resp.ProtoMajor != 1 {
		t.Errorf("server saw %q, response proto %d", got, resp.ProtoMajor)
	}
	if n := len(poolConns(p)); n != 0 {
		t.Errorf("%d HTTP/2 connections", n)
	}
}

// A stream given up on (its body closed, its context cancelled) must not
// free its slot under the server's SETTINGS_MAX_CONCURRENT_STREAMS before
// its RST_STREAM is on the wire: the server counts the stream open until
// the reset arrives, and net/http's server answers a HEADERS frame over
// the limit with RST_STREAM PROTOCOL_ERROR.
func TestRealMaxStreamsAfterCancel(t *testing.T) {
	srv := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			w.Write(make([]byte, 1000))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		io.WriteString(w, "ok")
	}), func(s *httptest.Server) { s.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1} })
	c, _, _ := srv.client(t, Config{})
	for i := range 20 {
		for _, how := range []string{"close", "cancel"} {
			ctx, cancel := context.WithCancel(context.Background())
			req := newReq(t, "GET", srv.URL+"/slow", nil).WithContext(ctx)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(resp.Body, make([]byte, 10)); err != nil {
				t.Fatal(err)
			}
			if how == "close" {
				resp.Body.Close()
			} else {
				cancel()
			}
			resp2, err := c.Get(srv.URL + "/fast")
			if err != nil {
				t.Fatalf("round %d, after %s: %v", i, how, err)
			}
			if got := readAllString(t, resp2.Body); got != "ok" {
				t.Fatalf("body %q", got)
			}
			resp2.Body.Close()
			resp.Body.Close()
			cancel()
		}
	}
}

// ---- Against a scripted server ----

// reqSeen is what a scripted server received of a request.
type reqSeen struct {
	h        *frame
	body     []byte
	trailers *frame
	dataEnd  bool // END_STREAM came on a DATA frame
}

func TestScriptedRequestOnTheWire(t *testing.T) {
	seen := make(chan reqSeen, 10)
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		sc.eachRequest(func(h *frame) {
			body, tr := sc.body(h.StreamID)
			var dataEnd bool
			for _, f := range sc.frames() {
				if f.Type == http2.FrameData && f.StreamID == h.StreamID && f.endStream() {
					dataEnd = true
				}
			}
			seen <- reqSeen{h, body, tr, dataEnd}
			sc.respond(h.StreamID, "200", []byte("ok"))
		})
	})
	c, _, _ := srv.client(Config{})
	do := func(req *http.Request) reqSeen {
		t.Helper()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAllString(t, resp.Body); got != "ok" {
			t.Fatalf("body %q", got)
		}
		resp.Body.Close()
		return recv(t, seen)
	}
	fields := func(f *frame) string {
		var s []string
		for _, hf := range f.Fields {
			s = append(s, hf.Name+"="+hf.Value)
		}
		return strings.Join(s, " ")
	}
	pseudoFirst := func(t *testing.T, f *frame) {
		t.Helper()
		regular := false
		for _, hf := range f.Fields {
			if strings.HasPrefix(hf.Name, ":") && regular {
				t.Errorf("pseudo header %s after a regular one: %s", hf.Name, fields(f))
			}
			regular = regular || !strings.HasPrefix(hf.Name, ":")
			if hf.Name != strings.ToLower(hf.Name) {
				t.Errorf("name %q not in lower case", hf.Name)
			}
		}
	}

	t.Run("GET", func(t *testing.T) {
		req := newReq(t, "GET", srv.url("/p/q?r=1&s"), nil)
		req.Host = "example.org"
		req.Header.Set("Connection", "keep-alive, x-foo")
		req.Header.Set("Keep-Alive", "5")
		req.Header.Set("Proxy-Connection", "keep-alive")
		req.Header.Set("Upgrade", "h2c")
		req.Header.Set("Te", "trailers")
		req.Header["X-Mixed-CASE"] = []string{"v1", "v2"}
		r := do(req)
		h := r.h
		pseudoFirst(t, h)
		for name, want := range map[string]string{":method": "GET", ":scheme": "https", ":authority": "example.org", ":path": "/p/q?r=1&s", "user-agent": "Go-http-client/2.0", "te": "trailers"} {
			if got := h.get(name); got != want {
				t.Errorf("%s = %q, want %q (%s)", name, got, want, fields(h))
			}
		}
		for _, name := range []string{"connection", "keep-alive", "proxy-connection", "upgrade", "host", "content-length", "transfer-encoding"} {
			if h.has(name) {
				t.Errorf("sent %s: %s", name, fields(h))
			}
		}
		var mixed []string
		for _, hf := range h.Fields {
			if hf.Name == "x-mixed-case" {
				mixed = append(mixed, hf.Value)
			}
		}
		if strings.Join(mixed, ",") != "v1,v2" {
			t.Errorf("x-mixed-case %q", mixed)
		}
		if !h.endStream() || len(r.body) != 0 {
			t.Errorf("GET: END_STREAM %v, body %q", h.endStream(), r.body)
		}
	})
	t.Run("TE other than trailers", func(t *testing.T) {
		req := newReq(t, "GET", srv.url("/"), nil)
		req.Header.Set("Te", "gzip")
		req.Header.Set("User-Agent", "")
		h := do(req).h
		if h.has("te") || h.has("user-agent") {
			t.Errorf("sent te or user-agent: %s", fields(h))
		}
	})
	t.Run("POST known length", func(t *testing.T) {
		req := newReq(t, "POST", srv.url("/"), strings.NewReader("hello"))
		req.Header.Set("User-Agent", "custom/1")
		r := do(req)
		if r.h.get(":method") != "POST" || r.h.get("content-length") != "5" || r.h.get("user-agent") != "custom/1" {
			t.Errorf("fields %s", fields(r.h))
		}
		if string(r.body) != "hello" || r.h.endStream() || !r.dataEnd {
			t.Errorf("body %q, END_STREAM on HEADERS %v, on DATA %v", r.body, r.h.endStream(), r.dataEnd)
		}
	})
	t.Run("POST no body", func(t *testing.T) {
		r := do(newReq(t, "POST", srv.url("/"), nil))
		if r.h.get("content-length") != "0" || !r.h.endStream() {
			t.Errorf("fields %s, END_STREAM %v", fields(r.h), r.h.endStream())
		}
	})
	t.Run("POST unknown length", func(t *testing.T) {
		data := payload(40000, 9)
		r := do(newReq(t, "POST", srv.url("/"), onlyReader{bytes.NewReader(data)}))
		if r.h.has("content-length") {
			t.Errorf("content-length sent: %s", fields(r.h))
		}
		if !bytes.Equal(r.body, data) || !r.dataEnd {
			t.Errorf("body %d bytes, END_STREAM on DATA %v", len(r.body), r.dataEnd)
		}
	})
	t.Run("trailers", func(t *testing.T) {
		req := newReq(t, "PUT", srv.url("/"), nil)
		req.Trailer = http.Header{"X-T1": nil, "X-T2": nil}
		req.Body = io.NopCloser(&trailerFiller{r: strings.NewReader("body"), h: req.Trailer})
		r := do(req)
		decl := strings.Split(r.h.get("trailer"), ",")
		if len(decl) != 2 || !(decl[0] == "x-t1" && decl[1] == "x-t2" || decl[0] == "x-t2" && decl[1] == "x-t1") {
			t.Errorf("trailer field %q", r.h.get("trailer"))
		}
		if string(r.body) != "body" || r.dataEnd {
			t.Errorf("body %q, END_STREAM on DATA %v", r.body, r.dataEnd)
		}
		if r.trailers == nil || r.trailers.get("x-t1") != "one" || r.trailers.get("x-t2") != "two" || len(r.trailers.Fields) != 2 {
			t.Fatalf("trailers %v", r.trailers)
		}
	})
}

// trailerFiller fills its trailers at EOF.
type trailerFiller struct {
	r io.Reader
	h http.Header
}

func (b *trailerFiller) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.h.Set("X-T1", "one")
		b.h.Set("X-T2", "two")
	}
	return n, err
}

func TestScriptedConcurrentMaxStreams(t *testing.T) {
	const n = 200
	srv := newScriptServer(t, srvOpts{settings: []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 5}}}, func(sc *srvConn, _ int) {
		h := sc.request()
		sc.respond(h.StreamID, "200", []byte("warm"))
		// Answer only when all five slots are taken, so that the client
		// has to use each of them and must never take a sixth.
		var pending []*frame
		for done := 0; done < n; {
			pending = append(pending, sc.request())
			if len(pending) == 5 || done+len(pending) == n {
				for _, p := range pending {
					sc.respond(p.StreamID, "200", []byte(p.get(":path")))
				}
				done += len(pending)
				pending = nil
			}
		}
	})
	c, _, _ := srv.client(Config{})
	getString(t, c, srv.url("/warm"))
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			path := fmt.Sprintf("/r%d", i)
			resp, err := c.Get(srv.url(path))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			if b, err := io.ReadAll(resp.Body); err != nil || string(b) != path {
				errs <- fmt.Errorf("%s: %q, %v", path, b, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if m := srv.firstConn().maxOpenStreams(); m != 5 {
		t.Errorf("at most %d streams open at once, want 5", m)
	}
	if a := srv.accepts.Load(); a != 1 {
		t.Errorf("%d connections", a)
	}
}

// A large download is acknowledged in a few WINDOW_UPDATE frames, and a
// server that keeps strictly to its windows can send all of it.
func TestWindowUpdatesBatched(t *testing.T) {
	data := payload(16<<20, 10)
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		h := sc.request()
		sc.writeHeaders(h.StreamID, false, ":status", "200", "content-length", strconv.Itoa(len(data)))
		if !sc.sendData(h.StreamID, data, true) {
			sc.fatalf("stream reset")
		}
		h = sc.request()
		sc.respond(h.StreamID, "200", []byte("second"))
	})
	c, _, p := srv.client(Config{})
	resp, err := c.Get(srv.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, resp.Body, make([]byte, 32<<10))
	resp.Body.Close()
	if err != nil || n != int64(len(data)) || hex.EncodeToString(h.Sum(nil)) != sum(data) {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	// The second request follows every acknowledgement of the first.
	getString(t, c, srv.url("/2"))
	var conn, stream []uint32
	for _, f := range srv.firstConn().frames() {
		if f.Type != http2.FrameWindowUpdate {
			continue
		}
		if f.StreamID == 0 {
			conn = append(conn, f.Incr)
		} else {
			stream = append(stream, f.Incr)
		}
	}
	if len(conn)+len(stream) >= 20 {
		t.Errorf("%d WINDOW_UPDATE frames for 16 MiB (connection %v, stream %v)", len(conn)+len(stream), conn, stream)
	}
	if len(conn) != 1 || conn[0] != connWindow-65535 {
		t.Errorf("connection WINDOW_UPDATEs %v, want the first one only", conn)
	}
	if len(stream) == 0 {
		t.Errorf("no stream WINDOW_UPDATE")
	}
	for _, inc := range stream {
		if inc < 1<<20 {
			t.Errorf("stream WINDOW_UPDATE of %d bytes: not batched (%v)", inc, stream)
		}
	}
	for _, cc := range poolConns(p) {
		if leak := connWindowLeak(cc); leak != 0 {
			t.Errorf("connection window short by %d", leak)
		}
	}
}

// The client sends its body within the windows the server grants, to the
// byte, and in frames no larger than SETTINGS_MAX_FRAME_SIZE.
func TestRequestBodyFlowControl(t *testing.T) {
	data := payload(200<<10, 11)
	grants := []uint32{1, 10, 999, 16384, 16385, 20000, 65535}
	ready := make(chan struct{})
	srv := newScriptServer(t, srvOpts{
		settings:     []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 0}, {ID: http2.SettingMaxFrameSize, Val: 16384}},
		manualWindow: true,
	}, func(sc *srvConn, _ int) {
		sc.waitAcked(1)
		close(ready)
		h := sc.request()
		id := h.StreamID
		sc.writeWindowUpdate(0, 1<<20)
		var got []byte
		from := 0
		granted := 0
		for _, g := range append(grants, 1<<20) {
			sc.writeWindowUpdate(id, g)
			granted += int(g)
			// The client must use all of it (it has more to send), and no
			// more (the books would show a violation).
			for len(got) < min(granted, len(data)) {
				f, i := sc.next("DATA", from, isType(http2.FrameData, id))
				from = i + 1
				got = append(got, f.Data...)
				if f.endStream() && len(got) != len(data) {
					sc.fatalf("END_STREAM after %d bytes", len(got))
				}
			}
		}
		body, _ := sc.body(id)
		if !bytes.Equal(body, data) || !bytes.Equal(got, data) {
			sc.fatalf("body differs: %d bytes", len(body))
		}
		sc.respond(id, "200", []byte("got it"))
	})
	p := NewPool(Config{})
	cc := srv.dial(p)
	recv(t, ready)
	if got := roundTripString(t, cc, newReq(t, "POST", srv.url("/"), bytes.NewReader(data))); got != "got it" {
		t.Errorf("body %q", got)
	}
}

// A GOAWAY refuses the streams above its last stream ID: net/http sends
// those again on a new connection, and the others complete.
func TestGoAwayRetry(t *testing.T) {
	gotA := make(chan struct{})
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, n int) {
		if n == 1 {
			a := sc.request()
			close(gotA)
			b := sc.request()
			if b.get(":path") != "/b" {
				sc.fatalf("second request %q", b.get(":path"))
			}
			sc.writeGoAway(a.StreamID, http2.ErrCodeNo)
			sc.respond(a.StreamID, "200", []byte("a on 1"))
			if err := sc.waitClosed(); err != io.EOF {
				sc.fatalf("connection 1 ended with %v, want the client to close it", err)
			}
			return
		}
		sc.eachRequest(func(h *frame) {
			body, _ := sc.body(h.StreamID)
			sc.respond(h.StreamID, "200", []byte(fmt.Sprintf("%s %s on %d", h.get(":path"), body, n)))
		})
	})
	c, _, _ := srv.client(Config{})
	type result struct {
		body string
		err  error
	}
	do := func(req *http.Request, ch chan result) {
		resp, err := c.Do(req)
		if err != nil {
			ch <- result{"", err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		ch <- result{string(b), err}
	}
	ra, rb := make(chan result, 1), make(chan result, 1)
	go do(newReq(t, "GET", srv.url("/a"), nil), ra)
	recv(t, gotA)
	go do(newReq(t, "POST", srv.url("/b"), strings.NewReader("bbb")), rb)
	if r := recv(t, ra); r.err != nil || r.body != "a on 1" {
		t.Errorf("a: %q, %v", r.body, r.err)
	}
	if r := recv(t, rb); r.err != nil || r.body != "/b bbb on 2" {
		t.Errorf("b: %q, %v", r.body, r.err)
	}
	if n := srv.accepts.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	// The first connection's handler returns once the client has closed it.
	srv.waitHandlers(1)
}

// A stream the server refuses is sent again.
func TestRefusedStreamRetried(t *testing.T) {
	for _, warm := range []bool{false, true} {
		t.Run(fmt.Sprintf("warm=%v", warm), func(t *testing.T) {
			var refused atomic.Int32
			srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, n int) {
				sc.eachRequest(func(h *frame) {
					if h.get(":path") == "/refuse" && refused.Add(1) == 1 {
						sc.writeRST(h.StreamID, http2.ErrCodeRefusedStream)
						return
					}
					body, _ := sc.body(h.StreamID)
					sc.respond(h.StreamID, "200", []byte(fmt.Sprintf("%s %s", h.get(":path"), body)))
				})
			})
			c, _, _ := srv.client(Config{})
			if warm {
				getString(t, c, srv.url("/warm"))
			}
			resp, err := c.Post(srv.url("/refuse"), "text/plain", strings.NewReader("xyz"))
			if err != nil {
				t.Fatal(err)
			}
			if got := readAllString(t, resp.Body); got != "/refuse xyz" {
				t.Errorf("body %q", got)
			}
			resp.Body.Close()
			if n := refused.Load(); n != 2 {
				t.Errorf("server saw the request %d times, want 2", n)
			}
		})
	}
}

func TestCancelWhileWaitingForHeaders(t *testing.T) {
	got := make(chan uint32, 1)
	codes := make(chan http2.ErrCode, 1)
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		h := sc.request()
		got <- h.StreamID
		codes <- sc.waitReset(h.StreamID)
		h = sc.request()
		sc.respond(h.StreamID, "200", []byte("after"))
	})
	c, _, _ := srv.client(Config{})
	cause := errors.New("gave up")
	ctx, cancel := context.WithCancelCause(context.Background())
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Do(newReq(t, "GET", srv.url("/"), nil).WithContext(ctx))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	recv(t, got)
	cancel(cause)
	select {
	case err := <-errc:
		if !errors.Is(err, cause) && !errors.Is(err, context.Canceled) {
			t.Errorf("RoundTrip: %v, want the cancellation", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("RoundTrip did not return after cancellation")
	}
	if code := recv(t, codes); code != http2.ErrCodeCancel {
		t.Errorf("RST_STREAM %v, want CANCEL", code)
	}
	if got := getString(t, c, srv.url("/")); got != "after" {
		t.Errorf("body %q", got)
	}
	if n := srv.accepts.Load(); n != 1 {
		t.Errorf("%d connections", n)
	}
}

// cancellableGet sends a GET to srv with a context the caller cancels,
// and returns its response, whose body is closed at the end of the test.
func cancellableGet(t *testing.T, srv *scriptServer) (*http.Response, context.CancelFunc) {
	t.Helper()
	c, _, _ := srv.client(Config{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	resp, err := c.Do(newReq(t, "GET", srv.url("/"), nil).WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, cancel
}

func TestCancelMidBody(t *testing.T) {
	codes := make(chan http2.ErrCode, 1)
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		h := sc.request()
		sc.writeHeaders(h.StreamID, false, ":status", "200")
		sc.sendData(h.StreamID, make([]byte, 1000), false)
		codes <- sc.waitReset(h.StreamID)
	})
	resp, cancel := cancellableGet(t, srv)
	if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	cancel()
	n, err := io.Copy(io.Discard, resp.Body)
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel: %d bytes, %v", n, err)
	}
	if code := recv(t, codes); code != http2.ErrCodeCancel {
		t.Errorf("RST_STREAM %v, want CANCEL", code)
	}
}

// Closing a body early resets its stream; data the server sent meanwhile
// is given back to the connection window.
func TestBodyCloseEarly(t *testing.T) {
	big := payload(3<<20, 12)
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		sc.eachRequest(func(h *frame) {
			id := h.StreamID
			switch h.get(":path") {
			case "/close":
				sc.writeHeaders(id, false, ":status", "200", "content-length", strconv.Itoa(len(big)))
				sc.sendData(id, big[:1000], false)
				if code := sc.waitReset(id); code != http2.ErrCodeCancel {
					sc.fatalf("RST_STREAM %v, want CANCEL", code)
				}
				// Data in flight when the reset arrived.
				for range 10 {
					sc.writeData(id, false, make([]byte, 16384))
				}
			case "/full":
				sc.writeHeaders(id, false, ":status", "200", "content-length", strconv.Itoa(len(big)))
				sc.sendData(id, big, true)
			default:
				sc.respond(id, "200", []byte("small"))
			}
		})
	})
	c, _, p := srv.client(Config{})
	for range 4 {
		resp, err := c.Get(srv.url("/close"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		if err := resp.Body.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	b, err := getBytes(t, c, srv.url("/full"))
	if err != nil || !bytes.Equal(b, big) {
		t.Fatalf("full body: %d bytes, %v", len(b), err)
	}
	getString(t, c, srv.url("/small"))
	conns := poolConns(p)
	if len(conns) != 1 || srv.accepts.Load() != 1 {
		t.Fatalf("%d pooled connections, %d accepted", len(conns), srv.accepts.Load())
	}
	if leak := connWindowLeak(conns[0]); leak != 0 {
		t.Errorf("connection window short by %d bytes", leak)
	}
}

func Test1xx(t *testing.T) {
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		sc.eachRequest(func(h *frame) {
			id := h.StreamID
			path := h.get(":path")
			switch path {
			case "/103":
				sc.writeHeaders(id, false, ":status", "103", "link", "</a.css>; rel=preload")
			case "/100":
				sc.writeHeaders(id, false, ":status", "100")
			case "/five", "/six":
				n := 5
				if path == "/six" {
					n = 6
				}
				for range n {
					sc.writeHeaders(id, false, ":status", "103", "link", "</b>")
				}
			case "/end":
				sc.writeHeaders(id, true, ":status", "103")
				return
			}
			sc.respond(id, "200", []byte("final"))
		})
	})
	c, _, _ := srv.client(Config{})
	get := func(path string, trace *httptrace.ClientTrace) (string, error) {
		ctx := context.Background()
		if trace != nil {
			ctx = httptrace.WithClientTrace(ctx, trace)
		}
		resp, err := c.Do(newReq(t, "GET", srv.url(path), nil).WithContext(ctx))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("status %d", resp.StatusCode)
		}
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	t.Run("103 hook", func(t *testing.T) {
		var codes []int
		var link string
		body, err := get("/103", &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			codes = append(codes, code)
			link = h.Get("Link")
			return nil
		}})
		if err != nil || body != "final" {
			t.Fatalf("%q, %v", body, err)
		}
		if len(codes) != 1 || codes[0] != 103 || link != "</a.css>; rel=preload" {
			t.Errorf("Got1xxResponse saw %v, link %q", codes, link)
		}
	})
	t.Run("100", func(t *testing.T) {
		var n int
		body, err := get("/100", &httptrace.ClientTrace{Got100Continue: func() { n++ }})
		if err != nil || body != "final" || n != 1 {
			t.Errorf("%q, %v, Got100Continue %d times", body, err, n)
		}
	})
	t.Run("five", func(t *testing.T) {
		if body, err := get("/five", nil); err != nil || body != "final" {
			t.Errorf("%q, %v", body, err)
		}
	})
	t.Run("six", func(t *testing.T) {
		_, err := get("/six", nil)
		mustContain(t, err, "too many 1xx")
	})
	t.Run("six with hook", func(t *testing.T) {
		n := 0
		body, err := get("/six", &httptrace.ClientTrace{Got1xxResponse: func(int, textproto.MIMEHeader) error { n++; return nil }})
		if err != nil || body != "final" || n != 6 {
			t.Errorf("%q, %v, hook called %d times", body, err, n)
		}
	})
	t.Run("hook error", func(t *testing.T) {
		stop := errors.New("no hints, thanks")
		_, err := get("/103", &httptrace.ClientTrace{Got1xxResponse: func(int, textproto.MIMEHeader) error { return stop }})
		if !errors.Is(err, stop) {
			t.Errorf("got %v, want the hook's error", err)
		}
	})
	t.Run("END_STREAM", func(t *testing.T) {
		_, err := get("/end", nil)
		mustContain(t, err, "1xx informational response with END_STREAM")
	})
	// All on one connection, whose state survived the failures.
	if body, err := get("/103", nil); err != nil || body != "final" {
		t.Errorf("after: %q, %v", body, err)
	}
	if n := srv.accepts.Load(); n != 1 {
		t.Errorf("%d connections", n)
	}
}

func TestPingAndSettingsAcked(t *testing.T) {
	done := make(chan struct{})
	srv := newScriptServer(t, srvOpts{settings: []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 10}}}, func(sc *srvConn, _ int) {
		defer close(done)
		h := sc.request()
		sc.waitAcked(1)
		data := [8]byte{'h', '2', '-', 'p', 'i', 'n', 'g', '!'}
		sc.writeFrame(func(fr *http2.Framer) error { return fr.WritePing(false, data) })
		// An unsolicited ACK is ignored.
		sc.writeFrame(func(fr *http2.Framer) error { return fr.WritePing(true, [8]byte{9}) })
		sc.writeFrame(func(fr *http2.Framer) error {
			return fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 20}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100000})
		})
		sc.waitAcked(2)
		ack := sc.await("PING ack", func(f *frame) bool { return f.Type == http2.FramePing })
		if !ack.isAck() || string(ack.Data) != string(data[:]) || ack.StreamID != 0 {
			sc.fatalf("PING answer %v %q", ack, ack.Data)
		}
		sc.respond(h.StreamID, "200", []byte("pong"))
		h = sc.request()
		sc.respond(h.StreamID, "200", []byte("again"))
		sc.waitClosed()
		pings := 0
		for _, f := range sc.frames() {
			if f.Type == http2.FramePing {
				pings++
			}
		}
		if pings != 1 {
			sc.fatalf("%d PING frames from the client, want 1", pings)
		}
	})
	p := NewPool(Config{})
	cc := srv.dial(p)
	for _, want := range []string{"pong", "again"} {
		if got := roundTripString(t, cc, newReq(t, "GET", srv.url("/"), nil)); got != want {
			t.Errorf("body %q", got)
		}
	}
	cc.close()
	recv(t, done)
}

// Idle connections close at IdleTimeout, counted from their last stream.
func TestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		p := NewPool(Config{IdleTimeout: 30 * time.Second})
		cc, sc := pipeConn(t, p, srvOpts{waitForever: true})
		defer closeAll(cc, sc)
		go func() {
			sc.eachRequest(func(h *frame) {
				sc.respond(h.StreamID, "200", []byte("ok"))
			})
		}()
		get := func() {
			t.Helper()
			if got := roundTripString(t, cc, newReq(t, "GET", "https://example.com/", nil)); got != "ok" {
				t.Fatalf("body %q", got)
			}
		}
		open := func(want bool) {
			t.Helper()
			synctest.Wait()
			err := sc.readErrNow()
			if want && (err != nil || cc.state() != stateFree || len(poolConns(p)) != 1) {
				t.Fatalf("at %v: closed (%v), state %v", time.Since(t0), err, cc.state())
			}
			if !want && (err != io.EOF || cc.state() != stateDone || len(poolConns(p)) != 0) {
				t.Fatalf("at %v: server read %v, state %v, %d pooled", time.Since(t0), err, cc.state(), len(poolConns(p)))
			}
		}
		time.Sleep(20 * time.Second)
		open(true)
		get() // at 20s
		time.Sleep(29 * time.Second)
		open(true)
		get() // at 49s
		time.Sleep(30*time.Second - time.Nanosecond)
		open(true)
		time.Sleep(time.Nanosecond)
		open(false)
	})
}

func TestIdleTimeoutUnused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(Config{IdleTimeout: time.Minute})
		cc, sc := pipeConn(t, p, srvOpts{waitForever: true})
		defer closeAll(cc, sc)
		time.Sleep(time.Minute - time.Millisecond)
		synctest.Wait()
		if err := sc.readErrNow(); err != nil {
			t.Fatalf("closed early: %v", err)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if err := sc.readErrNow(); err != io.EOF {
			t.Fatalf("server read %v, want EOF", err)
		}
		_, err := cc.RoundTrip(newReq(t, "GET", "https://example.com/", nil))
		if !isRetryable(err) {
			t.Errorf("request on the closed connection: %v, want a retryable error", err)
		}
	})
}

// tr.CloseIdleConnections reaches the pool: it closes the connection
// without streams, and leaves the busy one alone.
func TestCloseIdleConnectionsScripted(t *testing.T) {
	aClosed := make(chan error, 1)
	a := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		h := sc.request()
		sc.respond(h.StreamID, "200", []byte("a"))
		aClosed <- sc.waitClosed()
	})
	release := make(chan struct{})
	bDone := make(chan struct{})
	b := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		defer close(bDone)
		h := sc.request()
		sc.writeHeaders(h.StreamID, false, ":status", "200")
		select {
		case <-release:
		case <-time.After(waitTimeout):
			sc.fatalf("not released")
		}
		sc.sendData(h.StreamID, []byte("b"), true)
		h = sc.request()
		sc.respond(h.StreamID, "200", []byte("b again"))
		if err := sc.waitClosed(); err != io.EOF {
			sc.fatalf("connection ended with %v", err)
		}
	})
	c, tr, p := a.client(Config{})
	getString(t, c, a.url("/"))
	waitIdle(t, poolConns(p)[0])
	resp, err := c.Get(b.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	if err := recv(t, aClosed); err != io.EOF {
		t.Errorf("idle connection: server read %v, want EOF", err)
	}
	close(release)
	if got := readAllString(t, resp.Body); got != "b" {
		t.Errorf("body %q", got)
	}
	resp.Body.Close()
	if got := getString(t, c, b.url("/")); got != "b again" {
		t.Errorf("body %q", got)
	}
	if n := b.accepts.Load(); n != 1 {
		t.Errorf("busy server: %d connections, want 1", n)
	}
	if n := len(poolConns(p)); n != 1 {
		t.Errorf("%d pooled connections, want 1", n)
	}
	p.Close()
	recv(t, bDone)
}

// Pool.Close closes a busy connection once its last stream ends.
func TestPoolCloseBusy(t *testing.T) {
	release := make(chan struct{})
	closed := make(chan error, 1)
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		h := sc.request()
		sc.writeHeaders(h.StreamID, false, ":status", "200")
		sc.sendData(h.StreamID, []byte("part 1, "), false)
		select {
		case <-release:
		case <-time.After(waitTimeout):
			sc.fatalf("not released")
		}
		sc.sendData(h.StreamID, []byte("part 2"), true)
		closed <- sc.waitClosed()
	})
	p := NewPool(Config{})
	cc := srv.dial(p)
	resp, err := cc.RoundTrip(newReq(t, "GET", srv.url("/"), nil))
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := p.RoundTrip(newReq(t, "GET", srv.url("/"), nil)); err != http.ErrSkipAltProtocol {
		t.Errorf("closed pool's RoundTrip: %v, want ErrSkipAltProtocol", err)
	}
	if len(poolConns(p)) != 1 || cc.state() == stateDone {
		t.Errorf("busy connection closed by Pool.Close: state %v", cc.state())
	}
	close(release)
	if got := readAllString(t, resp.Body); got != "part 1, part 2" {
		t.Errorf("body %q", got)
	}
	resp.Body.Close()
	if err := recv(t, closed); err != io.EOF {
		t.Errorf("server read %v, want EOF", err)
	}
	if cc.state() != stateDone {
		t.Errorf("state %v", cc.state())
	}
}

func TestHugeHeadersContinuation(t *testing.T) {
	cookie := hex.EncodeToString(payload(20<<10, 13)) // 40 KB
	respHeader := hex.EncodeToString(payload(20<<10, 14))
	seen := make(chan *frame, 1)
	srv := newScriptServer(t, srvOpts{settings: []http2.Setting{{ID: http2.SettingMaxFrameSize, Val: 16384}}}, func(sc *srvConn, _ int) {
		sc.eachRequest(func(h *frame) {
			seen <- h
			sc.respond(h.StreamID, "200", []byte("ok"), "x-big", respHeader)
		})
	})
	c, _, _ := srv.client(Config{})
	for i := range 2 {
		req := newReq(t, "GET", srv.url("/"), nil)
		req.Header.Set("Cookie", cookie)
		req.Header.Set("X-After", "after")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("X-Big"); got != respHeader {
			t.Errorf("response header: %d bytes, want %d", len(got), len(respHeader))
		}
		readAllString(t, resp.Body)
		resp.Body.Close()
		h := recv(t, seen)
		if h.Conts < 1 {
			t.Errorf("request %d: %d CONTINUATION frames", i, h.Conts)
		}
		if h.get("cookie") != cookie || h.get("x-after") != "after" {
			t.Errorf("request %d: server decoded a cookie of %d bytes, x-after %q", i, len(h.get("cookie")), h.get("x-after"))
		}
	}
}

// A request over the server's SETTINGS_MAX_HEADER_LIST_SIZE fails before
// anything is sent, and leaves the HPACK state whole.
func TestRequestHeaderListTooLarge(t *testing.T) {
	seen := make(chan *frame, 10)
	srv := newScriptServer(t, srvOpts{settings: []http2.Setting{{ID: http2.SettingMaxHeaderListSize, Val: 2000}}}, func(sc *srvConn, _ int) {
		sc.eachRequest(func(h *frame) {
			seen <- h
			sc.respond(h.StreamID, "200", []byte("ok"))
		})
	})
	c, _, _ := srv.client(Config{})
	do := func(extra ...string) error {
		req := newReq(t, "GET", srv.url("/"), nil)
		req.Header.Set("X-Same", "same value")
		req.Header.Set("X-Other", "o")
		for i := 0; i+1 < len(extra); i += 2 {
			req.Header.Set(extra[i], extra[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		readAllString(t, resp.Body)
		resp.Body.Close()
		return nil
	}
	check := func(h *frame, extra ...string) {
		t.Helper()
		want := map[string]string{"x-same": "same value", "x-other": "o", ":path": "/"}
		for i := 0; i+1 < len(extra); i += 2 {
			want[extra[i]] = extra[i+1]
		}
		for k, v := range want {
			if got := h.get(k); got != v {
				t.Errorf("server decoded %s = %q, want %q", k, got, v)
			}
		}
	}
	if err := do(); err != nil {
		t.Fatal(err)
	}
	check(recv(t, seen))
	big := strings.Repeat("b", 3000)
	err := do("X-Big", big, "X-New", "new")
	mustContain(t, err, "request header list larger than peer's advertised limit")
	if err := do("X-New", "new"); err != nil {
		t.Fatal(err)
	}
	h := recv(t, seen)
	check(h, "x-new", "new")
	if h.has("x-big") {
		t.Errorf("x-big reached the server")
	}
	if err := do("X-New", "new"); err != nil {
		t.Fatal(err)
	}
	check(recv(t, seen), "x-new", "new")
	if len(seen) != 0 || srv.accepts.Load() != 1 {
		t.Errorf("%d more requests seen, %d connections", len(seen), srv.accepts.Load())
	}
}

// A response header section over Config.MaxHeaderListSize fails its
// request; the connection goes on.
func TestResponseHeaderListTooLarge(t *testing.T) {
	v1 := strings.Repeat("1", 1500)
	v2 := strings.Repeat("2", 1500)
	v3 := strings.Repeat("3", 1500)
	codes := make(chan http2.ErrCode, 1)
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		h := sc.request()
		sc.writeHeaders(h.StreamID, false, ":status", "200", "x-1", v1, "x-2", v2, "x-3", v3)
		codes <- sc.waitReset(h.StreamID)
		h = sc.request()
		// x-3 is in the dynamic table of both sides, if the client
		// decoded the block it refused.
		sc.respond(h.StreamID, "200", []byte("ok"), "x-3", v3)
	})
	c, _, _ := srv.client(Config{MaxHeaderListSize: 4096})
	_, err := c.Get(srv.url("/"))
	mustContain(t, err, "response header list larger than advertised limit")
	if code := recv(t, codes); code == http2.ErrCodeNo {
		t.Errorf("RST_STREAM %v", code)
	}
	resp, err := c.Get(srv.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-3") != v3 {
		t.Errorf("x-3 decoded as %d bytes", len(resp.Header.Get("X-3")))
	}
	readAllString(t, resp.Body)
	resp.Body.Close()
}

func TestExpectContinueWaitsFor100(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(Config{ExpectContinueTimeout: time.Hour})
		cc, sc := pipeConn(t, p, srvOpts{})
		defer closeAll(cc, sc)
		var got100 atomic.Int32
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{Got100Continue: func() { got100.Add(1) }})
		req := newReq(t, "PUT", "https://example.com/up", strings.NewReader("payload")).WithContext(ctx)
		req.Header.Set("Expect", "100-continue")
		done := goRoundTrip(cc, req)
		h := sc.request()
		if h.get("expect") != "100-continue" || h.get("content-length") != "7" || h.endStream() {
			t.Fatalf("request: expect %q, content-length %q, END_STREAM %v", h.get("expect"), h.get("content-length"), h.endStream())
		}
		synctest.Wait()
		for _, f := range sc.frames() {
			if f.Type == http2.FrameData {
				t.Fatalf("DATA before 100 Continue: %v", f)
			}
		}
		t0 := time.Now()
		sc.writeHeaders(h.StreamID, false, ":status", "100")
		body, _ := sc.body(h.StreamID)
		if string(body) != "payload" || time.Since(t0) != 0 {
			t.Errorf("body %q after %v", body, time.Since(t0))
		}
		sc.respond(h.StreamID, "201", []byte("made"))
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.resp.StatusCode != 201 || readAllString(t, r.resp.Body) != "made" || got100.Load() != 1 {
			t.Errorf("status %d, Got100Continue %d times", r.resp.StatusCode, got100.Load())
		}
		r.resp.Body.Close()
	})
}

// A final response before the 100 means the body is not sent.
func TestExpectContinueFinalFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(Config{ExpectContinueTimeout: time.Hour})
		cc, sc := pipeConn(t, p, srvOpts{})
		defer closeAll(cc, sc)
		body := &closeTracker{Reader: strings.NewReader("never sent")}
		req := newReq(t, "PUT", "https://example.com/up", nil)
		req.Body, req.ContentLength = body, 10
		req.Header.Set("Expect", "100-continue")
		done := make(chan error, 1)
		go func() {
			resp, err := cc.RoundTrip(req)
			if err == nil {
				if resp.StatusCode != 417 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				resp.Body.Close()
			}
			done <- err
		}()
		h := sc.request()
		synctest.Wait()
		sc.respond(h.StreamID, "417", nil)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		sc.await("the end of the request", func(f *frame) bool {
			return f.StreamID == h.StreamID && (f.endStream() || f.Type == http2.FrameRSTStream)
		})
		synctest.Wait()
		for _, f := range sc.frames() {
			if f.Type == http2.FrameData && len(f.Data) > 0 {
				t.Errorf("body sent after a final response: %v", f)
			}
		}
		if !body.closed.Load() {
			t.Errorf("request body not closed")
		}
	})
}

// Without a 100, the body goes after ExpectContinueTimeout.
func TestExpectContinueTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(Config{ExpectContinueTimeout: 2 * time.Second})
		cc, sc := pipeConn(t, p, srvOpts{})
		defer closeAll(cc, sc)
		req := newReq(t, "PUT", "https://example.com/up", strings.NewReader("late"))
		req.Header.Set("Expect", "100-continue")
		done := make(chan error, 1)
		go func() {
			resp, err := cc.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		t0 := time.Now()
		h := sc.request()
		body, _ := sc.body(h.StreamID)
		if string(body) != "late" || time.Since(t0) != 2*time.Second {
			t.Errorf("body %q after %v, want after 2s", body, time.Since(t0))
		}
		sc.respond(h.StreamID, "200", nil)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// Data that arrives while a cancelled stream drops its unread body is
// dropped too: a Read never returns bytes from after the gap, which would
// pass for the bytes dropped (a download would write them at the wrong
// offset).
func TestCancelNeverSkipsData(t *testing.T) {
	early := make(chan struct{})
	late := make(chan struct{})
	arrived := make(chan struct{})
	codes := make(chan http2.ErrCode, 1)
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		h := sc.request()
		sc.writeHeaders(h.StreamID, false, ":status", "200")
		// The client has read each DATA frame once it answers the PING
		// that follows it.
		sendAndPing := func(data string) {
			sc.sendData(h.StreamID, []byte(data), false)
			var p [8]byte
			copy(p[:], data)
			sc.writeFrame(func(fr *http2.Framer) error { return fr.WritePing(false, p) })
			sc.await("the PING's ACK", func(f *frame) bool {
				return f.Type == http2.FramePing && f.isAck() && bytes.Equal(f.Data, p[:])
			})
		}
		sendAndPing("early")
		early <- struct{}{}
		<-late
		sendAndPing("late!")
		arrived <- struct{}{}
		codes <- sc.waitReset(h.StreamID)
	})
	testHookCancelDropped = func() {
		late <- struct{}{}
		<-arrived
	}
	defer func() { testHookCancelDropped = nil }()
	resp, cancel := cancellableGet(t, srv)
	recv(t, early) // unread when the stream is cancelled
	cancel()
	if code := recv(t, codes); code != http2.ErrCodeCancel {
		t.Errorf("RST_STREAM %v, want CANCEL", code)
	}
	got, err := io.ReadAll(resp.Body)
	if !strings.HasPrefix("earlylate!", string(got)) || !errors.Is(err, context.Canceled) {
		t.Errorf("read %q, %v after the cancellation; want a prefix of %q and the cancellation", got, err, "earlylate!")
	}
}
