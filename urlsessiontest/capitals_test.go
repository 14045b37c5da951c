package urlsessiontest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
)

func capitalsServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(Capitals())
	t.Cleanup(s.Close)
	return s
}

// plainClient neither follows redirects nor decodes bodies.
func plainClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

type result struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, method, url string, body io.Reader, header ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	r, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	if cl := r.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(b)) && method != "HEAD" {
		t.Fatalf("%s %s: Content-Length %s for %d bytes", method, url, cl, len(b))
	}
	return result{r.StatusCode, r.Header, string(b)}
}

// rawResponse sends req verbatim to the server and parses the response.
func rawResponse(t *testing.T, s *httptest.Server, req string) (*http.Response, string) {
	t.Helper()
	raw := exchange(t, s.Listener.Addr().String(), req)
	r, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("parsing %q: %v", raw, err)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r, string(b)
}

func TestCapitalsFixedBodies(t *testing.T) {
	s := capitalsServer(t)
	c := plainClient()
	for path, want := range map[string]string{
		"/Nepal":       "Kathmandu",
		"/Peru":        "Lima",
		"/Italy":       "Rome",
		"/USA":         "Washington, D.C.",
		"/UK":          "London",
		"/country.txt": "A country is a region that is identified as a distinct national entity in political geography",
	} {
		r := do(t, c, "GET", s.URL+path, nil)
		if r.status != 200 || r.body != want || r.header.Get("Content-Type") != "text/plain; charset=utf-8" ||
			r.header.Get("Content-Length") != strconv.Itoa(len(want)) {
			t.Errorf("GET %s = %d %q %v", path, r.status, r.body, r.header)
		}
	}
	if r := do(t, c, "HEAD", s.URL+"/Nepal", nil); r.status != 200 || r.body != "" || r.header.Get("Content-Length") != "9" {
		t.Errorf("HEAD /Nepal = %d %q %v", r.status, r.body, r.header)
	}
	if r := do(t, c, "POST", s.URL+"/Peru", strings.NewReader("x")); r.status != 200 || r.body != "Lima" {
		t.Errorf("POST /Peru = %d %q", r.status, r.body)
	}
}

func TestCapitalsUnknown(t *testing.T) {
	s := capitalsServer(t)
	c := plainClient()
	for _, p := range []string{"/", "/nepal", "/Nepal/", "/abc", "/199", "/099", "/0302", "/30", "/redirect/", "/redirect/x",
		"/redirect/-1", "/bytes/", "/bytes/-1", "/bytes/+5", "/bytes/99999999999999999999", "/get/x"} {
		if r := do(t, c, "GET", s.URL+p, nil); r.status != 404 || r.body != "404 page not found\n" {
			t.Errorf("GET %s = %d %q, want 404", p, r.status, r.body)
		}
	}
}

func TestCapitalsJSONBody(t *testing.T) {
	s := capitalsServer(t)
	c := plainClient()
	type jsonBody struct {
		URI     string            `json:"uri"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	r := do(t, c, "POST", s.URL+"/jsonBody?a=b%20c", strings.NewReader("hi there"), "x-test", "one", "X-Test", "two")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, header %v", r.status, r.header)
	}
	var j jsonBody
	if err := json.Unmarshal([]byte(r.body), &j); err != nil {
		t.Fatalf("%v in %q", err, r.body)
	}
	if j.URI != "POST /jsonBody?a=b%20c HTTP/1.1" {
		t.Errorf("uri = %q", j.URI)
	}
	if j.Headers["X-Test"] != "one" || j.Headers["Host"] != s.Listener.Addr().String() || j.Headers["Content-Length"] != "8" {
		t.Errorf("headers = %v", j.Headers)
	}
	if b, _ := base64.StdEncoding.DecodeString(j.Body); string(b) != "hi there" {
		t.Errorf("body = %q", j.Body)
	}
	if !strings.HasPrefix(r.body, `{"uri":`) {
		t.Errorf("field order: %s", r.body)
	}

	// A chunked request shows its Transfer-Encoding.
	r = do(t, c, "PUT", s.URL+"/jsonBody", io.MultiReader(strings.NewReader("ab")))
	j = jsonBody{}
	json.Unmarshal([]byte(r.body), &j)
	if j.Headers["Transfer-Encoding"] != "chunked" || j.Body != "YWI=" || j.URI != "PUT /jsonBody HTTP/1.1" {
		t.Errorf("chunked: %+v", j)
	}
}

func TestCapitalsEchoHeaders(t *testing.T) {
	s := capitalsServer(t)
	r, body := rawResponse(t, s, "GET /echoHeaders HTTP/1.1\r\nHost: h\r\nZed: 2\r\nabc: 1\r\nAbc: 3\r\nConnection: close\r\n\r\n")
	if want := "Abc: 1, 3\nConnection: close\nHost: h\nZed: 2\n"; r.StatusCode != 200 || body != want {
		t.Fatalf("got %d %q, want %q", r.StatusCode, body, want)
	}
	r, body = rawResponse(t, s, "GET /requestHeaders HTTP/1.1\r\nHost: h\r\nZed: 2\r\nabc: 1\r\nAbc: 3\r\nConnection: close\r\n\r\n")
	if want := `{"Abc":"1, 3","Connection":"close","Host":"h","Zed":"2"}`; body != want || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %q %v, want %q", body, r.Header, want)
	}
}

func TestCapitalsEcho(t *testing.T) {
	s := capitalsServer(t)
	c := plainClient()
	r := do(t, c, "POST", s.URL+"/echo", strings.NewReader(`{"a":1}`), "Content-Type", "application/x-test")
	if r.status != 200 || r.body != `{"a":1}` || r.header.Get("Content-Type") != "application/x-test" {
		t.Errorf("with type: %d %q %v", r.status, r.body, r.header)
	}
	r = do(t, c, "POST", s.URL+"/echo", strings.NewReader("<html>"))
	if _, ok := r.header["Content-Type"]; ok || r.body != "<html>" {
		t.Errorf("without type: %q %v", r.body, r.header)
	}
	r = do(t, c, "GET", s.URL+"/echo-query?a=1&b=%20x", nil)
	if r.body != "a=1&b=%20x" {
		t.Errorf("echo-query: %q", r.body)
	}
	if r = do(t, c, "GET", s.URL+"/echo-query", nil); r.body != "" || r.status != 200 {
		t.Errorf("echo-query without query: %d %q", r.status, r.body)
	}
}

func TestCapitalsUpload(t *testing.T) {
	s := capitalsServer(t)
	c := plainClient()
	r := do(t, c, "POST", s.URL+"/upload", bytes.NewReader(make([]byte, 12345)))
	if r.body != "upload: 12345 bytes" || r.header.Get("X-Transfer-Encoding") != "" {
		t.Errorf("sized: %q %v", r.body, r.header)
	}
	if _, ok := r.header["X-Transfer-Encoding"]; !ok {
		t.Errorf("sized: no X-Transfer-Encoding header")
	}
	r = do(t, c, "PUT", s.URL+"/upload", io.LimitReader(endless{}, 70000))
	if r.body != "upload: 70000 bytes" || r.header.Get("X-Transfer-Encoding") != "chunked" {
		t.Errorf("chunked: %q %v", r.body, r.header)
	}
}

func TestCapitalsEncodings(t *testing.T) {
	s := capitalsServer(t)
	c := plainClient()
	for _, tc := range []struct {
		path, enc string
		decode    func(io.Reader) (io.Reader, error)
	}{
		{"/gzipped-response", "gzip", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{"/brotli-response", "br", func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }},
		{"/deflate-response", "deflate", func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }},
	} {
		r := do(t, c, "GET", s.URL+tc.path, nil)
		if r.status != 200 || r.header.Get("Content-Encoding") != tc.enc || r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
			t.Errorf("%s: %d %v", tc.path, r.status, r.header)
			continue
		}
		d, err := tc.decode(strings.NewReader(r.body))
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if b, err := io.ReadAll(d); err != nil || string(b) != "Hello World!" {
			t.Errorf("%s decodes to %q, %v", tc.path, b, err)
		}
	}
	// net/http's own transparent gzip decoding works on it too.
	r := do(t, &http.Client{}, "GET", s.URL+"/gzipped-response", nil)
	if r.body != "Hello World!" {
		t.Errorf("transparent gzip: %q", r.body)
	}
}

func TestCapitalsEmptyPost(t *testing.T) {
	s := capitalsServer(t)
	c := plainClient()
	if r := do(t, c, "POST", s.URL+"/emptyPost", nil); r.status != 200 || r.body != "" || r.header.Get("Content-Length") != "0" {
		t.Errorf("without Content-Type: %d %q %v", r.status, r.body, r.header)
	}
	if r := do(t, c, "POST", s.URL+"/emptyPost", nil, "Content-Type", "text/plain"); r.status != 404 || r.body != "" {
		t.Errorf("with Content-Type: %d %q", r.status, r.body)
	}
}

func TestCapitalsMethods(t *testing.T) {
	s := capitalsServer(t)
	c := plainClient()
	methods := []string{"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"}
	for _, route := range methods[:5] {
		path := "/" + strings.ToLower(route)
		for _, m := range methods {
			r := do(t, c, m, s.URL+path, nil)
			switch {
			case m == route && m == "HEAD":
				if r.status != 200 || r.header.Get("Content-Length") != "2" {
					t.Errorf("%s %s = %d %v", m, path, r.status, r.header)
				}
			case m == route:
				if r.status != 200 || r.body != "OK" {
					t.Errorf("%s %s = %d %q", m, path, r.status, r.body)
				}
			default:
				if r.status != 405 || r.body != "" || r.header.Get("Allow") != route {
					t.Errorf("%s %s = %d %q %v", m, path, r.status, r.body, r.header)
				}
			}
		}
	}
}

func TestCapitalsBytes(t *testing.T) {
	if got := PatternBytes(3); !bytes.Equal(got, []byte{3, 10, 17}) {
		t.Fatalf("PatternBytes(3) = %v", got)
	}
	if got := PatternBytes(300); got[256] != 3 || got[299] != byte((299*7+3)%256) {
		t.Fatalf("PatternBytes wraps wrong: %v", got[256:])
	}
	s := capitalsServer(t)
	c := plainClient()
	for _, n := range []int{0, 1, 1000, 32 << 10, 100000} {
		r := do(t, c, "GET", s.URL+"/bytes/"+strconv.Itoa(n), nil)
		if r.status != 200 || r.body != string(PatternBytes(n)) || r.header.Get("Content-Length") != strconv.Itoa(n) ||
			r.header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("/bytes/%d: %d, %d bytes, %v", n, r.status, len(r.body), r.header)
		}
	}
	if r := do(t, c, "HEAD", s.URL+"/bytes/5000000", nil); r.status != 200 || r.header.Get("Content-Length") != "5000000" {
		t.Errorf("HEAD /bytes: %d %v", r.status, r.header)
	}
}

func TestCapitalsStatus(t *testing.T) {
	s := capitalsServer(t)
	c := plainClient()
	for _, code := range []int{300, 301, 302, 303, 307, 308} {
		p := "/" + strconv.Itoa(code)
		r := do(t, c, "GET", s.URL+p, nil)
		if r.status != code || r.header.Get("Location") != "jsonBody" || r.body != "Redirecting to GET jsonBody" {
			t.Errorf("GET %s = %d %q %v", p, r.status, r.body, r.header)
		}
		r = do(t, c, "POST", s.URL+p+"?location=%2FNepal", nil)
		if r.status != code || r.header.Get("Location") != "/Nepal" || r.body != "Redirecting to POST /Nepal" {
			t.Errorf("POST %s = %d %q %v", p, r.status, r.body, r.header)
		}
		r = do(t, c, "HEAD", s.URL+p, nil)
		if r.status != code || r.header.Get("Location") != "jsonBody" || r.body != "" {
			t.Errorf("HEAD %s = %d %q %v", p, r.status, r.body, r.header)
		}
	}
	for _, code := range []int{200, 204, 304, 404, 500, 999} {
		p := "/" + strconv.Itoa(code)
		r := do(t, c, "GET", s.URL+p+"?location=x", nil)
		if r.status != code || r.body != "" || r.header.Get("Location") != "" || r.header.Get("WWW-Authenticate") != "" {
			t.Errorf("GET %s = %d %q %v", p, r.status, r.body, r.header)
		}
	}
	if r := do(t, c, "GET", s.URL+"/401", nil); r.status != 401 || r.header.Get("WWW-Authenticate") != `Basic realm="Fake Relam"` {
		t.Errorf("GET /401 = %d %v", r.status, r.header)
	}

	// Followed by net/http: 302 turns POST into GET, 307 keeps it.
	var final *http.Request
	follow := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
		final = req
		return nil
	}}
	if r := do(t, follow, "POST", s.URL+"/302", strings.NewReader("x")); !strings.Contains(r.body, `"uri":"GET /jsonBody HTTP/1.1"`) || final.URL.Path != "/jsonBody" {
		t.Errorf("following 302: %q", r.body)
	}
	if r := do(t, follow, "POST", s.URL+"/307", strings.NewReader("x")); !strings.Contains(r.body, `"uri":"POST /jsonBody HTTP/1.1"`) || !strings.Contains(r.body, `"body":"eA=="`) {
		t.Errorf("following 307: %q", r.body)
	}
}

func TestCapitalsRedirectChain(t *testing.T) {
	s := capitalsServer(t)
	r := do(t, plainClient(), "GET", s.URL+"/redirect/3", nil)
	if r.status != 302 || r.header.Get("Location") != "/redirect/2" || r.body != "Redirecting to GET /redirect/2" {
		t.Errorf("/redirect/3 = %d %q %v", r.status, r.body, r.header)
	}
	if r := do(t, plainClient(), "GET", s.URL+"/redirect/0", nil); r.status != 302 || r.header.Get("Location") != "/jsonBody" {
		t.Errorf("/redirect/0 = %d %v", r.status, r.header)
	}
	var hops []string
	c := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
		hops = append(hops, req.URL.Path)
		return nil
	}}
	r = do(t, c, "GET", s.URL+"/redirect/3", nil)
	if want := "/redirect/2 /redirect/1 /redirect/0 /jsonBody"; strings.Join(hops, " ") != want || r.status != 200 ||
		!strings.Contains(r.body, `"uri":"GET /jsonBody HTTP/1.1"`) {
		t.Errorf("hops %q (want %q), final %d %q", hops, want, r.status, r.body)
	}
}

func TestCapitalsAuth(t *testing.T) {
	s := capitalsServer(t)
	c := plainClient()
	req, _ := http.NewRequest("GET", s.URL+"/auth/basic", nil)
	req.SetBasicAuth("user", "passwd")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "Authenticated" {
		t.Errorf("good credentials: %d %q", resp.StatusCode, b)
	}
	for _, h := range []string{"", "Basic dXNlcjp3cm9uZw==", "Bearer x"} {
		r := do(t, c, "GET", s.URL+"/auth/basic", nil, "Authorization", h)
		if r.status != 401 || r.body != "" || r.header.Get("WWW-Authenticate") != `Basic realm="Fake Relam"` {
			t.Errorf("Authorization %q: %d %q %v", h, r.status, r.body, r.header)
		}
	}
	resp2, body := rawResponse(t, s, "GET /unauthorized HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if resp2.StatusCode != 401 || body != "" || resp2.Header.Get("Content-Length") != "0" {
		t.Errorf("/unauthorized: %d %q %v", resp2.StatusCode, body, resp2.Header)
	}
	if _, ok := resp2.Header["Www-Authenticate"]; ok {
		t.Errorf("/unauthorized has WWW-Authenticate")
	}
}

func TestCapitalsPause(t *testing.T) {
	s := capitalsServer(t)
	c := plainClient()
	start := time.Now()
	r := do(t, c, "GET", s.URL+"/Nepal", nil, "X-Pause", "0.15")
	if d := time.Since(start); r.body != "Kathmandu" || d < 150*time.Millisecond {
		t.Errorf("paused %v, body %q", d, r.body)
	}
	for _, bad := range []string{"x", "-1", "NaN", "Inf"} {
		if r := do(t, c, "GET", s.URL+"/Nepal", nil, "X-Pause", bad); r.status != 400 {
			t.Errorf("X-Pause %q: %d", bad, r.status)
		}
	}
}

// TestCapitalsPauseCancel checks that a paused handler returns when the
// client goes away, so the server can close promptly.
func TestCapitalsPauseCancel(t *testing.T) {
	s := httptest.NewServer(Capitals())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/Nepal", nil)
	req.Header.Set("X-Pause", "3600")
	tr := &http.Transport{}
	if _, err := (&http.Client{Transport: tr}).Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do = %v, want deadline exceeded", err)
	}
	tr.CloseIdleConnections()
	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("httptest.Server.Close blocked: paused handler did not return")
	}
}
