package urlsession

import (
	"sync/atomic"
	"time"
)

// Most tasks end long before either of their timeouts, so a task does not
// get a timer of its own when it starts: the session's watch, which ticks
// every watchInterval while some running task has none, gives one to each
// task that has been running for a whole interval. The timer then fires at
// the exact deadline, as it would have from the start: a task waits at most
// two intervals for it, and only tasks whose first deadline is further away
// than lazyTimeoutMin wait at all; the others get their timer at once.
const (
	watchInterval  = time.Second
	lazyTimeoutMin = 3 * watchInterval
)

// watch is a session's timeout watch.
type watch struct {
	waiting atomic.Int32 // running tasks without a timer
	ticking atomic.Bool  // the tick is armed; its owner alone touches timer
	timer   *time.Timer
}

// watchTask counts a running task that waits for its timer and starts
// ticking if needed.
func (s *Session) watchTask() {
	s.watch.waiting.Add(1)
	s.startWatch()
}

func (s *Session) startWatch() {
	if !s.watch.ticking.CompareAndSwap(false, true) {
		return
	}
	if s.watch.timer == nil {
		s.watch.timer = time.AfterFunc(watchInterval, s.onWatch)
	} else {
		s.watch.timer.Reset(watchInterval)
	}
}

// onWatch gives a timer to every task that has been running without one for
// at least an interval, and ticks again while tasks wait.
func (s *Session) onWatch() {
	s.mu.Lock()
	tasks := make([]*Task, 0, len(s.tasks))
	for t := range s.tasks {
		tasks = append(tasks, t)
	}
	s.mu.Unlock()
	now := time.Now()
	for _, t := range tasks {
		t.armIfDue(now)
	}
	s.watch.ticking.Store(false)
	// A task that began to wait after the loop looked at it counted itself
	// before it checked ticking, so it is seen here.
	if s.watch.waiting.Load() > 0 {
		s.startWatch()
	}
}

// armIfDue gives the task its timer if it has waited for one for at least
// an interval.
func (t *Task) armIfDue(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// The task has been running since its resource deadline less the
	// resource time it had left when it started running (or longer, when
	// the deadline was beyond monoNow's scale: then it is armed early).
	mono := monoSince(now)
	if !t.lazy || time.Duration(mono-t.resDeadline)+t.resLeft < watchInterval {
		return
	}
	t.lazy = false
	t.session.watch.waiting.Add(-1)
	idleLeft := t.requestTimeout() - time.Duration(mono-t.lastActivity.Load())
	first := min(idleLeft, time.Duration(t.resDeadline-mono))
	t.timer = time.AfterFunc(max(first, 0), t.onTimer)
}
