package pipeline

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/urlsession-go/urlsession/internal/fail"
)

// RedirectRequest decides whether resp redirects and builds the request to
// follow it with. It is pure: it neither reads bodies nor asks anyone.
//
// 301 and 302 turn POST into GET and keep other methods; 303 turns every
// method into GET; 307 and 308 keep the method and body. 300, 304, 305 and
// 306 and every other status are not followed, nor is a redirect with no
// Location. A Location that does not parse is an error with code -1010.
//
// A Location with the file scheme is refused with code -1002 (unsupported
// URL) unless req is a file URL itself: a response from the network never
// leads to a local file.
//
// needBody reports that next must carry the body of req again; next.Body is
// nil then and the caller supplies a fresh one. Headers that carry
// credentials (Authorization, Cookie, Proxy-Authorization and the
// challenges) are dropped when the redirect leaves req's origin.
func RedirectRequest(req *http.Request, resp *http.Response) (next *http.Request, needBody bool, err error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	keepBody := true
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound:
		if method == http.MethodPost {
			method, keepBody = http.MethodGet, false
		}
	case http.StatusSeeOther:
		method, keepBody = http.MethodGet, false
	case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil, false, nil
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, false, nil
	}
	u, err := req.URL.Parse(loc)
	if err != nil {
		return nil, false, fail.Newf(-1010, "the redirect location %q is not a valid URL: %v", loc, err)
	}
	if strings.EqualFold(u.Scheme, "file") && !strings.EqualFold(req.URL.Scheme, "file") {
		return nil, false, fail.Newf(-1002, "the redirect to %s is not followed: a response from the network cannot lead to a local file", u.Redacted())
	}
	if u.Fragment == "" && req.URL.Fragment != "" {
		u.Fragment, u.RawFragment = req.URL.Fragment, req.URL.RawFragment
	}

	next = req.Clone(req.Context())
	next.Method = method
	next.URL = u
	next.Host = ""
	next.RequestURI = ""
	next.Response = resp
	next.Body = nil
	if keepBody && hasBody(req) {
		needBody = true
	} else {
		next.ContentLength = 0
		next.GetBody = nil
		next.TransferEncoding = nil
		dropHeaders(next.Header, contentHeaders)
	}
	if !SameOrigin(req.URL, u) {
		dropHeaders(next.Header, credentialHeaders)
	}
	return next, needBody, nil
}

// credentialHeaders carry credentials for one origin (or for the proxy on
// the way to it): a redirect that leaves the origin drops them, as net/http's
// Client does.
var credentialHeaders = []string{
	"Authorization", "Www-Authenticate", "Cookie", "Cookie2",
	"Proxy-Authorization", "Proxy-Authenticate",
}

// contentHeaders describe a request body: a redirect that drops the body
// drops them.
var contentHeaders = []string{
	"Content-Type", "Content-Length", "Content-Encoding", "Content-Language",
	"Content-Location", "Transfer-Encoding",
}

// dropHeaders deletes the named fields from h, whatever the case of h's keys
// (a header built as a map literal may hold "authorization").
func dropHeaders(h http.Header, names []string) {
	for k := range h {
		for _, n := range names {
			if strings.EqualFold(k, n) {
				delete(h, k)
				break
			}
		}
	}
}

func hasBody(req *http.Request) bool {
	return (req.Body != nil && req.Body != http.NoBody) || req.ContentLength > 0 || req.GetBody != nil
}

// SameOrigin reports whether a and b have the same scheme, host and port
// (default ports made explicit).
func SameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}
