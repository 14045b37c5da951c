package urlsession

import "sync"

// queue is a session's serial delegate queue: functions run one at a time,
// in the order they were added, on a goroutine of the queue's own. The
// goroutine exists only while there is work, so an idle session holds none.
type queue struct {
	mu      sync.Mutex
	items   []func()
	head    int
	running bool
}

// add schedules f to run after everything added before it.
func (q *queue) add(f func()) {
	q.mu.Lock()
	q.items = append(q.items, f)
	if !q.running {
		q.running = true
		go q.drain()
	}
	q.mu.Unlock()
}

func (q *queue) drain() {
	for {
		q.mu.Lock()
		if q.head == len(q.items) {
			q.items, q.head, q.running = q.items[:0], 0, false
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
