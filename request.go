package urlsession

import (
	"net/url"
	"strconv"
	"time"
)

// RequestOptions are the properties Apple's URLRequest has beyond what an
// *http.Request carries. Attach them with WithOptions; a session reads them
// with OptionsOf. They stay with the request through req.WithContext, and
// through req.Clone while the clone's context derives from the request's
// (see WithOptions). The zero value of each field means the configuration's
// value, except CachePolicy: a request with RequestOptions has a cache
// policy of its own, as an Apple URLRequest does, and its zero value is
// UseProtocolCachePolicy.
type RequestOptions struct {
	// TimeoutInterval is this request's idle timeout; it takes precedence
	// over Configuration.TimeoutIntervalForRequest. Zero means the
	// configuration's value.
	TimeoutInterval time.Duration

	// CachePolicy is this request's cache policy (Apple's
	// URLRequest.cachePolicy). A request with RequestOptions uses it
	// instead of Configuration.RequestCachePolicy; the zero value is
	// UseProtocolCachePolicy.
	CachePolicy CachePolicy

	// MainDocumentURL is the URL of the document this request loads a part
	// of (Apple's mainDocumentURL); the OnlyFromMainDocumentDomain cookie
	// policy accepts cookies only from its registrable domain. Nil means
	// the request's own URL.
	MainDocumentURL *url.URL

	// DoNotHandleCookies makes the session neither send stored cookies
	// with this request nor store the cookies its responses set (Apple's
	// httpShouldHandleCookies = false).
	DoNotHandleCookies bool

	// AssumesHTTP3Capable makes the session try HTTP/3 for this https
	// request without waiting for its origin to advertise it with Alt-Svc
	// (Apple's assumesHTTP3Capable), on the URL's own port: the QUIC
	// handshake races TCP as described at Configuration.DisableHTTP3, so a
	// server without HTTP/3 costs a short delay once and is then reached
	// over TCP. It applies to every request of the task, redirects
	// included, and does nothing when the session does not use HTTP/3.
	AssumesHTTP3Capable bool

	// DisallowCellularAccess and DisallowExpensiveNetworkAccess refuse this
	// request's http and https connections over cellular and expensive
	// (metered) networks as the configuration's settings of the same
	// names do (Apple's URLRequest allowsCellularAccess and
	// allowsExpensiveNetworkAccess set to false): a request is refused
	// when either the configuration or the request disallows the network.
	// The connection the request was given is checked, a pooled one too;
	// refused, the request fails with ErrNotConnectedToInternet (or waits,
	// with WaitsForConnectivity) and the connection stays for requests
	// that allow it. They do not apply to HTTP/3 or to other schemes.
	DisallowCellularAccess         bool
	DisallowExpensiveNetworkAccess bool

	// NetworkServiceType is the kind of traffic this request carries
	// (Apple's URLRequest.networkServiceType): a value other than
	// NetworkServiceDefault takes precedence over the configuration's.
	// The request's http, https and WebSocket connections are marked with
	// its DiffServ code point, and are kept apart from connections of
	// other types: a request of another type than the configuration's gets
	// connections of its own, opened for that type, and shares them only
	// with requests of the same type. Values that are not Apple's count as
	// NetworkServiceDefault. It does not apply to HTTP/3 or to other
	// schemes; stream tasks use the configuration's.
	NetworkServiceType NetworkServiceType
}

// CachePolicy says how a request uses the cache. The values are Apple's
// URLRequest.CachePolicy raw values.
type CachePolicy int

const (
	// UseProtocolCachePolicy follows HTTP caching (RFC 9111, as a private
	// cache): fresh responses are served from the cache, stale ones are
	// revalidated.
	UseProtocolCachePolicy CachePolicy = 0
	// ReloadIgnoringLocalCacheData loads from the network without reading
	// the cache (the response may still be stored).
	ReloadIgnoringLocalCacheData CachePolicy = 1
	// ReturnCacheDataElseLoad uses any stored response, however old, and
	// loads from the network only when there is none.
	ReturnCacheDataElseLoad CachePolicy = 2
	// ReturnCacheDataDontLoad uses any stored response and never loads: a
	// miss fails with ErrCannotLoadFromNetwork.
	ReturnCacheDataDontLoad CachePolicy = 3
	// ReloadIgnoringLocalAndRemoteCacheData is ReloadIgnoringLocalCacheData
	// that also asks caches on the way not to answer.
	ReloadIgnoringLocalAndRemoteCacheData CachePolicy = 4
	// ReloadRevalidatingCacheData revalidates any stored response with the
	// server before using it.
	ReloadRevalidatingCacheData CachePolicy = 5
)

// String returns Apple's name of the policy, such as
// "useProtocolCachePolicy".
func (p CachePolicy) String() string {
	switch p {
	case UseProtocolCachePolicy:
		return "useProtocolCachePolicy"
	case ReloadIgnoringLocalCacheData:
		return "reloadIgnoringLocalCacheData"
	case ReturnCacheDataElseLoad:
		return "returnCacheDataElseLoad"
	case ReturnCacheDataDontLoad:
		return "returnCacheDataDontLoad"
	case ReloadIgnoringLocalAndRemoteCacheData:
		return "reloadIgnoringLocalAndRemoteCacheData"
	case ReloadRevalidatingCacheData:
		return "reloadRevalidatingCacheData"
	}
	return "CachePolicy(" + strconv.Itoa(int(p)) + ")"
}
