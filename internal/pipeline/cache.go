package pipeline

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/urlcache"
)

// Request cache policies: Apple's URLRequest.CachePolicy raw values, carried
// in Call.CachePolicy.
const (
	// UseProtocolCachePolicy follows RFC 9111 as a private cache.
	UseProtocolCachePolicy = 0
	// ReloadIgnoringLocalCacheData does not read the cache (but stores).
	ReloadIgnoringLocalCacheData = 1
	// ReturnCacheDataElseLoad answers from any stored response, fresh or
	// stale, and loads only when there is none.
	ReturnCacheDataElseLoad = 2
	// ReturnCacheDataDontLoad answers from any stored response and fails
	// (code -2000) when there is none.
	ReturnCacheDataDontLoad = 3
	// ReloadIgnoringLocalAndRemoteCacheData is ReloadIgnoringLocalCacheData
	// that also asks caches on the way not to answer (Cache-Control and
	// Pragma no-cache).
	ReloadIgnoringLocalAndRemoteCacheData = 4
	// ReloadRevalidatingCacheData validates any stored response with the
	// server before using it.
	ReloadRevalidatingCacheData = 5
)

// CacheHooks is implemented by Hooks that may change or refuse what is
// stored (Apple's willCacheResponse).
type CacheHooks interface {
	// AsksWillCacheResponse reports whether a delegate decides what is
	// stored. When it does, WillCacheResponse is asked once the body has
	// arrived whole, as Apple asks: after the reader has been given every
	// byte and before it sees the end of the body, with proposed.Body set.
	// When it does not, WillCacheResponse is asked as the response arrives
	// (proposed.Body nil) and the body streams into the cache.
	AsksWillCacheResponse() bool
	// WillCacheResponse returns the entry to store, proposed or another
	// (its Response headers, StoragePolicy and UserInfo are stored, and its
	// Body when asked with the whole body), or nil to store nothing.
	// proposed.Body is the body as received: still content-encoded when
	// the response has a Content-Encoding.
	WillCacheResponse(ctx context.Context, proposed *urlcache.CachedResponse) (*urlcache.CachedResponse, error)
}

// Cache is the stage between Bridge and Dispatch: it answers from the
// URLCache according to the request cache policy, revalidates stale entries,
// stores cacheable responses while they stream, and invalidates on unsafe
// methods.
//
// Only GET requests to http and https URLs are answered from and stored in
// the cache; a HEAD request may be answered with a stored GET's headers, and
// a 200 the server gives a HEAD request updates the stored GET response's
// fields when its validators and Content-Length agree with it, and removes
// it otherwise (RFC 9111 section 4.3.5). A GET whose only precondition is a
// Range of one byte range ("bytes=a-b", "a-", "-n") is answered, when the
// stored response may be used and is a complete 200 without a content
// coding, with a 206 built from it (Content-Range, Content-Length), or a
// 416 for a range past the end; other ranges (several, with If-Range) and
// other preconditions bypass the cache, and the server's 304 or 206 reaches
// the caller. Responses are stored only for the credentials they were
// fetched with (see urlcache), without Set-Cookie and connection-specific
// fields.
//
// Under the protocol cache policy, a stored response within its
// stale-while-revalidate window (RFC 5861) is answered at once while a
// goroutine of the stage revalidates it: one per URL at a time, not bound to
// the task (whose context may end first), ending when the server's answer
// is stored or fails and at the latest after RevalidationTimeout; Wait waits
// for them. The background request goes through the stages after this one
// with a call of its own (no metrics, no delegate), and its answer is stored
// with the revalidated entry's storage policy and user info. Within
// stale-if-error (the response's or the request's), a network error or a
// 500, 502, 503 or 504 is answered with the stored response instead;
// a cancelled task's error is not.
//
// It sees bridged requests and raw (still content-encoded) responses, so
// entries keep the body as received, and Bridge decodes hits as it decodes
// the network's responses.
type Cache struct {
	// Cache is the store; nil makes the stage pass everything through.
	Cache *urlcache.Cache
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// RevalidationTimeout bounds a background revalidation (see Wait);
	// zero means one minute.
	RevalidationTimeout time.Duration

	// Background revalidations: the URLs being revalidated and how many
	// goroutines run them; idle is signalled when none is left.
	bgMu   sync.Mutex
	bgKeys map[string]bool
	bgRuns int
	bgIdle *sync.Cond
}

// maxEntryFraction: as Apple documents, a response is cached only when it
// is no larger than about 5% of the cache.
const maxEntryFraction = 20

// Do implements Stage.
func (c *Cache) Do(ctx context.Context, call *Call, req *http.Request, next Next) (*http.Response, error) {
	uc := c.Cache
	if uc == nil || req.URL == nil || !isHTTP(req.URL.Scheme) || first(req.Header, "Upgrade") != "" {
		// A protocol upgrade (a WebSocket handshake) is neither served
		// from nor stored in the cache.
		return next.Do(ctx, req)
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead:
	default:
		resp, err := next.Do(ctx, req)
		if err == nil {
			for _, key := range urlcache.ShouldInvalidate(req, resp) {
				if r, err := http.NewRequest(http.MethodGet, key, nil); err == nil {
					uc.RemoveCachedResponse(r)
				}
			}
		}
		return resp, err
	}
	now := c.now
	policy := call.CachePolicy
	if policy == ReloadIgnoringLocalAndRemoteCacheData {
		r2 := *req
		r2.Header = req.Header.Clone()
		if r2.Header == nil {
			r2.Header = http.Header{}
		}
		r2.Header.Set("Cache-Control", "no-cache")
		r2.Header.Set("Pragma", "no-cache")
		req = &r2
	}
	head := req.Method == http.MethodHead

	// A GET for one byte range reads the cache as a GET of the whole, and
	// the range is cut from a stored response that may be used; the
	// network sees the request as it is.
	whole, byteRange := req, ""
	if !head {
		if v, ok := singleRange(req); ok {
			whole, byteRange = withoutRange(req), v
		}
	}

	var stored *urlcache.CachedResponse
	looked := policy != ReloadIgnoringLocalCacheData && policy != ReloadIgnoringLocalAndRemoteCacheData && !urlcache.Conditional(whole)
	if looked {
		stored = uc.CachedResponse(whole)
	}
	var action urlcache.Action
	var decided time.Time // when the default policy decided; zero otherwise
	switch policy {
	case ReloadIgnoringLocalCacheData, ReloadIgnoringLocalAndRemoteCacheData:
		action = urlcache.Fetch
	case ReturnCacheDataElseLoad:
		action = urlcache.Fetch
		if stored != nil {
			action = urlcache.Use
		}
	case ReturnCacheDataDontLoad:
		if stored == nil {
			return nil, fail.Newf(-2000, "no cached response for %s and the cache policy forbids loading it", req.URL.Redacted())
		}
		action = urlcache.Use
	case ReloadRevalidatingCacheData:
		action = urlcache.Fetch
		if stored != nil {
			action = urlcache.Validate
		}
	default:
		decided = now()
		action = urlcache.Decide(whole, stored, decided)
		if (action == urlcache.Validate || action == urlcache.Fetch) && !head && urlcache.StaleWhileRevalidate(whole, stored, decided) &&
			(byteRange == "" || rangeable(stored)) {
			c.revalidateInBackground(ctx, next, whole, stored)
			action = urlcache.Use
			decided = time.Time{}
		}
	}

	switch action {
	case urlcache.Use:
		if byteRange != "" && rangeable(stored) {
			if resp := c.rangeHit(call, req, stored, byteRange, now()); resp != nil {
				return resp, nil
			}
		}
		// A server may answer a range request with the whole response:
		// so does the cache for a request that may not load.
		if byteRange == "" || policy == ReturnCacheDataDontLoad {
			return c.hit(call, req, stored, now(), nil), nil
		}
		return next.Do(ctx, req)
	case urlcache.Unsatisfiable:
		return gatewayTimeout(req), nil
	}
	if head {
		// HEAD responses are not stored, but a 200 freshens or
		// invalidates the stored GET response (RFC 9111 section 4.3.5).
		sent := now()
		resp, err := next.Do(ctx, req)
		if err == nil && resp.StatusCode == http.StatusOK {
			if !looked {
				stored = uc.CachedResponse(req)
			}
			if stored != nil {
				c.headUpdate(req, stored, resp, sent, now())
			}
		}
		return resp, err
	}
	if byteRange != "" {
		return next.Do(ctx, req) // 206 responses are not stored
	}

	// The request goes out now: the time the policy decided at (a few
	// instructions ago) is its send time, a clock reading fewer per GET.
	sent := decided
	if sent.IsZero() {
		sent = now()
	}
	if action == urlcache.Validate {
		if cond := urlcache.ConditionalRequest(req, stored); cond != nil {
			resp, err := next.Do(ctx, cond)
			if stale := c.staleOnError(ctx, call, req, stored, resp, err); stale != nil {
				return stale, nil
			}
			if err != nil {
				return nil, err
			}
			received := now()
			if resp.StatusCode != http.StatusNotModified {
				return c.store(ctx, call, req, resp, stored, sent, received)
			}
			if urlcache.NotModifiedMatches(stored, resp) {
				return c.notModified(call, req, stored, resp, sent, received), nil
			}
			// The 304 is about another response than the stored one: ask
			// again without conditions.
			discard(resp)
			sent = now()
		}
	}
	resp, err := next.Do(ctx, req)
	if stale := c.staleOnError(ctx, call, req, stored, resp, err); stale != nil {
		return stale, nil
	}
	if err != nil {
		return nil, err
	}
	// The response time is read by store once it knows the response is
	// to be stored: most are not, and a clock reading is saved.
	return c.store(ctx, call, req, resp, stored, sent, time.Time{})
}

// staleOnError returns the stored response to answer req with when asking
// the server failed (err, or resp with status 500, 502, 503 or 504) and
// stale-if-error allows it; it then discards resp. It returns nil when
// the failure stands: the request's cache policy is not the protocol's, or
// the task itself was cancelled.
func (c *Cache) staleOnError(ctx context.Context, call *Call, req *http.Request, stored *urlcache.CachedResponse, resp *http.Response, err error) *http.Response {
	if stored == nil || call.CachePolicy != UseProtocolCachePolicy || ctx.Err() != nil {
		return nil
	}
	if err == nil && (resp == nil || !urlcache.ErrorStatus(resp.StatusCode)) {
		return nil
	}
	t := c.now()
	if !urlcache.StaleIfError(req, stored, t) {
		return nil
	}
	if resp != nil {
		discard(resp)
	}
	return c.hit(call, req, stored, t, nil)
}

// revalidateInBackground revalidates stored, which answers req stale, on a
// goroutine of the stage's, unless its URL is being revalidated already.
// The goroutine ends when the server's answer has been stored (its body
// read to the end, or to the cache's size limit for an entry) or has
// failed, and at the latest after RevalidationTimeout: it does not depend
// on the task, whose context may end first. Wait waits for it.
func (c *Cache) revalidateInBackground(ctx context.Context, next Next, req *http.Request, stored *urlcache.CachedResponse) {
	key, ok := urlcache.Key(req.URL)
	if !ok {
		return
	}
	c.bgMu.Lock()
	if c.bgKeys[key] {
		c.bgMu.Unlock()
		return
	}
	if c.bgKeys == nil {
		c.bgKeys = map[string]bool{}
	}
	c.bgKeys[key] = true
	c.bgRuns++
	c.bgMu.Unlock()

	timeout := c.RevalidationTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	r2 := req.Clone(bctx)
	go func() {
		defer func() {
			cancel()
			c.bgMu.Lock()
			delete(c.bgKeys, key)
			c.bgRuns--
			if c.bgRuns == 0 && c.bgIdle != nil {
				c.bgIdle.Broadcast()
			}
			c.bgMu.Unlock()
		}()
		c.revalidate(bctx, next, r2, stored)
	}()
}

// Wait returns once every background revalidation started so far has
// ended (see RevalidationTimeout).
func (c *Cache) Wait() {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.bgIdle == nil {
		c.bgIdle = sync.NewCond(&c.bgMu)
	}
	for c.bgRuns > 0 {
		c.bgIdle.Wait()
	}
}

// revalidate asks the server about stored (conditionally when it has a
// validator) and stores the answer as a foreground request would. The
// request runs through the rest of the chain with a call of its own, which
// records no metrics and reports to no task.
func (c *Cache) revalidate(ctx context.Context, next Next, req *http.Request, stored *urlcache.CachedResponse) {
	call := &Call{Hooks: revalidationHooks{stored}}
	next.call = call
	send := req
	if cond := urlcache.ConditionalRequest(req, stored); cond != nil {
		send = cond
	}
	sent := c.now()
	resp, err := next.Do(ctx, send)
	if err != nil {
		return
	}
	received := c.now()
	if resp.StatusCode == http.StatusNotModified {
		if send != req && urlcache.NotModifiedMatches(stored, resp) {
			c.notModified(call, req, stored, resp, sent, received)
		} else {
			discard(resp)
		}
		return
	}
	resp, err = c.store(ctx, call, req, resp, stored, sent, received)
	if err != nil {
		return
	}
	if _, storing := resp.Body.(*cacheBody); storing {
		io.Copy(io.Discard, io.LimitReader(resp.Body, c.entryLimit()+1))
	}
	resp.Body.Close()
}

// entryLimit is the size of the largest response the cache stores.
func (c *Cache) entryLimit() int64 {
	return max(c.Cache.MemoryCapacity(), c.Cache.DiskCapacity()) / maxEntryFraction
}

// revalidationHooks are the hooks of a background revalidation, which has
// no task to report to: events go nowhere, and the response is stored with
// the storage policy and user info of the entry it revalidates (which the
// task's delegate chose; it is not asked again).
type revalidationHooks struct{ stored *urlcache.CachedResponse }

func (revalidationHooks) WillRedirect(context.Context, *http.Response, *http.Request) (*http.Request, error) {
	return nil, nil
}
func (revalidationHooks) NewBodyStream(context.Context) (io.ReadCloser, error) { return nil, nil }
func (revalidationHooks) BodySent(n, total, expected int64)                    {}
func (revalidationHooks) WaitingForConnectivity()                              {}
func (revalidationHooks) Received(n int64)                                     {}

func (revalidationHooks) AsksWillCacheResponse() bool { return false }

func (h revalidationHooks) WillCacheResponse(_ context.Context, proposed *urlcache.CachedResponse) (*urlcache.CachedResponse, error) {
	p := *proposed
	p.StoragePolicy = h.stored.StoragePolicy
	p.UserInfo = h.stored.UserInfo
	return &p, nil
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// first is h.Get(name) for a canonical name, without canonicalising it
// again.
func first(h http.Header, name string) string {
	if vs := h[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func isHTTP(scheme string) bool {
	return strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")
}

// hit builds the response to req from a stored one (for HEAD, without its
// body) and records a local-cache transaction, unless validated, the 304
// that revalidated it, is not nil (its network transaction stands for it).
func (c *Cache) hit(call *Call, req *http.Request, cr *urlcache.CachedResponse, now time.Time, validated *http.Response) *http.Response {
	start := time.Now()
	h := cr.Response.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	age := urlcache.Age(cr.Response, cr.RequestTime, cr.ResponseTime, now)
	h.Set("Age", strconv.FormatInt(int64(age/time.Second), 10))
	body := cr.Body
	length := int64(len(body))
	if req.Method == http.MethodHead {
		body = nil
		length = -1
		if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
			length = n
		}
	}
	resp := &http.Response{
		Status:        cr.Response.Status,
		StatusCode:    cr.Response.StatusCode,
		Proto:         cr.Response.Proto,
		ProtoMajor:    cr.Response.ProtoMajor,
		ProtoMinor:    cr.Response.ProtoMinor,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: length,
		Request:       req,
	}
	if resp.Status == "" {
		resp.Status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	}
	if resp.Proto == "" {
		resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/1.1", 1, 1
	}
	if validated != nil {
		resp.TLS = validated.TLS
		return resp // the network transaction stands for it
	}
	if call.Metrics {
		end := time.Now()
		tx := &Transaction{}
		tx.Request = req
		tx.Response = resp
		tx.FetchType = FetchLocalCache
		tx.FetchStart = start
		tx.ResponseStart = end
		tx.ResponseEnd = end
		tx.ResponseHeaderBytesReceived = responseHeaderSize(resp)
		tx.ResponseBodyBytesReceived = int64(len(body))
		call.AddTransaction(tx)
	}
	return resp
}

// singleRange returns the value of req's Range field when it is the
// request's only precondition or range field, on one line.
func singleRange(req *http.Request) (string, bool) {
	vs, ok := req.Header["Range"]
	if !ok || len(vs) != 1 {
		return "", false
	}
	for _, k := range []string{"If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		if _, ok := req.Header[k]; ok {
			return "", false
		}
	}
	return vs[0], true
}

// withoutRange returns a copy of req without its Range field.
func withoutRange(req *http.Request) *http.Request {
	r2 := *req
	r2.Header = req.Header.Clone()
	delete(r2.Header, "Range")
	return &r2
}

// rangeable reports whether byte ranges can be cut from cr: a complete 200
// response whose body is stored as it was sent, without a content coding
// (a range of the coded bytes would leave the decoder a fragment).
func rangeable(cr *urlcache.CachedResponse) bool {
	h := cr.Response.Header
	if cr.Response.StatusCode != http.StatusOK || h.Get("Content-Range") != "" {
		return false
	}
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return false
	}
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err != nil || n != int64(len(cr.Body)) {
			return false
		}
	}
	return true
}

// rangeHit answers req, which asks for the byte range value, from cr (see
// rangeable): a 206 with the range and its Content-Range and
// Content-Length, or a 416 when the range is past the end (RFC 9110
// sections 14.4, 15.3.7 and 15.5.17). It returns nil when value is not one
// range this cache answers (several, malformed), for the server to answer.
func (c *Cache) rangeHit(call *Call, req *http.Request, cr *urlcache.CachedResponse, value string, now time.Time) *http.Response {
	size := int64(len(cr.Body))
	start, length, status := urlcache.SingleRange(value, size)
	part := *cr
	r := *cr.Response
	switch status {
	case http.StatusPartialContent:
		r.Header = cr.Response.Header.Clone()
		r.Header.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(start+length-1, 10)+"/"+strconv.FormatInt(size, 10))
		r.Header.Set("Content-Length", strconv.FormatInt(length, 10))
		part.Body = cr.Body[start : start+length]
	case http.StatusRequestedRangeNotSatisfiable:
		r.Header = http.Header{
			"Content-Range":  {"bytes */" + strconv.FormatInt(size, 10)},
			"Content-Length": {"0"},
		}
		for _, k := range []string{"Date", "Etag", "Last-Modified", "Cache-Control", "Expires"} {
			if vs, ok := cr.Response.Header[k]; ok {
				r.Header[k] = vs
			}
		}
		part.Body = nil
	default:
		return nil
	}
	r.StatusCode = status
	r.Status = strconv.Itoa(status) + " " + http.StatusText(status)
	part.Response = &r
	return c.hit(call, req, &part, now, nil)
}

// gatewayTimeout is the answer to an only-if-cached request the cache
// cannot satisfy (RFC 9111 section 5.2.1.7), as OkHttp gives it.
func gatewayTimeout(req *http.Request) *http.Response {
	return &http.Response{
		Status:        "504 Unsatisfiable Request (only-if-cached)",
		StatusCode:    http.StatusGatewayTimeout,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Length": {"0"}},
		Body:          http.NoBody,
		ContentLength: 0,
		Request:       req,
	}
}

// notModified answers req with the stored response updated from a 304 and
// writes the update to the cache.
func (c *Cache) notModified(call *Call, req *http.Request, stored *urlcache.CachedResponse, resp304 *http.Response, sent, received time.Time) *http.Response {
	discard(resp304)
	merged := urlcache.MergeNotModified(stored, resp304)
	merged.RequestTime, merged.ResponseTime = sent, received
	update := *merged
	if _, ok := merged.Response.Header["Set-Cookie"]; ok {
		r := *merged.Response
		r.Header = merged.Response.Header.Clone()
		r.Header.Del("Set-Cookie")
		update.Response = &r
	}
	if urlcache.Storable(req, update.Response) {
		c.Cache.StoreCachedResponse(&update, req)
	} else {
		c.Cache.RemoveCachedResponse(req)
	}
	return c.hit(call, req, merged, received, resp304)
}

// headUpdate updates stored, the GET response a HEAD request could have
// been answered with, from the HEAD's 200 response when that describes it
// (see urlcache.HeadMatches), and removes it otherwise.
func (c *Cache) headUpdate(head *http.Request, stored *urlcache.CachedResponse, resp *http.Response, sent, received time.Time) {
	get := *head
	get.Method = http.MethodGet
	if !urlcache.HeadMatches(stored, resp) {
		c.Cache.RemoveCachedResponse(&get)
		return
	}
	merged := urlcache.MergeNotModified(stored, resp)
	merged.RequestTime, merged.ResponseTime = sent, received
	merged.Response.Header.Del("Set-Cookie")
	if urlcache.Storable(&get, merged.Response) {
		c.Cache.StoreCachedResponse(merged, &get)
	} else {
		c.Cache.RemoveCachedResponse(&get)
	}
}

// store passes a network response on, storing it while its body streams
// when it is storable and the task's delegate agrees. A zero received
// means the response has just arrived: store reads the clock for its
// response time when it stores it.
func (c *Cache) store(ctx context.Context, call *Call, req *http.Request, resp *http.Response, stored *urlcache.CachedResponse, sent, received time.Time) (*http.Response, error) {
	uc := c.Cache
	if !urlcache.Storable(req, resp) {
		if stored != nil && urlcache.ParseCacheControl(resp.Header).NoStore {
			// The newer response says not to keep it: the older one must
			// not be used again either.
			uc.RemoveCachedResponse(req)
		}
		return resp, nil
	}
	if !reusable(resp) && call.CachePolicy != ReturnCacheDataElseLoad && call.CachePolicy != ReturnCacheDataDontLoad {
		// Neither fresh for any time nor validatable: HTTP caching could
		// never use it, so storing it would only cost a disk write per
		// response. Requests that ask for cached data whatever its age
		// still store it. (Checked before the size limit, which takes
		// the cache's lock twice.)
		return resp, nil
	}
	if received.IsZero() {
		received = c.now()
	}
	limit := c.entryLimit()
	if resp.ContentLength > limit {
		return resp, nil
	}
	h := resp.Header.Clone()
	h.Del("Set-Cookie") // cookies go to the cookie store, not to later readers of the cache
	urlcache.RemoveHopByHopFields(h)
	proposed := &urlcache.CachedResponse{
		Response: &http.Response{
			Status:        resp.Status,
			StatusCode:    resp.StatusCode,
			Proto:         resp.Proto,
			ProtoMajor:    resp.ProtoMajor,
			ProtoMinor:    resp.ProtoMinor,
			Header:        h,
			ContentLength: resp.ContentLength,
			Request:       req,
		},
		StoragePolicy: urlcache.Allowed,
		RequestTime:   sent,
		ResponseTime:  received,
	}
	chosen := proposed
	ch, ok := call.Hooks.(CacheHooks)
	if ok && ch.AsksWillCacheResponse() {
		// The delegate decides once the body is whole: buffer it.
		body := resp.Body
		if body == nil {
			body = http.NoBody
		}
		resp.Body = &askBody{
			rc: body, ctx: ctx, hooks: ch, cache: uc, req: req, proposed: proposed,
			want: resp.ContentLength, limit: limit,
		}
		return resp, nil
	}
	if ok {
		var err error
		chosen, err = ch.WillCacheResponse(ctx, proposed)
		if err != nil {
			discard(resp)
			return nil, err
		}
	}
	if chosen == nil || chosen.Response == nil || chosen.StoragePolicy == urlcache.NotAllowed {
		return resp, nil
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		uc.NewWriter(req, chosen).CommitInBackground()
		return resp, nil
	}
	resp.Body = &cacheBody{
		rc:    resp.Body,
		w:     uc.NewWriter(req, chosen),
		want:  resp.ContentLength,
		limit: limit,
	}
	return resp, nil
}

// cacheBody tees a response body into a cache Writer, committing it only
// when the body ended cleanly with the length it announced, and aborting it
// on an error, an early Close or a body over the size limit.
type cacheBody struct {
	rc    io.ReadCloser
	mu    sync.Mutex // guards w, n and done against a Close during a Read
	w     *urlcache.Writer
	n     int64
	want  int64 // Content-Length, or -1
	limit int64
	done  bool
}

func (b *cacheBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	if !b.done {
		if n > 0 {
			b.n += int64(n)
			if b.n > b.limit || (b.want >= 0 && b.n > b.want) {
				b.finishLocked(false)
			} else {
				b.w.Write(p[:n])
			}
		}
		if err == io.EOF {
			b.finishLocked(b.want < 0 || b.n == b.want)
		} else if err != nil {
			b.finishLocked(false)
		}
	}
	b.mu.Unlock()
	return n, err
}

func (b *cacheBody) finishLocked(commit bool) {
	if b.done {
		return
	}
	b.done = true
	if commit {
		// The disk write happens off the reader's path; the entry is in
		// the memory store (when it fits there) at once.
		b.w.CommitInBackground()
	} else {
		b.w.Abort()
	}
}

// Close commits the entry when the whole announced length was read (the
// reader may stop before it sees io.EOF), and aborts it otherwise.
func (b *cacheBody) Close() error {
	b.mu.Lock()
	b.finishLocked(b.want >= 0 && b.n == b.want)
	b.mu.Unlock()
	return b.rc.Close()
}

// askBody buffers a response body for a delegate that decides what is
// stored with the whole body (CacheHooks.AsksWillCacheResponse). At the end
// of a body that ended cleanly with the length it announced, the Read that
// would report io.EOF first asks the delegate, so the question comes after
// every byte was handed to the reader; a body cut short, over the size
// limit or closed before its end stores nothing.
type askBody struct {
	rc       io.ReadCloser
	ctx      context.Context
	hooks    CacheHooks
	cache    *urlcache.Cache
	req      *http.Request
	proposed *urlcache.CachedResponse
	want     int64 // Content-Length, or -1
	limit    int64

	buf   []byte
	over  bool // the body passed the limit: nothing is stored
	atEOF bool // the underlying body ended; the reader has not been told
	asked bool
}

func (b *askBody) Read(p []byte) (int, error) {
	if b.atEOF {
		return 0, b.finish()
	}
	n, err := b.rc.Read(p)
	if n > 0 && !b.over {
		if int64(len(b.buf))+int64(n) > b.limit || (b.want >= 0 && int64(len(b.buf)+n) > b.want) {
			b.over, b.buf = true, nil
		} else {
			b.buf = append(b.buf, p[:n]...)
		}
	}
	if err == io.EOF {
		if n > 0 {
			// Hand these bytes over first; the next Read asks.
			b.atEOF = true
			return n, nil
		}
		return 0, b.finish()
	}
	return n, err
}

// finish asks the delegate about a complete body and stores what it
// chooses; it returns io.EOF, or the error that kept the delegate from
// answering.
func (b *askBody) finish() error {
	b.atEOF = true
	if b.asked || b.over || (b.want >= 0 && int64(len(b.buf)) != b.want) {
		return io.EOF
	}
	b.asked = true
	b.proposed.Body = b.buf
	chosen, err := b.hooks.WillCacheResponse(b.ctx, b.proposed)
	if err != nil {
		return err
	}
	if chosen == nil || chosen.Response == nil || chosen.StoragePolicy == urlcache.NotAllowed {
		return io.EOF
	}
	w := b.cache.NewWriter(b.req, chosen)
	w.Write(chosen.Body)
	w.CommitInBackground()
	return io.EOF
}

func (b *askBody) Close() error { return b.rc.Close() }

// reusable reports whether a stored resp could ever be served under HTTP
// caching: it has explicit freshness (max-age, a valid Expires), heuristic
// freshness or a validator (Last-Modified), a validator (ETag), or a
// stale-while-revalidate or stale-if-error window.
func reusable(resp *http.Response) bool {
	h := resp.Header
	if first(h, "Etag") != "" || first(h, "Last-Modified") != "" {
		return true
	}
	if vs := h["Expires"]; len(vs) == 1 {
		if _, ok := urlcache.ParseHTTPDate(strings.TrimSpace(vs[0])); ok {
			return true
		}
	}
	cc := urlcache.ParseCacheControl(h)
	return cc.MaxAge > 0 || cc.SMaxAge > 0 || cc.StaleWhileRevalidate > 0 || cc.StaleIfError > 0
}
