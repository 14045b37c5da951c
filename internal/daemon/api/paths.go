package api

import (
	"os"
	"path/filepath"
	"strconv"
)

// Names of the files in the runtime directory.
const (
	SocketName = "urlsessiond.sock"
	LockName   = "urlsessiond.lock"
)

// RuntimeDir returns the directory of the daemon's socket and lock file:
// $XDG_RUNTIME_DIR/urlsession when XDG_RUNTIME_DIR is set to an absolute
// path, else os.TempDir()/urlsession-<uid> (which the daemon creates 0700
// and refuses when another user owns it).
func RuntimeDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "urlsession")
	}
	return filepath.Join(os.TempDir(), "urlsession-"+strconv.Itoa(os.Getuid()))
}

// SocketPath returns RuntimeDir()/urlsessiond.sock.
func SocketPath() string { return filepath.Join(RuntimeDir(), SocketName) }
