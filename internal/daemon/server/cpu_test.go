//go:build unix

package server

import (
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestWaiting1000CPU measures the CPU the scheduler spends while 1,000
// jobs wait for their earliest begin date (a figure, logged; the check is
// only that it stays under 10%, so that a loaded machine cannot fail it).
func TestWaiting1000CPU(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1,000 jobs")
	}
	r := newRig(t, t.TempDir(), nil)
	defer r.close()
	begin := time.Now().Add(time.Hour)
	for range 1000 {
		r.create(api.NewJob{EarliestBegin: begin})
	}
	time.Sleep(100 * time.Millisecond) // let the scheduler settle
	start, cpu0 := time.Now(), cpuTime()
	time.Sleep(2 * time.Second)
	used := cpuTime() - cpu0
	share := float64(used) / float64(time.Since(start))
	t.Logf("1,000 waiting jobs: %.3f%% CPU over %v", 100*share, time.Since(start).Round(time.Millisecond))
	if share > 0.10 {
		t.Errorf("CPU %.1f%% while waiting", 100*share)
	}
	if r.runner.next() != nil {
		t.Fatal("a job started early")
	}
}
