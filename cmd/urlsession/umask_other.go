//go:build !unix

package main

import "os"

// umask returns the file mode creation mask: none where there is none.
func umask() os.FileMode { return 0 }

// sharedFile reports whether the file fi describes has other names (hard
// links): not known here.
func sharedFile(os.FileInfo) bool { return false }
