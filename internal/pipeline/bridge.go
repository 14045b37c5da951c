package pipeline

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/urlsession-go/urlsession/cookiestore"
	"github.com/urlsession-go/urlsession/internal/decode"
	"github.com/urlsession-go/urlsession/internal/fail"
)

// Bridge turns the caller's request into what goes on the wire, and the
// wire's response back: it adds the configuration's additional headers, the
// User-Agent, Accept-Encoding and the stored cookies, stores the cookies
// responses set, and decodes gzip, deflate and br bodies.
type Bridge struct {
	// Headers are added where the request has no header of the same name
	// (in any case). Their names must be canonical (see CanonicalHeader).
	Headers http.Header
	// UserAgent is sent when no User-Agent is set.
	UserAgent string
	// Cookies is the cookie storage; nil means no cookies are handled.
	Cookies *cookiestore.Store
	// SendCookies adds the stored cookies to requests.
	SendCookies bool
	// AcceptPolicy decides which response cookies are stored.
	AcceptPolicy cookiestore.AcceptPolicy

	once      sync.Once
	userAgent []string
}

// Header values the bridge adds, shared by every request (read-only).
var (
	acceptEncoding = []string{decode.AcceptEncoding}
	formType       = []string{"application/x-www-form-urlencoded"}
)

// Do implements Stage.
func (b *Bridge) Do(ctx context.Context, call *Call, req *http.Request, next Next) (*http.Response, error) {
	// One map with room for what is added; the values are shared with the
	// caller's header, which no stage changes in place. Names are made
	// canonical, so that a field written as "accept" in a header literal
	// is the Accept the lookups below and net/http see.
	h := make(http.Header, len(req.Header)+len(b.Headers)+4)
	copyCanonical(h, req.Header)
	for k, vs := range b.Headers {
		if _, ok := h[k]; !ok {
			h[k] = vs
		}
	}
	// Look a name up only when the header may have it: not when it was
	// empty before the bridge added to it.
	empty := len(h) == 0
	has := func(k string) bool {
		if empty {
			return false
		}
		_, ok := h[k]
		return ok
	}
	b.once.Do(func() { b.userAgent = []string{b.UserAgent} })
	if req.Method == http.MethodPost && req.Body != nil && req.Body != http.NoBody && !has("Content-Type") {
		// Apple's default for a POST body without a type.
		h["Content-Type"] = formType
	}
	if b.UserAgent != "" && !has("User-Agent") {
		h["User-Agent"] = b.userAgent
	}
	if !has("Accept-Encoding") {
		h["Accept-Encoding"] = acceptEncoding
	}
	cookies := b.Cookies != nil && call.HandleCookies
	if cookies && b.SendCookies {
		if v := b.Cookies.CookieHeader(req.URL); v != "" {
			if own := h.Get("Cookie"); own != "" {
				v = own + "; " + v
			}
			h["Cookie"] = []string{v}
		}
	}
	// The request sent carries the call's context: the task's request may
	// come with the caller's.
	r2 := req.WithContext(ctx)
	r2.Header = h
	resp, err := next.Do(ctx, r2)
	if err != nil || resp == nil {
		return resp, err
	}
	if cookies {
		main := call.MainDocumentURL
		if main == nil {
			main = req.URL
		}
		// Cookies set on every hop, redirects included, are stored before
		// the next hop is sent.
		b.Cookies.SetCookiesFromResponseWithPolicy(resp.Header, req.URL, main, b.AcceptPolicy)
	}
	return decodeBody(req, resp)
}

// decodeBody returns resp with its body decoded when it has a content
// coding this package decodes, as net/http's Transport does: the copy lacks
// Content-Encoding and Content-Length and has Uncompressed set. resp itself
// (which the transaction records) keeps the headers as received. A coding
// it does not know passes through undecoded; more codings stacked than
// decode.MaxCodings fail with code -1015.
func decodeBody(req *http.Request, resp *http.Response) (*http.Response, error) {
	ces := resp.Header.Values("Content-Encoding")
	if len(ces) == 0 || req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified {
		return resp, nil
	}
	ce := ces[0]
	if len(ces) > 1 {
		// Several field lines make one list (RFC 9110 section 5.3).
		ce = strings.Join(ces, ", ")
	}
	rc, err := decode.NewReader(resp.Body, ce)
	if errors.Is(err, decode.ErrTooManyCodings) {
		discard(resp)
		return nil, fail.New(-1015, err)
	}
	if err != nil {
		return resp, nil
	}
	r2 := *resp
	r2.Body = &decodeErrBody{rc}
	r2.Header = resp.Header.Clone()
	r2.Header.Del("Content-Encoding")
	r2.Header.Del("Content-Length")
	r2.ContentLength = -1
	r2.Uncompressed = true
	return &r2, nil
}

// decodeErrBody gives decoding failures the cannot-decode-raw-data code.
type decodeErrBody struct{ io.ReadCloser }

func (b *decodeErrBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && errors.Is(err, decode.ErrCorrupt) {
		err = fail.New(-1015, err)
	}
	return n, err
}
