package segment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of [Config].
const (
	DefaultRetries    = 5
	DefaultMinSplit   = 1 << 20
	DefaultBufferSize = 256 << 10
)

// Config configures an [Executor]. Fetch and Dst are required; every other
// field has a documented default for its zero value.
type Config struct {
	// Fetch requests the range r of the body (with a "Range: r.Header()"
	// request header, plus whatever validators the caller needs, such as
	// If-Range) and returns the response. The Executor closes its body. It
	// is called concurrently from several goroutines.
	Fetch func(ctx context.Context, r Range) (*http.Response, error)

	// Dst receives the body, each byte at its offset. WriteAt is called
	// concurrently for disjoint ranges, as io.WriterAt allows (an *os.File
	// qualifies).
	Dst io.WriterAt

	// Initial, if not nil, is a response already received to a request
	// for the whole body as a range ("Range: bytes=0-", a 206 whose
	// Content-Range must be "bytes 0-(Total-1)/Total"), or the 200 of a
	// server that ignored it. It becomes the first segment's stream, read
	// up to that segment's end (or a split's): started as Plan(total, 1,
	// ...) with several Connections, the others split it as they join, as
	// aria2 does. Run closes its body. If the first segment has already
	// begun, Initial is closed unused.
	Initial *http.Response

	// Connections is the number of ranges fetched at once. Zero or less
	// means one per unfinished segment of the initial State.
	Connections int

	// Retries is how many times in a row a segment retries after a
	// transient failure without any byte written in between; progress
	// resets the count. Zero means [DefaultRetries]; negative, no retries.
	Retries int

	// Transient reports whether err (from Fetch, from reading a body, or a
	// [*StatusError]) is worth retrying. nil means [DefaultTransient].
	// Errors writing to Dst, Content-Range mismatches and changes of length
	// are never retried.
	Transient func(err error) bool

	// Backoff returns the wait before the given retry (1 for the first).
	// nil means 250 ms doubling up to 8 s.
	Backoff func(retry int) time.Duration

	// Limiter limits the download's reads, shared fairly among its
	// connections; nil is unlimited.
	Limiter *Limiter

	// Progress, if not nil, is called after bytes reach Dst with the total
	// written so far ([State.Written]). Calls are serialised and in order,
	// so totals never go backwards, except to 0 when a server ignoring
	// ranges forces a restart from the first byte. It must return quickly:
	// connections wait for it.
	Progress func(written int64)

	// MinSplit: when a connection has no segment left to fetch, it splits
	// the segment with the most bytes remaining in two (as aria2 does), if
	// at least 2*MinSplit bytes remain there. Zero means
	// [DefaultMinSplit]; negative, never split.
	MinSplit int64

	// IdleTimeout, if positive, ends an attempt that waits that long for
	// its response or for the next bytes of its body, with an error
	// wrapping [ErrStalled], which [DefaultTransient] retries. Zero leaves
	// stalls to Fetch's client (its transport's timeouts and ctx).
	IdleTimeout time.Duration

	// BufferSize is each connection's read buffer: bytes reach Dst at least
	// every BufferSize bytes received. Zero means [DefaultBufferSize].
	BufferSize int
}

// MaxRetryAfter caps the wait a Retry-After header can ask for.
const MaxRetryAfter = time.Minute

// StatusError reports a response to a range request that was neither 206
// nor 200. A retry after it waits at least RetryAfter (up to
// [MaxRetryAfter]).
type StatusError struct {
	Range      Range
	Code       int
	RetryAfter time.Duration // from a Retry-After header; 0 when absent
}

// Error states the range and the status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("segment: range %s answered with status %d", e.Range.Header(), e.Code)
}

// ContentRangeError reports a 206 whose Content-Range is not the range
// asked for with the known total length.
type ContentRangeError struct {
	Asked        Range
	Total        int64
	ContentRange string // as received
}

// Error states the range asked for and the Content-Range received.
func (e *ContentRangeError) Error() string {
	return fmt.Sprintf("segment: asked for %s of %d bytes, got Content-Range %q", e.Asked.Header(), e.Total, e.ContentRange)
}

// ErrLengthChanged reports a complete (200) response whose length differs
// from the State's total: the resource changed.
var ErrLengthChanged = errors.New("segment: the resource's length changed")

// DefaultTransient reports whether err is worth retrying: a lost or refused
// connection, a body cut short, a timeout, a stall ([ErrStalled]), or a
// [*StatusError] with status
// 408, 429, 500, 502, 503 or 504. Context cancellation is not transient.
func DefaultTransient(err error) bool {
	if errors.Is(err, ErrStalled) {
		return true // it wraps the cancellation that ended the attempt
	}
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case 408, 429, 500, 502, 503, 504:
			return true
		}
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// ErrStalled is wrapped by the error of an attempt that waited longer than
// Config.IdleTimeout for a response or for body bytes.
var ErrStalled = errors.New("segment: no data within the idle timeout")

// watchdog ends an attempt that waits for the network longer than d. A nil
// *watchdog (no timeout) does nothing.
type watchdog struct {
	d     time.Duration
	t     *time.Timer
	fired atomic.Bool
}

func newWatchdog(d time.Duration, abort func()) *watchdog {
	if d <= 0 {
		return nil
	}
	w := &watchdog{d: d}
	w.t = time.AfterFunc(d, func() {
		w.fired.Store(true)
		abort()
	})
	w.t.Stop()
	return w
}

// arm starts the countdown; disarm stops it.
func (w *watchdog) arm() {
	if w != nil {
		w.t.Reset(w.d)
	}
}

func (w *watchdog) disarm() {
	if w != nil {
		w.t.Stop()
	}
}

// wrap marks err as caused by the timeout when the watchdog fired.
func (w *watchdog) wrap(err error) error {
	if w != nil && err != nil && w.fired.Load() {
		return fmt.Errorf("%w after %v: %w", ErrStalled, w.d, err)
	}
	return err
}

// idleReader runs its watchdog only while waiting in Read, so time spent
// elsewhere (in a Limiter, writing to Dst) never counts as a stall.
type idleReader struct {
	r  io.Reader
	wd *watchdog
}

func (ir idleReader) Read(p []byte) (int, error) {
	ir.wd.arm()
	n, err := ir.r.Read(p)
	ir.wd.disarm()
	return n, ir.wd.wrap(err)
}

// fatalError marks an error that is never retried.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }
func (e fatalError) Unwrap() error { return e.err }

// errFallback is how a connection that got a 200 to a range request hands
// its response to Run.
var errFallback = errors.New("segment: server ignored the range")

// seg is a Segment being run.
type seg struct {
	Segment
	active  bool  // a connection owns it
	pending int64 // bytes being written past Done
}

// Executor runs a segmented download to completion. Create it with
// [NewExecutor] and call Run; State and FellBack may be called at any time
// from any goroutine.
//
// Each connection takes an unfinished segment, fetches its remaining range
// and writes the bytes at their offsets. A 206 must carry exactly the
// Content-Range asked for (else a [*ContentRangeError]). A transient failure
// (see [Config.Transient]) is retried from the first byte not yet written,
// after a backoff, by that segment alone. A 200 to a range request means the
// server ignores ranges: the Executor stops the other connections and
// continues as one stream from byte 0 over the same response, the State
// collapsing to a single segment; FellBack then reports true. A 200 whose
// length differs from the total gives [ErrLengthChanged].
type Executor struct {
	cfg   Config
	total int64

	mu       sync.Mutex
	segs     []*seg // in order of Start; they tile [0, total)
	noSplit  bool
	fellBack bool
	fbResp   *http.Response // a 200 waiting for Run
	fbCancel func()         // ends fbResp's request

	pmu sync.Mutex // serialises Progress
}

// NewExecutor returns an Executor that continues st (from [Plan] or a saved
// State) with cfg. It validates st and cfg.
func NewExecutor(cfg Config, st State) (*Executor, error) {
	if cfg.Fetch == nil || cfg.Dst == nil {
		return nil, errors.New("segment: Config.Fetch and Config.Dst are required")
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	if cfg.Transient == nil {
		cfg.Transient = DefaultTransient
	}
	if cfg.Backoff == nil {
		cfg.Backoff = func(retry int) time.Duration {
			return min(250*time.Millisecond<<min(retry-1, 10), 8*time.Second)
		}
	}
	if cfg.MinSplit == 0 {
		cfg.MinSplit = DefaultMinSplit
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = DefaultBufferSize
	}
	e := &Executor{cfg: cfg, total: st.Total, noSplit: cfg.MinSplit < 0}
	for _, g := range st.Segments {
		e.segs = append(e.segs, &seg{Segment: g})
	}
	return e, nil
}

// State returns a snapshot of the download's progress: what is in Dst (a
// write in progress is not counted until it completes).
func (e *Executor) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := State{Total: e.total, Segments: make([]Segment, len(e.segs))}
	for i, s := range e.segs {
		st.Segments[i] = s.Segment
	}
	return st
}

// FellBack reports whether the server answered a range request with the
// whole body, so that the download went on as one stream.
func (e *Executor) FellBack() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fellBack
}

// Run fetches every byte not yet written and returns nil once the State is
// complete, or the first permanent error (or ctx's error) after stopping
// every connection. Either way [Executor.State] then describes exactly what
// Dst holds, ready to be saved for a later resume. Run returns only once all
// its goroutines have ended. Run may be called again after it returns, to
// try again from where it stopped, but never concurrently.
func (e *Executor) Run(ctx context.Context) error {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	workers := e.cfg.Connections
	if workers < 1 {
		workers = 0
		for _, g := range e.State().Segments {
			if g.Done < g.End-g.Start {
				workers++
			}
		}
	}
	workers = max(min(workers, MaxSegments), 1)

	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	initial, initialSeg := e.takeInitial()
	for w := range workers {
		wg.Go(func() {
			for {
				var s *seg
				var resp *http.Response
				if w == 0 && initialSeg != nil {
					s, resp, initialSeg = initialSeg, initial, nil
				} else if s = e.next(wctx); s == nil {
					return
				}
				err := e.runSegment(wctx, s, resp, Range{0, e.total})
				if err != nil {
					// The run stops before the segment is given back: no
					// other connection may take it up meanwhile.
					errMu.Lock()
					if firstErr == nil && wctx.Err() == nil {
						firstErr = err
					}
					errMu.Unlock()
					cancel(err)
					e.release(s)
					if testHookFailedReleased != nil {
						testHookFailedReleased(e, wctx)
					}
					return
				}
				e.release(s)
			}
		})
	}
	wg.Wait()

	e.mu.Lock()
	resp, respCancel := e.fbResp, e.fbCancel
	e.fbResp, e.fbCancel = nil, nil
	e.mu.Unlock()
	if errors.Is(firstErr, errFallback) && resp == nil {
		// Lost only if the connections were being stopped anyway.
		if err := ctx.Err(); err != nil {
			return err
		}
		return errors.New("segment: the server ignored a range and its response was lost")
	}
	if resp != nil {
		defer respCancel()
		if errors.Is(firstErr, errFallback) {
			// Every other connection has stopped: go on as one stream.
			stop := context.AfterFunc(ctx, respCancel)
			defer stop()
			return e.runFallback(ctx, resp)
		}
		resp.Body.Close()
	}
	if firstErr != nil {
		return firstErr
	}
	st := e.State()
	if st.Complete() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Unreachable unless a segment was lost; never report success.
	return fmt.Errorf("segment: stopped with %d of %d bytes written", st.Written(), st.Total)
}

// takeInitial claims the segment starting at byte 0 for Config.Initial, if
// it is unstarted, and forgets Config.Initial. Otherwise it closes the
// response.
func (e *Executor) takeInitial() (*http.Response, *seg) {
	e.mu.Lock()
	defer e.mu.Unlock()
	resp := e.cfg.Initial
	e.cfg.Initial = nil
	if resp == nil {
		return nil, nil
	}
	if s := e.segs[0]; !s.active && s.Done == 0 {
		s.active = true
		return resp, s
	}
	resp.Body.Close()
	return nil, nil
}

// runFallback collapses the State to one segment and streams resp, a 200,
// from byte 0, retrying like any segment.
func (e *Executor) runFallback(ctx context.Context, resp *http.Response) error {
	e.mu.Lock()
	s := &seg{Segment: Segment{Start: 0, End: e.total}, active: true}
	e.segs = []*seg{s}
	e.noSplit = true
	e.fellBack = true
	e.mu.Unlock()
	e.progress()
	err := e.runSegment(ctx, s, resp, Range{0, e.total})
	e.release(s)
	return err
}

// testHookFailedReleased, when not nil, runs once a connection whose
// segment failed has given it back.
var testHookFailedReleased func(e *Executor, ctx context.Context)

// next claims a segment for a connection: the first unfinished one nobody
// runs, else the second half of the segment with the most bytes remaining,
// else nil. It claims none once ctx, the run's, is done.
func (e *Executor) next(ctx context.Context) *seg {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fbResp != nil || ctx.Err() != nil {
		return nil
	}
	for _, s := range e.segs {
		if !s.active && s.Done < s.End-s.Start {
			s.active = true
			return s
		}
	}
	if e.noSplit || len(e.segs) >= MaxSegments {
		return nil
	}
	var big *seg
	var most int64
	for _, s := range e.segs {
		if rem := s.End - (s.Start + s.Done + s.pending); s.active && rem > most {
			big, most = s, rem
		}
	}
	if big == nil || most < 2*e.cfg.MinSplit {
		return nil
	}
	mid := big.End - most/2
	ns := &seg{Segment: Segment{Start: mid, End: big.End}, active: true}
	big.End = mid
	for i, s := range e.segs {
		if s == big {
			e.segs = append(e.segs[:i+1], append([]*seg{ns}, e.segs[i+1:]...)...)
			break
		}
	}
	return ns
}

// release gives s back after its connection stopped working on it.
func (e *Executor) release(s *seg) {
	e.mu.Lock()
	s.active = false
	e.mu.Unlock()
}

// progress reports the total written to Config.Progress.
func (e *Executor) progress() {
	if e.cfg.Progress == nil {
		return
	}
	e.pmu.Lock()
	defer e.pmu.Unlock()
	e.mu.Lock()
	var n int64
	for _, s := range e.segs {
		n += s.Done
	}
	e.mu.Unlock()
	e.cfg.Progress(n)
}

// runSegment fetches what remains of s, retrying transient failures. resp,
// if not nil, is a response to the range asked to use first.
func (e *Executor) runSegment(ctx context.Context, s *seg, resp *http.Response, asked Range) error {
	failures := 0
	var best int64 // the most of s ever written: progress is going past it
	for {
		e.mu.Lock()
		r := s.Remaining()
		best = max(best, s.Done)
		e.mu.Unlock()
		if r.Len() <= 0 {
			return nil
		}
		_, err := e.attempt(ctx, s, r, resp, asked)
		resp = nil
		e.mu.Lock()
		progressed := s.Done > best
		e.mu.Unlock()
		if err == nil {
			continue
		}
		if errors.Is(err, errFallback) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fe fatalError
		if errors.As(err, &fe) {
			return fe.err
		}
		if !e.cfg.Transient(err) {
			return err
		}
		if progressed {
			failures = 0
		}
		failures++
		if failures > e.cfg.Retries {
			return fmt.Errorf("segment: range %s: giving up after %d attempts: %w", r.Header(), failures, err)
		}
		wait := e.cfg.Backoff(failures)
		var se *StatusError
		if errors.As(err, &se) && se.RetryAfter > wait {
			wait = min(se.RetryAfter, MaxRetryAfter)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// attempt makes one request for r (or uses resp) and copies what arrives
// into s. It reports whether any byte was written.
func (e *Executor) attempt(ctx context.Context, s *seg, r Range, resp *http.Response, asked Range) (bool, error) {
	// The request gets a context of its own, so that a 200 handed over to
	// Run outlives the connections' context, which Run then cancels.
	rctx, rcancel := context.WithCancel(context.WithoutCancel(ctx))
	var (
		bodyMu sync.Mutex
		body   io.Closer
	)
	// Closing the body too ends a read of a response whose request's
	// context the Executor does not own (Config.Initial).
	abort := func() {
		rcancel()
		bodyMu.Lock()
		b := body
		bodyMu.Unlock()
		if b != nil {
			b.Close()
		}
	}
	wd := newWatchdog(e.cfg.IdleTimeout, abort)
	defer wd.disarm()
	if resp == nil {
		var err error
		wd.arm()
		resp, err = e.cfg.Fetch(rctx, r)
		wd.disarm()
		if err != nil {
			rcancel()
			return false, wd.wrap(err)
		}
		asked = r
	}
	bodyMu.Lock()
	body = resp.Body
	bodyMu.Unlock()
	if wd != nil && wd.fired.Load() {
		body.Close()
	}
	src := io.Reader(resp.Body)
	if wd != nil {
		src = idleReader{resp.Body, wd}
	}
	stop := context.AfterFunc(ctx, abort)
	handedOver := false
	defer func() {
		if !handedOver {
			stop()
			abort()
		}
	}()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		if !contentRangeIs(cr, asked, e.total) {
			return false, fatalError{&ContentRangeError{Asked: asked, Total: e.total, ContentRange: cr}}
		}
		return e.copy(ctx, s, src)
	case http.StatusOK:
		if resp.ContentLength >= 0 && resp.ContentLength != e.total {
			return false, fatalError{fmt.Errorf("%w: a complete response of %d bytes, expected %d", ErrLengthChanged, resp.ContentLength, e.total)}
		}
		e.mu.Lock()
		single := len(e.segs) == 1
		if single {
			// The whole body again, from byte 0.
			s.Done = 0
		} else if e.fbResp == nil && stop() {
			e.fbResp, e.fbCancel = resp, abort
			handedOver = true
		}
		e.mu.Unlock()
		if !single {
			return false, errFallback
		}
		e.progress()
		progressed, err := e.copy(ctx, s, src)
		if err == nil {
			// The body must end where the representation does.
			var one [1]byte
			if n, _ := io.ReadFull(src, one[:]); n > 0 {
				return progressed, fatalError{fmt.Errorf("%w: a complete response longer than %d bytes", ErrLengthChanged, e.total)}
			}
		}
		return progressed, err
	default:
		return false, &StatusError{Range: r, Code: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
}

// copy reads body into s at its current position until s is complete (or
// cut short by a split), the body fails or ends early (io.ErrUnexpectedEOF).
func (e *Executor) copy(ctx context.Context, s *seg, body io.Reader) (progressed bool, err error) {
	src := body
	if e.cfg.Limiter != nil {
		src = NewReader(ctx, body, e.cfg.Limiter)
	}
	buf := make([]byte, e.cfg.BufferSize)
	for {
		e.mu.Lock()
		pos := s.Start + s.Done
		want := min(s.End-pos, int64(len(buf)))
		e.mu.Unlock()
		if want <= 0 {
			return progressed, nil
		}
		n, rerr := io.ReadFull(src, buf[:want])
		if n > 0 {
			e.mu.Lock()
			// A split may have moved End meanwhile; never write past it.
			n = int(min(int64(n), s.End-pos))
			s.pending = int64(n)
			e.mu.Unlock()
			w, werr := e.cfg.Dst.WriteAt(buf[:n], pos)
			e.mu.Lock()
			s.Done += int64(w)
			s.pending = 0
			e.mu.Unlock()
			if w > 0 {
				progressed = true
				e.progress()
			}
			if werr == nil && w < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return progressed, fatalError{fmt.Errorf("segment: writing at offset %d: %w", pos+int64(w), werr)}
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			if ctx.Err() != nil {
				return progressed, ctx.Err()
			}
			e.mu.Lock()
			finished := s.Start+s.Done >= s.End
			e.mu.Unlock()
			if finished {
				return progressed, nil
			}
			return progressed, rerr
		}
	}
}

// contentRangeIs reports whether a Content-Range value is exactly
// "bytes r.Start-(r.End-1)/total" (or with "*" as the complete length).
func contentRangeIs(v string, r Range, total int64) bool {
	cr, err := ParseContentRange(v)
	return err == nil && !cr.Unsatisfied && cr.Range == r && (cr.Total == total || cr.Total < 0)
}

// ContentRange is a parsed Content-Range header value (RFC 9110 section
// 14.4).
type ContentRange struct {
	Range             // the bytes the response carries; zero when Unsatisfied
	Total       int64 // the complete length; -1 for "*"
	Unsatisfied bool  // "bytes */Total", as in a 416
}

// ErrContentRange is wrapped by the errors of [ParseContentRange].
var ErrContentRange = errors.New("segment: malformed Content-Range")

// ParseContentRange parses "bytes FIRST-LAST/TOTAL", "bytes FIRST-LAST/*"
// or "bytes */TOTAL". It requires FIRST <= LAST, and LAST < TOTAL when
// TOTAL is known; numbers are plain decimal digits.
func ParseContentRange(v string) (ContentRange, error) {
	bad := func() (ContentRange, error) {
		return ContentRange{}, fmt.Errorf("%w: %q", ErrContentRange, v)
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !ok {
		return bad()
	}
	span, length, ok := strings.Cut(rest, "/")
	if !ok {
		return bad()
	}
	cr := ContentRange{Total: -1}
	if length != "*" {
		t, ok := parseDigits(length)
		if !ok {
			return bad()
		}
		cr.Total = t
	}
	if span == "*" {
		if cr.Total < 0 {
			return bad()
		}
		cr.Unsatisfied = true
		return cr, nil
	}
	first, last, ok := strings.Cut(span, "-")
	if !ok {
		return bad()
	}
	f, ok1 := parseDigits(first)
	l, ok2 := parseDigits(last)
	if !ok1 || !ok2 || f > l || l == 1<<63-1 || (cr.Total >= 0 && l >= cr.Total) {
		return bad()
	}
	cr.Range = Range{Start: f, End: l + 1}
	return cr, nil
}

// parseDigits parses a non-empty string of ASCII digits that fits an int64.
func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// retryAfter reads a Retry-After value (RFC 9110 section 10.2.3): a number
// of seconds or an HTTP-date. Anything else, or a date in the past, gives 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}
