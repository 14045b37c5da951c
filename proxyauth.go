package urlsession

// Proxy authentication: a 407 (to a forwarded request or to CONNECT)
// becomes a challenge with a proxy protection space, answered through the
// delegates and the credential storage like a 401; the credential goes
// in Proxy-Authorization to the proxy only.

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/auth"
	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/proxy"
)

// proxyAnswer is a credential for a proxy and the challenge it answers.
type proxyAnswer struct {
	key       string // proxy.Proxy.Key
	space     credstore.ProtectionSpace
	cred      *Credential
	challenge auth.Challenge
}

// proxyTaskAuth is a task's proxy authentication state.
type proxyTaskAuth struct {
	// sent is the credential chosen for the task's proxy; read by the
	// dials of the task's connections.
	sent atomic.Pointer[proxyAnswer]
	// last is the proxy whose 407 the task got last, and failures the
	// 407s each proxy gave the task (by key): the task's goroutine only.
	last     proxy.Proxy
	failures map[string]int
}

// authorization is the Proxy-Authorization value for a request (method
// and request-target uri) through p: the credential the task chose for p,
// else the one p accepted earlier in the session, else Basic with the
// proxy URL's user name and password; "" when there is none. Negotiate
// makes a new Kerberos token for each request, from the credential cache.
func (r *proxyRouter) authorization(ctx context.Context, p proxy.Proxy, method, uri string) string {
	a := r.answerFor(ctx, p)
	if a != nil && a.challenge.Scheme == auth.SchemeNTLM {
		return "" // the dial runs NTLM's legs (ntlmAnswer)
	}
	if a == nil {
		if user, pw, ok := p.Credentials(); ok {
			if v, err := auth.Basic(user, pw, nil); err == nil {
				return v
			}
		}
		return ""
	}
	if a.challenge.Scheme == auth.SchemeNegotiate {
		v, err := proxyNegotiate(p)
		if err != nil {
			return ""
		}
		return v
	}
	if a.challenge.Scheme == auth.SchemeDigest {
		space := auth.Space{Origin: p.Addr, Proxy: true, Realm: a.challenge.Realm}
		ans, err := r.digest.Answer(space, a.challenge, a.cred.User, a.cred.Password, auth.Request{Method: method, URI: uri, Qop: auth.QopAuth})
		if err != nil {
			return ""
		}
		return ans.Value
	}
	v, err := auth.Basic(a.cred.User, a.cred.Password, &a.challenge)
	if err != nil {
		return ""
	}
	return v
}

// answerFor returns the credential for p: the one the task chose, else
// the one p accepted earlier in the session; nil when there is none.
func (r *proxyRouter) answerFor(ctx context.Context, p proxy.Proxy) *proxyAnswer {
	if t := taskFrom(ctx); t != nil {
		if x := t.extra.Load(); x != nil {
			if s := x.proxy.sent.Load(); s != nil && s.key == p.Key() {
				return s
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.known[p.Key()]
}

// usesNTLM reports whether requests through p authenticate with NTLM,
// which needs its legs on one connection: a CONNECT tunnel's.
func (r *proxyRouter) usesNTLM(ctx context.Context, p proxy.Proxy) bool {
	a := r.answerFor(ctx, p)
	return a != nil && a.challenge.Scheme == auth.SchemeNTLM
}

// ntlmLegs returns the first leg's Proxy-Authorization (a NEGOTIATE
// message) and the answer to the proxy's CHALLENGE, for a CONNECT through
// p with NTLM; "" and nil when p is not answered with NTLM.
func (r *proxyRouter) ntlmLegs(ctx context.Context, p proxy.Proxy) (string, func(*http.Response) string) {
	a := r.answerFor(ctx, p)
	if a == nil || a.challenge.Scheme != auth.SchemeNTLM {
		return "", nil
	}
	first, err := auth.NTLMNegotiate()
	if err != nil {
		return "", nil
	}
	return first, func(resp *http.Response) string {
		for _, c := range auth.ParseHeader(resp.Header, true) {
			if c.Scheme == auth.SchemeNTLM && c.Token68 != "" {
				if v, err := auth.NTLMAuthenticate(c, a.cred.User, a.cred.Password); err == nil {
					return v
				}
			}
		}
		return ""
	}
}

// sawChallenge notes that req's task got a 407 from p.
func (r *proxyRouter) sawChallenge(req *http.Request, p proxy.Proxy) {
	if t := taskFrom(req.Context()); t != nil {
		t.more().proxy.last = p
	}
}

// remember keeps a credential a proxy accepted for the session's later
// requests through it.
func (r *proxyRouter) remember(a *proxyAnswer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known == nil {
		r.known = make(map[string]*proxyAnswer)
	}
	r.known[a.key] = a
}

// forget stops sending a credential a proxy refused.
func (r *proxyRouter) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.known, key)
}

// proxySpace is the protection space of proxy p for challenge c.
func proxySpace(p proxy.Proxy, c auth.Challenge) credstore.ProtectionSpace {
	pt := credstore.ProxyHTTP
	if p.Kind == proxy.HTTPS {
		pt = credstore.ProxyHTTPS
	}
	return credstore.ProtectionSpace{Host: p.Host(), Port: p.Port(), ProxyType: pt, Realm: c.Realm,
		AuthenticationMethod: c.Method()}.Normalize()
}

// proxyNegotiate is the Proxy-Authorization answering a Negotiate
// challenge from p: a Kerberos token for the service HTTP/<proxy host>
// from the user's credential cache (KRB5CCNAME) and krb5.conf
// (KRB5_CONFIG), as for a server.
func proxyNegotiate(p proxy.Proxy) (string, error) {
	return auth.Negotiate(auth.Kerberos{}, p.Host())
}

// proxyAuthenticate answers a 407: it returns the request to send again
// (the task's dials and forwarded requests then carry the credential), or
// nil to deliver the 407 as the response. Proxies are answered with Basic,
// Digest, NTLM (whose legs the dial runs on the tunnel's connection) and
// Negotiate (Kerberos, from the credential cache, as a 401 is answered).
func (h hooks) proxyAuthenticate(ctx context.Context, req *http.Request, resp *http.Response) (*http.Request, error) {
	t := h.t
	r := t.session.proxies
	x := t.more()
	pa := &x.proxy
	p := pa.last
	pa.last = proxy.Proxy{}
	if r == nil || p.IsDirect() {
		return nil, nil // not from a proxy the session chose
	}
	if pa.failures == nil {
		pa.failures = make(map[string]int)
	}
	count := pa.failures[p.Key()]
	pa.failures[p.Key()]++
	prev := pa.sent.Load()
	if prev != nil && prev.key != p.Key() {
		prev = nil
	}
	if prev == nil {
		r.mu.Lock()
		prev = r.known[p.Key()]
		r.mu.Unlock()
	}
	if prev != nil {
		r.forget(p.Key())
	}
	challenges := auth.ParseHeader(resp.Header, true)
	// A Digest nonce the proxy found stale is answered again with the
	// same credential, without asking.
	if prev != nil && prev.challenge.Scheme == auth.SchemeDigest {
		for _, c := range challenges {
			if c.Scheme == auth.SchemeDigest && c.Stale() && c.Realm == prev.challenge.Realm {
				pa.failures[p.Key()]--
				pa.sent.Store(&proxyAnswer{key: p.Key(), space: prev.space, cred: prev.cred, challenge: c})
				return req, nil
			}
		}
	}
	failed := withoutBody(resp)
	for _, c := range challenges {
		switch {
		case c.Scheme == auth.SchemeNTLM && c.Token68 == "":
		case c.Scheme == auth.SchemeNegotiate && c.Token68 == "":
		case c.Scheme != auth.SchemeBasic && c.Scheme != auth.SchemeDigest:
			continue // an NTLM or Negotiate message out of turn
		}
		negotiate := c.Scheme == auth.SchemeNegotiate
		space := proxySpace(p, c)
		var proposed *Credential
		switch {
		case negotiate:
			// Negotiate uses the user's Kerberos credential cache.
		case count > 0 && prev != nil:
			proposed = prev.cred
		case count == 0:
			proposed = t.proposedProxyCredential(p, space)
		}
		ch := &Challenge{ProtectionSpace: space, ProposedCredential: proposed, PreviousFailureCount: count, FailureResponse: failed}
		cred, step, err := t.decide(ctx, ch, negotiate, "proxy authentication")
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
				return nil, nil // the 407 is the response
			}
			// Without a usable credential cache, the next scheme offered.
			if _, err := proxyNegotiate(p); err != nil {
				continue
			}
			pa.sent.Store(&proxyAnswer{key: p.Key(), space: space, cred: cred, challenge: c})
			return req, nil
		}
		if cred == nil || (cred.User == "" && cred.Password == "") {
			return nil, nil // the 407 is the response
		}
		if c.Scheme == auth.SchemeBasic {
			if _, err := auth.Basic(cred.User, cred.Password, &c); err != nil {
				return nil, fail.New(int(ErrUserAuthenticationRequired), err)
			}
		}
		pa.sent.Store(&proxyAnswer{key: p.Key(), space: space, cred: cred, challenge: c})
		return req, nil
	}
	return nil, nil
}

// proposedProxyCredential is the credential default handling would use for
// a proxy space: the proxy URL's user name and password, else the
// credential storage's default credential for the space (or for the same
// space with the default authentication method).
func (t *Task) proposedProxyCredential(p proxy.Proxy, space credstore.ProtectionSpace) *Credential {
	if user, pw, ok := p.Credentials(); ok {
		return NewCredential(user, pw, credstore.None)
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

// proxyAuthenticated notes a response that is not a 407: the credential
// the task chose for its proxy worked, so the session sends it from now on
// and the credential storage keeps it as its persistence says.
func (h hooks) proxyAuthenticated() {
	t := h.t
	x := t.extra.Load()
	if x == nil || t.session.proxies == nil {
		return
	}
	a := x.proxy.sent.Load()
	if a == nil {
		return
	}
	r := t.session.proxies
	r.mu.Lock()
	same := r.known[a.key] == a
	r.mu.Unlock()
	if same {
		return
	}
	r.remember(a)
	if a.challenge.Scheme == auth.SchemeNegotiate {
		return // a Kerberos ticket is not a credential to store
	}
	if store := t.session.cfg.URLCredentialStorage; store != nil && a.cred.Persistence != credstore.None {
		t.saveCredential(store, &sentCredential{space: a.space, cred: a.cred})
	}
}

// reset forgets the credentials proxies accepted and the proxies that
// failed (Session.Reset).
func (r *proxyRouter) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.known {
		r.digest.Forget(auth.Space{Origin: a.key[strings.Index(a.key, "://")+3:], Proxy: true, Realm: a.challenge.Realm})
	}
	r.known, r.bad = nil, nil
}
