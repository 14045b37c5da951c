package urlsession

import (
	"context"
	"net/http"
)

// DataTask loads a resource into memory or streams it to the delegate's
// DidReceiveData: Apple's URLSessionDataTask. It has every method of Task.
type DataTask struct {
	*Task
}

// UploadTask is a data task whose request body comes from memory, a file or
// a stream given at creation: Apple's URLSessionUploadTask. The request's own
// Body is ignored, except for UploadTaskWithStreamedRequest.
//
// Uploads from memory or from a file with the method POST or PUT are
// resumable as on Apple's platforms since iOS 17 (streamed ones too when the
// request states its ContentLength and the delegate implements
// BodyStreamFromOffsetDelegate; their resume data cannot keep the bytes, so
// they resume within the task only): the request carries the fields of
// "Resumable Uploads for HTTP" (Upload-Draft-Interop-Version, 6 unless
// Configuration.ResumableUploadVersion says otherwise, and Upload-Complete),
// which servers that do not know them ignore. A server that can resume the
// upload answers 104 Upload Resumption Supported with a resumption URL,
// which must be of the request's origin (scheme, host and port): one of
// another origin is ignored, since following it would send the body and the
// request's credentials wherever the server points. If the upload is then
// interrupted (the connection breaks, or a 5xx arrives before the server has
// the whole body), the task resumes on its own: it asks the server for the
// offset it holds (HEAD on the resumption URL) and sends the rest from there
// (PATCH), re-reading the offset on 409 Conflict, up to MaxUploadResumptions
// times; 404 or 410 on the resumption URL fails it with ErrUploadGone. When
// it gives up, or times out, its *Error carries UploadTaskResumeData for
// UploadTaskWithResumeData; CancelByProducingResumeData cancels it with such
// data, while Cancel also tells the server it may discard what it holds
// (DELETE on the resumption URL).
//
// DidSendBodyData counts each byte of the body once however often it is
// sent: after a resumption, bytes sent again are not reported until the
// upload passes the furthest point reported before, so the bytesSent of
// the calls add up to totalBytesSent, which never goes down and ends at
// the body's length. CountOfBytesSent is that furthest point. A task from
// resume data starts its count at the offset the server holds. The
// transactions of the task's metrics show every request with the bytes it
// really sent.
type UploadTask struct {
	*DataTask
	resumable *resumableUpload // nil unless the upload may be resumed (uploadresume.go)
	resumeErr error            // bad resume data (UploadTaskWithResumeData)
}

// CompletionHandler receives the outcome of a task created with one: the
// whole body, the final response (its body already read; nil if none
// arrived) and nil or an *Error. It runs on the session's delegate queue
// after DidFinishCollectingMetrics, in place of DidReceiveResponse,
// DidReceiveData and DidCompleteWithError.
type CompletionHandler func(body []byte, resp *http.Response, err error)

// DataTask returns a suspended task that loads req; the response, body and
// completion go to the delegate. req's context, if cancelled, cancels the
// task. A request body that cannot be replayed (no GetBody) is asked for
// again through NeedNewBodyStream when a redirect must resend it.
//
// On an invalidated session, DataTask and the other factories return a task
// that has already completed with an *Error whose cause is
// ErrSessionInvalidated.
func (s *Session) DataTask(req *http.Request) *DataTask {
	return s.newTask(req, bodySource{kind: bodyFromRequest}, delivery{}).data
}

// DataTaskWithCompletion returns a suspended task that loads req and calls
// handler once with the outcome, instead of the response, data and
// completion callbacks. The delegate still gets redirects, body progress and
// metrics.
func (s *Session) DataTaskWithCompletion(req *http.Request, handler CompletionHandler) *DataTask {
	return s.newTask(req, bodySource{kind: bodyFromRequest}, delivery{handler: handler}).data
}

// UploadTask returns a suspended task that sends body as req's body.
func (s *Session) UploadTask(req *http.Request, body []byte) *UploadTask {
	return s.newUpload(req, bodySource{kind: bodyFromBytes, bytes: body}, delivery{})
}

// UploadTaskWithCompletion is UploadTask with a completion handler (see
// DataTaskWithCompletion).
func (s *Session) UploadTaskWithCompletion(req *http.Request, body []byte, handler CompletionHandler) *UploadTask {
	return s.newUpload(req, bodySource{kind: bodyFromBytes, bytes: body}, delivery{handler: handler})
}

// UploadTaskFromFile returns a suspended task that sends the named file as
// req's body. The file is opened when the task starts and again for each
// resend; a missing file fails the task with ErrFileDoesNotExist, a
// directory with ErrFileIsDirectory.
func (s *Session) UploadTaskFromFile(req *http.Request, name string) *UploadTask {
	if s.bg != nil {
		return s.newBackgroundUpload(req, name)
	}
	return s.newUpload(req, bodySource{kind: bodyFromFile, file: name}, delivery{})
}

// UploadTaskFromFileWithCompletion is UploadTaskFromFile with a completion
// handler (see DataTaskWithCompletion).
func (s *Session) UploadTaskFromFileWithCompletion(req *http.Request, name string, handler CompletionHandler) *UploadTask {
	return s.newUpload(req, bodySource{kind: bodyFromFile, file: name}, delivery{handler: handler})
}

// UploadTaskWithStreamedRequest returns a suspended task whose body is a
// stream: req.Body if set, otherwise the one the delegate's
// NeedNewBodyStream returns. Each resend asks NeedNewBodyStream for a new
// stream; without one the task fails with ErrRequestBodyStreamExhausted. Set
// req.ContentLength when the length is known; otherwise the body is sent
// chunked (HTTP/1.1) or streamed (HTTP/2).
func (s *Session) UploadTaskWithStreamedRequest(req *http.Request) *UploadTask {
	return s.newUpload(req, bodySource{kind: bodyStreamed}, delivery{})
}

func (s *Session) newUpload(req *http.Request, body bodySource, d delivery) *UploadTask {
	return s.newTask(req, body, d).makeUpload()
}

// TaskOption configures a task run by a context-first call.
type TaskOption func(*Task)

// WithDelegate sets the task's per-task delegate (see Task.SetDelegate): it
// gets the task's callbacks before the session delegate does. A delegate
// with a method named like a callback but of another signature fails the
// call with an *Error of code ErrUnknown whose cause is a *DelegateError.
func WithDelegate(d any) TaskOption { return func(t *Task) { t.delegate = d } }

// WithTaskDescription sets the task's description (see
// Task.SetTaskDescription).
func WithTaskDescription(desc string) TaskOption {
	return func(t *Task) { t.more().description = desc }
}

// WithPriority sets the task's priority.
func WithPriority(p float32) TaskOption { return func(t *Task) { t.priority = min(max(p, 0), 1) } }

// Data loads req with a data task and returns the whole body and the final
// response once it has arrived. Cancelling ctx cancels the task: Data then
// returns an *Error with ErrCancelled (which also matches context.Canceled).
// A 404 or 500 is a response, not an error. The delegates (session and
// WithDelegate) get the task's callbacks, DidReceiveData included, as for
// DataTask. Data returns as soon as the body is complete, so the delegate's
// DidFinishCollectingMetrics and DidCompleteWithError may run after it
// returns. Do not call Data, Upload or Bytes from inside a delegate
// callback of the same session: the callback holds the session's queue,
// which the call's own callbacks may need, and the two would wait for each
// other. Other sessions, and Shared, are fine.
func (s *Session) Data(ctx context.Context, req *http.Request, opts ...TaskOption) ([]byte, *http.Response, error) {
	return s.await(ctx, req, bodySource{kind: bodyFromRequest}, opts)
}

// Upload sends body as req's body and returns the response body and the
// response, as Data does.
func (s *Session) Upload(ctx context.Context, req *http.Request, body []byte, opts ...TaskOption) ([]byte, *http.Response, error) {
	return s.await(ctx, req, bodySource{kind: bodyFromBytes, bytes: body}, opts)
}

// UploadFile sends the named file as req's body and returns the response
// body and the response, as Data does.
func (s *Session) UploadFile(ctx context.Context, req *http.Request, name string, opts ...TaskOption) ([]byte, *http.Response, error) {
	return s.await(ctx, req, bodySource{kind: bodyFromFile, file: name}, opts)
}

func (s *Session) await(ctx context.Context, req *http.Request, body bodySource, opts []TaskOption) ([]byte, *http.Response, error) {
	t := s.newTask(req, body, delivery{keep: true})
	t.base = ctx
	if body.kind != bodyFromRequest {
		t.makeUpload()
	}
	if t.State() == TaskCompleted {
		return nil, nil, t.Err()
	}
	for _, o := range opts {
		o(t)
	}
	if ctx, start := t.resume(); start { // a new task always starts
		t.run(ctx) // on the caller's goroutine: it would wait anyway
	}
	t.mu.Lock()
	r, err := t.res, t.errLocked()
	t.mu.Unlock()
	return r.body, r.resp, err
}

// Bytes starts loading req and returns as soon as the final response's
// headers arrive: the body streams through the returned BodyStream (also
// set as resp.Body) as it is read. Cancelling ctx cancels the task. Close
// the stream when done. On failure before the headers, Bytes returns an
// *Error and no stream.
func (s *Session) Bytes(ctx context.Context, req *http.Request, opts ...TaskOption) (*BodyStream, *http.Response, error) {
	res := make(chan taskResult, 1)
	streams := make(chan *BodyStream, 1)
	t := s.newTask(req, bodySource{kind: bodyFromRequest}, delivery{result: res, stream: streams})
	t.base = ctx
	if t.State() == TaskCompleted {
		return nil, nil, t.Err()
	}
	for _, o := range opts {
		o(t)
	}
	if ctx, start := t.resume(); start {
		t.run(ctx) // returns once the headers arrived or the task failed
	}
	select {
	case b := <-streams:
		return b, t.Response(), nil
	case r := <-res:
		return nil, nil, r.err
	}
}
