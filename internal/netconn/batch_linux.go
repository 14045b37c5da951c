//go:build linux

package netconn

import (
	"math/bits"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The sizes and times of a batch (see Conn.Expect).
const (
	minBatch   = 32 << 10             // smaller batches are not worth asking for
	maxBatch   = 256 << 10            // larger ones save no more wakes worth having
	batchTime  = time.Millisecond     // a batch is this much of the peer's recent rate
	rateWindow = 2 * time.Millisecond // the shortest span a rate is measured over
)

// batchWait is the longest a read waits for its batch; fixedRate, when
// set, stands for the measured rate (bytes per batchTime). Tests set them.
var (
	batchWait = 5 * time.Millisecond
	fixedRate int64
)

// testHookWait, when set, gets the batch each read that found the socket
// empty waits for.
var testHookWait atomic.Pointer[func(int)]

// batch asks the kernel to wake a reader that waits on an empty socket only
// once a batch of bytes is in (SO_RCVLOWAT), while the reader expects that
// many and the peer sends fast; a timer gives the reader what there is when
// the batch is late.
type batch struct {
	rc     syscall.RawConn
	expect atomic.Int64 // bytes still expected from the peer (Conn.Expect)
	lowat  atomic.Int32 // SO_RCVLOWAT as set here; 0 or 1 is the default
	fell   atomic.Bool  // the timer fired: measure the rate again

	mu      sync.Mutex // orders setting SO_RCVLOWAT; guards waiting
	waiting bool       // a read waits for a batch, with the timer set

	// The reader's own.
	timer  *time.Timer
	armed  bool // the timer is set for the read in progress
	broken bool // SO_RCVLOWAT failed: never batch
	start  time.Time
	total  int64         // bytes read
	markAt time.Duration // since start: where the rate's span begins
	markN  int64         // total at markAt
	rate   int64         // bytes per batchTime over the last span
	room   int64         // the largest batch the receive buffer allows
}

func (b *batch) init(rc syscall.RawConn) {
	b.rc = rc
	b.start = time.Now()
}

// active reports whether reads must go through the batch's checks: bytes
// are expected, or the socket still has a batch size set.
func (b *batch) active() bool { return b.expect.Load() > 0 || b.lowat.Load() > 1 }

func (b *batch) setExpect(n int64) {
	if n < minBatch {
		n = 0 // too few to batch: reads go on as if nothing were expected
	}
	b.expect.Store(n)
	if l := int64(b.lowat.Load()); l > 1 && n < l {
		// A read waiting for more than is now expected gets what there is.
		b.mu.Lock()
		if b.waiting {
			b.rc.Control(func(fd uintptr) { b.setLocked(fd, 1) })
		}
		b.mu.Unlock()
	}
}

func (b *batch) expected() int64 { return max(b.expect.Load(), 0) }

// got counts n bytes read.
func (b *batch) got(n int) {
	b.total += int64(n)
	if b.expect.Load() > 0 {
		b.expect.Add(-int64(n))
	}
}

// wait runs when a read finds the socket fd empty, just before it waits:
// it sets the batch the read waits for, and the timer.
func (b *batch) wait(fd uintptr) {
	want := b.size(fd)
	b.mu.Lock()
	if cur := b.lowat.Load(); cur != int32(want) && (cur > 1 || want > 1) {
		if !b.setLocked(fd, want) {
			b.broken, want = true, 1
		}
	}
	b.waiting = want > 1
	b.mu.Unlock()
	if h := testHookWait.Load(); h != nil {
		(*h)(want)
	}
	if want > 1 {
		if b.timer == nil {
			b.timer = time.AfterFunc(batchWait, b.late)
		} else {
			b.timer.Reset(batchWait)
		}
		b.armed = true
	}
}

// woke runs when a read returns: its wait, if any, is over.
func (b *batch) woke() {
	if !b.armed {
		return
	}
	b.armed = false
	b.mu.Lock()
	b.waiting = false
	b.mu.Unlock()
	b.timer.Stop()
}

// late runs on the timer's goroutine when a read has waited batchWait for
// its batch: the read gets what there is, and batching waits for the rate
// to be measured again.
func (b *batch) late() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.waiting || b.lowat.Load() <= 1 {
		return
	}
	b.fell.Store(true)
	b.rc.Control(func(fd uintptr) { b.setLocked(fd, 1) })
}

// setLocked sets the socket's SO_RCVLOWAT to n; under mu. Lowering it
// wakes a waiting read if the socket holds that much already.
func (b *batch) setLocked(fd uintptr, n int) bool {
	if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n) != nil {
		return false
	}
	b.lowat.Store(int32(n))
	return true
}

// kernelBatches reports whether the kernel wakes a reader waiting on a
// socket whose SO_RCVLOWAT is lowered under the bytes it holds: Linux does
// since 4.20 (tcp_set_rcvlowat checks at once); before, the waiting read
// would wait for the next segment, which at a body's end never comes. It
// says no to a kernel older than 5.0, or whose release it cannot read.
var kernelBatches = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return false
	}
	major, _, _ := strings.Cut(strings.TrimSpace(string(b)), ".")
	n, err := strconv.Atoi(major)
	return err == nil && n >= 5
})

// size returns the batch a read that found the socket empty should wait
// for: 1 (any byte) unless a batch is expected and the peer is fast.
func (b *batch) size(fd uintptr) int {
	if b.broken || !kernelBatches() {
		return 1
	}
	now := time.Since(b.start)
	if b.fell.Swap(false) {
		b.rate, b.markAt, b.markN = 0, now, b.total
		return 1
	}
	span := now - b.markAt
	if span >= rateWindow {
		b.rate = (b.total - b.markN) * int64(batchTime) / int64(span)
		b.markAt, b.markN = now, b.total
	}
	rate := b.rate
	if fixedRate > 0 {
		rate = fixedRate
	}
	if rate >= minBatch && (span >= rateWindow || b.room == 0) {
		// The kernel grows the receive buffer to twice a batch that
		// does not fit in half of it, and then limits the window to the
		// batch: keep to a quarter of it (it grows as the kernel tunes
		// it, and is measured again with the rate).
		if buf, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF); err == nil {
			b.room = int64(buf) / 4
		}
	}
	n := min(rate, b.expect.Load(), b.room, maxBatch)
	if n < minBatch {
		return 1
	}
	return 1 << (bits.Len64(uint64(n)) - 1)
}
