//go:build !unix

package credstore

import (
	"os"
	"sync"
)

// holdFiles is false where an open file may block renaming over it
// (Windows); change detection then relies on identity, size and mtime.
const holdFiles = false

// pathLocks serialises Stores of one process that share a directory.
var pathLocks sync.Map // lock path -> *sync.Mutex

// lockFile serialises writers within this process only: there is no
// cross-process lock on this platform, so only one process at a time may
// use a credentials directory here.
func lockFile(path string) (unlock func(), err error) {
	m, _ := pathLocks.LoadOrStore(path, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock, nil
}

// checkOwner has no portable owner to check on this platform.
func checkOwner(fi os.FileInfo) error { return nil }
