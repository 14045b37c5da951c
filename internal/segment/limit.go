package segment

import (
	"context"
	"io"
	"math"
	"slices"
	"sync"
	"time"
)

// maxQuantum is the most a Limiter grants in one step. Granting in small
// steps, in arrival order, is what makes concurrent users share a Limiter
// fairly: each waits for one quantum at a time and then queues again behind
// the others.
const maxQuantum = 16 << 10

// A Limiter is a token bucket limiting a byte rate. Its bucket holds at most
// a quarter second's worth of its rate (and at least one byte), and grants
// are taken from it only when it holds them, so over any interval of length T
// it grants at most rate*T + rate/4 bytes: it never bursts more than a
// quarter second's worth.
//
// A Limiter may have a parent (a task's Limiter under its session's): every
// grant then takes from the Limiter and all its limited ancestors at the same
// instant, so each level keeps its own bound. Grants are made in quanta of at
// most 16 KiB (and never more than the smallest bucket on the chain), first
// come first served at every level, in order of arrival in the tree: a
// waiter joins a level's queue once every level below it can serve it (so a
// task held back by its own rate does not hold up the other tasks of its
// session) and then takes the place its arrival gives it. Turns at a
// session are per waiting connection, not per task: a task limited below
// its share of a saturated session, whose turns are also smaller (its own
// bucket), can get less than its own rate (at least half of it in the
// tests, against four connections of an unlimited task). Each turn in a queue is one
// quantum, so users asking for at least a quantum at a time (the segments of
// one download reading through [NewReader]) get equal shares of the bytes;
// a user asking for less gets a turn of that size.
//
// A rate of zero or less means unlimited: such a Limiter grants at once
// (still subject to its ancestors). A nil *Limiter is unlimited too.
// Limiters are safe for concurrent use.
type Limiter struct {
	mu     *sync.Mutex // shared by the whole tree, so a grant sees every level at once
	next   *uint64     // the tree's next waiter ticket; guarded by mu
	parent *Limiter

	rate   float64   // bytes per second; <= 0 means unlimited
	tokens float64   // in the bucket at time last
	last   time.Time // time tokens was last brought up to date
	queue  []*waiter // waiting here, in arrival order
}

// waiter is one pending grant of q bytes.
type waiter struct {
	ticket uint64 // order of arrival in the tree: queues are kept in this order
	q      int
	ch     chan struct{} // buffered: a nudge to look again
}

func (w *waiter) wake() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// NewLimiter returns a Limiter of bytesPerSecond (unlimited when zero or
// less) under parent, which may be nil.
func NewLimiter(bytesPerSecond int64, parent *Limiter) *Limiter {
	l := &Limiter{parent: parent, mu: new(sync.Mutex), next: new(uint64), last: time.Now()}
	if parent != nil {
		l.mu, l.next = parent.mu, parent.next
	}
	l.rate = float64(bytesPerSecond)
	l.tokens = l.burst()
	return l
}

// burst is the bucket's capacity: a quarter second's worth, at least 1.
func (l *Limiter) burst() float64 {
	return math.Max(l.rate/4, 1)
}

// Rate returns the current rate in bytes per second; zero or less means
// unlimited.
func (l *Limiter) Rate() int64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(l.rate)
}

// SetRate changes the rate at once; zero or less makes the Limiter
// unlimited. Waiters look again at the new rate.
func (l *Limiter) SetRate(bytesPerSecond int64) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refillLocked(time.Now())
	wasUnlimited := l.rate <= 0
	l.rate = float64(bytesPerSecond)
	switch {
	case l.rate > 0 && wasUnlimited:
		l.tokens = l.burst()
	case l.rate > 0:
		l.tokens = math.Min(l.tokens, l.burst())
	}
	if len(l.queue) > 0 {
		l.queue[0].wake()
	}
}

// refillLocked brings the bucket up to now.
func (l *Limiter) refillLocked(now time.Time) {
	if l.rate > 0 && now.After(l.last) {
		l.tokens = math.Min(l.burst(), l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
}

// quantumLocked is the largest grant the chain from l upwards allows in one
// step, capped at want.
func (l *Limiter) quantumLocked(want int) int {
	q := min(want, maxQuantum)
	for c := l; c != nil; c = c.parent {
		if c.rate > 0 && float64(q) > c.burst() {
			q = int(c.burst())
		}
	}
	return max(q, 1)
}

// limitedLocked reports whether any level of the chain is limited.
func (l *Limiter) limitedLocked() bool {
	for c := l; c != nil; c = c.parent {
		if c.rate > 0 {
			return true
		}
	}
	return false
}

// MaxChunk returns the largest number of bytes worth reading before one
// call of WaitN: the smallest bucket on the chain (at most 256 KiB), or 256
// KiB when nothing on the chain is limited.
func (l *Limiter) MaxChunk() int {
	const most = 256 << 10
	if l == nil {
		return most
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := most
	for x := l; x != nil; x = x.parent {
		if x.rate > 0 && float64(c) > x.burst() {
			c = max(int(x.burst()), 1)
		}
	}
	return c
}

// tryLocked grants w if it is first in line, with tokens enough, at every
// limited level of the chain. Otherwise it queues w at the lowest level that
// holds it up and returns how long to wait before looking again (0: until
// woken, because others are ahead in line).
func (l *Limiter) tryLocked(w *waiter, now time.Time) (granted bool, wait time.Duration) {
	w.q = min(w.q, l.quantumLocked(w.q)) // a rate may have dropped
	for c := l; c != nil; c = c.parent {
		if c.rate <= 0 {
			continue
		}
		if !slices.Contains(c.queue, w) {
			// In order of arrival in the tree, not at this level: a
			// waiter held back below (by its task's own rate) keeps its
			// place here.
			i := len(c.queue)
			for i > 0 && c.queue[i-1].ticket > w.ticket {
				i--
			}
			c.queue = slices.Insert(c.queue, i, w)
		}
		if c.queue[0] != w {
			return false, 0
		}
		c.refillLocked(now)
		if need := float64(w.q) - c.tokens; need > 0 {
			return false, max(time.Duration(math.Ceil(need/c.rate*1e9)), 1)
		}
	}
	for c := l; c != nil; c = c.parent {
		if c.rate > 0 {
			c.tokens -= float64(w.q)
		}
	}
	l.dequeueLocked(w)
	return true, 0
}

// dequeueLocked removes w from every level's queue and wakes the new heads.
func (l *Limiter) dequeueLocked(w *waiter) {
	for c := l; c != nil; c = c.parent {
		if i := slices.Index(c.queue, w); i >= 0 {
			c.queue = slices.Delete(c.queue, i, i+1)
			if i == 0 && len(c.queue) > 0 {
				c.queue[0].wake()
			}
		}
	}
}

// WaitN blocks until n bytes have been granted by l and all its ancestors,
// or ctx is done. It returns nil once all n bytes are granted, else ctx's
// error (part of n may have been granted by then). n <= 0 returns nil at
// once.
func (l *Limiter) WaitN(ctx context.Context, n int) error {
	if n <= 0 || l == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for n > 0 {
		l.mu.Lock()
		if !l.limitedLocked() {
			l.mu.Unlock()
			return nil
		}
		w := &waiter{ticket: *l.next, q: l.quantumLocked(n), ch: make(chan struct{}, 1)}
		*l.next++
		for {
			granted, wait := l.tryLocked(w, time.Now())
			l.mu.Unlock()
			if granted {
				break
			}
			var tc <-chan time.Time
			if wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				tc = timer.C
			}
			select {
			case <-tc:
			case <-w.ch:
			case <-ctx.Done():
				l.mu.Lock()
				l.dequeueLocked(w)
				l.mu.Unlock()
				return ctx.Err()
			}
			if timer != nil {
				timer.Stop()
			}
			l.mu.Lock()
		}
		n -= w.q
	}
	return nil
}

// limitedReader applies a Limiter to reads.
type limitedReader struct {
	ctx context.Context // governs the waits of Read, which has no context of its own
	r   io.Reader
	l   *Limiter
}

// NewReader returns a Reader that reads from r no faster than l allows: each
// Read reads at most [Limiter.MaxChunk] bytes and then waits in l for what it
// read. A wait ended by ctx makes Read return the bytes read together with
// ctx's error. A nil l reads at full speed.
func NewReader(ctx context.Context, r io.Reader, l *Limiter) io.Reader {
	return &limitedReader{ctx: ctx, r: r, l: l}
}

func (lr *limitedReader) Read(p []byte) (int, error) {
	if max := lr.l.MaxChunk(); len(p) > max {
		p = p[:max]
	}
	n, err := lr.r.Read(p)
	if werr := lr.l.WaitN(lr.ctx, n); werr != nil && err == nil {
		err = werr
	}
	return n, err
}

// limitedWriter applies a Limiter to writes.
type limitedWriter struct {
	ctx context.Context // governs the waits of Write, which has no context of its own
	w   io.Writer
	l   *Limiter
}

// NewWriter returns a Writer that writes to w no faster than l allows: it
// waits in l for each piece of at most [Limiter.MaxChunk] bytes before
// writing it. A wait ended by ctx makes Write return what it wrote so far
// with ctx's error. A nil l writes at full speed.
func NewWriter(ctx context.Context, w io.Writer, l *Limiter) io.Writer {
	return &limitedWriter{ctx: ctx, w: w, l: l}
}

func (lw *limitedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := min(len(p), lw.l.MaxChunk())
		if err := lw.l.WaitN(lw.ctx, chunk); err != nil {
			return written, err
		}
		n, err := lw.w.Write(p[:chunk])
		written += n
		if err != nil {
			return written, err
		}
		p = p[chunk:]
	}
	return written, nil
}
