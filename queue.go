package urlsession

import "sync"

// queue is a session's serial delegate queue: functions run one at a time,
// in the order they were added. They run on the queue's own goroutine (the
// worker) or, through runHere, on one of the session's own task goroutines
// when nothing else is running them. The worker starts with the first
// function and stays while keep reports true (the session has tasks that
// have not completed), so a busy session does not start a goroutine per
// callback; once keep is false and the queue is empty, the worker ends, so
// an idle session holds none.
type queue struct {
	keep func() bool // read with mu held; must not block

	mu      sync.Mutex
	items   []func()
	spare   []func()      // an empty slice for items, kept between batches
	busy    bool          // a goroutine is running the queue's functions
	running bool          // the worker exists
	idle    bool          // the worker waits on wake
	wake    chan struct{} // capacity 1
}

// add schedules f to run after everything added before it.
func (q *queue) add(f func()) {
	q.mu.Lock()
	q.items = append(q.items, f)
	q.settleLocked()
	q.mu.Unlock()
}

// push queues f without starting anything; kick or runHere must follow.
func (q *queue) push(f func()) {
	q.mu.Lock()
	q.items = append(q.items, f)
	q.mu.Unlock()
}

// kick gets pending functions running, or lets an idle worker end.
func (q *queue) kick() {
	q.mu.Lock()
	q.settleLocked()
	q.mu.Unlock()
}

// runHere runs the pending functions on the calling goroutine unless
// another goroutine is running them already. Only the session's own
// goroutines may call it: callbacks never run on a caller's goroutine.
func (q *queue) runHere() {
	q.mu.Lock()
	if q.busy {
		q.mu.Unlock()
		return
	}
	q.busy = true
	q.mu.Unlock()
	q.runPending()
	q.mu.Lock()
	q.busy = false
	q.settleLocked()
	q.mu.Unlock()
}

// settleLocked hands pending functions to the worker (waking or starting
// it) unless they are being run already, and wakes an idle worker that
// keep no longer wants, so it ends.
func (q *queue) settleLocked() {
	if q.busy {
		return
	}
	pending := len(q.items) > 0
	switch {
	case pending && !q.running:
		q.running, q.busy = true, true
		go q.work()
	case q.idle && (pending || q.keep == nil || !q.keep()):
		q.idle, q.busy = false, true
		q.wake <- struct{}{}
	}
}

// runPending runs queued functions until none is left; the caller holds
// busy. It takes them a batch at a time: everything queued so far.
func (q *queue) runPending() {
	var done []func()
	for {
		q.mu.Lock()
		if done != nil {
			q.spare = done
		}
		batch := q.items
		if len(batch) == 0 {
			q.mu.Unlock()
			return
		}
		q.items, q.spare = q.spare, nil
		q.mu.Unlock()
		for i, f := range batch {
			batch[i] = nil
			f()
		}
		done = batch[:0]
	}
}

// work is the worker's loop. It is started, and woken, holding busy.
func (q *queue) work() {
	for {
		q.runPending()
		q.mu.Lock()
		if len(q.items) > 0 {
			q.mu.Unlock() // added after runPending looked
			continue
		}
		q.busy = false
		if q.keep == nil || !q.keep() {
			q.running = false
			q.mu.Unlock()
			return
		}
		if q.wake == nil {
			q.wake = make(chan struct{}, 1)
		}
		q.idle = true
		wake := q.wake
		q.mu.Unlock()
		<-wake // whoever wakes the worker sets busy for it
	}
}
