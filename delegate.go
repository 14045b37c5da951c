package urlsession

import (
	"io"
	"net/http"

	"github.com/urlsession-go/urlsession/urlcache"
)

// A delegate is any value given to New (the session delegate) or to
// Task.SetDelegate (a per-task delegate). The session looks for the small
// interfaces below on it, one per Apple delegate callback, and calls those
// it implements; a callback a delegate does not implement keeps Apple's
// default behaviour (a redirect is followed, a response is allowed, and so
// on).
//
// A per-task delegate gets first refusal: for task callbacks the session
// calls the per-task delegate's method when it implements the interface and
// the session delegate's otherwise. Session-wide callbacks
// (DidBecomeInvalidWithError, DidCreateTask) go to the session delegate only.
//
// Every callback of a session runs on the session's delegate queue: one at a
// time, in the order the events happened, never on the goroutine that called
// Resume and never concurrently with another callback of the same session.
// A callback that blocks holds up the callbacks of its own session only.
// Callbacks may call any method of the session or its tasks.
//
// For one task the order is: DidCreateTask (when the task is created), then
// per request sent DidSendBodyData as the body goes out and
// WillPerformHTTPRedirection for each redirect, then DidReceiveResponse,
// DidReceiveData for each piece of the body, DidFinishCollectingMetrics and
// last DidCompleteWithError. Tasks made with a completion handler skip
// DidReceiveResponse, DidReceiveData and DidCompleteWithError: the handler
// takes their place after DidFinishCollectingMetrics.
//
// Guard each implementation with an assertion such as
//
//	var _ urlsession.DataDelegate = (*myDelegate)(nil)
//
// The session checks each delegate type too, once: a method named like a
// callback (in any case) whose signature is not the callback's, such as
// DidReceiveData taking a *Task instead of a *DataTask, would never be
// called, so New refuses such a delegate and a task given one fails (see
// DelegateError).

// InvalidationDelegate is told that the session became invalid, the last
// message the session sends; the session drops its delegate afterwards.
type InvalidationDelegate interface {
	// DidBecomeInvalidWithError is called once after FinishTasksAndInvalidate
	// or InvalidateAndCancel, when every task has completed. err is nil for
	// an explicit invalidation.
	DidBecomeInvalidWithError(s *Session, err error)
}

// TaskCreationDelegate is told about every task the session creates.
type TaskCreationDelegate interface {
	// DidCreateTask is called for each new task, before any other callback
	// of the task.
	DidCreateTask(s *Session, t *Task)
}

// RedirectionDelegate decides about redirects. Without it, redirects are
// followed (up to 16).
type RedirectionDelegate interface {
	// WillPerformHTTPRedirection is called when resp redirects and the
	// session would send newReq next. It returns the request to send: newReq
	// itself, a changed request, or nil to stop and deliver resp (whose body
	// is then read as the task's body) as the final response. Credentials
	// (Authorization and Cookie headers) are already removed from newReq
	// when it leaves the original origin. To decide after returning, call
	// t.Later() and make its Decision (see Decision).
	WillPerformHTTPRedirection(s *Session, t *Task, resp *http.Response, newReq *http.Request) *http.Request
}

// BodyStreamDelegate supplies request bodies that are streams.
type BodyStreamDelegate interface {
	// NeedNewBodyStream is called when a task's body is a stream with no
	// way to rewind it (no Request.GetBody): for an upload task made with
	// UploadTaskWithStreamedRequest before the first send, and for any task
	// whose body must be sent again after a redirect. It returns a fresh
	// stream of the whole body, which the session closes; nil, or no
	// delegate, fails the task with ErrRequestBodyStreamExhausted.
	NeedNewBodyStream(s *Session, t *Task) (io.ReadCloser, error)
}

// SendProgressDelegate hears about request body progress.
type SendProgressDelegate interface {
	// DidSendBodyData reports that bytesSent more bytes of the body went
	// out; totalBytesSent so far and totalBytesExpectedToSend in all (-1
	// when unknown).
	DidSendBodyData(s *Session, t *Task, bytesSent, totalBytesSent, totalBytesExpectedToSend int64)
}

// ConnectivityDelegate hears that a task waits for the network
// (Configuration.WaitsForConnectivity).
type ConnectivityDelegate interface {
	// TaskIsWaitingForConnectivity is called at most once per task, when it
	// first finds no network and starts waiting.
	TaskIsWaitingForConnectivity(s *Session, t *Task)
}

// MetricsDelegate receives a task's metrics.
type MetricsDelegate interface {
	// DidFinishCollectingMetrics is called once per task, just before its
	// completion, with every transaction the task made.
	DidFinishCollectingMetrics(s *Session, t *Task, m *TaskMetrics)
}

// CompletionDelegate hears that a task finished.
type CompletionDelegate interface {
	// DidCompleteWithError is the last callback of a task. err is nil on
	// success (whatever the status code) and an *Error otherwise.
	DidCompleteWithError(s *Session, t *Task, err error)
}

// ResponseDelegate decides what to do with a response.
type ResponseDelegate interface {
	// DidReceiveResponse is called when the final response's headers
	// arrive, before its body. resp.Body must not be read: the session
	// delivers the body through DidReceiveData. Returning ResponseCancel
	// cancels the task; ResponseAllow continues. To decide after returning,
	// call t.Later() and make its Decision (see Decision). For a
	// multipart/x-mixed-replace response it is called once per part, with
	// the part's headers, before that part's data (see the README's
	// "Behaviour worth knowing").
	DidReceiveResponse(s *Session, t *DataTask, resp *http.Response) ResponseDisposition
}

// DataDelegate receives a data task's body as it arrives.
type DataDelegate interface {
	// DidReceiveData delivers the next piece of the body, in order. data
	// is valid only until the callback returns: copy what you keep.
	DidReceiveData(s *Session, t *DataTask, data []byte)
}

// CacheDelegate decides what a data task stores in the URLCache.
type CacheDelegate interface {
	// WillCacheResponse is called once a response the cache would store
	// has arrived whole: after the task's last DidReceiveData and before
	// its metrics and completion, as Apple orders it. proposed has the
	// response's headers, the whole body as received (still
	// content-encoded when the response has a Content-Encoding) and the
	// storage policy. It returns what to store: proposed, another
	// CachedResponse (its headers, Body, StoragePolicy and UserInfo are
	// stored) or nil to store nothing. A body cut short is never stored
	// and the delegate is not asked. It is not called for tasks with a
	// completion handler, nor in sessions from EphemeralConfiguration, as
	// Apple documents.
	WillCacheResponse(s *Session, t *DataTask, proposed *urlcache.CachedResponse) *urlcache.CachedResponse
}

// DelayedRequestDelegate decides about a background task whose earliest
// begin date has come: Apple's willBeginDelayedRequest.
type DelayedRequestDelegate interface {
	// WillBeginDelayedRequest is called when a task of a background
	// session given an earliest begin date (SetEarliestBeginDate) before
	// its first Resume is about to start, with the request it would send.
	// It returns DelayedRequestContinueLoading to send it,
	// DelayedRequestUseNewRequest with the request to send instead (an
	// http or https URL; its body is not sent), or DelayedRequestCancel
	// to cancel the task, which then completes with ErrCancelled. To
	// decide after returning, call t.Later() and make its Decision (see
	// Decision.DelayedRequest). The daemon holds the transfer until the
	// answer comes: when no process of the session runs at that date, the
	// next one to attach (started by a launch event where a LaunchCommand
	// is set) is asked. Without this delegate, a task starts at its date.
	WillBeginDelayedRequest(s *Session, t *Task, req *http.Request) (DelayedRequestDisposition, *http.Request)
}

// DelayedRequestDisposition is what a DelayedRequestDelegate decides.
// The values are Apple's.
type DelayedRequestDisposition int

const (
	// DelayedRequestContinueLoading starts the task with its request.
	DelayedRequestContinueLoading DelayedRequestDisposition = 0
	// DelayedRequestUseNewRequest starts the task with the request given
	// with it (DelayedRequestContinueLoading when that is nil); a request
	// the daemon refuses (not http or https) cancels the task.
	DelayedRequestUseNewRequest DelayedRequestDisposition = 1
	// DelayedRequestCancel cancels the task.
	DelayedRequestCancel DelayedRequestDisposition = 2
)

// ResponseDisposition is what a ResponseDelegate decides about a response.
// The values are Apple's.
type ResponseDisposition int

const (
	// ResponseCancel cancels the task; it completes with ErrCancelled.
	ResponseCancel ResponseDisposition = 0
	// ResponseAllow continues loading the body.
	ResponseAllow ResponseDisposition = 1
	// ResponseBecomeStream turns the connection of a 101 (Switching
	// Protocols) response, or of a 2xx answer to a CONNECT request (the
	// tunnel), into a StreamTask, handed to the StreamConversionDelegate's
	// DidBecomeStreamTask; the data task then completes with a nil error.
	// For any other response, or without a StreamConversionDelegate, it
	// cancels the task as ResponseCancel does.
	//
	// A data task's CONNECT request is sent to the server its http or
	// https URL names and asks for a tunnel to its Host, "host:port" (a
	// missing port fails the task with ErrBadURL). It goes on a
	// connection of its own, without a body (a body given is not sent),
	// through the session's proxies as an https request is (a tunnel
	// through an HTTP proxy, or SOCKS); over HTTP/1.1, or over HTTP/2 when
	// an https server chooses it in ALPN (unless DisableHTTP2). Over
	// HTTP/2 the tunnel is one stream: the stream task's CloseWrite ends
	// it (END_STREAM), and its CloseRead sends nothing. A non-2xx answer is a
	// response like any other; a 2xx answer's body, when the task reads
	// it, is whatever comes through the tunnel until the far end closes.
	ResponseBecomeStream ResponseDisposition = 3
	// ResponseBecomeDownload turns the data task into a download task:
	// the delegate gets DidBecomeDownloadTask with the new DownloadTask,
	// which writes the rest of the body to a file (see
	// BecomeDownloadDelegate); the data task gets no further callback.
	// A task run by a context-first call (Data, Upload, Bytes) cannot
	// become a download task: for it ResponseBecomeDownload cancels, as
	// ResponseCancel does.
	ResponseBecomeDownload ResponseDisposition = 2
)
