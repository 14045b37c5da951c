package urlsession

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/pipeline"
)

// TaskState is where a task is in its life. The values are Apple's.
//
//	            Resume                 body read, error or timeout
//	suspended ─────────▶ running ─────────────────────────────────▶ completed
//	    ▲  │◀───────────   │                                            ▲
//	    │  │   Suspend     │ Cancel                                     │
//	    │  └───────────────┴──────────▶ canceling ──────────────────────┘
//	 created                            (completes with ErrCancelled)
type TaskState int

const (
	// TaskRunning: the task is loading (or waiting to be scheduled).
	TaskRunning TaskState = 0
	// TaskSuspended: the task is not loading. New tasks start suspended;
	// a suspended task is not subject to timeouts.
	TaskSuspended TaskState = 1
	// TaskCanceling: Cancel was called and completion is on its way.
	TaskCanceling TaskState = 2
	// TaskCompleted: the task finished; Err tells how.
	TaskCompleted TaskState = 3
)

// String returns "running", "suspended", "canceling" or "completed".
func (s TaskState) String() string {
	switch s {
	case TaskRunning:
		return "running"
	case TaskSuspended:
		return "suspended"
	case TaskCanceling:
		return "canceling"
	case TaskCompleted:
		return "completed"
	}
	return fmt.Sprintf("TaskState(%d)", int(s))
}

// Task priorities, Apple's values. Priority is a hint between 0 and 1.
const (
	LowPriority     float32 = 0.25
	DefaultPriority float32 = 0.5
	HighPriority    float32 = 0.75
)

// TransferSizeUnknown is the byte count of a size that is not known (Apple's
// NSURLSessionTransferSizeUnknown).
const TransferSizeUnknown int64 = -1

// Task is what every kind of task shares: Apple's URLSessionTask. Tasks are
// created suspended by a Session's factory methods (DataTask, UploadTask,
// ...); Resume starts them. All methods are safe for concurrent use.
type Task struct {
	session  *Session
	id       int
	data     *DataTask // the data task this Task belongs to: &dataTask
	dataTask DataTask
	upload   *UploadTask // non-nil for upload tasks
	opts     RequestOptions
	orig     *http.Request
	body     bodySource
	deliver  delivery

	// Received while loading; written by the run goroutine only.
	call  pipeline.Call
	dels  taskDelegates             // valid once resolved is set
	extra atomic.Pointer[taskExtra] // what few tasks need; made on first use (see more)

	sent, expectedSend     atomic.Int64
	received, expectedRecv atomic.Int64
	lastActivity           atomic.Int64 // monoNow at the last data moved
	inDelegate             atomic.Int32 // waits on the delegate in progress
	paused                 atomic.Bool  // state is TaskSuspended (read without mu)
	holding                atomic.Bool  // held is not empty (read without mu)
	noClientCert           atomic.Bool  // see refusedClientCertificate

	mu           sync.Mutex
	state        TaskState
	suspendCount int32
	priority     float32
	resumeCh     chan struct{} // closed while running
	ctx          taskContext   // set up when the task starts
	timer        *time.Timer   // the idle and resource timeouts, or nil
	resLeft      time.Duration // resource time left, while not running
	resDeadline  int64         // monoNow when the resource timeout passes, while running
	startTime    time.Time
	delegate     any
	current      *http.Request
	response     *http.Response
	err          *Error
	res          keptResult // the outcome, with delivery.keep
	// base is the context of a context-first call, which the task runs
	// under instead of the request's; it is set before the task starts.
	base context.Context
	// The flags, kept together so that a Task stays within its allocation
	// size class (see TestTaskSizeClass).
	started      bool
	timing       bool // the timeouts run: the task is running
	lazy         bool // timing without a timer yet (see watchInterval)
	waitedNet    bool
	orphan       bool                          // created on an invalidated session
	ownGoroutine bool                          // run on a goroutine Resume started (set before it starts)
	ran          bool                          // call is in use: run began (the running goroutine's)
	resolved     bool                          // dels is valid (the running goroutine's)
	done         atomic.Pointer[chan struct{}] // Done's channel, made when first asked for (see closeDone)
}

// delivery says where a task's results go.
type delivery struct {
	// handler replaces the response, data and completion callbacks.
	handler func(body []byte, resp *http.Response, err error)
	// result, for Bytes, gets the outcome directly.
	result chan<- taskResult
	// keep, for Data and Upload, keeps the outcome in the task (res) for
	// the caller, which runs the task on its own goroutine.
	keep bool
	// stream hands the body to a BodyStream instead of reading it.
	stream chan<- *BodyStream
}

type taskResult struct {
	body []byte
	resp *http.Response
	err  error
}

// keptResult is the outcome a task keeps for a context-first caller
// (delivery.keep); its error is the task's.
type keptResult struct {
	body []byte
	resp *http.Response
}

func (d *delivery) buffered() bool { return d.handler != nil || d.keep }

// Errors a task is cancelled or timed out with.
var (
	errCancelled = fail.New(int(ErrCancelled), errors.New("the task was cancelled"))
	errTimedOut  = fail.New(int(ErrTimedOut), errors.New("the request timed out"))
	errResource  = fail.New(int(ErrTimedOut), errors.New("the resource timeout passed"))
)

// ErrSessionInvalidated is the cause (see Error.Err) of the error of a task
// created on a session that was already invalidated, a programmer error in
// Apple's API. Such a task is returned already completed with code
// ErrCancelled; Resume does nothing and its completion handler, if any, is
// called once with the error.
var ErrSessionInvalidated = errors.New("urlsession: task created on an invalidated session")

// ErrTaskStarted is returned by SetDelegate once the task was resumed.
var ErrTaskStarted = errors.New("urlsession: the task was already resumed")

// TaskIdentifier returns the task's identifier, unique among the session's
// tasks. In a background session, the task made for a transfer the daemon
// already had (after a restart) keeps the identifier of the task that
// created the transfer, as Apple's background sessions keep it across
// launches, unless a task of the session already has it; the session's new
// tasks are numbered after it.
func (t *Task) TaskIdentifier() int { return t.id }

// Session returns the session that created the task.
func (t *Task) Session() *Session { return t.session }

// State returns the task's state.
func (t *Task) State() TaskState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

// TaskDescription returns the description set with SetTaskDescription (or
// WithTaskDescription). A background session's task made when the session
// reattaches to the daemon has the description its task had when first
// resumed.
func (t *Task) TaskDescription() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if x := t.extra.Load(); x != nil {
		return x.description
	}
	return ""
}

// SetTaskDescription sets a free-form description of the task for the
// caller's use, Apple's taskDescription. In a background session the
// daemon keeps the description a task has when it is first resumed (64 KiB
// at most: a longer one fails the task), so that the task made for the
// same transfer after the program restarts has it too: an app's way to
// recognise its transfers. A description set after the first Resume stays
// with this Task only.
func (t *Task) SetTaskDescription(s string) {
	t.mu.Lock()
	t.more().description = s
	t.mu.Unlock()
}

// Priority returns the task's priority, DefaultPriority unless set.
func (t *Task) Priority() float32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.priority
}

// SetPriority sets the task's priority hint, clamped to [0, 1]. Priority is
// advisory: it does not reorder requests already sent.
func (t *Task) SetPriority(p float32) {
	t.mu.Lock()
	t.priority = min(max(p, 0), 1)
	t.mu.Unlock()
}

// Delegate returns the per-task delegate, or nil.
func (t *Task) Delegate() any {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.delegate
}

// SetDelegate sets the per-task delegate, which gets first refusal on every
// task callback (see the delegate interfaces). It must be called before the
// first Resume; afterwards it returns ErrTaskStarted and changes nothing.
// When d has a method named like a callback whose signature is not the
// callback's, SetDelegate returns a *DelegateError: d is set all the same
// and the task, once resumed, completes with that error (code ErrUnknown).
func (t *Task) SetDelegate(d any) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return ErrTaskStarted
	}
	t.delegate = d
	return checkDelegate(d)
}

// OriginalRequest returns the request the task was created with. It may be
// nil for a task created with a nil request.
func (t *Task) OriginalRequest() *http.Request { return t.orig }

// CurrentRequest returns the request being loaded: the original request
// until a redirect is followed, then the redirected request.
func (t *Task) CurrentRequest() *http.Request {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.current
}

// Response returns the final response once its headers arrived, or nil. Its
// body belongs to the session.
func (t *Task) Response() *http.Response {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.response
}

// Err returns the error the task completed with: nil while it runs and
// when it succeeded, an *Error otherwise.
func (t *Task) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.errLocked()
}

// errLocked is Err for a caller holding t.mu.
func (t *Task) errLocked() error {
	if t.err == nil {
		return nil
	}
	return t.err
}

// CountOfBytesReceived returns the number of body bytes received so far,
// after content decoding.
func (t *Task) CountOfBytesReceived() int64 { return t.received.Load() }

// CountOfBytesExpectedToReceive returns the body length the response
// announced, or TransferSizeUnknown (-1) when it is not known: before the
// response, without a Content-Length, or for a compressed body.
func (t *Task) CountOfBytesExpectedToReceive() int64 { return t.expectedRecv.Load() }

// CountOfBytesSent returns the number of request body bytes sent so far.
func (t *Task) CountOfBytesSent() int64 { return t.sent.Load() }

// CountOfBytesExpectedToSend returns the request body's length, 0 for no
// body, or TransferSizeUnknown (-1) for a stream of unknown length.
func (t *Task) CountOfBytesExpectedToSend() int64 { return t.expectedSend.Load() }

// Progress returns the fraction of the task done, between 0 and 1: the
// response body's progress when its length is known, otherwise the request
// body's while it is being sent, and 1 once the task completed.
func (t *Task) Progress() float64 {
	if t.State() == TaskCompleted {
		return 1
	}
	if exp := t.expectedRecv.Load(); exp > 0 {
		return min(float64(t.received.Load())/float64(exp), 1)
	}
	if t.Response() == nil {
		if exp := t.expectedSend.Load(); exp > 0 {
			return min(float64(t.sent.Load())/float64(exp), 1)
		}
	}
	return 0
}

// Done returns a channel that is closed once the task completed and its
// completion callback (DidCompleteWithError or the completion handler) has
// returned. In a background session it is also closed, without a
// callback, for a task the session left to the daemon when
// FinishTasksAndInvalidate detached it (see BackgroundConfiguration).
func (t *Task) Done() <-chan struct{} {
	if p := t.done.Load(); p != nil {
		return *p
	}
	ch := make(chan struct{})
	if t.done.CompareAndSwap(nil, &ch) {
		return ch
	}
	return *t.done.Load()
}

// closedDone is the channel Done returns for a task that completed before
// anyone asked for it.
var closedDone = func() *chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return &ch
}()

// closeDone closes Done's channel, once, when the task is done: most tasks
// are never asked for it, and make none.
func (t *Task) closeDone() {
	if !t.done.CompareAndSwap(nil, closedDone) {
		close(*t.done.Load())
	}
}

// Resume starts a suspended task, or undoes one Suspend. Suspend and Resume
// nest: a task suspended twice runs after two Resumes. Resume on a task that
// is canceling or completed does nothing: a cancelled task cannot be
// resumed. In a background session (see BackgroundConfiguration) the
// first Resume hands the task to the daemon as a job, which exists when
// Resume returns; later ones resume the paused job; Suspend and Resume do
// not nest there.
func (t *Task) Resume() {
	if bt := t.bgTask(); bt != nil {
		t.bgResume(bt)
		return
	}
	ctx, start := t.resume()
	if start {
		t.ownGoroutine = true
		t.session.runners.start(ctx, t)
		return
	}
	if t.holding.Load() {
		t.session.queue.add(t.releaseHeld)
	}
}

// taskExtra is the state of a task that few tasks need, kept out of Task
// so that a Task stays small.
type taskExtra struct {
	auth     taskAuth      // used by the goroutine that runs the task
	question *question     // the deferrable question being asked (Task.mu)
	held     []func()      // callbacks due while suspended, run after Resume (Task.mu; see hold)
	sock     sockTask      // the stream or WebSocket task this Task belongs to; set at creation
	upgrade  net.Conn      // the connection of an upgrade request (Task.mu; see becomeStream)
	download *DownloadTask // the download task t belongs to; set before t is registered
	proxy    proxyTaskAuth
	bg       *bgTask    // a background session's task: its daemon job (background.go)
	hints    *taskHints // the scheduling hints of background sessions
	// description is the task's description (Task.mu).
	description string
}

// more returns the task's taskExtra, made on first use.
func (t *Task) more() *taskExtra {
	if x := t.extra.Load(); x != nil {
		return x
	}
	t.extra.CompareAndSwap(nil, new(taskExtra))
	return t.extra.Load()
}

// hold runs on the delegate queue at the start of a callback f of the task:
// while the task is suspended, or earlier callbacks of it are still held, it
// keeps f to run after Resume (in order, after those) and reports true.
func (t *Task) hold(f func()) bool {
	if !t.paused.Load() && !t.holding.Load() {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.more()
	if t.state != TaskSuspended && len(x.held) == 0 {
		return false
	}
	x.held = append(x.held, f)
	t.holding.Store(true)
	return true
}

// releaseHeld runs, on the delegate queue, the callbacks held while the task
// was suspended; a callback that finds the task suspended again is held
// again, with the ones after it.
func (t *Task) releaseHeld() {
	t.mu.Lock()
	if t.state == TaskSuspended {
		t.mu.Unlock()
		return // suspended again before this ran: the next Resume releases
	}
	x := t.more()
	held := x.held
	x.held = nil
	t.holding.Store(false)
	t.mu.Unlock()
	for _, f := range held {
		f()
	}
}

// resume does Resume's bookkeeping. When the task starts for the first time
// it reports start and the context to run it under, for the caller to call
// run on a goroutine of its choice (the context-first calls use their own).
func (t *Task) resume() (ctx context.Context, start bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != TaskSuspended && t.state != TaskRunning {
		return nil, false
	}
	if t.suspendCount > 0 {
		t.suspendCount--
	}
	if t.suspendCount > 0 || t.state == TaskRunning {
		return nil, false
	}
	t.state = TaskRunning
	t.paused.Store(false)
	now := time.Now()
	mono := monoSince(now)
	t.lastActivity.Store(mono)
	if !t.started {
		t.started = true
		t.startTime = now
		t.resLeft = t.session.cfg.resourceTimeout()
		t.ctx.init(t.baseContext())
		t.startTimersLocked(mono)
		return &t.ctx, true
	}
	t.startTimersLocked(mono)
	close(t.resumeCh)
	return nil, false
}

// Suspend pauses the task until Resume: it stops reading the response and
// sending the request body, holds a redirect before the next hop, delivers
// no callback (data already received waits for Resume, in order), and its
// timeouts stop. A connection already open stays open. Suspend on a
// canceling or completed task does nothing. In a background session it
// pauses the daemon's job, which stops into its resume data.
func (t *Task) Suspend() {
	if bt := t.bgTask(); bt != nil {
		t.bgSuspend(bt)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != TaskSuspended && t.state != TaskRunning {
		return
	}
	t.suspendCount++
	if t.state == TaskRunning {
		t.state = TaskSuspended
		t.paused.Store(true)
		t.resumeCh = make(chan struct{})
		t.stopTimersLocked()
	}
}

// Cancel cancels the task, in any state: it completes once, with
// ErrCancelled, unless it already completed. A cancelled task cannot be
// resumed. Cancel returns at once; the completion arrives on the delegate
// queue (in a background session, once the daemon has stopped the job, or
// at once when the daemon cannot be reached: see BackgroundConfiguration).
func (t *Task) Cancel() {
	if bt := t.bgTask(); bt != nil {
		t.bgCancel(bt)
		return
	}
	t.cancelWith(errCancelled)
}

func (t *Task) cancelWith(cause error) {
	t.mu.Lock()
	switch t.state {
	case TaskCanceling, TaskCompleted:
		t.mu.Unlock()
		return
	}
	wasSuspended := t.state == TaskSuspended
	t.state = TaskCanceling
	t.paused.Store(false)
	t.stopTimersLocked()
	if !t.started {
		t.started = true
		t.mu.Unlock()
		t.complete(nil, nil, cause, false)
		return
	}
	t.ctx.cancel(context.Canceled, cause)
	if wasSuspended {
		close(t.resumeCh)
	}
	t.mu.Unlock()
}

// baseContext is the context the task runs under: the caller's for the
// context-first calls, else the request's, so that cancelling it cancels the
// task as with net/http.
func (t *Task) baseContext() context.Context {
	switch {
	case t.base != nil:
		return t.base
	case t.orig != nil:
		return t.orig.Context()
	}
	return context.Background()
}

// requestTimeout is the idle timeout for this task.
func (t *Task) requestTimeout() time.Duration {
	if t.opts.TimeoutInterval > 0 {
		return t.opts.TimeoutInterval
	}
	return t.session.cfg.requestTimeout()
}

// The task's two timeouts share one timer, armed for whichever comes first:
// the idle deadline (the last activity plus the idle timeout) or the
// resource deadline. When both are far away, the session's watch arms it
// only if the task is still running an interval later.

// startTimersLocked starts the timeouts of a task running since now (on
// monoNow's scale).
func (t *Task) startTimersLocked(now int64) {
	t.timing = true
	t.resDeadline = addMono(now, t.resLeft)
	first := min(t.requestTimeout(), t.resLeft)
	if first <= lazyTimeoutMin {
		t.timer = time.AfterFunc(first, t.onTimer)
		return
	}
	t.lazy = true
	t.session.watchTask()
}

func (t *Task) stopTimersLocked() {
	if !t.timing {
		return
	}
	t.timing = false
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	if t.lazy {
		t.lazy = false
		t.session.watch.waiting.Add(-1)
	}
	t.resLeft = max(time.Duration(t.resDeadline-monoNow()), 0)
}

// onTimer fails the task when a deadline passed and rearms the timer
// otherwise.
func (t *Task) onTimer() {
	now := time.Now()
	idle := t.requestTimeout()
	// inDelegate before lastActivity: a wait on the delegate touches, then
	// ends, so seeing it ended means seeing its touch.
	waiting := t.inDelegate.Load() > 0
	since := time.Duration(monoSince(now) - t.lastActivity.Load())
	if waiting {
		since = 0 // waiting on the delegate is not network idleness
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timer == nil || t.state != TaskRunning {
		return
	}
	switch left := time.Duration(t.resDeadline - monoSince(now)); {
	case left <= 0:
		t.ctx.cancel(context.Canceled, errResource)
	case since >= idle:
		t.ctx.cancel(context.Canceled, errTimedOut)
	default:
		t.timer.Reset(min(idle-since, left))
	}
}

// delegateWait marks a wait on the delegate, during which the idle timeout
// does not run; call the returned function when the wait ends.
func (t *Task) delegateWait() func() {
	t.inDelegate.Add(1)
	return func() {
		t.touch()
		t.inDelegate.Add(-1)
	}
}

// touch records that data moved, for the idle timeout.
func (t *Task) touch() { t.lastActivity.Store(monoNow()) }

// monoEpoch is the origin of monoNow.
var monoEpoch = time.Now()

// monoNow reads the monotonic clock alone (time.Now reads the wall clock
// too): nanoseconds since monoEpoch.
func monoNow() int64 { return int64(time.Since(monoEpoch)) }

// monoSince returns t on monoNow's scale.
func monoSince(t time.Time) int64 { return int64(t.Sub(monoEpoch)) }

// addMono returns the time d after mono on monoNow's scale, the latest
// representable when that is beyond it.
func addMono(mono int64, d time.Duration) int64 {
	if d > 0 && mono > math.MaxInt64-int64(d) {
		return math.MaxInt64
	}
	return mono + int64(d)
}

// waitRunning blocks while the task is suspended. It returns the context's
// cause if the task is cancelled or times out meanwhile.
func (t *Task) waitRunning(ctx context.Context) error {
	if !t.paused.Load() {
		return nil
	}
	for {
		t.mu.Lock()
		if t.state != TaskSuspended {
			t.mu.Unlock()
			return nil
		}
		ch := t.resumeCh
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// delegateFor returns the delegate that handles a task callback: the
// per-task delegate if it implements the interface, else the session's.
func delegateFor[I any](t *Task) (I, bool) {
	t.mu.Lock()
	td := t.delegate
	t.mu.Unlock()
	return pick[I](td, t.session.currentDelegate())
}

func pick[I any](task, session any) (I, bool) {
	if d, ok := task.(I); ok {
		return d, true
	}
	d, ok := session.(I)
	return d, ok
}

// taskDelegates holds the delegates of the callbacks every task makes,
// resolved once per task as delegateFor does: neither the per-task delegate
// (fixed once the task starts) nor the session's (dropped only after the
// last task completed) changes while a task loads.
type taskDelegates struct {
	response   ResponseDelegate
	data       DataDelegate
	metrics    MetricsDelegate
	completion CompletionDelegate
	any        bool // the task or the session has a delegate
}

// delegates returns the task's resolved delegates. Only the goroutine that
// runs or completes the task calls it.
func (t *Task) delegates() *taskDelegates {
	if t.resolved {
		return &t.dels
	}
	t.mu.Lock()
	td := t.delegate
	t.mu.Unlock()
	sd := t.session.currentDelegate()
	d := &t.dels
	d.any = td != nil || sd != nil
	if d.any {
		d.response, _ = pick[ResponseDelegate](td, sd)
		d.data, _ = pick[DataDelegate](td, sd)
		d.metrics, _ = pick[MetricsDelegate](td, sd)
		d.completion, _ = pick[CompletionDelegate](td, sd)
	}
	t.resolved = true
	return d
}

// ask runs f on the delegate queue and waits for its answer, or for ctx.
// The idle timeout does not run while it waits.
func ask[T any](ctx context.Context, t *Task, f func() T) (T, error) {
	ch := make(chan T, 1)
	t.session.queue.add(func() { ch <- f() })
	return awaitAnswer(ctx, t, ch)
}

// awaitAnswer waits for the delegate's answer on ch, or for ctx; the idle
// timeout does not run meanwhile.
func awaitAnswer[T any](ctx context.Context, t *Task, ch <-chan T) (T, error) {
	defer t.delegateWait()()
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}
