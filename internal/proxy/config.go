package proxy

import (
	"context"
	"net/url"
	"strconv"
	"strings"
)

// Config is a proxy configuration: proxies by the scheme of the URL
// loaded, exceptions, and an optional PAC script that decides instead of
// them.
type Config struct {
	// HTTP is the proxy for http (and ws) URLs, HTTPS for https (and
	// wss), FTP for ftp; SOCKS is used for every URL its scheme's proxy
	// does not cover, then All (all_proxy).
	HTTP, HTTPS, FTP, SOCKS, All Proxy
	// Exceptions are reached directly.
	Exceptions Exceptions
	// Patterns are the patterns Exceptions were read from.
	Patterns []string
	// PAC, when set, decides the proxies of every URL that Exceptions
	// do not except.
	PAC *PAC
}

// Empty reports whether c sends everything directly.
func (c *Config) Empty() bool {
	return c == nil || (c.PAC == nil && c.HTTP.IsDirect() && c.HTTPS.IsDirect() && c.FTP.IsDirect() &&
		c.SOCKS.IsDirect() && c.All.IsDirect())
}

// For returns the proxies to try, in order, for a connection that loads u.
// The result is never empty; a list ends with DIRECT only when the
// configuration (a PAC result) says so.
func (c *Config) For(ctx context.Context, u *url.URL) []Proxy {
	if c == nil || u == nil {
		return []Proxy{DirectProxy}
	}
	scheme := strings.ToLower(u.Scheme)
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		port = SchemePort(scheme)
	}
	if c.Exceptions.Match(u.Hostname(), port) {
		return []Proxy{DirectProxy}
	}
	if c.PAC != nil {
		return c.PAC.Find(ctx, u)
	}
	var p Proxy
	switch scheme {
	case "http", "ws":
		p = c.HTTP
	case "https", "wss":
		p = c.HTTPS
	case "ftp":
		p = c.FTP
	}
	if p.IsDirect() {
		p = c.SOCKS
	}
	if p.IsDirect() {
		p = c.All
	}
	return []Proxy{p}
}

// SchemePort is the default port of a URL scheme, 0 when unknown.
func SchemePort(scheme string) int {
	switch scheme {
	case "http", "ws":
		return 80
	case "https", "wss":
		return 443
	case "ftp":
		return 21
	}
	return 0
}

// Getenv reads an environment variable, as os.Getenv.
type Getenv func(string) string

// FromEnvironment reads the proxy environment variables as curl does:
// http_proxy in lower case only (an upper-case HTTP_PROXY can be set by
// a CGI program's client through the Proxy header, so curl ignores it);
// https_proxy, ftp_proxy, all_proxy and no_proxy in lower case, else upper
// case. A value without a scheme is an http proxy; socks4, socks4a, socks5,
// socks5h and https proxies are written as URLs. no_proxy is read by
// ParseExceptions. Variables that do not parse are reported by name in
// the second result (never with their values) and ignored.
func FromEnvironment(getenv Getenv) (*Config, []string) {
	c := &Config{}
	var bad []string
	read := func(name string, upperToo bool) Proxy {
		v := getenv(name)
		if v == "" && upperToo {
			v = getenv(strings.ToUpper(name))
			name = strings.ToUpper(name)
		}
		p, err := Parse(v)
		if err != nil {
			bad = append(bad, name)
			return DirectProxy
		}
		return p
	}
	c.HTTP = read("http_proxy", false)
	c.HTTPS = read("https_proxy", true)
	c.FTP = read("ftp_proxy", true)
	c.All = read("all_proxy", true)
	no := getenv("no_proxy")
	if no == "" {
		no = getenv("NO_PROXY")
	}
	c.Exceptions, _ = ParseExceptions(no)
	if no != "" {
		c.Patterns = []string{no}
	}
	return c, bad
}

// EnvironmentSet reports whether any proxy variable FromEnvironment reads
// is set.
func EnvironmentSet(getenv Getenv) bool {
	for _, n := range []string{"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"} {
		if getenv(n) != "" {
			return true
		}
	}
	return false
}
