package urlsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/resume"
	"github.com/urlsession-go/urlsession/internal/segment"
)

// DownloadTask loads a resource into a file: Apple's URLSessionDownloadTask.
// It has every method of Task.
//
// The body is written, as it arrives, to a temporary file (mode 0600) in a
// directory of the session's own (mode 0700, under os.TempDir, removed with
// its last file and when the session is invalidated); it is never held
// whole in memory. What has been received is written to the file as the
// first bytes arrive, then once 128 KiB have gathered, at least every 100
// ms while data arrives, within
// about 200 ms when the network stalls, and whenever the task is
// suspended, so a process killed while downloading loses less than a MiB;
// a cancellation or failure writes it all before making resume data.
//
// A download task goes through the whole pipeline as a data task does:
// redirects, authentication, cookies, the URL cache, metrics, timeouts,
// suspension. It does not get DidReceiveResponse or DidReceiveData: as in
// Apple's API, the response disposition is a data task's callback. For a
// delegate-driven download task the callbacks arrive in this order:
// DidCreateTask, the redirect and challenge callbacks of each request,
// DidResumeAtOffset (for a task resumed from resume data), DidWriteData as
// the body is written, DidFinishDownloadingTo once the body is complete,
// DidFinishCollectingMetrics, and last DidCompleteWithError.
//
// Any response is downloaded, whatever its status: a 404's body goes to the
// file like a 200's, and the response tells the status.
//
// Beyond Apple's API: the body is checked against the server's
// Content-Digest and Repr-Digest and against a digest the caller expects
// (SetExpectedDigest), a mismatch failing the task with ErrDigestMismatch
// and the file never handed over; reads can be limited in rate per task
// (SetMaximumBytesPerSecond) and per session
// (Configuration.MaximumBytesPerSecond); the body can be fetched in
// segments over several connections (SetSegments,
// Configuration.DownloadSegments); and SuggestedFilename names the file.
type DownloadTask struct {
	*Task
	dl download
}

// DownloadDelegate receives a download task's file. A delegate-driven
// download task (made by DownloadTask or DownloadTaskWithResumeData,
// without a completion handler) requires it, as Apple's protocol does: if
// neither the task's delegate nor the session's implements it, the task
// fails when resumed with code ErrUnknown and cause ErrNoDownloadDelegate.
type DownloadDelegate interface {
	// DidFinishDownloadingTo is called once the whole body is in the file
	// at path. The file is the delegate's during the call only: the
	// session removes it when the callback returns, so move it (os.Rename)
	// or copy it to keep it. DidFinishCollectingMetrics and
	// DidCompleteWithError follow.
	DidFinishDownloadingTo(s *Session, t *DownloadTask, path string)
}

// DownloadProgressDelegate hears how a download progresses.
type DownloadProgressDelegate interface {
	// DidWriteData reports that bytesWritten more bytes are in the file:
	// totalBytesWritten in all (for a resumed task, counting the bytes it
	// resumed from) of totalBytesExpectedToWrite, or TransferSizeUnknown
	// (-1) when the length is not known. Calls come at the rate a progress
	// display wants, whatever the link's speed: the first as soon as the
	// first bytes of a stream are in the file (so that a caller can note
	// that the download began), then at most once per 100 ms while data
	// arrives, once within about 200 ms when the stream stalls
	// (so that the count shown is what is in the file), never twice for
	// the same count, and always once after the last bytes, before
	// DidFinishDownloadingTo.
	DidWriteData(s *Session, t *DownloadTask, bytesWritten, totalBytesWritten, totalBytesExpectedToWrite int64)
}

// DownloadResumeDelegate hears where a task made from resume data resumed.
type DownloadResumeDelegate interface {
	// DidResumeAtOffset is called once, before any DidWriteData, when a
	// task made by DownloadTaskWithResumeData got its response:
	// fileOffset is where writing continues (the partial file's length
	// when the server sent the rest, 0 when it sent the whole resource
	// again and the file was restarted) and expectedTotalBytes the whole
	// length, or TransferSizeUnknown (-1).
	DidResumeAtOffset(s *Session, t *DownloadTask, fileOffset, expectedTotalBytes int64)
}

// DownloadCompletionHandler receives the outcome of a download task created
// with one: the path of the downloaded file ("" when err is not nil), the
// final response (nil if none arrived) and nil or an *Error. The file is
// removed when the handler returns: move or copy it to keep it. The
// handler runs on the session's delegate queue after
// DidFinishCollectingMetrics, in place of DidWriteData, DidResumeAtOffset,
// DidFinishDownloadingTo and DidCompleteWithError.
type DownloadCompletionHandler func(path string, resp *http.Response, err error)

var (
	// ErrNoDownloadDelegate is the cause of the error (code ErrUnknown) of a
	// delegate-driven download task whose delegates lack
	// DidFinishDownloadingTo, which Apple's protocol requires.
	ErrNoDownloadDelegate = errors.New("urlsession: a download task without a completion handler needs a delegate with DidFinishDownloadingTo")
	// ErrInvalidResumeData is the cause of the error (code
	// ErrUnsupportedURL, as swift-corelibs-foundation reports it) of a task
	// made from resume data that is not resume data, is damaged or
	// truncated, or comes from a later version of the format. It is also
	// returned by RetargetResumeData and RemoveResumeData.
	ErrInvalidResumeData = errors.New("urlsession: invalid resume data")
	// ErrPartialFileChanged is the cause of the error (code
	// ErrCannotOpenFile) of a task made from resume data whose partial file
	// is not the one the resume data describes: shorter, longer, modified
	// or replaced. A partial file that is gone gives the same code with a
	// cause matching fs.ErrNotExist. The task never restarts on its own at
	// another offset; start a new download instead.
	ErrPartialFileChanged = resume.ErrChanged
)

// download is a download task's own state.
type download struct {
	handler DownloadCompletionHandler // or nil
	owned   bool                      // Download: the file goes to the caller
	became  *Task                     // the data task this task took over from, or nil

	settled chan struct{} // closed once the outcome is settled (see settle)

	mu         sync.Mutex
	from       *resume.Data // resume data the task continues, or nil
	fromErr    error        // why the resume data given is unusable
	produce    bool         // CancelByProducingResumeData asked for resume data
	done       bool         // settle ran
	file       *os.File     // the open file, while the body is read
	path       string       // the file's path, "" when there is none
	written    int64        // bytes in the file
	total      int64        // the body's whole length, -1 when not known
	validators resume.Validators
	resumable  bool   // the response allows resuming (see resumableResponse)
	resumeData []byte // what settle produced
	// kept: the answer to the resumed request was not the resource (see
	// resume.Keep): from's partial file was left as it was, and from
	// still describes it.
	kept   bool
	result string // the path handed over: the caller's file for Download
	x      downloadExtras
}

// ErrorResumeData is a convenience for DownloadTaskResumeData: it returns
// the resume data err carries, or nil.
func ErrorResumeData(err error) []byte {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.DownloadTaskResumeData
	}
	return nil
}

// DownloadTask returns a suspended task that downloads req to a file and
// hands it to the delegate's DidFinishDownloadingTo (see DownloadTask and
// DownloadDelegate). req's context, if cancelled, cancels the task.
func (s *Session) DownloadTask(req *http.Request) *DownloadTask {
	if s.bg != nil {
		return s.newBackgroundDownload(req, nil, nil)
	}
	return s.newDownload(req, nil, nil, delivery{}, nil)
}

// DownloadTaskWithCompletion returns a suspended task that downloads req
// and calls handler once with the file, instead of the download and
// completion callbacks. The delegate still gets redirects, challenges and
// metrics.
func (s *Session) DownloadTaskWithCompletion(req *http.Request, handler DownloadCompletionHandler) *DownloadTask {
	return s.newDownload(req, nil, nil, delivery{}, handler)
}

// DownloadTaskWithResumeData returns a suspended task that continues the
// download data describes (see CancelByProducingResumeData). When resumed
// it checks that the partial file is the one the data recorded, then asks
// the server for the rest with Range and If-Range (the strong entity tag,
// else the strong Last-Modified date), from the URL in the data (the
// original request's, or the one RetargetResumeData set; redirects are
// followed again) with the original request's header fields, except
// credentials and cookies, which the session supplies again:
//
//   - a 206 with the rest, from the asked offset on, is appended; the
//     delegate gets DidResumeAtOffset(offset, total);
//   - a 200 (the resource changed, or the server ignores ranges)
//     restarts the file from byte 0 with that response's body; the
//     delegate gets DidResumeAtOffset(0, length): two versions are never
//     spliced;
//   - any other status (a 404, 500 or 503, a redirect that was not
//     followed) is not the resource: as for any download, its body is
//     downloaded and handed over (DidFinishDownloadingTo, the completion
//     handler, or Download's path) and the task completes without an
//     error, its response telling the status; the delegate gets
//     DidResumeAtOffset(0, length) for that file. The partial file is not
//     touched: the resume data the task was made from stays valid, and
//     the same data resumes the download later (after a 503's
//     Retry-After, say) or RemoveResumeData discards it. Should the task
//     fail or be cancelled while reading that body, its error carries
//     resume data for the partial file all the same;
//   - a 416 whose Content-Range gives the partial file's length as the
//     whole length means the file is already complete: the task finishes
//     with it (and the 416 as its response);
//   - a 206 for another range, or another 416, fails the task with
//     ErrBadServerResponse, the partial file untouched and the same
//     resume data in the error.
//
// Resume data of a segmented download with gaps in its file (see
// Configuration.DownloadSegments) asks for the first missing range; a 206
// for it is written at its offset and the other missing ranges are
// fetched over connections of their own, as the download began; any other
// response is handled as above.
//
// Data that is not resume data, is damaged or comes from a later version
// of the format fails the task with ErrUnsupportedURL and cause
// ErrInvalidResumeData; a partial file that is missing or changed, with
// ErrCannotOpenFile (see ErrPartialFileChanged). Resume data is used once
// (but for a response that is not the resource, above): the task owns the
// partial file, which it removes when cancelled or finished, or hands on
// in new resume data.
func (s *Session) DownloadTaskWithResumeData(data []byte) *DownloadTask {
	d, req, err := resumeRequest(data)
	if s.bg != nil {
		return s.newBackgroundDownload(req, data, err)
	}
	return s.newDownload(req, d, err, delivery{}, nil)
}

// DownloadTaskWithResumeDataAndCompletion is DownloadTaskWithResumeData
// with a completion handler (see DownloadTaskWithCompletion).
func (s *Session) DownloadTaskWithResumeDataAndCompletion(data []byte, handler DownloadCompletionHandler) *DownloadTask {
	d, req, err := resumeRequest(data)
	return s.newDownload(req, d, err, delivery{}, handler)
}

// Download downloads req to a file and returns its path and the final
// response once the file is complete. The file is the caller's: it is
// outside the session's directory, and the caller moves or removes it.
// Cancelling ctx cancels the task: Download then returns an *Error with
// ErrCancelled (which also matches context.Canceled). A 404 or 500 is a
// response (its body in the file), not an error. On a failure that can be
// resumed (a lost connection, a timeout, a write error, and the end of ctx
// too), the *Error carries resume data (Error.DownloadTaskResumeData): the
// partial file is then the caller's to resume or to remove with
// RemoveResumeData. The delegates
// (session and WithDelegate) get DidWriteData, but not
// DidFinishDownloadingTo: the file is returned instead. As with Data, do not
// call Download from inside a delegate callback of the same session.
func (s *Session) Download(ctx context.Context, req *http.Request, opts ...TaskOption) (path string, resp *http.Response, err error) {
	return s.awaitDownload(ctx, s.newDownload(req, nil, nil, delivery{keep: true}, nil), opts)
}

// DownloadWithResumeData continues the download resume data describes,
// as DownloadTaskWithResumeData does, and returns as Download does. The
// delegates get DidResumeAtOffset and DidWriteData.
func (s *Session) DownloadWithResumeData(ctx context.Context, data []byte, opts ...TaskOption) (path string, resp *http.Response, err error) {
	d, req, rerr := resumeRequest(data)
	return s.awaitDownload(ctx, s.newDownload(req, d, rerr, delivery{keep: true}, nil), opts)
}

func (s *Session) awaitDownload(ctx context.Context, dt *DownloadTask, opts []TaskOption) (path string, resp *http.Response, err error) {
	dt.dl.owned = true
	t := dt.Task
	t.base = ctx
	if t.State() == TaskCompleted {
		return "", nil, t.Err()
	}
	for _, o := range opts {
		o(t)
	}
	if ctx, start := t.resume(); start {
		t.run(ctx)
	}
	t.mu.Lock()
	r, err := t.res, t.errLocked()
	t.mu.Unlock()
	if err != nil {
		return "", r.resp, err
	}
	dt.dl.mu.Lock()
	path = dt.dl.result
	dt.dl.mu.Unlock()
	return path, r.resp, nil
}

// CancelByProducingResumeData cancels the task and returns data to resume
// it with DownloadTaskWithResumeData, or nil when it cannot be resumed. It
// can be resumed when the request is a GET without a Range of its own, the
// response (a 200, or a 206 to a resumed request) came with a strong
// validator (a strong ETag, or a Last-Modified at least a second older
// than its Date), the server takes byte ranges (Accept-Ranges: bytes, or a
// 206 seen), the body was not content-decoded, and the partial file is
// present. The partial file then leaves the session's directory, so that
// invalidating the session does not remove it: it lives beside it in
// os.TempDir until a task resumes from the data, or RemoveResumeData
// removes it.
//
// A task made from resume data whose response was not the resource (see
// DownloadTaskWithResumeData) returns resume data for the partial file it
// left untouched, equivalent to the data it was made from.
//
// The task completes with ErrCancelled, its error carrying the same data.
// CancelByProducingResumeData waits for the task to stop writing; ctx
// bounds the wait (the task is cancelled all the same). On a task that
// already completed it returns the resume data of its error, if any.
// In a background session the daemon's job is cancelled and its resume
// data returned; its partial file stays in the daemon's directory until a
// task of the session resumes from the data.
func (dt *DownloadTask) CancelByProducingResumeData(ctx context.Context) ([]byte, error) {
	if bt := dt.bgTask(); bt != nil {
		return dt.bgCancelByProducingResumeData(ctx, bt)
	}
	dt.dl.mu.Lock()
	dt.dl.produce = true
	dt.dl.mu.Unlock()
	dt.cancelWith(errCancelled)
	select {
	case <-dt.dl.settled:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	dt.dl.mu.Lock()
	defer dt.dl.mu.Unlock()
	return dt.dl.resumeData, nil
}

// RetargetResumeData returns a copy of resume data that resumes from u
// instead of the URL it recorded, keeping the validators, the offset and
// the partial file: for a download whose signed URL expired, say. u must be
// an absolute http or https URL. The server at u must serve the same
// resource (the validators check it: a different one is downloaded again
// from byte 0).
func RetargetResumeData(data []byte, u *url.URL) ([]byte, error) {
	d, err := resume.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidResumeData, err)
	}
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("urlsession: resume data can only target an absolute http or https URL")
	}
	d.URL = u.String()
	out, err := resume.Encode(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidResumeData, err)
	}
	return out, nil
}

// ResumeDataURL returns the URL that resume data resumes from.
func ResumeDataURL(data []byte) (*url.URL, error) {
	d, err := resume.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidResumeData, err)
	}
	return url.Parse(d.URL)
}

// RemoveResumeData removes the partial file of resume data that will not
// be used; the data is useless afterwards. A file already gone is not an
// error. It removes the file only if it is still the one the data
// describes, and returns an error matching ErrPartialFileChanged
// otherwise.
func RemoveResumeData(data []byte) error {
	d, err := resume.Decode(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidResumeData, err)
	}
	f, err := resume.OpenPartial(d)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(d.File)
}

// resumeRequest decodes resume data into the request that resumes it.
func resumeRequest(data []byte) (*resume.Data, *http.Request, error) {
	d, err := resume.Decode(data)
	if err != nil {
		return nil, nil, fail.New(int(ErrUnsupportedURL), fmt.Errorf("%w: %w", ErrInvalidResumeData, err))
	}
	req, err := http.NewRequest(http.MethodGet, d.URL, nil)
	if err != nil {
		return nil, nil, fail.New(int(ErrUnsupportedURL), fmt.Errorf("%w: %w", ErrInvalidResumeData, err))
	}
	for k, vs := range d.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return d, req, nil
}

// newDownload registers a download task.
func (s *Session) newDownload(req *http.Request, from *resume.Data, fromErr error, d delivery, h DownloadCompletionHandler) *DownloadTask {
	dt := &DownloadTask{}
	dt.dl.handler = h
	dt.dl.settled = make(chan struct{})
	dt.dl.from, dt.dl.fromErr = from, fromErr
	dt.dl.total = TransferSizeUnknown
	if from != nil {
		dt.dl.path = from.File
		dt.dl.written = from.Offset
		dt.dl.total = from.Total
		dt.dl.validators = resume.Validators{ETag: from.ETag, Modified: from.Modified}
		dt.dl.resumable = true
	}
	if h != nil {
		d.handler = func(_ []byte, resp *http.Response, err error) {
			path := ""
			if err == nil {
				dt.dl.mu.Lock()
				path = dt.dl.path
				dt.dl.mu.Unlock()
			}
			h(path, resp, err)
			if path != "" {
				dt.discard(path)
			}
		}
	}
	s.newTaskWith(req, bodySource{kind: bodyFromRequest}, d, func(t *Task) {
		dt.Task = t
		t.more().download = dt
	})
	return dt
}

// downloadTask returns the DownloadTask t belongs to, or nil.
func (t *Task) downloadTask() *DownloadTask {
	if x := t.extra.Load(); x != nil {
		return x.download
	}
	return nil
}

// check checks, before the task sends anything, what only download tasks
// need: usable resume data and someone to hand the file to.
func (dt *DownloadTask) check() error {
	dl := &dt.dl
	if dl.fromErr != nil {
		return dl.fromErr
	}
	if err := dt.checkExtras(); err != nil {
		return err
	}
	if dl.handler == nil && !dt.deliver.keep {
		if _, ok := delegateFor[DownloadDelegate](dt.Task); !ok {
			return &Error{Code: ErrUnknown, Err: ErrNoDownloadDelegate}
		}
	}
	return nil
}

// rangeRequest returns the request to send: for a resumed task, once the
// partial file checked out, with the range and validator fields.
func (dt *DownloadTask) rangeRequest(req *http.Request) (*http.Request, error) {
	dl := &dt.dl
	if dl.from == nil {
		return req, nil
	}
	f, err := resume.OpenPartial(dl.from)
	if err != nil {
		dl.mu.Lock()
		dl.path, dl.resumable = "", false // not ours to remove or hand on
		dl.mu.Unlock()
		return nil, fail.New(int(ErrCannotOpenFile), err)
	}
	dl.mu.Lock()
	dl.file = f
	dl.mu.Unlock()
	r2 := req.Clone(req.Context())
	r2.Header.Set("Range", dt.resumeRange())
	r2.Header.Set("If-Range", dl.validators.IfRange())
	// Ranges count the bytes of the representation as sent: ask for it
	// without a content coding, as the partial file holds it.
	r2.Header.Set("Accept-Encoding", "identity")
	return r2, nil
}

// Download file writing.

// downloadBufferSize is the size of the buffer a download reads into and
// writes from: the body goes to the file at least every
// downloadBufferSize bytes (see writeThreshold).
const downloadBufferSize = 1 << 20

// writeThreshold is how much a download gathers before writing: enough to
// keep small network reads from becoming small writes, little enough that
// the bytes are still in the processor's cache when they are copied to the
// file (on the benchmark machine 1 MiB writes ran slower and less steadily
// than 128 KiB ones). A single read may bring more, up to the buffer's size.
const writeThreshold = 128 << 10

// progressInterval is the longest DidWriteData waits while data arrives.
const progressInterval = 100 * time.Millisecond

var downloadBuffers = sync.Pool{New: func() any { b := make([]byte, downloadBufferSize); return &b }}

// downloadFiles is a session's directory of download files.
type downloadFiles struct {
	mu      sync.Mutex
	dir     string
	removed bool
	limit   *segment.Limiter // the session's bandwidth limit, or nil (see limiter)
	// wrap, when set (by tests), wraps each file's writer.
	wrap func(io.Writer) io.Writer
}

// create makes a new empty download file in the session's directory,
// making the directory on first use.
func (df *downloadFiles) create() (*os.File, error) {
	df.mu.Lock()
	defer df.mu.Unlock()
	if df.removed {
		return nil, fail.Newf(int(ErrCannotCreateFile), "the session was invalidated")
	}
	if df.dir == "" {
		dir, err := os.MkdirTemp("", "urlsession-")
		if err != nil {
			return nil, fail.New(int(ErrCannotCreateFile), err)
		}
		df.dir = dir
	}
	f, err := os.CreateTemp(df.dir, "download-*.tmp")
	if err != nil {
		return nil, fail.New(int(ErrCannotCreateFile), err)
	}
	return f, nil
}

// inDir reports whether path is in the session's directory.
func (df *downloadFiles) inDir(path string) bool {
	df.mu.Lock()
	defer df.mu.Unlock()
	return df.dir != "" && filepath.Dir(path) == df.dir
}

// tidy removes the directory once no file is left in it, so that a
// session that is never invalidated (Shared) leaves nothing behind; the
// next download makes a new one.
func (df *downloadFiles) tidy() {
	df.mu.Lock()
	defer df.mu.Unlock()
	if df.dir != "" && os.Remove(df.dir) == nil {
		df.dir = ""
	}
}

// remove removes the directory and whatever is left in it.
func (df *downloadFiles) remove() {
	df.mu.Lock()
	defer df.mu.Unlock()
	df.removed = true
	if df.dir != "" {
		os.RemoveAll(df.dir)
	}
}

func (df *downloadFiles) writer(f *os.File) io.Writer {
	df.mu.Lock()
	defer df.mu.Unlock()
	if df.wrap != nil {
		return df.wrap(f)
	}
	return f
}

// discard removes a download file that was handed over.
func (dt *DownloadTask) discard(path string) {
	os.Remove(path)
	dt.session.downloads.tidy()
}

// callback queues f, a callback of the task, on the delegate queue; while
// the task is suspended it is held until Resume.
func (dt *DownloadTask) callback(f func()) {
	t := dt.Task
	var g func()
	g = func() {
		if (t.paused.Load() || t.holding.Load()) && t.hold(g) {
			return
		}
		f()
	}
	t.session.queue.add(g)
}

// resumableResponse reports whether a response lets the download resume,
// and records its validators.
func (dt *DownloadTask) resumableResponse(resp *http.Response, validators resume.Validators) bool {
	dt.dl.mu.Lock()
	dt.dl.validators = validators
	dt.dl.mu.Unlock()
	req := resp.Request
	if req == nil || req.Method != http.MethodGet || resp.Uncompressed || !validators.Valid() {
		return false
	}
	if dt.dl.from == nil && dt.orig != nil && dt.orig.Header.Get("Range") != "" {
		return false // the caller's own range: not a whole resource
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resume.AcceptsRanges(resp.Header)
	case http.StatusPartialContent:
		return dt.dl.from != nil
	}
	return false
}

// receive writes the response body to the task's file and completes the
// task. It runs on the task's goroutine, in place of readBody.
func (dt *DownloadTask) receive(ctx context.Context, resp *http.Response) {
	t, dl := dt.Task, &dt.dl
	err := dt.receiveBody(ctx, resp)
	dl.mu.Lock()
	if dl.file != nil {
		if cerr := dl.file.Close(); cerr != nil && err == nil {
			err = fail.New(int(ErrCannotCloseFile), cerr)
		}
		dl.file = nil
	}
	dl.mu.Unlock()
	if err == nil {
		err = dt.verifyFile()
	}
	if err == nil {
		err = dt.handOver()
	}
	t.finish(ctx, nil, resp, err)
}

// receiveBody decides where the body goes and writes it.
func (dt *DownloadTask) receiveBody(ctx context.Context, resp *http.Response) error {
	t, dl := dt.Task, &dt.dl
	defer resp.Body.Close()
	progress := dt.deliver.handler == nil
	var offset int64
	total := max(resp.ContentLength, TransferSizeUnknown)
	validators := resume.ValidatorsOf(resp.Header)
	if from := dl.from; from != nil {
		if from.Segments != nil && resp.StatusCode == http.StatusPartialContent {
			return dt.resumeSegments(ctx, resp, progress)
		}
		o := resume.Decide(from.Offset, resp.StatusCode, resp.Header)
		if o.Action == resume.Append && resp.Uncompressed {
			o = resume.Outcome{Action: resume.Fail, Err: errors.New("the server sent the range with a content coding")}
		}
		switch o.Action {
		case resume.Fail:
			return fail.New(int(ErrBadServerResponse), o.Err)
		case resume.Complete:
			dl.mu.Lock()
			dl.total = o.Total
			dl.resumable = false
			dl.mu.Unlock()
			dt.completeDigests()
			dt.resumedAt(progress, from.Offset, o.Total)
			return nil
		case resume.Append:
			offset = from.Offset
			total = o.Total
			validators = resume.Validators{ETag: from.ETag, Modified: from.Modified}
			if _, err := dl.file.Seek(offset, io.SeekStart); err != nil {
				return fail.New(int(ErrCannotWriteToFile), err)
			}
		case resume.Keep:
			// Not the resource: its body goes to a file of its own, the
			// partial file stays as it is, and from still describes it.
			f, err := t.session.downloads.create()
			if err != nil {
				return err
			}
			dl.mu.Lock()
			partial := dl.file
			dl.file, dl.path, dl.written, dl.kept = f, f.Name(), 0, true
			dl.mu.Unlock()
			partial.Close()
		case resume.Restart:
			dl.mu.Lock()
			dl.written = 0
			dl.mu.Unlock()
			if err := dl.file.Truncate(0); err != nil {
				return fail.New(int(ErrCannotWriteToFile), err)
			}
			if _, err := dl.file.Seek(0, io.SeekStart); err != nil {
				return fail.New(int(ErrCannotWriteToFile), err)
			}
		}
		dt.resumedAt(progress, offset, total)
	} else {
		f, err := dt.createPartial()
		if err != nil {
			return err
		}
		dl.mu.Lock()
		dl.file, dl.path = f, f.Name()
		dl.mu.Unlock()
	}
	resumable := dt.resumableResponse(resp, validators)
	dl.mu.Lock()
	dl.total = total
	dl.resumable = resumable
	f := dl.file
	dl.mu.Unlock()
	w := t.session.downloads.writer(f)
	segments := dt.segmentsFor(resp, resumable, total)
	verifier := dt.digestPlan(resp, offset, dl.from != nil, segments > 1)
	if segments > 1 {
		return dt.receiveSegments(ctx, resp, f, segments, total, progress)
	}
	body := dt.limitedBody(ctx, resp.Body)

	bp := downloadBuffers.Get().(*[]byte)
	defer downloadBuffers.Put(bp)
	buf := *bp
	// The loop reads into buf[n:] and writes buf[:n] out; while a read
	// waits, a ticker writes out and reports what came before it, so that
	// a stalled stream shows its true count. mu guards what they share.
	var mu sync.Mutex
	n := 0                   // bytes in buf
	var unreported int64     // written, not yet told DidWriteData
	var lastReport time.Time // zero: the first bytes go to the file, and are reported, at once
	written := offset
	reading := false // the loop waits in a read of buf[n:]
	var tickErr error
	flushLocked := func() error {
		if n == 0 {
			return nil
		}
		m, err := w.Write(buf[:n])
		written += int64(m)
		unreported += int64(m)
		dl.mu.Lock()
		dl.written = written
		dl.mu.Unlock()
		if err == nil && m < n {
			err = io.ErrShortWrite
		}
		n = 0
		if err != nil {
			return fail.New(int(ErrCannotWriteToFile), err)
		}
		return nil
	}
	// reportLocked calls DidWriteData at most once per progressInterval
	// (unless forced), and only when the count changed.
	reportLocked := func(force bool) {
		if !progress || unreported == 0 || (!force && time.Since(lastReport) < progressInterval) {
			return
		}
		d := unreported
		tw, te := written, total
		unreported = 0
		lastReport = time.Now()
		if pd, ok := delegateFor[DownloadProgressDelegate](t); ok {
			dt.callback(func() {
				if t.State() != TaskCanceling {
					pd.DidWriteData(t.session, dt, d, tw, te)
				}
			})
		}
	}
	stopTicker := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() {
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		for {
			select {
			case <-stopTicker:
				return
			case <-tick.C:
			}
			mu.Lock()
			if reading && tickErr == nil && time.Since(lastReport) >= progressInterval {
				tickErr = flushLocked()
				reportLocked(true)
			}
			mu.Unlock()
		}
	})
	defer func() {
		close(stopTicker)
		ticker.Wait()
	}()
	for {
		if t.paused.Load() {
			mu.Lock()
			err := flushLocked()
			reportLocked(true)
			mu.Unlock()
			if err != nil {
				return err
			}
			if err := t.waitRunning(ctx); err != nil {
				return err
			}
		}
		mu.Lock()
		start := n
		reading = true
		mu.Unlock()
		m, err := body.Read(buf[start:])
		mu.Lock()
		reading = false
		if tickErr != nil {
			mu.Unlock()
			return tickErr
		}
		if n != start {
			// The ticker wrote buf[:start] out meanwhile: n is 0.
			copy(buf[n:], buf[start:start+m])
		}
		if m > 0 {
			if verifier != nil {
				verifier.Write(buf[n : n+m])
			}
			n += m
			t.received.Add(int64(m))
			t.touch() // a task that became a download is not the pipeline's
			if n >= writeThreshold || time.Since(lastReport) >= progressInterval {
				if werr := flushLocked(); werr != nil {
					mu.Unlock()
					return werr
				}
				reportLocked(false)
			}
		}
		if err == io.EOF {
			werr := flushLocked()
			if werr == nil {
				reportLocked(true)
			}
			mu.Unlock()
			if werr != nil {
				return werr
			}
			dl.mu.Lock()
			if dl.total < 0 {
				dl.total = written
			}
			dl.mu.Unlock()
			return dt.checkDigests(verifier)
		}
		if err != nil {
			werr := flushLocked()
			if werr == nil {
				reportLocked(true)
			}
			mu.Unlock()
			if werr != nil {
				// The file holds what was written: resume from there.
				return werr
			}
			return err
		}
		mu.Unlock()
	}
}

// resumedAt tells the delegate where a resumed task continues.
func (dt *DownloadTask) resumedAt(progress bool, offset, total int64) {
	if !progress {
		return
	}
	t := dt.Task
	if rd, ok := delegateFor[DownloadResumeDelegate](t); ok {
		dt.callback(func() {
			if t.State() != TaskCanceling {
				rd.DidResumeAtOffset(t.session, dt, offset, total)
			}
		})
	}
}

// handOver hands the complete file on: to the caller of Download, which
// owns it from then on, or to DidFinishDownloadingTo, after which it is
// removed. (The completion handler's wrapper removes it for handler tasks.)
func (dt *DownloadTask) handOver() error {
	t, dl := dt.Task, &dt.dl
	dl.mu.Lock()
	path := dl.path
	dl.resumable = false
	dl.mu.Unlock()
	switch {
	case dl.owned:
		final, err := ownedPath(path)
		if err != nil {
			return err
		}
		t.session.downloads.tidy()
		dl.mu.Lock()
		dl.path, dl.result = "", final
		dl.mu.Unlock()
	case dt.deliver.handler == nil:
		d, ok := delegateFor[DownloadDelegate](t)
		dl.mu.Lock()
		dl.path = ""
		dl.mu.Unlock()
		// The body is complete: the file is handed over even if Cancel
		// comes now, too late to change the outcome.
		dt.callback(func() {
			if ok {
				d.DidFinishDownloadingTo(t.session, dt, path)
			}
			dt.discard(path)
		})
	}
	return nil
}

// ownedPath moves a finished download out of the session's directory, to a
// new name in os.TempDir, for the caller of Download.
func ownedPath(path string) (string, error) {
	final, err := moveToTempDir(path, "urlsession-download-")
	if err != nil {
		return "", fail.New(int(ErrCannotMoveFile), err)
	}
	return final, nil
}

// moveToTempDir moves the file at path to a new name in os.TempDir
// starting with prefix. It links the file to a name that does not exist
// yet rather than renaming it over a placeholder: ext4 writes out a file
// renamed over another before the rename returns (its auto_da_alloc
// safeguard), which costs a large download hundreds of milliseconds.
func moveToTempDir(path, prefix string) (string, error) {
	for range 100 {
		name := filepath.Join(os.TempDir(), prefix+strconv.FormatUint(rand.Uint64(), 36))
		err := os.Link(path, name)
		if err == nil {
			os.Remove(path)
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			break // no hard links here: rename over a placeholder
		}
	}
	f, err := os.CreateTemp("", prefix+"*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	f.Close()
	if err := os.Rename(path, name); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// settle runs when the task completes, once: on failure it turns the
// partial file into resume data where it can (a failure other than a plain
// Cancel, or CancelByProducingResumeData), and removes it otherwise. It
// returns the error to complete with, carrying the resume data.
func (dt *DownloadTask) settle(err error) error {
	dl := &dt.dl
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if dl.done {
		return err
	}
	dl.done = true
	defer close(dl.settled)
	if dt.orphan {
		return err // nothing of the task ran; its resume data stays usable
	}
	if err == nil {
		return nil
	}
	path := dl.path
	dl.path = ""
	if dl.kept {
		// The partial file was left alone: the resume data the task was
		// made from still holds, whatever the end of this response.
		if path != "" {
			if dl.file != nil {
				dl.file.Close()
				dl.file = nil
			}
			os.Remove(path)
			dt.session.downloads.tidy()
		}
		data, rerr := resume.Encode(dl.from)
		if rerr != nil {
			return err
		}
		dl.resumeData = data
		e := *classify(err, "")
		e.DownloadTaskResumeData = data
		return &e
	}
	if path == "" {
		return err
	}
	// The file leaves the directory below.
	defer dt.session.downloads.tidy()
	// Cancelled before the response: only the partial file's check opened it.
	if dl.file != nil {
		dl.file.Close()
		dl.file = nil
	}
	// A plain Cancel (or InvalidateAndCancel) discards the partial file; the
	// end of Download's context keeps it for its caller.
	discard := classify(err, "").Code == ErrCancelled && !dl.produce &&
		(!dl.owned || errors.Is(err, errCancelled))
	if discard || !dl.resumable {
		os.Remove(path)
		return err
	}
	data, rerr := dt.resumeDataLocked(path)
	if rerr != nil {
		os.Remove(path)
		return err
	}
	dl.resumeData = data
	e := *classify(err, "")
	e.DownloadTaskResumeData = data
	return &e
}

// resumeDataLocked makes resume data for the partial file at path, moving
// it out of the session's directory first.
func (dt *DownloadTask) resumeDataLocked(path string) ([]byte, error) {
	dl := &dt.dl
	if dt.session.downloads.inDir(path) {
		moved, err := moveToTempDir(path, "urlsession-partial-")
		if err != nil {
			return nil, err
		}
		path = moved
	}
	fp, err := resume.FingerprintFile(path)
	if err != nil {
		return nil, err
	}
	if fp.Size != dl.written && dl.x.segState == nil {
		// A write cut short may have left more than was counted.
		if err := os.Truncate(path, dl.written); err != nil {
			os.Remove(path)
			return nil, err
		}
		if fp, err = resume.FingerprintFile(path); err != nil {
			return nil, err
		}
	}
	d := dt.resumeDataBaseLocked(path)
	d.SetFingerprint(fp)
	if st := dl.x.segState; st != nil {
		d.Segments, d.Offset = st, st.Written()
	}
	data, err := resume.Encode(d)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return data, nil
}

// resumeDataBaseLocked returns the task's resume data for the partial
// file at path but for what describes the file's contents: the request
// (the one it continues, if any), the validators and the total length.
func (dt *DownloadTask) resumeDataBaseLocked(path string) *resume.Data {
	dl := &dt.dl
	d := &resume.Data{
		ETag:     dl.validators.ETag,
		Modified: dl.validators.Modified,
		Total:    dl.total,
		File:     path,
	}
	if dl.from != nil {
		d.URL, d.Header = dl.from.URL, dl.from.Header
	} else {
		d.URL = dt.orig.URL.String()
		d.Header = resume.KeptHeader(dt.orig.Header)
	}
	return d
}

// BecomeDownloadDelegate hears that a data task became a download task.
type BecomeDownloadDelegate interface {
	// DidBecomeDownloadTask is called when DidReceiveResponse answered
	// ResponseBecomeDownload: downloadTask, a new task of the session
	// (with its own identifier, already running), receives the rest of
	// the response into a file, with the download callbacks (DidWriteData,
	// DidFinishDownloadingTo, DidFinishCollectingMetrics,
	// DidCompleteWithError). dataTask gets no further callback: it has
	// completed, without an error, and its Done channel closes after this
	// callback. The download task needs a DownloadDelegate, as any
	// delegate-driven download task does.
	DidBecomeDownloadTask(s *Session, dataTask *DataTask, downloadTask *DownloadTask)
}

// becomesDownload reports whether the task can become a download task:
// only a task whose results go to its delegate. Any other task (with a
// completion handler, or run by a context-first call) is cancelled
// instead, as with ResponseCancel.
func (t *Task) becomesDownload() bool {
	return t.deliver.handler == nil && !t.deliver.keep && t.deliver.result == nil && t.deliver.stream == nil
}

// becomeDownload hands resp to a new download task and retires t without
// callbacks. It runs on t's goroutine, which goes on to run the download.
func (t *Task) becomeDownload(resp *http.Response) {
	s := t.session
	dt := s.newDownload(t.orig, nil, nil, delivery{}, nil)
	dt.dl.became = t // its requests are the download's (see Task.metrics)
	t.mu.Lock()
	dt.delegate = t.delegate
	current := t.current
	t.mu.Unlock()
	dt.mu.Lock()
	dt.current = current
	dt.response = resp
	dt.mu.Unlock()
	dt.expectedRecv.Store(t.expectedRecv.Load())
	if d, ok := delegateFor[BecomeDownloadDelegate](t); ok {
		s.queue.add(func() { d.DidBecomeDownloadTask(s, t.data, dt) })
	}
	ctx, _ := dt.resume()
	// The body is read under t's context: the download's cancellation and
	// timeouts end it through t's.
	stop := context.AfterFunc(ctx, func() { t.ctx.cancel(context.Canceled, context.Cause(ctx)) })
	t.mu.Lock()
	t.state = TaskCompleted
	t.paused.Store(false)
	t.stopTimersLocked()
	t.mu.Unlock()
	s.taskFinished(t, t.closeDone, false)

	if err := dt.check(); err != nil {
		resp.Body.Close()
		dt.finish(ctx, nil, resp, err)
	} else {
		dt.receive(ctx, resp)
	}
	stop()
	t.ctx.cancel(context.Canceled, context.Canceled) // release the context's resources
}
