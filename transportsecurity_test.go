package urlsession

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// dialLog is a Configuration.DialContext that connects every address to one
// loopback server and records the addresses asked for.
type dialLog struct {
	target string
	mu     sync.Mutex
	addrs  []string
}

func (d *dialLog) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.target)
}

func (d *dialLog) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// atsServer is a loopback server that counts the requests it gets, with a
// configuration on the real App Transport Security defaults whose dialer
// reaches it whatever host a URL names.
type atsServer struct {
	*httptest.Server
	requests atomic.Int32
	dials    *dialLog
}

func newATSServer(t *testing.T, h http.Handler, tlsConfig *tls.Config) *atsServer {
	t.Helper()
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "loaded "+r.Host) })
	}
	a := &atsServer{}
	a.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	a.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	if tlsConfig != nil {
		a.TLS = tlsConfig
		a.StartTLS()
	} else {
		a.Start()
	}
	t.Cleanup(a.Close)
	a.dials = &dialLog{target: a.Listener.Addr().String()}
	return a
}

// config returns a configuration with ATS as Configuration{} has it.
func (a *atsServer) config() *Configuration {
	cfg := &Configuration{Proxy: NoProxy, DialContext: a.dials.dial}
	if a.TLS != nil {
		cfg.TLSClientConfig = &tls.Config{RootCAs: a.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	}
	return cfg
}

// port returns the server's port.
func (a *atsServer) port() string {
	_, p, _ := net.SplitHostPort(a.Listener.Addr().String())
	return p
}

// url returns scheme://host:port/path for the server.
func (a *atsServer) url(scheme, host, path string) string {
	return scheme + "://" + net.JoinHostPort(host, a.port()) + path
}

// wantATSError fails unless err is an *Error with code and URL rawURL whose
// cause is a *TransportSecurityError needing the exception needs.
func wantATSError(t *testing.T, err error, code Code, rawURL string, needs TransportSecurityException) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *Error with code %d", err, err, code)
	}
	if e.Code != code || !errors.Is(err, code) {
		t.Errorf("code %d, want %d (%v)", e.Code, code, err)
	}
	if e.URL != rawURL {
		t.Errorf("Error.URL %q, want %q", e.URL, rawURL)
	}
	var v *TransportSecurityError
	if !errors.As(err, &v) {
		t.Fatalf("cause %v, want a *TransportSecurityError", e.Err)
	}
	if v.Needs != needs {
		t.Errorf("Needs %+v (%s), want %+v", v.Needs, v.Needs, needs)
	}
}

// TestATSZeroConfigurationEnforces: the zero Configuration, the factories
// and the shared session all enforce App Transport Security.
func TestATSZeroConfigurationEnforces(t *testing.T) {
	u, _ := url.Parse("http://example.com/")
	for name, ts := range map[string]TransportSecurity{
		"zero":      {},
		"default":   DefaultConfiguration().TransportSecurity,
		"ephemeral": EphemeralConfiguration().TransportSecurity,
		"shared":    Shared().Configuration().TransportSecurity,
	} {
		if err := ts.Check(u, 0, 0); !errors.Is(err, ErrAppTransportSecurityRequiresSecureConnection) {
			t.Errorf("%s: Check(%s) = %v, want -1022", name, u, err)
		}
	}
	var off TransportSecurity
	off.AllowsArbitraryLoads = true
	if err := off.Check(u, 0, 0); err != nil {
		t.Errorf("AllowsArbitraryLoads: Check(%s) = %v", u, err)
	}
}

// TestATSRefusesCleartextBeforeConnecting: a cleartext URL of a public host
// fails with -1022 without a dial (so without a DNS lookup either), through
// every kind of task, and the delegate hears of nothing but the failure.
func TestATSRefusesCleartextBeforeConnecting(t *testing.T) {
	srv := newATSServer(t, nil, nil)
	rec := newRecorder()
	s := newSession(t, srv.config(), rec)
	for _, raw := range []string{
		"http://example.com/",
		srv.url("http", "www.example.org", "/a?b=c"),
		"HTTP://User:secret@Example.COM/x",
		"ws://chat.example.com/socket",
	} {
		req := get(t, raw)
		_, resp, err := s.Data(context.Background(), newReq(t, http.MethodPost, raw, "body"))
		if resp != nil {
			t.Errorf("%s: a response arrived: %v", raw, resp.Status)
		}
		wantATSError(t, err, ErrAppTransportSecurityRequiresSecureConnection, req.URL.Redacted(),
			TransportSecurityException{AllowsInsecureHTTPLoads: true})

		task := s.DataTask(req)
		task.Resume()
		wait(t, task)
		wantATSError(t, task.Err(), ErrAppTransportSecurityRequiresSecureConnection, req.URL.Redacted(),
			TransportSecurityException{AllowsInsecureHTTPLoads: true})
		if !strings.Contains(task.Err().Error(), "exception needed: NSExceptionAllowsInsecureHTTPLoads=YES") {
			t.Errorf("error text %q does not name the exception", task.Err())
		}
		if strings.Contains(task.Err().Error(), "secret") {
			t.Errorf("error text %q shows the password", task.Err())
		}

		_, resp, err = s.Bytes(context.Background(), req)
		if resp != nil || !errors.Is(err, ErrAppTransportSecurityRequiresSecureConnection) {
			t.Errorf("%s: Bytes: %v, %v", raw, resp, err)
		}
		if _, err := s.Client().Get(raw); !errors.Is(err, ErrAppTransportSecurityRequiresSecureConnection) {
			t.Errorf("%s: Client: %v", raw, err)
		}
	}
	if d := srv.dials.dialed(); len(d) != 0 || srv.requests.Load() != 0 {
		t.Errorf("dialled %q and served %d requests for refused URLs", d, srv.requests.Load())
	}
	s.FinishTasksAndInvalidate()
	<-rec.invalid
	for _, e := range rec.Events() {
		if e != "create" && e != "metrics" && e != "complete -1022" && e != "invalid" {
			t.Errorf("delegate events %q, want only creations, metrics and completions with -1022", rec.Events())
			break
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.metrics == nil || len(rec.metrics.Transactions) != 0 {
		t.Errorf("metrics %+v, want no transaction for a refused request", rec.metrics)
	}
}

// TestATSLocalNetworking: IP addresses, unqualified names and .local names
// are not subject to ATS unless DisallowsLocalNetworking says so; exceptions
// for IP addresses and ranges then allow them again.
func TestATSLocalNetworking(t *testing.T) {
	srv := newATSServer(t, nil, nil)
	local := []string{"127.0.0.1", "::1", "localhost", "LocalHost.", "intranet", "printer.local", "a.b.LOCAL"}
	s := newSession(t, srv.config(), nil)
	for _, host := range local {
		raw := srv.url("http", host, "/")
		if body, _, err := s.Data(context.Background(), get(t, raw)); err != nil || !strings.HasPrefix(string(body), "loaded ") {
			t.Errorf("%s: %q, %v; want it loaded", raw, body, err)
		}
	}

	strict := srv.config()
	strict.TransportSecurity.DisallowsLocalNetworking = true
	s = newSession(t, strict, nil)
	before := len(srv.dials.dialed())
	for _, host := range local {
		raw := srv.url("http", host, "/")
		_, _, err := s.Data(context.Background(), get(t, raw))
		wantATSError(t, err, ErrAppTransportSecurityRequiresSecureConnection, raw,
			TransportSecurityException{AllowsInsecureHTTPLoads: true})
	}
	if n := len(srv.dials.dialed()) - before; n != 0 {
		t.Errorf("DisallowsLocalNetworking: %d dials for refused URLs", n)
	}

	strict.TransportSecurity.ExceptionDomains = map[string]TransportSecurityException{
		"127.0.0.0/8":   {AllowsInsecureHTTPLoads: true},
		"::1":           {AllowsInsecureHTTPLoads: true},
		"printer.local": {AllowsInsecureHTTPLoads: true},
	}
	s = newSession(t, strict, nil)
	for host, allowed := range map[string]bool{
		"127.0.0.1": true, "::1": true, "printer.local": true, "localhost": false, "scanner.local": false,
	} {
		raw := srv.url("http", host, "/")
		_, _, err := s.Data(context.Background(), get(t, raw))
		if allowed != (err == nil) {
			t.Errorf("%s with IP exceptions: %v, want allowed %v", raw, err, allowed)
		}
	}
}

// TestATSExceptionDomains: an exception allows cleartext for its domain,
// and with IncludesSubdomains for every host under it; the most specific
// entry wins; with AllowsArbitraryLoads a named domain keeps ATS.
func TestATSExceptionDomains(t *testing.T) {
	srv := newATSServer(t, nil, nil)
	cfg := srv.config()
	cfg.TransportSecurity.ExceptionDomains = map[string]TransportSecurityException{
		"Plain.example":        {AllowsInsecureHTTPLoads: true},
		"wide.example":         {AllowsInsecureHTTPLoads: true, IncludesSubdomains: true},
		"secure.wide.example":  {},
		"dotted.example.":      {AllowsInsecureHTTPLoads: true},
		"legacy.plain.example": {MinimumTLSVersion: tls.VersionTLS10},
	}
	s := newSession(t, cfg, nil)
	for host, allowed := range map[string]bool{
		"plain.example":          true,
		"PLAIN.example":          true,
		"www.plain.example":      false, // no IncludesSubdomains
		"legacy.plain.example":   false, // its own exception, which keeps cleartext out
		"wide.example":           true,
		"a.wide.example":         true,
		"a.b.wide.example":       true,
		"notwide.example":        false,
		"secure.wide.example":    false, // the more specific entry wins
		"x.secure.wide.example":  true,  // not covered by it: the parent's
		"dotted.example.":        true,
		"dotted.example":         false, // a trailing dot is part of the name
		"other.example":          false,
		"wide.example.elsewhere": false,
	} {
		raw := srv.url("http", host, "/")
		_, _, err := s.Data(context.Background(), get(t, raw))
		if allowed && err != nil {
			t.Errorf("%s: %v, want it loaded", host, err)
		}
		if !allowed {
			if !errors.Is(err, ErrAppTransportSecurityRequiresSecureConnection) {
				t.Errorf("%s: %v, want -1022", host, err)
			}
		}
	}

	// A session made from cfg keeps its own copy of the exceptions.
	delete(cfg.TransportSecurity.ExceptionDomains, "Plain.example")
	if _, _, err := s.Data(context.Background(), get(t, srv.url("http", "plain.example", "/"))); err != nil {
		t.Errorf("changing the configuration after New changed the session: %v", err)
	}

	arbitrary := srv.config()
	arbitrary.TransportSecurity = TransportSecurity{
		AllowsArbitraryLoads: true,
		ExceptionDomains:     map[string]TransportSecurityException{"bank.example": {IncludesSubdomains: true}},
	}
	s = newSession(t, arbitrary, nil)
	if _, _, err := s.Data(context.Background(), get(t, srv.url("http", "shop.example", "/"))); err != nil {
		t.Errorf("AllowsArbitraryLoads: %v", err)
	}
	raw := srv.url("http", "www.bank.example", "/")
	_, _, err := s.Data(context.Background(), get(t, raw))
	wantATSError(t, err, ErrAppTransportSecurityRequiresSecureConnection, raw, TransportSecurityException{AllowsInsecureHTTPLoads: true})
	var v *TransportSecurityError
	if errors.As(err, &v) && (v.Host != "www.bank.example" || v.Domain != "bank.example") {
		t.Errorf("TransportSecurityError host %q domain %q", v.Host, v.Domain)
	}
}

// TestATSRedirects: a redirect to a public cleartext URL fails with -1022
// and is never sent, unless the delegate changes it to https or refuses the
// redirect.
func TestATSRedirects(t *testing.T) {
	var target atomic.Value
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, target.Load().(string), http.StatusFound)
			return
		}
		io.WriteString(w, "loaded "+r.Host)
	})
	srv := newATSServer(t, h, &tls.Config{})
	plain := newATSServer(t, nil, nil)
	start := srv.url("https", "www.example.com", "/redirect")

	for _, to := range []string{"http://www.example.com/next", plain.url("http", "example.net", "/next")} {
		target.Store(to)
		rec := newRecorder()
		s := newSession(t, srv.config(), rec)
		task := s.DataTask(get(t, start))
		task.Resume()
		wait(t, task)
		wantATSError(t, task.Err(), ErrAppTransportSecurityRequiresSecureConnection, to,
			TransportSecurityException{AllowsInsecureHTTPLoads: true})
		if got := task.CurrentRequest().URL.String(); got != to {
			t.Errorf("CurrentRequest %s, want the refused %s", got, to)
		}
		if n := srv.requests.Load(); n != 1 {
			t.Errorf("the server got %d requests, want only the first", n)
		}
		srv.requests.Store(0)
		if d := plain.dials.dialed(); len(d) != 0 {
			t.Errorf("dialled %q for the refused redirect", d)
		}
		s.FinishTasksAndInvalidate()
		<-rec.invalid
		if want := []string{"create", "redirect 302 GET", "metrics", "complete -1022", "invalid"}; !sameEvents(rec.Events(), want) {
			t.Errorf("events %q, want %q", rec.Events(), want)
		}
		rec.mu.Lock()
		if n := len(rec.metrics.Transactions); n != 1 {
			t.Errorf("%d transactions, want the first request's only", n)
		}
		rec.mu.Unlock()
	}

	// The delegate may send the redirect to https instead, or stop at it.
	target.Store("http://www.example.com/next")
	rec := newRecorder()
	rec.onRedirect = func(_ *http.Response, req *http.Request) *http.Request {
		r := req.Clone(req.Context())
		r.URL.Scheme = "https"
		return r
	}
	s := newSession(t, srv.config(), rec)
	if body := fetchBody(t, s, get(t, start)); body != "loaded www.example.com" {
		t.Errorf("redirect changed to https: %q", body)
	}
	rec = newRecorder()
	rec.onRedirect = func(*http.Response, *http.Request) *http.Request { return nil }
	s = newSession(t, srv.config(), rec)
	if _, resp, err := s.Data(context.Background(), get(t, start)); err != nil || resp.StatusCode != http.StatusFound {
		t.Errorf("refused redirect: %v, %v; want the 302", resp, err)
	}

	// From a local cleartext URL to a public one.
	plain2 := newATSServer(t, http.RedirectHandler("http://example.org/", http.StatusMovedPermanently), nil)
	s = newSession(t, plain2.config(), nil)
	_, _, err := s.Data(context.Background(), get(t, plain2.URL+"/"))
	wantATSError(t, err, ErrAppTransportSecurityRequiresSecureConnection, "http://example.org/",
		TransportSecurityException{AllowsInsecureHTTPLoads: true})
	if d := plain2.dials.dialed(); len(d) != 1 {
		t.Errorf("dials %q, want only the first request's", d)
	}
}

// atsProtocol loads every http URL itself.
type atsProtocol struct{}

func (atsProtocol) CanHandle(req *http.Request) bool { return req.URL.Scheme == "http" }
func (atsProtocol) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader("custom")), Request: req,
	}, nil
}

// TestATSCustomProtocolNotSubject: a request a custom protocol loads is not
// subject to ATS.
func TestATSCustomProtocolNotSubject(t *testing.T) {
	srv := newATSServer(t, nil, nil)
	cfg := srv.config()
	cfg.Protocols = []Protocol{atsProtocol{}}
	s := newSession(t, cfg, nil)
	if body := fetchBody(t, s, get(t, "http://example.com/")); body != "custom" {
		t.Errorf("custom protocol: %q", body)
	}
	if _, _, err := s.Data(context.Background(), get(t, "ws://example.com/")); !errors.Is(err, ErrAppTransportSecurityRequiresSecureConnection) {
		t.Errorf("a URL the protocol does not take: %v, want -1022", err)
	}
}

// TestATSBadURLIsNotRefused: a cleartext URL without a host fails as a bad
// URL, whatever the policy.
func TestATSBadURLIsNotRefused(t *testing.T) {
	cfg := &Configuration{Proxy: NoProxy}
	cfg.TransportSecurity.DisallowsLocalNetworking = true
	s := newSession(t, cfg, nil)
	req := get(t, "http://placeholder/")
	req.URL.Host = ""
	if _, _, err := s.Data(context.Background(), req); CodeOf(err) != ErrBadURL {
		t.Errorf("%v, want -1000", err)
	}
}

// TestATSProxy: the request's URL is checked, not the proxy's: a public
// cleartext proxy may carry a request for a local URL, and a public
// cleartext URL is refused before the proxy is dialled.
func TestATSProxy(t *testing.T) {
	proxy := newATSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "proxied "+r.URL.String())
	}), nil)
	cfg := proxy.config()
	proxyURL, _ := url.Parse(proxy.url("http", "proxy.example.net", ""))
	cfg.Proxy = http.ProxyURL(proxyURL)
	cfg.DialContext = proxy.dials.dial
	s := newSession(t, cfg, nil)
	if body := fetchBody(t, s, get(t, "http://intranet/page")); body != "proxied http://intranet/page" {
		t.Errorf("through the proxy: %q", body)
	}
	if d := proxy.dials.dialed(); len(d) != 1 || !strings.HasPrefix(d[0], "proxy.example.net:") {
		t.Errorf("dials %q, want the proxy", d)
	}
	_, _, err := s.Data(context.Background(), get(t, "http://example.com/page"))
	wantATSError(t, err, ErrAppTransportSecurityRequiresSecureConnection, "http://example.com/page",
		TransportSecurityException{AllowsInsecureHTTPLoads: true})
	if d := proxy.dials.dialed(); len(d) != 1 {
		t.Errorf("dials %q after a refused URL, want the first one only", d)
	}
}

// legacyTLS returns a server configuration capped at TLS 1.1.
func legacyTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
}

// rsaKexTLS returns a server configuration that speaks TLS 1.2 with RSA key
// exchange only: no forward secrecy.
func rsaKexTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256},
	}
}

// TestATSTLSRequirements: https must negotiate TLS 1.2 or later with
// forward secrecy; a connection that does not is abandoned before the
// request is sent (-1200) unless an exception lowers the requirement, and
// an exception alone makes the session offer what it allows.
func TestATSTLSRequirements(t *testing.T) {
	type tc struct {
		name    string
		server  func() *tls.Config
		host    string
		tweak   func(cfg *Configuration)
		needs   *TransportSecurityException // nil: loads
		notATS  bool                        // fails, but in the handshake, not by ATS
		version uint16                      // for Needs; the negotiated version
	}
	exception := func(host string, e TransportSecurityException) func(*Configuration) {
		return func(cfg *Configuration) {
			cfg.TransportSecurity.ExceptionDomains = map[string]TransportSecurityException{host: e}
		}
	}
	offerTLS10 := func(cfg *Configuration) { cfg.TLSMinimumSupportedProtocolVersion = tls.VersionTLS10 }
	offerRSA := func(cfg *Configuration) {
		cfg.TLSClientConfig.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
	}
	for _, c := range []tc{
		{name: "modern", server: func() *tls.Config { return &tls.Config{} }, host: "www.example.com"},
		{name: "TLS 1.1 offered by the session", server: legacyTLS, host: "legacy.example.com", tweak: offerTLS10,
			needs: &TransportSecurityException{MinimumTLSVersion: tls.VersionTLS11}},
		{name: "TLS 1.1 not offered", server: legacyTLS, host: "legacy.example.com", notATS: true},
		{name: "TLS 1.1 exception", server: legacyTLS, host: "legacy.example.com",
			tweak: exception("legacy.example.com", TransportSecurityException{MinimumTLSVersion: tls.VersionTLS11})},
		{name: "TLS 1.0 exception for subdomains", server: legacyTLS, host: "legacy.example.com",
			tweak: exception("example.com", TransportSecurityException{MinimumTLSVersion: tls.VersionTLS10, IncludesSubdomains: true})},
		{name: "TLS 1.1 exception for another host", server: legacyTLS, host: "legacy.example.com",
			tweak: func(cfg *Configuration) {
				exception("old.example.com", TransportSecurityException{MinimumTLSVersion: tls.VersionTLS10})(cfg)
			},
			needs: &TransportSecurityException{MinimumTLSVersion: tls.VersionTLS11}},
		{name: "TLS 1.1 exception, session minimum 1.2", server: legacyTLS, host: "legacy.example.com",
			tweak: func(cfg *Configuration) {
				exception("legacy.example.com", TransportSecurityException{MinimumTLSVersion: tls.VersionTLS11})(cfg)
				cfg.TLSMinimumSupportedProtocolVersion = tls.VersionTLS12
			},
			notATS: true},
		{name: "TLS 1.1 to an IP address", server: legacyTLS, host: "127.0.0.1", tweak: offerTLS10},
		{name: "TLS 1.1 to an IP address, local networking disallowed", server: legacyTLS, host: "127.0.0.1",
			tweak: func(cfg *Configuration) {
				offerTLS10(cfg)
				cfg.TransportSecurity.DisallowsLocalNetworking = true
			},
			needs: &TransportSecurityException{MinimumTLSVersion: tls.VersionTLS11}},
		{name: "TLS 1.1, arbitrary loads", server: legacyTLS, host: "legacy.example.com",
			tweak: func(cfg *Configuration) {
				offerTLS10(cfg)
				cfg.TransportSecurity.AllowsArbitraryLoads = true
			}},
		{name: "RSA key exchange offered by the session", server: rsaKexTLS, host: "legacy.example.com", tweak: offerRSA,
			needs: &TransportSecurityException{DoesNotRequireForwardSecrecy: true}},
		{name: "RSA key exchange not offered", server: rsaKexTLS, host: "legacy.example.com", notATS: true},
		{name: "RSA key exchange exception", server: rsaKexTLS, host: "legacy.example.com",
			tweak: exception("legacy.example.com", TransportSecurityException{DoesNotRequireForwardSecrecy: true})},
		{name: "RSA key exchange exception, TLS 1.0 minimum too", server: rsaKexTLS, host: "legacy.example.com",
			tweak: exception("legacy.example.com", TransportSecurityException{DoesNotRequireForwardSecrecy: true, MinimumTLSVersion: tls.VersionTLS10})},
		{name: "TLS 1.1 and RSA key exchange", host: "legacy.example.com",
			server: func() *tls.Config {
				c := legacyTLS()
				c.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}
				return c
			},
			tweak: func(cfg *Configuration) {
				offerTLS10(cfg)
				cfg.TLSClientConfig.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}
			},
			needs: &TransportSecurityException{MinimumTLSVersion: tls.VersionTLS11, DoesNotRequireForwardSecrecy: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newATSServer(t, nil, c.server())
			cfg := srv.config()
			if c.tweak != nil {
				c.tweak(cfg)
			}
			s := newSession(t, cfg, nil)
			raw := srv.url("https", c.host, "/")
			body, _, err := s.Data(context.Background(), get(t, raw))
			switch {
			case c.needs != nil:
				wantATSError(t, err, ErrSecureConnectionFailed, raw, *c.needs)
				var v *TransportSecurityError
				if errors.As(err, &v) && v.Host != c.host && !(c.host == "127.0.0.1" && v.Host == "") {
					t.Errorf("TransportSecurityError.Host %q, want %q", v.Host, c.host)
				}
			case c.notATS:
				var v *TransportSecurityError
				if err == nil || errors.As(err, &v) {
					t.Errorf("%v, want a handshake failure that is not ATS's", err)
				}
			default:
				if err != nil || string(body) != "loaded "+net.JoinHostPort(c.host, srv.port()) {
					t.Errorf("%q, %v; want it loaded", body, err)
				}
			}
			if c.needs != nil || c.notATS {
				if n := srv.requests.Load(); n != 0 {
					t.Errorf("the server got %d requests over a refused connection", n)
				}
			}
		})
	}
}

// TestATSCheck tables the pure decision: which URLs and TLS parameters a
// policy allows, and which exception each refused one needs.
func TestATSCheck(t *testing.T) {
	const (
		fs    = tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
		cbcFS = tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
		rsa   = tls.TLS_RSA_WITH_AES_128_GCM_SHA256
		tls13 = tls.TLS_AES_128_GCM_SHA256
	)
	policy := TransportSecurity{ExceptionDomains: map[string]TransportSecurityException{
		"old.example":  {MinimumTLSVersion: tls.VersionTLS11, IncludesSubdomains: true},
		"rsa.example":  {DoesNotRequireForwardSecrecy: true},
		"10.0.0.0/8":   {AllowsInsecureHTTPLoads: true},
		"[2001:db8::]": {AllowsInsecureHTTPLoads: true},
	}}
	type row struct {
		ts       TransportSecurity
		url      string
		version  uint16
		suite    uint16
		code     Code
		needs    TransportSecurityException
		domain   string
		noDetail bool
	}
	insecure := TransportSecurityException{AllowsInsecureHTTPLoads: true}
	for _, r := range []row{
		{url: "http://example.com/", code: -1022, needs: insecure},
		{url: "ws://example.com/", code: -1022, needs: insecure},
		{url: "https://example.com/"},
		{url: "wss://example.com/"},
		{url: "ftp://example.com/", code: -1022, needs: insecure},
		{url: "ftp://127.0.0.1/"},
		{url: "ftps://example.com/"},
		{url: "data:,x"},
		{url: "file:///etc/hosts"},
		{url: "http://localhost:8080/"},
		{url: "http://192.0.2.1/"},
		{url: "http://[2001:db8::1]/"},
		{url: "http://[fe80::1%25eth0]/"},
		{url: "http://router/"},
		{url: "http://nas.local/"},
		{url: "http://nas.local.example/", code: -1022, needs: insecure},
		{url: "https://example.com/", version: tls.VersionTLS13, suite: tls13},
		{url: "https://example.com/", version: tls.VersionTLS12, suite: fs},
		{url: "https://example.com/", version: tls.VersionTLS12, suite: cbcFS},
		{url: "https://example.com/", version: tls.VersionTLS12, suite: rsa, code: -1200, needs: TransportSecurityException{DoesNotRequireForwardSecrecy: true}},
		{url: "https://example.com/", version: tls.VersionTLS11, suite: cbcFS, code: -1200, needs: TransportSecurityException{MinimumTLSVersion: tls.VersionTLS11}},
		{url: "https://example.com/", version: tls.VersionTLS10, suite: rsa, code: -1200, needs: TransportSecurityException{MinimumTLSVersion: tls.VersionTLS10, DoesNotRequireForwardSecrecy: true}},
		{url: "https://192.0.2.1/", version: tls.VersionTLS10, suite: rsa},
		{ts: TransportSecurity{AllowsArbitraryLoads: true}, url: "https://example.com/", version: tls.VersionTLS10, suite: rsa},
		{ts: TransportSecurity{DisallowsLocalNetworking: true}, url: "http://localhost/", code: -1022, needs: insecure},
		{ts: TransportSecurity{DisallowsLocalNetworking: true}, url: "http:///path"},
		{ts: TransportSecurity{DisallowsLocalNetworking: true}, url: "http://192.0.2.1/", code: -1022, needs: insecure},
		{ts: TransportSecurity{DisallowsLocalNetworking: true}, url: "https://[::1]/", version: tls.VersionTLS11, suite: fs, code: -1200, needs: TransportSecurityException{MinimumTLSVersion: tls.VersionTLS11}},
		{ts: policy, url: "https://old.example/", version: tls.VersionTLS11, suite: fs},
		{ts: policy, url: "https://a.old.example/", version: tls.VersionTLS11, suite: fs},
		{ts: policy, url: "https://a.old.example/", version: tls.VersionTLS10, suite: fs, code: -1200, needs: TransportSecurityException{MinimumTLSVersion: tls.VersionTLS10}, domain: "old.example"},
		{ts: policy, url: "https://a.old.example/", version: tls.VersionTLS11, suite: rsa, code: -1200, needs: TransportSecurityException{DoesNotRequireForwardSecrecy: true}, domain: "old.example"},
		{ts: policy, url: "http://old.example/", code: -1022, needs: insecure, domain: "old.example"},
		{ts: policy, url: "https://rsa.example/", version: tls.VersionTLS12, suite: rsa},
		{ts: policy, url: "https://www.rsa.example/", version: tls.VersionTLS12, suite: rsa, code: -1200, needs: TransportSecurityException{DoesNotRequireForwardSecrecy: true}},
		{ts: TransportSecurity{DisallowsLocalNetworking: true, ExceptionDomains: policy.ExceptionDomains}, url: "http://10.1.2.3/"},
		{ts: TransportSecurity{DisallowsLocalNetworking: true, ExceptionDomains: policy.ExceptionDomains}, url: "http://[2001:db8::]/"},
		{ts: TransportSecurity{DisallowsLocalNetworking: true, ExceptionDomains: policy.ExceptionDomains}, url: "http://[2001:db8::1]/", code: -1022, needs: insecure},
		{ts: TransportSecurity{DisallowsLocalNetworking: true, ExceptionDomains: policy.ExceptionDomains}, url: "http://11.1.2.3/", code: -1022, needs: insecure},
	} {
		u, err := url.Parse(r.url)
		if err != nil {
			t.Fatal(err)
		}
		err = r.ts.Check(u, r.version, r.suite)
		if r.code == 0 {
			if err != nil {
				t.Errorf("%+v: Check(%s, %#x, %#x) = %v, want nil", r.ts, r.url, r.version, r.suite, err)
			}
			continue
		}
		var e *Error
		var v *TransportSecurityError
		if !errors.As(err, &e) || !errors.As(err, &v) {
			t.Errorf("%+v: Check(%s, %#x, %#x) = %v, want code %d", r.ts, r.url, r.version, r.suite, err, r.code)
			continue
		}
		if e.Code != r.code || e.URL != u.Redacted() || v.Needs != r.needs || v.Domain != r.domain ||
			v.TLSVersion != r.version || v.CipherSuite != r.suite || v.Host != u.Hostname() {
			t.Errorf("%+v: Check(%s, %#x, %#x):\n got code %d URL %q %+v\nwant code %d URL %q needs %+v domain %q",
				r.ts, r.url, r.version, r.suite, e.Code, e.URL, *v, r.code, u.Redacted(), r.needs, r.domain)
		}
	}
}

// TestATSValidate: New refuses malformed exception domains.
func TestATSValidate(t *testing.T) {
	for _, key := range []string{"", "*.example.com", "example.com:443", "https://example.com", "10.0.0.0/33", "a b"} {
		cfg := &Configuration{TransportSecurity: TransportSecurity{ExceptionDomains: map[string]TransportSecurityException{key: {}}}}
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("New accepted the exception domain %q", key)
		}
	}
	cfg := &Configuration{TransportSecurity: TransportSecurity{ExceptionDomains: map[string]TransportSecurityException{"example.com": {MinimumTLSVersion: 0x0300}}}}
	if _, err := New(cfg, nil); err == nil {
		t.Error("New accepted MinimumTLSVersion SSL 3.0")
	}
	for _, key := range []string{"example.com", "example.com.", "192.168.42.63", "2001:db8:12::34", "[2001:db8:12::34]", "2001:db8:12::/48", "10.0.0.0/8", "localhost"} {
		cfg := &Configuration{TransportSecurity: TransportSecurity{ExceptionDomains: map[string]TransportSecurityException{key: {MinimumTLSVersion: tls.VersionTLS13}}}}
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate refused the exception domain %q: %v", key, err)
		}
	}
}

func TestTransportSecurityExceptionString(t *testing.T) {
	for e, want := range map[TransportSecurityException]string{
		{}: "",
		{IncludesSubdomains: true, AllowsInsecureHTTPLoads: true}:                 "NSIncludesSubdomains=YES NSExceptionAllowsInsecureHTTPLoads=YES",
		{MinimumTLSVersion: tls.VersionTLS10, DoesNotRequireForwardSecrecy: true}: "NSExceptionMinimumTLSVersion=TLSv1.0 NSExceptionRequiresForwardSecrecy=NO",
		{MinimumTLSVersion: tls.VersionTLS13}:                                     "NSExceptionMinimumTLSVersion=TLSv1.3",
	} {
		if got := e.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", e, got, want)
		}
	}
}
