//go:build unix

package bench

// HTTP/3 against HTTP/2 (BENCH_REPORT=1, TestH3Report).
//
// The server is a separate process (the test binary re-executed with
// BENCH_H3_SERVER=1) serving the plain server's routes (/1k, /big) over
// TLS 1.3 with HTTP/2 on a TCP port and over HTTP/3 (quic-go) on the same
// UDP port, with one self-signed certificate. Clients: quic-go's own
// http3.Transport, the session over HTTP/3 (Configuration.HTTP3Only), the
// session over HTTP/2 (DisableHTTP3) and raw net/http over HTTP/2, each
// trusting only that certificate. Big bodies are read with a 1 MiB buffer.

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
	"slices"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/urlsession-go/urlsession"
)

const h3ServerEnv = "BENCH_H3_SERVER"

func init() {
	if os.Getenv(h3ServerEnv) == "1" {
		h3ServerMain() // does not return
	}
}

// h3ServerMain serves benchMux over HTTP/2 (TCP) and HTTP/3 (UDP) on one
// port number of 127.0.0.1. It prints "PORT <n> CERT <base64 DER>" and
// serves until its stdin is closed.
func h3ServerMain() {
	raiseNoFile()
	cert, der := selfSigned()
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench HTTP/3 server:", err)
			os.Exit(1)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			ln.Close()
			if attempt < 20 {
				continue
			}
			fmt.Fprintln(os.Stderr, "bench HTTP/3 server:", err)
			os.Exit(1)
		}
		mux := benchMux()
		srv := &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: time.Minute,
			TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
		}
		h3 := &http3.Server{Handler: mux, TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})}
		fmt.Printf("PORT %d CERT %s\n", port, base64.StdEncoding.EncodeToString(der))
		go srv.ServeTLS(ln, "", "")
		go h3.Serve(udp)
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
}

// startH3Server starts the HTTP/2 and HTTP/3 server process.
func startH3Server() (*tlsServerProc, error) {
	return startCertServer(h3ServerEnv, "bench HTTP/3 server")
}

const (
	h3Quic    = "quic-go http3.Transport"
	h3Session = "session, HTTP/3"
	h2Session = "session, HTTP/2"
	h2Raw     = "raw net/http, HTTP/2"
)

var h3Clients = []string{h3Quic, h3Session, h2Session, h2Raw}

// h3Fetch returns a function that GETs a URL with client name and hands
// the response to use; and the client's close.
func h3Fetch(name string, roots *x509.CertPool) (func(ctx context.Context, url string, use func(*http.Response) error) error, func()) {
	tc := &tls.Config{RootCAs: roots}
	rawDo := func(rt http.RoundTripper, major int) func(ctx context.Context, url string, use func(*http.Response) error) error {
		return func(ctx context.Context, url string, use func(*http.Response) error) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.ProtoMajor != major {
				return fmt.Errorf("%s got %s", name, resp.Proto)
			}
			return use(resp)
		}
	}
	switch name {
	case h3Quic:
		tr := &http3.Transport{TLSClientConfig: tc, DisableCompression: true}
		return rawDo(tr, 3), func() { tr.Close() }
	case h2Raw:
		tr := newRawTransport(unlimited)
		tr.TLSClientConfig = tc
		tr.ForceAttemptHTTP2 = true
		return rawDo(tr, 2), tr.CloseIdleConnections
	}
	cfg := urlsession.DefaultConfiguration()
	cfg.URLCache, cfg.HTTPCookieStorage, cfg.URLCredentialStorage = nil, nil, nil
	cfg.Proxy = urlsession.NoProxy
	cfg.HTTPMaximumConnectionsPerHost = -1
	cfg.MaxCollectedBodySize = -1
	cfg.TLSClientConfig = tc
	major := 2
	if name == h3Session {
		cfg.HTTP3Only = true
		major = 3
	} else {
		cfg.DisableHTTP3 = true
	}
	s, err := urlsession.New(cfg, nil)
	if err != nil {
		panic(err)
	}
	return func(ctx context.Context, url string, use func(*http.Response) error) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		stream, resp, err := s.Bytes(ctx, req)
		if err != nil {
			return err
		}
		defer stream.Close()
		if resp.ProtoMajor != major {
			return fmt.Errorf("%s got %s", name, resp.Proto)
		}
		resp.Body = stream
		return use(resp)
	}, s.FinishTasksAndInvalidate
}

func newH3GetClient(name, url string, roots *x509.CertPool) *getClient {
	fetch, closeFn := h3Fetch(name, roots)
	return &getClient{name: name, close: closeFn, get: func(ctx context.Context) error {
		return fetch(ctx, url, func(resp *http.Response) error {
			body, err := io.ReadAll(resp.Body)
			return checkSmall(resp, body, err)
		})
	}}
}

func newH3BigClient(name, url string, size int64, roots *x509.CertPool) *bigClient {
	fetch, closeFn := h3Fetch(name, roots)
	buf := make([]byte, 1<<20)
	return &bigClient{name: name, close: closeFn, download: func(ctx context.Context) error {
		return fetch(ctx, url, func(resp *http.Response) error {
			n, err := readAll1M(resp.Body, buf)
			return checkBig(n, size, err)
		})
	}}
}

// TestH3Report prints 1 KiB GETs (one at a time and 16 in flight, on one
// connection) and a big body over HTTP/3 and HTTP/2, with the paired
// ratios to quic-go's own client (medians of BENCH_ROUNDS rounds).
// Knobs: BENCH_H3_GET_N (2000 GETs per run), BENCH_H3_BIG_BYTES (256 MiB).
func TestH3Report(t *testing.T) {
	if os.Getenv("BENCH_REPORT") != "1" {
		t.Skip("set BENCH_REPORT=1 to run the comparison report")
	}
	rounds := envInt("BENCH_ROUNDS", 5)
	n := envInt("BENCH_H3_GET_N", 2000)
	size := int64(envInt("BENCH_H3_BIG_BYTES", 256<<20))
	srv, err := startH3Server()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	p := func(format string, args ...any) { fmt.Printf(format, args...) }
	p("\n%s, %s/%s, %d CPUs; library sources sha256 %s; load average %s; median of %d rounds\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), libraryHash(), loadAvg(), rounds)

	for _, conc := range []int{1, 16} {
		clients := make([]*getClient, len(h3Clients))
		for i, name := range h3Clients {
			clients[i] = newH3GetClient(name, srv.base+"/1k", srv.roots)
			if err := warmGets(clients[i], conc); err != nil {
				t.Fatal(err)
			}
		}
		rps := make([][]float64, len(clients))
		cpu := make([][]float64, len(clients))
		for r := range rounds {
			for _, i := range rotate(len(clients), r) {
				runtime.GC()
				res, err := runGets(clients[i], n, conc)
				if err != nil {
					t.Fatal(err)
				}
				rps[i] = append(rps[i], res.rps())
				cpu[i] = append(cpu[i], µs(res.cpu))
			}
		}
		p("\n### 1 KiB GETs, %d in flight, %d per run\n\n", conc, n)
		p("| client | req/s | min–max | vs quic-go | client CPU µs/GET | CPU vs quic-go |\n|---|---:|---|---:|---:|---:|\n")
		for i, c := range clients {
			c.close()
			p("| %s | %.0f | %.0f–%.0f | %.2f | %.0f | %.2f |\n", c.name, median(rps[i]), slices.Min(rps[i]), slices.Max(rps[i]),
				pairedRatio(rps[i], rps[0]), median(cpu[i]), pairedRatio(cpu[i], cpu[0]))
		}
		p("\nsession HTTP/3 vs session HTTP/2: %.2f\n", pairedRatio(rps[1], rps[2]))
	}

	url := bigURL(srv.base, size)
	clients := make([]*bigClient, len(h3Clients))
	for i, name := range h3Clients {
		clients[i] = newH3BigClient(name, url, size, srv.roots)
	}
	runs := timeRounds(t, clients, size, rounds)
	mbps, cpu := runField(runs, mbpsOf), runField(runs, cpuOfRun)
	p("\n### A %d MiB body, 1 MiB reads\n\n", size>>20)
	p("| client | MB/s | min–max | vs quic-go | client CPU s/GiB | CPU vs quic-go |\n|---|---:|---|---:|---:|---:|\n")
	for i, c := range clients {
		c.close()
		p("| %s | %.0f | %.0f–%.0f | %.2f | %.2f | %.2f |\n", c.name, median(mbps[i]), slices.Min(mbps[i]), slices.Max(mbps[i]),
			pairedRatio(mbps[i], mbps[0]), median(cpu[i]), pairedRatio(cpu[i], cpu[0]))
	}
	ratio := pairedRatio(mbps[1], mbps[0])
	p("\nsession HTTP/3 at >= 0.9 of quic-go's own client: %s (%.2f)\n", verdict(ratio >= 0.9), ratio)
}

// BenchmarkH3Get1K GETs 1 KiB over HTTP/3 with the session and with
// quic-go's own client, 16 in flight (for profiles: one at a time).
func BenchmarkH3Get1K(b *testing.B) {
	srv, err := startH3Server()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.stop()
	for _, name := range h3Clients {
		b.Run(benchName(name), func(b *testing.B) {
			c := newH3GetClient(name, srv.base+"/1k", srv.roots)
			defer c.close()
			if err := warmGets(c, 16); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			res, err := runGets(c, b.N, 16)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.rps(), "req/s")
			b.ReportMetric(µs(res.cpu), "cpu-µs/op")
		})
	}
}
