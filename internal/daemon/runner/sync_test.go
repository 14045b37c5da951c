//go:build unix

package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/urlsession-go/urlsession/internal/daemon/server"
	"github.com/urlsession-go/urlsession/internal/resume"
)

// TestDownloadSync: a completed download is synced before the job is
// reported complete (the session's file, the directory of the job's File
// it is renamed into, then the job's File and the directory of the
// Destination it moves to), and not at all with NoSyncDownloads; either
// way the file at the destination is the body.
func TestDownloadSync(t *testing.T) {
	o := newOrigin(t, 3<<20+11)
	for _, nosync := range []bool{false, true} {
		t.Run(fmt.Sprint("NoSyncDownloads=", nosync), func(t *testing.T) {
			r := newRunner(t, func(opts *Options) {
				opts.NoSyncDownloads = nosync
				opts.CheckpointBytes = 0 // the default: live checkpoints
			})
			var mu sync.Mutex
			var synced []string
			r.fsync = func(f *os.File) error {
				mu.Lock()
				synced = append(synced, f.Name())
				mu.Unlock()
				return f.Sync()
			}
			job := downloadJob(t, o.srv.URL+"/f")
			job.Destination = filepath.Join(t.TempDir(), "dest")
			res := r.Run(context.Background(), job, func(server.Progress) {})
			if res.Err != nil || res.StatusCode != 200 || res.File != job.Destination {
				t.Fatalf("Run = %+v, want status 200, file %s", res, job.Destination)
			}
			checkFile(t, job.Destination, o.body)
			mu.Lock()
			defer mu.Unlock()
			if nosync {
				if len(synced) != 0 {
					t.Errorf("synced %q with NoSyncDownloads", synced)
				}
				return
			}
			want := []string{filepath.Dir(job.File), job.File, filepath.Dir(job.Destination)}
			if len(synced) != 4 || !slices.Equal(synced[1:], want) {
				t.Errorf("synced %q, want the session's file, then %q", synced, want)
			}
		})
	}
}

// TestWritebackOnlyWhenSyncing: a live checkpoint starts the partial
// file's write-back only when completed downloads are synced.
func TestWritebackOnlyWhenSyncing(t *testing.T) {
	if !haveWriteback {
		t.Skip("no write-back on this system")
	}
	path := filepath.Join(t.TempDir(), "p.partial")
	if err := os.WriteFile(path, randomBytes(200<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	from := &resume.Data{URL: "http://127.0.0.1:1/f", ETag: `"v1"`, Total: 1 << 20, File: path}
	for _, syncing := range []bool{true, false} {
		lc := &liveCheckpoint{syncing: syncing}
		rd, n, err := lc.make(from, 0)
		if err != nil || rd == nil || n != 200<<10 {
			t.Fatalf("make = %d bytes of resume data, %d, %v", len(rd), n, err)
		}
		if started := lc.wb != nil; started != syncing {
			t.Errorf("syncing %v: write-back started %v", syncing, started)
		}
		lc.close()
	}
}
