package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/filename"
	"github.com/urlsession-go/urlsession/internal/integrity"
	"github.com/urlsession-go/urlsession/internal/resume"
)

// transfer is the session delegate of one run: it decides about redirects
// and the response, streams the body to the output and prints the verbose
// log. Its callbacks run one at a time on the session's delegate queue, and
// fetch reads its fields only once the session is invalidated, after the
// last callback, so it needs no lock.
type transfer struct {
	c       *client
	o       *options
	elapsed time.Duration

	hops     int          // redirects followed
	tooMany  bool         // --max-redirs exceeded
	tooBig   bool         // --max-filesize exceeded
	slow     atomic.Bool  // -Y, -y: the transfer was stopped as too slow
	noRewind bool         // -T -: a redirect wanted standard input again
	hopHeads bytes.Buffer // -i: the heads of the responses, written with the last
	failed   string       // -f, --fail-with-body: the status that failed the transfer

	body  sink // the body (and with -i the heads): -o or standard output
	heads sink // -D
	// notModified: the response is a 304, which makes no output file and
	// leaves one that is there untouched, as with curl (unless -i writes
	// the head into it).
	notModified bool
	// deniedScheme: a redirect led to a protocol --proto-redir (or
	// --proto) leaves out.
	deniedScheme string
	writeErr     error
	received     int64 // body bytes written
	shown        int64 // a download task's bytes, as the bar last showed them
	bar          *progress
	metrics      *urlsession.TaskMetrics

	// Retries and downloads (see download.go).
	retryable     bool   // a transient status will be retried: do not write it
	retryStatus   int    // the transient status that stopped the attempt
	download      bool   // the task is a download task
	resumed       bool   // the download task continues resume data
	completed     bool   // the download task's file went through the output
	rangeFrom     int64  // -C -: the bytes from here on were asked for
	rangeComplete bool   // -C -: the file was already complete (a 416)
	rangeErr      string // -C -: the answer cannot continue the file
	staged        bool   // the download task's file becomes the output (see stagedOutput)
	placed        bool   // it did: the output is complete
	recorded      bool   // recordLive ran
	checkpoints   bool   // the body is fetched in segments: record checkpoints (see checkpoint)
	checkpointed  int64  // the bytes written when the last checkpoint was recorded
	// resumedFrom is the resume data the download task continues, or nil.
	resumedFrom *resume.Data

	// Resume data beside the output (see download.go).
	keepResume  bool         // the body goes through the output path, which keeps resume data
	from        *resume.Data // -C -: the resume data rangeFrom continues, or nil
	resumeOut   *resume.Data // the record of a resumable body, or nil
	bodyStarted bool         // the first bytes of the body went to the output

	// verify checks the body written through the output against the
	// server's Content-Digest or Repr-Digest, or is nil (see digestsOf).
	verify       *integrity.Verifier
	digestFailed bool // the body written through the output failed verify

	invalidated chan struct{} // closed by DidBecomeInvalidWithError
}

var (
	_ urlsession.RedirectionDelegate  = (*transfer)(nil)
	_ urlsession.ResponseDelegate     = (*transfer)(nil)
	_ urlsession.DataDelegate         = (*transfer)(nil)
	_ urlsession.MetricsDelegate      = (*transfer)(nil)
	_ urlsession.InvalidationDelegate = (*transfer)(nil)

	_ urlsession.DownloadDelegate         = (*transfer)(nil)
	_ urlsession.DownloadProgressDelegate = (*transfer)(nil)

	_ urlsession.TaskChallengeDelegate = (*transfer)(nil)
)

func newTransfer(c *client) *transfer {
	headsMode := openTruncate
	if c.run != nil && c.run.heads {
		headsMode = openAppend // after an earlier URL's heads, as with curl
	}
	return &transfer{
		c: c, o: c.o,
		body:        sink{name: c.o.output, stdout: c.stdout, mkdirs: c.o.createDirs, mode: c.outputMode()},
		heads:       sink{name: c.o.dumpHeader, stdout: c.stdout, mkdirs: c.o.createDirs, mode: headsMode},
		invalidated: make(chan struct{}),
	}
}

// DidBecomeInvalidWithError tells fetch that the session is done.
func (x *transfer) DidBecomeInvalidWithError(*urlsession.Session, error) {
	close(x.invalidated)
}

// postKind reports whether the request is one curl sends as a POST,
// whatever -X names: its body comes from -d, --json or -F.
func (x *transfer) postKind() bool {
	return (len(x.o.data) > 0 && !x.o.get) || len(x.o.forms) > 0
}

// bodyless returns a copy of req without a body, and without its
// Content-Type when dropType.
func bodyless(req *http.Request, dropType bool) *http.Request {
	r := req.Clone(req.Context())
	r.Body, r.GetBody, r.ContentLength = nil, nil, 0
	if dropType {
		r.Header.Del("Content-Type")
	}
	return r
}

// WillPerformHTTPRedirection follows redirects with -L, up to
// --max-redirs, as curl does: without -L resp is the final response. The
// session has applied the rules for the method (301 and 302 turn POST
// into GET, 303 turns any method into GET); a method given with -X
// replaces the session's choice on every hop, as curl keeps it. The body
// is sent again where the session keeps it (307 and 308; 301 and 302 for
// a method other than POST), except that a body of -d, --json or -F goes
// on 301 and 302 whatever -X says, as curl sends it as a POST.
func (x *transfer) WillPerformHTTPRedirection(_ *urlsession.Session, t *urlsession.Task, resp *http.Response, next *http.Request) *http.Request {
	if !x.o.location {
		return nil // resp is the final response
	}
	if cur := t.CurrentRequest(); cur != nil && resp != nil {
		x.c.hsts.Observe(cur.URL, resp.Header, time.Now())
	}
	x.c.hsts.Upgrade(next.URL, time.Now()) // before the protocols are checked
	if next.URL != nil && !x.o.redirectAllowed(next.URL.Scheme) {
		x.deniedScheme = next.URL.Scheme
		t.Cancel()
		return nil
	}
	if x.o.maxRedirs >= 0 && x.hops >= x.o.maxRedirs {
		x.tooMany = true
		t.Cancel()
		return nil
	}
	if !x.dumpHead(resp) {
		t.Cancel()
		return nil
	}
	if x.o.upload == "-" && next.ContentLength != 0 {
		// The session keeps the body (307, 308): standard input cannot be
		// read again, as curl cannot rewind it.
		x.noRewind = true
		t.Cancel()
		return nil
	}
	x.hops++
	if x.o.include || x.o.head {
		writeHead(&x.hopHeads, resp)
	}
	if x.o.method != "" {
		if x.postKind() && (resp.StatusCode == http.StatusMovedPermanently || resp.StatusCode == http.StatusFound) && next.Method != http.MethodGet {
			// curl turns a request with -d, --json or -F into a GET on a
			// 301 or 302 whatever -X names (which only renames it): the
			// body and its Content-Type go. The session kept them, as
			// RFC 9110 keeps them for a method other than POST.
			next = bodyless(next, !x.c.ownContentType)
		}
		next.Method = x.o.method // changed in place: the session supplies the body it keeps
	}
	x.c.auth.redirect(t.CurrentRequest(), next)
	if strings.HasSuffix(x.o.referer, ";auto") {
		if cur := t.CurrentRequest(); cur != nil && cur.URL != nil {
			from := *cur.URL
			from.User, from.Fragment, from.RawFragment = nil, "", ""
			next.Header.Set("Referer", from.String())
		}
	}
	return next
}

// TaskDidReceiveChallenge answers the run's authentication challenges:
// see authenticator.decide.
func (x *transfer) TaskDidReceiveChallenge(_ *urlsession.Session, _ *urlsession.Task, c *urlsession.Challenge) (urlsession.AuthChallengeDisposition, *urlsession.Credential) {
	return x.c.auth.decide(c)
}

// dumpHead writes resp's head for -D. It records a failure in writeErr
// and reports success.
func (x *transfer) dumpHead(resp *http.Response) bool {
	if x.o.dumpHeader == "" || x.writeErr != nil {
		return x.writeErr == nil
	}
	var b bytes.Buffer
	writeHead(&b, resp)
	if _, err := x.heads.Write(b.Bytes()); err != nil {
		x.writeErr = err
		return false
	}
	return true
}

// DidReceiveResponse writes the head for -D, applies -f and writes the
// head for -i and -I.
func (x *transfer) DidReceiveResponse(_ *urlsession.Session, t *urlsession.DataTask, resp *http.Response) urlsession.ResponseDisposition {
	if x.tooMany {
		return urlsession.ResponseCancel
	}
	if !x.dumpHead(resp) {
		return urlsession.ResponseCancel
	}
	if x.retryable && transientStatus(resp.StatusCode) {
		x.retryStatus = resp.StatusCode
		return urlsession.ResponseCancel
	}
	if x.rangeFrom > 0 && !x.continueRange(resp) {
		return urlsession.ResponseCancel
	}
	if x.o.maxFilesize > 0 && resp.ContentLength > x.o.maxFilesize {
		x.tooBig = true
		return urlsession.ResponseCancel
	}
	if (x.o.fail || x.o.failBody) && resp.StatusCode >= 400 {
		x.failed = resp.Status
		if x.failed == "" {
			x.failed = strconv.Itoa(resp.StatusCode)
		}
		if x.o.fail {
			return urlsession.ResponseCancel
		}
	}
	if x.o.remoteHead && x.c.claimed == "" {
		// -J: the name the server gives, else the URL's; never an
		// existing file's (unless --no-clobber picks another).
		name := ""
		if n, ok := filename.FromContentDisposition(resp.Header.Get("Content-Disposition")); ok {
			name = filename.Sanitize(n)
		}
		if name == "" {
			name = remoteFileName(x.c.remoteURL)
		}
		if name == "" {
			x.writeErr = &urlsession.Error{Code: urlsession.ErrCannotCreateFile, Err: errors.New("Remote file name has no length!")}
			return urlsession.ResponseCancel
		}
		x.body.name = x.o.inOutputDir(name)
	}
	if x.o.include || x.o.head {
		writeHead(&x.hopHeads, resp)
		if _, err := x.body.Write(x.hopHeads.Bytes()); err != nil {
			x.writeErr = err
			return urlsession.ResponseCancel
		}
	}
	x.notModified = resp.StatusCode == http.StatusNotModified
	x.startBar(resp.ContentLength)
	x.resumeOut = x.resumeRecord(t.Task, resp)
	x.verify = digestsOf(resp)
	return urlsession.ResponseAllow
}

// digestsOf returns a verifier of the digests resp's body can be checked
// against as it streams through the output, or nil: Content-Digest (of
// this response's content) on a 2xx, and Repr-Digest on a 200, where the
// content is the whole representation. A body the session decoded from a
// content coding is not the content those digests cover, so it is not
// checked; neither is a field the command cannot read or whose algorithms
// it does not know, as the library's download tasks do.
func digestsOf(resp *http.Response) *integrity.Verifier {
	if resp.Uncompressed || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil
	}
	var want []integrity.Digest
	if ds, err := integrity.ParseField(integrity.ContentDigest, resp.Header.Values("Content-Digest")); err == nil {
		want = append(want, ds...)
	}
	if resp.StatusCode == http.StatusOK {
		if ds, err := integrity.ParseField(integrity.ReprDigest, resp.Header.Values("Repr-Digest")); err == nil {
			want = append(want, ds...)
		}
	}
	if len(want) == 0 {
		return nil
	}
	return integrity.NewVerifier(want...)
}

// resumeRecord returns the resume data to keep beside the output while
// resp's body is written through it, or nil when it cannot be resumed
// (see streamRecord; a 206 only when it continues the file).
func (x *transfer) resumeRecord(t *urlsession.Task, resp *http.Response) *resume.Data {
	if !x.keepResume || x.failed != "" || x.o.include ||
		x.body.name != x.o.output || x.body.mode != openTruncate && x.body.mode != openAppend {
		return nil
	}
	if fi, err := os.Stat(x.o.output); err == nil && !fi.Mode().IsRegular() {
		return nil // a FIFO or a device: nothing to resume, nothing beside it
	}
	return streamRecord(t.OriginalRequest(), resp, x.o.output, x.body.mode == openAppend, x.from)
}

// streamRecord returns resume data for resp's body written as one stream
// to file, or nil when it cannot be resumed: only a GET's body without a
// content coding, a 200 with a strong validator from a server that takes
// ranges, or, when continuing, a 206 (with the validators of from, the
// resume data it continues, when there is one).
func streamRecord(req *http.Request, resp *http.Response, file string, continuing bool, from *resume.Data) *resume.Data {
	if req == nil || req.URL == nil || req.Method != http.MethodGet || resp.Uncompressed {
		return nil
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil
	}
	d := &resume.Data{URL: req.URL.String(), Header: resume.KeptHeader(req.Header), File: abs, Total: -1, Tail: emptyTail}
	v := resume.ValidatorsOf(resp.Header)
	switch {
	case resp.StatusCode == http.StatusOK && resume.AcceptsRanges(resp.Header):
		d.Total = max(resp.ContentLength, -1)
	case resp.StatusCode == http.StatusPartialContent && continuing:
		if from != nil {
			v = resume.Validators{ETag: from.ETag, Modified: from.Modified}
		}
		cr, err := resume.ParseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return nil
		}
		d.Total = cr.Complete
	default:
		return nil
	}
	if !v.Valid() {
		return nil
	}
	d.ETag, d.Modified = v.ETag, v.Modified
	if d.Header != nil {
		d.Header.Del("Accept-Encoding") // set for the range: the session's own
	}
	if _, err := resume.Encode(d); err != nil {
		return nil
	}
	return d
}

// startBody runs before the first bytes of the body go to the output:
// resume data an earlier run left no longer holds once the file is
// rewritten; the record of this body takes its place (see download.go).
func (x *transfer) startBody() {
	if x.bodyStarted || !x.keepResume {
		return
	}
	x.bodyStarted = true
	if !x.body.regular {
		x.resumeOut = nil
		return
	}
	if x.resumeOut == nil {
		// The file changes: what was kept beside it no longer holds.
		x.c.dropResumeData(nil)
		return
	}
	data, err := resume.Encode(x.resumeOut)
	if err == nil {
		err = x.c.writeResumeFile(data)
	}
	if err != nil {
		x.c.dropResumeData(nil)
		x.resumeOut = nil
	}
}

// startBar starts the progress bar for a body of total bytes (-1 when not
// known) if the run shows one.
func (x *transfer) startBar(total int64) {
	if x.bar == nil && !x.o.head && !x.o.silent && !x.o.noMeter && (x.o.progressBar || isTerminal(x.c.stderr)) && (x.body.toFile() || !isTerminal(x.c.stdout)) {
		x.bar = newProgress(x.c.stderr, total)
		x.bar.always = x.o.progressBar
	}
}

// continueRange decides, for -C - without resume data, what the answer to
// the request for the bytes from rangeFrom on does to the file, as curl
// does: a 206 from there is appended, a 200 rewrites the file, a 416 for a
// file already whole ends the run. It reports whether the body is wanted.
func (x *transfer) continueRange(resp *http.Response) bool {
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		// Not the resource: the file is left alone.
		x.failed = resp.Status
		if x.failed == "" {
			x.failed = strconv.Itoa(resp.StatusCode)
		}
		return false
	}
	out := resume.Decide(x.rangeFrom, resp.StatusCode, resp.Header)
	switch out.Action {
	case resume.Append:
		x.body.mode = openAppend
	case resume.Restart:
		x.body.mode = openTruncate
	case resume.Complete:
		x.rangeComplete = true
		return false
	default:
		x.rangeErr = fmt.Sprintf("cannot continue the file at byte %d: %v", x.rangeFrom, out.Err)
		return false
	}
	return true
}

// DidWriteData moves the progress bar of a download task and applies
// --max-filesize and -f as early as the response allows.
func (x *transfer) DidWriteData(_ *urlsession.Session, t *urlsession.DownloadTask, _, written, expected int64) {
	if max := x.o.maxFilesize; max > 0 && (expected > max || written > max) {
		x.tooBig = true
		t.Cancel()
		return
	}
	if resp := t.Response(); resp != nil && x.retryStatus == 0 && x.failed == "" {
		// A body that will not be kept is not downloaded to the end.
		switch {
		case x.retryable && transientStatus(resp.StatusCode):
			x.dumpHead(resp)
			x.retryStatus = resp.StatusCode
			t.Cancel()
			return
		case x.o.fail && resp.StatusCode >= 400:
			x.dumpHead(resp)
			x.failed = resp.Status
			if x.failed == "" {
				x.failed = strconv.Itoa(resp.StatusCode)
			}
			t.Cancel()
			return
		}
	}
	if x.retryStatus != 0 || x.failed != "" && x.o.fail {
		return
	}
	if resp := t.Response(); resp != nil && !x.recorded {
		x.recordLive(t, resp)
	}
	if x.checkpoints {
		x.checkpoint(t, written)
	}
	x.startBar(expected)
	x.bar.update(written)
	x.shown = written
	if x.c.hooks.wrote != nil {
		x.c.hooks.wrote(written)
	}
}

// DidFinishDownloadingTo writes the downloaded body through the output
// path, as -o writes, unless the response is one not to keep (-f, a
// transient status that will be retried).
func (x *transfer) DidFinishDownloadingTo(_ *urlsession.Session, t *urlsession.DownloadTask, path string) {
	resp := t.Response()
	if resp == nil || x.retryStatus != 0 || x.failed != "" && x.o.fail || !x.dumpHead(resp) || x.tooBig || x.tooMany {
		return
	}
	if x.retryable && transientStatus(resp.StatusCode) {
		x.retryStatus = resp.StatusCode
		return
	}
	if x.resumed && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent &&
		resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		// Not the resource (a 503, a 404): the task left the partial file
		// and its resume data as they were; the output is not touched.
		x.failed = resp.Status
		if x.failed == "" {
			x.failed = strconv.Itoa(resp.StatusCode)
		}
		return
	}
	// A 416 to a resumed task means the partial file was whole already.
	whole := x.resumed && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable
	if (x.o.fail || x.o.failBody) && resp.StatusCode >= 400 && !whole {
		x.failed = resp.Status
		if x.failed == "" {
			x.failed = strconv.Itoa(resp.StatusCode)
		}
		if x.o.fail {
			return
		}
	}
	if x.o.include {
		writeHead(&x.hopHeads, resp)
		if _, err := x.body.Write(x.hopHeads.Bytes()); err != nil {
			x.writeErr = err
			return
		}
	}
	if resp.StatusCode == http.StatusNotModified {
		x.notModified = true
		return // no body: nothing to place or write through
	}
	if x.staged {
		placed, err := x.place(path)
		if err != nil {
			x.writeErr = &urlsession.Error{Code: urlsession.ErrCannotCreateFile, Err: err}
			return
		}
		if placed {
			return
		}
		// Something came to the output path meanwhile: it gets the bytes
		// written through, as any output there before the run.
	}
	f, err := os.Open(path)
	if err != nil {
		x.writeErr = &urlsession.Error{Code: urlsession.ErrCannotOpenFile, Err: err}
		return
	}
	defer f.Close()
	if err := x.body.open(); err != nil {
		x.writeErr = err
		return
	}
	n, err := io.Copy(&x.body, f)
	x.received = n
	if err != nil {
		var e *urlsession.Error
		if !errors.As(err, &e) {
			err = &urlsession.Error{Code: urlsession.ErrCannotWriteToFile, Err: err}
		}
		x.writeErr = err
		return
	}
	x.completed = true // closed, and a failure to close reported, by finish
}

// place gives the complete, verified download at path (the output's
// FILE.urlsession-partial) the output's name, with the mode a new file of
// curl's gets (0666 less the umask): linked there, which fails rather
// than replace anything that came to that name meanwhile, then unlinked
// from its own name; renamed where the file system has no hard links,
// after checking that the name is still free. It reports false, with the
// file left at path, when the output path is taken.
func (x *transfer) place(path string) (bool, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return false, err
	}
	if err := os.Chmod(path, 0o666&^umask()); err != nil {
		return false, err
	}
	switch err := os.Link(path, x.o.output); {
	case err == nil:
		os.Remove(path)
	case errors.Is(err, fs.ErrExist):
		return false, nil
	default:
		if _, lerr := os.Lstat(x.o.output); !errors.Is(lerr, fs.ErrNotExist) {
			return false, nil
		}
		if err := os.Rename(path, x.o.output); err != nil {
			return false, err
		}
	}
	x.received = fi.Size()
	x.completed, x.placed = true, true
	return true, nil
}

// recordLive runs once the first bytes of a download task's body are in
// FILE.urlsession-partial: it writes, as FILE.urlsession-resume, the
// record of a body that can be continued from however much of it the
// partial file holds, so that a run killed outright (SIGKILL, a crash)
// leaves something -C - continues (see ownResumeData). That is a GET's
// 200 without a content coding, with a strong validator, from a server
// that takes ranges, or a 206 continuing resume data, read as one stream:
// a body fetched in segments is written at their offsets, and what a
// killed run leaves of it has gaps, so it gets checkpoints instead (see
// checkpoint), as does one continued from segmented resume data. A restart (a
// 200 to resume data) that cannot be continued removes the stale record;
// an answer that is not the resource (a 503) leaves it.
func (x *transfer) recordLive(t *urlsession.DownloadTask, resp *http.Response) {
	x.recorded = true
	if !x.download || x.o.output == "" {
		return
	}
	name := x.o.output + resumeSuffix
	d := x.liveRecord(t, resp)
	if d == nil {
		if resp.StatusCode == http.StatusOK && x.resumed {
			os.Remove(name)
		}
		x.checkpoints = x.o.segments > 1
		return
	}
	data, err := resume.Encode(d)
	if err == nil {
		err = writeRecord(name, data)
	}
	if err != nil {
		os.Remove(name)
	}
}

// writeRecord writes data as the resume record name, in place, with no
// other name beside the output: a record that a kill cuts short fails its
// checksum and the next run starts again, as it would from the record it
// replaces, which no longer matches a partial file that grows.
func writeRecord(name string, data []byte) error {
	os.Remove(name) // the command's own name: never written through
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkpoint records, as FILE.urlsession-resume, the task's checkpoint
// (urlsession.DownloadTask.Checkpoint) of a body fetched in segments, whose
// partial file has gaps: what a run killed outright leaves is continued
// from it, each segment from its last recorded byte. It runs at each
// DidWriteData that brought bytes (at most ten times a second), so that a
// kill loses about a tenth of a second of the download. A task whose
// body cannot be resumed stops the checkpoints.
func (x *transfer) checkpoint(t *urlsession.DownloadTask, written int64) {
	if written == x.checkpointed {
		return
	}
	data, err := t.Checkpoint()
	if err != nil {
		if errors.Is(err, urlsession.ErrNoCheckpoint) {
			x.checkpoints = false
		}
		return
	}
	if err := writeRecord(x.o.output+resumeSuffix, data); err != nil {
		os.Remove(x.o.output + resumeSuffix)
		return
	}
	x.checkpointed = written
}

// liveRecord returns the record recordLive writes, or nil: streamRecord's
// for the partial file, but for a body fetched in segments; a 206
// continues resume data of one stream, whose URL and header it keeps.
func (x *transfer) liveRecord(t *urlsession.DownloadTask, resp *http.Response) *resume.Data {
	from := x.resumedFrom
	if resp.StatusCode == http.StatusOK && x.o.segments > 1 && !x.resumed {
		return nil
	}
	d := streamRecord(t.OriginalRequest(), resp, x.o.output+partialSuffix, from != nil && from.Segments == nil, from)
	if d != nil && resp.StatusCode == http.StatusPartialContent {
		d.URL, d.Header = from.URL, from.Header
	}
	return d
}

// DidReceiveData writes the next piece of the body to the output.
func (x *transfer) DidReceiveData(_ *urlsession.Session, t *urlsession.DataTask, data []byte) {
	if x.writeErr != nil || x.o.head || x.tooBig {
		return
	}
	if x.o.maxFilesize > 0 && x.received+int64(len(data)) > x.o.maxFilesize {
		// As curl since 8.4: the transfer stops when it would pass the
		// limit, with what came before written.
		x.tooBig = true
		t.Cancel()
		return
	}
	if err := x.body.open(); err != nil {
		x.writeErr = err
		t.Cancel()
		return
	}
	x.startBody()
	if _, err := x.body.Write(data); err != nil {
		x.writeErr = err
		t.Cancel()
		return
	}
	if x.verify != nil {
		x.verify.Write(data)
	}
	x.received += int64(len(data))
	x.bar.update(x.received)
	if x.c.hooks.wrote != nil {
		x.c.hooks.wrote(x.received)
	}
}

// DidFinishCollectingMetrics keeps the metrics and prints them with -v.
func (x *transfer) DidFinishCollectingMetrics(_ *urlsession.Session, _ *urlsession.Task, m *urlsession.TaskMetrics) {
	x.metrics = m
	if x.o.verbose {
		x.bar.clear()
		printVerbose(x.c.stderr, m)
	}
}

// closeOutputs closes the outputs. After a successful transfer the body's
// is opened first, so that an empty body still makes an empty file, as
// with curl (but a 304 makes none); after a failure each keeps what was
// written.
func (x *transfer) closeOutputs(ok bool) error {
	var err error
	if ok && !x.placed && !x.notModified {
		err = x.body.open()
	}
	if cerr := x.body.close(); err == nil {
		err = cerr
	}
	if cerr := x.heads.close(); err == nil {
		err = cerr
	}
	return err
}

// finish decides the outcome of the finished task, closes the outputs and
// prints -w.
func (x *transfer) finish(ctx context.Context, task *urlsession.Task) *failure {
	if x.download {
		x.bar.done(x.shown)
	} else {
		x.bar.done(x.received)
	}
	err := task.Err()
	var f *failure
	switch {
	case x.deniedScheme != "":
		f = protoDenied(x.deniedScheme, "--proto-redir")
	case x.tooMany:
		f = &failure{status: exitStatus(urlsession.ErrHTTPTooManyRedirects, true), code: int(urlsession.ErrHTTPTooManyRedirects),
			msg: fmt.Sprintf("%s: maximum (%d) redirects followed", urlsession.ErrHTTPTooManyRedirects.String(), x.o.maxRedirs)}
	case x.rangeComplete:
		return nil // the file is whole: left as it is
	case x.retryStatus != 0:
		f = &failure{status: exitHTTPError, code: exitHTTPError, msg: "the requested URL returned error: " + strconv.Itoa(x.retryStatus)}
	case x.rangeErr != "":
		f = &failure{status: exitRangeError, code: exitRangeError, msg: x.rangeErr}
	case x.c.auth != nil && x.c.auth.pinMismatch:
		f = &failure{status: exitPinnedKey, code: exitPinnedKey, msg: "SSL: public key does not match pinned public key"}
	case x.writeErr != nil:
		f = failureOf(x.writeErr, true)
	case x.noRewind:
		f = failureOf(&urlsession.Error{Code: urlsession.ErrRequestBodyStreamExhausted,
			Err: errors.New("the redirect needs the body again and standard input cannot be read twice")}, true)
	case x.tooBig:
		f = failureOf(&urlsession.Error{Code: urlsession.ErrDataLengthExceedsMaximum,
			Err: fmt.Errorf("more than the %d bytes --max-filesize allows", x.o.maxFilesize)}, true)
	case x.failed != "" && (x.o.fail || err == nil || x.rangeFrom > 0):
		f = &failure{status: exitHTTPError, code: exitHTTPError, msg: "the requested URL returned error: " + x.failed}
	case err != nil && x.slow.Load() && ctx.Err() == nil:
		f = x.slowFailure()
	case err != nil && ctx.Err() != nil:
		f = &failure{status: exitInterrupted} // interrupted: no message
	case err != nil:
		f = failureOf(err, task.Response() != nil)
		if f.status == exitReadError && task.OriginalRequest() != nil && task.OriginalRequest().URL != nil &&
			strings.EqualFold(task.OriginalRequest().URL.Scheme, "file") {
			f.status = exitFileURL // the file of a file: URL, not one of the command's own
		}
		if task.CurrentRequest() != nil && isFTP(task.CurrentRequest().URL) {
			switch urlsession.CodeOf(err) {
			case urlsession.ErrFileDoesNotExist, urlsession.ErrFileIsDirectory:
				f.status = exitFTPNotFound
			case urlsession.ErrUserAuthenticationRequired:
				f.status = exitLoginDenied
			}
		}
	case x.verify != nil && !x.download && !x.o.head:
		// The whole body went through the output: it must be the one
		// the server's digests describe.
		if derr := x.verify.Check(); derr != nil {
			f = failureOf(&urlsession.Error{Code: urlsession.ErrDigestMismatch, Err: derr}, true)
			x.digestFailed = true
		}
	}
	// --fail-with-body keeps the body of a failed status, as a success.
	complete := f == nil || x.o.failBody && x.failed != "" && err == nil
	if cerr := x.closeOutputs(complete); cerr != nil && complete {
		f = failureOf(cerr, true)
	}
	if cur, resp := task.CurrentRequest(), task.Response(); cur != nil && resp != nil {
		x.c.hsts.Observe(cur.URL, resp.Header, time.Now())
	}
	if f == nil && x.o.remoteTime {
		x.setRemoteTime(task.Response())
	}
	if f == nil && x.o.etagSave != "" {
		if resp := task.Response(); resp != nil && resp.StatusCode/100 == 2 {
			// The 2xx answer's tag, or none: a stale one would be
			// compared next time. A 304 leaves the file as it is.
			tag := resp.Header.Get("ETag")
			if !validETag(tag) {
				tag = ""
			}
			if err := writeETag(x.o.etagSave, tag); err != nil {
				f = failureOf(&urlsession.Error{Code: urlsession.ErrCannotWriteToFile, Err: err}, true)
			}
		}
	}
	return f
}

// setRemoteTime gives the output file, for -R, the modification (and
// access) time of resp's Last-Modified, as curl does. Nothing changes when
// the body went to standard output or a FIFO or device, when no file was
// written (a 304), or when the response has no Last-Modified; a time that
// cannot be set is warned about.
func (x *transfer) setRemoteTime(resp *http.Response) {
	name := ""
	switch {
	case x.notModified || resp == nil:
		return
	case x.placed:
		name = x.o.output
	case x.body.toFile() && x.body.regular:
		name = x.body.name
	default:
		return
	}
	t, err := http.ParseTime(resp.Header.Get("Last-Modified"))
	if err != nil {
		return
	}
	if err := os.Chtimes(name, t, t); err != nil && !x.o.silent {
		fmt.Fprintf(x.c.stderr, "urlsession: WARNING: -R: cannot set the time of %s: %v\n", name, err)
	}
}

// statusLine returns the response's status line as curl prints it:
// "HTTP/1.1 200 OK", "HTTP/2 200 OK", "HTTP/3 200 OK".
func statusLine(resp *http.Response) string {
	proto := resp.Proto
	switch {
	case resp.ProtoMajor == 2:
		proto = "HTTP/2"
	case resp.ProtoMajor == 3:
		proto = "HTTP/3"
	case proto == "":
		proto = fmt.Sprintf("HTTP/%d.%d", resp.ProtoMajor, resp.ProtoMinor)
	}
	status := resp.Status
	if status == "" {
		status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	}
	return proto + " " + status
}

// writeHead writes resp's status line, headers (sorted by name) and the
// blank line, with CRLF line ends as on the wire.
func writeHead(w io.Writer, resp *http.Response) {
	fmt.Fprintf(w, "%s\r\n", statusLine(resp))
	writeHeaderLines(w, "", "\r\n", resp.Header)
	io.WriteString(w, "\r\n")
}

func writeHeaderLines(w io.Writer, prefix, eol string, h http.Header) {
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range h[name] {
			fmt.Fprintf(w, "%s%s: %s%s", prefix, name, v, eol)
		}
	}
}

// printVerbose writes the -v log: for each transaction the request as sent,
// the response head and the transaction's metrics, then a summary.
func printVerbose(w io.Writer, m *urlsession.TaskMetrics) {
	for i, tx := range m.Transactions {
		if i > 0 {
			fmt.Fprintf(w, "* redirect %d\n", i)
		}
		if req := tx.Request; req != nil {
			wire := "HTTP/1.1"
			switch tx.NetworkProtocolName {
			case "h2":
				wire = "HTTP/2"
			case "h3":
				wire = "HTTP/3"
			}
			target := "/"
			host := req.Host
			if req.URL != nil {
				target = req.URL.RequestURI()
				if host == "" {
					host = req.URL.Host
				}
			}
			fmt.Fprintf(w, "> %s %s %s\n", req.Method, target, wire)
			fmt.Fprintf(w, "> Host: %s\n", host)
			writeHeaderLines(w, "> ", "\n", redactedHeader(req.Header))
			hasBody := req.Body != nil && req.Body != http.NoBody
			switch {
			case req.ContentLength > 0:
				fmt.Fprintf(w, "> Content-Length: %d\n", req.ContentLength)
			case req.ContentLength == 0 && !hasBody && (req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch):
				fmt.Fprintf(w, "> Content-Length: 0\n")
			case hasBody && wire == "HTTP/1.1":
				fmt.Fprintf(w, "> Transfer-Encoding: chunked\n")
			}
			fmt.Fprintln(w, ">")
		}
		if resp := tx.Response; resp != nil {
			fmt.Fprintf(w, "< %s\n", statusLine(resp))
			writeHeaderLines(w, "< ", "\n", resp.Header)
			fmt.Fprintln(w, "<")
		} else {
			fmt.Fprintln(w, "* no response")
		}
		printTransactionMetrics(w, &tx)
	}
	fmt.Fprintf(w, "* total %s, %d redirect(s)\n", millis(m.TaskDuration), m.RedirectCount)
}

func printTransactionMetrics(w io.Writer, tx *urlsession.TransactionMetrics) {
	if tx.ResourceFetchType == urlsession.FetchTypeLocalCache {
		// No connection, no timings worth showing.
		fmt.Fprintln(w, "* served from the local cache")
		return
	}
	proto := tx.NetworkProtocolName
	if proto == "" {
		proto = "-"
	}
	remote := "-"
	if tx.RemoteAddr != nil {
		remote = tx.RemoteAddr.String()
	}
	conn := "new connection"
	if tx.ReusedConnection {
		conn = "reused connection"
	}
	if tx.ProxyConnection {
		conn += " through a proxy"
	}
	fmt.Fprintf(w, "* protocol %s, remote %s, %s", proto, remote, conn)
	if tx.NegotiatedTLSProtocolVersion != 0 {
		fmt.Fprintf(w, ", %s %s", tls.VersionName(tx.NegotiatedTLSProtocolVersion), tls.CipherSuiteName(tx.NegotiatedTLSCipherSuite))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "* dns %s, connect %s, tls %s, request %s, wait %s, response %s\n",
		span(tx.DomainLookupStart, tx.DomainLookupEnd), span(tx.ConnectStart, tx.ConnectEnd),
		span(tx.SecureConnectionStart, tx.SecureConnectionEnd), span(tx.RequestStart, tx.RequestEnd),
		span(tx.RequestEnd, tx.ResponseStart), span(tx.ResponseStart, tx.ResponseEnd))
	fmt.Fprintf(w, "* sent %d header + %d body bytes, received %d header + %d body bytes (%d decoded)\n",
		tx.RequestHeaderBytesSent, tx.RequestBodyBytesSent, tx.ResponseHeaderBytesReceived,
		tx.ResponseBodyBytesReceived, tx.ResponseBodyBytesAfterDecoding)
}

// span is the time from a to b in milliseconds, "-" if either is unknown.
func span(a, b time.Time) string {
	if a.IsZero() || b.IsZero() {
		return "-"
	}
	return millis(b.Sub(a))
}

func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64) + " ms"
}
