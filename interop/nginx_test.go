//go:build interop

package interop

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
)

// The files under /limited/ are sent at limitedRate bytes per second per
// request (nginx's limit_rate); seg.bin there has limitedSize bytes.
const (
	limitedRate = 4 << 20
	limitedSize = 16 << 20
)

// nginx is a running nginx with a plain and a TLS (HTTP/2) listener.
type nginx struct {
	plainPort, securePort int
	plain, secure         string // base URLs
	roots                 *x509.CertPool
	docroot               string
	dir                   string // the configuration, logs and docroot
}

func need(t *testing.T, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("INTEROP_REQUIRED") == "1" {
			t.Fatalf("%s is not installed", bin)
		}
		t.Skipf("%s is not installed", bin)
	}
	return p
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startNginx(t *testing.T) *nginx {
	bin := need(t, "nginx")
	dir, err := os.MkdirTemp("", "nginx-interop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // workers may run as nobody
	docroot := filepath.Join(dir, "www")
	os.MkdirAll(filepath.Join(docroot, "private"), 0o755)
	os.MkdirAll(filepath.Join(docroot, "limited"), 0o755)
	certFile, keyFile, roots := writeCert(t, dir)

	plainPort, securePort := freePort(t), freePort(t)
	conf := fmt.Sprintf(`worker_processes 1; error_log %[1]s/error.log warn; pid %[1]s/nginx.pid;
daemon off;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  types { text/plain txt; application/octet-stream bin; }
  server {
    listen 127.0.0.1:%[2]d;
    listen 127.0.0.1:%[3]d ssl http2;
    ssl_certificate %[4]s; ssl_certificate_key %[5]s;
    root %[6]s;
    gzip on; gzip_types text/plain; gzip_min_length 100;
    location = /old { return 301 /hello.txt; }
    location = /see-other { return 303 /hello.txt; }
    location = /loop { return 302 /loop; }
    location = /sts { add_header Strict-Transport-Security "max-age=3600; includeSubDomains" always; return 200 "sts\n"; }
    location /private/ { auth_basic "test"; auth_basic_user_file %[1]s/htpasswd; }
    location /limited/ { limit_rate %[7]d; access_log %[1]s/limited.log; }
  }
}
`, dir, plainPort, securePort, certFile, keyFile, docroot, limitedRate)
	write(t, filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
	write(t, filepath.Join(dir, "htpasswd"), []byte("user:{PLAIN}pass\n"), 0o644)
	write(t, filepath.Join(docroot, "hello.txt"), []byte("hello from nginx\n"), 0o644)
	write(t, filepath.Join(docroot, "big.txt"), bytes.Repeat([]byte("all work and no play makes jack a dull boy\n"), 50000), 0o644)
	write(t, filepath.Join(docroot, "blob.bin"), pattern(3<<20), 0o644)
	write(t, filepath.Join(docroot, "limited", "seg.bin"), pattern(limitedSize), 0o644)

	startDaemon(t, "nginx", exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf")), securePort, filepath.Join(dir, "error.log"))
	n := &nginx{
		plainPort: plainPort, securePort: securePort,
		plain:   fmt.Sprintf("http://127.0.0.1:%d", plainPort),
		secure:  fmt.Sprintf("https://127.0.0.1:%d", securePort),
		roots:   roots,
		docroot: docroot,
		dir:     dir,
	}
	return n
}

func write(t *testing.T, name string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, data, mode); err != nil {
		t.Fatal(err)
	}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

func writeCert(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "interop"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{hstsHost, "*." + hstsHost},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	write(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o644)
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

// metricsRecorder hands each task's metrics to the test. Data returns before
// the metrics callback runs on the delegate queue, so the test receives them
// from the channel.
type metricsRecorder struct{ ch chan *urlsession.TaskMetrics }

func (r *metricsRecorder) DidFinishCollectingMetrics(s *urlsession.Session, t *urlsession.Task, m *urlsession.TaskMetrics) {
	r.ch <- m
}

func (r *metricsRecorder) next(t *testing.T) *urlsession.TaskMetrics {
	select {
	case m := <-r.ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no metrics")
		return nil
	}
}

func (n *nginx) session(t *testing.T, d any) *urlsession.Session {
	cfg := urlsession.DefaultConfiguration()
	cfg.Proxy = urlsession.NoProxy
	cfg.TLSClientConfig = &tls.Config{RootCAs: n.roots}
	s, err := urlsession.New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.InvalidateAndCancel)
	return s
}

func fetch(t *testing.T, s *urlsession.Session, url string) ([]byte, *http.Response, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Data(ctx, req)
}

func TestNginx(t *testing.T) {
	n := startNginx(t)
	for _, base := range []struct{ name, url, proto string }{{"h1", n.plain, "http/1.1"}, {"h2", n.secure, "h2"}} {
		t.Run(base.name, func(t *testing.T) {
			rec := &metricsRecorder{ch: make(chan *urlsession.TaskMetrics, 1)}
			s := n.session(t, rec)

			body, resp, err := fetch(t, s, base.url+"/hello.txt")
			if err != nil || resp.StatusCode != 200 || string(body) != "hello from nginx\n" {
				t.Fatalf("GET /hello.txt = %d %q %v", statusOf(resp), body, err)
			}
			m := rec.next(t)
			if got := m.Transactions[0].NetworkProtocolName; got != base.proto {
				t.Errorf("protocol = %q, want %q", got, base.proto)
			}

			// Reused connection on the second request (past the cache, which
			// may hold the file: nginx sends Last-Modified, so it is
			// heuristically fresh for a while).
			req, _ := http.NewRequest("GET", base.url+"/hello.txt", nil)
			req = urlsession.WithOptions(req, urlsession.RequestOptions{CachePolicy: urlsession.ReloadIgnoringLocalCacheData})
			if _, _, err := s.Data(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			if m := rec.next(t); !m.Transactions[0].ReusedConnection || m.Transactions[0].ResourceFetchType != urlsession.FetchTypeNetworkLoad {
				t.Error("second request did not reuse the connection")
			}

			// gzip is decoded transparently.
			want, _ := os.ReadFile(filepath.Join(n.docroot, "big.txt"))
			body, resp, err = fetch(t, s, base.url+"/big.txt")
			if err != nil || !bytes.Equal(body, want) {
				t.Fatalf("GET /big.txt: %d bytes, err %v; want %d bytes", len(body), err, len(want))
			}
			if !resp.Uncompressed || resp.Header.Get("Content-Encoding") != "" {
				t.Errorf("gzip response not marked decoded: %v %v", resp.Uncompressed, resp.Header)
			}
			tx := rec.next(t).Transactions[0]
			if tx.ResponseBodyBytesReceived >= tx.ResponseBodyBytesAfterDecoding || tx.ResponseBodyBytesAfterDecoding != int64(len(want)) {
				t.Errorf("byte counts: received %d, decoded %d, want decoded %d > received",
					tx.ResponseBodyBytesReceived, tx.ResponseBodyBytesAfterDecoding, len(want))
			}

			// Binary body, byte for byte.
			body, _, err = fetch(t, s, base.url+"/blob.bin")
			if err != nil || !bytes.Equal(body, pattern(3<<20)) {
				t.Fatalf("GET /blob.bin: %d bytes, err %v", len(body), err)
			}
			rec.next(t)

			// Redirects.
			for _, path := range []string{"/old", "/see-other"} {
				body, resp, err = fetch(t, s, base.url+path)
				if err != nil || resp.StatusCode != 200 || string(body) != "hello from nginx\n" {
					t.Errorf("GET %s = %d %q %v", path, statusOf(resp), body, err)
				}
				if m := rec.next(t); m.RedirectCount != 1 || len(m.Transactions) != 2 {
					t.Errorf("GET %s: %d redirects, %d transactions", path, m.RedirectCount, len(m.Transactions))
				}
			}
			_, _, err = fetch(t, s, base.url+"/loop")
			rec.next(t)
			if !errors.Is(err, urlsession.ErrHTTPTooManyRedirects) {
				t.Errorf("redirect loop: %v, want too many redirects", err)
			}

			// Status codes are responses.
			_, resp, err = fetch(t, s, base.url+"/missing")
			rec.next(t)
			if err != nil || resp.StatusCode != 404 {
				t.Errorf("GET /missing = %d %v", statusOf(resp), err)
			}
			_, resp, err = fetch(t, s, base.url+"/private/x")
			rec.next(t)
			if err != nil || resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("GET /private/x = %d %v", statusOf(resp), err)
			}
		})
	}
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}
