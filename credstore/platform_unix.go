//go:build unix

package credstore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// holdFiles keeps the last-read credentials file open, pinning its inode so
// that a replaced file always has a different identity.
const holdFiles = true

// lockFile takes an exclusive flock(2) on path (created 0600 if missing) and
// returns the function that releases it. flock locks belong to the open file
// description, so every call opens the file afresh: two Stores in one process
// exclude each other as two processes do.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// checkOwner refuses a directory owned by another user.
func checkOwner(fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("owned by uid %d, not by the current user (uid %d)", st.Uid, uid)
	}
	return nil
}
