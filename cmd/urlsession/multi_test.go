package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// TestSeveralURLs: several URLs are fetched one after another, as with
// curl: each -o or -O is the output of the next URL, the others go to
// standard output, -w follows each, cookies set by one go with the next,
// the -c file is written once, and the exit status is the last URL's
// (--fail-early: the first failure's).
func TestSeveralURLs(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/set":
			http.SetCookie(w, &http.Cookie{Name: "k", Value: "v"})
			w.Write([]byte("set;"))
		case "/echo":
			w.Write([]byte("cookie=" + r.Header.Get("Cookie") + ";"))
		default:
			w.Write([]byte(strings.TrimPrefix(r.URL.Path, "/") + ";"))
		}
	}))
	t.Cleanup(s.Close)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")

	r := cli(t, "", "-w", "[%{http_code}]", s.URL+"/one", s.URL+"/two").want(t, 0)
	if r.stdout != "one;[200]two;[200]" {
		t.Errorf("stdout %q", r.stdout)
	}
	r = cli(t, "", "-o", a, s.URL+"/one", "-o", b, s.URL+"/two", s.URL+"/three").want(t, 0)
	if readFile(t, a) != "one;" || readFile(t, b) != "two;" || r.stdout != "three;" {
		t.Errorf("a %q, b %q, stdout %q", readFile(t, a), readFile(t, b), r.stdout)
	}

	// -D gathers the heads of every URL.
	heads := filepath.Join(dir, "heads")
	writeFile(t, heads, "stale")
	cli(t, "", "-D", heads, s.URL+"/one", s.URL+"/two").want(t, 0)
	if got := readFile(t, heads); strings.Count(got, "HTTP/1.1 200 OK") != 2 || strings.Contains(got, "stale") {
		t.Errorf("-D: %q", got)
	}

	// Cookies go from one URL to the next; the jar is written once.
	jar := filepath.Join(dir, "jar")
	r = cli(t, "", "-c", jar, s.URL+"/set", s.URL+"/echo").want(t, 0)
	if r.stdout != "set;cookie=k=v;" {
		t.Errorf("stdout %q", r.stdout)
	}
	if data, err := os.ReadFile(jar); err != nil || !strings.Contains(string(data), "\tk\tv") {
		t.Errorf("jar: %q, %v", data, err)
	}

	// The last URL's status; each failure reported.
	closed := closedPort(t)
	r = cli(t, "", closed, s.URL+"/ok").want(t, 0)
	if r.stdout != "ok;" || !strings.HasPrefix(r.stderr, "urlsession: (-1004)") {
		t.Errorf("got %v", r)
	}
	cli(t, "", s.URL+"/ok", closed).want(t, 7)
	hits.Store(0)
	cli(t, "", "--fail-early", closed, s.URL+"/ok").want(t, 7)
	if hits.Load() != 0 {
		t.Errorf("--fail-early went on after the failure")
	}

	// What cannot serve several URLs.
	cli(t, "", "-T", "-", s.URL+"/x", s.URL+"/y").want(t, 2)
	cli(t, "", "-d", "@-", s.URL+"/x", s.URL+"/y").want(t, 2)
	cli(t, "", s.URL+"/x", "ws://127.0.0.1:1/").want(t, 2)
	cli(t, "", "-C", "-", "-o", a, s.URL+"/x", s.URL+"/y").want(t, 2) // -C - and a URL to standard output
}

// TestRemoteNameAll: -O and --remote-name-all with several URLs, into the
// current directory.
func TestRemoteNameAll(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.URL.Path))
	}))
	t.Cleanup(s.Close)
	dir := t.TempDir()
	t.Chdir(dir)
	r := cli(t, "", "-O", s.URL+"/first.txt", "-o", "named", s.URL+"/second.txt", s.URL+"/third.txt").want(t, 0)
	if readFile(t, "first.txt") != "/first.txt" || readFile(t, "named") != "/second.txt" || r.stdout != "/third.txt" {
		t.Errorf("got %v", r)
	}
	cli(t, "", "--remote-name-all", s.URL+"/x.bin", s.URL+"/y.bin").want(t, 0)
	if readFile(t, "x.bin") != "/x.bin" || readFile(t, "y.bin") != "/y.bin" {
		t.Error("--remote-name-all did not name each file after its URL")
	}
	// -J names the -O files; the other URLs go to standard output.
	s2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Disposition", `attachment; filename="served.txt"`)
		w.Write([]byte("j" + r.URL.Path))
	}))
	t.Cleanup(s2.Close)
	r = cli(t, "", "-OJ", s2.URL+"/a", s2.URL+"/b").want(t, 0)
	if readFile(t, "served.txt") != "j/a" || r.stdout != "j/b" {
		t.Errorf("-OJ with two URLs: %v", r)
	}
	// With one URL too.
	cli(t, "", "--remote-name-all", s.URL+"/z.bin").want(t, 0)
	if readFile(t, "z.bin") != "/z.bin" {
		t.Error("--remote-name-all with one URL")
	}
}

// TestOutputDir: --output-dir holds the relative -o and -O files (made
// with --create-dirs), not an absolute -o or standard output; -g and -q
// are accepted.
func TestOutputDir(t *testing.T) {
	t.Parallel()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.URL.Path))
	}))
	t.Cleanup(s.Close)
	dir := t.TempDir()
	abs := filepath.Join(t.TempDir(), "abs")
	r := cli(t, "", "-q", "-g", "--output-dir", dir, "-o", "rel", s.URL+"/one", "-O", s.URL+"/two.txt",
		"-o", abs, s.URL+"/three", "-o", "-", s.URL+"/four").want(t, 0)
	if readFile(t, filepath.Join(dir, "rel")) != "/one" || readFile(t, filepath.Join(dir, "two.txt")) != "/two.txt" ||
		readFile(t, abs) != "/three" || r.stdout != "/four" {
		t.Errorf("got %v", r)
	}
	missing := filepath.Join(dir, "new", "sub")
	cli(t, "", "--output-dir", missing, "-o", "f", s.URL+"/x").want(t, 23)
	cli(t, "", "--output-dir", missing, "--create-dirs", "-o", "f", s.URL+"/x").want(t, 0)
	if readFile(t, filepath.Join(missing, "f")) != "/x" {
		t.Error("--create-dirs did not make the --output-dir")
	}
}

// TestSkipExistingRemoveOnError: --skip-existing fetches nothing for an
// output file that is there; --remove-on-error removes the output a failed
// run wrote (and the partial file and resume data beside it), never a file
// it did not touch; --show-headers is -i.
func TestSkipExistingRemoveOnError(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("fresh"))
	}))
	t.Cleanup(s.Close)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	writeFile(t, out, "mine")
	cli(t, "", "--skip-existing", "-o", out, s.URL+"/").want(t, 0)
	if hits.Load() != 0 || readFile(t, out) != "mine" {
		t.Errorf("--skip-existing fetched: %d, %q", hits.Load(), readFile(t, out))
	}
	os.Remove(out)
	cli(t, "", "--skip-existing", "-o", out, s.URL+"/").want(t, 0)
	if readFile(t, out) != "fresh" {
		t.Errorf("--skip-existing without a file: %q", readFile(t, out))
	}

	// The connection ends 5 bytes into a 100-byte body, with validators,
	// so that a new file's partial data would be kept for -C -.
	short := urlsessiontest.NewServer(urlsessiontest.LyingContentLength(100, "short"))
	t.Cleanup(short.Close)
	writeFile(t, out, "")
	cli(t, "", "--remove-on-error", "-o", out, short.URL+"/").want(t, 18)
	if _, err := os.Lstat(out); err == nil {
		t.Error("--remove-on-error left the file it wrote")
	}
	noFiles(t, dir)
	// A new file's partial data and resume data go too.
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Etag", `"v1"`)
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("Content-Length", "11") // one more than there is
		w.Write([]byte("0123456789"))
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}))
	t.Cleanup(cut.Close)
	r := cli(t, "", "-o", out, cut.URL+"/")
	if r.code != 18 && r.code != 56 {
		t.Fatalf("got %v", r)
	}
	wantPartialFiles(t, out, []byte("0123456789")) // kept for -C - without the flag
	r = cli(t, "", "--remove-on-error", "-o", out, cut.URL+"/")
	if r.code != 18 && r.code != 56 {
		t.Fatalf("got %v", r)
	}
	noFiles(t, dir)

	// A file the failed run did not touch stays.
	writeFile(t, out, "mine")
	cli(t, "", "--remove-on-error", "-o", out, closedPort(t)).want(t, 7)
	if readFile(t, out) != "mine" {
		t.Error("--remove-on-error removed a file the run did not write")
	}

	r = cli(t, "", "--show-headers", s.URL+"/").want(t, 0)
	if !strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(r.stdout, "fresh") {
		t.Errorf("--show-headers: %q", r.stdout)
	}
}

func TestURLEncodeReadsStdin(t *testing.T) {
	for v, want := range map[string]bool{
		"@-": true, "name@-": true, "=@-": false, "a=b@-": false, "@file": false, "content": false, "name@-x": false,
	} {
		if got := urlencodeReadsStdin(v); got != want {
			t.Errorf("%q: got %v, want %v", v, got, want)
		}
	}
}
