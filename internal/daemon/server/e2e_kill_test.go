//go:build unix

package server_test

import (
	"context"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/client"
)

// TestDaemonKill9DuringDelivery kills the daemon with SIGKILL at random
// moments while jobs are created, run and their events delivered and
// acknowledged, restarting it each time. Every job whose creation
// succeeded completes and has exactly one complete event (received again
// only when its acknowledgement failed with the daemon); no event is
// delivered again after its acknowledgement succeeded; sequence numbers
// grow within each stream.
func TestDaemonKill9DuringDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := append(os.Environ(), daemonEnv+"=finish", "XDG_RUNTIME_DIR="+dir+"/run", "XDG_DATA_HOME="+dir+"/data")
	opts := client.StartOptions{Socket: dir + "/run/urlsession/urlsessiond.sock", Daemon: exe, Args: []string{"-test.run=^$"}, Env: env}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))

	var (
		mu          sync.Mutex
		created     = map[string]bool{}    // jobs whose creation returned success
		completes   = map[string][]int64{} // seqs of complete events received per job
		ackFailed   = map[int64]bool{}     // events whose acknowledgement failed
		acked       int64                  // highest successful acknowledgement
		redelivered int
	)
	const kills = 12
	for round := 0; ; round++ {
		c, err := client.Start(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		after := acked
		mu.Unlock()
		at, err := c.Attach(ctx, "app", api.Attach{After: after})
		if err != nil {
			t.Fatalf("round %d: attach: %v", round, err)
		}
		// Events are acknowledged one by one as they arrive, as an app
		// does after each callback returned.
		streamDone := make(chan struct{})
		go func() {
			defer close(streamDone)
			var prev int64
			for {
				e, err := at.Next()
				if err != nil {
					return
				}
				if e.Kind == api.EventsReplayed {
					continue
				}
				mu.Lock()
				if e.Seq <= acked {
					t.Errorf("round %d: event %d delivered again after its acknowledgement", round, e.Seq)
				}
				if e.Seq <= prev {
					t.Errorf("round %d: event %d after %d", round, e.Seq, prev)
				}
				prev = e.Seq
				if ackFailed[e.Seq] {
					redelivered++
				}
				if e.Kind == api.Complete {
					completes[e.Job] = append(completes[e.Job], e.Seq)
				}
				mu.Unlock()
				_, err = c.Ack(ctx, "app", e.Seq)
				mu.Lock()
				if err == nil {
					acked = max(acked, e.Seq)
				} else {
					// The daemon is gone; events already in the
					// socket's buffer still arrive and fail here.
					ackFailed[e.Seq] = true
				}
				mu.Unlock()
			}
		}()
		if round < 4 {
			for range 10 {
				j, err := c.CreateJob(ctx, api.NewJob{Session: "app", Kind: api.Download, Request: api.Request{URL: "https://example.com/f"}})
				if err != nil {
					t.Fatalf("round %d: create: %v", round, err)
				}
				mu.Lock()
				created[j.ID] = true
				mu.Unlock()
			}
		}
		if round < kills {
			time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
			syscall.Kill(info.PID, syscall.SIGKILL)
			<-streamDone
			at.Close()
			c.Close()
			waitGone(t, info.PID)
			continue
		}
		// Last round: wait for every complete event.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			mu.Lock()
			done := 0
			for id := range created {
				if len(completes[id]) > 0 {
					done++
				}
			}
			mu.Unlock()
			if done == len(created) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%d of %d jobs completed", done, len(created))
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		at.Close()
		<-streamDone
		syscall.Kill(info.PID, syscall.SIGTERM)
		waitGone(t, info.PID)
		c.Close()
		break
	}
	if len(created) != 40 {
		t.Errorf("%d jobs created, want 40", len(created))
	}
	for id := range created {
		seqs := completes[id]
		if len(seqs) == 0 {
			t.Errorf("job %s: no complete event", id)
		}
		for i, s := range seqs {
			if s != seqs[0] {
				t.Errorf("job %s: two different complete events %v", id, seqs)
			}
			if i < len(seqs)-1 && !ackFailed[s] {
				t.Errorf("job %s: complete event %d received again though acknowledged", id, s)
			}
		}
	}
	t.Logf("%d kills, %d jobs; %d deliveries repeated an event whose acknowledgement had failed", kills, len(created), redelivered)
}
