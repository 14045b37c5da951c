//go:build unix

package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrUnsafeDir is returned (wrapped) by PrepareRuntimeDir for a
// directory that another user owns or others may enter.
var ErrUnsafeDir = errors.New("unsafe runtime directory")

// PrepareRuntimeDir makes sure dir exists as a directory, mode 0700,
// owned by the current user. It creates a missing one (and its parents)
// and narrows the mode of an existing one owned by this user; it refuses
// a symbolic link, a non-directory and a directory owned by someone else,
// which in a shared temporary directory may be a trap set by another
// user.
func PrepareRuntimeDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("runtime directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("runtime directory: %w", err)
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("runtime directory: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafeDir, dir)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w: %s: no owner information", ErrUnsafeDir, dir)
	}
	if int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%w: %s is owned by uid %d, not %d", ErrUnsafeDir, dir, st.Uid, os.Getuid())
	}
	if info.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("runtime directory: %w", err)
		}
	}
	return nil
}
