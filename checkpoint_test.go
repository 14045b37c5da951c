package urlsession

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/resume"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// rangesSeen records the Range field of each request (with " if " and
// If-Range when there is one; "" for a request of the whole).
type rangesSeen struct {
	mu   sync.Mutex
	seen []string
}

func (l *rangesSeen) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get("Range")
		if ir := r.Header.Get("If-Range"); ir != "" {
			v += " if " + ir
		}
		l.mu.Lock()
		l.seen = append(l.seen, v)
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (l *rangesSeen) since(i int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen[i:]...)
}

// TestDownloadCheckpoint: a checkpoint taken while a download (one stream,
// and four segments) runs, then more written after it, continues what a
// killed process leaves: the partial file as it was when the task stopped.
// The continued task asks only for what the checkpoint does not count,
// with If-Range, and ends with the content. A partial file whose counted
// bytes changed, or that lost some, fails with ErrPartialFileChanged and
// is left alone.
func TestDownloadCheckpoint(t *testing.T) {
	for _, segs := range []int{1, 4} {
		t.Run(fmt.Sprintf("segments=%d", segs), func(t *testing.T) {
			content := testContent(4<<20, 71)
			res := urlsessiontest.NewResource(content)
			var log rangesSeen
			g := &gated{next: log.wrap(res), at: 256 << 10}
			bothProtocols(t, g, func(t *testing.T, srv *server) {
				cfg := srv.config()
				cfg.DownloadSegments = segs
				partial := filepath.Join(t.TempDir(), "file.partial")
				// Every response stops at its 256th KiB until released,
				// then at its 512th: the download holds segs × 256 KiB,
				// then twice that.
				g.reset()
				full := g.at * int64(segs)
				var mu sync.Mutex
				var total int64
				moved := make(chan struct{}, 1)
				rec := newDLRecorder()
				rec.onWrite = func(dt *DownloadTask, n int64) {
					mu.Lock()
					total = n
					mu.Unlock()
					select {
					case moved <- struct{}{}:
					default:
					}
				}
				waitTotal := func(task *DownloadTask, n int64) {
					t.Helper()
					for {
						mu.Lock()
						cur := total
						mu.Unlock()
						if cur == n {
							return
						}
						select {
						case <-moved:
						case <-task.Done():
							t.Fatalf("the task ended at %d bytes, want %d: %v", cur, n, task.Err())
						}
					}
				}
				s := newSession(t, cfg, rec)
				task := s.DownloadTask(get(t, srv.URL))
				t.Cleanup(task.Cancel)
				if _, err := task.Checkpoint(); !errors.Is(err, ErrNoCheckpoint) {
					t.Errorf("Checkpoint before Resume: %v, want ErrNoCheckpoint", err)
				}
				if err := task.SetPartialFile(partial); err != nil {
					t.Fatal(err)
				}
				task.Resume()
				waitTotal(task, full)
				checkpoint, err := task.Checkpoint()
				if err != nil {
					t.Fatal(err)
				}
				g.release()
				waitTotal(task, 2*full)
				d, err := resume.Decode(checkpoint)
				if err != nil || !d.Checkpoint || d.File != partial {
					t.Fatalf("checkpoint %+v, %v", d, err)
				}
				if d.Offset != full {
					t.Fatalf("the checkpoint counts %d bytes, want %d", d.Offset, full)
				}
				if (d.Segments != nil) != (segs > 1) {
					t.Fatalf("checkpoint segments %v with %d segments", d.Segments, segs)
				}
				// What a killed process leaves: the file as it is now.
				left, err := os.ReadFile(partial)
				if err != nil {
					t.Fatal(err)
				}
				task.Cancel()
				wait(t, task)
				g.open()

				// Damaged: a counted byte changed, or the file cut short.
				last := d.Offset - 1
				if d.Segments != nil {
					g := d.Segments.Segments[0]
					last = g.Start + g.Done - 1
				}
				altered := append([]byte(nil), left...)
				altered[last] ^= 1
				for name, b := range map[string][]byte{"altered": altered, "short": left[:last]} {
					if err := os.WriteFile(partial, b, 0o600); err != nil {
						t.Fatal(err)
					}
					bad := newSession(t, cfg, newDLRecorder()).DownloadTaskWithResumeData(checkpoint)
					bad.Resume()
					wait(t, bad)
					var e *Error
					if err := bad.Err(); !errors.As(err, &e) || e.Code != ErrCannotOpenFile || !errors.Is(err, ErrPartialFileChanged) {
						t.Errorf("%s: %v, want ErrCannotOpenFile with ErrPartialFileChanged", name, err)
					}
					if got, _ := os.ReadFile(partial); string(got) != string(b) {
						t.Errorf("%s: the partial file was changed", name)
					}
				}

				if err := os.WriteFile(partial, left, 0o600); err != nil {
					t.Fatal(err)
				}
				from := len(log.since(0))
				rec2 := newDLRecorder()
				s2 := newSession(t, cfg, rec2)
				rt := s2.DownloadTaskWithResumeData(checkpoint)
				rt.Resume()
				wait(t, rt)
				if err := rt.Err(); err != nil {
					t.Fatal(err)
				}
				rec2.mu.Lock()
				got := rec2.content
				rec2.mu.Unlock()
				if sum(got) != sum(content) {
					t.Fatalf("the continued download has %d bytes, not the content", len(got))
				}
				if ev := strings.Join(rec2.Events(), ","); !strings.Contains(ev, fmt.Sprintf("resume %d %d", d.Offset, len(content))) {
					t.Errorf("events %s: want DidResumeAtOffset(%d, %d)", ev, d.Offset, len(content))
				}
				// Only what the checkpoint did not count was asked for.
				want := map[string]bool{}
				if d.Segments == nil {
					want[fmt.Sprintf("bytes=%d-", d.Offset)] = true
				} else {
					for _, g := range d.Segments.Segments {
						if r := g.Remaining(); r.Len() > 0 {
							want[r.Header()] = true
						}
					}
				}
				asked := log.since(from)
				for _, v := range asked {
					r, ir, _ := strings.Cut(v, " if ")
					if ir != res.ETag() {
						t.Errorf("request %q: want a range with If-Range %s", v, res.ETag())
					}
					if d.Segments == nil && !want[r] {
						t.Errorf("request %q: want %v", v, want)
					}
					delete(want, r)
				}
				if len(want) != 0 {
					t.Errorf("requests %q: not asked for %v", asked, want)
				}
				if _, err := rt.Checkpoint(); !errors.Is(err, ErrNoCheckpoint) {
					t.Errorf("Checkpoint after completion: %v, want ErrNoCheckpoint", err)
				}
				invalidate(t, s)
				invalidate(t, s2)
			})
		})
	}
}

// gated serves next, holding each response's body at its at-th byte
// until release, then at twice that until open (or the request ends).
type gated struct {
	next http.Handler
	at   int64
	mu   sync.Mutex
	gate chan struct{} // closed by release
	all  chan struct{} // closed by open
}

func (g *gated) reset() {
	g.mu.Lock()
	g.gate, g.all = make(chan struct{}), make(chan struct{})
	g.mu.Unlock()
}

func (g *gated) release() { g.mu.Lock(); close(g.gate); g.mu.Unlock() }
func (g *gated) open()    { g.mu.Lock(); close(g.all); g.mu.Unlock() }

func (g *gated) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	gw := &gateWriter{ResponseWriter: w, g: g, gate: g.gate, all: g.all, done: r.Context().Done()}
	g.mu.Unlock()
	g.next.ServeHTTP(gw, r)
}

type gateWriter struct {
	http.ResponseWriter
	g         *gated
	gate, all chan struct{}
	done      <-chan struct{}
	n         int64
}

func (w *gateWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		var wait chan struct{}
		switch w.n {
		case w.g.at:
			wait = w.gate
		case 2 * w.g.at:
			wait = w.all
		}
		if wait != nil {
			w.ResponseWriter.(http.Flusher).Flush()
			select {
			case <-wait:
			case <-w.done:
				return written, errors.New("the request ended")
			}
		}
		k := int64(len(p))
		for _, stop := range []int64{w.g.at, 2 * w.g.at} {
			if w.n < stop {
				k = min(k, stop-w.n)
				break
			}
		}
		m, err := w.ResponseWriter.Write(p[:k])
		written += m
		w.n += int64(m)
		p = p[m:]
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

func (w *gateWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

// TestDownloadCheckpointNotResumable: a response without a validator
// cannot be continued, so it has no checkpoint.
func TestDownloadCheckpointNotResumable(t *testing.T) {
	content := testContent(1<<20, 72)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		w.Write(content[:len(content)/2])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		errs := make(chan error, 1)
		rec := newDLRecorder()
		rec.onWrite = func(dt *DownloadTask, total int64) {
			if total == int64(len(content)/2) {
				_, err := dt.Checkpoint()
				errs <- err
			}
		}
		s := newSession(t, srv.config(), rec)
		task := s.DownloadTask(get(t, srv.URL))
		task.Resume()
		select {
		case err := <-errs:
			if !errors.Is(err, ErrNoCheckpoint) {
				t.Errorf("Checkpoint: %v, want ErrNoCheckpoint", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("no DidWriteData for the first half")
		}
		task.Cancel()
		wait(t, task)
		invalidate(t, s)
	})
}
