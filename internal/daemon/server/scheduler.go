//go:build unix

package server

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

// far is the wake-up time when nothing is due.
const far = 24 * time.Hour

// schedule makes one pass: it gives up jobs past their resource timeout,
// stops stalled transfers, starts due jobs by priority, sends launch
// events and checks for idleness. It returns when the next pass is due.
func (s *Server) schedule() time.Time {
	ctx := context.Background()
	now := time.Now()
	next := now.Add(far)
	due := func(t time.Time) {
		if t.Before(next) {
			next = t
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return next
	}
	var ready []*jobState
	for _, js := range s.jobs {
		j := &js.job
		if j.State.Final() {
			continue
		}
		if !now.Before(j.Deadline) {
			if js.cancel != nil {
				js.cancel(errDeadline)
			} else if err := s.endLocked(ctx, js, api.Failed, codeTimedOut, "the resource timeout passed", j.ResumeData, 0, ""); err != nil {
				return now.Add(time.Second)
			}
			continue
		}
		due(j.Deadline)
		switch j.State {
		case api.Running:
			if js.cancel == nil || s.cfg.MinThroughput < 0 {
				continue
			}
			end := js.winStart.Add(s.cfg.StallWindow)
			if now.Before(end) {
				due(end)
				continue
			}
			floor := int64(float64(s.cfg.MinThroughput) * s.cfg.StallWindow.Seconds())
			if j.BytesDone-js.winBytes < floor {
				s.log.Info("stalled transfer stopped", "job", j.ID, "bytes", j.BytesDone-js.winBytes, "window", s.cfg.StallWindow)
				js.cancel(errStalled)
				continue
			}
			js.winStart, js.winBytes = now, j.BytesDone
			due(now.Add(s.cfg.StallWindow))
		case api.Waiting:
			if now.Before(j.NextAttempt) {
				due(j.NextAttempt)
				continue
			}
			j.State = api.Queued
			j.NextAttempt = time.Time{}
			if err := s.saveLocked(ctx, js); err != nil {
				return now.Add(time.Second)
			}
			fallthrough
		case api.Queued:
			if now.Before(j.EarliestBegin) {
				due(j.EarliestBegin)
				continue
			}
			if j.Discretionary && s.cfg.Conditions != nil && !s.cfg.Conditions() {
				due(now.Add(time.Minute)) // conditions are polled
				continue
			}
			if j.AskBeforeBegin {
				// The app decides first (willBeginDelayedRequest): ask
				// once, then wait for Begin.
				if !j.Asking {
					j.Asking = true
					if err := s.saveLocked(ctx, js, api.Event{Job: j.ID, Kind: api.BeginDelayed, Time: now.UTC()}); err != nil {
						j.Asking = false
						return now.Add(time.Second)
					}
				}
				continue
			}
			ready = append(ready, js)
		}
	}
	slices.SortFunc(ready, func(a, b *jobState) int {
		if a.job.Priority != b.job.Priority {
			return b.job.Priority - a.job.Priority
		}
		if c := a.job.Created.Compare(b.job.Created); c != 0 {
			return c
		}
		if a.job.ID < b.job.ID {
			return -1
		}
		return 1
	})
	for _, js := range ready {
		if s.running >= s.cfg.MaxConcurrent {
			break
		}
		if err := s.startLocked(ctx, js, now); err != nil {
			return now.Add(time.Second)
		}
		due(js.winStart.Add(s.cfg.StallWindow))
	}
	due(s.launchLocked(now))
	due(s.idleLocked(now))
	return next
}

// startLocked starts a job's transfer on its own goroutine, which ends
// when the Runner returns.
func (s *Server) startLocked(ctx context.Context, js *jobState, now time.Time) error {
	js.job.State = api.Running
	js.job.Attempts++
	if err := s.saveLocked(ctx, js); err != nil {
		js.job.State = api.Queued
		js.job.Attempts--
		return err
	}
	rctx, cancel := context.WithCancelCause(context.Background())
	js.cancel = cancel
	js.winStart, js.winBytes = now, js.job.BytesDone
	js.rateAt, js.rateBytes = now, js.job.BytesDone
	s.running++
	s.wg.Add(1)
	job := js.job
	job.ResumeData = slices.Clone(job.ResumeData)
	s.log.Info("job started", "job", job.ID, "attempt", job.Attempts, "request", job.Request, "resume_data", len(job.ResumeData))
	go func() {
		defer s.wg.Done()
		res := s.cfg.Runner.Run(rctx, job, func(p Progress) { s.progress(js, p) })
		s.finish(js, res, rctx)
		cancel(nil)
	}()
	return nil
}

// progress records a running transfer's report; it stores a coalesced
// progress event (with the job) at most once per ProgressInterval.
func (s *Server) progress(js *jobState, p Progress) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if js.cancel == nil || js.job.State != api.Running {
		return
	}
	j := &js.job
	j.BytesDone = p.BytesDone
	j.BytesExpected = p.BytesExpected
	if j.BytesResumed < 0 {
		j.BytesResumed = p.Resumed
	}
	if p.ResumeData != nil {
		js.checkpoint = slices.Clone(p.ResumeData)
	}
	if dt := now.Sub(js.rateAt); dt >= time.Second {
		r := float64(p.BytesDone-js.rateBytes) / dt.Seconds()
		if j.Rate == 0 {
			j.Rate = r
		} else {
			j.Rate = 0.5*j.Rate + 0.5*r
		}
		js.rateAt, js.rateBytes = now, p.BytesDone
	}
	if now.Sub(js.lastSaved) < s.cfg.ProgressInterval {
		return
	}
	js.lastSaved = now
	if js.checkpoint != nil {
		j.ResumeData, js.checkpoint = js.checkpoint, nil
	}
	kind := api.WriteProgress
	if j.Kind == api.Upload {
		kind = api.SendProgress
	}
	_ = s.saveLocked(context.Background(), js, api.Event{Job: j.ID, Kind: kind, Time: now.UTC(),
		BytesDone: j.BytesDone, BytesExpected: j.BytesExpected, BytesResumed: j.BytesResumed})
}

// finish records how a transfer whose run's context was rctx ended. Why
// the run was stopped is read under the lock: a Cancel (or a pause) that
// came after the Runner returned, and before this took the lock, stopped
// it through rctx all the same, and must not be lost.
func (s *Server) finish(js *jobState, res Result, rctx context.Context) {
	ctx := context.Background()
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	cause := context.Cause(rctx)
	defer s.poke()
	s.running--
	js.cancel = nil
	js.checkpoint = nil
	j := &js.job
	j.Rate = 0
	if res.BytesDone > 0 {
		j.BytesDone = res.BytesDone
	}
	j.Response = res.Response // this run's; endLocked sends it with a status
	js.body = res.Body
	js.metrics = js.metrics.Append(res.Metrics)
	if res.Err == nil && res.StatusCode != 0 {
		// The transfer finished before the stop took effect: its
		// completion wins, as a cancel after completion does nothing.
		_ = s.endLocked(ctx, js, api.Completed, 0, "", nil, res.StatusCode, res.File)
		return
	}
	switch {
	case errors.Is(cause, errCancelled):
		_ = s.endLocked(ctx, js, api.Cancelled, codeCancelled, "cancelled", res.ResumeData, 0, "")
		return
	case errors.Is(cause, errDeadline):
		_ = s.endLocked(ctx, js, api.Failed, codeTimedOut, "the resource timeout passed", res.ResumeData, 0, "")
		return
	case errors.Is(cause, errPaused):
		j.State = api.Paused
		j.ResumeData = res.ResumeData
		_ = s.saveLocked(ctx, js)
		return
	case errors.Is(cause, errStopping):
		j.State = api.Queued
		j.ResumeData = res.ResumeData
		_ = s.saveLocked(ctx, js)
		return
	case errors.Is(cause, errStalled):
		s.retryLocked(ctx, js, now, res, &TransferError{Code: -1001, Message: "throughput below the floor"})
		return
	}
	if res.Err == nil {
		// Finished without a response status: not a valid end.
		res.Err = &TransferError{Code: -1011, Message: "the transfer ended without a response"}
	}
	var te *TransferError
	if !errors.As(res.Err, &te) {
		te = &TransferError{Code: codeUnknown, Message: res.Err.Error()}
	}
	if te.Permanent {
		_ = s.endLocked(ctx, js, api.Failed, te.Code, te.Message, res.ResumeData, res.StatusCode, "")
		return
	}
	s.retryLocked(ctx, js, now, res, te)
}

// Backoff returns the delay before retry number attempt (1 for the first
// retry): base doubled per earlier retry, capped at max.
func Backoff(base, max time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// retryLocked schedules the next attempt after a transient failure, or
// gives up when it would come after the resource timeout.
func (s *Server) retryLocked(ctx context.Context, js *jobState, now time.Time, res Result, te *TransferError) {
	j := &js.job
	delay := Backoff(s.cfg.RetryBase, s.cfg.RetryMax, j.Attempts)
	if ra := min(te.RetryAfter, s.cfg.MaxRetryAfter); ra > delay {
		delay = ra
	}
	at := now.Add(delay)
	if !at.Before(j.Deadline) {
		_ = s.endLocked(ctx, js, api.Failed, codeTimedOut, "the resource timeout passed after: "+te.Message, res.ResumeData, res.StatusCode, "")
		return
	}
	j.State = api.Waiting
	j.NextAttempt = at.UTC()
	j.ErrorCode = te.Code
	j.ErrorMessage = te.Message
	j.ResumeData = res.ResumeData
	s.log.Info("job will retry", "job", j.ID, "code", te.Code, "message", te.Message, "delay", delay)
	_ = s.saveLocked(ctx, js)
}

// idleLocked closes s.idle once the daemon has had no unfinished job,
// no connection, no running transfer and no launch to retry for
// IdleTimeout; it returns when to look again.
func (s *Server) idleLocked(now time.Time) time.Time {
	if s.cfg.IdleTimeout < 0 {
		return now.Add(far)
	}
	busy := s.conns > 0 || s.running > 0
	for _, js := range s.jobs {
		if !js.job.State.Final() {
			busy = true
			break
		}
	}
	for _, ss := range s.sessions {
		if ss.attached != nil || (ss.pending && !ss.nextLaunch.IsZero() && now.Before(ss.nextLaunch)) {
			busy = true
		}
	}
	if busy {
		s.idleAt = time.Time{}
		return now.Add(far)
	}
	if s.idleAt.IsZero() {
		s.idleAt = now
	}
	end := s.idleAt.Add(s.cfg.IdleTimeout)
	if !now.Before(end) {
		s.idleOnce.Do(func() { close(s.idle) })
		return now.Add(far)
	}
	return end
}

// Idle returns a channel closed when the daemon has been idle for
// Config.IdleTimeout.
func (s *Server) Idle() <-chan struct{} { return s.idle }
