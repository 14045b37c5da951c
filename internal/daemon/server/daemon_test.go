//go:build unix

package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/client"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
)

// daemonEnv makes the re-executed test binary run as the daemon.
const daemonEnv = "URLSESSION_SERVER_TEST_DAEMON"

func TestMain(m *testing.M) {
	if os.Getenv(daemonEnv) != "" {
		os.Exit(daemonMain())
	}
	os.Exit(m.Run())
}

// checkpointRunner transfers forever: it reports progress with a
// checkpoint every few milliseconds until stopped.
type checkpointRunner struct{}

func (checkpointRunner) Run(ctx context.Context, job api.Job, progress func(server.Progress)) server.Result {
	done := int64(len(job.ResumeData))
	for {
		select {
		case <-ctx.Done():
			return server.Result{ResumeData: []byte(fmt.Sprintf("cp%d", done))}
		case <-time.After(5 * time.Millisecond):
		}
		done += 100
		progress(server.Progress{BytesDone: done, BytesExpected: 1 << 40, ResumeData: []byte(fmt.Sprintf("cp%d", done))})
	}
}

// finishRunner completes every transfer after a few progress reports.
type finishRunner struct{}

func (finishRunner) Run(ctx context.Context, job api.Job, progress func(server.Progress)) server.Result {
	for i := range 4 {
		select {
		case <-ctx.Done():
			return server.Result{ResumeData: []byte("rd")}
		case <-time.After(5 * time.Millisecond):
		}
		progress(server.Progress{BytesDone: int64(i+1) * 10, BytesExpected: 40})
	}
	return server.Result{File: job.File, StatusCode: 200, BytesDone: 40}
}

func daemonMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var runner server.Runner = checkpointRunner{}
	if os.Getenv(daemonEnv) == "finish" {
		runner = finishRunner{}
	}
	err := server.Run(ctx, server.Config{Runner: runner, Logger: log, ProgressInterval: 10 * time.Millisecond, MinThroughput: -1}, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "urlsessiond:", err)
		if errors.Is(err, server.ErrRunning) {
			return 3
		}
		return 1
	}
	return 0
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still there", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDaemonSingleInstanceAndKill9 starts the daemon as a child process
// through client.Start, shows that a second one refuses to run, kills the
// first with SIGKILL mid-transfer and shows that the next one continues
// the job from its stored checkpoint.
func TestDaemonSingleInstanceAndKill9(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := append(os.Environ(), daemonEnv+"=1", "XDG_RUNTIME_DIR="+dir+"/run", "XDG_DATA_HOME="+dir+"/data")
	sock := dir + "/run/urlsession/urlsessiond.sock"
	opts := client.StartOptions{Socket: sock, Daemon: exe, Args: []string{"-test.run=^$"}, Env: env}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.PID == os.Getpid() {
		t.Fatal("no daemon process was started")
	}
	defer syscall.Kill(info.PID, syscall.SIGKILL)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v", fi, err)
	}
	j, err := c.CreateJob(ctx, api.NewJob{Session: "app", Kind: api.Download, Request: api.Request{URL: "https://example.com/big"}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		got, err := c.Job(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.ResumeData) > 0 && got.BytesDone >= 500 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}

	second := exec.Command(exe, "-test.run=^$")
	second.Env = env
	out, err := second.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(out), "already running") ||
		!strings.Contains(string(out), fmt.Sprint(info.PID)) {
		t.Fatalf("second daemon: %v: %s", err, out)
	}

	if err := syscall.Kill(info.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, info.PID)
	c2, err := client.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	info2, err := c2.Info(ctx)
	if err != nil || info2.PID == info.PID {
		t.Fatalf("restart: %+v %v", info2, err)
	}
	defer syscall.Kill(info2.PID, syscall.SIGKILL)
	// The restarted daemon answers before its scheduler has necessarily
	// started the job again, so wait for the second attempt.
	for {
		got, err := c2.Job(ctx, j.ID)
		if err != nil {
			t.Fatalf("after kill -9: %v (last seen %+v)", err, got)
		}
		if got.Attempts >= 2 {
			if !strings.HasPrefix(string(got.ResumeData), "cp") {
				t.Fatalf("after kill -9 the job is %+v, want it running again from a checkpoint", got)
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// SIGTERM stops the daemon cleanly, storing the resume data.
	if err := syscall.Kill(info2.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitGone(t, info2.PID)
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left behind after a clean stop: %v", err)
	}
}
