//go:build interop

package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/client"
)

// bgDelegate records a background download's end: the file's bytes, the
// response and metrics the session hands over, and the error.
type bgDelegate struct {
	mu      sync.Mutex
	body    []byte
	resp    *http.Response
	metrics *urlsession.TaskMetrics
	err     error
	done    chan struct{}
	events  chan struct{}
}

func (d *bgDelegate) DidFinishDownloadingTo(s *urlsession.Session, t *urlsession.DownloadTask, path string) {
	b, _ := os.ReadFile(path)
	d.mu.Lock()
	d.body, d.resp = b, t.Response()
	d.mu.Unlock()
}

func (d *bgDelegate) DidFinishCollectingMetrics(s *urlsession.Session, t *urlsession.Task, m *urlsession.TaskMetrics) {
	d.mu.Lock()
	d.metrics = m
	d.mu.Unlock()
}

func (d *bgDelegate) DidCompleteWithError(s *urlsession.Session, t *urlsession.Task, err error) {
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
	close(d.done)
}

func (d *bgDelegate) DidFinishEventsForBackgroundSession(s *urlsession.Session) { close(d.events) }

// TestNginxBackgroundDownload downloads from nginx through the real
// urlsessiond, which the session starts: the file arrives whole, with
// nginx's response head and the transfer's metrics.
func TestNginxBackgroundDownload(t *testing.T) {
	n := startNginx(t)
	gobin := need(t, "go")
	dir := t.TempDir()
	daemon := filepath.Join(dir, "urlsessiond")
	build := exec.Command(gobin, "build", "-o", daemon, "github.com/urlsession-go/urlsession/cmd/urlsessiond")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", run)
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("URLSESSIOND", daemon)
	for _, v := range []string{"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"} {
		t.Setenv(v, "")
	}
	t.Cleanup(func() {
		// The daemon outlives the session: stop it.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if c, err := client.Dial(ctx, api.SocketPath()); err == nil {
			if info, err := c.Info(ctx); err == nil {
				syscall.Kill(info.PID, syscall.SIGTERM)
			}
			c.Close()
		}
	})

	body := make([]byte, 3<<20)
	rand.Read(body)
	if err := os.WriteFile(filepath.Join(n.docroot, "bg.bin"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	d := &bgDelegate{done: make(chan struct{}), events: make(chan struct{})}
	s, err := urlsession.New(urlsession.BackgroundConfiguration("interop-nginx"), d)
	if err != nil {
		t.Fatal(err)
	}
	defer s.InvalidateAndCancel()
	select {
	case <-d.events:
	case <-time.After(time.Minute):
		t.Fatal("no DidFinishEventsForBackgroundSession in a minute")
	}
	req, _ := http.NewRequest("GET", n.plain+"/bg.bin", nil)
	dt := s.DownloadTask(req)
	dt.SetTaskDescription("nginx file")
	dt.Resume()
	select {
	case <-d.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the background download did not complete in two minutes")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil || !bytes.Equal(d.body, body) {
		t.Fatalf("download: %v, %d bytes (want %d, equal)", d.err, len(d.body), len(body))
	}
	if d.resp == nil || d.resp.StatusCode != 200 || !strings.HasPrefix(d.resp.Header.Get("Server"), "nginx") ||
		d.resp.Header.Get("Last-Modified") == "" || d.resp.Header.Get("ETag") == "" {
		t.Errorf("response in DidFinishDownloadingTo: %+v, want nginx's 200 with its validators", d.resp)
	}
	// The metrics hold every request of the last run: a transfer the
	// daemon stopped for a checkpoint and continued has two.
	m := d.metrics
	if m == nil || len(m.Transactions) == 0 {
		t.Fatalf("metrics %+v, want the transfer's requests", m)
	}
	var received int64
	for _, tx := range m.Transactions {
		received += tx.ResponseBodyBytesReceived
		if tx.RemoteAddr == nil || tx.Response == nil || !strings.HasPrefix(tx.Response.Header.Get("Server"), "nginx") {
			t.Errorf("transaction %+v, want one with nginx", tx)
		}
	}
	if received < int64(len(body)) {
		t.Errorf("the transactions received %d body bytes, want at least %d", received, len(body))
	}
	if got := dt.TaskDescription(); got != "nginx file" {
		t.Errorf("description %q", got)
	}
}
