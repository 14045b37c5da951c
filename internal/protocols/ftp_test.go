package protocols

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/ftptest"
)

var ftpMod = time.Date(2026, 11, 30, 19, 0, 0, 0, time.UTC)

// startFTP starts a scripted server with files, set up by the options
// before it starts.
func startFTP(t *testing.T, files map[string][]byte, opts ...func(*ftptest.Server)) *ftptest.Server {
	t.Helper()
	s := &ftptest.Server{Files: files, Mod: ftpMod}
	for _, o := range opts {
		o(s)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func ftpGet(t *testing.T, method, rawURL string, h http.Header) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return FTP{}.RoundTrip(req)
}

func readAll(t *testing.T, resp *http.Response) ([]byte, error) {
	t.Helper()
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func codeOf(err error) int {
	if fe, ok := errors.AsType[*fail.Error](err); ok {
		return fe.Code
	}
	return 0
}

func TestFTPFile(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("0123456789"), 100_000)
	s := startFTP(t, map[string][]byte{"/pub/big.txt": body})
	resp, err := ftpGet(t, "GET", s.URL("/pub/big.txt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, resp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("got %d bytes, want %d", len(got), len(body))
	}
	for k, want := range map[string]string{
		"Content-Length": "1000000",
		"Content-Type":   "text/plain; charset=utf-8",
		"Last-Modified":  "Mon, 30 Nov 2026 19:00:00 GMT",
		"Accept-Ranges":  "bytes",
	} {
		if g := resp.Header.Get(k); g != want {
			t.Errorf("%s: got %q, want %q", k, g, want)
		}
	}
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) {
		t.Errorf("status %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	cmds := s.Commands()
	cmds = cmds[:min(len(cmds), 8)] // QUIT may not have been read yet
	want := []string{"USER anonymous", "PASS ****", "FEAT", "TYPE I", "SIZE pub/big.txt", "MDTM pub/big.txt", "EPSV", "RETR pub/big.txt"}
	if !slices.Equal(cmds, want) {
		t.Errorf("commands\n got %q\nwant %q", cmds, want)
	}
}

func TestFTPPASVFallbackAndHead(t *testing.T) {
	t.Parallel()
	s := startFTP(t, map[string][]byte{"/a.bin": []byte("abc")}, func(s *ftptest.Server) { s.NoEPSV = true })
	resp, err := ftpGet(t, "GET", s.URL("/a.bin"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(t, resp); err != nil || string(got) != "abc" {
		t.Fatalf("got %q, %v", got, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if !slices.Contains(s.Commands(), "PASV") {
		t.Errorf("no PASV after the refused EPSV: %q", s.Commands())
	}
	resp, err = ftpGet(t, "HEAD", s.URL("/a.bin"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := readAll(t, resp); len(got) != 0 || resp.ContentLength != 3 {
		t.Errorf("HEAD: body %q, length %d", got, resp.ContentLength)
	}
	if slices.Contains(s.Commands()[len(s.Commands())-3:], "RETR a.bin") {
		t.Errorf("HEAD sent RETR: %q", s.Commands())
	}
}

func TestFTPRanges(t *testing.T) {
	t.Parallel()
	s := startFTP(t, map[string][]byte{"/f": []byte("0123456789")})
	lm := ftpMod.Format(http.TimeFormat)
	for _, c := range []struct {
		rng, ifRange string
		status       int
		body, cr     string
	}{
		{"bytes=4-", "", 206, "456789", "bytes 4-9/10"},
		{"bytes=2-4", "", 206, "234", "bytes 2-4/10"},
		{"bytes=-3", "", 206, "789", "bytes 7-9/10"},
		{"bytes=10-", "", 416, "", "bytes */10"},
		{"bytes=4-", lm, 206, "456789", "bytes 4-9/10"},
		{"bytes=4-", "Tue, 01 Dec 2026 00:00:00 GMT", 200, "0123456789", ""},
		{"bytes=4-", `"etag"`, 200, "0123456789", ""},
		{"bytes=1-2,5-6", "", 200, "0123456789", ""},
	} {
		h := http.Header{"Range": {c.rng}}
		if c.ifRange != "" {
			h.Set("If-Range", c.ifRange)
		}
		resp, err := ftpGet(t, "GET", s.URL("/f"), h)
		if err != nil {
			t.Fatalf("%s: %v", c.rng, err)
		}
		got, err := readAll(t, resp)
		if err != nil || resp.StatusCode != c.status || string(got) != c.body || resp.Header.Get("Content-Range") != c.cr {
			t.Errorf("%s if-range %q: got %d %q %q (%v), want %d %q %q", c.rng, c.ifRange,
				resp.StatusCode, got, resp.Header.Get("Content-Range"), err, c.status, c.body, c.cr)
		}
	}
	if !slices.Contains(s.Commands(), "REST 4") || !slices.Contains(s.Commands(), "REST 7") {
		t.Errorf("no REST: %q", s.Commands())
	}
}

func TestFTPListing(t *testing.T) {
	t.Parallel()
	s := startFTP(t, map[string][]byte{"/pub/a.txt": []byte("aaaa"), "/pub/sub/b": nil, "/pub/c d": []byte("c")})
	resp, err := ftpGet(t, "GET", s.URL("/pub/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, resp)
	if err != nil {
		t.Fatal(err)
	}
	want := "- 4 2026-11-30T00:00:00Z a.txt\r\n- 1 2026-11-30T00:00:00Z c d\r\nd 0 2026-11-30T00:00:00Z sub\r\n"
	if string(got) != want {
		t.Errorf("listing\n got %q\nwant %q", got, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" || resp.ContentLength != int64(len(want)) {
		t.Errorf("Content-Type %q, length %d", ct, resp.ContentLength)
	}
	resp, err = ftpGet(t, "GET", s.URL("/pub;type=d"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := readAll(t, resp); string(got) != "a.txt\r\nc d\r\nsub\r\n" {
		t.Errorf("names: got %q", got)
	}
	resp, err = ftpGet(t, "GET", s.URL("/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := readAll(t, resp); string(got) != "d 0 2026-11-30T00:00:00Z pub\r\n" {
		t.Errorf("root: got %q", got)
	}
	if _, err := ftpGet(t, "GET", s.URL("/none/"), nil); codeOf(err) != -1100 {
		t.Errorf("missing directory: %v", err)
	}
}

func TestFTPTypeA(t *testing.T) {
	t.Parallel()
	s := startFTP(t, map[string][]byte{"/r": []byte("line\r\n")})
	resp, err := ftpGet(t, "GET", s.URL("/r;type=a"), http.Header{"Range": {"bytes=2-"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(t, resp)
	if string(got) != "line\r\n" || resp.StatusCode != 200 || resp.ContentLength != -1 {
		t.Errorf("got %d %q length %d", resp.StatusCode, got, resp.ContentLength)
	}
	if !slices.Contains(s.Commands(), "TYPE A") {
		t.Errorf("no TYPE A: %q", s.Commands())
	}
}

func TestFTPLogin(t *testing.T) {
	t.Parallel()
	s := startFTP(t, map[string][]byte{"/secret": []byte("s3")}, func(s *ftptest.Server) { s.User, s.Password = "alice", "p@ss word" })
	_, err := ftpGet(t, "GET", s.URL("/secret"), nil)
	if codeOf(err) != -1013 {
		t.Fatalf("anonymous: %v", err)
	}
	if _, ok := errors.AsType[*fail.LoginRefused](err); !ok {
		t.Errorf("no LoginRefused in %v", err)
	}
	u := "ftp://alice:p%40ss%20word@" + s.Addr() + "/secret"
	resp, err := ftpGet(t, "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := readAll(t, resp); string(got) != "s3" {
		t.Errorf("got %q", got)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "ftp://bob:wrong@"+s.Addr()+"/secret", nil)
	req.SetBasicAuth("alice", "p@ss word") // the challenge's answer wins
	resp, err = FTP{}.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	_, err = ftpGet(t, "GET", "ftp://alice:a%0d%0aDELE%20secret@"+s.Addr()+"/secret", nil)
	if _, ok := errors.AsType[*fail.LoginRefused](err); ok || codeOf(err) != -1013 {
		t.Errorf("password with a line break: %v", err)
	}
	_, err = ftpGet(t, "GET", "ftp://alice:nope@"+s.Addr()+"/secret", nil)
	if codeOf(err) != -1013 || strings.Contains(err.Error(), "nope") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestFTPErrors(t *testing.T) {
	t.Parallel()
	s := startFTP(t, map[string][]byte{"/dir/f": []byte("x"), "/f": []byte("y")})
	for _, c := range []struct {
		method, url string
		code        int
	}{
		{"GET", s.URL("/missing"), -1100},
		{"GET", s.URL("/dir"), -1101},
		{"GET", s.URL("/f;type=x"), -1000},
		{"GET", s.URL("/a%0d%0aDELE%20f"), -1000},
		{"GET", "ftp:///f", -1000},
		{"GET", "ftp://127.0.0.1:0/f", -1000},
		{"DELETE", s.URL("/f"), -1002},
		{"PUT", s.URL("/dir/"), -1002},
	} {
		_, err := ftpGet(t, c.method, c.url, nil)
		if codeOf(err) != c.code {
			t.Errorf("%s %s: got %v (code %d), want %d", c.method, c.url, err, codeOf(err), c.code)
		}
	}
	// Nothing listens: the dial error is kept for the session to classify.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, err := ftpGet(t, "GET", "ftp://"+addr+"/f", nil)
	if _, ok := errors.AsType[*net.OpError](err); !ok {
		t.Errorf("refused connection: %v", err)
	}
}

func TestFTPDroppedDataConnection(t *testing.T) {
	t.Parallel()
	s := startFTP(t, map[string][]byte{"/f": bytes.Repeat([]byte("z"), 100_000)}, func(s *ftptest.Server) { s.DropAfter = 30_000 })
	resp, err := ftpGet(t, "GET", s.URL("/f"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, resp)
	if codeOf(err) != -1005 || len(got) != 30_000 {
		t.Errorf("got %d bytes, %v", len(got), err)
	}
}

func TestFTPDroppedControlConnection(t *testing.T) {
	t.Parallel()
	// A server that greets and hangs up at the first command.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "220 hello\r\n")
			buf := make([]byte, 64)
			c.Read(buf)
			c.Close()
		}
	}()
	_, err = ftpGet(t, "GET", "ftp://"+ln.Addr().String()+"/f", nil)
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		if _, ok := errors.AsType[*net.OpError](err); !ok {
			t.Errorf("got %v, want the connection's end", err)
		}
	}
}

func TestFTPCancelMidTransfer(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	defer close(hold)
	s := startFTP(t, map[string][]byte{"/f": bytes.Repeat([]byte("q"), 50_000)}, func(s *ftptest.Server) { s.Hold, s.HoldAfter = hold, 10_000 })
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL("/f"), nil)
	resp, err := FTP{}.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 10_000)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := resp.Body.Read(buf); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v", err)
	}
}

func TestFTPStore(t *testing.T) {
	t.Parallel()
	s := startFTP(t, map[string][]byte{})
	req, _ := http.NewRequestWithContext(t.Context(), "PUT", s.URL("/up/new.bin"), strings.NewReader("uploaded"))
	resp, err := FTP{}.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if b, ok := s.File("/up/new.bin"); !ok || string(b) != "uploaded" || resp.StatusCode != 200 {
		t.Errorf("stored %q %v, status %d", b, ok, resp.StatusCode)
	}
}

func TestFTPParse(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url, addr, path string
		dir             bool
		typ             byte
		mode            int
	}{
		{"ftp://h/", "h:21", "", true, 'i', ftpPlain},
		{"ftp://h", "h:21", "", true, 'i', ftpPlain},
		{"ftp://h/a/b.txt", "h:21", "a/b.txt", false, 'i', ftpPlain},
		{"ftp://h//etc/motd", "h:21", "/etc/motd", false, 'i', ftpPlain},
		{"ftp://h/%2Fetc/motd", "h:21", "/etc/motd", false, 'i', ftpPlain},
		{"ftp://h//", "h:21", "/", true, 'i', ftpPlain},
		{"ftp://h:2121/d/;type=A", "h:2121", "d", true, 'a', ftpPlain},
		{"ftp://h/d;type=d", "h:21", "d", true, 'd', ftpPlain},
		{"ftps://h/x%20y", "h:990", "x y", false, 'i', ftpImplicit},
		{"ftpes://[::1]/x", "[::1]:21", "x", false, 'i', ftpExplicit},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ftpParse(u)
		if err != nil || got.addr != c.addr || got.path != c.path || got.dir != c.dir || got.typ != c.typ || got.mode != c.mode {
			t.Errorf("%s: got %+v %v", c.url, got, err)
		}
	}
}

// FuzzFTPParse: no URL makes ftpParse panic, and what it accepts cannot
// smuggle a command: the path has no line break or NUL, the type is known.
func FuzzFTPParse(f *testing.F) {
	for _, s := range []string{"ftp://h/a;type=a", "ftps://u:p@h:21//x/", "ftpes://[::1]/%0d%0a", "ftp://h/;type=", "ftp:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		got, err := ftpParse(u)
		if err != nil {
			if codeOf(err) != ftpErrBadURL {
				t.Errorf("%q: error without -1000: %v", s, err)
			}
			return
		}
		if strings.ContainsAny(got.path, "\r\n\x00") || !strings.ContainsRune("aid", rune(got.typ)) || got.host == "" {
			t.Errorf("%q: accepted %+v", s, got)
		}
	})
}
