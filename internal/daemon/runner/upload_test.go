//go:build unix

package runner

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// TestUploadOwnFileNeverStartsOver: when the server no longer has an
// upload, a job of the app's file starts it over, but a job owning its
// file (written from resume data, its first bytes not the upload's)
// fails instead.
func TestUploadOwnFileNeverStartsOver(t *testing.T) {
	body := randomBytes(512 << 10)
	var cut atomic.Bool
	cut.Store(true)
	rs := &urlsessiontest.ResumableUploads{Interrupt: func(offset int64) (int64, int) {
		if cut.Load() && offset == 0 {
			return 128 << 10, http.StatusServiceUnavailable
		}
		if cut.Load() {
			return 0, 0
		}
		return -1, 0
	}}
	var forgotten atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if forgotten.Load() && r.Method != http.MethodPost {
			http.NotFound(w, r) // the resumption URL is gone
			return
		}
		rs.ServeHTTP(w, r)
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, nil)
	job := api.Job{ID: "up", Session: "s", Kind: api.Upload, File: file,
		Request: api.Request{Method: http.MethodPost, URL: srv.URL + "/up"}}
	res := r.Run(context.Background(), job, func(server.Progress) {})
	if res.ResumeData == nil {
		t.Fatalf("the upload failed without resume data (%v)", res.Err)
	}
	cut.Store(false)
	forgotten.Store(true)
	job.ResumeData = res.ResumeData

	owned := job
	owned.OwnsFile = true
	res = r.Run(context.Background(), owned, func(server.Progress) {})
	var te *server.TransferError
	if !errors.As(res.Err, &te) || res.StatusCode != 0 {
		t.Fatalf("owned file, upload gone: %+v (%v), want a failure", res, res.Err)
	}
	if n := len(rs.Uploads()); n != 1 {
		t.Fatalf("the server has %d uploads, want the first only", n)
	}

	res = r.Run(context.Background(), job, func(server.Progress) {})
	if res.Err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("the app's file, upload gone: %+v (%v), want it sent again", res, res.Err)
	}
	if ups := rs.Uploads(); len(ups) != 2 || !ups[1].Complete {
		t.Fatalf("the server has %d uploads, want a second, complete", len(ups))
	}
}
