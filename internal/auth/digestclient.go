package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Space identifies a Digest protection space for a DigestClient.
type Space struct {
	// Origin is the server's "scheme://host:port" (lower case, with the
	// port always written), or a proxy's "host:port".
	Origin string
	// Proxy marks a proxy's space: its challenges come in
	// Proxy-Authenticate and its answers go in Proxy-Authorization.
	Proxy bool
	// Realm is the challenge's realm.
	Realm string
}

// Origin returns the origin of u as a Space expects it:
// "scheme://host:port" in lower case, with the scheme's default port
// written out for http, https, ws and wss.
func Origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		switch scheme {
		case "http", "ws":
			port = "80"
		case "https", "wss":
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// A DigestClient answers Digest challenges (RFC 7616) and keeps the state
// Digest needs between requests: for each protection space, the last
// challenge and its nonce, and the nonce count. A later request in the
// same space can then be authorized pre-emptively, without a 401 round
// trip, by [DigestClient.Authorize].
//
// A DigestClient holds no password. The zero value is ready to use, and a
// DigestClient is safe for concurrent use: concurrent requests with the
// same nonce get distinct, increasing nonce counts.
type DigestClient struct {
	mu     sync.Mutex
	spaces map[Space]*digestState
	seq    uint64 // ordering of uses, for Lookup

	// cnonce returns a client nonce; nil means 16 random bytes in hex.
	// Tests set it to reproduce published examples.
	cnonce func() string
}

// digestState is what a DigestClient remembers of one space.
type digestState struct {
	ch   digestChallenge
	nc   uint32 // the last nonce count used with ch.nonce
	used uint64
}

// A DigestAnswer is a computed Digest response.
type DigestAnswer struct {
	// Value is the Authorization (or, for a proxy space,
	// Proxy-Authorization) field value.
	Value string
	// Space is the protection space answered; its Realm is the
	// challenge's.
	Space Space
	// Qop is the quality of protection chosen: QopAuth, QopAuthInt, or ""
	// for RFC 2069 mode.
	Qop string

	alg                    digestAlg
	ha1                    string
	nonce, nc, cnonce, uri string
}

// Answer answers challenge c for space with the credential user/password,
// for the request req, and remembers the challenge for space. space.Realm
// is replaced by c.Realm.
//
// A challenge with the same nonce as the one remembered continues its
// nonce count; a new nonce starts again at 1. A stale challenge
// ([Challenge.Stale]) is answered like any other. Answer fails with
// ErrUnsupported when c is not a Digest challenge it can answer, and with
// ErrBodyNotHashable when c demands qop=auth-int for a streamed body.
func (d *DigestClient) Answer(space Space, c Challenge, user, password string, req Request) (*DigestAnswer, error) {
	ch, err := parseDigestChallenge(c)
	if err != nil {
		return nil, err
	}
	qop, err := chooseQop(ch.qops, &req)
	if err != nil {
		return nil, err
	}
	space.Realm = c.Realm
	d.mu.Lock()
	if d.spaces == nil {
		d.spaces = make(map[Space]*digestState)
	}
	st := d.spaces[space]
	if st == nil || st.ch.nonce != ch.nonce {
		st = &digestState{}
		d.spaces[space] = st
	}
	st.ch = ch
	nc := d.nextCountLocked(st)
	d.mu.Unlock()
	return d.respond(space, ch, nc, qop, user, password, &req)
}

// Authorize computes a pre-emptive response for space with the nonce
// remembered from its last challenge (or Authentication-Info nextnonce),
// with the next nonce count. It fails with ErrNoState when the client has
// no nonce for space. If the server finds the nonce stale it answers with
// a new challenge, which [DigestClient.Answer] then answers.
func (d *DigestClient) Authorize(space Space, user, password string, req Request) (*DigestAnswer, error) {
	d.mu.Lock()
	st := d.spaces[space]
	if st == nil || st.nc == ^uint32(0) {
		d.mu.Unlock()
		return nil, ErrNoState
	}
	ch := st.ch
	nc := d.nextCountLocked(st)
	d.mu.Unlock()
	qop, err := chooseQop(ch.qops, &req)
	if err != nil {
		return nil, err
	}
	return d.respond(space, ch, nc, qop, user, password, &req)
}

// nextCountLocked takes the next nonce count of st. d.mu must be held.
func (d *DigestClient) nextCountLocked(st *digestState) uint32 {
	st.nc++
	d.seq++
	st.used = d.seq
	return st.nc
}

// respond computes the answer outside the lock: hashing a body for
// auth-int may take long.
func (d *DigestClient) respond(space Space, ch digestChallenge, nc uint32, qop, user, password string, req *Request) (*DigestAnswer, error) {
	in := digestInput{
		ch:       ch,
		user:     user,
		password: password,
		method:   req.Method,
		uri:      req.URI,
		qop:      qop,
		nc:       fmt.Sprintf("%08x", nc),
	}
	if qop != "" || ch.alg.sess {
		in.cnonce = d.newCnonce()
	}
	if qop == QopAuthInt {
		var err error
		if in.bodyHash, err = req.bodyHash(ch.alg); err != nil {
			return nil, err
		}
	}
	out := in.compute()
	return &DigestAnswer{
		Value:  out.value,
		Space:  space,
		Qop:    qop,
		alg:    ch.alg,
		ha1:    out.ha1,
		nonce:  ch.nonce,
		nc:     in.nc,
		cnonce: in.cnonce,
		uri:    in.uri,
	}, nil
}

func (d *DigestClient) newCnonce() string {
	if d.cnonce != nil {
		return d.cnonce()
	}
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Lookup returns the protection space to authorize a request for uri (a
// request-target such as "/dir/index.html") on origin pre-emptively: a
// space of that origin whose challenge's domain parameter lists a prefix
// of uri, or, when the challenge had no domain, any space of that origin
// (RFC 7616 §3.3). Domain entries on other origins are ignored. Among
// several matching spaces the most recently used wins. For a proxy, every
// space of the proxy's origin matches.
func (d *DigestClient) Lookup(origin string, proxy bool, uri string) (Space, bool) {
	origin = strings.ToLower(origin)
	d.mu.Lock()
	defer d.mu.Unlock()
	var best Space
	var bestUsed uint64
	found := false
	for sp, st := range d.spaces {
		if sp.Origin != origin || sp.Proxy != proxy {
			continue
		}
		if !proxy && !domainCovers(st.ch.domain, origin, uri) {
			continue
		}
		if !found || st.used > bestUsed {
			best, bestUsed, found = sp, st.used, true
		}
	}
	return best, found
}

// domainCovers reports whether the domain list of a challenge covers uri
// on origin.
func domainCovers(domain []string, origin, uri string) bool {
	if len(domain) == 0 {
		return true
	}
	for _, dom := range domain {
		path := dom
		if !strings.HasPrefix(dom, "/") {
			u, err := url.Parse(dom)
			if err != nil || !u.IsAbs() || Origin(u) != origin {
				continue
			}
			path = u.EscapedPath()
			if u.RawQuery != "" {
				path += "?" + u.RawQuery
			}
			if path == "" {
				path = "/"
			}
		}
		if strings.HasPrefix(uri, path) {
			return true
		}
	}
	return false
}

// Forget drops what d remembers of space, for example after the server
// rejected its credential.
func (d *DigestClient) Forget(space Space) {
	d.mu.Lock()
	delete(d.spaces, space)
	d.mu.Unlock()
}

// Info processes the Authentication-Info (or Proxy-Authentication-Info)
// field value that came with the response to the request a was computed
// for (RFC 7616 §3.5); a is an answer from d's Answer or Authorize and
// must not be nil. A nextnonce becomes the nonce of a's space for the
// following requests, with the nonce count starting again at 1. When the
// server sent rspauth, Info checks it and fails with ErrMutualAuth if the
// server does not know the credential; body is the response body, used
// only when a.Qop is QopAuthInt. An empty value is not an error. Info
// fails with ErrMalformed when the value cannot be parsed.
func (d *DigestClient) Info(a *DigestAnswer, value string, body []byte) error {
	if strings.TrimSpace(value) == "" {
		return nil
	}
	params, ok := parseParamList(value)
	if !ok {
		return fmt.Errorf("%w: Authentication-Info", ErrMalformed)
	}
	if next := params["nextnonce"]; next != "" {
		d.mu.Lock()
		if st := d.spaces[a.Space]; st != nil && st.ch.nonce == a.nonce {
			st.ch.nonce = next
			st.nc = 0
		}
		d.mu.Unlock()
	}
	got, ok := params["rspauth"]
	if !ok {
		return nil
	}
	if v, ok := params["cnonce"]; ok && v != a.cnonce {
		return ErrMutualAuth
	}
	if v, ok := params["nc"]; ok {
		n, err := strconv.ParseUint(v, 16, 32)
		if err != nil || fmt.Sprintf("%08x", n) != a.nc {
			return ErrMutualAuth
		}
	}
	qop := a.Qop
	if v, ok := params["qop"]; ok && !strings.EqualFold(v, qop) {
		return ErrMutualAuth
	}
	var bodyHash string
	if qop == QopAuthInt {
		bodyHash = a.alg.h(string(body))
	}
	want := rspauth(a.alg, a.ha1, a.nonce, a.nc, a.cnonce, qop, a.uri, bodyHash)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) != 1 {
		return ErrMutualAuth
	}
	return nil
}
