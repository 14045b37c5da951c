package urlsession

import (
	"context"
	"sync"
)

// runners keeps the goroutines that load tasks for reuse: a goroutine whose
// task completed waits for the session's next task instead of ending, as
// long as the session has tasks that have not completed. Reusing one saves
// starting a goroutine and growing its stack again for every task.
type runners struct {
	keep func() bool // read with mu held; must not block

	mu   sync.Mutex
	idle []chan runJob // one per waiting goroutine
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
		if r.keep == nil || !r.keep() {
			r.mu.Unlock()
			return
		}
		r.idle = append(r.idle, ch)
		r.mu.Unlock()
		var ok bool
		if job, ok = <-ch; !ok {
			return
		}
	}
}

// release ends the waiting goroutines once keep no longer holds them.
func (r *runners) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keep != nil && r.keep() {
		return
	}
	for _, ch := range r.idle {
		close(ch)
	}
	r.idle = nil
}
