//go:build unix

package hsts

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockPath takes an exclusive advisory lock on the file at path (made,
// owner-only, if need be), waiting for it; the returned function releases
// it.
func lockPath(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
