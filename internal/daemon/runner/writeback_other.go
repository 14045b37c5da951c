//go:build unix && !linux

package runner

import "os"

// haveWriteback tells whether startRange does anything: not where
// sync_file_range is missing (the sync at completion writes everything).
const haveWriteback = false

func startRange(f *os.File, off, n int64) {}
