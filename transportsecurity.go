package urlsession

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/urlsession-go/urlsession/internal/pipeline"
)

// TransportSecurity is a session's App Transport Security (ATS) policy:
// Apple's NSAppTransportSecurity Info.plist dictionary, kept per
// Configuration rather than per application. Each field's zero value is
// Apple's default, so the zero TransportSecurity enforces ATS as current
// Apple systems do:
//
//   - A request for an http://, ws:// or ftp:// URL whose host is a public
//     domain name fails with ErrAppTransportSecurityRequiresSecureConnection
//     (-1022) before anything is looked up, dialled or sent. Every hop of a
//     redirect is checked the same way, after the delegate's
//     WillPerformHTTPRedirection (which may change the URL to https), so a
//     redirect from https to a public cleartext URL fails with -1022 and is
//     never sent. A cached response does not make a refused URL load.
//   - An https://, wss://, ftps:// or ftpes:// connection must negotiate
//     TLS 1.2 or later with a forward-secret cipher suite (ECDHE key
//     exchange; every TLS 1.3 suite is one); otherwise the handshake is
//     abandoned before the request is sent and the task fails with
//     ErrSecureConnectionFailed (-1200). The *Error's Err is then, as for -1022, a
//     *TransportSecurityError that names the exception the host would need.
//   - Local networking is exempt, as on Apple's systems since iOS 10 and
//     macOS 10.12: hosts that are IP address literals (IPv4 or IPv6),
//     unqualified names (no dot, such as localhost) and names under .local.
//
// The URL checked is the request's: a request for an https URL through a
// plain-HTTP proxy is allowed, and the proxy's own URL is not checked.
// Requests a custom protocol (Configuration.Protocols) loads are not
// subject to ATS, nor are schemes other than http, https, ws, wss and the
// FTP ones. (Apple's ATS concerns HTTP alone, and its systems no longer
// load ftp:// URLs; cleartext FTP is held to the rules of cleartext HTTP
// here, and FTP over TLS to those of HTTPS.)
//
// One line turns ATS off, for every host that ExceptionDomains does not
// name:
//
//	cfg.TransportSecurity.AllowsArbitraryLoads = true
//
// The TLS requirements are checked against the name a connection verifies
// the server's certificate for: the URL's host, or TLSClientConfig's
// ServerName when that is set (and for the connection to an https proxy,
// the proxy's host). A TLS connection to an IP address literal carries no
// name: with DisallowsLocalNetworking it is held to the default TLS
// requirements, since exceptions for IP addresses can only lift the
// cleartext rule.
//
// When an exception lowers the minimum TLS version or drops forward
// secrecy, and the session sets no minimum version (TLSClientConfig's
// MinVersion, TLSMinimumSupportedProtocolVersion) or cipher suites of its
// own, the session offers those versions and the RSA key exchange suites
// to every server, as Apple's systems do; each host is then held to its own
// rules when the connection is made, and hosts ATS does not cover take what
// the server chooses.
//
// Apple's other keys: NSPinnedDomains is Configuration.PinnedDomains.
// NSAllowsArbitraryLoadsInWebContent and NSAllowsArbitraryLoadsForMedia
// concern web views and AVFoundation, which have no counterpart here.
// NSRequiresCertificateTransparency is not enforced, nor are ATS's rules
// on certificate key sizes; certificates are verified as TLSClientConfig
// and Go's crypto/x509 verify them. Apple ignores NSAllowsArbitraryLoads
// when NSAllowsLocalNetworking is present; a Go field has no presence, so
// AllowsArbitraryLoads always counts.
type TransportSecurity struct {
	// AllowsArbitraryLoads turns ATS off for every host that
	// ExceptionDomains does not name (NSAllowsArbitraryLoads); a named
	// host keeps its exception's rules, so an exception can keep ATS on for
	// some domains. The zero value, false, enforces ATS.
	AllowsArbitraryLoads bool

	// DisallowsLocalNetworking subjects local networking to ATS as well:
	// IP address literals, unqualified names and .local names then follow
	// the same rules as public domain names (cleartext refused unless an
	// exception allows it), as on iOS 9 and macOS 10.11. The zero value,
	// false, exempts them, as Apple's systems do now with or without
	// NSAllowsLocalNetworking.
	DisallowsLocalNetworking bool

	// ExceptionDomains sets the rules for named hosts
	// (NSExceptionDomains). A key is a domain name, an IP address
	// ("192.168.42.63", "2001:db8:12::34") or a CIDR range
	// ("2001:db8:12::/48"), without a port, scheme or wildcard; domain
	// names compare case-insensitively, and a trailing dot is part of the
	// name ("example.com." matches only "example.com."). A domain name key
	// matches that host, and with IncludesSubdomains every host under it;
	// the most specific match wins (the name itself before its parents,
	// the narrowest range). An exception replaces the global rules for the
	// hosts it matches: a field it leaves zero has Apple's default. A name
	// key never matches an IP address literal, nor an IP key a name, even
	// one that resolves to it. Nil means no exceptions. New copies the map.
	ExceptionDomains map[string]TransportSecurityException
}

// TransportSecurityException is one entry of
// TransportSecurity.ExceptionDomains: Apple's exception domain dictionary.
// The zero value of each field is Apple's default; an entry with every
// field zero applies the default rules to its hosts.
type TransportSecurityException struct {
	// IncludesSubdomains applies the exception to every host under the
	// domain as well (NSIncludesSubdomains): "example.com" then covers
	// "api.example.com" and "a.b.example.com". The zero value, false,
	// applies it to the named host alone.
	IncludesSubdomains bool

	// AllowsInsecureHTTPLoads lets http://, ws:// and ftp:// URLs of the
	// hosts load (NSExceptionAllowsInsecureHTTPLoads). The zero value, false,
	// refuses them with -1022. It does not change the TLS requirements.
	AllowsInsecureHTTPLoads bool

	// MinimumTLSVersion is the lowest TLS version a connection to the
	// hosts may negotiate (NSExceptionMinimumTLSVersion), one of
	// tls.VersionTLS10 ("TLSv1.0") to tls.VersionTLS13 ("TLSv1.3"). The
	// zero value means TLS 1.2.
	MinimumTLSVersion uint16

	// DoesNotRequireForwardSecrecy accepts cipher suites without forward
	// secrecy, those with RSA key exchange (NSExceptionRequiresForwardSecrecy
	// set to NO). The zero value, false, requires ECDHE key exchange (or
	// TLS 1.3).
	DoesNotRequireForwardSecrecy bool
}

// String returns the exception in Apple's Info.plist terms, only the keys
// whose value is not the default, such as
// "NSIncludesSubdomains=YES NSExceptionAllowsInsecureHTTPLoads=YES"; the
// zero exception is "".
func (e TransportSecurityException) String() string {
	var keys []string
	if e.IncludesSubdomains {
		keys = append(keys, "NSIncludesSubdomains=YES")
	}
	if e.AllowsInsecureHTTPLoads {
		keys = append(keys, "NSExceptionAllowsInsecureHTTPLoads=YES")
	}
	if e.MinimumTLSVersion != 0 {
		keys = append(keys, "NSExceptionMinimumTLSVersion="+tlsVersionKey(e.MinimumTLSVersion))
	}
	if e.DoesNotRequireForwardSecrecy {
		keys = append(keys, "NSExceptionRequiresForwardSecrecy=NO")
	}
	return strings.Join(keys, " ")
}

// tlsVersionKey returns Apple's name of a TLS version, such as "TLSv1.2".
func tlsVersionKey(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("%#04x", v)
}

// TransportSecurityError is the cause (Error.Err) of a load that App
// Transport Security refused, and says what would allow it.
type TransportSecurityError struct {
	// Host is the host refused: the URL's, or for a TLS connection the
	// name it verifies, which is "" for a connection to an IP address
	// literal.
	Host string
	// Domain is the ExceptionDomains key whose rules applied, or "" for
	// the global rules.
	Domain string
	// TLSVersion and CipherSuite are what the TLS connection negotiated;
	// both are zero for a cleartext load.
	TLSVersion  uint16
	CipherSuite uint16
	// Needs is the least exception that would allow the load: the fields
	// to set in the exception for Domain, or in a new one for Host when
	// Domain is "". A TLSVersion below TLS 1.0 cannot be allowed.
	Needs TransportSecurityException
}

// Error describes the refusal and the exception needed.
func (e *TransportSecurityError) Error() string {
	what := "cleartext HTTP"
	if e.TLSVersion != 0 {
		what = tls.VersionName(e.TLSVersion) + " with " + tls.CipherSuiteName(e.CipherSuite)
	}
	host := e.Host
	if host == "" {
		host = "an IP address"
	}
	msg := "App Transport Security refuses " + what + " to " + host
	if e.Domain != "" {
		msg += " (exception domain " + e.Domain + ")"
	}
	return msg + "; exception needed: " + e.Needs.String()
}

// Check reports whether the policy allows loading u, and over a TLS
// connection with the given version and cipher suite (as in
// tls.ConnectionState) when tlsVersion is not zero; with tlsVersion zero
// only the URL is checked. It returns nil when the load is allowed, and
// otherwise the *Error a session would report: code
// ErrAppTransportSecurityRequiresSecureConnection (-1022) for cleartext or
// ErrSecureConnectionFailed (-1200) for TLS, URL u (redacted), and a
// *TransportSecurityError as its Err, whose Needs tells which exception the
// host needs. Schemes other than http, https, ws, wss, ftp, ftps and ftpes
// are always allowed. Check is pure: it looks nothing up and connects nowhere.
func (ts TransportSecurity) Check(u *url.URL, tlsVersion, cipherSuite uint16) error {
	p := ts.compile()
	if p == nil || u == nil {
		return nil
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "ws", "ftp":
		return p.refuseCleartext(u)
	case "https", "wss", "ftps", "ftpes":
		if tlsVersion == 0 {
			return nil
		}
		if v := p.checkTLS(u.Hostname(), tlsVersion, cipherSuite); v != nil {
			return &Error{Code: ErrSecureConnectionFailed, URL: u.Redacted(), Err: v}
		}
	}
	return nil
}

// clone returns ts with its own copy of ExceptionDomains.
func (ts TransportSecurity) clone() TransportSecurity {
	ts.ExceptionDomains = maps.Clone(ts.ExceptionDomains)
	return ts
}

// validate reports the first malformed exception domain.
func (ts TransportSecurity) validate() error {
	for _, key := range slices.Sorted(maps.Keys(ts.ExceptionDomains)) {
		e := ts.ExceptionDomains[key]
		bad := func(why string) error {
			return fmt.Errorf("urlsession: TransportSecurity.ExceptionDomains key %q: %s", key, why)
		}
		switch {
		case key == "":
			return bad("empty")
		case strings.Contains(key, "*"):
			return bad("wildcards are not allowed; set IncludesSubdomains on the parent domain")
		case strings.Contains(key, "/"):
			if _, err := netip.ParsePrefix(key); err != nil {
				return bad("not a CIDR range")
			}
		case strings.Contains(key, ":"):
			if _, err := netip.ParseAddr(strings.Trim(key, "[]")); err != nil {
				return bad("a port or scheme is not allowed")
			}
		case strings.ContainsAny(key, " \t\r\n?#@"):
			return bad("not a host name")
		}
		switch e.MinimumTLSVersion {
		case 0, tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13:
		default:
			return bad(fmt.Sprintf("MinimumTLSVersion %#04x is not a TLS version", e.MinimumTLSVersion))
		}
	}
	return nil
}

// atsPolicy is a TransportSecurity prepared for lookups.
type atsPolicy struct {
	arbitrary   bool
	strictLocal bool
	names       map[string]TransportSecurityException // lower-case domain keys
	nets        []atsNet                              // IP and CIDR keys, narrowest first
	lowestTLS   uint16                                // lowest exception minimum below TLS 1.2, or 0
	noFS        bool                                  // an exception drops forward secrecy
}

type atsNet struct {
	key    string
	prefix netip.Prefix
	ex     TransportSecurityException
}

// atsRules is what the policy asks of one host.
type atsRules struct {
	exempt bool   // ATS does not apply
	domain string // the exception's key, "" for the global rules
	ex     TransportSecurityException
}

// compile prepares ts for lookups. It returns nil when ts enforces nothing:
// arbitrary loads with no exception domains. Malformed keys (which
// Validate refuses) are skipped.
func (ts TransportSecurity) compile() *atsPolicy {
	if ts.AllowsArbitraryLoads && len(ts.ExceptionDomains) == 0 {
		return nil
	}
	p := &atsPolicy{arbitrary: ts.AllowsArbitraryLoads, strictLocal: ts.DisallowsLocalNetworking}
	for key, e := range ts.ExceptionDomains {
		if m := e.MinimumTLSVersion; m != 0 && m < tls.VersionTLS12 && (p.lowestTLS == 0 || m < p.lowestTLS) {
			p.lowestTLS = m
		}
		p.noFS = p.noFS || e.DoesNotRequireForwardSecrecy
		if prefix, ok := parseATSNet(key); ok {
			p.nets = append(p.nets, atsNet{key, prefix, e})
			continue
		}
		if p.names == nil {
			p.names = make(map[string]TransportSecurityException)
		}
		p.names[strings.ToLower(key)] = e
	}
	slices.SortFunc(p.nets, func(a, b atsNet) int {
		return cmp.Or(cmp.Compare(b.prefix.Bits(), a.prefix.Bits()), strings.Compare(a.key, b.key))
	})
	return p
}

// parseATSNet parses an exception key that is an IP address or a CIDR
// range.
func parseATSNet(key string) (netip.Prefix, bool) {
	if strings.Contains(key, "/") {
		p, err := netip.ParsePrefix(key)
		if err != nil {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(strings.Trim(key, "[]"))
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// rulesFor returns the rules for host, a URL's Hostname or a TLS server
// name; "" is a TLS connection to an IP address literal.
func (p *atsPolicy) rulesFor(host string) atsRules {
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.WithZone("").Unmap()
		for _, n := range p.nets {
			if n.prefix.Contains(ip) {
				return atsRules{domain: n.key, ex: n.ex}
			}
		}
		return p.global(true)
	}
	host = strings.ToLower(host)
	if e, ok := p.names[host]; ok {
		return atsRules{domain: host, ex: e}
	}
	for rest := host; ; {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		if e, ok := p.names[rest]; ok && e.IncludesSubdomains {
			return atsRules{domain: rest, ex: e}
		}
	}
	return p.global(localName(host))
}

// global returns the rules for a host no exception names.
func (p *atsPolicy) global(local bool) atsRules {
	return atsRules{exempt: p.arbitrary || (local && !p.strictLocal)}
}

// localName reports whether a host name is local networking: unqualified
// (no dot but a trailing one) or under .local.
func localName(host string) bool {
	host = strings.TrimSuffix(host, ".")
	return !strings.Contains(host, ".") || strings.HasSuffix(host, ".local")
}

// refuseCleartext returns the -1022 error for an http, ws or ftp URL the
// policy refuses, and nil for any other URL. A URL without a host is not ATS's to
// refuse: loading it fails as a bad URL.
func (p *atsPolicy) refuseCleartext(u *url.URL) error {
	switch strings.ToLower(u.Scheme) {
	case "http", "ws", "ftp":
	default:
		return nil
	}
	host := u.Hostname()
	if host == "" {
		return nil
	}
	r := p.rulesFor(host)
	if r.exempt || r.ex.AllowsInsecureHTTPLoads {
		return nil
	}
	return &Error{
		Code: ErrAppTransportSecurityRequiresSecureConnection,
		URL:  u.Redacted(),
		Err: &TransportSecurityError{
			Host: host, Domain: r.domain,
			Needs: TransportSecurityException{AllowsInsecureHTTPLoads: true},
		},
	}
}

// checkTLS returns what is wrong with a TLS connection to host, or nil.
func (p *atsPolicy) checkTLS(host string, version, suite uint16) *TransportSecurityError {
	r := p.rulesFor(host)
	if r.exempt {
		return nil
	}
	var needs TransportSecurityException
	if version < cmp.Or(r.ex.MinimumTLSVersion, tls.VersionTLS12) {
		needs.MinimumTLSVersion = version
	}
	if !r.ex.DoesNotRequireForwardSecrecy && !forwardSecret(version, suite) {
		needs.DoesNotRequireForwardSecrecy = true
	}
	if needs == (TransportSecurityException{}) {
		return nil
	}
	return &TransportSecurityError{Host: host, Domain: r.domain, TLSVersion: version, CipherSuite: suite, Needs: needs}
}

// forwardSecret reports whether a cipher suite negotiated at a TLS version
// has forward secrecy: every TLS 1.3 suite, and the ECDHE ones before.
func forwardSecret(version, suite uint16) bool {
	return version >= tls.VersionTLS13 || strings.HasPrefix(tls.CipherSuiteName(suite), "TLS_ECDHE_")
}

// tlsConfig returns the TLS configuration for a session's transport: tc
// (nil for Go's defaults), cloned, with the policy's TLS requirements
// checked at each handshake before tc's own VerifyConnection, and, when
// exceptions ask for them and tc sets none of its own, the older versions
// and the suites without forward secrecy offered. It returns tc itself
// when the policy enforces nothing.
func (ts TransportSecurity) tlsConfig(tc *tls.Config) *tls.Config {
	p := ts.compile()
	if p == nil {
		return tc
	}
	if tc == nil {
		tc = new(tls.Config)
	} else {
		tc = tc.Clone()
	}
	if tc.MinVersion == 0 && p.lowestTLS != 0 {
		tc.MinVersion = p.lowestTLS
	}
	if tc.CipherSuites == nil && p.noFS {
		tc.CipherSuites = withoutForwardSecrecySuites()
	}
	own := tc.VerifyConnection
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if v := p.checkTLS(cs.ServerName, cs.Version, cs.CipherSuite); v != nil {
			return &Error{Code: ErrSecureConnectionFailed, Err: v}
		}
		if own != nil {
			return own(cs)
		}
		return nil
	}
	return tc
}

// withoutForwardSecrecySuites returns the cipher suites a session offers
// when an exception drops forward secrecy: Go's default TLS 1.2 suites and
// the RSA key exchange suites of ATS's list that Go implements, which Go
// no longer offers by default.
func withoutForwardSecrecySuites() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		if slices.Contains(s.SupportedVersions, tls.VersionTLS12) {
			ids = append(ids, s.ID)
		}
	}
	return append(ids,
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA)
}

// transportSecurityStage returns the pipeline stage that refuses cleartext
// loads the configuration's policy does not allow.
func transportSecurityStage(cfg *Configuration) pipeline.Stage {
	st := &pipeline.TransportSecurity{Protocols: protocols(cfg.Protocols)}
	if p := cfg.TransportSecurity.compile(); p != nil {
		st.Refuse = p.refuseCleartext
	}
	return st
}
