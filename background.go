package urlsession

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/client"
	"github.com/urlsession-go/urlsession/internal/resumable"
)

// BackgroundConfiguration returns the configuration of a background
// session with the given identifier: Apple's
// URLSessionConfiguration.background(withIdentifier:). A session made from
// it hands its transfers to urlsessiond, the per-user daemon, which keeps
// them going while the program is not running and keeps their events
// until a process creates a session with the same identifier again.
//
// New with a background configuration connects to the daemon (starting
// it when none answers: the executable named by $URLSESSIOND, else
// urlsessiond on PATH, else urlsessiond beside the running program; its
// socket is $XDG_RUNTIME_DIR/urlsession/urlsessiond.sock) and attaches the
// process to the identifier. Only one process may be attached to an
// identifier at a time: New in a second process fails with an *Error of
// code ErrBackgroundSessionInUseByAnotherProcess, as on Apple's systems,
// until the first one invalidates its session or exits.
//
// When the daemon holds work for the identifier, the new session
// reattaches to it: Tasks and AllTasks list the daemon's transfers as
// tasks (without DidCreateTask), and the events the session missed are
// delivered in order on its delegate queue: DidWriteData or
// DidSendBodyData (the latest progress of each task only),
// DidFinishDownloadingTo with a file of the daemon's that the delegate must
// move before returning (it is removed afterwards), and
// DidCompleteWithError, whose *Error carries DownloadTaskResumeData or
// UploadTaskResumeData where the transfer can continue. Then the session delegate's
// DidFinishEventsForBackgroundSession is called once. An event counts as
// delivered only when its callback has returned: a process that dies
// inside DidFinishDownloadingTo gets the same event, and the same file,
// from the next session with the identifier.
//
// A background session requires a delegate (New fails without one) and
// takes only download tasks (DownloadTask, DownloadTaskWithResumeData)
// and upload tasks from a file (UploadTaskFromFile) or from resume data
// (UploadTaskWithResumeData, whose kept body becomes a file of the
// daemon's: see there), over http and https. CancelByProducingResumeData
// of either kind returns the resume data of the daemon's job, which a
// background or an ordinary session can continue. The progress callbacks
// of a task made from resume data count from what the server or the
// partial file already held, as in an ordinary session (DidWriteData's
// and DidSendBodyData's first total is that plus the first bytes moved),
// and a download's DidResumeAtOffset comes once before its first
// DidWriteData.
// What Apple's background sessions refuse is refused: data, stream and
// WebSocket tasks, uploads from memory or from a stream, completion
// handlers and the context-first calls (Data, Upload, UploadFile, Download,
// Bytes, Client) give a task already completed, or an error, with code
// ErrUnknown and a cause matching ErrNotInBackground; an URL of another
// scheme, code ErrUnsupportedURL. New refuses custom Protocols. Redirects
// are always followed, without WillPerformHTTPRedirection. The daemon runs
// the transfers with its own session, whose stores (cookies, cache,
// credentials) are the user's defaults: the configuration's stores,
// proxies, TLS settings and timeouts other than TimeoutIntervalForResource
// are not used. HTTPAdditionalHeaders are sent with each request that
// does not set them. A request's http URL of a host the configuration's
// HSTSStorage (SharedHSTSStorage(), set here) knows goes to the daemon as
// https; the daemon's session keeps its own HSTS storage for what follows.
//
// The properties of Apple's background configurations are
// IsDiscretionary, SessionSendsLaunchEvents (set here, as Apple's default
// is true, and used with LaunchCommand) and SharedContainerIdentifier;
// tasks take EarliestBeginDate, CountOfBytesClientExpectsToSend and
// CountOfBytesClientExpectsToReceive and their priority.
//
// When the daemon stops or crashes while the session is attached, the
// session attaches again, starting a daemon when none answers, and goes
// on after the last event it received. A job another client gives the
// session through the daemon's socket API becomes a task of the session
// when its first event arrives.
//
// FinishTasksAndInvalidate detaches the process and leaves the
// transfers running in the daemon, to be picked up by the next session
// with the identifier. The task values of this process then get no more
// callbacks: once the events already queued have been delivered, each
// task not completed yet ends here, before DidBecomeInvalidWithError and
// without DidCompleteWithError: its State becomes TaskCompleted, its Done
// channel closes and Err returns an *Error of code
// ErrBackgroundSessionWasDisconnected (-997; ErrCancelled with cause
// ErrSessionInvalidated for a task never resumed, which the daemon never
// had). The transfer's own completion is delivered to the next session.
// InvalidateAndCancel cancels them in the daemon, delivers their
// DidCompleteWithError, then invalidates the session.
//
// Cancel of a task whose daemon cannot be reached (it was killed, or is
// stopping) does not wait for it: the task completes at once with
// ErrCancelled, and the job is cancelled in the daemon at the next
// contact (when the session attaches again, or when it is invalidated,
// starting a daemon if none answers); the job's later events get no
// callback. Until then the cancellation is also kept in a file under
// $XDG_DATA_HOME/urlsession/cancels/, so that when the process exits
// first, the next session with the identifier cancels the job as it
// attaches; that job is not one of its tasks and has no callback there.
func BackgroundConfiguration(identifier string) *Configuration {
	c := baseConfiguration()
	c.background = true
	c.identifier = identifier
	c.SessionSendsLaunchEvents = true
	c.HSTSStorage = SharedHSTSStorage()
	return c
}

// Identifier returns the identifier of a background configuration, and ""
// for the others.
func (c *Configuration) Identifier() string { return c.identifier }

// ErrNotInBackground is the cause (see Error.Err), wrapped with what was
// asked, of the error of a task or call that background sessions do not
// support: data, stream and WebSocket tasks, uploads that are not from a
// file, completion handlers and the context-first calls.
var ErrNotInBackground = errors.New("urlsession: not supported in a background session")

// BackgroundEventsDelegate hears that a background session has delivered
// the events that waited for it.
type BackgroundEventsDelegate interface {
	// DidFinishEventsForBackgroundSession is called once per background
	// session, after the callbacks of every event that waited in the
	// daemon when the session was created (none, when nothing waited) have
	// returned and been acknowledged to the daemon: Apple's
	// urlSessionDidFinishEvents(forBackgroundURLSession:). A program
	// started to handle a session's events may exit after it.
	DidFinishEventsForBackgroundSession(s *Session)
}

// taskHints are Apple's scheduling hints of a task; only background
// sessions use them.
type taskHints struct {
	earliest             time.Time
	expectSend, expectRx int64
}

// EarliestBeginDate returns the date set with SetEarliestBeginDate, or the
// zero time.
func (t *Task) EarliestBeginDate() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.more().hints; h != nil {
		return h.earliest
	}
	return time.Time{}
}

// SetEarliestBeginDate sets the earliest time a background session's
// task starts its transfer (Apple's earliestBeginDate). It takes effect
// when set before the first Resume; other sessions ignore it. When the
// time comes, a DelayedRequestDelegate decides whether the task starts.
func (t *Task) SetEarliestBeginDate(d time.Time) {
	t.mu.Lock()
	t.hintsLocked().earliest = d
	t.mu.Unlock()
}

// CountOfBytesClientExpectsToSend returns the hint set with
// SetCountOfBytesClientExpectsToSend, TransferSizeUnknown (-1) when none
// was.
func (t *Task) CountOfBytesClientExpectsToSend() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.more().hints; h != nil {
		return h.expectSend
	}
	return TransferSizeUnknown
}

// SetCountOfBytesClientExpectsToSend sets how many bytes the task is
// expected to send, headers included (Apple's
// countOfBytesClientExpectsToSend): a scheduling hint that a background
// session passes to the daemon at the first Resume. Other sessions ignore
// it.
func (t *Task) SetCountOfBytesClientExpectsToSend(n int64) {
	t.mu.Lock()
	t.hintsLocked().expectSend = n
	t.mu.Unlock()
}

// CountOfBytesClientExpectsToReceive returns the hint set with
// SetCountOfBytesClientExpectsToReceive, TransferSizeUnknown (-1) when
// none was.
func (t *Task) CountOfBytesClientExpectsToReceive() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.more().hints; h != nil {
		return h.expectRx
	}
	return TransferSizeUnknown
}

// SetCountOfBytesClientExpectsToReceive sets how many bytes the task is
// expected to receive (Apple's countOfBytesClientExpectsToReceive): a
// background download passes it to the daemon as the expected size until
// the response tells. Other sessions ignore it.
func (t *Task) SetCountOfBytesClientExpectsToReceive(n int64) {
	t.mu.Lock()
	t.hintsLocked().expectRx = n
	t.mu.Unlock()
}

func (t *Task) hintsLocked() *taskHints {
	x := t.more()
	if x.hints == nil {
		x.hints = &taskHints{expectSend: TransferSizeUnknown, expectRx: TransferSizeUnknown}
	}
	return x.hints
}

// checkBackground checks what New needs of a background configuration.
func checkBackground(cfg *Configuration, delegate any) error {
	if err := api.ValidateIdentifier(cfg.identifier); err != nil {
		return fmt.Errorf("urlsession: background session identifier: %w", err)
	}
	if delegate == nil {
		return fmt.Errorf("urlsession: a background session requires a delegate: its events may arrive in a later process")
	}
	if len(cfg.Protocols) > 0 {
		return fmt.Errorf("urlsession: background sessions do not take custom Protocols: the daemon loads only http and https")
	}
	if len(cfg.LaunchCommand) > 0 {
		a := api.Attach{LaunchCommand: cfg.LaunchCommand}
		if err := a.Validate(); err != nil {
			return fmt.Errorf("urlsession: LaunchCommand: %w", err)
		}
	}
	if id := cfg.SharedContainerIdentifier; id != "" {
		if id == "." || id == ".." || len(id) > 255 {
			return fmt.Errorf("urlsession: SharedContainerIdentifier %q is not a directory name", id)
		}
		for _, c := range id {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
				return fmt.Errorf("urlsession: SharedContainerIdentifier %q: only letters, digits, '.', '-' and '_'", id)
			}
		}
	}
	return nil
}

// bgRefusal returns the error of a task a background session does not
// take.
func bgRefusal(t *Task) error {
	what := "data tasks (use a download task, or an upload task from a file)"
	x := t.extra.Load()
	switch {
	case t.deliver.keep || t.deliver.result != nil:
		what = "the context-first calls Data, Upload, UploadFile, Download and Bytes (the program may exit before they end; use a task and the delegate)"
	case x != nil && x.sock != nil:
		what = "stream and WebSocket tasks"
	case t.deliver.handler != nil || (x != nil && x.download != nil && x.download.dl.handler != nil):
		what = "completion handlers (the program may exit before the transfer ends; use the delegate)"
	case x != nil && x.download != nil:
		what = "this download task"
	case t.body.kind == bodyFromBytes:
		what = "uploads from memory (write the body to a file and use UploadTaskFromFile)"
	case t.body.kind == bodyStreamed:
		what = "uploads from a stream (write the body to a file and use UploadTaskFromFile)"
	}
	return &Error{Code: ErrUnknown, Err: fmt.Errorf("%w: %s", ErrNotInBackground, what)}
}

// background is a background session's link to the daemon.
type background struct {
	s   *Session
	id  string
	cl  *client.Client
	at  *client.Attachment
	dir string // the shared container's directory, or ""

	ackWake chan struct{} // capacity 1: handled moved
	quit    chan struct{} // closed when the session detaches
	readEnd chan struct{} // closed when the reader ends
	ackEnd  chan struct{} // closed when the acker ends

	mu       sync.Mutex
	cond     sync.Cond // on mu: acked moved, or the acker ended
	jobs     map[string]*Task
	handled  int64 // events up to here have had their callbacks
	acked    int64 // events up to here are acknowledged to the daemon
	creating int   // Resumes creating a job
	closing  bool  // the session detaches: no more events are queued
	ackDone  bool  // the acker ended
	ackError error // the last acknowledgement's failure

	left    []*Task             // the tasks FinishTasksAndInvalidate leaves to the daemon
	cancels map[string]struct{} // jobs cancelled while the daemon was unreachable, to cancel there
	dropped map[string]struct{} // jobs whose task completed here: their events have no callback

	replayed bool // DidFinishEventsForBackgroundSession was delivered (delegate queue only)
}

// bgTask is a background task's link to its daemon job.
type bgTask struct {
	kind   api.Kind
	file   string // an upload's body
	resume []byte // resume data to continue from
	// continues says the task was made from resume data in this session:
	// its progress callbacks count from where the transfer continued (the
	// events' BytesResumed), as a task in process counts from its resume
	// offset. A task found at the daemon reports from 0 instead.
	continues bool
	resumed   bool         // DidResumeAtOffset was delivered (a download that continues)
	owned     bool         // file is the daemon's (see api.NewJob.OwnsFile)
	wrote     bool         // file was written by this task's Resume (removed if no job takes it)
	asking    bool         // a begin-delayed question is open (background.mu)
	metrics   *api.Metrics // the complete event's (background.mu)
	// taskID is, for a task made for a job found at the daemon, the task
	// identifier the job was created with (0: none), which the task keeps
	// unless another task of the session has it.
	taskID int

	mu       sync.Mutex // held across the daemon calls of Resume, Suspend and Cancel
	job      string     // the job's ID once created
	reported int64      // the bytes DidWriteData or DidSendBodyData reported
	ended    chan struct{}
	endData  []byte // the resume data of the task's completion
}

// bgTask returns the background job state of t, or nil.
func (t *Task) bgTask() *bgTask {
	if x := t.extra.Load(); x != nil {
		return x.bg
	}
	return nil
}

// daemonTimeout bounds each call to the daemon but the attachment.
const daemonTimeout = 30 * time.Second

// attachBackground connects a new background session to the daemon,
// attaches it, lists its jobs as tasks and starts delivering its events.
func (s *Session) attachBackground() error {
	cfg := s.cfg
	b := &background{s: s, id: cfg.identifier, jobs: map[string]*Task{},
		cancels: map[string]struct{}{}, dropped: map[string]struct{}{},
		ackWake: make(chan struct{}, 1), quit: make(chan struct{}), readEnd: make(chan struct{}), ackEnd: make(chan struct{})}
	b.cond.L = &b.mu
	if id := cfg.SharedContainerIdentifier; id != "" {
		base, err := dataDir()
		if err != nil {
			return fmt.Errorf("urlsession: shared container: %w", err)
		}
		b.dir = filepath.Join(base, "urlsession", "containers", id)
		if err := os.MkdirAll(b.dir, 0o700); err != nil {
			return fmt.Errorf("urlsession: shared container: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), daemonTimeout)
	defer cancel()
	cl, err := client.Start(ctx, client.StartOptions{})
	if err != nil {
		return fmt.Errorf("urlsession: background session %q: no daemon: %w", b.id, err)
	}
	b.cl = cl
	at, err := cl.Attach(context.Background(), b.id, api.Attach{
		LaunchCommand: cfg.LaunchCommand, SendsLaunchEvents: cfg.SessionSendsLaunchEvents && len(cfg.LaunchCommand) > 0,
	})
	if err != nil {
		cl.Close()
		if errors.Is(err, api.ErrConflict) {
			return &Error{Code: ErrBackgroundSessionInUseByAnotherProcess,
				Err: fmt.Errorf("background session %q is in use by another process: one process per identifier", b.id)}
		}
		return fmt.Errorf("urlsession: background session %q: attaching: %w", b.id, err)
	}
	b.at = at // before the reader and the acker start
	// Cancellations an earlier process could not deliver go first: their
	// jobs are not this session's tasks, and their events have no callback.
	b.loadCancels()
	b.sendCancels(cl)
	jobs, err := cl.Jobs(ctx, b.id)
	if err != nil {
		at.Close()
		cl.Close()
		return fmt.Errorf("urlsession: background session %q: listing its transfers: %w", b.id, err)
	}
	s.bg = b
	// Jobs keep the identifiers of the tasks that created them: those go
	// first, in order, so that each keeps its own; jobs without one
	// (other clients') get new identifiers after them.
	slices.SortStableFunc(jobs, func(x, y api.Job) int {
		switch {
		case x.TaskIdentifier == y.TaskIdentifier:
			return 0
		case x.TaskIdentifier == 0:
			return 1
		case y.TaskIdentifier == 0:
			return -1
		}
		return cmp.Compare(x.TaskIdentifier, y.TaskIdentifier)
	})
	for _, j := range jobs {
		if _, dropped := b.dropped[j.ID]; !dropped {
			b.adopt(j)
		}
	}
	go b.read()
	go b.ack()
	return nil
}

// adopt makes a task for a job of the daemon.
func (b *background) adopt(j api.Job) *Task {
	req, err := http.NewRequest(j.Request.Method, j.Request.URL, nil)
	if err != nil {
		return nil // the daemon validated it; an URL that no longer parses has no task
	}
	for k, vs := range j.Request.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	bt := &bgTask{kind: j.Kind, file: j.File, job: j.ID, taskID: j.TaskIdentifier, ended: make(chan struct{})}
	init := func(t *Task) { t.more().bg = bt }
	var t *Task
	if j.Kind == api.Download {
		dt := b.s.bgDownload(req, bt, false)
		t = dt.Task
	} else {
		t = b.s.makeTask(req, bodySource{kind: bodyFromFile, file: j.File}, delivery{}, init, false)
		t.upload = &UploadTask{DataTask: t.data}
	}
	t.mu.Lock()
	t.started = true
	t.suspendCount = 0
	switch j.State {
	case api.Paused:
		t.state = TaskSuspended
	case api.Cancelled:
		t.state = TaskCanceling
	default:
		t.state = TaskRunning
	}
	t.paused.Store(t.state == TaskSuspended)
	t.priority = fromJobPriority(j.Priority)
	if j.Description != "" {
		t.more().description = j.Description
	}
	h := t.hintsLocked()
	h.earliest = j.EarliestBegin
	t.mu.Unlock()
	// DidWriteData and DidSendBodyData report from 0: the first one of a
	// reattached task covers every byte moved so far.
	b.progress(t, j.BytesDone, j.BytesExpected, j.StatusCode)
	b.respond(t, j.Response)
	b.mu.Lock()
	b.jobs[j.ID] = t
	b.mu.Unlock()
	return t
}

// progress records a job's byte counts and status in its task.
func (b *background) progress(t *Task, done, expected int64, status int) {
	if t.bgTask().kind == api.Upload {
		t.sent.Store(done)
		t.expectedSend.Store(expected)
	} else {
		t.received.Store(done)
		t.expectedRecv.Store(expected)
	}
	if status != 0 {
		t.mu.Lock()
		if t.response == nil {
			t.response = &http.Response{
				Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status,
				Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{}, Body: http.NoBody, ContentLength: -1, Request: t.orig,
			}
			if t.bgTask().kind == api.Download {
				t.response.ContentLength = expected
			}
		}
		t.mu.Unlock()
	}
}

// jobRequest is req as a daemon job sends it: with the configuration's
// additional headers.
func (b *background) jobRequest(req *http.Request) api.Request {
	h := req.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	for k, vs := range b.s.cfg.HTTPAdditionalHeaders {
		if _, ok := h[k]; !ok {
			h[k] = append([]string(nil), vs...)
		}
	}
	if len(h) == 0 {
		h = nil
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	u := *req.URL
	b.s.cfg.HSTSStorage.Upgrade(&u, time.Now()) // the daemon sends what the app would
	return api.Request{Method: method, URL: u.String(), Header: h}
}

// beginDelayed asks the task's DelayedRequestDelegate whether its job,
// due now, starts (a begin-delayed event), and sends the answer to the
// daemon; without the delegate the job starts. It runs on the delegate
// queue; a question already open for the task is not asked twice.
func (b *background) beginDelayed(t *Task, bt *bgTask) {
	b.mu.Lock()
	if bt.asking {
		b.mu.Unlock()
		return
	}
	bt.asking = true
	b.mu.Unlock()
	d, ok := delegateFor[DelayedRequestDelegate](t)
	if !ok {
		go b.answerBegin(t, bt, delayedAnswer{disp: DelayedRequestContinueLoading})
		return
	}
	q := &question{set: func(v any) bool {
		a, ok := v.(delayedAnswer)
		if ok {
			go b.answerBegin(t, bt, a)
		}
		return ok
	}}
	req := t.CurrentRequest()
	if req != nil {
		req = req.Clone(context.Background()) // the delegate's to change
	}
	a, deferred := askNow(t, q, func() delayedAnswer {
		disp, newReq := d.WillBeginDelayedRequest(b.s, t, req)
		return delayedAnswer{disp, newReq}
	})
	if !deferred {
		go b.answerBegin(t, bt, a)
	}
}

// answerBegin sends the answer to a begin-delayed event. A request the
// daemon refuses cancels the job; when the daemon cannot be reached, the
// next process to attach is asked again.
func (b *background) answerBegin(t *Task, bt *bgTask, a delayedAnswer) {
	ans := api.Begin{Disposition: api.BeginContinue}
	switch {
	case a.disp == DelayedRequestCancel:
		ans.Disposition = api.BeginCancel
	case a.disp == DelayedRequestUseNewRequest && a.req != nil && a.req.URL != nil:
		r := b.jobRequest(a.req)
		ans = api.Begin{Disposition: api.BeginUseNewRequest, Request: &r}
	}
	ctx, cancel := context.WithTimeout(context.Background(), daemonTimeout)
	defer cancel()
	_, err := b.cl.Begin(ctx, bt.job, ans)
	switch {
	case err == nil && ans.Request != nil:
		t.mu.Lock()
		t.current = a.req
		t.mu.Unlock()
	case errors.Is(err, api.ErrBadRequest) && ans.Request != nil:
		b.cl.Begin(ctx, bt.job, api.Begin{Disposition: api.BeginCancel})
	}
	b.mu.Lock()
	bt.asking = false
	b.mu.Unlock()
}

// respond makes head, the final response's head a job ended with, the
// task's response (its header fields, protocol and the URL that answered:
// what DidFinishDownloadingTo and DidCompleteWithError see), and the
// request of that URL its current request. nil changes nothing.
func (b *background) respond(t *Task, head *api.Response) {
	if head == nil || head.StatusCode < 100 || head.StatusCode > 999 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	req := requestAt(t.orig, "", head.URL)
	resp := responseFrom(head, req)
	if resp.ContentLength < 0 && t.response != nil {
		resp.ContentLength = t.response.ContentLength
	}
	t.current = req
	t.response = resp
}

// requestAt returns orig, or a copy of it with method (when not empty)
// and rawURL (when it parses and differs), the request a daemon's
// transfer sent.
func requestAt(orig *http.Request, method, rawURL string) *http.Request {
	if orig == nil {
		return nil
	}
	u, err := url.Parse(rawURL)
	sameURL := err != nil || rawURL == "" || u.String() == orig.URL.String()
	if sameURL && (method == "" || method == orig.Method) {
		return orig
	}
	req := orig.Clone(context.Background())
	if !sameURL {
		req.URL = u
		req.Host = u.Host
	}
	if method != "" {
		req.Method = method
	}
	return req
}

// responseFrom returns the response of head (a valid status) to req,
// without a body.
func responseFrom(head *api.Response, req *http.Request) *http.Response {
	proto := head.Proto
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		proto, major, minor = "HTTP/1.1", 1, 1
	}
	h := head.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	length := int64(-1)
	if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		length = n
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", head.StatusCode, http.StatusText(head.StatusCode)), StatusCode: head.StatusCode,
		Proto: proto, ProtoMajor: major, ProtoMinor: minor,
		Header: h, Body: http.NoBody, ContentLength: length, Request: req,
	}
}

// taskMetrics returns the metrics of a background task that completes:
// its job's last run's transactions, when the daemon sent them.
func taskMetrics(t *Task, am *api.Metrics) *TaskMetrics {
	t.mu.Lock()
	orig, start := t.orig, t.startTime
	t.mu.Unlock()
	m := &TaskMetrics{TaskStart: start}
	if !start.IsZero() {
		m.TaskDuration = time.Since(start)
	}
	if am == nil {
		return m
	}
	m.RedirectCount = am.RedirectCount
	for _, at := range am.Transactions {
		req := requestAt(orig, at.Method, at.URL)
		tx := TransactionMetrics{
			Request:    req,
			FetchStart: at.FetchStart, DomainLookupStart: at.DomainLookupStart, DomainLookupEnd: at.DomainLookupEnd,
			ConnectStart: at.ConnectStart, ConnectEnd: at.ConnectEnd,
			SecureConnectionStart: at.SecureConnectionStart, SecureConnectionEnd: at.SecureConnectionEnd,
			RequestStart: at.RequestStart, RequestEnd: at.RequestEnd, ResponseStart: at.ResponseStart, ResponseEnd: at.ResponseEnd,
			NetworkProtocolName: at.NetworkProtocolName, ReusedConnection: at.ReusedConnection, ProxyConnection: at.ProxyConnection,
			NegotiatedTLSProtocolVersion: at.TLSVersion, NegotiatedTLSCipherSuite: at.TLSCipherSuite,
			ResourceFetchType:      ResourceFetchType(at.FetchType),
			RequestHeaderBytesSent: at.RequestHeaderBytesSent, RequestBodyBytesSent: at.RequestBodyBytesSent,
			ResponseHeaderBytesReceived: at.ResponseHeaderBytesReceived, ResponseBodyBytesReceived: at.ResponseBodyBytesReceived,
			ResponseBodyBytesAfterDecoding: at.ResponseBodyBytesAfterDecoding,
		}
		if h := at.Response; h != nil && h.StatusCode >= 100 && h.StatusCode <= 999 {
			tx.Response = responseFrom(h, req)
		}
		if ap, err := netip.ParseAddrPort(at.RemoteAddr); err == nil {
			tx.RemoteAddr = net.TCPAddrFromAddrPort(ap)
		}
		if ap, err := netip.ParseAddrPort(at.LocalAddr); err == nil {
			tx.LocalAddr = net.TCPAddrFromAddrPort(ap)
		}
		m.Transactions = append(m.Transactions, tx)
	}
	return m
}

// asksBeforeBegin reports whether t's delegate decides when its delayed
// start comes.
func asksBeforeBegin(t *Task) bool {
	_, ok := delegateFor[DelayedRequestDelegate](t)
	return ok
}

func fromJobPriority(p int) float32 {
	return min(max(float32(p)/200+0.5, 0), 1)
}

func toJobPriority(p float32) int {
	return min(max(int(math.Round(float64(p-0.5)*200)), api.MinPriority), api.MaxPriority)
}

// bgDownload makes a background download task; announce says whether the
// delegate hears of it.
func (s *Session) bgDownload(req *http.Request, bt *bgTask, announce bool) *DownloadTask {
	dt := &DownloadTask{}
	dt.dl.settled = make(chan struct{})
	dt.dl.total = TransferSizeUnknown
	s.makeTask(req, bodySource{kind: bodyFromRequest}, delivery{}, func(t *Task) {
		dt.Task = t
		x := t.more()
		x.download = dt
		x.bg = bt
	}, announce)
	return dt
}

// newBackgroundDownload is DownloadTask and DownloadTaskWithResumeData of
// a background session.
func (s *Session) newBackgroundDownload(req *http.Request, resumeData []byte, resumeErr error) *DownloadTask {
	bt := &bgTask{kind: api.Download, resume: resumeData, continues: resumeData != nil, ended: make(chan struct{})}
	dt := s.bgDownload(req, bt, true)
	if resumeErr != nil {
		s.bg.failSuspended(dt.Task, resumeErr)
	}
	return dt
}

// newBackgroundUpload is UploadTaskFromFile of a background session.
func (s *Session) newBackgroundUpload(req *http.Request, name string) *UploadTask {
	bt := &bgTask{kind: api.Upload, file: name, ended: make(chan struct{})}
	t := s.makeTask(req, bodySource{kind: bodyFromFile, file: name}, delivery{}, func(t *Task) { t.more().bg = bt }, true)
	u := &UploadTask{DataTask: t.data}
	t.upload = u
	return u
}

// newBackgroundUploadWithResumeData is UploadTaskWithResumeData of a
// background session; data that does not decode completes the task at
// once.
func (s *Session) newBackgroundUploadWithResumeData(data []byte) *UploadTask {
	st, err := resumable.Decode(data)
	var req *http.Request
	if err == nil {
		if req, err = http.NewRequest(st.Method, st.URL, nil); err == nil && st.Header != nil {
			req.Header = st.Header
		}
	}
	bt := &bgTask{kind: api.Upload, resume: data, continues: true, ended: make(chan struct{})}
	if err == nil {
		bt.file = st.File // "" for an upload from memory: written at Resume
	}
	t := s.makeTask(req, bodySource{kind: bodyFromFile, file: bt.file}, delivery{}, func(t *Task) { t.more().bg = bt }, true)
	u := &UploadTask{DataTask: t.data}
	t.upload = u
	if err != nil {
		s.bg.failSuspended(t, &Error{Code: ErrUnknown, Err: fmt.Errorf("%w: %w", ErrInvalidUploadResumeData, err)})
	}
	return u
}

// uploadsDir is where background uploads from resume data of uploads
// from memory get their files.
func uploadsDir() (string, error) {
	base, err := dataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "urlsession", "uploads"), nil
}

// resumeFile gives a background upload from resume data its file: the
// one the data names (the daemon's when it is in uploadsDir), or, for an
// upload from memory, a new file of the daemon's holding the body the
// data kept, which the data then names instead. It runs under bt.mu.
func (bt *bgTask) resumeFile() error {
	st, err := resumable.Decode(bt.resume)
	if err != nil {
		return &Error{Code: ErrUnknown, Err: fmt.Errorf("%w: %w", ErrInvalidUploadResumeData, err)}
	}
	dir, derr := uploadsDir()
	if st.File != "" {
		bt.file = st.File
		bt.owned = derr == nil && filepath.Dir(st.File) == dir
		return nil
	}
	if derr != nil {
		return &Error{Code: ErrCannotCreateFile, Err: fmt.Errorf("urlsession: no directory for the upload's body: %w", derr)}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &Error{Code: ErrCannotCreateFile, Err: fmt.Errorf("urlsession: the upload's body: %w", err)}
	}
	f, err := os.CreateTemp(dir, "*.upload") // mode 0600
	if err != nil {
		return &Error{Code: ErrCannotCreateFile, Err: fmt.Errorf("urlsession: the upload's body: %w", err)}
	}
	name := f.Name()
	err = st.MoveBodyToFile(f, name)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var data []byte
	if err == nil {
		data, err = st.Encode()
	}
	if err != nil {
		os.Remove(name)
		return &Error{Code: ErrCannotWriteToFile, Err: fmt.Errorf("urlsession: the upload's body: %w", err)}
	}
	bt.file, bt.resume, bt.owned, bt.wrote = name, data, true, true
	return nil
}

// bgError turns an error of a task that never reached the daemon into
// its *Error.
func bgError(t *Task, err error) *Error {
	u := ""
	if t.orig != nil && t.orig.URL != nil {
		u = t.orig.URL.Redacted()
	}
	if e, ok := errors.AsType[*Error](err); ok {
		c := *e
		if c.URL == "" {
			c.URL = u
		}
		return &c
	}
	code := ErrUnknown
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code == api.CodeBadRequest {
		code = ErrBadURL
	}
	return &Error{Code: code, URL: u, Err: err}
}

// failSuspended completes with err, as failLocal does, a task just made
// and not yet resumed (a task already taken further is left alone): the
// background factories' way of refusing what cannot become a job.
func (b *background) failSuspended(t *Task, err error) {
	t.mu.Lock()
	announced := t.state == TaskSuspended
	if announced {
		t.state = TaskCanceling
		t.started = true
	}
	t.mu.Unlock()
	if announced {
		b.failLocal(t, err)
	}
}

// failLocal completes a task that has no job (or whose job could not be
// made) with err, on the delegate queue.
func (b *background) failLocal(t *Task, err error) {
	e := bgError(t, err)
	b.s.queue.add(func() { b.finish(t, e, nil) })
}

// finish completes a task with err (nil for success) and calls
// DidCompleteWithError; it runs on the delegate queue.
func (b *background) finish(t *Task, e *Error, resumeData []byte) {
	if !markCompleted(t, e) {
		return
	}
	bt := t.bgTask()
	bt.mu.Lock()
	bt.endData = resumeData
	job := bt.job
	bt.mu.Unlock()
	close(bt.ended)
	var errOut error
	if e != nil {
		errOut = e
	}
	// As with other sessions' tasks, a completed task has left the
	// session's list when its last callbacks run.
	s := b.s
	s.mu.Lock()
	if _, ok := s.tasks[t]; ok {
		delete(s.tasks, t)
		s.active.Add(-1)
	}
	s.mu.Unlock()
	if d, ok := delegateFor[MetricsDelegate](t); ok {
		b.mu.Lock()
		am := bt.metrics
		b.mu.Unlock()
		d.DidFinishCollectingMetrics(b.s, t, taskMetrics(t, am))
	}
	if d, ok := delegateFor[CompletionDelegate](t); ok {
		d.DidCompleteWithError(b.s, t, errOut)
	}
	t.closeDone()
	b.mu.Lock()
	if job != "" {
		delete(b.jobs, job)
	}
	b.mu.Unlock()
	s.mu.Lock()
	if s.invalidating && !s.invalid && len(s.tasks) == 0 {
		b.detachLocked()
	}
	s.mu.Unlock()
	s.queue.kick()
}

// read delivers the attach stream's events on the delegate queue, in
// order, until the session detaches. When the stream breaks (the daemon
// stopped or crashed) it attaches again, starting a daemon if none
// answers, and goes on after the last event it queued.
func (b *background) read() {
	defer close(b.readEnd)
	b.mu.Lock()
	at := b.at
	b.mu.Unlock()
	var last int64
	for {
		e, err := at.Next()
		if err != nil {
			at.Close()
			if at = b.reattach(last); at == nil {
				return
			}
			continue
		}
		if e.Kind != api.EventsReplayed {
			last = e.Seq
		}
		s := b.s
		s.mu.Lock()
		if b.closingNow() {
			s.mu.Unlock()
			return
		}
		s.queue.push(func() { b.deliver(e) })
		s.mu.Unlock()
		s.queue.kick()
	}
}

// reattach attaches the session again after its stream broke, trying
// until it succeeds or the session detaches (nil).
func (b *background) reattach(after int64) *client.Attachment {
	cfg := b.s.cfg
	delay := 50 * time.Millisecond
	for {
		select {
		case <-b.quit:
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), daemonTimeout)
		cl, err := client.Start(ctx, client.StartOptions{Socket: b.cl.Socket()})
		cancel()
		if err != nil {
			continue
		}
		cl.Close() // b.cl reaches the same socket
		at, err := b.cl.Attach(context.Background(), b.id, api.Attach{After: after,
			LaunchCommand: cfg.LaunchCommand, SendsLaunchEvents: cfg.SessionSendsLaunchEvents && len(cfg.LaunchCommand) > 0})
		if err != nil {
			continue // a conflict too: the daemon may not have seen the old stream end yet
		}
		b.mu.Lock()
		if b.closing {
			b.mu.Unlock()
			at.Close()
			return nil
		}
		b.at = at
		b.mu.Unlock()
		b.sendCancels(b.cl)
		return at
	}
}

// sendCancels cancels in the daemon the jobs whose Cancel could not reach
// it; a job the daemon no longer runs needs nothing more. The ones it
// cannot reach stay for the next contact.
func (b *background) sendCancels(cl *client.Client) {
	b.mu.Lock()
	jobs := make([]string, 0, len(b.cancels))
	for j := range b.cancels {
		jobs = append(jobs, j)
	}
	b.mu.Unlock()
	for _, j := range jobs {
		ctx, cancel := context.WithTimeout(context.Background(), daemonTimeout)
		_, err := cl.Cancel(ctx, j)
		cancel()
		if unreachable(err) {
			continue
		}
		b.mu.Lock()
		delete(b.cancels, j)
		b.saveCancelsLocked()
		b.mu.Unlock()
	}
}

// cancelsFile is where the jobs whose Cancel could not reach the daemon
// are kept for a later process with the session's identifier:
// $XDG_DATA_HOME/urlsession/cancels/<hash of the identifier>.
func (b *background) cancelsFile() (string, error) {
	base, err := dataDir()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(b.id))
	return filepath.Join(base, "urlsession", "cancels", hex.EncodeToString(h[:16])), nil
}

// saveCancelsLocked writes the undelivered cancellations to cancelsFile,
// or removes it when there are none; b.mu is held. A failure to write
// leaves them to this process only.
func (b *background) saveCancelsLocked() {
	name, err := b.cancelsFile()
	if err != nil {
		return
	}
	if len(b.cancels) == 0 {
		os.Remove(name)
		return
	}
	var buf []byte
	for j := range b.cancels {
		buf = append(append(buf, j...), '\n')
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, buf, 0o600); err != nil {
		os.Remove(tmp)
		return
	}
	os.Rename(tmp, name)
}

// loadCancels takes the cancellations an earlier process with the
// identifier could not deliver.
func (b *background) loadCancels() {
	name, err := b.cancelsFile()
	if err != nil {
		return
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, j := range strings.Fields(string(data)) {
		if len(j) <= 64 && strings.Trim(j, "0123456789abcdef") == "" { // the form of a job ID
			b.cancels[j] = struct{}{}
			b.dropped[j] = struct{}{}
		}
	}
}

// unreachable reports whether a call's error means the daemon did not
// take it: no answer, or an answer that it is stopping.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	var ae *api.Error
	return !errors.As(err, &ae) || ae.Code == api.CodeShutdown
}

func (b *background) closingNow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closing
}

// deliver runs an event's callback on the delegate queue, then marks it
// handled.
func (b *background) deliver(e api.Event) {
	if e.Kind == api.EventsReplayed {
		if b.replayed {
			return // a stream after a reattachment
		}
		b.replayed = true
		b.flush(e.Seq)
		if d, ok := b.s.currentDelegate().(BackgroundEventsDelegate); ok {
			d.DidFinishEventsForBackgroundSession(b.s)
		}
		return
	}
	defer b.handle(e.Seq)
	t := b.task(e.Job)
	if t == nil {
		if e.Kind == api.FinishDownloading && e.File != "" {
			os.Remove(e.File) // nobody to hand it to
		}
		if e.Kind == api.Complete {
			b.mu.Lock()
			delete(b.dropped, e.Job)
			b.mu.Unlock()
		}
		return
	}
	bt := t.bgTask()
	switch e.Kind {
	case api.WriteProgress, api.SendProgress:
		b.progress(t, e.BytesDone, e.BytesExpected, 0)
		b.reportProgress(t, bt, e.BytesDone, e.BytesExpected, e.BytesResumed)
	case api.BeginDelayed:
		b.beginDelayed(t, bt)
	case api.FinishDownloading:
		b.progress(t, e.BytesDone, e.BytesExpected, e.StatusCode)
		b.respond(t, e.Response)
		b.reportProgress(t, bt, e.BytesDone, e.BytesExpected, e.BytesResumed)
		if dt := t.downloadTask(); dt != nil {
			if d, ok := delegateFor[DownloadDelegate](t); ok {
				d.DidFinishDownloadingTo(b.s, dt, e.File)
			}
		}
		os.Remove(e.File) // unless the delegate moved it; gone already is fine
	case api.Complete:
		b.progress(t, e.BytesDone, e.BytesExpected, e.StatusCode)
		b.respond(t, e.Response)
		if bt.kind == api.Upload && e.ErrorCode == 0 {
			// The last progress event may have been coalesced away: every
			// byte sent is reported before the completion.
			b.reportProgress(t, bt, e.BytesDone, e.BytesExpected, e.BytesResumed)
			// Then the server's answer, as Apple's background uploads
			// deliver it: through DidReceiveData.
			t.received.Store(int64(len(e.Body)))
			t.expectedRecv.Store(int64(len(e.Body)))
			if d, ok := delegateFor[DataDelegate](t); ok && len(e.Body) > 0 {
				d.DidReceiveData(b.s, t.data, e.Body)
			}
		}
		var err *Error
		if e.ErrorCode != 0 {
			u := ""
			if t.orig != nil && t.orig.URL != nil {
				u = t.orig.URL.Redacted()
			}
			err = &Error{Code: Code(e.ErrorCode), URL: u}
			if e.ErrorMessage != "" {
				err.Err = errors.New(e.ErrorMessage)
			}
			if len(e.ResumeData) > 0 {
				if bt.kind == api.Download {
					err.DownloadTaskResumeData = e.ResumeData
				} else {
					err.UploadTaskResumeData = e.ResumeData
				}
			}
		}
		b.mu.Lock()
		bt.metrics = e.Metrics
		b.mu.Unlock()
		b.finish(t, err, e.ResumeData)
	}
}

// task returns the task of a job: one this process made or found at
// attach time, else (a job another client gave the session) a task
// made for it now; nil when the job is unknown to the daemon too.
func (b *background) task(job string) *Task {
	b.mu.Lock()
	for b.creating > 0 && b.jobs[job] == nil {
		b.cond.Wait() // the job may be one a Resume is creating
	}
	t := b.jobs[job]
	_, dropped := b.dropped[job]
	b.mu.Unlock()
	if t != nil {
		return t
	}
	if dropped {
		return nil
	}
	s := b.s
	s.mu.Lock()
	ending := s.invalidating || s.invalid
	s.mu.Unlock()
	if ending {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), daemonTimeout)
	defer cancel()
	j, err := b.cl.Job(ctx, job)
	if err != nil || j.Session != b.id {
		return nil
	}
	return b.adopt(j)
}

// reportProgress calls DidWriteData or DidSendBodyData when done moved.
// For a task made from resume data the first count is resumed (what the
// server or the partial file held already), not 0.
func (b *background) reportProgress(t *Task, bt *bgTask, done, expected, resumed int64) {
	bt.mu.Lock()
	if bt.continues && resumed > bt.reported {
		bt.reported = resumed
	}
	announce := bt.continues && bt.kind == api.Download && !bt.resumed && resumed >= 0
	if announce {
		bt.resumed = true
	}
	delta := done - bt.reported
	if delta > 0 {
		bt.reported = done
	}
	bt.mu.Unlock()
	if announce {
		// As in process: once, before the first DidWriteData, where
		// writing continued (0 when the resource came whole again).
		if d, ok := delegateFor[DownloadResumeDelegate](t); ok {
			d.DidResumeAtOffset(b.s, t.downloadTask(), resumed, expected)
		}
	}
	if delta <= 0 {
		return
	}
	if bt.kind == api.Upload {
		if d, ok := delegateFor[SendProgressDelegate](t); ok {
			d.DidSendBodyData(b.s, t, delta, done, expected)
		}
		return
	}
	if d, ok := delegateFor[DownloadProgressDelegate](t); ok {
		d.DidWriteData(b.s, t.downloadTask(), delta, done, expected)
	}
}

// handle marks the events up to seq handled, for the acker.
func (b *background) handle(seq int64) {
	b.mu.Lock()
	if seq > b.handled {
		b.handled = seq
	}
	b.mu.Unlock()
	select {
	case b.ackWake <- struct{}{}:
	default:
	}
}

// ack acknowledges handled events to the daemon, as many at a time as
// were handled meanwhile, until the session detaches.
func (b *background) ack() {
	defer func() {
		b.mu.Lock()
		b.ackDone = true
		b.cond.Broadcast()
		b.mu.Unlock()
		close(b.ackEnd)
	}()
	for {
		b.mu.Lock()
		through, acked, closing := b.handled, b.acked, b.closing
		b.mu.Unlock()
		if through > acked {
			ctx, cancel := context.WithTimeout(context.Background(), daemonTimeout)
			_, err := b.cl.Ack(ctx, b.id, through)
			cancel()
			b.mu.Lock()
			b.ackError = err
			if err == nil {
				b.acked = through
			}
			b.cond.Broadcast()
			b.mu.Unlock()
			if err != nil {
				if closing {
					return
				}
				select { // the daemon may be restarting: try again later
				case <-b.ackWake:
				case <-time.After(time.Second):
				}
			}
			continue
		}
		if closing {
			return
		}
		<-b.ackWake
	}
}

// flush waits until the events up to seq are acknowledged, or the acker
// gave up.
func (b *background) flush(seq int64) {
	b.handle(0) // wake the acker
	b.mu.Lock()
	for b.acked < seq && !b.ackDone && (b.ackError == nil || b.handled < seq) {
		b.cond.Wait()
	}
	b.mu.Unlock()
}

// detachLocked schedules the end of the attachment and the session's
// invalidation after the callbacks already queued; s.mu is held.
func (b *background) detachLocked() {
	b.mu.Lock()
	b.closing = true
	b.mu.Unlock()
	b.s.queue.push(func() {
		select {
		case b.ackWake <- struct{}{}:
		default:
		}
		<-b.ackEnd // every handled event is acknowledged, or the daemon is gone
		close(b.quit)
		b.mu.Lock()
		at := b.at
		b.mu.Unlock()
		at.Close()
		<-b.readEnd
		b.flushCancels()
		b.cl.Close()
		b.mu.Lock()
		left := b.left
		b.left = nil
		b.mu.Unlock()
		for _, t := range left {
			b.release(t)
		}
	})
	b.s.invalidateLocked()
}

// flushCancels makes a last try, starting a daemon when none answers, at
// the cancellations the daemon has not taken yet.
func (b *background) flushCancels() {
	b.mu.Lock()
	n := len(b.cancels)
	b.mu.Unlock()
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), daemonTimeout)
	cl, err := client.Start(ctx, client.StartOptions{Socket: b.cl.Socket()})
	cancel()
	if err != nil {
		return
	}
	defer cl.Close()
	b.sendCancels(cl)
}

// errDetached is the cause of the error of a task that a detaching
// session left running in the daemon.
var errDetached = errors.New("urlsession: the background session detached (FinishTasksAndInvalidate): the transfer goes on in the daemon and its events go to the next session with the identifier")

// release ends, in this process, a task that FinishTasksAndInvalidate
// left: one with a job completes with ErrBackgroundSessionWasDisconnected,
// one never resumed (no job) with ErrCancelled, without
// DidCompleteWithError; its Done channel closes. It runs on the delegate
// queue.
func (b *background) release(t *Task) {
	bt := t.bgTask()
	bt.mu.Lock()
	job := bt.job
	bt.mu.Unlock()
	u := ""
	if t.orig != nil && t.orig.URL != nil {
		u = t.orig.URL.Redacted()
	}
	e := &Error{Code: ErrBackgroundSessionWasDisconnected, URL: u, Err: errDetached}
	if job == "" {
		e = &Error{Code: ErrCancelled, URL: u, Err: ErrSessionInvalidated}
	}
	if !markCompleted(t, e) {
		return
	}
	close(bt.ended)
	t.closeDone()
}

// markCompleted makes t completed, with e as its error unless e is nil,
// and reports whether it was not completed already (only then may the
// caller close its channels).
func markCompleted(t *Task, e *Error) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state == TaskCompleted {
		return false
	}
	t.state = TaskCompleted
	t.paused.Store(false)
	if e != nil {
		t.err = e
	}
	return true
}

// bgFinishAndInvalidate is FinishTasksAndInvalidate of a background
// session: the process detaches and the daemon's transfers run on.
func (s *Session) bgFinishAndInvalidate() {
	s.mu.Lock()
	if s.invalidating {
		s.mu.Unlock()
		return
	}
	s.invalidating = true
	left := make([]*Task, 0, len(s.tasks))
	for t := range s.tasks {
		left = append(left, t)
		delete(s.tasks, t)
		s.active.Add(-1)
	}
	s.bg.mu.Lock()
	s.bg.left = left
	s.bg.mu.Unlock()
	s.bg.detachLocked()
	s.mu.Unlock()
	s.queue.kick()
}

// bgInvalidateAndCancel is InvalidateAndCancel of a background session:
// the daemon's transfers are cancelled, their completions delivered, then
// the session is invalidated.
func (s *Session) bgInvalidateAndCancel() {
	s.mu.Lock()
	if s.invalidating {
		s.mu.Unlock()
		return
	}
	s.invalidating = true
	tasks := s.taskListLocked()
	if len(tasks) == 0 {
		s.bg.detachLocked()
	}
	s.mu.Unlock()
	s.queue.kick()
	for _, t := range tasks {
		t.Cancel()
	}
}

// bgResume is Resume of a background task: the first one creates the
// daemon's job, later ones resume it.
func (t *Task) bgResume(bt *bgTask) {
	b := t.session.bg
	bt.mu.Lock()
	defer bt.mu.Unlock()
	t.mu.Lock()
	if t.state != TaskSuspended {
		t.mu.Unlock()
		return
	}
	first := !t.started
	t.started = true
	t.state = TaskRunning
	t.paused.Store(false)
	t.suspendCount = 0
	if first {
		t.startTime = time.Now()
	}
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), daemonTimeout)
	defer cancel()
	if !first {
		if bt.job != "" {
			b.cl.Resume(ctx, bt.job) // a job that ended meanwhile tells through its events
		}
		return
	}
	n, err := t.newJob(bt)
	if err == nil {
		var j api.Job
		b.mu.Lock()
		b.creating++ // its events wait for it in task
		b.mu.Unlock()
		j, err = b.cl.CreateJob(ctx, n)
		if err == nil {
			b.progress(t, j.BytesDone, j.BytesExpected, 0) // before any event of the job
		}
		b.mu.Lock()
		b.creating--
		if err == nil {
			bt.job = j.ID
			b.jobs[j.ID] = t
		}
		b.cond.Broadcast()
		b.mu.Unlock()
		if err == nil {
			return
		}
	}
	if bt.wrote {
		os.Remove(bt.file) // no job took it
	}
	t.mu.Lock()
	t.state = TaskCanceling
	t.mu.Unlock()
	b.failLocal(t, err)
}

// newJob returns the daemon job of a background task.
func (t *Task) newJob(bt *bgTask) (api.NewJob, error) {
	s := t.session
	req := t.orig
	if req == nil || req.URL == nil {
		return api.NewJob{}, &Error{Code: ErrBadURL, Err: errors.New("urlsession: the task has no URL")}
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return api.NewJob{}, &Error{Code: ErrUnsupportedURL,
			Err: fmt.Errorf("urlsession: background sessions load only http and https URLs, not %q", req.URL.Scheme)}
	}
	if bt.kind == api.Download {
		if _, ok := delegateFor[DownloadDelegate](t); !ok {
			return api.NewJob{}, &Error{Code: ErrUnknown, Err: ErrNoDownloadDelegate}
		}
	}
	if bt.kind == api.Download && req.Body != nil && req.Body != http.NoBody {
		return api.NewJob{}, &Error{Code: ErrUnknown,
			Err: fmt.Errorf("%w: download requests with a body (use an upload task from a file)", ErrNotInBackground)}
	}
	t.mu.Lock()
	prio := t.priority
	var hints taskHints
	x := t.more()
	if x.hints != nil {
		hints = *x.hints
	}
	desc := x.description
	t.mu.Unlock()
	if len(desc) > api.MaxDescription {
		return api.NewJob{}, &Error{Code: ErrUnknown,
			Err: fmt.Errorf("urlsession: the task description has %d bytes; a background task keeps %d at most", len(desc), api.MaxDescription)}
	}
	n := api.NewJob{
		Session:           s.bg.id,
		Kind:              bt.kind,
		Request:           s.bg.jobRequest(req),
		EarliestBegin:     hints.earliest,
		Discretionary:     s.cfg.IsDiscretionary,
		Priority:          toJobPriority(prio),
		Description:       desc,
		TaskIdentifier:    t.id,
		AskBeforeBegin:    !hints.earliest.IsZero() && asksBeforeBegin(t),
		DisallowCellular:  s.cfg.DisallowCellularAccess,
		DisallowExpensive: s.cfg.DisallowExpensiveNetworkAccess,
		ServiceType:       int(t.serviceType()),
		ResumeData:        bt.resume,
		ResourceTimeout:   s.cfg.resourceTimeout().Seconds(),
	}
	if n.ResourceTimeout > 10*365*24*3600 {
		n.ResourceTimeout = 0
	}
	switch bt.kind {
	case api.Upload:
		if bt.resume != nil {
			if err := bt.resumeFile(); err != nil {
				return api.NewJob{}, err
			}
			n.ResumeData = bt.resume
		}
		abs, err := filepath.Abs(bt.file)
		if err != nil {
			return api.NewJob{}, &Error{Code: ErrFileDoesNotExist, Err: err}
		}
		info, err := os.Stat(abs)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return api.NewJob{}, &Error{Code: ErrFileDoesNotExist, Err: err}
		case err != nil:
			return api.NewJob{}, &Error{Code: ErrNoPermissionsToReadFile, Err: err}
		case info.IsDir():
			return api.NewJob{}, &Error{Code: ErrFileIsDirectory, Err: fmt.Errorf("urlsession: %s is a directory", abs)}
		}
		n.File = abs
		n.OwnsFile = bt.owned
		if hints.expectSend > 0 {
			n.BytesExpected = hints.expectSend
		}
	case api.Download:
		if hints.expectRx > 0 {
			n.BytesExpected = hints.expectRx
		}
		if s.bg.dir != "" {
			var r [8]byte
			rand.Read(r[:])
			n.File = filepath.Join(s.bg.dir, hex.EncodeToString(r[:])+".download")
		}
	}
	if err := n.Validate(); err != nil {
		return api.NewJob{}, &Error{Code: ErrBadURL, Err: fmt.Errorf("urlsession: %w", err)}
	}
	return n, nil
}

// bgSuspend is Suspend of a background task: its job is paused.
func (t *Task) bgSuspend(bt *bgTask) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	t.mu.Lock()
	if t.state != TaskRunning {
		t.mu.Unlock()
		return
	}
	t.state = TaskSuspended
	t.paused.Store(true)
	t.mu.Unlock()
	if bt.job != "" {
		ctx, cancel := context.WithTimeout(context.Background(), daemonTimeout)
		t.session.bg.cl.Pause(ctx, bt.job)
		cancel()
	}
}

// bgCancel is Cancel of a background task: its job is cancelled, and the
// task completes with the daemon's complete event; a task without a job
// completes at once.
func (t *Task) bgCancel(bt *bgTask) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	t.mu.Lock()
	switch t.state {
	case TaskCanceling, TaskCompleted:
		t.mu.Unlock()
		return
	}
	t.state = TaskCanceling
	t.paused.Store(false)
	t.started = true
	t.mu.Unlock()
	if bt.job == "" {
		t.session.bg.failLocal(t, &Error{Code: ErrCancelled, Err: errCancelled})
		return
	}
	b := t.session.bg
	ctx, cancel := context.WithTimeout(context.Background(), daemonTimeout)
	defer cancel()
	_, err := b.cl.Cancel(ctx, bt.job)
	switch {
	case err == nil, errors.Is(err, api.ErrConflict):
		return // the job's complete event completes the task
	case unreachable(err):
		// The daemon is gone (or stopping): the task completes now, and
		// the job is cancelled at the next contact, its events dropped.
		b.mu.Lock()
		b.cancels[bt.job] = struct{}{}
		b.dropped[bt.job] = struct{}{}
		b.saveCancelsLocked()
		b.mu.Unlock()
	default:
		// The daemon no longer knows the job: no event will come.
		b.mu.Lock()
		b.dropped[bt.job] = struct{}{}
		b.mu.Unlock()
	}
	b.failLocal(t, &Error{Code: ErrCancelled, Err: errCancelled})
}

// bgCancelByProducingResumeData is CancelByProducingResumeData of a
// background download or upload: it cancels the job and waits for the
// resume data of its completion (delivered to DidCompleteWithError as
// well).
func (t *Task) bgCancelByProducingResumeData(ctx context.Context, bt *bgTask) ([]byte, error) {
	t.bgCancel(bt)
	b := t.session.bg
	bt.mu.Lock()
	job := bt.job
	bt.mu.Unlock()
	delay := 10 * time.Millisecond
	for {
		select {
		case <-bt.ended:
			bt.mu.Lock()
			defer bt.mu.Unlock()
			return bt.endData, nil
		default:
		}
		if job != "" {
			// The completion may wait behind a busy delegate queue: ask
			// the daemon too.
			jctx, cancel := context.WithTimeout(ctx, daemonTimeout)
			j, err := b.cl.Job(jctx, job)
			cancel()
			if err == nil && j.State.Final() {
				return j.ResumeData, nil
			}
		}
		select {
		case <-bt.ended:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}
