package urlsession

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urlsession-go/urlsession/cookiestore"
	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/hsts"
	"github.com/urlsession-go/urlsession/urlcache"
)

// Default values a Configuration's zero fields stand for. They are Apple's
// defaults for URLSessionConfiguration.
const (
	// DefaultTimeoutIntervalForRequest is the default idle timeout: how long a
	// task may wait for more data before it fails with ErrTimedOut.
	DefaultTimeoutIntervalForRequest = 60 * time.Second
	// DefaultTimeoutIntervalForResource is the default limit on a task's whole
	// transfer, counted from its first Resume.
	DefaultTimeoutIntervalForResource = 7 * 24 * time.Hour
	// DefaultHTTPMaximumConnectionsPerHost is the default number of
	// simultaneous HTTP/1.1 connections to one host.
	DefaultHTTPMaximumConnectionsPerHost = 6
	// DefaultMaxCollectedBodySize is the default bound on a response body
	// collected in memory (see Configuration.MaxCollectedBodySize): 256 MiB.
	DefaultMaxCollectedBodySize int64 = 256 << 20
)

// Configuration holds the policies of a Session: timeouts, connection limits,
// headers added to every request, TLS, proxy and custom protocols. It is
// Apple's URLSessionConfiguration.
//
// A Configuration is a plain value. New copies it (deeply, with Clone), so
// changing a Configuration after creating a session from it has no effect on
// that session, as in Apple's API. The zero value of each field is written
// next to it and, but for the three stores, is Apple's default: a zero
// Configuration behaves as DefaultConfiguration's without a URL cache,
// cookie storage or credential storage, since a nil store means none, as
// Apple's nil does. DefaultConfiguration and EphemeralConfiguration return
// configurations with Apple's defaults and stores.
type Configuration struct {
	// TimeoutIntervalForRequest is the idle timeout: a task fails with
	// ErrTimedOut when no data arrives (or can be sent) for this long. The
	// timer restarts whenever data moves. Zero means 60 seconds. A request's
	// own timeout (RequestOptions.TimeoutInterval) takes precedence.
	TimeoutIntervalForRequest time.Duration

	// TimeoutIntervalForResource limits the whole transfer of a task,
	// redirects included, counted from its first Resume; time spent
	// suspended is not counted. Zero means 7 days.
	TimeoutIntervalForResource time.Duration

	// HTTPMaximumConnectionsPerHost limits the simultaneous HTTP/1.1
	// connections to one host (HTTP/2 multiplexes requests on one connection
	// and is not limited by it). Zero means 6; a negative value means no
	// limit.
	HTTPMaximumConnectionsPerHost int

	// HTTPAdditionalHeaders are added to every request that does not already
	// set a header of the same name. Names compare case-insensitively
	// everywhere: New canonicalises them (http.CanonicalHeaderKey), joining
	// fields whose names differ only in case (the canonical name's values
	// first), and a request's own header fields are sent under canonical
	// names too, so "accept" in a header literal is the request's Accept.
	// Headers the session manages itself (see IsReservedHeader) are refused
	// in any case: New reports them through Validate's error.
	HTTPAdditionalHeaders http.Header

	// TLSClientConfig is the TLS configuration used for https connections:
	// root CAs, client certificates, server name. Nil means Go's defaults
	// with the system roots. The session clones it and sets NextProtos for
	// HTTP/2 negotiation itself. Its verification (RootCAs,
	// InsecureSkipVerify, VerifyPeerCertificate, VerifyConnection) is the
	// default evaluation of a ServerTrust challenge; its Certificates or
	// GetClientCertificate, when set, answer a server's certificate request
	// without a ClientCertificate challenge (see ServerTrust and
	// Challenge.AcceptableCAs).
	TLSClientConfig *tls.Config

	// PinnedDomains pins the identities of the certificates that servers of
	// the given domains (host names or IP addresses, compared
	// case-insensitively) must present, as Apple's NSPinnedDomains does:
	// see PinnedDomain. A connection whose chain does not match fails with
	// ErrServerCertificateUntrusted before any request is sent, whatever a
	// ServerTrust challenge's delegate decides. Nil means no pinning.
	PinnedDomains map[string]PinnedDomain

	// TLSMinimumSupportedProtocolVersion is the lowest TLS version the
	// session negotiates, such as tls.VersionTLS12. Zero means Go's default
	// (TLS 1.2). It overrides TLSClientConfig.MinVersion when set.
	TLSMinimumSupportedProtocolVersion uint16

	// TLSMaximumSupportedProtocolVersion is the highest TLS version the
	// session negotiates. Zero means the highest Go supports (TLS 1.3). It
	// overrides TLSClientConfig.MaxVersion when set.
	TLSMaximumSupportedProtocolVersion uint16

	// DisableHTTP2 turns off HTTP/2. By default https connections offer
	// HTTP/2 through ALPN and use it when the server agrees; plain http uses
	// HTTP/1.1.
	DisableHTTP2 bool

	// DisableHTTP3 turns off HTTP/3. By default (false) an https request
	// goes over HTTP/3, on QUIC over UDP, when its origin advertised an
	// HTTP/3 alternative on its own host with an Alt-Svc response header
	// (RFC 7838; the session remembers it for its max-age, 24 hours when
	// none is given, until a "clear" or Reset) or when the request assumes
	// HTTP/3 (RequestOptions.AssumesHTTP3Capable). A request that needs a
	// new QUIC connection waits 300 ms for the server to answer, then goes
	// over TCP (HTTP/2 or HTTP/1.1) while the handshake goes on for later
	// requests; a handshake that fails leaves the alternative unused for
	// the origin for 5 minutes, doubling with each failure in a row. A
	// request whose HTTP/3 exchange fails goes over TCP only when it has
	// no body and an idempotent method, or was not sent at all (the
	// connection was going away). HTTP/3 is never used for a request
	// through a proxy, a WebSocket upgrade, a configuration with a
	// DialContext of its own (which opens TCP connections only) and no
	// DialUDPContext, or a TLSMaximumSupportedProtocolVersion below TLS
	// 1.3. Its connections
	// verify the server as TCP connections do: TLSClientConfig,
	// PinnedDomains, TransportSecurity and the ServerTrust challenge.
	// 0-RTT is not used unless EnablesEarlyData says so. quic-go writes
	// one line through the standard log package when the system caps UDP
	// socket buffers below the 7 MiB it asks for (Linux's
	// net.core.rmem_max and wmem_max); the environment variable
	// QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=1 silences it.
	DisableHTTP3 bool

	// HTTP3Only makes every request go over HTTP/3, without Alt-Svc and
	// without falling back to TCP, as curl's --http3-only: a request that
	// cannot (an http URL, a proxy, a failed QUIC handshake) fails with
	// ErrCannotConnectToHost, or with the certificate error when the
	// server is not trusted (ErrTimedOut when ConnectTimeout passed).
	// DisableHTTP3 takes precedence.
	HTTP3Only bool

	// EnablesEarlyData lets GET and HEAD requests without a body go over
	// HTTP/3 in 0-RTT (Apple's enablesEarlyData): the session keeps the
	// TLS session tickets its QUIC servers give, and a new connection to a
	// server that gave one, and allows early data, resumes the TLS session
	// and carries such a request in its first packets, a round trip
	// before the handshake ends. Early data can be replayed by an attacker
	// who captured it (RFC 8446 section 8), so it is only for requests
	// that change nothing on the server; other requests on the connection
	// wait for the handshake, as they do without it. A server that rejects
	// the early data has not acted on it: the request goes again on a new
	// connection, with a full handshake. The server's certificate is
	// evaluated (ServerTrust challenge, PinnedDomains) when the handshake
	// ends, after the early request was sent: as for the session it
	// resumes, whose certificate was evaluated. Reset forgets the
	// tickets; Flush keeps them. TCP connections send no early data. A
	// program built with the race detector may see it report a race
	// inside quic-go on such a connection (quic-go issue 4303: the
	// server's transport parameters replace the remembered ones while
	// early streams read them).
	EnablesEarlyData bool

	// TransportSecurity is the session's App Transport Security policy
	// (Apple's NSAppTransportSecurity). The zero value enforces ATS as
	// Apple's systems do: an http:// or ws:// request to a public host name
	// fails with ErrAppTransportSecurityRequiresSecureConnection (-1022)
	// before anything is sent, and https needs TLS 1.2 or later with
	// forward secrecy; IP addresses, unqualified names and .local names
	// are exempt. TransportSecurity.AllowsArbitraryLoads = true turns it
	// off. See TransportSecurity.
	TransportSecurity TransportSecurity

	// Proxy returns the proxy to use for a request, as http.Transport.Proxy
	// does; a nil URL means a direct connection. The URL's scheme is any
	// ProxyConfiguration accepts (http, https, socks4, socks4a, socks5,
	// socks5h), and an http URL without a port means port 80. An error it
	// returns fails the task with ErrCannotConnectToHost. When set, it
	// takes precedence over ProxyConfiguration. Use NoProxy for direct
	// connections regardless of the system settings.
	Proxy func(*http.Request) (*url.URL, error)

	// ProxyConfiguration describes the session's proxies: Apple's
	// connectionProxyDictionary. Nil means the system settings
	// (SystemProxyConfiguration: the environment as curl reads it, else
	// GNOME's settings), read when the session first needs them; a
	// non-nil zero value means direct connections. Ignored when Proxy is
	// set. See ProxyConfiguration for the kinds of proxies, PAC scripts,
	// exceptions, and how a proxy's 407 becomes a challenge.
	ProxyConfiguration *ProxyConfiguration

	// WaitsForConnectivity makes a task that finds no network (the network
	// or host is unreachable, or the host name cannot be resolved) wait and
	// retry instead of failing: the delegate's TaskIsWaitingForConnectivity
	// is called once and the task retries with back-off until it connects
	// or its resource timeout passes. When false such a task fails at once.
	WaitsForConnectivity bool

	// DisallowCellularAccess refuses connections that leave by a cellular
	// network: Apple's allowsCellularAccess set to false (negated, so that
	// the zero value is Apple's default). DisallowExpensiveNetworkAccess
	// refuses those over an expensive one, which on Linux is a network
	// NetworkManager counts metered (set so, or guessed: a phone's
	// hotspot): Apple's allowsExpensiveNetworkAccess set to false. The
	// network is that of the interface the connection leaves by, which
	// NetworkManager (asked over the system bus, its answer kept a few
	// seconds) calls a modem, or metered. A refused connection fails its
	// request with ErrNotConnectedToInternet, whose
	// Error.NetworkUnavailableReason says why, or, with
	// WaitsForConnectivity, waits for another network. Where
	// NetworkManager cannot be asked, no connection is refused. They apply
	// to the session's TCP connections (http, https, ftp, WebSocket and
	// stream tasks, proxies; those of a DialContext too, when their local
	// address is an IP address), not to HTTP/3. A request can refuse them
	// on its own (RequestOptions). A background session's
	// jobs carry them: the daemon retries a refused transfer later, as
	// after any network failure.
	DisallowCellularAccess         bool
	DisallowExpensiveNetworkAccess bool

	// Protocols are custom protocol handlers, consulted in order before the
	// built-in http and https handling (Apple's protocolClasses). The first
	// whose CanHandle accepts a request loads it.
	Protocols []Protocol

	// RequestCachePolicy is the cache policy of requests that carry no
	// RequestOptions (a plain *http.Request, Apple's "requests created from
	// a URL"); a request with RequestOptions uses its own CachePolicy. The
	// zero value is UseProtocolCachePolicy.
	RequestCachePolicy CachePolicy

	// URLCache stores responses (Apple's urlCache). Nil disables caching.
	// DefaultConfiguration sets SharedURLCache(); EphemeralConfiguration a
	// private memory-only cache.
	URLCache *urlcache.Cache

	// HTTPCookieStorage keeps cookies (Apple's httpCookieStorage). Nil
	// means no cookies are stored or sent. DefaultConfiguration sets
	// SharedCookieStorage(); EphemeralConfiguration a private memory-only
	// storage.
	HTTPCookieStorage *cookiestore.Store

	// HTTPCookieAcceptPolicy decides which response cookies are stored
	// (Apple's httpCookieAcceptPolicy; it takes the place of the storage's
	// own policy). The zero value is CookieAcceptOnlyFromMainDocumentDomain,
	// Apple's default: a cookie is stored when its URL's host is in the
	// registrable domain of the request's main document
	// (RequestOptions.MainDocumentURL), or of the request's own URL when
	// there is none. CookieAcceptAlways and CookieAcceptNever are the
	// others. Cookies set on redirect responses are stored and sent on the
	// next hop.
	HTTPCookieAcceptPolicy CookieAcceptPolicy

	// DoNotSendCookies makes requests go without the stored cookies that
	// match them (Apple's httpShouldSetCookies = false). The zero value,
	// false, sends them, Apple's default; response cookies are stored
	// either way, as HTTPCookieAcceptPolicy decides.
	DoNotSendCookies bool

	// URLCredentialStorage keeps credentials for authentication (Apple's
	// urlCredentialStorage). Nil means none. DefaultConfiguration sets
	// SharedCredentialStorage(); EphemeralConfiguration a private
	// memory-only storage.
	URLCredentialStorage *credstore.Store

	// HSTSStorage keeps the hosts that asked, with HTTP Strict Transport
	// Security (RFC 6797), to be reached over https only: a request to
	// such a host over http goes over https instead (port 80 becomes 443;
	// a WebSocket task's ws:// goes over wss://), before anything is
	// sent, redirects included, as Apple's URL loading
	// system upgrades it; the Strict-Transport-Security field of each
	// https response received over a connection whose certificate the
	// system verified is recorded (not over plain http, not for an IP
	// address; and not from a connection whose certificate went to a
	// ServerTrust challenge's delegate, nor with InsecureSkipVerify, where
	// crypto/tls did not verify it: RFC 6797 section 8.1 records only
	// connections without certificate errors). Nil means none. DefaultConfiguration sets
	// SharedHSTSStorage(); EphemeralConfiguration a private memory-only
	// one. Reset does not empty it.
	HSTSStorage *hsts.Store

	// UserAgent is the User-Agent header sent when neither the request nor
	// HTTPAdditionalHeaders sets one. Empty means "<program name>
	// urlsession/<version>".
	UserAgent string

	// MaxCollectedBodySize bounds the response body a session collects in
	// memory: for Data, Upload, UploadFile and tasks with a completion
	// handler, counted after content decoding (so a small compressed body
	// that expands without end is stopped too). A larger body fails the task
	// with ErrDataLengthExceedsMaximum (-1103), before anything is read when
	// Content-Length announces it. Bodies that stream (a DataDelegate's
	// DidReceiveData alone, Bytes, Client) are not bounded. Zero means
	// DefaultMaxCollectedBodySize; a negative value means no bound.
	MaxCollectedBodySize int64

	// DialContext, when set, opens the network connections of http and
	// https requests (to the proxy, when one is used: its address is then
	// addr), as
	// http.Transport.DialContext does: it may pin a host name to an address,
	// force IPv4 or IPv6, or connect in memory. Nil means a net.Dialer with
	// 30 second keep-alives.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// DialUDPContext, when set, prepares the UDP side of each HTTP/3
	// connection, as DialContext opens TCP connections: it is called with
	// network "udp" and addr, the "host:port" of the server's HTTP/3
	// endpoint (its host a name or an IP address), and returns the socket
	// the connection sends and receives its datagrams on and the server's
	// address on that socket. It may resolve the host as it likes, pin it
	// to an address or keep to one IP version. The connection owns the
	// socket from then on and closes it, also when the QUIC handshake
	// fails. An error from DialUDPContext ends the HTTP/3 attempt as a
	// failed handshake does: the request goes over TCP, or with HTTP3Only
	// fails with that error. ctx carries the handshake's time limit (and
	// ConnectTimeout); it is not the request's context.
	// Nil means the host resolved with net.DefaultResolver (an IPv4
	// address preferred) and a socket from net.ListenUDP. A configuration
	// with a DialContext of its own uses HTTP/3 only when DialUDPContext
	// is set too.
	DialUDPContext func(ctx context.Context, network, addr string) (net.PacketConn, net.Addr, error)

	// ConnectTimeout bounds the start of each new connection, up to the
	// server's first answer: over TCP (http, https, ftp, and the
	// connection to a proxy), name resolution and the connect of each
	// DialContext call; over HTTP/3, name resolution (or
	// DialUDPContext) and the QUIC handshake's wait for the server's
	// packets (the handshake fails when none arrives for this long). The
	// TLS handshake that follows a TCP connect is not bounded by it. A
	// connection that is not up in time fails the request with
	// ErrTimedOut, unless HTTP/3 was only being tried, when the request
	// goes over TCP. Zero means no bound of its own: the request's
	// timeouts, the TCP stack's, and 10 seconds for a QUIC handshake.
	ConnectTimeout time.Duration

	// MultipathServiceType is Apple's multipathServiceType: with a value
	// other than MultipathNone, the session's TCP connections (http,
	// https, ftp, WebSocket and stream tasks, and connections to proxies)
	// are Multipath TCP (RFC 8684) where the system allows it, and plain
	// TCP where it does not or the server does not speak it. On Linux
	// (net.mptcp.enabled) the kernel's path manager, configured with `ip
	// mptcp`, decides which paths carry the subflows, so the three values
	// open the same kind of connection. It does not apply to a
	// DialContext of the caller's, nor to HTTP/3; values other than the
	// four fail Validate.
	MultipathServiceType MultipathServiceType

	// NetworkServiceType is the kind of traffic the session's requests
	// carry unless a request's RequestOptions say otherwise (Apple's
	// networkServiceType); the session's TCP connections (http, https,
	// ftp, WebSocket and stream tasks, and connections to proxies) are
	// marked with its DiffServ code point (see NetworkServiceType). The
	// zero value, NetworkServiceDefault, marks nothing. It does not apply
	// to a DialContext of the caller's, nor to HTTP/3, whose packets carry
	// the ECN marking of QUIC's congestion control in the same byte; values
	// that are not Apple's fail Validate.
	NetworkServiceType NetworkServiceType

	// ResumableUploadVersion is the interop version of "Resumable Uploads
	// for HTTP" (draft-ietf-httpbis-resumable-upload) that upload tasks
	// from memory or from a file offer servers, as Apple's platforms do
	// since iOS 17 (see UploadTask): 3, 5 or 6. Zero means 6, the newest,
	// which Apple's platforms send; a negative value turns resumable
	// uploads off, so that upload requests carry none of the protocol's
	// fields. Other values fail Validate.
	ResumableUploadVersion int

	// MaximumBytesPerSecond limits how fast the session's download tasks,
	// all together, read response bodies, in bytes per second; a task may
	// have a lower limit of its own (DownloadTask.SetMaximumBytesPerSecond).
	// The limit is shared fairly among the tasks reading, and never lets
	// more than a quarter second's worth through at once. Zero means no
	// limit; a negative value fails Validate.
	MaximumBytesPerSecond int64

	// IgnoreServerDigests turns off the check of download tasks' bodies
	// against the Content-Digest and Repr-Digest fields (RFC 9530) that
	// servers send. By default a body that does not match fails its task
	// with ErrDigestMismatch (see DownloadTask). A digest the caller
	// expects is checked either way.
	IgnoreServerDigests bool

	// DownloadSegments, when above 1, makes download tasks fetch a body in
	// up to that many byte ranges over as many connections, written at
	// their offsets in the one file, as aria2 and curl --parallel do: when
	// the first response is a 200 of a GET (without a Range of the
	// caller's) with a known length of at least 256 KiB, Accept-Ranges:
	// bytes, a strong validator and no content coding. The first range is
	// the rest of that response; the others are requests of their own
	// through the session (cookies, credentials and redirects apply), with
	// If-Range, so that a resource changed meanwhile is never spliced: a
	// server that answers a range with a 200 gets the download continued
	// as one stream of that response. DidWriteData reports the ranges'
	// sum. A range that fails on the network is retried on its own; resume
	// data of a download that failed with gaps in its file records every
	// range, and a task resuming from it fetches each missing range again
	// over its own connection. A task can override it
	// (DownloadTask.SetSegments). Zero or 1
	// means one stream; values over MaxDownloadSegments or below zero fail
	// Validate.
	DownloadSegments int

	// IsDiscretionary lets the daemon run a background session's
	// transfers when conditions are good (on external power, where the
	// system tells), as Apple's isDiscretionary does. The zero value,
	// false, runs them as soon as the daemon has room. Other sessions
	// ignore it.
	IsDiscretionary bool

	// SessionSendsLaunchEvents makes the daemon run LaunchCommand when a
	// background session's events wait and no process is attached to it
	// (Apple's sessionSendsLaunchEvents, whose relaunch of the app this is
	// the Linux form of). BackgroundConfiguration sets it, as Apple's
	// default is true; without a LaunchCommand nothing is run. Other
	// sessions ignore it.
	SessionSendsLaunchEvents bool

	// LaunchCommand is the program and arguments the daemon runs for
	// SessionSendsLaunchEvents, with URLSESSION_IDENTIFIER set to the
	// session's identifier in its environment; the program must be an
	// absolute path. The daemon runs it detached, at most once a minute at
	// first, the delay doubling per launch. Nil means no command. Other
	// sessions ignore it.
	LaunchCommand []string

	// SharedContainerIdentifier names a directory that several programs
	// of the user share (Apple's app group container), under
	// $XDG_DATA_HOME/urlsession/containers/: a background session's
	// downloads are written there instead of the daemon's own directory,
	// and DidFinishDownloadingTo hands over a file in it. It must be a
	// single path element of letters, digits, '.', '-' and '_'. Empty
	// means none. Other sessions ignore it.
	SharedContainerIdentifier string

	ephemeral  bool
	background bool   // made by BackgroundConfiguration
	identifier string // of a background configuration
}

// CookieAcceptPolicy says which response cookies a session stores: Apple's
// HTTPCookie.AcceptPolicy as a session configuration takes it. Its zero
// value is Apple's default for a session, unlike cookiestore.AcceptPolicy,
// whose zero value (Always) is the default of a storage.
type CookieAcceptPolicy int

const (
	// CookieAcceptOnlyFromMainDocumentDomain stores cookies only from
	// hosts in the registrable domain (eTLD+1) of the request's main
	// document. It is the zero value and Apple's default.
	CookieAcceptOnlyFromMainDocumentDomain CookieAcceptPolicy = 0
	// CookieAcceptAlways stores every valid cookie.
	CookieAcceptAlways CookieAcceptPolicy = 1
	// CookieAcceptNever stores no cookie.
	CookieAcceptNever CookieAcceptPolicy = 2
)

// String returns Apple's name of the policy: "onlyFromMainDocumentDomain",
// "always" or "never".
func (p CookieAcceptPolicy) String() string {
	switch p {
	case CookieAcceptOnlyFromMainDocumentDomain, CookieAcceptAlways, CookieAcceptNever:
		return p.storePolicy().String()
	}
	return "CookieAcceptPolicy(" + strconv.Itoa(int(p)) + ")"
}

// storePolicy returns the cookiestore policy p stands for (Validate refuses
// an unknown p; it stands for Never).
func (p CookieAcceptPolicy) storePolicy() cookiestore.AcceptPolicy {
	switch p {
	case CookieAcceptOnlyFromMainDocumentDomain:
		return cookiestore.OnlyFromMainDocumentDomain
	case CookieAcceptAlways:
		return cookiestore.Always
	}
	return cookiestore.Never
}

// NoProxy is a Configuration.Proxy function that always connects directly.
func NoProxy(*http.Request) (*url.URL, error) { return nil, nil }

// reservedHeaders are the headers a session manages itself, in canonical
// form: Apple's list, plus the framing headers Go manages.
var reservedHeaders = [...]string{
	"Authorization", "Connection", "Host", "Proxy-Authenticate",
	"Proxy-Authorization", "Www-Authenticate", "Content-Length",
	"Transfer-Encoding", "Upgrade", "Te",
}

// ReservedHeaders returns the names of the headers a session manages itself
// and that Configuration.HTTPAdditionalHeaders must not set (Apple's list,
// plus the framing headers Go manages): Authorization, Connection, Host,
// Proxy-Authenticate, Proxy-Authorization, WWW-Authenticate,
// Content-Length, Transfer-Encoding, Upgrade and Te, in canonical form
// (http.CanonicalHeaderKey). Each call returns a new slice, which the
// caller may change.
func ReservedHeaders() []string { return append([]string(nil), reservedHeaders[:]...) }

// IsReservedHeader reports whether name, in any case, is one of
// ReservedHeaders.
func IsReservedHeader(name string) bool {
	for _, r := range reservedHeaders {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return false
}

// DefaultConfiguration returns a configuration with Apple's defaults: a 60 s
// idle timeout, a 7 day resource timeout, 6 connections per host, the
// shared cache, cookie, credential and HSTS storages (kept on disk per
// application; see SharedURLCache), cookies accepted only from the main
// document's domain and sent with requests. The first call opens the shared
// stores, creating their files.
func DefaultConfiguration() *Configuration {
	c := baseConfiguration()
	c.URLCache = SharedURLCache()
	c.HTTPCookieStorage = SharedCookieStorage()
	c.URLCredentialStorage = SharedCredentialStorage()
	c.HSTSStorage = SharedHSTSStorage()
	return c
}

// EphemeralConfiguration returns a configuration like DefaultConfiguration
// whose stores are private to it and kept in memory only: a session made
// from it writes nothing to disk, and what it stores is gone with the
// configuration. Each call returns new stores; copies of one configuration
// (Clone, New) share them.
func EphemeralConfiguration() *Configuration {
	c := baseConfiguration()
	c.ephemeral = true
	c.URLCache, c.HTTPCookieStorage, c.URLCredentialStorage = newEphemeralStores()
	c.HSTSStorage = hsts.New()
	return c
}

func baseConfiguration() *Configuration {
	return &Configuration{
		TimeoutIntervalForRequest:     DefaultTimeoutIntervalForRequest,
		TimeoutIntervalForResource:    DefaultTimeoutIntervalForResource,
		HTTPMaximumConnectionsPerHost: DefaultHTTPMaximumConnectionsPerHost,
	}
}

// Ephemeral reports whether the configuration came from
// EphemeralConfiguration.
func (c *Configuration) Ephemeral() bool { return c.ephemeral }

// Clone returns a deep copy of c: headers, TLS configuration, the
// protocol list and TransportSecurity's exception domains are copied, so
// changing the copy leaves c untouched; the stores are shared, as Apple's
// configurations share theirs. Clone of a nil Configuration returns
// DefaultConfiguration().
func (c *Configuration) Clone() *Configuration {
	if c == nil {
		return DefaultConfiguration()
	}
	n := *c
	n.HTTPAdditionalHeaders = c.HTTPAdditionalHeaders.Clone()
	if c.TLSClientConfig != nil {
		n.TLSClientConfig = c.TLSClientConfig.Clone()
	}
	if c.Protocols != nil {
		n.Protocols = append([]Protocol(nil), c.Protocols...)
	}
	n.TransportSecurity = c.TransportSecurity.clone()
	n.ProxyConfiguration = c.ProxyConfiguration.Clone()
	if c.LaunchCommand != nil {
		n.LaunchCommand = append([]string(nil), c.LaunchCommand...)
	}
	if c.PinnedDomains != nil {
		n.PinnedDomains = make(map[string]PinnedDomain, len(c.PinnedDomains))
		for d, p := range c.PinnedDomains {
			n.PinnedDomains[d] = p.clone()
		}
	}
	return &n
}

// MultipathServiceType says whether and how a session's connections use
// Multipath TCP. The values are Apple's.
type MultipathServiceType int

const (
	// MultipathNone uses plain TCP.
	MultipathNone MultipathServiceType = 0
	// MultipathHandover moves a connection to another path when its own
	// fails (Apple's handover).
	MultipathHandover MultipathServiceType = 1
	// MultipathInteractive prefers the path with the lowest latency.
	MultipathInteractive MultipathServiceType = 2
	// MultipathAggregate uses every path at once.
	MultipathAggregate MultipathServiceType = 3
)

// Validate reports the first problem with c: a reserved header in
// HTTPAdditionalHeaders, an unknown multipath or network service type or cookie
// accept policy, negative timeouts, TLS versions out of order, a malformed
// App Transport Security exception domain, a malformed PinnedDomains
// entry, or a ProxyConfiguration whose proxy URLs, exceptions or PAC URL
// cannot be read. New calls it and reports the problem by returning the
// error.
func (c *Configuration) Validate() error {
	for name := range c.HTTPAdditionalHeaders {
		if IsReservedHeader(name) {
			return fmt.Errorf("urlsession: HTTPAdditionalHeaders may not set the reserved header %q", name)
		}
	}
	if c.MultipathServiceType < MultipathNone || c.MultipathServiceType > MultipathAggregate {
		return fmt.Errorf("urlsession: MultipathServiceType %d is not a multipath service type", int(c.MultipathServiceType))
	}
	if !c.NetworkServiceType.valid() {
		return fmt.Errorf("urlsession: NetworkServiceType %d is not a network service type", int32(c.NetworkServiceType))
	}
	switch c.HTTPCookieAcceptPolicy {
	case CookieAcceptOnlyFromMainDocumentDomain, CookieAcceptAlways, CookieAcceptNever:
	default:
		return fmt.Errorf("urlsession: HTTPCookieAcceptPolicy %d is not a cookie accept policy", int(c.HTTPCookieAcceptPolicy))
	}
	if c.TimeoutIntervalForRequest < 0 || c.TimeoutIntervalForResource < 0 || c.ConnectTimeout < 0 {
		return fmt.Errorf("urlsession: timeouts must not be negative")
	}
	if c.DownloadSegments < 0 || c.DownloadSegments > MaxDownloadSegments {
		return fmt.Errorf("urlsession: DownloadSegments %d is not between 0 and %d", c.DownloadSegments, MaxDownloadSegments)
	}
	if c.MaximumBytesPerSecond < 0 {
		return fmt.Errorf("urlsession: MaximumBytesPerSecond must not be negative")
	}
	if lo, hi := c.TLSMinimumSupportedProtocolVersion, c.TLSMaximumSupportedProtocolVersion; lo != 0 && hi != 0 && lo > hi {
		return fmt.Errorf("urlsession: TLS minimum version %#x is above the maximum %#x", lo, hi)
	}
	if err := c.TransportSecurity.validate(); err != nil {
		return err
	}
	if err := checkResumableVersion(c.ResumableUploadVersion); err != nil {
		return err
	}
	if err := c.ProxyConfiguration.validate(); err != nil {
		return err
	}
	return validatePins(c.PinnedDomains)
}

// requestTimeout, resourceTimeout and maxConnsPerHost resolve the zero
// values to Apple's defaults.
func (c *Configuration) requestTimeout() time.Duration {
	if c.TimeoutIntervalForRequest == 0 {
		return DefaultTimeoutIntervalForRequest
	}
	return c.TimeoutIntervalForRequest
}

func (c *Configuration) resourceTimeout() time.Duration {
	if c.TimeoutIntervalForResource == 0 {
		return DefaultTimeoutIntervalForResource
	}
	return c.TimeoutIntervalForResource
}

// maxCollected returns the bound on a body collected in memory; -1 means
// none.
func (c *Configuration) maxCollected() int64 {
	switch {
	case c.MaxCollectedBodySize == 0:
		return DefaultMaxCollectedBodySize
	case c.MaxCollectedBodySize < 0:
		return -1
	}
	return c.MaxCollectedBodySize
}

func (c *Configuration) maxConnsPerHost() int {
	switch n := c.HTTPMaximumConnectionsPerHost; {
	case n == 0:
		return DefaultHTTPMaximumConnectionsPerHost
	case n < 0:
		return 0 // http.Transport: no limit
	default:
		return n
	}
}
