package segment

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// grant is one WaitN that returned: n bytes at time at.
type grant struct {
	at time.Time
	n  int
}

// grantLog collects grants from many goroutines.
type grantLog struct {
	mu     sync.Mutex
	grants []grant
}

func (g *grantLog) add(n int) {
	g.mu.Lock()
	g.grants = append(g.grants, grant{time.Now(), n})
	g.mu.Unlock()
}

// checkBurst fails t if, over any interval [a, b] between two grants, more
// than rate*(b-a) + rate/4 bytes were granted (one byte of slack for the
// rounding of wait times up to whole nanoseconds).
func checkBurst(t *testing.T, name string, grants []grant, rate float64) {
	t.Helper()
	worst := 0.0
	for i := range grants {
		sum := 0
		for j := i; j < len(grants); j++ {
			if grants[j].at.Before(grants[i].at) {
				continue
			}
			sum += grants[j].n
			allowed := rate*grants[j].at.Sub(grants[i].at).Seconds() + rate/4
			if excess := float64(sum) - allowed; excess > worst {
				worst = excess
			}
		}
	}
	if worst > 1 {
		t.Errorf("%s: granted %.0f bytes more than rate*T + rate/4 in some interval", name, worst)
	}
}

func sortGrants(g []grant) {
	for i := 1; i < len(g); i++ {
		for j := i; j > 0 && g[j].at.Before(g[j-1].at); j-- {
			g[j], g[j-1] = g[j-1], g[j]
		}
	}
}

func TestLimiterNeverBursts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate = 4000
		l := NewLimiter(rate, nil)
		var log grantLog
		var wg sync.WaitGroup
		sizes := []int{1, 7, 100, 333, 1000}
		for w := range 5 {
			wg.Go(func() {
				for i := range 40 {
					n := sizes[(w+i)%len(sizes)]
					if err := l.WaitN(context.Background(), n); err != nil {
						t.Error(err)
						return
					}
					log.add(n)
					if i%7 == w {
						// Idle a while so the bucket refills.
						time.Sleep(time.Duration(w+1) * 300 * time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
		sortGrants(log.grants)
		checkBurst(t, "limiter", log.grants, rate)
		// The long-run rate is the configured one.
		total := 0
		for _, g := range log.grants {
			total += g.n
		}
		first, last := log.grants[0].at, log.grants[len(log.grants)-1].at
		if got := float64(total) - rate/4; got > rate*last.Sub(first).Seconds()+1 {
			t.Errorf("%d bytes in %v at %d B/s", total, last.Sub(first), rate)
		}
	})
}

func TestLimiterBurstIsQuarterSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(1000, nil)
		start := time.Now()
		// A full bucket grants 250 bytes at once ...
		if err := l.WaitN(context.Background(), 250); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("first 250 bytes took %v; want 0", d)
		}
		// ... and then exactly the rate.
		if err := l.WaitN(context.Background(), 1000); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("1250 bytes took %v; want 1s", d)
		}
		// Idle for ten seconds: the bucket holds only a quarter second.
		time.Sleep(10 * time.Second)
		start = time.Now()
		l.WaitN(context.Background(), 750)
		if d := time.Since(start); d != 500*time.Millisecond {
			t.Errorf("750 bytes after idling took %v; want 500ms", d)
		}
	})
}

func TestLimiterFairAcrossSegments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate = 64 << 10
		l := NewLimiter(rate, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		counts := make([]int, 4)
		var wg sync.WaitGroup
		for i := range counts {
			wg.Go(func() {
				// Greedy segments reading in equal pieces, one of them
				// larger than a quantum.
				for l.WaitN(ctx, 20000) == nil {
					counts[i] += 20000
				}
			})
		}
		wg.Wait()
		total := 0
		for _, c := range counts {
			total += c
		}
		// Requests still partly granted at the deadline are not counted.
		if total < rate*10-len(counts)*20000 || total > rate*10+rate/4 {
			t.Errorf("%d bytes in 10s at %d B/s", total, rate)
		}
		for i, c := range counts {
			if diff := c - total/4; diff > 20000 || -diff > 20000 {
				t.Errorf("segment %d got %d of %d bytes; want a quarter", i, c, total)
			}
		}
	})
}

func TestLimiterHierarchy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		session := NewLimiter(15000, nil)
		taskA := NewLimiter(4000, session) // the bottleneck for A
		taskB := NewLimiter(0, session)    // unlimited itself
		var logA, logB, logS grantLog
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		run := func(l *Limiter, log *grantLog, n int) {
			wg.Go(func() {
				for l.WaitN(ctx, n) == nil {
					log.add(n)
					logS.add(n)
				}
			})
		}
		for range 3 { // three segments of task A
			run(taskA, &logA, 500)
		}
		for range 2 { // two of task B
			run(taskB, &logB, 500)
		}
		wg.Wait()
		for _, g := range []*grantLog{&logA, &logB, &logS} {
			sortGrants(g.grants)
		}
		checkBurst(t, "task A", logA.grants, 4000)
		checkBurst(t, "session", logS.grants, 15000)
		sum := func(g []grant) (s int) {
			for _, x := range g {
				s += x.n
			}
			return s
		}
		a, b := sum(logA.grants), sum(logB.grants)
		// A is held to 4000 B/s; B takes the rest of the session's rate.
		if a < 4000*19 || a > 4000*20+1000 {
			t.Errorf("task A got %d bytes in 20s at 4000 B/s", a)
		}
		if b < 11000*19 || b > 11000*20+4000 {
			t.Errorf("task B got %d bytes in 20s with 11000 B/s left", b)
		}
	})
}

func TestLimiterSetRateAndUnlimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var nilLimiter *Limiter
		if err := nilLimiter.WaitN(context.Background(), 1<<30); err != nil || nilLimiter.Rate() != 0 {
			t.Fatal("a nil Limiter must be unlimited")
		}
		l := NewLimiter(0, nil)
		start := time.Now()
		l.WaitN(context.Background(), 1<<30)
		if time.Since(start) != 0 {
			t.Error("an unlimited Limiter waited")
		}
		l.SetRate(1000)
		if l.Rate() != 1000 {
			t.Errorf("Rate = %d", l.Rate())
		}
		start = time.Now()
		l.WaitN(context.Background(), 1250)
		if d := time.Since(start); d != time.Second {
			t.Errorf("1250 bytes at 1000 B/s took %v; want 1s", d)
		}
		l.SetRate(4000)
		start = time.Now()
		l.WaitN(context.Background(), 4000)
		if d := time.Since(start); d != time.Second {
			t.Errorf("4000 bytes at 4000 B/s from an empty bucket took %v; want 1s", d)
		}
		l.SetRate(-1)
		start = time.Now()
		l.WaitN(context.Background(), 1<<20)
		if time.Since(start) != 0 {
			t.Error("a Limiter made unlimited waited")
		}
	})
}

func TestLimiterCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(10, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err := l.WaitN(ctx, 1000)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitN = %v; want deadline exceeded", err)
		}
		cancelled, c2 := context.WithCancel(context.Background())
		c2()
		if err := l.WaitN(cancelled, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("WaitN on a cancelled context = %v", err)
		}
	})
}

func TestReaderWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := bytes.Repeat([]byte("0123456789"), 10000) // 100000 bytes
		l := NewLimiter(50000, nil)
		start := time.Now()
		var out bytes.Buffer
		if _, err := io.Copy(&out, NewReader(context.Background(), bytes.NewReader(data), l)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatal("reader changed the data")
		}
		// 100000 bytes at 50000 B/s with a 12500-byte bucket: 1.75 s.
		if d := time.Since(start); d != 1750*time.Millisecond {
			t.Errorf("reading took %v; want 1.75s", d)
		}
		out.Reset()
		time.Sleep(time.Second) // refill
		start = time.Now()
		w := NewWriter(context.Background(), &out, l)
		if n, err := w.Write(data); n != len(data) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatal("writer changed the data")
		}
		if d := time.Since(start); d != 1750*time.Millisecond {
			t.Errorf("writing took %v; want 1.75s", d)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if n, err := NewWriter(ctx, io.Discard, l).Write(data); n != 0 || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Write = %d, %v", n, err)
		}
	})
}

func TestLimiterSetRateWakesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(1, nil) // one byte per second
		l.WaitN(context.Background(), 1)
		done := make(chan time.Duration)
		start := time.Now()
		go func() {
			l.WaitN(context.Background(), 10000)
			done <- time.Since(start)
		}()
		time.Sleep(2 * time.Second)
		l.SetRate(0)
		if d := <-done; d != 2*time.Second {
			t.Errorf("waiter finished after %v; want at the change of rate, 2s", d)
		}
	})
}
