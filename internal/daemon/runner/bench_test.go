//go:build unix

package runner

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
)

// BenchmarkDownload downloads 64 MiB from loopback with checkpoints off
// and at the default (one stop, then a checkpoint every MiB without
// stopping), and at the default without syncing the completed file
// (NoSyncDownloads), also with the kernel's autotuned receive buffer
// instead of the one sized to the path (ReceiveBuffer -1), to show what
// checkpoints, the sync and the bounded buffer cost: MB/s and the
// process's CPU seconds per GiB (getrusage; the server runs in the same
// process). The session cases are the same download by a Session of
// the same configuration without the runner, its file then synced or
// not, as a program would download it in-process.
func BenchmarkDownload(b *testing.B) {
	const size = 64 << 20
	body := randomBytes(size)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Etag", `"v1"`)
		http.ServeContent(w, r, "f", modTime, bytes.NewReader(body))
	}))
	defer srv.Close()
	for _, sync := range []bool{false, true} {
		name := "session"
		if sync {
			name += "+sync"
		}
		b.Run(name, func(b *testing.B) {
			s, err := urlsession.New(urlsession.EphemeralConfiguration(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.FinishTasksAndInvalidate()
			b.SetBytes(size)
			cpu0 := cpuTime()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/f", nil)
				path, resp, err := s.Download(context.Background(), req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("Download = %v, %v", resp, err)
				}
				if sync {
					f, err := os.Open(path)
					if err == nil {
						err = f.Sync()
						f.Close()
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				os.Remove(path)
			}
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N)*float64(1<<30)/size, "cpu-s/GiB")
		})
	}
	for _, bc := range []struct {
		name   string
		bytes  int64
		every  time.Duration
		nosync bool
		rcvbuf int
	}{
		{"off", -1, 0, false, 0},
		{"default", 0, 0, false, 0},
		{"default+nosync", 0, 0, true, 0},
		{"default+nosync+autotuning", 0, 0, true, -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			r, err := New(Options{Configuration: urlsession.EphemeralConfiguration(),
				PartialDir: filepath.Join(dir, "partial"), CheckpointBytes: bc.bytes, CheckpointInterval: bc.every,
				NoSyncDownloads: bc.nosync, ReceiveBuffer: bc.rcvbuf})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close(context.Background())
			job := api.Job{ID: "bench", Kind: api.Download, File: filepath.Join(dir, "out"),
				Request: api.Request{Method: http.MethodGet, URL: srv.URL + "/f"}}
			b.SetBytes(size)
			cpu0 := cpuTime()
			for b.Loop() {
				res := r.Run(context.Background(), job, func(server.Progress) {})
				if res.Err != nil || res.StatusCode != 200 {
					b.Fatalf("Run = %+v", res)
				}
				os.Remove(job.File)
			}
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N)*float64(1<<30)/size, "cpu-s/GiB")
		})
	}
}

// cpuTime is the process's user and system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
