package cookiestore

import (
	"net/netip"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// DomainMatch reports whether host domain-matches domain (RFC 6265 5.1.3):
// the two are identical, or domain is a suffix of host preceded by a "."
// in host and host is a host name, not an IP address. Both are compared
// case-insensitively; neither should carry a leading dot.
func DomainMatch(host, domain string) bool {
	return domainMatch(strings.ToLower(host), strings.ToLower(domain))
}

// domainMatch is DomainMatch for canonical (lower-case) inputs.
func domainMatch(host, domain string) bool {
	if host == domain {
		return true
	}
	return len(host) > len(domain) &&
		domain != "" &&
		host[len(host)-len(domain)-1] == '.' &&
		host[len(host)-len(domain):] == domain &&
		!isIP(host)
}

// PathMatch reports whether requestPath path-matches cookiePath (RFC 6265
// 5.1.4): they are identical, or cookiePath is a prefix of requestPath and
// either ends in "/" or is followed in requestPath by "/". The comparison
// is byte for byte: "/a%62" does not match "/ab". An empty requestPath is
// taken as "/".
func PathMatch(requestPath, cookiePath string) bool {
	if requestPath == "" {
		requestPath = "/"
	}
	if requestPath == cookiePath {
		return true
	}
	if !strings.HasPrefix(requestPath, cookiePath) {
		return false
	}
	return strings.HasSuffix(cookiePath, "/") || requestPath[len(cookiePath)] == '/'
}

// DefaultPath computes the default-path of RFC 6265 5.1.4 from the path of
// a request URI: "/" when the path is empty, does not start with "/" or has
// no other "/"; otherwise the path up to, not including, its last "/".
// "/a/b/c" gives "/a/b", "/a" gives "/".
func DefaultPath(uriPath string) string {
	if uriPath == "" || uriPath[0] != '/' {
		return "/"
	}
	i := strings.LastIndexByte(uriPath, '/')
	if i == 0 {
		return "/"
	}
	return uriPath[:i]
}

// requestPath is the path of u as it appears on the wire ("/" when empty),
// the form cookie paths are compared against.
func requestPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return p
}

// isIP reports whether host (without brackets) is an IPv4 or IPv6 address.
func isIP(host string) bool {
	if host == "" {
		return false
	}
	// Fast reject: host names end in a letter (TLDs are alphabetic); only
	// then pay for a parse.
	if c := host[len(host)-1]; !(c >= '0' && c <= '9') && !strings.Contains(host, ":") {
		return false
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}

// canonicalHost returns the canonical form of u's host (RFC 6265 5.1.2):
// lower case, without port or IPv6 brackets, internationalised labels as
// A-labels (punycode). It reports false when u has no usable host.
func canonicalHost(u *url.URL) (string, bool) {
	if u == nil {
		return "", false
	}
	return canonicalizeHost(u.Hostname())
}

// canonicalizeHost is canonicalHost for a bare host name. A name with
// bytes outside ASCII is converted with IDNA's lookup profile, as
// net/http converts it for the Host header, so that "bücher.example" and
// "xn--bcher-kva.example" are one host; a name IDNA refuses is no usable
// host.
func canonicalizeHost(h string) (string, bool) {
	if h == "" {
		return "", false
	}
	lower := true
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c >= 0x80 {
			a, err := idna.Lookup.ToASCII(h)
			if err != nil || a == "" {
				return "", false
			}
			return strings.ToLower(a), true
		}
		if c >= 'A' && c <= 'Z' {
			lower = false
		}
	}
	if !lower {
		h = strings.ToLower(h)
	}
	return h, true
}

// isPublicSuffix reports whether domain is a public suffix according to
// the Public Suffix List compiled into golang.org/x/net/publicsuffix,
// including its PRIVATE section (github.io, blogspot.com, ...), as
// browsers use it; names under an unlisted TLD fall under the implicit
// "*" rule, so a single label such as "localhost" is a public suffix.
func isPublicSuffix(domain string) bool {
	ps, _ := publicsuffix.PublicSuffix(domain)
	return ps == domain
}

// registrableDomain returns the eTLD+1 of host (the "site"), or host itself
// when host is an IP address or a public suffix.
func registrableDomain(host string) string {
	if isIP(host) {
		return host
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host
	}
	return d
}

// isSecureScheme reports whether scheme denotes a secure protocol for
// cookies: https and wss. Plain-text loopback origins are not treated as
// secure (see the package documentation).
func isSecureScheme(scheme string) bool {
	return strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "wss")
}

// isCookieScheme reports whether cookies apply to URLs of scheme at all:
// http, https, ws and wss.
func isCookieScheme(scheme string) bool {
	switch strings.ToLower(scheme) {
	case "http", "https", "ws", "wss":
		return true
	}
	return false
}
