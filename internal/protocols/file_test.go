package protocols

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
)

// fileURL returns a file: URL string for the absolute path p.
func fileURL(host, p string) string {
	return (&url.URL{Scheme: "file", Host: host, Path: filepath.ToSlash(p)}).String()
}

func fileReq(t *testing.T, method, rawURL string, hdr ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req
}

func fileWrite(t *testing.T, dir, name, content string, mod time.Time) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mod.IsZero() {
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func fileDo(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := File{}.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip(%s): %v", req.URL, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func fileCode(t *testing.T, err error, want int) {
	t.Helper()
	var fe *fail.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want code %d", err, err, want)
	}
	if fe.Code != want {
		t.Fatalf("code %d (%v), want %d", fe.Code, err, want)
	}
}

var fileMod = time.Date(2024, 3, 5, 10, 20, 30, 0, time.UTC)

func TestFileCanHandle(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"file:///tmp/x", true},
		{"FILE:///tmp/x", true},
		{"File://localhost/tmp/x", true},
		{"http://example.com/", false},
		{"data:,x", false},
	} {
		req := fileReq(t, "GET", tc.url)
		if got := (File{}).CanHandle(req); got != tc.want {
			t.Errorf("CanHandle(%s) = %v, want %v", tc.url, got, tc.want)
		}
	}
}

func TestFileGet(t *testing.T) {
	dir := t.TempDir()
	p := fileWrite(t, dir, "page.html", "<p>hello</p>", fileMod)
	resp, body := fileDo(t, fileReq(t, "GET", fileURL("", p)))
	if resp.StatusCode != 200 || body != "<p>hello</p>" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.ContentLength != 12 || resp.Header.Get("Content-Length") != "12" {
		t.Errorf("length %d %q", resp.ContentLength, resp.Header.Get("Content-Length"))
	}
	if lm := resp.Header.Get("Last-Modified"); lm != "Tue, 05 Mar 2024 10:20:30 GMT" {
		t.Errorf("Last-Modified %q", lm)
	}
	if resp.Request == nil {
		t.Error("no Request")
	}

	p = fileWrite(t, dir, "blob.zzunknown", "x", time.Time{})
	resp, _ = fileDo(t, fileReq(t, "GET", fileURL("", p)))
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("unknown extension Content-Type %q", ct)
	}
	p = fileWrite(t, dir, "notes.txt", "", time.Time{})
	resp, body = fileDo(t, fileReq(t, "", fileURL("", p)))
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf(".txt Content-Type %q", ct)
	}
	if resp.ContentLength != 0 || body != "" {
		t.Errorf("empty file: length %d body %q", resp.ContentLength, body)
	}
}

func TestFileNames(t *testing.T) {
	dir := t.TempDir()
	p := fileWrite(t, dir, "a b%c.txt", "spaced", time.Time{})
	raw := "file://" + filepath.ToSlash(dir) + "/a%20b%25c.txt"
	if _, body := fileDo(t, fileReq(t, "GET", raw)); body != "spaced" {
		t.Errorf("percent-encoded name: %q", body)
	}

	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(p, link); err != nil {
		t.Skipf("symlink: %v", err)
	}
	resp, body := fileDo(t, fileReq(t, "GET", fileURL("", link)))
	if body != "spaced" || resp.ContentLength != 6 {
		t.Errorf("symlink: %q %d", body, resp.ContentLength)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("symlink Content-Type %q (from the link's name)", ct)
	}

	for _, host := range []string{"localhost", "LocalHost"} {
		if _, body := fileDo(t, fileReq(t, "GET", fileURL(host, p))); body != "spaced" {
			t.Errorf("host %s: %q", host, body)
		}
	}
}

func TestFileRefused(t *testing.T) {
	dir := t.TempDir()
	p := fileWrite(t, dir, "f.txt", "data", time.Time{})
	for _, raw := range []string{
		fileURL("example.com", p),
		fileURL("localhost:8080", p),
		"file:relative.txt",
		"file://",
	} {
		_, err := File{}.RoundTrip(fileReq(t, "GET", raw))
		fileCode(t, err, -1002)
	}
	for _, m := range []string{"PUT", "POST", "DELETE"} {
		req, err := http.NewRequest(m, fileURL("", p), nil)
		if err != nil {
			t.Fatal(err)
		}
		body := &fileTrackBody{Reader: strings.NewReader("upload")}
		req.Body = body
		_, err = File{}.RoundTrip(req)
		fileCode(t, err, -1002)
		if !body.closed {
			t.Errorf("%s: request body not closed", m)
		}
	}
	if b, _ := os.ReadFile(p); string(b) != "data" {
		t.Errorf("file changed to %q", b)
	}
}

type fileTrackBody struct {
	io.Reader
	closed bool
}

func (b *fileTrackBody) Close() error { b.closed = true; return nil }

func TestFileOpenErrors(t *testing.T) {
	dir := t.TempDir()
	p := fileWrite(t, dir, "f.txt", "data", time.Time{})

	_, err := File{}.RoundTrip(fileReq(t, "GET", fileURL("", filepath.Join(dir, "missing"))))
	fileCode(t, err, -1100)
	_, err = File{}.RoundTrip(fileReq(t, "GET", fileURL("", filepath.Join(p, "under-a-file"))))
	fileCode(t, err, -1100)
	_, err = File{}.RoundTrip(fileReq(t, "GET", fileURL("", dir)))
	fileCode(t, err, -1101)
	_, err = File{}.RoundTrip(fileReq(t, "GET", fileURL("", dir)+"/"))
	fileCode(t, err, -1101)

	if os.Geteuid() == 0 {
		t.Log("running as root: skipping the unreadable file")
		return
	}
	locked := fileWrite(t, dir, "locked.txt", "secret", time.Time{})
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	_, err = File{}.RoundTrip(fileReq(t, "GET", fileURL("", locked)))
	fileCode(t, err, -1102)
}

func TestFileHead(t *testing.T) {
	p := fileWrite(t, t.TempDir(), "f.css", "body{}", fileMod)
	resp, body := fileDo(t, fileReq(t, "HEAD", fileURL("", p)))
	if resp.StatusCode != 200 || body != "" || resp.Body != http.NoBody {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if resp.ContentLength != 6 || resp.Header.Get("Content-Length") != "6" {
		t.Errorf("length %d", resp.ContentLength)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
}

func TestFileRanges(t *testing.T) {
	const content = "0123456789"
	p := fileWrite(t, t.TempDir(), "digits.bin", content, fileMod)
	u := fileURL("", p)
	lm := fileMod.Format(http.TimeFormat)
	for _, tc := range []struct {
		hdr    []string
		status int
		body   string
		cr     string
	}{
		{[]string{"Range", "bytes=2-5"}, 206, "2345", "bytes 2-5/10"},
		{[]string{"Range", "bytes=7-"}, 206, "789", "bytes 7-9/10"},
		{[]string{"Range", "bytes=-3"}, 206, "789", "bytes 7-9/10"},
		{[]string{"Range", "bytes=-30"}, 206, content, "bytes 0-9/10"},
		{[]string{"Range", "bytes=8-100"}, 206, "89", "bytes 8-9/10"},
		{[]string{"Range", "bytes=10-"}, 416, "", "bytes */10"},
		{[]string{"Range", "bytes=20-30"}, 416, "", "bytes */10"},
		{[]string{"Range", "bytes=-0"}, 416, "", "bytes */10"},
		{[]string{"Range", "bytes=0-1,4-5"}, 200, content, ""},
		{[]string{"Range", "bytes=5-2"}, 200, content, ""},
		{[]string{"Range", "items=0-1"}, 200, content, ""},
		{[]string{"Range", "bytes=2-5", "If-Range", lm}, 206, "2345", "bytes 2-5/10"},
		{[]string{"Range", "bytes=2-5", "If-Range", "Wed, 06 Mar 2024 10:20:30 GMT"}, 200, content, ""},
		{[]string{"Range", "bytes=2-5", "If-Range", `"etag"`}, 200, content, ""},
		{[]string{"If-Range", lm}, 200, content, ""},
	} {
		resp, body := fileDo(t, fileReq(t, "GET", u, tc.hdr...))
		if resp.StatusCode != tc.status || body != tc.body || resp.Header.Get("Content-Range") != tc.cr {
			t.Errorf("%q: %d %q %q, want %d %q %q", tc.hdr, resp.StatusCode, body,
				resp.Header.Get("Content-Range"), tc.status, tc.body, tc.cr)
		}
		if resp.ContentLength != int64(len(body)) {
			t.Errorf("%q: ContentLength %d for %d bytes", tc.hdr, resp.ContentLength, len(body))
		}
	}

	resp, body := fileDo(t, fileReq(t, "HEAD", u, "Range", "bytes=1-2"))
	if resp.StatusCode != 206 || body != "" || resp.ContentLength != 2 {
		t.Errorf("HEAD range: %d %q %d", resp.StatusCode, body, resp.ContentLength)
	}
}

func TestFileLargeStreams(t *testing.T) {
	const size = 64 << 20
	p := filepath.Join(t.TempDir(), "sparse.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, err := File{}.RoundTrip(fileReq(t, "GET", fileURL("", p)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := resp.Body.(*fileBody); !ok {
		t.Fatalf("body is %T, want one reading the file", resp.Body)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > size/8 {
		t.Errorf("reading a %d-byte file allocated %d bytes", size, grown)
	}
}

func TestFileCancelled(t *testing.T) {
	p := fileWrite(t, t.TempDir(), "f.txt", "data", time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	req := fileReq(t, "GET", fileURL("", p)).WithContext(ctx)
	resp, err := File{}.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cancel()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v", err)
	}
	if _, err := (File{}).RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("RoundTrip after cancel: %v", err)
	}
}

// TestFileOpenErrorCodes covers the mapping where the file system cannot
// produce the error (root reads files whatever their mode).
func TestFileOpenErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}, -1100},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOTDIR}, -1100},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, -1102},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EPERM}, -1102},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EMFILE}, -3001},
	} {
		fileCode(t, fileOpenError(tc.err), tc.code)
	}
}
