//go:build unix

package urlsession_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/resumable"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// heldUploads is a resumable-upload server whose first request of an
// upload stores 64 KiB and answers 503, so that the client resumes it, and
// whose requests number holdAt[i] (appends) wait, after closing holding[i],
// until release[i] is closed, then store nothing (the client that was
// cancelled meanwhile may have sent the whole body to the socket's
// buffers); every other request takes the whole body.
type heldUploads struct {
	*urlsessiontest.ResumableUploads
	srv     *httptest.Server
	calls   atomic.Int32
	holding []chan struct{}
	release []chan struct{}
}

func newHeldUploads(t *testing.T, holdAt ...int32) *heldUploads {
	h := &heldUploads{}
	for range holdAt {
		h.holding = append(h.holding, make(chan struct{}))
		h.release = append(h.release, make(chan struct{}))
	}
	h.ResumableUploads = &urlsessiontest.ResumableUploads{Interrupt: func(int64) (int64, int) {
		n := h.calls.Add(1)
		if n == 1 {
			return 64 << 10, http.StatusServiceUnavailable
		}
		if i := slices.Index(holdAt, n); i >= 0 {
			close(h.holding[i])
			select {
			case <-h.release[i]:
			case <-time.After(time.Minute):
			}
			return 0, 0 // the client went away meanwhile: nothing more is stored
		}
		return -1, 0
	}}
	h.srv = httptest.NewServer(h.ResumableUploads)
	t.Cleanup(func() {
		for i := range h.release {
			h.open(i)
		}
		h.srv.Close()
	})
	return h
}

func (h *heldUploads) open(i int) {
	select {
	case <-h.release[i]:
	default:
		close(h.release[i])
	}
}

// checkStored checks that the server holds one upload, complete with body.
func (h *heldUploads) checkStored(t *testing.T, body []byte) {
	t.Helper()
	ups := h.Uploads()
	if len(ups) != 1 || !ups[0].Complete || !bytes.Equal(ups[0].Data, body) {
		t.Fatalf("the server holds %d uploads, want one complete with the %d bytes", len(ups), len(body))
	}
}

// uploadCallbacks are a recorder's callbacks but progress.
func uploadCallbacks(rec *bgRecorder) []string {
	return slices.DeleteFunc(rec.recorded(), func(l string) bool { return len(l) > 5 && l[:5] == "sent " })
}

// An upload from a file, cancelled in the daemon for its resume data,
// continues in the daemon from that data: it asks the server for its
// offset and appends the rest.
func TestBackgroundUploadCancelByProducingResumeData(t *testing.T) {
	d := startBackgroundDaemon(t)
	h := newHeldUploads(t, 2)
	s, rec := newBackground(t, "upload-resume")
	body := bgBody("upload", 256<<10)
	name := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(name, body, 0o600); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", h.srv.URL+"/upload", nil)
	req.Header.Set("Content-Type", "application/octet-stream")
	ut := s.UploadTaskFromFile(req, name)
	ut.Resume()
	waitClosed(t, h.holding[0], "the daemon's append")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data, err := ut.CancelByProducingResumeData(ctx)
	h.open(0)
	if err != nil || data == nil {
		t.Fatalf("CancelByProducingResumeData: %v, %d bytes of resume data", err, len(data))
	}
	waitClosed(t, ut.Done(), "completion of the cancelled upload")
	var e *urlsession.Error
	if !errors.As(ut.Err(), &e) || e.Code != urlsession.ErrCancelled || !bytes.Equal(e.UploadTaskResumeData, data) {
		t.Fatalf("cancelled upload: %v; want ErrCancelled with the same resume data", ut.Err())
	}
	st, err := resumable.Decode(data)
	if err != nil || st.File != name || st.Location == "" {
		t.Fatalf("resume data %+v, %v: want the upload of %s with its resumption URL", st, err, name)
	}

	again := s.UploadTaskWithResumeData(data)
	if got := again.OriginalRequest().Header.Get("Content-Type"); got != "application/octet-stream" {
		t.Errorf("the resumed upload's Content-Type %q", got)
	}
	again.Resume()
	jobs := d.waitJobs(t, "upload-resume", func(jobs []api.Job) bool { return len(jobs) >= 1 })
	for _, j := range jobs {
		if j.State != api.Cancelled && (j.File != name || j.OwnsFile) {
			t.Errorf("job %+v: want the app's file, not the daemon's", j)
		}
	}
	waitClosed(t, again.Done(), "completion of the upload from resume data")
	if err := again.Err(); err != nil || again.Response() == nil || again.Response().StatusCode != http.StatusCreated {
		t.Fatalf("upload from resume data: %v, response %v", err, again.Response())
	}
	h.checkStored(t, body)
	want := []string{"finished", "complete upload -999 0 resume=true", "complete upload 0 201 resume=false"}
	if got := uploadCallbacks(rec); !slices.Equal(got, want) {
		t.Errorf("callbacks %q, want %q (besides progress)", got, want)
	}
	if _, err := os.Stat(name); err != nil {
		t.Errorf("the app's file: %v", err)
	}
}

// Resume data of an upload from memory (made in a foreground session, in
// each interop version) continues in a background session: its body goes
// to a 0600 file of the daemon's, removed once the daemon forgets the job.
func TestBackgroundUploadFromMemoryResumeData(t *testing.T) {
	for _, v := range []int{3, 5, 6} {
		t.Run(fmt.Sprintf("version %d", v), func(t *testing.T) { backgroundUploadFromMemory(t, v) })
	}
}

func backgroundUploadFromMemory(t *testing.T, version int) {
	d := startBackgroundDaemon(t)
	h := newHeldUploads(t, 2, 3)
	body := bgBody("upload", 256<<10)
	cfg := urlsession.EphemeralConfiguration()
	cfg.ResumableUploadVersion = version
	fg, err := urlsession.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fg.InvalidateAndCancel()
	req, _ := http.NewRequest("PUT", h.srv.URL+"/upload", nil)
	ut := fg.UploadTask(req, body)
	ut.Resume()
	waitClosed(t, h.holding[0], "the first append")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data, err := ut.CancelByProducingResumeData(ctx)
	if err != nil || data == nil {
		t.Fatalf("CancelByProducingResumeData: %v, %d bytes", err, len(data))
	}
	if st, err := resumable.Decode(data); err != nil || st.File != "" || st.BodyOffset != 64<<10 || st.Version != version {
		t.Fatalf("foreground resume data %+v, %v: want the body from 64 KiB", st, err)
	}
	h.open(0)

	s, rec := newBackground(t, "upload-memory")
	bt := s.UploadTaskWithResumeData(data)
	bt.Resume()
	waitClosed(t, h.holding[1], "the daemon's append") // it waits while the job is checked
	jobs := d.srv.Jobs("upload-memory")
	uploads := filepath.Join(os.Getenv("XDG_DATA_HOME"), "urlsession", "uploads")
	if len(jobs) != 1 || !jobs[0].OwnsFile || filepath.Dir(jobs[0].File) != uploads {
		t.Fatalf("jobs %+v: want one owning a file in %s", jobs, uploads)
	}
	info, err := os.Stat(jobs[0].File)
	if err != nil || info.Mode().Perm() != 0o600 || info.Size() != int64(len(body)) {
		t.Fatalf("the daemon's file: %v, %v", info, err)
	}
	h.open(1)
	waitClosed(t, bt.Done(), "completion of the upload")
	if err := bt.Err(); err != nil || bt.Response() == nil || bt.Response().StatusCode != http.StatusCreated {
		t.Fatalf("upload: %v, response %v", err, bt.Response())
	}
	h.checkStored(t, body)
	if got, want := uploadCallbacks(rec), []string{"finished", "complete upload 0 201 resume=false"}; !slices.Equal(got, want) {
		t.Errorf("callbacks %q, want %q (besides progress)", got, want)
	}
	d.waitJobs(t, "upload-memory", func(jobs []api.Job) bool { return len(jobs) == 0 })
	if left, err := os.ReadDir(uploads); err != nil || len(left) != 0 {
		t.Errorf("the uploads directory after the job: %v, %v", left, err)
	}
	if got := bt.CountOfBytesSent(); got != int64(len(body)) {
		t.Errorf("CountOfBytesSent %d, want %d", got, len(body))
	}
	// DidSendBodyData counts from the 64 KiB the server held, as a task in
	// process made from the same data does: the bytes it reports add up
	// to the rest of the body.
	checkCountsFrom(t, rec.recorded(), "sent", 64<<10, int64(len(body)))
}

// checkCountsFrom checks the progress callbacks among lines (verb
// "sent" for DidSendBodyData, "progress" for DidWriteData): each total
// grows from base by the bytes reported, the last one is end.
func checkCountsFrom(t *testing.T, lines []string, verb string, base, end int64) {
	t.Helper()
	prev, calls := base, 0
	for _, l := range lines {
		var name string
		var n, total, expected int64
		if _, err := fmt.Sscanf(l, verb+" %s %d %d %d", &name, &n, &total, &expected); err != nil {
			continue
		}
		calls++
		if n <= 0 || total != prev+n {
			t.Errorf("%s (%d, %d) after a total of %d: the bytes reported do not add up", verb, n, total, prev)
		}
		prev = total
	}
	if calls == 0 {
		t.Fatalf("no %s callback", verb)
	}
	if prev != end {
		t.Errorf("the last %s total is %d, want %d", verb, prev, end)
	}
}
