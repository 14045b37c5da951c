//go:build unix

package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
	"github.com/urlsession-go/urlsession/internal/resume"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

var modTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// origin serves body at /f with a strong ETag and byte ranges. A request
// without a Range header goes through hook first, which may write part
// of the body itself and return true to end the response there.
type origin struct {
	t    *testing.T
	body []byte
	srv  *httptest.Server

	mu     sync.Mutex
	ranges []string // Range header of each request
	hook   func(w http.ResponseWriter, r *http.Request) bool
}

func newOrigin(t *testing.T, size int) *origin {
	o := &origin{t: t, body: randomBytes(size)}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.ranges = append(o.ranges, r.Header.Get("Range"))
	hook := o.hook
	o.mu.Unlock()
	w.Header().Set("Etag", `"v1"`)
	if r.Header.Get("Range") == "" && hook != nil && hook(w, r) {
		return
	}
	http.ServeContent(w, r, "f", modTime, bytes.NewReader(o.body))
}

func (o *origin) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	o.mu.Lock()
	o.hook = h
	o.mu.Unlock()
}

func (o *origin) rangesSeen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ranges...)
}

// partialBody writes the headers of the whole body and its first n bytes.
func (o *origin) partialBody(w http.ResponseWriter, n int) {
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Last-Modified", modTime.Format(http.TimeFormat))
	w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
	w.WriteHeader(http.StatusOK)
	w.Write(o.body[:n])
	w.(http.Flusher).Flush()
}

func newRunner(t *testing.T, mod func(*Options)) *Runner {
	t.Helper()
	opts := Options{
		Configuration:   urlsession.EphemeralConfiguration(),
		PartialDir:      filepath.Join(t.TempDir(), "partial"),
		CheckpointBytes: -1,
	}
	if mod != nil {
		mod(&opts)
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return r
}

func downloadJob(t *testing.T, url string) api.Job {
	return api.Job{
		ID: "j" + strconv.Itoa(rand.IntN(1e9)), Session: "s", Kind: api.Download,
		Request: api.Request{Method: http.MethodGet, URL: url},
		File:    filepath.Join(t.TempDir(), "out.download"),
	}
}

// progressLog records progress reports.
type progressLog struct {
	mu          sync.Mutex
	reports     []server.Progress
	checkpoints chan []byte
}

func newProgressLog() *progressLog { return &progressLog{checkpoints: make(chan []byte, 100)} }

func (p *progressLog) add(pr server.Progress) {
	p.mu.Lock()
	p.reports = append(p.reports, pr)
	p.mu.Unlock()
	if pr.ResumeData != nil {
		select {
		case p.checkpoints <- pr.ResumeData:
		default:
		}
	}
}

func (p *progressLog) last() server.Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reports) == 0 {
		return server.Progress{}
	}
	return p.reports[len(p.reports)-1]
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("%s: %d bytes, not the %d bytes served", path, len(got), len(want))
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, perm)
	}
}

func TestDownload(t *testing.T) {
	o := newOrigin(t, 3<<20+17)
	r := newRunner(t, nil)
	job := downloadJob(t, o.srv.URL+"/f")
	p := newProgressLog()
	res := r.Run(context.Background(), job, p.add)
	if res.Err != nil || res.StatusCode != 200 || res.File != job.File {
		t.Fatalf("Run = %+v, want status 200, file %s", res, job.File)
	}
	checkFile(t, job.File, o.body)
	if last := p.last(); last.BytesDone != int64(len(o.body)) || last.BytesExpected != int64(len(o.body)) {
		t.Errorf("last progress %+v, want %d of %d", last, len(o.body), len(o.body))
	}
	if res.BytesDone != int64(len(o.body)) {
		t.Errorf("BytesDone %d, want %d", res.BytesDone, len(o.body))
	}
}

func TestDownloadStatusIsNotAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nothing here", http.StatusNotFound)
	}))
	defer srv.Close()
	r := newRunner(t, nil)
	job := downloadJob(t, srv.URL+"/missing")
	res := r.Run(context.Background(), job, func(server.Progress) {})
	if res.Err != nil || res.StatusCode != 404 {
		t.Fatalf("Run = %+v, want status 404 and no error", res)
	}
	checkFile(t, job.File, []byte("nothing here\n"))
}

// TestDownloadResetMidBody: the server closes the connection half-way;
// the run fails transiently with resume data whose partial file is in
// the partial directory, and the next run continues with a range request
// and completes byte-identical.
func TestDownloadResetMidBody(t *testing.T) {
	o := newOrigin(t, 2<<20)
	half := len(o.body) / 2
	o.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		o.partialBody(w, half)
		panic(http.ErrAbortHandler)
	})
	r := newRunner(t, nil)
	job := downloadJob(t, o.srv.URL+"/f")
	res := r.Run(context.Background(), job, func(server.Progress) {})
	var te *server.TransferError
	if !errors.As(res.Err, &te) || te.Permanent {
		t.Fatalf("Run error %v, want a transient TransferError", res.Err)
	}
	if te.Code != int(urlsession.ErrNetworkConnectionLost) {
		t.Errorf("code %d, want %d", te.Code, urlsession.ErrNetworkConnectionLost)
	}
	d, err := resume.Decode(res.ResumeData)
	if err != nil {
		t.Fatalf("resume data: %v", err)
	}
	if d.File != r.partialPath(job) || d.Offset != int64(half) || res.BytesDone != int64(half) {
		t.Fatalf("resume data file %s offset %d (BytesDone %d), want %s at %d", d.File, d.Offset, res.BytesDone, r.partialPath(job), half)
	}
	if _, err := os.Stat(job.File); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the destination exists before the download completed: %v", err)
	}

	o.setHook(nil)
	job.ResumeData = res.ResumeData
	res = r.Run(context.Background(), job, func(server.Progress) {})
	if res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("resumed Run = %+v, want status 200", res)
	}
	checkFile(t, job.File, o.body)
	if got := o.rangesSeen(); len(got) != 2 || got[1] != "bytes="+strconv.Itoa(half)+"-" {
		t.Errorf("ranges asked %q, want the second from %d", got, half)
	}
	if _, err := os.Stat(r.partialPath(job)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the partial file is left: %v", err)
	}
}

// stalledOrigin returns an origin of 4 MiB whose responses without a
// Range header send the first half of the body and stall there until the
// test ends or the client leaves; setHook(nil) lets it serve all.
func stalledOrigin(t *testing.T) (o *origin, half int) {
	o = newOrigin(t, 4<<20)
	half = len(o.body) / 2
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	o.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		o.partialBody(w, half)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	return o, half
}

// stopAfterMiB runs job until a MiB has been reported, then stops it, and
// returns the Run's result.
func stopAfterMiB(r *Runner, job api.Job) server.Result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	return r.Run(ctx, job, func(p server.Progress) {
		if p.BytesDone >= 1<<20 {
			cancel()
		}
	})
}

// TestDownloadStop: the context's end stops the transfer into resume
// data, from which the next run completes.
func TestDownloadStop(t *testing.T) {
	// Progress comes after each MiB written: stall after more than one.
	o, half := stalledOrigin(t)
	r := newRunner(t, nil)
	job := downloadJob(t, o.srv.URL+"/f")
	res := stopAfterMiB(r, job)
	if res.StatusCode != 0 || res.ResumeData == nil {
		t.Fatalf("stopped Run = %+v, want resume data and no status", res)
	}
	if offsetOf(res.ResumeData) != res.BytesDone || res.BytesDone > int64(half) {
		t.Errorf("BytesDone %d, resume data at %d, want them equal and at most %d", res.BytesDone, offsetOf(res.ResumeData), half)
	}
	o.setHook(nil)
	job.ResumeData = res.ResumeData
	res = r.Run(context.Background(), job, func(server.Progress) {})
	if res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("resumed Run = %+v, want it complete", res)
	}
	// The 206 that finished the body is reported as the whole resource's
	// 200.
	if h := res.Response; h == nil || h.StatusCode != 200 || h.Header.Get("Content-Range") != "" ||
		h.Header.Get("Content-Length") != strconv.Itoa(len(o.body)) || h.URL != job.Request.URL {
		t.Errorf("resumed Run's response %+v, want a 200 for all %d bytes at %s", h, len(o.body), job.Request.URL)
	}
	checkFile(t, job.File, o.body)
	if got := o.rangesSeen(); len(got) != 2 || (offsetOf(job.ResumeData) > 0 && got[1] != "bytes="+strconv.FormatInt(offsetOf(job.ResumeData), 10)+"-") {
		t.Errorf("ranges asked %q, want the second from the resume data's offset", got)
	}
}

// TestDownloadRangesIgnored: a server that offers byte ranges but answers
// every range request with the whole body is stopped for a checkpoint
// once; the task that continues runs to the end instead of being stopped
// and started over again and again.
func TestDownloadRangesIgnored(t *testing.T) {
	body := randomBytes(6 << 20)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		for off := 0; off < len(body); off += 64 << 10 {
			if _, err := w.Write(body[off : off+64<<10]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond) // slow enough for progress reports, which come every 100 ms, to find checkpoints due
		}
	}))
	defer srv.Close()
	r := newRunner(t, func(o *Options) {
		o.CheckpointBytes = 1 << 20
		o.CheckpointInterval = time.Millisecond
	})
	job := downloadJob(t, srv.URL+"/f")
	res := r.Run(context.Background(), job, func(server.Progress) {})
	if res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("Run = %+v (%v), want it complete", res, res.Err)
	}
	checkFile(t, job.File, body)
	if n := requests.Load(); n > 2 {
		t.Errorf("%d requests, want at most 2: one stop for a checkpoint, then to the end", n)
	}
}

// TestDownloadResumedBusy: a resumed download answered 503 keeps its
// resume data, so the retry continues the partial file instead of
// starting again from byte 0.
func TestDownloadResumedBusy(t *testing.T) {
	o, _ := stalledOrigin(t)
	// busy makes the next request a 503, whatever it asks for.
	var busy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if busy.CompareAndSwap(true, false) {
			if r.Header.Get("Range") == "" {
				t.Errorf("the resumed request asked for the whole body")
			}
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		o.serve(w, r)
	}))
	defer srv.Close()
	r := newRunner(t, nil)
	job := downloadJob(t, srv.URL+"/f")
	res := stopAfterMiB(r, job)
	if res.ResumeData == nil {
		t.Fatalf("stopped Run = %+v, want resume data", res)
	}
	offset := offsetOf(res.ResumeData)
	o.setHook(nil)
	busy.Store(true)
	job.ResumeData = res.ResumeData
	res = r.Run(context.Background(), job, func(server.Progress) {})
	var te *server.TransferError
	if !errors.As(res.Err, &te) || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("Run answered 503 = %+v (%v), want a transient error", res, res.Err)
	}
	if res.ResumeData == nil || offsetOf(res.ResumeData) != offset || res.BytesDone != offset {
		t.Fatalf("after the 503: resume data at %d (%d done), want the %d bytes kept", offsetOf(res.ResumeData), res.BytesDone, offset)
	}
	job.ResumeData = res.ResumeData
	res = r.Run(context.Background(), job, func(server.Progress) {})
	if res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("retried Run = %+v, want it complete", res)
	}
	checkFile(t, job.File, o.body)
	if got := o.rangesSeen(); got[len(got)-1] != "bytes="+strconv.FormatInt(offset, 10)+"-" {
		t.Errorf("ranges asked %q, want the last from byte %d", got, offset)
	}
}

// TestDownloadCheckpointAndCrash: a running download reports checkpoints;
// a partial file that grew past its checkpoint (a daemon killed after
// it) is cut back, and the download continues from the checkpoint.
func TestDownloadCheckpointAndCrash(t *testing.T) {
	o := newOrigin(t, 4<<20)
	const first = 1 << 20
	release := make(chan struct{})
	var releaseOnce sync.Once
	o.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		o.partialBody(w, first)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	defer releaseOnce.Do(func() { close(release) })
	r := newRunner(t, func(o *Options) {
		o.CheckpointBytes = 64 << 10
		o.CheckpointInterval = time.Millisecond
	})
	job := downloadJob(t, o.srv.URL+"/f")
	p := newProgressLog()
	done := make(chan server.Result, 1)
	go func() { done <- r.Run(context.Background(), job, p.add) }()
	var cp []byte
	select {
	case cp = <-p.checkpoints:
	case res := <-done:
		t.Fatalf("Run ended without a checkpoint: %+v", res)
	}
	d, err := resume.Decode(cp)
	if err != nil {
		t.Fatal(err)
	}
	// The first checkpoint stops the task as soon as CheckpointBytes
	// arrived, before or at the pause.
	if d.File != r.partialPath(job) || d.Offset < 64<<10 || d.Offset > first {
		t.Fatalf("checkpoint file %s offset %d, want %s at 64 KiB to %d", d.File, d.Offset, r.partialPath(job), first)
	}
	res := <-done
	if res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("Run = %+v, want status 200 after the checkpoint", res)
	}
	checkFile(t, job.File, o.body)

	// The crash: a partial file at the checkpoint, then more bytes
	// appended after it, as a task continuing from it writes.
	job2 := downloadJob(t, o.srv.URL+"/f")
	own := r.partialPath(job2)
	if err := os.WriteFile(own, o.body[:first], 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(own)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := resume.FingerprintOf(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	d.File = own
	d.SetFingerprint(fp)
	cp2, err := resume.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	f, err = os.OpenFile(own, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(o.body[first : first+300<<10])
	f.Close()
	os.Chtimes(own, time.Time{}, time.Now().Add(time.Hour))

	releaseOnce.Do(func() { close(release) })
	o.setHook(nil)
	job2.ResumeData = cp2
	before := len(o.rangesSeen())
	res = r.Run(context.Background(), job2, func(server.Progress) {})
	if res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("Run after the crash = %+v, want status 200", res)
	}
	checkFile(t, job2.File, o.body)
	// Further checkpoints may follow, each continuing further on.
	got := o.rangesSeen()[before:]
	if len(got) == 0 || got[0] != "bytes="+strconv.Itoa(first)+"-" {
		t.Fatalf("ranges asked after the crash %q, want the first from %d", got, first)
	}
	prev := int64(first)
	for _, g := range got[1:] {
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(g, "bytes="), "-"), 10, 64)
		if err != nil || n <= prev {
			t.Errorf("ranges asked after the crash %q: they must move forward", got)
			break
		}
		prev = n
	}
}

// TestDownloadStaleResumeData: resume data whose partial file is gone
// starts the download over.
func TestDownloadStaleResumeData(t *testing.T) {
	o := newOrigin(t, 256<<10)
	r := newRunner(t, nil)
	job := downloadJob(t, o.srv.URL+"/f")
	d := &resume.Data{URL: o.srv.URL + "/f", ETag: `"v1"`, Total: int64(len(o.body)), File: r.partialPath(job)}
	d.SetFingerprint(resume.Fingerprint{Size: 10, MTime: 1, Tail: strings.Repeat("ab", 32)})
	rd, err := resume.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	job.ResumeData = rd
	res := r.Run(context.Background(), job, func(server.Progress) {})
	if res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("Run = %+v, want a fresh download with status 200", res)
	}
	checkFile(t, job.File, o.body)

	job = downloadJob(t, o.srv.URL+"/f")
	job.ResumeData = []byte("not resume data")
	res = r.Run(context.Background(), job, func(server.Progress) {})
	if res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("Run with garbage resume data = %+v, want status 200", res)
	}
	checkFile(t, job.File, o.body)
}

func TestDownloadRetryAfter(t *testing.T) {
	for _, status := range []int{429, 503} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "120")
			http.Error(w, "busy", status)
		}))
		r := newRunner(t, nil)
		job := downloadJob(t, srv.URL+"/f")
		res := r.Run(context.Background(), job, func(server.Progress) {})
		srv.Close()
		var te *server.TransferError
		if !errors.As(res.Err, &te) || te.Permanent || te.RetryAfter != 120*time.Second || res.StatusCode != status {
			t.Fatalf("%d: Run = %+v (%v), want a transient error retrying after 120 s", status, res, res.Err)
		}
		if _, err := os.Stat(job.File); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%d: the error body was handed over: %v", status, err)
		}
	}
}

func TestDownloadErrors(t *testing.T) {
	ln := httptest.NewServer(http.NotFoundHandler())
	closed := ln.URL
	ln.Close()
	r := newRunner(t, nil)
	for _, tc := range []struct {
		url       string
		code      urlsession.Code
		permanent bool
	}{
		{closed + "/f", urlsession.ErrCannotConnectToHost, false},
		{"http://[::1/f", urlsession.ErrBadURL, true},
	} {
		job := downloadJob(t, tc.url)
		res := r.Run(context.Background(), job, func(server.Progress) {})
		var te *server.TransferError
		if !errors.As(res.Err, &te) || te.Code != int(tc.code) || te.Permanent != tc.permanent {
			t.Errorf("%s: error %v, want code %d permanent %v", tc.url, res.Err, tc.code, tc.permanent)
		}
	}
}

func TestDownloadDestinationMissing(t *testing.T) {
	o := newOrigin(t, 100<<10)
	r := newRunner(t, nil)
	job := downloadJob(t, o.srv.URL+"/f")
	job.File = filepath.Join(t.TempDir(), "no such directory", "out")
	res := r.Run(context.Background(), job, func(server.Progress) {})
	var te *server.TransferError
	if !errors.As(res.Err, &te) || te.Code != int(urlsession.ErrCannotMoveFile) || !te.Permanent {
		t.Fatalf("Run = %+v (%v), want a permanent -3005", res, res.Err)
	}
}

func TestUpload(t *testing.T) {
	body := randomBytes(1<<20 + 5)
	var got []byte
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = b
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, nil)
	job := api.Job{ID: "up", Session: "s", Kind: api.Upload, File: file,
		Request: api.Request{Method: http.MethodPut, URL: srv.URL + "/up"}}
	p := newProgressLog()
	res := r.Run(context.Background(), job, p.add)
	if res.Err != nil || res.StatusCode != 201 || res.File != "" {
		t.Fatalf("Run = %+v, want status 201", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(got, body) {
		t.Fatalf("server got %d bytes, want the %d of the file", len(got), len(body))
	}
	if last := p.last(); last.BytesDone != int64(len(body)) {
		t.Errorf("last progress %+v, want %d bytes sent", last, len(body))
	}

	job.File = filepath.Join(t.TempDir(), "missing")
	res = r.Run(context.Background(), job, func(server.Progress) {})
	var te *server.TransferError
	if !errors.As(res.Err, &te) || !te.Permanent {
		t.Errorf("upload of a missing file: %v, want a permanent error", res.Err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{" 120 ", 120 * time.Second},
		{"12a", 0},
		{"-5", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"soon", 0},
		{"99999999999999999999", (1 << 31) * time.Second},
	} {
		if got := RetryAfter(tc.in, now); got != tc.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestUploadResume: a resumable upload whose connection keeps breaking
// fails with resume data; the next run continues it on the server and
// completes.
func TestUploadResume(t *testing.T) {
	body := randomBytes(1<<20 + 3)
	var broken sync.Mutex
	breaking := true
	rs := &urlsessiontest.ResumableUploads{Interrupt: func(offset int64) (int64, int) {
		broken.Lock()
		defer broken.Unlock()
		if !breaking {
			return -1, 0
		}
		if offset == 0 {
			// A 503 once 256 KiB are stored: unlike a reset, it cannot
			// overtake the 104 that names the resumption URL.
			return 256 << 10, http.StatusServiceUnavailable
		}
		return 0, 0 // and at once on every append
	}}
	srv := httptest.NewServer(rs)
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, nil)
	job := api.Job{ID: "up", Session: "s", Kind: api.Upload, File: file,
		Request: api.Request{Method: http.MethodPost, URL: srv.URL + "/up"}}
	res := r.Run(context.Background(), job, func(server.Progress) {})
	var te *server.TransferError
	if !errors.As(res.Err, &te) || te.Permanent {
		t.Fatalf("Run = %+v (%v), want a transient failure", res, res.Err)
	}
	if res.ResumeData == nil {
		t.Fatalf("the upload failed without resume data (%v)", res.Err)
	}
	broken.Lock()
	breaking = false
	broken.Unlock()
	job.ResumeData = res.ResumeData
	res = r.Run(context.Background(), job, func(server.Progress) {})
	if res.Err != nil || res.StatusCode != 201 {
		t.Fatalf("resumed Run = %+v (%v), want status 201", res, res.Err)
	}
	ups := rs.Uploads()
	if len(ups) != 1 || !ups[0].Complete || !bytes.Equal(ups[0].Data, body) {
		t.Fatalf("server holds %d uploads; want one complete with the file", len(ups))
	}
}

func TestDownloadDestination(t *testing.T) {
	o := newOrigin(t, 1<<20+3)
	r := newRunner(t, nil)
	job := downloadJob(t, o.srv.URL+"/f")
	dir := t.TempDir()
	job.Destination = filepath.Join(dir, "out.bin")
	// An existing file is replaced, at completion only.
	if err := os.WriteFile(job.Destination, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if got, err := os.ReadFile(job.Destination); err != nil || string(got) != "old" {
			t.Errorf("destination while the body is sent: %q, %v; want the old file", got, err)
		}
		return false
	})
	res := r.Run(context.Background(), job, func(server.Progress) {})
	if res.Err != nil || res.StatusCode != 200 || res.File != job.Destination {
		t.Fatalf("Run = %+v, want status 200, file %s", res, job.Destination)
	}
	checkFile(t, job.Destination, o.body)
	if _, err := os.Stat(job.File); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the job's own file is still there: %v", err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 1 {
		t.Errorf("destination directory holds %v, want only out.bin", files)
	}
}

// TestDownloadDestinationOtherFileSystem moves the file across file
// systems: from the temporary directory to /dev/shm.
func TestDownloadDestinationOtherFileSystem(t *testing.T) {
	shm, err := os.MkdirTemp("/dev/shm", "runner-test-")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	o := newOrigin(t, 300<<10)
	r := newRunner(t, nil)
	job := downloadJob(t, o.srv.URL+"/f")
	if sameDevice(t, filepath.Dir(job.File), shm) {
		t.Skip("/dev/shm is on the file system of the temporary directory")
	}
	job.Destination = filepath.Join(shm, "out.bin")
	res := r.Run(context.Background(), job, func(server.Progress) {})
	if res.Err != nil || res.StatusCode != 200 || res.File != job.Destination {
		t.Fatalf("Run = %+v, want status 200, file %s", res, job.Destination)
	}
	checkFile(t, job.Destination, o.body)
	if files, _ := filepath.Glob(filepath.Join(shm, "*")); len(files) != 1 {
		t.Errorf("%s holds %v, want only out.bin (no temporary file left)", shm, files)
	}
	if _, err := os.Stat(job.File); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the job's own file is still there: %v", err)
	}
}

func sameDevice(t *testing.T, a, b string) bool {
	t.Helper()
	ia, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return ia.Sys().(*syscall.Stat_t).Dev == ib.Sys().(*syscall.Stat_t).Dev
}

func TestDownloadDestinationCannotMove(t *testing.T) {
	o := newOrigin(t, 200<<10)
	r := newRunner(t, nil)
	for _, tc := range []struct {
		name string
		dest func(dir string) string
	}{
		{"missing directory", func(dir string) string { return filepath.Join(dir, "gone", "out") }},
		{"a directory", func(dir string) string {
			d := filepath.Join(dir, "out")
			if err := os.MkdirAll(filepath.Join(d, "x"), 0o700); err != nil {
				t.Fatal(err)
			}
			return d
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := downloadJob(t, o.srv.URL+"/f")
			job.Destination = tc.dest(t.TempDir())
			res := r.Run(context.Background(), job, func(server.Progress) {})
			var te *server.TransferError
			if !errors.As(res.Err, &te) || te.Code != int(urlsession.ErrCannotMoveFile) || !te.Permanent {
				t.Fatalf("Run = %+v (%v), want a permanent -3005", res, res.Err)
			}
			if !strings.Contains(te.Message, job.File) {
				t.Errorf("message %q does not say where the file is kept", te.Message)
			}
			checkFile(t, job.File, o.body)
			if res.StatusCode != 200 {
				t.Errorf("status %d, want 200", res.StatusCode)
			}
		})
	}
}
