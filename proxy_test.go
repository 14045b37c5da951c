package urlsession

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/proxy/proxytest"
)

// echoOrigin answers with the protocol, the host asked for and the
// Proxy-Authorization it received, which must always be empty.
var echoOrigin = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/redirect" {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		return
	}
	fmt.Fprintf(w, "%s %s proxy-auth=%q", r.Proto, r.Host, r.Header.Get("Proxy-Authorization"))
})

// proxied returns srv's configuration going through the proxy at
// proxyURL for every scheme.
func proxied(t *testing.T, srv *server, proxyURL string, exceptions ...string) *Configuration {
	t.Helper()
	cfg := srv.config()
	cfg.Proxy = nil
	pc, err := ProxyURL(proxyURL, exceptions...)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ProxyConfiguration = pc
	cfg.TransportSecurity.AllowsArbitraryLoads = true // http://example.com through the proxy
	return cfg
}

// named returns srv's URL with the host "example.com" (in the test
// certificate), which only the test proxies resolve (to loopback).
func named(srv *server) string {
	u, _ := url.Parse(srv.URL)
	return u.Scheme + "://example.com:" + u.Port()
}

// metricsRecorder keeps the task metrics.
type metricsRecorder struct {
	mu sync.Mutex
	m  []*TaskMetrics
}

func (r *metricsRecorder) DidFinishCollectingMetrics(s *Session, t *Task, m *TaskMetrics) {
	r.mu.Lock()
	r.m = append(r.m, m)
	r.mu.Unlock()
}

func (r *metricsRecorder) last() *TaskMetrics {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.m) == 0 {
		return nil
	}
	return r.m[len(r.m)-1]
}

func TestProxyKinds(t *testing.T) {
	t.Parallel()
	bothProtocols(t, echoOrigin, func(t *testing.T, srv *server) {
		hp := proxytest.NewHTTPProxy(t)
		sp := proxytest.NewSOCKS(t)
		wantProto := "HTTP/1.1"
		if srv.proto == "h2" {
			wantProto = "HTTP/2.0"
		}
		for _, c := range []struct {
			proxy string
			seen  func() string // what the proxy saw last
			want  string
		}{
			{hp.URL(), func() string { r := hp.Requests(); return r[len(r)-1].Line }, ""},
			{"socks5h://" + sp.Addr, func() string { r := sp.Targets(); return r[len(r)-1] }, "v5 name example.com:"},
			{"socks4a://" + sp.Addr, func() string { r := sp.Targets(); return r[len(r)-1] }, "v4a name example.com:"},
			{"socks5://" + sp.Addr, func() string { r := sp.Targets(); return r[len(r)-1] }, "v5 ip 127.0.0.1:"},
			{"socks4://" + sp.Addr, func() string { r := sp.Targets(); return r[len(r)-1] }, "v4 ip 127.0.0.1:"},
		} {
			target := named(srv)
			if strings.Contains(c.want, "ip") {
				target = srv.URL // local DNS: the client resolves, so use an address
			}
			if c.want == "" {
				if srv.proto == "h2" {
					c.want = "CONNECT example.com:"
				} else {
					c.want = "GET " + target + "/x"
				}
			}
			mr := &metricsRecorder{}
			s := newSession(t, proxied(t, srv, c.proxy), mr)
			body, resp, err := s.Data(t.Context(), get(t, target+"/x"))
			if err != nil {
				t.Errorf("%s: %v", c.proxy, err)
				continue
			}
			host := strings.TrimPrefix(strings.TrimPrefix(target, "http://"), "https://")
			if want := wantProto + " " + host + ` proxy-auth=""`; string(body) != want || resp.StatusCode != 200 {
				t.Errorf("%s: %d %q; want %q", c.proxy, resp.StatusCode, body, want)
			}
			if got := c.seen(); !strings.HasPrefix(got, c.want) {
				t.Errorf("%s: the proxy saw %q; want %q", c.proxy, got, c.want)
			}
			s.FinishTasksAndInvalidate()
			<-s.invalidated
			if m := mr.last(); m == nil || len(m.Transactions) != 1 || !m.Transactions[0].ProxyConnection {
				t.Errorf("%s: metrics do not report the proxy: %+v", c.proxy, m)
			}
		}
	})
}

func TestProxyAuthentication(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"Basic", "Digest"} {
		bothProtocols(t, echoOrigin, func(t *testing.T, srv *server) {
			hp := proxytest.NewHTTPProxy(t)
			hp.User, hp.Password, hp.Scheme = "puser", "ppass", scheme
			_, portText, _ := net.SplitHostPort(hp.Addr)
			target := named(srv) + "/x"

			// No credential: the 407 is the response.
			s := newSession(t, proxied(t, srv, hp.URL()), nil)
			_, resp, err := s.Data(t.Context(), get(t, target))
			if err != nil || resp.StatusCode != http.StatusProxyAuthRequired {
				t.Fatalf("%s without credential: %v %v; want the 407", scheme, resp, err)
			}

			// A delegate answers: the challenge has the proxy's space.
			log := &challengeLog{answer: func(c *Challenge) (AuthChallengeDisposition, *Credential) {
				return UseCredential, NewCredential("puser", "ppass", credstore.ForSession)
			}}
			store, _ := credstore.New(credstore.Options{})
			cfg := proxied(t, srv, hp.URL())
			cfg.URLCredentialStorage = store
			s = newSession(t, cfg, log)
			for i := range 2 {
				body, resp, err := s.Data(t.Context(), get(t, target))
				if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(string(body), `proxy-auth=""`) {
					t.Fatalf("%s answered (%d): %v %q %v", scheme, i, resp, body, err)
				}
			}
			ch := log.challenges()
			if len(ch) != 1 {
				t.Fatalf("%s: %d challenges; want 1 (the second request sends the credential unasked)", scheme, len(ch))
			}
			ps := ch[0].ProtectionSpace
			if ps.Host != "127.0.0.1" || fmt.Sprint(ps.Port) != portText || ps.ProxyType != credstore.ProxyHTTP ||
				ps.Realm != "proxytest" || ps.AuthenticationMethod != "NSURLAuthenticationMethodHTTP"+scheme || !ps.IsProxy() {
				t.Errorf("%s: protection space %v", scheme, ps)
			}
			if ch[0].FailureResponse == nil || ch[0].FailureResponse.StatusCode != 407 || ch[0].PreviousFailureCount != 0 {
				t.Errorf("%s: challenge %+v", scheme, ch[0])
			}
			if c, ok := store.DefaultCredential(ps); !ok || c.User != "puser" {
				t.Errorf("%s: the credential was not stored for the proxy space", scheme)
			}
			reqs := hp.Requests()
			if got := reqs[len(reqs)-1]; got.Answer != 200 || got.ProxyAuthorization == "" {
				t.Errorf("%s: last proxy request %+v", scheme, got)
			}

			// A wrong credential: asked again with the failure counted,
			// then the 407.
			log = &challengeLog{answer: func(c *Challenge) (AuthChallengeDisposition, *Credential) {
				if c.PreviousFailureCount > 0 {
					return PerformDefaultHandling, nil
				}
				return UseCredential, NewCredential("puser", "wrong", credstore.None)
			}}
			s = newSession(t, proxied(t, srv, hp.URL()), log)
			_, resp, err = s.Data(t.Context(), get(t, target))
			if err != nil || resp.StatusCode != 407 {
				t.Fatalf("%s wrong credential: %v %v", scheme, resp, err)
			}
			if ch := log.challenges(); len(ch) != 2 || ch[1].PreviousFailureCount != 1 || ch[1].ProposedCredential.Password != "wrong" {
				t.Errorf("%s: challenges %+v", scheme, ch)
			}

			// Cancelled: -999.
			log = &challengeLog{answer: func(c *Challenge) (AuthChallengeDisposition, *Credential) {
				return CancelAuthenticationChallenge, nil
			}}
			s = newSession(t, proxied(t, srv, hp.URL()), log)
			if _, _, err := s.Data(t.Context(), get(t, target)); CodeOf(err) != ErrCancelled {
				t.Errorf("%s cancelled: %v", scheme, err)
			}

			// Default handling uses the credential storage's default for
			// the proxy space.
			store, _ = credstore.New(credstore.Options{})
			space := credstore.ProtectionSpace{Host: "127.0.0.1", Port: hp.Port(), ProxyType: credstore.ProxyHTTP, Realm: "proxytest", AuthenticationMethod: "NSURLAuthenticationMethodHTTP" + scheme}
			store.SetDefaultCredential(credstore.Credential{User: "puser", Password: "ppass", Persistence: credstore.ForSession}, space)
			cfg = proxied(t, srv, hp.URL())
			cfg.URLCredentialStorage = store
			s = newSession(t, cfg, nil)
			if _, resp, err := s.Data(t.Context(), get(t, target)); err != nil || resp.StatusCode != 200 {
				t.Errorf("%s from the storage: %v %v", scheme, resp, err)
			}
		})
	}
}

func TestProxyURLCredentialsArePreemptive(t *testing.T) {
	t.Parallel()
	bothProtocols(t, echoOrigin, func(t *testing.T, srv *server) {
		hp := proxytest.NewHTTPProxy(t)
		hp.User, hp.Password = "u", "p@ss"
		s := newSession(t, proxied(t, srv, "http://u:p%40ss@"+hp.Addr), nil)
		body, resp, err := s.Data(t.Context(), get(t, named(srv)+"/x"))
		if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(string(body), `proxy-auth=""`) {
			t.Fatalf("%v %q %v", resp, body, err)
		}
		if r := hp.Requests(); len(r) != 1 || r[0].Answer != 200 {
			t.Errorf("proxy requests %+v; want one, authorized", r)
		}
	})
}

func TestProxySOCKSAuthentication(t *testing.T) {
	t.Parallel()
	bothProtocols(t, echoOrigin, func(t *testing.T, srv *server) {
		sp := proxytest.NewSOCKS(t)
		sp.User, sp.Password = "su", "sp"
		s := newSession(t, proxied(t, srv, "socks5h://su:sp@"+sp.Addr), nil)
		if _, resp, err := s.Data(t.Context(), get(t, named(srv)+"/x")); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		s = newSession(t, proxied(t, srv, "socks5h://su:nottheone@"+sp.Addr), nil)
		_, _, err := s.Data(t.Context(), get(t, named(srv)+"/x"))
		if CodeOf(err) != ErrUserAuthenticationRequired || strings.Contains(err.Error(), "nottheone") {
			t.Errorf("wrong SOCKS password: %v; want -1013 without the password", err)
		}
	})
}

func TestProxyFailures(t *testing.T) {
	t.Parallel()
	srv := &server{newLoopbackServer(t, echoOrigin), "h1"}
	for _, c := range []struct {
		proxy string
		code  Code
	}{
		{"http://" + proxytest.Refusing(t), ErrCannotConnectToHost},
		{"socks5://" + proxytest.Refusing(t), ErrCannotConnectToHost},
		{"http://" + proxytest.Garbage(t, "SSH-2.0-OpenSSH\r\n\r\n"), ErrBadServerResponse},
		{"socks5://" + proxytest.Garbage(t, "HTTP/1.1 400 Bad Request\r\n\r\n"), ErrBadServerResponse},
		{"socks4://" + proxytest.Garbage(t, ""), ErrNetworkConnectionLost},
	} {
		s := newSession(t, proxied(t, srv, c.proxy), nil)
		// https: the CONNECT (or SOCKS) handshake fails.
		_, _, err := s.Data(t.Context(), get(t, "https://127.0.0.1:1/x"))
		if CodeOf(err) != c.code {
			t.Errorf("%s: %v (%d); want %d", c.proxy, err, CodeOf(err), c.code)
		}
	}
	_, err := New(&Configuration{ProxyConfiguration: &ProxyConfiguration{HTTPProxy: &url.URL{Scheme: "gopher", Host: "x", User: url.UserPassword("u", "hunter2")}}}, nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad proxy URL: %v", err)
	}
}

func TestProxyPACFallover(t *testing.T) {
	t.Parallel()
	bothProtocols(t, echoOrigin, func(t *testing.T, srv *server) {
		sp := proxytest.NewSOCKS(t)
		refusing := proxytest.Refusing(t)
		script := fmt.Sprintf(`function FindProxyForURL(url, host) {
			if (host == "127.0.0.1") return "PROXY %s; DIRECT";
			if (dnsDomainIs(host, "example.com")) return "PROXY %s; SOCKS %s; DIRECT";
			return "DIRECT";
		}`, refusing, refusing, sp.Addr)
		cfg := srv.config()
		cfg.Proxy = nil
		cfg.ProxyConfiguration = &ProxyConfiguration{PACScript: script}
		cfg.TransportSecurity.AllowsArbitraryLoads = true
		mr := &metricsRecorder{}
		s := newSession(t, cfg, mr)
		// The first proxy refuses: the SOCKS gateway of the list is used.
		for range 2 {
			if body, _, err := s.Data(t.Context(), get(t, named(srv)+"/x")); err != nil || !strings.Contains(string(body), "example.com") {
				t.Fatalf("through the second proxy: %q %v", body, err)
			}
		}
		if got := sp.Targets(); len(got) == 0 || !strings.HasPrefix(got[0], "v5 name example.com:") {
			t.Errorf("gateway targets %q", got)
		}
		// Fall-over to DIRECT.
		if _, resp, err := s.Data(t.Context(), get(t, srv.URL+"/x")); err != nil || resp.StatusCode != 200 {
			t.Errorf("DIRECT after a refusing proxy: %v %v", resp, err)
		}
	})
}

func TestProxyExceptionsAndRedirect(t *testing.T) {
	t.Parallel()
	bothProtocols(t, echoOrigin, func(t *testing.T, srv *server) {
		hp := proxytest.NewHTTPProxy(t)
		hp.User, hp.Password = "u", "p"
		// 127.0.0.1 is excepted; example.com goes through the proxy.
		s := newSession(t, proxied(t, srv, "http://u:p@"+hp.Addr, "127.0.0.0/8"), nil)
		body, _, err := s.Data(t.Context(), get(t, srv.URL+"/x"))
		if err != nil || !strings.HasSuffix(string(body), `proxy-auth=""`) {
			t.Fatalf("excepted host: %q %v", body, err)
		}
		if n := len(hp.Requests()); n != 0 {
			t.Errorf("the proxy saw %d requests for an excepted host", n)
		}
		// A redirect from a proxied host to an excepted one: the second
		// request goes direct, without Proxy-Authorization.
		req := get(t, named(srv)+"/redirect?to="+url.QueryEscape(srv.URL+"/after"))
		req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0OnNlY3JldA==")
		body, resp, err := s.Data(t.Context(), req)
		direct := strings.SplitN(srv.URL, "//", 2)[1]
		if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(string(body), direct+` proxy-auth=""`) {
			t.Fatalf("redirected: %v %q %v", resp, body, err)
		}
		if n := len(hp.Requests()); n != 1 {
			t.Errorf("the proxy saw %d requests; want 1", n)
		}
	})
}

func TestProxyConfigurationFunc(t *testing.T) {
	t.Parallel()
	srv := &server{newLoopbackServer(t, echoOrigin), "h1"}
	sp := proxytest.NewSOCKS(t)
	cfg := srv.config()
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse("socks5h://" + sp.Addr) }
	s := newSession(t, cfg, nil)
	if _, resp, err := s.Data(t.Context(), get(t, srv.URL+"/x")); err != nil || resp.StatusCode != 200 || len(sp.Targets()) != 1 {
		t.Fatalf("Configuration.Proxy with SOCKS: %v %v", resp, err)
	}
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, fmt.Errorf("no proxy today") }
	s = newSession(t, cfg, nil)
	if _, _, err := s.Data(t.Context(), get(t, srv.URL+"/x")); CodeOf(err) != ErrCannotConnectToHost {
		t.Errorf("a failing Proxy: %v", err)
	}
}

func TestProxyFromEnvironment(t *testing.T) {
	for _, k := range []string{"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ftp_proxy", "FTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"} {
		t.Setenv(k, "")
	}
	if c := ProxyFromEnvironment(); c != nil {
		t.Errorf("no variables: %+v", c)
	}
	t.Setenv("HTTP_PROXY", "http://ignored.test:1")
	t.Setenv("https_proxy", "socks5h://s.test:1080")
	t.Setenv("ALL_PROXY", "http://all.test:3128")
	t.Setenv("NO_PROXY", "localhost,.corp.test")
	c := ProxyFromEnvironment()
	if c == nil || c.HTTPProxy != nil || c.HTTPSProxy.String() != "socks5h://s.test:1080" || c.SOCKSProxy.String() != "http://all.test:3128" ||
		len(c.Exceptions) != 1 || c.Exceptions[0] != "localhost,.corp.test" {
		t.Errorf("ProxyFromEnvironment = %+v", c)
	}
	// A session with no proxy setting reads the environment.
	srv := &server{newLoopbackServer(t, echoOrigin), "h1"}
	sp := proxytest.NewSOCKS(t)
	t.Setenv("ALL_PROXY", "socks5://"+sp.Addr)
	t.Setenv("NO_PROXY", "")
	cfg := srv.config()
	cfg.Proxy = nil
	s := newSession(t, cfg, nil)
	if _, resp, err := s.Data(t.Context(), get(t, srv.URL+"/x")); err != nil || resp.StatusCode != 200 || len(sp.Targets()) != 1 {
		t.Fatalf("environment proxy: %v %v %q", resp, err, sp.Targets())
	}
}

func TestProxyGSettings(t *testing.T) {
	pc := fromGSettings("org.gnome.system.proxy mode 'manual'\norg.gnome.system.proxy.socks host 'gw.test'\norg.gnome.system.proxy.socks port 1080\norg.gnome.system.proxy ignore-hosts ['localhost', '10.0.0.0/8']\n")
	if pc == nil || pc.SOCKSProxy.String() != "socks5h://gw.test:1080" || len(pc.Exceptions) != 2 {
		t.Errorf("manual: %+v", pc)
	}
	if pc := fromGSettings("org.gnome.system.proxy mode 'auto'\norg.gnome.system.proxy autoconfig-url 'http://wpad.test/p.pac'\n"); pc == nil || pc.PACURL != "http://wpad.test/p.pac" {
		t.Errorf("auto: %+v", pc)
	}
	if pc := fromGSettings("org.gnome.system.proxy mode 'none'\n"); pc != nil {
		t.Errorf("none: %+v", pc)
	}
}

func TestProxyConfigurationClone(t *testing.T) {
	pc, err := ProxyURL("http://u:p@proxy.test:3128", "a.test")
	if err != nil {
		t.Fatal(err)
	}
	c := pc.Clone()
	c.HTTPProxy.Host = "changed"
	c.Exceptions[0] = "changed"
	if pc.HTTPProxy.Host != "proxy.test:3128" || pc.Exceptions[0] != "a.test" {
		t.Error("Clone shares state")
	}
	if _, err := ProxyURL("ftp://x"); err == nil {
		t.Error("ProxyURL accepted ftp://")
	}
	if err := (&Configuration{ProxyConfiguration: &ProxyConfiguration{Exceptions: []string{"1.2.3.4/99"}}}).Validate(); err == nil {
		t.Error("a bad exception passed Validate")
	}
	if err := (&Configuration{ProxyConfiguration: &ProxyConfiguration{PACURL: "gopher://x"}}).Validate(); err == nil {
		t.Error("a gopher PAC URL passed Validate")
	}
}

// TestProxyGoproxy goes through github.com/elazarl/goproxy, a forward
// proxy with CONNECT: http is forwarded, https tunnelled (HTTP/2 inside).
func TestProxyGoproxy(t *testing.T) {
	t.Parallel()
	gp := goproxy.NewProxyHttpServer()
	gp.Logger = log.New(io.Discard, "", 0)
	ps := httptest.NewServer(gp)
	t.Cleanup(ps.Close)
	bothProtocols(t, echoOrigin, func(t *testing.T, srv *server) {
		s := newSession(t, proxied(t, srv, ps.URL), nil)
		body, resp, err := s.Data(t.Context(), get(t, srv.URL+"/x"))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		want := "HTTP/1.1"
		if srv.proto == "h2" {
			want = "HTTP/2.0"
		}
		if !strings.HasPrefix(string(body), want+" ") || !strings.HasSuffix(string(body), `proxy-auth=""`) {
			t.Errorf("body %q; want %s", body, want)
		}
	})
}

// TestProxyHTTPS goes through an https proxy: TLS to the proxy, verified
// against ProxyTLSConfig, then forwarding or CONNECT inside it.
func TestProxyHTTPS(t *testing.T) {
	t.Parallel()
	front := httptest.NewUnstartedServer(nil)
	front.StartTLS()
	serverCfg, clientCfg := front.TLS, front.Client().Transport.(*http.Transport).TLSClientConfig
	front.Close() // only its certificate is used
	bothProtocols(t, echoOrigin, func(t *testing.T, srv *server) {
		hp := proxytest.NewHTTPProxy(t)
		hp.User, hp.Password = "tu", "tp"
		addr := proxytest.TLSFront(t, serverCfg, hp.Addr)
		cfg := proxied(t, srv, "https://tu:tp@"+addr)
		cfg.ProxyConfiguration.ProxyTLSConfig = clientCfg
		s := newSession(t, cfg, nil)
		body, resp, err := s.Data(t.Context(), get(t, named(srv)+"/x"))
		if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(string(body), `proxy-auth=""`) {
			t.Fatalf("through an https proxy: %v %q %v", resp, body, err)
		}
		// The proxy's certificate is verified.
		cfg = proxied(t, srv, "https://tu:tp@"+addr)
		s = newSession(t, cfg, nil)
		if _, _, err := s.Data(t.Context(), get(t, named(srv)+"/x")); CodeOf(err) != ErrServerCertificateUntrusted && CodeOf(err) != ErrServerCertificateHasUnknownRoot {
			t.Errorf("untrusted https proxy: %v (%d)", err, CodeOf(err))
		}
	})
}

// TestProxyChallengeDispositions: RejectProtectionSpace tries the next
// scheme the proxy offers, then delivers the 407; UseCredential without a
// credential delivers it at once.
func TestProxyChallengeDispositions(t *testing.T) {
	t.Parallel()
	srv := &server{newLoopbackServer(t, echoOrigin), "h1"}
	hp := proxytest.NewHTTPProxy(t)
	hp.User, hp.Password = "u", "p"
	for _, c := range []struct {
		name   string
		disp   AuthChallengeDisposition
		status int
		asked  int
	}{
		{"reject", RejectProtectionSpace, 407, 1},
		{"use nil", UseCredential, 407, 1},
	} {
		log := &challengeLog{answer: func(*Challenge) (AuthChallengeDisposition, *Credential) { return c.disp, nil }}
		s := newSession(t, proxied(t, srv, hp.URL()), log)
		for _, target := range []string{"http://example.com:1/x", srv.URL + "/x"} {
			// http://example.com is forwarded; 127.0.0.1 too (h1).
			_, resp, err := s.Data(t.Context(), get(t, target))
			if err != nil || resp.StatusCode != c.status {
				t.Errorf("%s %s: %v %v", c.name, target, resp, err)
			}
		}
		if n := len(log.challenges()); n != 2*c.asked {
			t.Errorf("%s: asked %d times; want %d", c.name, n, 2*c.asked)
		}
	}
}

// TestProxyNTLM: an NTLM proxy's legs run on the CONNECT of the tunnel,
// for https and for plain http (tunnelled too); the credential then serves
// the session's later connections without asking.
func TestProxyNTLM(t *testing.T) {
	t.Parallel()
	bothProtocols(t, echoOrigin, func(t *testing.T, srv *server) {
		hp := proxytest.NewHTTPProxy(t)
		hp.User, hp.Password, hp.Scheme = `CORP\alice`, "Pa$$w0rd", "NTLM"
		d := &ntlmSessionDelegate{pw: "Pa$$w0rd"}
		s := newSession(t, proxied(t, srv, hp.URL()), d)
		for range 2 {
			body, resp, err := s.Data(t.Context(), get(t, named(srv)+"/x"))
			if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(string(body), `proxy-auth=""`) {
				t.Fatalf("through an NTLM proxy: %v %q %v", resp, body, err)
			}
		}
		if n := d.asked.Load(); n != 1 {
			t.Errorf("asked %d times; want 1", n)
		}
		var lines []string
		for _, r := range hp.Requests() {
			lines = append(lines, fmt.Sprintf("%s %d", strings.Fields(r.Line)[0], r.Answer))
		}
		if want := []string{"407", "407", "200"}; len(lines) < 3 || !strings.HasSuffix(lines[1], want[1]) || !strings.HasSuffix(lines[2], want[2]) || !strings.HasPrefix(lines[2], "CONNECT") {
			t.Errorf("proxy saw %q", lines)
		}
		d = &ntlmSessionDelegate{pw: "wrong"}
		s = newSession(t, proxied(t, srv, hp.URL()), d)
		if _, _, err := s.Data(t.Context(), get(t, named(srv)+"/x")); CodeOf(err) != ErrCancelled || d.asked.Load() != 2 {
			t.Errorf("wrong password: %v after %d questions", err, d.asked.Load())
		}
	})
}

// TestProxySilent: a proxy that accepts and never answers fails the task
// with the request timeout, for CONNECT and for SOCKS, without a hang.
func TestProxySilent(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	srv := &server{newLoopbackServer(t, echoOrigin), "h1"}
	for _, scheme := range []string{"http", "socks5h"} {
		cfg := proxied(t, srv, scheme+"://"+ln.Addr().String())
		cfg.TimeoutIntervalForRequest = 300 * time.Millisecond
		s := newSession(t, cfg, nil)
		if _, _, err := s.Data(t.Context(), get(t, "https://example.com/x")); CodeOf(err) != ErrTimedOut {
			t.Errorf("%s: %v; want -1001", scheme, err)
		}
	}
}
