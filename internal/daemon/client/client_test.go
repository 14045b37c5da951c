//go:build unix

package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
	"github.com/urlsession-go/urlsession/internal/daemon/store"
)

// fileRunner writes "body of URL" to the job's file, once the gate (if
// any) opens.
type fileRunner struct {
	mu   sync.Mutex
	gate chan struct{} // nil: finish at once
}

func (f *fileRunner) Run(ctx context.Context, job api.Job, progress func(server.Progress)) server.Result {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	body := "body of " + job.Request.URL
	progress(server.Progress{BytesDone: 0, BytesExpected: int64(len(body))})
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return server.Result{ResumeData: []byte("rd")}
		}
	}
	if err := os.WriteFile(job.File, []byte(body), 0o600); err != nil {
		return server.Result{Err: &server.TransferError{Code: -3003, Message: err.Error(), Permanent: true}}
	}
	return server.Result{File: job.File, StatusCode: 200, BytesDone: int64(len(body))}
}

// startServer serves a daemon on a socket in a temporary directory until
// the test ends.
func startServer(t *testing.T, runner server.Runner) (*server.Server, string) {
	srv, _, sock := startServerStore(t, runner)
	return srv, sock
}

// startServerStore is startServer that also returns the store.
func startServerStore(t testing.TB, runner server.Runner) (*server.Server, *store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "data", "jobs.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "d.sock")
	srv, err := server.New(server.Config{Store: st, Runner: runner, IdleTimeout: -1, Socket: sock,
		Launch: func(string, []string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := server.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
		st.Close()
	})
	return srv, st, sock
}

func dial(t *testing.T, sock string) *Client {
	t.Helper()
	c, err := Dial(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newJob(session, u string) api.NewJob {
	return api.NewJob{Session: session, Kind: api.Download, Request: api.Request{Method: "GET", URL: u}}
}

func TestDownloadEventsAckFlow(t *testing.T) {
	_, sock := startServer(t, &fileRunner{})
	c := dial(t, sock)
	ctx := context.Background()
	at, err := c.Attach(ctx, "app", api.Attach{})
	if err != nil {
		t.Fatal(err)
	}
	defer at.Close()
	if at.Session.ID != "app" || !at.Session.Attached {
		t.Fatalf("attached session %+v", at.Session)
	}
	j, err := c.CreateJob(ctx, newJob("app", "https://example.com/a"))
	if err != nil {
		t.Fatal(err)
	}
	var got []api.Event
	for len(got) == 0 || got[len(got)-1].Kind != api.Complete {
		e, err := at.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == api.EventsReplayed {
			continue
		}
		got = append(got, e)
	}
	var fin *api.Event
	for i := range got {
		if got[i].Job != j.ID {
			t.Fatalf("event of another job: %+v", got[i])
		}
		if i > 0 && got[i].Seq <= got[i-1].Seq {
			t.Fatalf("events out of order: %+v", got)
		}
		if got[i].Kind == api.FinishDownloading {
			fin = &got[i]
		}
	}
	if fin == nil {
		t.Fatalf("no finish-downloading event in %+v", got)
	}
	data, err := os.ReadFile(fin.File)
	if err != nil || string(data) != "body of https://example.com/a" {
		t.Fatalf("handed-over file: %q %v", data, err)
	}
	last := got[len(got)-1]
	if last.ErrorCode != 0 || last.StatusCode != 200 {
		t.Fatalf("complete event %+v", last)
	}
	// The same events are readable by polling until acknowledged.
	evs, err := c.Events(ctx, "app", 0, 0)
	if err != nil || len(evs.Events) != len(got) {
		t.Fatalf("events: %+v %v", evs, err)
	}
	sess, err := c.Ack(ctx, "app", last.Seq)
	if err != nil || sess.PendingEvents != 0 || sess.AckedSeq != last.Seq {
		t.Fatalf("ack: %+v %v", sess, err)
	}
	jobs, err := c.Jobs(ctx, "app")
	if err != nil || len(jobs) != 0 {
		t.Fatalf("jobs after the ack: %+v %v", jobs, err)
	}
	if _, err := c.Job(ctx, j.ID); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("acknowledged job: %v", err)
	}
}

func TestAttachConflictAndDetachOnConnectionLoss(t *testing.T) {
	srv, sock := startServer(t, &fileRunner{})
	c := dial(t, sock)
	ctx := context.Background()
	first, err := c.Attach(ctx, "app", api.Attach{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Attach(ctx, "app", api.Attach{})
	var ae *api.Error
	if !errors.Is(err, api.ErrConflict) || !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Fatalf("second attach: got %v, want a 409 conflict", err)
	}
	if !strings.Contains(err.Error(), "attached to another process") {
		t.Errorf("message %q", err)
	}
	// Another session is independent.
	other, err := c.Attach(ctx, "other", api.Attach{})
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	first.Close()
	// The daemon notices the lost connection; wait for it.
	deadline := time.Now().Add(20 * time.Second)
	for srv.Attached("app") {
		if time.Now().After(deadline) {
			t.Fatal("still attached after the connection closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	again, err := c.Attach(ctx, "app", api.Attach{})
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
}

// TestReplayOnReattach: events produced while no process is attached
// arrive in order on the next attach, exactly once across attachments
// that acknowledge what they handled.
func TestReplayOnReattach(t *testing.T) {
	_, sock := startServer(t, &fileRunner{})
	c := dial(t, sock)
	ctx := context.Background()
	const n = 20
	ids := map[string]bool{}
	for i := range n {
		j, err := c.CreateJob(ctx, newJob("app", "https://example.com/"+string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		ids[j.ID] = true
	}
	// Wait until every job has completed (2 events each, at least).
	for {
		jobs, err := c.Jobs(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, j := range jobs {
			if j.State == api.Completed {
				done++
			}
		}
		if done == n {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	seen := map[int64]bool{}
	completes := map[string]int{}
	var after int64
	for round := 0; len(completes) < n; round++ {
		at, err := c.Attach(ctx, "app", api.Attach{After: after})
		if err != nil {
			t.Fatal(err)
		}
		// Handle five events, acknowledge them, detach.
		for k := 0; k < 5 && len(completes) < n; k++ {
			e, err := at.Next()
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind == api.EventsReplayed {
				k--
				continue
			}
			if seen[e.Seq] || e.Seq <= after {
				t.Fatalf("event %d delivered twice", e.Seq)
			}
			seen[e.Seq] = true
			after = e.Seq
			if e.Kind == api.Complete {
				completes[e.Job]++
			}
		}
		if _, err := c.Ack(ctx, "app", after); err != nil {
			t.Fatal(err)
		}
		at.Close()
		for c.attachedWait(t, "app") {
		}
	}
	for id := range ids {
		if completes[id] != 1 {
			t.Errorf("job %s: %d complete events", id, completes[id])
		}
	}
}

// attachedWait reports whether the session still shows attached, after
// a short pause.
func (c *Client) attachedWait(t *testing.T, id string) bool {
	s, err := c.Session(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if s.Attached {
		time.Sleep(2 * time.Millisecond)
	}
	return s.Attached
}

func TestPauseResumeCancelAndErrors(t *testing.T) {
	r := &fileRunner{gate: make(chan struct{})}
	_, sock := startServer(t, r)
	c := dial(t, sock)
	ctx := context.Background()
	j, err := c.CreateJob(ctx, newJob("s", "https://example.com/x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pause(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	for {
		got, err := c.Job(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == api.Paused {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if got, err := c.Resume(ctx, j.ID); err != nil || got.State.Final() {
		t.Fatalf("resume: %+v %v", got, err)
	}
	if _, err := c.Cancel(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	for {
		got, _ := c.Job(ctx, j.ID)
		if got.State == api.Cancelled {
			if got.ErrorCode != -999 {
				t.Fatalf("cancelled job %+v", got)
			}
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := c.Cancel(ctx, j.ID); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("cancelling twice: %v", err)
	}
	if _, err := c.Pause(ctx, "nope"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
	bad := newJob("s", "file:///etc/passwd")
	if _, err := c.CreateJob(ctx, bad); !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), "http and https") {
		t.Fatalf("file URL: %v", err)
	}
	if _, err := c.Events(ctx, "nobody", 0, 0); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("events of an unknown session: %v", err)
	}
}

// raw sends a body straight to the socket.
func raw(t *testing.T, sock, method, path, ctype string, body io.Reader) (int, string) {
	t.Helper()
	c := New(sock)
	defer c.Close()
	req, _ := http.NewRequest(method, "http://urlsessiond"+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestGarbageAndOversizedBodies(t *testing.T) {
	_, sock := startServer(t, &fileRunner{})
	cases := []struct {
		name, method, path, ctype string
		body                      io.Reader
		status                    int
		want                      string
	}{
		{"garbage", "POST", "/v1/jobs", "application/json", strings.NewReader("\x00\xff{{{"), 400, "invalid JSON"},
		{"unknown field", "POST", "/v1/jobs", "application/json", strings.NewReader(`{"sesion":"s"}`), 400, "unknown field"},
		{"oversized", "POST", "/v1/jobs", "application/json", strings.NewReader(strings.Repeat(" ", api.MaxBody+10)), 413, "too_large"},
		{"type", "POST", "/v1/jobs", "text/plain", strings.NewReader(`{}`), 415, "application/json"},
		{"ack garbage", "POST", "/v1/sessions/s/ack", "application/json", strings.NewReader(`{"through":"x"}`), 400, "bad_request"},
		{"route", "GET", "/v2/jobs", "", nil, 404, "no route"},
		{"action", "POST", "/v1/jobs/x/explode", "", nil, 404, "no action"},
		{"after", "GET", "/v1/sessions/s/events?after=-1", "", nil, 400, "after"},
	}
	for _, c := range cases {
		status, body := raw(t, sock, c.method, c.path, c.ctype, c.body)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: got %d %s, want %d with %q", c.name, status, body, c.status, c.want)
		}
	}
}

func TestWatch(t *testing.T) {
	_, sock := startServer(t, &fileRunner{})
	c := dial(t, sock)
	ctx := context.Background()
	w, err := c.Watch(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	j, err := c.CreateJob(ctx, newJob("s", "https://example.com/w"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		got, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got.ID == j.ID && got.State == api.Completed {
			break
		}
	}
}

func TestCurlReadable(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	_, sock := startServer(t, &fileRunner{})
	out, err := exec.Command(curl, "-sS", "--unix-socket", sock, "-d", `{"session":"c","kind":"download","request":{"url":"https://example.com/c"}}`, "http://localhost/v1/jobs").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"session": "c"`) {
		t.Fatalf("curl POST: %s %v", out, err)
	}
	out, err = exec.Command(curl, "-sS", "--unix-socket", sock, "http://localhost/v1/jobs").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "https://example.com/c") {
		t.Fatalf("curl GET: %s %v", out, err)
	}
}

// TestUnacknowledgedEventComesBack: a process that dies inside its
// DidFinishDownloadingTo (it received the event and never acknowledged
// it) gets the same event again when it reattaches.
func TestUnacknowledgedEventComesBack(t *testing.T) {
	srv, sock := startServer(t, &fileRunner{})
	c := dial(t, sock)
	ctx := context.Background()
	if _, err := c.CreateJob(ctx, newJob("app", "https://example.com/f")); err != nil {
		t.Fatal(err)
	}
	at, err := c.Attach(ctx, "app", api.Attach{})
	if err != nil {
		t.Fatal(err)
	}
	var fin api.Event
	for fin.Kind != api.FinishDownloading {
		if fin, err = at.Next(); err != nil {
			t.Fatal(err)
		}
	}
	at.Close() // the process dies here
	for srv.Attached("app") {
		time.Sleep(2 * time.Millisecond)
	}
	again, err := c.Attach(ctx, "app", api.Attach{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	var last int64
	found := false
	for {
		e, err := again.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == api.EventsReplayed {
			// It follows the whole backlog.
			if !found || e.Seq != last {
				t.Fatalf("replayed marker %+v after seq %d (finish-downloading seen: %v)", e, last, found)
			}
			return
		}
		last = e.Seq
		if e.Kind == api.FinishDownloading {
			if e.Seq != fin.Seq || e.File != fin.File {
				t.Fatalf("got %+v, want %+v again", e, fin)
			}
			found = true
		}
	}
}
