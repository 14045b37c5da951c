package urlsession

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/fail"
)

// AuthChallengeDisposition is what a delegate decides about an
// authentication challenge: Apple's URLSession.AuthChallengeDisposition,
// with Apple's values.
type AuthChallengeDisposition int

const (
	// UseCredential answers the challenge with the credential returned
	// with the disposition. A nil credential continues without one: an
	// HTTP challenge's 401 or 407 is then the task's response, a client
	// certificate challenge goes on with no certificate. A ServerTrust
	// challenge is accepted only by a trust credential for its certificate
	// (NewTrustCredential(c.ServerTrust)), even when the default evaluation
	// failed; with no credential or another kind, the server is not
	// trusted and the task fails with ErrServerCertificateUntrusted.
	UseCredential AuthChallengeDisposition = 0
	// PerformDefaultHandling handles the challenge as if the delegate did
	// not implement the callback: for HTTP, the credential of the request
	// URL's user info, else the credential storage's default credential
	// for the protection space, else the 401 or 407 becomes the response;
	// for server trust, the default evaluation's verdict (ServerTrust.Err,
	// which fails the task with its code, such as
	// ErrServerCertificateUntrusted or ErrServerCertificateHasBadDate); for
	// a client certificate, none is sent.
	PerformDefaultHandling AuthChallengeDisposition = 1
	// CancelAuthenticationChallenge fails the task with ErrCancelled.
	CancelAuthenticationChallenge AuthChallengeDisposition = 2
	// RejectProtectionSpace declines this protection space and goes on to
	// the next authentication scheme the server offered (Negotiate, then
	// NTLM, Digest, Basic); when none is left, the 401 or 407 becomes the
	// response. For a ServerTrust challenge it is PerformDefaultHandling,
	// as on Apple's platforms; a ClientCertificate challenge goes on with
	// no certificate.
	RejectProtectionSpace AuthChallengeDisposition = 3
)

// String returns Apple's name of the disposition, such as "useCredential".
func (d AuthChallengeDisposition) String() string {
	switch d {
	case UseCredential:
		return "useCredential"
	case PerformDefaultHandling:
		return "performDefaultHandling"
	case CancelAuthenticationChallenge:
		return "cancelAuthenticationChallenge"
	case RejectProtectionSpace:
		return "rejectProtectionSpace"
	}
	return fmt.Sprintf("AuthChallengeDisposition(%d)", int(d))
}

// Credential answers an authentication challenge: Apple's URLCredential. It
// holds a user name and password (HTTP Basic, Digest, NTLM), a client
// certificate identity, or an acceptance of a server's trust. Make one with
// NewCredential, NewCertificateCredential or NewTrustCredential.
//
// Formatting a Credential with fmt or log/slog never shows its password.
type Credential struct {
	// User and Password are the user name and password, for the HTTP
	// authentication methods.
	User, Password string
	// Persistence says how long the credential storage keeps a credential
	// that a server accepted: None (used for this task only), ForSession
	// or Permanent. Certificate and trust credentials are never stored.
	Persistence credstore.Persistence
	// Certificate is the client certificate and private key, for a
	// ClientCertificate challenge.
	Certificate *tls.Certificate
	// Trust is the server trust accepted, for a ServerTrust challenge.
	Trust *ServerTrust
}

// NewCredential returns a user name and password credential with the given
// persistence: Apple's URLCredential(user:password:persistence:).
func NewCredential(user, password string, persistence credstore.Persistence) *Credential {
	return &Credential{User: user, Password: password, Persistence: persistence}
}

// NewCertificateCredential returns a credential that answers a client
// certificate challenge with cert: Apple's
// URLCredential(identity:certificates:persistence:).
func NewCertificateCredential(cert tls.Certificate) *Credential {
	return &Credential{Certificate: &cert}
}

// NewTrustCredential returns a credential that accepts the server trust of
// a ServerTrust challenge: Apple's URLCredential(trust:).
func NewTrustCredential(trust *ServerTrust) *Credential { return &Credential{Trust: trust} }

// HasPassword reports whether the credential has a password.
func (c *Credential) HasPassword() bool { return c != nil && c.Password != "" }

func (c *Credential) stored() credstore.Credential {
	return credstore.Credential{User: c.User, Password: c.Password, Persistence: c.Persistence}
}

// String describes the credential without its password.
func (c *Credential) String() string {
	if c == nil {
		return "<nil>"
	}
	switch {
	case c.Certificate != nil:
		return "client certificate credential"
	case c.Trust != nil:
		return "server trust credential for " + c.Trust.Host
	}
	return c.stored().String()
}

// GoString is String, so %#v shows no password either.
func (c *Credential) GoString() string { return c.String() }

// Format writes String for every verb.
func (c *Credential) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// ServerTrust is the outcome of a TLS handshake's server authentication, as
// a ServerTrust challenge presents it: Apple's SecTrust, reduced to what Go
// can say about it.
//
// A session raises a ServerTrust challenge once for every TLS connection it
// opens, during the handshake and before any request is sent on the
// connection, when a delegate of the task the connection is opened for
// implements SessionChallengeDelegate or TaskChallengeDelegate; sessions
// without such a delegate do the default evaluation alone; connections
// through a proxy's tunnel or a SOCKS gateway are no exception. The
// challenge's ProtectionSpace has the host and port connected to, Protocol
// "https" (for ftps and ftpes URLs, the URL's scheme: one challenge per
// request, its data connections presenting the same certificate) and
// AuthenticationMethod credstore.AuthMethodServerTrust. The default
// evaluation is what crypto/tls does with the Configuration's
// TLSClientConfig: the chain verified against its RootCAs (the system
// roots when nil) for the server name, unless InsecureSkipVerify, then its
// VerifyPeerCertificate and VerifyConnection. Configuration.PinnedDomains
// apply before the delegate is asked: a chain they refuse fails the
// connection whatever the delegate would answer.
type ServerTrust struct {
	// Host is the server name the connection was made for.
	Host string
	// PeerCertificates is the chain the server sent, leaf first.
	PeerCertificates []*x509.Certificate
	// VerifiedChains are the chains to a trusted root that the default
	// evaluation built; empty when it failed.
	VerifiedChains [][]*x509.Certificate
	// Err is the default evaluation's verdict: nil when the chain is
	// trusted for Host by the configuration's roots.
	Err error
}

// Challenge is an authentication challenge: Apple's
// URLAuthenticationChallenge.
type Challenge struct {
	// ProtectionSpace is the server or proxy, realm and authentication
	// method the challenge is for.
	ProtectionSpace credstore.ProtectionSpace
	// ProposedCredential is the credential the session would use (from the
	// request URL's user info or the credential storage), or nil.
	ProposedCredential *Credential
	// PreviousFailureCount is the number of times this protection space
	// has already refused a credential for this task.
	PreviousFailureCount int
	// FailureResponse is the 401 or 407 response that carried the
	// challenge (its body is not readable), or nil for TLS challenges.
	FailureResponse *http.Response
	// Err is the error of the last failed attempt, if any.
	Err error
	// ServerTrust is the trust to evaluate, for a ServerTrust challenge.
	ServerTrust *ServerTrust
	// AcceptableCAs lists the distinguished names of the certificate
	// authorities the server accepts, for a ClientCertificate challenge
	// (Apple's distinguishedNames), DER-encoded as in
	// tls.CertificateRequestInfo.
	//
	// A ClientCertificate challenge is raised when a server asks for a
	// client certificate during the handshake, a delegate of the task
	// answers challenges (as for ServerTrust) and the Configuration's
	// TLSClientConfig has neither Certificates nor GetClientCertificate,
	// which otherwise answer without a challenge. Its ProtectionSpace has
	// the server's host and port, Protocol "https" and AuthenticationMethod
	// credstore.AuthMethodClientCertificate. UseCredential with
	// NewCertificateCredential sends the certificate; every other answer
	// but CancelAuthenticationChallenge goes on without one, which the
	// server may refuse (ErrClientCertificateRequired, or
	// ErrClientCertificateRejected for a certificate it does not accept).
	AcceptableCAs [][]byte

	task *Task // the task that raised the challenge
}

// Later lets the challenge callback now running answer after it returns,
// as Task.Later does for the task that raised the challenge: make the
// returned Decision with Decision.Challenge. It returns nil outside the
// challenge callback.
func (c *Challenge) Later() *Decision {
	if c.task == nil {
		return nil
	}
	return c.task.Later()
}

// sessionWideMethods are the authentication methods Apple asks the session
// delegate about first: they concern a connection, not a request.
func sessionWide(method string) bool {
	switch method {
	case credstore.AuthMethodServerTrust, credstore.AuthMethodClientCertificate,
		credstore.AuthMethodNTLM, credstore.AuthMethodNegotiate:
		return true
	}
	return false
}

// SessionChallengeDelegate answers the session-wide challenges: Apple's
// urlSession(_:didReceive:completionHandler:).
type SessionChallengeDelegate interface {
	// DidReceiveChallenge is asked about the challenges of the session-wide
	// methods (server trust, client certificate, NTLM, Negotiate); when the
	// session delegate does not implement it, TaskDidReceiveChallenge is
	// asked instead. It returns the disposition and, with UseCredential,
	// the credential. A delegate that needs time (to ask a person, to fetch
	// a token) calls c.Later() and makes the Decision after returning,
	// without holding up the session's other callbacks.
	DidReceiveChallenge(s *Session, c *Challenge) (AuthChallengeDisposition, *Credential)
}

// TaskChallengeDelegate answers a task's challenges: Apple's
// urlSession(_:task:didReceive:completionHandler:).
type TaskChallengeDelegate interface {
	// TaskDidReceiveChallenge is asked about a task's challenges (HTTP
	// Basic, Digest and the session-wide ones the session delegate does not
	// answer), the per-task delegate first. Tasks with a completion handler
	// are asked too. Without it, challenges get PerformDefaultHandling. To
	// decide after returning, without holding up the session's other
	// callbacks, call c.Later() (or t.Later()) and make its Decision.
	TaskDidReceiveChallenge(s *Session, t *Task, c *Challenge) (AuthChallengeDisposition, *Credential)
}

// challengeAnswer is a delegate's decision.
type challengeAnswer struct {
	disp AuthChallengeDisposition
	cred *Credential
}

// challengeStep is what an authentication challenge's disposition leaves
// the task to do.
type challengeStep int

const (
	answerChallenge challengeStep = iota // answer with the credential decided
	nextChallenge                        // try the next challenge offered
	giveUp                               // answer none: the 401 or 407 is the response
)

// decide asks the delegates about ch (decideChallenge) and applies the
// disposition as Apple does: CancelAuthenticationChallenge fails the task
// with ErrCancelled ("the <what> challenge was cancelled"),
// RejectProtectionSpace moves to the next challenge, and
// PerformDefaultHandling answers with the proposed credential (for
// Negotiate, which uses the Kerberos credential cache, an empty one), but
// gives up after a failure. UseCredential answers with the credential
// given, nil included.
func (t *Task) decide(ctx context.Context, ch *Challenge, negotiate bool, what string) (*Credential, challengeStep, error) {
	// As built, before the delegate sees (and may change) ch.
	proposed, count := ch.ProposedCredential, ch.PreviousFailureCount
	disp, cred, err := t.decideChallenge(ctx, ch)
	if err != nil {
		return nil, giveUp, err
	}
	switch disp {
	case CancelAuthenticationChallenge:
		return nil, giveUp, fail.Newf(int(ErrCancelled), "the %s challenge was cancelled", what)
	case RejectProtectionSpace:
		return nil, nextChallenge, nil
	case PerformDefaultHandling:
		if count > 0 {
			return nil, giveUp, nil // default handling gives up after a failure
		}
		cred = proposed
		if negotiate {
			cred = &Credential{}
		}
	}
	return cred, answerChallenge, nil
}

// withoutBody returns resp as a challenge's FailureResponse shows it: a
// copy without its body (which the task reads or discards itself).
func withoutBody(resp *http.Response) *http.Response {
	if resp.Body == nil {
		return resp
	}
	r2 := *resp
	r2.Body = http.NoBody
	return &r2
}

// decideChallenge asks the delegates about c in Apple's order and returns
// their decision; PerformDefaultHandling when none answers. An unknown
// disposition counts as PerformDefaultHandling.
func (t *Task) decideChallenge(ctx context.Context, c *Challenge) (AuthChallengeDisposition, *Credential, error) {
	c.task = t
	var a challengeAnswer
	var err error
	asked := false
	if sessionWide(c.ProtectionSpace.AuthenticationMethod) {
		if d, ok := t.session.currentDelegate().(SessionChallengeDelegate); ok {
			a, err = askLater(ctx, t, func() challengeAnswer {
				disp, cred := d.DidReceiveChallenge(t.session, c)
				return challengeAnswer{disp, cred}
			})
			asked = true
		}
	}
	if !asked {
		d, ok := delegateFor[TaskChallengeDelegate](t)
		if !ok {
			return PerformDefaultHandling, nil, nil
		}
		a, err = askLater(ctx, t, func() challengeAnswer {
			disp, cred := d.TaskDidReceiveChallenge(t.session, t, c)
			return challengeAnswer{disp, cred}
		})
	}
	if err != nil {
		return 0, nil, err
	}
	switch a.disp {
	case UseCredential, CancelAuthenticationChallenge, RejectProtectionSpace:
		return a.disp, a.cred, nil
	}
	return PerformDefaultHandling, nil, nil
}
