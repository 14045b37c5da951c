package urlsession

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataURLs: a session loads data: URLs through every path (context
// first, a task with a delegate), with App Transport Security on; a
// malformed one fails with ErrBadURL.
func TestDataURLs(t *testing.T) {
	s := newSession(t, EphemeralConfiguration(), nil)
	body, resp, err := s.Data(t.Context(), get(t, "data:text/plain;charset=utf-8;base64,aMOpbGxv#frag"))
	if err != nil || string(body) != "héllo" || resp.StatusCode != 200 ||
		resp.Header.Get("Content-Type") != "text/plain;charset=utf-8" || resp.ContentLength != 6 {
		t.Fatalf("got %q %v %v", body, resp, err)
	}
	if _, _, err := s.Data(t.Context(), get(t, "data:no-comma")); CodeOf(err) != ErrBadURL {
		t.Errorf("malformed: %v, want code %d", err, ErrBadURL)
	}

	rec := newRecorder()
	sd := newSession(t, EphemeralConfiguration(), rec)
	task := sd.DataTask(get(t, "data:,a%20b"))
	task.Resume()
	wait(t, task)
	if err := task.Err(); err != nil || rec.Body() != "a b" {
		t.Fatalf("task: %v, body %q", err, rec.Body())
	}
	if got, want := rec.Events(), []string{"create", "response 200", "data", "metrics", "complete"}; !sameEvents(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	req, _ := http.NewRequest(http.MethodHead, "data:,abc", nil)
	if body, resp, err := s.Data(t.Context(), req); err != nil || len(body) != 0 || resp.ContentLength != 3 {
		t.Errorf("HEAD: %q %v %v", body, resp, err)
	}
}

// TestFileURLs: a session loads local files (any path), with byte ranges;
// a missing file, a directory and an upload fail with Apple's codes.
func TestFileURLs(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "a b.txt")
	if err := os.WriteFile(name, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	u := (&url.URL{Scheme: "file", Path: name}).String()
	s := newSession(t, EphemeralConfiguration(), nil)
	body, resp, err := s.Data(t.Context(), get(t, u))
	if err != nil || string(body) != "0123456789" || resp.StatusCode != 200 || resp.ContentLength != 10 ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("got %q %v %v", body, resp, err)
	}
	req := get(t, u)
	req.Header.Set("Range", "bytes=2-4")
	if body, resp, err := s.Data(t.Context(), req); err != nil || resp.StatusCode != 206 || string(body) != "234" {
		t.Errorf("range: %q %v %v", body, resp, err)
	}
	for _, c := range []struct {
		url  string
		code Code
	}{
		{(&url.URL{Scheme: "file", Path: filepath.Join(dir, "missing")}).String(), ErrFileDoesNotExist},
		{(&url.URL{Scheme: "file", Path: dir}).String(), ErrFileIsDirectory},
		{"file://example.com/etc/hostname", ErrUnsupportedURL},
	} {
		if _, _, err := s.Data(t.Context(), get(t, c.url)); CodeOf(err) != c.code {
			t.Errorf("%s: %v, want code %d", c.url, err, c.code)
		}
	}
	if _, _, err := s.Upload(t.Context(), newReq(t, http.MethodPut, u, ""), []byte("x")); CodeOf(err) != ErrUnsupportedURL {
		t.Errorf("upload: %v", err)
	}
	if b, _ := os.ReadFile(name); string(b) != "0123456789" {
		t.Errorf("the file changed: %q", b)
	}
}
