//go:build unix

package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
	"github.com/urlsession-go/urlsession/internal/resume"
)

// Defaults of Options.
const (
	DefaultCheckpointBytes    = 1 << 20
	DefaultCheckpointInterval = 5 * time.Second
)

// livePoll is how often a download appending to its partial file is
// looked at for a checkpoint between two DidWriteData.
const livePoll = time.Millisecond

// liveGap is the least time between two checkpoints of a download that
// appends to its partial file: on a fast link 1 MiB arrives in under a
// millisecond, and a checkpoint each time would cost a quarter of the
// throughput. A kill -9 loses nothing to it (the next daemon of the boot
// continues from the partial file's end); after a reboot the download
// continues from at most liveGap's worth of bytes earlier.
const liveGap = 10 * time.Millisecond

// stopWait bounds how long a stopping transfer may take to hand back its
// resume data.
const stopWait = 10 * time.Second

// Options set up a Runner. Zero values take the documented defaults.
type Options struct {
	// Configuration is the session's configuration; nil means
	// urlsession.DefaultConfiguration(). It is copied.
	Configuration *urlsession.Configuration
	// PartialDir holds the partial files of resume data (required); it
	// is created 0700.
	PartialDir string
	// CheckpointBytes spaces the checkpoints of a running download (see
	// the package documentation): one each time CheckpointBytes (default
	// 1 MiB) more are in the partial file, at most one per 10 ms while the
	// task appends to it. CheckpointInterval (default 5
	// s) is the least time between two checkpoints that stop the task
	// and continue it with a range request (after the first of a run). A
	// negative CheckpointBytes turns checkpoints off.
	CheckpointBytes    int64
	CheckpointInterval time.Duration
	// ReceiveBuffer sets the receive buffer (SO_RCVBUF) of the session's
	// TCP connections. What sits in that buffer when the daemon is killed
	// is fetched again, and the kernel's autotuning lets it grow to
	// net.ipv4.tcp_rmem's maximum (often several MiB) wherever the
	// daemon's writes fall behind the network, loopback included.
	//
	// Zero (the default) sizes it to the path, on Linux: once a
	// connection is up, its buffer is set to the handshake's smoothed
	// round-trip time (TCP_INFO) times 10 Gbit/s, at least 256 KiB, which
	// keeps the window at the bandwidth-delay product of a 10 Gbit/s path
	// and bounds what a kill loses on loopback and LAN paths to well
	// under a MiB; a path whose product exceeds net.ipv4.tcp_rmem's
	// maximum or net.core.rmem_max (beyond which SO_RCVBUF is capped)
	// keeps autotuning. Elsewhere zero leaves the kernel's own sizing.
	// Positive sets that many bytes on every connection, before it
	// connects: this turns autotuning off and caps throughput at about
	// ReceiveBuffer per round trip. Negative leaves the kernel's
	// autotuning on every path.
	//
	// It applies only when the Configuration has no DialContext of its
	// own. The runner's DialContext comes with urlsession.DialUDP as the
	// DialUDPContext (the session's own way of opening HTTP/3 sockets) unless the
	// Configuration has one, so that HTTP/3 is used as before.
	ReceiveBuffer int
	// NoSyncDownloads turns off the sync of completed downloads. By
	// default a completed download's file is synced, renamed into place
	// and its directory synced before the job is reported complete, so
	// that the file the finish-downloading event names survives a power
	// loss or a crash of the system, and while the download runs the
	// kernel is asked to write its partial file to disk as it grows (see
	// the package documentation), which leaves less for that sync. Where
	// the network is faster than the disk, that sync is what bounds a
	// download's time. With NoSyncDownloads the file is renamed into
	// place unsynced, nothing is written back early, and the job is
	// complete as soon as the rename is: the file is whole while the
	// system runs (a kill of the daemon loses nothing), but a power loss
	// or kernel crash soon after may leave a file reported complete short,
	// empty or with zeros, and nothing notices. It is for users whose
	// disks are slower than their network and who accept that. (On
	// ext4, a rename that replaces an existing file starts writing the
	// new one to disk, auto_da_alloc: a download that replaces a file
	// still pays part of what the sync costs.)
	NoSyncDownloads bool
	// Logger receives the runner's log; nil discards it.
	Logger *slog.Logger
}

// Runner runs the daemon's transfers with one Session. It is safe for
// concurrent use; Close ends it.
type Runner struct {
	s       *urlsession.Session // for jobs that refuse no network and mark nothing
	opts    Options
	cfg     *urlsession.Configuration // s's, for the sessions of other jobs
	ownDial bool                      // cfg.DialContext is the runner's dialFunc

	mu       sync.Mutex
	sessions map[sessionKey]*urlsession.Session // for the jobs s is not for
	log      *slog.Logger
	// fsync syncs a completed download's file and directory (unless
	// Options.NoSyncDownloads): (*os.File).Sync, or a test's.
	fsync func(*os.File) error
}

var _ server.Runner = (*Runner)(nil)

// New makes the runner's directory and session.
func New(opts Options) (*Runner, error) {
	if opts.PartialDir == "" {
		return nil, errors.New("runner: Options needs a PartialDir")
	}
	if err := mkdirPrivate(opts.PartialDir); err != nil {
		return nil, fmt.Errorf("runner: partial directory: %w", err)
	}
	removeOrphanCheckpoints(opts.PartialDir)
	if opts.CheckpointBytes == 0 {
		opts.CheckpointBytes = DefaultCheckpointBytes
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = DefaultCheckpointInterval
	}
	cfg := opts.Configuration
	if cfg == nil {
		cfg = urlsession.DefaultConfiguration()
	} else {
		cfg = cfg.Clone()
	}
	ownDial := false
	if cfg.DialContext == nil {
		if dial := dialFunc(opts.ReceiveBuffer, cfg.NetworkServiceType.DSCP()); dial != nil {
			cfg.DialContext, ownDial = dial, true
			if cfg.DialUDPContext == nil {
				cfg.DialUDPContext = urlsession.DialUDP
			}
		}
	}
	s, err := urlsession.New(cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{s: s, opts: opts, cfg: cfg, ownDial: ownDial, log: log, fsync: (*os.File).Sync}, nil
}

// sessionKey is what a job needs of its session's configuration beyond
// the runner's.
type sessionKey struct {
	disallowCellular, disallowExpensive bool
	serviceType                         urlsession.NetworkServiceType
}

// session returns the session that runs job: the runner's, or for a job
// that refuses cellular or metered networks, or whose connections are
// marked with a network service type, one made for that.
func (r *Runner) session(job api.Job) (*urlsession.Session, error) {
	key := sessionKey{job.DisallowCellular, job.DisallowExpensive, urlsession.NetworkServiceType(job.ServiceType)}
	if key == (sessionKey{serviceType: r.cfg.NetworkServiceType}) {
		return r.s, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.sessions[key]; s != nil {
		return s, nil
	}
	cfg := r.cfg.Clone()
	cfg.DisallowCellularAccess, cfg.DisallowExpensiveNetworkAccess = key.disallowCellular, key.disallowExpensive
	cfg.NetworkServiceType = key.serviceType
	if r.ownDial {
		cfg.DialContext = dialFunc(r.opts.ReceiveBuffer, key.serviceType.DSCP())
	}
	s, err := urlsession.New(cfg, nil) // an unknown service type fails Validate
	if err != nil {
		return nil, err
	}
	if r.sessions == nil {
		r.sessions = map[sessionKey]*urlsession.Session{}
	}
	r.sessions[key] = s
	return s, nil
}

// syncer returns what syncs completed downloads, nil when they are not
// synced.
func (r *Runner) syncer() func(*os.File) error {
	if r.opts.NoSyncDownloads {
		return nil
	}
	return r.fsync
}

// Close invalidates the session once its tasks have ended (the daemon
// stops them before Serve returns) and waits, until ctx is done, for its
// stores to be on disk.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	all := []*urlsession.Session{r.s}
	for _, s := range r.sessions {
		all = append(all, s)
	}
	r.mu.Unlock()
	for _, s := range all {
		s.FinishTasksAndInvalidate()
	}
	for _, s := range all {
		select {
		case <-s.Invalidated():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Run implements server.Runner.
func (r *Runner) Run(ctx context.Context, job api.Job, progress func(server.Progress)) server.Result {
	rep := &reporter{f: progress}
	defer rep.close()
	var res server.Result
	if job.Kind == api.Upload {
		res = r.upload(ctx, job, rep)
	} else {
		res = r.download(ctx, job, rep)
	}
	res.Metrics = rep.taskMetrics()
	return res
}

// reporter passes progress on until Run returns; callbacks still queued
// on the session's delegate queue then report nothing. It gathers the
// metrics of the run's tasks: a run that a checkpoint stopped and
// continued reports every request it sent (up to api.MaxTransactions).
type reporter struct {
	mu      sync.Mutex
	f       func(server.Progress)
	closed  bool
	metrics *api.Metrics
}

// DidFinishCollectingMetrics adds m to the run's metrics, for the job's
// complete event; the run's delegates call it.
func (p *reporter) DidFinishCollectingMetrics(_ *urlsession.Session, _ *urlsession.Task, m *urlsession.TaskMetrics) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.metrics == nil {
		p.metrics = &api.Metrics{}
	}
	am := p.metrics
	am.RedirectCount += m.RedirectCount
	for _, tx := range m.Transactions[:min(len(m.Transactions), api.MaxTransactions-len(am.Transactions))] {
		at := api.Transaction{
			Response:   api.NewResponse(tx.Response),
			FetchStart: tx.FetchStart, DomainLookupStart: tx.DomainLookupStart, DomainLookupEnd: tx.DomainLookupEnd,
			ConnectStart: tx.ConnectStart, ConnectEnd: tx.ConnectEnd,
			SecureConnectionStart: tx.SecureConnectionStart, SecureConnectionEnd: tx.SecureConnectionEnd,
			RequestStart: tx.RequestStart, RequestEnd: tx.RequestEnd, ResponseStart: tx.ResponseStart, ResponseEnd: tx.ResponseEnd,
			NetworkProtocolName: tx.NetworkProtocolName, ReusedConnection: tx.ReusedConnection, ProxyConnection: tx.ProxyConnection,
			TLSVersion: tx.NegotiatedTLSProtocolVersion, TLSCipherSuite: tx.NegotiatedTLSCipherSuite, FetchType: int(tx.ResourceFetchType),
			RequestHeaderBytesSent: tx.RequestHeaderBytesSent, RequestBodyBytesSent: tx.RequestBodyBytesSent,
			ResponseHeaderBytesReceived: tx.ResponseHeaderBytesReceived, ResponseBodyBytesReceived: tx.ResponseBodyBytesReceived,
			ResponseBodyBytesAfterDecoding: tx.ResponseBodyBytesAfterDecoding,
		}
		if tx.Request != nil && tx.Request.URL != nil {
			at.Method, at.URL = tx.Request.Method, tx.Request.URL.Redacted()
		}
		if tx.RemoteAddr != nil {
			at.RemoteAddr = tx.RemoteAddr.String()
		}
		if tx.LocalAddr != nil {
			at.LocalAddr = tx.LocalAddr.String()
		}
		am.Transactions = append(am.Transactions, at)
	}
}

func (p *reporter) taskMetrics() *api.Metrics {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.metrics
}

func (p *reporter) report(pr server.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.f(pr)
	}
}

func (p *reporter) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// request builds a job's HTTP request. Its context is not the run's: the
// run's end stops the task by CancelByProducingResumeData.
func request(job api.Job) (*http.Request, error) {
	req, err := http.NewRequest(job.Request.Method, job.Request.URL, nil)
	if err != nil {
		return nil, &server.TransferError{Code: int(urlsession.ErrBadURL), Message: "the URL does not parse: " + api.RedactedURL(job.Request.URL), Permanent: true}
	}
	for k, vs := range job.Request.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req, nil
}

// partialPath is the job's partial file in PartialDir.
func (r *Runner) partialPath(job api.Job) string {
	return filepath.Join(r.opts.PartialDir, job.ID+".partial")
}

// outcome is how one task of a run ended.
type outcome int

const (
	finished   outcome = iota // the task completed (res is final)
	stopped                   // ctx ended (res holds the resume data)
	checkpoint                // stopped into resume data, to continue at once
	stale                     // the resume data was unusable: start over
)

// download runs a download job: one task, and one more per checkpoint
// that stopped the task.
func (r *Runner) download(ctx context.Context, job api.Job, rep *reporter) server.Result {
	data, sameBoot := r.latest(job, job.ResumeData)
	if sameBoot {
		data = r.extend(job, data)
	}
	if data != nil {
		data = r.adopt(job, data)
	}
	var lastStop time.Time // of the last checkpoint that stopped the task
	for {
		res, how, next := r.downloadTask(ctx, job, data, rep, &lastStop)
		switch how {
		case checkpoint:
			data = next
			continue
		case stale:
			r.log.Info("resume data no longer matches its partial file: starting over", "job", job.ID)
			os.Remove(r.partialPath(job))
			os.Remove(r.checkpointPath(job))
			data = nil
			continue
		}
		if res.ResumeData != nil {
			r.writeCheckpoint(job, res.ResumeData, "")
		} else {
			os.Remove(r.checkpointPath(job))
		}
		return res
	}
}

// downloadTask runs one download task from data (or from the job's
// request when data is nil). lastStop is when a checkpoint last stopped a
// task of the run (zero: none did yet).
func (r *Runner) downloadTask(ctx context.Context, job api.Job, data []byte, rep *reporter, lastStop *time.Time) (server.Result, outcome, []byte) {
	var dt *urlsession.DownloadTask
	var base int64
	var from *resume.Data // the decoded data, when it continues the job's own partial file
	s, err := r.session(job)
	if err != nil {
		return server.Result{Err: err, ResumeData: data}, finished, nil
	}
	if data != nil {
		dt = s.DownloadTaskWithResumeData(data)
		if d, err := resume.Decode(data); err == nil {
			base = d.Offset
			if d.File == r.partialPath(job) && d.Segments == nil && d.Offset > 0 {
				from = d
			}
		}
	} else {
		req, err := request(job)
		if err != nil {
			return server.Result{Err: err}, finished, nil
		}
		dt = s.DownloadTask(req)
	}
	d := &downloadDelegate{job: job, rep: rep, fsync: r.syncer(), done: base, resumedAt: -1, wrote: make(chan struct{}, 1)}
	if err := dt.SetDelegate(d); err != nil {
		dt.Cancel()
		return server.Result{Err: err, ResumeData: data}, finished, nil
	}
	dt.Resume()

	var wrote <-chan struct{}
	if r.opts.CheckpointBytes > 0 {
		wrote = d.wrote
	}
	lastCheckpoint := base
	// Once the task appends to the job's partial file (it continues
	// resume data with a 206), checkpoints record the file's length
	// without stopping the task: at each DidWriteData and every
	// livePoll, whichever sees CheckpointBytes more in the file first
	// (the delegate queue lags behind the file, and calls DidWriteData
	// only every 100 ms). Before that, the same look decides when to
	// stop the task into resume data. The task's count of bytes
	// received (never less than what it wrote) saves looking at the file
	// while too little has arrived.
	var poll <-chan time.Time
	if r.opts.CheckpointBytes > 0 {
		t := time.NewTicker(livePoll)
		defer t.Stop()
		poll = t.C
	}
	due := func() bool {
		return base+dt.CountOfBytesReceived() >= lastCheckpoint+r.opts.CheckpointBytes
	}
	var lastLive time.Time // when live last ran
	lc := &liveCheckpoint{syncing: !r.opts.NoSyncDownloads}
	defer lc.close()
	// Live checkpoints reach the daemon from a goroutine of their own,
	// the latest replacing one not yet taken: the daemon's store may
	// take a while to commit, and checkpoints must go on meanwhile. The
	// goroutine ends when downloadTask returns.
	reports := make(chan server.Progress, 1)
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		for p := range reports {
			rep.report(p)
		}
	}()
	defer func() {
		close(reports)
		<-reported
	}()
	appending := func() bool {
		resp := dt.Response()
		return from != nil && d.resumedOffset() == base && resp != nil && resp.StatusCode == http.StatusPartialContent
	}
	live := func() {
		rd, n, err := lc.make(from, lastCheckpoint+r.opts.CheckpointBytes)
		if err != nil {
			r.log.Debug("no checkpoint", "job", job.ID, "err", err)
			return
		}
		if rd == nil {
			return
		}
		lastCheckpoint = n
		lc.record(r, job, rd)
		select {
		case <-reports: // superseded
		default:
		}
		reports <- server.Progress{BytesDone: max(n, d.bytes()), BytesExpected: d.expected(), Resumed: max(d.resumedOffset(), 0), ResumeData: rd}
	}
	for {
		select {
		case <-dt.Done():
			return r.downloadEnded(job, dt, d, data)
		case <-ctx.Done():
			rd := r.stop(dt, job)
			<-dt.Done()
			if dt.Err() == nil {
				// It completed before the stop took effect: the
				// completion wins (the file is in place).
				return r.downloadEnded(job, dt, d, data)
			}
			if rd == nil {
				rd = data
			}
			return server.Result{ResumeData: rd, BytesDone: offsetOf(rd)}, stopped, nil
		case <-poll:
		case <-wrote:
		}
		if !due() || (from != nil && d.resumedOffset() < 0) {
			// Too little arrived, or whether the task appends to the
			// partial file is not known yet (DidResumeAtOffset is on
			// its way).
			continue
		}
		if appending() {
			if now := time.Now(); now.Sub(lastLive) >= liveGap {
				lastLive = now
				live()
			}
			continue
		}
		resp := dt.Response()
		if resp == nil {
			continue
		}
		if !resumable(job, resp) || (data != nil && resp.StatusCode == http.StatusOK) {
			// Never stopped into resume data (the second: the server
			// answered the range this task asked for with the whole
			// body; it would do the same to the next one, and
			// stopping would start over forever): no more looks.
			poll, wrote = nil, nil
			continue
		}
		if !lastStop.IsZero() && time.Since(*lastStop) < r.opts.CheckpointInterval {
			continue
		}
		*lastStop = time.Now()
		rd := r.stop(dt, job)
		if rd == nil {
			// The task ended on its own meanwhile, or could not be
			// stopped into resume data after all.
			<-dt.Done()
			return r.downloadEnded(job, dt, d, data)
		}
		r.writeCheckpoint(job, rd, bootID())
		rep.report(server.Progress{BytesDone: offsetOf(rd), BytesExpected: d.expected(), Resumed: max(d.resumedOffset(), 0), ResumeData: rd})
		return server.Result{}, checkpoint, rd
	}
}

// stop stops a download task into resume data whose partial file is in
// PartialDir, or returns nil.
func (r *Runner) stop(dt *urlsession.DownloadTask, job api.Job) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), stopWait)
	defer cancel()
	rd, err := dt.CancelByProducingResumeData(ctx)
	if err != nil || rd == nil {
		return nil
	}
	return r.adopt(job, rd)
}

// downloadEnded makes the result of a completed download task.
func (r *Runner) downloadEnded(job api.Job, dt *urlsession.DownloadTask, d *downloadDelegate, data []byte) (server.Result, outcome, []byte) {
	err := dt.Err()
	resp := dt.Response()
	if err == nil {
		status := resp.StatusCode
		if te := retryStatus(resp); te != nil {
			// A resumed download answered 429 or 503 leaves its partial
			// file as it was: the resume data it started from still
			// continues it when the retry comes.
			return server.Result{Err: te, StatusCode: status, Response: api.NewResponse(resp), ResumeData: data, BytesDone: offsetOf(data)}, finished, nil
		}
		placed, perr := d.result()
		switch {
		case perr != nil:
			// A destination that is missing or not ours will not
			// become usable by downloading again; a full disk may.
			permanent := errors.Is(perr, fs.ErrNotExist) || errors.Is(perr, fs.ErrPermission)
			return server.Result{Err: &server.TransferError{Code: int(urlsession.ErrCannotMoveFile),
				Message: "moving the download into place: " + perr.Error(), Permanent: permanent}}, finished, nil
		case !placed:
			return server.Result{Err: &server.TransferError{Code: int(urlsession.ErrCannotMoveFile), Message: "the download was not handed over"}}, finished, nil
		}
		d.mu.Lock()
		took := d.placeTook
		d.mu.Unlock()
		msg := "download synced and in place"
		if r.opts.NoSyncDownloads {
			msg = "download in place, not synced"
		}
		r.log.Debug(msg, "job", job.ID, "bytes", d.bytes(), "took", took)
		head := api.NewResponse(resp)
		if status == http.StatusPartialContent && job.Request.Header.Get("Range") == "" {
			// The rest of the body answered a resumption: the file
			// holds the whole resource, as a 200 would have sent it.
			status = http.StatusOK
			head.StatusCode = status
			head.Header.Del("Content-Range")
			if head.Header != nil {
				head.Header.Set("Content-Length", strconv.FormatInt(d.bytes(), 10))
			}
		}
		file := job.File
		if job.Destination != "" {
			if err := place(job.File, job.Destination, r.syncer()); err != nil {
				// Downloading again would end the same way: fail now,
				// keeping the complete body where it is.
				return server.Result{StatusCode: status, Response: head, BytesDone: d.bytes(), Err: &server.TransferError{
					Code:      int(urlsession.ErrCannotMoveFile),
					Message:   "moving the download to its destination: " + err.Error() + "; the complete file is kept at " + job.File,
					Permanent: true,
				}}, finished, nil
			}
			file = job.Destination
		}
		return server.Result{StatusCode: status, Response: head, File: file, BytesDone: d.bytes()}, finished, nil
	}
	if data != nil && staleResumeData(err) {
		return server.Result{}, stale, nil
	}
	rd := urlsession.ErrorResumeData(err)
	if rd != nil {
		rd = r.adopt(job, rd)
	} else if resp == nil {
		rd = data // nothing arrived: the partial file is as it was
	}
	return server.Result{Err: transferError(err), ResumeData: rd, BytesDone: max(offsetOf(rd), 0)}, finished, nil
}

// downloadDelegate is a download task's delegate.
type downloadDelegate struct {
	job   api.Job
	rep   *reporter
	fsync func(*os.File) error // Runner.syncer's

	wrote chan struct{} // signalled after each DidWriteData

	mu        sync.Mutex
	done      int64
	total     int64
	resumedAt int64 // DidResumeAtOffset's offset, -1 before it
	placed    bool
	placeErr  error
	placeTook time.Duration // syncing (unless off) and renaming the complete file
}

var (
	_ urlsession.DownloadDelegate         = (*downloadDelegate)(nil)
	_ urlsession.DownloadProgressDelegate = (*downloadDelegate)(nil)
	_ urlsession.DownloadResumeDelegate   = (*downloadDelegate)(nil)
	_ urlsession.MetricsDelegate          = (*downloadDelegate)(nil)
)

func (d *downloadDelegate) DidWriteData(_ *urlsession.Session, _ *urlsession.DownloadTask, _, total, expected int64) {
	d.mu.Lock()
	d.done, d.total = total, expected
	resumed := max(d.resumedAt, 0)
	d.mu.Unlock()
	d.rep.report(server.Progress{BytesDone: total, BytesExpected: expected, Resumed: resumed})
	select {
	case d.wrote <- struct{}{}:
	default:
	}
}

func (d *downloadDelegate) DidResumeAtOffset(_ *urlsession.Session, _ *urlsession.DownloadTask, offset, expected int64) {
	d.mu.Lock()
	d.resumedAt, d.done, d.total = offset, offset, expected
	d.mu.Unlock()
}

func (d *downloadDelegate) resumedOffset() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.resumedAt
}

func (d *downloadDelegate) DidFinishDownloadingTo(_ *urlsession.Session, t *urlsession.DownloadTask, path string) {
	if retryStatus(t.Response()) != nil {
		return // retried, not handed over; the session removes the file
	}
	start := time.Now()
	err := place(path, d.job.File, d.fsync)
	took := time.Since(start)
	d.mu.Lock()
	d.placed, d.placeErr, d.placeTook = err == nil, err, took
	d.mu.Unlock()
}

func (d *downloadDelegate) DidFinishCollectingMetrics(s *urlsession.Session, t *urlsession.Task, m *urlsession.TaskMetrics) {
	d.rep.DidFinishCollectingMetrics(s, t, m)
}

func (d *downloadDelegate) bytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

func (d *downloadDelegate) expected() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.total == 0 {
		return -1
	}
	return d.total
}

func (d *downloadDelegate) result() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.placed, d.placeErr
}

// resumable reports whether a download's response lets the task stop into
// resume data, as urlsession's CancelByProducingResumeData decides: a GET
// without a range of the job's own, a strong validator, byte ranges, no
// content coding.
func resumable(job api.Job, resp *http.Response) bool {
	if resp == nil || resp.Request == nil || resp.Request.Method != http.MethodGet || resp.Uncompressed {
		return false
	}
	if job.Request.Header.Get("Range") != "" || !resume.ValidatorsOf(resp.Header).Valid() {
		return false
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resume.AcceptsRanges(resp.Header)
	case http.StatusPartialContent:
		return true
	}
	return false
}

// offsetOf returns the offset resume data continues from, or 0.
func offsetOf(data []byte) int64 {
	if data == nil {
		return 0
	}
	d, err := resume.Decode(data)
	if err != nil {
		return 0
	}
	return d.Offset
}

// staleResumeData reports whether a task made from resume data failed
// because the data or its partial file is unusable.
func staleResumeData(err error) bool {
	var e *urlsession.Error
	if !errors.As(err, &e) {
		return false
	}
	switch {
	case errors.Is(err, urlsession.ErrInvalidResumeData), errors.Is(err, urlsession.ErrInvalidUploadResumeData):
		return true
	case e.Code == urlsession.ErrCannotOpenFile:
		return true
	case errors.Is(err, urlsession.ErrUploadGone):
		return true
	}
	return false
}

// retryStatus returns the transient error of a response the daemon
// retries: 429 Too Many Requests and 503 Service Unavailable, with the
// server's Retry-After.
func retryStatus(resp *http.Response) *server.TransferError {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return nil
	}
	return &server.TransferError{
		Code:       int(urlsession.ErrBadServerResponse),
		Message:    fmt.Sprintf("the server answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)),
		RetryAfter: RetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
}

// RetryAfter parses a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 section 10.2.3). It returns 0 for an empty, malformed or past
// value.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if v[0] >= '0' && v[0] <= '9' {
		var n int64
		for _, c := range v {
			if c < '0' || c > '9' {
				return 0
			}
			n = n*10 + int64(c-'0')
			if n > 1<<31 {
				n = 1 << 31 // bounded by the daemon's MaxRetryAfter anyway
				break
			}
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil || !t.After(now) {
		return 0
	}
	return t.Sub(now)
}

// permanent are the failures that retrying cannot mend.
var permanent = map[urlsession.Code]bool{
	urlsession.ErrBadURL:                                       true,
	urlsession.ErrUnsupportedURL:                               true,
	urlsession.ErrHTTPTooManyRedirects:                         true,
	urlsession.ErrRedirectToNonExistentLocation:                true,
	urlsession.ErrUserCancelledAuthentication:                  true,
	urlsession.ErrUserAuthenticationRequired:                   true,
	urlsession.ErrAppTransportSecurityRequiresSecureConnection: true,
	urlsession.ErrFileDoesNotExist:                             true,
	urlsession.ErrFileIsDirectory:                              true,
	urlsession.ErrNoPermissionsToReadFile:                      true,
	urlsession.ErrDataLengthExceedsMaximum:                     true,
	urlsession.ErrFileOutsideSafeArea:                          true,
	urlsession.ErrServerCertificateHasBadDate:                  true,
	urlsession.ErrServerCertificateUntrusted:                   true,
	urlsession.ErrServerCertificateHasUnknownRoot:              true,
	urlsession.ErrServerCertificateNotYetValid:                 true,
	urlsession.ErrClientCertificateRejected:                    true,
	urlsession.ErrClientCertificateRequired:                    true,
}

// transferError maps a task's error to the daemon's: its code, a message
// without the URL's credentials or query, and whether it is permanent.
func transferError(err error) *server.TransferError {
	var e *urlsession.Error
	if !errors.As(err, &e) {
		return &server.TransferError{Code: int(urlsession.ErrUnknown), Message: "transfer failed"}
	}
	msg := e.Code.String()
	if e.URL != "" {
		msg += ": " + api.RedactedURL(e.URL)
	}
	if e.Err != nil {
		if c := e.Err.Error(); !strings.Contains(c, "://") && c != e.Code.String() {
			msg += ": " + c
		}
	}
	return &server.TransferError{
		Code:      int(e.Code),
		Message:   msg,
		Permanent: permanent[e.Code] || errors.Is(err, urlsession.ErrUploadFileChanged),
	}
}
