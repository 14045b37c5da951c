package urlsession

import (
	"compress/gzip"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/urlsession-go/urlsession/credstore"
)

// h3Server serves one handler over HTTP/2 (TCP, TLS) and HTTP/3 (UDP, on
// 127.0.0.1), with the same certificate; the TCP side advertises the
// HTTP/3 side with Alt-Svc (altSvc, which tests may change; "" for none).
type h3Server struct {
	tcp    *httptest.Server
	h3     *http3.Server
	udp    *net.UDPConn
	altSvc atomic.Pointer[string]

	mu     sync.Mutex
	protos []string // of the requests served, in order
}

// newH3Server starts an h3Server for h. With samePort, the UDP port is the
// TCP port's, as AssumesHTTP3Capable needs.
func newH3Server(t testing.TB, h http.Handler, samePort bool) *h3Server {
	t.Helper()
	for attempt := 0; ; attempt++ {
		s, err := startH3Server(h, samePort)
		if err == nil {
			t.Cleanup(s.close)
			return s
		}
		if attempt == 20 {
			t.Fatal(err)
		}
	}
}

func startH3Server(h http.Handler, samePort bool) (*h3Server, error) {
	s := &h3Server{}
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.protos = append(s.protos, r.Proto)
		s.mu.Unlock()
		if a := s.altSvc.Load(); a != nil && *a != "" {
			w.Header().Set("Alt-Svc", *a)
		}
		h.ServeHTTP(w, r)
	})
	s.tcp = httptest.NewUnstartedServer(wrapped)
	s.tcp.EnableHTTP2 = true
	s.tcp.StartTLS()
	udpAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	if samePort {
		udpAddr.Port = s.tcp.Listener.Addr().(*net.TCPAddr).Port
	}
	udp, err := net.ListenUDP("udp4", udpAddr)
	if err != nil {
		s.tcp.Close()
		return nil, err
	}
	s.udp = udp
	s.h3 = &http3.Server{
		Handler:   wrapped,
		TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: s.tcp.TLS.Certificates}),
		// The server takes early data; the session sends none unless
		// told to (EnablesEarlyData).
		QUICConfig: &quic.Config{Allow0RTT: true},
	}
	go s.h3.Serve(udp)
	alt := fmt.Sprintf(`h3=":%d"; ma=3600`, s.udpPort())
	s.altSvc.Store(&alt)
	return s, nil
}

func (s *h3Server) close() {
	s.h3.Close()
	s.udp.Close()
	s.tcp.Close()
}

func (s *h3Server) udpPort() int { return s.udp.LocalAddr().(*net.UDPAddr).Port }

func (s *h3Server) setAltSvc(v string) { s.altSvc.Store(&v) }

// served returns the protocols of the requests served so far.
func (s *h3Server) served() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.protos...)
}

// config returns a configuration that trusts the server, without stores.
func (s *h3Server) config() *Configuration {
	c := baseConfiguration()
	c.Proxy = NoProxy
	c.TLSClientConfig = &tls.Config{RootCAs: s.tcp.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	return c
}

// h3Hooks records the QUIC dials of a session.
type h3Hooks struct {
	mu     sync.Mutex
	dials  int
	dialed chan error
}

// newH3Session returns a session with cfg and delegate d whose QUIC
// handshakes wait for the server up to fallback (long unless a test is
// about the fallback, so that a busy machine does not decide the race) and
// last up to handshake.
func newH3Session(t testing.TB, cfg *Configuration, d any, fallback, handshake time.Duration) (*Session, *h3Hooks) {
	t.Helper()
	s := newSession(t, cfg, d)
	hk := &h3Hooks{dialed: make(chan error, 100)}
	s.h3.fallbackDelay, s.h3.handshakeTimeout = fallback, handshake
	s.h3.hook = func(event, addr string, err error) {
		switch event {
		case "dial":
			hk.mu.Lock()
			hk.dials++
			hk.mu.Unlock()
		case "dialed":
			hk.dialed <- err
		}
	}
	// The transport New made read none of them.
	if tr := newH3Transport(s.cfg, &s.h3); tr != nil {
		s.h3.tr.Store(tr)
	}
	return s, hk
}

func (hk *h3Hooks) count() int {
	hk.mu.Lock()
	defer hk.mu.Unlock()
	return hk.dials
}

// waitDialed waits for the end of a dial and returns its error.
func (hk *h3Hooks) waitDialed(t testing.TB) error {
	t.Helper()
	select {
	case err := <-hk.dialed:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the QUIC dial did not end")
		return nil
	}
}

// fetch runs a data task for req and returns its body, response and the
// protocol of each of its transactions.
func fetch(t testing.TB, s *Session, req *http.Request) (string, *http.Response, []string, error) {
	t.Helper()
	var m *TaskMetrics
	var body []byte
	var resp *http.Response
	var err error
	task := s.DataTaskWithCompletion(req, func(b []byte, r *http.Response, e error) {
		body, resp, err = b, r, e
	})
	task.SetDelegate(metricsCatcher{&m})
	task.Resume()
	wait(t, task)
	var protos []string
	if m != nil {
		for _, tx := range m.Transactions {
			protos = append(protos, tx.NetworkProtocolName)
		}
	}
	return string(body), resp, protos, err
}

type metricsCatcher struct{ m **TaskMetrics }

func (c metricsCatcher) DidFinishCollectingMetrics(_ *Session, _ *Task, m *TaskMetrics) { *c.m = m }

func hello(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	fmt.Fprintf(w, "hello over %s", r.Proto)
}

func TestHTTP3AltSvcDiscovery(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), false)
	s, hk := newH3Session(t, srv.config(), nil, time.Minute, 20*time.Second)

	body, resp, protos, err := fetch(t, s, get(t, srv.tcp.URL+"/a"))
	if err != nil || body != "hello over HTTP/2.0" || strings.Join(protos, ",") != "h2" {
		t.Fatalf("first request: %q %v %v, want HTTP/2", body, protos, err)
	}
	if resp.Header.Get("Alt-Svc") == "" {
		t.Fatal("the server sent no Alt-Svc")
	}
	var m *TaskMetrics
	task := s.DataTaskWithCompletion(get(t, srv.tcp.URL+"/b"), func(b []byte, r *http.Response, e error) {
		body, resp, err = string(b), r, e
	})
	task.SetDelegate(metricsCatcher{&m})
	task.Resume()
	wait(t, task)
	if err != nil || body != "hello over HTTP/3.0" || resp.ProtoMajor != 3 {
		t.Fatalf("second request: %q %v, want HTTP/3", body, err)
	}
	tx := m.Transactions[0]
	if tx.NetworkProtocolName != "h3" {
		t.Errorf("NetworkProtocolName %q, want h3", tx.NetworkProtocolName)
	}
	if ra, ok := tx.RemoteAddr.(*net.UDPAddr); !ok || ra.Port != srv.udpPort() {
		t.Errorf("RemoteAddr %v, want the UDP port %d", tx.RemoteAddr, srv.udpPort())
	}
	if tx.NegotiatedTLSProtocolVersion != tls.VersionTLS13 || tx.ConnectStart.IsZero() || tx.SecureConnectionEnd.IsZero() || tx.ReusedConnection {
		t.Errorf("metrics of the new connection: TLS %#x connect %v TLS end %v reused %v",
			tx.NegotiatedTLSProtocolVersion, tx.ConnectStart, tx.SecureConnectionEnd, tx.ReusedConnection)
	}
	m = nil
	task = s.DataTaskWithCompletion(get(t, srv.tcp.URL+"/c"), func(b []byte, r *http.Response, e error) { body, err = string(b), e })
	task.SetDelegate(metricsCatcher{&m})
	task.Resume()
	wait(t, task)
	if tx := m.Transactions[0]; err != nil || tx.NetworkProtocolName != "h3" || !tx.ReusedConnection || tx.NegotiatedTLSProtocolVersion != tls.VersionTLS13 {
		t.Errorf("third request: %v %q reused %v TLS %#x, want h3 on the same connection", err, tx.NetworkProtocolName, tx.ReusedConnection, tx.NegotiatedTLSProtocolVersion)
	}
	if n := hk.count(); n != 1 {
		t.Errorf("%d QUIC dials, want 1", n)
	}
	if got := strings.Join(srv.served(), ","); got != "HTTP/2.0,HTTP/3.0,HTTP/3.0" {
		t.Errorf("server saw %s", got)
	}
}

func TestHTTP3AltSvcExpires(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), false)
	srv.setAltSvc(fmt.Sprintf(`h3=":%d"; ma=60`, srv.udpPort()))
	s, _ := newH3Session(t, srv.config(), nil, time.Minute, 20*time.Second)
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.h3.alt.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL)); err != nil || p[0] != "h2" {
		t.Fatalf("first: %v %v", p, err)
	}
	srv.setAltSvc("") // the HTTP/3 responses do not renew it
	advance(59 * time.Second)
	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL)); err != nil || p[0] != "h3" {
		t.Fatalf("within max-age: %v %v, want h3", p, err)
	}
	advance(2 * time.Second)
	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL)); err != nil || p[0] != "h2" {
		t.Fatalf("after max-age: %v %v, want h2", p, err)
	}
}

func TestHTTP3AltSvcClear(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), false)
	s, _ := newH3Session(t, srv.config(), nil, time.Minute, 20*time.Second)
	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL)); err != nil || p[0] != "h2" {
		t.Fatalf("first: %v %v", p, err)
	}
	srv.setAltSvc("clear")
	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL)); err != nil || p[0] != "h3" {
		t.Fatalf("second: %v %v, want h3", p, err)
	}
	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL)); err != nil || p[0] != "h2" {
		t.Fatalf("after clear: %v %v, want h2", p, err)
	}
}

func TestHTTP3AltSvcOtherHostIgnored(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), false)
	srv.setAltSvc(fmt.Sprintf(`h3="localhost:%d"`, srv.udpPort()))
	s, hk := newH3Session(t, srv.config(), nil, time.Minute, 20*time.Second)
	for i := range 2 {
		if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL)); err != nil || p[0] != "h2" {
			t.Fatalf("request %d: %v %v, want h2", i, p, err)
		}
	}
	if hk.count() != 0 {
		t.Error("the session dialled another host's alternative")
	}
}

func TestHTTP3AssumesCapable(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), true)
	srv.setAltSvc("")
	s, _ := newH3Session(t, srv.config(), nil, time.Minute, 20*time.Second)
	req := WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true})
	body, _, p, err := fetch(t, s, req)
	if err != nil || body != "hello over HTTP/3.0" || p[0] != "h3" {
		t.Fatalf("%q %v %v, want HTTP/3 on the first request", body, p, err)
	}
	// Without the option, and no Alt-Svc: TCP.
	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL)); err != nil || p[0] != "h2" {
		t.Fatalf("plain request: %v %v, want h2", p, err)
	}
}

// blackhole is a UDP socket that reads and drops what it gets.
func blackhole(t testing.TB) int {
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := udp.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return udp.LocalAddr().(*net.UDPAddr).Port
}

func TestHTTP3FallbackWhenUDPIsDropped(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), false)
	srv.setAltSvc(fmt.Sprintf(`h3=":%d"`, blackhole(t)))
	s, hk := newH3Session(t, srv.config(), nil, 50*time.Millisecond, 2*time.Second)
	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL)); err != nil || p[0] != "h2" {
		t.Fatalf("first: %v %v", p, err)
	}
	// The server never answers over UDP: the request goes over TCP after
	// the fallback delay, body and all.
	body, _, p, err := fetch(t, s, newReq(t, http.MethodPost, srv.tcp.URL, "payload"))
	if err != nil || p[0] != "h2" || body != "hello over HTTP/2.0" {
		t.Fatalf("second: %q %v %v, want h2", body, p, err)
	}
	if err := hk.waitDialed(t); err == nil {
		t.Fatal("the handshake with a black hole succeeded")
	}
	// Broken now: the next request goes over TCP without a dial.
	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL)); err != nil || p[0] != "h2" {
		t.Fatalf("third: %v %v", p, err)
	}
	if n := hk.count(); n != 1 {
		t.Errorf("%d dials, want 1 (the alternative is broken)", n)
	}
}

func TestHTTP3FallbackWhenHandshakeFails(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), false)
	// A QUIC server that speaks no HTTP/3: the handshake fails on ALPN.
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := quic.Listen(udp, &tls.Config{Certificates: srv.tcp.TLS.Certificates, NextProtos: []string{"other"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); udp.Close() })
	srv.setAltSvc(fmt.Sprintf(`h3=":%d"`, udp.LocalAddr().(*net.UDPAddr).Port))
	s, hk := newH3Session(t, srv.config(), nil, time.Minute, 20*time.Second)
	fetch(t, s, get(t, srv.tcp.URL))
	body, _, p, err := fetch(t, s, get(t, srv.tcp.URL))
	if err != nil || p[0] != "h2" || body != "hello over HTTP/2.0" {
		t.Fatalf("%q %v %v, want a fallback to h2", body, p, err)
	}
	if err := hk.waitDialed(t); err == nil {
		t.Fatal("the handshake succeeded")
	}
	fetch(t, s, get(t, srv.tcp.URL))
	if n := hk.count(); n != 1 {
		t.Errorf("%d dials, want 1", n)
	}
}

// TestHTTP3NoReplayAfterSending: a request with a body that failed over
// HTTP/3 is not sent again over TCP; one without a body is.
func TestHTTP3NoReplayAfterSending(t *testing.T) {
	var tcpHits atomic.Int32
	srv := newH3Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 3 && r.URL.Path == "/abort" {
			io.Copy(io.Discard, r.Body)
			panic(http.ErrAbortHandler)
		}
		if r.ProtoMajor != 3 {
			tcpHits.Add(1)
		}
		hello(w, r)
	}), true)
	srv.setAltSvc("")
	s, _ := newH3Session(t, srv.config(), nil, time.Minute, 20*time.Second)
	post := WithOptions(newReq(t, http.MethodPost, srv.tcp.URL+"/abort", "once"), RequestOptions{AssumesHTTP3Capable: true})
	_, _, _, err := fetch(t, s, post)
	if err == nil {
		t.Fatal("the POST succeeded")
	}
	if n := tcpHits.Load(); n != 0 {
		t.Fatalf("the POST reached the TCP server %d times after it had gone over HTTP/3", n)
	}
	getReq := WithOptions(get(t, srv.tcp.URL+"/abort"), RequestOptions{AssumesHTTP3Capable: true})
	body, _, p, err := fetch(t, s, getReq)
	if err != nil || body != "hello over HTTP/2.0" || p[0] != "h2" {
		t.Fatalf("GET: %q %v %v, want it sent again over TCP", body, p, err)
	}
}

func TestHTTP3Disabled(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), true)
	cfg := srv.config()
	cfg.DisableHTTP3 = true
	s, hk := newH3Session(t, cfg, nil, time.Minute, 20*time.Second)
	for range 2 {
		req := WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true})
		if _, _, p, err := fetch(t, s, req); err != nil || p[0] != "h2" {
			t.Fatalf("%v %v, want h2", p, err)
		}
	}
	if hk.count() != 0 {
		t.Error("a QUIC dial with DisableHTTP3")
	}
}

func TestHTTP3Only(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), true)
	srv.setAltSvc("")
	cfg := srv.config()
	cfg.HTTP3Only = true
	s, _ := newH3Session(t, cfg, nil, time.Millisecond, 20*time.Second)
	body, _, p, err := fetch(t, s, get(t, srv.tcp.URL))
	if err != nil || p[0] != "h3" || body != "hello over HTTP/3.0" {
		t.Fatalf("%q %v %v, want h3 at once", body, p, err)
	}

	// Nothing on UDP: fail, no TCP.
	tcpOnly := httptest.NewTLSServer(http.HandlerFunc(hello))
	defer tcpOnly.Close()
	cfg = baseConfiguration()
	cfg.Proxy = NoProxy
	cfg.HTTP3Only = true
	cfg.TLSClientConfig = &tls.Config{RootCAs: tcpOnly.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	s, _ = newH3Session(t, cfg, nil, time.Millisecond, time.Second)
	_, _, _, err = fetch(t, s, get(t, tcpOnly.URL))
	if CodeOf(err) != ErrCannotConnectToHost {
		t.Fatalf("got %v, want ErrCannotConnectToHost", err)
	}
	// Nor over plain http.
	_, _, _, err = fetch(t, s, get(t, "http://127.0.0.1:1/"))
	if CodeOf(err) != ErrCannotConnectToHost || !strings.Contains(err.Error(), "https") {
		t.Fatalf("http URL: got %v, want ErrCannotConnectToHost", err)
	}
}

// TestHTTP3FollowupStages: redirects, cookies and authentication work over
// HTTP/3 as over TCP, and the ServerTrust challenge of the QUIC connection
// goes to the task's delegate.
func TestHTTP3FollowupStages(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc"})
		http.Redirect(w, r, "/private", http.StatusFound)
	})
	mux.HandleFunc("/private", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "u" || p != "p" {
			w.Header().Set("WWW-Authenticate", `Basic realm="r"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		c, err := r.Cookie("session")
		if err != nil {
			http.Error(w, "no cookie", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s %s", c.Value, r.Proto)
	})
	srv := newH3Server(t, mux, true)
	srv.setAltSvc("")
	cfg := srv.config()
	_, cfg.HTTPCookieStorage, _ = newEphemeralStores()
	cfg.HTTPCookieAcceptPolicy = CookieAcceptAlways
	d := &trustLog{}
	s, _ := newH3Session(t, cfg, d, time.Minute, 20*time.Second)
	req := WithOptions(get(t, srv.tcp.URL+"/login"), RequestOptions{AssumesHTTP3Capable: true})
	body, resp, p, err := fetch(t, s, req)
	if err != nil || resp.StatusCode != 200 || body != "abc HTTP/3.0" {
		t.Fatalf("%q %v %v", body, resp, err)
	}
	for i, proto := range p {
		if proto != "h3" {
			t.Errorf("transaction %d over %s, want h3 (all: %v)", i, proto, p)
		}
	}
	trust, basic := d.counts()
	if trust != 1 || basic != 1 {
		t.Errorf("%d ServerTrust and %d Basic challenges, want one each", trust, basic)
	}
	if space := d.trustSpace(); space.Port != srv.tcp.Listener.Addr().(*net.TCPAddr).Port || space.Protocol != "https" {
		t.Errorf("ServerTrust protection space %+v", space)
	}
}

// trustLog answers ServerTrust challenges with default handling (or
// cancels them, with reject) and Basic ones with u:p.
type trustLog struct {
	reject bool

	mu     sync.Mutex
	trust  int
	basic  int
	spaces []credstore.ProtectionSpace
}

func (d *trustLog) TaskDidReceiveChallenge(_ *Session, _ *Task, c *Challenge) (AuthChallengeDisposition, *Credential) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.ProtectionSpace.AuthenticationMethod == credstore.AuthMethodServerTrust {
		d.trust++
		d.spaces = append(d.spaces, c.ProtectionSpace)
		if d.reject {
			return CancelAuthenticationChallenge, nil
		}
		return PerformDefaultHandling, nil
	}
	d.basic++
	return UseCredential, NewCredential("u", "p", credstore.None)
}

func (d *trustLog) counts() (trust, basic int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.trust, d.basic
}

func (d *trustLog) trustSpace() credstore.ProtectionSpace {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.spaces) == 0 {
		return credstore.ProtectionSpace{}
	}
	return d.spaces[0]
}

// TestHTTP3ServerTrustRejected: a delegate that cancels the QUIC
// connection's ServerTrust challenge cancels the task; it is not asked
// again over TCP.
func TestHTTP3ServerTrustRejected(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), true)
	srv.setAltSvc("")
	d := &trustLog{reject: true}
	s, _ := newH3Session(t, srv.config(), d, time.Minute, 20*time.Second)
	req := WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true})
	_, _, _, err := fetch(t, s, req)
	if CodeOf(err) != ErrCancelled {
		t.Fatalf("got %v, want ErrCancelled", err)
	}
	if trust, _ := d.counts(); trust != 1 {
		t.Errorf("%d ServerTrust challenges, want 1", trust)
	}
	if got := srv.served(); len(got) != 0 {
		t.Errorf("the server served %v", got)
	}
}

// TestHTTP3UntrustedServer: without the test CA, the QUIC handshake fails
// on the certificate, as TCP's would, and the request is not sent over TCP.
func TestHTTP3UntrustedServer(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), true)
	srv.setAltSvc("")
	cfg := srv.config()
	cfg.TLSClientConfig = nil
	s, _ := newH3Session(t, cfg, nil, time.Minute, 20*time.Second)
	req := WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true})
	_, _, _, err := fetch(t, s, req)
	var e *Error
	if !errors.As(err, &e) || e.Code > ErrServerCertificateHasBadDate || e.Code < ErrServerCertificateNotYetValid {
		t.Fatalf("got %v, want a server certificate error", err)
	}
	if got := srv.served(); len(got) != 0 {
		t.Errorf("the server served %v", got)
	}
}

// TestHTTP3PinnedDomains: pins apply to QUIC connections.
func TestHTTP3PinnedDomains(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), true)
	srv.setAltSvc("")
	cfg := srv.config()
	cfg.PinnedDomains = map[string]PinnedDomain{"127.0.0.1": {LeafIdentities: []string{strings.Repeat("A", 43) + "="}}}
	s, _ := newH3Session(t, cfg, nil, time.Minute, 20*time.Second)
	req := WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true})
	_, _, _, err := fetch(t, s, req)
	if CodeOf(err) != ErrServerCertificateUntrusted {
		t.Fatalf("got %v, want ErrServerCertificateUntrusted", err)
	}
	if got := srv.served(); len(got) != 0 {
		t.Errorf("the server served %v", got)
	}
}

// TestHTTP3ProxyNeverUsed: a request through a proxy goes over TCP.
func TestHTTP3ProxyNeverUsed(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), true)
	cfg := srv.config()
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		http.Error(w, "no tunnels here", http.StatusForbidden)
	}))
	defer proxy.Close()
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse(proxy.URL) }
	s, hk := newH3Session(t, cfg, nil, time.Minute, 20*time.Second)
	req := WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true})
	fetch(t, s, req)
	if hk.count() != 0 || proxied.Load() == 0 {
		t.Errorf("%d QUIC dials and %d proxy requests, want none and some", hk.count(), proxied.Load())
	}
}

// TestHTTP3InvalidateClosesConnections: invalidation closes the QUIC
// connections.
func TestHTTP3InvalidateClosesConnections(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), true)
	s, _ := newH3Session(t, srv.config(), nil, time.Minute, 20*time.Second)
	req := WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true})
	if _, _, p, err := fetch(t, s, req); err != nil || p[0] != "h3" {
		t.Fatalf("%v %v", p, err)
	}
	tr := s.h3.tr.Load()
	tr.mu.Lock()
	var conn *quic.Conn
	for _, c := range tr.pool {
		conn = c.conn
	}
	tr.mu.Unlock()
	if conn == nil {
		t.Fatal("no pooled connection")
	}
	s.FinishTasksAndInvalidate()
	<-s.Invalidated()
	select {
	case <-conn.Context().Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the QUIC connection is still open")
	}
}

// TestHTTP3ResetForgetsAlternatives: Reset forgets what servers advertised.
func TestHTTP3ResetForgetsAlternatives(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), false)
	s, _ := newH3Session(t, srv.config(), nil, time.Minute, 20*time.Second)
	fetch(t, s, get(t, srv.tcp.URL))
	srv.setAltSvc("")
	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL)); err != nil || p[0] != "h3" {
		t.Fatalf("before Reset: %v %v, want h3", p, err)
	}
	if err := s.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Reset made a new transport, which reads the test's settings again.
	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL)); err != nil || p[0] != "h2" {
		t.Fatalf("after Reset: %v %v, want h2", p, err)
	}
}

// TestHTTP3IdleTimeout: a server that stops answering over HTTP/3 times the
// task out as over TCP.
func TestHTTP3IdleTimeout(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}), true)
	srv.setAltSvc("")
	cfg := srv.config()
	cfg.TimeoutIntervalForRequest = 300 * time.Millisecond
	s, _ := newH3Session(t, cfg, nil, time.Minute, 20*time.Second)
	_, _, _, err := fetch(t, s, WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true}))
	if CodeOf(err) != ErrTimedOut {
		t.Fatalf("got %v, want ErrTimedOut", err)
	}
	if got := srv.served(); len(got) != 1 || got[0] != "HTTP/3.0" {
		t.Errorf("served %v, want the one request over HTTP/3", got)
	}
}

// TestHTTP3No0RTT: a new QUIC connection to a server that accepts 0-RTT
// sends no early data: requests wait for the handshake (replayable early
// data is not something a task's request may risk).
func TestHTTP3No0RTT(t *testing.T) {
	var mu sync.Mutex
	var resumed, early []bool
	srv := newH3Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		resumed = append(resumed, r.TLS != nil && r.TLS.DidResume)
		early = append(early, r.TLS != nil && !r.TLS.HandshakeComplete)
		mu.Unlock()
		hello(w, r)
	}), true)
	srv.setAltSvc("")
	s, hk := newH3Session(t, srv.config(), nil, time.Minute, 20*time.Second)
	for i := range 2 {
		if _, _, p, err := fetch(t, s, WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true})); err != nil || p[0] != "h3" {
			t.Fatalf("request %d: %v %v", i, p, err)
		}
		if err := s.Flush(t.Context()); err != nil { // a new connection next
			t.Fatal(err)
		}
	}
	if hk.count() != 2 {
		t.Errorf("%d dials, want 2", hk.count())
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range early {
		if early[i] || resumed[i] {
			t.Errorf("request %d: early data %v, resumed %v", i, early[i], resumed[i])
		}
	}
}

// TestHTTP3ChallengeAskedOnce: when a task whose delegate evaluates server
// trust has gone over TCP before the QUIC server answered, the handshake
// it started is abandoned rather than asking that delegate a second time.
func TestHTTP3ChallengeAskedOnce(t *testing.T) {
	var gate *heldGate
	srv := newH3Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 3 && r.URL.Path == "/second" {
			gate.release() // the request fell back: let the server answer
		}
		hello(w, r)
	}), false)
	gate = newHeldGate(t, 0, srv.udpPort())
	gate.hold()
	srv.setAltSvc(fmt.Sprintf(`h3=":%d"`, gate.port()))
	d := &trustLog{}
	s, hk := newH3Session(t, srv.config(), d, 50*time.Millisecond, 20*time.Second)
	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL+"/first")); err != nil || p[0] != "h2" {
		t.Fatalf("first: %v %v", p, err)
	}
	body, _, p, err := fetch(t, s, get(t, srv.tcp.URL+"/second"))
	if err != nil || p[0] != "h2" || body != "hello over HTTP/2.0" {
		t.Fatalf("second: %q %v %v, want h2", body, p, err)
	}
	if err := hk.waitDialed(t); !errors.Is(err, errH3Abandoned) {
		t.Fatalf("the dial ended with %v, want it abandoned", err)
	}
	if trust, _ := d.counts(); trust != 1 {
		t.Errorf("%d ServerTrust challenges, want 1 (the TCP connection's)", trust)
	}
	origin := strings.TrimPrefix(srv.tcp.URL, "https://")
	if s.h3.alt.isBroken(origin, fmt.Sprintf("127.0.0.1:%d", gate.port())) {
		t.Error("an abandoned handshake marked the alternative broken")
	}
}

// TestHTTP3HandshakeGoesOnAfterFallback: without a delegate to ask, the
// handshake a request gave up on goes on, and the next request uses it.
func TestHTTP3HandshakeGoesOnAfterFallback(t *testing.T) {
	var gate *heldGate
	srv := newH3Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 3 && r.URL.Path == "/second" {
			gate.release()
		}
		hello(w, r)
	}), false)
	gate = newHeldGate(t, 0, srv.udpPort())
	gate.hold()
	srv.setAltSvc(fmt.Sprintf(`h3=":%d"`, gate.port()))
	s, hk := newH3Session(t, srv.config(), nil, 50*time.Millisecond, 20*time.Second)
	fetch(t, s, get(t, srv.tcp.URL+"/first"))
	if _, _, p, err := fetch(t, s, get(t, srv.tcp.URL+"/second")); err != nil || p[0] != "h2" {
		t.Fatalf("second: %v %v, want h2", p, err)
	}
	if err := hk.waitDialed(t); err != nil {
		t.Fatalf("the handshake failed: %v", err)
	}
	body, _, p, err := fetch(t, s, get(t, srv.tcp.URL+"/third"))
	if err != nil || p[0] != "h3" || body != "hello over HTTP/3.0" {
		t.Fatalf("third: %q %v %v, want h3", body, p, err)
	}
	if hk.count() != 1 {
		t.Errorf("%d dials, want 1", hk.count())
	}
}

// TestHTTP3DecodesBodies: content decoding is the pipeline's, the same
// over HTTP/3.
func TestHTTP3DecodesBodies(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			http.Error(w, "no gzip offered", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		fmt.Fprintf(zw, "decoded over %s", r.Proto)
		zw.Close()
	}), true)
	srv.setAltSvc("")
	s, _ := newH3Session(t, srv.config(), nil, time.Minute, 20*time.Second)
	body, _, p, err := fetch(t, s, WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true}))
	if err != nil || p[0] != "h3" || body != "decoded over HTTP/3.0" {
		t.Fatalf("%q %v %v", body, p, err)
	}
}

// TestHTTP3Upload: a request body goes over HTTP/3 whole, and the metrics
// count it.
func TestHTTP3Upload(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d bytes over %s", len(b), r.Proto)
	}), true)
	srv.setAltSvc("")
	s, _ := newH3Session(t, srv.config(), nil, time.Minute, 20*time.Second)
	payload := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	var m *TaskMetrics
	var body []byte
	var err error
	req := WithOptions(newReq(t, http.MethodPost, srv.tcp.URL, payload), RequestOptions{AssumesHTTP3Capable: true})
	task := s.DataTaskWithCompletion(req, func(b []byte, _ *http.Response, e error) { body, err = b, e })
	task.SetDelegate(metricsCatcher{&m})
	task.Resume()
	wait(t, task)
	if err != nil || string(body) != fmt.Sprintf("%d bytes over HTTP/3.0", len(payload)) {
		t.Fatalf("%q %v", body, err)
	}
	if tx := m.Transactions[0]; tx.NetworkProtocolName != "h3" || tx.RequestBodyBytesSent != int64(len(payload)) {
		t.Errorf("%s, %d body bytes sent", tx.NetworkProtocolName, tx.RequestBodyBytesSent)
	}
}

// TestHTTP3Unsent: unsent recognises quic-go's error for a request whose
// stream could not be opened (so that a quic-go upgrade that changes its
// text fails here), and not a request the server reset.
func TestHTTP3Unsent(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}), false)
	tc := srv.config().TLSClientConfig.Clone()
	tc.NextProtos = []string{http3.NextProtoH3}
	conn, err := quic.DialAddr(t.Context(), fmt.Sprintf("127.0.0.1:%d", srv.udpPort()), tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc := (&http3.Transport{}).NewClientConn(conn)
	url := fmt.Sprintf("https://127.0.0.1:%d/", srv.udpPort())
	_, err = cc.RoundTrip(get(t, url))
	if err == nil || unsent(err) {
		t.Fatalf("a reset request: %v, unsent %v", err, err != nil && unsent(err))
	}
	conn.CloseWithError(0, "")
	_, err = cc.RoundTrip(get(t, url))
	if err == nil || !unsent(err) {
		t.Fatalf("a request on a closed connection: %v, want it unsent", err)
	}
}
