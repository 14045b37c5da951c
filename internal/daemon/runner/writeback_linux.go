package runner

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing the file's bytes in
// [off, off+n) to disk, without waiting (sync_file_range with
// SYNC_FILE_RANGE_WRITE), so that the sync when the download completes
// has little left to do. Errors are ignored: it is only a hint.
func startWriteback(f *os.File, off, n int64) {
	if n > 0 {
		_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
	}
}
