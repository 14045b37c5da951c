package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// cliHooked runs the command with hooks, as cli does without.
func cliHooked(t *testing.T, ctx context.Context, h hooks, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runWith(ctx, args, strings.NewReader(""), &out, &errOut, h)
	return result{code, out.String(), errOut.String()}
}

// sleeps records the waits between retries without waiting, advancing
// a clock that the retry loop reads.
type sleeps struct {
	mu   sync.Mutex
	got  []time.Duration
	skew time.Duration
}

func (s *sleeps) hooks() hooks {
	return hooks{
		sleep: func(_ context.Context, d time.Duration) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.got = append(s.got, d)
			s.skew += d
			return nil
		},
		now: func() time.Time {
			s.mu.Lock()
			defer s.mu.Unlock()
			return time.Now().Add(s.skew)
		},
	}
}

func (s *sleeps) want(t *testing.T, want ...time.Duration) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Equal(s.got, want) {
		t.Errorf("waits %v, want %v", s.got, want)
	}
}

// randomBytes returns n bytes that do not repeat, so that a splice at a
// wrong offset shows.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	r.Read(b)
	return b
}

// rangeLog records the Range and If-Range of each request.
type rangeLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *rangeLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := r.Header.Get("Range")
	if ir := r.Header.Get("If-Range"); ir != "" {
		v += " if " + ir
	}
	l.seen = append(l.seen, v)
}

func (l *rangeLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// faultServer serves res, resetting the first resets responses after at
// bytes of their body.
func faultServer(t *testing.T, res http.Handler, resets int, at int64, log *rangeLog) (*httptest.Server, *urlsessiontest.FaultHandler) {
	fh := &urlsessiontest.FaultHandler{Next: res, Choose: func(n int, r *http.Request) urlsessiontest.Fault {
		if log != nil {
			log.add(r)
		}
		if n < resets {
			return urlsessiontest.Fault{Kind: urlsessiontest.Reset, At: at}
		}
		return urlsessiontest.Fault{}
	}}
	s := httptest.NewServer(fh)
	t.Cleanup(s.Close)
	return s, fh
}

// wantResumeFiles checks that the resume data of out is there, mode 0600,
// that no other file of the command's is, and that out holds the first
// bytes of content.
func wantResumeFiles(t *testing.T, out string, content []byte) {
	t.Helper()
	fi, err := os.Stat(out + resumeSuffix)
	if err != nil {
		t.Fatalf("no %s: %v", filepath.Base(out+resumeSuffix), err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v", filepath.Base(out+resumeSuffix), fi.Mode())
	}
	for _, name := range []string{out + partialSuffix, out + resumeSuffix + ".tmp"} {
		if _, err := os.Lstat(name); err == nil {
			t.Errorf("%s is there", filepath.Base(name))
		}
	}
	got, err := os.ReadFile(out)
	if err != nil || len(got) == 0 || !bytes.HasPrefix(content, got) {
		t.Fatalf("the output holds %d bytes (%v), want a beginning of the %d bytes", len(got), err, len(content))
	}
}

// wantPartialFiles checks what an interrupted download to an output that
// was not there leaves: no output, FILE.urlsession-partial holding the
// first bytes of content and FILE.urlsession-resume, both mode 0600.
func wantPartialFiles(t *testing.T, out string, content []byte) {
	t.Helper()
	for _, name := range []string{out + resumeSuffix, out + partialSuffix} {
		fi, err := os.Lstat(name)
		if err != nil {
			t.Fatalf("no %s: %v", filepath.Base(name), err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", filepath.Base(name), fi.Mode())
		}
	}
	for _, name := range []string{out, out + resumeSuffix + ".tmp"} {
		if _, err := os.Lstat(name); err == nil {
			t.Errorf("%s is there", filepath.Base(name))
		}
	}
	got, err := os.ReadFile(out + partialSuffix)
	if err != nil || len(got) == 0 || !bytes.HasPrefix(content, got) {
		t.Fatalf("the partial file holds %d bytes (%v), want a beginning of the %d bytes", len(got), err, len(content))
	}
}

// TestContinueResumesUntilComplete: a download cut at one offset after
// another is continued by -C - from its resume data, each run sending
// Range and If-Range, until the file is byte-identical to the resource.
func TestContinueResumesUntilComplete(t *testing.T) {
	t.Parallel()
	content := randomBytes(300_000)
	res := urlsessiontest.NewResource(content)
	var log rangeLog
	const resets = 5
	s, _ := faultServer(t, res, resets, 40_000, &log)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	for i := range resets {
		r := cli(t, "", "-C", "-", "-o", out, s.URL+"/file")
		if r.code != 18 && r.code != 56 {
			t.Fatalf("run %d: %v", i, r)
		}
		wantPartialFiles(t, out, content)
	}
	cli(t, "", "-C", "-", "-o", out, s.URL+"/file").want(t, 0)
	if got := readFile(t, out); sha256.Sum256([]byte(got)) != sha256.Sum256(content) {
		t.Fatalf("the file differs from the resource (%d bytes of %d)", len(got), len(content))
	}
	noFiles(t, dir, "out")
	seen := log.get()
	if len(seen) != resets+1 || seen[0] != "" {
		t.Fatalf("requests: %q", seen)
	}
	prev := int64(0)
	for _, v := range seen[1:] {
		var from int64
		var etag string
		if _, err := fmt.Sscanf(v, "bytes=%d- if %s", &from, &etag); err != nil || etag != res.ETag() || from <= prev {
			t.Errorf("request %q: want a growing range with If-Range %s", v, res.ETag())
		}
		prev = from
	}
}

// TestContinueChangedResource: resume data for a resource that changed
// since restarts the download, never splicing two versions.
func TestContinueChangedResource(t *testing.T) {
	t.Parallel()
	first := randomBytes(200_000)
	res := urlsessiontest.NewResource(first)
	s, _ := faultServer(t, res, 1, 50_000, nil)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	r := cli(t, "", "-C", "-", "-o", out, s.URL+"/file")
	if r.code != 18 && r.code != 56 {
		t.Fatalf("got %v", r)
	}
	wantPartialFiles(t, out, first)
	fresh := bytes.Repeat([]byte("new version "), 20_000)
	res.Replace(fresh)
	cli(t, "", "-sS", "-C", "-", "-o", out, s.URL+"/file").want(t, 0)
	if got := readFile(t, out); got != string(fresh) {
		t.Fatalf("got %d bytes, not the new version", len(got))
	}
	noFiles(t, dir, "out")
}

// TestContinueDamagedResumeData: resume data whose partial file changed
// is dropped and the download starts again.
func TestContinueDamagedResumeData(t *testing.T) {
	t.Parallel()
	content := randomBytes(200_000)
	s, _ := faultServer(t, urlsessiontest.NewResource(content), 1, 50_000, nil)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	cli(t, "", "-C", "-", "-o", out, s.URL+"/file")
	wantPartialFiles(t, out, content)
	f, err := os.OpenFile(out+partialSuffix, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("junk")
	f.Close()
	r := cli(t, "", "-C", "-", "-o", out, s.URL+"/file").want(t, 0)
	if !strings.Contains(r.stderr, "starting again") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if got := readFile(t, out); got != string(content) {
		t.Fatalf("got %d bytes, not the resource", len(got))
	}
	noFiles(t, dir, "out")

	// Resume data that is not resume data.
	writeFile(t, out+resumeSuffix, "garbage")
	os.Remove(out)
	cli(t, "", "-s", "-C", "-", "-o", out, s.URL+"/file").want(t, 0)
	if got := readFile(t, out); got != string(content) {
		t.Fatalf("got %d bytes, not the resource", len(got))
	}
	noFiles(t, dir, "out")
}

// TestContinueRange: without resume data -C - asks for the rest of a
// non-empty file as curl does.
func TestContinueRange(t *testing.T) {
	t.Parallel()
	content := randomBytes(100_000)
	var log rangeLog
	res := urlsessiontest.NewResource(content)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		switch r.URL.Path {
		case "/file":
			res.ServeHTTP(w, r)
		case "/wrong":
			w.Header().Set("Content-Range", "bytes 0-9/100000")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(content[:10])
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	noRanges := urlsessiontest.NewResource(content)
	noRanges.NoRanges = true
	s2 := httptest.NewServer(noRanges)
	t.Cleanup(s2.Close)

	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	writeFile(t, out, string(content[:30_000]))
	before, _ := os.Stat(out)
	cli(t, "", "-C", "-", "-o", out, s.URL+"/file").want(t, 0)
	if got := readFile(t, out); got != string(content) {
		t.Fatalf("got %d bytes, not the resource", len(got))
	}
	if after, _ := os.Stat(out); !os.SameFile(before, after) {
		t.Error("the file was replaced")
	}
	if seen := log.get(); len(seen) != 1 || seen[0] != "bytes=30000-" {
		t.Errorf("requests: %q", seen)
	}

	// Whole already: a 416 leaves it alone.
	cli(t, "", "-C", "-", "-o", out, s.URL+"/file").want(t, 0)
	if got := readFile(t, out); got != string(content) {
		t.Fatalf("got %d bytes after the 416", len(got))
	}

	// Another range than asked for: status 33, the file untouched.
	writeFile(t, out, "mine")
	r := cli(t, "", "-C", "-", "-o", out, s.URL+"/wrong").want(t, exitRangeError)
	if !strings.HasPrefix(r.stderr, "urlsession: (33) cannot continue") || readFile(t, out) != "mine" {
		t.Errorf("got %v, file %q", r, readFile(t, out))
	}
	// An error status: status 22, the file untouched.
	cli(t, "", "-s", "-C", "-", "-o", out, s.URL+"/missing").want(t, 22)
	if got := readFile(t, out); got != "mine" {
		t.Errorf("file %q", got)
	}
	// A server that ignores ranges: the file is rewritten from its start.
	cli(t, "", "-C", "-", "-o", out, s2.URL+"/file").want(t, 0)
	if got := readFile(t, out); got != string(content) {
		t.Fatalf("got %d bytes, not the resource", len(got))
	}
	noFiles(t, dir, "out")
}

// TestRemoteName: -O names the file after the URL in the current
// directory, -J after Content-Disposition; never outside it.
func TestRemoteName(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cd := r.URL.Query().Get("cd"); cd != "" {
			w.Header().Set("Content-Disposition", cd)
		}
		w.Write([]byte("body of " + r.URL.EscapedPath()))
	}))
	t.Cleanup(s.Close)

	cli(t, "", "-O", s.URL+"/dir/file.bin?x=1").want(t, 0)
	if got := readFile(t, "file.bin"); got != "body of /dir/file.bin" {
		t.Errorf("file.bin: %q", got)
	}
	// curl overwrites with -O.
	cli(t, "", "-O", s.URL+"/other/file.bin").want(t, 0)
	if got := readFile(t, "file.bin"); got != "body of /other/file.bin" {
		t.Errorf("file.bin: %q", got)
	}
	// --no-clobber picks the next free name.
	r := cli(t, "", "--no-clobber", "-O", "-w", "%{filename_effective}", s.URL+"/file.bin").want(t, 0)
	if r.stdout != "file.bin.1" || readFile(t, "file.bin.1") != "body of /file.bin" {
		t.Errorf("got %v", r)
	}
	// The name is the URL's as it writes it, as curl names it: encoded
	// separators stay encoded and never climb out (and the name is not
	// hidden).
	cli(t, "", "-O", s.URL+"/a/..%2F..%2Fescape").want(t, 0)
	if got := readFile(t, "%2F..%2Fescape"); got != "body of /a/..%2F..%2Fescape" {
		t.Errorf("escape: %q", got)
	}
	cli(t, "", "-O", s.URL+"/a%20b.txt").want(t, 0)
	if got := readFile(t, "a%20b.txt"); got != "body of /a%20b.txt" {
		t.Errorf("a%%20b.txt: %q", got)
	}
	// A URL without a file name is refused, as curl refuses it (with -J,
	// once the response names none either).
	for _, args := range [][]string{{"-O", s.URL + "/"}, {"-O", s.URL + "/dir/"}, {"-OJ", s.URL + "/"}} {
		if r := cli(t, "", args...).want(t, 23); !strings.Contains(r.stderr, "Remote file name has no length") {
			t.Errorf("%v: %v", args, r)
		}
	}
	// -J: the server's name, made safe; an existing file is kept.
	u := s.URL + "/x.bin?cd=" + "attachment%3B%20filename%3D%22..%2Freport.txt%22"
	cli(t, "", "-OJ", u).want(t, 0)
	if got := readFile(t, "report.txt"); got != "body of /x.bin" {
		t.Errorf("report.txt: %q", got)
	}
	writeFile(t, "report.txt", "mine")
	r = cli(t, "", "-O", "-J", u).want(t, 23)
	if !strings.Contains(r.stderr, "refusing to overwrite") || readFile(t, "report.txt") != "mine" {
		t.Errorf("got %v", r)
	}
	cli(t, "", "-OJ", "--no-clobber", u).want(t, 0)
	if got := readFile(t, "report.txt.1"); got != "body of /x.bin" {
		t.Errorf("report.txt.1: %q", got)
	}
	// -J without the header: the URL's name.
	cli(t, "", "-OJ", s.URL+"/plain.txt").want(t, 0)
	if got := readFile(t, "plain.txt"); got != "body of /plain.txt" {
		t.Errorf("plain.txt: %q", got)
	}

	// A retry rewrites the file its first attempt made.
	var tries atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Disposition", `attachment; filename="flaky.txt"`)
		w.Header().Set("Content-Length", "10")
		if tries.Add(1) == 1 {
			w.Write([]byte("01234"))
			http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler)
		}
		w.Write([]byte("0123456789"))
	}))
	t.Cleanup(flaky.Close)
	var w sleeps
	cliHooked(t, context.Background(), w.hooks(), "-s", "-OJ", "--retry", "2", flaky.URL+"/x").want(t, 0)
	if got := readFile(t, "flaky.txt"); got != "0123456789" {
		t.Errorf("flaky.txt: %q", got)
	}
	w.want(t, time.Second)
	noFiles(t, dir, "file.bin", "file.bin.1", "%2F..%2Fescape", "a%20b.txt", "report.txt", "report.txt.1", "plain.txt", "flaky.txt")
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
		t.Error("a file was written outside the directory")
	}
}

// TestDownloadUsage: the combinations curl refuses.
func TestDownloadUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-C", "100", "-o", "x"},
		{"-C", "-"},
		{"-C", "-", "-o", "-"},
		{"-O", "-o", "x"},
		{"-J", "-o", "x"},
		{"-C", "-", "--no-clobber", "-o", "x"},
		{"-C", "-", "-r", "0-1", "-o", "x"},
		{"--retry", "-1"},
		{"--retry-delay", "soon"},
	} {
		r := cli(t, "", append(args, "http://127.0.0.1:1/")...)
		if r.code != exitUsage {
			t.Errorf("%q: %v", args, r)
		}
	}
}

// TestRetryStatus: transient statuses are retried with backoff from one
// second, honouring Retry-After; the last answer is the outcome.
func TestRetryStatus(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	count := map[string]int{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		count[r.URL.Path]++
		n := count[r.URL.Path]
		mu.Unlock()
		switch {
		case r.URL.Path == "/after" && n == 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("busy"))
		case r.URL.Path == "/after" && n == 2:
			w.WriteHeader(http.StatusTooManyRequests)
		case r.URL.Path == "/after":
			w.Write([]byte("done"))
		case r.URL.Path == "/down":
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("down " + string(rune('0'+n))))
		case r.URL.Path == "/404":
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	requests := func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return count[path]
	}

	var w sleeps
	r := cliHooked(t, context.Background(), w.hooks(), "--retry", "3", s.URL+"/after").want(t, 0)
	if r.stdout != "done" || requests("/after") != 3 || strings.Count(r.stderr, "will retry") != 2 {
		t.Errorf("got %v after %d requests", r, requests("/after"))
	}
	w.want(t, 7*time.Second, 2*time.Second)

	// Out of retries: the last response is written, as without --retry.
	w = sleeps{}
	r = cliHooked(t, context.Background(), w.hooks(), "-s", "--retry", "2", s.URL+"/down").want(t, 0)
	if r.stdout != "down 3" || r.stderr != "" {
		t.Errorf("got %v", r)
	}
	w.want(t, time.Second, 2*time.Second)
	cliHooked(t, context.Background(), w.hooks(), "-s", "-f", "--retry", "1", s.URL+"/down").want(t, 22)

	// --retry-delay replaces the backoff.
	w = sleeps{}
	cliHooked(t, context.Background(), w.hooks(), "-s", "--retry", "2", "--retry-delay", "3", s.URL+"/down").want(t, 0)
	w.want(t, 3*time.Second, 3*time.Second)

	// --retry-max-time: no retry that would start after it.
	w = sleeps{}
	before := requests("/down")
	cliHooked(t, context.Background(), w.hooks(), "-s", "--retry", "10", "--retry-max-time", "10", s.URL+"/down").want(t, 0)
	w.want(t, time.Second, 2*time.Second, 4*time.Second)
	if got := requests("/down") - before; got != 4 {
		t.Errorf("%d requests, want 4", got)
	}

	// The same into a file, through a download task.
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	mu.Lock()
	count["/after"] = 0
	mu.Unlock()
	w = sleeps{}
	cliHooked(t, context.Background(), w.hooks(), "-s", "--retry", "3", "-o", out, s.URL+"/after").want(t, 0)
	w.want(t, 7*time.Second, 2*time.Second)
	if got := readFile(t, out); got != "done" {
		t.Errorf("file: %q", got)
	}
	os.Remove(out)
	w = sleeps{}
	cliHooked(t, context.Background(), w.hooks(), "-s", "-f", "--retry", "1", "-o", out, s.URL+"/down").want(t, 22)
	w.want(t, time.Second)
	noFiles(t, dir)

	// A 404 is not transient.
	w = sleeps{}
	cliHooked(t, context.Background(), w.hooks(), "-s", "--retry", "3", s.URL+"/404").want(t, 0)
	w.want(t)
	if n := requests("/404"); n != 1 {
		t.Errorf("%d requests for a 404", n)
	}
}

// TestRetryResumes: --retry continues a download cut short from its
// resume data rather than starting again.
func TestRetryResumes(t *testing.T) {
	t.Parallel()
	content := randomBytes(250_000)
	res := urlsessiontest.NewResource(content)
	var log rangeLog
	s, _ := faultServer(t, res, 2, 60_000, &log)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	var w sleeps
	cliHooked(t, context.Background(), w.hooks(), "-s", "--retry", "3", "-o", out, s.URL+"/file").want(t, 0)
	w.want(t, time.Second, 2*time.Second)
	if got := readFile(t, out); got != string(content) {
		t.Fatalf("got %d bytes, not the resource", len(got))
	}
	noFiles(t, dir, "out")
	seen := log.get()
	if len(seen) != 3 || seen[0] != "" || !strings.HasPrefix(seen[1], "bytes=") || !strings.HasPrefix(seen[2], "bytes=") {
		t.Errorf("requests: %q", seen)
	}

	// Standard output cannot take back what it got: no retry.
	s2, fh := faultServer(t, res, 1, 60_000, nil)
	w = sleeps{}
	r := cliHooked(t, context.Background(), w.hooks(), "-s", "--retry", "3", s2.URL+"/file")
	if r.code != 18 && r.code != 56 {
		t.Fatalf("got %v", r)
	}
	w.want(t)
	if fh.Requests() != 1 {
		t.Errorf("%d requests", fh.Requests())
	}
}

// TestInterruptKeepsResumeData: SIGINT (the run's context) during -o
// with -C - cancels the download by producing resume data, which the next
// run continues to a byte-identical file.
func TestInterruptKeepsResumeData(t *testing.T) {
	t.Parallel()
	content := randomBytes(3 << 20)
	res := urlsessiontest.NewResource(content)
	var log rangeLog
	fh := &urlsessiontest.FaultHandler{Next: res, Choose: func(n int, r *http.Request) urlsessiontest.Fault {
		log.add(r)
		if n == 0 {
			return urlsessiontest.Fault{Kind: urlsessiontest.Stall, At: 5 << 19}
		}
		return urlsessiontest.Fault{}
	}}
	s := httptest.NewServer(fh)
	t.Cleanup(s.Close)
	dir := t.TempDir()
	// Through a symbolic link whose target does not exist yet.
	target, out := filepath.Join(dir, "target"), filepath.Join(dir, "link")
	if err := os.Symlink("target", out); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := hooks{wrote: func(n int64) {
		if n >= 1<<20 {
			cancel()
		}
	}}
	cliHooked(t, ctx, h, "-C", "-", "-o", out, s.URL+"/file").want(t, exitInterrupted)
	wantResumeFiles(t, out, content)

	cli(t, "", "-C", "-", "-o", out, s.URL+"/file").want(t, 0)
	if got := readFile(t, target); got != string(content) {
		t.Fatalf("got %d bytes, not the resource", len(got))
	}
	if fi, err := os.Lstat(out); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is no longer a link: %v", err)
	}
	noFiles(t, dir, "target", "link")
	seen := log.get()
	var from int64
	if len(seen) != 2 {
		t.Fatalf("requests: %q", seen)
	}
	if _, err := fmt.Sscanf(seen[1], "bytes=%d-", &from); err != nil || from < 1<<20 {
		t.Errorf("resumed with %q: want at least the MiB written", seen[1])
	}
}

// TestDownloadProgressBar: a download task's bar follows DidWriteData.
func TestDownloadProgressBar(t *testing.T) {
	t.Parallel()
	content := randomBytes(100_000)
	s := httptest.NewServer(urlsessiontest.NewResource(content))
	t.Cleanup(s.Close)
	out := filepath.Join(t.TempDir(), "out")
	r := cli(t, "", "-#", "--retry", "1", "-o", out, s.URL+"/file").want(t, 0)
	if !strings.Contains(r.stderr, "100% [########################] (98/98 KiB, ") || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if got := readFile(t, out); got != string(content) {
		t.Errorf("got %d bytes", len(got))
	}
}

// TestRetryConnection: a connection lost before anything was written, or a
// time-out, is retried, even to standard output.
func TestRetryConnection(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	s := urlsessiontest.NewServer(func(c *urlsessiontest.Conn) {
		switch conns.Add(1) {
		case 1: // an empty reply
		case 2:
			c.Stall() // until -m gives up
		default:
			c.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		}
	})
	t.Cleanup(s.Close)
	var w sleeps
	r := cliHooked(t, context.Background(), w.hooks(), "-m", "0.5", "--retry", "3", s.URL+"/").want(t, 0)
	if r.stdout != "ok" || conns.Load() != 3 {
		t.Errorf("got %v after %d connections", r, conns.Load())
	}
	if !strings.Contains(r.stderr, "will retry in 1s, 3 retries left") || !strings.Contains(r.stderr, "will retry in 2s, 2 retries left") {
		t.Errorf("stderr: %q", r.stderr)
	}
	w.want(t, time.Second, 2*time.Second)
}

// TestContinueWholeAlready: resume data whose partial file turns out to be
// the whole resource (a 416 giving its length) completes the file, -f or
// not.
func TestContinueWholeAlready(t *testing.T) {
	t.Parallel()
	var log rangeLog
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		w.Header().Set("Etag", `"v1"`)
		w.Header().Set("Accept-Ranges", "bytes")
		if r.Header.Get("Range") != "" {
			w.Header().Set("Content-Range", "bytes */10")
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Length", "11") // one more than there is
		w.Write([]byte("0123456789"))
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}))
	t.Cleanup(s.Close)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	r := cli(t, "", "-C", "-", "-o", out, s.URL+"/")
	if r.code != 18 && r.code != 56 {
		t.Fatalf("got %v", r)
	}
	wantPartialFiles(t, out, []byte("0123456789"))
	cli(t, "", "-f", "-C", "-", "-o", out, s.URL+"/").want(t, 0)
	if got := readFile(t, out); got != "0123456789" {
		t.Errorf("got %q", got)
	}
	noFiles(t, dir, "out")
	if seen := log.get(); len(seen) != 2 || seen[1] != `bytes=10- if "v1"` {
		t.Errorf("requests: %q", seen)
	}
}

// TestContinueMovedResumeData: resume data only ever writes the partial
// file beside the output: moved together with it, it still resumes; the
// file it first named is not touched.
func TestContinueMovedResumeData(t *testing.T) {
	t.Parallel()
	content := randomBytes(200_000)
	var log rangeLog
	s, _ := faultServer(t, urlsessiontest.NewResource(content), 1, 70_000, &log)
	base := t.TempDir()
	dir := filepath.Join(base, "a")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "", "-C", "-", "-o", filepath.Join(dir, "out"), s.URL+"/file")
	if r.code != 18 && r.code != 56 {
		t.Fatalf("got %v", r)
	}
	moved := filepath.Join(base, "b")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	// Something else now lives where the partial file was.
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "out"+partialSuffix), "mine")
	out := filepath.Join(moved, "out")
	cli(t, "", "-C", "-", "-o", out, s.URL+"/file").want(t, 0)
	if got := readFile(t, out); got != string(content) {
		t.Fatalf("got %d bytes, not the resource", len(got))
	}
	if got := readFile(t, filepath.Join(dir, "out"+partialSuffix)); got != "mine" {
		t.Errorf("the other file: %q", got)
	}
	noFiles(t, moved, "out")
	if seen := log.get(); len(seen) != 2 || !strings.HasPrefix(seen[1], "bytes=") {
		t.Errorf("requests: %q", seen)
	}
}

// TestDownloadOnlyFlags: --segments, --checksum and --limit-rate go
// through a download task: a segmented download arrives whole, a checksum
// that matches keeps the file and one that does not leaves nothing (exit
// 32), and the flags need an output file.
func TestDownloadOnlyFlags(t *testing.T) {
	t.Parallel()
	content := randomBytes(3 << 20)
	sum := sha256.Sum256(content)
	var ranges atomic.Int32
	res := urlsessiontest.NewResource(content)
	// The first whole response pauses after 1 MiB until a range request
	// comes (or, should none come, for 5 s): a fast transfer could
	// otherwise end before the segments start, a correct download
	// without ranges.
	rangeSeen := make(chan struct{})
	var seenOnce sync.Once
	seen := func() { seenOnce.Do(func() { close(rangeSeen) }) }
	time.AfterFunc(5*time.Second, seen) // a guard: no test waits on it
	var paused atomic.Bool
	whole := &urlsessiontest.FaultHandler{Next: res, Choose: func(int, *http.Request) urlsessiontest.Fault {
		if !paused.CompareAndSwap(false, true) {
			return urlsessiontest.Fault{}
		}
		return urlsessiontest.Fault{Kind: urlsessiontest.Pause, At: 1 << 20, Resume: rangeSeen}
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") == "" {
			whole.ServeHTTP(w, r)
			return
		}
		ranges.Add(1)
		seen()
		res.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()

	out := filepath.Join(dir, "segmented")
	cli(t, "", "-sS", "--segments", "4", "--checksum", "sha256:"+hex.EncodeToString(sum[:]), "-o", out, srv.URL+"/file").want(t, 0)
	if got := readFile(t, out); got != string(content) {
		t.Fatalf("segmented: %d bytes, not the content", len(got))
	}
	if ranges.Load() == 0 {
		t.Error("--segments 4 sent no range request")
	}

	limited := filepath.Join(dir, "limited")
	cli(t, "", "-sS", "--limit-rate", "100M", "-o", limited, srv.URL+"/file").want(t, 0)
	if got := readFile(t, limited); got != string(content) {
		t.Fatalf("--limit-rate: %d bytes, not the content", len(got))
	}

	bad := filepath.Join(dir, "bad")
	wrong := sha256.Sum256([]byte("something else"))
	r := cli(t, "", "-sS", "--checksum", "sha256:"+hex.EncodeToString(wrong[:]), "-o", bad, srv.URL+"/file").want(t, 32)
	if !strings.Contains(r.stderr, "-10001") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if _, err := os.Stat(bad); err == nil && readFile(t, bad) == string(content) {
		t.Error("a file that failed its checksum was kept")
	}

	cli(t, "", "--checksum", "md5:00", "-o", filepath.Join(dir, "x"), srv.URL+"/file").want(t, 2)
	cli(t, "", "--segments", "4", srv.URL+"/file").want(t, 2)
	cli(t, "", "--segments", "99", "-o", filepath.Join(dir, "y"), srv.URL+"/file").want(t, 2)
	cli(t, "", "--limit-rate", "1M", "-o", "/dev/null", srv.URL+"/file").want(t, 2)
}

// TestContinueAfterErrorStatus: an answer to -C - that is not the
// resource (a 503) leaves the output and its resume data as they were,
// exit 22; --retry waits and continues from them rather than starting
// again; and the same holds for a download task's partial file
// (--limit-rate). Over HTTP/1.1 and HTTP/2.
func TestContinueAfterErrorStatus(t *testing.T) {
	t.Parallel()
	content := randomBytes(300_000)
	res := urlsessiontest.NewResource(content)
	var log rangeLog
	var busy atomic.Int32 // ranged requests still to answer with a 503
	var cutNext atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		if r.Header.Get("Range") != "" && busy.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "busy, come back later\n")
			return
		}
		res.ServeHTTP(w, r)
	})
	fh := &urlsessiontest.FaultHandler{Next: h, Choose: func(int, *http.Request) urlsessiontest.Fault {
		if cutNext.CompareAndSwap(true, false) {
			return urlsessiontest.Fault{Kind: urlsessiontest.Reset, At: 60_000}
		}
		return urlsessiontest.Fault{}
	}}
	for _, proto := range []string{"h1", "h2"} {
		t.Run(proto, func(t *testing.T) {
			srv := protoServer(t, proto, fh)
			u := srv.URL + "/file"
			for _, mode := range [][]string{nil, {"--limit-rate", "100M"}} {
				log = rangeLog{}
				dir := t.TempDir()
				out := filepath.Join(dir, "out")
				args := func(more ...string) []string {
					return append(append(append([]string{"-k", "-s", "-C", "-", "-o", out}, mode...), more...), u)
				}
				cutNext.Store(true)
				if r := cli(t, "", args()...); r.code != 18 && r.code != 56 {
					t.Fatalf("%v: first run: %v", mode, r)
				}
				keep := out + partialSuffix
				resumeBefore := readFile(t, out+resumeSuffix)
				keptBefore := readFile(t, keep)

				// -C - answered with a 503: exit 22, nothing touched.
				busy.Store(1)
				cli(t, "", args()...).want(t, 22)
				if readFile(t, out+resumeSuffix) != resumeBefore || readFile(t, keep) != keptBefore {
					t.Fatalf("%v: the 503 changed the resume data or the partial file", mode)
				}
				if _, err := os.Stat(out); err == nil {
					t.Fatalf("%v: the 503's body went to the output", mode)
				}

				// --retry: the 503 is waited out and the download continues.
				busy.Store(1)
				var w sleeps
				cliHooked(t, context.Background(), w.hooks(), args("--retry", "2")...).want(t, 0)
				w.want(t, 3*time.Second)
				if got := readFile(t, out); sha256.Sum256([]byte(got)) != sha256.Sum256(content) {
					t.Fatalf("%v: the output (%d bytes) differs from the resource", mode, len(got))
				}
				noFiles(t, dir, "out")
				seen := log.get()
				want := fmt.Sprintf("bytes=60000- if %s", res.ETag())
				if len(seen) != 4 || seen[0] != "" || seen[1] != want || seen[2] != want || seen[3] != want {
					t.Errorf("%v: requests %q; want the first, then %q three times", mode, seen, want)
				}
			}
		})
	}
}
