package urlsession

import "sync"

// queue is a session's serial delegate queue: functions run one at a time,
// in the order they were added, on a goroutine of the queue's own (the
// worker). The worker starts with the first function and stays while keep
// reports true (the session has tasks that have not completed), so a busy
// session does not start a goroutine per callback; once keep is false and
// the queue is empty, the worker ends, so an idle session holds none.
type queue struct {
	keep func() bool // read with mu held; must not block

	mu      sync.Mutex
	items   []func()
	head    int
	running bool          // the worker exists
	idle    bool          // the worker waits on wake
	wake    chan struct{} // capacity 1
}

// add schedules f to run after everything added before it.
func (q *queue) add(f func()) {
	q.mu.Lock()
	q.items = append(q.items, f)
	if !q.running {
		q.running = true
		go q.drain()
	} else {
		q.wakeLocked()
	}
	q.mu.Unlock()
}

// poke makes an idle worker check keep again.
func (q *queue) poke() {
	q.mu.Lock()
	q.wakeLocked()
	q.mu.Unlock()
}

func (q *queue) wakeLocked() {
	if q.idle {
		q.idle = false
		q.wake <- struct{}{}
	}
}

func (q *queue) drain() {
	for {
		q.mu.Lock()
		if q.head == len(q.items) {
			q.items, q.head = q.items[:0], 0
			if q.keep != nil && q.keep() {
				if q.wake == nil {
					q.wake = make(chan struct{}, 1)
				}
				q.idle = true
				wake := q.wake
				q.mu.Unlock()
				<-wake
				continue
			}
			q.running = false
			q.mu.Unlock()
			return
		}
		f := q.items[q.head]
		q.items[q.head] = nil
		q.head++
		if q.head >= 256 && q.head*2 >= len(q.items) {
			// Keep a busy queue from growing without bound.
			n := copy(q.items, q.items[q.head:])
			clear(q.items[n:])
			q.items, q.head = q.items[:n], 0
		}
		q.mu.Unlock()
		f()
	}
}
