package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

// BenchmarkPutJobWithEvent measures one durable job update with one
// event: one synchronous=FULL commit.
func BenchmarkPutJobWithEvent(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "jobs.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	j := job("j", "s")
	for i := 0; b.Loop(); i++ {
		j.BytesDone = int64(i)
		if _, err := s.PutJob(ctx, j, api.Event{Job: "j", Kind: api.WriteProgress, BytesDone: int64(i)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadEvents1000 reads 1,000 waiting events, as a replay does.
func BenchmarkReadEvents1000(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "jobs.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	evs := make([]api.Event, 1000)
	for i := range evs {
		evs[i] = api.Event{Session: "s", Job: fmt.Sprint("j", i), Kind: api.Complete, ResumeData: []byte("resume")}
	}
	if _, err := s.AppendEvents(ctx, evs...); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		got, _, err := s.Events(ctx, "s", 0, 1000)
		if err != nil || len(got) != 1000 {
			b.Fatal(len(got), err)
		}
	}
}
