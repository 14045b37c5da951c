package urlsession

// Resumable uploads: the task's side of "Resumable Uploads for HTTP"
// (internal/resumable has the messages). The driver sends the upload with
// the protocol's fields; once the server offered a resumption URL (104), an
// interruption makes it ask for the server's offset (HEAD) and send the rest
// (PATCH), a bounded number of times, before the task fails with resume
// data.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/pipeline"
	"github.com/urlsession-go/urlsession/internal/resumable"
)

// Bounds on automatic resumption. An upload resumes after any number of
// interruptions that each let the server store more of it, up to
// MaxUploadResumptions in all; it fails once three resumptions in a row
// brought no progress, waiting 100 ms, then 200 ms, before the second and
// third.
const (
	// MaxUploadResumptions is the number of times an upload task resumes
	// on its own after interruptions before it fails with resume data.
	MaxUploadResumptions = 32
	maxStalledResumes    = 3
)

// ErrInvalidUploadResumeData is the cause (see Error.Err) of the error of
// an upload task made with UploadTaskWithResumeData from data that is not
// upload resume data: garbage, truncated, damaged (the data carries a
// checksum), of a format newer than this package reads, or describing an
// upload this package cannot continue. The task completes with code
// ErrUnknown without sending anything.
var ErrInvalidUploadResumeData = errors.New("urlsession: invalid upload resume data")

// ErrUploadFileChanged is the cause of the error of an upload from a file
// that must be resumed while the file is no longer the one the upload began
// with: another size, modification time or content at its ends. The rest of
// the file would not continue what the server holds, so the upload fails
// (code ErrUnknown) instead of splicing two files.
var ErrUploadFileChanged = errors.New("urlsession: the uploaded file changed since the upload began")

// ErrUploadGone is the cause of the error of an upload whose resumption URL
// answered 404 Not Found or 410 Gone: the server no longer holds the
// upload (it expired or was cancelled), so it cannot be resumed. The task
// completes with code ErrBadServerResponse and no resume data.
var ErrUploadGone = errors.New("urlsession: the server no longer has the upload")

// defaultResumableVersion is the interop version offered when the
// configuration does not choose: Apple's newest.
const defaultResumableVersion = resumable.Latest

// checkResumableVersion validates Configuration.ResumableUploadVersion.
func checkResumableVersion(v int) error {
	if v <= 0 || resumable.Supported(v) {
		return nil
	}
	return fmt.Errorf("urlsession: ResumableUploadVersion %d is not 3, 5 or 6 (0 for the default, negative for off)", v)
}

// resumableUpload is the state of an upload task that speaks the protocol.
type resumableUpload struct {
	t       *Task
	version int
	method  string
	reqURL  *url.URL
	header  http.Header // the original request's

	// The body: bytes from bodyBase on (memory), or a file.
	body     []byte
	bodyBase int64
	file     string
	size     int64 // -1 until known (a file not yet opened)
	modTime  int64
	print    []byte

	fromData bool // made from resume data: starts with the offset
	stream   bool // the body is a stream the delegate gives from an offset
	enabled  atomic.Bool
	creating atomic.Bool
	high     atomic.Int64  // the furthest body position reported sent
	stopped  chan struct{} // closed when the driver returns

	mu        sync.Mutex
	location  *url.URL // the resumption URL, once offered
	limits    resumable.Limits
	confirmed int64 // the offset the server confirmed last
	gone      bool  // the server no longer has the upload
	completed bool  // the server has the whole upload
	keep      bool  // cancelled for resume data: the server keeps the upload
}

// makeUpload makes t an upload task, resumable when the configuration, the
// body and the method allow.
func (t *Task) makeUpload() *UploadTask {
	u := &UploadTask{DataTask: t.data}
	t.upload = u
	v := t.session.cfg.ResumableUploadVersion
	if v < 0 || t.orig == nil || t.orig.URL == nil || (t.orig.Method != http.MethodPost && t.orig.Method != http.MethodPut) {
		return u
	}
	if v == 0 {
		v = defaultResumableVersion
	}
	ru := &resumableUpload{t: t, version: v, method: t.orig.Method, reqURL: t.orig.URL, header: t.orig.Header, size: -1, stopped: make(chan struct{})}
	switch t.body.kind {
	case bodyFromBytes:
		if len(t.body.bytes) == 0 {
			return u
		}
		ru.body = t.body.bytes
		ru.size = int64(len(ru.body))
	case bodyFromFile:
		ru.file = t.body.file
	case bodyStreamed:
		// Resumable only if the delegate can give the stream again from
		// an offset: decided when the task starts (see send).
		ru.stream = true
		u.resumable = ru
		return u
	default:
		return u
	}
	ru.enabled.Store(true)
	u.resumable = ru
	return u
}

// BodyStreamFromOffsetDelegate supplies the rest of a streamed upload's
// body: Apple's urlSession(_:task:needNewBodyStreamFrom:completionHandler:).
// An upload task made with UploadTaskWithStreamedRequest, whose request
// states its ContentLength, is resumable (see UploadTask) only when its
// delegate implements this interface.
type BodyStreamFromOffsetDelegate interface {
	// NeedNewBodyStreamFrom is called when the upload resumes after an
	// interruption: it returns a stream of the body from byte offset on
	// (the offset the server holds), which the session closes after
	// reading what it needs. nil, or an error, fails the task with
	// ErrRequestBodyStreamExhausted or the error.
	NeedNewBodyStreamFrom(s *Session, t *Task, offset int64) (io.ReadCloser, error)
}

// resumableUpload returns the task's resumable upload state, or nil when
// the task is not a resumable upload.
func (t *Task) resumableUpload() *resumableUpload {
	if t.upload == nil || t.upload.resumable == nil || !t.upload.resumable.enabled.Load() {
		return nil
	}
	return t.upload.resumable
}

// send sends the task's prepared request through the pipeline; a resumable
// upload goes through its driver.
func (t *Task) send(ctx context.Context, req *http.Request) (*http.Response, error) {
	if t.upload != nil && t.upload.resumable != nil && t.upload.resumable.stream && req.ContentLength > 0 {
		if _, ok := delegateFor[BodyStreamFromOffsetDelegate](t); ok {
			t.upload.resumable.size = req.ContentLength
			t.upload.resumable.enabled.Store(true)
		}
	}
	ru := t.resumableUpload()
	if ru == nil {
		return t.session.chain.Do(ctx, &t.call, req)
	}
	defer close(ru.stopped)
	resp, err := ru.run(ctx, req)
	if err != nil && context.Cause(ctx) == errCancelled {
		ru.abandon()
	}
	return resp, err
}

// abandonTimeout bounds the cancellation request of an abandoned upload.
const abandonTimeout = 10 * time.Second

// abandon tells the server, when the task was cancelled (not for resume
// data) while the server holds part of the upload, that it can discard it:
// upload cancellation, a DELETE on the resumption URL. The request runs on
// a goroutine of its own, which ends when it is answered or after
// abandonTimeout; its outcome is not reported.
func (ru *resumableUpload) abandon() {
	ru.mu.Lock()
	skip := ru.location == nil || ru.completed || ru.gone || ru.keep
	ru.mu.Unlock()
	if skip {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), abandonTimeout)
		defer cancel()
		var call pipeline.Call
		call.Hooks = abandonHooks{}
		call.CachePolicy = int(ReloadIgnoringLocalCacheData)
		resp, err := ru.t.session.chain.Do(ctx, &call, ru.newRequest(ctx, http.MethodDelete, resumable.CancelHeader(ru.version)))
		if err == nil {
			resp.Body.Close()
		}
	}()
}

// abandonHooks are the hooks of a request no task hears about: redirects are
// not followed and nothing is reported.
type abandonHooks struct{}

func (abandonHooks) WillRedirect(context.Context, *http.Response, *http.Request) (*http.Request, error) {
	return nil, nil
}
func (abandonHooks) NewBodyStream(context.Context) (io.ReadCloser, error) { return nil, nil }
func (abandonHooks) BodySent(n, total, expected int64)                    {}
func (abandonHooks) WaitingForConnectivity()                              {}
func (abandonHooks) Received(int64)                                       {}

// interim takes note of an interim response: a 104 to the upload's first
// request gives the resumption URL.
func (ru *resumableUpload) interim(req *http.Request, resp *http.Response) {
	if resp.StatusCode != resumable.StatusUploadResumptionSupported || !ru.creating.Load() {
		return
	}
	if v := resp.Header.Get(resumable.HeaderInteropVersion); v != "" && v != strconv.Itoa(ru.version) {
		return // the server speaks another version
	}
	loc, err := resumable.ResumptionURL(req.URL, resp.Header.Get("Location"))
	if err != nil {
		return // refused: the upload goes on without resumption
	}
	limits, _ := resumable.ParseLimits(resp.Header)
	ru.mu.Lock()
	if ru.location == nil {
		ru.location = loc
		ru.limits = limits
	}
	ru.mu.Unlock()
}

// resumptionURL returns the resumption URL, nil until the server offered
// one.
func (ru *resumableUpload) resumptionURL() *url.URL {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	return ru.location
}

// run sends the upload and resumes it after interruptions.
func (ru *resumableUpload) run(ctx context.Context, req *http.Request) (*http.Response, error) {
	t := ru.t
	if err := ru.openFacts(); err != nil {
		closeUploadBody(req)
		return nil, err
	}
	t.expectedSend.Store(ru.size)
	var resp *http.Response
	var err error
	if ru.fromData {
		closeUploadBody(req) // the body goes out in appends
	} else {
		creation := *req
		creation.Header = req.Header.Clone()
		if creation.Header == nil {
			creation.Header = make(http.Header)
		}
		resumable.Announce(creation.Header, ru.version, ru.size)
		creation.Body = ru.counted(req.Body, 0)
		if get := req.GetBody; get != nil {
			creation.GetBody = func() (io.ReadCloser, error) {
				rc, err := get()
				if err != nil {
					return nil, err
				}
				return ru.counted(rc, 0), nil
			}
		}
		ru.creating.Store(true)
		resp, err = t.session.chain.Do(ctx, &t.call, &creation)
		ru.creating.Store(false)
		if !ru.interrupted(ctx, resp, err) {
			ru.finished(resp, err)
			return resp, err
		}
	}
	// held is a 5xx that may be the upload's real answer: it is delivered
	// if the server turns out to have the whole upload.
	var held *http.Response
	hold := func(r *http.Response) {
		if r == nil {
			return
		}
		if held != nil {
			held.Body.Close()
		}
		held = keepSmallResponse(r)
	}
	hold(resp)
	last := int64(-1)
	stalled, resumes := 0, 0
	for {
		// A suspended task resumes its upload once it runs again.
		if err := resumeSleep(ctx, resumeDelay(stalled)); err != nil || ctx.Err() != nil || t.waitRunning(ctx) != nil {
			if held != nil {
				held.Body.Close()
			}
			return nil, context.Cause(ctx)
		}
		if resumes++; resumes > MaxUploadResumptions {
			return ru.giveUp(held, err, "the upload was interrupted %d times", MaxUploadResumptions)
		}
		offset, complete, hresp, herr := ru.fetchOffset(ctx)
		if herr != nil {
			if ctx.Err() == nil && ru.interrupted(ctx, nil, herr) {
				err = herr
				if stalled++; stalled >= maxStalledResumes {
					return ru.giveUp(held, err, "the server did not answer for its offset")
				}
				continue
			}
			if held != nil {
				held.Body.Close()
			}
			return nil, herr
		}
		if hresp != nil && hresp.StatusCode >= 500 {
			hresp.Body.Close()
			err = nil
			if stalled++; stalled >= maxStalledResumes {
				return ru.giveUp(held, fail.Newf(int(ErrBadServerResponse), "the resumption URL answered %s", hresp.Status), "")
			}
			continue
		}
		if complete {
			// The server has it all: its answer to the upload, if it came,
			// is the response; else the offset's.
			ru.finished(nil, nil)
			if held != nil {
				hresp.Body.Close()
				return held, nil
			}
			return hresp, nil
		}
		hresp.Body.Close()
		if offset <= last {
			if stalled++; stalled >= maxStalledResumes {
				return ru.giveUp(held, err, "the upload made no progress")
			}
		} else {
			stalled = 0
		}
		last = offset
		resp, err = ru.append(ctx, offset)
		for err == nil && resp.StatusCode/100 == 2 && !ru.isCompleted() {
			// An append of part of the rest (Upload-Limit): go on from
			// where it ended.
			next, nerr := resumable.Offset(resp.Header)
			resp.Body.Close()
			if nerr != nil {
				next = ru.confirmedOffset() // where the append ended
			}
			if next <= offset || next > ru.size {
				resp, err = nil, fail.Newf(int(ErrBadServerResponse), "the server's answer to an append from %d says %d", offset, next)
				break
			}
			offset = next
			resp, err = ru.append(ctx, offset)
		}
		if err == nil && resp.StatusCode == http.StatusConflict {
			// The server holds another offset: ask again.
			resp.Body.Close()
			continue
		}
		if err == nil && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone) {
			resp.Body.Close()
			return ru.goneErr(resp)
		}
		if !ru.interrupted(ctx, resp, err) {
			ru.finished(resp, err)
			if held != nil {
				held.Body.Close()
			}
			return resp, err
		}
		hold(resp)
	}
}

// resumeDelay is the wait before a resumption after n stalled ones.
func resumeDelay(n int) time.Duration {
	if n == 0 {
		return 0
	}
	return 100 * time.Millisecond << min(n-1, 4)
}

// resumeSleep waits d or until ctx ends.
func resumeSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// giveUp ends the driver after too many resumptions. When the last
// attempt failed on the network, the task fails with that error (and resume
// data); when it got a 5xx, that response (held) is the server's answer and
// the task's response.
func (ru *resumableUpload) giveUp(held *http.Response, err error, why string, args ...any) (*http.Response, error) {
	if err == nil && held != nil {
		return held, nil
	}
	if held != nil {
		held.Body.Close()
	}
	if err == nil {
		err = fail.Newf(int(ErrNetworkConnectionLost), why, args...)
	}
	return nil, err
}

func (ru *resumableUpload) goneErr(resp *http.Response) (*http.Response, error) {
	ru.mu.Lock()
	ru.gone = true
	ru.mu.Unlock()
	return nil, fail.New(int(ErrBadServerResponse), fmt.Errorf("%w: its resumption URL answered %s", ErrUploadGone, resp.Status))
}

// finished takes note of the upload's outcome: a response other than a
// 5xx means the server dealt with the whole upload.
func (ru *resumableUpload) finished(resp *http.Response, err error) {
	if err == nil {
		ru.mu.Lock()
		ru.completed = true
		ru.mu.Unlock()
	}
}

func (ru *resumableUpload) confirmedOffset() int64 {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	return ru.confirmed
}

func (ru *resumableUpload) isCompleted() bool {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	return ru.completed
}

// interrupted reports whether the outcome of a request of the upload calls
// for resuming it: the server offered a resumption URL, the task goes on,
// and the request failed on the network or got a 5xx (or a success that
// says the upload is incomplete).
func (ru *resumableUpload) interrupted(ctx context.Context, resp *http.Response, err error) bool {
	if ru.resumptionURL() == nil || ctx.Err() != nil {
		return false
	}
	if err != nil {
		switch classify(err, "").Code {
		case ErrNetworkConnectionLost, ErrTimedOut, ErrCannotConnectToHost, ErrNotConnectedToInternet, ErrUnknown:
			return true
		}
		return false
	}
	complete, present, perr := resumable.Complete(resp.Header, ru.version)
	switch {
	case resp.StatusCode >= 500:
		return !(present && perr == nil && complete)
	case resp.StatusCode/100 == 2:
		return present && perr == nil && !complete
	}
	return false
}

// keepSmallResponse returns r with at most 64 KiB of its body read into memory, so
// that the connection is free while the upload resumes.
func keepSmallResponse(r *http.Response) *http.Response {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	r.Body.Close()
	c := *r
	c.Body = io.NopCloser(bytes.NewReader(b))
	return &c
}

func closeUploadBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// openFacts records, for an upload from a file, its size, modification
// time and fingerprint; a task from resume data checks them instead.
func (ru *resumableUpload) openFacts() error {
	if ru.file == "" {
		return nil
	}
	f, _, err := openUpload(ru.file)
	if err != nil {
		return err
	}
	defer f.Close()
	size, mt, fp, err := resumable.FileFacts(f)
	if err != nil {
		return fail.New(int(ErrCannotOpenFile), err)
	}
	if ru.fromData {
		if size != ru.size || mt != ru.modTime || !bytes.Equal(fp, ru.print) {
			return fail.New(int(ErrUnknown), ErrUploadFileChanged)
		}
		return nil
	}
	ru.size, ru.modTime, ru.print = size, mt, fp
	return nil
}

// newRequest returns a request of the protocol to the resumption URL. It
// carries the original request's credentials (the URL is of its origin).
func (ru *resumableUpload) newRequest(ctx context.Context, method string, h http.Header) *http.Request {
	u := ru.resumptionURL()
	req := (&http.Request{Method: method, URL: u, Header: h, Host: u.Host, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}).WithContext(ctx)
	if v := ru.header.Values("Authorization"); len(v) > 0 {
		h["Authorization"] = v
	}
	return req
}

// fetchOffset asks the server for the offset it holds: offset retrieval.
// A 5xx response is returned for the caller to retry.
func (ru *resumableUpload) fetchOffset(ctx context.Context) (offset int64, complete bool, resp *http.Response, err error) {
	t := ru.t
	resp, err = t.session.chain.Do(ctx, &t.call, ru.newRequest(ctx, http.MethodHead, resumable.OffsetHeader(ru.version)))
	if err != nil {
		return 0, false, nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		_, err = ru.goneErr(resp)
		return 0, false, nil, err
	case resp.StatusCode >= 500:
		return 0, false, resp, nil
	case resp.StatusCode/100 != 2:
		resp.Body.Close()
		return 0, false, nil, fail.Newf(int(ErrBadServerResponse), "the resumption URL answered %s to the offset request", resp.Status)
	}
	bad := func(err error) (int64, bool, *http.Response, error) {
		resp.Body.Close()
		return 0, false, nil, fail.New(int(ErrBadServerResponse), fmt.Errorf("the server's offset: %w", err))
	}
	offset, err = resumable.Offset(resp.Header)
	if err != nil {
		return bad(err)
	}
	complete, _, err = resumable.Complete(resp.Header, ru.version)
	if err != nil {
		return bad(err)
	}
	if offset > ru.size {
		return bad(fmt.Errorf("%w: offset %d is past the upload's %d bytes", resumable.ErrProtocol, offset, ru.size))
	}
	if complete && offset != ru.size {
		return bad(fmt.Errorf("%w: the upload is complete at %d of %d bytes", resumable.ErrProtocol, offset, ru.size))
	}
	if offset < ru.bodyBase {
		return bad(fmt.Errorf("%w: the server went back to offset %d, before the %d bytes it had confirmed", resumable.ErrProtocol, offset, ru.bodyBase))
	}
	ru.mu.Lock()
	ru.confirmed = max(ru.confirmed, offset)
	if complete {
		ru.completed = true
	}
	ru.mu.Unlock()
	// What the server holds counts as sent without being reported: a task
	// from resume data starts its progress there.
	for high := ru.high.Load(); offset > high; high = ru.high.Load() {
		if ru.high.CompareAndSwap(high, offset) {
			t.sent.Store(offset)
			break
		}
	}
	return offset, complete, resp, nil
}

// append sends the body from offset on (up to the server's
// max-append-size): upload append.
func (ru *resumableUpload) append(ctx context.Context, offset int64) (*http.Response, error) {
	t := ru.t
	ru.mu.Lock()
	maxAppend := ru.limits.MaxAppendSize
	ru.mu.Unlock()
	end := ru.size
	if maxAppend > 0 {
		end = min(end, offset+maxAppend)
	}
	complete := end == ru.size
	open := func() (io.ReadCloser, error) { return ru.section(ctx, offset, end) }
	body, err := open()
	if err != nil {
		return nil, err
	}
	req := ru.newRequest(ctx, http.MethodPatch, resumable.AppendHeader(ru.version, offset, complete))
	req.Body, req.ContentLength = body, end-offset
	req.GetBody = open
	if end == offset {
		body.Close()
		req.Body, req.GetBody = http.NoBody, nil
	}
	resp, err := t.session.chain.Do(ctx, &t.call, req)
	if err == nil && resp.StatusCode/100 == 2 {
		if complete {
			ru.mu.Lock()
			ru.completed = true
			ru.confirmed = ru.size
			ru.mu.Unlock()
		} else {
			ru.mu.Lock()
			ru.confirmed = max(ru.confirmed, end)
			ru.mu.Unlock()
		}
	}
	return resp, err
}

// section returns the body's bytes from off to end, counted as sent.
func (ru *resumableUpload) section(ctx context.Context, off, end int64) (io.ReadCloser, error) {
	if ru.stream {
		return ru.streamFrom(ctx, off, end)
	}
	if ru.file == "" {
		return ru.counted(io.NopCloser(bytes.NewReader(ru.body[off-ru.bodyBase:end-ru.bodyBase])), off), nil
	}
	f, _, err := openUpload(ru.file)
	if err != nil {
		return nil, err
	}
	size, mt, fp, err := resumable.FileFacts(f)
	if err != nil {
		f.Close()
		return nil, fail.New(int(ErrCannotOpenFile), err)
	}
	if size != ru.size || mt != ru.modTime || !bytes.Equal(fp, ru.print) {
		f.Close()
		return nil, fail.New(int(ErrUnknown), ErrUploadFileChanged)
	}
	return ru.counted(struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, off, end-off), f}, off), nil
}

// streamFrom asks the delegate for the body from off on and returns its
// bytes up to end.
func (ru *resumableUpload) streamFrom(ctx context.Context, off, end int64) (io.ReadCloser, error) {
	t := ru.t
	d, ok := delegateFor[BodyStreamFromOffsetDelegate](t)
	if !ok {
		return nil, fail.Newf(int(ErrRequestBodyStreamExhausted), "no body stream from offset %d was provided", off)
	}
	type answer struct {
		rc  io.ReadCloser
		err error
	}
	a, err := ask(ctx, t, func() answer {
		rc, err := d.NeedNewBodyStreamFrom(t.session, t, off)
		return answer{rc, err}
	})
	if err == nil {
		err = a.err
	}
	if err != nil {
		if a.rc != nil {
			a.rc.Close()
		}
		return nil, err
	}
	if a.rc == nil {
		return nil, fail.Newf(int(ErrRequestBodyStreamExhausted), "no body stream from offset %d was provided", off)
	}
	return ru.counted(struct {
		io.Reader
		io.Closer
	}{io.LimitReader(a.rc, end-off), a.rc}, off), nil
}

// counted wraps a body that starts at offset base of the upload so that
// its reads report progress.
func (ru *resumableUpload) counted(rc io.ReadCloser, base int64) io.ReadCloser {
	if rc == nil || rc == http.NoBody {
		return rc
	}
	return &countedBody{rc: rc, ru: ru, pos: base}
}

// countedBody reports the progress of one request's body. A resend of
// bytes already reported (after a resumption, a redirect or an
// authentication retry) reports nothing until it passes them, so that
// DidSendBodyData counts every byte of the upload once.
type countedBody struct {
	rc  io.ReadCloser
	ru  *resumableUpload
	pos int64
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.pos += int64(n)
		b.ru.reached(b.pos)
	}
	return n, err
}

func (b *countedBody) Close() error { return b.rc.Close() }

// reached reports body position pos as sent, if it is further than any
// reported before.
func (ru *resumableUpload) reached(pos int64) {
	for {
		high := ru.high.Load()
		if pos <= high {
			return
		}
		if ru.high.CompareAndSwap(high, pos) {
			t := ru.t
			t.sent.Store(pos)
			if d, ok := delegateFor[SendProgressDelegate](t); ok {
				n, size := pos-high, ru.size
				t.session.queue.add(func() { d.DidSendBodyData(t.session, t, n, pos, size) })
			}
			return
		}
	}
}

// CancelByProducingResumeData cancels the upload and returns the data
// that continues it in a task of UploadTaskWithResumeData: Apple's
// cancel(byProducingResumeData:) for upload tasks. The data is nil, with a
// nil error, when the upload cannot be resumed: the server did not offer a
// resumption URL (see UploadTask), the task had not sent anything yet, was
// made with a stream or with resumable uploads turned off, or already
// completed. The task completes with ErrCancelled, as with Cancel.
//
// The data is versioned and checksummed; a changed or cut copy is refused
// when used. For an upload from a file it holds the file's absolute path,
// size, modification time and a fingerprint of its ends, and a resumed
// task refuses a file that changed (ErrUploadFileChanged). For an upload
// from memory it holds the part of the body the server has not confirmed
// yet, so it can be nearly as large as the body: the bytes cannot be had
// again any other way. It never holds the request's Authorization,
// Proxy-Authorization or Cookie fields.
//
// CancelByProducingResumeData waits, until ctx ends, for the task's
// requests to stop, so that the server's offset no longer moves when the
// data is used; the data is returned all the same if ctx ends first. It
// returns an error only when the data cannot be made: the file of an
// upload from a file cannot be read.
//
// In a background session it cancels the daemon's job and returns the
// resume data of the job's completion (nil when the daemon could not
// make any), which DidCompleteWithError's error carries too; it waits for
// that completion until ctx ends (then returning ctx's error).
func (u *UploadTask) CancelByProducingResumeData(ctx context.Context) ([]byte, error) {
	if bt := u.bgTask(); bt != nil {
		return u.bgCancelByProducingResumeData(ctx, bt)
	}
	ru := u.resumable
	if ru == nil || u.State() == TaskCompleted {
		u.Cancel()
		return nil, nil
	}
	ru.mu.Lock()
	ru.keep = true
	offered := ru.location != nil
	ru.mu.Unlock()
	u.Cancel()
	if !offered {
		return nil, nil
	}
	select {
	case <-ru.stopped:
	case <-ctx.Done():
	}
	return ru.resumeData()
}

// failureResumeData returns the resume data a failed upload's error
// carries: nil unless the server offered resumption, still has the upload
// and the task was not cancelled.
func (t *Task) failureResumeData(e *Error) []byte {
	ru := t.resumableUpload()
	if ru == nil || e.Code == ErrCancelled {
		return nil
	}
	data, err := ru.resumeData()
	if err != nil {
		return nil
	}
	return data
}

// resumeData encodes what continues the upload, or nil when it cannot be
// continued.
func (ru *resumableUpload) resumeData() ([]byte, error) {
	ru.mu.Lock()
	loc, gone, done, confirmed := ru.location, ru.gone, ru.completed, ru.confirmed
	ru.mu.Unlock()
	if ru.stream || loc == nil || gone || done || ru.size < 0 {
		return nil, nil // a stream's bytes cannot be kept
	}
	s := &resumable.State{
		Version:  ru.version,
		Location: loc.String(),
		Method:   ru.method,
		URL:      ru.reqURL.String(),
		Header:   resumeHeader(ru.header),
		Size:     ru.size,
	}
	if ru.file != "" {
		abs := ru.file
		if a, err := filepath.Abs(ru.file); err == nil { // usable from another working directory
			abs = a
		}
		s.File, s.FileModTime, s.Fingerprint = abs, ru.modTime, ru.print
		s.BodyOffset = ru.bodyBase // the file's bytes before it are not the upload's
	} else {
		confirmed = max(confirmed, ru.bodyBase)
		s.BodyOffset = confirmed
		s.Body = ru.body[confirmed-ru.bodyBase:]
	}
	return s.Encode()
}

// resumeHeader returns the fields of the original request that resume data
// keeps: not credentials, cookies, framing or the protocol's own fields.
func resumeHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "Proxy-Authorization", "Cookie", "Content-Length", "Transfer-Encoding",
			"Expect", "Connection", "Host", resumable.HeaderInteropVersion, resumable.HeaderComplete,
			resumable.HeaderIncomplete, resumable.HeaderOffset, resumable.HeaderLength:
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// UploadTaskWithResumeData returns a suspended upload task that continues
// the upload that data (from CancelByProducingResumeData or the UploadTaskResumeData
// of a failed upload's *Error) describes: Apple's
// uploadTask(withResumeData:). Once resumed it asks the server for the
// offset it holds and sends the rest, as an interrupted upload task does.
// Data that does not decode makes a task that completes, once resumed,
// with ErrInvalidUploadResumeData; an upload from a file whose file changed
// completes with ErrUploadFileChanged.
//
// In a background session (see BackgroundConfiguration) the task becomes
// a daemon job at its first Resume, and the daemon continues the upload
// the same way. A background upload is read from a file, as on Apple's
// systems, where the daemon reads background uploads only from files:
// the body that resume data of an upload from memory keeps is written, at
// that Resume, to a new file (mode 0600, in
// $XDG_DATA_HOME/urlsession/uploads) that the daemon owns from then on.
// It removes the file when it forgets the job, unless the job ended with
// resume data, which names the file (in a later session, that data
// hands it to the new job). A task from data that does not decode
// completes at once, with ErrInvalidUploadResumeData.
//
// The request it sends keeps the original's method, URL and header fields
// except its credentials and cookies: the session's credential storage, its
// cookie storage and the challenge delegate supply those again.
func (s *Session) UploadTaskWithResumeData(data []byte) *UploadTask {
	return s.uploadFromResumeData(data, delivery{})
}

// UploadTaskWithResumeDataWithCompletion is UploadTaskWithResumeData with
// a completion handler (see DataTaskWithCompletion).
func (s *Session) UploadTaskWithResumeDataWithCompletion(data []byte, handler CompletionHandler) *UploadTask {
	return s.uploadFromResumeData(data, delivery{handler: handler})
}

func (s *Session) uploadFromResumeData(data []byte, d delivery) *UploadTask {
	if s.bg != nil && d.handler == nil {
		return s.newBackgroundUploadWithResumeData(data)
	}
	st, derr := resumable.Decode(data)
	var req *http.Request
	body := bodySource{kind: bodyFromBytes}
	if derr == nil {
		var err error
		req, err = http.NewRequest(st.Method, st.URL, nil)
		if err != nil {
			derr = err
		} else {
			req.Header = st.Header
			if req.Header == nil {
				req.Header = make(http.Header)
			}
			if st.File != "" {
				body = bodySource{kind: bodyFromFile, file: st.File}
			} else {
				body.bytes = st.Body
			}
		}
	}
	t := s.newTask(req, body, d)
	u := &UploadTask{DataTask: t.data}
	t.upload = u
	if derr != nil {
		u.resumeErr = fail.New(int(ErrUnknown), fmt.Errorf("%w: %w", ErrInvalidUploadResumeData, derr))
		return u
	}
	loc, _ := url.Parse(st.Location)
	u.resumable = &resumableUpload{
		t: t, version: st.Version, method: st.Method, reqURL: req.URL, header: req.Header,
		body: st.Body, bodyBase: st.BodyOffset, file: st.File, size: st.Size, modTime: st.FileModTime, print: st.Fingerprint,
		fromData: true, stopped: make(chan struct{}),
		location: loc, limits: resumable.Limits{MaxSize: -1, MinSize: -1, MaxAppendSize: -1, MinAppendSize: -1, Expires: -1},
		confirmed: st.BodyOffset,
	}
	u.resumable.enabled.Store(true)
	return u
}

// resumeProblem returns the error a task made from bad resume data
// completes with.
func (t *Task) resumeProblem() error {
	if t.upload == nil {
		return nil
	}
	return t.upload.resumeErr
}
