//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/client"
	"github.com/urlsession-go/urlsession/internal/resume"
)

// gatedReader is a body whose reads past gateAt wait until gate is
// closed or ctx ends: a server that stalls in the middle of a body.
type gatedReader struct {
	*bytes.Reader
	gateAt int64
	gate   <-chan struct{}
	ctx    context.Context
}

func (g *gatedReader) Read(p []byte) (int, error) {
	pos, _ := g.Seek(0, io.SeekCurrent)
	if pos >= g.gateAt {
		select {
		case <-g.gate:
		case <-g.ctx.Done():
			return 0, g.ctx.Err()
		}
	} else if rest := g.gateAt - pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	return g.Reader.Read(p)
}

// origin serves /small and /large with a strong ETag and byte ranges;
// /large stalls at gateAt until the gate opens.
type origin struct {
	small, large []byte
	gateAt       int64
	gate         chan struct{}
	gateOnce     sync.Once

	mu     sync.Mutex
	ranges []string // Range header of each /large request
}

func (o *origin) open() { o.gateOnce.Do(func() { close(o.gate) }) }

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mod := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	w.Header().Set("Etag", `"`+r.URL.Path[1:]+`-v1"`)
	switch r.URL.Path {
	case "/small":
		http.ServeContent(w, r, "small", mod, bytes.NewReader(o.small))
	case "/large":
		o.mu.Lock()
		o.ranges = append(o.ranges, r.Header.Get("Range"))
		o.mu.Unlock()
		http.ServeContent(w, r, "large", mod, &gatedReader{Reader: bytes.NewReader(o.large), gateAt: o.gateAt, gate: o.gate, ctx: r.Context()})
	default:
		http.NotFound(w, r)
	}
}

func (o *origin) rangesSeen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ranges...)
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b)
	return b
}

// daemon runs the built urlsessiond in a private environment, started
// on demand by client.Start as programs start it.
type daemon struct {
	t    *testing.T
	bin  string
	env  []string
	sock string
	log  string
	pid  int
}

func (d *daemon) start(ctx context.Context) *client.Client {
	d.t.Helper()
	c, err := client.Start(ctx, client.StartOptions{Socket: d.sock, Daemon: d.bin, Env: d.env,
		Args: []string{"-log", d.log, "-log-level", "debug", "-idle-timeout", "0", "-progress-interval", "1h"}})
	if err != nil {
		d.t.Fatalf("daemon did not answer: %v\n%s", err, d.logText())
	}
	info, err := c.Info(ctx)
	if err != nil {
		d.t.Fatal(err)
	}
	d.pid = info.PID
	pid := info.PID
	d.t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGTERM)
		gone(pid)
	})
	return c
}

// gone waits until process pid no longer exists (client.Start reaps the
// daemons it starts).
func gone(pid int) {
	for delay := time.Millisecond; syscall.Kill(pid, 0) == nil; delay = min(2*delay, 100*time.Millisecond) {
		time.Sleep(delay)
	}
}

func (d *daemon) logText() string {
	b, _ := os.ReadFile(d.log)
	return string(b)
}

// waitJob follows the session's watch stream until cond holds for job id.
// The condition sees the job as GET /v1/jobs/{id} returns it.
func (d *daemon) waitJob(ctx context.Context, c *client.Client, id string, cond func(api.Job) bool) api.Job {
	t := d.t
	t.Helper()
	w, err := c.Watch(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// The job may already be there.
	if j, err := c.Job(ctx, id); err == nil && cond(j) {
		return j
	}
	for {
		j, err := w.Next()
		if err == nil && j.ID == id {
			// The stream leaves resume data out: read the job.
			j, err = c.Job(ctx, id)
		}
		if err != nil {
			t.Fatalf("watching job %s: %v\n%s", id, err, d.logText())
		}
		if j.ID == id && cond(j) {
			return j
		}
	}
}

// finished returns the file of a job's finish-downloading event.
func finished(t *testing.T, ctx context.Context, c *client.Client, id string) string {
	t.Helper()
	evs, err := c.Events(ctx, "app", 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Events {
		if e.Job == id && e.Kind == api.FinishDownloading {
			return e.File
		}
	}
	t.Fatalf("no finish-downloading event for job %s in %+v", id, evs.Events)
	return ""
}

func checkSHA(t *testing.T, path string, want []byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	if got, w := h.Sum(nil), sha256.Sum256(want); !bytes.Equal(got, w[:]) {
		t.Fatalf("%s: SHA-256 %x, want %x", path, got, w)
	}
	info, _ := f.Stat()
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", path, info.Mode().Perm())
	}
}

// TestDaemon builds urlsessiond, runs it in a temporary home, completes a
// download, then kills it with SIGKILL in the middle of a large download
// and shows that the restarted daemon completes it byte-identical,
// continuing from its last checkpoint, which is at most about a MiB
// behind what arrived. The progress interval is an hour, so the job's
// stored resume data is far behind: the checkpoint file carries the
// length.
func TestDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "urlsessiond")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "XDG_") && k != "HOME" && k != "TMPDIR" && k != "URLSESSIOND" {
			env = append(env, kv)
		}
	}
	for _, sub := range []string{"run", "data", "home", "cache", "config"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	env = append(env, "XDG_RUNTIME_DIR="+dir+"/run", "XDG_DATA_HOME="+dir+"/data", "HOME="+dir+"/home",
		"XDG_CACHE_HOME="+dir+"/cache", "XDG_CONFIG_HOME="+dir+"/config")
	d := &daemon{t: t, bin: bin, env: env, sock: dir + "/run/urlsession/urlsessiond.sock", log: dir + "/daemon.log"}

	o := &origin{small: randomBytes(3<<20+1, 1), large: randomBytes(48<<20, 2), gateAt: 20 << 20, gate: make(chan struct{})}
	srv := httptest.NewServer(o)
	defer srv.Close()
	defer o.open()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := d.start(ctx)

	// A download that completes.
	j, err := c.CreateJob(ctx, api.NewJob{Session: "app", Kind: api.Download, Request: api.Request{Method: "GET", URL: srv.URL + "/small"}})
	if err != nil {
		t.Fatal(err)
	}
	done := d.waitJob(ctx, c, j.ID, func(j api.Job) bool { return j.State.Final() })
	if done.State != api.Completed || done.StatusCode != 200 {
		t.Fatalf("small job ended %s (status %d, error %d %s)\n%s", done.State, done.StatusCode, done.ErrorCode, done.ErrorMessage, d.logText())
	}
	checkSHA(t, finished(t, ctx, c, j.ID), o.small)

	// A large download that stalls at gateAt, killed once its checkpoint
	// file has caught up with what arrived. The session may hold up to
	// 128 KiB that arrived just before the stall in memory; checkpoints
	// come every MiB of the partial file.
	j, err = c.CreateJob(ctx, api.NewJob{Session: "app", Kind: api.Download, Request: api.Request{Method: "GET", URL: srv.URL + "/large"}})
	if err != nil {
		t.Fatal(err)
	}
	const slack = 1<<20 + 128<<10
	cpFile := filepath.Join(dir, "data", "urlsession", "daemon", "partial", j.ID+".checkpoint")
	var cpOffset int64
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		// The file holds a 4-byte length, the resume data, and more.
		if b, err := os.ReadFile(cpFile); err == nil && len(b) > 4 && int(binary.BigEndian.Uint32(b)) <= len(b)-4 {
			if rd, err := resume.Decode(b[4 : 4+binary.BigEndian.Uint32(b)]); err == nil && rd.Offset >= o.gateAt-slack {
				cpOffset = rd.Offset
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("no checkpoint within %d bytes of the stall at %d\n%s", slack, o.gateAt, d.logText())
		}
		time.Sleep(delay)
	}
	stored, err := c.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := syscall.Kill(d.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gone(d.pid)
	before := len(o.rangesSeen())
	o.open()

	c = d.start(ctx)
	defer c.Close()
	done = d.waitJob(ctx, c, j.ID, func(j api.Job) bool { return j.State.Final() })
	if done.State != api.Completed {
		t.Fatalf("large job ended %s (error %d %s)\n%s", done.State, done.ErrorCode, done.ErrorMessage, d.logText())
	}
	checkSHA(t, finished(t, ctx, c, j.ID), o.large)
	after := o.rangesSeen()[before:]
	if len(after) == 0 || after[0] == "" {
		t.Fatalf("the restarted daemon asked %q: it did not resume", after)
	}
	var from int64
	if _, err := fmtSscanf(after[0], &from); err != nil || from < cpOffset {
		t.Errorf("resumed with %q, want a range from the checkpoint at %d or later", after[0], cpOffset)
	}
	t.Logf("killed with a checkpoint at %d bytes (stored resume data at %d); resumed with %q; %d requests for /large in all",
		cpOffset, offsetOf(stored.ResumeData), after[0], len(o.rangesSeen()))

	// The partial directory is empty once the job completed.
	left, _ := os.ReadDir(filepath.Join(dir, "data", "urlsession", "daemon", "partial"))
	if len(left) != 0 {
		t.Errorf("partial files left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "urlsession", "daemon", "tmp")); err != nil {
		t.Errorf("no daemon temporary directory: %v", err)
	}
}

// offsetOf returns the offset of resume data, or -1.
func offsetOf(data []byte) int64 {
	d, err := resume.Decode(data)
	if err != nil {
		return -1
	}
	return d.Offset
}

// fmtSscanf reads the first offset of a "bytes=N-" range.
func fmtSscanf(r string, n *int64) (int, error) {
	s, ok := strings.CutPrefix(r, "bytes=")
	s, ok2 := strings.CutSuffix(s, "-")
	if !ok || !ok2 {
		return 0, errors.New("not an open range")
	}
	var v int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		v = v*10 + int64(c-'0')
	}
	*n = v
	return 1, nil
}

func TestLogHandler(t *testing.T) {
	for _, journal := range []bool{false, true} {
		var b strings.Builder
		slog.New(logHandler(&b, slog.LevelInfo, journal)).Info("job created", "job", "3f9a")
		line := b.String()
		if !strings.Contains(line, `level=INFO msg="job created" job=3f9a`) {
			t.Errorf("journal %v: %q lacks the record", journal, line)
		}
		if got := strings.HasPrefix(line, "time="); got == journal {
			t.Errorf("journal %v: %q: time stamp %v, want %v", journal, line, got, !journal)
		}
	}
	t.Setenv("JOURNAL_STREAM", "0:0")
	if journalStderr() {
		t.Error("JOURNAL_STREAM naming another file counts as the journal")
	}
}
