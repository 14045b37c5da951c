//go:build unix

package bench

// TestBackgroundReport measures a background session's reattachment: the
// daemon (package server, in this process, on its real Unix socket) holds
// the events of 500 finished downloads (a finish-downloading and a
// complete event each: 1,000 events) for a session nobody is attached to;
// the time runs from urlsession.New with the session's identifier to its
// DidFinishEventsForBackgroundSession, every event's callback having run
// (each download's file is opened and removed) and every event being
// acknowledged. The transfers themselves are a runner that writes a small
// file, so that only the reattachment is timed.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/client"
	daemon "github.com/urlsession-go/urlsession/internal/daemon/server"
	"github.com/urlsession-go/urlsession/internal/daemon/store"
)

// fileRunner finishes every download at once with a 1 KiB file, and the
// response head and metrics a transfer from nginx reports.
type fileRunner struct{}

func (fileRunner) Run(ctx context.Context, job api.Job, progress func(daemon.Progress)) daemon.Result {
	if err := os.WriteFile(job.File, make([]byte, 1024), 0o600); err != nil {
		return daemon.Result{Err: &daemon.TransferError{Code: -3003, Message: err.Error(), Permanent: true}}
	}
	now := time.Now()
	head := &api.Response{URL: job.Request.URL, Proto: "HTTP/1.1", StatusCode: http.StatusOK, Header: http.Header{
		"Server": {"nginx/1.22.1"}, "Date": {now.UTC().Format(http.TimeFormat)}, "Content-Type": {"application/octet-stream"},
		"Content-Length": {"1024"}, "Last-Modified": {now.UTC().Format(http.TimeFormat)}, "Etag": {`"674c8a51-400"`},
		"Accept-Ranges": {"bytes"},
	}}
	tx := api.Transaction{Method: http.MethodGet, URL: job.Request.URL, Response: head,
		FetchStart: now, ConnectStart: now, ConnectEnd: now, RequestStart: now, RequestEnd: now, ResponseStart: now, ResponseEnd: now,
		NetworkProtocolName: "http/1.1", RemoteAddr: "127.0.0.1:8080", LocalAddr: "127.0.0.1:40000", FetchType: 1,
		RequestHeaderBytesSent: 160, ResponseHeaderBytesReceived: 250, ResponseBodyBytesReceived: 1024, ResponseBodyBytesAfterDecoding: 1024}
	return daemon.Result{File: job.File, StatusCode: http.StatusOK, BytesDone: 1024, Response: head,
		Metrics: &api.Metrics{Transactions: []api.Transaction{tx}}}
}

// replayDelegate counts the callbacks of a reattached session.
type replayDelegate struct {
	finished, completed int
	done                chan struct{}
}

func (d *replayDelegate) DidFinishDownloadingTo(s *urlsession.Session, t *urlsession.DownloadTask, path string) {
	if f, err := os.Open(path); err == nil {
		f.Close()
		d.finished++
	}
}

func (d *replayDelegate) DidCompleteWithError(s *urlsession.Session, t *urlsession.Task, err error) {
	if err == nil {
		d.completed++
	}
}

func (d *replayDelegate) DidFinishEventsForBackgroundSession(s *urlsession.Session) { close(d.done) }

func TestBackgroundReport(t *testing.T) {
	if os.Getenv("BENCH_REPORT") != "1" {
		t.Skip("set BENCH_REPORT=1 to run the background reattachment measurement")
	}
	events := envInt("BENCH_BG_EVENTS", 1000)
	rounds := envInt("BENCH_ROUNDS", 5)
	jobs := events / 2

	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(dir, "run"))
	t.Setenv("URLSESSIOND", filepath.Join(dir, "no-such-urlsessiond"))
	os.MkdirAll(filepath.Join(dir, "run"), 0o700)
	if err := daemon.PrepareRuntimeDir(api.RuntimeDir()); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "daemon", "jobs.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := daemon.New(daemon.Config{Store: st, Runner: fileRunner{}, IdleTimeout: -1, MaxConcurrent: 64,
		Socket: api.SocketPath(), Launch: func(string, []string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := daemon.Listen(api.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	}()
	cl, err := client.Dial(context.Background(), api.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	var secs, cpuPerEvent []float64
	for r := range rounds {
		id := fmt.Sprintf("bench-%d", r)
		for i := range jobs {
			_, err := cl.CreateJob(context.Background(), api.NewJob{Session: id, Kind: api.Download,
				Request: api.Request{Method: "GET", URL: fmt.Sprintf("http://127.0.0.1:1/%d", i)}})
			if err != nil {
				t.Fatal(err)
			}
		}
		for deadline := time.Now().Add(5 * time.Minute); ; {
			s, err := cl.Session(context.Background(), id)
			if err == nil && s.PendingEvents == events {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the daemon did not finish the jobs: %+v %v", s, err)
			}
			time.Sleep(10 * time.Millisecond)
		}

		d := &replayDelegate{done: make(chan struct{})}
		cpu0 := cpuTime()
		start := time.Now()
		s, err := urlsession.New(urlsession.BackgroundConfiguration(id), d)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-d.done:
		case <-time.After(5 * time.Minute):
			t.Fatal("no DidFinishEventsForBackgroundSession in 5 minutes")
		}
		el := time.Since(start)
		cpu := cpuTime() - cpu0
		if d.finished != jobs || d.completed != jobs {
			t.Fatalf("round %d: %d DidFinishDownloadingTo and %d DidCompleteWithError, want %d each", r, d.finished, d.completed, jobs)
		}
		if left := srv.Jobs(id); len(left) != 0 {
			t.Fatalf("round %d: %d jobs left after the replay", r, len(left))
		}
		s.FinishTasksAndInvalidate()
		<-s.Invalidated()
		secs = append(secs, el.Seconds())
		cpuPerEvent = append(cpuPerEvent, float64(cpu.Microseconds())/float64(events))
	}
	report := fmt.Sprintf("reattach and replay %d events (%d downloads), %d rounds: median %.3f s (range %.3f–%.3f s), CPU %.0f µs per event (range %.0f–%.0f; app and daemon together)",
		events, jobs, rounds, median(secs), slices.Min(secs), slices.Max(secs),
		median(cpuPerEvent), slices.Min(cpuPerEvent), slices.Max(cpuPerEvent))
	t.Log(report)
	if median(secs) >= 1 {
		t.Errorf("median %.3f s; the target is under 1 s", median(secs))
	}
}
