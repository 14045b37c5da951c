package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	want := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"Wed, 04 Mar 2026 05:06:07 GMT", want},
		{"Wednesday, 04-Mar-26 05:06:07 GMT", want},
		{"Wed Mar  4 05:06:07 2026", want},
		{"2026-03-04T05:06:07Z", want},
		{"2026-03-04T07:06:07+02:00", want},
		{"2026-03-04T05:06:07", want},
		{"2026-03-04 05:06:07", want},
		{"2026-03-04", day},
		{" 20260304 05:06:07 ", want},
		{"20260304", day},
		{"4 Mar 2026 05:06:07", want},
		{"4 Mar 2026", day},
		{"Mar 4 2026", day},
	} {
		got, ok := parseDate(c.in)
		if !ok || !got.Equal(c.want) {
			t.Errorf("parseDate(%q) = %v, %v; want %v", c.in, got, ok, c.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-13-01", "04/03/2026", "file.txt"} {
		if got, ok := parseDate(bad); ok {
			t.Errorf("parseDate(%q) = %v, want no date", bad, got)
		}
	}
}

func TestTimeCondition(t *testing.T) {
	file := filepath.Join(t.TempDir(), "copy")
	writeFile(t, file, "x")
	mtime := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(file, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		arg, header string
		when        time.Time
	}{
		{"2026-03-04", "If-Modified-Since", time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)},
		{"+2026-03-04", "If-Modified-Since", time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)},
		{"-2026-03-04", "If-Unmodified-Since", time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)},
		{file, "If-Modified-Since", mtime},
		{"-" + file, "If-Unmodified-Since", mtime},
	} {
		h, when, err := timeCondition(c.arg)
		if err != nil || h != c.header || !when.Equal(c.when) {
			t.Errorf("timeCondition(%q) = %q, %v, %v; want %q, %v", c.arg, h, when, err, c.header, c.when)
		}
	}
	if _, _, err := timeCondition(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("no error for a missing file that is no date")
	}
}

// TestTimeCondAndRemoteTime runs -z and -R against a server that answers
// If-Modified-Since: the first run fetches the file and gives it the
// server's time, the second (-z FILE) asks with that time and gets a 304
// that leaves the file alone, and a run after the server's copy changed
// fetches it again.
func TestTimeCondAndRemoteTime(t *testing.T) {
	t.Parallel()
	modified := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	body := "version 1"
	var mu sync.Mutex
	var asked []string // If-Modified-Since|If-Unmodified-Since of each request
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Header.Get("If-Modified-Since")+"|"+r.Header.Get("If-Unmodified-Since"))
		mod, b := modified, body
		mu.Unlock()
		http.ServeContent(w, r, "f.txt", mod, strings.NewReader(b))
	}))
	t.Cleanup(s.Close)
	dir := t.TempDir()
	out := filepath.Join(dir, "f.txt")

	cli(t, "", "-s", "-R", "-z", out, "-o", out, s.URL+"/f.txt").want(t, 0)
	if got := readFile(t, out); got != "version 1" {
		t.Fatalf("got %q", got)
	}
	if fi, err := os.Stat(out); err != nil || !fi.ModTime().Equal(modified) {
		t.Fatalf("-R: the file's time is %v, want %v", fi.ModTime(), modified)
	}

	// Not changed since the file's time: a 304, the file untouched.
	writeFile(t, out, "local edit")
	os.Chtimes(out, modified, modified)
	r := cli(t, "", "-s", "-R", "-w", "%{http_code}", "-z", out, "-o", out, s.URL+"/f.txt").want(t, 0)
	if r.stdout != "304" || readFile(t, out) != "local edit" {
		t.Errorf("got %v, file %q", r, readFile(t, out))
	}

	// The server's copy is newer: fetched again, with its new time.
	first := modified
	mu.Lock()
	modified, body = modified.Add(time.Hour), "version 2"
	mu.Unlock()
	cli(t, "", "-s", "-R", "-z", out, "-o", out, s.URL+"/f.txt").want(t, 0)
	if fi, _ := os.Stat(out); readFile(t, out) != "version 2" || !fi.ModTime().Equal(modified) {
		t.Errorf("got %q at %v", readFile(t, out), fi.ModTime())
	}

	// "-TIME": only if not modified since; a date, not a file.
	r = cli(t, "", "-s", "-w", "%{http_code}", "-z", "-2025-01-01", "-o", "-", s.URL+"/f.txt").want(t, 0)
	if r.stdout != "412" {
		t.Errorf("If-Unmodified-Since before the change: got %v", r)
	}

	// Neither a date nor a file: warned about, no condition sent.
	r = cli(t, "", "-z", filepath.Join(dir, "missing"), s.URL+"/f.txt").want(t, 0)
	if r.stdout != "version 2" || r.stderr == "" {
		t.Errorf("got %v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	at := first.Format(http.TimeFormat)
	if want := []string{"|", at + "|", at + "|", "|Wed, 01 Jan 2025 00:00:00 GMT", "|"}; !slices.Equal(asked, want) {
		t.Errorf("conditions sent: %q", asked)
	}
}

// TestETagSaveCompare: --etag-save keeps the response's ETag and
// --etag-compare sends it back as If-None-Match, so that the file is
// fetched again only when it changed, as with curl.
func TestETagSaveCompare(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	tag, body := `"v1"`, "version 1"
	var inm []string
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		inm = append(inm, r.Header.Get("If-None-Match"))
		if tag != "" {
			w.Header().Set("ETag", tag)
		}
		if tag != "" && r.Header.Get("If-None-Match") == tag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	dir := t.TempDir()
	out, etag := filepath.Join(dir, "out"), filepath.Join(dir, "etag")
	run := func() result {
		return cli(t, "", "-w", "%{http_code}", "--etag-compare", etag, "--etag-save", etag, "-o", out, s.URL+"/").want(t, 0)
	}
	if r := run(); r.stdout != "200" || readFile(t, out) != "version 1" || readFile(t, etag) != "\"v1\"\n" {
		t.Fatalf("first: %v, etag %q", r, readFile(t, etag))
	}
	if r := run(); r.stdout != "304" || readFile(t, out) != "version 1" || readFile(t, etag) != "\"v1\"\n" {
		t.Errorf("second: %v", r)
	}
	mu.Lock()
	tag, body = `W/"v2"`, "version 2"
	mu.Unlock()
	if r := run(); r.stdout != "200" || readFile(t, out) != "version 2" || readFile(t, etag) != "W/\"v2\"\n" {
		t.Errorf("changed: %v, etag %q", r, readFile(t, etag))
	}
	// A response without a tag empties the file: nothing stale is sent.
	mu.Lock()
	tag = ""
	mu.Unlock()
	run()
	if got := readFile(t, etag); got != "" {
		t.Errorf("etag file %q after a response without ETag", got)
	}
	run()
	mu.Lock()
	want := []string{"", `"v1"`, `"v1"`, `W/"v2"`, ""}
	if !slices.Equal(inm, want) {
		t.Errorf("If-None-Match sent: %q, want %q", inm, want)
	}
	mu.Unlock()
	// A file holding something else is refused.
	writeFile(t, etag, "not a tag\n")
	cli(t, "", "--etag-compare", etag, s.URL+"/").want(t, 2)
}
