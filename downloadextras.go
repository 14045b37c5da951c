package urlsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/filename"
	"github.com/urlsession-go/urlsession/internal/integrity"
	"github.com/urlsession-go/urlsession/internal/pipeline"
	"github.com/urlsession-go/urlsession/internal/resume"
	"github.com/urlsession-go/urlsession/internal/segment"
)

// Download integrity, bandwidth limits and suggested file names: what no
// URLSession offers, opt-in (the server's digests excepted, which are
// checked by default).

// ErrInvalidDigest is the cause of the error (code ErrUnknown) of a
// download task given an expected digest that is not one (see
// DownloadTask.SetExpectedDigest). The task fails when resumed, before
// it sends anything.
var ErrInvalidDigest = errors.New("urlsession: invalid expected digest")

// downloadExtras is the opt-in state of a download task (download.mu).
type downloadExtras struct {
	expected    *integrity.Digest // the caller's digest, or nil
	expectedErr error             // why the digest given is unusable
	rate        int64             // the task's own limit in bytes per second; <= 0: none
	segments    int               // the task's own segment count; 0: the configuration's
	whole       []integrity.Digest
	segState    *segment.State    // a segmented download's progress when its file has gaps, for resume data
	partial     string            // the file the body goes to, "" for one in the session's directory
	exec        *segment.Executor // the running segmented download, for Checkpoint; nil when none
}

// ErrNoCheckpoint is the error of Checkpoint on a task that is not
// writing a body it could resume: one not yet receiving it, one whose
// response does not allow resuming (see CancelByProducingResumeData),
// one completed, or a background session's (whose daemon keeps its own
// checkpoints).
var ErrNoCheckpoint = errors.New("urlsession: the download cannot be checkpointed")

// Checkpoint returns resume data for the download as it stands, without
// stopping it: data from which DownloadTaskWithResumeData continues the
// download if this process ends before the task does (killed, say, or
// lost with the machine). It counts only bytes already in the partial
// file (for a download in segments, each segment's), and the task goes
// on writing after them; a task made from the checkpoint checks that the
// file still holds those bytes (it must hold them and their last bytes
// must hash as recorded, else the task fails with ErrPartialFileChanged),
// cuts a one-stream file back to them and fetches the rest, with If-Range
// as for any resume data. What was written after the checkpoint is
// fetched again: take one as often as that matters (each costs a read and
// hash of up to 64 KiB of the file, and 4 KiB per segment).
//
// A checkpoint names the partial file where the task writes it: use it
// with a file that outlives the process, one given to SetPartialFile,
// since the session's own directory is removed with the session. Once
// the task completes, its checkpoints are stale: its error's resume data
// (ErrorResumeData) describes the file as it was left, or the file was
// handed over. Checkpoint may be called from any goroutine; it fails with
// ErrNoCheckpoint when the download cannot be resumed now.
func (dt *DownloadTask) Checkpoint() ([]byte, error) {
	if dt.bgTask() != nil {
		return nil, ErrNoCheckpoint
	}
	dl := &dt.dl
	dl.mu.Lock()
	f, ex := dl.file, dl.x.exec
	ok := f != nil && dl.path != "" && dl.resumable && !dl.kept && !dl.done && dl.validators.Valid()
	d := dt.resumeDataBaseLocked(dl.path)
	d.Offset, d.Checkpoint = dl.written, true
	dl.mu.Unlock()
	if !ok {
		return nil, ErrNoCheckpoint
	}
	if ex != nil {
		st := ex.State()
		d.Segments, d.Offset = &st, st.Written()
	}
	tail, err := resume.CheckpointTail(f, d)
	if err != nil {
		return nil, fmt.Errorf("urlsession: checkpoint: %w", err)
	}
	d.Tail = tail
	data, err := resume.Encode(d)
	if err != nil {
		return nil, fmt.Errorf("urlsession: checkpoint: %w", err)
	}
	return data, nil
}

// ErrPartialFileNotSettable is the error of SetPartialFile on a task that
// cannot take a file of the caller's: one made from resume data (whose
// partial file is the data's), one of a background session (whose files
// are the daemon's), or one already resumed.
var ErrPartialFileNotSettable = errors.New("urlsession: the task's partial file cannot be chosen")

// SetPartialFile makes the task write the body to a new file at path
// instead of a temporary file in the session's directory, so that the
// partial file of an interrupted download is where the caller wants it
// (beside its final name, say) even when the process is killed. path is
// made absolute against the current directory. When the response
// arrives the task creates the file exclusively, with mode 0600: if
// anything is at path already (a file, a directory, a symbolic link,
// even a dangling one), it is not opened or touched and the task fails
// with ErrCannotCreateFile.
//
// The file at path is then the task's file in every respect: the path
// DidFinishDownloadingTo and a completion handler get (removed when they
// return unless they moved it), the partial file that resume data names
// (it stays at path, which DownloadTaskWithResumeData continues), and a
// file removed when the task is cancelled or fails without resume data.
// Only the body of a response that is not the resource, to a task made
// from resume data (see DownloadTaskWithResumeData), still goes to the
// session's directory. Download and DownloadWithResumeData, whose tasks
// the caller does not see, are not affected.
//
// It returns an error wrapping ErrPartialFileNotSettable for a task made
// from resume data, a task of a background session or a task already
// resumed, and an error for an empty path or one that cannot be made
// absolute; the task is then unchanged. An empty path is an error, not a
// reset. Call it before Resume.
func (dt *DownloadTask) SetPartialFile(path string) error {
	if path == "" {
		return errors.New("urlsession: SetPartialFile: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("urlsession: SetPartialFile: %w", err)
	}
	if dt.bgTask() != nil {
		return fmt.Errorf("%w: a background session's task", ErrPartialFileNotSettable)
	}
	t := dt.Task
	t.mu.Lock()
	resumed := t.started || t.state != TaskSuspended
	t.mu.Unlock()
	if resumed {
		return fmt.Errorf("%w: the task was resumed", ErrPartialFileNotSettable)
	}
	dl := &dt.dl
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if dl.from != nil || dl.fromErr != nil {
		return fmt.Errorf("%w: the task continues resume data", ErrPartialFileNotSettable)
	}
	dl.x.partial = abs
	return nil
}

// createPartial creates the file the body of a fresh download goes to:
// the caller's (SetPartialFile), else one in the session's directory.
func (dt *DownloadTask) createPartial() (*os.File, error) {
	dt.dl.mu.Lock()
	path := dt.dl.x.partial
	dt.dl.mu.Unlock()
	if path == "" {
		return dt.session.downloads.create()
	}
	// O_EXCL: nothing at path is followed, truncated or replaced.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fail.New(int(ErrCannotCreateFile), err)
	}
	return f, nil
}

// SetExpectedDigest makes the task check its file against digest, given
// as "sha256:HEX" or "sha512:HEX" (the algorithm may also be written
// sha-256 or sha-512, and the digest may be base64, as in
// "sha256-BASE64" or the RFC 9530 form "sha-256=:BASE64:"). The digest
// covers the file as saved: after content decoding, when the session
// decoded a content coding, and the whole file for a resumed download.
// A file whose digest differs is not handed over: the task fails with
// ErrDigestMismatch and the file is removed, without resume data.
//
// It returns an error wrapping ErrInvalidDigest for a digest it cannot
// read; the task then fails when resumed, with code ErrUnknown and that
// error as its cause. An empty digest removes the expectation. Call it
// before Resume.
func (dt *DownloadTask) SetExpectedDigest(digest string) error {
	dl := &dt.dl
	dl.mu.Lock()
	defer dl.mu.Unlock()
	dl.x.expected, dl.x.expectedErr = nil, nil
	if digest == "" {
		return nil
	}
	d, err := integrity.ParseExpected(digest)
	if err != nil {
		dl.x.expectedErr = fmt.Errorf("%w: %w", ErrInvalidDigest, err)
		return dl.x.expectedErr
	}
	dl.x.expected = &d
	return nil
}

// SetMaximumBytesPerSecond limits how fast the task reads the body to
// bytesPerSecond, within the session's own limit
// (Configuration.MaximumBytesPerSecond): whichever is lower holds. Zero or
// less means no limit of the task's own. A limit never lets more than a
// quarter second's worth of its rate through at once. Call it before
// Resume.
func (dt *DownloadTask) SetMaximumBytesPerSecond(bytesPerSecond int64) {
	dt.dl.mu.Lock()
	dt.dl.x.rate = bytesPerSecond
	dt.dl.mu.Unlock()
}

// WithExpectedDigest is the TaskOption of DownloadTask.SetExpectedDigest,
// for Download and DownloadWithResumeData. An invalid digest fails the
// call with an *Error of code ErrUnknown whose cause wraps
// ErrInvalidDigest. Other tasks ignore it.
func WithExpectedDigest(digest string) TaskOption {
	return func(t *Task) {
		if dt := t.downloadTask(); dt != nil {
			dt.SetExpectedDigest(digest)
		}
	}
}

// WithMaximumBytesPerSecond is the TaskOption of
// DownloadTask.SetMaximumBytesPerSecond, for Download and
// DownloadWithResumeData. Other tasks ignore it.
func WithMaximumBytesPerSecond(bytesPerSecond int64) TaskOption {
	return func(t *Task) {
		if dt := t.downloadTask(); dt != nil {
			dt.SetMaximumBytesPerSecond(bytesPerSecond)
		}
	}
}

// SuggestedFilename returns a file name to save resp's body under: Apple's
// URLResponse.suggestedFilename. It is the name Content-Disposition gives
// (RFC 6266, filename* preferred), else the last segment of the request's
// URL path, else its host name, else "Unknown"; made safe to join to a
// directory: a single path element, without separators, control
// characters or a leading dot, never "." or "..", at most 255 bytes of
// UTF-8. resp may be nil.
func SuggestedFilename(resp *http.Response) string {
	if resp == nil {
		return filename.Fallback
	}
	var u *url.URL
	if resp.Request != nil {
		u = resp.Request.URL
	}
	return filename.Suggest(resp.Header.Get("Content-Disposition"), u)
}

// SuggestedFilename returns SuggestedFilename of the task's response
// ("Unknown" while there is none).
func (dt *DownloadTask) SuggestedFilename() string {
	return SuggestedFilename(dt.Response())
}

// checkExtras reports an unusable option, before the task sends anything.
func (dt *DownloadTask) checkExtras() error {
	dt.dl.mu.Lock()
	defer dt.dl.mu.Unlock()
	if err := dt.dl.x.expectedErr; err != nil {
		return &Error{Code: ErrUnknown, Err: err}
	}
	return nil
}

// limitedBody returns the body to read through the task's and the
// session's bandwidth limits, or body itself when there are none.
func (dt *DownloadTask) limitedBody(ctx context.Context, body io.Reader) io.Reader {
	l := dt.limiter()
	if l == nil {
		return body
	}
	return segment.NewReader(ctx, body, l)
}

// limiter returns the task's limiter (under the session's), or nil when
// neither has a limit.
func (dt *DownloadTask) limiter() *segment.Limiter {
	dt.dl.mu.Lock()
	rate := dt.dl.x.rate
	dt.dl.mu.Unlock()
	l := dt.session.downloads.limiter(dt.session.cfg.MaximumBytesPerSecond)
	if rate > 0 {
		l = segment.NewLimiter(rate, l)
	}
	return l
}

// limiter returns the session's download limiter, made on first use, or
// nil when the session has no limit.
func (df *downloadFiles) limiter(rate int64) *segment.Limiter {
	if rate <= 0 {
		return nil
	}
	df.mu.Lock()
	defer df.mu.Unlock()
	if df.limit == nil {
		df.limit = segment.NewLimiter(rate, nil)
	}
	return df.limit
}

// digestPlan decides which digests the body is checked against: those
// covering the bytes of this response, which the returned Verifier hashes
// as they are read (nil when there are none), and those covering the
// whole file, checked by verifyFile once it is complete. offset is where
// the body goes in the file.
//
// Content-Digest covers the body as transferred, Repr-Digest the whole
// representation, both before content decoding: neither is checked when
// the session decoded the body (resp.Uncompressed). Repr-Digest is checked
// on a 206 only when the body completes a resumed download, against the
// whole file. The caller's digest covers the file as saved. A server
// field that cannot be read is ignored, as one absent.
//
// A segmented download (segmented) reads the body in parts: every digest
// is then checked against the whole file.
func (dt *DownloadTask) digestPlan(resp *http.Response, offset int64, resumed, segmented bool) *integrity.Verifier {
	dl := &dt.dl
	dl.mu.Lock()
	defer dl.mu.Unlock()
	var stream, whole []integrity.Digest
	if !dt.session.cfg.IgnoreServerDigests && !resp.Uncompressed {
		// A segmented download reads only the start of a 206: its
		// Content-Digest, of that part alone, cannot be checked.
		partial := segmented && resp.StatusCode == http.StatusPartialContent
		if ds, err := integrity.ParseField(integrity.ContentDigest, resp.Header.Values("Content-Digest")); err == nil && !partial {
			stream = append(stream, ds...)
		}
		ds, err := integrity.ParseField(integrity.ReprDigest, resp.Header.Values("Repr-Digest"))
		switch {
		case err != nil:
		case resp.StatusCode != http.StatusPartialContent:
			stream = append(stream, ds...)
		case resumed:
			whole = append(whole, ds...)
		}
	}
	if e := dl.x.expected; e != nil {
		if offset == 0 {
			stream = append(stream, *e)
		} else {
			whole = append(whole, *e)
		}
	}
	if segmented {
		whole, stream = append(whole, stream...), nil
	}
	dl.x.whole = whole
	if len(stream) == 0 {
		return nil
	}
	return integrity.NewVerifier(stream...)
}

// completeDigests sets the digests of a download found complete without a
// body (a 416 to a resumed request): the caller's, over the whole file.
func (dt *DownloadTask) completeDigests() {
	dl := &dt.dl
	dl.mu.Lock()
	defer dl.mu.Unlock()
	dl.x.whole = nil
	if e := dl.x.expected; e != nil {
		dl.x.whole = []integrity.Digest{*e}
	}
}

// checkDigests checks the body's digests once it is all read, and makes
// a mismatch the task's error: the file is then never handed over, and
// not kept for resuming.
func (dt *DownloadTask) checkDigests(v *integrity.Verifier) error {
	if v == nil {
		return nil
	}
	return dt.digestError(v.Check())
}

// verifyFile checks the complete file against the digests that cover all
// of it, reading it from its first byte.
func (dt *DownloadTask) verifyFile() error {
	dl := &dt.dl
	dl.mu.Lock()
	whole, path := dl.x.whole, dl.path
	dl.mu.Unlock()
	if len(whole) == 0 || path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fail.New(int(ErrCannotOpenFile), err)
	}
	defer f.Close()
	v := integrity.NewVerifier(whole...)
	bp := downloadBuffers.Get().(*[]byte)
	defer downloadBuffers.Put(bp)
	if _, err := io.CopyBuffer(v, f, *bp); err != nil {
		return fail.New(int(ErrCannotOpenFile), err)
	}
	return dt.digestError(v.Check())
}

func (dt *DownloadTask) digestError(err error) error {
	if err == nil {
		return nil
	}
	dt.dl.mu.Lock()
	dt.dl.resumable = false
	dt.dl.mu.Unlock()
	return fail.New(int(ErrDigestMismatch), err)
}

// MaxDownloadSegments is the most segments a download is fetched in (see
// Configuration.DownloadSegments).
const MaxDownloadSegments = 32

// minSegmentSplit is the smallest part a segment is split into: a body
// shorter than two of them is fetched as one stream.
const minSegmentSplit = 128 << 10

// SetSegments makes the task fetch its body in up to n byte ranges over
// as many connections, overriding Configuration.DownloadSegments (see
// there for when a download is segmented). n is capped at
// MaxDownloadSegments; 1 turns segmenting off for the task, and 0 or
// less leaves it to the configuration. Call it before Resume.
func (dt *DownloadTask) SetSegments(n int) {
	dt.dl.mu.Lock()
	dt.dl.x.segments = min(max(n, 0), MaxDownloadSegments)
	dt.dl.mu.Unlock()
}

// WithSegments is the TaskOption of DownloadTask.SetSegments, for
// Download and DownloadWithResumeData. Other tasks ignore it.
func WithSegments(n int) TaskOption {
	return func(t *Task) {
		if dt := t.downloadTask(); dt != nil {
			dt.SetSegments(n)
		}
	}
}

// segmentsFor returns the number of segments to fetch resp's body in: 1
// unless segments were asked for and resp is a 200 to a fresh download
// that allows resuming (see resumableResponse) with a known length worth
// cutting.
func (dt *DownloadTask) segmentsFor(resp *http.Response, resumable bool, total int64) int {
	dt.dl.mu.Lock()
	n := dt.dl.x.segments
	fresh := dt.dl.from == nil
	dt.dl.mu.Unlock()
	if n == 0 {
		n = min(dt.session.cfg.DownloadSegments, MaxDownloadSegments)
	}
	if n <= 1 || !fresh || !resumable || resp.StatusCode != http.StatusOK || total < 2*minSegmentSplit {
		return 1
	}
	return n
}

// receiveSegments downloads resp's body, a 200 of total bytes, in n
// ranges over n connections, writing each at its offset in f: the first
// range is the rest of resp's body, the others are fetched through the
// session's pipeline (cookies, credentials, redirects) with If-Range, so
// that a resource that changed meanwhile is never spliced: the server
// then answers 200 and the download goes on as one stream of the new
// response (as it does with a server that ignores ranges).
func (dt *DownloadTask) receiveSegments(ctx context.Context, resp *http.Response, f *os.File, n int, total int64, progress bool) error {
	dt.dl.mu.Lock()
	validators := dt.dl.validators
	dt.dl.mu.Unlock()
	st, err := segment.Plan(total, 1, 1)
	if err != nil {
		return fail.New(int(ErrBadServerResponse), err)
	}
	// The 200 carries the whole body: to the Executor, the 206 of the
	// range of it all.
	first := new(http.Response)
	*first = *resp
	first.StatusCode = http.StatusPartialContent
	first.Header = resp.Header.Clone()
	first.Header.Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", total-1, total))
	return dt.runSegments(ctx, st, first, nil, f, n, progress, validators)
}

// resumeRange returns the Range of a resumed task's request: for a
// segmented download, the first range still missing.
func (dt *DownloadTask) resumeRange() string {
	from := dt.dl.from
	if from.Segments != nil {
		for _, g := range from.Segments.Segments {
			if r := g.Remaining(); r.Len() > 0 {
				return r.Header()
			}
		}
	}
	return resume.RangeHeader(from.Offset)
}

// resumeSegments continues a segmented download from its resume data:
// resp, a 206, is the first missing range (resumeRange), and the other
// missing ranges are fetched as receiveSegments fetches them.
func (dt *DownloadTask) resumeSegments(ctx context.Context, resp *http.Response, progress bool) error {
	dl := &dt.dl
	from := dl.from
	if resp.Uncompressed {
		return fail.Newf(int(ErrBadServerResponse), "the server sent the range with a content coding")
	}
	st := from.Segments.Clone()
	validators := resume.Validators{ETag: from.ETag, Modified: from.Modified}
	dl.mu.Lock()
	dl.total = st.Total
	dl.validators = validators
	dl.resumable = true
	f := dl.file
	dl.mu.Unlock()
	dt.digestPlan(resp, from.Offset, true, true)
	dt.resumedAt(progress, from.Offset, st.Total)
	n := 0
	for _, g := range st.Segments {
		if g.Remaining().Len() > 0 {
			n++
		}
	}
	return dt.runSegments(ctx, st, nil, resp, f, n, progress, validators)
}

// runSegments runs an Executor over st writing to f. initial is its
// Config.Initial; pre, if not nil, is the response to the first request
// for the first missing range, which the Executor's first Fetch of that
// range gets. On failure the file's first bytes, up to the first gap, are
// what a single stream would resume from; if more of it is written, the
// segments' state goes into the resume data.
func (dt *DownloadTask) runSegments(ctx context.Context, st segment.State, initial, pre *http.Response, f *os.File, n int, progress bool, validators resume.Validators) error {
	t, dl := dt.Task, &dt.dl
	fetch := dt.fetchRange(validators)
	var prefetched atomic.Pointer[http.Response]
	if pre != nil {
		prefetched.Store(pre)
		defer func() {
			if p := prefetched.Swap(nil); p != nil {
				p.Body.Close()
			}
		}()
		var asked segment.Range
		for _, g := range st.Segments {
			if asked = g.Remaining(); asked.Len() > 0 {
				break
			}
		}
		base := fetch
		fetch = func(ctx context.Context, r segment.Range) (*http.Response, error) {
			if r == asked {
				if p := prefetched.Swap(nil); p != nil {
					return p, nil
				}
			}
			return base(ctx, r)
		}
	}
	rep := &segmentProgress{dt: dt, progress: progress, total: st.Total, cur: st.Written(), last: st.Written(), lastTime: time.Now()}
	ex, err := segment.NewExecutor(segment.Config{
		Fetch:       fetch,
		Dst:         &segmentFile{t: t, ctx: ctx, f: f},
		Initial:     initial,
		Connections: max(n, 1),
		Limiter:     dt.limiter(),
		Progress:    rep.written,
		MinSplit:    minSegmentSplit,
		BufferSize:  writeThreshold,
	}, st)
	if err != nil {
		if initial != nil {
			initial.Body.Close()
		}
		return fail.New(int(ErrBadServerResponse), err)
	}
	dl.mu.Lock()
	dl.x.exec = ex
	dl.mu.Unlock()
	stopTicker := rep.tick()
	err = ex.Run(ctx)
	stopTicker()
	st = ex.State()
	prefix := int64(0) // the bytes in the file from the first on, with no gap
	for _, g := range st.Segments {
		prefix = g.Start + g.Done
		if g.Done < g.End-g.Start {
			break
		}
	}
	dl.mu.Lock()
	dl.x.exec = nil
	dl.written = prefix
	dl.x.segState = nil
	if err != nil && prefix < st.Written() {
		dl.x.segState = &st
	}
	dl.mu.Unlock()
	rep.flush()
	if err != nil {
		return segmentError(err)
	}
	return nil
}

// segmentError gives an error of the Executor its code.
func segmentError(err error) error {
	var cre *segment.ContentRangeError
	var se *segment.StatusError
	var we *segmentWriteError
	switch {
	case errors.As(err, &we):
		return fail.New(int(ErrCannotWriteToFile), we.err)
	case errors.As(err, &cre), errors.As(err, &se), errors.Is(err, segment.ErrLengthChanged):
		return fail.New(int(ErrBadServerResponse), err)
	}
	return err
}

// fetchRange returns the Executor's Fetch: a GET of the task's URL for a
// range, through the session's pipeline, with If-Range.
func (dt *DownloadTask) fetchRange(v resume.Validators) func(context.Context, segment.Range) (*http.Response, error) {
	t := dt.Task
	return func(ctx context.Context, r segment.Range) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, dt.orig.URL.String(), nil)
		if err != nil {
			return nil, err
		}
		if h := resume.KeptHeader(dt.orig.Header); h != nil {
			req.Header = h
		}
		req.Header.Set("Range", r.Header())
		req.Header.Set("If-Range", v.IfRange())
		req.Header.Set("Accept-Encoding", "identity")
		call := &pipeline.Call{
			Hooks:           rangeHooks{t},
			CachePolicy:     int(ReloadIgnoringLocalCacheData),
			HandleCookies:   !t.opts.DoNotHandleCookies,
			MainDocumentURL: t.opts.MainDocumentURL,
		}
		resp, err := t.session.chain.Do(ctx, call, req)
		if err == nil && resp.Uncompressed {
			resp.Body.Close()
			return nil, fail.Newf(int(ErrBadServerResponse), "the server sent a range with a content coding")
		}
		return resp, err
	}
}

// rangeHooks are the pipeline hooks of a segment's requests: redirects are
// followed (the task's delegate approved the first request's), and data
// arriving keeps the task from its idle timeout.
type rangeHooks struct{ t *Task }

func (rangeHooks) WillRedirect(_ context.Context, _ *http.Response, next *http.Request) (*http.Request, error) {
	return next, nil
}
func (rangeHooks) NewBodyStream(context.Context) (io.ReadCloser, error) { return nil, nil }
func (rangeHooks) BodySent(n, total, expected int64)                    {}
func (rangeHooks) WaitingForConnectivity()                              {}
func (h rangeHooks) Received(int64)                                     { h.t.touch() }

// segmentFile is the Executor's destination: the task's file, written
// while the task is not suspended.
type segmentFile struct {
	t   *Task
	ctx context.Context
	f   *os.File
}

// segmentWriteError marks an error of the file, not of the network.
type segmentWriteError struct{ err error }

func (e *segmentWriteError) Error() string { return e.err.Error() }
func (e *segmentWriteError) Unwrap() error { return e.err }

func (sf *segmentFile) WriteAt(p []byte, off int64) (int, error) {
	if err := sf.t.waitRunning(sf.ctx); err != nil {
		return 0, err
	}
	n, err := sf.f.WriteAt(p, off)
	if err != nil {
		return n, &segmentWriteError{err}
	}
	return n, nil
}

// segmentProgress turns the Executor's totals into DidWriteData calls at
// the rate of a single stream's.
type segmentProgress struct {
	dt       *DownloadTask
	progress bool
	total    int64

	mu       sync.Mutex // the Executor serialises its calls; flush comes after
	last     int64      // the total last reported
	cur      int64
	lastTime time.Time
}

func (sp *segmentProgress) written(n int64) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	t := sp.dt.Task
	if d := n - sp.cur; d > 0 {
		t.received.Add(d)
	}
	t.touch()
	sp.cur = n
	if n != sp.last && (n < sp.last || time.Since(sp.lastTime) >= progressInterval) {
		sp.reportLocked()
	}
}

// tick reports, every progressInterval, a count that changed since the
// last report, so that stalled segments show their true count; the
// returned func stops it and waits for its goroutine to end.
func (sp *segmentProgress) tick() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			sp.mu.Lock()
			if sp.cur != sp.last && time.Since(sp.lastTime) >= progressInterval {
				sp.reportLocked()
			}
			sp.mu.Unlock()
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func (sp *segmentProgress) flush() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.cur != sp.last {
		sp.reportLocked()
	}
}

func (sp *segmentProgress) reportLocked() {
	dt, t := sp.dt, sp.dt.Task
	d, tw, te := sp.cur-sp.last, sp.cur, sp.total
	sp.last, sp.lastTime = sp.cur, time.Now()
	if !sp.progress || d <= 0 {
		return // after a fall-back to one stream, the count starts again
	}
	if pd, ok := delegateFor[DownloadProgressDelegate](t); ok {
		dt.callback(func() {
			if t.State() != TaskCanceling {
				pd.DidWriteData(t.session, dt, d, tw, te)
			}
		})
	}
}
