//go:build unix

package runner

import "os"

// writeback has the kernel write a growing partial file's bytes to disk
// as they arrive, from a goroutine of its own: the sync when the download
// completes then has little left to do, and no checkpoint waits for the
// disk (starting writeback blocks while the device's queue is full).
type writeback struct {
	upto chan int64 // the length to write up to; a newer one replaces one not taken yet
}

// startWriteback starts the writeback of the file at path, which the
// caller keeps growing; stop ends it. It returns nil where writeback
// cannot be started (see haveWriteback) or the file cannot be opened; a
// nil *writeback does nothing.
func startWriteback(path string) *writeback {
	if !haveWriteback {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	w := &writeback{upto: make(chan int64, 1)}
	go func() {
		defer f.Close()
		var done int64
		for n := range w.upto {
			if n > done {
				startRange(f, done, n-done)
				done = n
			}
		}
	}()
	return w
}

// to asks for the file's bytes before n to be written. It never waits;
// only one goroutine may call it.
func (w *writeback) to(n int64) {
	if w == nil {
		return
	}
	for {
		select {
		case w.upto <- n:
			return
		default:
		}
		select {
		case <-w.upto: // superseded by n
		default:
		}
	}
}

// stop ends the writeback once the range it is starting (if any) is
// started; it does not wait for that.
func (w *writeback) stop() {
	if w != nil {
		close(w.upto)
	}
}
