package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "d", "jobs.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func job(id, session string) *api.Job {
	return &api.Job{
		ID: id, Session: session, Kind: api.Download, State: api.Queued,
		Request: api.Request{Method: "GET", URL: "https://example.com/" + id},
		Created: time.Unix(1700000000, 0).UTC(), BytesExpected: -1,
	}
}

func TestJobsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	j := job("a", "s1")
	j.ResumeData = []byte{0, 1, 2, 0xff}
	if _, err := s.PutJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	got, err := s.Job(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Request.URL != j.Request.URL || string(got.ResumeData) != string(j.ResumeData) || got.State != api.Queued {
		t.Fatalf("got %+v, want %+v", got, j)
	}
	if _, err := s.Job(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing job: got %v, want ErrNotFound", err)
	}
	j2 := job("b", "s2")
	j2.Created = j.Created.Add(time.Second)
	if _, err := s.PutJob(ctx, j2); err != nil {
		t.Fatal(err)
	}
	all, err := s.Jobs(ctx, "")
	if err != nil || len(all) != 2 || all[0].ID != "a" || all[1].ID != "b" {
		t.Fatalf("Jobs: got %v %v, want a, b", all, err)
	}
	one, err := s.Jobs(ctx, "s2")
	if err != nil || len(one) != 1 || one[0].ID != "b" {
		t.Fatalf("Jobs(s2): got %v %v, want b", one, err)
	}
	if err := s.DeleteJob(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Job(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted job: got %v", err)
	}
	for _, id := range []string{"c", "d"} {
		if _, err := s.PutJob(ctx, job(id, "s2")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteJobs(ctx, []string{"b", "c", "nope"}); err != nil {
		t.Fatal(err)
	}
	left, err := s.Jobs(ctx, "")
	if err != nil || len(left) != 1 || left[0].ID != "d" {
		t.Fatalf("after DeleteJobs: got %v %v, want d", left, err)
	}
	if err := s.DeleteJobs(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func TestEventsSequenceCoalesceAck(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	j := job("j", "s")
	evs, err := s.PutJob(ctx, j,
		api.Event{Job: "j", Kind: api.WriteProgress, BytesDone: 10},
		api.Event{Job: "j", Kind: api.WriteProgress, BytesDone: 20},
	)
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Seq != 1 || evs[1].Seq != 2 {
		t.Fatalf("seqs %d %d, want 1 2", evs[0].Seq, evs[1].Seq)
	}
	if _, err := s.AppendEvents(ctx, api.Event{Session: "s", Job: "j", Kind: api.FinishDownloading, File: "/x"},
		api.Event{Session: "s", Job: "j", Kind: api.Complete, ResumeData: []byte("r")}); err != nil {
		t.Fatal(err)
	}
	got, more, err := s.Events(ctx, "s", 0, 10)
	if err != nil || more {
		t.Fatal(err, more)
	}
	// The first progress event was replaced by the second.
	want := []struct {
		seq  int64
		kind api.EventKind
	}{{2, api.WriteProgress}, {3, api.FinishDownloading}, {4, api.Complete}}
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].Seq != w.seq || got[i].Kind != w.kind {
			t.Errorf("event %d: got seq %d %s, want %d %s", i, got[i].Seq, got[i].Kind, w.seq, w.kind)
		}
	}
	if got[0].BytesDone != 20 || string(got[2].ResumeData) != "r" {
		t.Errorf("contents: got %+v", got)
	}
	page, more, err := s.Events(ctx, "s", 2, 1)
	if err != nil || !more || len(page) != 1 || page[0].Seq != 3 {
		t.Fatalf("page: got %+v more=%v err=%v", page, more, err)
	}
	if err := s.Ack(ctx, "s", 3); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.Events(ctx, "s", 0, 10)
	if len(got) != 1 || got[0].Seq != 4 {
		t.Fatalf("after ack: got %+v, want seq 4 only", got)
	}
	if err := s.Ack(ctx, "s", 1000); err != nil {
		t.Fatal(err)
	}
	sess, err := s.Session(ctx, "s")
	if err != nil || sess.AckedSeq != 4 || sess.LastSeq != 4 || sess.PendingEvents != 0 {
		t.Fatalf("session: got %+v %v", sess, err)
	}
	// Numbers keep growing after everything was acknowledged.
	evs, _ = s.AppendEvents(ctx, api.Event{Session: "s", Job: "j", Kind: api.Complete})
	if evs[0].Seq != 5 {
		t.Fatalf("seq after ack: got %d, want 5", evs[0].Seq)
	}
	if err := s.Ack(ctx, "unknown", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ack unknown session: got %v", err)
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if err := s.PutSession(ctx, api.Session{ID: "b", LaunchCommand: []string{"/bin/true", "x"}, SendsLaunchEvents: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSession(ctx, api.Session{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Sessions(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "a" || all[1].LaunchCommand[1] != "x" || !all[1].SendsLaunchEvents {
		t.Fatalf("got %+v %v", all, err)
	}
	if err := s.PutSession(ctx, api.Session{ID: ""}); err == nil {
		t.Fatal("empty identifier accepted")
	}
	if ok, err := s.DeleteSession(ctx, "a"); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if _, err := s.Session(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v", err)
	}
}

func TestCorruptMovedAside(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "jobs.sqlite")
	if err := os.WriteFile(p, []byte("this is not a database, not at all, and it is long enough to be noticed as such...."), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Recovered() == "" {
		t.Fatal("Recovered is empty")
	}
	if _, err := os.Stat(s.Recovered()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutJob(context.Background(), job("a", "s")); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/xdg")
	if p, _ := DefaultPath(); p != "/xdg/urlsession/daemon/jobs.sqlite" {
		t.Errorf("got %s", p)
	}
	t.Setenv("XDG_DATA_HOME", "relative")
	t.Setenv("HOME", "/home/u")
	if p, _ := DefaultPath(); p != "/home/u/.local/share/urlsession/daemon/jobs.sqlite" {
		t.Errorf("got %s", p)
	}
}
