package urlsession

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/resumable"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// upRecorder records an upload's events and checks its send progress.
type upRecorder struct {
	*infoRecorder
	mu2      sync.Mutex
	deltas   int64 // sum of bytesSent
	total    int64 // last totalBytesSent
	expected int64
	backward bool // totalBytesSent went down, or did not match the deltas
	seen104  chan struct{}
	once     sync.Once
}

func newUpRecorder() *upRecorder {
	return &upRecorder{infoRecorder: &infoRecorder{recorder: newRecorder()}, seen104: make(chan struct{})}
}

func (r *upRecorder) DidSendBodyData(s *Session, t *Task, n, total, expected int64) {
	r.mu2.Lock()
	if total < r.total || n <= 0 || r.deltas+n != total {
		r.backward = true
	}
	r.deltas += n
	r.total, r.expected = total, expected
	r.mu2.Unlock()
	r.recorder.DidSendBodyData(s, t, n, total, expected)
}

func (r *upRecorder) DidReceiveInformationalResponse(s *Session, t *Task, resp *http.Response) {
	r.infoRecorder.DidReceiveInformationalResponse(s, t, resp)
	if resp.StatusCode == 104 {
		r.once.Do(func() { close(r.seen104) })
	}
}

// checkProgress checks that DidSendBodyData counted each byte once.
func (r *upRecorder) checkProgress(t *testing.T, size int64) {
	t.Helper()
	r.mu2.Lock()
	defer r.mu2.Unlock()
	if r.backward || r.deltas != size || r.total != size || r.expected != size {
		t.Errorf("send progress: deltas %d, total %d, expected %d, went backward %v; want %d each", r.deltas, r.total, r.expected, r.backward, size)
	}
}

// checkUploadEvents checks that an upload's events are create, one 104
// among the send progress, then tail.
func checkUploadEvents(t *testing.T, ev []string, tail ...string) {
	t.Helper()
	var head []string
	for _, e := range ev[:max(len(ev)-len(tail), 0)] {
		if e != "send" {
			head = append(head, e)
		}
	}
	if !sameEvents(head, []string{"create", "info 104"}) || !sameEvents(ev[max(len(ev)-len(tail), 0):], tail) {
		t.Errorf("events %q, want create, info 104 among send, then %q", ev, tail)
	}
}

func randomBody(n int, seed uint64) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func describeBody(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%d bytes, sha256 %s", len(b), hex.EncodeToString(sum[:]))
}

// cuts returns an Interrupt hook that cuts the first len(at) requests
// carrying the upload's bytes after the given numbers of bytes (with
// status: 0 resets), once the client has seen the 104.
func cuts(rec *upRecorder, status int, at ...int64) func(int64) (int64, int) {
	var mu sync.Mutex
	return func(int64) (int64, int) {
		select {
		case <-rec.seen104:
		case <-time.After(10 * time.Second):
		}
		mu.Lock()
		defer mu.Unlock()
		if len(at) == 0 {
			return -1, 0
		}
		n := at[0]
		at = at[1:]
		return n, status
	}
}

// swapHandler serves the ResumableUploads given last to use, so that each
// run of a test has its own, set up before it serves.
type swapHandler struct {
	p atomic.Pointer[urlsessiontest.ResumableUploads]
}

func (h *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.p.Load().ServeHTTP(w, r) }

func (h *swapHandler) use(rs *urlsessiontest.ResumableUploads) *urlsessiontest.ResumableUploads {
	h.p.Store(rs)
	return rs
}

func versionConfig(cfg *Configuration, v int) *Configuration {
	cfg.ResumableUploadVersion = v
	return cfg
}

func TestResumableUploadInterrupted(t *testing.T) {
	body := randomBody(300<<10, 1)
	for _, v := range []int{3, 5, 6} {
		for _, from := range []string{"memory", "file"} {
			for _, status := range []int{0, 503} {
				if status != 0 && v != 6 {
					continue // the 5xx path does not depend on the version
				}
				t.Run(fmt.Sprintf("v%d/%s/status%d", v, from, status), func(t *testing.T) {
					sw := &swapHandler{}
					bothProtocols(t, sw, func(t *testing.T, srv *server) {
						rec := newUpRecorder()
						rs := sw.use(&urlsessiontest.ResumableUploads{Interrupt: cuts(rec, status, 1, 100<<10, 299<<10)})
						s := newSession(t, versionConfig(srv.config(), v), rec)
						req := newReq(t, http.MethodPost, srv.URL+"/upload", "")
						var task *UploadTask
						if from == "file" {
							name := filepath.Join(t.TempDir(), "body")
							if err := os.WriteFile(name, body, 0o600); err != nil {
								t.Fatal(err)
							}
							task = s.UploadTaskFromFile(req, name)
						} else {
							task = s.UploadTask(req, body)
						}
						task.Resume()
						wait(t, task)
						if err := task.Err(); err != nil {
							t.Fatal(err)
						}
						ups := rs.Uploads()
						last := ups[len(ups)-1]
						if !last.Complete || !bytes.Equal(last.Data, body) || last.Version != v {
							t.Errorf("server holds %d bytes, complete %v, version %d", len(last.Data), last.Complete, last.Version)
						}
						if got, want := rec.Body(), describeBody(body); got != want {
							t.Errorf("response body %q, want %q", got, want)
						}
						if resp := task.Response(); resp == nil || resp.StatusCode != http.StatusCreated {
							t.Errorf("response %v", resp)
						}
						rec.checkProgress(t, int64(len(body)))
						checkUploadEvents(t, rec.Events(), "response 201", "data", "metrics", "complete")
						if n := task.CountOfBytesSent(); n != int64(len(body)) {
							t.Errorf("CountOfBytesSent %d", n)
						}
						// The metrics show the creation and, per resumption, an
						// offset retrieval and an append.
						rec.mu.Lock()
						m := rec.metrics
						rec.mu.Unlock()
						var methods []string
						for _, tx := range m.Transactions {
							methods = append(methods, tx.Request.Method)
						}
						if got := strings.Join(methods, " "); got != "POST HEAD PATCH HEAD PATCH HEAD PATCH" {
							t.Errorf("requests %s", got)
						}
					})
				})
			}
		}
	}
}

func TestResumableUploadConflict(t *testing.T) {
	body := randomBody(200<<10, 2)
	sw := &swapHandler{}
	bothProtocols(t, sw, func(t *testing.T, srv *server) {
		rec := newUpRecorder()
		var conflicts atomic.Int32
		rs := sw.use(&urlsessiontest.ResumableUploads{
			Interrupt: cuts(rec, 0, 50<<10),
			Conflict:  func(int64) bool { return conflicts.Add(1) == 1 }, // the first append
		})
		s := newSession(t, srv.config(), rec)
		task := s.UploadTask(newReq(t, http.MethodPut, srv.URL+"/upload", ""), body)
		task.Resume()
		wait(t, task)
		if err := task.Err(); err != nil {
			t.Fatal(err)
		}
		ups := rs.Uploads()
		if last := ups[len(ups)-1]; !last.Complete || !bytes.Equal(last.Data, body) {
			t.Errorf("server holds %d bytes, complete %v", len(last.Data), last.Complete)
		}
		rec.checkProgress(t, int64(len(body)))
		var codes []string
		for _, tx := range rec.metrics.Transactions {
			if tx.Response == nil {
				codes = append(codes, tx.Request.Method+" -")
				continue
			}
			codes = append(codes, fmt.Sprintf("%s %d", tx.Request.Method, tx.Response.StatusCode))
		}
		// The creation's transaction has no response: it was reset.
		if got := strings.Join(codes[1:], ", "); got != "HEAD 204, PATCH 409, HEAD 204, PATCH 201" {
			t.Errorf("requests: %s", got)
		}
	})
}

// goneAfterCut serves rs but answers 404 on resumption URLs once armed.
type goneAfterCut struct {
	swapHandler
	gone atomic.Bool
	code int
}

func (g *goneAfterCut) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.gone.Load() && strings.HasPrefix(r.URL.Path, "/uploads/") {
		http.Error(w, "gone", g.code)
		return
	}
	g.swapHandler.ServeHTTP(w, r)
}

func TestResumableUploadGone(t *testing.T) {
	for _, code := range []int{http.StatusNotFound, http.StatusGone} {
		g := &goneAfterCut{code: code}
		bothProtocols(t, g, func(t *testing.T, srv *server) {
			rec := newUpRecorder()
			cut := cuts(rec, 0, 10<<10)
			g.gone.Store(false)
			g.use(&urlsessiontest.ResumableUploads{Interrupt: func(off int64) (int64, int) {
				n, st := cut(off)
				g.gone.Store(true)
				return n, st
			}})
			s := newSession(t, srv.config(), rec)
			task := s.UploadTask(newReq(t, http.MethodPost, srv.URL+"/upload", ""), randomBody(100<<10, 3))
			task.Resume()
			wait(t, task)
			err := task.Err()
			var e *Error
			if !errors.As(err, &e) || e.Code != ErrBadServerResponse || !errors.Is(err, ErrUploadGone) || e.UploadTaskResumeData != nil {
				t.Fatalf("err = %v", err)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(code)) {
				t.Errorf("the error does not say what the server answered: %v", err)
			}
		})
	}
}

// TestResumableUploadResumeData fails an upload that makes no progress,
// then continues it from the resume data its error carries, and again from
// CancelByProducingResumeData's.
func TestResumableUploadResumeData(t *testing.T) {
	body := randomBody(256<<10, 4)
	for _, from := range []string{"memory", "file"} {
		t.Run(from, func(t *testing.T) {
			sw := &swapHandler{}
			bothProtocols(t, sw, func(t *testing.T, srv *server) {
				rec := newUpRecorder()
				first := true
				var mu sync.Mutex
				var healed atomic.Bool
				rs := sw.use(&urlsessiontest.ResumableUploads{Interrupt: func(off int64) (int64, int) {
					if healed.Load() {
						return -1, 0
					}
					<-rec.seen104
					mu.Lock()
					defer mu.Unlock()
					if first {
						first = false
						return 64 << 10, 0
					}
					return 0, 0 // no progress: the task gives up
				}})
				s := newSession(t, srv.config(), rec)
				req := newReq(t, http.MethodPost, srv.URL+"/upload", "")
				req.Header.Set("Content-Type", "application/octet-stream")
				req.Header.Set("Authorization", "Bearer secret-token")
				var task *UploadTask
				name := filepath.Join(t.TempDir(), "body")
				if from == "file" {
					if err := os.WriteFile(name, body, 0o600); err != nil {
						t.Fatal(err)
					}
					task = s.UploadTaskFromFile(req, name)
				} else {
					task = s.UploadTask(req, body)
				}
				task.Resume()
				wait(t, task)
				var e *Error
				if !errors.As(task.Err(), &e) || e.Code != ErrNetworkConnectionLost || e.UploadTaskResumeData == nil {
					t.Fatalf("err = %v (resume data %d bytes)", task.Err(), len(e.UploadTaskResumeData))
				}
				if bytes.Contains(e.UploadTaskResumeData, []byte("secret-token")) {
					t.Errorf("the resume data keeps the Authorization header")
				}
				if from == "memory" && len(e.UploadTaskResumeData) > len(body)-(64<<10)+2048 {
					t.Errorf("resume data of %d bytes keeps what the server confirmed", len(e.UploadTaskResumeData))
				}

				// Continue in another session, from the error's resume data.
				healed.Store(true)
				rec2 := newUpRecorder()
				s2 := newSession(t, srv.config(), rec2)
				task2 := s2.UploadTaskWithResumeData(e.UploadTaskResumeData)
				task2.Resume()
				wait(t, task2)
				if err := task2.Err(); err != nil {
					t.Fatal(err)
				}
				ups := rs.Uploads()
				if len(ups) != 1 || !ups[0].Complete || !bytes.Equal(ups[0].Data, body) {
					t.Fatalf("server holds %d uploads; the first has %d bytes", len(ups), len(ups[0].Data))
				}
				if got, want := rec2.Body(), describeBody(body); got != want {
					t.Errorf("body %q, want %q", got, want)
				}
				// Progress starts where the server was.
				rec2.mu2.Lock()
				if rec2.total != int64(len(body)) || rec2.expected != int64(len(body)) || rec2.deltas != int64(len(body)-(64<<10)) {
					t.Errorf("resumed progress: deltas %d, total %d, expected %d", rec2.deltas, rec2.total, rec2.expected)
				}
				rec2.mu2.Unlock()
				if got := task2.OriginalRequest().Header.Get("Content-Type"); got != "application/octet-stream" {
					t.Errorf("resumed request's Content-Type %q", got)
				}
			})
		})
	}
}

func TestResumableUploadCancelByProducingResumeData(t *testing.T) {
	body := randomBody(1<<20, 5)
	sw := &swapHandler{}
	bothProtocols(t, sw, func(t *testing.T, srv *server) {
		rec := newUpRecorder()
		release := make(chan struct{})
		var first atomic.Bool
		rs := sw.use(&urlsessiontest.ResumableUploads{Interrupt: func(int64) (int64, int) {
			if first.Swap(true) {
				return -1, 0
			}
			// The creation stores 100 KiB, once the task was cancelled.
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
			return 100 << 10, 0
		}})
		s := newSession(t, srv.config(), rec)
		task := s.UploadTask(newReq(t, http.MethodPost, srv.URL+"/upload", ""), body)
		task.Resume()
		<-rec.seen104
		data, err := task.CancelByProducingResumeData(context.Background())
		close(release)
		if err != nil || data == nil {
			t.Fatalf("CancelByProducingResumeData = %d bytes, %v", len(data), err)
		}
		wait(t, task)
		if !errors.Is(task.Err(), ErrCancelled) {
			t.Fatalf("cancelled task's err = %v", task.Err())
		}
		done := make(chan string, 1)
		task2 := s.UploadTaskWithResumeDataWithCompletion(data, func(b []byte, resp *http.Response, err error) {
			done <- fmt.Sprintf("%d %s %v", resp.StatusCode, b, err)
		})
		task2.Resume()
		wait(t, task2)
		if got, want := <-done, "201 "+describeBody(body)+" <nil>"; got != want {
			t.Errorf("completion %q, want %q", got, want)
		}
		ups := rs.Uploads()
		if last := ups[len(ups)-1]; !last.Complete || !bytes.Equal(last.Data, body) {
			t.Errorf("server holds %d bytes", len(last.Data))
		}
	})
}

func TestCancelByProducingResumeDataWithoutOffer(t *testing.T) {
	srv := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server notices the client leave
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	s := newSession(t, baseConfiguration(), nil)
	task := s.UploadTask(newReq(t, http.MethodPost, srv.URL, ""), []byte("x"))
	if data, err := task.CancelByProducingResumeData(context.Background()); data != nil || err != nil {
		t.Errorf("never resumed: %v, %v", data, err)
	}
	task2 := s.UploadTask(newReq(t, http.MethodPost, srv.URL, ""), []byte("x"))
	task2.Resume()
	if data, err := task2.CancelByProducingResumeData(context.Background()); data != nil || err != nil {
		t.Errorf("no 104: %v, %v", data, err)
	}
	wait(t, task2)
	if !errors.Is(task2.Err(), ErrCancelled) {
		t.Errorf("err = %v", task2.Err())
	}
}

func TestUploadTaskWithBadResumeData(t *testing.T) {
	s := newSession(t, baseConfiguration(), nil)
	good, _ := (&resumable.State{Version: 6, Location: "http://127.0.0.1:1/u/1", Method: "POST", URL: "http://127.0.0.1:1/u", Size: 1, Body: []byte("x")}).Encode()
	future := bytes.Clone(good)
	future[4]++
	for name, data := range map[string][]byte{
		"nil": nil, "garbage": []byte("not resume data at all"), "truncated": good[:len(good)-3], "future": future,
	} {
		task := s.UploadTaskWithResumeData(data)
		task.Resume()
		wait(t, task)
		var e *Error
		if !errors.As(task.Err(), &e) || e.Code != ErrUnknown || !errors.Is(task.Err(), ErrInvalidUploadResumeData) {
			t.Errorf("%s: err = %v", name, task.Err())
		}
		if name == "future" && !errors.Is(task.Err(), resumable.ErrFutureFormat) {
			t.Errorf("future: err = %v", task.Err())
		}
	}
}

func TestResumeDataFileChanged(t *testing.T) {
	name := filepath.Join(t.TempDir(), "body")
	body := randomBody(100<<10, 6)
	if err := os.WriteFile(name, body, 0o600); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(name)
	size, mt, fp, err := resumable.FileFacts(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	srv := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	data, _ := (&resumable.State{Version: 6, Location: srv.URL + "/u/1", Method: "POST", URL: srv.URL + "/u", Size: size,
		File: name, FileModTime: mt, Fingerprint: fp}).Encode()
	body[len(body)-1] ^= 1 // same size, another end
	if err := os.WriteFile(name, body, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSession(t, baseConfiguration(), nil)
	task := s.UploadTaskWithResumeData(data)
	task.Resume()
	wait(t, task)
	if !errors.Is(task.Err(), ErrUploadFileChanged) {
		t.Errorf("err = %v", task.Err())
	}
	if hits.Load() != 0 {
		t.Errorf("the server got %d requests", hits.Load())
	}
}

// TestResumableUploadCrossOrigin checks that a resumption URL of another
// origin is refused: the interruption then fails the task, with no resume
// data.
func TestResumableUploadCrossOrigin(t *testing.T) {
	seen := make(chan struct{})
	var once sync.Once
	srv := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
		w.Header().Set("Upload-Draft-Interop-Version", "6")
		w.WriteHeader(104)
		select {
		case <-seen:
		case <-time.After(10 * time.Second):
		}
		buf := make([]byte, 1000)
		r.Body.Read(buf)
		panic(http.ErrAbortHandler)
	}))
	rec := newUpRecorder()
	d := &onInfo{upRecorder: rec, f: func() { once.Do(func() { close(seen) }) }}
	s := newSession(t, baseConfiguration(), d)
	task := s.UploadTask(newReq(t, http.MethodPost, srv.URL, ""), randomBody(1<<20, 7))
	task.Resume()
	wait(t, task)
	var e *Error
	if !errors.As(task.Err(), &e) || e.UploadTaskResumeData != nil {
		t.Fatalf("err = %v", task.Err())
	}
	if e.Code != ErrNetworkConnectionLost {
		t.Errorf("code %v", e.Code)
	}
	if n := len(rec.metrics.Transactions); n != 1 {
		t.Errorf("%d requests, want the creation alone", n)
	}
}

type onInfo struct {
	*upRecorder
	f func()
}

func (o *onInfo) DidReceiveInformationalResponse(s *Session, t *Task, resp *http.Response) {
	o.upRecorder.DidReceiveInformationalResponse(s, t, resp)
	o.f()
}

func TestResumableUploadsOff(t *testing.T) {
	rs := &urlsessiontest.ResumableUploads{}
	srv := newLoopbackServer(t, rs)
	cfg := baseConfiguration()
	cfg.ResumableUploadVersion = -1
	s := newSession(t, cfg, nil)
	body, resp, err := s.Upload(context.Background(), newReq(t, http.MethodPost, srv.URL+"/upload", ""), []byte("abc"))
	if err != nil || resp.StatusCode != 200 || string(body) != describeBody([]byte("abc")) {
		t.Errorf("plain upload: %v %q %v", resp, body, err)
	}
	if n := len(rs.Uploads()); n != 0 {
		t.Errorf("%d resumable uploads made", n)
	}
	cfg.ResumableUploadVersion = 4
	if _, err := New(cfg, nil); err == nil {
		t.Errorf("version 4 accepted")
	}
}

func TestResumableUploadMaxAppendSize(t *testing.T) {
	body := randomBody(100<<10, 8)
	rec := newUpRecorder()
	rs := &urlsessiontest.ResumableUploads{MaxAppendSize: 30 << 10, Interrupt: cuts(rec, 0, 10<<10)}
	srv := newLoopbackServer(t, rs)
	s := newSession(t, baseConfiguration(), rec)
	task := s.UploadTask(newReq(t, http.MethodPost, srv.URL+"/upload", ""), body)
	task.Resume()
	wait(t, task)
	if err := task.Err(); err != nil {
		t.Fatal(err)
	}
	if ups := rs.Uploads(); !ups[0].Complete || !bytes.Equal(ups[0].Data, body) {
		t.Errorf("server holds %d bytes", len(ups[0].Data))
	}
	var methods []string
	for _, tx := range rec.metrics.Transactions {
		methods = append(methods, tx.Request.Method)
	}
	// 10 KiB in the creation, then the 90 KiB left in appends of 30.
	if got := strings.Join(methods, " "); got != "POST HEAD PATCH PATCH PATCH" {
		t.Errorf("requests %s", got)
	}
	rec.checkProgress(t, int64(len(body)))
}

// deleteSignal serves a ResumableUploads and tells when a DELETE arrived.
type deleteSignal struct {
	swapHandler
	deleted chan struct{}
	once    sync.Once
}

func (d *deleteSignal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.swapHandler.ServeHTTP(w, r)
	if r.Method == http.MethodDelete {
		d.once.Do(func() { close(d.deleted) })
	}
}

func TestResumableUploadCancelDeletes(t *testing.T) {
	d := &deleteSignal{}
	bothProtocols(t, d, func(t *testing.T, srv *server) {
		d.deleted, d.once = make(chan struct{}), sync.Once{}
		rec := newUpRecorder()
		release := make(chan struct{})
		rs := d.use(&urlsessiontest.ResumableUploads{Interrupt: func(int64) (int64, int) {
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
			return 10 << 10, 0
		}})
		s := newSession(t, srv.config(), rec)
		task := s.UploadTask(newReq(t, http.MethodPost, srv.URL+"/upload", ""), randomBody(1<<20, 10))
		task.Resume()
		<-rec.seen104
		task.Cancel()
		close(release)
		wait(t, task)
		if !errors.Is(task.Err(), ErrCancelled) {
			t.Fatalf("err = %v", task.Err())
		}
		var e *Error
		if errors.As(task.Err(), &e); e.UploadTaskResumeData != nil {
			t.Errorf("a cancelled task's error carries resume data")
		}
		select {
		case <-d.deleted:
		case <-time.After(10 * time.Second):
			t.Fatal("no DELETE after Cancel")
		}
		if ups := rs.Uploads(); !ups[0].Deleted {
			t.Errorf("the upload is not deleted")
		}
	})
}

func TestResumableUploadTimeoutCarriesResumeData(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) })
	rec := newUpRecorder()
	var first atomic.Bool
	rs := &urlsessiontest.ResumableUploads{Interrupt: func(int64) (int64, int) {
		if !first.Swap(true) {
			<-release // the client times out meanwhile
			return 100 << 10, 0
		}
		return -1, 0
	}}
	srv := newLoopbackServer(t, rs)
	s := newSession(t, baseConfiguration(), rec)
	req := WithOptions(newReq(t, http.MethodPost, srv.URL+"/upload", ""), RequestOptions{TimeoutInterval: time.Second})
	body := randomBody(1<<20, 11)
	task := s.UploadTask(req, body)
	task.Resume()
	wait(t, task)
	var e *Error
	if !errors.As(task.Err(), &e) || e.Code != ErrTimedOut || e.UploadTaskResumeData == nil {
		t.Fatalf("err = %v", task.Err())
	}
	// The server stores what reached it of the timed-out request.
	releaseOnce.Do(func() { close(release) })
	task2 := s.UploadTaskWithResumeData(e.UploadTaskResumeData)
	task2.Resume()
	wait(t, task2)
	if err := task2.Err(); err != nil {
		t.Fatal(err)
	}
	if got := rec.Body(); got != describeBody(body) {
		t.Errorf("body %q", got)
	}
}

// cutProxy forwards TCP connections to target and cuts the i-th one once
// at[i] bytes went from the client to the server and the client has seen
// the upload's 104: the client's side is reset, the server's closed after
// what was forwarded (a reset would make the server's kernel drop what it
// has not read yet, which no server could keep).
type cutProxy struct {
	ln     net.Listener
	target string
	seen   <-chan struct{}

	mu    sync.Mutex
	at    []int64
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string, seen <-chan struct{}, at ...int64) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, seen: seen, at: at}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *cutProxy) handle(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, s)
	limit := int64(-1)
	if len(p.at) > 0 {
		limit, p.at = p.at[0], p.at[1:]
	}
	p.mu.Unlock()
	go func() {
		io.Copy(c, s)
		c.Close()
		s.Close()
	}()
	if limit < 0 {
		io.Copy(s, c)
		s.Close()
		return
	}
	io.CopyN(s, c, limit)
	select {
	case <-p.seen:
	case <-time.After(10 * time.Second):
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	s.(*net.TCPConn).CloseWrite()
}

// TestResumableUploadThroughResettingProxy cuts the upload's connections
// in the network, between client and server, at several offsets. Over
// HTTP/1.1 only: Go's HTTP/2 server drops the body a handler has not read
// yet when its connection fails, so behind such cuts it would keep nothing
// and the upload could only stall (the HTTP/2 runs of the other tests cut
// in the handler instead).
func TestResumableUploadThroughResettingProxy(t *testing.T) {
	body := randomBody(400<<10, 12)
	rs := &urlsessiontest.ResumableUploads{}
	srv := &server{newLoopbackServer(t, rs), "h1"}
	{
		rec := newUpRecorder()
		p := newCutProxy(t, srv.Listener.Addr().String(), rec.seen104, 30<<10, 150<<10, 7<<10, 250<<10)
		cfg := srv.config()
		cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, p.ln.Addr().String())
		}
		s := newSession(t, cfg, rec)
		task := s.UploadTask(newReq(t, http.MethodPost, srv.URL+"/upload", ""), body)
		task.Resume()
		wait(t, task)
		if err := task.Err(); err != nil {
			t.Fatal(err)
		}
		ups := rs.Uploads()
		if len(ups) != 1 || !ups[0].Complete || !bytes.Equal(ups[0].Data, body) {
			t.Fatalf("server holds %d uploads, the first %d bytes", len(ups), len(ups[0].Data))
		}
		if got := rec.Body(); got != describeBody(body) {
			t.Errorf("body %q", got)
		}
		rec.checkProgress(t, int64(len(body)))
		if n := len(rec.metrics.Transactions); n < 3 {
			t.Errorf("%d requests: the proxy cut nothing", n)
		}
	}
}

// fromOffset is a delegate that gives a streamed upload's body from an
// offset.
type fromOffset struct {
	*upRecorder
	body    []byte
	mu      sync.Mutex
	offsets []int64
}

var _ BodyStreamFromOffsetDelegate = (*fromOffset)(nil)

func (d *fromOffset) NeedNewBodyStreamFrom(s *Session, t *Task, offset int64) (io.ReadCloser, error) {
	d.mu.Lock()
	d.offsets = append(d.offsets, offset)
	d.mu.Unlock()
	return io.NopCloser(bytes.NewReader(d.body[offset:])), nil
}

func TestResumableStreamedUpload(t *testing.T) {
	body := randomBody(300<<10, 13)
	sw := &swapHandler{}
	bothProtocols(t, sw, func(t *testing.T, srv *server) {
		rec := newUpRecorder()
		d := &fromOffset{upRecorder: rec, body: body}
		rs := sw.use(&urlsessiontest.ResumableUploads{Interrupt: cuts(rec, 0, 100<<10, 50<<10)})
		s := newSession(t, srv.config(), d)
		req := newReq(t, http.MethodPut, srv.URL+"/upload", "")
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		task := s.UploadTaskWithStreamedRequest(req)
		task.Resume()
		wait(t, task)
		if err := task.Err(); err != nil {
			t.Fatal(err)
		}
		ups := rs.Uploads()
		if len(ups) != 1 || !ups[0].Complete || !bytes.Equal(ups[0].Data, body) {
			t.Fatalf("server holds %d uploads, the first %d bytes", len(ups), len(ups[0].Data))
		}
		d.mu.Lock()
		if fmt.Sprint(d.offsets) != fmt.Sprint([]int64{100 << 10, 150 << 10}) {
			t.Errorf("streams asked from %v", d.offsets)
		}
		d.mu.Unlock()
		rec.checkProgress(t, int64(len(body)))
	})
}

func TestStreamedUploadWithoutOffsetDelegate(t *testing.T) {
	rs := &urlsessiontest.ResumableUploads{}
	srv := newLoopbackServer(t, rs)
	rec := newUpRecorder()
	s := newSession(t, baseConfiguration(), rec)
	req := newReq(t, http.MethodPut, srv.URL+"/upload", "")
	req.Body = io.NopCloser(strings.NewReader("abc"))
	req.ContentLength = 3
	task := s.UploadTaskWithStreamedRequest(req)
	task.Resume()
	wait(t, task)
	if err := task.Err(); err != nil || rec.Body() != describeBody([]byte("abc")) {
		t.Fatalf("err %v, body %q", err, rec.Body())
	}
	if n := len(rs.Uploads()); n != 0 {
		t.Errorf("a stream without NeedNewBodyStreamFrom was offered as resumable")
	}
	if data, err := task.CancelByProducingResumeData(context.Background()); data != nil || err != nil {
		t.Errorf("resume data of a completed stream upload: %v %v", data, err)
	}
}
