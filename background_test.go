//go:build unix

package urlsession_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/hsts"
	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/client"
	"github.com/urlsession-go/urlsession/internal/daemon/runner"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
	"github.com/urlsession-go/urlsession/internal/daemon/store"
	"github.com/urlsession-go/urlsession/internal/resume"
)

// bgDaemon is a urlsessiond served in the test process on its real Unix
// socket, in a temporary XDG_RUNTIME_DIR and HOME that child processes
// inherit.
type bgDaemon struct {
	srv  *server.Server
	dir  string
	st   *store.Store
	rn   *runner.Runner
	done chan error
	// launched receives "<session> <argv...>" for each launch command
	// the daemon runs (it runs none).
	launched chan string
}

// startBackgroundDaemon points this process's environment (and so the
// children's) at a new runtime directory and home, and serves a daemon
// there until the test ends. $URLSESSIOND names no executable, so a
// session that found no daemon would fail rather than start another.
func startBackgroundDaemon(t testing.TB) *bgDaemon {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(dir, "run"))
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "home", "data"))
	t.Setenv("URLSESSIOND", filepath.Join(dir, "no-such-urlsessiond"))
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := server.PrepareRuntimeDir(api.RuntimeDir()); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "daemon", "jobs.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	rn, err := runner.New(runner.Options{PartialDir: filepath.Join(dir, "daemon", "partial"),
		Configuration: urlsession.EphemeralConfiguration()})
	if err != nil {
		t.Fatal(err)
	}
	d := &bgDaemon{dir: dir, st: st, rn: rn, launched: make(chan string, 16)}
	d.serve(t)
	t.Cleanup(func() {
		d.stop(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rn.Close(ctx)
		st.Close()
	})
	return d
}

// serve starts a daemon on the store and socket.
func (d *bgDaemon) serve(t testing.TB) {
	t.Helper()
	srv, err := server.New(server.Config{Store: d.st, Runner: d.rn, IdleTimeout: -1, Socket: api.SocketPath(),
		ProgressInterval: time.Millisecond, Launch: func(id string, argv []string) error {
			select {
			case d.launched <- id + " " + strings.Join(argv, " "):
			default:
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := server.Listen(api.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	d.srv = srv
	d.done = make(chan error, 1)
	go func() { d.done <- srv.Serve(ln) }()
}

// stop shuts the daemon down, as SIGTERM does: transfers stop into
// their resume data. A daemon already stopped stays so.
func (d *bgDaemon) stop(t testing.TB) {
	if d.srv == nil {
		return
	}
	defer func() { d.srv = nil }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d.srv.Shutdown(ctx)
	if err := <-d.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Error(err)
	}
}

// waitJobs waits (a minute at most) until the session's jobs satisfy ok.
func (d *bgDaemon) waitJobs(t testing.TB, session string, ok func([]api.Job) bool) []api.Job {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		jobs := d.srv.Jobs(session)
		if ok(jobs) {
			return jobs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon's jobs of %q did not get there in a minute: %+v", session, jobs)
		}
		time.Sleep(5 * time.Millisecond) // polling the daemon's state, not synchronising on time
	}
}

// waitDetached waits (a minute at most) until no process is attached to
// session.
func (d *bgDaemon) waitDetached(t testing.TB, session string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for d.srv.Attached(session) {
		if time.Now().After(deadline) {
			t.Fatalf("session %q still attached after a minute", session)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allFinal(n int) func([]api.Job) bool {
	return func(jobs []api.Job) bool {
		if len(jobs) != n {
			return false
		}
		for _, j := range jobs {
			if !j.State.Final() {
				return false
			}
		}
		return true
	}
}

// bgBody is the deterministic body of /file/<name>.
func bgBody(name string, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7) ^ name[i%len(name)]
	}
	return b
}

const bgSize = 300 << 10

// bgOrigin serves downloads at /file/<name> (with a strong ETag and byte
// ranges) and takes uploads at /upload/<name>, recording their SHA-256;
// while gate is open it holds every request.
type bgOrigin struct {
	*httptest.Server
	gate     chan struct{}
	gateOnce sync.Once
	mu       sync.Mutex
	uploads  map[string]string
}

func newBackgroundOrigin(t testing.TB, gated bool) *bgOrigin {
	o := &bgOrigin{gate: make(chan struct{}), uploads: map[string]string{}}
	if !gated {
		o.open()
	}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-o.gate:
		case <-r.Context().Done():
			return
		}
		name := filepath.Base(r.URL.Path)
		switch {
		case strings.HasPrefix(r.URL.Path, "/go/"):
			http.Redirect(w, r, "/file/"+name+"?"+r.URL.RawQuery, http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/file/"):
			w.Header().Set("ETag", `"`+name+`"`)
			if r.URL.Query().Has("cd") {
				w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.dat"`)
			}
			http.ServeContent(w, r, name, time.Unix(1e9, 0), bytes.NewReader(bgBody(name, bgSize)))
		case strings.HasPrefix(r.URL.Path, "/upload/"):
			h := sha256.New()
			if _, err := io.Copy(h, r.Body); err != nil {
				return
			}
			o.mu.Lock()
			o.uploads[name] = hex.EncodeToString(h.Sum(nil))
			o.mu.Unlock()
			w.WriteHeader(http.StatusCreated)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() { o.open(); o.Close() })
	return o
}

func (o *bgOrigin) open() { o.gateOnce.Do(func() { close(o.gate) }) }

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// bgRecorder is a background session's delegate that writes every
// callback as a line ("ev ...") to w, moving finished downloads into dir.
type bgRecorder struct {
	w   io.Writer
	dir string
	// inside, when set, is called inside DidFinishDownloadingTo.
	inside func(path string)
	mu     sync.Mutex
	lines  []string
	heads  map[string]*http.Response // each download's Response in DidFinishDownloadingTo
	bodies map[string][]byte         // what DidReceiveData gave each task
	mets   map[string]*urlsession.TaskMetrics
	done   chan struct{} // closed by DidFinishEventsForBackgroundSession
	// listed counts the tasks still in the session's list when their
	// DidCompleteWithError came.
	listed atomic.Int32
	gone   chan struct{} // closed by DidBecomeInvalidWithError
}

var (
	_ urlsession.BackgroundEventsDelegate = (*bgRecorder)(nil)
	_ urlsession.DownloadDelegate         = (*bgRecorder)(nil)
	_ urlsession.DownloadProgressDelegate = (*bgRecorder)(nil)
	_ urlsession.SendProgressDelegate     = (*bgRecorder)(nil)
	_ urlsession.CompletionDelegate       = (*bgRecorder)(nil)
	_ urlsession.DataDelegate             = (*bgRecorder)(nil)
	_ urlsession.MetricsDelegate          = (*bgRecorder)(nil)
	_ urlsession.InvalidationDelegate     = (*bgRecorder)(nil)
)

func newRecorder(w io.Writer, dir string) *bgRecorder {
	return &bgRecorder{w: w, dir: dir, done: make(chan struct{}), gone: make(chan struct{})}
}

func (r *bgRecorder) log(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	if r.w != nil {
		fmt.Fprintln(r.w, "ev "+line)
	}
}

func (r *bgRecorder) recorded() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

func taskName(t *urlsession.Task) string {
	if t.OriginalRequest() == nil {
		return "?" // made from resume data that does not decode
	}
	return filepath.Base(t.OriginalRequest().URL.Path)
}

func (r *bgRecorder) DidWriteData(s *urlsession.Session, t *urlsession.DownloadTask, n, total, expected int64) {
	r.log("progress %s %d %d %d", taskName(t.Task), n, total, expected)
}

func (r *bgRecorder) DidResumeAtOffset(s *urlsession.Session, t *urlsession.DownloadTask, offset, expected int64) {
	r.log("resumed %s %d %d", taskName(t.Task), offset, expected)
}

func (r *bgRecorder) DidSendBodyData(s *urlsession.Session, t *urlsession.Task, n, total, expected int64) {
	r.log("sent %s %d %d %d", taskName(t), n, total, expected)
}

func (r *bgRecorder) DidFinishCollectingMetrics(s *urlsession.Session, t *urlsession.Task, m *urlsession.TaskMetrics) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mets == nil {
		r.mets = map[string]*urlsession.TaskMetrics{}
	}
	r.mets[taskName(t)] = m
}

func (r *bgRecorder) DidReceiveData(s *urlsession.Session, t *urlsession.DataTask, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bodies == nil {
		r.bodies = map[string][]byte{}
	}
	name := taskName(t.Task)
	r.bodies[name] = append(r.bodies[name], data...)
}

func (r *bgRecorder) DidFinishDownloadingTo(s *urlsession.Session, t *urlsession.DownloadTask, path string) {
	if r.inside != nil {
		r.inside(path)
	}
	r.mu.Lock()
	if r.heads == nil {
		r.heads = map[string]*http.Response{}
	}
	r.heads[taskName(t.Task)] = t.Response()
	r.mu.Unlock()
	data, err := os.ReadFile(path)
	if err != nil {
		r.log("finish %s unreadable: %v", taskName(t.Task), err)
		return
	}
	if r.dir != "" {
		if err := os.Rename(path, filepath.Join(r.dir, taskName(t.Task))); err != nil {
			r.log("finish %s cannot move: %v", taskName(t.Task), err)
			return
		}
	}
	r.log("finish %s %d %s", taskName(t.Task), len(data), sha(data))
}

func (r *bgRecorder) DidCompleteWithError(s *urlsession.Session, t *urlsession.Task, err error) {
	status := 0
	if resp := t.Response(); resp != nil {
		status = resp.StatusCode
	}
	resume := false
	if e, ok := errors.AsType[*urlsession.Error](err); ok {
		resume = e.DownloadTaskResumeData != nil || e.UploadTaskResumeData != nil
	}
	if slices.Contains(s.AllTasks(), t) {
		r.listed.Add(1)
	}
	r.log("complete %s %d %d resume=%t", taskName(t), urlsession.CodeOf(err), status, resume)
}

func (r *bgRecorder) DidFinishEventsForBackgroundSession(s *urlsession.Session) {
	r.log("finished")
	close(r.done)
}

func (r *bgRecorder) DidBecomeInvalidWithError(s *urlsession.Session, err error) {
	r.log("invalid %v", err)
	close(r.gone)
}

// bgChildEnv selects the helper mode of TestBackgroundChild.
const bgChildEnv = "URLSESSION_BG_CHILD"

// TestBackgroundChild is the program the background tests run as child
// processes; it does nothing unless $URLSESSION_BG_CHILD names a mode:
//
//	start   create the tasks named by $BG_DOWNLOADS and $BG_UPLOADS
//	        (space-separated URLs; uploads as URL=FILE), resume them, exit
//	attach  reattach, record every event, list the tasks after
//	        DidFinishEventsForBackgroundSession, then invalidate and exit
//	kill    reattach and block inside DidFinishDownloadingTo
//	hold    attach, say so, and stay until standard input closes
//	cancel  start the download $BG_DOWNLOADS, say so, cancel it once a
//	        line arrives on standard input, and exit still attached
func TestBackgroundChild(t *testing.T) {
	mode := os.Getenv(bgChildEnv)
	if mode == "" {
		t.Skip("a helper process of the background tests")
	}
	os.Exit(bgChild(mode))
}

func bgChild(mode string) int {
	id := os.Getenv("BG_ID")
	out := os.Stdout
	rec := newRecorder(out, os.Getenv("BG_DEST"))
	if mode == "start" || mode == "hold" {
		rec.w = nil // what these say is checked elsewhere
	}
	if mode == "kill" {
		rec.inside = func(path string) {
			fmt.Fprintln(out, "inside "+path)
			select {} // until killed
		}
	}
	s, err := urlsession.New(urlsession.BackgroundConfiguration(id), rec)
	if err != nil {
		fmt.Fprintln(out, "error", urlsession.CodeOf(err), err)
		return 0
	}
	switch mode {
	case "start":
		for _, u := range strings.Fields(os.Getenv("BG_DOWNLOADS")) {
			req, _ := http.NewRequest("GET", u, nil)
			s.DownloadTask(req).Resume()
		}
		for _, spec := range strings.Fields(os.Getenv("BG_UPLOADS")) {
			u, file, _ := strings.Cut(spec, "=")
			req, _ := http.NewRequest("PUT", u, nil)
			s.UploadTaskFromFile(req, file).Resume()
		}
		fmt.Fprintln(out, "started", len(s.AllTasks()))
		return 0 // without invalidating: the transfers go on
	case "cancel":
		// The attach's DidFinishEventsForBackgroundSession comes first,
		// so that the test reads the lines in one order.
		select {
		case <-rec.done:
		case <-time.After(2 * time.Minute):
			fmt.Fprintln(out, "timeout waiting for DidFinishEventsForBackgroundSession")
			return 1
		}
		req, _ := http.NewRequest("GET", os.Getenv("BG_DOWNLOADS"), nil)
		dt := s.DownloadTask(req)
		dt.Resume()
		fmt.Fprintln(out, "started", len(s.AllTasks()))
		bufio.NewReader(os.Stdin).ReadString('\n')
		dt.Cancel()
		<-dt.Done()
		fmt.Fprintf(out, "cancelled %d\n", urlsession.CodeOf(dt.Err()))
		return 0 // without invalidating
	case "hold":
		fmt.Fprintln(out, "attached")
		io.Copy(io.Discard, os.Stdin)
		s.FinishTasksAndInvalidate()
		<-s.Invalidated()
		return 0
	}
	select {
	case <-rec.done:
	case <-time.After(2 * time.Minute):
		fmt.Fprintln(out, "timeout waiting for DidFinishEventsForBackgroundSession")
		return 1
	}
	fmt.Fprintln(out, "tasks", len(s.AllTasks()))
	s.FinishTasksAndInvalidate()
	<-s.Invalidated()
	return 0
}

// runChild runs TestBackgroundChild in mode with env added and returns
// its lines of output, stopping at stop (when not empty) with the process
// still running.
func runChild(t *testing.T, mode string, env ...string) []string {
	t.Helper()
	cmd := bgChildCmd(mode, env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	return childLines(out)
}

func bgChildCmd(mode string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBackgroundChild$", "-test.count=1", "-test.shuffle=off")
	cmd.Env = append(os.Environ(), bgChildEnv+"="+mode, "URLSESSION_EPHEMERAL_CHILD=background")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// childLines keeps the child's own lines, not the testing package's.
func childLines(out []byte) []string {
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		for _, p := range []string{"ev ", "started", "tasks", "error", "inside", "attached", "timeout", "cancelled"} {
			if strings.HasPrefix(l, p) {
				lines = append(lines, l)
				break
			}
		}
	}
	return lines
}

// checkReplay checks a reattached process's events: per task, progress
// that only grows, then (downloads) one finish with the right bytes, then
// one complete with the status; every task once; and last "finished".
func checkReplay(t *testing.T, lines []string, downloads, uploads map[string]string) {
	t.Helper()
	if len(lines) < 3 || lines[len(lines)-1] != "ev invalid <nil>" {
		t.Fatalf("the process did not end with DidBecomeInvalidWithError:\n%s", strings.Join(lines, "\n"))
	}
	lines = lines[:len(lines)-1]
	if len(lines) < 2 || lines[len(lines)-2] != "ev finished" || lines[len(lines)-1] != "tasks 0" {
		t.Fatalf("the replay does not end with DidFinishEventsForBackgroundSession and no task left:\n%s", strings.Join(lines, "\n"))
	}
	finished := map[string]int{}
	completed := map[string]int{}
	last := map[string]int64{}
	for _, l := range lines[:len(lines)-2] {
		f := strings.Fields(strings.TrimPrefix(l, "ev "))
		name := f[1]
		if completed[name] > 0 {
			t.Errorf("%q after %s completed", l, name)
		}
		switch f[0] {
		case "progress", "sent":
			total, _ := strconv.ParseInt(f[3], 10, 64)
			n, _ := strconv.ParseInt(f[2], 10, 64)
			if n <= 0 || total <= last[name] || total-n != last[name] {
				t.Errorf("%q: progress from %d", l, last[name])
			}
			last[name] = total
		case "finish":
			want, ok := downloads[name]
			if !ok || len(f) != 4 || f[2] != strconv.Itoa(bgSize) || f[3] != want {
				t.Errorf("%q: want %d bytes with SHA-256 %s", l, bgSize, want)
			}
			if last[name] != bgSize {
				t.Errorf("%s finished after DidWriteData reported %d bytes", name, last[name])
			}
			finished[name]++
		case "complete":
			status := "200"
			if _, up := uploads[name]; up {
				status = "201"
			} else if finished[name] != 1 {
				t.Errorf("%s completed after %d DidFinishDownloadingTo", name, finished[name])
			}
			if f[2] != "0" || f[3] != status {
				t.Errorf("%q: want code 0 and status %s", l, status)
			}
			completed[name]++
		default:
			t.Errorf("unexpected %q", l)
		}
	}
	for name := range downloads {
		if completed[name] != 1 {
			t.Errorf("download %s completed %d times", name, completed[name])
		}
	}
	for name := range uploads {
		if completed[name] != 1 {
			t.Errorf("upload %s completed %d times", name, completed[name])
		}
	}
}

func TestBackgroundReattachReplaysEvents(t *testing.T) {
	d := startBackgroundDaemon(t)
	o := newBackgroundOrigin(t, true)
	dest := t.TempDir()
	downloads := map[string]string{}
	var urls []string
	for _, n := range []string{"a.bin", "b.bin", "c.bin"} {
		downloads[n] = sha(bgBody(n, bgSize))
		urls = append(urls, o.URL+"/file/"+n)
	}
	uploads := map[string]string{}
	var specs []string
	for i, n := range []string{"u1", "u2"} {
		body := bgBody(n, 100<<10+i)
		file := filepath.Join(t.TempDir(), n)
		if err := os.WriteFile(file, body, 0o600); err != nil {
			t.Fatal(err)
		}
		uploads[n] = sha(body)
		specs = append(specs, o.URL+"/upload/"+n+"="+file)
	}
	env := []string{"BG_ID=reattach", "BG_DEST=" + dest,
		"BG_DOWNLOADS=" + strings.Join(urls, " "), "BG_UPLOADS=" + strings.Join(specs, " ")}

	if got := runChild(t, "start", env...); !slices.Equal(got, []string{"started 5"}) {
		t.Fatalf("start: %q", got)
	}
	d.waitDetached(t, "reattach")
	if jobs := d.srv.Jobs("reattach"); len(jobs) != 5 {
		t.Fatalf("the daemon holds %d jobs, want 5", len(jobs))
	}
	o.open() // the app is gone: let the transfers run
	d.waitJobs(t, "reattach", allFinal(5))

	lines := runChild(t, "attach", env...)
	checkReplay(t, lines, downloads, uploads)
	for n, want := range downloads {
		data, err := os.ReadFile(filepath.Join(dest, n))
		if err != nil || sha(data) != want {
			t.Errorf("moved download %s: %v, SHA-256 %s, want %s", n, err, sha(data), want)
		}
	}
	o.mu.Lock()
	for n, want := range uploads {
		if o.uploads[n] != want {
			t.Errorf("upload %s arrived with SHA-256 %q, want %s", n, o.uploads[n], want)
		}
	}
	o.mu.Unlock()
	if jobs := d.srv.Jobs("reattach"); len(jobs) != 0 {
		t.Errorf("the daemon still holds %d jobs after their events were delivered", len(jobs))
	}

	// Every event was delivered once: the next process gets none.
	if got := runChild(t, "attach", env...); !slices.Equal(got, []string{"ev finished", "tasks 0", "ev invalid <nil>"}) {
		t.Errorf("second reattach: %q, want only DidFinishEventsForBackgroundSession", got)
	}
}

func TestBackgroundKilledInsideDidFinishDownloading(t *testing.T) {
	d := startBackgroundDaemon(t)
	o := newBackgroundOrigin(t, true)
	dest := t.TempDir()
	env := []string{"BG_ID=killed", "BG_DEST=" + dest, "BG_DOWNLOADS=" + o.URL + "/file/k.bin"}
	if got := runChild(t, "start", env...); !slices.Equal(got, []string{"started 1"}) {
		t.Fatalf("start: %q", got)
	}
	d.waitDetached(t, "killed")
	o.open()
	d.waitJobs(t, "killed", allFinal(1))

	cmd := bgChildCmd("kill", env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var inside string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "inside "); ok {
			inside = p
			break
		}
	}
	cmd.Process.Kill()
	go io.Copy(io.Discard, stdout)
	cmd.Wait()
	if inside == "" {
		t.Fatal("the child never got DidFinishDownloadingTo")
	}
	if _, err := os.Stat(inside); err != nil {
		t.Fatalf("the file handed over before the kill is gone: %v", err)
	}
	d.waitDetached(t, "killed")

	lines := runChild(t, "attach", env...)
	checkReplay(t, lines, map[string]string{"k.bin": sha(bgBody("k.bin", bgSize))}, nil)
	if _, err := os.Stat(inside); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the daemon's file %s is still there after the delegate moved it: %v", inside, err)
	}
}

func TestBackgroundSecondProcessRefused(t *testing.T) {
	d := startBackgroundDaemon(t)
	cmd := bgChildCmd("hold", "BG_ID=busy")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	sc := bufio.NewScanner(stdout)
	attached := false
	for sc.Scan() {
		if sc.Text() == "attached" {
			attached = true
			break
		}
	}
	if !attached {
		t.Fatal("the first process did not attach")
	}
	rec := newRecorder(nil, "")
	s, err := urlsession.New(urlsession.BackgroundConfiguration("busy"), rec)
	if s != nil || !errors.Is(err, urlsession.ErrBackgroundSessionInUseByAnotherProcess) {
		t.Fatalf("New while another process is attached: %v, %v; want ErrBackgroundSessionInUseByAnotherProcess", s, err)
	}
	if !strings.Contains(err.Error(), `"busy" is in use by another process`) {
		t.Errorf("error %q does not say what happened", err)
	}

	// Once the first process has gone, the identifier is free.
	stdin.Close()
	go io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	d.waitDetached(t, "busy")
	s, err = urlsession.New(urlsession.BackgroundConfiguration("busy"), rec)
	if err != nil {
		t.Fatal(err)
	}
	<-rec.done
	s.FinishTasksAndInvalidate()
	<-s.Invalidated()
}

// newBackground makes a background session in this process, invalidated
// when the test ends.
func newBackground(t *testing.T, id string) (*urlsession.Session, *bgRecorder) {
	t.Helper()
	rec := newRecorder(nil, t.TempDir())
	s, err := urlsession.New(urlsession.BackgroundConfiguration(id), rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.FinishTasksAndInvalidate()
		<-s.Invalidated()
	})
	waitClosed(t, rec.done, "DidFinishEventsForBackgroundSession")
	return s, rec
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("no %s in a minute", what)
	}
}

func TestBackgroundInvalidateAndCancel(t *testing.T) {
	d := startBackgroundDaemon(t)
	o := newBackgroundOrigin(t, true)
	s, rec := newBackground(t, "cancel")
	req, _ := http.NewRequest("GET", o.URL+"/file/x.bin", nil)
	dt := s.DownloadTask(req)
	if got := dt.State(); got != urlsession.TaskSuspended {
		t.Fatalf("new task %v, want suspended", got)
	}
	if jobs := d.srv.Jobs("cancel"); len(jobs) != 0 {
		t.Fatalf("a job before Resume: %+v", jobs)
	}
	dt.Resume()
	d.waitJobs(t, "cancel", func(jobs []api.Job) bool { return len(jobs) == 1 && jobs[0].State == api.Running })
	if got := dt.State(); got != urlsession.TaskRunning {
		t.Errorf("resumed task %v, want running", got)
	}
	s.InvalidateAndCancel()
	waitClosed(t, rec.gone, "DidBecomeInvalidWithError")
	want := []string{"finished", "complete x.bin -999 0 resume=false", "invalid <nil>"}
	if got := rec.recorded(); !slices.Equal(got, want) {
		t.Errorf("callbacks %q, want %q", got, want)
	}
	if err := dt.Err(); !errors.Is(err, urlsession.ErrCancelled) || dt.State() != urlsession.TaskCompleted {
		t.Errorf("task %v with %v, want completed with ErrCancelled", dt.State(), err)
	}
	d.waitDetached(t, "cancel")
	if jobs := d.srv.Jobs("cancel"); len(jobs) != 0 {
		t.Errorf("the daemon keeps %+v", jobs)
	}
}

func TestBackgroundFinishTasksAndInvalidateLeavesThemRunning(t *testing.T) {
	d := startBackgroundDaemon(t)
	o := newBackgroundOrigin(t, true)
	rec := newRecorder(nil, t.TempDir())
	s, err := urlsession.New(urlsession.BackgroundConfiguration("detach"), rec)
	if err != nil {
		t.Fatal(err)
	}
	waitClosed(t, rec.done, "DidFinishEventsForBackgroundSession")
	req, _ := http.NewRequest("GET", o.URL+"/file/y.bin", nil)
	dt := s.DownloadTask(req)
	dt.SetPriority(urlsession.HighPriority)
	dt.Resume()
	d.waitJobs(t, "detach", func(jobs []api.Job) bool { return len(jobs) == 1 && jobs[0].State == api.Running })
	idleReq, _ := http.NewRequest("GET", o.URL+"/file/never.bin", nil)
	idle := s.DownloadTask(idleReq) // never resumed: the daemon never has it
	s.FinishTasksAndInvalidate()
	waitClosed(t, rec.gone, "DidBecomeInvalidWithError")
	if got, want := rec.recorded(), []string{"finished", "invalid <nil>"}; !slices.Equal(got, want) {
		t.Errorf("callbacks %q, want %q", got, want)
	}
	// The tasks left to the daemon ended here before the invalidation.
	for _, c := range []struct {
		task *urlsession.DownloadTask
		code urlsession.Code
	}{{dt, urlsession.ErrBackgroundSessionWasDisconnected}, {idle, urlsession.ErrCancelled}} {
		select {
		case <-c.task.Done():
		default:
			t.Fatalf("%s: Done still open after DidBecomeInvalidWithError", taskName(c.task.Task))
		}
		if c.task.State() != urlsession.TaskCompleted || urlsession.CodeOf(c.task.Err()) != c.code {
			t.Errorf("%s: %v with %v, want completed with code %d", taskName(c.task.Task), c.task.State(), c.task.Err(), c.code)
		}
	}
	if !errors.Is(idle.Err(), urlsession.ErrSessionInvalidated) {
		t.Errorf("never resumed task: %v, want ErrSessionInvalidated", idle.Err())
	}
	dt.Cancel() // no effect: the job is the next session's
	d.waitDetached(t, "detach")
	o.open()
	jobs := d.waitJobs(t, "detach", allFinal(1))
	if jobs[0].State != api.Completed || jobs[0].Priority != 50 {
		t.Errorf("job %+v, want completed with priority 50", jobs[0])
	}

	s2, rec2 := newBackground(t, "detach")
	want := sha(bgBody("y.bin", bgSize))
	got := rec2.recorded()
	if n := len(got); n < 3 || got[n-3] != fmt.Sprintf("finish y.bin %d %s", bgSize, want) ||
		got[n-2] != "complete y.bin 0 200 resume=false" || got[n-1] != "finished" {
		t.Errorf("reattached callbacks %q", got)
	}
	if n := len(s2.AllTasks()); n != 0 {
		t.Errorf("%d tasks after the replay", n)
	}
}

// A background download's response is the one its transfer ended with:
// header fields, protocol and the URL that answered after a redirect, in
// DidFinishDownloadingTo, and again in the next process when the events
// wait for it.
func TestBackgroundTaskResponseHasTheHead(t *testing.T) {
	d := startBackgroundDaemon(t)
	o := newBackgroundOrigin(t, false)
	check := func(where string, resp *http.Response) {
		t.Helper()
		if resp == nil {
			t.Fatalf("%s: no response", where)
		}
		if resp.StatusCode != 200 || resp.Proto != "HTTP/1.1" || resp.ProtoMajor != 1 ||
			resp.Header.Get("Content-Disposition") != `attachment; filename="r.bin.dat"` ||
			resp.Header.Get("ETag") != `"r.bin"` || resp.ContentLength != bgSize ||
			resp.Request == nil || resp.Request.URL.Path != "/file/r.bin" {
			t.Errorf("%s: response %d %s, header %v, length %d, URL %v", where, resp.StatusCode, resp.Proto, resp.Header, resp.ContentLength, resp.Request.URL)
		}
	}
	s, rec := newBackground(t, "head")
	req, _ := http.NewRequest("GET", o.URL+"/go/r.bin?cd=1", nil)
	dt := s.DownloadTask(req)
	dt.Resume()
	waitClosed(t, dt.Done(), "completion of the download")
	rec.mu.Lock()
	head := rec.heads["r.bin"]
	rec.mu.Unlock()
	check("DidFinishDownloadingTo", head)
	check("Response after completion", dt.Response())
	if got := dt.OriginalRequest().URL.Path; got != "/go/r.bin" {
		t.Errorf("original request %s", got)
	}
	if got := dt.CurrentRequest().URL.Path; got != "/file/r.bin" {
		t.Errorf("current request %s, want the redirect's target", got)
	}
	// The metrics the daemon's transfer collected reach the app too.
	rec.mu.Lock()
	m := rec.mets["r.bin"]
	rec.mu.Unlock()
	if m == nil || m.RedirectCount != 1 || len(m.Transactions) != 2 || m.TaskStart.IsZero() {
		t.Fatalf("metrics %+v, want one redirect in two transactions", m)
	}
	first, last := m.Transactions[0], m.Transactions[1]
	if first.Request.URL.Path != "/go/r.bin" || first.Response == nil || first.Response.StatusCode != http.StatusFound ||
		last.Request.URL.Path != "/file/r.bin" || last.Response == nil || last.Response.StatusCode != 200 ||
		last.Response.Header.Get("ETag") != `"r.bin"` || last.ResponseBodyBytesReceived != bgSize ||
		last.NetworkProtocolName != "http/1.1" || last.RemoteAddr == nil || last.RemoteAddr.String() != strings.TrimPrefix(o.URL, "http://") ||
		last.FetchStart.IsZero() || last.ResponseEnd.Before(last.FetchStart) {
		t.Errorf("transactions %+v\n%+v", first, last)
	}

	// The same events replayed to the next process: the origin answers
	// once this one has gone.
	gated := newBackgroundOrigin(t, true)
	rec2 := newRecorder(nil, "")
	s2, err := urlsession.New(urlsession.BackgroundConfiguration("head-2"), rec2)
	if err != nil {
		t.Fatal(err)
	}
	waitClosed(t, rec2.done, "DidFinishEventsForBackgroundSession")
	req2, _ := http.NewRequest("GET", gated.URL+"/go/r.bin?cd=1", nil)
	s2.DownloadTask(req2).Resume()
	s2.FinishTasksAndInvalidate()
	waitClosed(t, rec2.gone, "DidBecomeInvalidWithError")
	d.waitDetached(t, "head-2")
	gated.open()
	d.waitJobs(t, "head-2", allFinal(1))
	_, rec3 := newBackground(t, "head-2")
	rec3.mu.Lock()
	head = rec3.heads["r.bin"]
	rec3.mu.Unlock()
	check("DidFinishDownloadingTo replayed", head)
}

// A background upload's response body reaches the app through
// DidReceiveData before DidCompleteWithError, as in Apple's background
// sessions; one too large to keep fails the task with -1103 and says so.
func TestBackgroundUploadResponseBody(t *testing.T) {
	startBackgroundDaemon(t)
	answer := []byte(`{"id":"photo-7","stored":true}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		if r.URL.Path == "/big" {
			w.Write(make([]byte, api.MaxResponseBody+1))
			return
		}
		w.Write(answer)
	}))
	defer srv.Close()
	s, rec := newBackground(t, "upload-answer")
	file := filepath.Join(t.TempDir(), "photo")
	if err := os.WriteFile(file, bgBody("photo", 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/photo", nil)
	ut := s.UploadTaskFromFile(req, file)
	ut.Resume()
	waitClosed(t, ut.Done(), "completion of the upload")
	rec.mu.Lock()
	got := rec.bodies["photo"]
	rec.mu.Unlock()
	if err := ut.Err(); err != nil || !bytes.Equal(got, answer) || ut.CountOfBytesReceived() != int64(len(answer)) ||
		ut.Response().Header.Get("Content-Type") != "application/json" {
		t.Errorf("upload: %v, DidReceiveData %q, %d bytes received, response %v; want %q", err, got, ut.CountOfBytesReceived(), ut.Response(), answer)
	}
	if lines := uploadCallbacks(rec); lines[len(lines)-1] != "complete photo 0 201 resume=false" {
		t.Errorf("callbacks %q", lines)
	}

	bigReq, _ := http.NewRequest("POST", srv.URL+"/big", nil)
	big := s.UploadTaskFromFile(bigReq, file)
	big.Resume()
	waitClosed(t, big.Done(), "completion of the upload with a big answer")
	if err := big.Err(); urlsession.CodeOf(err) != urlsession.ErrDataLengthExceedsMaximum || !strings.Contains(err.Error(), "was sent") {
		t.Errorf("upload with a %d-byte answer: %v, want -1103 saying the upload was sent", api.MaxResponseBody+1, err)
	}
	rec.mu.Lock()
	n := len(rec.bodies["big"])
	rec.mu.Unlock()
	if n != 0 {
		t.Errorf("DidReceiveData gave %d bytes of the answer too big to keep", n)
	}
}

// delayedRecorder is a bgRecorder that answers WillBeginDelayedRequest.
type delayedRecorder struct {
	*bgRecorder
	asked  chan string // the path of each request asked about
	answer func(t *urlsession.Task, req *http.Request) (urlsession.DelayedRequestDisposition, *http.Request)
}

func (d *delayedRecorder) WillBeginDelayedRequest(s *urlsession.Session, t *urlsession.Task, req *http.Request) (urlsession.DelayedRequestDisposition, *http.Request) {
	d.asked <- req.URL.Path
	return d.answer(t, req)
}

// A background task with an earliest begin date asks its delegate when
// the date comes (Apple's willBeginDelayedRequest): it continues, loads
// another request, or is cancelled, as answered, now or later; a question
// left open when the process goes is asked of the next one.
func TestBackgroundWillBeginDelayedRequest(t *testing.T) {
	d := startBackgroundDaemon(t)
	o := newBackgroundOrigin(t, false)
	var deferred sync.WaitGroup
	dr := &delayedRecorder{bgRecorder: newRecorder(nil, ""), asked: make(chan string, 10)}
	dr.answer = func(task *urlsession.Task, req *http.Request) (urlsession.DelayedRequestDisposition, *http.Request) {
		switch taskName(task) {
		case "a.bin":
			r, _ := http.NewRequest("GET", o.URL+"/file/b.bin", nil)
			return urlsession.DelayedRequestUseNewRequest, r
		case "c.bin":
			return urlsession.DelayedRequestCancel, nil
		case "f.bin": // a request the daemon refuses cancels the task
			r, _ := http.NewRequest("GET", "ftp://127.0.0.1/f.bin", nil)
			return urlsession.DelayedRequestUseNewRequest, r
		case "d.bin":
			later := task.Later()
			deferred.Add(1)
			go func() { // after the callback, or while it returns
				defer deferred.Done()
				if err := later.DelayedRequest(urlsession.DelayedRequestContinueLoading, nil); err != nil {
					t.Errorf("DelayedRequest: %v", err)
				}
			}()
			return urlsession.DelayedRequestCancel, nil // ignored: decided later
		}
		task.Later() // e.bin: never decided in this process
		return urlsession.DelayedRequestCancel, nil
	}
	s, err := urlsession.New(urlsession.BackgroundConfiguration("delayed"), dr)
	if err != nil {
		t.Fatal(err)
	}
	waitClosed(t, dr.done, "DidFinishEventsForBackgroundSession")
	begin := time.Now().Add(300 * time.Millisecond)
	tasks := map[string]*urlsession.DownloadTask{}
	for _, name := range []string{"a.bin", "c.bin", "d.bin", "e.bin", "f.bin"} {
		req, _ := http.NewRequest("GET", o.URL+"/file/"+name, nil)
		dt := s.DownloadTask(req)
		dt.SetEarliestBeginDate(begin)
		dt.Resume()
		tasks[name] = dt
	}
	plain, _ := http.NewRequest("GET", o.URL+"/file/p.bin", nil)
	undated := s.DownloadTask(plain) // no date: not asked
	undated.Resume()
	for _, name := range []string{"a.bin", "c.bin", "d.bin", "f.bin"} {
		waitClosed(t, tasks[name].Done(), "completion of "+name)
	}
	waitClosed(t, undated.Done(), "completion of the task without a date")
	if time.Now().Before(begin) {
		t.Errorf("tasks completed before their earliest begin date")
	}
	deferred.Wait()
	lines := dr.recorded()
	for _, want := range []string{
		fmt.Sprintf("finish a.bin %d %s", bgSize, sha(bgBody("b.bin", bgSize))),
		"complete a.bin 0 200 resume=false",
		"complete c.bin -999 0 resume=false",
		"complete f.bin -999 0 resume=false",
		fmt.Sprintf("finish d.bin %d %s", bgSize, sha(bgBody("d.bin", bgSize))),
		"complete d.bin 0 200 resume=false",
		"complete p.bin 0 200 resume=false",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("callbacks %q lack %q", lines, want)
		}
	}
	if got := tasks["a.bin"].CurrentRequest().URL.Path; got != "/file/b.bin" {
		t.Errorf("current request of the task given a new request: %s", got)
	}
	close(dr.asked)
	var asked []string
	for p := range dr.asked {
		asked = append(asked, p)
	}
	if slices.Sort(asked); !slices.Equal(asked, []string{"/file/a.bin", "/file/c.bin", "/file/d.bin", "/file/e.bin", "/file/f.bin"}) {
		t.Errorf("asked about %q, want the five dated tasks once each", asked)
	}
	if got := tasks["f.bin"].CurrentRequest().URL.Scheme; got != "http" {
		t.Errorf("current request of the task whose new request was refused: %s", got)
	}
	jobs := d.waitJobs(t, "delayed", func(jobs []api.Job) bool {
		return slices.ContainsFunc(jobs, func(j api.Job) bool { return j.Asking })
	})
	for _, j := range jobs {
		if !j.State.Final() && (!j.Asking || j.State != api.Queued) {
			t.Errorf("job %+v: want e.bin's queued, waiting for its answer", j)
		}
	}

	// The open question goes to the next process of the session.
	s.FinishTasksAndInvalidate()
	waitClosed(t, dr.gone, "DidBecomeInvalidWithError")
	d.waitDetached(t, "delayed")
	dr2 := &delayedRecorder{bgRecorder: newRecorder(nil, ""), asked: make(chan string, 10)}
	dr2.answer = func(*urlsession.Task, *http.Request) (urlsession.DelayedRequestDisposition, *http.Request) {
		return urlsession.DelayedRequestContinueLoading, nil
	}
	s2, err := urlsession.New(urlsession.BackgroundConfiguration("delayed"), dr2)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s2.FinishTasksAndInvalidate(); <-s2.Invalidated() }()
	select {
	case p := <-dr2.asked:
		if p != "/file/e.bin" {
			t.Errorf("the next process was asked about %s", p)
		}
	case <-time.After(time.Minute):
		t.Fatal("the next process was not asked in a minute")
	}
	deadline := time.Now().Add(time.Minute)
	for !slices.Contains(dr2.recorded(), "complete e.bin 0 200 resume=false") {
		if time.Now().After(deadline) {
			t.Fatalf("e.bin did not complete in a minute: %q", dr2.recorded())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBackgroundTasksListsTheDaemonsJobs(t *testing.T) {
	d := startBackgroundDaemon(t)
	o := newBackgroundOrigin(t, true)
	rec := newRecorder(nil, "")
	s, err := urlsession.New(urlsession.BackgroundConfiguration("list"), rec)
	if err != nil {
		t.Fatal(err)
	}
	waitClosed(t, rec.done, "DidFinishEventsForBackgroundSession")
	req, _ := http.NewRequest("GET", o.URL+"/file/p.bin", nil)
	for range 2 { // tasks that never reach the daemon take identifiers 1 and 2
		s.DownloadTask(req).Cancel()
	}
	dt := s.DownloadTask(req)
	if id := dt.TaskIdentifier(); id != 3 {
		t.Fatalf("third task's identifier %d", id)
	}
	dt.SetTaskDescription("episode 42 ☂")
	dt.Resume()
	dt.SetTaskDescription("changed after Resume: this task's only")
	dt.Suspend()
	if got := dt.State(); got != urlsession.TaskSuspended {
		t.Errorf("suspended task %v", got)
	}
	jobs := d.waitJobs(t, "list", func(jobs []api.Job) bool { return len(jobs) == 1 && jobs[0].State == api.Paused })
	if got := jobs[0].Description; got != "episode 42 ☂" {
		t.Errorf("job description %q", got)
	}
	if got := dt.TaskDescription(); got != "changed after Resume: this task's only" {
		t.Errorf("TaskDescription %q", got)
	}
	s.FinishTasksAndInvalidate()
	waitClosed(t, rec.gone, "DidBecomeInvalidWithError")
	d.waitDetached(t, "list")

	s2, _ := newBackground(t, "list")
	set := s2.Tasks()
	if len(set.Download) != 1 || len(set.Data)+len(set.Upload) != 0 {
		t.Fatalf("Tasks %+v, want one download", set)
	}
	t2 := set.Download[0]
	if t2.State() != urlsession.TaskSuspended || t2.OriginalRequest().URL.String() != req.URL.String() {
		t.Errorf("reattached task %v for %v", t2.State(), t2.OriginalRequest().URL)
	}
	if got := t2.TaskDescription(); got != "episode 42 ☂" {
		t.Errorf("reattached task's description %q, want the one it was resumed with", got)
	}
	// The task identifier too (Apple keeps it across launches), and the
	// session's next task comes after it.
	if id := t2.TaskIdentifier(); id != 3 {
		t.Errorf("reattached task's identifier %d, want 3", id)
	}
	if id := s2.DownloadTask(req).TaskIdentifier(); id != 4 {
		t.Errorf("next task's identifier %d, want 4", id)
	}
	t2.Resume()
	d.waitJobs(t, "list", func(jobs []api.Job) bool {
		return len(jobs) == 1 && (jobs[0].State == api.Running || jobs[0].State == api.Queued)
	})
	o.open()
	waitClosed(t, t2.Done(), "completion of the reattached task")
	if err := t2.Err(); err != nil || t2.Response() == nil || t2.Response().StatusCode != 200 || t2.CountOfBytesReceived() != bgSize {
		t.Errorf("reattached task ended with %v, response %v, %d bytes", err, t2.Response(), t2.CountOfBytesReceived())
	}
}

func TestBackgroundRefusals(t *testing.T) {
	startBackgroundDaemon(t)
	cfg := urlsession.BackgroundConfiguration("refusals")
	if _, err := urlsession.New(cfg, nil); err == nil || !strings.Contains(err.Error(), "requires a delegate") {
		t.Errorf("New without a delegate: %v", err)
	}
	for _, id := range []string{"", "bad\nid", strings.Repeat("x", 257)} {
		if _, err := urlsession.New(urlsession.BackgroundConfiguration(id), newRecorder(nil, "")); err == nil {
			t.Errorf("New with identifier %q succeeded", id)
		}
	}
	withProto := urlsession.BackgroundConfiguration("refusals")
	withProto.Protocols = []urlsession.Protocol{nil}
	if _, err := urlsession.New(withProto, newRecorder(nil, "")); err == nil || !strings.Contains(err.Error(), "Protocols") {
		t.Errorf("New with custom protocols: %v", err)
	}
	badContainer := urlsession.BackgroundConfiguration("refusals")
	badContainer.SharedContainerIdentifier = "../x"
	if _, err := urlsession.New(badContainer, newRecorder(nil, "")); err == nil {
		t.Error("New with SharedContainerIdentifier ../x succeeded")
	}

	s, rec := newBackground(t, "refusals")
	req := func(u string) *http.Request {
		r, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	u := "http://127.0.0.1:1/file"
	noHandler := func([]byte, *http.Response, error) {}
	refused := map[string]*urlsession.Task{
		"DataTask":                       s.DataTask(req(u)).Task,
		"DataTaskWithCompletion":         s.DataTaskWithCompletion(req(u), noHandler).Task,
		"UploadTask":                     s.UploadTask(req(u), []byte("x")).Task,
		"UploadTaskWithStreamedRequest":  s.UploadTaskWithStreamedRequest(req(u)).Task,
		"UploadTaskFromFileWithComplete": s.UploadTaskFromFileWithCompletion(req(u), "/etc/hostname", noHandler).Task,
		"DownloadTaskWithCompletion":     s.DownloadTaskWithCompletion(req(u), func(string, *http.Response, error) {}).Task,
		"StreamTask":                     s.StreamTask("127.0.0.1", 1).Task,
		"UploadTaskWithResumeDataWithCo": s.UploadTaskWithResumeDataWithCompletion([]byte("x"), noHandler).Task,
	}
	for name, task := range refused {
		err := task.Err()
		if task.State() != urlsession.TaskCompleted || !errors.Is(err, urlsession.ErrNotInBackground) || urlsession.CodeOf(err) != urlsession.ErrUnknown {
			t.Errorf("%s: %v with %v, want completed with ErrNotInBackground", name, task.State(), err)
		}
	}
	garbage := s.UploadTaskWithResumeData([]byte("x"))
	waitClosed(t, garbage.Done(), "completion of an upload from bad resume data")
	if err := garbage.Err(); !errors.Is(err, urlsession.ErrInvalidUploadResumeData) || urlsession.CodeOf(err) != urlsession.ErrUnknown {
		t.Errorf("upload from bad resume data: %v, want ErrInvalidUploadResumeData", err)
	}
	ctx := context.Background()
	if _, _, err := s.Data(ctx, req(u)); !errors.Is(err, urlsession.ErrNotInBackground) {
		t.Errorf("Data: %v", err)
	}
	if _, _, err := s.Download(ctx, req(u)); !errors.Is(err, urlsession.ErrNotInBackground) {
		t.Errorf("Download: %v", err)
	}
	if _, _, err := s.Bytes(ctx, req(u)); !errors.Is(err, urlsession.ErrNotInBackground) {
		t.Errorf("Bytes: %v", err)
	}
	if _, err := s.Client().Get(u); !errors.Is(err, urlsession.ErrNotInBackground) {
		t.Errorf("Client().Get: %v", err)
	}

	// Refused when resumed, through DidCompleteWithError: other schemes
	// and missing files.
	ftp := s.DownloadTask(req("ftp://127.0.0.1/file"))
	missing := s.UploadTaskFromFile(req(u), filepath.Join(t.TempDir(), "missing"))
	dir := s.UploadTaskFromFile(req(u), t.TempDir())
	long := s.DownloadTask(req(u + "/long"))
	long.SetTaskDescription(strings.Repeat("d", 64<<10+1))
	for _, task := range []*urlsession.Task{ftp.Task, missing.Task, dir.Task, long.Task} {
		task.Resume()
		waitClosed(t, task.Done(), "completion of a refused task")
	}
	for task, code := range map[*urlsession.Task]urlsession.Code{ftp.Task: urlsession.ErrUnsupportedURL,
		missing.Task: urlsession.ErrFileDoesNotExist, dir.Task: urlsession.ErrFileIsDirectory, long.Task: urlsession.ErrUnknown} {
		if got := urlsession.CodeOf(task.Err()); got != code {
			t.Errorf("%s: %v, want code %d", task.OriginalRequest().URL, task.Err(), code)
		}
	}
	if err := long.Err(); err == nil || !strings.Contains(err.Error(), "description") {
		t.Errorf("a description over 64 KiB: %v, want an error that says so", err)
	}
	if n := len(rec.recorded()); n != 6 { // finished, and five completions
		t.Errorf("callbacks %q", rec.recorded())
	}

	// A download needs someone to hand the file to.
	done := make(chan struct{})
	other, err := urlsession.New(urlsession.BackgroundConfiguration("refusals-2"), eventsOnly(done))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { other.FinishTasksAndInvalidate(); <-other.Invalidated() }()
	waitClosed(t, done, "DidFinishEventsForBackgroundSession")
	orphan := other.DownloadTask(req(u))
	orphan.Resume()
	waitClosed(t, orphan.Done(), "completion of a download without DidFinishDownloadingTo")
	if err := orphan.Err(); !errors.Is(err, urlsession.ErrNoDownloadDelegate) {
		t.Errorf("download without DidFinishDownloadingTo: %v, want ErrNoDownloadDelegate", err)
	}
}

// eventsOnly is a delegate with DidFinishEventsForBackgroundSession alone.
type eventsOnly chan struct{}

func (e eventsOnly) DidFinishEventsForBackgroundSession(*urlsession.Session) { close(e) }

func TestBackgroundJobCarriesHints(t *testing.T) {
	d := startBackgroundDaemon(t)
	cfg := urlsession.BackgroundConfiguration("hints")
	cfg.IsDiscretionary = true
	cfg.DisallowExpensiveNetworkAccess = true
	cfg.SharedContainerIdentifier = "group.example"
	cfg.HTTPAdditionalHeaders = http.Header{"X-App": {"1"}}
	cfg.NetworkServiceType = urlsession.NetworkServiceBackground
	rec := newRecorder(nil, "")
	s, err := urlsession.New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	waitClosed(t, rec.done, "DidFinishEventsForBackgroundSession")
	req, _ := http.NewRequest("GET", "http://127.0.0.1:1/file/h.bin", nil)
	dt := s.DownloadTask(req)
	begin := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	dt.SetEarliestBeginDate(begin)
	dt.SetCountOfBytesClientExpectsToReceive(12345)
	dt.SetPriority(urlsession.LowPriority)
	if got := dt.EarliestBeginDate(); !got.Equal(begin) {
		t.Errorf("EarliestBeginDate %v, want %v", got, begin)
	}
	if got := dt.CountOfBytesClientExpectsToReceive(); got != 12345 {
		t.Errorf("CountOfBytesClientExpectsToReceive %d", got)
	}
	dt.Resume()
	jobs := d.waitJobs(t, "hints", func(jobs []api.Job) bool { return len(jobs) == 1 })
	j := jobs[0]
	container := filepath.Join(os.Getenv("XDG_DATA_HOME"), "urlsession", "containers", "group.example")
	if j.State != api.Queued || !j.EarliestBegin.Equal(begin) || !j.Discretionary || j.BytesExpected != 12345 ||
		!j.DisallowExpensive || j.DisallowCellular || j.ServiceType != int(urlsession.NetworkServiceBackground) ||
		j.Priority != -50 || filepath.Dir(j.File) != container || j.Request.Header.Get("X-App") != "1" {
		t.Errorf("job %+v: want queued until %v, discretionary, 12345 bytes expected, service type background, priority -50, file in %s, X-App", j, begin, container)
	}
	// A request's own service type goes with its job.
	video := s.DownloadTask(urlsession.WithOptions(req, urlsession.RequestOptions{NetworkServiceType: urlsession.NetworkServiceVideo}))
	video.Resume()
	jobs = d.waitJobs(t, "hints", func(jobs []api.Job) bool { return len(jobs) == 2 })
	types := map[int]int{} // by task identifier
	for _, j := range jobs {
		types[j.TaskIdentifier] = j.ServiceType
	}
	if got, ok := types[video.TaskIdentifier()]; !ok || got != int(urlsession.NetworkServiceVideo) {
		t.Errorf("job of a video request: service type %d (found %t), want %d", got, ok, urlsession.NetworkServiceVideo)
	}
	if got := dt.CountOfBytesExpectedToReceive(); got != 12345 {
		t.Errorf("CountOfBytesExpectedToReceive %d, want the job's 12345", got)
	}
	s.InvalidateAndCancel()
	waitClosed(t, rec.gone, "DidBecomeInvalidWithError")
	if err := dt.Err(); !errors.Is(err, urlsession.ErrCancelled) {
		t.Errorf("cancelled task: %v", err)
	}
}

func TestBackgroundCancelByProducingResumeData(t *testing.T) {
	d := startBackgroundDaemon(t)
	const name = "r.bin"
	body := bgBody(name, bgSize)
	release := make(chan struct{})
	var ranged atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"r"`)
		if r.Header.Get("Range") != "" {
			ranged.Store(true)
			http.ServeContent(w, r, name, time.Unix(1e9, 0), bytes.NewReader(body))
			return
		}
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		// A piece, then a stall: the download reports its progress
		// while it waits (at most every 100 ms).
		w.Write(body[:200<<10])
		w.(http.Flusher).Flush()
		select { // the rest never comes: the task is cancelled
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	s, rec := newBackground(t, "produce")
	req, _ := http.NewRequest("GET", srv.URL+"/file/"+name, nil)
	dt := s.DownloadTask(req)
	dt.Resume()
	d.waitJobs(t, "produce", func(jobs []api.Job) bool { return len(jobs) == 1 && jobs[0].BytesDone > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data, err := dt.CancelByProducingResumeData(ctx)
	if err != nil || data == nil {
		t.Fatalf("CancelByProducingResumeData: %v, %d bytes of resume data", err, len(data))
	}
	waitClosed(t, dt.Done(), "completion of the cancelled task")
	if err := dt.Err(); !errors.Is(err, urlsession.ErrCancelled) || !bytes.Equal(urlsession.ErrorResumeData(err), data) {
		t.Errorf("cancelled task: %v; want ErrCancelled with the same resume data", err)
	}
	before := len(rec.recorded())
	again := s.DownloadTaskWithResumeData(data)
	again.Resume()
	waitClosed(t, again.Done(), "completion of the resumed task")
	if err := again.Err(); err != nil {
		t.Fatalf("resumed task: %v", err)
	}
	// DidWriteData of the task from resume data counts from the bytes
	// the partial file held, as in process.
	rd, err := resume.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	after := rec.recorded()[before:]
	checkCountsFrom(t, after, "progress", rd.Offset, bgSize)
	// DidResumeAtOffset, once, before the first DidWriteData.
	var resumed []string
	for _, l := range after {
		if strings.HasPrefix(l, "resumed ") {
			resumed = append(resumed, l)
		} else if strings.HasPrefix(l, "progress ") && len(resumed) == 0 {
			t.Errorf("DidWriteData came before DidResumeAtOffset: %q", after)
			break
		}
	}
	if want := fmt.Sprintf("resumed %s %d %d", name, rd.Offset, bgSize); !slices.Equal(resumed, []string{want}) {
		t.Errorf("DidResumeAtOffset calls %q, want [%q]", resumed, want)
	}
	if !ranged.Load() {
		t.Error("the resumed download did not ask for the rest with a range")
	}
	got := rec.recorded()
	if want := fmt.Sprintf("finish %s %d %s", name, bgSize, sha(body)); !slices.Contains(got, want) {
		t.Errorf("callbacks %q lack %q", got, want)
	}
	if !slices.Contains(got, "complete r.bin -999 0 resume=true") {
		t.Errorf("callbacks %q lack the cancellation with resume data", got)
	}
}

func TestBackgroundReattachesAfterDaemonRestart(t *testing.T) {
	d := startBackgroundDaemon(t)
	o := newBackgroundOrigin(t, true)
	s, rec := newBackground(t, "restart")
	req, _ := http.NewRequest("GET", o.URL+"/file/z.bin", nil)
	dt := s.DownloadTask(req)
	dt.Resume()
	d.waitJobs(t, "restart", func(jobs []api.Job) bool { return len(jobs) == 1 && jobs[0].State == api.Running })
	d.stop(t) // the attach stream ends; the job is stored as queued
	d.serve(t)
	o.open()
	waitClosed(t, dt.Done(), "completion after the daemon restarted")
	want := []string{"finished", fmt.Sprintf("finish z.bin %d %s", bgSize, sha(bgBody("z.bin", bgSize))), "complete z.bin 0 200 resume=false"}
	got := slices.DeleteFunc(rec.recorded(), func(l string) bool { return strings.HasPrefix(l, "progress ") })
	if !slices.Equal(got, want) {
		t.Errorf("callbacks %q, want %q (besides progress)", got, want)
	}
	if err := dt.Err(); err != nil {
		t.Errorf("task: %v", err)
	}
}

func TestBackgroundLaunchEvents(t *testing.T) {
	d := startBackgroundDaemon(t)
	o := newBackgroundOrigin(t, true)
	cfg := urlsession.BackgroundConfiguration("launch")
	if !cfg.SessionSendsLaunchEvents {
		t.Error("BackgroundConfiguration: SessionSendsLaunchEvents is false, Apple's default is true")
	}
	cfg.LaunchCommand = []string{"/usr/bin/app", "--sync"}
	rec := newRecorder(nil, "")
	s, err := urlsession.New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	waitClosed(t, rec.done, "DidFinishEventsForBackgroundSession")
	req, _ := http.NewRequest("GET", o.URL+"/file/l.bin", nil)
	s.DownloadTask(req).Resume()
	d.waitJobs(t, "launch", func(jobs []api.Job) bool { return len(jobs) == 1 && jobs[0].State == api.Running })
	s.FinishTasksAndInvalidate()
	<-s.Invalidated()
	d.waitDetached(t, "launch")
	o.open()
	select {
	case got := <-d.launched:
		if got != "launch /usr/bin/app --sync" {
			t.Errorf("launched %q", got)
		}
	case <-time.After(time.Minute):
		t.Fatal("the daemon launched nothing in a minute")
	}

	relative := urlsession.BackgroundConfiguration("launch")
	relative.LaunchCommand = []string{"app"}
	if _, err := urlsession.New(relative, rec); err == nil || !strings.Contains(err.Error(), "LaunchCommand") {
		t.Errorf("New with a relative LaunchCommand: %v", err)
	}
}

func TestBackgroundAdoptsJobsOfOtherClients(t *testing.T) {
	startBackgroundDaemon(t)
	o := newBackgroundOrigin(t, false)
	s, rec := newBackground(t, "adopt")
	cl, err := client.Dial(context.Background(), api.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.CreateJob(context.Background(), api.NewJob{Session: "adopt", Kind: api.Download,
		Request: api.Request{Method: "GET", URL: o.URL + "/file/o.bin"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !slices.Contains(rec.recorded(), "complete o.bin 0 200 resume=false") {
		if time.Now().After(deadline) {
			t.Fatalf("no completion of the other client's job in a minute: %q", rec.recorded())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if want := fmt.Sprintf("finish o.bin %d %s", bgSize, sha(bgBody("o.bin", bgSize))); !slices.Contains(rec.recorded(), want) {
		t.Errorf("callbacks %q lack %q", rec.recorded(), want)
	}
	if n := len(s.AllTasks()); n != 0 {
		t.Errorf("%d tasks left", n)
	}
	if n := rec.listed.Load(); n != 0 {
		t.Errorf("%d tasks still in AllTasks during their DidCompleteWithError", n)
	}
}

// Tasks made for the daemon's jobs keep the identifiers of the tasks that
// created them; a duplicate, and a job without one, get new identifiers
// after them.
func TestBackgroundTaskIdentifiersOfFoundJobs(t *testing.T) {
	startBackgroundDaemon(t)
	cl, err := client.Start(context.Background(), client.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	names := map[int]string{}
	for i, id := range []int{7, 0, 3, 3} {
		name := fmt.Sprintf("j%d.bin", i)
		j, err := cl.CreateJob(context.Background(), api.NewJob{Session: "ids", Kind: api.Download, Paused: true,
			TaskIdentifier: id, Request: api.Request{Method: "GET", URL: "http://127.0.0.1:1/file/" + name}})
		if err != nil {
			t.Fatal(err)
		}
		if j.TaskIdentifier != id {
			t.Fatalf("job %+v, want task identifier %d", j, id)
		}
		names[i] = name
	}
	s, _ := newBackground(t, "ids")
	got := map[string]int{}
	for _, task := range s.AllTasks() {
		got[taskName(task)] = task.TaskIdentifier()
	}
	want := map[string]int{names[2]: 3, names[3]: 4, names[0]: 7, names[1]: 8}
	if !maps.Equal(got, want) {
		t.Errorf("identifiers %v, want %v", got, want)
	}
	req, _ := http.NewRequest("GET", "http://127.0.0.1:1/file/new.bin", nil)
	if id := s.DownloadTask(req).TaskIdentifier(); id != 9 {
		t.Errorf("a new task's identifier %d, want 9", id)
	}
}

func TestBackgroundCancelWhileDaemonUnreachable(t *testing.T) {
	d := startBackgroundDaemon(t)
	o := newBackgroundOrigin(t, true)
	s, rec := newBackground(t, "unreachable")
	req, _ := http.NewRequest("GET", o.URL+"/file/u.bin", nil)
	dt := s.DownloadTask(req)
	dt.Resume()
	d.waitJobs(t, "unreachable", func(jobs []api.Job) bool { return len(jobs) == 1 && jobs[0].State == api.Running })
	d.stop(t) // the daemon is gone: nothing answers on its socket
	dt.Cancel()
	waitClosed(t, dt.Done(), "completion of a task cancelled while the daemon was unreachable")
	if err := dt.Err(); !errors.Is(err, urlsession.ErrCancelled) || dt.State() != urlsession.TaskCompleted {
		t.Errorf("task %v with %v, want completed with ErrCancelled", dt.State(), err)
	}
	// The daemon comes back with the job queued; the session attaches
	// again and cancels it there. Its events get no callback and are
	// acknowledged, so that the daemon forgets the job.
	d.serve(t)
	d.waitJobs(t, "unreachable", func(jobs []api.Job) bool { return len(jobs) == 0 })
	want := []string{"finished", "complete u.bin -999 0 resume=false"}
	got := slices.DeleteFunc(rec.recorded(), func(l string) bool { return strings.HasPrefix(l, "progress ") })
	if !slices.Equal(got, want) {
		t.Errorf("callbacks %q, want %q (besides progress)", got, want)
	}
	if n := len(s.AllTasks()); n != 0 {
		t.Errorf("%d tasks after the cancellation", n)
	}
}

// A cancellation that could not reach the daemon outlives the process: the
// next session with the identifier cancels the job, which is not one of
// its tasks and gets no callback.
func TestBackgroundUndeliveredCancelOutlivesTheProcess(t *testing.T) {
	d := startBackgroundDaemon(t)
	o := newBackgroundOrigin(t, true)
	cmd := bgChildCmd("cancel", "BG_ID=orphan", "BG_DOWNLOADS="+o.URL+"/file/c.bin")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var lines []string
	for !slices.Contains(lines, "started 1") && sc.Scan() {
		lines = append(lines, childLines([]byte(sc.Text()))...)
	}
	if !slices.Equal(lines, []string{"ev finished", "started 1"}) {
		t.Fatalf("child: %q", lines)
	}
	d.waitJobs(t, "orphan", func(jobs []api.Job) bool { return len(jobs) == 1 && jobs[0].State == api.Running })
	d.stop(t)
	io.WriteString(stdin, "cancel\n")
	rest, _ := io.ReadAll(stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	got := slices.DeleteFunc(childLines(rest), func(l string) bool { return strings.HasPrefix(l, "ev progress ") })
	if want := []string{"ev complete c.bin -999 0 resume=false", "cancelled -999"}; !slices.Equal(got, want) {
		t.Fatalf("child: %q, want %q", got, want)
	}

	d.serve(t) // the job is queued again
	s, rec := newBackground(t, "orphan")
	d.waitJobs(t, "orphan", func(jobs []api.Job) bool { return len(jobs) == 0 })
	if got := rec.recorded(); !slices.Equal(got, []string{"finished"}) {
		t.Errorf("the next session's callbacks %q, want only finished", got)
	}
	if n := len(s.AllTasks()); n != 0 {
		t.Errorf("the next session has %d tasks", n)
	}
	left, _ := os.ReadDir(filepath.Join(os.Getenv("XDG_DATA_HOME"), "urlsession", "cancels"))
	if len(left) != 0 {
		t.Errorf("cancellations still kept: %v", left)
	}
}

// A background task's http URL of a known HSTS host goes to the daemon as
// https.
func TestBackgroundJobHSTS(t *testing.T) {
	d := startBackgroundDaemon(t)
	cfg := urlsession.BackgroundConfiguration("hsts")
	if cfg.HSTSStorage != urlsession.SharedHSTSStorage() {
		t.Error("a background configuration has not the shared HSTS storage")
	}
	cfg.HSTSStorage = hsts.New()
	cfg.HSTSStorage.Add(hsts.Entry{Host: "hsts.example", Expires: time.Now().Add(time.Hour)})
	rec := newRecorder(nil, "")
	s, err := urlsession.New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer s.InvalidateAndCancel()
	waitClosed(t, rec.done, "DidFinishEventsForBackgroundSession")
	for _, u := range []string{"http://hsts.example:80/a", "http://other.example/b"} {
		req, _ := http.NewRequest("GET", u, nil)
		dt := s.DownloadTask(req)
		dt.SetEarliestBeginDate(time.Now().Add(time.Hour)) // the job waits: nothing is fetched
		dt.Resume()
	}
	jobs := d.waitJobs(t, "hsts", func(jobs []api.Job) bool { return len(jobs) == 2 })
	var urls []string
	for _, j := range jobs {
		urls = append(urls, j.Request.URL)
	}
	slices.Sort(urls)
	if want := []string{"http://other.example/b", "https://hsts.example/a"}; !slices.Equal(urls, want) {
		t.Errorf("job URLs %v, want %v", urls, want)
	}
}

// TestBackgroundInvalidateWhileRetrying: InvalidateAndCancel of tasks
// whose jobs run and fail (a refused connection, retried later) ends
// every task and the session. A Cancel that reached the daemon between a
// run's return and the recording of its failure used to be lost, the
// job then waiting for its retry and the task for its completion; the
// race is narrow, hence several sessions in a row.
func TestBackgroundInvalidateWhileRetrying(t *testing.T) {
	startBackgroundDaemon(t)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:1/file/h.bin", nil)
	for i := range 10 {
		cfg := urlsession.BackgroundConfiguration("retrying-" + strconv.Itoa(i))
		rec := newRecorder(nil, "")
		s, err := urlsession.New(cfg, rec)
		if err != nil {
			t.Fatal(err)
		}
		waitClosed(t, rec.done, "DidFinishEventsForBackgroundSession")
		tasks := []*urlsession.DownloadTask{s.DownloadTask(req), s.DownloadTask(req), s.DownloadTask(req)}
		for _, dt := range tasks {
			dt.Resume()
		}
		s.InvalidateAndCancel()
		waitClosed(t, rec.gone, "DidBecomeInvalidWithError")
		for _, dt := range tasks {
			if err := dt.Err(); !errors.Is(err, urlsession.ErrCancelled) {
				t.Fatalf("session %d: a task ended with %v", i, err)
			}
		}
	}
}
