//go:build unix

package main

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// umask returns the process's file mode creation mask, read once: from
// /proc/self/status where the kernel reports it there (Linux 4.7 and
// later), which leaves the mask alone; else by setting it and setting it
// back, so that the first call should come before other goroutines
// create files.
var umask = sync.OnceValue(func() os.FileMode {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return os.FileMode(m) & os.ModePerm
				}
			}
		}
	}
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
