//go:build unix

package bench

// HTTPS and HTTP/2: the TLS section of the report (BENCH_SECTIONS=tls).
//
// Big bodies come from nginx (a real server, the file in the page cache)
// when nginx is on PATH; 1 KiB GETs come from the in-process TLS server
// (the test binary re-executed with BENCH_TLS_KEEP_SERVER=1, HTTP/1.1 and
// HTTP/2, keep-alive). Clients: raw net/http reading with a 1 MiB buffer,
// the session's Bytes path reading the same way, the CLI (-o /dev/null) and
// curl, each with the same certificate as its only root.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
)

const tlsKeepServerEnv = "BENCH_TLS_KEEP_SERVER"

func init() {
	if os.Getenv(tlsKeepServerEnv) == "1" {
		tlsKeepServerMain() // does not return
	}
}

// selfSigned returns a fresh self-signed certificate for 127.0.0.1.
func selfSigned() (tls.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, der
}

// tlsKeepServerMain serves the plain server's routes (/1k, /big) over TLS
// with HTTP/2 and HTTP/1.1 and keep-alive. It prints "PORT <n> CERT
// <base64 DER>" and serves until its stdin is closed.
func tlsKeepServerMain() {
	raiseNoFile()
	cert, der := selfSigned()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench TLS server:", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Handler:           benchMux(),
		ReadHeaderTimeout: time.Minute,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	fmt.Printf("PORT %d CERT %s\n", ln.Addr().(*net.TCPAddr).Port, base64.StdEncoding.EncodeToString(der))
	go srv.ServeTLS(ln, "", "")
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// startTLSKeepServer starts the keep-alive TLS server process.
func startTLSKeepServer() (*tlsServerProc, error) {
	return startCertServer(tlsKeepServerEnv, "bench TLS server")
}

// startCertServer starts the test binary as a server process with env set
// to 1 and waits for its "PORT <n> CERT <base64 DER>" line: the server
// trusted by its certificate alone, at https://127.0.0.1:<n>.
func startCertServer(env, what string) (*tlsServerProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), env+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &tlsServerProc{server: server{cmd: cmd, stdin: stdin}}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var port int
	var cert string
	if _, serr := fmt.Sscanf(strings.TrimSpace(line), "PORT %d CERT %s", &port, &cert); err != nil || serr != nil {
		s.stop()
		return nil, fmt.Errorf("%s did not start: %q %v %v", what, line, err, serr)
	}
	der, err := base64.StdEncoding.DecodeString(cert)
	if err != nil {
		s.stop()
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		s.stop()
		return nil, err
	}
	s.roots = x509.NewCertPool()
	s.roots.AddCert(c)
	s.base = fmt.Sprintf("https://127.0.0.1:%d", port)
	return s, nil
}

// benchNginx is nginx serving a file of the big size over plain HTTP/1.1
// and over TLS 1.3 with HTTP/2 and HTTP/1.1.
type benchNginx struct {
	cmd          *exec.Cmd
	dir          string
	plain, tls   string // base URLs
	certFile     string
	roots        *x509.CertPool
	size         int64
	bigPath, one string // the big file's and the 1 KiB file's URL paths
}

var errNoNginx = errors.New("nginx is not on PATH")

// cpu returns the CPU time nginx's processes (the master and its workers)
// have used so far, from /proc, or -1 where /proc does not tell.
func (n *benchNginx) cpu() time.Duration {
	master := n.cmd.Process.Pid
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	var total time.Duration
	found := false
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, cpu, err := procStat(pid)
		if err != nil || pid != master && ppid != master {
			continue
		}
		total += cpu
		found = true
	}
	if !found {
		return -1
	}
	return total
}

func startBenchNginx(size int64) (*benchNginx, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			return nil, errNoNginx
		}
	}
	dir, err := os.MkdirTemp("", "bench-nginx-")
	if err != nil {
		return nil, err
	}
	n := &benchNginx{dir: dir, size: size, bigPath: "/big.bin", one: "/1k.bin"}
	fail := func(err error) (*benchNginx, error) {
		n.stop()
		return nil, err
	}
	os.Chmod(dir, 0o755) // workers may run as nobody
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		return fail(err)
	}
	if err := writeBigFile(filepath.Join(www, "big.bin"), size); err != nil {
		return fail(err)
	}
	small := make([]byte, smallSize)
	for i := range small {
		small[i] = 'a' + byte(i%26)
	}
	if err := os.WriteFile(filepath.Join(www, "1k.bin"), small, 0o644); err != nil {
		return fail(err)
	}
	cert, der := selfSigned()
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return fail(err)
	}
	n.certFile = filepath.Join(dir, "cert.pem")
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(n.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fail(err)
	}
	c, _ := x509.ParseCertificate(der)
	n.roots = x509.NewCertPool()
	n.roots.AddCert(c)
	plainPort, tlsPort, err := twoPorts()
	if err != nil {
		return fail(err)
	}
	conf := fmt.Sprintf(`worker_processes 1; error_log %[1]s/error.log error; pid %[1]s/nginx.pid;
daemon off; user root;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  types { application/octet-stream bin; }
  server { listen 127.0.0.1:%[2]d; root %[4]s; }
  server {
    listen 127.0.0.1:%[3]d ssl http2; root %[4]s;
    ssl_certificate %[5]s; ssl_certificate_key %[6]s; ssl_protocols TLSv1.3;
    http2_max_concurrent_streams 256;
  }
}
`, dir, plainPort, tlsPort, www, n.certFile, keyFile)
	if os.Geteuid() != 0 {
		conf = strings.Replace(conf, " user root;", "", 1)
	}
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		return fail(err)
	}
	n.cmd = exec.Command(bin, "-p", dir, "-c", confFile)
	n.cmd.Stderr = os.Stderr
	if err := n.cmd.Start(); err != nil {
		n.cmd = nil
		return fail(err)
	}
	n.plain = fmt.Sprintf("http://127.0.0.1:%d", plainPort)
	n.tls = fmt.Sprintf("https://127.0.0.1:%d", tlsPort)
	for i := 0; ; i++ {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort))
		if err == nil {
			conn.Close()
			break
		}
		if i == 100 {
			return fail(fmt.Errorf("nginx did not start: %v", err))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Read the file once so that it is in the page cache.
	if f, err := os.Open(filepath.Join(www, "big.bin")); err == nil {
		io.Copy(io.Discard, f)
		f.Close()
	}
	return n, nil
}

func (n *benchNginx) stop() {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Signal(os.Interrupt) // our own child
		done := make(chan struct{})
		go func() { n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			n.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(n.dir)
}

func twoPorts() (int, int, error) {
	var ports [2]int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		lns = append(lns, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], nil
}

// writeBigFile writes size bytes of a repeating pattern.
func writeBigFile(name string, size int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	for left := size; left > 0; {
		k := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			f.Close()
			return err
		}
		left -= k
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tlsPath is one way to fetch: plain HTTP/1.1, TLS with HTTP/1.1, or TLS
// with HTTP/2.
type tlsPath struct {
	name  string
	tls   bool
	http2 bool
}

var tlsPaths = []tlsPath{
	{"plain HTTP/1.1", false, false},
	{"TLS, HTTP/1.1", true, false},
	{"TLS, HTTP/2", true, true},
}

const (
	tlsBigRaw   = "raw net/http, 1 MiB reads"
	tlsBigBytes = "session Bytes, 1 MiB reads"
	// The same with one thread for Go code while it downloads, as the CLI
	// runs (cmd/urlsession: procsFor): no idle thread to wake at each
	// hand-off between the connection's reader and the body's.
	tlsBigBytes1 = "session Bytes, 1 MiB reads, GOMAXPROCS=1"
	tlsBigCLI    = "CLI -o /dev/null"
	tlsBigCurl   = "curl -o /dev/null"
)

var tlsBigClients = []string{tlsBigCurl, tlsBigRaw, tlsBigBytes, tlsBigBytes1, tlsBigCLI}

// readAll1M reads r to its end with a 1 MiB buffer and returns the count.
func readAll1M(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// newTLSBigClient returns client name fetching url over path p.
func newTLSBigClient(name string, p tlsPath, url string, ng *benchNginx, cli string) (*bigClient, error) {
	size := ng.size
	buf := make([]byte, 1<<20)
	switch name {
	case tlsBigRaw:
		tr := newRawTransport(unlimited)
		tr.TLSClientConfig = &tls.Config{RootCAs: ng.roots}
		if !p.http2 {
			tr.ForceAttemptHTTP2 = false
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		c := &http.Client{Transport: tr}
		return &bigClient{name: name, close: tr.CloseIdleConnections, download: func(ctx context.Context) error {
			resp, err := c.Get(url)
			if err != nil {
				return err
			}
			n, err := readAll1M(resp.Body, buf)
			resp.Body.Close()
			if err == nil && p.tls && (resp.ProtoMajor == 2) != p.http2 {
				err = fmt.Errorf("raw client got %s", resp.Proto)
			}
			return checkBig(n, size, err)
		}}, nil
	case tlsBigBytes, tlsBigBytes1:
		cfg := urlsession.DefaultConfiguration()
		cfg.URLCache, cfg.HTTPCookieStorage, cfg.URLCredentialStorage = nil, nil, nil
		cfg.Proxy = urlsession.NoProxy
		cfg.TLSClientConfig = &tls.Config{RootCAs: ng.roots}
		cfg.DisableHTTP2 = !p.http2
		cfg.TransportSecurity.AllowsArbitraryLoads = true // plain http to 127.0.0.1
		s, err := urlsession.New(cfg, nil)
		if err != nil {
			return nil, err
		}
		return &bigClient{name: name, close: s.FinishTasksAndInvalidate, download: func(ctx context.Context) error {
			if name == tlsBigBytes1 {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			stream, resp, err := s.Bytes(ctx, req)
			if err != nil {
				return err
			}
			n, err := readAll1M(stream, buf)
			stream.Close()
			if err == nil && p.tls && (resp.ProtoMajor == 2) != p.http2 {
				err = fmt.Errorf("session got %s", resp.Proto)
			}
			return checkBig(n, size, err)
		}}, nil
	case tlsBigCLI, tlsBigCurl:
		bin := cli
		args := []string{"-s", "-S", "-f", "-o", "/dev/null"}
		if name == tlsBigCurl {
			curl, err := exec.LookPath("curl")
			if err != nil {
				return nil, errSkip
			}
			bin = curl
			args = append(args, "--noproxy", "*")
		}
		if bin == "" {
			return nil, errSkip
		}
		if p.tls {
			args = append(args, "--cacert", ng.certFile)
			if p.http2 {
				args = append(args, "--http2")
			} else {
				args = append(args, "--http1.1")
			}
		}
		args = append(args, url)
		return &bigClient{name: name, close: func() {}, download: func(ctx context.Context) error {
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = append(os.Environ(), "NO_PROXY=*", "no_proxy=*")
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: %v: %s", filepath.Base(bin), err, out)
			}
			return nil
		}}, nil
	}
	panic("unknown client " + name)
}

// buildCLI builds cmd/urlsession into dir and returns its path.
func buildCLI(dir string) (string, error) {
	out := filepath.Join(dir, "urlsession")
	cmd := exec.Command("go", "build", "-o", out, "github.com/urlsession-go/urlsession/cmd/urlsession")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, b)
	}
	return out, nil
}

// reportTLS prints the TLS section: big bodies from nginx over each path
// with wall time as a ratio to curl's, and 1 KiB GETs over TLS HTTP/2.
func reportTLS(t *testing.T, p printer, rounds int) {
	size := bigSize()
	ng, err := startBenchNginx(size)
	switch {
	case errors.Is(err, errNoNginx):
		p("\n### TLS big bodies: nginx not on PATH, skipped\n")
	case err != nil:
		t.Fatal(err)
	default:
		defer ng.stop()
		dir := t.TempDir()
		cli, err := buildCLI(dir)
		if err != nil {
			t.Fatal(err)
		}
		reportTLSBig(t, p, rounds, ng, cli)
	}
	reportTLSGets(t, p, rounds)
}

func reportTLSBig(t *testing.T, p printer, rounds int, ng *benchNginx, cli string) {
	p("\n### %d MiB from nginx (page cache), TLS 1.3; wall time, medians of %d rounds\n\n", ng.size>>20, rounds)
	p("| path | client | wall s | min–max s | vs curl | paired vs curl | MB/s | client CPU s/GiB | nginx CPU s/GiB | target |\n")
	p("|---|---|---:|---|---:|---:|---:|---:|---:|---|\n")
	for _, path := range tlsPaths {
		base := ng.plain
		if path.tls {
			base = ng.tls
		}
		url := base + ng.bigPath
		var clients []*bigClient
		for _, name := range tlsBigClients {
			c, err := newTLSBigClient(name, path, url, ng, cli)
			if errors.Is(err, errSkip) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
		}
		wall := make([][]float64, len(clients))
		cpu := make([][]float64, len(clients))
		srvCPU := make([][]float64, len(clients))
		srvKnown := ng.cpu() >= 0
		for r := range rounds {
			for _, i := range rotate(len(clients), r) {
				runtime.GC()
				cpu0, srv0 := cpuTime(), ng.cpu()
				start := time.Now()
				if err := clients[i].download(context.Background()); err != nil {
					t.Fatalf("%s, %s: %v", path.name, clients[i].name, err)
				}
				el := time.Since(start).Seconds()
				gib := float64(ng.size) / (1 << 30)
				wall[i] = append(wall[i], el)
				cpu[i] = append(cpu[i], (cpuTime()-cpu0).Seconds()/gib)
				srvCPU[i] = append(srvCPU[i], (ng.cpu()-srv0).Seconds()/gib)
			}
		}
		curl := -1
		for i, c := range clients {
			if c.name == tlsBigCurl {
				curl = i
			}
		}
		for i, c := range clients {
			c.close()
			vs, paired, target := "—", "—", "—"
			if curl >= 0 {
				vs = fmt.Sprintf("%.2f", median(wall[i])/median(wall[curl]))
				paired = fmt.Sprintf("%.2f", pairedRatio(wall[i], wall[curl]))
				if c.name == tlsBigCLI || c.name == tlsBigBytes {
					limit := 1.0
					if !path.tls {
						limit = 0.95
					}
					target = fmt.Sprintf("≤ %.2f %s", limit, verdict(pairedRatio(wall[i], wall[curl]) <= limit))
				}
			}
			srv := "—"
			if srvKnown {
				srv = fmt.Sprintf("%.2f", median(srvCPU[i]))
			}
			p("| %s | %s | %.3f | %.3f–%.3f | %s | %s | %.0f | %.3f | %s | %s |\n", path.name, c.name, median(wall[i]),
				slices.Min(wall[i]), slices.Max(wall[i]), vs, paired, float64(ng.size)/1e6/median(wall[i]), median(cpu[i]), srv, target)
		}
	}
}

// TLS GET clients.
const (
	tlsGetRaw    = "raw net/http"
	tlsGetData   = "session Data"
	tlsGetStores = "session Data, default stores"
)

var tlsGetClients = []string{tlsGetRaw, tlsGetData, tlsGetStores}

func newTLSGetClient(name, url string, roots *x509.CertPool) *getClient {
	if name == tlsGetRaw {
		tr := newRawTransport(unlimited)
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
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
			if err == nil && resp.ProtoMajor != 2 {
				err = fmt.Errorf("raw client got %s", resp.Proto)
			}
			return checkSmall(resp, body, err)
		}}
	}
	cfg := urlsession.DefaultConfiguration()
	if name != tlsGetStores {
		cfg.URLCache, cfg.HTTPCookieStorage, cfg.URLCredentialStorage = nil, nil, nil
	}
	cfg.Proxy = urlsession.NoProxy
	cfg.HTTPMaximumConnectionsPerHost = -1
	cfg.TLSClientConfig = &tls.Config{RootCAs: roots}
	s, err := urlsession.New(cfg, nil)
	if err != nil {
		panic(err)
	}
	return &getClient{name: name, close: s.FinishTasksAndInvalidate, get: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		body, resp, err := s.Data(ctx, req)
		if err == nil && resp.ProtoMajor != 2 {
			err = fmt.Errorf("session got %s", resp.Proto)
		}
		return checkSmall(resp, body, err)
	}}
}

func reportTLSGets(t *testing.T, p printer, rounds int) {
	srv, err := startTLSKeepServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	url := srv.base + "/1k"
	seqN := envInt("BENCH_GET_N", 10000)
	parN := envInt("BENCH_GET_PAR_N", 30000)
	p("\n### 1 KiB GETs over TLS 1.3 and HTTP/2 from the in-process server, one connection (%d GETs sequential, %d with 64 in flight)\n\n", seqN, parN)
	p("| in flight | client | req/s | min–max req/s | paired vs raw | client CPU µs/GET | CPU vs raw | p50 µs | p99 µs | target |\n")
	p("|---:|---|---:|---|---:|---:|---:|---:|---:|---|\n")
	for _, conc := range []int{1, 64} {
		n := seqN
		if conc > 1 {
			n = parN
		}
		clients := make([]*getClient, len(tlsGetClients))
		for i, name := range tlsGetClients {
			clients[i] = newTLSGetClient(name, url, srv.roots)
			if err := warmGets(clients[i], conc); err != nil {
				t.Fatal(err)
			}
		}
		rps := make([][]float64, len(clients))
		cpu := make([][]float64, len(clients))
		p50 := make([][]float64, len(clients))
		p99 := make([][]float64, len(clients))
		for r := range rounds {
			for _, i := range rotate(len(clients), r) {
				runtime.GC()
				res, err := runGets(clients[i], n, conc)
				if err != nil {
					t.Fatal(err)
				}
				rps[i] = append(rps[i], res.rps())
				cpu[i] = append(cpu[i], µs(res.cpu))
				p50[i] = append(p50[i], µs(res.pct(50)))
				p99[i] = append(p99[i], µs(res.pct(99)))
			}
		}
		for i, c := range clients {
			c.close()
			target := "—"
			if i > 0 {
				target = "≥ 0.95 " + verdict(pairedRatio(rps[i], rps[0]) >= 0.95)
			}
			p("| %d | %s | %.0f | %.0f–%.0f | %.2f | %.1f | %.2f | %.0f | %.0f | %s |\n", conc, c.name, median(rps[i]),
				slices.Min(rps[i]), slices.Max(rps[i]), pairedRatio(rps[i], rps[0]), median(cpu[i]),
				pairedRatio(cpu[i], cpu[0]), median(p50[i]), median(p99[i]), target)
		}
	}
}

// BenchmarkTLSBig downloads the big body from nginx once per iteration over
// each path, with raw net/http and with the session's Bytes, both reading
// with a 1 MiB buffer (for profiles: one sub-benchmark at a time).
func BenchmarkTLSBig(b *testing.B) {
	ng, err := startBenchNginx(bigSize())
	if errors.Is(err, errNoNginx) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer ng.stop()
	for _, path := range tlsPaths {
		base := ng.plain
		if path.tls {
			base = ng.tls
		}
		for _, name := range []string{tlsBigRaw, tlsBigBytes} {
			b.Run(benchName(path.name)+"/"+benchName(name), func(b *testing.B) {
				c, err := newTLSBigClient(name, path, base+ng.bigPath, ng, "")
				if err != nil {
					b.Fatal(err)
				}
				defer c.close()
				cpu0 := cpuTime()
				b.ResetTimer()
				for range b.N {
					if err := c.download(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(ng.size)*float64(b.N)/1e6/b.Elapsed().Seconds(), "MB/s")
				b.ReportMetric((cpuTime()-cpu0).Seconds()/(float64(ng.size)*float64(b.N)/(1<<30)), "cpu-s/GiB")
			})
		}
	}
}

// BenchmarkTLSGet1K: 1 KiB GETs over TLS 1.3 and HTTP/2 from the in-process
// keep-alive server process, one at a time (seq) and 64 in flight (par64),
// per client (for profiles: one sub-benchmark at a time).
func BenchmarkTLSGet1K(b *testing.B) {
	srv, err := startTLSKeepServer()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.stop()
	url := srv.base + "/1k"
	for _, conc := range []int{1, 64} {
		mode := "seq"
		if conc > 1 {
			mode = fmt.Sprintf("par%d", conc)
		}
		for _, name := range tlsGetClients {
			b.Run(mode+"/"+benchName(name), func(b *testing.B) {
				c := newTLSGetClient(name, url, srv.roots)
				defer c.close()
				r := benchGets(b, c, conc)
				b.ReportMetric(r.rps(), "req/s")
				b.ReportMetric(µs(r.cpu), "cpu-µs/op")
				b.ReportMetric(float64(r.mutexW), "mutex-wait-ns/op")
				b.ReportMetric(r.gPerReq, "goroutines/op")
				b.ReportMetric(r.csw, "ctxsw/op")
			})
		}
	}
}
