package cookiestore

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Limits from draft-ietf-httpbis-rfc6265bis (sections 5.6 and 5.6.1/5.6.2).
const (
	// MaxNameValueSize is the largest name plus value, in bytes, of a
	// cookie that is stored; larger cookies are ignored.
	MaxNameValueSize = 4096
	// MaxAttributeValueSize is the largest attribute value, in bytes, that
	// is honoured; a longer attribute is ignored as if absent.
	MaxAttributeValueSize = 1024
	// MaxLifetime is the longest lifetime a Set-Cookie header can give a
	// cookie: Expires and Max-Age further ahead are clamped to it.
	MaxLifetime = 400 * 24 * time.Hour
)

// Reasons a cookie is rejected. Errors returned by this package wrap one
// of them, so callers test with errors.Is.
var (
	// ErrMalformed: empty name and value, a control character, a name or
	// value that cannot be carried in a Cookie header, name plus value
	// above MaxNameValueSize, or a Path attribute that is not ASCII.
	ErrMalformed = errors.New("cookiestore: malformed cookie")
	// ErrURL: the request URL has no host or a scheme other than http,
	// https, ws or wss.
	ErrURL = errors.New("cookiestore: URL cannot carry cookies")
	// ErrDomain: the Domain does not domain-match the request host, is a
	// public suffix, or is not ASCII.
	ErrDomain = errors.New("cookiestore: domain rejected")
	// ErrInsecure: a Secure cookie (or SameSite=None, which requires
	// Secure) from an origin that is not secure.
	ErrInsecure = errors.New("cookiestore: secure cookie requirements not met")
	// ErrPrefix: a __Secure-, __Host-, __Http- or __Host-Http- cookie that
	// does not meet its prefix's requirements, or a nameless cookie whose
	// value looks like one of those prefixes.
	ErrPrefix = errors.New("cookiestore: cookie prefix requirements not met")
	// ErrOverwriteSecure: a cookie from an insecure origin that would
	// shadow a stored Secure cookie ("leave secure cookies alone").
	ErrOverwriteSecure = errors.New("cookiestore: would overwrite a secure cookie")
	// ErrPolicy: the store's AcceptPolicy refused the cookie.
	ErrPolicy = errors.New("cookiestore: refused by accept policy")
)

// Cookie is a cookie in the store's own form: the result of the storage
// model of RFC 6265 section 5.3 (as revised by draft-ietf-httpbis-rfc6265bis).
// ParseSetCookie returns one; Store methods speak *http.Cookie.
type Cookie struct {
	// Name and Value are as received, with surrounding whitespace removed.
	// Value keeps any double quotes. Name may be empty: rfc6265bis accepts
	// "Set-Cookie: token" as a nameless cookie whose value is "token".
	Name, Value string
	// Domain is the canonical (lower-case, ASCII) domain without a leading
	// dot. For a host-only cookie it is the request host.
	Domain string
	// HostOnly reports that the cookie is sent only to Domain itself, not
	// to its subdomains: it came without a (usable) Domain attribute.
	HostOnly bool
	// Path is the cookie path; it always starts with "/".
	Path string
	// Expires is when the cookie expires; zero for a session cookie. A
	// time not after the parse time means the cookie deletes any stored
	// cookie with the same name, domain and path and is not itself stored.
	Expires time.Time
	// Secure cookies are only sent over https and wss.
	Secure bool
	// HTTPOnly is stored and reported; every API of this package is an
	// HTTP API, so it restricts nothing here.
	HTTPOnly bool
	// SameSite is the SameSite attribute (0 when absent or invalid). It is
	// stored and reported but not enforced (see the package documentation).
	SameSite http.SameSite
	// Created and LastAccess are the creation and last-access times.
	Created, LastAccess time.Time
}

// Persistent reports whether c outlives the session (has an expiry time).
func (c *Cookie) Persistent() bool { return !c.Expires.IsZero() }

// HTTPCookie returns c as an *http.Cookie in Apple's convention: Domain is
// the host for a host-only cookie and ".domain" for a domain cookie;
// Expires is zero for a session cookie; a value wrapped in double quotes is
// returned unwrapped with Quoted set, as net/http expects.
func (c *Cookie) HTTPCookie() *http.Cookie {
	hc := &http.Cookie{
		Name:     c.Name,
		Value:    c.Value,
		Path:     c.Path,
		Domain:   c.Domain,
		Secure:   c.Secure,
		HttpOnly: c.HTTPOnly,
		SameSite: c.SameSite,
	}
	if !c.HostOnly {
		hc.Domain = "." + c.Domain
	}
	if !c.Expires.IsZero() {
		hc.Expires = c.Expires.UTC()
	}
	if v := c.Value; len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		hc.Value, hc.Quoted = v[1:len(v)-1], true
	}
	return hc
}

// String returns c as the name=value pair of a Cookie header ("value"
// alone for a nameless cookie).
func (c *Cookie) String() string {
	if c.Name == "" {
		return c.Value
	}
	return c.Name + "=" + c.Value
}

// attrs are the cookie attributes of a Set-Cookie line (RFC 6265 5.2),
// already reduced to "the last one of each kind that counts".
type attrs struct {
	expires    time.Time
	hasExpires bool
	maxAge     int64 // seconds, saturated
	hasMaxAge  bool
	domain     string // leading dot removed, lower case; "" = host-only
	path       string
	hasPath    bool
	secure     bool
	httpOnly   bool
	sameSite   http.SameSite
}

// ParseSetCookie parses one Set-Cookie header value received in the
// response to a request for u at time now, and applies the parts of the
// storage model that do not depend on what is already stored. It follows
// RFC 6265 sections 5.2 and 5.3 as revised by draft-ietf-httpbis-rfc6265bis:
//
//   - a line with a control character (other than HTAB) is ignored;
//   - a name-value pair without "=" is a nameless cookie (rfc6265bis); one
//     with neither name nor value is ignored, as is one whose name plus
//     value exceeds MaxNameValueSize;
//   - attribute names are case-insensitive, the last of each kind wins,
//     unknown attributes and those with values over MaxAttributeValueSize
//     are ignored;
//   - Max-Age (digits, optionally negative) takes precedence over Expires;
//     Max-Age <= 0 or an Expires in the past makes a deletion (a Cookie
//     whose Expires is not after now); both are clamped to now+MaxLifetime;
//   - Domain loses one leading dot; an empty one is ignored; it must
//     domain-match the host and must not be a public suffix unless it
//     equals the host, which then makes a host-only cookie; IP hosts only
//     ever get host-only cookies;
//   - a Path not starting with "/" is replaced by the default path; a
//     Path with bytes outside ASCII rejects the cookie;
//   - Secure and SameSite=None cookies need a secure scheme (https, wss);
//     __Secure- and __Host- prefixes (case-insensitive) are enforced, and
//     __Host- needs a last Path attribute of exactly "/"; __Http- and
//     __Host-Http- also need Secure and HttpOnly.
//
// The error, when not nil, wraps ErrMalformed, ErrURL, ErrDomain,
// ErrInsecure or ErrPrefix and says why the line was rejected.
func ParseSetCookie(line string, u *url.URL, now time.Time) (*Cookie, error) {
	if i := indexCTL(line); i >= 0 {
		return nil, fmt.Errorf("%w: control character %#x at offset %d", ErrMalformed, line[i], i)
	}
	nv, rest, _ := strings.Cut(line, ";")
	var name, value string
	if n, v, ok := strings.Cut(nv, "="); ok {
		name, value = trimWSP(n), trimWSP(v)
	} else {
		value = trimWSP(nv)
	}
	if name == "" && value == "" {
		return nil, fmt.Errorf("%w: no name and no value", ErrMalformed)
	}
	if len(name)+len(value) > MaxNameValueSize {
		return nil, fmt.Errorf("%w: name and value are %d bytes, more than %d", ErrMalformed, len(name)+len(value), MaxNameValueSize)
	}
	var a attrs
	parseAttrs(rest, &a)
	return newCookie(name, value, &a, u, now)
}

// parseAttrs processes the unparsed-attributes of RFC 6265 5.2 (with the
// rfc6265bis changes) into a.
func parseAttrs(rest string, a *attrs) {
	for rest != "" {
		var av string
		// rest starts with ";" (or is what followed the first ";").
		av, rest, _ = strings.Cut(rest, ";")
		n, v, _ := strings.Cut(av, "=")
		n, v = trimWSP(n), trimWSP(v)
		if len(v) > MaxAttributeValueSize {
			continue
		}
		switch strings.ToLower(n) {
		case "expires":
			if t, ok := ParseCookieDate(v); ok {
				a.expires, a.hasExpires = t, true
			}
		case "max-age":
			if secs, ok := parseMaxAge(v); ok {
				a.maxAge, a.hasMaxAge = secs, true
			}
		case "domain":
			if v == "" {
				continue // rfc6265bis: SHOULD ignore the cookie-av entirely
			}
			v = strings.TrimPrefix(v, ".")
			a.domain = strings.ToLower(v)
		case "path":
			a.path, a.hasPath = v, true
		case "secure":
			a.secure = true
		case "httponly":
			a.httpOnly = true
		case "samesite":
			switch strings.ToLower(v) {
			case "none":
				a.sameSite = http.SameSiteNoneMode
			case "strict":
				a.sameSite = http.SameSiteStrictMode
			case "lax":
				a.sameSite = http.SameSiteLaxMode
			default:
				a.sameSite = 0 // "Default": an invalid value resets
			}
		}
	}
}

// parseMaxAge parses a Max-Age value: a DIGIT, or "-" followed by a DIGIT,
// then only DIGITs. Huge values saturate.
func parseMaxAge(v string) (int64, bool) {
	neg := false
	if strings.HasPrefix(v, "-") {
		neg, v = true, v[1:]
	}
	if v == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < 1<<40 { // far beyond MaxLifetime; saturate instead of overflowing
			n = n*10 + int64(c-'0')
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

// epoch is the expiry given to cookies that are deleted on arrival
// ("the earliest representable date and time").
var epoch = time.Unix(0, 0).UTC()

// newCookie runs the state-independent steps of the storage model
// (rfc6265bis 5.7) for a cookie received from u.
func newCookie(name, value string, a *attrs, u *url.URL, now time.Time) (*Cookie, error) {
	if u == nil || !isCookieScheme(u.Scheme) {
		return nil, fmt.Errorf("%w: scheme of %v", ErrURL, u)
	}
	host, ok := canonicalHost(u)
	if !ok {
		return nil, fmt.Errorf("%w: no host in %v", ErrURL, u)
	}
	c := &Cookie{Name: name, Value: value, HTTPOnly: a.httpOnly, Secure: a.secure, SameSite: a.sameSite, Created: now, LastAccess: now}

	// Expiry: Max-Age wins over Expires; both clamped to now+MaxLifetime.
	limit := now.Add(MaxLifetime)
	switch {
	case a.hasMaxAge:
		if a.maxAge <= 0 {
			c.Expires = epoch
		} else if a.maxAge >= int64(MaxLifetime/time.Second) {
			c.Expires = limit
		} else {
			c.Expires = now.Add(time.Duration(a.maxAge) * time.Second)
		}
	case a.hasExpires:
		c.Expires = a.expires
		if c.Expires.After(limit) {
			c.Expires = limit
		}
		if !c.Expires.After(epoch) {
			c.Expires = epoch
		}
	}

	// Domain.
	d := a.domain
	if !isASCII(d) {
		return nil, fmt.Errorf("%w: non-ASCII Domain %q", ErrDomain, d)
	}
	switch {
	case d == "":
		c.Domain, c.HostOnly = host, true
	case isIP(host) || isIP(d):
		if d != host {
			return nil, fmt.Errorf("%w: Domain %q for host %s", ErrDomain, d, host)
		}
		c.Domain, c.HostOnly = host, true
	case isPublicSuffix(d):
		if d != host {
			return nil, fmt.Errorf("%w: Domain %q is a public suffix", ErrDomain, d)
		}
		c.Domain, c.HostOnly = host, true
	case !domainMatch(host, d):
		return nil, fmt.Errorf("%w: host %s does not domain-match Domain %q", ErrDomain, host, d)
	default:
		c.Domain = d
	}

	// Path. A cookie path is a URL path, which is ASCII: a request path is
	// compared as sent (percent-encoded), so a Path with other bytes could
	// never match and is refused outright rather than stored unreachable
	// or replaced by the default path, as the web-platform-tests check.
	// Only the winning Path attribute counts.
	if a.hasPath && !isASCII(a.path) {
		return nil, fmt.Errorf("%w: non-ASCII Path %q", ErrMalformed, a.path)
	}
	if a.hasPath && strings.HasPrefix(a.path, "/") {
		c.Path = a.path
	} else {
		c.Path = DefaultPath(requestPath(u))
	}

	secureOrigin := isSecureScheme(u.Scheme)
	if c.Secure && !secureOrigin {
		return nil, fmt.Errorf("%w: Secure cookie from %s", ErrInsecure, u.Scheme)
	}
	if err := checkCookie(c, a.hasPath && a.path == "/"); err != nil {
		return nil, err
	}
	return c, nil
}

// checkCookie applies the rules every cookie must meet, whatever API it
// came through: SameSite=None needs Secure, the name prefixes, and the
// nameless-cookie prefix rule. rootPath reports that the path was given
// as "/" explicitly, which __Host- requires: rfc6265bis 5.7 step 20 asks
// for a Path attribute and a path of "/", and the web-platform-tests
// (cookies/prefix) refuse a Path attribute that is empty, valueless or
// relative even where the default path is "/", as browsers do.
func checkCookie(c *Cookie, rootPath bool) error {
	if c.SameSite == http.SameSiteNoneMode && !c.Secure {
		return fmt.Errorf("%w: SameSite=None without Secure", ErrInsecure)
	}
	if hasPrefixFold(c.Name, "__Secure-") && !c.Secure {
		return fmt.Errorf("%w: %s without Secure", ErrPrefix, c.Name)
	}
	if hasPrefixFold(c.Name, "__Host-") && (!c.Secure || !c.HostOnly || !rootPath || c.Path != "/") {
		return fmt.Errorf("%w: %s needs Secure, no Domain and Path=/", ErrPrefix, c.Name)
	}
	// __Http- and __Host-Http- (a __Host- cookie, checked above) also need
	// Secure and HttpOnly: the prefixes the web-platform-tests
	// (cookies/prefix) check beside the two of rfc6265bis.
	if (hasPrefixFold(c.Name, "__Http-") || hasPrefixFold(c.Name, "__Host-Http-")) && (!c.Secure || !c.HTTPOnly) {
		return fmt.Errorf("%w: %s needs Secure and HttpOnly", ErrPrefix, c.Name)
	}
	if c.Name == "" && (hasPrefixFold(c.Value, "__Secure-") || hasPrefixFold(c.Value, "__Host-") || hasPrefixFold(c.Value, "__Http-")) {
		return fmt.Errorf("%w: nameless cookie with a prefixed value", ErrPrefix)
	}
	return nil
}

// fromJarCookie converts a cookie handed to http.CookieJar.SetCookies. When
// it carries the Set-Cookie line it came from (net/http sets Raw), that line
// is parsed with ParseSetCookie and its verdict stands; otherwise its
// fields are read as the attributes of a Set-Cookie line: Domain (leading dot ignored) makes a
// domain cookie, MaxAge > 0 / < 0 and Expires give the expiry.
func fromJarCookie(hc *http.Cookie, u *url.URL, now time.Time) (*Cookie, error) {
	if hc.Raw != "" {
		c, err := ParseSetCookie(hc.Raw, u, now)
		switch {
		case err != nil:
			return nil, err
		case c.Name == hc.Name:
			return c, nil
		}
		// Raw is not the line this cookie came from: use the fields.
	}
	name, value, err := checkNameValue(hc)
	if err != nil {
		return nil, err
	}
	a := attrs{secure: hc.Secure, httpOnly: hc.HttpOnly, sameSite: normSameSite(hc.SameSite)}
	if d := strings.TrimSpace(hc.Domain); d != "" {
		a.domain = strings.ToLower(strings.TrimPrefix(d, "."))
	}
	if hc.Path != "" {
		a.path, a.hasPath = hc.Path, true
	}
	switch {
	case hc.MaxAge > 0:
		a.maxAge, a.hasMaxAge = int64(hc.MaxAge), true
	case hc.MaxAge < 0:
		a.maxAge, a.hasMaxAge = 0, true
	case !hc.Expires.IsZero():
		a.expires, a.hasExpires = hc.Expires, true
	}
	return newCookie(name, value, &a, u, now)
}

// fromAppleCookie converts a cookie given to SetCookie (u == nil) or
// SetCookiesForURL, in Apple's convention: Domain ".example.com" is a
// domain cookie, "example.com" a host-only one; an empty Domain means u's
// host (host-only) and is an error without u. Path defaults to "/".
// MaxAge > 0 counts from now, MaxAge < 0 deletes, otherwise Expires (zero:
// session cookie). Expiry times are taken as given, not clamped.
func fromAppleCookie(hc *http.Cookie, u *url.URL, now time.Time) (*Cookie, error) {
	name, value, err := checkNameValue(hc)
	if err != nil {
		return nil, err
	}
	c := &Cookie{Name: name, Value: value, Secure: hc.Secure, HTTPOnly: hc.HttpOnly,
		SameSite: normSameSite(hc.SameSite), Created: now, LastAccess: now, Path: hc.Path}
	if !strings.HasPrefix(c.Path, "/") {
		c.Path = "/"
	}
	switch {
	case hc.MaxAge > 0:
		c.Expires = now.Add(time.Duration(hc.MaxAge) * time.Second)
	case hc.MaxAge < 0:
		c.Expires = epoch
	case !hc.Expires.IsZero():
		c.Expires = hc.Expires
		if !c.Expires.After(epoch) {
			c.Expires = epoch
		}
	}

	d := strings.ToLower(strings.TrimSpace(hc.Domain))
	domainCookie := strings.HasPrefix(d, ".")
	d = strings.TrimPrefix(d, ".")
	var host string
	if u != nil {
		if !isCookieScheme(u.Scheme) {
			return nil, fmt.Errorf("%w: scheme of %v", ErrURL, u)
		}
		var ok bool
		if host, ok = canonicalHost(u); !ok {
			return nil, fmt.Errorf("%w: no host in %v", ErrURL, u)
		}
		if c.Secure && !isSecureScheme(u.Scheme) {
			return nil, fmt.Errorf("%w: Secure cookie for %s", ErrInsecure, u.Scheme)
		}
	}
	if d == "" {
		if u == nil {
			return nil, fmt.Errorf("%w: cookie %q has no Domain", ErrDomain, name)
		}
		d, domainCookie = host, false
	}
	if cd, ok := canonicalizeHost(d); ok && validDomainName(cd) {
		d = cd
	} else {
		return nil, fmt.Errorf("%w: Domain %q", ErrDomain, hc.Domain)
	}
	if domainCookie {
		switch {
		case isIP(d):
			domainCookie = false // IP addresses only ever get host-only cookies
		case isPublicSuffix(d):
			if u == nil || d != host {
				return nil, fmt.Errorf("%w: Domain %q is a public suffix", ErrDomain, d)
			}
			domainCookie = false
		}
	}
	if u != nil {
		if (domainCookie && !domainMatch(host, d)) || (!domainCookie && host != d) {
			return nil, fmt.Errorf("%w: cookie for %q cannot be set for %s", ErrDomain, hc.Domain, host)
		}
	}
	c.Domain, c.HostOnly = d, !domainCookie
	if err := checkCookie(c, true); err != nil {
		return nil, err
	}
	return c, nil
}

// checkNameValue validates the name and value of an *http.Cookie given
// through the API and returns the value in wire form (quoted if Quoted).
// They must fit in a Cookie header: no control characters, no ";", no "="
// in the name, not both empty, within MaxNameValueSize.
func checkNameValue(hc *http.Cookie) (string, string, error) {
	name, value := trimWSP(hc.Name), trimWSP(hc.Value)
	if hc.Quoted {
		value = `"` + value + `"`
	}
	if name == "" && value == "" {
		return "", "", fmt.Errorf("%w: no name and no value", ErrMalformed)
	}
	if indexCTL(name) >= 0 || indexCTL(value) >= 0 || strings.ContainsAny(name, ";=") || strings.Contains(value, ";") {
		return "", "", fmt.Errorf("%w: name or value of %q cannot be sent in a Cookie header", ErrMalformed, name)
	}
	if len(name)+len(value) > MaxNameValueSize {
		return "", "", fmt.Errorf("%w: name and value larger than %d bytes", ErrMalformed, MaxNameValueSize)
	}
	return name, value, nil
}

// normSameSite maps net/http's SameSiteDefaultMode (attribute present
// without a valid value) to 0, the "Default" enforcement.
func normSameSite(s http.SameSite) http.SameSite {
	switch s {
	case http.SameSiteLaxMode, http.SameSiteStrictMode, http.SameSiteNoneMode:
		return s
	}
	return 0
}

// indexCTL returns the index of the first control character other than
// HTAB (%x00-08 / %x0A-1F / %x7F), or -1.
func indexCTL(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7F {
			return i
		}
	}
	return -1
}

// trimWSP removes leading and trailing SP and HTAB.
func trimWSP(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}

// isASCII reports whether s has only bytes below 0x80.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether s starts with prefix, ASCII
// case-insensitively.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// validDomainName reports whether d can name a host: labels of letters,
// digits, '-' and '_' (or any non-ASCII bytes, for internationalised
// names) separated by single dots, or an IP address (IPv6 without
// brackets). It keeps names such as "a b", "x/y", "#foo", ".." or "foo."
// out of the store.
func validDomainName(d string) bool {
	if isIP(d) {
		return true
	}
	if d == "" || len(d) > 253 || d[0] == '.' || d[len(d)-1] == '.' {
		return false
	}
	label := 0
	for i := 0; i < len(d); i++ {
		switch c := d[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c >= 0x80:
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return true
}
