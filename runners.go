package urlsession

import (
	"context"
	"sync"
	"time"
)

// runnerLinger is how long a task goroutine with nothing to do waits for
// the session's next task once the session has none left.
const runnerLinger = time.Second

// runners keeps the goroutines that load tasks for reuse: a goroutine whose
// task completed waits for the session's next task instead of ending, as
// long as the session has tasks that have not completed and for
// runnerLinger after that. Reusing one saves starting a goroutine and
// growing its stack again for every task, which matters most to a caller
// that runs one task after another.
type runners struct {
	keep func() bool // read with mu held; must not block

	mu     sync.Mutex
	idle   []chan runJob // one per waiting goroutine
	timer  *time.Timer   // ends the waiting goroutines; armed while they linger
	armed  bool
	since  time.Time // when the session last ran out of tasks
	closed bool      // the session is invalidated: no goroutine waits
}

// runJob hands a task and the context it runs under to a waiting
// goroutine; it lives only in that handoff.
type runJob struct {
	t   *Task
	ctx context.Context
}

// start runs t on a waiting goroutine, or on a new one.
func (r *runners) start(ctx context.Context, t *Task) {
	r.mu.Lock()
	if n := len(r.idle); n > 0 {
		ch := r.idle[n-1]
		r.idle = r.idle[:n-1]
		r.mu.Unlock()
		ch <- runJob{t, ctx}
		return
	}
	r.mu.Unlock()
	go r.loop(runJob{t, ctx})
}

func (r *runners) loop(job runJob) {
	ch := make(chan runJob, 1)
	for {
		job.t.run(job.ctx)
		job = runJob{}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return
		}
		r.idle = append(r.idle, ch)
		r.lingerLocked()
		r.mu.Unlock()
		var ok bool
		if job, ok = <-ch; !ok {
			return
		}
	}
}

// release lets the waiting goroutines end after runnerLinger unless the
// session has tasks again by then.
func (r *runners) release() {
	r.mu.Lock()
	r.lingerLocked()
	r.mu.Unlock()
}

// lingerLocked arms the timer that ends the waiting goroutines, once keep
// no longer holds them.
func (r *runners) lingerLocked() {
	if len(r.idle) == 0 || (r.keep != nil && r.keep()) {
		return
	}
	r.since = time.Now()
	if r.armed {
		return
	}
	r.armed = true
	if r.timer == nil {
		r.timer = time.AfterFunc(runnerLinger, r.expire)
	} else {
		r.timer.Reset(runnerLinger)
	}
}

// expire ends the waiting goroutines once the session has had no task for
// runnerLinger; while it has tasks, the next release arms the timer again.
func (r *runners) expire() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed = false
	if r.closed || (r.keep != nil && r.keep()) {
		return
	}
	if left := runnerLinger - time.Since(r.since); left > 0 {
		r.armed = true
		r.timer.Reset(left)
		return
	}
	r.endLocked()
}

func (r *runners) endLocked() {
	for _, ch := range r.idle {
		close(ch)
	}
	r.idle = nil
}

// close ends the waiting goroutines at once and those still running tasks
// when their task completes: the session is invalidated.
func (r *runners) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
		r.armed = false
	}
	r.endLocked()
}
