package urlsession

import (
	"context"
	"errors"
	"net/http"
	"sync"
)

// Decision is the answer to a delegate's question (a redirect, a response
// disposition, an authentication challenge, a delayed background task's
// start) given after the callback that
// was asked has returned: Apple's completion handlers, for delegates that
// take their time (a challenge that asks a person, a token to fetch). Get
// one with Task.Later from inside the callback; the session's queue goes on
// delivering other callbacks, of this session's other tasks, while the task
// waits.
//
// A Decision is made once, from any goroutine, with the method for the
// kind of question asked. Until it is made the task waits: no timeout runs
// for it (as while any delegate decides), but cancelling the task ends the
// wait. A Decision that is never made holds its task until it is
// cancelled, as an Apple completion handler never called does.
type Decision struct {
	set func(v any) bool // hands the answer to the waiting task; false for the wrong kind

	mu   sync.Mutex
	done bool
}

var (
	// ErrDecisionMade is returned by a Decision made a second time.
	ErrDecisionMade = errors.New("urlsession: the decision was already made")
	// ErrWrongDecision is returned by a Decision method for another kind of
	// question than the one the task was asked.
	ErrWrongDecision = errors.New("urlsession: the task waits for another kind of decision")
)

// Redirect answers WillPerformHTTPRedirection: the request to follow the
// redirect with, or nil to refuse it (the redirect response is then the
// task's response).
func (d *Decision) Redirect(req *http.Request) error { return d.make(req) }

// Response answers DidReceiveResponse.
func (d *Decision) Response(disp ResponseDisposition) error { return d.make(disp) }

// Challenge answers DidReceiveChallenge or TaskDidReceiveChallenge.
func (d *Decision) Challenge(disp AuthChallengeDisposition, cred *Credential) error {
	return d.make(challengeAnswer{disp, cred})
}

// DelayedRequest answers WillBeginDelayedRequest.
func (d *Decision) DelayedRequest(disp DelayedRequestDisposition, req *http.Request) error {
	return d.make(delayedAnswer{disp, req})
}

// delayedAnswer is the answer to WillBeginDelayedRequest.
type delayedAnswer struct {
	disp DelayedRequestDisposition
	req  *http.Request
}

func (d *Decision) make(v any) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done {
		return ErrDecisionMade
	}
	if !d.set(v) {
		return ErrWrongDecision
	}
	d.done = true
	return nil
}

// question is a deferrable question a task's delegate is being asked.
type question struct {
	set   func(v any) bool
	later *Decision // made by Later
}

// Later lets the delegate callback now running for the task answer after it
// returns: call it from inside WillPerformHTTPRedirection,
// DidReceiveResponse, DidReceiveChallenge, TaskDidReceiveChallenge or
// WillBeginDelayedRequest, return
// anything (the return value is ignored), and make the returned Decision
// when ready, from any goroutine. Outside those callbacks Later returns nil.
// Calling it again in the same callback returns the same Decision.
func (t *Task) Later() *Decision {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.more().question
	if q == nil {
		return nil
	}
	if q.later == nil {
		q.later = &Decision{set: q.set}
	}
	return q.later
}

// askLater is ask for a question the delegate may answer later through
// Task.Later.
func askLater[T any](ctx context.Context, t *Task, f func() T) (T, error) {
	ch := make(chan T, 1)
	q := &question{set: func(v any) bool {
		x, ok := v.(T)
		if ok {
			ch <- x
		}
		return ok
	}}
	t.session.queue.add(func() {
		if v, deferred := askNow(t, q, f); !deferred {
			ch <- v
		}
	})
	return awaitAnswer(ctx, t, ch)
}

// askNow asks f with q open for Task.Later, on the delegate queue, and
// returns its answer, or reports that the delegate deferred it (the answer
// then comes through q.set).
func askNow[T any](t *Task, q *question, f func() T) (v T, deferred bool) {
	t.mu.Lock()
	t.more().question = q
	t.mu.Unlock()
	v = f()
	t.mu.Lock()
	t.more().question = nil
	deferred = q.later != nil
	t.mu.Unlock()
	return v, deferred
}
