package main

import (
	"fmt"
	"time"

	"github.com/urlsession-go/urlsession"
)

// lowSpeed returns the least average rate, in bytes a second, that a
// transfer must keep over every span of the given length (-Y, -y), or a
// zero span when nothing is asked. As with curl, -Y alone averages over 30
// seconds and -y alone asks for at least a byte a second.
func (o *options) lowSpeed() (limit int64, span time.Duration) {
	switch {
	case o.speedLimit > 0 && o.speedTime > 0:
		return o.speedLimit, o.speedTime
	case o.speedLimit > 0:
		return o.speedLimit, 30 * time.Second
	case o.speedTime > 0:
		return 1, o.speedTime
	}
	return 0, 0
}

// speedSample is how many bytes a task had moved (sent and received) at a
// time.
type speedSample struct {
	at time.Time
	n  int64
}

// speedWatch keeps the samples of the last span and tells when a transfer
// has moved fewer than limit bytes a second over a whole span.
type speedWatch struct {
	limit   int64
	span    time.Duration
	samples []speedSample // oldest first; the first is at most span old
}

// add records s and reports whether the transfer is too slow: the span
// before s holds fewer bytes than the limit asks for.
func (w *speedWatch) add(s speedSample) bool {
	w.samples = append(w.samples, s)
	from := s.at.Add(-w.span)
	i := 0
	for i+1 < len(w.samples) && !w.samples[i+1].at.After(from) {
		i++
	}
	w.samples = w.samples[i:]
	first := w.samples[0]
	if s.at.Sub(first.at) < w.span {
		return false // not a whole span yet
	}
	return float64(s.n-first.n) < float64(w.limit)*s.at.Sub(first.at).Seconds()
}

// watchSpeed checks the task's rate as -Y and -y ask, from now until stop
// is called or the task ends, and stops it through cancel when the rate
// falls short; slow then reports that it did.
func (x *transfer) watchSpeed(task *urlsession.Task, cancel func()) (stop func()) {
	limit, span := x.o.lowSpeed()
	if span <= 0 {
		return func() {}
	}
	w := &speedWatch{limit: limit, span: span}
	moved := func(at time.Time) speedSample {
		return speedSample{at, task.CountOfBytesReceived() + task.CountOfBytesSent()}
	}
	w.add(moved(time.Now()))
	tick := time.NewTicker(min(span/10, time.Second))
	done := make(chan struct{})
	go func() {
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-task.Done():
				return
			case now := <-tick.C:
				if w.add(moved(now)) {
					x.slow.Store(true)
					cancel()
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// slowFailure is the failure of a transfer that -Y and -y stopped: 28, as
// for a time-out, which --retry retries.
func (x *transfer) slowFailure() *failure {
	limit, span := x.o.lowSpeed()
	return &failure{status: 28, code: int(urlsession.ErrTimedOut),
		msg: fmt.Sprintf("operation too slow: less than %d bytes a second transferred in the last %v", limit, span)}
}
