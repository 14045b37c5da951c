package urlsession

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
)

func newTaskContext(base context.Context) *taskContext {
	c := &taskContext{}
	c.init(base)
	return c
}

func TestTaskContextCauseKeyFound(t *testing.T) {
	if causeKey == nil {
		t.Fatal("the probe did not learn context.Cause's key: context.Cause would report context.Canceled for tasks")
	}
}

func TestTaskContextCancel(t *testing.T) {
	c := newTaskContext(context.Background())
	child, stopChild := context.WithCancel(c)
	defer stopChild()
	grandchild := context.WithValue(child, "k", "v")
	if c.Err() != nil || context.Cause(c) != nil || child.Err() != nil {
		t.Fatal("done before cancel")
	}
	cause := errors.New("the cause")
	c.cancel(context.Canceled, cause)
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed")
	}
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("child not cancelled")
	}
	if c.Err() != context.Canceled {
		t.Errorf("Err = %v", c.Err())
	}
	for name, ctx := range map[string]context.Context{"task": c, "child": child, "grandchild": grandchild} {
		if got := context.Cause(ctx); got != cause {
			t.Errorf("context.Cause(%s) = %v, want %v", name, got, cause)
		}
	}
	// Cancelling again changes nothing; a child derived now is done at once.
	c.cancel(context.Canceled, errors.New("second"))
	late, stopLate := context.WithCancelCause(c)
	defer stopLate(nil)
	if late.Err() == nil || context.Cause(late) != cause {
		t.Errorf("child of a cancelled context: err %v cause %v", late.Err(), context.Cause(late))
	}
	if grandchild.Value("k") != "v" {
		t.Error("values do not pass through")
	}
}

func TestTaskContextBase(t *testing.T) {
	base, cancel := context.WithCancelCause(context.WithValue(context.Background(), "k", "v"))
	c := newTaskContext(base)
	child, stopChild := context.WithCancel(c)
	defer stopChild()
	if c.Value("k") != "v" {
		t.Error("base values do not pass through")
	}
	cause := errors.New("base cause")
	cancel(cause)
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the base did not reach the child")
	}
	if c.Err() != context.Canceled || context.Cause(c) != cause || context.Cause(child) != cause {
		t.Errorf("err %v, cause %v, child cause %v", c.Err(), context.Cause(c), context.Cause(child))
	}

	dl := time.Now().Add(time.Hour)
	base2, cancel2 := context.WithDeadline(context.Background(), dl)
	defer cancel2()
	if d, ok := newTaskContext(base2).Deadline(); !ok || !d.Equal(dl) {
		t.Errorf("Deadline = %v %v, want the base's", d, ok)
	}
}

func TestTaskContextAfterFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTaskContext(context.Background())
		ran := make(chan int, 4)
		// The method itself, as context derivation calls it (context.AfterFunc
		// guards its own stop): a stopped function does not run.
		stopOwn := c.AfterFunc(func() { ran <- 5 })
		if !stopOwn() || stopOwn() {
			t.Error("stop of a registered function: want true once, then false")
		}
		stop1 := context.AfterFunc(c, func() { ran <- 1 })
		stop2 := context.AfterFunc(c, func() { ran <- 2 })
		context.AfterFunc(c, func() { ran <- 3 }) // a third one goes past the two in place
		if !stop2() {
			t.Error("stop before cancel reported false")
		}
		c.cancel(context.Canceled, nil)
		synctest.Wait() // every function that is going to run has run
		got := map[int]bool{}
		for len(ran) > 0 {
			got[<-ran] = true
		}
		if len(got) != 2 || !got[1] || !got[3] {
			t.Errorf("ran %v, want 1 and 3 (2 and 5 were stopped)", got)
		}
		if stop1() {
			t.Error("stop after cancel reported true")
		}
		context.AfterFunc(c, func() { ran <- 4 }) // already done: runs at once
		synctest.Wait()
		if len(ran) != 1 || <-ran != 4 {
			t.Error("AfterFunc on a done context did not run its function")
		}
		if context.Cause(c) != context.Canceled {
			t.Errorf("cause without one = %v, want context.Canceled", context.Cause(c))
		}
	})
}

// TestTaskContextDerivationIsCheap: what net/http does with a request's
// context for every request allocates less with a taskContext (which lives
// in its Task) as the parent than with a WithCancelCause one.
func TestTaskContextDerivationIsCheap(t *testing.T) {
	derive := func(parent context.Context) {
		child, stop := context.WithCancelCause(parent)
		_ = child.Done()
		stop(nil)
	}
	bytes := func(f func()) uint64 {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for range 100 {
			f()
		}
		runtime.ReadMemStats(&m1)
		return (m1.TotalAlloc - m0.TotalAlloc) / 100
	}
	std := func() {
		parent, cancel := context.WithCancelCause(context.Background())
		derive(parent)
		cancel(nil)
	}
	tasks := make([]taskContext, 500)
	i := 0
	own := func() {
		c := &tasks[i]
		i++
		c.init(context.Background())
		derive(c)
		c.cancel(context.Canceled, nil)
	}
	stdN, ownN := testing.AllocsPerRun(100, std), testing.AllocsPerRun(100, own)
	stdB, ownB := bytes(std), bytes(own)
	t.Logf("allocations %v vs %v, bytes %d vs %d", ownN, stdN, ownB, stdB)
	if ownN > stdN || ownB >= stdB {
		t.Errorf("deriving from a taskContext: %v allocations, %d bytes; from WithCancelCause: %v, %d", ownN, ownB, stdN, stdB)
	}
}
