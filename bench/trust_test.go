//go:build unix

package bench

// New TLS connections per second: every GET opens a connection of its own
// (the server answers with "Connection: close"), so each one is a full TLS
// 1.3 handshake (ECDSA P-256 certificate, X25519). The clients: raw
// net/http trusting the server's certificate; a session with no delegate
// (the session's own TLS dialer, no challenge); a session whose delegate
// answers every ServerTrust challenge with UseCredential, the certificate
// trusted by the configuration's roots (the default evaluation succeeds)
// or not (it fails, as for a self-signed server the delegate vouches for).
//
// The TLS server is a separate process as the plain one is: the test
// binary re-executed with BENCH_TLS_SERVER=1, which prints its port and
// certificate.
//
//	BENCH_REPORT=1 go test ./bench -run '^TestTrustReport$' -v -timeout 30m
//	go test ./bench -run '^$' -bench NewTLSConn -benchtime 2000x
//
// Knobs: BENCH_ROUNDS (5), BENCH_TLS_N (connections per run, 1000).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
)

const tlsServerEnv = "BENCH_TLS_SERVER"

func init() {
	if os.Getenv(tlsServerEnv) == "1" {
		tlsServerMain() // does not return
	}
}

// tlsServerMain serves /1k over HTTP/1.1 and TLS, closing each connection
// after its response. It prints "PORT <n> CERT <base64 DER>" and serves
// until its stdin is closed.
func tlsServerMain() {
	raiseNoFile()
	cert, der := selfSigned()
	small := make([]byte, smallSize)
	for i := range small {
		small[i] = 'a' + byte(i%26)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/1k", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Length"] = []string{"1024"}
		w.Header()["Content-Type"] = []string{"application/octet-stream"}
		w.Header()["Connection"] = []string{"close"}
		w.Write(small)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench TLS server:", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: time.Minute,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"http/1.1"},
		},
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/1.1 only
	}
	fmt.Printf("PORT %d CERT %s\n", ln.Addr().(*net.TCPAddr).Port, base64.StdEncoding.EncodeToString(der))
	go srv.ServeTLS(ln, "", "")
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// tlsServerProc is a running TLS server process.
type tlsServerProc struct {
	server
	roots *x509.CertPool // its certificate alone
}

func startTLSServer() (*tlsServerProc, error) {
	return startCertServer(tlsServerEnv, "bench TLS server")
}

var (
	tlsSharedMu sync.Mutex
	tlsShared   *tlsServerProc
)

// sharedTLSServer returns the TLS server process, started on first use
// and stopped at the end of the test binary's run.
func sharedTLSServer(tb testing.TB) *tlsServerProc {
	tb.Helper()
	tlsSharedMu.Lock()
	defer tlsSharedMu.Unlock()
	if tlsShared == nil {
		s, err := startTLSServer()
		if err != nil {
			tb.Fatal(err)
		}
		tlsShared = s
		// TestMain stops the plain server; this one goes with stdin,
		// when the test binary exits, or at the end of the test.
		tb.Cleanup(func() {
			tlsSharedMu.Lock()
			defer tlsSharedMu.Unlock()
			if tlsShared != nil {
				tlsShared.stop()
				tlsShared = nil
			}
		})
	}
	return tlsShared
}

const (
	tlsRaw       = "raw net/http"
	tlsSession   = "session, no delegate"
	tlsTrusted   = "session, ServerTrust delegate accepts (trusted)"
	tlsUntrusted = "session, ServerTrust delegate accepts (untrusted)"
)

var tlsClients = []string{tlsRaw, tlsSession, tlsTrusted, tlsUntrusted}

// acceptTrust is a session delegate that accepts every server trust.
type acceptTrust struct{}

var _ urlsession.SessionChallengeDelegate = acceptTrust{}

func (acceptTrust) DidReceiveChallenge(_ *urlsession.Session, c *urlsession.Challenge) (urlsession.AuthChallengeDisposition, *urlsession.Credential) {
	if c.ServerTrust != nil {
		return urlsession.UseCredential, urlsession.NewTrustCredential(c.ServerTrust)
	}
	return urlsession.PerformDefaultHandling, nil
}

// newTLSClient returns a client doing 1 KiB GETs of srv, each on a new
// connection, with no limit on connections per host.
func newTLSClient(name string, srv *tlsServerProc) *getClient {
	url := srv.base + "/1k"
	if name == tlsRaw {
		tr := newRawTransport(unlimited)
		tr.TLSClientConfig = &tls.Config{RootCAs: srv.roots}
		c := &http.Client{Transport: tr}
		return &getClient{name: name, close: tr.CloseIdleConnections, get: func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			return checkSmall(resp, body, err)
		}}
	}
	cfg := urlsession.DefaultConfiguration()
	cfg.URLCache, cfg.HTTPCookieStorage, cfg.URLCredentialStorage = nil, nil, nil
	cfg.Proxy = urlsession.NoProxy
	cfg.HTTPMaximumConnectionsPerHost = -1
	if name != tlsUntrusted {
		cfg.TLSClientConfig = &tls.Config{RootCAs: srv.roots}
	}
	var delegate any
	if name == tlsTrusted || name == tlsUntrusted {
		delegate = acceptTrust{}
	}
	s, err := urlsession.New(cfg, delegate)
	if err != nil {
		panic(err)
	}
	return &getClient{name: name, close: s.FinishTasksAndInvalidate, get: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		body, resp, err := s.Data(ctx, req)
		return checkSmall(resp, body, err)
	}}
}

// BenchmarkNewTLSConn: one GET per iteration, each on a new TLS
// connection, one at a time (seq) and 8 in flight (par8).
func BenchmarkNewTLSConn(b *testing.B) {
	srv := sharedTLSServer(b)
	for _, conc := range []int{1, 8} {
		mode := "seq"
		if conc > 1 {
			mode = fmt.Sprintf("par%d", conc)
		}
		for _, name := range tlsClients {
			b.Run(mode+"/"+benchName(name), func(b *testing.B) {
				c := newTLSClient(name, srv)
				defer c.close()
				r := benchGets(b, c, conc)
				b.ReportMetric(r.rps(), "conn/s")
				b.ReportMetric(µs(r.pct(50)), "p50-µs")
				b.ReportMetric(µs(r.cpu), "cpu-µs/op")
			})
		}
	}
}

// TestTrustReport prints, for new TLS connections one at a time and 8 in
// flight, each client's connections per second and CPU per connection
// (medians of BENCH_ROUNDS rounds) with the paired ratios to raw net/http.
// The target: the session with an accepting ServerTrust delegate
// at 0.9 of raw net/http's rate or more.
func TestTrustReport(t *testing.T) {
	if os.Getenv("BENCH_REPORT") != "1" {
		t.Skip("set BENCH_REPORT=1 to run the comparison report")
	}
	rounds := envInt("BENCH_ROUNDS", 5)
	n := envInt("BENCH_TLS_N", 1000)
	srv := sharedTLSServer(t)
	p := func(format string, args ...any) { fmt.Printf(format, args...) }
	p("\n%s, %s/%s, %d CPUs; library sources sha256 %s; load average %s; median of %d rounds of %d connections\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), libraryHash(), loadAvg(), rounds, n)
	for _, conc := range []int{1, 8} {
		rps := make(map[string][]float64)
		cpu := make(map[string][]float64)
		for r := range rounds {
			for _, i := range rotate(len(tlsClients), r) {
				name := tlsClients[i]
				c := newTLSClient(name, srv)
				if err := warmGets(c, conc); err != nil {
					t.Fatal(err)
				}
				res, err := runGets(c, n, conc)
				c.close()
				if err != nil {
					t.Fatal(err)
				}
				rps[name] = append(rps[name], res.rps())
				cpu[name] = append(cpu[name], µs(res.cpu))
			}
		}
		p("\n### New TLS connections, %d in flight\n\n", conc)
		p("| client | conn/s | ratio | client CPU µs/conn | CPU ratio |\n|---|---:|---:|---:|---:|\n")
		for _, name := range tlsClients {
			p("| %s | %.0f | %.3f | %.0f | %.3f |\n", name, median(rps[name]), pairedRatio(rps[name], rps[tlsRaw]),
				median(cpu[name]), pairedRatio(cpu[name], cpu[tlsRaw]))
		}
		ratio := pairedRatio(rps[tlsTrusted], rps[tlsRaw])
		p("\nServerTrust delegate at >= 0.9 of raw net/http: %s (%.3f)\n", verdict(ratio >= 0.9), ratio)
	}
}
