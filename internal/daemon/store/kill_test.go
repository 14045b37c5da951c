package store

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

// childEnv names the database a re-executed test binary writes to until
// it is killed.
const childEnv = "URLSESSION_STORE_KILL_CHILD"

func TestMain(m *testing.M) {
	if p := os.Getenv(childEnv); p != "" {
		os.Exit(killChild(p))
	}
	os.Exit(m.Run())
}

// killChild writes jobs and events as fast as it can and prints what is
// committed: "J id" after a job with its complete event ("C seq id"),
// "A seq" after an acknowledgement. It runs until killed.
func killChild(path string) int {
	ctx := context.Background()
	s, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "ready")
	w.Flush()
	base := os.Getpid()
	for i := 0; ; i++ {
		id := fmt.Sprintf("j%d-%d", base, i)
		j := job(id, "s")
		for k := range 3 {
			j.BytesDone = int64(k * 100)
			if _, err := s.PutJob(ctx, j, api.Event{Job: id, Kind: api.WriteProgress, BytesDone: j.BytesDone}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
		}
		j.State = api.Completed
		evs, err := s.PutJob(ctx, j, api.Event{Job: id, Kind: api.Complete, ResumeData: []byte(id)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Fprintf(w, "C %d %s\n", evs[0].Seq, id)
		w.Flush()
		if i%4 == 3 {
			through := evs[0].Seq - 5
			if err := s.Ack(ctx, "s", through); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			fmt.Fprintf(w, "A %d\n", through)
			w.Flush()
		}
	}
}

// TestKill9 kills writers with SIGKILL at random moments and checks,
// after each kill, that every committed job and unacknowledged event is
// there once, that nothing acknowledged came back, and that sequence
// numbers only grew.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jobs.sqlite")
	committed := map[int64]string{} // complete event seq -> job
	var acked, maxSeq int64
	const kills = 32
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range kills {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill after a random number of committed jobs (0 to 40), so the
		// kill lands at a random point of some transaction.
		target := rng.IntN(41)
		n := 0
		killed := false
		for line := range lines {
			f := strings.Fields(line)
			switch {
			case len(f) == 3 && f[0] == "C":
				seq, _ := strconv.ParseInt(f[1], 10, 64)
				if seq <= maxSeq {
					t.Fatalf("round %d: sequence number %d after %d", round, seq, maxSeq)
				}
				maxSeq = seq
				committed[seq] = f[2]
				n++
			case len(f) == 2 && f[0] == "A":
				a, _ := strconv.ParseInt(f[1], 10, 64)
				acked = max(acked, a)
			}
			if !killed && n >= target {
				if target%3 == 0 {
					// Land between the report and the next commit
					// at a random instant.
					time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
				}
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended with %v, not by SIGKILL; stderr: %s", round, err, stderr.String())
		}
		verify(t, round, path, committed, acked, &maxSeq)
	}
}

func verify(t *testing.T, round int, path string, committed map[int64]string, acked int64, maxSeq *int64) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer s.Close()
	if s.Recovered() != "" {
		t.Fatalf("round %d: database found corrupt", round)
	}
	sess, err := s.Session(ctx, "s")
	if err != nil {
		if len(committed) == 0 {
			return
		}
		t.Fatalf("round %d: %v", round, err)
	}
	if sess.AckedSeq < acked {
		t.Fatalf("round %d: acknowledged %d, store says %d", round, acked, sess.AckedSeq)
	}
	if sess.LastSeq < *maxSeq {
		t.Fatalf("round %d: last seq %d below committed %d", round, sess.LastSeq, *maxSeq)
	}
	*maxSeq = sess.LastSeq // the child may have committed without reporting
	evs, _, err := s.Events(ctx, "s", 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	progress := map[string]int{}
	completes := map[string]int{}
	var prev int64
	for _, e := range evs {
		if e.Seq <= prev {
			t.Fatalf("round %d: events out of order: %d after %d", round, e.Seq, prev)
		}
		prev = e.Seq
		if e.Seq <= sess.AckedSeq {
			t.Fatalf("round %d: acknowledged event %d is back", round, e.Seq)
		}
		seen[e.Seq] = true
		switch e.Kind {
		case api.WriteProgress:
			progress[e.Job]++
		case api.Complete:
			completes[e.Job]++
			if string(e.ResumeData) != e.Job {
				t.Fatalf("round %d: event %d: resume data %q, want %q", round, e.Seq, e.ResumeData, e.Job)
			}
		}
	}
	for j, n := range progress {
		if n > 1 {
			t.Fatalf("round %d: job %s has %d progress events, want at most 1", round, j, n)
		}
	}
	for j, n := range completes {
		if n > 1 {
			t.Fatalf("round %d: job %s has %d complete events", round, j, n)
		}
	}
	for seq, id := range committed {
		if seq > sess.AckedSeq && !seen[seq] {
			t.Fatalf("round %d: committed event %d of job %s lost", round, seq, id)
		}
		if _, err := s.Job(ctx, id); err != nil {
			t.Fatalf("round %d: committed job %s lost: %v", round, id, err)
		}
	}
}
