package urlsession

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// taskContext is the context a task loads under: its base context (the
// caller's for the context-first calls, else the request's) that the task
// can also cancel, with a cause, as context.WithCancelCause would make. It
// costs less to derive from: net/http derives a context from the request's
// for every request it sends, and a parent made by WithCancelCause keeps
// its children in a map it allocates, while taskContext keeps the one or two
// it gets in place (through the AfterFunc method context's derivation
// uses). It lives inside its Task, so it is not allocated either.
//
// context.Cause reports the cause for it and for contexts derived from it,
// as for one made by WithCancelCause (see causeKey).
type taskContext struct {
	task     *Task // the task the context belongs to (see taskKey)
	base     context.Context
	stopBase func() bool // ends the watch on base; nil if base is never done (mu)

	done   atomic.Pointer[chan struct{}] // made on first use
	status atomic.Int32                  // 0 until cancelled, then an errStatus

	mu     sync.Mutex
	err    error           // Err, when status is statusOther
	cause  error           // set when cancelled
	shadow context.Context // made from cause when context.Cause asks
	afters [2]afterFunc
	more   []afterFunc
	nextID uint64
}

type afterFunc struct {
	id uint64
	f  func()
}

// init makes c a cancellable child of base.
func (c *taskContext) init(base context.Context) {
	c.base = base
	if base.Done() != nil {
		stop := context.AfterFunc(base, func() { c.cancel(base.Err(), context.Cause(base)) })
		c.mu.Lock()
		c.stopBase = stop
		c.mu.Unlock()
		// AfterFunc runs f on a goroutine of its own: a base that is done
		// already must make c done before init returns, so that a task
		// whose context was cancelled before it started sends nothing.
		if err := base.Err(); err != nil {
			c.cancel(err, context.Cause(base))
		}
	}
}

func (c *taskContext) Deadline() (time.Time, bool) { return c.base.Deadline() }

func (c *taskContext) Done() <-chan struct{} {
	if d := c.done.Load(); d != nil {
		return *d
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := c.done.Load(); d != nil {
		return *d
	}
	ch := make(chan struct{})
	if c.status.Load() != 0 {
		close(ch)
	}
	c.done.Store(&ch)
	return ch
}

// Err values, as status holds them.
const (
	statusCanceled int32 = iota + 1
	statusDeadline
	statusOther // err holds it
)

func (c *taskContext) Err() error {
	switch c.status.Load() {
	case 0:
		return nil
	case statusCanceled:
		return context.Canceled
	case statusDeadline:
		return context.DeadlineExceeded
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *taskContext) Value(key any) any {
	if _, ok := key.(taskKey); ok {
		return c.task
	}
	if key == causeKey && causeKey != nil {
		// Asked by context.Cause once c is done, and by the derivation of
		// a child to find a cancelCtx parent, which c is not.
		c.mu.Lock()
		if c.shadow == nil && c.cause != nil {
			sh, cancel := context.WithCancelCause(context.Background())
			cancel(c.cause)
			c.shadow = sh
		}
		sh := c.shadow
		c.mu.Unlock()
		if sh == nil {
			return nil
		}
		return sh.Value(key)
	}
	return c.base.Value(key)
}

// taskKey is the context key under which a task's context, and every
// context derived from it, holds the *Task: the connections net/http dials
// for a request keep its context's values, so a TLS handshake finds the
// task it raises challenges for.
type taskKey struct{}

// taskFrom returns the task ctx belongs to, or nil.
func taskFrom(ctx context.Context) *Task {
	t, _ := ctx.Value(taskKey{}).(*Task)
	return t
}

func (c *taskContext) String() string { return "urlsession task context" }

// AfterFunc arranges for f to run once c is done, as context.AfterFunc
// does but without a goroutine when f runs at cancellation; the returned
// function stops that and reports whether it did. Deriving a context from c
// calls it.
func (c *taskContext) AfterFunc(f func()) func() bool {
	c.mu.Lock()
	if c.status.Load() != 0 {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	c.nextID++
	id := c.nextID
	a := afterFunc{id, f}
	placed := false
	for i := range c.afters {
		if c.afters[i].f == nil {
			c.afters[i] = a
			placed = true
			break
		}
	}
	if !placed {
		c.more = append(c.more, a)
	}
	c.mu.Unlock()
	return func() bool { return c.stopAfter(id) }
}

func (c *taskContext) stopAfter(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.afters {
		if c.afters[i].id == id && c.afters[i].f != nil {
			c.afters[i] = afterFunc{}
			return true
		}
	}
	for i, a := range c.more {
		if a.id == id {
			c.more = append(c.more[:i], c.more[i+1:]...)
			return true
		}
	}
	return false
}

// cancel makes c done with err (as Err reports it) and cause, unless it is
// done already, and runs the functions registered with AfterFunc.
func (c *taskContext) cancel(err, cause error) {
	if cause == nil {
		cause = err
	}
	c.mu.Lock()
	if c.status.Load() != 0 {
		c.mu.Unlock()
		return
	}
	c.cause = cause
	switch err {
	case context.Canceled:
		c.status.Store(statusCanceled)
	case context.DeadlineExceeded:
		c.status.Store(statusDeadline)
	default:
		c.err = err
		c.status.Store(statusOther)
	}
	if d := c.done.Load(); d != nil {
		close(*d)
	}
	fs := c.afters
	c.afters = [2]afterFunc{}
	more := c.more
	c.more = nil
	stop := c.stopBase
	c.mu.Unlock()
	for _, a := range fs {
		if a.f != nil {
			a.f()
		}
	}
	for _, a := range more {
		a.f()
	}
	if stop != nil {
		stop()
	}
}

// causeKey is the key context.Cause looks a cancelCtx up with, learnt by
// asking a probe context for its cause; nil if that did not work, in which
// case context.Cause reports Err (context.Canceled) for a taskContext.
var causeKey = func() any {
	p := &keyProbe{Context: context.Background()}
	context.Cause(p)
	return p.key
}()

type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Err() error { return context.Canceled }

func (p *keyProbe) Value(key any) any {
	if p.key == nil {
		p.key = key
	}
	return nil
}
