//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filelock

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// An exclusive lock keeps another open file description from taking one;
// closing the file releases it.
func TestLock(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	a, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := Lock(a, true); err != nil {
		t.Fatal(err)
	}
	b, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := syscall.Flock(int(b.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != syscall.EWOULDBLOCK {
		t.Fatalf("a shared lock beside the exclusive one: %v, want EWOULDBLOCK", err)
	}
	a.Close()
	if err := Lock(b, false); err != nil {
		t.Fatalf("after the close: %v", err)
	}
}
