//go:build !unix

package main

import "os"

// umask returns the file mode creation mask: none where there is none.
func umask() os.FileMode { return 0 }
