package urlsession

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/urlsession-go/urlsession/internal/proxy"
)

// ProxyConfiguration says how a session reaches servers through proxies:
// Apple's connectionProxyDictionary (and the proxies of its
// proxyConfigurations) expressed in Go. Set it as
// Configuration.ProxyConfiguration; a nil one means the system settings
// (see SystemProxyConfiguration), a zero one connects directly.
//
// A proxy is given by its URL, whose scheme says its kind:
//
//   - http://host:port: an HTTP proxy. Requests for http URLs are sent to
//     it in absolute form; every other connection (https, and anything
//     through Dial) is a CONNECT tunnel through it, so TLS and HTTP/2 run
//     end to end with the origin.
//   - https://host:port: the same, over TLS to the proxy itself, verified
//     against ProxyTLSConfig.
//   - socks4://, socks4a://, socks5://, socks5h:// (and socks://, which
//     is socks5h): a SOCKS gateway. socks4 and socks5 resolve the origin's
//     name locally; socks4a and socks5h send the name to the gateway
//     (remote DNS). SOCKS5 authenticates with the URL's user name and
//     password (RFC 1929); SOCKS4 sends the user name as its user id.
//
// A port left out is 443 for https and 1080 for the others, as curl has
// it. The user name and password of an HTTP or HTTPS proxy URL are sent
// with Basic authentication pre-emptively, as curl does; otherwise a 407
// from the proxy becomes an authentication challenge (see Challenge).
//
// Proxy-Authorization never reaches an origin: it is removed from every
// request that does not go to an HTTP proxy in absolute form (tunnelled
// requests, direct ones, SOCKS ones), whoever set it. A 407, to a
// forwarded request or to CONNECT, raises a challenge whose
// ProtectionSpace is the proxy's (Host and Port of the proxy, ProxyType
// credstore.ProxyHTTP or credstore.ProxyHTTPS, the realm, and the Basic,
// Digest, NTLM or Negotiate method), asked of TaskChallengeDelegate like a server's 401, with
// PreviousFailureCount counting the proxy's refusals for the task. Default
// handling proposes the proxy URL's user name and password, else the
// credential storage's default credential for the proxy space; a
// credential the proxy accepts is sent unasked on the session's later
// requests through it and stored as its persistence says. A 407 nobody
// answers is the task's response. Proxies are answered with Basic, Digest,
// NTLM and Negotiate; NTLM authenticates a connection, so its legs run on
// the CONNECT of a tunnel, and plain http requests through a proxy that
// wants NTLM go through a tunnel too. Negotiate is answered as a server's
// 401 Negotiate is: the session delegate is asked first (it is a
// session-wide method), and default handling sends a Kerberos token for
// the service HTTP/<proxy host> made from the user's credential cache
// (KRB5CCNAME, with KRB5_CONFIG's krb5.conf); without a usable cache the
// next scheme the proxy offered is tried. Once the proxy accepts it, each
// later CONNECT and forwarded request through the proxy carries a new
// token unasked; tokens are never put in the credential storage.
//
// Stream tasks (Session.StreamTask) and WebSocket tasks go through the
// same proxies: a stream task's connection is chosen as for an https URL
// of its host and port and WebSocket handshakes as for their http or
// https URL, and both go through CONNECT tunnels (never a forwarded
// request) when the proxy is an HTTP or HTTPS one, with their 407s
// answered as above. See StreamTask and WebSocketTask.
//
// Failures through a proxy have URLError codes, as for an origin:
//
//   - the proxy cannot be connected to: the dialing error's code
//     (ErrCannotConnectToHost, ErrCannotFindHost, ErrTimedOut), once every
//     entry of a PAC list has been tried;
//   - the proxy refuses the tunnel (CONNECT answered with a status other
//     than 2xx or 407; a SOCKS reply such as "connection refused", "host
//     unreachable" or "not allowed by ruleset"): ErrCannotConnectToHost;
//   - a SOCKS gateway refuses the user name and password, or requires
//     authentication none was given for: ErrUserAuthenticationRequired;
//   - the proxy answers something that is not its protocol:
//     ErrBadServerResponse; it closes the connection during the
//     handshake: ErrNetworkConnectionLost;
//   - the TLS handshake with an https proxy fails: the TLS codes
//     (ErrSecureConnectionFailed, ErrServerCertificateUntrusted, ...).
//
// Error texts name the proxy by its URL with the password redacted.
//
// Connections through a proxy are TLS end to end with the origin: the
// ServerTrust and ClientCertificate challenges, the pins and HTTP/2 work
// as on a direct connection. TaskMetrics report ProxyConnection for the
// requests whose first choice is a proxy.
//
// A ProxyConfiguration is read when the session is made; changing it
// afterwards has no effect on the session.
type ProxyConfiguration struct {
	// HTTPProxy is used for http (and ws) URLs: Apple's HTTPEnable,
	// HTTPProxy and HTTPPort. Nil means none.
	HTTPProxy *url.URL
	// HTTPSProxy is used for https (and wss) URLs: Apple's HTTPSEnable,
	// HTTPSProxy and HTTPSPort.
	HTTPSProxy *url.URL
	// SOCKSProxy is used for every URL whose scheme's proxy is nil:
	// Apple's SOCKSEnable, SOCKSProxy, SOCKSPort and
	// kCFStreamPropertySOCKSVersion (the scheme).
	SOCKSProxy *url.URL

	// PACURL is the URL of a proxy auto-configuration file (http, https or
	// file), fetched directly (through no proxy) the first time a request
	// needs it: Apple's ProxyAutoConfigURLString. PACScript is the file's
	// JavaScript itself: Apple's ProxyAutoConfigJavaScript. When either is
	// set, the script's FindProxyForURL decides for every URL that
	// Exceptions do not except, and the proxies above are not used.
	//
	// The script runs in a JavaScript interpreter with nothing but the
	// standard PAC functions (isPlainHostName, dnsDomainIs,
	// localHostOrDomainIs, isResolvable, isInNet, dnsResolve, myIpAddress,
	// dnsDomainLevels, shExpMatch, weekdayRange, dateRange, timeRange,
	// alert): no file, network or process access. Each evaluation is
	// limited to one second, DNS look-ups included. FindProxyForURL is
	// given "scheme://host:port/" and the host (never the path, query or
	// credentials), and its answer is cached per scheme, host and port for
	// five minutes. Its list ("PROXY a:8080; SOCKS b:1080; DIRECT") is
	// tried in order: when a proxy cannot be connected to, the next entry
	// is tried, and the proxy is skipped for a minute. A script that
	// cannot be fetched, does not compile, throws, runs too long or
	// returns no string gives DIRECT, as browsers do.
	PACURL    string
	PACScript string

	// Exceptions are hosts reached directly: Apple's ExceptionsList and
	// curl's no_proxy. Each is "*" (every host), a domain ("example.com"
	// and ".example.com" both match example.com and its subdomains), a
	// pattern with * and ? wildcards, an IP address or CIDR range
	// ("10.0.0.0/8", "fd00::/8", "169.254/16"), or "<local>" (host names
	// without a dot), optionally followed by ":port".
	Exceptions []string
	// ExcludeSimpleHostnames connects directly to host names without a
	// dot: Apple's ExcludeSimpleHostnames.
	ExcludeSimpleHostnames bool

	// ProxyTLSConfig is the TLS configuration for the connections to
	// https proxies (curl's --proxy-cacert, --proxy-insecure). Nil means
	// the system roots.
	ProxyTLSConfig *tls.Config
}

// Clone returns a deep copy of c (nil for nil).
func (c *ProxyConfiguration) Clone() *ProxyConfiguration {
	if c == nil {
		return nil
	}
	n := *c
	for _, p := range []**url.URL{&n.HTTPProxy, &n.HTTPSProxy, &n.SOCKSProxy} {
		if *p != nil {
			u := **p
			if u.User != nil {
				uu := *u.User
				u.User = &uu
			}
			*p = &u
		}
	}
	n.Exceptions = append([]string(nil), c.Exceptions...)
	if c.ProxyTLSConfig != nil {
		n.ProxyTLSConfig = c.ProxyTLSConfig.Clone()
	}
	return &n
}

// ProxyURL returns a configuration that sends every URL through the proxy
// at rawURL, except the hosts of noProxy (as Exceptions reads them): curl's
// --proxy and --noproxy. The error, for a URL that is not a proxy URL,
// never quotes a password.
func ProxyURL(rawURL string, noProxy ...string) (*ProxyConfiguration, error) {
	p, err := proxy.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("urlsession: %w", err)
	}
	u := p.URL()
	return &ProxyConfiguration{HTTPProxy: u, HTTPSProxy: u, Exceptions: noProxy}, nil
}

// ProxyFromEnvironment reads the proxy environment variables as curl
// does: http_proxy (lower case only: curl ignores HTTP_PROXY, which a
// CGI program's client can set through a Proxy header), https_proxy,
// all_proxy and no_proxy (each in lower case, else upper case).
// all_proxy becomes SOCKSProxy, used for every scheme without a proxy of
// its own. A value without a scheme is an http proxy. It returns nil when
// none of the proxy variables is set; variables that do not parse are
// ignored.
func ProxyFromEnvironment() *ProxyConfiguration {
	if !proxy.EnvironmentSet(os.Getenv) {
		return nil
	}
	c, _ := proxy.FromEnvironment(os.Getenv)
	no := os.Getenv("no_proxy")
	if no == "" {
		no = os.Getenv("NO_PROXY")
	}
	return fromConfig(c, no)
}

func fromConfig(c *proxy.Config, exceptions ...string) *ProxyConfiguration {
	out := &ProxyConfiguration{
		HTTPProxy: c.HTTP.URL(), HTTPSProxy: c.HTTPS.URL(),
		SOCKSProxy: c.SOCKS.URL(), Exceptions: exceptions,
	}
	if out.SOCKSProxy == nil {
		out.SOCKSProxy = c.All.URL()
	}
	return out
}

// SystemProxyConfiguration returns the user's proxy settings, looked for in
// this order:
//
//  1. the environment, as ProxyFromEnvironment reads it, when any of its
//     proxy variables is set;
//  2. GNOME's settings (the org.gnome.system.proxy schema, through the
//     gsettings command) when XDG_CURRENT_DESKTOP names GNOME or a desktop
//     built on it (Unity, Cinnamon, Budgie, Pantheon) and gsettings
//     exists: mode "manual" gives its
//     http, https, ftp and socks proxies and ignore-hosts, mode "auto" its
//     autoconfig-url as PACURL;
//  3. nil: direct connections.
//
// A session whose Configuration has neither Proxy nor ProxyConfiguration
// uses it, read when the session is made.
func SystemProxyConfiguration() *ProxyConfiguration {
	if c := ProxyFromEnvironment(); c != nil {
		return c
	}
	out, err := proxy.GSettingsOutput(context.Background(), os.Getenv)
	if err != nil {
		return nil
	}
	return fromGSettings(out)
}

func fromGSettings(out string) *ProxyConfiguration {
	c, pac := proxy.FromGSettings(out)
	switch {
	case pac != "":
		return &ProxyConfiguration{PACURL: pac}
	case c == nil || c.Empty():
		return nil
	}
	pc := fromConfig(c)
	pc.Exceptions = c.Patterns
	return pc
}

// validate reports a proxy URL or exception that cannot be used.
func (c *ProxyConfiguration) validate() error {
	if c == nil {
		return nil
	}
	for _, u := range []*url.URL{c.HTTPProxy, c.HTTPSProxy, c.SOCKSProxy} {
		if u == nil {
			continue
		}
		if _, err := proxy.FromURL(u); err != nil {
			return fmt.Errorf("urlsession: ProxyConfiguration: %w", err)
		}
	}
	if _, bad := proxy.ParseExceptions(c.Exceptions...); len(bad) > 0 {
		return fmt.Errorf("urlsession: ProxyConfiguration: unreadable exception %q", bad[0])
	}
	if c.PACURL != "" {
		u, err := url.Parse(c.PACURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") {
			return fmt.Errorf("urlsession: ProxyConfiguration: PACURL is not an http, https or file URL")
		}
	}
	return nil
}

// config turns c into the machinery's configuration.
func (c *ProxyConfiguration) config() *proxy.Config {
	pc := &proxy.Config{}
	read := func(u *url.URL) proxy.Proxy {
		p, err := proxy.FromURL(u)
		if err != nil {
			return proxy.DirectProxy
		}
		return p
	}
	pc.HTTP, pc.HTTPS, pc.SOCKS = read(c.HTTPProxy), read(c.HTTPSProxy), read(c.SOCKSProxy)
	pc.Exceptions, _ = proxy.ParseExceptions(c.Exceptions...)
	if c.ExcludeSimpleHostnames {
		pc.Exceptions.ExcludeSimpleHostnames()
	}
	switch {
	case c.PACScript != "":
		script := c.PACScript
		pc.PAC = proxy.NewPACLoader(func(context.Context) (string, error) { return script, nil }, proxy.PACOptions{})
	case c.PACURL != "":
		pc.PAC = proxy.NewPACLoader(func(ctx context.Context) (string, error) { return fetchPAC(ctx, c.PACURL) }, proxy.PACOptions{})
	}
	return pc
}

// fetchPAC reads a PAC file from an http, https or file URL, directly.
func fetchPAC(ctx context.Context, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	var r io.ReadCloser
	switch u.Scheme {
	case "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return "", err
		}
		r = f
	case "http", "https":
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return "", err
		}
		tr := &http.Transport{Proxy: nil}
		defer tr.CloseIdleConnections()
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return "", fmt.Errorf("fetching the PAC file: %s", resp.Status)
		}
		r = resp.Body
	default:
		return "", errors.New("unsupported PAC URL scheme")
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, proxy.MaxPACBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > proxy.MaxPACBytes {
		return "", errors.New("the PAC file is too large")
	}
	return strings.TrimPrefix(string(b), "\ufeff"), nil
}
