package urlsession

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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

func versionConfig(cfg *Configuration, v int) *Configuration {
	cfg.ResumableUploadVersion = v
	return cfg
}

func TestResumableUploadInterrupted(t *testing.T) {
	body := randomBody(300<<10, 1)
	for _, v := range []int{3, 5, 6} {
		for _, from := range []string{"memory", "file"} {
			for _, status := range []int{0, 503} {
				t.Run(fmt.Sprintf("v%d/%s/status%d", v, from, status), func(t *testing.T) {
					rs := &urlsessiontest.ResumableUploads{}
					bothProtocols(t, rs, func(t *testing.T, srv *server) {
						rec := newUpRecorder()
						rs.Interrupt = cuts(rec, status, 1, 100<<10, 299<<10)
						defer func() { rs.Interrupt = nil }()
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
