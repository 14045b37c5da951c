package urlcache

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CacheControl holds the Cache-Control directives of a request or response
// (RFC 9111 section 5.2). Delta-seconds values are -1 when absent.
type CacheControl struct {
	MaxAge   int64 // max-age
	SMaxAge  int64 // s-maxage (a private cache ignores it for freshness)
	MaxStale int64 // max-stale=N; see MaxStaleAny
	MinFresh int64 // min-fresh

	// StaleWhileRevalidate and StaleIfError are the RFC 5861 extensions
	// stale-while-revalidate=N and stale-if-error=N.
	StaleWhileRevalidate int64
	StaleIfError         int64

	// MaxStaleAny is max-stale without a value: any staleness is accepted.
	MaxStaleAny bool

	NoCache         bool // no-cache (or, without Cache-Control, Pragma: no-cache)
	NoStore         bool
	NoTransform     bool
	MustRevalidate  bool
	ProxyRevalidate bool
	MustUnderstand  bool
	Public          bool
	Private         bool
	Immutable       bool // RFC 8246
	OnlyIfCached    bool
}

// maxDelta is where delta-seconds saturate (RFC 9111 section 1.2.2).
const maxDelta = 1 << 31

// ParseCacheControl parses the Cache-Control fields of h. Directive names
// are case-insensitive; the first occurrence of a directive wins; a
// directive with whitespace around its "=" (max-age =5) is invalid and
// ignored; a delta-seconds value that does not parse counts as 0 (stale),
// and one too large saturates at 2^31. When h has no Cache-Control field, "Pragma:
// no-cache" sets NoCache (RFC 9111 section 5.4).
func ParseCacheControl(h http.Header) CacheControl {
	cc := CacheControl{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}
	// The names are canonical: indexing the map is Values without
	// canonicalising the name on every call.
	lines := h["Cache-Control"]
	if len(lines) == 0 {
		for _, p := range h["Pragma"] {
			for tok := range strings.SplitSeq(p, ",") {
				if strings.EqualFold(strings.TrimSpace(tok), "no-cache") {
					cc.NoCache = true
				}
			}
		}
		return cc
	}
	for _, line := range lines {
		for _, d := range splitDirectives(line) {
			name, value, hasValue := strings.Cut(trimOWS(d), "=")
			if !isToken(name) || (hasValue && value != "" && (value[0] == ' ' || value[0] == '\t')) {
				// RFC 9111 section 5.2: a directive is a token, then
				// "=" and its value with no whitespace around the
				// "=": "max-age =5" is no max-age directive.
				continue
			}
			name = strings.ToLower(name)
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			switch name {
			case "max-age":
				setDelta(&cc.MaxAge, value)
			case "s-maxage":
				setDelta(&cc.SMaxAge, value)
			case "max-stale":
				if !hasValue {
					cc.MaxStaleAny = true
				} else {
					setDelta(&cc.MaxStale, value)
				}
			case "min-fresh":
				setDelta(&cc.MinFresh, value)
			case "stale-while-revalidate":
				setDelta(&cc.StaleWhileRevalidate, value)
			case "stale-if-error":
				setDelta(&cc.StaleIfError, value)
			case "no-cache":
				cc.NoCache = true
			case "no-store":
				cc.NoStore = true
			case "no-transform":
				cc.NoTransform = true
			case "must-revalidate":
				cc.MustRevalidate = true
			case "proxy-revalidate":
				cc.ProxyRevalidate = true
			case "must-understand":
				cc.MustUnderstand = true
			case "public":
				cc.Public = true
			case "private":
				cc.Private = true
			case "immutable":
				cc.Immutable = true
			case "only-if-cached":
				cc.OnlyIfCached = true
			}
		}
	}
	return cc
}

// splitDirectives splits a Cache-Control value at the commas outside quoted
// strings.
func splitDirectives(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	out = append(out, s[start:])
	return out
}

// isToken reports whether s is a token (RFC 9110 section 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func setDelta(dst *int64, value string) {
	if *dst >= 0 {
		return // the first occurrence wins
	}
	if value == "" {
		*dst = 0
		return
	}
	for i := 0; i < len(value); i++ {
		if value[i] < '0' || value[i] > '9' {
			*dst = 0
			return
		}
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil || n > maxDelta {
		n = maxDelta
	}
	*dst = n
}

// heuristicStatus lists the status codes that are heuristically cacheable
// (RFC 9110 section 15.1), less 206, which this cache never stores.
var heuristicStatus = map[int]bool{
	200: true, 203: true, 204: true, 300: true, 301: true, 308: true,
	404: true, 405: true, 410: true, 414: true, 501: true,
}

// understoodStatus reports whether a status code's caching semantics are
// known (for must-understand, RFC 9111 section 5.2.2.3).
func understoodStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// MaxHeuristicLifetime caps a heuristic freshness lifetime (10% of the time
// since Last-Modified), so that even a very old document is checked again
// within a week.
const MaxHeuristicLifetime = 7 * 24 * time.Hour

// Storable reports whether a private cache may store resp as the response
// to req (RFC 9111 section 3):
//   - only responses to GET are stored, and only final responses other
//     than 206 (partial content is never stored) and 304;
//   - no-store in the request or the response forbids it (unless the
//     response also has must-understand and a status code it understands);
//     so does "Vary: *", which no request could ever match;
//   - a response to a request with credentials (Authorization, or user
//     information in the URL) is stored only when it says public,
//     must-revalidate or s-maxage (section 3.5). That section binds shared
//     caches, and a disk cache that several programs of a user, or a
//     server acting for many users, read is one; a Cache also never
//     serves a stored response to a request with other credentials than
//     the ones it was fetched with;
//   - the status must be heuristically cacheable (200, 203, 204, 300, 301,
//     308, 404, 405, 410, 414, 501), or the response must have explicit
//     freshness or permission: max-age, Expires, public or private.
func Storable(req *http.Request, resp *http.Response) bool {
	if req == nil || resp == nil || (req.Method != "" && req.Method != http.MethodGet) {
		return false
	}
	code := resp.StatusCode
	if code < 200 || code == http.StatusPartialContent || code == http.StatusNotModified || code > 999 {
		return false
	}
	reqCC, cc := ParseCacheControl(req.Header), ParseCacheControl(resp.Header)
	if reqCC.NoStore {
		return false
	}
	if cc.MustUnderstand {
		if !understoodStatus(code) {
			return false
		}
	} else if cc.NoStore {
		return false
	}
	if _, star := VaryFields(resp.Header); star {
		return false
	}
	if hasCredentials(req) && !cc.Public && !cc.MustRevalidate && cc.SMaxAge < 0 {
		return false
	}
	if heuristicStatus[code] {
		return true
	}
	_, hasExpires := resp.Header["Expires"]
	return cc.MaxAge >= 0 || hasExpires || cc.Public || cc.Private
}

// Freshness is the result of evaluating a stored response at some time.
type Freshness struct {
	// Lifetime is the freshness lifetime (RFC 9111 section 4.2.1).
	Lifetime time.Duration
	// Heuristic reports that Lifetime was guessed from Last-Modified
	// (section 4.2.2) for want of explicit freshness.
	Heuristic bool
	// Age is the current age (section 4.2.3).
	Age time.Duration
}

// Fresh reports whether the response is fresh: its age is below its
// lifetime.
func (f Freshness) Fresh() bool { return f.Age < f.Lifetime }

// Lifetime returns the freshness lifetime of resp for a private cache (RFC
// 9111 section 4.2.1): max-age (s-maxage is ignored), else Expires minus
// Date (an Expires that is not one valid HTTP-date on one line, see
// ParseHTTPDate, means already expired, section 5.3), else a
// heuristic of 10% of the time between Last-Modified and Date, capped at
// MaxHeuristicLifetime, for heuristically cacheable statuses and responses
// that say public (section 5.2.2.9), when u has no query. A missing or
// invalid Date counts as responseTime. The result is never negative.
func Lifetime(resp *http.Response, u *url.URL, responseTime time.Time) (lifetime time.Duration, heuristic bool) {
	cc := ParseCacheControl(resp.Header)
	if cc.MaxAge >= 0 {
		return time.Duration(cc.MaxAge) * time.Second, false
	}
	date, ok := parseDate(resp.Header, "Date")
	if !ok {
		date = responseTime
	}
	if _, has := resp.Header["Expires"]; has {
		exp, ok := parseDate(resp.Header, "Expires")
		if !ok || !exp.After(date) {
			return 0, false
		}
		return exp.Sub(date), false
	}
	// RFC 9111 section 5.2.2.9: a response that says public and has no
	// explicit freshness is heuristically cacheable, whatever its status.
	if !(heuristicStatus[resp.StatusCode] || cc.Public) || (u != nil && (u.RawQuery != "" || u.ForceQuery)) {
		return 0, false
	}
	lm, ok := parseDate(resp.Header, "Last-Modified")
	if !ok || !date.After(lm) {
		return 0, false
	}
	return min(date.Sub(lm)/10, MaxHeuristicLifetime), true
}

// Age returns the current age at now of a response that was requested at
// requestTime and received at responseTime (RFC 9111 section 4.2.3): the
// larger of the apparent age (responseTime minus Date) and the Age header
// plus the response delay, plus the time since it was received. Of an Age
// list ("7200, 0") the first member counts. Zero times count as now.
func Age(resp *http.Response, requestTime, responseTime, now time.Time) time.Duration {
	if responseTime.IsZero() {
		responseTime = now
	}
	if requestTime.IsZero() || requestTime.After(responseTime) {
		requestTime = responseTime
	}
	var apparent time.Duration
	if date, ok := parseDate(resp.Header, "Date"); ok && responseTime.After(date) {
		apparent = responseTime.Sub(date)
	}
	var ageValue time.Duration
	if v := resp.Header.Get("Age"); v != "" {
		// RFC 9111 section 5.1: of a list, the first member counts; an
		// invalid value is ignored.
		first, _, _ := strings.Cut(v, ",")
		n := int64(-1)
		setDelta(&n, trimOWS(first))
		ageValue = time.Duration(n) * time.Second
	}
	corrected := ageValue + responseTime.Sub(requestTime)
	initial := max(apparent, corrected)
	resident := max(now.Sub(responseTime), 0)
	return initial + resident
}

// Evaluate returns the lifetime and current age at now of the stored
// response cr, which was stored for a request to u.
func Evaluate(cr *CachedResponse, u *url.URL, now time.Time) Freshness {
	var f Freshness
	f.Lifetime, f.Heuristic = Lifetime(cr.Response, u, cr.ResponseTime)
	f.Age = Age(cr.Response, cr.RequestTime, cr.ResponseTime, now)
	return f
}

// Action is what to do with a request given what the cache holds.
type Action int

const (
	// Fetch sends the request as it is: no stored response can be used.
	Fetch Action = iota
	// Use answers from the stored response.
	Use
	// Validate sends the conditional request ConditionalRequest makes and
	// uses the stored response if the answer is 304 Not Modified.
	Validate
	// Unsatisfiable answers 504 Gateway Timeout: the request says
	// only-if-cached and the stored response cannot be used as it is.
	Unsatisfiable
)

// String returns the action's name, such as "validate".
func (a Action) String() string {
	switch a {
	case Fetch:
		return "fetch"
	case Use:
		return "use"
	case Validate:
		return "validate"
	case Unsatisfiable:
		return "unsatisfiable"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Conditional reports whether the request carries preconditions or a range
// of its own (If-None-Match, If-Modified-Since, If-Match,
// If-Unmodified-Since, If-Range, Range). Such a request bypasses the stored
// response, and the server's answer (a 304, a 206) goes to the caller.
func Conditional(req *http.Request) bool {
	for _, k := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"} {
		if _, ok := req.Header[k]; ok {
			return true
		}
	}
	return false
}

// Decide chooses how a private cache answers req at now, given the stored
// response cr (nil when there is none; the caller has already matched its
// Vary fields):
//   - no stored response, a request with its own preconditions or range, or
//     request no-store: Fetch;
//   - request or response no-cache: Validate;
//   - fresh enough for the request: Use. The request's max-age lowers the
//     lifetime (except for a fresh immutable response from an https URL,
//     RFC 8246), min-fresh demands that much lifetime left, and max-stale
//     accepts that much staleness (any without a value) unless the response
//     says must-revalidate;
//   - otherwise Validate, or Fetch when cr has no validator (ETag or
//     Last-Modified).
//
// With only-if-cached in the request, anything but Use becomes
// Unsatisfiable.
func Decide(req *http.Request, cr *CachedResponse, now time.Time) Action {
	reqCC := ParseCacheControl(req.Header)
	a := decide(req, reqCC, cr, now)
	if reqCC.OnlyIfCached && a != Use {
		return Unsatisfiable
	}
	return a
}

func decide(req *http.Request, reqCC CacheControl, cr *CachedResponse, now time.Time) Action {
	if cr == nil || cr.Response == nil || Conditional(req) || reqCC.NoStore {
		return Fetch
	}
	cc := ParseCacheControl(cr.Response.Header)
	validate := Validate
	if !hasValidator(cr.Response.Header) {
		validate = Fetch
	}
	if reqCC.NoCache || cc.NoCache {
		return validate
	}
	f := Evaluate(cr, req.URL, now)
	lifetime := f.Lifetime
	immutable := cc.Immutable && f.Fresh() && req.URL != nil && strings.EqualFold(req.URL.Scheme, "https")
	if reqCC.MaxAge >= 0 && !immutable {
		lifetime = min(lifetime, time.Duration(reqCC.MaxAge)*time.Second)
	}
	var minFresh, maxStale time.Duration
	if reqCC.MinFresh >= 0 {
		minFresh = time.Duration(reqCC.MinFresh) * time.Second
	}
	if !cc.MustRevalidate {
		if reqCC.MaxStaleAny {
			maxStale = time.Duration(1<<63 - 1)
		} else if reqCC.MaxStale >= 0 {
			maxStale = time.Duration(reqCC.MaxStale) * time.Second
		}
	}
	if f.Age+minFresh < satAdd(lifetime, maxStale) {
		return Use
	}
	return validate
}

// staleWithin reports whether cr, evaluated at now for a request to u, is
// stale by no more than window seconds (window < 0: no window).
func staleWithin(cr *CachedResponse, u *url.URL, now time.Time, window int64) bool {
	if window < 0 {
		return false
	}
	f := Evaluate(cr, u, now)
	return f.Age-f.Lifetime <= time.Duration(window)*time.Second
}

// StaleWhileRevalidate reports whether a private cache may answer req with
// the stored response cr although Decide asks to validate it, revalidating
// it in the background meanwhile (RFC 5861 section 3): cr says
// stale-while-revalidate=N and has been stale for at most N seconds; it
// does not say no-cache or must-revalidate (RFC 9111 section 4.2.4); and
// req has no preconditions or range of its own and asks for nothing fresher
// (no no-store, no-cache, max-age, min-fresh or only-if-cached).
func StaleWhileRevalidate(req *http.Request, cr *CachedResponse, now time.Time) bool {
	if cr == nil || cr.Response == nil || Conditional(req) {
		return false
	}
	reqCC, cc := ParseCacheControl(req.Header), ParseCacheControl(cr.Response.Header)
	if reqCC.NoStore || reqCC.NoCache || reqCC.MaxAge >= 0 || reqCC.MinFresh >= 0 || reqCC.OnlyIfCached ||
		cc.NoCache || cc.MustRevalidate {
		return false
	}
	return staleWithin(cr, req.URL, now, cc.StaleWhileRevalidate)
}

// StaleIfError reports whether a private cache may answer req with the
// stored response cr when asking the server failed: no response, or 500,
// 502, 503 or 504 (RFC 5861 section 4). The window is the larger of the
// stale-if-error=N of cr and that of req; cr must have been stale for at
// most that many seconds, and must not say no-cache or must-revalidate
// (RFC 9111 section 4.2.4). A request with no-store, or with no-cache and no
// stale-if-error of its own, does not accept a stale response.
func StaleIfError(req *http.Request, cr *CachedResponse, now time.Time) bool {
	if cr == nil || cr.Response == nil || Conditional(req) {
		return false
	}
	reqCC, cc := ParseCacheControl(req.Header), ParseCacheControl(cr.Response.Header)
	if reqCC.NoStore || (reqCC.NoCache && reqCC.StaleIfError < 0) || cc.NoCache || cc.MustRevalidate {
		return false
	}
	return staleWithin(cr, req.URL, now, max(cc.StaleIfError, reqCC.StaleIfError))
}

// ErrorStatus reports whether a status code counts as an error for
// stale-if-error (RFC 5861 section 4): 500, 502, 503 and 504.
func ErrorStatus(code int) bool {
	switch code {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func satAdd(a, b time.Duration) time.Duration {
	if s := a + b; s >= a {
		return s
	}
	return time.Duration(1<<63 - 1)
}

func hasValidator(h http.Header) bool {
	return h.Get("ETag") != "" || h.Get("Last-Modified") != ""
}

// ConditionalRequest returns a copy of req that asks the server to validate
// cr (RFC 9111 section 4.3.1): If-None-Match with cr's ETag and
// If-Modified-Since with its Last-Modified, each when cr has it. It returns
// nil when cr has neither.
func ConditionalRequest(req *http.Request, cr *CachedResponse) *http.Request {
	if cr == nil || cr.Response == nil {
		return nil
	}
	etag, lm := cr.Response.Header.Get("ETag"), cr.Response.Header.Get("Last-Modified")
	if etag == "" && lm == "" {
		return nil
	}
	r2 := req.Clone(req.Context())
	if r2.Header == nil {
		r2.Header = http.Header{}
	}
	if etag != "" {
		r2.Header.Set("If-None-Match", etag)
	}
	if lm != "" {
		r2.Header.Set("If-Modified-Since", lm)
	}
	return r2
}

// NotModifiedMatches reports whether a 304 response validates cr: unless
// both carry an entity tag and the tags differ (weak comparison, RFC 9110
// section 8.8.3.2), the 304 is taken to be about cr (RFC 9111 section 4.3.4).
func NotModifiedMatches(cr *CachedResponse, resp304 *http.Response) bool {
	a, b := resp304.Header.Get("ETag"), cr.Response.Header.Get("ETag")
	if a == "" || b == "" {
		return true
	}
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// HeadMatches reports whether a 200 response to a HEAD request describes
// the stored response cr, so that its fields may update cr (RFC 9111
// section 4.3.5): each validator it carries (ETag, Last-Modified) has cr's
// value, and its Content-Length, if it has one, is cr's. Otherwise cr is to
// be taken as stale.
func HeadMatches(cr *CachedResponse, head *http.Response) bool {
	if cr == nil || cr.Response == nil || head == nil || head.StatusCode != http.StatusOK {
		return false
	}
	for _, k := range []string{"Etag", "Last-Modified"} {
		if v, ok := head.Header[k]; ok && !slices.Equal(v, cr.Response.Header[k]) {
			return false
		}
	}
	if v := head.Header.Get("Content-Length"); v != "" {
		want := cr.Response.Header.Get("Content-Length")
		if want == "" {
			want = strconv.Itoa(len(cr.Body))
		}
		if trimOWS(v) != trimOWS(want) {
			return false
		}
	}
	return true
}

// notUpdated lists the fields a 304 does not update (RFC 9111 section 3.2):
// connection-specific fields, and the ones the stored body depends on.
var notUpdated = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Proxy-Authenticate": true, "Proxy-Authentication-Info": true, "Proxy-Authorization": true,
	"Content-Length": true, "Content-Encoding": true, "Content-Range": true,
}

// MergeNotModified returns a copy of cr with its header fields updated from
// a 304 response (RFC 9111 section 3.2): each field of the 304 replaces the
// stored field of that name, except connection-specific fields (those
// listed above and the ones the 304's Connection names) and the fields the
// stored body depends on (Content-Length, Content-Encoding, Content-Range);
// stored 1xx warnings, stored hop-by-hop fields (see RemoveHopByHopFields)
// and stored proxy authentication fields are dropped. The status, body,
// user info and policy are cr's; the caller sets RequestTime and
// ResponseTime to the 304's.
func MergeNotModified(cr *CachedResponse, resp304 *http.Response) *CachedResponse {
	out := *cr
	resp := *cr.Response
	h := cr.Response.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	removeUnstoredFields(h)
	if ws := h["Warning"]; len(ws) > 0 {
		var keep []string
		for _, w := range ws {
			if !strings.HasPrefix(strings.TrimSpace(w), "1") {
				keep = append(keep, w)
			}
		}
		if len(keep) == 0 {
			delete(h, "Warning")
		} else {
			h["Warning"] = keep
		}
	}
	skip := map[string]bool{}
	for _, line := range resp304.Header.Values("Connection") {
		for name := range strings.SplitSeq(line, ",") {
			skip[http.CanonicalHeaderKey(strings.TrimSpace(name))] = true
		}
	}
	for k, vs := range resp304.Header {
		ck := http.CanonicalHeaderKey(k)
		if notUpdated[ck] || skip[ck] {
			continue
		}
		if ck != k {
			delete(h, ck)
		}
		h[k] = append([]string(nil), vs...)
	}
	resp.Header = h
	resp.Body = nil
	out.Response = &resp
	return &out
}

// hopByHop lists the connection-specific fields a cache never stores (RFC
// 9111 section 3.1, RFC 9110 section 7.6.1), canonicalised.
var hopByHop = [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Transfer-Encoding", "Upgrade"}

// RemoveHopByHopFields deletes from h the fields that describe one
// connection rather than the response (RFC 9111 section 3.1): Connection,
// Keep-Alive, Proxy-Connection, TE, Transfer-Encoding and Upgrade, and every
// field that a Connection line names.
func RemoveHopByHopFields(h http.Header) {
	for _, line := range h["Connection"] {
		for name := range strings.SplitSeq(line, ",") {
			if name = trimOWS(name); name != "" {
				delete(h, http.CanonicalHeaderKey(name))
			}
		}
	}
	for _, k := range hopByHop {
		delete(h, k)
	}
}

// proxyFields lists the fields specific to the proxy a response came
// through, which a cache that does not key its entries by proxy must not
// store (RFC 9111 section 3.1), canonicalised.
var proxyFields = [...]string{"Proxy-Authenticate", "Proxy-Authentication-Info", "Proxy-Authorization"}

// removeUnstoredFields deletes from h every field a cache never stores:
// the connection-specific ones (see RemoveHopByHopFields) and the proxy's
// authentication fields.
func removeUnstoredFields(h http.Header) {
	RemoveHopByHopFields(h)
	for _, k := range proxyFields {
		delete(h, k)
	}
}

// ShouldInvalidate returns the keys (see Key) of the stored responses an
// unsafe request invalidates (RFC 9111 section 4.4): when req's method is not
// safe and resp is not an error (2xx or 3xx), the target URI, and the
// Location and Content-Location URIs when they have the target's origin.
func ShouldInvalidate(req *http.Request, resp *http.Response) []string {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, "QUERY", "PROPFIND", "SEARCH":
		return nil
	}
	if resp == nil || resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return nil
	}
	target, ok := Key(req.URL)
	if !ok {
		return nil
	}
	keys := []string{target}
	for _, name := range []string{"Location", "Content-Location"} {
		v := resp.Header.Get(name)
		if v == "" {
			continue
		}
		u, err := req.URL.Parse(v)
		if err != nil || !sameOrigin(req.URL, u) {
			continue
		}
		if k, ok := Key(u); ok && k != target && !contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func sameOrigin(a, b *url.URL) bool {
	ka, okA := Key(&url.URL{Scheme: a.Scheme, Host: a.Host, Path: "/"})
	kb, okB := Key(&url.URL{Scheme: b.Scheme, Host: b.Host, Path: "/"})
	return okA && okB && ka == kb
}
