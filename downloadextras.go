package urlsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/filename"
	"github.com/urlsession-go/urlsession/internal/integrity"
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
	whole       []integrity.Digest
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
	dt.dl.mu.Lock()
	rate := dt.dl.x.rate
	dt.dl.mu.Unlock()
	l := dt.session.downloads.limiter(dt.session.cfg.MaximumBytesPerSecond)
	if rate > 0 {
		l = segment.NewLimiter(rate, l)
	}
	if l == nil {
		return body
	}
	return segment.NewReader(ctx, body, l)
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
func (dt *DownloadTask) digestPlan(resp *http.Response, offset int64, resumed bool) *integrity.Verifier {
	dl := &dt.dl
	dl.mu.Lock()
	defer dl.mu.Unlock()
	var stream, whole []integrity.Digest
	if !dt.session.cfg.IgnoreServerDigests && !resp.Uncompressed {
		if ds, err := integrity.ParseField(integrity.ContentDigest, resp.Header.Values("Content-Digest")); err == nil {
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
