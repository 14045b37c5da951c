//go:build unix

package server

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCheckPeer(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := CheckPeer(s, os.Getuid())
	if err != nil || p.PID != os.Getpid() || p.UID != os.Getuid() {
		t.Fatalf("own peer: %+v %v", p, err)
	}
	if _, err := CheckPeer(s, os.Getuid()+1); !errors.Is(err, ErrPeer) {
		t.Fatalf("other uid: got %v, want ErrPeer", err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := CheckPeer(a, os.Getuid()); !errors.Is(err, ErrPeer) {
		t.Fatalf("pipe: got %v, want ErrPeer", err)
	}
}

// TestOtherUIDRefused connects as another user (uid 65534) where the
// machine allows it (the tests run as root and python3 exists) and shows
// that the peer check closes the connection without an answer.
func TestOtherUIDRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to act as a second user")
	}
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("needs /usr/bin/python3 as the second user's client")
	}
	dir, err := os.MkdirTemp("", "peer")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	sock := filepath.Join(dir, "s.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	// Only for this test: let the other user reach the socket, so that
	// SO_PEERCRED alone must refuse it.
	os.Chmod(sock, 0o777)
	srv := newHTTPOnly(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() { srv.Shutdown(t.Context()); <-done }()
	script := `import socket,sys
s=socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
d=b""
try:
    s.sendall(b"GET /v1/info HTTP/1.0\r\n\r\n")
    while True:
        b=s.recv(4096)
        if not b: break
        d+=b
except OSError:
    pass
sys.stdout.write(d.decode("latin1"))
`
	run := func(other bool) string {
		cmd := exec.Command(py, "-c", script, sock)
		if other {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		out, err := cmd.Output()
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("the second user cannot run %s: %v", py, err)
		}
		if err != nil {
			t.Fatalf("client (other=%v): %v: %s", other, err, stderrOf(err))
		}
		return string(out)
	}
	if out := run(false); !strings.Contains(out, "200 OK") {
		t.Fatalf("own uid: got %q, want 200", out)
	}
	if out := run(true); out != "" {
		t.Fatalf("other uid: got %q, want the connection closed unanswered", out)
	}
}

func TestPrepareRuntimeDir(t *testing.T) {
	base := t.TempDir()
	d := filepath.Join(base, "a", "urlsession")
	if err := PrepareRuntimeDir(d); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(d); info.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v", info.Mode().Perm())
	}
	os.Chmod(d, 0o755)
	if err := PrepareRuntimeDir(d); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(d); info.Mode().Perm() != 0o700 {
		t.Fatalf("mode not narrowed: %v", info.Mode().Perm())
	}
	link := filepath.Join(base, "link")
	os.Symlink(d, link)
	if err := PrepareRuntimeDir(link); !errors.Is(err, ErrUnsafeDir) {
		t.Fatalf("symlink: %v", err)
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	if err := PrepareRuntimeDir(file); !errors.Is(err, ErrUnsafeDir) {
		t.Fatalf("file: %v", err)
	}
	if os.Getuid() == 0 {
		other := filepath.Join(base, "other")
		os.Mkdir(other, 0o700)
		os.Chown(other, 65534, 65534)
		if err := PrepareRuntimeDir(other); !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Fatalf("another user's directory: %v", err)
		}
	}
}

func TestAcquireLock(t *testing.T) {
	dir := t.TempDir()
	l, err := AcquireLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireLock(dir)
	if !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second lock: %v", err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "urlsessiond.lock")); info.Mode().Perm() != 0o600 {
		t.Fatalf("lock file mode %v", info.Mode().Perm())
	}
	l.Release()
	l2, err := AcquireLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	l2.Release()
}

func TestListen(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Lstat(sock); info.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v", info.Mode().Perm())
	}
	// A stale socket (its daemon died without removing it) is replaced.
	ln.SetUnlinkOnClose(false)
	ln.Close()
	ln, err = Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o600)
	if _, err := Listen(file); err == nil {
		t.Fatal("a regular file was replaced by a socket")
	}
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
