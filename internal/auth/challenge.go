package auth

import (
	"net/http"
	"slices"
	"strings"
)

// Authentication schemes as they appear in Challenge.Scheme: the scheme
// token of RFC 9110 §11.1 in lower case.
const (
	SchemeBasic     = "basic"
	SchemeDigest    = "digest"
	SchemeNTLM      = "ntlm"
	SchemeNegotiate = "negotiate"
)

// Authentication methods, with the values of Apple's
// NSURLAuthenticationMethod* constants (and of credstore's AuthMethod*
// constants), as returned by [Challenge.Method].
const (
	MethodHTTPBasic  = "NSURLAuthenticationMethodHTTPBasic"
	MethodHTTPDigest = "NSURLAuthenticationMethodHTTPDigest"
	MethodNTLM       = "NSURLAuthenticationMethodNTLM"
	MethodNegotiate  = "NSURLAuthenticationMethodNegotiate"
)

// A Challenge is one challenge of a WWW-Authenticate or Proxy-Authenticate
// field (RFC 9110 §11.3, §11.6.1, §11.7.1).
//
// A challenge carries either a token68 or a list of auth-params, never both.
type Challenge struct {
	// Scheme is the authentication scheme in lower case: SchemeBasic,
	// SchemeDigest, SchemeNTLM, SchemeNegotiate, or any other token.
	Scheme string
	// Realm is the realm parameter, or "" when there is none. Realms are
	// compared case-sensitively (RFC 9110 §11.5).
	Realm string
	// Params holds the auth-params by lower-cased name, with quoted-string
	// values unquoted. It includes "realm". It is nil when the challenge
	// has no parameters.
	Params map[string]string
	// Token68 is the token68 form of the challenge's data (NTLM and
	// Negotiate use it for base64 tokens), or "".
	Token68 string
}

// Param returns the value of the named parameter; name is matched
// case-insensitively.
func (c Challenge) Param(name string) string {
	return c.Params[strings.ToLower(name)]
}

// Method returns the Apple authentication method that answers c (one of
// the Method* constants), or "" for a scheme this package cannot answer.
func (c Challenge) Method() string {
	switch c.Scheme {
	case SchemeBasic:
		return MethodHTTPBasic
	case SchemeDigest:
		return MethodHTTPDigest
	case SchemeNTLM:
		return MethodNTLM
	case SchemeNegotiate:
		return MethodNegotiate
	}
	return ""
}

// Supported reports whether this package can answer c: a Basic, NTLM or
// Negotiate challenge, or a Digest challenge with a nonce, an algorithm of
// RFC 7616 and, if qop is given, a quality of protection it knows.
func (c Challenge) Supported() bool {
	return c.strength() > 0
}

// strength ranks c for ordering: higher is stronger, 0 is unsupported.
func (c Challenge) strength() int {
	switch c.Scheme {
	case SchemeNegotiate:
		return 60
	case SchemeNTLM:
		return 50
	case SchemeDigest:
		d, err := parseDigestChallenge(c)
		if err != nil {
			return 0
		}
		return 40 + d.alg.rank
	case SchemeBasic:
		return 10
	}
	return 0
}

// Sort orders challenges strongest first, as a client should try them:
// Negotiate, NTLM, Digest (SHA-512-256, then SHA-256, then MD5; a -sess
// variant ranks with its hash), Basic, and last every challenge this
// package cannot answer (unknown schemes and unusable Digest challenges),
// kept so that a delegate can still see them. Challenges of equal
// strength keep their relative order, which is the server's preference
// (RFC 7616 §3.7).
func Sort(cs []Challenge) {
	slices.SortStableFunc(cs, func(a, b Challenge) int {
		return b.strength() - a.strength()
	})
}

// ParseHeader parses the WWW-Authenticate field lines of h, or its
// Proxy-Authenticate lines when proxy is true, and returns the challenges
// sorted by [Sort].
func ParseHeader(h http.Header, proxy bool) []Challenge {
	name := "WWW-Authenticate"
	if proxy {
		name = "Proxy-Authenticate"
	}
	return Parse(h.Values(name)...)
}

// Parse parses WWW-Authenticate or Proxy-Authenticate field values, one
// per field line, and returns their challenges sorted by [Sort].
//
// Each value may hold several challenges separated by commas. Empty list
// elements are ignored. A challenge whose syntax is broken (a parameter
// without a value, an unterminated or invalid quoted-string, a repeated
// parameter name, stray characters) is dropped, and parsing resumes at the
// next challenge; the other challenges are kept. A broken field line does
// not affect the other lines. Parse never panics and returns nil when
// there is no valid challenge.
func Parse(values ...string) []Challenge {
	var out []Challenge
	for _, v := range values {
		out = parseField(out, v)
	}
	Sort(out)
	return out
}

// parseField appends the challenges of one field value to out.
//
// The grammar (RFC 9110 §5.6.1, §5.6.2, §5.6.4, §11.2, §11.3):
//
//	challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param  = token BWS "=" BWS ( token / quoted-string )
//	token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//
// Challenges and the auth-params of one challenge share the same
// comma-separated list, so an element that is a token followed by "="
// continues the current challenge, and any other element starts a new one.
func parseField(out []Challenge, s string) []Challenge {
	p := parser{s: s}
	var cur *Challenge
	broken := false
	finish := func() {
		if cur != nil && !broken {
			out = append(out, *cur)
		}
		cur, broken = nil, false
	}
	for {
		// Skip empty list elements.
		for p.i < len(p.s) && (isOWS(p.s[p.i]) || p.s[p.i] == ',') {
			p.i++
		}
		if p.i >= len(p.s) {
			break
		}
		tok := p.token()
		if tok == "" {
			// Not a token: garbage belonging to whatever came before.
			broken = true
			p.skipElement()
			continue
		}
		j := p.i
		p.skipOWS()
		if p.peek() == '=' {
			// An auth-param continuing the current challenge.
			p.i++
			name := strings.ToLower(tok)
			p.skipOWS()
			val, ok := p.paramValue()
			if ok && !p.endOfElement() {
				ok = false
			}
			if !ok || cur == nil || cur.Token68 != "" {
				broken = true
				p.skipElement()
				continue
			}
			if _, dup := cur.Params[name]; dup {
				broken = true
				continue
			}
			if cur.Params == nil {
				cur.Params = map[string]string{}
			}
			cur.Params[name] = val
			if name == "realm" {
				cur.Realm = val
			}
			continue
		}
		// A new challenge.
		p.i = j
		finish()
		cur = &Challenge{Scheme: strings.ToLower(tok)}
		if p.i < len(p.s) && p.s[p.i] != ',' && !isOWS(p.s[p.i]) {
			broken = true
			p.skipElement()
			continue
		}
		if p.endOfElement() {
			continue
		}
		// token68, or the first auth-param.
		save := p.i
		if name := p.token(); name != "" {
			p.skipOWS()
			if p.peek() == '=' {
				p.i++
				p.skipOWS()
				if val, ok := p.paramValue(); ok && p.endOfElement() {
					name = strings.ToLower(name)
					cur.Params = map[string]string{name: val}
					if name == "realm" {
						cur.Realm = val
					}
					continue
				}
			}
		}
		p.i = save
		if t := p.token68(); t != "" && p.endOfElement() {
			cur.Token68 = t
			continue
		}
		broken = true
		p.skipElement()
	}
	finish()
	return out
}

// parser is a cursor over one field value.
type parser struct {
	s string
	i int
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *parser) skipOWS() {
	for p.i < len(p.s) && isOWS(p.s[p.i]) {
		p.i++
	}
}

// endOfElement skips optional whitespace and reports whether the list
// element ends there (a comma or the end of the value), leaving the
// cursor on the comma.
func (p *parser) endOfElement() bool {
	p.skipOWS()
	return p.i >= len(p.s) || p.s[p.i] == ','
}

// skipElement advances to the next comma outside a quoted-string, or to
// the end of the value.
func (p *parser) skipElement() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ',':
			return
		case '"':
			p.i++
			for p.i < len(p.s) && p.s[p.i] != '"' {
				if p.s[p.i] == '\\' {
					p.i++
				}
				p.i++
			}
		}
		p.i++
	}
}

func (p *parser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *parser) token68() string {
	start := p.i
	for p.i < len(p.s) && isToken68Char(p.s[p.i]) {
		p.i++
	}
	if p.i == start {
		return ""
	}
	for p.i < len(p.s) && p.s[p.i] == '=' {
		p.i++
	}
	return p.s[start:p.i]
}

// paramValue reads a token or a quoted-string.
func (p *parser) paramValue() (string, bool) {
	if p.peek() == '"' {
		return p.quotedString()
	}
	t := p.token()
	return t, t != ""
}

// quotedString reads a quoted-string (RFC 9110 §5.6.4) and returns its
// unescaped content. An invalid one is still read up to its closing quote,
// so that parsing can resume after it.
func (p *parser) quotedString() (string, bool) {
	p.i++ // opening quote
	var b strings.Builder
	valid := true
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), valid
		case c == '\\':
			if p.i+1 >= len(p.s) {
				p.i++
				return "", false
			}
			valid = valid && isQuotedPairChar(p.s[p.i+1])
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		default:
			valid = valid && isQdtext(c)
			b.WriteByte(c)
			p.i++
		}
	}
	return "", false
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// isTchar reports whether c is a tchar (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken68Char reports whether c may appear in a token68 before its
// trailing "=" padding (RFC 9110 §11.2).
func isToken68Char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

// isQdtext reports whether c is qdtext (RFC 9110 §5.6.4): HTAB, SP, any
// visible character but '"' and '\', or obs-text.
func isQdtext(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || (0x23 <= c && c <= 0x5b) || (0x5d <= c && c <= 0x7e) || c >= 0x80
}

// isQuotedPairChar reports whether c may follow a backslash in a
// quoted-string: HTAB, SP, VCHAR or obs-text.
func isQuotedPairChar(c byte) bool {
	return c == '\t' || (0x20 <= c && c <= 0x7e) || c >= 0x80
}

// parseParamList parses a field value that is a list of auth-params, such
// as Authentication-Info (RFC 9110 §11.6.3). Names are lower-cased. It
// reports false on a syntax error or a repeated name.
func parseParamList(s string) (map[string]string, bool) {
	p := parser{s: s}
	params := map[string]string{}
	for {
		for p.i < len(p.s) && (isOWS(p.s[p.i]) || p.s[p.i] == ',') {
			p.i++
		}
		if p.i >= len(p.s) {
			return params, true
		}
		name := strings.ToLower(p.token())
		if name == "" {
			return nil, false
		}
		p.skipOWS()
		if p.peek() != '=' {
			return nil, false
		}
		p.i++
		p.skipOWS()
		val, ok := p.paramValue()
		if !ok || !p.endOfElement() {
			return nil, false
		}
		if _, dup := params[name]; dup {
			return nil, false
		}
		params[name] = val
	}
}
