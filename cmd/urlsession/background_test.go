//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/daemon/api"
	daemonclient "github.com/urlsession-go/urlsession/internal/daemon/client"
	"github.com/urlsession-go/urlsession/internal/daemon/runner"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
	"github.com/urlsession-go/urlsession/internal/daemon/store"
)

func init() { testDaemon = runTestDaemon }

// runTestDaemon is urlsessiond as cmd/urlsessiond wires it, in the
// re-executed test binary: its store under $XDG_DATA_HOME, its temporary
// files beside it, until SIGTERM or a minute idle.
func runTestDaemon() int {
	storePath, err := store.DefaultPath()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	base := filepath.Dir(storePath)
	tmp := filepath.Join(base, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("TMPDIR", tmp)
	rn, err := runner.New(runner.Options{PartialDir: filepath.Join(base, "partial"), CheckpointBytes: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err = server.Run(ctx, server.Config{
		Runner:           rn,
		Logger:           slog.New(slog.DiscardHandler),
		IdleTimeout:      time.Minute,
		ProgressInterval: 50 * time.Millisecond,
		MinThroughput:    -1,
	}, storePath)
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	rn.Close(cctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "urlsessiond:", err)
		return 1
	}
	return 0
}

// bgEnv is one user's world for background transfers: a home, a runtime
// directory and $URLSESSIOND naming a script that runs this test binary
// as the daemon. Its cleanup stops the daemon a command started.
type bgEnv struct {
	t       *testing.T
	home    string
	runtime string
	env     []string
}

func newBgEnv(t *testing.T) *bgEnv {
	t.Helper()
	home := t.TempDir()
	// A short path: a socket's path has at most 107 bytes.
	runtime, err := os.MkdirTemp("", "rt")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(home, "urlsessiond")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("#!/bin/sh\n%s=1 exec %s -test.run='^$' \"$@\"\n", daemonEnv, strconv.Quote(exe))
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	e := &bgEnv{t: t, home: home, runtime: runtime,
		env: []string{"XDG_RUNTIME_DIR=" + runtime, "URLSESSIOND=" + script}}
	t.Cleanup(func() {
		e.stopDaemon()
		os.RemoveAll(runtime)
	})
	return e
}

func (e *bgEnv) socket() string { return filepath.Join(e.runtime, "urlsession", api.SocketName) }

// cli runs the command against this world.
func (e *bgEnv) cli(args ...string) result {
	e.t.Helper()
	return cliProcess(e.t, e.home, e.env, "", args...)
}

// client dials the running daemon.
func (e *bgEnv) client() *daemonclient.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := daemonclient.Dial(ctx, e.socket())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// stopDaemon sends SIGTERM to the daemon, when one answers, and waits
// until it has exited.
func (e *bgEnv) stopDaemon() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := daemonclient.Dial(ctx, e.socket())
	if err != nil {
		return
	}
	info, err := c.Info(ctx)
	c.Close()
	if err != nil || info.PID <= 1 {
		return
	}
	// The daemon is not this process's child: its exit releases its
	// lock file, which the test then gets.
	lock, err := os.Open(filepath.Join(e.runtime, "urlsession", api.LockName))
	if err != nil {
		e.t.Errorf("the daemon's lock file: %v", err)
		return
	}
	defer lock.Close()
	syscall.Kill(info.PID, syscall.SIGTERM)
	locked := make(chan error, 1)
	go func() { locked <- syscall.Flock(int(lock.Fd()), syscall.LOCK_EX) }() // ends when the daemon has exited
	select {
	case err := <-locked:
		if err != nil {
			e.t.Errorf("waiting for the daemon to exit: %v", err)
		}
	case <-time.After(time.Minute):
		e.t.Errorf("the daemon (pid %d) did not exit on SIGTERM", info.PID)
	}
}

// awaitState follows the watch stream until job id is in state want.
func awaitState(t *testing.T, c *daemonclient.Client, id string, want api.State) api.Job {
	t.Helper()
	return awaitJob(t, c, id, want, func(api.Job) bool { return true })
}

// awaitJob follows the watch stream until job id is in state want and
// ok says so too.
func awaitJob(t *testing.T, c *daemonclient.Client, id string, want api.State, ok func(api.Job) bool) api.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w, err := c.Watch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var last api.Job
	for {
		j, err := w.Next()
		if err != nil {
			t.Fatalf("job %s: last seen %s (%d %s), never %s: %v", id, last.State, last.ErrorCode, last.ErrorMessage, want, err)
		}
		if j.ID != id {
			continue
		}
		last = j
		if j.State == want && ok(j) {
			return j
		}
		if j.State.Final() {
			t.Fatalf("job %s ended %s (%d %s), want %s", id, j.State, j.ErrorCode, j.ErrorMessage, want)
		}
	}
}

// heldOrigin serves body at /f: the headers and the first half at once,
// the rest once released. Each request is announced on requests.
type heldOrigin struct {
	body     []byte
	srv      *httptest.Server
	requests chan http.Header
	release  chan struct{}
	once     sync.Once
}

func newHeldOrigin(t *testing.T, size int) *heldOrigin {
	o := &heldOrigin{body: bytes.Repeat([]byte("0123456789abcdef"), size/16), requests: make(chan http.Header, 16), release: make(chan struct{})}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
		w.WriteHeader(http.StatusOK)
		half := len(o.body) / 2
		w.Write(o.body[:half])
		w.(http.Flusher).Flush()
		o.requests <- r.Header.Clone()
		select {
		case <-o.release:
			w.Write(o.body[half:])
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		o.releaseBody()
		o.srv.Close()
	})
	return o
}

func (o *heldOrigin) releaseBody() { o.once.Do(func() { close(o.release) }) }

// awaitRequest waits for the daemon's request.
func (o *heldOrigin) awaitRequest(t *testing.T) http.Header {
	t.Helper()
	select {
	case h := <-o.requests:
		return h
	case <-time.After(60 * time.Second):
		t.Fatal("the daemon did not ask for the file")
		return nil
	}
}

var jobIDLine = regexp.MustCompile(`^[0-9a-f]{12}\n$`)

func TestBackgroundDownload(t *testing.T) {
	e := newBgEnv(t)
	// More than the 1 MiB a download task buffers before it reports
	// progress arrives before the server holds the rest.
	o := newHeldOrigin(t, 4<<20)
	dest := filepath.Join(t.TempDir(), "out.bin")
	if err := os.WriteFile(dest, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.cli("--background", "cli", "-o", dest, "-H", "X-Test: yes", "-A", "agent/1", o.srv.URL+"/f?token=sekrit")
	if r.code != 0 || !jobIDLine.MatchString(r.stdout) {
		t.Fatalf("--background: %v, want status 0 and a job ID", r)
	}
	id := strings.TrimSpace(r.stdout)
	// The command has returned while the server holds the body.
	h := o.awaitRequest(t)
	if h.Get("X-Test") != "yes" || h.Get("User-Agent") != "agent/1" || h.Get("Accept") != "*/*" {
		t.Errorf("the daemon's request header %v lacks -H, -A or Accept", h)
	}
	c := e.client()
	awaitJob(t, c, id, api.Running, func(j api.Job) bool { return j.BytesDone > 0 && j.BytesExpected == int64(len(o.body)) })

	r = e.cli("jobs")
	if r.code != 0 {
		t.Fatalf("jobs: %v", r)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasPrefix(lines[1], id+" ") {
		t.Fatalf("jobs printed %q, want a header and a line starting with %s", r.stdout, id)
	}
	for _, want := range []string{" cli ", o.srv.URL + "/f?… ", " running ", "/4.0 MiB"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("jobs line %q lacks %q", lines[1], want)
		}
	}
	if strings.Contains(r.stdout, "sekrit") {
		t.Errorf("jobs shows the query: %q", r.stdout)
	}

	r = e.cli("jobs", "--json", "--session", "cli")
	var jobs []api.Job
	if err := json.Unmarshal([]byte(r.stdout), &jobs); err != nil || r.code != 0 {
		t.Fatalf("jobs --json: %v (%v)", r, err)
	}
	if len(jobs) != 1 || jobs[0].ID != id || jobs[0].Destination != dest || jobs[0].Request.Header.Get("X-Test") != "yes" {
		t.Fatalf("jobs --json = %+v, want job %s to %s", jobs, id, dest)
	}
	if r := e.cli("jobs", "--session", "other"); r.code != 0 || strings.Contains(r.stdout, id) {
		t.Errorf("jobs --session other: %v, want no job %s", r, id)
	}

	if b, err := os.ReadFile(dest); err != nil || string(b) != "old" {
		t.Fatalf("before completion %s holds %q (%v), want the old file", dest, b, err)
	}
	o.releaseBody()
	j := awaitState(t, c, id, api.Completed)
	if j.StatusCode != 200 || j.BytesDone != int64(len(o.body)) {
		t.Errorf("completed job %+v, want status 200 and %d bytes", j, len(o.body))
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, o.body) {
		t.Fatalf("%s: %d bytes (%v), want the %d bytes served", dest, len(got), err, len(o.body))
	}
	if entries, _ := os.ReadDir(filepath.Dir(dest)); len(entries) != 1 {
		t.Errorf("the destination directory holds %d entries, want only the file", len(entries))
	}
	if _, err := os.Stat(j.File); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the daemon's own file %s is still there (%v)", j.File, err)
	}

	if r := e.cli("jobs", "--session", "cli"); r.code != 0 || !strings.Contains(r.stdout, " completed ") {
		t.Errorf("jobs after completion: %v, want the job completed", r)
	}
	if r := e.cli("jobs", "clear", "--session", "cli"); r.code != 0 {
		t.Errorf("jobs clear: %v", r)
	}
	if r := e.cli("jobs", "--json"); r.code != 0 || r.stdout != "[]\n" {
		t.Errorf("jobs --json after clear: %v, want []", r)
	}
	if r := e.cli("jobs", "clear", "--session", "nosuch"); r.code != exitNoJob || !strings.Contains(r.stderr, `no session "nosuch"`) {
		t.Errorf("jobs clear of an unknown session: %v, want status 4", r)
	}
}

func TestBackgroundPauseResumeCancel(t *testing.T) {
	e := newBgEnv(t)
	o := newHeldOrigin(t, 64<<10)
	dest := filepath.Join(t.TempDir(), "sub", "out.bin")
	r := e.cli("--background", "ctl", "--create-dirs", "-o", dest, o.srv.URL+"/f")
	if r.code != 0 || !jobIDLine.MatchString(r.stdout) {
		t.Fatalf("--background: %v", r)
	}
	id := strings.TrimSpace(r.stdout)
	o.awaitRequest(t)
	c := e.client()

	if r := e.cli("jobs", "pause", id); r.code != 0 || r.stdout != "" {
		t.Fatalf("jobs pause: %v", r)
	}
	awaitState(t, c, id, api.Paused)
	if r := e.cli("jobs", "resume", "--json", id); r.code != 0 || !strings.Contains(r.stdout, `"id": "`+id+`"`) {
		t.Fatalf("jobs resume --json: %v", r)
	}
	o.awaitRequest(t) // asked again
	awaitState(t, c, id, api.Running)
	r = e.cli("jobs", "cancel", id, "000000000000")
	if r.code != exitNoJob || !strings.Contains(r.stderr, `(4) no job "000000000000"`) {
		t.Fatalf("jobs cancel ID unknown: %v, want status 4 naming the unknown job", r)
	}
	j := awaitState(t, c, id, api.Cancelled)
	if j.ErrorCode != int(urlsession.ErrCancelled) {
		t.Errorf("cancelled job's code %d, want -999", j.ErrorCode)
	}
	if _, err := os.Stat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a cancelled download left %s (%v)", dest, err)
	}
	if r := e.cli("jobs", "pause", id); r.code != exitFailure || !strings.Contains(r.stderr, "cancelled") {
		t.Errorf("pausing a cancelled job: %v, want status 1", r)
	}
	if r := e.cli("jobs"); r.code != 0 || !strings.Contains(r.stdout, " cancelled ") {
		t.Errorf("jobs after cancel: %v, want the job listed as cancelled", r)
	}
}

func TestJobsWithoutDaemon(t *testing.T) {
	e := newBgEnv(t)
	if r := e.cli("jobs"); r.code != 0 || r.stdout != "ID  SESSION  URL  STATE  BYTES  RATE  ETA\n" {
		t.Errorf("jobs without a daemon: %v, want an empty table", r)
	}
	if r := e.cli("jobs", "--json"); r.code != 0 || r.stdout != "[]\n" {
		t.Errorf("jobs --json without a daemon: %v, want []", r)
	}
	if r := e.cli("jobs", "watch"); r.code != exitNoDaemon || !strings.Contains(r.stderr, "not running") {
		t.Errorf("jobs watch without a daemon: %v, want status 7", r)
	}
	if _, err := os.Stat(e.socket()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("listing started a daemon: %v", err)
	}
	e.env = append(e.env, "URLSESSIOND="+filepath.Join(e.home, "missing"))
	if r := e.cli("jobs", "cancel", "0123456789ab"); r.code != exitNoDaemon || !strings.Contains(r.stderr, "urlsessiond not found") {
		t.Errorf("jobs cancel with no daemon to start: %v, want status 7", r)
	}
	dest := filepath.Join(t.TempDir(), "f")
	if r := e.cli("--background", "s", "-o", dest, "http://127.0.0.1:1/f"); r.code != exitNoDaemon {
		t.Errorf("--background with no daemon to start: %v, want status 7", r)
	}
}

func TestJobsWatch(t *testing.T) {
	e := newBgEnv(t)
	o := newHeldOrigin(t, 64<<10)
	dest := filepath.Join(t.TempDir(), "out.bin")
	r := e.cli("--background", "w", "-o", dest, o.srv.URL+"/f")
	if r.code != 0 {
		t.Fatalf("--background: %v", r)
	}
	id := strings.TrimSpace(r.stdout)
	o.awaitRequest(t)
	t.Setenv("XDG_RUNTIME_DIR", e.runtime)

	for _, asJSON := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		args := []string{"jobs", "watch", "--session", "w"}
		if asJSON {
			args = append(args, "--json")
		}
		var stderr bytes.Buffer
		status := make(chan int, 1)
		go func() {
			status <- runContext(ctx, args, strings.NewReader(""), pw, &stderr)
			pw.Close()
		}()
		sc := bufio.NewScanner(pr)
		found := false
		for !found && sc.Scan() {
			line := sc.Text()
			if asJSON {
				var j api.Job
				if err := json.Unmarshal([]byte(line), &j); err != nil {
					t.Fatalf("watch --json line %q: %v", line, err)
				}
				found = j.ID == id && j.State == api.Running && j.Destination == dest
			} else {
				found = strings.HasPrefix(line, id+"  w  ") && strings.Contains(line, "  running  ")
			}
		}
		if !found {
			t.Fatalf("watch (json %v) ended without job %s running: %v; %s", asJSON, id, sc.Err(), stderr.String())
		}
		cancel()
		go io.Copy(io.Discard, pr)
		if s := <-status; s != 0 {
			t.Errorf("watch (json %v) interrupted: status %d, want 0; %s", asJSON, s, stderr.String())
		}
	}
}

func TestBackgroundRefusals(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "nowhere", "x"), link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		status int
		want   string
	}{
		{[]string{"--background", "s", "http://127.0.0.1:1/"}, 2, "needs -o FILE"},
		{[]string{"--background", "s", "-o", "-", "http://127.0.0.1:1/"}, 2, "needs -o FILE"},
		{[]string{"--background", "", "-o", "f", "http://127.0.0.1:1/"}, 2, "empty session identifier"},
		{[]string{"--background", "s", "-v", "-o", "f", "http://127.0.0.1:1/"}, 2, "option -v: not with --background"},
		{[]string{"--background", "s", "--limit-rate", "1k", "-o", "f", "http://127.0.0.1:1/"}, 2, "option --limit-rate: not with --background"},
		{[]string{"--background", "s", "-C", "-", "-o", "f", "http://127.0.0.1:1/"}, 2, "option -C: not with --background"},
		{[]string{"--background", "s", "-u", "a:hunter2", "-o", "f", "http://127.0.0.1:1/"}, 2, "credentials"},
		{[]string{"--background", "s", "-o", "f", "http://a:hunter2@127.0.0.1:1/"}, 2, "credentials in the URL"},
		{[]string{"--background", "s", "-o", "f", "a@127.0.0.1:1/"}, 2, "credentials in the URL"},
		{[]string{"--background", "s", "-H", "Host: x", "-o", "f", "http://127.0.0.1:1/"}, 2, `"Host:"`},
		{[]string{"--background", "s", "-o", "f", "ftp://127.0.0.1:1/"}, 1, "only http and https"},
		{[]string{"--background", "s", "-o", dir, "http://127.0.0.1:1/"}, 23, "is a directory"},
		{[]string{"--background", "s", "-o", fifo, "http://127.0.0.1:1/"}, 23, "not a regular file"},
		{[]string{"--background", "s", "-o", link, "http://127.0.0.1:1/"}, 23, "symbolic link"},
		{[]string{"--background", "s", "-o", filepath.Join(dir, "no", "f"), "http://127.0.0.1:1/"}, 23, "--create-dirs"},
		{[]string{"jobs", "pause"}, 2, "needs the ID"},
		{[]string{"jobs", "frob"}, 2, "unknown command"},
		{[]string{"jobs", "--bogus"}, 2, "option --bogus: is unknown"},
		{[]string{"jobs", "watch", "x"}, 2, "takes no argument"},
		{[]string{"jobs", "cancel", "--session", "s", "x"}, 2, "not --session"},
		{[]string{"jobs", "clear"}, 2, "takes --session"},
		{[]string{"jobs", "clear", "--session", "s", "x"}, 2, "takes --session"},
	} {
		var stdout, stderr bytes.Buffer
		status := run(tc.args, strings.NewReader(""), &stdout, &stderr)
		if status != tc.status || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: status %d, %q; want %d and %q", tc.args, status, stderr.String(), tc.status, tc.want)
		}
		if strings.Contains(stderr.String(), "hunter2") {
			t.Errorf("%q: the password shows: %q", tc.args, stderr.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused run made a directory: %v", err)
	}
}

func TestJobsHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if s := run([]string{"jobs", "-h"}, strings.NewReader(""), &stdout, &stderr); s != 0 || !strings.HasPrefix(stdout.String(), "Usage: urlsession jobs") {
		t.Fatalf("jobs -h: %d %q %q", s, stdout.String(), stderr.String())
	}
}

func TestJobRow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		job  api.Job
		want string
	}{
		{api.Job{ID: "a", Session: "s", Request: api.Request{URL: "https://u:p@h/x?t=1"}, State: api.Running,
			BytesDone: 1 << 20, BytesExpected: 3 << 20, Rate: 1 << 20},
			"a|s|https://h/x?…|running|1.0 MiB/3.0 MiB|1.0 MiB/s|2s"},
		{api.Job{ID: "b", Session: "s", Request: api.Request{URL: "http://h/"}, State: api.Queued, BytesExpected: -1},
			"b|s|http://h/|queued|0 B/?|-|-"},
		{api.Job{ID: "c", Session: "s", Request: api.Request{URL: "http://h/"}, State: api.Waiting, BytesExpected: -1,
			ErrorCode: -1004, NextAttempt: now.Add(90 * time.Second)},
			"c|s|http://h/|waiting (-1004)|0 B/?|-|retry in 1m30s"},
		{api.Job{ID: "d", Session: "s", Request: api.Request{URL: "http://h/"}, State: api.Failed, ErrorCode: -3005,
			BytesDone: 10, BytesExpected: 10},
			"d|s|http://h/|failed (-3005)|10 B/10 B|-|-"},
	} {
		if got := strings.Join(jobRow(tc.job, now), "|"); got != tc.want {
			t.Errorf("jobRow(%s) = %q, want %q", tc.job.ID, got, tc.want)
		}
	}
	resp := &api.Response{URL: "https://u:p@h/next", StatusCode: 200, Header: http.Header{"Set-Cookie": {"sid=secret"}, "Etag": {`"e"`}}}
	j := publicJob(api.Job{ResumeData: []byte("x"), Request: api.Request{URL: "https://u:p@h/",
		Header: http.Header{"Authorization": {"Bearer t"}, "X": {"y"}}}, Response: resp})
	if j.ResumeData != nil || j.Request.URL != "https://u:xxxxx@h/" || j.Request.Header.Get("Authorization") != "(redacted)" || j.Request.Header.Get("X") != "y" {
		t.Errorf("publicJob = %+v", j)
	}
	if j.Response.Header.Get("Set-Cookie") != "(redacted)" || j.Response.Header.Get("Etag") != `"e"` || j.Response.URL != "https://u:xxxxx@h/next" ||
		resp.Header.Get("Set-Cookie") != "sid=secret" {
		t.Errorf("publicJob's response %+v (the job's own: %+v)", j.Response, resp)
	}
}

// TestBackgroundDigestMismatch: a body that does not match the server's
// Repr-Digest never appears at FILE.
func TestBackgroundDigestMismatch(t *testing.T) {
	e := newBgEnv(t)
	body := bytes.Repeat([]byte("x"), 100<<10)
	other := sha256.Sum256([]byte("not the body"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(other[:])+":")
		w.Write(body)
	}))
	defer srv.Close()
	dest := filepath.Join(t.TempDir(), "out.bin")
	r := e.cli("--background", "d", "-o", dest, srv.URL+"/f")
	if r.code != 0 {
		t.Fatalf("--background: %v", r)
	}
	id := strings.TrimSpace(r.stdout)
	j := awaitState(t, e.client(), id, api.Waiting)
	if j.ErrorCode != int(urlsession.ErrDigestMismatch) {
		t.Errorf("job waiting with code %d (%s), want %d", j.ErrorCode, j.ErrorMessage, urlsession.ErrDigestMismatch)
	}
	if _, err := os.Stat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a body that fails its digest appeared at %s (%v)", dest, err)
	}
}
