//go:build unix

package main

import (
	"os"
	"sync"
	"syscall"
)

// umask returns the process's file mode creation mask, read once (setting
// it and setting it back: the first call should come before other
// goroutines create files).
var umask = sync.OnceValue(func() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
})

// sharedFile reports whether the file fi describes has other names (hard
// links) than the one it was looked up by.
func sharedFile(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Nlink) > 1
}
