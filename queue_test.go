package urlsession

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// TestQueueSerialAndOrdered adds from many goroutines, some through runHere,
// and checks that no two functions overlap and each producer's functions
// run in the order added.
func TestQueueSerialAndOrdered(t *testing.T) {
	var keep atomic.Bool
	keep.Store(true)
	q := &queue{keep: keep.Load}
	var running atomic.Int32
	const producers, each = 8, 500
	last := make([]int, producers)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				f := func() {
					if running.Add(1) != 1 {
						t.Error("two queue functions ran at once")
					}
					if last[p] != i {
						t.Errorf("producer %d: ran %d after %d", p, i, last[p]-1)
					}
					last[p] = i + 1
					running.Add(-1)
				}
				if i%3 == 0 {
					q.push(f)
					q.runHere()
				} else {
					q.add(f)
				}
			}
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	q.add(func() { close(done) })
	<-done
	for p, n := range last {
		if n != each {
			t.Errorf("producer %d: %d of %d ran", p, n, each)
		}
	}
	keep.Store(false)
	q.kick()
}

// TestQueueWorkerEnds checks that the worker waits while keep is true and
// ends once it is false, leaving no goroutine behind (synctest fails the
// test if one is left blocked).
func TestQueueWorkerEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var keep atomic.Bool
		keep.Store(true)
		q := &queue{keep: keep.Load}
		ran := 0
		q.add(func() { ran++ })
		synctest.Wait()
		q.mu.Lock()
		idle, running := q.idle, q.running
		q.mu.Unlock()
		if !idle || !running || ran != 1 {
			t.Fatalf("after one function: idle %v running %v ran %d", idle, running, ran)
		}
		q.add(func() { ran++ })
		synctest.Wait()
		keep.Store(false)
		q.kick()
		synctest.Wait()
		q.mu.Lock()
		running = q.running
		q.mu.Unlock()
		if running || ran != 2 {
			t.Fatalf("after keep went false: running %v ran %d", running, ran)
		}
		// runHere on an idle queue with a waiting worker runs on the caller
		// and still lets a no longer wanted worker end.
		keep.Store(true)
		q.add(func() { ran++ })
		synctest.Wait()
		keep.Store(false)
		q.push(func() { ran++ })
		q.runHere()
		synctest.Wait()
		if ran != 4 || q.running {
			t.Fatalf("runHere: ran %d running %v", ran, q.running)
		}
	})
}
