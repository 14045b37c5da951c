//go:build unix

package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/store"
)

// Config sets up a Server. Zero values take the documented defaults.
type Config struct {
	// Store holds jobs and events; required. The caller closes it after
	// Serve has returned.
	Store *store.Store
	// Runner runs the transfers; required.
	Runner Runner
	// Logger receives the daemon's log; nil discards it. Requests are
	// logged without credentials (see api.Request.LogValue).
	Logger *slog.Logger

	// MaxConcurrent is how many transfers run at once for the user
	// (default 6, as background sessions run on Apple devices).
	MaxConcurrent int
	// IdleTimeout is how long the daemon waits with no unfinished job, no
	// connection and no launch to retry before Serve returns (default 5
	// minutes; negative: never).
	IdleTimeout time.Duration
	// RetryBase is the first retry delay after a transient failure or a
	// stall (default 30 s); each retry doubles it, up to RetryMax
	// (default 1 hour).
	RetryBase time.Duration
	RetryMax  time.Duration
	// MaxRetryAfter bounds a server's Retry-After (default 24 hours).
	MaxRetryAfter time.Duration
	// MinThroughput is the floor in bytes per second (default 1024): a
	// transfer that moves fewer than MinThroughput×StallWindow bytes in a
	// StallWindow (default 60 s) is stopped into resume data and retried
	// later. Negative disables the floor.
	MinThroughput int64
	StallWindow   time.Duration
	// ResourceTimeout is the default time from a job's creation to its
	// final give-up with error -1001 (default 7 days, Apple's
	// timeoutIntervalForResource).
	ResourceTimeout time.Duration
	// ProgressInterval is the least time between two stored progress
	// events (and watch updates) of a job (default 1 s).
	ProgressInterval time.Duration
	// LaunchDelay is the least time between two launches of a session's
	// command (default 60 s); it doubles per launch up to LaunchDelayMax
	// (default 6 hours) and falls back to LaunchDelay once a delay has
	// passed with no launch needed.
	LaunchDelay    time.Duration
	LaunchDelayMax time.Duration
	// Launch runs a session's launch command; nil starts argv detached
	// (its own session, standard streams on /dev/null) with
	// URLSESSION_IDENTIFIER=<session> added to the environment.
	Launch func(session string, argv []string) error
	// Conditions reports whether discretionary jobs may run now; nil
	// means always.
	Conditions func() bool
	// DownloadDir is where downloads without a file of their own go
	// (default: a "downloads" directory, 0700, beside the store).
	DownloadDir string
	// MaxJobs bounds the unfinished jobs the daemon keeps for the user
	// (default 10,000); creating one more is refused with 429.
	MaxJobs int
	// Socket is the socket path reported by GET /v1/info.
	Socket string
	// Listener, for Run, is a listening socket to serve on instead of
	// making one at api.SocketPath(): the one socket activation passed
	// (see Activated). Run closes it but never removes its file.
	Listener *net.UnixListener
}

// Server is the daemon: the HTTP API, the scheduler and the launcher.
// Its goroutines end when Serve returns.
type Server struct {
	cfg  Config
	st   *store.Store
	log  *slog.Logger
	uid  int
	wake chan struct{}

	mu       sync.Mutex
	jobs     map[string]*jobState
	sessions map[string]*sessionState
	watchers map[*watcher]struct{}
	conns    int
	running  int
	stopping bool
	wg       sync.WaitGroup // run goroutines
	idleAt   time.Time      // when the daemon last became idle
	idle     chan struct{}  // closed on idle exit
	idleOnce sync.Once
	quit     chan struct{} // closed by Shutdown
	quitOnce sync.Once
}

type jobState struct {
	job         api.Job
	cancel      context.CancelCauseFunc // while running
	completeSeq int64                   // seq of the job's complete event
	lastSaved   time.Time
	lastWatch   time.Time
	winStart    time.Time // throughput window
	winBytes    int64
	rateAt      time.Time
	rateBytes   int64
	checkpoint  []byte       // resume data reported while running, not yet stored
	body        []byte       // an upload's response body, for its complete event (see endLocked)
	askSeq      int64        // seq of the job's newest begin-delayed event
	metrics     *api.Metrics // the runs' since the daemon started, for the complete event (see endLocked)
}

type sessionState struct {
	attached    *attachment
	pending     bool // events wait
	launchDelay time.Duration
	nextLaunch  time.Time
}

type attachment struct {
	peer   Peer
	notify chan struct{}
}

// New checks cfg, loads the stored jobs and returns a Server. Jobs that
// were running when the previous daemon ended are queued again, to
// continue from their resume data.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Runner == nil {
		return nil, errors.New("server: Config needs a Store and a Runner")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 6
	}
	if cfg.MaxJobs <= 0 {
		cfg.MaxJobs = 10000
	}
	def(&cfg.IdleTimeout, 5*time.Minute)
	def(&cfg.RetryBase, 30*time.Second)
	def(&cfg.RetryMax, time.Hour)
	def(&cfg.MaxRetryAfter, 24*time.Hour)
	def(&cfg.StallWindow, time.Minute)
	def(&cfg.ResourceTimeout, 7*24*time.Hour)
	def(&cfg.ProgressInterval, time.Second)
	def(&cfg.LaunchDelay, time.Minute)
	def(&cfg.LaunchDelayMax, 6*time.Hour)
	if cfg.MinThroughput == 0 {
		cfg.MinThroughput = 1024
	}
	if cfg.Launch == nil {
		cfg.Launch = launchDetached
	}
	if cfg.DownloadDir == "" {
		cfg.DownloadDir = filepath.Join(filepath.Dir(cfg.Store.Path()), "downloads")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, st: cfg.Store, log: log, uid: os.Getuid(),
		wake:     make(chan struct{}, 1),
		jobs:     map[string]*jobState{},
		sessions: map[string]*sessionState{},
		watchers: map[*watcher]struct{}{},
		idle:     make(chan struct{}),
		quit:     make(chan struct{}),
	}
	ctx := context.Background()
	jobs, err := s.st.Jobs(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("server: loading jobs: %w", err)
	}
	for _, j := range jobs {
		js := &jobState{job: j}
		if j.State == api.Running {
			js.job.State = api.Queued
			js.job.Rate = 0
			if _, err := s.st.PutJob(ctx, &js.job); err != nil {
				return nil, fmt.Errorf("server: requeueing job %s: %w", j.ID, err)
			}
			log.Info("requeued an interrupted job", "job", j.ID, "bytes_done", j.BytesDone, "resume_data", len(j.ResumeData))
		}
		s.jobs[j.ID] = js
	}
	sessions, err := s.st.Sessions(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: loading sessions: %w", err)
	}
	for _, ss := range sessions {
		s.sessions[ss.ID] = &sessionState{pending: ss.PendingEvents > 0, launchDelay: cfg.LaunchDelay}
		if ss.PendingEvents > 0 {
			// The final jobs whose complete event waits stay until it
			// is acknowledged; find those events' sequence numbers.
			evs, _, err := s.st.Events(ctx, ss.ID, ss.AckedSeq, 1<<30)
			if err != nil {
				return nil, fmt.Errorf("server: loading events: %w", err)
			}
			s.noteSeqsLocked(evs)
		}
	}
	// Final jobs with no waiting complete event were acknowledged (the
	// daemon stopped before deleting them).
	for id, js := range s.jobs {
		if js.job.State.Final() && js.completeSeq == 0 {
			if err := s.st.DeleteJob(ctx, id); err != nil {
				return nil, fmt.Errorf("server: %w", err)
			}
			removeOwnFile(js.job)
			delete(s.jobs, id)
		}
	}
	s.idleAt = time.Now()
	return s, nil
}

// Serve answers the API on ln and runs the scheduler until Shutdown is
// called (it returns http.ErrServerClosed) or the daemon has been idle
// for Config.IdleTimeout (it returns nil). On a Unix listener only
// connections from the daemon's own uid are accepted. Serve closes ln.
func (s *Server) Serve(ln net.Listener) error {
	if _, ok := ln.(*net.UnixListener); ok {
		ln = &peerListener{Listener: ln, uid: s.uid, log: s.log}
	}
	hs := &http.Server{
		Handler:           s.Handler(),
		ConnContext:       peerContext,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute, // idle keep-alive connections must not keep the daemon up
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.mu.Lock()
				s.conns++
				s.mu.Unlock()
			case http.StateClosed, http.StateHijacked:
				s.mu.Lock()
				s.conns--
				s.mu.Unlock()
				s.poke()
			}
		},
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		s.Loop(ctx)
	}()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	var err error
	select {
	case err = <-served:
	case <-s.idle:
		s.log.Info("idle: exiting")
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		hs.Shutdown(sctx)
		cancel()
		<-served
	case <-s.quit:
		s.log.Info("shutting down")
		// Streams never end on their own: close every connection.
		hs.Close()
		<-served
		err = http.ErrServerClosed
	}
	stop()
	<-loopDone
	s.stopRuns()
	hs.Close()
	return err
}

// Shutdown makes Serve stop: it closes the listener and every
// connection, stops running transfers into their resume data (stored as
// queued, to continue at the next start) and returns when Serve has
// returned or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.quitOnce.Do(func() { close(s.quit) })
	s.mu.Lock()
	s.stopping = true
	for _, js := range s.jobs {
		if js.cancel != nil {
			js.cancel(errStopping)
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopRuns stops every running transfer into resume data and waits for
// their state to be stored.
func (s *Server) stopRuns() {
	s.mu.Lock()
	s.stopping = true
	for _, js := range s.jobs {
		if js.cancel != nil {
			js.cancel(errStopping)
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Handler returns the HTTP handler of the API (see package api), for
// Serve and for tests.
func (s *Server) Handler() http.Handler { return s.routes() }

// poke wakes the scheduler.
func (s *Server) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Loop runs the scheduler until ctx is done: it starts due jobs, watches
// running ones, sends launch events and decides idle exit. Serve runs it;
// tests run it alone, under testing/synctest. When Loop returns, running
// transfers go on until Serve stops them.
func (s *Server) Loop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next := s.schedule()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// newID returns a random job ID of 12 hexadecimal digits.
func newID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CreateJob stores a new job and queues it (or keeps it paused).
func (s *Server) CreateJob(ctx context.Context, n *api.NewJob) (api.Job, error) {
	now := time.Now()
	timeout := s.cfg.ResourceTimeout
	if n.ResourceTimeout > 0 {
		timeout = time.Duration(n.ResourceTimeout * float64(time.Second))
	}
	j := api.Job{
		ID: newID(), Session: n.Session, Kind: n.Kind, Request: n.Request,
		File: n.File, Destination: n.Destination, OwnsFile: n.OwnsFile, State: api.Queued, BytesExpected: -1,
		EarliestBegin: n.EarliestBegin, Discretionary: n.Discretionary,
		Priority: n.Priority, ResumeData: n.ResumeData,
		Description: n.Description, TaskIdentifier: n.TaskIdentifier, AskBeforeBegin: n.AskBeforeBegin,
		DisallowCellular: n.DisallowCellular, DisallowExpensive: n.DisallowExpensive, ServiceType: n.ServiceType,
		Created: now.UTC(), Deadline: now.Add(timeout).UTC(),
	}
	if n.BytesExpected > 0 {
		j.BytesExpected = n.BytesExpected
	}
	if len(n.ResumeData) > 0 {
		j.BytesResumed = -1 // known at the first run's first report
	}
	if n.Paused {
		j.State = api.Paused
	}
	if j.Kind == api.Upload {
		info, err := os.Stat(j.File)
		if err != nil || !info.Mode().IsRegular() {
			return api.Job{}, &api.Error{Code: api.CodeBadRequest, Status: http.StatusBadRequest,
				Message: fmt.Sprintf("upload file %s is not a readable regular file", j.File)}
		}
		if j.BytesExpected < 0 {
			j.BytesExpected = info.Size()
		}
	}
	if j.Kind == api.Download && j.File == "" {
		if err := mkdirPrivate(s.cfg.DownloadDir); err != nil {
			return api.Job{}, fmt.Errorf("download directory: %w", err)
		}
		j.File = s.cfg.DownloadDir + "/" + j.ID + ".download"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return api.Job{}, errShuttingDown
	}
	unfinished := 0
	for _, js := range s.jobs {
		if !js.job.State.Final() {
			unfinished++
		}
	}
	if unfinished >= s.cfg.MaxJobs {
		return api.Job{}, &api.Error{Code: api.CodeTooMany, Status: http.StatusTooManyRequests,
			Message: fmt.Sprintf("the daemon already holds %d unfinished jobs, its limit", unfinished)}
	}
	if _, err := s.st.PutJob(ctx, &j); err != nil {
		return api.Job{}, err
	}
	s.jobs[j.ID] = &jobState{job: j}
	s.sessionLocked(j.Session)
	s.log.Info("job created", "job", j.ID, "session", j.Session, "kind", j.Kind, "request", j.Request)
	s.publishLocked(&j)
	s.poke()
	return j, nil
}

var errShuttingDown = &api.Error{Code: api.CodeShutdown, Message: "the daemon is stopping", Status: http.StatusServiceUnavailable}

func (s *Server) sessionLocked(id string) *sessionState {
	ss := s.sessions[id]
	if ss == nil {
		ss = &sessionState{launchDelay: s.cfg.LaunchDelay}
		s.sessions[id] = ss
	}
	return ss
}

func notFound(what, id string) error {
	return &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no %s %q", what, id), Status: http.StatusNotFound}
}

func conflict(format string, args ...any) error {
	return &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf(format, args...), Status: http.StatusConflict}
}

// Job returns a job's current state.
func (s *Server) Job(id string) (api.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	js := s.jobs[id]
	if js == nil {
		return api.Job{}, notFound("job", id)
	}
	return js.job, nil
}

// Jobs returns the jobs of a session ("" for all), oldest first.
func (s *Server) Jobs(session string) []api.Job {
	s.mu.Lock()
	out := make([]api.Job, 0, len(s.jobs))
	for _, js := range s.jobs {
		if session == "" || js.job.Session == session {
			out = append(out, js.job)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b api.Job) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return out
}

// Pause stops a job into its resume data and keeps it until resumed. A
// final job cannot be paused; pausing a paused job does nothing.
func (s *Server) Pause(ctx context.Context, id string) (api.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	js := s.jobs[id]
	if js == nil {
		return api.Job{}, notFound("job", id)
	}
	switch {
	case js.job.State.Final():
		return js.job, conflict("job %s is %s", id, js.job.State)
	case js.cancel != nil:
		js.cancel(errPaused) // the run's end stores the paused state
		return js.job, nil
	case js.job.State == api.Paused:
		return js.job, nil
	}
	js.job.State = api.Paused
	if err := s.saveLocked(ctx, js); err != nil {
		return api.Job{}, err
	}
	return js.job, nil
}

// Resume queues a paused (or waiting) job at once.
func (s *Server) Resume(ctx context.Context, id string) (api.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	js := s.jobs[id]
	if js == nil {
		return api.Job{}, notFound("job", id)
	}
	switch js.job.State {
	case api.Paused, api.Waiting:
		js.job.State = api.Queued
		js.job.NextAttempt = time.Time{}
		if err := s.saveLocked(ctx, js); err != nil {
			return api.Job{}, err
		}
		s.poke()
	case api.Queued, api.Running:
	default:
		return js.job, conflict("job %s is %s", id, js.job.State)
	}
	return js.job, nil
}

// Cancel ends a job with error -999 (and its resume data, when any).
func (s *Server) Cancel(ctx context.Context, id string) (api.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	js := s.jobs[id]
	if js == nil {
		return api.Job{}, notFound("job", id)
	}
	if js.job.State.Final() {
		return js.job, conflict("job %s is %s", id, js.job.State)
	}
	if js.cancel != nil {
		js.cancel(errCancelled)
		return js.job, nil
	}
	if err := s.endLocked(ctx, js, api.Cancelled, codeCancelled, "cancelled", js.job.ResumeData, 0, ""); err != nil {
		return api.Job{}, err
	}
	return js.job, nil
}

// Begin answers a job's begin-delayed event: start it, start it with
// another request, or cancel it. A job that is not waiting for an answer
// (never asked, already answered, ended) is a conflict.
func (s *Server) Begin(ctx context.Context, id string, b *api.Begin) (api.Job, error) {
	if b.Disposition == api.BeginCancel {
		s.mu.Lock()
		js := s.jobs[id]
		asking := js != nil && js.job.Asking
		s.mu.Unlock()
		if js != nil && !asking {
			return js.job, conflict("job %s is not waiting to begin", id)
		}
		return s.Cancel(ctx, id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	js := s.jobs[id]
	if js == nil {
		return api.Job{}, notFound("job", id)
	}
	j := &js.job
	if !j.Asking || j.State.Final() {
		return *j, conflict("job %s is not waiting to begin", id)
	}
	old := *j
	if b.Disposition == api.BeginUseNewRequest {
		j.Request = *b.Request
		j.ResumeData = nil // resume data belongs to the old request
	}
	j.AskBeforeBegin, j.Asking = false, false
	if err := s.saveLocked(ctx, js); err != nil {
		*j = old
		return api.Job{}, err
	}
	s.log.Info("job may begin", "job", id, "disposition", b.Disposition)
	s.poke()
	return *j, nil
}

// askAgainLocked asks again, in a new begin-delayed event, about each job
// of session that waits for an answer to a question its process
// acknowledged (through acked) and so will not answer: the process that
// attaches now is asked.
func (s *Server) askAgainLocked(ctx context.Context, session string, acked int64) {
	now := time.Now().UTC()
	for _, js := range s.jobs {
		j := &js.job
		if j.Session != session || !j.Asking || j.State.Final() || js.askSeq > acked {
			continue
		}
		_ = s.saveLocked(ctx, js, api.Event{Job: j.ID, Kind: api.BeginDelayed, Time: now})
	}
}

// saveLocked stores js's job and tells watchers.
func (s *Server) saveLocked(ctx context.Context, js *jobState, evs ...api.Event) error {
	stored, err := s.st.PutJob(ctx, &js.job, evs...)
	if err != nil {
		s.log.Error("storing a job failed", "job", js.job.ID, "err", err)
		return err
	}
	if len(stored) > 0 {
		s.eventsAppendedLocked(js.job.Session, stored)
	}
	s.publishLocked(&js.job)
	return nil
}

// noteSeqsLocked records, of events waiting for their process, the
// sequence numbers the jobs' states depend on: each job's complete event
// (the job is forgotten once it is acknowledged) and its newest
// begin-delayed event (see askAgainLocked).
func (s *Server) noteSeqsLocked(evs []api.Event) {
	for _, e := range evs {
		js := s.jobs[e.Job]
		switch {
		case js == nil:
		case e.Kind == api.Complete:
			js.completeSeq = e.Seq
		case e.Kind == api.BeginDelayed:
			js.askSeq = e.Seq
		}
	}
}

// eventsAppendedLocked notes new events of a session.
func (s *Server) eventsAppendedLocked(session string, evs []api.Event) {
	ss := s.sessionLocked(session)
	ss.pending = true
	s.noteSeqsLocked(evs)
	if ss.attached != nil {
		select {
		case ss.attached.notify <- struct{}{}:
		default:
		}
	}
	s.poke()
}

// endLocked makes a job final and appends its complete event (preceded,
// for a finished download, by its finish-downloading event).
func (s *Server) endLocked(ctx context.Context, js *jobState, state api.State, code int, msg string, resume []byte, status int, file string) error {
	j := &js.job
	j.State = state
	j.ErrorCode = code
	j.ErrorMessage = msg
	j.ResumeData = resume
	j.StatusCode = status
	if status == 0 {
		j.Response = nil
	}
	j.Rate = 0
	j.NextAttempt = time.Time{}
	now := time.Now().UTC()
	var evs []api.Event
	if state == api.Completed && j.Kind == api.Download {
		evs = append(evs, api.Event{Job: j.ID, Kind: api.FinishDownloading, Time: now, File: file,
			BytesDone: j.BytesDone, BytesExpected: j.BytesExpected, BytesResumed: j.BytesResumed, StatusCode: status,
			Response: j.Response})
	}
	complete := api.Event{Job: j.ID, Kind: api.Complete, Time: now, ErrorCode: code, ErrorMessage: msg,
		ResumeData: resume, StatusCode: status, BytesDone: j.BytesDone, BytesExpected: j.BytesExpected,
		BytesResumed: j.BytesResumed, Response: j.Response}
	if state == api.Completed && j.Kind == api.Upload {
		complete.Body = js.body
	}
	complete.Metrics = js.metrics
	js.body, js.metrics = nil, nil
	evs = append(evs, complete)
	s.log.Info("job ended", "job", j.ID, "state", state, "code", code, "message", msg)
	return s.saveLocked(ctx, js, evs...)
}

// removeOwnFile removes the file of a forgotten upload job that owns it
// (see api.NewJob.OwnsFile), unless the job's resume data names it.
func removeOwnFile(j api.Job) {
	if j.OwnsFile && j.Kind == api.Upload && len(j.ResumeData) == 0 && j.File != "" {
		os.Remove(j.File)
	}
}

// Attached reports whether a process is attached to session.
func (s *Server) Attached(session string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[session]
	return ss != nil && ss.attached != nil
}

// Ack deletes a session's events up to through and forgets final jobs
// whose complete event is acknowledged.
func (s *Server) Ack(ctx context.Context, session string, through int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.st.Ack(ctx, session, through); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("session", session)
		}
		return err
	}
	// The jobs whose completion is acknowledged go in one transaction:
	// replaying a thousand completions costs one commit, not a thousand.
	var done []string
	for id, js := range s.jobs {
		if js.job.Session == session && js.job.State.Final() && js.completeSeq > 0 && js.completeSeq <= through {
			done = append(done, id)
		}
	}
	if err := s.st.DeleteJobs(ctx, done); err != nil {
		return err
	}
	for _, id := range done {
		removeOwnFile(s.jobs[id].job)
		delete(s.jobs, id)
	}
	sess, err := s.st.Session(ctx, session)
	if err != nil {
		return err
	}
	s.sessionLocked(session).pending = sess.PendingEvents > 0
	s.poke()
	return nil
}
