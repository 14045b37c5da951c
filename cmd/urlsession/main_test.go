package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// result is the outcome of one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\nstdout: " + r.stdout + "\nstderr: " + r.stderr
}

// cli runs the command with stdin and args.
func cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// want fails the test unless r exited with code.
func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got %v", code, r)
	}
	return r
}

func capitals(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(urlsessiontest.Capitals())
	t.Cleanup(s.Close)
	return s
}

func capitalsTLS(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(urlsessiontest.Capitals())
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// jsonBody decodes the answer of the /jsonBody route.
type jsonBody struct {
	URI     string            `json:"uri"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func decodeJSONBody(t *testing.T, s string) jsonBody {
	t.Helper()
	var j jsonBody
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
	return j
}

func (j jsonBody) body(t *testing.T) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(j.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noFiles fails unless dir holds nothing but the names given.
func noFiles(t *testing.T, dir string, but ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !slices.Contains(but, e.Name()) {
			t.Errorf("unexpected file %s", e.Name())
		}
	}
}

// closedPort returns a loopback URL on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/"
}

func TestBodyToStdout(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	r := cli(t, "", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" || r.stderr != "" {
		t.Errorf("got %v", r)
	}
	// A URL without a scheme gets http://.
	r = cli(t, "", strings.TrimPrefix(s.URL, "http://")+"/Peru").want(t, 0)
	if r.stdout != "Lima" {
		t.Errorf("got %v", r)
	}
	// A large body streams through intact.
	r = cli(t, "", s.URL+"/bytes/3000000").want(t, 0)
	if !bytes.Equal([]byte(r.stdout), urlsessiontest.PatternBytes(3000000)) {
		t.Errorf("body of %d bytes differs from the pattern", len(r.stdout))
	}
}

func TestCompressed(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	for _, p := range []string{"/gzipped-response", "/brotli-response", "/deflate-response"} {
		r := cli(t, "", "--compressed", s.URL+p).want(t, 0)
		if r.stdout != "Hello World!" {
			t.Errorf("%s: got %v", p, r)
		}
	}
}

func TestOutputFile(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	// Flags after the URL, as curl users write them.
	r := cli(t, "", s.URL+"/bytes/100000", "-o", out).want(t, 0)
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("got %v", r)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, urlsessiontest.PatternBytes(100000)) {
		t.Errorf("file has %d bytes, not the pattern", len(got))
	}
	noFiles(t, dir, "out")
	// --output - is standard output; -i goes to the file too.
	r = cli(t, "", "--output", "-", s.URL+"/Italy").want(t, 0)
	if r.stdout != "Rome" {
		t.Errorf("got %v", r)
	}
	cli(t, "", "-io", out, s.URL+"/UK").want(t, 0)
	got, _ = os.ReadFile(out)
	if !strings.HasPrefix(string(got), "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(string(got), "\r\n\r\nLondon") {
		t.Errorf("file: %q", got)
	}
}

// TestNotModifiedOutput checks that a 304 makes no output file and leaves
// one that is there as it was, as with curl: a conditional request must
// not truncate the copy it asked about. -i still writes the head into it,
// and -D gets the head.
func TestNotModifiedOutput(t *testing.T) {
	t.Parallel()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "body v1")
	}))
	t.Cleanup(s.Close)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	cond := []string{"-H", `If-None-Match: "v1"`}

	// Nothing there: nothing made, nothing left beside it.
	r := cli(t, "", append(cond, "-w", "%{http_code}", "-o", out, s.URL+"/f")...).want(t, 0)
	if r.stdout != "304" {
		t.Errorf("got %v", r)
	}
	noFiles(t, dir)

	// A file there keeps its content, written through or downloaded.
	writeFile(t, out, "my copy")
	cli(t, "", append(cond, "-o", out, s.URL+"/f")...).want(t, 0)
	cli(t, "", append(cond, "--limit-rate", "1M", "-o", out, s.URL+"/f")...).want(t, 0)
	if got := readFile(t, out); got != "my copy" {
		t.Errorf("the file was changed by a 304: %q", got)
	}
	noFiles(t, dir, "out")

	// -i writes the head into the file; -D gets it too.
	heads := filepath.Join(dir, "heads")
	cli(t, "", append(cond, "-i", "-D", heads, "-o", out, s.URL+"/f")...).want(t, 0)
	if got := readFile(t, out); !strings.HasPrefix(got, "HTTP/1.1 304 Not Modified\r\n") {
		t.Errorf("-i: %q", got)
	}
	if got := readFile(t, heads); !strings.HasPrefix(got, "HTTP/1.1 304 Not Modified\r\n") {
		t.Errorf("-D: %q", got)
	}

	// Without the condition, the body arrives as usual.
	cli(t, "", "-o", out, s.URL+"/f").want(t, 0)
	if got := readFile(t, out); got != "body v1" {
		t.Errorf("got %q", got)
	}
}

func TestOutputFileFailure(t *testing.T) {
	t.Parallel()
	// The connection ends 5 bytes into a 100-byte body.
	short := urlsessiontest.NewServer(urlsessiontest.LyingContentLength(100, "short"))
	t.Cleanup(short.Close)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	r := cli(t, "", "-o", out, short.URL+"/").want(t, 18)
	if !strings.HasPrefix(r.stderr, "urlsession: (-1005) ") {
		t.Errorf("stderr: %q", r.stderr)
	}
	// The output appears only once complete: what arrived, which cannot
	// be continued (no validator), is not kept.
	noFiles(t, dir)
	// Into a file that was there, what arrived stays, as curl leaves it.
	writeFile(t, out, "")
	cli(t, "", "-o", out, short.URL+"/").want(t, 18)
	if got := readFile(t, out); got != "short" {
		t.Errorf("partial file: %q", got)
	}
	os.Remove(out)

	// -f: no file at all.
	s := capitals(t)
	cli(t, "", "-f", "-o", out, s.URL+"/404").want(t, 22)
	noFiles(t, dir)

	// Connection refused: no file.
	cli(t, "", "-o", out, closedPort(t)).want(t, 7)
	noFiles(t, dir)

	// A directory that does not exist: write error.
	r = cli(t, "", "-o", filepath.Join(dir, "missing", "out"), s.URL+"/Nepal").want(t, 23)
	if !strings.HasPrefix(r.stderr, "urlsession: (-3000) cannot create the file") {
		t.Errorf("stderr: %q", r.stderr)
	}
	noFiles(t, dir)
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestStdoutWriteError(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	var errOut bytes.Buffer
	code := run([]string{s.URL + "/bytes/500000"}, strings.NewReader(""), failingWriter{}, &errOut)
	if code != 23 || !strings.Contains(errOut.String(), "(-3003) cannot write to the file: disk full") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestInclude(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	r := cli(t, "", "-i", s.URL+"/Nepal").want(t, 0)
	head, body, ok := strings.Cut(r.stdout, "\r\n\r\n")
	if !ok || body != "Kathmandu" {
		t.Fatalf("got %q", r.stdout)
	}
	if !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\n") || !strings.Contains(head, "\r\nContent-Length: 9") ||
		!strings.Contains(head, "\r\nContent-Type: text/plain; charset=utf-8") {
		t.Errorf("head: %q", head)
	}
	// Redirect hops are shown too, as with curl -iL.
	r = cli(t, "", "-L", "--include", s.URL+"/redirect/1").want(t, 0)
	if n := strings.Count(r.stdout, "HTTP/1.1 302 Found\r\n"); n != 2 || !strings.Contains(r.stdout, "HTTP/1.1 200 OK\r\n") {
		t.Errorf("got %q", r.stdout)
	}
}

// TestDumpHeader: -D writes the head of every response, redirects
// included, to a file or ("-") standard output.
func TestDumpHeader(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	dir := t.TempDir()
	name := filepath.Join(dir, "head")
	r := cli(t, "", "-L", "-D", name, s.URL+"/redirect/1").want(t, 0)
	decodeJSONBody(t, r.stdout)
	got := readFile(t, name)
	heads := strings.Split(got, "\r\n\r\n")
	if len(heads) != 4 || heads[3] != "" || !strings.HasPrefix(heads[0], "HTTP/1.1 302 Found\r\n") ||
		!strings.HasPrefix(heads[1], "HTTP/1.1 302 Found\r\n") || !strings.HasPrefix(heads[2], "HTTP/1.1 200 OK\r\n") ||
		!strings.Contains(heads[2], "\r\nContent-Type: application/json") {
		t.Errorf("head file:\n%q", got)
	}

	// "-" is standard output, before the body.
	r = cli(t, "", "--dump-header", "-", s.URL+"/Nepal").want(t, 0)
	if !strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(r.stdout, "\r\n\r\nKathmandu") {
		t.Errorf("stdout: %q", r.stdout)
	}

	// -f: the head is still written.
	cli(t, "", "-f", "-D", name, s.URL+"/404").want(t, 22)
	if got := readFile(t, name); !strings.HasPrefix(got, "HTTP/1.1 404 Not Found\r\n") || !strings.HasSuffix(got, "\r\n\r\n") {
		t.Errorf("-f: %q", got)
	}

	// No response, no file.
	os.Remove(name)
	cli(t, "", "-D", name, closedPort(t)).want(t, 7)
	noFiles(t, dir)
	// A file that cannot be created is a write error.
	cli(t, "", "-D", filepath.Join(dir, "missing", "head"), s.URL+"/Nepal").want(t, 23)
}

func TestHead(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	// /head answers 200 to HEAD only.
	r := cli(t, "", "-I", s.URL+"/head").want(t, 0)
	if !strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(r.stdout, "\r\n\r\n") ||
		!strings.Contains(r.stdout, "Content-Length: 2\r\n") {
		t.Errorf("got %q", r.stdout)
	}
	r = cli(t, "", "--head", s.URL+"/get").want(t, 0)
	if !strings.HasPrefix(r.stdout, "HTTP/1.1 405 Method Not Allowed\r\n") {
		t.Errorf("got %q", r.stdout)
	}
	cli(t, "", "-I", "-d", "x", s.URL+"/head").want(t, 2)
}

func TestMethodAndData(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	dir := t.TempDir()

	r := cli(t, "", "-d", "a=1", "--data", "b=2", s.URL+"/jsonBody").want(t, 0)
	j := decodeJSONBody(t, r.stdout)
	if j.URI != "POST /jsonBody HTTP/1.1" || j.body(t) != "a=1&b=2" ||
		j.Headers["Content-Type"] != "application/x-www-form-urlencoded" || j.Headers["Content-Length"] != "7" {
		t.Errorf("got %+v", j)
	}

	r = cli(t, "", "-X", "PUT", "-d", "x", s.URL+"/put").want(t, 0)
	if r.stdout != "OK" {
		t.Errorf("-X PUT: %v", r)
	}
	r = cli(t, "", "--request", "DELETE", s.URL+"/delete").want(t, 0)
	if r.stdout != "OK" {
		t.Errorf("--request DELETE: %v", r)
	}

	// -d @file strips CR and LF; --data-binary @file sends the file as is.
	file := filepath.Join(dir, "body")
	if err := os.WriteFile(file, []byte("line1\r\nline2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = cli(t, "", "-d", "@"+file, "-H", "Content-Type: text/plain", s.URL+"/echo").want(t, 0)
	if r.stdout != "line1line2" {
		t.Errorf("-d @file: %q", r.stdout)
	}
	r = cli(t, "", "--data-binary", "@"+file, s.URL+"/jsonBody").want(t, 0)
	j = decodeJSONBody(t, r.stdout)
	if j.body(t) != "line1\r\nline2\n" || j.Headers["Content-Type"] != "application/x-www-form-urlencoded" ||
		j.Headers["Content-Length"] != "13" || j.URI != "POST /jsonBody HTTP/1.1" {
		t.Errorf("--data-binary @file: %+v", j)
	}

	// @- reads standard input.
	r = cli(t, "from\nstdin", "--data-binary", "@-", s.URL+"/echo").want(t, 0)
	if r.stdout != "from\nstdin" {
		t.Errorf("--data-binary @-: %q", r.stdout)
	}
	r = cli(t, "from\nstdin", "-d", "@-", s.URL+"/echo").want(t, 0)
	if r.stdout != "fromstdin" {
		t.Errorf("-d @-: %q", r.stdout)
	}

	// A big file streams; a 307 sends it again.
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, urlsessiontest.PatternBytes(3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	r = cli(t, "", "-L", "--data-binary", "@"+big, s.URL+"/307?location=/upload").want(t, 0)
	if r.stdout != "upload: 3145728 bytes" {
		t.Errorf("big upload: %v", r)
	}

	// An empty -d still sends a POST with a Content-Type.
	r = cli(t, "", "-d", "", s.URL+"/jsonBody").want(t, 0)
	j = decodeJSONBody(t, r.stdout)
	if j.URI != "POST /jsonBody HTTP/1.1" || j.body(t) != "" || j.Headers["Content-Type"] == "" {
		t.Errorf("empty -d: %+v", j)
	}

	// A missing file is a read error.
	missing := filepath.Join(dir, "missing")
	for _, flag := range []string{"-d", "--data-binary"} {
		r = cli(t, "", flag, "@"+missing, s.URL+"/echo").want(t, 26)
		if !strings.HasPrefix(r.stderr, "urlsession: (-1100) the file does not exist") {
			t.Errorf("%s @missing: %q", flag, r.stderr)
		}
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	r := cli(t, "", "-H", "X-Foo: bar", "--header", "X-Empty;", "-A", "agent/1", "-H", "Host: example.test",
		s.URL+"/requestHeaders").want(t, 0)
	var h map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatal(err)
	}
	if h["X-Foo"] != "bar" || h["User-Agent"] != "agent/1" || h["Host"] != "example.test" {
		t.Errorf("headers: %v", h)
	}
	if v, ok := h["X-Empty"]; !ok || v != "" {
		t.Errorf("X-Empty: %q, %v", v, ok)
	}
	// The default User-Agent names the library.
	r = cli(t, "", s.URL+"/requestHeaders").want(t, 0)
	h = nil
	json.Unmarshal([]byte(r.stdout), &h)
	if h["User-Agent"] != "urlsession/"+urlsession.Version {
		t.Errorf("User-Agent: %q", h["User-Agent"])
	}
	cli(t, "", "-H", "no colon", s.URL).want(t, 2)
}

// requestHeaders runs the command against /requestHeaders and returns
// the headers the server saw.
func requestHeaders(t *testing.T, s *httptest.Server, args ...string) map[string]string {
	t.Helper()
	r := cli(t, "", append(args, s.URL+"/requestHeaders")...).want(t, 0)
	var h map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatalf("%q: %v", r.stdout, err)
	}
	return h
}

// TestAccept: Accept: */* goes with every request, as with curl, unless
// -H gives one; -H "Name:" sends no Name header at all.
func TestAccept(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	if h := requestHeaders(t, s); h["Accept"] != "*/*" {
		t.Errorf("default Accept: %q", h["Accept"])
	}
	if h := requestHeaders(t, s, "-H", "accept: text/plain"); h["Accept"] != "text/plain" {
		t.Errorf("-H Accept: %q", h["Accept"])
	}
	h := requestHeaders(t, s, "-H", "Accept:", "-H", "X-Gone:", "-H", "User-Agent:", "-H", "X-Empty;")
	for _, name := range []string{"Accept", "X-Gone", "User-Agent"} {
		if v, ok := h[name]; ok {
			t.Errorf("%s sent: %q", name, v)
		}
	}
	if v, ok := h["X-Empty"]; !ok || v != "" {
		t.Errorf("X-Empty: %q, %v", v, ok)
	}
}

func TestVerbose(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	r := cli(t, "", "-Lv", "-H", "X-Foo: bar", s.URL+"/redirect/1").want(t, 0)
	host := strings.TrimPrefix(s.URL, "http://")
	for _, want := range []string{
		"> GET /redirect/1 HTTP/1.1\n> Host: " + host + "\n",
		"> X-Foo: bar\n",
		"> User-Agent: urlsession/" + urlsession.Version + "\n",
		"> Accept-Encoding: ",
		"< HTTP/1.1 302 Found\n",
		"< Location: /redirect/0\n",
		"* redirect 1\n> GET /redirect/0 HTTP/1.1\n",
		"* redirect 2\n> GET /jsonBody HTTP/1.1\n",
		"< HTTP/1.1 200 OK\n",
		"* protocol http/1.1, remote " + host + ", new connection\n",
		"reused connection",
		"* dns -, connect ",
		" ms, wait ",
		"* total ",
		", 2 redirect(s)\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	decodeJSONBody(t, r.stdout)

	// A POST shows its length.
	r = cli(t, "", "-v", "-d", "abc", s.URL+"/post").want(t, 0)
	if !strings.Contains(r.stderr, "> POST /post HTTP/1.1\n") || !strings.Contains(r.stderr, "> Content-Length: 3\n") ||
		!strings.Contains(r.stderr, "> Content-Type: application/x-www-form-urlencoded\n") {
		t.Errorf("stderr:\n%s", r.stderr)
	}

	// A failed request still shows what was sent.
	r = cli(t, "", "-v", closedPort(t)).want(t, 7)
	if !strings.Contains(r.stderr, "> GET / HTTP/1.1\n") || !strings.Contains(r.stderr, "* no response\n") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := capitalsTLS(t)
	r := cli(t, "", "-k", "-v", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" {
		t.Errorf("got %v", r)
	}
	for _, want := range []string{"> GET /Nepal HTTP/2\n", "< HTTP/2 200 OK\n", "* protocol h2, ", "TLS 1.3", "* dns -, connect "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	r = cli(t, "", "--insecure", "--http1.1", "-v", s.URL+"/Nepal").want(t, 0)
	if !strings.Contains(r.stderr, "* protocol http/1.1, ") || !strings.Contains(r.stderr, "> GET /Nepal HTTP/1.1\n") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	// The last of --http1.1 and --http2 wins.
	r = cli(t, "", "-k", "--http1.1", "--http2", "-v", s.URL+"/Nepal").want(t, 0)
	if !strings.Contains(r.stderr, "* protocol h2, ") {
		t.Errorf("--http1.1 --http2: stderr:\n%s", r.stderr)
	}
	r = cli(t, "", "-k", "--http2", "--http1.1", "-v", s.URL+"/Nepal").want(t, 0)
	if !strings.Contains(r.stderr, "* protocol http/1.1, ") {
		t.Errorf("--http2 --http1.1: stderr:\n%s", r.stderr)
	}
	// Without -k the test certificate is not trusted.
	r = cli(t, "", s.URL+"/Nepal").want(t, 60)
	if !strings.HasPrefix(r.stderr, "urlsession: (-1202) ") {
		t.Errorf("stderr: %q", r.stderr)
	}
	// TLS to a plain HTTP server fails the handshake.
	plain := capitals(t)
	cli(t, "", "https://"+strings.TrimPrefix(plain.URL, "http://")+"/").want(t, 35)
}

func TestMaxTime(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	dir := t.TempDir()
	start := time.Now()
	r := cli(t, "", "-m", "0.3", "-H", "X-Pause: 5", "-o", filepath.Join(dir, "out"), s.URL+"/Nepal").want(t, 28)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	if !strings.HasPrefix(r.stderr, "urlsession: (-1001) the request timed out") {
		t.Errorf("stderr: %q", r.stderr)
	}
	noFiles(t, dir)
	// Within the limit.
	cli(t, "", "--max-time", "5", "-H", "X-Pause: 0.05", s.URL+"/Nepal").want(t, 0)
	cli(t, "", "-m", "-1", s.URL).want(t, 2)
	cli(t, "", "-m", "soon", s.URL).want(t, 2)
}

func TestInterrupt(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var out, errOut bytes.Buffer
	code := runContext(ctx, []string{"-H", "X-Pause: 5", "-o", filepath.Join(dir, "out"), s.URL + "/Nepal"},
		strings.NewReader(""), &out, &errOut)
	if code != 130 || errOut.Len() != 0 {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
	noFiles(t, dir)
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	// Without -L the 3xx is the response, as with curl; --max-redirs
	// alone changes nothing.
	for _, args := range [][]string{{}, {"--max-redirs", "0"}, {"-L", "--no-location"}} {
		r := cli(t, "", append(args, "-i", s.URL+"/302")...).want(t, 0)
		if !strings.HasPrefix(r.stdout, "HTTP/1.1 302 Found\r\n") || !strings.Contains(r.stdout, "Location: jsonBody\r\n") ||
			!strings.HasSuffix(r.stdout, "Redirecting to GET jsonBody") || strings.Count(r.stdout, "HTTP/1.1") != 1 {
			t.Errorf("%q: %q", args, r.stdout)
		}
	}
	r := cli(t, "", "-w", "%{http_code} %{num_redirects}", s.URL+"/redirect/5").want(t, 0)
	if r.stdout != "Redirecting to GET /redirect/4302 0" {
		t.Errorf("got %q", r.stdout)
	}

	// -L follows them; /redirect/5 makes 6 hops.
	r = cli(t, "", "-L", s.URL+"/redirect/5").want(t, 0)
	decodeJSONBody(t, r.stdout)
	r = cli(t, "", "--no-location", "--location", "--max-redirs", "6", s.URL+"/redirect/5").want(t, 0)
	decodeJSONBody(t, r.stdout)
	r = cli(t, "", "-L", "--max-redirs", "2", s.URL+"/redirect/5").want(t, 47)
	if r.stdout != "" || r.stderr != "urlsession: (-1007) too many HTTP redirects: maximum (2) redirects followed\n" {
		t.Errorf("got %v", r)
	}
	cli(t, "", "-L", "--max-redirs", "0", s.URL+"/302").want(t, 47)

	// The session's own limit.
	loop := urlsessiontest.NewServer(urlsessiontest.RedirectLoop())
	t.Cleanup(loop.Close)
	r = cli(t, "", "-L", loop.URL+"/a").want(t, 47)
	if !strings.HasPrefix(r.stderr, "urlsession: (-1007) ") {
		t.Errorf("stderr: %q", r.stderr)
	}
}

// TestRedirectMethod: -L changes POST to GET on 301, 302 and 303 as curl
// does, but a method given with -X is kept for every request, as curl
// keeps it.
func TestRedirectMethod(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	for _, c := range []struct {
		args []string
		path string
		uri  string
		body string
	}{
		{[]string{"-d", "x"}, "/302", "GET /jsonBody HTTP/1.1", ""},
		{[]string{"-d", "x"}, "/307", "POST /jsonBody HTTP/1.1", "x"},
		{[]string{"-X", "POST"}, "/302", "POST /jsonBody HTTP/1.1", ""},
		{[]string{"-X", "POST", "-d", "x"}, "/303", "POST /jsonBody HTTP/1.1", ""},
		{[]string{"-X", "PUT", "-d", "x"}, "/307", "PUT /jsonBody HTTP/1.1", "x"},
		{[]string{"-X", "DELETE"}, "/301", "DELETE /jsonBody HTTP/1.1", ""},
	} {
		r := cli(t, "", append(c.args, "-L", s.URL+c.path)...).want(t, 0)
		j := decodeJSONBody(t, r.stdout)
		if j.URI != c.uri || j.body(t) != c.body {
			t.Errorf("%q %s: %s with %q, want %s with %q", c.args, c.path, j.URI, j.body(t), c.uri, c.body)
		}
	}
}

func TestFail(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	r := cli(t, "", "-f", s.URL+"/nowhere").want(t, 22)
	if r.stdout != "" || r.stderr != "urlsession: (22) the requested URL returned error: 404 Not Found\n" {
		t.Errorf("got %v", r)
	}
	r = cli(t, "", "--fail", "-s", s.URL+"/500").want(t, 22)
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("-s: got %v", r)
	}
	r = cli(t, "", "-fsS", s.URL+"/500").want(t, 22)
	if r.stderr != "urlsession: (22) the requested URL returned error: 500 Internal Server Error\n" {
		t.Errorf("-sS: got %v", r)
	}
	// Without -f a 404 is a success.
	r = cli(t, "", s.URL+"/nowhere").want(t, 0)
	if r.stdout != "404 page not found\n" {
		t.Errorf("got %v", r)
	}
}

func TestConnectionErrors(t *testing.T) {
	t.Parallel()
	r := cli(t, "", closedPort(t)).want(t, 7)
	if !strings.HasPrefix(r.stderr, "urlsession: (-1004) could not connect to the server: ") {
		t.Errorf("stderr: %q", r.stderr)
	}
	r = cli(t, "", "-s", closedPort(t)).want(t, 7)
	if r.stderr != "" {
		t.Errorf("-s: %q", r.stderr)
	}

	empty := urlsessiontest.NewServer(urlsessiontest.Raw(""))
	t.Cleanup(empty.Close)
	cli(t, "", empty.URL+"/").want(t, 52)

	// A body that ends before its length is curl's partial file, one
	// without a length that is cut short is complete.
	short := urlsessiontest.NewServer(urlsessiontest.LyingContentLength(10, "short"))
	t.Cleanup(short.Close)
	r = cli(t, "", short.URL+"/").want(t, 18)
	if r.stdout != "short" || !strings.HasPrefix(r.stderr, "urlsession: (-1005) ") {
		t.Errorf("got %v", r)
	}
	noLength := urlsessiontest.NewServer(urlsessiontest.NoLength("all"))
	t.Cleanup(noLength.Close)
	cli(t, "", noLength.URL+"/").want(t, 0)

	weird := urlsessiontest.NewServer(urlsessiontest.StatusLine("HTTP/1.1 99 OK"))
	t.Cleanup(weird.Close)
	r = cli(t, "", weird.URL+"/").want(t, 8)
	if !strings.HasPrefix(r.stderr, "urlsession: (-1011) bad server response") {
		t.Errorf("stderr: %q", r.stderr)
	}
}

func TestBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://exa mple.com/", "http://127.0.0.1:99999/", "http:///path", "http://[::1/"} {
		r := cli(t, "", u).want(t, 3)
		if !strings.HasPrefix(r.stderr, "urlsession: (-1000) bad URL") {
			t.Errorf("%s: stderr %q", u, r.stderr)
		}
	}
	r := cli(t, "", "gopher://127.0.0.1/").want(t, 1)
	if !strings.HasPrefix(r.stderr, "urlsession: (-1002) unsupported URL") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestWriteOut(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	r := cli(t, "", s.URL+"/redirect/1", "-L", "-o", filepath.Join(t.TempDir(), "x"),
		"-w", `%{http_code} %{size_download} %{num_redirects} %{url_effective} %{time_total} %{content_type} %{exitcode} 100%%\n`).want(t, 0)
	m := regexp.MustCompile(`^200 (\d+) 2 (\S+) (\d+\.\d{6}) application/json 0 100%\n$`).FindStringSubmatch(r.stdout)
	if m == nil || m[2] != s.URL+"/jsonBody" {
		t.Fatalf("got %q", r.stdout)
	}
	if n, _ := strconv.Atoi(m[1]); n < 50 {
		t.Errorf("size_download %s", m[1])
	}
	// After the body, even on failure.
	r = cli(t, "", "-sfw", `\t%{http_code}\\`, s.URL+"/404").want(t, 22)
	if r.stdout != "\t404\\" {
		t.Errorf("got %q", r.stdout)
	}
	r = cli(t, "", "-s", "-w", "%{http_code}", closedPort(t)).want(t, 7)
	if r.stdout != "000" {
		t.Errorf("got %q", r.stdout)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	r := cli(t, "", "--help").want(t, 0)
	if !strings.HasPrefix(r.stdout, "Usage: urlsession") || !strings.Contains(r.stdout, " 47  too many redirects") {
		t.Errorf("help: %q", r.stdout)
	}
	cli(t, "", "-h").want(t, 0)
	r = cli(t, "", "--version").want(t, 0)
	if !strings.HasPrefix(r.stdout, "urlsession "+urlsession.Version) {
		t.Errorf("version: %q", r.stdout)
	}
	for _, args := range [][]string{
		{},
		{"--bogus", "http://127.0.0.1:1/"},
		{"-sZ", "http://127.0.0.1:1/"},
		{"-T", "-", "http://127.0.0.1:1/a", "http://127.0.0.1:1/b"},
		{"--max-redirs", "x", "http://127.0.0.1:1/"},
		{"-X", "BAD METHOD", "http://127.0.0.1:1/"},
		{"-o"},
	} {
		r := cli(t, "", args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "urlsession: (2) ") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%q: %v", args, r)
		}
	}
}

// flagNames returns every flag as the help writes it: "-o" or "--output".
func flagNames() []string {
	var names []string
	newFlagSet(new(options)).VisitAll(func(f *flag.Flag) {
		if len(f.Name) == 1 {
			names = append(names, "-"+f.Name)
		} else {
			names = append(names, "--"+f.Name)
		}
	})
	return names
}

// TestUsageDocumentsEveryFlag: -h lists every flag, each on a line of its
// own that starts with it (after its short form, if any).
func TestUsageDocumentsEveryFlag(t *testing.T) {
	t.Parallel()
	help := usage()
	for _, name := range flagNames() {
		re := regexp.MustCompile(`(?m)^ +(-\S, )?` + regexp.QuoteMeta(name) + `([ ,]|$)`)
		if !re.MatchString(help) {
			t.Errorf("the help does not document %s", name)
		}
	}
}

// TestUsageMessages: usage errors name the option as it was given, with
// curl's words.
func TestUsageMessages(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--bogus", "http://127.0.0.1:1/"}, "option --bogus: is unknown"},
		{[]string{"http://127.0.0.1:1/", "--bogus=1"}, "option --bogus: is unknown"},
		{[]string{"-Zbogus", "http://127.0.0.1:1/"}, "option -Zbogus: is unknown"},
		{[]string{"-Z", "http://127.0.0.1:1/"}, "option -Z: is unknown"},
		{[]string{"-sZ", "http://127.0.0.1:1/"}, "option -sZ: is unknown"},
		{[]string{"--no-output", "x", "http://127.0.0.1:1/"}, "option --no-output: is unknown"},
		{[]string{"http://127.0.0.1:1/", "-o"}, "option -o: requires parameter"},
		{[]string{"http://127.0.0.1:1/", "--output"}, "option --output: requires parameter"},
		{[]string{"--max-redirs", "x", "http://127.0.0.1:1/"}, `option --max-redirs: bad value "x": expected a whole number`},
		{[]string{"-m", "soon", "http://127.0.0.1:1/"}, `option -m: bad value "soon": expected a non-negative number of seconds`},
		{[]string{"--location=maybe", "http://127.0.0.1:1/"}, `option --location: bad value "maybe": expected true or false`},
	} {
		r := cli(t, "", c.args...).want(t, 2)
		if r.stderr != "urlsession: (2) "+c.msg+"\n" {
			t.Errorf("%q: stderr %q, want %q", c.args, r.stderr, c.msg)
		}
	}
}

func TestExpandShort(t *testing.T) {
	t.Parallel()
	fs := newFlagSet(new(options))
	for _, c := range []struct{ in, out string }{
		{"-sSf URL", "-s -S -f URL"},
		{"-sLo file URL", "-s -L -o file URL"},
		{"-ofile URL", "-o file URL"},
		{"-d -sS URL", "-d -sS URL"},
		{"--data -sS URL", "--data -sS URL"},
		{"--output=-x URL", "--output=-x URL"},
		{"URL -- -sS", "URL -- -sS"},
		{"-sZ URL", "-sZ URL"},
		{"-v URL", "-v URL"},
		{"--no-location URL", "--location=false URL"},
		{"--no-s URL", "--no-s URL"},
		{"--no-output x URL", "--no-output x URL"},
		{"-- --no-location", "-- --no-location"},
	} {
		got := strings.Join(expandShort(fs, strings.Fields(c.in)), " ")
		if got != c.out {
			t.Errorf("%q: got %q, want %q", c.in, got, c.out)
		}
	}
	o, err := parseArgs([]string{"-sSfo", "out", "u", "-m", "1.5", "--", "-weird"})
	if err != nil || !slices.Equal(o.all, []string{"u", "-weird"}) || o.url != "u" || o.output != "out" {
		t.Errorf("got %+v, %v", o, err)
	}
	if f, _ := o.outputFor(1); f != "" || o.forURL(1).url != "-weird" {
		t.Errorf("the second URL's output: %q", f)
	}
	o, err = parseArgs([]string{"-sSfo", "out", "-m", "1.5", "--", "-weird"})
	if err != nil || o.url != "-weird" || o.output != "out" || !o.silent || !o.showError || !o.fail || o.maxTime != 1500*time.Millisecond {
		t.Errorf("got %+v, %v", o, err)
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer

	// Small bodies show nothing.
	p := newProgress(&b, 1000)
	p.update(1000)
	p.clear()
	p.done(1000)
	if b.Len() != 0 {
		t.Errorf("small body: %q", b.String())
	}

	// A known length: bar, percentage, bytes, rate and times.
	p = newProgress(&b, 4<<20)
	p.update(1 << 20)
	if got := b.String(); !strings.Contains(got, "25% [######------------------] (1.0/4.0 MiB, ") ||
		!strings.Contains(got, "/s) [") {
		t.Errorf("got %q", got)
	}
	b.Reset()
	p.clear()
	if got := strings.TrimSpace(b.String()); got != "" {
		t.Errorf("clear: %q", got)
	}
	b.Reset()
	p.update(4 << 20)
	if got := b.String(); !strings.Contains(got, "100% [########################] (4.0/4.0 MiB, ") {
		t.Errorf("got %q", got)
	}
	p.done(4 << 20)

	// Unknown length: from 1 MiB on, the bytes and rate.
	b.Reset()
	p = newProgress(&b, -1)
	p.update(1 << 20)
	if b.Len() != 0 {
		t.Errorf("unknown, 1 MiB: %q", b.String())
	}
	p.update(3 << 20)
	if got := b.String(); !strings.Contains(got, "(3.0 MiB, ") {
		t.Errorf("unknown: %q", got)
	}
	p.done(3 << 20)

	// -#: left on its line, full.
	b.Reset()
	p = newProgress(&b, 3000)
	p.always = true
	p.update(1000)
	p.done(3000)
	if got := b.String(); !strings.Contains(got, "100% [########################] (2.9/2.9 KiB, ") || !strings.HasSuffix(got, "\n") {
		t.Errorf("-#: %q", got)
	}

	if formatBytes(512) != "512 B" || formatBytes(1536) != "1.5 KiB" || formatBytes(5<<30) != "5.0 GiB" {
		t.Error("formatBytes")
	}
	if isTerminal(&b) {
		t.Error("a buffer is not a terminal")
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if isTerminal(null) {
		t.Error("the null device is not a terminal")
	}
}

// TestExitTableDocumented checks that the package comment lists every exit
// status of the table with the same meaning.
func TestExitTableDocumented(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, r := range exitTable {
		if seen[r.status] {
			t.Errorf("status %d twice in the table", r.status)
		}
		seen[r.status] = true
		line := fmt.Sprintf("//\t%3d  %s\n", r.status, r.meaning)
		if !strings.Contains(string(src), line) {
			t.Errorf("main.go lacks %q", line)
		}
	}
	// No code maps to two statuses.
	codes := map[urlsession.Code]int{}
	for _, r := range exitTable {
		for _, c := range r.codes {
			if s, ok := codes[c]; ok {
				t.Errorf("code %d maps to %d and %d", c, s, r.status)
			}
			codes[c] = r.status
		}
	}
}

// TestReadmeDocumentsCLI: the README's manual of the command names every
// flag and every exit status.
func TestReadmeDocumentsCLI(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Skip(err)
	}
	_, manual, ok := strings.Cut(string(b), "\n## The command-line client\n")
	if !ok {
		t.Fatal(`README.md has no section "## The command-line client"`)
	}
	manual, _, _ = strings.Cut(manual, "\n## ")
	for _, name := range flagNames() {
		if !strings.Contains(manual, "`"+name+"`") && !strings.Contains(manual, "`"+name+" ") {
			t.Errorf("the README does not document %s", name)
		}
	}
	for _, r := range exitTable {
		if !strings.Contains(manual, fmt.Sprintf("\n| %d | ", r.status)) {
			t.Errorf("the README does not list exit status %d", r.status)
		}
	}
}
