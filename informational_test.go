package urlsession

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// infoRecorder is a recorder that also records informational responses.
type infoRecorder struct {
	*recorder
	mu    sync.Mutex
	infos []*http.Response
}

var _ InformationalResponseDelegate = (*infoRecorder)(nil)

func (r *infoRecorder) DidReceiveInformationalResponse(s *Session, t *Task, resp *http.Response) {
	r.mu.Lock()
	r.infos = append(r.infos, resp)
	r.mu.Unlock()
	r.add(fmt.Sprintf("info %d", resp.StatusCode))
}

// earlyHints answers with two 103 responses, then 200.
var earlyHints = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Link", "</style.css>; rel=preload; as=style")
	w.WriteHeader(http.StatusEarlyHints)
	w.Header().Set("Link", "</script.js>; rel=preload; as=script")
	w.WriteHeader(http.StatusEarlyHints)
	w.Header().Del("Link")
	io.WriteString(w, "body")
})

func TestInformationalEarlyHints(t *testing.T) {
	bothProtocols(t, earlyHints, func(t *testing.T, srv *server) {
		for _, kind := range []string{"data", "upload", "completion"} {
			t.Run(kind, func(t *testing.T) {
				rec := &infoRecorder{recorder: newRecorder()}
				s := newSession(t, srv.config(), rec)
				var task interface{ Resume() }
				var done <-chan struct{}
				handled := make(chan string, 1)
				switch kind {
				case "data":
					tk := s.DataTask(get(t, srv.URL))
					task, done = tk, tk.Done()
				case "upload":
					tk := s.UploadTask(newReq(t, http.MethodPost, srv.URL, ""), []byte("payload"))
					task, done = tk, tk.Done()
				case "completion":
					tk := s.DataTaskWithCompletion(get(t, srv.URL), func(body []byte, resp *http.Response, err error) {
						handled <- fmt.Sprintf("%s %d %v", body, resp.StatusCode, err)
					})
					task, done = tk, tk.Done()
				}
				task.Resume()
				wait(t, doneChan(done))
				var want []string
				switch kind {
				case "completion":
					want = []string{"create", "info 103", "info 103", "metrics"}
					if got := <-handled; got != "body 200 <nil>" {
						t.Errorf("completion handler got %q", got)
					}
				case "upload":
					want = []string{"create", "send", "info 103", "info 103", "response 200", "data", "metrics", "complete"}
				default:
					want = []string{"create", "info 103", "info 103", "response 200", "data", "metrics", "complete"}
				}
				if got := rec.Events(); !sameEvents(got, want) {
					t.Errorf("events\n got %q\nwant %q", got, want)
				}
				rec.mu.Lock()
				defer rec.mu.Unlock()
				if len(rec.infos) != 2 {
					t.Fatalf("%d informational responses, want 2", len(rec.infos))
				}
				for i, want := range []string{"</style.css>; rel=preload; as=style", "</script.js>; rel=preload; as=script"} {
					r := rec.infos[i]
					if got := r.Header.Get("Link"); got != want {
						t.Errorf("response %d: Link %q, want %q", i, got, want)
					}
					if r.Status != "103 Early Hints" || r.Request == nil {
						t.Errorf("response %d: status %q, request %v", i, r.Status, r.Request)
					}
					if wantMajor := map[string]int{"h1": 1, "h2": 2}[srv.proto]; r.ProtoMajor != wantMajor {
						t.Errorf("response %d: ProtoMajor %d, want %d", i, r.ProtoMajor, wantMajor)
					}
				}
			})
		}
	})
}

type doneChan <-chan struct{}

func (d doneChan) Done() <-chan struct{} { return d }

func TestInformationalContinue(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body) // reading asks net/http's server to send 100 Continue
		w.Write(b)
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		rec := &infoRecorder{recorder: newRecorder()}
		s := newSession(t, srv.config(), rec)
		req := newReq(t, http.MethodPost, srv.URL, "")
		req.Header.Set("Expect", "100-continue")
		task := s.UploadTask(req, []byte(strings.Repeat("x", 1000)))
		task.Resume()
		wait(t, task)
		want := []string{"create", "info 100", "send", "response 200", "data", "metrics", "complete"}
		if got := rec.Events(); !sameEvents(got, want) {
			t.Errorf("events\n got %q\nwant %q", got, want)
		}
		if got := rec.Body(); len(got) != 1000 {
			t.Errorf("echoed %d bytes", len(got))
		}
	})
}
