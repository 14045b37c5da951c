package urlsession

// Answering HTTP authentication challenges (401; 407 in proxyauth.go): choosing the challenge,
// asking the delegates, default handling, counting failures, saving the
// credentials that worked and sending them pre-emptively later.

import (
	"cmp"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/auth"
	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/pipeline"
)

// sessionAuth is what a session remembers of the credentials servers
// accepted: Basic credentials per origin and path prefix, and Digest
// nonces (with their credentials) per protection space, so later requests
// carry them without a 401 round trip first.
type sessionAuth struct {
	digest auth.DigestClient

	mu      sync.Mutex
	n       atomic.Int32 // entries in basic and digests: lookups skip work when 0
	basic   map[string][]*knownCredential
	digests map[auth.Space]*Credential
}

// knownCredential is a credential a server accepted for the requests whose
// path starts with prefix (RFC 7617 section 2.2).
type knownCredential struct {
	prefix string
	space  credstore.ProtectionSpace
	cred   *Credential
	value  string // the Authorization value
}

// sentCredential is the credential a task's current request carries.
type sentCredential struct {
	key        credstore.ProtectionSpace // normalised
	space      credstore.ProtectionSpace
	cred       *Credential
	scheme     string
	value      string
	preemptive bool
	leg        int  // NTLM: 1 after NEGOTIATE_MESSAGE, 2 after AUTHENTICATE_MESSAGE
	stale      bool // a Digest answer to a stale nonce: not asked again once
	digest     *auth.DigestAnswer
	prefix     string
}

// taskAuth is a task's authentication state.
type taskAuth struct {
	sent     *sentCredential
	failures map[credstore.ProtectionSpace]int
}

var _ pipeline.AuthHooks = hooks{}

// authorizationOf returns the Authorization value of h, whatever the case
// of its key.
func authorizationOf(h http.Header) string {
	if v := h.Get("Authorization"); v != "" {
		return v
	}
	for k, vs := range h {
		if len(vs) > 0 && strings.EqualFold(k, "Authorization") {
			return vs[0]
		}
	}
	return ""
}

// Authorize adds the credentials the session knows the request's
// protection space wants.
func (h hooks) Authorize(req *http.Request) *http.Request {
	t := h.t
	sa := &t.session.auth
	x := t.extra.Load()
	if (x == nil || x.auth.sent == nil) && sa.n.Load() == 0 {
		return req // nothing sent, nothing known: the usual case
	}
	x = t.more()
	if v := authorizationOf(req.Header); v != "" {
		if s := x.auth.sent; s == nil || s.value != v {
			x.auth.sent = nil // the caller's own credentials
		}
		return req
	}
	x.auth.sent = nil
	if sa.n.Load() == 0 || req.URL == nil {
		return req
	}
	sent := sa.lookup(req)
	if sent == nil {
		return req
	}
	x.auth.sent = sent
	return withAuthorization(req, sent.value)
}

// withAuthorization returns a shallow copy of req whose header (a copy)
// carries the Authorization value v instead of any it had.
func withAuthorization(req *http.Request, v string) *http.Request {
	r2 := *req
	h := make(http.Header, len(req.Header)+1)
	for k, vs := range req.Header {
		if !strings.EqualFold(k, "Authorization") {
			h[k] = vs
		}
	}
	h["Authorization"] = []string{v}
	r2.Header = h
	return &r2
}

// lookup returns the credential to send pre-emptively with req, if any.
func (sa *sessionAuth) lookup(req *http.Request) *sentCredential {
	origin := auth.Origin(req.URL)
	p := req.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	sa.mu.Lock()
	var best *knownCredential
	for _, k := range sa.basic[origin] {
		if strings.HasPrefix(p, k.prefix) && (best == nil || len(k.prefix) > len(best.prefix)) {
			best = k
		}
	}
	sa.mu.Unlock()
	if best != nil {
		return &sentCredential{key: best.space.Normalize(), space: best.space, cred: best.cred,
			scheme: auth.SchemeBasic, value: best.value, preemptive: true, prefix: best.prefix}
	}
	space, ok := sa.digest.Lookup(origin, false, req.URL.RequestURI())
	if !ok {
		return nil
	}
	sa.mu.Lock()
	cred := sa.digests[space]
	sa.mu.Unlock()
	if cred == nil {
		return nil
	}
	a, err := sa.digest.Authorize(space, cred.User, cred.Password, digestRequest(req))
	if err != nil {
		return nil
	}
	ps := protectionSpace(req.URL, space.Realm, credstore.AuthMethodHTTPDigest)
	return &sentCredential{key: ps.Normalize(), space: ps, cred: cred, scheme: auth.SchemeDigest,
		value: a.Value, preemptive: true, digest: a}
}

// remember keeps a credential the server accepted for later requests.
func (sa *sessionAuth) remember(u *url.URL, s *sentCredential) {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	switch s.scheme {
	case auth.SchemeBasic:
		origin := auth.Origin(u)
		if sa.basic == nil {
			sa.basic = make(map[string][]*knownCredential)
		}
		list := sa.basic[origin]
		for i, k := range list {
			if k.prefix == s.prefix && k.space == s.space {
				list[i] = &knownCredential{s.prefix, s.space, s.cred, s.value}
				return
			}
		}
		sa.basic[origin] = append(list, &knownCredential{s.prefix, s.space, s.cred, s.value})
		sa.n.Add(1)
	case auth.SchemeDigest:
		if s.digest == nil {
			return
		}
		if sa.digests == nil {
			sa.digests = make(map[auth.Space]*Credential)
		}
		if _, ok := sa.digests[s.digest.Space]; !ok {
			sa.n.Add(1)
		}
		sa.digests[s.digest.Space] = s.cred
	}
}

// forget stops sending a credential the server refused.
func (sa *sessionAuth) forget(u *url.URL, s *sentCredential) {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	switch s.scheme {
	case auth.SchemeBasic:
		origin := auth.Origin(u)
		list := sa.basic[origin]
		for i, k := range list {
			if k.value == s.value {
				sa.basic[origin] = append(list[:i:i], list[i+1:]...)
				sa.n.Add(-1)
				return
			}
		}
	case auth.SchemeDigest:
		if s.digest == nil {
			return
		}
		if _, ok := sa.digests[s.digest.Space]; ok {
			delete(sa.digests, s.digest.Space)
			sa.n.Add(-1)
		}
		sa.digest.Forget(s.digest.Space)
	}
}

// reset forgets every credential (Session.Reset).
func (sa *sessionAuth) reset() {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	for sp := range sa.digests {
		sa.digest.Forget(sp)
	}
	sa.basic, sa.digests = nil, nil
	sa.n.Store(0)
}

// protectionSpace is the server protection space of u for a challenge.
func protectionSpace(u *url.URL, realm, method string) credstore.ProtectionSpace {
	port, _ := strconv.Atoi(u.Port())
	switch strings.ToLower(u.Scheme) {
	case "ftpes":
		port = cmp.Or(port, 21)
		fallthrough
	case "ftp", "ftps":
		// An FTP login has no scheme or realm (Apple's FTP spaces use the
		// default method); see ftpChallenge.
		method = credstore.AuthMethodDefault
	}
	return credstore.ProtectionSpace{
		Host:                 u.Hostname(),
		Port:                 port,
		Protocol:             strings.ToLower(u.Scheme),
		Realm:                realm,
		AuthenticationMethod: method,
	}.Normalize()
}

func digestRequest(req *http.Request) auth.Request {
	q := auth.NewRequest(req)
	if q.Streamed || req.ContentLength > 1<<20 {
		q.Qop = auth.QopAuth // do not read a large or one-time body twice
	}
	return q
}

// Authenticate answers a 401 response: it returns the request to send with
// credentials, or nil to deliver the response.
func (h hooks) Authenticate(ctx context.Context, req *http.Request, resp *http.Response) (*http.Request, error) {
	t := h.t
	if resp.StatusCode == http.StatusProxyAuthRequired && req.URL != nil {
		return h.proxyAuthenticate(ctx, req, resp)
	}
	if resp.StatusCode != http.StatusUnauthorized || req.URL == nil {
		return nil, nil
	}
	ta := &t.more().auth
	sent := ta.sent
	ta.sent = nil
	challenges := auth.ParseHeader(resp.Header, false)
	if sent != nil && sent.scheme == auth.SchemeNTLM && sent.leg == 1 {
		// NTLM's second leg: answer the server's CHALLENGE_MESSAGE on the
		// same connection.
		for _, c := range challenges {
			if c.Scheme == auth.SchemeNTLM && c.Token68 != "" {
				if v, err := auth.NTLMAuthenticate(c, sent.cred.User, sent.cred.Password); err == nil {
					next := *sent
					next.leg, next.value = 2, v
					ta.sent = &next
					return withAuthorization(req, v), nil
				}
			}
		}
	}
	if sent != nil && sent.scheme == auth.SchemeNTLM {
		t.endNTLM()
	}
	if sent != nil {
		// The server refused the credential the request carried, unless
		// it only found a Digest nonce stale: answer that once more with
		// the same credential, without asking again.
		if sent.scheme == auth.SchemeDigest && !sent.stale {
			for _, c := range challenges {
				if c.Scheme == auth.SchemeDigest && c.Stale() && c.Realm == sent.space.Realm {
					if next, err := t.answer(req, c, sent.space, sent.cred, true); err == nil {
						return next, nil
					}
				}
			}
		}
		if ta.failures == nil {
			ta.failures = make(map[credstore.ProtectionSpace]int)
		}
		ta.failures[sent.key]++
		t.session.auth.forget(req.URL, sent)
	}
	failed := withoutBody(resp)
	for _, c := range challenges {
		negotiate, ntlm := c.Scheme == auth.SchemeNegotiate, c.Scheme == auth.SchemeNTLM
		if !c.Supported() || (ntlm && c.Token68 != "") {
			continue // a scheme not answered, or an NTLM message out of turn
		}
		space := protectionSpace(req.URL, c.Realm, c.Method())
		count := ta.failures[space]
		var proposed *Credential
		switch {
		case negotiate:
			// Negotiate uses the user's Kerberos credential cache.
		case count > 0 && sent != nil && sent.key == space:
			proposed = sent.cred
		case count == 0:
			proposed = t.proposedCredential(req.URL, space)
		}
		ch := &Challenge{ProtectionSpace: space, ProposedCredential: proposed, PreviousFailureCount: count, FailureResponse: failed}
		cred, step, err := t.decide(ctx, ch, negotiate, "authentication")
		switch {
		case err != nil:
			return nil, err
		case step == nextChallenge:
			continue
		case step == giveUp:
			return nil, nil
		}
		if negotiate {
			if cred == nil {
				return nil, nil // continue without a credential
			}
			// A Kerberos ticket for HTTP/host from the credential cache
			// (KRB5CCNAME) and krb5.conf (KRB5_CONFIG); without one, the
			// next scheme offered.
			v, err := auth.Negotiate(auth.Kerberos{}, req.URL.Host)
			if err != nil {
				continue
			}
			ta.sent = &sentCredential{key: space, space: space, scheme: auth.SchemeNegotiate, value: v}
			return withAuthorization(req, v), nil
		}
		if cred == nil || (cred.User == "" && cred.Password == "") {
			return nil, nil // continue without a credential: the 401 is the response
		}
		if ntlm {
			v, err := auth.NTLMNegotiate()
			if err != nil {
				return nil, fail.New(int(ErrUserAuthenticationRequired), err)
			}
			t.startNTLM()
			ta.sent = &sentCredential{key: space, space: space, cred: cred, scheme: auth.SchemeNTLM, value: v, leg: 1}
			return withAuthorization(req, v), nil
		}
		next, err := t.answer(req, c, space, cred, c.Stale())
		if err != nil {
			return nil, fail.New(int(ErrUserAuthenticationRequired), err)
		}
		return next, nil
	}
	return nil, nil
}

// answer returns req carrying cred's answer to challenge c, and records it
// as the credential sent.
func (t *Task) answer(req *http.Request, c auth.Challenge, space credstore.ProtectionSpace, cred *Credential, stale bool) (*http.Request, error) {
	sent := &sentCredential{key: space.Normalize(), space: space, cred: cred, scheme: c.Scheme, stale: stale}
	switch c.Scheme {
	case auth.SchemeBasic:
		v, err := auth.Basic(cred.User, cred.Password, &c)
		if err != nil {
			return nil, err
		}
		sent.value = v
		dir := path.Dir(req.URL.EscapedPath())
		if !strings.HasSuffix(dir, "/") {
			dir += "/"
		}
		sent.prefix = dir
	case auth.SchemeDigest:
		a, err := t.session.auth.digest.Answer(auth.Space{Origin: auth.Origin(req.URL)}, c, cred.User, cred.Password, digestRequest(req))
		if err != nil {
			return nil, err
		}
		sent.value, sent.digest = a.Value, a
	}
	t.more().auth.sent = sent
	return withAuthorization(req, sent.value), nil
}

// proposedCredential is the credential default handling would use for
// space: the request URL's user and password, else the credential
// storage's default credential for the space (or, failing that, for the
// same space with the default authentication method).
func (t *Task) proposedCredential(u *url.URL, space credstore.ProtectionSpace) *Credential {
	if u.User != nil {
		pw, _ := u.User.Password()
		return NewCredential(u.User.Username(), pw, credstore.None)
	}
	store := t.session.cfg.URLCredentialStorage
	if store == nil {
		return nil
	}
	if c, ok := store.DefaultCredential(space); ok {
		return NewCredential(c.User, c.Password, c.Persistence)
	}
	space.AuthenticationMethod = credstore.AuthMethodDefault
	if c, ok := store.DefaultCredential(space); ok {
		return NewCredential(c.User, c.Password, c.Persistence)
	}
	return nil
}

// Authenticated reports a response the server gave to credentials the task
// sent: they worked, so they are saved as their persistence says and sent
// pre-emptively from now on.
func (h hooks) Authenticated(req *http.Request, resp *http.Response) {
	t := h.t
	h.proxyAuthenticated()
	x := t.extra.Load()
	if x == nil || x.auth.sent == nil {
		return
	}
	sent := x.auth.sent
	x.auth.sent = nil
	if authorizationOf(req.Header) != sent.value {
		return
	}
	if sent.digest != nil {
		if v := resp.Header.Get("Authentication-Info"); v != "" {
			t.session.auth.digest.Info(sent.digest, v, nil)
		}
	}
	switch {
	case sent.preemptive || sent.scheme == auth.SchemeNegotiate:
		return // a Kerberos ticket is neither stored nor sent unasked
	case sent.scheme == auth.SchemeNTLM:
		t.endNTLM()
		if sent.leg != 2 {
			return
		}
		if store := t.session.cfg.URLCredentialStorage; store != nil && sent.cred.Persistence != credstore.None {
			t.saveCredential(store, sent)
		}
		return // NTLM authenticates a connection: nothing to send unasked
	}
	if sent.cred.Persistence == credstore.None {
		if sent.scheme == auth.SchemeDigest {
			// The nonce is not to be reused without the credential.
			t.session.auth.digest.Forget(sent.digest.Space)
		}
		return
	}
	t.session.auth.remember(req.URL, sent)
	if store := t.session.cfg.URLCredentialStorage; store != nil {
		t.saveCredential(store, sent)
	}
}

// saveCredential stores a credential that worked, as the space's default
// when it has none.
func (t *Task) saveCredential(store *credstore.Store, sent *sentCredential) {
	c := sent.cred.stored()
	if _, ok := store.DefaultCredential(sent.space); ok {
		store.Set(c, sent.space)
	} else {
		store.SetDefaultCredential(c, sent.space)
	}
}

// startNTLM sends the task's requests on a connection of their own until
// the NTLM handshake ends: its legs must share one connection, and HTTP/2
// cannot carry it.
func (t *Task) startNTLM() {
	tr := t.session.transportFor(t.serviceType()).Clone()
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	if dial := tr.DialTLSContext; dial != nil {
		// The session's TLS dialer offers HTTP/2 unless told otherwise.
		tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dial(context.WithValue(ctx, http1OnlyKey{}, true), network, addr)
		}
	}
	tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = 1, 1
	tr.IdleConnTimeout = 5 * time.Second // the connection is not used after the handshake
	t.call.Transport = proxiedTransport{t.session.proxies, tr}
}

// endNTLM goes back to the session's connections.
func (t *Task) endNTLM() { t.call.Transport = nil }
