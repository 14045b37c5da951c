//go:build unix

package runner

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveWriteback tells whether startRange does anything.
const haveWriteback = true

// startRange asks the kernel to start writing the file's bytes in
// [off, off+n) to disk, without waiting for them (sync_file_range with
// SYNC_FILE_RANGE_WRITE). It may block while the device's queue is full.
// Errors are ignored: it is only a hint.
func startRange(f *os.File, off, n int64) {
	if n > 0 {
		_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
	}
}
