//go:build unix

package server

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/store"
)

// fakeRunner hands every Run to the test, which decides how it ends.
type fakeRunner struct {
	runs chan *fakeRun
}

type fakeRun struct {
	job      api.Job
	ctx      context.Context
	progress func(Progress)
	result   chan Result
}

func newFakeRunner() *fakeRunner { return &fakeRunner{runs: make(chan *fakeRun, 1000)} }

// Run waits for the test's result; when ctx ends first it returns
// resume data naming the job and the bytes done.
func (f *fakeRunner) Run(ctx context.Context, job api.Job, progress func(Progress)) Result {
	r := &fakeRun{job: job, ctx: ctx, progress: progress, result: make(chan Result, 1)}
	f.runs <- r
	select {
	case res := <-r.result:
		return res
	case <-ctx.Done():
		return Result{ResumeData: []byte("resume:" + job.ID)}
	}
}

// next returns the next started run, or nil when none has started.
func (f *fakeRunner) next() *fakeRun {
	select {
	case r := <-f.runs:
		return r
	default:
		return nil
	}
}

// rig is a Server with a fake runner whose scheduler runs (without HTTP).
type rig struct {
	t      *testing.T
	srv    *Server
	st     *store.Store
	runner *fakeRunner
	stop   context.CancelFunc
	done   chan struct{}
	cfg    Config
}

func newRig(t *testing.T, dir string, mod func(*Config)) *rig {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "jobs.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, st: st, runner: newFakeRunner()}
	cfg := Config{Store: st, Runner: r.runner, IdleTimeout: -1, Launch: func(string, []string) error { return nil }}
	if mod != nil {
		mod(&cfg)
	}
	r.cfg = cfg
	r.srv, err = New(cfg)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		r.srv.Loop(ctx)
	}()
	return r
}

// close stops the scheduler and the transfers and closes the store.
func (r *rig) close() {
	r.stop()
	<-r.done
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		r.t.Error(err)
	}
	r.st.Close()
}

func (r *rig) create(n api.NewJob) api.Job {
	r.t.Helper()
	if n.Session == "" {
		n.Session = "s"
	}
	if n.Kind == "" {
		n.Kind = api.Download
	}
	if n.Request.URL == "" {
		n.Request.URL = "https://example.com/f"
	}
	if err := n.Validate(); err != nil {
		r.t.Fatal(err)
	}
	j, err := r.srv.CreateJob(context.Background(), &n)
	if err != nil {
		r.t.Fatal(err)
	}
	return j
}

func (r *rig) job(id string) api.Job {
	r.t.Helper()
	j, err := r.srv.Job(id)
	if err != nil {
		r.t.Fatal(err)
	}
	return j
}

func (r *rig) events(session string) []api.Event {
	r.t.Helper()
	evs, _, err := r.st.Events(context.Background(), session, 0, 1<<20)
	if err != nil {
		r.t.Fatal(err)
	}
	return evs
}

// newHTTPOnly returns a Server with a fake runner, for tests of the HTTP
// side; its store closes when the test ends.
func newHTTPOnly(t *testing.T) *Server {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "jobs.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := New(Config{Store: st, Runner: newFakeRunner(), IdleTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
