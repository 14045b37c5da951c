package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/resume"
)

// Downloads: -o and -O files, -C - and --retry.
//
// An output that is not there, not even as a dangling symbolic link, is
// made only once the body is complete and verified. The body goes
// through a download task into FILE.urlsession-partial, beside FILE (the
// task's partial file, see urlsession.DownloadTask.SetPartialFile: made
// exclusively, mode 0600; nothing goes to TMPDIR), with the resume data
// in FILE.urlsession-resume (mode 0600); this holds for every mode: plain,
// --segments, --checksum, --limit-rate, --retry. Once the body is
// complete and its digests check (--checksum, and the server's
// Content-Digest and Repr-Digest), the partial file gets the mode a new
// file of curl's gets (0666 less the umask) and FILE's name: linked to it
// (which fails rather than replace a file that came there meanwhile; it
// then gets the bytes written through) and unlinked, or renamed where the
// file system has no hard links; the resume data goes. A body that fails
// its checksum leaves nothing. With -i, -J or --no-clobber the output is
// written as below.
//
// The resume data is written as soon as the first bytes of a body that
// can be continued are in the partial file (a GET's 200 without a content
// coding, with a strong validator and Accept-Ranges: bytes, or a 206
// continuing resume data): a record of the URL, the validators and the
// length, without the partial file's size. A run killed outright
// (SIGKILL, a crash) leaves only the two files, and -C - continues from
// the partial file's length (a kill may come before the record is
// written: the next run then starts again). A clean end without the whole
// body (the network fails, the time runs out, SIGINT or SIGTERM) replaces
// the record with the task's resume data, which records the partial
// file's size and fingerprint. -C - (or the next attempt of --retry)
// continues with urlsession.DownloadTaskWithResumeData: Range and
// If-Range, the rest appended to the partial file, or, when the resource
// changed, the whole body again from byte 0, never spliced; a partial
// file that no longer matches its resume data is started again, with a
// warning. A download fetched in segments writes them at their offsets,
// so its partial file has gaps: while it runs, the record is the task's
// checkpoint (urlsession.DownloadTask.Checkpoint), rewritten each time
// the progress moves (at most ten times a second), and -C - continues a
// killed one from it, each segment from its last recorded byte, once the
// partial file still holds those bytes (else it starts again, with a
// warning). Without -C -, a run starts afresh and removes what an earlier
// one left. An answer to -C - that is not the resource (a 503, a 404)
// leaves both files as they are and FILE not made.
//
// FILE.urlsession-partial is the command's name: it is removed, replaced
// and written when it is a regular file with no other hard link; anything
// else there (a symbolic link, a directory, a FIFO, a hard link to another
// file) is not the command's and the run fails (status 23) without
// touching it.
//
// An output that is there (a regular file, a symbolic link, even a
// dangling one, a FIFO, a device) is written through, never replaced, as
// curl writes it: the body goes through the output path as it arrives (a
// symlink is followed, an existing file truncated in place). When the
// response can be resumed (a GET answered with a 200 that has a strong
// validator and Accept-Ranges: bytes, or with a 206 continuing the file,
// and no content coding), the command keeps resume data beside the output
// as FILE.urlsession-resume (mode 0600) while the body is written: first a
// record of the URL and the validators, and, when the run ends without the
// whole body (the network fails, the time runs out, SIGINT or SIGTERM),
// the same record with the size and fingerprint of what FILE then holds.
// The file is removed once FILE is complete. Its name is the command's
// own: it replaces and removes it as it needs.
//
// -C - continues such a FILE from it: the bytes from FILE's size on are
// asked for with Range and If-Range (the strong entity tag, else the
// strong Last-Modified date), so that a resource that changed since comes
// back whole and FILE is rewritten from its start rather than spliced. The
// record is checked first: when FILE is no longer what the interrupted run
// left (its size, time or last bytes differ), the download starts again
// from byte 0 with a warning. A run killed outright leaves only the first
// record; -C - then continues from FILE's size as curl would, still with
// If-Range. --retry continues the same way after a transient failure.
//
// Without resume data, -C - with a non-empty output file does what curl
// does: it asks for the bytes from the file's size on (Range: bytes=N-) and
// appends the answer only if it is a 206 whose Content-Range starts there;
// a 200 rewrites the file from its start; a 416 that gives the file's size
// as the whole length means the file is complete (exit 0, the file
// untouched); any other range, or a status of 300 or more, leaves the file
// alone (exit 33 or 22), and with it the resume data.
//
// --segments, --checksum and --limit-rate onto an output that is there (a
// regular file) download with a download task too, into
// FILE.urlsession-partial beside it as above; once the body is complete
// (and verified) and the response is the one wanted, its bytes are written
// through the output path. Interrupted, they leave the partial file and
// its resume data as above, and -C - continues from them.

const (
	resumeSuffix  = ".urlsession-resume"
	partialSuffix = ".urlsession-partial"
)

// exitRangeError is curl's "range error": -C - could not continue.
const exitRangeError = 33

// maxBackoff is the longest wait between two retries, as curl's.
const maxBackoff = 10 * time.Minute

// outputMode returns how the body's file is opened.
func (c *client) outputMode() openMode {
	switch {
	case c.o.noClobber:
		return openNoClobber
	case c.o.remoteHead:
		return openExclusive
	}
	return openTruncate
}

// downloadMode reports whether the run downloads with a download task:
// with an output file that is not there yet (see stagedOutput), or with
// --segments, --checksum or --limit-rate and an output file that is not
// special.
func (c *client) downloadMode(body uploadBody) bool {
	o := c.o
	if o.output == "" || o.output == "-" || o.head || o.remoteHead {
		return false
	}
	if body.stdin || body.file != "" || body.data != nil {
		return false // an upload's response: the data task writes it
	}
	if c.stagedOutput(body) {
		return true
	}
	if !o.downloadOnly() {
		return false
	}
	fi, err := os.Stat(o.output)
	return err != nil || fi.Mode().IsRegular()
}

// stagedOutput reports whether the body is downloaded to
// FILE.urlsession-partial and given the output's name once complete and
// verified: when nothing is at the output path, not even a dangling
// symbolic link, and the body alone goes to the file (no -i, -J or
// --no-clobber, no upload).
func (c *client) stagedOutput(body uploadBody) bool {
	o := c.o
	if o.output == "" || o.output == "-" || o.head || o.remoteHead || o.noClobber || o.include {
		return false
	}
	if body.stdin || body.file != "" || body.data != nil {
		return false
	}
	_, err := os.Lstat(o.output)
	return errors.Is(err, fs.ErrNotExist)
}

// checkPartial fails when FILE.urlsession-partial is there and is not a
// regular file of its own (a symbolic link, a directory, a FIFO, a file
// with other hard links): it is not one the command made, and the command
// neither writes through it nor removes it.
func (c *client) checkPartial() *failure {
	name := c.o.output + partialSuffix
	fi, err := os.Lstat(name)
	switch {
	case err != nil:
		return nil
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("%s is not a regular file: refusing to write through it or remove it", name)
	case sharedFile(fi):
		err = fmt.Errorf("%s has other hard links: refusing to write through it or remove it", name)
	default:
		return nil
	}
	return failureOf(&urlsession.Error{Code: urlsession.ErrCannotCreateFile, Err: err}, false)
}

// keepsResumeData reports whether a run that writes the body through the
// output path keeps resume data beside it (see the top of the file).
func (c *client) keepsResumeData(body uploadBody) bool {
	o := c.o
	if o.output == "" || o.output == "-" || o.head || o.remoteHead || o.noClobber {
		return false
	}
	return !body.stdin && body.file == "" && body.data == nil
}

// plan is how one attempt starts.
type plan struct {
	download   bool   // with a download task
	resumeData []byte // the download task continues this, or nil
	rangeFrom  int64  // with a data task: ask for the bytes from here on (-C -)
	// from is the resume data beside the output that rangeFrom continues,
	// or nil; its validator goes in If-Range.
	from *resume.Data
}

// planAttempt decides how attempt n (from 0) starts.
func (c *client) planAttempt(body uploadBody, req *http.Request, n int) plan {
	o := c.o
	if !c.downloadMode(body) {
		// -C -, or a retry after an attempt of this run kept resume data.
		if c.keepsResumeData(body) && (o.continueAt || n > 0 && c.kept) {
			if p, ok := c.continueOutput(); ok {
				return p
			}
		}
		if o.continueAt {
			if fi, err := os.Stat(o.output); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
				return plan{rangeFrom: fi.Size()}
			}
		}
		return plan{}
	}
	p := plan{download: true}
	data, err := os.ReadFile(o.output + resumeSuffix)
	switch {
	case err != nil:
	case !o.continueAt && n == 0:
		// A fresh download: what an earlier run left is stale.
		c.dropResumeData(nil)
	default:
		data, err = c.ownResumeData(data)
		if err != nil {
			c.dropResumeData(nil)
			break
		}
		if u := req.URL; u.Scheme == "http" || u.Scheme == "https" {
			// The URL given now: a signed URL may have been renewed. The
			// validators still tell whether it is the same resource.
			if d, rerr := urlsession.RetargetResumeData(data, u); rerr == nil {
				data = d
			}
		}
		if _, uerr := urlsession.ResumeDataURL(data); uerr == nil {
			p.resumeData = data
		} else {
			c.dropResumeData(nil)
		}
	}
	if p.resumeData == nil && o.continueAt {
		if fi, err := os.Stat(o.output); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
			return plan{rangeFrom: fi.Size()}
		}
	}
	return p
}

// continueOutput plans the continuation of the output from the resume
// data beside it, if there is usable resume data for it. Resume data that
// is damaged, or is a download task's (FILE.urlsession-partial), is
// removed and the caller falls back on curl's -C -; resume data whose
// file changed since is removed and the download starts again.
func (c *client) continueOutput() (plan, bool) {
	name := c.o.output + resumeSuffix
	b, err := os.ReadFile(name)
	if err != nil {
		return plan{}, false
	}
	// The record describes the output beside it, wherever the two were
	// moved together: the file it names is never written.
	d, err := resume.Decode(b)
	if err != nil || d.Segments != nil || strings.HasSuffix(d.File, partialSuffix) {
		c.dropResumeData(nil)
		return plan{}, false
	}
	// Through the output path, as it is written: a symlink is followed.
	f, err := os.Open(c.o.output)
	if err != nil {
		c.dropResumeData(nil)
		return plan{}, false
	}
	fp, err := resume.FingerprintOf(f)
	f.Close()
	switch {
	case err != nil:
		c.dropResumeData(nil)
		return plan{}, false
	case fp == d.Fingerprint():
		// What the interrupted run left.
	case d.Size == 0 && d.MTime == 0:
		// The record of a run that did not end (killed): the file's
		// length is all there is to go on, as with curl's -C -.
	default:
		if !c.o.silent {
			fmt.Fprintf(c.stderr, "urlsession: WARNING: cannot continue %s: %v; starting again\n", c.o.output, resume.ErrChanged)
		}
		c.dropResumeData(nil)
		return plan{}, true
	}
	if fp.Size == 0 || d.Total >= 0 && fp.Size > d.Total {
		c.dropResumeData(nil)
		return plan{}, true
	}
	d.Offset, d.Size = fp.Size, fp.Size
	return plan{rangeFrom: fp.Size, from: d}, true
}

// emptyTail is the fingerprint's tail of an empty file: the mark of the
// record kept while the body is written (see liveResumeData).
var emptyTail = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// writeResumeFile writes data as the resume data beside the output,
// through a temporary name renamed over it, so that a process killed
// meanwhile leaves either the old record or the new one.
func (c *client) writeResumeFile(data []byte) error {
	name := c.o.output + resumeSuffix
	tmp := name + ".tmp"
	err := writeRecord(tmp, data)
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// settleOutput keeps, refreshes or removes the resume data beside the
// output once an attempt that wrote the body through it ended (see the
// top of the file).
func (c *client) settleOutput(x *transfer, f *failure) {
	d := x.resumeOut
	switch {
	case f == nil:
		// The output is complete, or was rewritten with another answer.
		c.dropResumeData(nil)
		return
	case x.digestFailed:
		// The output holds a body that is not the one described: it is
		// not a start to continue from.
		c.dropResumeData(nil)
		return
	case d == nil || !x.bodyStarted && x.rangeFrom == 0:
		// Nothing of a resumable body reached the file: what is beside
		// it still holds, or was removed when the body began.
		return
	}
	out, err := os.Open(c.o.output)
	if err != nil {
		c.dropResumeData(nil)
		return
	}
	fp, err := resume.FingerprintOf(out)
	out.Close()
	if err != nil || fp.Size == 0 || d.Total >= 0 && fp.Size > d.Total {
		c.dropResumeData(nil)
		return
	}
	d.SetFingerprint(fp)
	data, err := resume.Encode(d)
	if err == nil {
		err = c.writeResumeFile(data)
	}
	c.kept = err == nil
	if err != nil {
		c.dropResumeData(nil)
		if !c.o.silent {
			fmt.Fprintf(c.stderr, "urlsession: WARNING: cannot keep the resume data beside %s: %v\n", c.o.output, err)
		}
	}
}

// ownResumeData returns resume data read from beside the output with its
// partial file set to FILE.urlsession-partial, whatever path it names:
// resume data from a file is never let to write anywhere else (and the
// two files may have been moved together). The fingerprint the data
// records still has to match that file's, but for the record of a run
// that was killed, which takes the partial file's as it is (a
// checkpoint's, of a body fetched in segments, is checked by the task).
func (c *client) ownResumeData(data []byte) ([]byte, error) {
	d, err := resume.Decode(data)
	if err != nil {
		return nil, err
	}
	partial, err := filepath.Abs(c.o.output + partialSuffix)
	if err != nil {
		return nil, err
	}
	if d.MTime == 0 && d.Size == 0 && d.Segments == nil && !d.Checkpoint {
		// The record written while the body arrived (see recordLive): the
		// run was killed. The partial file holds the body's first bytes,
		// as many as were written: continue from its length.
		fi, err := os.Lstat(partial)
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file", partial)
		}
		fp, err := resume.FingerprintFile(partial)
		if err != nil {
			return nil, err
		}
		if fp.Size == 0 || d.Total >= 0 && fp.Size > d.Total {
			return nil, fmt.Errorf("%s holds %d bytes of %d", partial, fp.Size, d.Total)
		}
		d.File = partial
		d.SetFingerprint(fp)
		return resume.Encode(d)
	}
	if d.File == partial {
		return data, nil
	}
	d.File = partial
	return resume.Encode(d)
}

// dropResumeData removes the resume data beside the output and, if data
// still describes it, its partial file.
func (c *client) dropResumeData(data []byte) {
	if data != nil {
		urlsession.RemoveResumeData(data)
	}
	os.Remove(c.o.output + resumeSuffix)
	os.Remove(c.o.output + resumeSuffix + ".tmp")
	os.Remove(c.o.output + partialSuffix)
}

// keepResumeData moves the partial file of data beside the output and
// writes the resume data, pointing at it, beside the output too. It
// reports failure to keep them.
func (c *client) keepResumeData(data []byte) error {
	d, err := resume.Decode(data)
	if err != nil {
		return err
	}
	if c.o.createDirs {
		if err := os.MkdirAll(filepath.Dir(c.o.output), 0o750); err != nil {
			return err
		}
	}
	partial, err := filepath.Abs(c.o.output + partialSuffix)
	if err != nil {
		return err
	}
	if d.File != partial {
		if err := movePartial(d.File, partial); err != nil {
			os.Remove(d.File)
			return err
		}
		fp, err := resume.FingerprintFile(partial)
		if err != nil {
			return err
		}
		d.File = partial
		d.SetFingerprint(fp)
		if data, err = resume.Encode(d); err != nil {
			return err
		}
	}
	return c.writeResumeFile(data)
}

// movePartial moves the file from to the name to (the command's own),
// linking it there, else copying it when they are on different file
// systems.
func movePartial(from, to string) error {
	os.Remove(to)
	if err := os.Link(from, to); err == nil {
		return os.Remove(from)
	}
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(to)
		return err
	}
	return os.Remove(from)
}

// makeDirs makes dir and its missing parents, mode 0750 as curl's
// --create-dirs, and returns those it made, deepest first.
func makeDirs(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, d)
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
	}
	if len(missing) == 0 {
		return nil, nil
	}
	return missing, os.MkdirAll(dir, 0o750)
}

// removeEmptyDirs removes the directories makeDirs made that are still
// empty, deepest first.
func removeEmptyDirs(dirs []string) {
	for _, d := range dirs {
		if os.Remove(d) != nil {
			return
		}
	}
}

// transientStatus reports whether an HTTP status is worth retrying, as
// curl's --retry judges: 408, 429, 500, 502, 503 and 504.
func transientStatus(code int) bool {
	switch code {
	case 408, 429, 500, 502, 503, 504:
		return true
	}
	return false
}

// transientError reports whether a task error is worth retrying: a time
// out or a lost connection (a body cut short, an empty reply).
func transientError(err error) bool {
	switch urlsession.CodeOf(err) {
	case urlsession.ErrTimedOut, urlsession.ErrNetworkConnectionLost:
		return true
	}
	return false
}

// retryAfter returns the wait a Retry-After header asks for (seconds or
// an HTTP date), and whether there was a usable one.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(min(n, int64(maxBackoff/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxBackoff), true
	}
	return 0, false
}

// retryWait returns the wait before retry n (from 0): --retry-delay, else
// exponential backoff from one second; a Retry-After wins over either.
func (c *client) retryWait(n int, after time.Duration, hasAfter bool) time.Duration {
	if hasAfter {
		return after
	}
	if c.o.retryDelay > 0 {
		return c.o.retryDelay
	}
	if n >= 10 {
		return maxBackoff
	}
	return min(time.Second<<n, maxBackoff)
}

// sleepContext waits for d or the end of ctx.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// outcome is what one attempt ended with.
type outcome struct {
	f     *failure
	x     *transfer
	task  *urlsession.Task
	retry bool // a transient failure that a retry may cure
	after time.Duration
	// hasAfter: the response said how long to wait (Retry-After).
	hasAfter bool
}

// transferLoop runs the transfer, retrying transient failures as --retry
// allows, and prints -w for the last attempt.
func (c *client) transferLoop(ctx context.Context, cfg *urlsession.Configuration, req *http.Request, body uploadBody) *failure {
	o := c.o
	umask() // read once, before the session's goroutines make files
	if o.downloadOnly() && !c.downloadMode(body) {
		// A FIFO or a device: what these options ask for needs a file.
		return statusFailure(usageErrorf("--segments, --checksum and --limit-rate need a regular output file"))
	}
	cfg.MaximumBytesPerSecond = o.limitRate
	if o.segments > 1 {
		cfg.DownloadSegments = o.segments
	}
	sleep := c.hooks.sleep
	if sleep == nil {
		sleep = sleepContext
	}
	now := c.hooks.now
	if now == nil {
		now = time.Now
	}
	start := now()
	for n := 0; ; n++ {
		// A transient status is kept back from the output only when a
		// retry will follow (unless its Retry-After asks for more time than
		// --retry-max-time leaves).
		retryable := n < o.retry && !body.stdin && (o.retryMaxTime == 0 || now().Sub(start)+c.retryWait(n, 0, false) <= o.retryMaxTime)
		out := c.attempt(ctx, cfg, req, body, n, retryable)
		if out.f == nil || !out.retry || n >= o.retry || ctx.Err() != nil {
			if c.writeOut != "" && out.x != nil {
				out.x.writeOut(c.writeOut, out.task, out.f)
			}
			return out.f
		}
		wait := c.retryWait(n, out.after, out.hasAfter)
		if o.retryMaxTime > 0 && now().Sub(start)+wait > o.retryMaxTime {
			if c.writeOut != "" && out.x != nil {
				out.x.writeOut(c.writeOut, out.task, out.f)
			}
			return out.f
		}
		if !o.silent {
			left := o.retry - n
			fmt.Fprintf(c.stderr, "urlsession: WARNING: transient problem: %s; will retry in %s, %d %s left\n",
				out.f.msg, wait, left, plural(left, "retry", "retries"))
		}
		if err := sleep(ctx, wait); err != nil {
			return &failure{status: exitInterrupted}
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// attempt runs the transfer once. retryable says whether a transient
// failure will be retried: a transient status is then not written out.
func (c *client) attempt(ctx context.Context, cfg *urlsession.Configuration, req *http.Request, body uploadBody, n int, retryable bool) outcome {
	staged := c.stagedOutput(body)
	if c.downloadMode(body) {
		// Before anything beside the output is read or removed.
		if f := c.checkPartial(); f != nil {
			return outcome{f: f}
		}
	}
	p := c.planAttempt(body, req, n)
	partial := ""
	if p.download {
		if c.o.createDirs {
			made, err := makeDirs(filepath.Dir(c.o.output))
			if err != nil {
				return outcome{f: failureOf(&urlsession.Error{Code: urlsession.ErrCannotCreateFile, Err: err}, false)}
			}
			// A transfer that leaves nothing in them leaves no directories,
			// as when they are made for the first bytes of the body.
			defer removeEmptyDirs(made)
		}
		var err error
		if partial, err = filepath.Abs(c.o.output + partialSuffix); err != nil {
			return outcome{f: failureOf(&urlsession.Error{Code: urlsession.ErrCannotCreateFile, Err: err}, false)}
		}
		if p.resumeData == nil {
			// A fresh download: a partial file an earlier run left (the
			// command's own name, a regular file) goes.
			if err := os.Remove(partial); err == nil && c.o.continueAt && !c.o.silent {
				fmt.Fprintf(c.stderr, "urlsession: WARNING: no resume data for %s; starting again\n", c.o.output+partialSuffix)
			}
		}
	}
	x := newTransfer(c)
	defer func() {
		if x.heads.opened {
			c.headsWritten = true
		}
		if x.body.opened && x.body.toFile() {
			c.wroteOutput = x.body.name
		}
	}()
	x.staged = staged && p.download
	x.retryable = retryable
	x.rangeFrom = p.rangeFrom
	x.from = p.from
	x.keepResume = !p.download && c.keepsResumeData(body)
	x.download = p.download
	x.resumed = p.resumeData != nil
	if x.resumed {
		x.resumedFrom, _ = resume.Decode(p.resumeData)
	}
	if c.claimed != "" {
		// An earlier attempt made this file (-J, --no-clobber): rewrite it.
		x.body.name, x.body.mode = c.claimed, openTruncate
	}
	s, err := urlsession.New(cfg, x)
	if err != nil {
		return outcome{f: &failure{status: exitFailure, code: exitFailure, msg: err.Error()}}
	}
	r := req
	if p.rangeFrom > 0 {
		r = req.Clone(req.Context())
		r.Header.Set("Range", resume.RangeHeader(p.rangeFrom))
		if p.from != nil {
			r.Header.Set("If-Range", resume.Validators{ETag: p.from.ETag, Modified: p.from.Modified}.IfRange())
		}
		// The file holds the bytes as sent: ask for them without a coding.
		r.Header.Set("Accept-Encoding", "identity")
	}

	var task *urlsession.Task
	var dt *urlsession.DownloadTask
	switch {
	case p.download && p.resumeData != nil:
		dt = s.DownloadTaskWithResumeData(p.resumeData)
	case p.download:
		// The run's context ends the task through CancelByProducingResumeData
		// below, not as a plain cancellation that would discard the file.
		dt = s.DownloadTask(r.WithContext(context.WithoutCancel(ctx)))
		if err := dt.SetPartialFile(partial); err != nil {
			dt.Cancel()
			return outcome{f: failureOf(&urlsession.Error{Code: urlsession.ErrCannotCreateFile, Err: err}, false)}
		}
	}
	if dt != nil && c.o.checksum != "" {
		if err := dt.SetExpectedDigest(c.o.checksum); err != nil {
			dt.Cancel()
			return outcome{f: statusFailure(usageErrorf("--checksum: %v", err))}
		}
	}
	switch {
	case dt != nil:
	case body.stdin:
		r.Body, r.ContentLength = io.NopCloser(c.stdin), -1 // sent chunked, as curl -T -
		task = s.UploadTaskWithStreamedRequest(r).Task
	case body.file != "":
		task = s.UploadTaskFromFile(r, body.file).Task
	case body.data != nil:
		task = s.UploadTask(r, body.data).Task
	default:
		task = s.DataTask(r).Task
	}
	if dt != nil {
		task = dt.Task
		stop := context.AfterFunc(ctx, func() { dt.CancelByProducingResumeData(context.Background()) })
		defer stop()
	}
	start := time.Now()
	task.Resume()
	stopWatch := x.watchSpeed(task, func() {
		if dt != nil {
			// As for an interruption: the resume data is kept.
			dt.CancelByProducingResumeData(context.Background())
		} else {
			task.Cancel()
		}
	})
	<-task.Done()
	stopWatch()
	x.elapsed = time.Since(start)
	c.invalidate(s, x, cfg)
	if p.resumeData != nil && ctx.Err() == nil && task.Response() == nil {
		switch urlsession.CodeOf(task.Err()) {
		case urlsession.ErrCannotOpenFile, urlsession.ErrUnsupportedURL:
			// The partial file changed, or the resume data is damaged:
			// start again cleanly rather than splice.
			if !c.o.silent {
				fmt.Fprintf(c.stderr, "urlsession: WARNING: cannot continue from %s (%v); starting again\n",
					c.o.output+resumeSuffix, task.Err())
			}
			c.dropResumeData(p.resumeData)
			return c.attempt(ctx, cfg, req, body, n, retryable)
		}
	}
	f := x.finish(ctx, task)
	if x.body.regular && x.body.mode != openTruncate && x.body.mode != openAppend {
		c.claimed = x.body.name
	}
	out := outcome{f: f, x: x, task: task}
	if dt != nil {
		c.settleDownload(x, task, f)
	} else if x.keepResume {
		c.settleOutput(x, f)
	}
	if f == nil {
		return out
	}
	resp := task.Response()
	switch {
	case x.retryStatus != 0:
		out.retry = true
		out.after, out.hasAfter = retryAfter(resp.Header, time.Now())
	case body.stdin: // standard input cannot be sent twice
	case ctx.Err() != nil || x.writeErr != nil || x.tooBig || x.tooMany:
	case x.failed != "":
		// An HTTP error (with -f): retried only with --retry-all-errors,
		// when nothing of it was written.
		out.retry = c.o.retryAll && (x.received == 0 || x.body.regular)
	case transientError(task.Err()) || x.slow.Load() || c.o.retryAll ||
		c.o.retryRefused && errors.Is(task.Err(), syscall.ECONNREFUSED):
		// Bytes that went where they cannot be taken back (standard
		// output, a FIFO) are not sent twice.
		out.retry = x.download || x.rangeFrom > 0 || x.received == 0 || x.body.regular
	}
	return out
}

// settleDownload keeps the resume data of a failed download task beside
// the output, or removes what is left of it once the output is complete.
func (c *client) settleDownload(x *transfer, task *urlsession.Task, f *failure) {
	if f == nil || x.completed {
		c.dropResumeData(nil)
		return
	}
	data := urlsession.ErrorResumeData(task.Err())
	if data == nil {
		if _, err := os.Stat(c.o.output + partialSuffix); errors.Is(err, fs.ErrNotExist) {
			os.Remove(c.o.output + resumeSuffix) // it described the partial file that is gone
		}
		return
	}
	if err := c.keepResumeData(data); err != nil {
		urlsession.RemoveResumeData(data)
		if !c.o.silent {
			fmt.Fprintf(c.stderr, "urlsession: WARNING: cannot keep the resume data beside %s: %v\n", c.o.output, err)
		}
	}
}

// downloadOnly reports whether an option that only a download task
// carries out was given: --segments (more than one), --checksum or
// --limit-rate.
func (o *options) downloadOnly() bool {
	return o.segments > 1 || o.checksum != "" || o.limitRate > 0
}
