package client

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFindDaemon(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, DaemonName)
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv(DaemonEnv, exe)
	if p, err := FindDaemon(); err != nil || p != exe {
		t.Fatalf("env path: %s %v", p, err)
	}
	t.Setenv(DaemonEnv, DaemonName)
	t.Setenv("PATH", dir)
	if p, err := FindDaemon(); err != nil || p != exe {
		t.Fatalf("env name on PATH: %s %v", p, err)
	}
	t.Setenv(DaemonEnv, "")
	if p, err := FindDaemon(); err != nil || p != exe {
		t.Fatalf("PATH: %s %v", p, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := FindDaemon(); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("nowhere: %v", err)
	}
	t.Setenv(DaemonEnv, filepath.Join(dir, "missing"))
	if _, err := FindDaemon(); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("bad env: %v", err)
	}
	os.Chmod(exe, 0o600)
	t.Setenv(DaemonEnv, exe)
	if _, err := FindDaemon(); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("not executable: %v", err)
	}
}
