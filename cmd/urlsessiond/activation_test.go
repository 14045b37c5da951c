//go:build unix

package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/client"
)

// helperEnv makes the test binary run the daemon (see TestMain). With
// helperOwnPID set it also sets LISTEN_PID to its own process ID first, as
// systemd does between fork and exec.
const (
	helperEnv    = "URLSESSIOND_TEST_DAEMON"
	helperOwnPID = "URLSESSIOND_TEST_OWN_PID"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		if os.Getenv(helperOwnPID) == "1" {
			os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
		}
		os.Exit(run(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

// activationRig is a private home for a daemon run as the test binary.
type activationRig struct {
	t   *testing.T
	dir string
	env []string
}

func newActivationRig(t *testing.T) *activationRig {
	dir, err := os.MkdirTemp("", "act") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "XDG_") || strings.HasPrefix(k, "LISTEN_") || k == "HOME" || k == "TMPDIR" {
			continue
		}
		env = append(env, kv)
	}
	for _, sub := range []string{"run", "data", "home"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	env = append(env, helperEnv+"=1", "XDG_RUNTIME_DIR="+dir+"/run", "XDG_DATA_HOME="+dir+"/data", "HOME="+dir+"/home")
	return &activationRig{t: t, dir: dir, env: env}
}

// start runs the daemon with extra environment and file descriptors from
// 3 on; the returned function waits for its exit and returns its status
// and standard error.
func (r *activationRig) start(extraEnv []string, files []*os.File, args ...string) (*exec.Cmd, func() (int, string)) {
	r.t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-log-level", "debug"}, args...)...)
	cmd.Env = append(append([]string(nil), r.env...), extraEnv...)
	cmd.ExtraFiles = files
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	r.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	})
	return cmd, func() (int, string) {
		select {
		case <-exited:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			<-exited
			r.t.Errorf("the daemon did not exit; its log:\n%s", stderr.String())
		}
		return cmd.ProcessState.ExitCode(), stderr.String()
	}
}

// listener makes a listening Unix stream socket at path, as systemd's
// socket unit does, and returns it with a duplicate of its descriptor to
// pass on.
func listener(t *testing.T, path string) (*net.UnixListener, *os.File) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); f.Close() })
	return ln, f
}

// dialWait dials sock until a daemon answers GET /v1/info or the deadline.
func dialWait(t *testing.T, ctx context.Context, sock string) (*client.Client, api.Info) {
	t.Helper()
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		c, err := client.Dial(ctx, sock)
		if err == nil {
			info, err := c.Info(ctx)
			if err == nil {
				return c, info
			}
			c.Close()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no daemon answered on %s: %v", sock, err)
		case <-time.After(delay):
		}
	}
}

// TestSocketActivation passes a listening socket as systemd does: the
// daemon serves on it (and not on a socket of its own), checks peers as
// usual, and leaves the socket file in place at its idle exit, where a
// connection made after the exit waits in the backlog for the next
// daemon.
func TestSocketActivation(t *testing.T) {
	r := newActivationRig(t)
	sock := filepath.Join(r.dir, "activated.sock")
	_, f := listener(t, sock)
	cmd, wait := r.start([]string{"LISTEN_FDS=1", "LISTEN_FDNAMES=urlsessiond.socket", helperOwnPID + "=1"},
		[]*os.File{f}, "-idle-timeout", "300ms")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, info := dialWait(t, ctx, sock)
	if info.PID != cmd.Process.Pid {
		t.Errorf("info says pid %d, the daemon is %d", info.PID, cmd.Process.Pid)
	}
	if info.Socket != sock {
		t.Errorf("info says socket %q, want the activated %q", info.Socket, sock)
	}
	j, err := c.CreateJob(ctx, api.NewJob{Session: "app", Kind: api.Download, Paused: true,
		Request: api.Request{Method: "GET", URL: "http://127.0.0.1:1/x"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Job(ctx, j.ID); err != nil || got.State != api.Paused {
		t.Fatalf("job %s: %+v %v", j.ID, got, err)
	}
	// The daemon made no socket of its own.
	if _, err := os.Lstat(filepath.Join(r.dir, "run", "urlsession", api.SocketName)); err == nil {
		t.Errorf("the activated daemon made its own socket too")
	}
	if _, err := c.Cancel(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	evs, err := c.Events(ctx, "app", 0, 10)
	if err != nil || len(evs.Events) == 0 {
		t.Fatalf("events: %+v %v", evs, err)
	}
	if _, err := c.Ack(ctx, "app", evs.Events[len(evs.Events)-1].Seq); err != nil {
		t.Fatal(err)
	}
	c.Close()

	code, log := wait()
	if code != 0 || !strings.Contains(log, "idle: exiting") {
		t.Fatalf("exit status %d, want 0 after an idle exit; log:\n%s", code, log)
	}
	info2, err := os.Lstat(sock)
	if err != nil || info2.Mode().Type() != os.ModeSocket {
		t.Fatalf("the activated socket is gone after the idle exit: %v", err)
	}
	// systemd keeps the socket: a connection queues until the next start.
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("connecting after the idle exit: %v", err)
	}
	conn.Close()
}

// TestSocketActivationRefused shows the documented outcomes of an
// activation environment that does not fit: variables meant for another
// process are ignored (the daemon makes its own socket); a descriptor 3
// that is absent, a regular file, a datagram socket or a stream socket
// that does not listen, and malformed variables, stop the daemon with
// status 1 and a message naming the problem.
func TestSocketActivationRefused(t *testing.T) {
	t.Run("other pid", func(t *testing.T) {
		r := newActivationRig(t)
		passed := filepath.Join(r.dir, "passed.sock")
		pl, f := listener(t, passed)
		_, wait := r.start([]string{"LISTEN_FDS=1", "LISTEN_PID=1"}, []*os.File{f}, "-idle-timeout", "300ms")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		own := filepath.Join(r.dir, "run", "urlsession", api.SocketName)
		c, info := dialWait(t, ctx, own)
		c.Close()
		if info.Socket != own {
			t.Errorf("info says socket %q, want its own %q", info.Socket, own)
		}
		if code, log := wait(); code != 0 {
			t.Fatalf("exit status %d; log:\n%s", code, log)
		}
		// Nobody accepted on the passed socket.
		pl.SetDeadline(time.Now())
		if conn, err := pl.Accept(); err == nil {
			conn.Close()
			t.Errorf("a connection was waiting on the passed socket")
		}
		if _, err := os.Lstat(own); err == nil {
			t.Errorf("the daemon's own socket was left after its exit")
		}
	})

	regular, err := os.CreateTemp(t.TempDir(), "file")
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	dgram, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "d.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer dgram.Close()
	dgramFile, err := dgram.File()
	if err != nil {
		t.Fatal(err)
	}
	defer dgramFile.Close()
	fds, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	unbound := os.NewFile(uintptr(fds), "unbound")
	defer unbound.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	tcpFile, err := tcp.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer tcpFile.Close()

	for _, tc := range []struct {
		name  string
		env   []string
		files []*os.File
		want  string
	}{
		{"absent fd", []string{"LISTEN_FDS=1", helperOwnPID + "=1"}, nil, "descriptor 3"},
		{"regular file", []string{"LISTEN_FDS=1", helperOwnPID + "=1"}, []*os.File{regular}, "not a socket"},
		{"datagram socket", []string{"LISTEN_FDS=1", helperOwnPID + "=1"}, []*os.File{dgramFile}, "not a stream socket"},
		{"not listening", []string{"LISTEN_FDS=1", helperOwnPID + "=1"}, []*os.File{unbound}, "does not listen"},
		{"tcp socket", []string{"LISTEN_FDS=1", helperOwnPID + "=1"}, []*os.File{tcpFile}, "not a Unix socket"},
		{"two fds", []string{"LISTEN_FDS=2", helperOwnPID + "=1"}, []*os.File{regular, regular}, "want exactly one"},
		{"bad count", []string{"LISTEN_FDS=x", helperOwnPID + "=1"}, nil, "not a count"},
		{"bad pid", []string{"LISTEN_FDS=1", "LISTEN_PID=me"}, nil, "not a process ID"},
		{"no pid", []string{"LISTEN_FDS=1"}, nil, "without LISTEN_PID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newActivationRig(t)
			_, wait := r.start(tc.env, tc.files)
			code, log := wait()
			if code != 1 || !strings.Contains(log, "socket activation") || !strings.Contains(log, tc.want) {
				t.Fatalf("exit status %d, want 1 with %q; log:\n%s", code, tc.want, log)
			}
			if _, err := os.Lstat(filepath.Join(r.dir, "run", "urlsession", api.SocketName)); err == nil {
				t.Errorf("the refused daemon made a socket")
			}
		})
	}
}
