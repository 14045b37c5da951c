package urlsession

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/credstore"
)

// testPKI is a certificate authority with the certificates the TLS tests
// use, made once per test binary.
type testPKI struct {
	ca       *x509.Certificate
	roots    *x509.CertPool    // the CA alone
	leaf     tls.Certificate   // 127.0.0.1 and localhost, by the CA
	expired  tls.Certificate   // 127.0.0.1, by the CA, expired an hour ago
	self     tls.Certificate   // 127.0.0.1, self-signed: trusted by no one
	other    tls.Certificate   // 127.0.0.1, self-signed too, another key
	clientCA *x509.Certificate // issues the client certificates servers accept
	client   tls.Certificate   // CN "client", by clientCA
}

var pki = sync.OnceValue(func() *testPKI {
	now := time.Now()
	ca, caKey := issue(&x509.Certificate{
		Subject:   pkix.Name{CommonName: "urlsession test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil, nil)
	server := func(notBefore, notAfter time.Time) *x509.Certificate {
		return &x509.Certificate{
			Subject:   pkix.Name{CommonName: "127.0.0.1"},
			NotBefore: notBefore, NotAfter: notAfter,
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			DNSNames:    []string{"localhost"},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
	}
	p := &testPKI{ca: ca.Leaf, roots: x509.NewCertPool()}
	p.roots.AddCert(ca.Leaf)
	p.leaf, _ = issue(server(now.Add(-time.Hour), now.Add(24*time.Hour)), ca.Leaf, caKey)
	p.expired, _ = issue(server(now.Add(-2*time.Hour), now.Add(-time.Hour)), ca.Leaf, caKey)
	p.self, _ = issue(server(now.Add(-time.Hour), now.Add(24*time.Hour)), nil, nil)
	p.other, _ = issue(server(now.Add(-time.Hour), now.Add(24*time.Hour)), nil, nil)
	clientCA, clientCAKey := issue(&x509.Certificate{
		Subject:   pkix.Name{CommonName: "urlsession test client CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil, nil)
	p.clientCA = clientCA.Leaf
	p.client, _ = issue(&x509.Certificate{
		Subject:   pkix.Name{CommonName: "client"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, clientCA.Leaf, clientCAKey)
	return p
})

// issue makes a certificate from tmpl with a new P-256 key, signed by
// parent's key, or self-signed when parent is nil.
func issue(tmpl, parent *x509.Certificate, parentKey crypto.Signer) (tls.Certificate, crypto.Signer) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, key
}

// tlsServer is a loopback https server that counts what reached it.
type tlsServer struct {
	*httptest.Server
	h2       bool
	conns    atomic.Int32 // connections accepted
	active   atomic.Int32 // connections on which a request began to arrive
	requests atomic.Int32 // requests handled
}

// newTLSServer starts an https server presenting cert, over HTTP/2 when h2
// is set; with mtls it requires a client certificate from pki().clientCA.
// Its handler answers "hello <protocol> <client CN>".
func newTLSServer(t testing.TB, cert tls.Certificate, h2, mtls bool) *tlsServer {
	s := &tlsServer{h2: h2}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		cn := "-"
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "hello %s %s", r.Proto, cn)
	}))
	s.EnableHTTP2 = h2
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	if mtls {
		s.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		s.TLS.ClientCAs = x509.NewCertPool()
		s.TLS.ClientCAs.AddCert(pki().clientCA)
	}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.conns.Add(1)
		case http.StateActive:
			s.active.Add(1)
		}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *tlsServer) port() int { return s.Listener.Addr().(*net.TCPAddr).Port }

// proto is the protocol the handler reports for the server's requests.
func (s *tlsServer) proto() string {
	if s.h2 {
		return "HTTP/2.0"
	}
	return "HTTP/1.1"
}

// trustConfig returns a configuration that trusts pki's CA (not the
// self-signed certificates), with no stores and no proxy.
func trustConfig() *Configuration {
	c := baseConfiguration()
	c.Proxy = NoProxy
	c.TLSClientConfig = &tls.Config{RootCAs: pki().roots}
	return c
}

// eachProtocol runs f over HTTP/1.1 and HTTP/2.
func eachProtocol(t *testing.T, f func(t *testing.T, h2 bool)) {
	for _, h2 := range []bool{false, true} {
		name := "h1"
		if h2 {
			name = "h2"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, h2)
		})
	}
}

// challenger is a delegate that records the challenges it is asked about
// (and, through its recorder, every other callback) and answers them with
// answer, PerformDefaultHandling when nil. sessionLevel, taskLevel and
// bothLevels give it the challenge methods.
type challenger struct {
	*recorder
	answer func(c *Challenge) (AuthChallengeDisposition, *Credential)

	cmu  sync.Mutex
	seen []*Challenge
	via  []string // "session" or "task", for each of seen
}

func newChallenger(answer func(*Challenge) (AuthChallengeDisposition, *Credential)) *challenger {
	return &challenger{recorder: newRecorder(), answer: answer}
}

func (d *challenger) note(via string, c *Challenge) (AuthChallengeDisposition, *Credential) {
	d.cmu.Lock()
	d.seen = append(d.seen, c)
	d.via = append(d.via, via)
	d.cmu.Unlock()
	d.add("challenge " + strings.TrimPrefix(c.ProtectionSpace.AuthenticationMethod, "NSURLAuthenticationMethod"))
	if d.answer != nil {
		return d.answer(c)
	}
	return PerformDefaultHandling, nil
}

func (d *challenger) challenges() ([]*Challenge, []string) {
	d.cmu.Lock()
	defer d.cmu.Unlock()
	return append([]*Challenge(nil), d.seen...), append([]string(nil), d.via...)
}

type sessionLevel struct{ *challenger }
type taskLevel struct{ *challenger }
type bothLevels struct{ *challenger }

var (
	_ SessionChallengeDelegate = sessionLevel{}
	_ TaskChallengeDelegate    = taskLevel{}
	_ SessionChallengeDelegate = bothLevels{}
	_ TaskChallengeDelegate    = bothLevels{}
)

func (d sessionLevel) DidReceiveChallenge(_ *Session, c *Challenge) (AuthChallengeDisposition, *Credential) {
	return d.note("session", c)
}

func (d taskLevel) TaskDidReceiveChallenge(_ *Session, _ *Task, c *Challenge) (AuthChallengeDisposition, *Credential) {
	return d.note("task", c)
}

func (d bothLevels) DidReceiveChallenge(_ *Session, c *Challenge) (AuthChallengeDisposition, *Credential) {
	return d.note("session", c)
}

func (d bothLevels) TaskDidReceiveChallenge(_ *Session, _ *Task, c *Challenge) (AuthChallengeDisposition, *Credential) {
	return d.note("task", c)
}

// Answers.
func acceptTrust(c *Challenge) (AuthChallengeDisposition, *Credential) {
	if c.ServerTrust != nil {
		return UseCredential, NewTrustCredential(c.ServerTrust)
	}
	return PerformDefaultHandling, nil
}

func answerWith(d AuthChallengeDisposition, cred *Credential) func(*Challenge) (AuthChallengeDisposition, *Credential) {
	return func(*Challenge) (AuthChallengeDisposition, *Credential) { return d, cred }
}

// levels are the ways a challenge reaches a delegate: the session
// delegate's DidReceiveChallenge; the session delegate's
// TaskDidReceiveChallenge when it has no DidReceiveChallenge (Apple's
// fall-back); a per-task delegate set with SetDelegate or WithDelegate; and
// the session delegate of a task with a completion handler.
var levels = []struct {
	name, via string
}{
	{"session", "session"},
	{"session-fallback", "task"},
	{"task-SetDelegate", "task"},
	{"task-WithDelegate", "task"},
	{"completion-handler", "task"},
}

// fetchAt loads url once with the delegate arrangement named by level and
// returns the body and error.
func fetchAt(t *testing.T, level string, cfg *Configuration, d *challenger, url string) ([]byte, error) {
	t.Helper()
	switch level {
	case "session", "session-fallback", "completion-handler":
		var delegate any = sessionLevel{d}
		if level != "session" {
			delegate = taskLevel{d}
		}
		s := newSession(t, cfg, delegate)
		if level == "completion-handler" {
			var body []byte
			var err error
			task := s.DataTaskWithCompletion(get(t, url), func(b []byte, _ *http.Response, e error) { body, err = b, e })
			task.Resume()
			wait(t, task)
			return body, err
		}
		task := s.DataTask(get(t, url))
		task.Resume()
		wait(t, task)
		return []byte(d.Body()), task.Err()
	case "task-SetDelegate":
		s := newSession(t, cfg, nil)
		task := s.DataTask(get(t, url))
		if err := task.SetDelegate(taskLevel{d}); err != nil {
			t.Fatal(err)
		}
		task.Resume()
		wait(t, task)
		return []byte(d.Body()), task.Err()
	case "task-WithDelegate":
		s := newSession(t, cfg, nil)
		body, _, err := s.Data(context.Background(), get(t, url), WithDelegate(taskLevel{d}))
		return body, err
	}
	t.Fatalf("unknown level %q", level)
	return nil, nil
}

func TestServerTrustDispositions(t *testing.T) {
	t.Parallel()
	p := pki()
	otherTrust := &ServerTrust{Host: "127.0.0.1", PeerCertificates: []*x509.Certificate{p.other.Leaf}}
	tests := []struct {
		name   string
		cert   tls.Certificate
		answer func(*Challenge) (AuthChallengeDisposition, *Credential)
		want   Code // 0: success
	}{
		{"untrusted/trust credential", p.self, acceptTrust, 0},
		{"untrusted/default", p.self, answerWith(PerformDefaultHandling, nil), ErrServerCertificateUntrusted},
		{"untrusted/reject", p.self, answerWith(RejectProtectionSpace, nil), ErrServerCertificateUntrusted},
		{"untrusted/cancel", p.self, answerWith(CancelAuthenticationChallenge, nil), ErrCancelled},
		{"untrusted/nil credential", p.self, answerWith(UseCredential, nil), ErrServerCertificateUntrusted},
		{"untrusted/password credential", p.self, answerWith(UseCredential, NewCredential("u", "p", credstore.None)), ErrServerCertificateUntrusted},
		{"untrusted/another server's trust", p.self, answerWith(UseCredential, NewTrustCredential(otherTrust)), ErrServerCertificateUntrusted},
		{"untrusted/unknown disposition", p.self, answerWith(AuthChallengeDisposition(42), nil), ErrServerCertificateUntrusted},
		{"trusted/trust credential", p.leaf, acceptTrust, 0},
		{"trusted/default", p.leaf, answerWith(PerformDefaultHandling, nil), 0},
		{"trusted/reject", p.leaf, answerWith(RejectProtectionSpace, nil), 0},
		{"trusted/cancel", p.leaf, answerWith(CancelAuthenticationChallenge, nil), ErrCancelled},
		{"trusted/nil credential", p.leaf, answerWith(UseCredential, nil), ErrServerCertificateUntrusted},
		{"expired/default", p.expired, answerWith(PerformDefaultHandling, nil), ErrServerCertificateHasBadDate},
		{"expired/trust credential", p.expired, acceptTrust, 0},
	}
	eachProtocol(t, func(t *testing.T, h2 bool) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				fetchEachLevel(t, tt.cert, h2, false, tt.answer, tt.want, func(t *testing.T, _ *tlsServer, via string, seen []*Challenge, seenVia []string) {
					if len(seen) != 1 || seenVia[0] != via {
						t.Fatalf("challenges %v asked through %v, want one through %s", seen, seenVia, via)
					}
				})
			})
		}
	})
}

// fetchEachLevel runs a subtest per delegate level (see levels): each loads
// from a new server presenting cert (requiring a client certificate with
// mtls) with a challenger that answers with answer, and requires an error of
// code want (0: success). check then inspects the challenges asked and the
// delegate level (via) they should have gone through. A failed load must
// not have reached the server's handler; a successful one returns the
// handler's body, with the client certificate's name when mtls.
func fetchEachLevel(t *testing.T, cert tls.Certificate, h2, mtls bool, answer func(*Challenge) (AuthChallengeDisposition, *Credential), want Code,
	check func(t *testing.T, srv *tlsServer, via string, seen []*Challenge, seenVia []string)) {
	t.Helper()
	for _, lv := range levels {
		t.Run(lv.name, func(t *testing.T) {
			srv := newTLSServer(t, cert, h2, mtls)
			d := newChallenger(answer)
			body, err := fetchAt(t, lv.name, trustConfig(), d, srv.URL)
			if got := CodeOf(err); got != want {
				t.Fatalf("error %v (code %d), want code %d", err, got, want)
			}
			seen, seenVia := d.challenges()
			check(t, srv, lv.via, seen, seenVia)
			if want != 0 {
				if n := srv.requests.Load(); n != 0 {
					t.Errorf("the server handled %d requests", n)
				}
				return
			}
			who := "-"
			if mtls {
				who = "client"
			}
			if want := "hello " + srv.proto() + " " + who; string(body) != want {
				t.Errorf("body %q, want %q", body, want)
			}
		})
	}
}

func TestServerTrustChallengeContents(t *testing.T) {
	t.Parallel()
	p := pki()
	for _, tt := range []struct {
		name    string
		cert    tls.Certificate
		trusted bool
	}{{"trusted", p.leaf, true}, {"untrusted", p.self, false}, {"expired", p.expired, false}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTLSServer(t, tt.cert, false, false)
			d := newChallenger(acceptTrust)
			if _, err := fetchAt(t, "session", trustConfig(), d, srv.URL); err != nil {
				t.Fatal(err)
			}
			seen, _ := d.challenges()
			c := seen[0]
			want := credstore.ProtectionSpace{Host: "127.0.0.1", Port: srv.port(), Protocol: "https", AuthenticationMethod: credstore.AuthMethodServerTrust}
			if c.ProtectionSpace != want {
				t.Errorf("protection space %+v, want %+v", c.ProtectionSpace, want)
			}
			st := c.ServerTrust
			if st == nil || st.Host != "127.0.0.1" || len(st.PeerCertificates) != 1 || !st.PeerCertificates[0].Equal(tt.cert.Leaf) {
				t.Fatalf("server trust %+v", st)
			}
			if c.ProposedCredential != nil || c.FailureResponse != nil || c.PreviousFailureCount != 0 || c.AcceptableCAs != nil {
				t.Errorf("challenge has HTTP or client certificate fields: %+v", c)
			}
			if tt.trusted {
				if st.Err != nil || len(st.VerifiedChains) != 1 || !st.VerifiedChains[0][len(st.VerifiedChains[0])-1].Equal(p.ca) {
					t.Errorf("verdict %v, chains %v: want a chain to the CA", st.Err, st.VerifiedChains)
				}
				return
			}
			if st.Err == nil || len(st.VerifiedChains) != 0 {
				t.Fatalf("verdict %v, chains %d: want a failure", st.Err, len(st.VerifiedChains))
			}
			want2 := ErrServerCertificateUntrusted
			if tt.name == "expired" {
				want2 = ErrServerCertificateHasBadDate
			}
			if got := classify(st.Err, "").Code; got != want2 {
				t.Errorf("verdict %v classifies as %d, want %d", st.Err, got, want2)
			}
			if _, ok := errors.AsType[*tls.CertificateVerificationError](st.Err); !ok {
				t.Errorf("verdict %T is not a *tls.CertificateVerificationError", st.Err)
			}
		})
	}
}

// TestServerTrustSessionFirst: a session delegate with DidReceiveChallenge
// is asked about server trust before a per-task TaskDidReceiveChallenge,
// and a delegate with both methods is asked through DidReceiveChallenge.
func TestServerTrustSessionFirst(t *testing.T) {
	t.Parallel()
	srv := newTLSServer(t, pki().self, false, false)

	sd := newChallenger(acceptTrust)
	td := newChallenger(answerWith(CancelAuthenticationChallenge, nil))
	s := newSession(t, trustConfig(), sessionLevel{sd})
	task := s.DataTask(get(t, srv.URL))
	task.SetDelegate(taskLevel{td})
	task.Resume()
	wait(t, task)
	if err := task.Err(); err != nil {
		t.Fatal(err)
	}
	if seen, _ := sd.challenges(); len(seen) != 1 {
		t.Errorf("session delegate asked %d times", len(seen))
	}
	if seen, _ := td.challenges(); len(seen) != 0 {
		t.Errorf("per-task delegate asked %d times", len(seen))
	}

	both := newChallenger(acceptTrust)
	s2 := newSession(t, trustConfig(), bothLevels{both})
	if _, _, err := s2.Data(context.Background(), get(t, srv.URL)); err != nil {
		t.Fatal(err)
	}
	if _, via := both.challenges(); len(via) != 1 || via[0] != "session" {
		t.Errorf("asked through %v, want [session]", via)
	}
}

// TestServerTrustWithoutChallengeDelegate: without a challenge method the
// default evaluation decides and no challenge is raised.
func TestServerTrustWithoutChallengeDelegate(t *testing.T) {
	eachProtocol(t, func(t *testing.T, h2 bool) {
		trusted := newTLSServer(t, pki().leaf, h2, false)
		untrusted := newTLSServer(t, pki().self, h2, false)
		rec := newRecorder()
		s := newSession(t, trustConfig(), rec)
		body, resp, err := s.Data(context.Background(), get(t, trusted.URL))
		if err != nil || resp.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] || string(body) != "hello "+trusted.proto()+" -" {
			t.Fatalf("trusted: %q %v %v", body, resp, err)
		}
		_, _, err = s.Data(context.Background(), get(t, untrusted.URL))
		if CodeOf(err) != ErrServerCertificateUntrusted {
			t.Fatalf("untrusted: %v, want -1202", err)
		}
		if untrusted.requests.Load() != 0 {
			t.Error("the untrusted server got a request")
		}
	})
}

// TestServerTrustOncePerConnection: a second request on the same
// connection raises no challenge; a new connection raises one again.
func TestServerTrustOncePerConnection(t *testing.T) {
	eachProtocol(t, func(t *testing.T, h2 bool) {
		srv := newTLSServer(t, pki().self, h2, false)
		d := newChallenger(acceptTrust)
		s := newSession(t, trustConfig(), sessionLevel{d})
		for i := range 3 {
			task := s.DataTask(get(t, srv.URL))
			task.Resume()
			wait(t, task)
			if err := task.Err(); err != nil {
				t.Fatal(err)
			}
			d.mu.Lock()
			m := d.metrics
			d.mu.Unlock()
			if reused := m.Transactions[0].ReusedConnection; reused != (i > 0) {
				t.Errorf("request %d: reused connection %v", i, reused)
			}
		}
		if seen, _ := d.challenges(); len(seen) != 1 {
			t.Errorf("%d challenges for 3 requests on one connection", len(seen))
		}
		if n := srv.conns.Load(); n != 1 {
			t.Errorf("%d connections", n)
		}
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Data(context.Background(), get(t, srv.URL)); err != nil {
			t.Fatal(err)
		}
		if seen, _ := d.challenges(); len(seen) != 2 {
			t.Errorf("%d challenges after a new connection, want 2", len(seen))
		}
	})
}

// TestServerTrustCallbackOrder: the challenge comes before the response
// and the task's other callbacks; metrics keep the TLS facts.
func TestServerTrustCallbackOrder(t *testing.T) {
	eachProtocol(t, func(t *testing.T, h2 bool) {
		srv := newTLSServer(t, pki().self, h2, false)
		d := newChallenger(acceptTrust)
		s := newSession(t, trustConfig(), sessionLevel{d})
		task := s.DataTask(get(t, srv.URL))
		task.Resume()
		wait(t, task)
		want := []string{"create", "challenge ServerTrust", "response 200", "data", "metrics", "complete"}
		if got := d.Events(); !sameEvents(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
		d.mu.Lock()
		tx := d.metrics.Transactions[0]
		d.mu.Unlock()
		wantProto := map[bool]string{false: "http/1.1", true: "h2"}[h2]
		if tx.NetworkProtocolName != wantProto || tx.NegotiatedTLSProtocolVersion != tls.VersionTLS13 || tx.NegotiatedTLSCipherSuite == 0 {
			t.Errorf("protocol %q, TLS %#x, cipher suite %#x", tx.NetworkProtocolName, tx.NegotiatedTLSProtocolVersion, tx.NegotiatedTLSCipherSuite)
		}
		if tx.SecureConnectionStart.IsZero() || tx.SecureConnectionStart.Before(tx.ConnectStart) || tx.SecureConnectionEnd.Before(tx.SecureConnectionStart) {
			t.Errorf("TLS timings: connect %v, secure %v to %v", tx.ConnectStart, tx.SecureConnectionStart, tx.SecureConnectionEnd)
		}
	})
}

// TestServerTrustCancelWhileAsking: cancelling the task while the delegate
// decides ends the task with ErrCancelled, whatever the delegate answers
// afterwards.
func TestServerTrustCancelWhileAsking(t *testing.T) {
	t.Parallel()
	srv := newTLSServer(t, pki().self, false, false)
	asked := make(chan struct{})
	release := make(chan struct{})
	d := newChallenger(func(c *Challenge) (AuthChallengeDisposition, *Credential) {
		close(asked)
		<-release
		return acceptTrust(c)
	})
	s := newSession(t, trustConfig(), sessionLevel{d})
	task := s.DataTask(get(t, srv.URL))
	task.Resume()
	<-asked
	task.Cancel()
	close(release)
	wait(t, task)
	if CodeOf(task.Err()) != ErrCancelled {
		t.Fatalf("error %v, want -999", task.Err())
	}
	if srv.requests.Load() != 0 {
		t.Error("the server got the request")
	}
}

// TestServerTrustUserVerification: the configuration's own
// VerifyPeerCertificate and VerifyConnection are part of the default
// evaluation, with the verified chains, also when a challenge is raised.
func TestServerTrustUserVerification(t *testing.T) {
	t.Parallel()
	srv := newTLSServer(t, pki().leaf, false, false)
	refusal := errors.New("refused by VerifyConnection")
	for _, withDelegate := range []bool{false, true} {
		t.Run(fmt.Sprint("delegate=", withDelegate), func(t *testing.T) {
			var peerChains, connChains atomic.Int32
			cfg := trustConfig()
			cfg.TLSClientConfig.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
				peerChains.Store(int32(len(chains)))
				return nil
			}
			cfg.TLSClientConfig.VerifyConnection = func(cs tls.ConnectionState) error {
				connChains.Store(int32(len(cs.VerifiedChains)))
				return refusal
			}
			d := newChallenger(nil)
			var delegate any
			if withDelegate {
				delegate = sessionLevel{d}
			}
			s := newSession(t, cfg, delegate)
			_, _, err := s.Data(context.Background(), get(t, srv.URL))
			if !errors.Is(err, refusal) {
				t.Fatalf("error %v, want the refusal", err)
			}
			if peerChains.Load() != 1 || connChains.Load() != 1 {
				t.Errorf("callbacks saw %d and %d verified chains, want 1", peerChains.Load(), connChains.Load())
			}
			if seen, _ := d.challenges(); withDelegate && (len(seen) != 1 || !errors.Is(seen[0].ServerTrust.Err, refusal)) {
				t.Errorf("challenges %v: want one with the refusal as its verdict", seen)
			}
		})
	}
}

func TestClientCertificateChallenge(t *testing.T) {
	t.Parallel()
	p := pki()
	useCert := func(c *Challenge) (AuthChallengeDisposition, *Credential) {
		if c.ServerTrust != nil {
			return PerformDefaultHandling, nil
		}
		return UseCredential, NewCertificateCredential(p.client)
	}
	only := func(d AuthChallengeDisposition, cred *Credential) func(*Challenge) (AuthChallengeDisposition, *Credential) {
		return func(c *Challenge) (AuthChallengeDisposition, *Credential) {
			if c.ServerTrust != nil {
				return PerformDefaultHandling, nil
			}
			return d, cred
		}
	}
	tests := []struct {
		name   string
		answer func(*Challenge) (AuthChallengeDisposition, *Credential)
		want   Code
	}{
		{"certificate", useCert, 0},
		{"default", only(PerformDefaultHandling, nil), ErrClientCertificateRequired},
		{"reject", only(RejectProtectionSpace, nil), ErrClientCertificateRequired},
		{"nil credential", only(UseCredential, nil), ErrClientCertificateRequired},
		{"trust credential", only(UseCredential, NewTrustCredential(&ServerTrust{})), ErrClientCertificateRequired},
		{"cancel", only(CancelAuthenticationChallenge, nil), ErrCancelled},
	}
	eachProtocol(t, func(t *testing.T, h2 bool) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				fetchEachLevel(t, p.leaf, h2, true, tt.answer, tt.want, func(t *testing.T, srv *tlsServer, via string, seen []*Challenge, seenVia []string) {
					if len(seen) != 2 || seen[0].ServerTrust == nil || seenVia[1] != via {
						t.Fatalf("challenges %v through %v: want server trust, then client certificate through %s", seen, seenVia, via)
					}
					c := seen[1]
					want := credstore.ProtectionSpace{Host: "127.0.0.1", Port: srv.port(), Protocol: "https", AuthenticationMethod: credstore.AuthMethodClientCertificate}
					if c.ProtectionSpace != want || c.ServerTrust != nil {
						t.Errorf("challenge %+v, want space %+v", c, want)
					}
					if len(c.AcceptableCAs) != 1 || !bytes.Equal(c.AcceptableCAs[0], p.clientCA.RawSubject) {
						t.Errorf("acceptable CAs %q, want the client CA's subject", c.AcceptableCAs)
					}
				})
			})
		}
	})
}

// TestClientCertificateFromConfiguration: a certificate in the
// configuration's TLSClientConfig is sent without a challenge.
func TestClientCertificateFromConfiguration(t *testing.T) {
	t.Parallel()
	p := pki()
	srv := newTLSServer(t, p.leaf, false, true)
	for _, name := range []string{"Certificates", "GetClientCertificate"} {
		t.Run(name, func(t *testing.T) {
			cfg := trustConfig()
			if name == "Certificates" {
				cfg.TLSClientConfig.Certificates = []tls.Certificate{p.client}
			} else {
				cfg.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &p.client, nil }
			}
			d := newChallenger(nil)
			s := newSession(t, cfg, sessionLevel{d})
			body, _, err := s.Data(context.Background(), get(t, srv.URL))
			if err != nil || string(body) != "hello HTTP/1.1 client" {
				t.Fatalf("%q %v", body, err)
			}
			seen, _ := d.challenges()
			if len(seen) != 1 || seen[0].ServerTrust == nil {
				t.Errorf("challenges %v: want server trust alone", seen)
			}
		})
	}
}

// TestClientCertificateWithoutDelegate: without a challenge method no
// certificate is sent, and the server's refusal has its code.
func TestClientCertificateWithoutDelegate(t *testing.T) {
	t.Parallel()
	srv := newTLSServer(t, pki().leaf, false, true)
	s := newSession(t, trustConfig(), newRecorder())
	_, _, err := s.Data(context.Background(), get(t, srv.URL))
	if CodeOf(err) != ErrClientCertificateRequired {
		t.Fatalf("error %v, want -1206", err)
	}
	cfg := trustConfig()
	cfg.TLSMaximumSupportedProtocolVersion = tls.VersionTLS12
	s12 := newSession(t, cfg, nil)
	_, _, err = s12.Data(context.Background(), get(t, srv.URL))
	if CodeOf(err) != ErrClientCertificateRequired {
		t.Fatalf("TLS 1.2: error %v, want -1206", err)
	}
}

// TestTLSUpgradeRequestUsesHTTP1: a WebSocket upgrade goes over HTTP/1.1
// even to an HTTP/2 server, as net/http arranges for its own handshakes.
func TestTLSUpgradeRequestUsesHTTP1(t *testing.T) {
	t.Parallel()
	srv := newTLSServer(t, pki().leaf, true, false)
	s := newSession(t, trustConfig(), nil)
	req := get(t, srv.URL)
	req.Header.Set("Connection", "keep-alive, Upgrade")
	req.Header.Set("Upgrade", "websocket")
	body, _, err := s.Data(context.Background(), req)
	if err != nil || string(body) != "hello HTTP/1.1 -" {
		t.Fatalf("%q %v", body, err)
	}
	body, _, err = s.Data(context.Background(), get(t, srv.URL))
	if err != nil || string(body) != "hello HTTP/2.0 -" {
		t.Fatalf("%q %v", body, err)
	}
}

// TestTaskFromContext: a task's context, and every context derived from it
// (net/http dials under one without its cancellation), leads to the task.
func TestTaskFromContext(t *testing.T) {
	s := newSession(t, trustConfig(), nil)
	task := s.DataTask(get(t, "https://127.0.0.1:1/")).Task
	task.ctx.init(context.Background()) // as Resume does
	ctx := context.Context(&task.ctx)
	type key struct{}
	derived := context.WithValue(context.WithoutCancel(ctx), key{}, 1)
	if taskFrom(ctx) != task || taskFrom(derived) != task {
		t.Error("the task's contexts do not lead to it")
	}
	if taskFrom(context.Background()) != nil {
		t.Error("a context of no task leads to one")
	}
	task.Cancel()
}
