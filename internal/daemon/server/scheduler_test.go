//go:build unix

package server

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

func TestConcurrencyLimitAndPriority(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, func(c *Config) { c.MaxConcurrent = 2; c.MinThroughput = -1 })
		defer r.close()
		prio := []int{0, 5, -3, 10, 5, 0}
		ids := map[string]int{}
		// All become due at once, so that priority alone decides.
		begin := time.Now().Add(time.Minute)
		for _, p := range prio {
			j := r.create(api.NewJob{Priority: p, EarliestBegin: begin})
			ids[j.ID] = p
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		var runs []*fakeRun
		for run := r.runner.next(); run != nil; run = r.runner.next() {
			runs = append(runs, run)
		}
		// Each run starts on a goroutine of its own, so the order in which
		// they reach the runner is the Go scheduler's: which jobs start is
		// the scheduler's decision under test.
		var started []int
		for _, run := range runs {
			started = append(started, ids[run.job.ID])
		}
		if slices.Sort(started); !slices.Equal(started, []int{5, 10}) {
			t.Fatalf("started priorities %v, want 5 and 10", started)
		}
		// A completion lets exactly one more start: the other 5.
		runs[0].result <- Result{File: "/f", StatusCode: 200}
		synctest.Wait()
		next := r.runner.next()
		if next == nil || ids[next.job.ID] != 5 || r.runner.next() != nil {
			t.Fatalf("after one completion: %+v", next)
		}
		running := 0
		for _, j := range r.srv.Jobs("") {
			if j.State == api.Running {
				running++
			}
		}
		if running != 2 {
			t.Fatalf("%d jobs running, want the limit, 2", running)
		}
	})
}

func TestPriorityOrderThroughCompletion(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, func(c *Config) { c.MaxConcurrent = 1; c.MinThroughput = -1 })
		defer r.close()
		prio := []int{1, 7, -2, 7, 3}
		ids := map[string]int{}
		begin := time.Now().Add(time.Minute)
		for _, p := range prio {
			j := r.create(api.NewJob{Priority: p, EarliestBegin: begin})
			ids[j.ID] = p
		}
		time.Sleep(time.Minute)
		var order []int
		for range prio {
			synctest.Wait()
			run := r.runner.next()
			if run == nil {
				t.Fatalf("nothing started after %v", order)
			}
			if extra := r.runner.next(); extra != nil {
				t.Fatalf("two runs at once with a limit of 1")
			}
			order = append(order, ids[run.job.ID])
			run.result <- Result{File: "/f", StatusCode: 200}
		}
		if want := []int{7, 7, 3, 1, -2}; !slices.Equal(order, want) {
			t.Fatalf("order %v, want %v", order, want)
		}
		synctest.Wait()
		for _, j := range r.srv.Jobs("") {
			if j.State != api.Completed {
				t.Errorf("job %s is %s, want completed", j.ID, j.State)
			}
		}
		// Each download: finish-downloading then complete, in order.
		evs := r.events("s")
		if len(evs) != 2*len(prio) {
			t.Fatalf("%d events, want %d", len(evs), 2*len(prio))
		}
		for i := 0; i < len(evs); i += 2 {
			if evs[i].Kind != api.FinishDownloading || evs[i+1].Kind != api.Complete || evs[i].Job != evs[i+1].Job || evs[i+1].ErrorCode != 0 {
				t.Fatalf("events %d, %d: %+v %+v", i, i+1, evs[i], evs[i+1])
			}
		}
	})
}

func TestEarliestBeginDate(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, nil)
		defer r.close()
		begin := time.Now().Add(time.Hour)
		j := r.create(api.NewJob{EarliestBegin: begin})
		synctest.Wait()
		if run := r.runner.next(); run != nil {
			t.Fatal("started before its earliest begin date")
		}
		time.Sleep(time.Hour - time.Second)
		synctest.Wait()
		if run := r.runner.next(); run != nil {
			t.Fatal("started a second early")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		run := r.runner.next()
		if run == nil || run.job.ID != j.ID {
			t.Fatal("did not start at its earliest begin date")
		}
		if time.Now().Before(begin) {
			t.Fatalf("started at %v, before %v", time.Now(), begin)
		}
		run.result <- Result{File: "/f", StatusCode: 200}
	})
}

func TestDiscretionaryWaitsForConditions(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		good := false
		var mu = make(chan struct{}, 1)
		mu <- struct{}{}
		cond := func() bool { <-mu; defer func() { mu <- struct{}{} }(); return good }
		r := newRig(t, dir, func(c *Config) { c.Conditions = cond })
		defer r.close()
		r.create(api.NewJob{Discretionary: true})
		plain := r.create(api.NewJob{})
		synctest.Wait()
		run := r.runner.next()
		if run == nil || run.job.ID != plain.ID || r.runner.next() != nil {
			t.Fatal("want only the non-discretionary job started")
		}
		<-mu
		good = true
		mu <- struct{}{}
		time.Sleep(time.Minute)
		synctest.Wait()
		if r.runner.next() == nil {
			t.Fatal("discretionary job not started once conditions were good")
		}
	})
}

func TestRetryBackoffAndRetryAfter(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, nil)
		defer r.close()
		j := r.create(api.NewJob{})
		var gaps []time.Duration
		last := time.Now()
		for i := range 5 {
			synctest.Wait()
			run := r.runner.next()
			for run == nil {
				time.Sleep(time.Second)
				synctest.Wait()
				run = r.runner.next()
			}
			if i > 0 {
				gaps = append(gaps, time.Since(last).Round(time.Second))
				if string(run.job.ResumeData) != "rd" {
					t.Fatalf("retry %d got resume data %q, want rd", i, run.job.ResumeData)
				}
			}
			err := &TransferError{Code: -1004, Message: "cannot connect"}
			if i == 3 {
				err.RetryAfter = 10 * time.Minute
			}
			last = time.Now()
			run.result <- Result{Err: err, ResumeData: []byte("rd")}
			synctest.Wait()
			if got := r.job(j.ID); got.State != api.Waiting || got.ErrorCode != -1004 {
				t.Fatalf("after failure %d: %+v", i, got)
			}
		}
		want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 10 * time.Minute}
		// Gaps are measured in whole seconds of polling.
		for i, g := range gaps {
			if g < want[i] || g > want[i]+time.Second {
				t.Errorf("gap %d: %v, want %v", i, g, want[i])
			}
		}
		if len(r.events("s")) != 0 {
			t.Error("a retry produced an event")
		}
	})
}

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		attempt int
		want    time.Duration
	}{{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {8, time.Hour}, {100, time.Hour}} {
		if got := Backoff(30*time.Second, time.Hour, c.attempt); got != c.want {
			t.Errorf("Backoff(%d) = %v, want %v", c.attempt, got, c.want)
		}
	}
}

func TestPermanentFailure(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, nil)
		defer r.close()
		j := r.create(api.NewJob{})
		synctest.Wait()
		r.runner.next().result <- Result{Err: &TransferError{Code: -1202, Message: "untrusted", Permanent: true}}
		synctest.Wait()
		if got := r.job(j.ID); got.State != api.Failed || got.ErrorCode != -1202 {
			t.Fatalf("got %+v", got)
		}
		evs := r.events("s")
		if len(evs) != 1 || evs[0].Kind != api.Complete || evs[0].ErrorCode != -1202 {
			t.Fatalf("events %+v", evs)
		}
	})
}

func TestThroughputFloor(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, func(c *Config) { c.MinThroughput = 1000; c.StallWindow = time.Minute })
		defer r.close()
		j := r.create(api.NewJob{})
		synctest.Wait()
		run := r.runner.next()
		// Fast enough for one window.
		for i := range 60 {
			run.progress(Progress{BytesDone: int64(i+1) * 2000, BytesExpected: 1 << 30})
			time.Sleep(time.Second)
		}
		synctest.Wait()
		if run.ctx.Err() != nil {
			t.Fatal("a transfer above the floor was stopped")
		}
		// Then too slow: stopped at the end of the next window.
		time.Sleep(time.Minute)
		synctest.Wait()
		if !errors.Is(context.Cause(run.ctx), errStalled) {
			t.Fatalf("cause %v, want errStalled", context.Cause(run.ctx))
		}
		got := r.job(j.ID)
		if got.State != api.Waiting || string(got.ResumeData) != "resume:"+j.ID {
			t.Fatalf("after the stall: %+v", got)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		again := r.runner.next()
		if again == nil || string(again.job.ResumeData) != "resume:"+j.ID {
			t.Fatal("the stalled job was not retried from its resume data")
		}
		again.result <- Result{File: "/f", StatusCode: 200}
	})
}

func TestResourceTimeout(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, nil)
		defer r.close()
		// Retried until the next retry would come after the deadline.
		j := r.create(api.NewJob{ResourceTimeout: 100})
		for {
			synctest.Wait()
			if got := r.job(j.ID); got.State.Final() {
				if got.State != api.Failed || got.ErrorCode != codeTimedOut {
					t.Fatalf("got %+v", got)
				}
				break
			}
			if run := r.runner.next(); run != nil {
				run.result <- Result{Err: errors.New("connection reset")}
				continue
			}
			time.Sleep(time.Second)
		}
		if time.Since(r.job(j.ID).Created) > 100*time.Second {
			t.Fatal("gave up after the deadline")
		}
		// A running transfer past its deadline is stopped.
		k := r.create(api.NewJob{ResourceTimeout: 60})
		synctest.Wait()
		run := r.runner.next()
		time.Sleep(time.Minute)
		synctest.Wait()
		if !errors.Is(context.Cause(run.ctx), errDeadline) {
			t.Fatalf("cause %v", context.Cause(run.ctx))
		}
		got := r.job(k.ID)
		if got.State != api.Failed || got.ErrorCode != codeTimedOut || string(got.ResumeData) != "resume:"+k.ID {
			t.Fatalf("got %+v", got)
		}
		evs := r.events("s")
		last := evs[len(evs)-1]
		if last.Kind != api.Complete || last.ErrorCode != codeTimedOut || string(last.ResumeData) != "resume:"+k.ID {
			t.Fatalf("last event %+v", last)
		}
	})
}

func TestPauseResumeCancel(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, nil)
		defer r.close()
		ctx := context.Background()
		j := r.create(api.NewJob{})
		synctest.Wait()
		run := r.runner.next()
		if _, err := r.srv.Pause(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := r.job(j.ID); got.State != api.Paused || string(got.ResumeData) != "resume:"+j.ID {
			t.Fatalf("paused: %+v", got)
		}
		if !errors.Is(context.Cause(run.ctx), errPaused) {
			t.Fatal("not stopped as paused")
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if r.runner.next() != nil {
			t.Fatal("a paused job started")
		}
		if _, err := r.srv.Resume(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		run = r.runner.next()
		if run == nil || string(run.job.ResumeData) != "resume:"+j.ID {
			t.Fatal("resume did not continue from the resume data")
		}
		if _, err := r.srv.Cancel(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		got := r.job(j.ID)
		if got.State != api.Cancelled || got.ErrorCode != codeCancelled {
			t.Fatalf("cancelled: %+v", got)
		}
		var ae *api.Error
		if _, err := r.srv.Pause(ctx, j.ID); !errors.As(err, &ae) || ae.Status != 409 {
			t.Fatalf("pausing a cancelled job: %v", err)
		}
		if _, err := r.srv.Cancel(ctx, "nope"); !errors.As(err, &ae) || ae.Status != 404 {
			t.Fatalf("cancelling an unknown job: %v", err)
		}
		evs := r.events("s")
		if len(evs) != 1 || evs[0].ErrorCode != codeCancelled {
			t.Fatalf("events %+v", evs)
		}
		// Acknowledging the complete event forgets the job.
		if err := r.srv.Ack(ctx, "s", evs[0].Seq); err != nil {
			t.Fatal(err)
		}
		if _, err := r.srv.Job(j.ID); err == nil {
			t.Fatal("job kept after its complete event was acknowledged")
		}
	})
}

func TestProgressCoalescedAndCheckpointed(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, nil)
		defer r.close()
		j := r.create(api.NewJob{})
		synctest.Wait()
		run := r.runner.next()
		for i := range 50 {
			run.progress(Progress{BytesDone: int64(i+1) * 100, BytesExpected: 5000, ResumeData: []byte{byte(i)}})
			time.Sleep(100 * time.Millisecond)
		}
		synctest.Wait()
		evs := r.events("s")
		if len(evs) != 1 || evs[0].Kind != api.WriteProgress {
			t.Fatalf("events %+v, want one write-progress", evs)
		}
		if evs[0].BytesDone < 4000 {
			t.Fatalf("progress event holds %d bytes, want a recent figure", evs[0].BytesDone)
		}
		stored, err := r.st.Job(context.Background(), j.ID)
		if err != nil || len(stored.ResumeData) != 1 || stored.ResumeData[0] < 40 {
			t.Fatalf("checkpoint not stored: %+v %v", stored, err)
		}
		if got := r.job(j.ID); got.Rate < 500 || got.Rate > 2000 {
			t.Errorf("rate %v, want about 1000", got.Rate)
		}
		run.result <- Result{File: "/f", StatusCode: 200, BytesDone: 5000}
	})
}

func TestRestartRequeuesInterruptedJobs(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, nil)
		j := r.create(api.NewJob{})
		synctest.Wait()
		run := r.runner.next()
		run.progress(Progress{BytesDone: 10, BytesExpected: 100, ResumeData: []byte("cp")})
		r.close() // stops the transfer as the daemon stopping
		r2 := newRig(t, dir, nil)
		defer r2.close()
		synctest.Wait()
		again := r2.runner.next()
		if again == nil || again.job.ID != j.ID || string(again.job.ResumeData) != "resume:"+j.ID {
			t.Fatalf("restart: %+v", again)
		}
		again.result <- Result{File: "/f", StatusCode: 200}
	})
}

func TestLaunchEventsRateLimited(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		type launch struct {
			at      time.Time
			session string
			argv    []string
		}
		launches := make(chan launch, 100)
		r := newRig(t, dir, func(c *Config) {
			c.Launch = func(s string, argv []string) error {
				launches <- launch{time.Now(), s, argv}
				return nil
			}
		})
		defer r.close()
		ctx := context.Background()
		if err := r.st.PutSession(ctx, api.Session{ID: "app", LaunchCommand: []string{"/usr/bin/app", "--bg"}, SendsLaunchEvents: true}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		j := r.create(api.NewJob{Session: "app"})
		synctest.Wait()
		r.runner.next().result <- Result{File: "/f", StatusCode: 200}
		var got []time.Duration
		for len(got) < 4 {
			time.Sleep(time.Second)
			synctest.Wait()
			select {
			case l := <-launches:
				if l.session != "app" || l.argv[0] != "/usr/bin/app" {
					t.Fatalf("launch %+v", l)
				}
				got = append(got, l.at.Sub(start).Round(time.Second))
			default:
			}
		}
		want := []time.Duration{time.Second, 61 * time.Second, 181 * time.Second, 421 * time.Second}
		for i := range want {
			if got[i] < want[i]-time.Second || got[i] > want[i]+time.Second {
				t.Fatalf("launch times %v, want about %v", got, want)
			}
		}
		// Once acknowledged, nothing is launched any more.
		evs := r.events("app")
		if err := r.srv.Ack(ctx, "app", evs[len(evs)-1].Seq); err != nil {
			t.Fatal(err)
		}
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		select {
		case l := <-launches:
			t.Fatalf("launched with nothing waiting: %+v", l)
		default:
		}
		_ = j
		// A session without launch events is never launched.
		r.st.PutSession(ctx, api.Session{ID: "quiet", LaunchCommand: []string{"/usr/bin/app"}})
		r.create(api.NewJob{Session: "quiet"})
		synctest.Wait()
		r.runner.next().result <- Result{File: "/f", StatusCode: 200}
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case l := <-launches:
			t.Fatalf("launched a quiet session: %+v", l)
		default:
		}
	})
}

func TestIdleExit(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, func(c *Config) { c.IdleTimeout = 5 * time.Minute; c.MinThroughput = -1 })
		defer r.close()
		j := r.create(api.NewJob{})
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case <-r.srv.Idle():
			t.Fatal("idle with a job running")
		default:
		}
		r.runner.next().result <- Result{File: "/f", StatusCode: 200}
		synctest.Wait()
		start := time.Now()
		<-r.srv.Idle()
		if d := time.Since(start); d < 5*time.Minute-time.Second || d > 5*time.Minute+time.Second {
			t.Fatalf("idle exit after %v, want 5m", d)
		}
		_ = j
	})
}

// finishAnyway finishes its transfer even when stopped.
type finishAnyway struct{ started chan struct{} }

func (f finishAnyway) Run(ctx context.Context, job api.Job, progress func(Progress)) Result {
	f.started <- struct{}{}
	<-ctx.Done()
	return Result{File: "/f", StatusCode: 200}
}

func TestCompletionWinsOverStop(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		fa := finishAnyway{started: make(chan struct{}, 1)}
		r := newRig(t, dir, func(c *Config) { c.Runner = fa })
		defer r.close()
		j := r.create(api.NewJob{})
		<-fa.started
		if _, err := r.srv.Pause(context.Background(), j.ID); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := r.job(j.ID); got.State != api.Completed {
			t.Fatalf("got %s, want completed", got.State)
		}
	})
}

func TestDestinationKeptAndHandedOver(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, nil)
		j := r.create(api.NewJob{Destination: "/home/u/big.iso"})
		if j.Destination != "/home/u/big.iso" || j.File == "" || j.File == j.Destination {
			t.Fatalf("created %+v, want the destination beside a file of the daemon's", j)
		}
		synctest.Wait()
		if run := r.runner.next(); run == nil || run.job.Destination != j.Destination {
			t.Fatalf("the runner got %+v, want the destination", run)
		}
		r.close()
		r2 := newRig(t, dir, nil)
		defer r2.close()
		synctest.Wait()
		again := r2.runner.next()
		if again == nil || again.job.Destination != j.Destination || again.job.File != j.File {
			t.Fatalf("after a restart the runner got %+v, want destination %s and file %s", again, j.Destination, j.File)
		}
		again.result <- Result{File: j.Destination, StatusCode: 200}
		synctest.Wait()
		evs := r2.events("s")
		if len(evs) != 2 || evs[0].Kind != api.FinishDownloading || evs[0].File != j.Destination || evs[1].Kind != api.Complete {
			t.Fatalf("events %+v, want finish-downloading naming %s, then complete", evs, j.Destination)
		}
	})
}

// A job that asks before it begins waits, when due, for the app's answer:
// one begin-delayed event, no run; then it starts as answered, with its
// request or another, or is cancelled. An answer to a job not waiting is
// a conflict. A question its process acknowledged is asked again when the
// session attaches, after a restart of the daemon too.
func TestAskBeforeBegin(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, func(c *Config) { c.MinThroughput = -1 })
		begin := time.Now().Add(time.Minute)
		ids := map[string]string{}
		for _, name := range []string{"go", "other", "cancel", "open"} {
			j := r.create(api.NewJob{EarliestBegin: begin, AskBeforeBegin: true, Request: api.Request{URL: "https://example.com/" + name}})
			ids[name] = j.ID
		}
		plain := r.create(api.NewJob{})
		synctest.Wait()
		if run := r.runner.next(); run == nil || run.job.ID != plain.ID {
			t.Fatalf("the job that asks nothing did not start first: %+v", run)
		}
		if _, err := r.srv.Begin(context.Background(), ids["go"], &api.Begin{Disposition: api.BeginContinue}); !errors.Is(err, api.ErrConflict) {
			t.Errorf("an answer before the question: %v, want a conflict", err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if run := r.runner.next(); run != nil {
			t.Fatalf("%s started before its answer", run.job.Request.URL)
		}
		asked := map[string]bool{}
		for _, e := range r.events("s") {
			if e.Kind == api.BeginDelayed {
				if asked[e.Job] {
					t.Errorf("job %s asked twice", e.Job)
				}
				asked[e.Job] = true
			}
		}
		for name, id := range ids {
			if j := r.job(id); !asked[id] || !j.Asking || j.State != api.Queued {
				t.Errorf("%s: asked %t, job %+v; want asked and waiting", name, asked[id], j)
			}
		}

		ctx := context.Background()
		if _, err := r.srv.Begin(ctx, ids["go"], &api.Begin{Disposition: api.BeginContinue}); err != nil {
			t.Fatal(err)
		}
		newReq := api.Request{Method: "GET", URL: "https://example.com/instead"}
		if _, err := r.srv.Begin(ctx, ids["other"], &api.Begin{Disposition: api.BeginUseNewRequest, Request: &newReq}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.srv.Begin(ctx, ids["cancel"], &api.Begin{Disposition: api.BeginCancel}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		started := map[string]bool{}
		for run := r.runner.next(); run != nil; run = r.runner.next() {
			started[run.job.Request.URL] = true
		}
		if !started["https://example.com/go"] || !started["https://example.com/instead"] || len(started) != 2 {
			t.Errorf("started %v, want go and instead", started)
		}
		if j := r.job(ids["cancel"]); j.State != api.Cancelled || j.ErrorCode != codeCancelled {
			t.Errorf("cancelled job %+v", j)
		}
		if _, err := r.srv.Begin(ctx, ids["go"], &api.Begin{Disposition: api.BeginContinue}); !errors.Is(err, api.ErrConflict) {
			t.Errorf("a second answer: %v, want a conflict", err)
		}

		// The open question, acknowledged, is asked again at the next
		// attachment, by this daemon and by the next one.
		last := r.events("s")[len(r.events("s"))-1].Seq
		if err := r.srv.Ack(ctx, "s", last); err != nil {
			t.Fatal(err)
		}
		countAsks := func(r *rig) int {
			n := 0
			for _, e := range r.events("s") {
				if e.Kind == api.BeginDelayed && e.Job == ids["open"] {
					n++
				}
			}
			return n
		}
		r.srv.mu.Lock()
		r.srv.askAgainLocked(ctx, "s", last)
		r.srv.askAgainLocked(ctx, "s", last) // the new question waits: not again
		r.srv.mu.Unlock()
		if n := countAsks(r); n != 1 {
			t.Errorf("%d questions waiting after the reattachment, want 1", n)
		}
		r.close()
		r2 := newRig(t, dir, func(c *Config) { c.MinThroughput = -1 })
		defer r2.close()
		r2.srv.mu.Lock()
		r2.srv.askAgainLocked(ctx, "s", last) // still waiting: not asked again
		r2.srv.mu.Unlock()
		if n := countAsks(r2); n != 1 {
			t.Errorf("%d questions waiting after the restart, want 1", n)
		}
		if j := r2.job(ids["open"]); !j.Asking {
			t.Errorf("after the restart the job %+v no longer waits for its answer", j)
		}
	})
}

// A job's complete event carries the metrics of its runs, the ones before
// a retry included, in order.
func TestMetricsOfEveryRun(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, dir, nil)
		defer r.close()
		j := r.create(api.NewJob{})
		tx := func(u string) api.Transaction { return api.Transaction{Method: "GET", URL: u} }
		synctest.Wait()
		run := r.runner.next()
		run.result <- Result{Err: &TransferError{Code: -1005, Message: "lost"}, ResumeData: []byte("rd"),
			Metrics: &api.Metrics{RedirectCount: 1, Transactions: []api.Transaction{tx("http://a/"), tx("http://b/")}}}
		synctest.Wait()
		for run = r.runner.next(); run == nil; run = r.runner.next() {
			time.Sleep(time.Second) // the retry's backoff
			synctest.Wait()
		}
		run.result <- Result{StatusCode: 200, Metrics: &api.Metrics{RedirectCount: 0, Transactions: []api.Transaction{tx("http://b/")}}}
		synctest.Wait()
		var got *api.Metrics
		for _, e := range r.events("s") {
			if e.Job == j.ID && e.Metrics != nil {
				got = e.Metrics
			}
		}
		if got == nil || got.RedirectCount != 0 || len(got.Transactions) != 3 ||
			got.Transactions[0].URL != "http://a/" || got.Transactions[2].URL != "http://b/" {
			t.Fatalf("complete event metrics %+v, want the three requests of both runs and the last run's redirect count", got)
		}
	})
}

func TestMetricsAppendBound(t *testing.T) {
	var m *api.Metrics
	for i := range api.MaxTransactions + 5 {
		m = m.Append(&api.Metrics{RedirectCount: i, Transactions: []api.Transaction{{URL: strconv.Itoa(i)}}})
	}
	if len(m.Transactions) != api.MaxTransactions || m.Transactions[0].URL != "5" || m.RedirectCount != api.MaxTransactions+4 {
		t.Errorf("%d transactions from %s, redirect count %d", len(m.Transactions), m.Transactions[0].URL, m.RedirectCount)
	}
	if m.Append(nil) != m {
		t.Error("appending nothing changed the metrics")
	}
}
