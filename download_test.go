package urlsession

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/resume"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// dlRecorder is a download delegate that records its callbacks.
type dlRecorder struct {
	mu        sync.Mutex
	events    []string
	content   []byte // the file, read in DidFinishDownloadingTo
	path      string
	written   int64 // sum of bytesWritten
	lastTotal int64 // totalBytesWritten of the last DidWriteData
	expected  int64
	writes    int
	err       error
	done      chan struct{}
	onWrite   func(t *DownloadTask, total int64)
	keep      string         // move the file here in DidFinishDownloadingTo
	modes     [2]fs.FileMode // of the directory and the file
}

var (
	_ DownloadDelegate         = (*dlRecorder)(nil)
	_ DownloadProgressDelegate = (*dlRecorder)(nil)
	_ DownloadResumeDelegate   = (*dlRecorder)(nil)
	_ MetricsDelegate          = (*dlRecorder)(nil)
	_ CompletionDelegate       = (*dlRecorder)(nil)
	_ TaskCreationDelegate     = (*dlRecorder)(nil)
	_ RedirectionDelegate      = (*dlRecorder)(nil)
)

func newDLRecorder() *dlRecorder { return &dlRecorder{done: make(chan struct{}, 100)} }

// settled waits for the DidCompleteWithError of a context-first call, which
// may come after the call returned.
func (r *dlRecorder) settled(t testing.TB) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatal("no DidCompleteWithError")
	}
}

func (r *dlRecorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.events); n > 0 && r.events[n-1] == e && e == "write" {
		return
	}
	r.events = append(r.events, e)
}

func (r *dlRecorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *dlRecorder) DidCreateTask(s *Session, t *Task) { r.add("create") }
func (r *dlRecorder) WillPerformHTTPRedirection(s *Session, t *Task, resp *http.Response, req *http.Request) *http.Request {
	r.add(fmt.Sprintf("redirect %d", resp.StatusCode))
	return req
}
func (r *dlRecorder) DidResumeAtOffset(s *Session, t *DownloadTask, off, total int64) {
	r.add(fmt.Sprintf("resume %d %d", off, total))
}
func (r *dlRecorder) DidWriteData(s *Session, t *DownloadTask, n, total, expected int64) {
	r.mu.Lock()
	r.written += n
	r.lastTotal = total
	r.expected = expected
	r.writes++
	f := r.onWrite
	r.mu.Unlock()
	r.add("write")
	if f != nil {
		f(t, total)
	}
}
func (r *dlRecorder) DidFinishDownloadingTo(s *Session, t *DownloadTask, path string) {
	b, err := os.ReadFile(path)
	fi, _ := os.Stat(filepath.Dir(path))
	ffi, _ := os.Stat(path)
	r.mu.Lock()
	r.content, r.path = b, path
	if fi != nil && ffi != nil {
		r.modes = [2]fs.FileMode{fi.Mode().Perm(), ffi.Mode().Perm()}
	}
	if err != nil {
		r.content = []byte("read error: " + err.Error())
	}
	keep := r.keep
	r.mu.Unlock()
	if keep != "" {
		os.Rename(path, keep)
	}
	r.add("finish")
}
func (r *dlRecorder) DidFinishCollectingMetrics(s *Session, t *Task, m *TaskMetrics) {
	r.add("metrics")
}
func (r *dlRecorder) DidCompleteWithError(s *Session, t *Task, err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	if err != nil {
		r.add(fmt.Sprintf("complete %d", CodeOf(err)))
	} else {
		r.add("complete")
	}
	r.done <- struct{}{}
}

// content returns n bytes that differ at every offset that matters.
func testContent(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

// sessionFiles returns the files left in the session's download directory.
func sessionFiles(s *Session) []string {
	s.downloads.mu.Lock()
	dir := s.downloads.dir
	s.downloads.mu.Unlock()
	if dir == "" {
		return nil
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// invalidate invalidates s and checks that its directory went with it.
func invalidate(t *testing.T, s *Session) {
	t.Helper()
	s.FinishTasksAndInvalidate()
	<-s.Invalidated()
	s.downloads.mu.Lock()
	dir := s.downloads.dir
	s.downloads.mu.Unlock()
	if dir == "" {
		return
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the session's directory %s is still there after invalidation: %v", dir, err)
	}
}

func TestDownloadDelegateOrder(t *testing.T) {
	content := testContent(3<<20+123, 1)
	res := urlsessiontest.NewResource(content)
	bothProtocols(t, res, func(t *testing.T, srv *server) {
		rec := newDLRecorder()
		s := newSession(t, srv.config(), rec)
		task := s.DownloadTask(get(t, srv.URL+"/file"))
		if got := s.Tasks().Download; len(got) != 1 || got[0] != task {
			t.Errorf("Tasks().Download = %v, want the task", got)
		}
		start := time.Now()
		task.Resume()
		wait(t, task)
		took := time.Since(start)
		want := []string{"create", "write", "finish", "metrics", "complete"}
		if got := rec.Events(); !sameEvents(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if sum(rec.content) != sum(content) {
			t.Errorf("the file has %d bytes, not the content's %d", len(rec.content), len(content))
		}
		if rec.written != int64(len(content)) || rec.lastTotal != int64(len(content)) || rec.expected != int64(len(content)) {
			t.Errorf("DidWriteData: %d written, last total %d of %d; want %d", rec.written, rec.lastTotal, rec.expected, len(content))
		}
		// Coalesced: at most one call per 100 ms, not one per read.
		if limit := 4 + int(took/progressInterval); rec.writes > limit {
			t.Errorf("%d DidWriteData calls for 3 MiB in %v, over %d", rec.writes, took, limit)
		}
		if _, err := os.Stat(rec.path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the file is still there after DidFinishDownloadingTo: %v", err)
		}
		if rec.modes != [2]fs.FileMode{0o700, 0o600} {
			t.Errorf("modes of the directory and the file: %v, want 0700 and 0600", rec.modes)
		}
		// Nothing left: the directory goes with its last file.
		if _, err := os.Stat(filepath.Dir(rec.path)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the session's directory is left after its last download: %v", err)
		}
		if task.CountOfBytesReceived() != int64(len(content)) || task.Response().StatusCode != 200 {
			t.Errorf("received %d bytes, status %d", task.CountOfBytesReceived(), task.Response().StatusCode)
		}
		invalidate(t, s)
	})
}

func TestDownloadKeepsMovedFile(t *testing.T) {
	content := testContent(10000, 2)
	srv := newLoopbackServer(t, urlsessiontest.NewResource(content))
	rec := newDLRecorder()
	rec.keep = filepath.Join(t.TempDir(), "kept")
	s := newSession(t, (&server{srv, "h1"}).config(), rec)
	task := s.DownloadTask(get(t, srv.URL))
	task.Resume()
	wait(t, task)
	if b, err := os.ReadFile(rec.keep); err != nil || !bytes.Equal(b, content) {
		t.Errorf("moved file: %d bytes, %v", len(b), err)
	}
}

func TestDownloadNoDelegate(t *testing.T) {
	srv := newLoopbackServer(t, urlsessiontest.NewResource([]byte("x")))
	rec := newRecorder() // no DidFinishDownloadingTo
	s := newSession(t, (&server{srv, "h1"}).config(), rec)
	task := s.DownloadTask(get(t, srv.URL))
	task.Resume()
	wait(t, task)
	if err := task.Err(); !errors.Is(err, ErrUnknown) || !errors.Is(err, ErrNoDownloadDelegate) {
		t.Errorf("err = %v, want ErrUnknown with ErrNoDownloadDelegate", err)
	}
}

func TestDownloadWithCompletion(t *testing.T) {
	content := testContent(200<<10, 3)
	bothProtocols(t, urlsessiontest.NewResource(content), func(t *testing.T, srv *server) {
		rec := newDLRecorder()
		s := newSession(t, srv.config(), rec)
		var got []byte
		var gotPath string
		var gotErr error
		task := s.DownloadTaskWithCompletion(get(t, srv.URL), func(path string, resp *http.Response, err error) {
			gotPath, gotErr = path, err
			got, _ = os.ReadFile(path)
		})
		task.Resume()
		wait(t, task)
		if gotErr != nil || !bytes.Equal(got, content) {
			t.Fatalf("handler: %d bytes, %v", len(got), gotErr)
		}
		if _, err := os.Stat(gotPath); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the file is still there after the handler: %v", err)
		}
		if want := []string{"create", "metrics"}; !sameEvents(rec.Events(), want) {
			t.Errorf("events %q, want %q", rec.Events(), want)
		}
		invalidate(t, s)
	})
}

func TestDownloadContext(t *testing.T) {
	content := testContent(1<<20+7, 4)
	bothProtocols(t, urlsessiontest.NewResource(content), func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		path, resp, err := s.Download(context.Background(), get(t, srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		invalidate(t, s)
		b, err := os.ReadFile(path) // still there: the caller's
		if err != nil || !bytes.Equal(b, content) || resp.StatusCode != 200 {
			t.Errorf("Download: %d bytes, %v, status %d", len(b), err, resp.StatusCode)
		}
	})
}

func TestDownloadErrorStatus(t *testing.T) {
	srv := newLoopbackServer(t, http.NotFoundHandler())
	s := newSession(t, (&server{srv, "h1"}).config(), nil)
	path, resp, err := s.Download(context.Background(), get(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	b, _ := os.ReadFile(path)
	if resp.StatusCode != 404 || !strings.Contains(string(b), "not found") {
		t.Errorf("status %d, body %q", resp.StatusCode, b)
	}
}

// interrupted serves res, resetting the n-th response after cut(n) bytes
// while cut returns a positive count.
func interrupted(res http.Handler, cut func(n int) int64) *urlsessiontest.FaultHandler {
	return &urlsessiontest.FaultHandler{Next: res, Choose: func(n int, r *http.Request) urlsessiontest.Fault {
		if at := cut(n); at > 0 {
			return urlsessiontest.Fault{Kind: urlsessiontest.Reset, At: at}
		}
		return urlsessiontest.Fault{}
	}}
}

func TestDownloadResumeManyInterruptions(t *testing.T) {
	content := testContent(4<<20, 5)
	res := urlsessiontest.NewResource(content)
	const cuts = 55
	cut := func(n int) int64 {
		if n >= cuts {
			return 0
		}
		return int64(20000 + (n*7919)%50000)
	}
	bothProtocols(t, nil, func(t *testing.T, _ *server) {})
	for _, proto := range []string{"h1", "h2"} {
		t.Run(proto, func(t *testing.T) {
			var ranges []string
			var mu sync.Mutex
			record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				ranges = append(ranges, r.Header.Get("Range")+" "+r.Header.Get("If-Range"))
				mu.Unlock()
				res.ServeHTTP(w, r)
			})
			fh := interrupted(record, cut)
			srv := httptest.NewUnstartedServer(fh)
			if proto == "h2" {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			rec := newDLRecorder()
			s := newSession(t, (&server{srv, proto}).config(), nil)
			ctx := context.Background()
			path, _, err := s.Download(ctx, get(t, srv.URL), WithDelegate(rec))
			rec.settled(t)
			var offsets []int64
			for i := 0; err != nil; i++ {
				data := ErrorResumeData(err)
				if data == nil {
					t.Fatalf("round %d: %v without resume data", i, err)
				}
				if CodeOf(err) != ErrNetworkConnectionLost {
					t.Errorf("round %d: code %d, want ErrNetworkConnectionLost", i, CodeOf(err))
				}
				d, derr := resume.Decode(data)
				if derr != nil {
					t.Fatal(derr)
				}
				offsets = append(offsets, d.Offset)
				if i > cuts+2 {
					t.Fatal("too many rounds")
				}
				path, _, err = s.DownloadWithResumeData(ctx, data, WithDelegate(rec))
				rec.settled(t)
			}
			defer os.Remove(path)
			b, _ := os.ReadFile(path)
			if sum(b) != sum(content) {
				t.Fatalf("the file (%d bytes) differs from the content (%d bytes)", len(b), len(content))
			}
			if len(offsets) != cuts {
				t.Errorf("%d interruptions, want %d", len(offsets), cuts)
			}
			// Each interruption resumed exactly where the last one ended:
			// no byte downloaded twice.
			var want int64
			for i, off := range offsets {
				want += cut(i)
				if off != want {
					t.Fatalf("interruption %d left %d bytes, want %d", i, off, want)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if !strings.HasPrefix(ranges[1], fmt.Sprintf("bytes=%d- %s", offsets[0], res.ETag())) {
				t.Errorf("second request: Range and If-Range %q", ranges[1])
			}
			resumes := 0
			for _, e := range rec.Events() {
				if strings.HasPrefix(e, "resume ") {
					resumes++
				}
			}
			if resumes != cuts {
				t.Errorf("%d DidResumeAtOffset, want %d", resumes, cuts)
			}
			invalidate(t, s)
		})
	}
}

// firstCut produces resume data by resetting the first response at at.
func firstCut(t *testing.T, s *Session, u string, at int64) []byte {
	t.Helper()
	_, _, err := s.Download(context.Background(), get(t, u))
	data := ErrorResumeData(err)
	if data == nil {
		t.Fatalf("no resume data after the first cut: %v", err)
	}
	d, _ := resume.Decode(data)
	if d.Offset != at {
		t.Fatalf("resume data at %d, want %d", d.Offset, at)
	}
	return data
}

func TestDownloadResumeResourceReplaced(t *testing.T) {
	old := testContent(300<<10, 6)
	res := urlsessiontest.NewResource(old)
	bothProtocols(t, interrupted(res, func(n int) int64 {
		if n%2 == 0 {
			return 100 << 10
		}
		return 0
	}), func(t *testing.T, srv *server) {
		res.Replace(old)
		s := newSession(t, srv.config(), nil)
		data := firstCut(t, s, srv.URL, 100<<10)
		updated := testContent(250<<10, 7)
		res.Replace(updated)
		rec := newDLRecorder()
		path, resp, err := s.DownloadWithResumeData(context.Background(), data, WithDelegate(rec))
		rec.settled(t)
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		b, _ := os.ReadFile(path)
		if resp.StatusCode != 200 || !bytes.Equal(b, updated) {
			t.Errorf("status %d, %d bytes; want the new content whole", resp.StatusCode, len(b))
		}
		if want := fmt.Sprintf("resume 0 %d", len(updated)); rec.Events()[0] != want {
			t.Errorf("events %q, want %q first", rec.Events(), want)
		}
		invalidate(t, s)
	})
}

func TestDownloadResumeServerIgnoresRange(t *testing.T) {
	content := testContent(300<<10, 8)
	res := urlsessiontest.NewResource(content)
	var ignore atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ignore.Load() {
			r.Header.Del("Range")
		}
		res.ServeHTTP(w, r)
	})
	bothProtocols(t, interrupted(h, func(n int) int64 {
		if n%2 == 0 {
			return 64 << 10
		}
		return 0
	}), func(t *testing.T, srv *server) {
		ignore.Store(false)
		s := newSession(t, srv.config(), nil)
		data := firstCut(t, s, srv.URL, 64<<10)
		ignore.Store(true)
		rec := newDLRecorder()
		path, _, err := s.DownloadWithResumeData(context.Background(), data, WithDelegate(rec))
		rec.settled(t)
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		b, _ := os.ReadFile(path)
		if !bytes.Equal(b, content) {
			t.Errorf("%d bytes, want the content whole (never spliced)", len(b))
		}
		if want := fmt.Sprintf("resume 0 %d", len(content)); rec.Events()[0] != want {
			t.Errorf("events %q, want %q first", rec.Events(), want)
		}
	})
}

// handMadeResumeData writes part to a file and returns resume data for it.
func handMadeResumeData(t *testing.T, u, etag string, part []byte, total int64) []byte {
	t.Helper()
	name := filepath.Join(t.TempDir(), "partial")
	if err := os.WriteFile(name, part, 0o600); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(name)
	fp, err := resume.FingerprintOf(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	d := &resume.Data{URL: u, ETag: etag, Total: total, File: name}
	d.SetFingerprint(fp)
	data, err := resume.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDownloadResume416Complete(t *testing.T) {
	content := testContent(50000, 9)
	res := urlsessiontest.NewResource(content)
	bothProtocols(t, res, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		data := handMadeResumeData(t, srv.URL, res.ETag(), content, int64(len(content)))
		rec := newDLRecorder()
		path, resp, err := s.DownloadWithResumeData(context.Background(), data, WithDelegate(rec))
		rec.settled(t)
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		b, _ := os.ReadFile(path)
		if resp.StatusCode != 416 || !bytes.Equal(b, content) {
			t.Errorf("status %d, %d bytes", resp.StatusCode, len(b))
		}
		if ev, want := rec.Events(), fmt.Sprintf("resume %d %d", len(content), len(content)); ev[0] != want || slicesContains(ev, "write") {
			t.Errorf("events %q, want %q first and no write", ev, want)
		}
	})
}

func TestDownloadResumeBadRange(t *testing.T) {
	content := testContent(50000, 10)
	etag := `"fixed"`
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Etag", etag)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-99/%d", len(content)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(content[:100])
	})
	srv := newLoopbackServer(t, h)
	s := newSession(t, (&server{srv, "h1"}).config(), nil)
	data := handMadeResumeData(t, srv.URL, etag, content[:1000], int64(len(content)))
	_, _, err := s.DownloadWithResumeData(context.Background(), data)
	if !errors.Is(err, ErrBadServerResponse) {
		t.Fatalf("err = %v, want ErrBadServerResponse", err)
	}
	// The partial file is untouched, and the error can resume it again.
	again := ErrorResumeData(err)
	d, derr := resume.Decode(again)
	if derr != nil || d.Offset != 1000 {
		t.Fatalf("resume data in the error: %v, %v", d, derr)
	}
	if b, _ := os.ReadFile(d.File); !bytes.Equal(b, content[:1000]) {
		t.Errorf("the partial file changed: %d bytes", len(b))
	}
	RemoveResumeData(again)
}

func TestDownloadResumeDataRefused(t *testing.T) {
	srv := newLoopbackServer(t, http.NotFoundHandler())
	s := newSession(t, (&server{srv, "h1"}).config(), nil)
	good := handMadeResumeData(t, srv.URL, `"x"`, []byte("hello"), 10)
	future := bytes.Clone(good)
	future[4]++
	for name, data := range map[string][]byte{
		"garbage": []byte("not resume data"), "empty": nil,
		"truncated": good[:len(good)-3], "future": future,
	} {
		_, _, err := s.DownloadWithResumeData(context.Background(), data)
		if !errors.Is(err, ErrUnsupportedURL) || !errors.Is(err, ErrInvalidResumeData) {
			t.Errorf("%s: err = %v, want ErrUnsupportedURL and ErrInvalidResumeData", name, err)
		}
	}
	d, _ := resume.Decode(good)
	for name, change := range map[string]func(){
		"longer":  func() { os.WriteFile(d.File, []byte("hello, world"), 0o600) },
		"shorter": func() { os.WriteFile(d.File, []byte("hell"), 0o600) },
		"missing": func() { os.Remove(d.File) },
	} {
		os.WriteFile(d.File, []byte("hello"), 0o600)
		data := handMadeResumeData(t, srv.URL, `"x"`, []byte("hello"), 10)
		d, _ = resume.Decode(data)
		change()
		_, _, err := s.DownloadWithResumeData(context.Background(), data)
		if !errors.Is(err, ErrCannotOpenFile) {
			t.Errorf("%s: err = %v, want ErrCannotOpenFile", name, err)
		}
		if name == "missing" && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing: err = %v, want fs.ErrNotExist", err)
		}
		if name != "missing" && !errors.Is(err, ErrPartialFileChanged) {
			t.Errorf("%s: err = %v, want ErrPartialFileChanged", name, err)
		}
	}
}

func TestDownloadNoResumeData(t *testing.T) {
	content := testContent(500<<10, 11)
	for name, res := range map[string]*urlsessiontest.Resource{
		"weak etag":     {WeakETag: true},
		"no validators": {NoValidators: true},
		"no ranges":     {NoRanges: true},
	} {
		t.Run(name, func(t *testing.T) {
			res.Replace(content)
			srv := newLoopbackServer(t, interrupted(res, func(int) int64 { return 100 << 10 }))
			s := newSession(t, (&server{srv, "h1"}).config(), nil)
			_, _, err := s.Download(context.Background(), get(t, srv.URL))
			if err == nil || ErrorResumeData(err) != nil {
				t.Errorf("err = %v with resume data %v; want an error without", err, ErrorResumeData(err) != nil)
			}
			if left := sessionFiles(s); len(left) != 0 {
				t.Errorf("files left: %q", left)
			}
			invalidate(t, s)
		})
	}
}

func TestDownloadResumeThroughRedirect(t *testing.T) {
	content := testContent(200<<10, 12)
	res := urlsessiontest.NewResource(content)
	var mu sync.Mutex
	var seen []string
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/file", http.StatusFound)
	})
	mux.Handle("/file", interrupted(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Range")+" "+r.Header.Get("If-Range"))
		mu.Unlock()
		res.ServeHTTP(w, r)
	}), func(n int) int64 {
		if n == 0 {
			return 50 << 10
		}
		return 0
	}))
	srv := newLoopbackServer(t, mux)
	s := newSession(t, (&server{srv, "h1"}).config(), nil)
	data := firstCut(t, s, srv.URL+"/start", 50<<10)
	if u, _ := ResumeDataURL(data); u.Path != "/start" {
		t.Errorf("resume data URL %v, want the original request's", u)
	}
	rec := newDLRecorder()
	path, resp, err := s.DownloadWithResumeData(context.Background(), data, WithDelegate(rec))
	rec.settled(t)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	b, _ := os.ReadFile(path)
	if resp.StatusCode != 206 || !bytes.Equal(b, content) {
		t.Errorf("status %d, %d bytes", resp.StatusCode, len(b))
	}
	mu.Lock()
	defer mu.Unlock()
	if want := fmt.Sprintf("bytes=%d- %s", 50<<10, res.ETag()); len(seen) != 2 || seen[1] != want {
		t.Errorf("requests for /file: %q, want the second %q", seen, want)
	}
	if ev := rec.Events(); len(ev) < 2 || ev[0] != "redirect 302" || ev[1] != fmt.Sprintf("resume %d %d", 50<<10, len(content)) {
		t.Errorf("events %q", ev)
	}
}

func TestDownloadRetargetedResumeData(t *testing.T) {
	content := testContent(200<<10, 13)
	res := urlsessiontest.NewResource(content)
	var oldHits atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/expired", interrupted(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oldHits.Add(1)
		res.ServeHTTP(w, r)
	}), func(int) int64 { return 70000 }))
	mux.Handle("/fresh", res)
	srv := newLoopbackServer(t, mux)
	s := newSession(t, (&server{srv, "h1"}).config(), nil)
	data := firstCut(t, s, srv.URL+"/expired", 70000)
	u, _ := url.Parse(srv.URL + "/fresh")
	moved, err := RetargetResumeData(data, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RetargetResumeData(data, &url.URL{Scheme: "ftp", Host: "x"}); err == nil {
		t.Error("retargeting to ftp succeeded")
	}
	if _, err := RetargetResumeData([]byte("junk"), u); !errors.Is(err, ErrInvalidResumeData) {
		t.Errorf("retargeting junk: %v", err)
	}
	rec := newDLRecorder()
	path, resp, err := s.DownloadWithResumeData(context.Background(), moved, WithDelegate(rec))
	rec.settled(t)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	b, _ := os.ReadFile(path)
	if resp.StatusCode != 206 || !bytes.Equal(b, content) || oldHits.Load() != 1 {
		t.Errorf("status %d, %d bytes, %d requests to the old URL", resp.StatusCode, len(b), oldHits.Load())
	}
}

// failingWriter fails with ENOSPC once more than room bytes were written.
type failingWriter struct {
	w    io.Writer
	room int64
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= f.room {
		f.room -= int64(len(p))
		return f.w.Write(p)
	}
	n, _ := f.w.Write(p[:f.room])
	f.room = 0
	return n, &fs.PathError{Op: "write", Path: "download", Err: syscall.ENOSPC}
}

func TestDownloadDiskFull(t *testing.T) {
	content := testContent(3<<20, 14)
	bothProtocols(t, urlsessiontest.NewResource(content), func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		const room = 1<<20 + 4321
		s.downloads.wrap = func(w io.Writer) io.Writer { return &failingWriter{w: w, room: room} }
		_, _, err := s.Download(context.Background(), get(t, srv.URL))
		if !errors.Is(err, ErrCannotWriteToFile) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("err = %v, want ErrCannotWriteToFile from ENOSPC", err)
		}
		data := ErrorResumeData(err)
		d, derr := resume.Decode(data)
		if derr != nil || d.Offset != room {
			t.Fatalf("resume data %+v, %v; want offset %d", d, derr, room)
		}
		if b, _ := os.ReadFile(d.File); !bytes.Equal(b, content[:room]) {
			t.Fatalf("the partial file has %d bytes, not the content's first %d", len(b), room)
		}
		s.downloads.mu.Lock()
		s.downloads.wrap = nil
		s.downloads.mu.Unlock()
		path, _, err := s.DownloadWithResumeData(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		if b, _ := os.ReadFile(path); sum(b) != sum(content) {
			t.Errorf("resumed file: %d bytes, differs", len(b))
		}
		if _, err := os.Stat(d.File); err == nil && d.File != path {
			t.Errorf("the partial file %s is left", d.File)
		}
		invalidate(t, s)
	})
}

// stalled serves res, stalling each response after at bytes.
func stalled(res http.Handler, at int64) *urlsessiontest.FaultHandler {
	return &urlsessiontest.FaultHandler{Next: res, Choose: func(int, *http.Request) urlsessiontest.Fault {
		return urlsessiontest.Fault{Kind: urlsessiontest.Stall, At: at}
	}}
}

func TestDownloadCancel(t *testing.T) {
	content := testContent(4<<20, 15)
	// A stall after 3 MiB: some DidWriteData reports a MiB or more before
	// it, at the latest once the stall is seen.
	bothProtocols(t, stalled(urlsessiontest.NewResource(content), 3<<20+10), func(t *testing.T, srv *server) {
		rec := newDLRecorder()
		rec.onWrite = func(task *DownloadTask, total int64) {
			if total >= 1<<20 {
				task.Cancel()
			}
		}
		s := newSession(t, srv.config(), rec)
		task := s.DownloadTask(get(t, srv.URL))
		task.Resume()
		wait(t, task)
		if err := task.Err(); !errors.Is(err, ErrCancelled) || ErrorResumeData(err) != nil {
			t.Errorf("err = %v (resume data %v), want ErrCancelled without", err, ErrorResumeData(err) != nil)
		}
		if left := sessionFiles(s); len(left) != 0 {
			t.Errorf("files left: %q", left)
		}
		if ev := rec.Events(); ev[len(ev)-1] != "complete -999" || strings.Contains(strings.Join(ev, " "), "finish") {
			t.Errorf("events %q", ev)
		}
		invalidate(t, s)
	})
}

func TestDownloadCancelByProducingResumeData(t *testing.T) {
	content := testContent(4<<20, 16)
	res := urlsessiontest.NewResource(content)
	var stall atomic.Bool
	stall.Store(true)
	fh := &urlsessiontest.FaultHandler{Next: res, Choose: func(int, *http.Request) urlsessiontest.Fault {
		if stall.Load() {
			return urlsessiontest.Fault{Kind: urlsessiontest.Stall, At: 3<<20 + 10}
		}
		return urlsessiontest.Fault{}
	}}
	bothProtocols(t, fh, func(t *testing.T, srv *server) {
		stall.Store(true)
		rec := newDLRecorder()
		got := make(chan []byte, 1)
		rec.onWrite = func(task *DownloadTask, total int64) {
			if total >= 1<<20 {
				go func() {
					data, _ := task.CancelByProducingResumeData(context.Background())
					got <- data
				}()
			}
		}
		s := newSession(t, srv.config(), rec)
		task := s.DownloadTask(get(t, srv.URL))
		task.Resume()
		wait(t, task)
		data := <-got
		if data == nil {
			t.Fatal("no resume data")
		}
		if err := task.Err(); !errors.Is(err, ErrCancelled) || !bytes.Equal(ErrorResumeData(err), data) {
			t.Errorf("err = %v; want ErrCancelled carrying the same resume data", err)
		}
		if again, _ := task.CancelByProducingResumeData(context.Background()); !bytes.Equal(again, data) {
			t.Error("a second CancelByProducingResumeData returned other data")
		}
		d, _ := resume.Decode(data)
		if d.Offset < 1<<20 || d.Offset > 3<<20+10 {
			t.Errorf("resume data at %d, want all that was read, between %d and %d", d.Offset, 1<<20, 3<<20+10)
		}
		if b, _ := os.ReadFile(d.File); !bytes.Equal(b, content[:d.Offset]) {
			t.Errorf("the partial file has %d bytes, not the content's first %d", len(b), d.Offset)
		}
		invalidate(t, s) // the partial file is not in the session's directory
		stall.Store(false)

		rec2 := newDLRecorder()
		s2 := newSession(t, srv.config(), rec2)
		task2 := s2.DownloadTaskWithResumeData(data)
		task2.Resume()
		wait(t, task2)
		if err := task2.Err(); err != nil {
			t.Fatal(err)
		}
		if sum(rec2.content) != sum(content) {
			t.Errorf("resumed file: %d bytes, differs", len(rec2.content))
		}
		want := []string{"create", fmt.Sprintf("resume %d %d", d.Offset, len(content)), "write", "finish", "metrics", "complete"}
		if !sameEvents(rec2.Events(), want) {
			t.Errorf("events %q, want %q", rec2.Events(), want)
		}
		if _, err := os.Stat(d.File); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the partial file is left after the resumed download: %v", err)
		}
		invalidate(t, s2)
	})
}

func TestDownloadSuspendResume(t *testing.T) {
	content := testContent(3<<20, 17)
	// The server sends half, then waits for the test: the task cannot
	// complete before it was suspended.
	var gate chan struct{}
	var gateMu sync.Mutex
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gateMu.Lock()
		g := gate
		gateMu.Unlock()
		w.Header().Set("Content-Length", strconv.Itoa(len(content)))
		half := len(content) / 2
		w.Write(content[:half])
		http.NewResponseController(w).Flush()
		select {
		case <-g:
		case <-r.Context().Done():
			return
		}
		w.Write(content[half:])
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		gateMu.Lock()
		gate = make(chan struct{})
		g := gate
		gateMu.Unlock()
		rec := newDLRecorder()
		suspended := make(chan *DownloadTask, 1)
		var once sync.Once
		rec.onWrite = func(task *DownloadTask, total int64) {
			once.Do(func() {
				task.Suspend()
				suspended <- task
			})
		}
		s := newSession(t, srv.config(), rec)
		task := s.DownloadTask(get(t, srv.URL))
		task.Resume()
		<-suspended
		if task.State() != TaskSuspended {
			t.Errorf("state %v, want suspended", task.State())
		}
		close(g)
		task.Resume()
		wait(t, task)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if task.Err() != nil || sum(rec.content) != sum(content) {
			t.Errorf("err %v, %d bytes", task.Err(), len(rec.content))
		}
		rec.mu.Unlock()
		invalidate(t, s)
		rec.mu.Lock()
	})
}

func TestDownloadInvalidateAndCancel(t *testing.T) {
	content := testContent(4<<20, 18)
	bothProtocols(t, stalled(urlsessiontest.NewResource(content), 2<<20+300<<10), func(t *testing.T, srv *server) {
		rec := newDLRecorder()
		started := make(chan struct{}, 1)
		rec.onWrite = func(*DownloadTask, int64) {
			select {
			case started <- struct{}{}:
			default:
			}
		}
		s := newSession(t, srv.config(), rec)
		task := s.DownloadTask(get(t, srv.URL))
		task.Resume()
		<-started
		s.InvalidateAndCancel()
		<-s.Invalidated()
		if err := task.Err(); !errors.Is(err, ErrCancelled) {
			t.Errorf("err = %v, want ErrCancelled", err)
		}
		s.downloads.mu.Lock()
		dir := s.downloads.dir
		s.downloads.mu.Unlock()
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the session's directory is left: %v", err)
		}
	})
}

func slicesContains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// becomeRec turns data tasks into download tasks and records what follows.
type becomeRec struct {
	mu      sync.Mutex
	events  []string
	content []byte
	dl      *DownloadTask
	metrics *TaskMetrics
	done    chan *Task
}

var (
	_ ResponseDelegate         = (*becomeRec)(nil)
	_ DataDelegate             = (*becomeRec)(nil)
	_ BecomeDownloadDelegate   = (*becomeRec)(nil)
	_ DownloadDelegate         = (*becomeRec)(nil)
	_ DownloadProgressDelegate = (*becomeRec)(nil)
	_ MetricsDelegate          = (*becomeRec)(nil)
	_ CompletionDelegate       = (*becomeRec)(nil)
)

func (r *becomeRec) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.events); n > 0 && r.events[n-1] == e && e == "write" {
		return
	}
	r.events = append(r.events, e)
}
func (r *becomeRec) DidReceiveResponse(s *Session, t *DataTask, resp *http.Response) ResponseDisposition {
	r.add(fmt.Sprintf("response %d", resp.StatusCode))
	return ResponseBecomeDownload
}
func (r *becomeRec) DidReceiveData(s *Session, t *DataTask, data []byte) { r.add("data") }
func (r *becomeRec) DidBecomeDownloadTask(s *Session, dt *DataTask, d *DownloadTask) {
	r.mu.Lock()
	r.dl = d
	r.mu.Unlock()
	r.add(fmt.Sprintf("become %d->%d", dt.TaskIdentifier(), d.TaskIdentifier()))
}
func (r *becomeRec) DidWriteData(s *Session, t *DownloadTask, n, total, expected int64) {
	r.add("write")
}
func (r *becomeRec) DidFinishDownloadingTo(s *Session, t *DownloadTask, path string) {
	b, _ := os.ReadFile(path)
	r.mu.Lock()
	r.content = b
	r.mu.Unlock()
	r.add(fmt.Sprintf("finish %d", t.TaskIdentifier()))
}
func (r *becomeRec) DidFinishCollectingMetrics(s *Session, t *Task, m *TaskMetrics) {
	r.add(fmt.Sprintf("metrics %d", t.TaskIdentifier()))
	r.mu.Lock()
	r.metrics = m
	r.mu.Unlock()
}
func (r *becomeRec) DidCompleteWithError(s *Session, t *Task, err error) {
	r.add(fmt.Sprintf("complete %d %v", t.TaskIdentifier(), CodeOf(err)))
	r.done <- t
}

func TestDataTaskBecomesDownload(t *testing.T) {
	content := testContent(2<<20+5, 19)
	bothProtocols(t, urlsessiontest.NewResource(content), func(t *testing.T, srv *server) {
		rec := &becomeRec{done: make(chan *Task, 4)}
		s := newSession(t, srv.config(), rec)
		task := s.DataTask(get(t, srv.URL))
		task.Resume()
		var done *Task
		select {
		case done = <-rec.done:
		case <-time.After(20 * time.Second):
			t.Fatal("no completion")
		}
		wait(t, task)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		id, did := task.TaskIdentifier(), rec.dl.TaskIdentifier()
		want := []string{"response 200", fmt.Sprintf("become %d->%d", id, did), "write",
			fmt.Sprintf("finish %d", did), fmt.Sprintf("metrics %d", did), fmt.Sprintf("complete %d unknown error", did)}
		want[5] = fmt.Sprintf("complete %d %v", did, Code(0))
		if !sameEvents(rec.events, want) {
			t.Errorf("events %q, want %q", rec.events, want)
		}
		if done != rec.dl.Task || task.State() != TaskCompleted || task.Err() != nil {
			t.Errorf("completed task %d, data task %v %v", done.TaskIdentifier(), task.State(), task.Err())
		}
		if sum(rec.content) != sum(content) {
			t.Errorf("the file has %d bytes, not the content's %d", len(rec.content), len(content))
		}
		if m := rec.metrics; len(m.Transactions) != 1 || m.Transactions[0].Response == nil {
			t.Errorf("the download task's metrics: %+v, want the data task's request", m)
		}
		rec.mu.Unlock()
		invalidate(t, s)
		rec.mu.Lock()
	})
}

func TestDownloadOnInvalidatedSession(t *testing.T) {
	srv := newLoopbackServer(t, urlsessiontest.NewResource([]byte("x")))
	s := newSession(t, (&server{srv, "h1"}).config(), nil)
	invalidate(t, s)
	data := handMadeResumeData(t, srv.URL, `"x"`, []byte("hello"), 10)
	got := make(chan error, 1)
	task := s.DownloadTaskWithResumeDataAndCompletion(data, func(path string, resp *http.Response, err error) {
		if path != "" {
			err = fmt.Errorf("path %q", path)
		}
		got <- err
	})
	wait(t, task)
	if err := <-got; !errors.Is(err, ErrSessionInvalidated) {
		t.Errorf("err = %v, want ErrSessionInvalidated", err)
	}
	if data, err := task.CancelByProducingResumeData(context.Background()); data != nil || err != nil {
		t.Errorf("CancelByProducingResumeData = %v, %v", data != nil, err)
	}
	// The resume data is still good: its partial file was not touched.
	d, _ := resume.Decode(data)
	if b, err := os.ReadFile(d.File); err != nil || string(b) != "hello" {
		t.Errorf("the partial file: %q, %v", b, err)
	}
}

func TestDownloadContextCancelKeepsResumeData(t *testing.T) {
	content := testContent(4<<20, 20)
	// Stalled late enough that a DidWriteData reports a MiB first.
	bothProtocols(t, stalled(urlsessiontest.NewResource(content), 3<<20+5), func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		ctx, cancel := context.WithCancel(context.Background())
		rec := newDLRecorder()
		rec.onWrite = func(_ *DownloadTask, total int64) {
			if total >= 1<<20 {
				cancel()
			}
		}
		_, _, err := s.Download(ctx, get(t, srv.URL), WithDelegate(rec))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want a cancellation", err)
		}
		data := ErrorResumeData(err)
		if data == nil {
			t.Fatal("no resume data after the context ended")
		}
		d, _ := resume.Decode(data)
		if b, _ := os.ReadFile(d.File); !bytes.Equal(b, content[:d.Offset]) || d.Offset < 1<<20 {
			t.Errorf("the partial file: %d bytes at offset %d", len(b), d.Offset)
		}
		if err := RemoveResumeData(data); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(d.File); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("RemoveResumeData left the file: %v", err)
		}
	})
}

func TestDownloadUnknownLength(t *testing.T) {
	content := testContent(1<<20+999, 21)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for b := content; len(b) > 0; {
			n := min(len(b), 100000)
			w.Write(b[:n])
			http.NewResponseController(w).Flush() // no Content-Length
			b = b[n:]
		}
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		rec := newDLRecorder()
		s := newSession(t, srv.config(), rec)
		task := s.DownloadTask(get(t, srv.URL))
		task.Resume()
		wait(t, task)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if !bytes.Equal(rec.content, content) || rec.expected != TransferSizeUnknown || rec.lastTotal != int64(len(content)) {
			t.Errorf("%d bytes, expected %d, last total %d", len(rec.content), rec.expected, rec.lastTotal)
		}
	})
}

func TestDownloadTimeoutKeepsResumeData(t *testing.T) {
	content := testContent(2<<20, 22)
	res := urlsessiontest.NewResource(content)
	bothProtocols(t, stalled(res, 500<<10), func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		req := WithOptions(get(t, srv.URL), RequestOptions{TimeoutInterval: 300 * time.Millisecond})
		_, _, err := s.Download(context.Background(), req)
		if !errors.Is(err, ErrTimedOut) {
			t.Fatalf("err = %v, want ErrTimedOut", err)
		}
		data := ErrorResumeData(err)
		d, derr := resume.Decode(data)
		if derr != nil {
			t.Fatalf("resume data: %v", derr)
		}
		defer RemoveResumeData(data)
		if b, _ := os.ReadFile(d.File); !bytes.Equal(b, content[:d.Offset]) || d.Offset > 500<<10 {
			t.Errorf("the partial file: %d bytes at offset %d", len(b), d.Offset)
		}
	})
}

// authDL answers Basic challenges and records the download callbacks.
type authDL struct {
	*dlRecorder
	challenges atomic.Int32
}

var _ TaskChallengeDelegate = (*authDL)(nil)

func (a *authDL) TaskDidReceiveChallenge(s *Session, t *Task, c *Challenge) (AuthChallengeDisposition, *Credential) {
	if c.ProtectionSpace.AuthenticationMethod != credstore.AuthMethodHTTPBasic {
		return PerformDefaultHandling, nil
	}
	a.challenges.Add(1)
	return UseCredential, NewCredential("alice", "secret", credstore.None)
}

func TestDownloadAuthenticated(t *testing.T) {
	content := testContent(300<<10, 23)
	res := urlsessiontest.NewResource(content)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "secret" {
			w.Header().Set("Www-Authenticate", `Basic realm="files"`)
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		res.ServeHTTP(w, r)
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		d := &authDL{dlRecorder: newDLRecorder()}
		s := newSession(t, srv.config(), d)
		task := s.DownloadTask(get(t, srv.URL))
		task.Resume()
		wait(t, task)
		d.mu.Lock()
		defer d.mu.Unlock()
		if task.Err() != nil || !bytes.Equal(d.content, content) || d.challenges.Load() != 1 {
			t.Errorf("err %v, %d bytes, %d challenges", task.Err(), len(d.content), d.challenges.Load())
		}
	})
}

func TestDownloadContentCoding(t *testing.T) {
	content := bytes.Repeat([]byte("compressible "), 50000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(content)
	zw.Close()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Etag", `"gz"`)
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("Content-Length", strconv.Itoa(gz.Len()))
		w.Write(gz.Bytes())
	})
	srv := newLoopbackServer(t, h)
	s := newSession(t, (&server{srv, "h1"}).config(), nil)
	path, _, err := s.Download(context.Background(), get(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	if b, _ := os.ReadFile(path); !bytes.Equal(b, content) {
		t.Errorf("the file has %d bytes, want the %d decoded", len(b), len(content))
	}
	// Cut short, a decoded body cannot resume: its offsets are not the
	// server's.
	cut := newLoopbackServer(t, interrupted(h, func(int) int64 { return int64(gz.Len() / 2) }))
	_, _, err = s.Download(context.Background(), get(t, cut.URL))
	if err == nil || ErrorResumeData(err) != nil {
		t.Errorf("err = %v, resume data %v; want an error without", err, ErrorResumeData(err) != nil)
	}
}

func TestDownloadNilRequest(t *testing.T) {
	s := newSession(t, nil, newDLRecorder())
	if _, _, err := s.Download(context.Background(), nil); !errors.Is(err, ErrUnsupportedURL) {
		t.Errorf("Download(nil): %v, want ErrUnsupportedURL", err)
	}
	task := s.DownloadTask(nil)
	task.Resume()
	wait(t, task)
	if !errors.Is(task.Err(), ErrUnsupportedURL) {
		t.Errorf("DownloadTask(nil): %v, want ErrUnsupportedURL", task.Err())
	}
	if _, err := task.CancelByProducingResumeData(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestDownloadResumeErrorStatusKeepsPartial: a resumed download answered
// with a status that is not the resource (503, 404, 500) hands that body
// over as a file and completes without an error, as Apple's download
// tasks do, while the partial file stays untouched and the resume data
// the task was made from still resumes it.
func TestDownloadResumeErrorStatusKeepsPartial(t *testing.T) {
	content := testContent(300<<10, 11)
	res := urlsessiontest.NewResource(content)
	var status atomic.Int32 // the status resumed requests get, 0 for the resource
	var cutBody atomic.Bool // the error body is cut short
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			if code := int(status.Load()); code != 0 {
				body := strings.Repeat(http.StatusText(code)+"\n", 2000)
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.WriteHeader(code)
				if cutBody.Load() {
					io.WriteString(w, body[:len(body)/2])
					panic(http.ErrAbortHandler)
				}
				io.WriteString(w, body)
				return
			}
		}
		res.ServeHTTP(w, r)
	})
	var cutNext atomic.Bool // cut the next response after 100 KiB
	bothProtocols(t, interrupted(h, func(int) int64 {
		if cutNext.CompareAndSwap(true, false) {
			return 100 << 10
		}
		return 0
	}), func(t *testing.T, srv *server) {
		status.Store(0)
		cutBody.Store(false)
		cutNext.Store(true)
		s := newSession(t, srv.config(), nil)
		data := firstCut(t, s, srv.URL, 100<<10)
		d, _ := resume.Decode(data)
		partial := d.File
		wantPartial := func(when string) {
			t.Helper()
			b, err := os.ReadFile(partial)
			if err != nil || !bytes.Equal(b, content[:100<<10]) {
				t.Fatalf("%s: the partial file is %d bytes (%v), want the first %d bytes unchanged", when, len(b), err, 100<<10)
			}
		}

		// A delegate-driven task: DidFinishDownloadingTo gets the 503's
		// body, then completion without an error.
		status.Store(503)
		rec := newDLRecorder()
		dt := s.DownloadTaskWithResumeData(data)
		dt.SetDelegate(rec)
		dt.Resume()
		rec.settled(t)
		want503 := strings.Repeat("Service Unavailable\n", 2000)
		if got := string(rec.content); got != want503 {
			t.Errorf("DidFinishDownloadingTo got %d bytes, want the 503's %d", len(got), len(want503))
		}
		if rec.err != nil {
			t.Errorf("completed with %v, want no error", rec.err)
		}
		if resp := dt.Response(); resp == nil || resp.StatusCode != 503 {
			t.Errorf("response %v, want the 503", resp)
		}
		ev := rec.Events()
		if want := []string{fmt.Sprintf("resume 0 %d", len(want503)), "write", "finish", "metrics", "complete"}; !slicesEqual(ev, want) {
			t.Errorf("events %q, want %q", ev, want)
		}
		if rec.path == partial {
			t.Error("the 503's body was handed over in the partial file")
		}
		wantPartial("after the 503")

		// A completion handler gets the 404's body; the data still holds.
		status.Store(404)
		got := make(chan string, 1)
		dt404 := s.DownloadTaskWithResumeDataAndCompletion(data, func(path string, resp *http.Response, err error) {
			b, _ := os.ReadFile(path)
			got <- fmt.Sprintf("%d %d %v", resp.StatusCode, len(b), err)
		})
		dt404.Resume()
		if g, want := <-got, fmt.Sprintf("404 %d <nil>", len(strings.Repeat("Not Found\n", 2000))); g != want {
			t.Errorf("handler got %q, want %q", g, want)
		}
		// The handler's file is removed once it returned, before Done
		// closes: the check of the session's directory below counts on it.
		<-dt404.Done()
		wantPartial("after the 404")

		// Download: the 500's body is the caller's file.
		status.Store(500)
		path, resp, err := s.DownloadWithResumeData(context.Background(), data)
		if err != nil || resp.StatusCode != 500 {
			t.Fatalf("status %v, err %v; want the 500 without an error", resp, err)
		}
		if b, _ := os.ReadFile(path); string(b) != strings.Repeat("Internal Server Error\n", 2000) {
			t.Errorf("the 500's file holds %d bytes", len(b))
		}
		os.Remove(path)
		wantPartial("after the 500")

		// The error body cut short: the error carries resume data for the
		// same partial file.
		status.Store(503)
		cutBody.Store(true)
		_, _, err = s.DownloadWithResumeData(context.Background(), data)
		again := ErrorResumeData(err)
		if err == nil || again == nil {
			t.Fatalf("cut 503: err %v, resume data %d bytes; want a failure with resume data", err, len(again))
		}
		if d2, derr := resume.Decode(again); derr != nil || d2.File != partial || d2.Offset != 100<<10 {
			t.Errorf("resume data after the cut 503: %+v, %v", d2, derr)
		}
		wantPartial("after the cut 503")
		if files := sessionFiles(s); len(files) != 0 {
			t.Errorf("files left in the session's directory: %q", files)
		}

		// Once the server is back, the same data resumes with a 206.
		status.Store(0)
		rec = newDLRecorder()
		path, resp, err = s.DownloadWithResumeData(context.Background(), data, WithDelegate(rec))
		rec.settled(t)
		if err != nil || resp.StatusCode != 206 {
			t.Fatalf("status %v, err %v; want the rest in a 206", resp, err)
		}
		defer os.Remove(path)
		if b, _ := os.ReadFile(path); sum(b) != sum(content) {
			t.Errorf("the resumed file (%d bytes) differs from the content", len(b))
		}
		if want := fmt.Sprintf("resume %d %d", 100<<10, len(content)); rec.Events()[0] != want {
			t.Errorf("events %q, want %q first", rec.Events(), want)
		}
		invalidate(t, s)
	})
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDownloadProgressWhileStalled: when the stream stalls, what arrived
// before is written to the file and reported, byte for byte, without
// waiting for more; a count is never reported twice.
func TestDownloadProgressWhileStalled(t *testing.T) {
	content := testContent(2<<20, 21)
	const at = 300<<10 + 7 // not a multiple of any buffer's size
	bothProtocols(t, stalled(urlsessiontest.NewResource(content), at), func(t *testing.T, srv *server) {
		rec := newDLRecorder()
		reached := make(chan struct{})
		var once sync.Once
		var totals []int64
		rec.onWrite = func(task *DownloadTask, total int64) {
			totals = append(totals, total) // on the serial delegate queue
			if total == at {
				once.Do(func() { close(reached) })
			}
		}
		s := newSession(t, srv.config(), rec)
		task := s.DownloadTask(get(t, srv.URL))
		task.Resume()
		select {
		case <-reached:
		case <-task.Done():
			t.Fatalf("the task ended (%v) before reporting the %d bytes that came before the stall", task.Err(), at)
		case <-time.After(10 * time.Second):
			task.Cancel() // lets the stalled handler end
			wait(t, task)
			t.Fatalf("no DidWriteData for the %d bytes that came before the stall", at)
		}
		// The bytes reported are in the file.
		task.dl.mu.Lock()
		path, written := task.dl.path, task.dl.written
		task.dl.mu.Unlock()
		if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, content[:at]) || written != at {
			t.Errorf("the file holds %d bytes (%v), %d counted; want the first %d", len(b), err, written, at)
		}
		task.Cancel()
		wait(t, task)
		rec.settled(t)
		for i := 1; i < len(totals); i++ {
			if totals[i] <= totals[i-1] {
				t.Errorf("DidWriteData totals %v do not grow", totals)
			}
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.written != at {
			t.Errorf("DidWriteData reported %d bytes in all, want %d", rec.written, at)
		}
		invalidate(t, s)
	})
}

// TestDownloadSegmentsProgressWhileStalled: when every segment of a
// segmented download stalls, the bytes written before are reported
// without waiting for more. (Each connection writes what it received
// every writeThreshold bytes: the stalls come at such a point, so all
// that was received is written.)
func TestDownloadSegmentsProgressWhileStalled(t *testing.T) {
	content := testContent(1<<20, 22)
	const first, rest = 2 * writeThreshold, writeThreshold // where the GET and each range stall
	fh := &urlsessiontest.FaultHandler{Next: urlsessiontest.NewResource(content), Choose: func(_ int, r *http.Request) urlsessiontest.Fault {
		if r.Header.Get("Range") == "" {
			return urlsessiontest.Fault{Kind: urlsessiontest.Stall, At: first}
		}
		return urlsessiontest.Fault{Kind: urlsessiontest.Stall, At: rest}
	}}
	bothProtocols(t, fh, func(t *testing.T, srv *server) {
		rec := newDLRecorder()
		reached := make(chan struct{})
		var once sync.Once
		rec.onWrite = func(task *DownloadTask, total int64) {
			if total == first+rest {
				once.Do(func() { close(reached) })
			}
		}
		s := newSession(t, srv.config(), rec)
		task := s.DownloadTask(get(t, srv.URL))
		task.SetSegments(2)
		task.Resume()
		select {
		case <-reached:
		case <-task.Done():
			t.Fatalf("the task ended (%v) before reporting the %d bytes that came before the stalls", task.Err(), first+rest)
		case <-time.After(10 * time.Second):
			task.Cancel() // lets the stalled handlers end
			wait(t, task)
			t.Fatalf("no DidWriteData for the %d bytes that came before the stalls", first+rest)
		}
		task.Cancel()
		wait(t, task)
		rec.settled(t)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.written != first+rest || rec.expected != int64(len(content)) {
			t.Errorf("DidWriteData reported %d bytes of %d, want %d of %d", rec.written, rec.expected, first+rest, len(content))
		}
		invalidate(t, s)
	})
}
