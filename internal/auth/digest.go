package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// digestAlg is a Digest algorithm of RFC 7616 §3.3 (and RFC 2617 for
// MD5-sess).
type digestAlg struct {
	name    string // canonical spelling, as sent in the algorithm parameter
	sess    bool
	rank    int // strength among Digest algorithms
	newHash func() hash.Hash
}

var digestAlgs = map[string]digestAlg{
	"MD5":              {"MD5", false, 1, md5.New},
	"MD5-SESS":         {"MD5-sess", true, 1, md5.New},
	"SHA-256":          {"SHA-256", false, 2, sha256.New},
	"SHA-256-SESS":     {"SHA-256-sess", true, 2, sha256.New},
	"SHA-512-256":      {"SHA-512-256", false, 3, sha512.New512_256},
	"SHA-512-256-SESS": {"SHA-512-256-sess", true, 3, sha512.New512_256},
}

// h returns the lower-case hex digest of the concatenation of parts.
func (a digestAlg) h(parts ...string) string {
	d := a.newHash()
	for _, p := range parts {
		io.WriteString(d, p)
	}
	return hex.EncodeToString(d.Sum(nil))
}

// Qualities of protection (RFC 7616 §3.3).
const (
	QopAuth    = "auth"
	QopAuthInt = "auth-int"
)

// digestChallenge is a parsed Digest challenge.
type digestChallenge struct {
	realm, nonce, opaque string
	hasOpaque            bool // echoed unchanged when the challenge had it
	domain               []string
	alg                  digestAlg
	algGiven             bool     // the challenge named its algorithm
	qops                 []string // known qops offered; nil for RFC 2069 mode
	stale, userhash      bool
	utf8                 bool // charset=UTF-8
}

// parseDigestChallenge extracts the Digest parameters of c (RFC 7616
// §3.3). It fails with ErrUnsupported when c is not a Digest challenge
// this package can answer.
func parseDigestChallenge(c Challenge) (digestChallenge, error) {
	var d digestChallenge
	if c.Scheme != SchemeDigest {
		return d, fmt.Errorf("%w: scheme %q is not digest", ErrUnsupported, c.Scheme)
	}
	d.realm = c.Realm
	d.nonce = c.Params["nonce"]
	if d.nonce == "" {
		return d, fmt.Errorf("%w: digest challenge without nonce", ErrUnsupported)
	}
	d.opaque, d.hasOpaque = c.Params["opaque"]
	d.domain = strings.Fields(c.Params["domain"])
	alg := "MD5"
	if a, ok := c.Params["algorithm"]; ok {
		alg, d.algGiven = a, true
	}
	var ok bool
	if d.alg, ok = digestAlgs[strings.ToUpper(alg)]; !ok {
		return d, fmt.Errorf("%w: digest algorithm %q", ErrUnsupported, alg)
	}
	if q, ok := c.Params["qop"]; ok {
		for _, v := range strings.Split(q, ",") {
			switch v = strings.ToLower(strings.TrimSpace(v)); v {
			case QopAuth, QopAuthInt:
				d.qops = append(d.qops, v)
			}
		}
		if d.qops == nil {
			return d, fmt.Errorf("%w: digest qop %q", ErrUnsupported, q)
		}
	}
	d.stale = strings.EqualFold(c.Params["stale"], "true")
	d.userhash = strings.EqualFold(c.Params["userhash"], "true")
	d.utf8 = strings.EqualFold(c.Params["charset"], "UTF-8")
	return d, nil
}

// Stale reports whether c is a Digest challenge with stale=true (RFC 7616
// §3.3): the credential was right but the nonce had expired, so the
// request should be repeated with the new nonce without asking the user
// again and without counting a failure.
func (c Challenge) Stale() bool {
	return c.Scheme == SchemeDigest && strings.EqualFold(c.Params["stale"], "true")
}

// Request describes the request a Digest response is computed for.
type Request struct {
	// Method is the request method, "GET" when empty.
	Method string
	// URI is the request-target as sent on the request line (RFC 7616
	// §3.4: the uri parameter), for example "/dir/index.html?x=1".
	URI string
	// Body is the request body for qop "auth-int", when the caller holds
	// it in memory. It is ignored when GetBody is set.
	Body []byte
	// GetBody returns a fresh reader of the request body, like
	// http.Request.GetBody; for qop "auth-int" the body is read through
	// the hash without being held in memory.
	GetBody func() (io.ReadCloser, error)
	// Streamed reports that the body can be read only once: qop "auth" is
	// then chosen, and a challenge that offers only "auth-int" fails with
	// ErrBodyNotHashable.
	Streamed bool
	// Qop, when not empty, is the quality of protection to use whenever the
	// challenge offers it (QopAuth to avoid reading the body twice). When
	// empty, or not offered, the strongest usable one is chosen: "auth-int"
	// if offered and the body can be hashed, else "auth".
	Qop string
}

// NewRequest describes r for Digest: its method, its request-target
// (r.URL.RequestURI(), or the authority for CONNECT), and its body through
// r.GetBody. A request with a body but no GetBody counts as Streamed.
// A request through a proxy in absolute form should set URI to the
// absolute URI it sends.
func NewRequest(r *http.Request) Request {
	q := Request{Method: r.Method, GetBody: r.GetBody}
	if r.Method == http.MethodConnect {
		q.URI = r.URL.Host
	} else {
		q.URI = r.URL.RequestURI()
	}
	if r.GetBody == nil && r.Body != nil && r.Body != http.NoBody {
		q.Streamed = true
	}
	return q
}

// canHashBody reports whether the body can be hashed for auth-int.
func (q *Request) canHashBody() bool {
	return !q.Streamed || q.GetBody != nil
}

// bodyHash returns H(entity-body) with alg.
func (q *Request) bodyHash(alg digestAlg) (string, error) {
	h := alg.newHash()
	if q.GetBody != nil {
		rc, err := q.GetBody()
		if err != nil {
			return "", fmt.Errorf("auth: reading the request body for digest auth-int: %w", err)
		}
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return "", fmt.Errorf("auth: reading the request body for digest auth-int: %w", err)
		}
	} else {
		h.Write(q.Body)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// chooseQop picks the quality of protection: auth-int when offered and
// the body can be hashed, else auth; "" in RFC 2069 mode.
func chooseQop(offered []string, q *Request) (string, error) {
	if offered == nil {
		return "", nil
	}
	hasAuth, hasInt := false, false
	for _, v := range offered {
		hasAuth = hasAuth || v == QopAuth
		hasInt = hasInt || v == QopAuthInt
	}
	switch {
	case q.Qop == QopAuth && hasAuth:
		return QopAuth, nil
	case hasInt && q.canHashBody():
		return QopAuthInt, nil
	case hasAuth:
		return QopAuth, nil
	}
	return "", ErrBodyNotHashable
}

// digestInput is everything a Digest response depends on.
type digestInput struct {
	ch              digestChallenge
	user, password  string
	method, uri     string
	qop, nc, cnonce string
	bodyHash        string // H(entity-body), for auth-int
}

// digestOutput is a computed response with what is needed to check the
// server's rspauth later.
type digestOutput struct {
	value string // the Authorization field value
	ha1   string
}

// compute builds the Authorization field value (RFC 7616 §3.4, RFC 2069
// when qop is empty).
func (in *digestInput) compute() digestOutput {
	ch, alg := &in.ch, in.ch.alg
	user, password := in.user, in.password
	if ch.utf8 {
		// RFC 7616 §4: with charset=UTF-8 the server expects the user name
		// and password in Normalization Form C.
		user, password = norm.NFC.String(user), norm.NFC.String(password)
	}
	ha1 := alg.h(user, ":", ch.realm, ":", password)
	if alg.sess {
		ha1 = alg.h(ha1, ":", ch.nonce, ":", in.cnonce)
	}
	method := in.method
	if method == "" {
		method = http.MethodGet
	}
	var ha2 string
	if in.qop == QopAuthInt {
		ha2 = alg.h(method, ":", in.uri, ":", in.bodyHash)
	} else {
		ha2 = alg.h(method, ":", in.uri)
	}
	var response string
	if in.qop != "" {
		response = alg.h(ha1, ":", ch.nonce, ":", in.nc, ":", in.cnonce, ":", in.qop, ":", ha2)
	} else {
		response = alg.h(ha1, ":", ch.nonce, ":", ha2)
	}

	var b strings.Builder
	b.WriteString("Digest ")
	switch {
	case ch.userhash:
		b.WriteString(`username="`)
		b.WriteString(alg.h(user, ":", ch.realm))
		b.WriteByte('"')
	case quotable(user):
		b.WriteString("username=")
		b.WriteString(quote(user))
	default:
		// RFC 7616 §3.4.4: a name a quoted-string cannot carry goes in
		// username* with the encoding of RFC 8187.
		b.WriteString("username*=")
		b.WriteString(extValue(user))
	}
	b.WriteString(", realm=")
	b.WriteString(quote(ch.realm))
	b.WriteString(", uri=")
	b.WriteString(quote(in.uri))
	if ch.algGiven {
		b.WriteString(", algorithm=")
		b.WriteString(alg.name)
	}
	b.WriteString(", nonce=")
	b.WriteString(quote(ch.nonce))
	if in.qop != "" {
		b.WriteString(", nc=")
		b.WriteString(in.nc)
	}
	if in.qop != "" || alg.sess {
		b.WriteString(", cnonce=")
		b.WriteString(quote(in.cnonce))
	}
	if in.qop != "" {
		b.WriteString(", qop=")
		b.WriteString(in.qop)
	}
	b.WriteString(`, response="`)
	b.WriteString(response)
	b.WriteByte('"')
	if ch.hasOpaque {
		b.WriteString(", opaque=")
		b.WriteString(quote(ch.opaque))
	}
	if ch.userhash {
		b.WriteString(", userhash=true")
	}
	return digestOutput{value: b.String(), ha1: ha1}
}

// rspauth computes the server's expected rspauth (RFC 7616 §3.5): the
// response computed with an A2 that has an empty method.
func rspauth(alg digestAlg, ha1, nonce, nc, cnonce, qop, uri, respBodyHash string) string {
	var ha2 string
	if qop == QopAuthInt {
		ha2 = alg.h(":", uri, ":", respBodyHash)
	} else {
		ha2 = alg.h(":", uri)
	}
	if qop == "" {
		return alg.h(ha1, ":", nonce, ":", ha2)
	}
	return alg.h(ha1, ":", nonce, ":", nc, ":", cnonce, ":", qop, ":", ha2)
}

// quotable reports whether s can be sent in a quoted-string as plain
// ASCII.
func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// quote returns s as a quoted-string, escaping '"' and '\'.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// extValue encodes s as an RFC 8187 ext-value in UTF-8 without a language
// tag: UTF-8” followed by s with every byte that is not an attr-char
// percent-encoded.
func extValue(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString("UTF-8''")
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// isAttrChar reports whether c is an attr-char of RFC 8187 §3.2.1.
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
