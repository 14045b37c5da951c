package hsts

import (
	"os"

	"github.com/urlsession-go/urlsession/internal/filelock"
)

// lockPath takes an exclusive advisory lock on the file at path (made,
// owner-only, if need be), waiting for it; the returned function releases
// it.
func lockPath(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := filelock.Lock(f, true); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
