package urlsession

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// pipeNet is an in-memory network for tests under testing/synctest: dialing
// it hands the other end of a net.Pipe to an http.Server.
type pipeNet struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeNet() *pipeNet { return &pipeNet{conns: make(chan net.Conn), done: make(chan struct{})} }

func (p *pipeNet) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.done:
		return nil, net.ErrClosed
	}
}
func (p *pipeNet) Close() error   { p.once.Do(func() { close(p.done) }); return nil }
func (p *pipeNet) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (p *pipeNet) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	c1, c2 := net.Pipe()
	select {
	case p.conns <- c2:
		return c1, nil
	case <-p.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// inBubble runs f in a synctest bubble with an HTTP server on an in-memory
// network; cfg dials that server whatever the URL says.
func inBubble(t *testing.T, h http.Handler, f func(t *testing.T, cfg *Configuration)) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		srv := &http.Server{Handler: h}
		go srv.Serve(pn)
		cfg := baseConfiguration() // no stores: their files would outlive the bubble
		cfg.Proxy = NoProxy
		cfg.DialContext = pn.dial
		// The tests' made-up hosts (example.test, h.test) are public names
		// to App Transport Security: let them load over cleartext.
		cfg.TransportSecurity.ExceptionDomains = testExceptionDomains()
		f(t, cfg)
		srv.Close()
		synctest.Wait()
	})
}

// runTask runs a data task to completion in a bubble and returns its error
// and how long it took in the bubble's time.
func runTask(t *testing.T, s *Session, req *http.Request) (error, time.Duration) {
	start := time.Now()
	task := s.DataTask(req)
	task.Resume()
	<-task.Done()
	return task.Err(), time.Since(start)
}

func slowHandler(d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		w.Write([]byte("late"))
	})
}

func TestIdleTimeout(t *testing.T) {
	inBubble(t, slowHandler(2*time.Minute), func(t *testing.T, cfg *Configuration) {
		cfg.TimeoutIntervalForRequest = 10 * time.Second
		s := newSession(t, cfg, nil)
		err, took := runTask(t, s, get(t, "http://example.test/slow"))
		if !errors.Is(err, ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want timed out", err)
		}
		if took != 10*time.Second {
			t.Errorf("timed out after %v, want 10s", took)
		}
		var e *Error
		if !errors.As(err, &e) || e.URL != "http://example.test/slow" {
			t.Errorf("error %#v does not name the failing URL", err)
		}
	})
}

// TestLazyTimeoutsAreExact: a task whose timeouts are far away gets its
// timer from the session's watch only once it has run for an interval; the
// timeout must still fire at the exact deadline, for tasks started at any
// point between two ticks, and the watch must stop once no task waits (the
// bubble would not end otherwise).
func TestLazyTimeoutsAreExact(t *testing.T) {
	inBubble(t, slowHandler(2*time.Minute), func(t *testing.T, cfg *Configuration) {
		s := newSession(t, cfg, nil) // the default 60 s idle timeout
		offsets := []time.Duration{0, 300 * time.Millisecond, 999 * time.Millisecond, 1500 * time.Millisecond}
		var wg sync.WaitGroup
		for _, off := range offsets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(off)
				err, took := runTask(t, s, get(t, "http://example.test/slow"))
				if !errors.Is(err, ErrTimedOut) || took != time.Minute {
					t.Errorf("started at +%v: err = %v after %v, want timed out after 1m", off, err, took)
				}
			}()
		}
		wg.Wait()
		if n := s.watch.waiting.Load(); n != 0 {
			t.Errorf("%d tasks still wait for a timer", n)
		}
	})
}

func TestRequestTimeoutOverridesConfiguration(t *testing.T) {
	inBubble(t, slowHandler(3*time.Second), func(t *testing.T, cfg *Configuration) {
		cfg.TimeoutIntervalForRequest = 10 * time.Second
		s := newSession(t, cfg, nil)
		req := WithOptions(get(t, "http://example.test/"), RequestOptions{TimeoutInterval: time.Second})
		err, took := runTask(t, s, req)
		if !errors.Is(err, ErrTimedOut) || took != time.Second {
			t.Fatalf("err = %v after %v, want timed out after 1s", err, took)
		}
	})
}

// trickle writes one byte every interval, n times.
func trickle(interval time.Duration, n int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range n {
			select {
			case <-time.After(interval):
			case <-r.Context().Done():
				return
			}
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
		}
	})
}

func TestIdleTimeoutRestartsWhenDataArrives(t *testing.T) {
	inBubble(t, trickle(5*time.Second, 6), func(t *testing.T, cfg *Configuration) {
		cfg.TimeoutIntervalForRequest = 8 * time.Second
		s := newSession(t, cfg, nil)
		err, took := runTask(t, s, get(t, "http://example.test/"))
		if err != nil || took != 30*time.Second {
			t.Fatalf("err = %v after %v, want success after 30s", err, took)
		}
	})
}

func TestResourceTimeout(t *testing.T) {
	inBubble(t, trickle(time.Second, 1000), func(t *testing.T, cfg *Configuration) {
		cfg.TimeoutIntervalForRequest = 5 * time.Second
		cfg.TimeoutIntervalForResource = 20 * time.Second
		s := newSession(t, cfg, nil)
		err, took := runTask(t, s, get(t, "http://example.test/"))
		if !errors.Is(err, ErrTimedOut) || took != 20*time.Second {
			t.Fatalf("err = %v after %v, want timed out after 20s", err, took)
		}
	})
}

// The resource timeout counts the time a task runs, not the time it is
// suspended: 5 s before a minute's suspension and 15 s after it.
func TestResourceTimeoutCountsRunningTime(t *testing.T) {
	inBubble(t, trickle(time.Second, 1000), func(t *testing.T, cfg *Configuration) {
		cfg.TimeoutIntervalForRequest = 5 * time.Second
		cfg.TimeoutIntervalForResource = 20 * time.Second
		s := newSession(t, cfg, nil)
		start := time.Now()
		task := s.DataTask(get(t, "http://example.test/"))
		task.Resume()
		time.Sleep(5 * time.Second)
		task.Suspend()
		time.Sleep(time.Minute)
		task.Resume()
		<-task.Done()
		if err, took := task.Err(), time.Since(start); !errors.Is(err, ErrTimedOut) || took != 80*time.Second {
			t.Fatalf("err = %v after %v, want timed out after 80s", err, took)
		}
	})
}

// A resource timeout too long to add to the clock is no timeout: the task
// runs to its end. (The bubble's clock starts before monoEpoch, so the sum
// does not overflow here; TestAddMono covers that.)
func TestResourceTimeoutBeyondTheClock(t *testing.T) {
	inBubble(t, trickle(5*time.Second, 6), func(t *testing.T, cfg *Configuration) {
		cfg.TimeoutIntervalForRequest = 8 * time.Second
		cfg.TimeoutIntervalForResource = math.MaxInt64
		s := newSession(t, cfg, nil)
		err, took := runTask(t, s, get(t, "http://example.test/"))
		if err != nil || took != 30*time.Second {
			t.Fatalf("err = %v after %v, want success after 30s", err, took)
		}
	})
}

func TestSuspendedTaskIsNotTimedOut(t *testing.T) {
	inBubble(t, slowHandler(30*time.Second), func(t *testing.T, cfg *Configuration) {
		cfg.TimeoutIntervalForRequest = 10 * time.Second
		cfg.TimeoutIntervalForResource = 20 * time.Second
		rec := newRecorder()
		s := newSession(t, cfg, rec)
		task := s.DataTask(get(t, "http://example.test/"))
		task.Resume()
		time.Sleep(5 * time.Second)
		task.Suspend()
		if task.State() != TaskSuspended {
			t.Fatalf("state = %v, want suspended", task.State())
		}
		time.Sleep(time.Minute) // the response arrives meanwhile
		synctest.Wait()
		if task.State() != TaskSuspended {
			t.Fatalf("state after a minute suspended = %v (err %v), want suspended", task.State(), task.Err())
		}
		if ev := rec.Events(); len(ev) != 1 {
			t.Fatalf("events while suspended = %q, want only create", ev)
		}
		task.Resume()
		<-task.Done()
		if task.Err() != nil || rec.Body() != "late" {
			t.Fatalf("after resume: err %v body %q", task.Err(), rec.Body())
		}
	})
}

func TestWaitsForConnectivity(t *testing.T) {
	unreachable := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}
	for _, waits := range []bool{false, true} {
		t.Run(map[bool]string{false: "fails", true: "waits"}[waits], func(t *testing.T) {
			inBubble(t, capitals, func(t *testing.T, cfg *Configuration) {
				dial := cfg.DialContext
				var mu sync.Mutex
				failures := 3
				cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					mu.Lock()
					defer mu.Unlock()
					if failures > 0 {
						failures--
						return nil, unreachable
					}
					return dial(ctx, network, addr)
				}
				cfg.WaitsForConnectivity = waits
				rec := newRecorder()
				s := newSession(t, cfg, rec)
				err, _ := runTask(t, s, get(t, "http://example.test/Peru"))
				if !waits {
					if !errors.Is(err, ErrNotConnectedToInternet) {
						t.Fatalf("err = %v, want not connected", err)
					}
					return
				}
				if err != nil || rec.Body() != "Lima" {
					t.Fatalf("err = %v body %q, want Lima", err, rec.Body())
				}
				want := []string{"create", "waiting", "response 200", "data", "metrics", "complete"}
				if got := rec.Events(); !sameEvents(got, want) {
					t.Errorf("events = %q, want %q", got, want)
				}
			})
		})
	}
}

func TestSlowDelegateIsNotIdleness(t *testing.T) {
	const size = 2 << 20
	big := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, size))
	})
	inBubble(t, big, func(t *testing.T, cfg *Configuration) {
		cfg.TimeoutIntervalForRequest = 10 * time.Second
		rec := newRecorder()
		rec.onResponse = func(*http.Response) ResponseDisposition {
			time.Sleep(time.Minute)
			return ResponseAllow
		}
		rec.onData = func(*DataTask) { time.Sleep(20 * time.Second) }
		s := newSession(t, cfg, rec)
		err, took := runTask(t, s, get(t, "http://example.test/"))
		if err != nil || len(rec.Body()) != size {
			t.Fatalf("err = %v after %v with %d bytes, want success", err, took, len(rec.Body()))
		}
	})
}

// TestTaskGoroutinesEnd runs overlapping tasks, whose goroutines are reused
// while the session has tasks, and checks that they wait for a next task
// for runnerLinger after the last one completed and not longer (synctest
// fails the test if one is left blocked).
func TestTaskGoroutinesEnd(t *testing.T) {
	inBubble(t, capitals, func(t *testing.T, cfg *Configuration) {
		rec := newRecorder()
		s := newSession(t, cfg, rec)
		var tasks []*DataTask
		for range 3 {
			for range 10 {
				task := s.DataTask(get(t, "http://example.test/Peru"))
				task.Resume()
				tasks = append(tasks, task)
			}
			time.Sleep(time.Millisecond)
		}
		for _, task := range tasks {
			<-task.Done()
			if task.Err() != nil {
				t.Fatal(task.Err())
			}
		}
		synctest.Wait()
		idle := func() int {
			s.runners.mu.Lock()
			defer s.runners.mu.Unlock()
			return len(s.runners.idle)
		}
		if idle() == 0 {
			t.Errorf("no task goroutine waits for a next task just after the last one completed")
		}
		// A new task in the meantime reuses one.
		time.Sleep(runnerLinger / 2)
		task := s.DataTask(get(t, "http://example.test/Peru"))
		task.Resume()
		<-task.Done()
		synctest.Wait()
		time.Sleep(runnerLinger / 2)
		synctest.Wait()
		if idle() == 0 {
			t.Errorf("the task goroutines ended less than %v after the last task", runnerLinger)
		}
		time.Sleep(runnerLinger)
		synctest.Wait()
		if n := idle(); n != 0 {
			t.Errorf("%d task goroutines still wait %v after every task completed", n, runnerLinger)
		}
	})
}

func TestAddMono(t *testing.T) {
	for _, c := range []struct {
		mono int64
		d    time.Duration
		want int64
	}{
		{100, 5, 105},
		{100, -5, 95},
		{-100, math.MaxInt64, math.MaxInt64 - 100},
		{1, math.MaxInt64, math.MaxInt64},
		{int64(time.Hour), math.MaxInt64 - time.Duration(time.Minute), math.MaxInt64},
		{math.MaxInt64 - 10, 10, math.MaxInt64},
	} {
		if got := addMono(c.mono, c.d); got != c.want {
			t.Errorf("addMono(%d, %d) = %d, want %d", c.mono, c.d, got, c.want)
		}
	}
}
