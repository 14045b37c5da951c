package urlsession

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/urlsession-go/urlsession/credstore"
)

// earlyLog records, for each request a server handles, whether its TLS
// session was resumed and whether it arrived before the handshake ended.
type earlyLog struct {
	mu      sync.Mutex
	resumed []bool
	early   []bool
	methods []string
}

func (l *earlyLog) handler(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.resumed = append(l.resumed, r.TLS != nil && r.TLS.DidResume)
	l.early = append(l.early, r.TLS != nil && !r.TLS.HandshakeComplete)
	l.methods = append(l.methods, r.Method)
	l.mu.Unlock()
	hello(w, r)
}

// last returns what the last request handled was.
func (l *earlyLog) last(t *testing.T) (method string, resumed, early bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.early) == 0 {
		t.Fatal("no request handled")
	}
	n := len(l.early) - 1
	return l.methods[n], l.resumed[n], l.early[n]
}

// With EnablesEarlyData, a new connection that resumes a TLS session
// sends a GET or HEAD in 0-RTT, and other requests after the handshake;
// Flush keeps the tickets and Reset forgets them.
func TestHTTP3EarlyData(t *testing.T) {
	var log earlyLog
	srv := newH3Server(t, http.HandlerFunc(log.handler), true)
	srv.setAltSvc("")
	cfg := srv.config()
	cfg.EnablesEarlyData = true
	s, _ := newH3Session(t, cfg, nil, time.Minute, 20*time.Second)
	h3 := RequestOptions{AssumesHTTP3Capable: true}
	load := func(method string, body string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.tcp.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req, _ = http.NewRequest(method, srv.tcp.URL, strings.NewReader(body))
		}
		got, resp, protos, err := fetch(t, s, WithOptions(req, h3))
		if err != nil || len(protos) != 1 || protos[0] != "h3" || resp.StatusCode != 200 || method != http.MethodHead && got != "hello over HTTP/3.0" {
			t.Fatalf("%s: %q %v %v", method, got, protos, err)
		}
		if resp.Request.Method != method {
			t.Errorf("%s: the response's request has method %q", method, resp.Request.Method)
		}
		if err := s.Flush(t.Context()); err != nil { // a new connection next
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		method, body   string
		resumed, early bool
		reset          bool
	}{
		{method: "GET"}, // a full handshake: a ticket comes
		{method: "GET", resumed: true, early: true},  // 0-RTT
		{method: "POST", body: "x", resumed: true},   // waits for the handshake
		{method: "HEAD", resumed: true, early: true}, // 0-RTT
		{method: "DELETE", resumed: true},            // idempotent, not safe: waits
		{method: "GET", reset: true},                 // Reset forgot the ticket
		{method: "GET", resumed: true, early: true},
	} {
		if c.reset {
			if err := s.Reset(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		load(c.method, c.body)
		method, resumed, early := log.last(t)
		if method != c.method || resumed != c.resumed || early != c.early {
			t.Errorf("%s (after Reset %t): the server saw %s, resumed %t, early %t; want resumed %t, early %t",
				c.method, c.reset, method, resumed, early, c.resumed, c.early)
		}
	}
}

// A server that rejects the early data (it restarted, and cannot read the
// ticket) gets the request again on a new connection with a full
// handshake; nothing goes over TCP.
func TestHTTP3EarlyDataRejected(t *testing.T) {
	var log earlyLog
	srv := newH3Server(t, http.HandlerFunc(log.handler), true)
	srv.setAltSvc("")
	cfg := srv.config()
	cfg.EnablesEarlyData = true
	s, hk := newH3Session(t, cfg, nil, time.Minute, 20*time.Second)
	req := WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true})
	if _, _, p, err := fetch(t, s, req); err != nil || p[0] != "h3" {
		t.Fatalf("first request: %v %v", p, err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The server restarts on its port with new ticket keys.
	port := srv.udpPort()
	srv.h3.Close()
	srv.udp.Close()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Skipf("the port could not be taken again: %v", err)
	}
	srv.udp = udp
	srv.h3 = &http3.Server{
		Handler:    http.HandlerFunc(log.handler),
		TLSConfig:  http3.ConfigureTLSConfig(&tls.Config{Certificates: srv.tcp.TLS.Certificates}),
		QUICConfig: &quic.Config{Allow0RTT: true},
	}
	go srv.h3.Serve(udp)

	got, _, p, err := fetch(t, s, WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true}))
	if err != nil || len(p) != 1 || p[0] != "h3" || got != "hello over HTTP/3.0" {
		t.Fatalf("after the restart: %q %v %v", got, p, err)
	}
	if _, resumed, early := log.last(t); resumed || early {
		t.Errorf("after the restart the server saw resumed %t, early %t: want a full handshake", resumed, early)
	}
	if n := hk.count(); n != 3 {
		t.Errorf("%d QUIC dials, want 3 (the first, the rejected one, the new one)", n)
	}
	// The tickets of the rejected server are gone: the next connection
	// resumes the session the new one began, in 0-RTT.
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, _, p, err := fetch(t, s, WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true})); err != nil || p[0] != "h3" {
		t.Fatalf("third request: %v %v", p, err)
	}
	if _, resumed, early := log.last(t); !resumed || !early {
		t.Errorf("the request after the rejection: resumed %t, early %t; want both", resumed, early)
	}
}

// trustSecond answers the first ServerTrust challenge with default
// handling and later ones with cancel (CancelAuthenticationChallenge),
// or with no credential (UseCredential), which fails the connection
// without cancelling the task.
type trustSecond struct {
	cancel bool

	mu sync.Mutex
	n  int
}

func (d *trustSecond) TaskDidReceiveChallenge(_ *Session, _ *Task, c *Challenge) (AuthChallengeDisposition, *Credential) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.ProtectionSpace.AuthenticationMethod != credstore.AuthMethodServerTrust {
		return PerformDefaultHandling, nil
	}
	d.n++
	switch {
	case d.n == 1:
		return PerformDefaultHandling, nil
	case d.cancel:
		return CancelAuthenticationChallenge, nil
	}
	return UseCredential, nil
}

// The certificate of a connection carrying early data is evaluated when
// its handshake ends: a delegate that rejects it fails the task, and is
// not asked again over TCP.
func TestHTTP3EarlyDataServerTrustRejected(t *testing.T) {
	for _, cancel := range []bool{false, true} {
		var log earlyLog
		srv := newH3Server(t, http.HandlerFunc(log.handler), true)
		srv.setAltSvc("")
		cfg := srv.config()
		cfg.EnablesEarlyData = true
		d := &trustSecond{cancel: cancel}
		s, _ := newH3Session(t, cfg, d, time.Minute, 20*time.Second)
		h3 := RequestOptions{AssumesHTTP3Capable: true}
		if _, _, p, err := fetch(t, s, WithOptions(get(t, srv.tcp.URL), h3)); err != nil || p[0] != "h3" {
			t.Fatalf("first request: %v %v", p, err)
		}
		if err := s.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, _, _, err := fetch(t, s, WithOptions(get(t, srv.tcp.URL), h3))
		want := ErrServerCertificateUntrusted
		if cancel {
			want = ErrCancelled
		}
		if CodeOf(err) != want {
			t.Errorf("cancel %t: got %v, want %d", cancel, err, want)
		}
		d.mu.Lock()
		n := d.n
		d.mu.Unlock()
		if n != 2 {
			t.Errorf("cancel %t: %d ServerTrust challenges, want 2 (one per connection)", cancel, n)
		}
		if _, resumed, early := log.last(t); !resumed || !early {
			t.Errorf("cancel %t: the second request was not early data (resumed %t, early %t)", cancel, resumed, early)
		}
		for _, p := range srv.served() {
			if p != "HTTP/3.0" {
				t.Errorf("cancel %t: the server served a request over %s", cancel, p)
			}
		}
	}
}
