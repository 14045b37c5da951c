// Package proxy holds the machinery of a session's proxies: the proxy kinds
// and their URLs, the dialers that reach an origin through an HTTP CONNECT
// tunnel or a SOCKS4, SOCKS4a or SOCKS5 gateway, the exceptions that bypass
// proxies, proxy auto-configuration (PAC) scripts, and the system settings
// (the environment as curl reads it, GNOME's settings).
package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Kind is a way of reaching an origin.
type Kind int

const (
	// Direct connects to the origin itself.
	Direct Kind = iota
	// HTTP is an HTTP proxy reached over plain TCP: absolute-form requests
	// for http origins, CONNECT tunnels for the others.
	HTTP
	// HTTPS is an HTTP proxy reached over TLS.
	HTTPS
	// SOCKS4 resolves the origin's name locally and sends its IPv4 address.
	SOCKS4
	// SOCKS4A sends the origin's name to the gateway (remote DNS).
	SOCKS4A
	// SOCKS5 resolves the origin's name locally.
	SOCKS5
	// SOCKS5H sends the origin's name to the gateway (remote DNS).
	SOCKS5H
)

// String returns the URL scheme of the kind ("direct" for Direct).
func (k Kind) String() string {
	switch k {
	case Direct:
		return "direct"
	case HTTP:
		return "http"
	case HTTPS:
		return "https"
	case SOCKS4:
		return "socks4"
	case SOCKS4A:
		return "socks4a"
	case SOCKS5:
		return "socks5"
	case SOCKS5H:
		return "socks5h"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// IsSOCKS reports whether k is one of the SOCKS kinds.
func (k Kind) IsSOCKS() bool { return k >= SOCKS4 && k <= SOCKS5H }

// kinds maps URL schemes to kinds. "socks" is SOCKS5 with remote DNS, as
// PAC's "SOCKS" keyword and most desktops mean it.
var kinds = map[string]Kind{
	"http": HTTP, "https": HTTPS, "socks4": SOCKS4, "socks4a": SOCKS4A,
	"socks5": SOCKS5, "socks5h": SOCKS5H, "socks": SOCKS5H,
}

// Proxy is one way of reaching an origin: directly, or through one proxy.
type Proxy struct {
	Kind Kind
	// Addr is the proxy's "host:port"; empty for Direct.
	Addr string
	// User is the user name and password from the proxy URL, or nil.
	User *url.Userinfo
}

// DirectProxy is the direct connection.
var DirectProxy = Proxy{}

// IsDirect reports whether p connects directly.
func (p Proxy) IsDirect() bool { return p.Kind == Direct }

// Host returns the proxy's host name or address, without brackets.
func (p Proxy) Host() string {
	h, _, err := net.SplitHostPort(p.Addr)
	if err != nil {
		return p.Addr
	}
	return h
}

// Port returns the proxy's port.
func (p Proxy) Port() int {
	_, port, _ := net.SplitHostPort(p.Addr)
	n, _ := strconv.Atoi(port)
	return n
}

// String returns the proxy's URL with the password redacted, such as
// "socks5h://user:xxxxx@127.0.0.1:1080", or "DIRECT".
func (p Proxy) String() string {
	if p.IsDirect() {
		return "DIRECT"
	}
	u := url.URL{Scheme: p.Kind.String(), Host: p.Addr, User: p.User}
	return u.Redacted()
}

// Key identifies the proxy without its credentials, for caches and maps.
func (p Proxy) Key() string { return p.Kind.String() + "://" + p.Addr }

// URL returns the proxy's URL, with its credentials.
func (p Proxy) URL() *url.URL {
	if p.IsDirect() {
		return nil
	}
	return &url.URL{Scheme: p.Kind.String(), Host: p.Addr, User: p.User}
}

// DefaultPort is the port of a proxy URL without one: 443 for an https
// proxy and 1080 for the others, as curl does.
func DefaultPort(k Kind) string {
	if k == HTTPS {
		return "443"
	}
	return "1080"
}

// ErrBadProxyURL is the cause of every error Parse returns.
var ErrBadProxyURL = errors.New("bad proxy URL")

// Parse reads a proxy URL such as "http://proxy:3128",
// "socks5h://user:pass@127.0.0.1:1080" or "proxy.example:8080" (no scheme
// means http, as curl reads it). The scheme is one of http, https,
// socks4, socks4a, socks5, socks5h and socks (socks5h); the port defaults
// as DefaultPort says. An empty string or "direct://" is Direct. The error
// never quotes the password.
func Parse(raw string) (Proxy, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || strings.EqualFold(raw, "direct://") {
		return DirectProxy, nil
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Proxy{}, fmt.Errorf("%w: %s", ErrBadProxyURL, redactRaw(raw))
	}
	return FromURL(u)
}

// FromURL is Parse for a parsed URL.
func FromURL(u *url.URL) (Proxy, error) {
	if u == nil {
		return DirectProxy, nil
	}
	k, ok := kinds[strings.ToLower(u.Scheme)]
	if !ok {
		return Proxy{}, fmt.Errorf("%w: unsupported scheme %q in %s", ErrBadProxyURL, u.Scheme, u.Redacted())
	}
	host := u.Hostname()
	if host == "" {
		return Proxy{}, fmt.Errorf("%w: no host in %s", ErrBadProxyURL, u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = DefaultPort(k)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return Proxy{}, fmt.Errorf("%w: bad port in %s", ErrBadProxyURL, u.Redacted())
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return Proxy{}, fmt.Errorf("%w: a proxy URL has no path or query: %s", ErrBadProxyURL, u.Redacted())
	}
	return Proxy{Kind: k, Addr: net.JoinHostPort(host, port), User: u.User}, nil
}

// redactRaw hides what may be a password in a URL that did not parse.
func redactRaw(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			return raw[:i+3] + "xxxxx@" + rest[at+1:]
		}
	}
	return raw
}

// Credentials returns the user name and password of the proxy URL.
func (p Proxy) Credentials() (user, password string, ok bool) {
	if p.User == nil {
		return "", "", false
	}
	pw, _ := p.User.Password()
	return p.User.Username(), pw, true
}

// ParsePAC reads the result of a PAC script's FindProxyForURL, a list such
// as "PROXY a:8080; SOCKS5 b:1080; DIRECT", into the proxies to try in
// order. Keywords are PROXY and HTTP (HTTP), HTTPS, SOCKS and SOCKS5
// (SOCKS5 with remote DNS, as browsers do), SOCKS4 and DIRECT, in any case.
// Entries it cannot read are skipped; an empty or unreadable result is
// DIRECT, as browsers treat it.
func ParsePAC(s string) []Proxy {
	var out []Proxy
	for part := range strings.SplitSeq(s, ";") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		kw := strings.ToUpper(f[0])
		if kw == "DIRECT" {
			out = append(out, DirectProxy)
			continue
		}
		if len(f) != 2 {
			continue
		}
		var k Kind
		switch kw {
		case "PROXY", "HTTP":
			k = HTTP
		case "HTTPS":
			k = HTTPS
		case "SOCKS", "SOCKS5":
			k = SOCKS5H
		case "SOCKS4":
			k = SOCKS4A
		default:
			continue
		}
		hostport := f[1]
		if _, _, err := net.SplitHostPort(hostport); err != nil {
			port := "80"
			if k != HTTP {
				port = DefaultPort(k)
			}
			hostport = net.JoinHostPort(strings.Trim(hostport, "[]"), port)
		}
		p, err := FromURL(&url.URL{Scheme: k.String(), Host: hostport})
		if err != nil {
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return []Proxy{DirectProxy}
	}
	return out
}

// userinfo is a URL's user information for a user name and password.
func userinfo(user, password string) *url.Userinfo {
	if password == "" {
		return url.User(user)
	}
	return url.UserPassword(user, password)
}
