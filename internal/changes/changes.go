// Package changes counts, per file or directory, the changes the stores of
// this process made to it, so that a store can tell without any I/O that
// another store of the process changed what they share.
package changes

import (
	"sync"
	"sync/atomic"
)

var counts sync.Map // absolute path -> *atomic.Int64

// For returns the process-wide count of changes to the file or directory at
// the absolute path abs; every call with the same path returns the same
// counter.
func For(abs string) *atomic.Int64 {
	c, _ := counts.LoadOrStore(abs, new(atomic.Int64))
	return c.(*atomic.Int64)
}
