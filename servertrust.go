package urlsession

// The TLS side of a session's connections: the ServerTrust challenge, the
// ClientCertificate challenge and the pinned domains.
//
// A session opens its https connections itself (http.Transport's
// DialTLSContext) rather than letting net/http run the handshake, because
// crypto/tls's verification callbacks get no context: a handshake made here
// knows the context it was dialled with, whose values are those of the
// request that asked for the connection, and through taskKey its task,
// whose delegates the challenges go to. The connection is handed to
// net/http already established, as a *tls.Conn, so HTTP/2 is negotiated
// through ALPN as before and net/http still reports the connection state
// to the request's httptrace (the metrics' TLS version and cipher suite).
//
// Through a proxy the session opens the tunnel itself (proxyroute.go), so
// the handshake inside it is made here too. The transport's
// TLSClientConfig keeps the pins and the ClientCertificate callback for
// any handshake net/http would still run itself.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/fail"
)

// tlsDialer opens the TLS connections of a session's transport.
type tlsDialer struct {
	tr *http.Transport
	// base is the configuration's TLS settings without the session's
	// callbacks: the default evaluation follows it.
	base *tls.Config
	pins pinSet
	// askCert: the configuration has no client certificate of its own,
	// so a server's certificate request becomes a ClientCertificate
	// challenge.
	askCert bool
}

// secureTransport makes tr open its https connections through a tlsDialer
// and sets the session's callbacks in tr.TLSClientConfig (made if nil),
// which net/http uses for the handshakes it runs itself, through a proxy.
func secureTransport(tr *http.Transport, pins pinSet) *tlsDialer {
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = new(tls.Config)
	}
	tc := tr.TLSClientConfig
	d := &tlsDialer{tr: tr, base: tc.Clone(), pins: pins}
	if pins != nil {
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			return d.verifyPinned(cs.ServerName, cs)
		}
	}
	if len(tc.Certificates) == 0 && tc.GetClientCertificate == nil {
		d.askCert = true
		tc.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return clientCertificate(cri, "", 0)
		}
	}
	tr.DialTLSContext = d.dial
	return d
}

// handshake is one connection's handshake.
type handshake struct {
	d          *tlsDialer
	ctx        context.Context // the dial's
	task       *Task           // whose delegates decide, or nil
	host       string          // of the address dialled
	port       int
	serverName string // verified against
	protocol   string // of the challenge's protection space; "" means https

	certRequested bool // the server asked for a client certificate
	certSent      bool // and got one
}

// alertHandshakeFailure is TLS's handshake_failure alert.
const alertHandshakeFailure = 40

// dial opens a TLS connection to addr: TCP through the transport's
// DialContext, then the handshake, with the session's challenges and pins.
func (d *tlsDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portText)
	conn, err := d.tr.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc, err := d.secure(ctx, conn, host, port, ctx.Value(http1OnlyKey{}) == nil)
	if err != nil {
		return nil, err
	}
	return tc, nil
}

// secure runs the TLS handshake of a session's connection on conn, an
// open connection to host and port, with the session's challenges and
// pins; alpn offers the protocols net/http set (HTTP/2), which a WebSocket
// upgrade (as net/http does) and a stream task leave out. conn is closed
// when the handshake fails.
func (d *tlsDialer) secure(ctx context.Context, conn net.Conn, host string, port int, alpn bool) (*tls.Conn, error) {
	// With the NextProtos net/http set for HTTP/2.
	cfg, h := d.handshakeConfig(ctx, d.tr.TLSClientConfig, host, port)
	if !alpn {
		cfg.NextProtos = nil
	}
	if protos, ok := ctx.Value(alpnKey{}).([]string); ok {
		cfg.NextProtos = protos
	}
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.TLSHandshakeStart != nil {
		trace.TLSHandshakeStart()
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		if h.certRequested && !h.certSent {
			if a, ok := tlsAlert(err); ok && a == alertHandshakeFailure {
				// How a TLS 1.2 server refuses a connection without the
				// client certificate it requested (TLS 1.3 has an alert
				// of its own, certificate_required).
				err = fail.New(int(ErrClientCertificateRequired), err)
			}
		}
		if trace != nil && trace.TLSHandshakeDone != nil {
			trace.TLSHandshakeDone(tls.ConnectionState{}, err)
		}
		return nil, err
	}
	if h.certRequested && !h.certSent && tc.ConnectionState().Version >= tls.VersionTLS13 {
		if t := taskFrom(ctx); t != nil {
			t.noClientCert.Store(true)
		}
	}
	// net/http reports TLSHandshakeDone with the connection's state.
	return tc, nil
}

// handshakeConfig returns the TLS configuration of one handshake with
// host, port (the server's address: for a ServerTrust challenge, its
// protection space), made from a copy of start, with the session's
// challenges and pins; and the handshake whose callbacks it has.
func (d *tlsDialer) handshakeConfig(ctx context.Context, start *tls.Config, host string, port int) (*tls.Config, *handshake) {
	cfg := start.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	h := &handshake{d: d, ctx: ctx, host: host, port: port, serverName: cfg.ServerName}
	if t := taskFrom(ctx); t != nil && t.asksChallenges() {
		h.task = t
		// The default evaluation runs in evaluate, whose verdict the
		// challenge carries.
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = nil
		cfg.VerifyConnection = h.evaluate
	} else if d.pins != nil {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return d.verifyPinned(host, cs)
		}
	}
	if d.askCert {
		cfg.GetClientCertificate = h.clientCertificate
	}
	return cfg, h
}

// refusedClientCertificate returns err, the failure of req, as a failure
// of code ErrClientCertificateRequired when it is a lost connection and the
// connection dialled for req's task was a TLS 1.3 one on which the server
// asked for a client certificate and got none. A TLS 1.3 server refuses
// such a connection after the client has finished its handshake: its alert
// (which classify maps) may arrive only after the client's first write or
// read has failed, as a broken pipe or a reset.
func refusedClientCertificate(req *http.Request, err error) error {
	t := taskFrom(req.Context())
	if t == nil || !t.noClientCert.Load() {
		return err
	}
	t.noClientCert.Store(false) // the request on that connection is over
	if err == nil || codeOfCause(err) != ErrNetworkConnectionLost {
		return err
	}
	return fail.New(int(ErrClientCertificateRequired),
		fmt.Errorf("urlsession: the server closed the connection after asking for a client certificate, which the session did not send: %w", err))
}

// verifyPinned is the VerifyConnection of a handshake without a ServerTrust
// challenge: crypto/tls made the default evaluation; then the
// configuration's own VerifyConnection and the pins of host.
func (d *tlsDialer) verifyPinned(host string, cs tls.ConnectionState) error {
	if f := d.base.VerifyConnection; f != nil {
		if err := f(cs); err != nil {
			return err
		}
	}
	return d.pins.check(host, cs.PeerCertificates, cs.VerifiedChains)
}

// evaluate is the VerifyConnection of a handshake with a ServerTrust
// challenge: it makes the default evaluation, checks the pins, then asks
// the delegates.
func (h *handshake) evaluate(cs tls.ConnectionState) error {
	trust := &ServerTrust{Host: h.serverName, PeerCertificates: cs.PeerCertificates}
	trust.VerifiedChains, trust.Err = h.d.defaultEvaluation(h.serverName, cs)
	// Pins only tighten trust: a chain that does not match them fails
	// whatever the delegate would decide. When the default evaluation
	// failed as well, its error says more.
	if err := h.d.pins.check(h.host, cs.PeerCertificates, trust.VerifiedChains); err != nil {
		if trust.Err != nil {
			return trust.Err
		}
		return err
	}
	t := h.task
	c := &Challenge{
		ProtectionSpace: credstore.ProtectionSpace{
			Host: h.host, Port: h.port, Protocol: cmp.Or(h.protocol, "https"),
			AuthenticationMethod: credstore.AuthMethodServerTrust,
		},
		ServerTrust: trust,
	}
	disp, cred, err := t.decideChallenge(challengeContext(t, h.ctx), c)
	if err != nil {
		return err
	}
	switch disp {
	case UseCredential:
		if cred != nil && cred.Trust.accepts(trust) {
			return nil
		}
		what := "no credential"
		if cred != nil {
			what = "a " + cred.String()
		}
		return fail.Newf(int(ErrServerCertificateUntrusted),
			"urlsession: the ServerTrust challenge for %s was answered with UseCredential and %s, not a trust credential for its certificate",
			h.serverName, what)
	case CancelAuthenticationChallenge:
		t.Cancel()
		return errCancelled
	}
	// PerformDefaultHandling, and RejectProtectionSpace, which means the
	// same for server trust.
	return trust.Err
}

// accepts reports whether a trust credential made for st accepts other:
// the same trust, or one for the same leaf certificate.
func (st *ServerTrust) accepts(other *ServerTrust) bool {
	if st == nil || other == nil {
		return false
	}
	if st == other {
		return true
	}
	return len(st.PeerCertificates) > 0 && len(other.PeerCertificates) > 0 &&
		bytes.Equal(st.PeerCertificates[0].Raw, other.PeerCertificates[0].Raw)
}

// defaultEvaluation evaluates the server's chain as crypto/tls would with
// the configuration's TLS settings: verification against RootCAs (the
// system roots when nil) for the server name, unless InsecureSkipVerify;
// then VerifyPeerCertificate and VerifyConnection when set. It returns the
// verified chains, or nil and the first error.
func (d *tlsDialer) defaultEvaluation(name string, cs tls.ConnectionState) ([][]*x509.Certificate, error) {
	b := d.base
	certs := cs.PeerCertificates
	var chains [][]*x509.Certificate
	if !b.InsecureSkipVerify {
		if len(certs) == 0 {
			return nil, fail.Newf(int(ErrServerCertificateUntrusted), "urlsession: %s sent no certificate", name)
		}
		now := time.Now()
		if b.Time != nil {
			now = b.Time()
		}
		opts := x509.VerifyOptions{
			Roots:         b.RootCAs,
			CurrentTime:   now,
			DNSName:       name,
			Intermediates: x509.NewCertPool(),
		}
		for _, c := range certs[1:] {
			opts.Intermediates.AddCert(c)
		}
		var err error
		chains, err = certs[0].Verify(opts)
		if err != nil {
			return nil, &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
		}
	}
	if f := b.VerifyPeerCertificate; f != nil {
		raw := make([][]byte, len(certs))
		for i, c := range certs {
			raw[i] = c.Raw
		}
		if err := f(raw, chains); err != nil {
			return nil, err
		}
	}
	if f := b.VerifyConnection; f != nil {
		cs.VerifiedChains = chains
		if err := f(cs); err != nil {
			return nil, err
		}
	}
	return chains, nil
}

// clientCertificate answers the server's certificate request of a
// connection the session dialled.
func (h *handshake) clientCertificate(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	h.certRequested = true
	cert, err := clientCertificate(cri, h.host, h.port)
	h.certSent = cert != nil && len(cert.Certificate) > 0
	return cert, err
}

// clientCertificate raises a ClientCertificate challenge for a server's
// certificate request, when a delegate of the handshake's task answers
// challenges, and returns the certificate to send: an empty one (none)
// unless the delegate answered UseCredential with a certificate credential.
// A host of "" (a handshake net/http runs itself) stands for the host of
// the task's current request.
func clientCertificate(cri *tls.CertificateRequestInfo, host string, port int) (*tls.Certificate, error) {
	none := &tls.Certificate{}
	ctx := cri.Context()
	t := taskFrom(ctx)
	if t == nil || !t.asksChallenges() {
		return none, nil
	}
	if host == "" {
		if r := t.CurrentRequest(); r != nil && r.URL != nil {
			host, port = r.URL.Hostname(), urlPort(r.URL)
		}
	}
	c := &Challenge{
		ProtectionSpace: credstore.ProtectionSpace{
			Host: host, Port: port, Protocol: "https",
			AuthenticationMethod: credstore.AuthMethodClientCertificate,
		},
		AcceptableCAs: cri.AcceptableCAs,
	}
	disp, cred, err := t.decideChallenge(challengeContext(t, ctx), c)
	if err != nil {
		return nil, err
	}
	switch disp {
	case UseCredential:
		if cred != nil && cred.Certificate != nil {
			return cred.Certificate, nil
		}
	case CancelAuthenticationChallenge:
		t.Cancel()
		return nil, errCancelled
	}
	return none, nil
}

// urlPort returns the port of an https URL, 443 when it names none.
func urlPort(u *url.URL) int {
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return p
	}
	return 443
}

// challengeContext returns the context a handshake waits for its
// delegates under: the task's, so that cancelling the task or its timeouts
// end the wait (net/http dials under a context that the request's end does
// not cancel); the dial's when the task has already completed, as for a
// cache's revalidation in the background.
func challengeContext(t *Task, dial context.Context) context.Context {
	if t.ctx.Err() != nil {
		return dial
	}
	return &t.ctx
}

// asksChallenges reports whether a delegate of the task answers the
// session-wide challenges: the session delegate implements
// SessionChallengeDelegate, or the task's or the session's delegate
// TaskChallengeDelegate. Without one, no TLS challenge is raised.
func (t *Task) asksChallenges() bool {
	if _, ok := t.session.currentDelegate().(SessionChallengeDelegate); ok {
		return true
	}
	_, ok := delegateFor[TaskChallengeDelegate](t)
	return ok
}

// http1OnlyKey marks the context of a request that must go over HTTP/1.1
// (a WebSocket upgrade), for dial to leave HTTP/2 out of ALPN as net/http
// would.
type http1OnlyKey struct{}

// alpnKey marks the context of a dial whose TLS handshake offers the
// application protocols it holds (a []string), whatever the transport set.
type alpnKey struct{}

// markHTTP1Only returns req with its context so marked when it is an https
// WebSocket upgrade, net/http's test; req itself otherwise.
func markHTTP1Only(req *http.Request) *http.Request {
	up := req.Header.Get("Upgrade")
	if up == "" || !strings.EqualFold(up, "websocket") || req.URL == nil || !strings.EqualFold(req.URL.Scheme, "https") {
		return req
	}
	for tok := range strings.SplitSeq(req.Header.Get("Connection"), ",") {
		if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
			return req.WithContext(context.WithValue(req.Context(), http1OnlyKey{}, true))
		}
	}
	return req
}
