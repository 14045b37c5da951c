package credstore

import (
	"fmt"
	"strconv"
	"strings"
)

// Authentication methods of a protection space. The values are Apple's
// NSURLAuthenticationMethod* strings, so they can be compared with Apple's
// documentation and with values that came from Apple platforms.
const (
	// AuthMethodDefault is the protocol's default method. An empty
	// AuthenticationMethod means AuthMethodDefault.
	AuthMethodDefault = "NSURLAuthenticationMethodDefault"
	// AuthMethodHTTPBasic is HTTP Basic authentication (RFC 7617).
	AuthMethodHTTPBasic = "NSURLAuthenticationMethodHTTPBasic"
	// AuthMethodHTTPDigest is HTTP Digest authentication (RFC 7616).
	AuthMethodHTTPDigest = "NSURLAuthenticationMethodHTTPDigest"
	// AuthMethodHTMLForm is HTML form authentication; the URL loader never
	// generates a challenge for it, but applications may store credentials
	// under it.
	AuthMethodHTMLForm = "NSURLAuthenticationMethodHTMLForm"
	// AuthMethodNTLM is NTLM authentication.
	AuthMethodNTLM = "NSURLAuthenticationMethodNTLM"
	// AuthMethodNegotiate is Negotiate (SPNEGO: Kerberos or NTLM).
	AuthMethodNegotiate = "NSURLAuthenticationMethodNegotiate"
	// AuthMethodClientCertificate is TLS client-certificate authentication.
	AuthMethodClientCertificate = "NSURLAuthenticationMethodClientCertificate"
	// AuthMethodServerTrust is TLS server-trust evaluation.
	AuthMethodServerTrust = "NSURLAuthenticationMethodServerTrust"
)

// Proxy types of a proxy protection space (its ProxyType field). They are
// lower case, like the Protocol of a server space; Apple's corresponding
// constants are NSURLProtectionSpaceHTTPProxy, ...HTTPSProxy, ...SOCKSProxy
// and ...FTPProxy.
const (
	// ProxyHTTP is a proxy reached over plain HTTP.
	ProxyHTTP = "http"
	// ProxyHTTPS is a proxy reached over HTTPS (TLS to the proxy).
	ProxyHTTPS = "https"
	// ProxySOCKS is a SOCKS proxy (SOCKS5 user name and password).
	ProxySOCKS = "socks"
	// ProxyFTP is an FTP proxy.
	ProxyFTP = "ftp"
)

// ProtectionSpace is a server or a proxy, or a realm on one, that requires
// authentication: Apple's URLProtectionSpace. It is a comparable value; the
// Store compares spaces after [ProtectionSpace.Normalize], so two spaces that
// differ only in host case, protocol case, an omitted default port or an
// empty authentication method are the same space.
//
// A server space has an empty ProxyType; a proxy space has a non-empty
// ProxyType and no Protocol.
type ProtectionSpace struct {
	// Host is the server's or proxy's host name or IP address (an IPv6
	// address without brackets). Compared case-insensitively.
	Host string
	// Port is the server's or proxy's port. Zero means the protocol's
	// default port when Protocol is http (80), https (443), ftp (21) or
	// ftps (990); otherwise zero is kept as is.
	Port int
	// Protocol is the server's scheme in lower case: "http", "https",
	// "ftp", ... Empty for a proxy space.
	Protocol string
	// Realm is the protocol-specific subdivision of a server: for HTTP, the
	// realm parameter of the challenge. Compared case-sensitively, as
	// RFC 9110 specifies. Empty when the protocol has no realms.
	Realm string
	// AuthenticationMethod is one of the AuthMethod* constants; empty means
	// AuthMethodDefault.
	AuthenticationMethod string
	// ProxyType is empty for a server space, and one of ProxyHTTP,
	// ProxyHTTPS, ProxySOCKS or ProxyFTP for a proxy space.
	ProxyType string
}

// defaultPorts are the ports a zero Port stands for, by protocol.
var defaultPorts = map[string]int{"http": 80, "https": 443, "ftp": 21, "ftps": 990}

// Normalize returns the canonical form of p under which a Store keys its
// credentials: Host, Protocol and ProxyType in lower case, brackets removed
// from an IPv6 Host, Protocol cleared for a proxy space, a zero Port replaced
// by the protocol's default port when the protocol is known, and an empty
// AuthenticationMethod replaced by AuthMethodDefault. Realm is unchanged.
// Normalize is idempotent. The keys of [Store.AllCredentials] are normalised
// spaces; the Store's other methods normalise their argument themselves.
func (p ProtectionSpace) Normalize() ProtectionSpace {
	p.Host = strings.ToLower(p.Host)
	if len(p.Host) >= 2 && p.Host[0] == '[' && p.Host[len(p.Host)-1] == ']' {
		p.Host = p.Host[1 : len(p.Host)-1]
	}
	p.Protocol = strings.ToLower(p.Protocol)
	p.ProxyType = strings.ToLower(p.ProxyType)
	if p.ProxyType != "" {
		p.Protocol = ""
	}
	if p.Port == 0 && p.ProxyType == "" {
		p.Port = defaultPorts[p.Protocol]
	}
	if p.AuthenticationMethod == "" {
		p.AuthenticationMethod = AuthMethodDefault
	}
	return p
}

// IsProxy reports whether p is a proxy space (ProxyType is not empty).
func (p ProtectionSpace) IsProxy() bool { return p.ProxyType != "" }

// ReceivesCredentialSecurely reports whether a credential for p travels
// protected from eavesdroppers: the connection is TLS (protocol https or
// ftps, or an HTTPS proxy), or the method never sends the password itself in
// a recoverable form (HTTP Digest) or involves no password at all and only
// occurs on TLS (client certificate, server trust). This is WebKit's
// ProtectionSpace rule (https, ftps, HTTPS proxy, or Digest) extended to
// the two TLS-only methods. Basic, Default, HTML form, NTLM and Negotiate
// over a plain connection report false.
func (p ProtectionSpace) ReceivesCredentialSecurely() bool {
	p = p.Normalize()
	if p.IsProxy() {
		if p.ProxyType == ProxyHTTPS {
			return true
		}
	} else if p.Protocol == "https" || p.Protocol == "ftps" {
		return true
	}
	switch p.AuthenticationMethod {
	case AuthMethodHTTPDigest, AuthMethodClientCertificate, AuthMethodServerTrust:
		return true
	}
	return false
}

// String describes p for diagnostics, for example
// `https://example.com:443 realm="r" NSURLAuthenticationMethodHTTPBasic` or
// `socks proxy 10.0.0.1:1080 realm="" NSURLAuthenticationMethodDefault`.
// It contains no secret.
func (p ProtectionSpace) String() string {
	var b strings.Builder
	hostport := p.Host
	if strings.Contains(hostport, ":") {
		hostport = "[" + hostport + "]"
	}
	hostport += ":" + strconv.Itoa(p.Port)
	if p.IsProxy() {
		b.WriteString(p.ProxyType)
		b.WriteString(" proxy ")
		b.WriteString(hostport)
	} else {
		b.WriteString(p.Protocol)
		b.WriteString("://")
		b.WriteString(hostport)
	}
	fmt.Fprintf(&b, " realm=%q ", p.Realm)
	method := p.AuthenticationMethod
	if method == "" {
		method = AuthMethodDefault
	}
	b.WriteString(method)
	return b.String()
}
