package runner

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
)

// BenchmarkDownload downloads 64 MiB from loopback with checkpoints off,
// at the defaults (8 MiB, 5 s), and every MiB (at most every
// millisecond), to show what checkpoints cost.
func BenchmarkDownload(b *testing.B) {
	const size = 64 << 20
	body := randomBytes(size)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Etag", `"v1"`)
		http.ServeContent(w, r, "f", modTime, bytes.NewReader(body))
	}))
	defer srv.Close()
	for _, bc := range []struct {
		name  string
		bytes int64
		every time.Duration
	}{
		{"off", -1, 0},
		{"default", 0, 0},
		{"1MiB", 1 << 20, time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			r, err := New(Options{Configuration: urlsession.EphemeralConfiguration(),
				PartialDir: filepath.Join(dir, "partial"), CheckpointBytes: bc.bytes, CheckpointInterval: bc.every})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close(context.Background())
			job := api.Job{ID: "bench", Kind: api.Download, File: filepath.Join(dir, "out"),
				Request: api.Request{Method: http.MethodGet, URL: srv.URL + "/f"}}
			b.SetBytes(size)
			for b.Loop() {
				res := r.Run(context.Background(), job, func(server.Progress) {})
				if res.Err != nil || res.StatusCode != 200 {
					b.Fatalf("Run = %+v", res)
				}
				os.Remove(job.File)
			}
		})
	}
}
