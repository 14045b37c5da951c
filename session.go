package urlsession

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/netclass"
	"github.com/urlsession-go/urlsession/internal/pipeline"
	"github.com/urlsession-go/urlsession/urlcache"
)

// Session coordinates a group of tasks: Apple's URLSession. It owns a copy
// of its Configuration, a connection pool, an optional delegate and the
// serial queue the delegate's callbacks run on.
//
// Create tasks with the factory methods (DataTask, UploadTask, ...), which
// return them suspended, then call Resume; or use the context-first calls
// (Data, Upload, Bytes), which run a task and wait for it.
//
// A Session is safe for concurrent use. It holds its delegate until it is
// invalidated with FinishTasksAndInvalidate or InvalidateAndCancel; a
// session that is no longer needed should be invalidated so that its idle
// connections close.
//
// Goroutines: a running task loads on a goroutine of its own (the
// context-first calls load on the caller's goroutine instead); when the task
// completes, that goroutine waits to load the session's next task while the
// session has tasks that have not completed and for a second after the last
// one completed, then ends. The delegate queue has one goroutine while the
// session has callbacks to deliver or tasks that have not completed. When
// the queue is idle, a task's own goroutine may run that task's callbacks
// itself, still one at a time and in order with every other callback of the
// session. A session idle for over a second, or invalidated, holds no
// goroutine besides the connection pool's.
type Session struct {
	cfg       *Configuration
	chain     pipeline.Chain
	transport atomic.Pointer[http.Transport]
	svc       serviceTransports // for requests of another NetworkServiceType
	h3        h3State
	queue     queue
	runners   runners
	watch     watch
	shared    bool
	delegate  atomic.Pointer[delegateBox] // nil once invalidated
	active    atomic.Int32                // registered tasks not yet finished
	auth      sessionAuth                 // credentials servers accepted
	downloads downloadFiles               // the download tasks' directory
	proxies   *proxyRouter                // the proxies of the session's connections
	bg        *background                 // a background session's side, or nil
	netclass  netclass.Classifier         // networks of requests that refuse some (see connCheck)

	mu           sync.Mutex
	tasks        map[*Task]struct{}
	nextID       int
	invalidating bool
	invalid      bool
	description  string
	invalidated  chan struct{} // closed once DidBecomeInvalidWithError returned
}

// New returns a session with a copy of cfg (DefaultConfiguration when nil)
// and the given delegate, which may be nil. The delegate is any value
// implementing some of the delegate interfaces (see InvalidationDelegate and
// the others). New fails when cfg.Validate does, and with a *DelegateError
// when the delegate has a method named like a callback whose signature is
// not the callback's, which the session would never call.
func New(cfg *Configuration, delegate any) (*Session, error) {
	cfg = cfg.Clone()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkDelegate(delegate); err != nil {
		return nil, err
	}
	if cfg.background {
		if err := checkBackground(cfg, delegate); err != nil {
			return nil, err
		}
	}
	cfg.HTTPAdditionalHeaders = pipeline.CanonicalHeader(cfg.HTTPAdditionalHeaders)
	s := &Session{cfg: cfg, tasks: make(map[*Task]struct{}), invalidated: make(chan struct{})}
	if delegate != nil {
		s.delegate.Store(&delegateBox{delegate})
	}
	s.queue.keep = func() bool { return s.active.Load() > 0 }
	s.runners.keep = s.queue.keep
	s.proxies = newProxyRouter(cfg, baseDial(cfg))
	s.transport.Store(newTransport(cfg, s.proxies))
	s.h3.tr.Store(newH3Transport(cfg, &s.h3))
	ua := cfg.UserAgent
	if ua == "" {
		ua = defaultUserAgent()
	}
	s.chain = pipeline.Chain{
		pipeline.Followup{},
		hstsStage{cfg.HSTSStorage},
		transportSecurityStage(cfg),
		&pipeline.Bridge{
			Headers: cfg.HTTPAdditionalHeaders, UserAgent: ua,
			Cookies: cfg.HTTPCookieStorage, SendCookies: !cfg.DoNotSendCookies, AcceptPolicy: cfg.HTTPCookieAcceptPolicy.storePolicy(),
		},
		&pipeline.Cache{Cache: cfg.URLCache},
		&pipeline.Dispatch{Protocols: protocols(cfg.Protocols), Builtins: builtinProtocols(cfg), Transport: sessionTransport{s}, Proxy: s.proxies.usesProxy},
	}
	if cfg.background {
		if err := s.attachBackground(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

var (
	sharedOnce    sync.Once
	sharedSession *Session
)

// Shared returns the shared session: default configuration, no delegate.
// FinishTasksAndInvalidate and InvalidateAndCancel do nothing on it, as in
// Apple's API.
func Shared() *Session {
	sharedOnce.Do(func() {
		sharedSession, _ = New(DefaultConfiguration(), nil)
		sharedSession.shared = true
	})
	return sharedSession
}

// Version is the library's version, sent in the default User-Agent.
const Version = "0.1.0"

func defaultUserAgent() string {
	name := "go"
	if exe, err := os.Executable(); err == nil {
		name = filepath.Base(exe)
	}
	return name + " urlsession/" + Version
}

// baseDial opens the session's TCP connections (to origins and proxies),
// each within ConnectTimeout.
func baseDial(cfg *Configuration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dial := cfg.DialContext
	if dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second, ControlContext: markControl(cfg.NetworkServiceType)}
		if cfg.MultipathServiceType != MultipathNone {
			d.SetMultipathTCP(true) // falls back to TCP where MPTCP is not available
		}
		dial = d.DialContext
	}
	if cfg.DisallowCellularAccess || cfg.DisallowExpensiveNetworkAccess {
		dial = refusingDial(dial, cfg.DisallowCellularAccess, cfg.DisallowExpensiveNetworkAccess)
	}
	limit := cfg.ConnectTimeout
	if limit <= 0 {
		return dial
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		return dial(ctx, network, addr)
	}
}

func newTransport(cfg *Configuration, proxies *proxyRouter) *http.Transport {
	tr, _ := newTransportTLS(cfg, proxies)
	return tr
}

// newTransportTLS returns a new transport for cfg and the dialer that
// secures its connections, which stream tasks use too.
func newTransportTLS(cfg *Configuration, proxies *proxyRouter) (*http.Transport, *tlsDialer) {
	maxConns := cfg.maxConnsPerHost()
	idlePerHost := maxConns
	if idlePerHost == 0 {
		idlePerHost = 100
	}
	tr := &http.Transport{
		Proxy:                  transportProxy,
		DialContext:            proxies.dial,
		ForceAttemptHTTP2:      !cfg.DisableHTTP2,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    idlePerHost,
		MaxConnsPerHost:        maxConns,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 1 << 20,
	}
	tr.TLSClientConfig = baseTLSConfig(cfg)
	d := secureTransport(tr, newPinSet(cfg.PinnedDomains)) // after DialContext and TLSClientConfig
	if cfg.DisableHTTP2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	installPools(tr, !cfg.DisableHTTP2, cfg.requestTimeout())
	return tr, d
}

// baseTLSConfig returns the TLS settings of cfg's https connections,
// before the session's callbacks: TLSClientConfig, the TLS versions and
// App Transport Security. It may be nil.
func baseTLSConfig(cfg *Configuration) *tls.Config {
	var tc *tls.Config
	if cfg.TLSClientConfig != nil || cfg.TLSMinimumSupportedProtocolVersion != 0 || cfg.TLSMaximumSupportedProtocolVersion != 0 {
		tc = cfg.TLSClientConfig.Clone()
		if tc == nil {
			tc = new(tls.Config)
		}
		if v := cfg.TLSMinimumSupportedProtocolVersion; v != 0 {
			tc.MinVersion = v
		}
		if v := cfg.TLSMaximumSupportedProtocolVersion; v != 0 {
			tc.MaxVersion = v
		}
	}
	return cfg.TransportSecurity.tlsConfig(tc)
}

// sessionTransport sends requests on the session's current transport, which
// Reset and Flush replace.
type sessionTransport struct{ s *Session }

func (st sessionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if isConnect(req) {
		return st.s.proxies.roundTrip(connectTransport{st.s.transport.Load(), !st.s.cfg.DisableHTTP2}, req) // connect.go
	}
	origin, addr, only, err := st.s.h3Route(req)
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // as a RoundTripper would
		}
		return nil, err
	}
	if addr != "" {
		if h3 := st.s.h3.tr.Load(); h3 != nil {
			if resp, err, handled := h3.roundTrip(req, origin, addr, only); handled {
				st.s.observeAltSvc(req, resp)
				return resp, err
			}
		}
	}
	resp, err := st.s.proxies.roundTrip(st.s.transportFor(st.s.requestServiceType(req)), markHTTP1Only(req))
	st.s.observeAltSvc(req, resp)
	return resp, refusedClientCertificate(req, err)
}

func protocols(ps []Protocol) []pipeline.Protocol {
	out := make([]pipeline.Protocol, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// Configuration returns a copy of the session's configuration.
func (s *Session) Configuration() *Configuration { return s.cfg.Clone() }

// Delegate returns the session's delegate; nil once the session has been
// invalidated and DidBecomeInvalidWithError delivered.
func (s *Session) Delegate() any { return s.currentDelegate() }

// delegateBox holds a delegate for an atomic pointer.
type delegateBox struct{ d any }

func (s *Session) currentDelegate() any {
	if b := s.delegate.Load(); b != nil {
		return b.d
	}
	return nil
}

// SessionDescription returns the description set with SetSessionDescription.
func (s *Session) SessionDescription() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.description
}

// SetSessionDescription sets a free-form description of the session for the
// caller's use.
func (s *Session) SetSessionDescription(d string) {
	s.mu.Lock()
	s.description = d
	s.mu.Unlock()
}

// newTask registers a new suspended task and announces it to the delegate.
// On an invalidated session the task is returned completed with
// ErrSessionInvalidated.
func (s *Session) newTask(req *http.Request, body bodySource, d delivery) *Task {
	return s.newTaskWith(req, body, d, nil)
}

// newTaskOf is newTask for a task of another kind: sock, when not nil, is
// made for the task before it is registered or announced.
func (s *Session) newTaskOf(req *http.Request, body bodySource, d delivery, sock func(*Task) sockTask) *Task {
	var init func(*Task)
	if sock != nil {
		init = func(t *Task) { t.more().sock = sock(t) }
	}
	return s.newTaskWith(req, body, d, init)
}

// newTaskWith is newTask with init, if not nil, called on the new task
// before it is registered or completed.
func (s *Session) newTaskWith(req *http.Request, body bodySource, d delivery, init func(*Task)) *Task {
	return s.makeTask(req, body, d, init, true)
}

// makeTask is newTaskWith; announce says whether the delegate hears of the
// task (not for the tasks a background session finds at the daemon). A
// background session refuses, as an invalidated session does, every task
// its own factories did not make (see bgRefusal).
func (s *Session) makeTask(req *http.Request, body bodySource, d delivery, init func(*Task), announce bool) *Task {
	t := &Task{
		session: s,
		orig:    req,
		current: req,
		body:    body,
		deliver: d,

		state:        TaskSuspended,
		suspendCount: 1,
		priority:     DefaultPriority,
	}
	t.expectedRecv.Store(TransferSizeUnknown)
	var explicit bool
	if t.opts, explicit = OptionsOf(req); !explicit {
		t.opts.CachePolicy = s.cfg.RequestCachePolicy
	}
	t.dataTask.Task = t
	t.data = &t.dataTask
	t.ctx.task = t
	if init != nil {
		init(t)
	}
	var refused error
	if s.bg != nil && t.bgTask() == nil {
		refused = bgRefusal(t)
	}
	s.mu.Lock()
	s.assignIDLocked(t)
	if refused == nil && (s.invalidating || s.invalid) {
		refused = &Error{Code: ErrCancelled, Err: ErrSessionInvalidated}
	}
	if refused != nil {
		s.mu.Unlock()
		t.started = true
		t.orphan = true
		t.state = TaskCanceling
		t.complete(nil, nil, refused, false)
		return t
	}
	s.tasks[t] = struct{}{}
	s.active.Add(1)
	if !announce {
		s.mu.Unlock()
		return t
	}
	if cd, ok := s.currentDelegate().(TaskCreationDelegate); ok {
		s.queue.add(func() { cd.DidCreateTask(s, t) })
	}
	s.mu.Unlock()
	return t
}

// assignIDLocked gives t its identifier: the next one, or for a task made
// for a background job found at the daemon the identifier of the task that
// created the job, as Apple's background sessions keep it across launches,
// unless a task of the session already has it.
func (s *Session) assignIDLocked(t *Task) {
	want := 0
	if s.bg != nil {
		if bt := t.bgTask(); bt != nil {
			want = bt.taskID
		}
	}
	switch {
	case want > s.nextID:
		s.nextID = want
		t.id = want
		return
	case want > 0 && !s.hasTaskIDLocked(want):
		t.id = want
		return
	}
	s.nextID++
	t.id = s.nextID
}

func (s *Session) hasTaskIDLocked(id int) bool {
	for t := range s.tasks {
		if t.id == id {
			return true
		}
	}
	return false
}

// taskFinished removes a completed task and queues its last callbacks (if
// any), then the session's invalidation if it was waiting for this task.
// With here set (the task's own goroutine), the callbacks may run on the
// calling goroutine.
func (s *Session) taskFinished(t *Task, callbacks func(), here bool) {
	s.mu.Lock()
	delete(s.tasks, t)
	s.active.Add(-1)
	if callbacks != nil {
		s.queue.push(callbacks)
	}
	if s.invalidating && !s.invalid && len(s.tasks) == 0 {
		s.invalidateLocked()
	}
	s.mu.Unlock()
	if here {
		s.queue.runHere()
	} else {
		s.queue.kick()
	}
	if s.active.Load() == 0 {
		s.runners.release()
	}
}

// invalidateLocked schedules the end of the session on the delegate queue,
// after every callback already queued: the delegate is dropped, idle
// connections closed, the stores' pending writes made durable, and
// DidBecomeInvalidWithError delivered.
func (s *Session) invalidateLocked() {
	s.invalid = true
	d := s.currentDelegate()
	s.queue.push(func() {
		s.delegate.Store(nil)
		s.runners.close()
		retire(s.transport.Load())
		s.svc.close()
		if h3 := s.h3.tr.Load(); h3 != nil {
			h3.close()
		}
		s.downloads.remove()
		err := s.flushStores()
		if id, ok := d.(InvalidationDelegate); ok {
			id.DidBecomeInvalidWithError(s, err)
		}
		close(s.invalidated)
	})
}

// flushStores makes every write to the session's stores so far durable (the
// cache's background disk writes included) and returns what failed.
func (s *Session) flushStores() error {
	var errs []error
	for _, st := range s.chain {
		if c, ok := st.(*pipeline.Cache); ok {
			c.Wait() // background revalidations store their answers first
		}
	}
	if c := s.cfg.URLCache; c != nil {
		if err := c.Flush(); err != nil && !errors.Is(err, urlcache.ErrClosed) {
			errs = append(errs, fmt.Errorf("urlsession: writing the URL cache: %w", err))
		}
	}
	if c := s.cfg.HTTPCookieStorage; c != nil {
		if err := c.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("urlsession: writing the cookie storage: %w", err))
		}
	}
	if c := s.cfg.URLCredentialStorage; c != nil {
		if err := c.Flush(); err != nil && !errors.Is(err, credstore.ErrClosed) {
			errs = append(errs, fmt.Errorf("urlsession: writing the credential storage: %w", err))
		}
	}
	if err := s.cfg.HSTSStorage.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("urlsession: writing the HSTS storage: %w", err))
	}
	return errors.Join(errs...)
}

// Invalidated returns a channel that is closed once the session is invalid:
// after FinishTasksAndInvalidate or InvalidateAndCancel, when every task has
// completed, every callback has run, the writes to the session's stores are
// on disk, and DidBecomeInvalidWithError has returned. A program that
// invalidates a session and waits on Invalidated before it exits loses no
// cache entry, cookie or credential. The channel is never closed for the
// shared session.
func (s *Session) Invalidated() <-chan struct{} { return s.invalidated }

// FinishTasksAndInvalidate invalidates the session once its tasks complete:
// no new task can be created, existing ones (including suspended ones) run
// to completion, the stores' pending writes (cache entries, cookies,
// credentials) are made durable, then the delegate gets
// DidBecomeInvalidWithError as its last callback and the session drops it.
// Its error is nil unless a store could not be written. It returns at once;
// Invalidated tells when it is done. It does nothing on the shared session.
func (s *Session) FinishTasksAndInvalidate() {
	if s.shared {
		return
	}
	if s.bg != nil {
		s.bgFinishAndInvalidate()
		return
	}
	s.mu.Lock()
	if s.invalidating {
		s.mu.Unlock()
		return
	}
	s.invalidating = true
	if len(s.tasks) == 0 {
		s.invalidateLocked()
	}
	s.mu.Unlock()
	s.queue.kick()
}

// InvalidateAndCancel cancels every task of the session, which complete with
// ErrCancelled, then invalidates it as FinishTasksAndInvalidate does. It
// returns at once. It does nothing on the shared session.
func (s *Session) InvalidateAndCancel() {
	if s.shared {
		return
	}
	if s.bg != nil {
		s.bgInvalidateAndCancel()
		return
	}
	s.mu.Lock()
	tasks := s.taskListLocked()
	s.mu.Unlock()
	s.FinishTasksAndInvalidate()
	for _, t := range tasks {
		t.Cancel()
	}
}

func (s *Session) taskListLocked() []*Task {
	list := make([]*Task, 0, len(s.tasks))
	for t := range s.tasks {
		list = append(list, t)
	}
	slices.SortFunc(list, func(a, b *Task) int { return a.id - b.id })
	return list
}

// TaskSet is the session's tasks that have not completed, by kind, each in
// creation order.
type TaskSet struct {
	Data      []*DataTask
	Upload    []*UploadTask
	Stream    []*StreamTask
	WebSocket []*WebSocketTask
	Download  []*DownloadTask
}

// Tasks returns the session's tasks that have not completed (running,
// suspended or canceling), by kind: Apple's getTasksWithCompletionHandler.
func (s *Session) Tasks() TaskSet {
	var set TaskSet
	for _, t := range s.AllTasks() {
		if x := t.extra.Load(); x != nil && x.sock != nil {
			x.sock.addTo(&set)
			continue
		}
		if t.upload != nil {
			set.Upload = append(set.Upload, t.upload)
		} else if dt := t.downloadTask(); dt != nil {
			set.Download = append(set.Download, dt)
		} else {
			set.Data = append(set.Data, t.data)
		}
	}
	return set
}

// AllTasks returns every task of the session that has not completed, in
// creation order: Apple's getAllTasks.
func (s *Session) AllTasks() []*Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taskListLocked()
}

// Reset empties the session's stores (its URLCache, cookie storage and
// credential storage: shared stores are emptied for every session using
// them, as with Apple's reset), forgets the credentials the session sends
// pre-emptively, the HTTP/3 alternatives servers advertised and the TLS
// session tickets kept for early data, and makes later tasks use new
// connections.
// Tasks already running are not affected. It returns when done; ctx bounds
// the wait.
func (s *Session) Reset(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c := s.cfg.URLCache; c != nil {
		c.RemoveAllCachedResponses()
	}
	if c := s.cfg.HTTPCookieStorage; c != nil {
		c.RemoveAll()
	}
	s.auth.reset()
	s.proxies.reset()
	s.h3.alt.reset()
	s.h3.tickets.reset()
	var err error
	if c := s.cfg.URLCredentialStorage; c != nil {
		err = c.RemoveAll()
	}
	return errors.Join(err, s.Flush(ctx))
}

// Flush writes the session's stores to disk and makes later tasks use new
// connections. It returns when done, with the first error a store reported;
// ctx bounds the wait.
func (s *Session) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var errs []error
	if c := s.cfg.URLCache; c != nil {
		errs = append(errs, c.Flush())
	}
	if c := s.cfg.HTTPCookieStorage; c != nil {
		errs = append(errs, c.Flush())
	}
	if c := s.cfg.URLCredentialStorage; c != nil {
		errs = append(errs, c.Flush())
	}
	errs = append(errs, s.cfg.HSTSStorage.Flush())
	errs = append(errs, s.renewTransport(ctx))
	return errors.Join(errs...)
}

func (s *Session) renewTransport(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	old := s.transport.Swap(newTransport(s.cfg, s.proxies))
	retire(old)
	s.svc.close()
	if h3 := s.h3.tr.Swap(newH3Transport(s.cfg, &s.h3)); h3 != nil {
		h3.close()
	}
	return nil
}

// Client returns an *http.Client that sends its requests as tasks of this
// session, for code that expects one. The session follows redirects (the
// client does not follow them again), decodes bodies, applies the
// configuration and calls the session delegate; the response body streams
// as with Bytes. Closing the body before its end cancels the task.
func (s *Session) Client() *http.Client {
	return &http.Client{
		Transport:     clientTransport{s},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type clientTransport struct{ s *Session }

func (c clientTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	_, resp, err := c.s.Bytes(req.Context(), req)
	return resp, err
}
