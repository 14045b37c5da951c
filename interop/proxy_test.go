//go:build interop

package interop

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/credstore"
)

// proxyOrigins are an HTTP/1.1 and an HTTP/2 (TLS) origin on loopback
// that answer with their protocol and any Proxy-Authorization they got.
type proxyOrigins struct {
	plain, secure *httptest.Server
}

func startProxyOrigins(t *testing.T) *proxyOrigins {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s proxy-auth=%q", r.Proto, r.Header.Get("Proxy-Authorization"))
	})
	o := &proxyOrigins{plain: httptest.NewServer(h), secure: httptest.NewUnstartedServer(h)}
	o.secure.EnableHTTP2 = true
	o.secure.StartTLS()
	t.Cleanup(o.plain.Close)
	t.Cleanup(o.secure.Close)
	return o
}

// proxyDir makes a directory for a proxy's files that the user it drops
// privileges to (when run as root) can write.
func proxyDir(t *testing.T, owner string) string {
	dir, err := os.MkdirTemp("", "proxy-interop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	if os.Geteuid() == 0 && owner != "" {
		if u, err := user.Lookup(owner); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			os.Chown(dir, uid, gid)
		}
	}
	return dir
}

// challengeAnswerer answers proxy challenges with a credential and counts
// them.
type challengeAnswerer struct {
	user, password string
	mu             sync.Mutex
	spaces         []credstore.ProtectionSpace
}

// seen returns the proxy spaces challenged so far.
func (a *challengeAnswerer) seen() []credstore.ProtectionSpace {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]credstore.ProtectionSpace(nil), a.spaces...)
}

func (a *challengeAnswerer) TaskDidReceiveChallenge(s *urlsession.Session, t *urlsession.Task, c *urlsession.Challenge) (urlsession.AuthChallengeDisposition, *urlsession.Credential) {
	if !c.ProtectionSpace.IsProxy() {
		return urlsession.PerformDefaultHandling, nil
	}
	a.mu.Lock()
	a.spaces = append(a.spaces, c.ProtectionSpace)
	a.mu.Unlock()
	if c.PreviousFailureCount > 0 {
		return urlsession.PerformDefaultHandling, nil
	}
	return urlsession.UseCredential, urlsession.NewCredential(a.user, a.password, credstore.None)
}

// throughProxy loads both origins through proxyURL and checks the bodies:
// HTTP/1.1 forwarded or tunnelled, HTTP/2 through CONNECT, and never a
// Proxy-Authorization at the origin.
func throughProxy(t *testing.T, o *proxyOrigins, proxyURL string, delegate any) {
	t.Helper()
	pc, err := urlsession.ProxyURL(proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := urlsession.EphemeralConfiguration()
	cfg.ProxyConfiguration = pc
	cfg.TLSClientConfig = o.secure.Client().Transport.(*http.Transport).TLSClientConfig
	s, err := urlsession.New(cfg, delegate)
	if err != nil {
		t.Fatal(err)
	}
	defer s.InvalidateAndCancel()
	for _, c := range []struct{ url, proto string }{
		{o.plain.URL + "/a", "HTTP/1.1"},
		{o.secure.URL + "/b", "HTTP/2.0"},
		{o.plain.URL + "/c", "HTTP/1.1"},
	} {
		req, _ := http.NewRequest(http.MethodGet, c.url, nil)
		body, resp, err := s.Data(t.Context(), req)
		if err != nil {
			t.Fatalf("%s through %s: %v", c.url, redact(proxyURL), err)
		}
		if want := c.proto + ` proxy-auth=""`; resp.StatusCode != 200 || string(body) != want {
			t.Errorf("%s through %s: %d %q; want %q", c.url, redact(proxyURL), resp.StatusCode, body, want)
		}
	}
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Redacted()
}

// startSquid runs squid on a loopback port with the given auth lines
// ("" for none) and returns its port.
func startSquid(t *testing.T, dir, auth string) int {
	bin := need(t, "squid")
	port := freePort(t)
	access := "http_access allow all"
	if auth != "" {
		access = auth + "\nacl authed proxy_auth REQUIRED\nhttp_access allow authed\nhttp_access deny all"
	}
	conf := fmt.Sprintf(`http_port 127.0.0.1:%[2]d
pid_filename %[1]s/squid.pid
cache_log %[1]s/cache.log
access_log none
cache deny all
cache_mem 4 MB
coredump_dir %[1]s
netdb_filename none
pinger_enable off
shutdown_lifetime 1 seconds
dns_v4_first on
%[3]s
`, dir, port, access)
	file := filepath.Join(dir, "squid.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-N", "-f", file)
	startDaemon(t, "squid", cmd, port, filepath.Join(dir, "cache.log"))
	return port
}

func TestSquid(t *testing.T) {
	o := startProxyOrigins(t)
	t.Run("open", func(t *testing.T) {
		port := startSquid(t, proxyDir(t, "proxy"), "")
		throughProxy(t, o, fmt.Sprintf("http://127.0.0.1:%d", port), nil)
	})
	t.Run("basic", func(t *testing.T) {
		dir := proxyDir(t, "proxy")
		htpasswd := need(t, "htpasswd")
		if out, err := exec.Command(htpasswd, "-b", "-c", "-m", filepath.Join(dir, "passwd"), "squser", "sqpass").CombinedOutput(); err != nil {
			t.Fatalf("htpasswd: %v %s", err, out)
		}
		os.Chmod(filepath.Join(dir, "passwd"), 0o644)
		port := startSquid(t, dir, fmt.Sprintf("auth_param basic program /usr/lib/squid/basic_ncsa_auth %s/passwd\nauth_param basic realm squid-basic", dir))
		// The credential in the proxy URL, sent pre-emptively.
		throughProxy(t, o, fmt.Sprintf("http://squser:sqpass@127.0.0.1:%d", port), nil)
		// A challenge answered by the delegate, once per session.
		a := &challengeAnswerer{user: "squser", password: "sqpass"}
		throughProxy(t, o, fmt.Sprintf("http://127.0.0.1:%d", port), a)
		if sp := a.seen(); len(sp) != 1 || sp[0].Realm != "squid-basic" || sp[0].AuthenticationMethod != credstore.AuthMethodHTTPBasic || sp[0].Port != port {
			t.Errorf("challenges %v; want one Basic for the proxy", sp)
		}
	})
	t.Run("digest", func(t *testing.T) {
		dir := proxyDir(t, "proxy")
		if err := os.WriteFile(filepath.Join(dir, "digest"), []byte("sqdigest:sqsecret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		port := startSquid(t, dir, fmt.Sprintf("auth_param digest program /usr/lib/squid/digest_file_auth %s/digest\nauth_param digest realm squid-digest", dir))
		a := &challengeAnswerer{user: "sqdigest", password: "sqsecret"}
		throughProxy(t, o, fmt.Sprintf("http://127.0.0.1:%d", port), a)
		if sp := a.seen(); len(sp) == 0 || sp[0].AuthenticationMethod != credstore.AuthMethodHTTPDigest || sp[0].Realm != "squid-digest" {
			t.Errorf("challenges %v; want Digest for the proxy", sp)
		}
	})
}

func TestMicrosocks(t *testing.T) {
	bin := need(t, "microsocks")
	o := startProxyOrigins(t)
	port := freePort(t)
	startDaemon(t, "microsocks", exec.Command(bin, "-i", "127.0.0.1", "-p", strconv.Itoa(port)), port)
	for _, scheme := range []string{"socks5", "socks5h"} {
		throughProxy(t, o, fmt.Sprintf("%s://127.0.0.1:%d", scheme, port), nil)
	}
	authPort := freePort(t)
	startDaemon(t, "microsocks", exec.Command(bin, "-i", "127.0.0.1", "-p", strconv.Itoa(authPort), "-u", "msuser", "-P", "mspass"), authPort)
	throughProxy(t, o, fmt.Sprintf("socks5h://msuser:mspass@127.0.0.1:%d", authPort), nil)

	cfg := urlsession.EphemeralConfiguration()
	cfg.ProxyConfiguration, _ = urlsession.ProxyURL(fmt.Sprintf("socks5://msuser:wrong@127.0.0.1:%d", authPort))
	s, _ := urlsession.New(cfg, nil)
	defer s.InvalidateAndCancel()
	req, _ := http.NewRequest(http.MethodGet, o.plain.URL, nil)
	if _, _, err := s.Data(t.Context(), req); urlsession.CodeOf(err) != urlsession.ErrUserAuthenticationRequired || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong SOCKS password: %v", err)
	}
}

func TestTinyproxy(t *testing.T) {
	bin := need(t, "tinyproxy")
	o := startProxyOrigins(t)
	start := func(t *testing.T, extra string) int {
		dir := proxyDir(t, "nobody")
		port := freePort(t)
		conf := fmt.Sprintf("Port %d\nListen 127.0.0.1\nTimeout 60\nMaxClients 16\nAllow 127.0.0.1\nPidFile \"%s/tinyproxy.pid\"\nLogLevel Warning\n%s\n", port, dir, extra)
		if os.Geteuid() == 0 {
			conf += "User nobody\nGroup nogroup\n"
		}
		file := filepath.Join(dir, "tinyproxy.conf")
		if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		startDaemon(t, "tinyproxy", exec.Command(bin, "-d", "-c", file), port)
		return port
	}
	t.Run("open", func(t *testing.T) {
		throughProxy(t, o, fmt.Sprintf("http://127.0.0.1:%d", start(t, "")), nil)
	})
	t.Run("basic", func(t *testing.T) {
		port := start(t, "BasicAuth tpuser tppass")
		a := &challengeAnswerer{user: "tpuser", password: "tppass"}
		throughProxy(t, o, fmt.Sprintf("http://127.0.0.1:%d", port), a)
		if sp := a.seen(); len(sp) != 1 || sp[0].AuthenticationMethod != credstore.AuthMethodHTTPBasic {
			t.Errorf("challenges %v; want one Basic for the proxy", sp)
		}
	})
}

// TestSquidThroughput measures one large download through squid via
// CONNECT (an https origin on loopback), the session against curl -x on
// the same proxy and origin. It runs only with PROXY_BENCH_BYTES set (the
// body size) and reports the wall times; see bench/README.md.
func TestSquidThroughput(t *testing.T) {
	size, _ := strconv.ParseInt(os.Getenv("PROXY_BENCH_BYTES"), 10, 64)
	if size <= 0 {
		t.Skip("PROXY_BENCH_BYTES is not set")
	}
	curl := need(t, "curl")
	chunk := make([]byte, 1<<20)
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		for left := size; left > 0; left -= int64(len(chunk)) {
			if _, err := w.Write(chunk[:min(left, int64(len(chunk)))]); err != nil {
				return
			}
		}
	}))
	origin.EnableHTTP2 = false
	origin.StartTLS()
	t.Cleanup(origin.Close)
	port := startSquid(t, proxyDir(t, "proxy"), "")
	proxyURL := fmt.Sprintf("http://127.0.0.1:%d", port)

	session := func() time.Duration {
		cfg := urlsession.EphemeralConfiguration()
		cfg.URLCache = nil
		cfg.ProxyConfiguration, _ = urlsession.ProxyURL(proxyURL)
		cfg.TLSClientConfig = origin.Client().Transport.(*http.Transport).TLSClientConfig
		cfg.DisableHTTP2 = true
		s, err := urlsession.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.InvalidateAndCancel()
		req, _ := http.NewRequest(http.MethodGet, origin.URL+"/big", nil)
		start := time.Now()
		body, resp, err := s.Bytes(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, body)
		body.Close()
		if err != nil || n != size || resp.StatusCode != 200 {
			t.Fatalf("session: %d bytes, %v", n, err)
		}
		return time.Since(start)
	}
	viaCurl := func() time.Duration {
		start := time.Now()
		out, err := exec.Command(curl, "-sS", "-k", "--http1.1", "-x", proxyURL, "-o", "/dev/null", origin.URL+"/big").CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v %s", err, out)
		}
		return time.Since(start)
	}
	var ours, theirs []time.Duration
	for range 3 {
		theirs = append(theirs, viaCurl())
		ours = append(ours, session())
	}
	slices.Sort(ours)
	slices.Sort(theirs)
	t.Logf("%d bytes through squid (CONNECT): session %v, curl -x %v (medians of 3): ratio %.2f",
		size, ours[1], theirs[1], float64(ours[1])/float64(theirs[1]))
}
