package urlsession

// The life of a running task: prepare the request, send it through the
// pipeline, deliver the response and body, complete.

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/pipeline"
	"github.com/urlsession-go/urlsession/urlcache"
)

type bodyKind int

const (
	bodyFromRequest bodyKind = iota // the request's own Body (data tasks)
	bodyFromBytes                   // upload from memory
	bodyFromFile                    // upload from a file
	bodyStreamed                    // upload whose body NeedNewBodyStream supplies
)

type bodySource struct {
	kind  bodyKind
	bytes []byte
	file  string
}

func (t *Task) run(ctx context.Context) {
	if x := t.extra.Load(); x != nil && x.sock != nil {
		x.sock.runSock(ctx) // a stream or WebSocket task
		return
	}
	dels := t.delegates()
	// A task suspended before its goroutine got here sends nothing until
	// resumed. (Suspend racing with a Resume just made may come too late.)
	if err := t.waitRunning(ctx); err != nil {
		t.finish(ctx, nil, nil, err)
		return
	}
	req, err := t.prepare(ctx)
	if err == nil {
		// A context cancelled before the task started (the caller's, or the
		// request's) ends it before any I/O.
		err = ctx.Err()
	}
	if err != nil {
		t.finish(ctx, nil, nil, err)
		return
	}
	t.call.Hooks = hooks{t}
	t.call.WaitsForConnectivity = t.session.cfg.WaitsForConnectivity
	t.call.Metrics = dels.metrics != nil
	t.call.CachePolicy = int(t.opts.CachePolicy)
	t.call.HandleCookies = !t.opts.DoNotHandleCookies
	t.call.MainDocumentURL = t.opts.MainDocumentURL
	t.call.ConnCheck = t.session.connCheck(t.opts)
	t.ran = true
	resp, err := t.send(t.watchUpgrade(ctx, req), req) // uploadresume.go
	if resp != nil {
		t.mu.Lock()
		t.response = resp
		t.mu.Unlock()
		t.expectedRecv.Store(max(resp.ContentLength, TransferSizeUnknown))
	}
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		t.finish(ctx, nil, resp, err)
		return
	}
	if err := t.waitRunning(ctx); err != nil {
		resp.Body.Close()
		t.finish(ctx, nil, resp, err)
		return
	}
	if dt := t.downloadTask(); dt != nil {
		dt.receive(ctx, resp) // download tasks get no DidReceiveResponse
		return
	}
	if b := t.mixedReplaceBoundary(resp, dels); b != "" {
		last, err := t.readParts(ctx, resp, b, dels) // multipart.go
		t.finish(ctx, nil, last, err)
		return
	}
	if t.deliver.handler == nil {
		if d := dels.response; d != nil {
			disp, err := askLater(ctx, t, func() ResponseDisposition { return d.DidReceiveResponse(t.session, t.data, resp) })
			if err == nil && disp == ResponseBecomeStream && t.becomeStream(ctx, resp) {
				return
			}
			if err == nil && disp == ResponseBecomeDownload && t.becomesDownload() {
				t.becomeDownload(resp)
				return
			}
			if err == nil && disp != ResponseAllow {
				t.Cancel()
				err = errCancelled
			}
			if err != nil {
				resp.Body.Close()
				t.finish(ctx, nil, resp, err)
				return
			}
		}
	}
	if t.deliver.stream != nil {
		t.deliver.stream <- newBodyStream(ctx, t, resp)
		return
	}
	body, err := t.readBody(ctx, resp)
	t.finish(ctx, body, resp, err)
}

// prepare returns the request to send: the original or, for upload tasks,
// a copy with the upload body. (The pipeline's Bridge gives the request
// the task's context.)
func (t *Task) prepare(ctx context.Context) (*http.Request, error) {
	if err := t.delegateProblem(); err != nil {
		return nil, err
	}
	if err := t.resumeProblem(); err != nil {
		return nil, err
	}
	dt := t.downloadTask()
	if dt != nil {
		if err := dt.check(); err != nil {
			return nil, err
		}
	}
	if t.orig == nil || t.orig.URL == nil {
		return nil, fail.Newf(int(ErrUnsupportedURL), "the request has no URL")
	}
	req := t.orig
	if t.body.kind != bodyFromRequest {
		req = t.orig.WithContext(ctx)
	}
	switch t.body.kind {
	case bodyFromBytes:
		b := t.body.bytes
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.ContentLength = int64(len(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		if len(b) == 0 {
			req.Body, req.GetBody = http.NoBody, nil
		}
	case bodyFromFile:
		f, size, err := openUpload(t.body.file)
		if err != nil {
			return nil, err
		}
		name := t.body.file
		req.Body = f
		req.ContentLength = size
		req.GetBody = func() (io.ReadCloser, error) {
			f, _, err := openUpload(name)
			return f, err
		}
	case bodyStreamed:
		req.GetBody = nil
		if req.Body == nil || req.Body == http.NoBody {
			rc, err := hooks{t}.NewBodyStream(ctx)
			if err != nil {
				return nil, err
			}
			if rc == nil {
				return nil, fail.Newf(int(ErrRequestBodyStreamExhausted), "no body stream was provided for a streamed upload")
			}
			req.Body = rc
		}
	}
	if (req.Method == "" || req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		((req.Body != nil && req.Body != http.NoBody) || req.ContentLength > 0) {
		// Apple fails a GET or HEAD that carries a body with this code.
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fail.Newf(int(ErrDataLengthExceedsMaximum), "a %s request cannot carry a body", cmp.Or(req.Method, http.MethodGet))
	}
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		t.expectedSend.Store(0)
	case req.ContentLength > 0:
		t.expectedSend.Store(req.ContentLength)
	default:
		t.expectedSend.Store(TransferSizeUnknown)
	}
	if dt != nil {
		return dt.rangeRequest(req)
	}
	return req, nil
}

func openUpload(name string) (*os.File, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, 0, fail.New(int(ErrFileDoesNotExist), err)
		case errors.Is(err, fs.ErrPermission):
			return nil, 0, fail.New(int(ErrNoPermissionsToReadFile), err)
		}
		return nil, 0, fail.New(int(ErrCannotOpenFile), err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fail.New(int(ErrCannotOpenFile), err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, 0, fail.Newf(int(ErrFileIsDirectory), "%s is a directory", name)
	}
	return f, fi.Size(), nil
}

// chunkSize is the size of the pieces a body is read and delivered in.
const chunkSize = 64 << 10

// largeChunkSize is the size of the pieces of a body announced to be
// largeBody or longer: a quarter as many reads and deliveries, which a
// file: URL read from the page cache and a fast link show (a 1 GiB file
// read in 64 KiB pieces spends most of its time in the read calls).
const largeChunkSize = 256 << 10

// largeBody is the announced length from which a body is read in
// largeChunkSize pieces.
const largeBody = 8 << 20

// smallChunkSize is the size of the pieces of a body announced to be no
// longer: reading a small body into a 64 KiB piece would allocate (the pools
// empty at every garbage collection) and clear 64 KiB per task.
const smallChunkSize = 4 << 10

var (
	chunkPool      = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}
	largeChunkPool = sync.Pool{New: func() any { b := make([]byte, largeChunkSize); return &b }}
	smallChunkPool = sync.Pool{New: func() any { b := make([]byte, smallChunkSize); return &b }}
)

// chunkPoolFor returns the pool of pieces for a body of the given announced
// length (-1 when unknown).
func chunkPoolFor(length int64) *sync.Pool {
	if length >= 0 && length <= smallChunkSize {
		return &smallChunkPool
	}
	if length >= largeBody {
		return &largeChunkPool
	}
	return &chunkPool
}

// inFlightChunks bounds the body pieces waiting on the delegate queue, so a
// slow delegate slows the download instead of filling memory.
const inFlightChunks = 4

// readBody reads the response body, delivering it to the DataDelegate and
// collecting it for a completion handler or context-first call.
func (t *Task) readBody(ctx context.Context, resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	var buf []byte
	collect := t.deliver.buffered()
	limit := int64(-1)
	if collect {
		limit = t.session.cfg.maxCollected()
		if limit >= 0 && resp.ContentLength > limit {
			return nil, errTooLong(limit)
		}
		// Room for the announced length; grown geometrically beyond that,
		// as io.ReadAll does. With no length, room for a first read.
		switch {
		case resp.ContentLength == 0:
			buf = []byte{} // empty, not nil, and no allocation
		case resp.ContentLength > 0:
			buf = make([]byte, 0, int(min(resp.ContentLength, 64<<20)))
		default:
			buf = make([]byte, 0, 512)
		}
	}
	var dd DataDelegate
	if t.deliver.handler == nil {
		dd = t.delegates().data
	}
	var sem chan struct{} // made with the first piece that is not the last
	pool := chunkPoolFor(resp.ContentLength)
	for {
		if err := t.waitRunning(ctx); err != nil {
			return nil, err
		}
		var p []byte
		var pooled *[]byte
		inBuf := false // p is buf's own free space
		switch {
		case dd == nil && collect && len(buf) == cap(buf) && int64(len(buf)) == resp.ContentLength:
			// All that was announced is here: the read that sees the end
			// goes to a pooled piece, and buf grows only if more comes.
			pooled = pool.Get().(*[]byte)
			p = *pooled
		case dd == nil && collect:
			if cap(buf)-len(buf) < 512 {
				buf = slices.Grow(buf, min(max(cap(buf), 512), chunkSize))
			}
			p = buf[len(buf):cap(buf)]
			p = p[:min(len(p), chunkSize)]
			inBuf = true
		default:
			pooled = pool.Get().(*[]byte)
			p = *pooled
		}
		n, err := resp.Body.Read(p)
		if t.paused.Load() {
			// Suspended while this read waited: what it brought (data, the
			// end of the body, an error) is dealt with after Resume.
			if werr := t.waitRunning(ctx); werr != nil {
				if pooled != nil {
					pool.Put(pooled)
				}
				return nil, werr
			}
		}
		if n > 0 {
			got := t.received.Add(int64(n))
			// An HTTP/1 body of known length ends, without waiting on the
			// network, once that many bytes arrived.
			last := err == io.EOF || (resp.ProtoMajor == 1 && resp.ContentLength >= 0 && got >= resp.ContentLength)
			switch {
			case inBuf:
				buf = buf[:len(buf)+n]
			case dd == nil && collect:
				buf = append(buf, p[:n]...) // more than was announced
			case dd != nil:
				if collect {
					buf = append(buf, p[:n]...)
				}
				if sem == nil && !last {
					sem = make(chan struct{}, inFlightChunks)
				}
				if sem != nil {
					select {
					case sem <- struct{}{}:
					default:
						// The delegate is behind: wait for it without
						// counting the wait as network idleness.
						t.session.queue.kick() // in case a chunk was only pushed
						done := t.delegateWait()
						select {
						case sem <- struct{}{}:
							done()
						case <-ctx.Done():
							done()
							pool.Put(pooled)
							return nil, context.Cause(ctx)
						}
					}
				}
				data, chunk, room := p[:n], pooled, sem
				// Until the delegate has taken the piece, the task waits on
				// the delegate, which is not network idleness (see
				// delegateWait).
				t.inDelegate.Add(1)
				deliver := func() { t.deliverPiece(dd, data, pool, chunk, room) }
				switch {
				case !t.ownGoroutine:
					t.session.queue.add(deliver)
				case last:
					// The end of the body is here: the completion follows
					// at once and this goroutine can run both callbacks.
					t.session.queue.push(deliver)
				default:
					// Deliver on this goroutine when the queue is free,
					// rather than wake the queue's worker for each piece.
					t.session.queue.push(deliver)
					t.session.queue.runHere()
				}
				pooled = nil
			}
		}
		if pooled != nil {
			pool.Put(pooled)
		}
		if limit >= 0 && int64(len(buf)) > limit {
			return nil, errTooLong(limit)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// deliverPiece hands a piece of the body to the DataDelegate, on the
// delegate queue, and gives back its buffer and its place among the pieces
// in flight; while the task is suspended the piece is held until Resume.
func (t *Task) deliverPiece(dd DataDelegate, data []byte, pool *sync.Pool, chunk *[]byte, room chan struct{}) {
	if (t.paused.Load() || t.holding.Load()) && t.hold(func() { t.deliverPiece(dd, data, pool, chunk, room) }) {
		return
	}
	if t.State() != TaskCanceling {
		dd.DidReceiveData(t.session, t.data, data)
	}
	pool.Put(chunk)
	t.touch()
	t.inDelegate.Add(-1)
	if room != nil {
		<-room
	}
}

// errTooLong is the error of a body over the bound on what is collected in
// memory.
func errTooLong(limit int64) error {
	return fail.Newf(int(ErrDataLengthExceedsMaximum),
		"the response body is larger than the %d bytes collected in memory at most (Configuration.MaxCollectedBodySize)", limit)
}

// finish completes the task with the outcome of loading it. When the task's
// context ended (cancelled, timed out), its cause is the error.
func (t *Task) finish(ctx context.Context, body []byte, resp *http.Response, err error) {
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	t.complete(body, resp, err, t.ownGoroutine)
}

// complete moves the task to completed, hands the result to a context-first
// caller and schedules the metrics and completion callbacks.
//
// here reports that the caller is the task's own goroutine (started by
// Resume), which may then run the callbacks itself.
func (t *Task) complete(body []byte, resp *http.Response, err error, here bool) {
	if dt := t.downloadTask(); dt != nil {
		err = dt.settle(err) // the partial file becomes resume data, or goes
	}
	t.mu.Lock()
	if t.state == TaskCompleted {
		t.mu.Unlock()
		return
	}
	var e *Error
	if err != nil {
		u := ""
		if t.current != nil && t.current.URL != nil {
			u = t.current.URL.Redacted()
		}
		e = classify(err, u)
		if rd := t.failureResumeData(e); rd != nil {
			c := *e // a copy: e may be shared
			c.UploadTaskResumeData = rd
			e = &c
		}
		t.err = e
	}
	t.state = TaskCompleted
	t.paused.Store(false)
	t.stopTimersLocked()
	started := t.ctx.base != nil
	release := false
	if x := t.extra.Load(); x != nil {
		release = len(x.held) > 0
	}
	t.mu.Unlock()
	if release {
		// Callbacks held while the task was suspended come before its last
		// ones.
		t.session.queue.push(t.releaseHeld)
	}
	if started {
		t.ctx.cancel(context.Canceled, context.Canceled) // release the context's resources
	}
	var errOut error
	if e != nil {
		errOut = e
	}
	if t.deliver.keep {
		t.mu.Lock()
		t.res = keptResult{body, resp}
		t.mu.Unlock()
	}
	if t.deliver.result != nil {
		t.deliver.result <- taskResult{body, resp, errOut}
	}
	if t.orphan {
		// Created on an invalidated session: no delegate hears of it.
		t.session.queue.add(func() {
			if h := t.deliver.handler; h != nil {
				h(body, resp, errOut)
			}
			t.closeDone()
		})
		return
	}
	dels := t.delegates()
	var metrics *TaskMetrics
	md := dels.metrics
	if md != nil {
		metrics = t.metrics()
	}
	if t.deliver.handler == nil && !dels.any {
		// Nobody to call back: no need for the queue.
		t.session.taskFinished(t, nil, false)
		t.closeDone()
		return
	}
	t.session.taskFinished(t, func() {
		if md != nil {
			md.DidFinishCollectingMetrics(t.session, t, metrics)
		}
		if h := t.deliver.handler; h != nil {
			h(body, resp, errOut)
		} else if d := dels.completion; d != nil {
			d.DidCompleteWithError(t.session, t, errOut)
		}
		t.closeDone()
	}, here)
}

func (t *Task) metrics() *TaskMetrics {
	m := &TaskMetrics{TaskStart: t.startTime}
	if !t.startTime.IsZero() {
		m.TaskDuration = time.Since(t.startTime)
	}
	src := t // the task whose call made the requests
	if dt := t.downloadTask(); dt != nil && dt.dl.became != nil {
		src = dt.dl.became
	}
	if !src.ran {
		return m
	}
	txs := src.call.Transactions()
	if len(txs) > 0 {
		n := t.received.Load()
		if src != t {
			n += src.received.Load()
		}
		txs[len(txs)-1].SetDecoded(n)
	}
	for _, tx := range txs {
		m.Transactions = append(m.Transactions, transactionMetrics(tx.Snapshot()))
	}
	m.RedirectCount = src.call.Redirects()
	return m
}

// hooks is the task's side of the pipeline.
type hooks struct{ t *Task }

var _ pipeline.Hooks = hooks{}

func (h hooks) WillRedirect(ctx context.Context, resp *http.Response, next *http.Request) (*http.Request, error) {
	t := h.t
	// A suspended task holds the redirect until Resume.
	if err := t.waitRunning(ctx); err != nil {
		return nil, err
	}
	chosen := next
	if d, ok := delegateFor[RedirectionDelegate](t); ok {
		var err error
		chosen, err = askLater(ctx, t, func() *http.Request { return d.WillPerformHTTPRedirection(t.session, t, resp, next) })
		if err != nil {
			return nil, err
		}
	}
	if chosen != nil {
		t.mu.Lock()
		t.current = chosen
		t.mu.Unlock()
	}
	return chosen, nil
}

func (h hooks) NewBodyStream(ctx context.Context) (io.ReadCloser, error) {
	t := h.t
	d, ok := delegateFor[BodyStreamDelegate](t)
	if !ok {
		return nil, nil
	}
	type answer struct {
		rc  io.ReadCloser
		err error
	}
	a, err := ask(ctx, t, func() answer {
		rc, err := d.NeedNewBodyStream(t.session, t)
		return answer{rc, err}
	})
	if err != nil {
		return nil, err
	}
	return a.rc, a.err
}

func (h hooks) BodySent(n, total, expected int64) {
	t := h.t
	t.touch()
	if t.resumableUpload() != nil {
		return // the upload counts its own progress (countedBody)
	}
	t.sent.Store(total)
	if d, ok := delegateFor[SendProgressDelegate](t); ok {
		t.session.queue.add(func() { d.DidSendBodyData(t.session, t, n, total, expected) })
	}
}

func (h hooks) WaitingForConnectivity() {
	t := h.t
	t.mu.Lock()
	first := !t.waitedNet
	t.waitedNet = true
	t.mu.Unlock()
	if d, ok := delegateFor[ConnectivityDelegate](t); ok && first {
		t.session.queue.add(func() { d.TaskIsWaitingForConnectivity(t.session, t) })
	}
}

func (h hooks) Received(int64) { h.t.touch() }

var _ pipeline.SuspendHooks = hooks{}

// WaitRunning waits while the task is suspended.
func (h hooks) WaitRunning(ctx context.Context) error { return h.t.waitRunning(ctx) }

var _ pipeline.CacheHooks = hooks{}

// AsksWillCacheResponse reports whether the task has a CacheDelegate to ask:
// not for tasks with a completion handler, nor in ephemeral sessions, where
// Apple does not ask.
func (h hooks) AsksWillCacheResponse() bool {
	t := h.t
	if t.deliver.handler != nil || t.session.cfg.ephemeral {
		return false
	}
	_, ok := delegateFor[CacheDelegate](t)
	return ok
}

// WillCacheResponse asks the CacheDelegate, after the task's last
// DidReceiveData.
func (h hooks) WillCacheResponse(ctx context.Context, proposed *urlcache.CachedResponse) (*urlcache.CachedResponse, error) {
	t := h.t
	if !h.AsksWillCacheResponse() {
		return proposed, nil
	}
	d, _ := delegateFor[CacheDelegate](t)
	return ask(ctx, t, func() *urlcache.CachedResponse { return d.WillCacheResponse(t.session, t.data, proposed) })
}
