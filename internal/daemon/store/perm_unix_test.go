//go:build unix

package store

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func umask(m int) int { return syscall.Umask(m) }

func TestPermissions(t *testing.T) {
	old := umask(0)
	defer umask(old)
	dir := filepath.Join(t.TempDir(), "x", "daemon")
	s, err := Open(filepath.Join(dir, "jobs.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.PutJob(context.Background(), job("a", "s")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "jobs.sqlite"), filepath.Join(dir, "jobs.sqlite-wal"), filepath.Join(dir, "jobs.sqlite-shm")} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := privateFile
		if info.IsDir() {
			want = privateDir
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, info.Mode().Perm(), want)
		}
	}
}
