package urlsession

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/urlsessiontest"
)

func TestCancelBeforeResume(t *testing.T) {
	rec := newRecorder()
	s := newSession(t, nil, rec)
	task := s.DataTask(get(t, "http://127.0.0.1:1/never"))
	task.Cancel()
	wait(t, task)
	if task.State() != TaskCompleted || !errors.Is(task.Err(), ErrCancelled) {
		t.Fatalf("state %v err %v, want completed, cancelled", task.State(), task.Err())
	}
	task.Resume() // a cancelled task cannot be resumed
	task.Cancel() // nor complete twice
	if task.State() != TaskCompleted {
		t.Fatalf("state after Resume = %v", task.State())
	}
	want := []string{"create", "metrics", "complete -999"}
	if got := rec.Events(); !sameEvents(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(task.Err(), &e) || e.URL != "http://127.0.0.1:1/never" || e.Error() == "" {
		t.Errorf("error %#v lacks the failing URL", task.Err())
	}
}

func TestCancelRunningTask(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		rec := newRecorder()
		s := newSession(t, srv.config(), rec)
		req := get(t, srv.URL+"/Peru")
		req.Header.Set("X-Pause", "10")
		task := s.DataTask(req)
		task.Resume()
		task.Cancel()
		if st := task.State(); st != TaskCanceling && st != TaskCompleted {
			t.Errorf("state after Cancel = %v, want canceling", st)
		}
		wait(t, task)
		if !errors.Is(task.Err(), ErrCancelled) || !errors.Is(task.Err(), context.Canceled) {
			t.Fatalf("err = %v, want cancelled", task.Err())
		}
		if got := rec.Events(); got[len(got)-1] != "complete -999" {
			t.Errorf("events = %q, want to end with complete -999", got)
		}
	})
}

func TestSuspendResumeNest(t *testing.T) {
	s := newSession(t, nil, nil)
	srv := httptestServer(t)
	task := s.DataTask(get(t, srv+"/Italy"))
	task.Suspend()
	task.Resume()
	if st := task.State(); st != TaskSuspended {
		t.Fatalf("after Suspend+Resume of a new task: %v, want suspended", st)
	}
	task.Resume()
	if st := task.State(); st != TaskRunning && st != TaskCompleted {
		t.Fatalf("after second Resume: %v, want running", st)
	}
	wait(t, task)
	if task.Err() != nil {
		t.Fatal(task.Err())
	}
}

// httptestServer starts the Capitals routes on loopback for the test and
// returns the base URL.
func httptestServer(t *testing.T) string { return newLoopbackServer(t, capitals).URL }

func TestResponseDispositionCancel(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		rec := newRecorder()
		rec.onResponse = func(*http.Response) ResponseDisposition { return ResponseCancel }
		s := newSession(t, srv.config(), rec)
		task := s.DataTask(get(t, srv.URL+"/Nepal"))
		task.Resume()
		wait(t, task)
		want := []string{"create", "response 200", "metrics", "complete -999"}
		if got := rec.Events(); !sameEvents(got, want) {
			t.Errorf("events = %q, want %q", got, want)
		}
	})
}

func TestFinishTasksAndInvalidate(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		rec := newRecorder()
		s := newSession(t, srv.config(), rec)
		task := s.DataTask(get(t, srv.URL+"/Peru"))
		task.Resume()
		s.FinishTasksAndInvalidate()
		late := s.DataTask(get(t, srv.URL+"/Peru"))
		if late.State() != TaskCompleted || !errors.Is(late.Err(), ErrSessionInvalidated) {
			t.Errorf("task on an invalidated session: %v %v", late.State(), late.Err())
		}
		late.Resume()
		select {
		case <-rec.invalid:
		case <-time.After(10 * time.Second):
			t.Fatal("no DidBecomeInvalidWithError")
		}
		want := []string{"create", "response 200", "data", "metrics", "complete", "invalid"}
		if got := rec.Events(); !sameEvents(got, want) {
			t.Errorf("events = %q, want %q", got, want)
		}
		if s.Delegate() != nil {
			t.Error("the session kept its delegate after invalidation")
		}
		if n := len(s.AllTasks()); n != 0 {
			t.Errorf("%d tasks after invalidation", n)
		}
		if _, _, err := s.Data(context.Background(), get(t, srv.URL+"/Peru")); !errors.Is(err, ErrSessionInvalidated) {
			t.Errorf("Data on an invalidated session: %v", err)
		}
	})
}

func TestInvalidateAndCancel(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		rec := newRecorder()
		s := newSession(t, srv.config(), rec)
		slow := get(t, srv.URL+"/Peru")
		slow.Header.Set("X-Pause", "30")
		running := s.DataTask(slow)
		running.Resume()
		suspended := s.DataTask(get(t, srv.URL+"/Peru"))
		if n := len(s.AllTasks()); n != 2 {
			t.Fatalf("AllTasks = %d, want 2", n)
		}
		s.InvalidateAndCancel()
		select {
		case <-rec.invalid:
		case <-time.After(10 * time.Second):
			t.Fatal("no DidBecomeInvalidWithError")
		}
		for _, task := range []*DataTask{running, suspended} {
			var e *Error
			if !errors.As(task.Err(), &e) || e.Code != ErrCancelled || e.URL == "" {
				t.Errorf("task %d: err %v, want cancelled with URL", task.TaskIdentifier(), task.Err())
			}
		}
		got := rec.Events()
		if got[len(got)-1] != "invalid" {
			t.Errorf("events %q do not end with invalid", got)
		}
		if s.Delegate() != nil || len(s.AllTasks()) != 0 {
			t.Error("delegate or tasks kept after invalidation")
		}
	})
}

func TestSharedSessionIgnoresInvalidation(t *testing.T) {
	srv := httptestServer(t)
	s := Shared()
	s.InvalidateAndCancel()
	s.FinishTasksAndInvalidate()
	body, _, err := s.Data(context.Background(), get(t, srv+"/UK"))
	if err != nil || string(body) != "London" {
		t.Fatalf("shared session after invalidation: %q %v", body, err)
	}
}

func TestTasksAndAllTasks(t *testing.T) {
	s := newSession(t, nil, nil)
	d := s.DataTask(get(t, "http://127.0.0.1:1/"))
	u := s.UploadTask(newReq(t, "PUT", "http://127.0.0.1:1/", ""), []byte("x"))
	set := s.Tasks()
	if len(set.Data) != 1 || set.Data[0] != d || len(set.Upload) != 1 || set.Upload[0] != u {
		t.Fatalf("Tasks = %+v", set)
	}
	if all := s.AllTasks(); len(all) != 2 || all[0] != d.Task || all[1] != u.Task {
		t.Fatalf("AllTasks = %v", all)
	}
	if d.TaskIdentifier() == u.TaskIdentifier() {
		t.Error("task identifiers repeat")
	}
	d.Cancel()
	wait(t, d)
	if all := s.AllTasks(); len(all) != 1 {
		t.Fatalf("AllTasks after a completion = %d, want 1", len(all))
	}
}

func TestPerTaskDelegateTakesPrecedence(t *testing.T) {
	srv := httptestServer(t)
	sessionRec, taskRec := newRecorder(), newRecorder()
	s := newSession(t, nil, sessionRec)
	type onlyData struct{ *recorder }
	task := s.DataTask(get(t, srv+"/Nepal"))
	// The per-task delegate implements DataDelegate only; everything else
	// falls back to the session delegate.
	if err := task.SetDelegate(struct{ DataDelegate }{taskRec}); err != nil {
		t.Fatal(err)
	}
	task.Resume()
	if err := task.SetDelegate(nil); !errors.Is(err, ErrTaskStarted) {
		t.Errorf("SetDelegate after Resume: %v, want ErrTaskStarted", err)
	}
	wait(t, task)
	if got := taskRec.Body(); got != "Kathmandu" {
		t.Errorf("per-task delegate got %q", got)
	}
	if got := sessionRec.Body(); got != "" {
		t.Errorf("session delegate got data %q", got)
	}
	want := []string{"create", "response 200", "metrics", "complete"}
	if got := sessionRec.Events(); !sameEvents(got, want) {
		t.Errorf("session events = %q, want %q", got, want)
	}
}

func TestUploadTasks(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB
	file := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(file, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		for _, kind := range []string{"bytes", "file", "stream"} {
			t.Run(kind, func(t *testing.T) {
				rec := newRecorder()
				s := newSession(t, srv.config(), rec)
				req := newReq(t, "PUT", srv.URL+"/upload", "")
				var task *UploadTask
				switch kind {
				case "bytes":
					task = s.UploadTask(req, payload)
				case "file":
					task = s.UploadTaskFromFile(req, file)
				case "stream":
					rec.onStream = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil }
					task = s.UploadTaskWithStreamedRequest(req)
				}
				task.Resume()
				wait(t, task)
				if task.Err() != nil {
					t.Fatal(task.Err())
				}
				if got, want := rec.Body(), "upload: 16384 bytes"; got != want {
					t.Errorf("server saw %q, want %q", got, want)
				}
				if got := task.CountOfBytesSent(); got != 16384 {
					t.Errorf("CountOfBytesSent = %d", got)
				}
				if rec.sent != 16384 {
					t.Errorf("DidSendBodyData total = %d, want 16384", rec.sent)
				}
				want := []string{"create", "send", "response 200", "data", "metrics", "complete"}
				if kind == "stream" {
					want = []string{"create", "needbody", "send", "response 200", "data", "metrics", "complete"}
				}
				if ev := rec.Events(); !sameEvents(ev, want) {
					t.Errorf("events = %q, want %q", ev, want)
				}
			})
		}
	})
}

func TestUploadFileErrors(t *testing.T) {
	srv := httptestServer(t)
	s := newSession(t, nil, nil)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		want Code
	}{
		{filepath.Join(dir, "missing"), ErrFileDoesNotExist},
		{dir, ErrFileIsDirectory},
	} {
		_, _, err := s.UploadFile(context.Background(), newReq(t, "PUT", srv+"/upload", ""), tc.name)
		if got := CodeOf(err); got != tc.want {
			t.Errorf("upload of %s: code %d (%v), want %d", tc.name, got, err, tc.want)
		}
	}
	// A streamed upload with no stream at all.
	task := s.UploadTaskWithStreamedRequest(newReq(t, "PUT", srv+"/upload", ""))
	task.Resume()
	wait(t, task)
	if got := CodeOf(task.Err()); got != ErrRequestBodyStreamExhausted {
		t.Errorf("streamed upload without a stream: %v", task.Err())
	}
}

func TestAdditionalHeaders(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		cfg := srv.config()
		cfg.HTTPAdditionalHeaders = http.Header{"Header1": {"config"}, "Header4": {"config"}}
		s := newSession(t, cfg, nil)
		req := get(t, srv.URL+"/echoHeaders")
		req.Header.Set("header4", "request")
		body, _, err := s.Data(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Header1: config", "Header4: request", "User-Agent: ", "Accept-Encoding: gzip, deflate, br"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("server saw headers\n%s\nwant a line %q", body, want)
			}
		}
		if strings.Contains(string(body), "Header4: config") {
			t.Error("the configuration's header overrode the request's")
		}
	})
	for _, h := range ReservedHeaders() {
		cfg := DefaultConfiguration()
		cfg.HTTPAdditionalHeaders = http.Header{h: {"x"}}
		if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("New with additional header %s: err = %v, want a reserved-header error", h, err)
		}
	}
}

func TestConfigurationIsCopied(t *testing.T) {
	cfg := DefaultConfiguration()
	cfg.HTTPAdditionalHeaders = http.Header{"A": {"1"}}
	s := newSession(t, cfg, nil)
	cfg.HTTPAdditionalHeaders.Set("A", "2")
	cfg.TimeoutIntervalForRequest = time.Second
	got := s.Configuration()
	if got.HTTPAdditionalHeaders.Get("A") != "1" || got.TimeoutIntervalForRequest != DefaultTimeoutIntervalForRequest {
		t.Errorf("the session saw a later change to its configuration: %+v", got)
	}
	e := EphemeralConfiguration()
	if !e.Ephemeral() || DefaultConfiguration().Ephemeral() {
		t.Error("Ephemeral reports wrongly")
	}
	if e.TimeoutIntervalForResource != 7*24*time.Hour || e.HTTPMaximumConnectionsPerHost != 6 {
		t.Errorf("ephemeral defaults: %+v", e)
	}
}

func TestBytesStreamsBody(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		rec := newRecorder()
		s := newSession(t, srv.config(), rec)
		stream, resp, err := s.Bytes(context.Background(), get(t, srv.URL+"/bytes/300000"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Body != stream {
			t.Fatalf("resp %d, body is the stream: %v", resp.StatusCode, resp.Body == stream)
		}
		got, err := io.ReadAll(stream)
		if err != nil || !bytes.Equal(got, urlsessiontest.PatternBytes(300000)) {
			t.Fatalf("read %d bytes, err %v", len(got), err)
		}
		stream.Close()
		wait(t, stream.Task())
		want := []string{"create", "response 200", "metrics", "complete"}
		if ev := rec.Events(); !sameEvents(ev, want) {
			t.Errorf("events = %q, want %q", ev, want)
		}
		if n := stream.Task().CountOfBytesReceived(); n != 300000 {
			t.Errorf("CountOfBytesReceived = %d", n)
		}
		// Closing early cancels.
		stream, _, err = s.Bytes(context.Background(), get(t, srv.URL+"/bytes/3000000"))
		if err != nil {
			t.Fatal(err)
		}
		stream.Read(make([]byte, 10))
		stream.Close()
		wait(t, stream.Task())
		if !errors.Is(stream.Task().Err(), ErrCancelled) {
			t.Errorf("early Close: task err %v, want cancelled", stream.Task().Err())
		}
	})
}

func TestClientAdapter(t *testing.T) {
	srv := httptestServer(t)
	s := newSession(t, nil, nil)
	c := s.Client()
	resp, err := c.Get(srv + "/redirect/2")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "jsonBody") {
		t.Errorf("client got %d %q", resp.StatusCode, body)
	}
}

// echoProtocol answers every echo: URL with its opaque part.
type echoProtocol struct{}

func (echoProtocol) CanHandle(r *http.Request) bool { return r.URL.Scheme == "echo" }
func (echoProtocol) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader(r.URL.Opaque)), ContentLength: int64(len(r.URL.Opaque)), Request: r}, nil
}

func TestCustomProtocol(t *testing.T) {
	cfg := DefaultConfiguration()
	cfg.Protocols = []Protocol{echoProtocol{}}
	s := newSession(t, cfg, nil)
	body, _, err := s.Data(context.Background(), get(t, "echo:hello"))
	if err != nil || string(body) != "hello" {
		t.Fatalf("custom protocol: %q %v", body, err)
	}
	_, _, err = newSession(t, nil, nil).Data(context.Background(), get(t, "echo:hello"))
	if !errors.Is(err, ErrUnsupportedURL) {
		t.Fatalf("without the protocol: %v, want unsupported URL", err)
	}
}

// lengthProtocol answers len: URLs with the opaque part as the body and
// the Content-Length given in the query (none when absent): a protocol may
// announce less than it sends, or nothing.
type lengthProtocol struct{}

func (lengthProtocol) CanHandle(r *http.Request) bool { return r.URL.Scheme == "len" }
func (lengthProtocol) RoundTrip(r *http.Request) (*http.Response, error) {
	n := int64(-1)
	if v := r.URL.Query().Get("n"); v != "" {
		n, _ = strconv.ParseInt(v, 10, 64)
	}
	body := strings.Repeat(r.URL.Opaque, 300) // 300 or more bytes
	return &http.Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: n, Request: r}, nil
}

// A collected body is whole whatever length was announced: the exact
// length, less, none, or zero with bytes after all.
func TestCollectedBodyAnnouncedLength(t *testing.T) {
	cfg := DefaultConfiguration()
	cfg.Protocols = []Protocol{lengthProtocol{}, echoProtocol{}}
	s := newSession(t, cfg, nil)
	for _, c := range []struct {
		opaque string
		n      string
	}{{"ab", "600"}, {"ab", "10"}, {"abc", ""}, {"a", "0"}, {"abcd", "1"}} {
		want := strings.Repeat(c.opaque, 300)
		u := "len:" + c.opaque
		if c.n != "" {
			u += "?n=" + c.n
		}
		body, _, err := s.Data(context.Background(), get(t, u))
		if err != nil || string(body) != want {
			t.Errorf("%s: %d bytes, %v; want %d bytes", u, len(body), err, len(want))
		}
	}
	// A body announced and sent empty is empty, not nil.
	body, _, err := s.Data(context.Background(), get(t, "echo:"))
	if err != nil || body == nil || len(body) != 0 {
		t.Errorf("an empty body: %q (nil %v), %v; want empty, not nil", body, body == nil, err)
	}
}

func TestConcurrentTasks(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				path := []string{"/Nepal", "/Peru", "/Italy"}[i%3]
				want := []string{"Kathmandu", "Lima", "Rome"}[i%3]
				body, _, err := s.Data(context.Background(), get(t, srv.URL+path))
				if err != nil || string(body) != want {
					t.Errorf("%s: %q %v", path, body, err)
				}
			}()
		}
		wg.Wait()
	})
}

func TestProgressAndCounters(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		rec := newRecorder()
		var mu sync.Mutex
		var fractions []float64
		rec.onData = func(dt *DataTask) {
			mu.Lock()
			fractions = append(fractions, dt.Progress())
			mu.Unlock()
			if got := dt.CountOfBytesExpectedToReceive(); got != 300000 {
				t.Errorf("CountOfBytesExpectedToReceive = %d, want 300000", got)
			}
		}
		s := newSession(t, srv.config(), rec)
		task := s.DataTask(get(t, srv.URL+"/bytes/300000"))
		if task.Progress() != 0 || task.CountOfBytesExpectedToReceive() != TransferSizeUnknown {
			t.Errorf("before Resume: progress %v expected %d", task.Progress(), task.CountOfBytesExpectedToReceive())
		}
		task.Resume()
		wait(t, task)
		mu.Lock()
		defer mu.Unlock()
		for i, f := range fractions {
			if f <= 0 || f > 1 || (i > 0 && f < fractions[i-1]) {
				t.Errorf("progress values %v are not increasing within (0, 1]", fractions)
				break
			}
		}
		if task.Progress() != 1 || task.CountOfBytesReceived() != 300000 || task.CountOfBytesSent() != 0 || task.CountOfBytesExpectedToSend() != 0 {
			t.Errorf("after completion: progress %v received %d sent %d/%d", task.Progress(),
				task.CountOfBytesReceived(), task.CountOfBytesSent(), task.CountOfBytesExpectedToSend())
		}
		if !bytes.Equal([]byte(rec.Body()), urlsessiontest.PatternBytes(300000)) {
			t.Error("body differs")
		}
	})
}

// TestDoneChannel checks Done, whose channel is made only when asked for:
// asked before completion it is open until the completion callback has
// returned, then closed; asked after, it is closed at once; every call
// returns the same channel.
func TestDoneChannel(t *testing.T) {
	bothProtocols(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)

		// Asked for before the task starts.
		returned := make(chan struct{})
		var task *DataTask
		task = s.DataTaskWithCompletion(get(t, srv.URL), func(body []byte, resp *http.Response, err error) {
			select {
			case <-task.Done():
				t.Error("Done was closed before the completion handler returned")
			default:
			}
			close(returned)
		})
		d := task.Done()
		if d2 := task.Done(); d2 != d {
			t.Error("Done returned two different channels")
		}
		task.Resume()
		wait(t, task)
		select {
		case <-returned:
		default:
			t.Error("Done was closed before the completion handler returned")
		}
		if task.Done() != d {
			t.Error("Done returned another channel once the task completed")
		}

		// Asked for only after completion.
		late := s.DataTask(get(t, srv.URL))
		late.Resume()
		for late.done.Load() == nil { // set only by completion: nobody asked
			runtime.Gosched()
		}
		select {
		case <-late.Done():
		default:
			t.Error("Done asked for after completion is not closed")
		}
		if late.Done() != late.Done() {
			t.Error("Done returned two different channels after completion")
		}

		// Asked for while the task completes, from many goroutines.
		var wg sync.WaitGroup
		racing := s.DataTask(get(t, srv.URL))
		racing.Resume()
		chans := make([]<-chan struct{}, 8)
		for i := range chans {
			wg.Add(1)
			go func() {
				defer wg.Done()
				chans[i] = racing.Done()
				<-chans[i]
			}()
		}
		wg.Wait()
		for _, c := range chans[1:] {
			if c != chans[0] {
				t.Fatal("concurrent Done calls returned different channels")
			}
		}
	})
}
