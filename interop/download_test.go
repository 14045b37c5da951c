//go:build interop

package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/resume"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// downloadSession is a session without a URL cache, trusting nginx.
func (n *nginx) downloadSession(t *testing.T) *urlsession.Session {
	cfg := urlsession.DefaultConfiguration()
	cfg.Proxy = urlsession.NoProxy
	cfg.URLCache = nil
	cfg.TLSClientConfig = &tls.Config{RootCAs: n.roots}
	s, err := urlsession.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.InvalidateAndCancel)
	return s
}

func download(t *testing.T, s *urlsession.Session, u string, data []byte) (string, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if data != nil {
		return s.DownloadWithResumeData(ctx, data)
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.Download(ctx, req)
}

// TestNginxDownloadResume resumes a download from nginx through a proxy
// that resets the connection 20 times, then checks nginx's answers to
// the range requests of a resumed download: 206, 200 for a replaced file,
// 416 for a complete one.
func TestNginxDownloadResume(t *testing.T) {
	n := startNginx(t)
	content := pattern(3 << 20)
	origin, _ := url.Parse(n.plain)
	proxy := httptest.NewServer(urlsessiontest.NewFaultProxy(origin, func(i int, r *http.Request) urlsessiontest.Fault {
		if i < 20 {
			return urlsessiontest.Fault{Kind: urlsessiontest.Reset, At: int64(100000 + i*1000)}
		}
		return urlsessiontest.Fault{}
	}))
	defer proxy.Close()
	s := n.downloadSession(t)

	path, resp, err := download(t, s, proxy.URL+"/blob.bin", nil)
	rounds := 0
	for err != nil {
		data := urlsession.ErrorResumeData(err)
		if data == nil {
			t.Fatalf("round %d: %v without resume data", rounds, err)
		}
		if rounds++; rounds > 25 {
			t.Fatal("too many rounds")
		}
		path, resp, err = download(t, s, "", data)
	}
	defer os.Remove(path)
	got, _ := os.ReadFile(path)
	if rounds != 20 || resp.StatusCode != 206 || !bytes.Equal(got, content) {
		t.Fatalf("%d rounds, status %d, %d bytes", rounds, resp.StatusCode, len(got))
	}

	for _, base := range []string{n.plain, n.secure} {
		// A partial file of the first 1000 bytes, with nginx's validator.
		head, _ := http.NewRequest(http.MethodHead, base+"/blob.bin", nil)
		_, hresp, err := s.Data(context.Background(), head)
		if err != nil {
			t.Fatal(err)
		}
		etag := hresp.Header.Get("Etag")
		partial := func(part []byte) []byte {
			name := filepath.Join(t.TempDir(), "partial")
			os.WriteFile(name, part, 0o600)
			f, _ := os.Open(name)
			fp, err := resume.FingerprintOf(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			d := &resume.Data{URL: base + "/blob.bin", ETag: etag, Total: int64(len(content)), File: name}
			d.SetFingerprint(fp)
			data, err := resume.Encode(d)
			if err != nil {
				t.Fatalf("nginx's entity tag %q: %v", etag, err)
			}
			return data
		}
		path, resp, err := download(t, s, "", partial(content[:1000]))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		os.Remove(path)
		if resp.StatusCode != 206 || !bytes.Equal(got, content) {
			t.Errorf("%s: resumed at 1000: status %d, %d bytes", base, resp.StatusCode, len(got))
		}
		path, resp, err = download(t, s, "", partial(content))
		if err != nil {
			t.Fatal(err)
		}
		got, _ = os.ReadFile(path)
		os.Remove(path)
		if resp.StatusCode != 416 || !bytes.Equal(got, content) {
			t.Errorf("%s: resumed complete: status %d, %d bytes", base, resp.StatusCode, len(got))
		}
	}

	// The file replaced on the server: its validator changed, nginx sends
	// it whole and the download restarts from byte 0.
	data := func() []byte {
		name := filepath.Join(t.TempDir(), "partial")
		os.WriteFile(name, content[:5000], 0o600)
		head, _ := http.NewRequest(http.MethodHead, n.plain+"/blob.bin", nil)
		_, hresp, _ := s.Data(context.Background(), head)
		f, _ := os.Open(name)
		fp, _ := resume.FingerprintOf(f)
		f.Close()
		d := &resume.Data{URL: n.plain + "/blob.bin", ETag: hresp.Header.Get("Etag"), Total: int64(len(content)), File: name}
		d.SetFingerprint(fp)
		b, _ := resume.Encode(d)
		return b
	}()
	replaced := bytes.Repeat([]byte("new"), 100000)
	blob := filepath.Join(n.docroot, "blob.bin")
	write(t, blob, replaced, 0o644)
	later := time.Now().Add(time.Hour)
	os.Chtimes(blob, later, later) // another mtime, so another entity tag
	path, resp, err = download(t, s, "", data)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	os.Remove(path)
	if resp.StatusCode != 200 || !bytes.Equal(got, replaced) {
		t.Errorf("replaced file: status %d, %d bytes; want the new file whole", resp.StatusCode, len(got))
	}

	// gzip makes nginx's entity tag weak: such a download cannot resume.
	gz := httptest.NewServer(urlsessiontest.NewFaultProxy(origin, func(int, *http.Request) urlsessiontest.Fault {
		return urlsessiontest.Fault{Kind: urlsessiontest.Reset, At: 1000}
	}))
	defer gz.Close()
	_, _, err = download(t, s, gz.URL+"/big.txt", nil)
	if err == nil || urlsession.ErrorResumeData(err) != nil {
		t.Errorf("gzip download: %v, resume data %v; want an error without", err, urlsession.ErrorResumeData(err) != nil)
	}
	if errors.Is(err, urlsession.ErrCancelled) {
		t.Errorf("gzip download: %v", err)
	}
}

// TestNginxSegmentsLimitRate downloads a file in 8 segments from nginx
// limiting each request to limitedRate (limit_rate): the file arrives
// whole (SHA-256), over at least 8 requests, in a fraction of the time one
// connection needs at that rate, which only segments running side by side
// can do. Over HTTP/1.1 and HTTP/2.
func TestNginxSegmentsLimitRate(t *testing.T) {
	n := startNginx(t)
	want := sha256.Sum256(pattern(limitedSize))
	single := time.Duration(limitedSize) * time.Second / limitedRate // one connection: 4 s
	for _, base := range []struct{ name, url string }{{"h1", n.plain}, {"h2", n.secure}} {
		t.Run(base.name, func(t *testing.T) {
			cfg := urlsession.DefaultConfiguration()
			cfg.Proxy = urlsession.NoProxy
			cfg.URLCache = nil
			cfg.HTTPMaximumConnectionsPerHost = 8
			cfg.TLSClientConfig = &tls.Config{RootCAs: n.roots}
			rec := &metricsRecorder{ch: make(chan *urlsession.TaskMetrics, 1)}
			s, err := urlsession.New(cfg, rec)
			if err != nil {
				t.Fatal(err)
			}
			defer s.InvalidateAndCancel()
			b, _ := os.ReadFile(filepath.Join(n.dir, "limited.log"))
			before := strings.Count(string(b), "/limited/seg.bin")
			// The limit holds for one request: 2 MiB take half a second.
			rreq, _ := http.NewRequest(http.MethodGet, base.url+"/limited/seg.bin", nil)
			rreq.Header.Set("Range", "bytes=0-2097151")
			rstart := time.Now()
			body, rresp, err := s.Data(context.Background(), rreq)
			if err != nil || rresp.StatusCode != 206 || len(body) != 2<<20 {
				t.Fatalf("a 2 MiB range: %v, %d bytes", err, len(body))
			}
			if d, min := time.Since(rstart), time.Duration(2<<20)*time.Second/limitedRate*4/5; d < min {
				t.Fatalf("a 2 MiB range took %v, under the %v limit_rate allows: the limit does not hold", d, min)
			}
			rec.next(t)
			before++ // the range's own line
			req, _ := http.NewRequest(http.MethodGet, base.url+"/limited/seg.bin", nil)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			path, resp, err := s.Download(ctx, req, urlsession.WithSegments(8))
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			defer os.Remove(path)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			size, _ := io.Copy(h, f)
			f.Close()
			if got := [32]byte(h.Sum(nil)); got != want || resp.StatusCode != 200 {
				t.Fatalf("status %d, %d bytes, SHA-256 %x; want 200, %d bytes, %x", resp.StatusCode, size, got, limitedSize, want)
			}
			rec.next(t)
			// nginx logs each request once it is done: wait for the 8.
			logged := func() int {
				b, _ := os.ReadFile(filepath.Join(n.dir, "limited.log"))
				return strings.Count(string(b), "/limited/seg.bin")
			}
			for deadline := time.Now().Add(10 * time.Second); logged() < before+8 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond) // polls for nginx's log lines
			}
			requests := logged() - before
			if requests < 8 {
				t.Errorf("nginx logged %d requests, want at least 8 (one per segment)", requests)
			}
			// 8 segments side by side take an eighth of the single
			// connection's time, plus their starts: well under half of it.
			t.Logf("%d MiB at %d MiB/s per request: %v with 8 segments (one connection: %v), %d requests",
				limitedSize>>20, limitedRate>>20, took.Round(time.Millisecond), single, requests)
			if took > single/2 {
				t.Errorf("8 segments took %v, not well under the %v of one connection: they did not run in parallel", took, single)
			}
		})
	}
}
