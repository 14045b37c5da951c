//go:build unix

package server

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

// ErrRunning is returned (wrapped) by AcquireLock when another daemon of
// the same user holds the lock.
var ErrRunning = errors.New("another urlsessiond is already running for this user")

// Lock is the single-instance lock: an exclusive flock on
// <runtime dir>/urlsessiond.lock, held for the daemon's life and released
// by the kernel when the process ends, however it ends.
type Lock struct {
	f *os.File
}

// AcquireLock takes the lock in dir (which PrepareRuntimeDir has made
// safe) without waiting, and writes the process ID into the file. When
// another process holds it, the error wraps ErrRunning and names that
// process.
func AcquireLock(dir string) (*Lock, error) {
	p := filepath.Join(dir, api.LockName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		buf := make([]byte, 32)
		n, _ := f.ReadAt(buf, 0)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid := string(bytes.TrimSpace(buf[:n]))
			if _, perr := strconv.Atoi(pid); perr == nil {
				return nil, fmt.Errorf("%w (pid %s, lock %s)", ErrRunning, pid, p)
			}
			return nil, fmt.Errorf("%w (lock %s)", ErrRunning, p)
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	_ = f.Chmod(0o600)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
