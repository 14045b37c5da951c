package urlsession

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"
)

// Options are attached to a request in two places, so that the ways Go code
// derives one request from another keep them:
//
//   - a side table keyed by the identity of the request's *url.URL, which
//     req.WithContext and copies of the request struct share whatever the
//     context (WithOptions gives the request a URL of its own for this);
//   - the request's context, which req.Clone(ctx) keeps when ctx derives
//     from it (Clone copies the URL).
//
// The table holds its URLs weakly: an entry goes when its URL is collected.
// It is keyed by the URL's address, and an entry counts only while its weak
// pointer still leads to the URL looked up: an address reused by a new URL
// after the old one was collected never finds the old entry.

type optionsKey struct{}

// optionsBox holds a request's options in its context.
type optionsBox struct{ opts RequestOptions }

// optionsEntry is one URL's options in the side table.
type optionsEntry struct {
	key uintptr
	url weak.Pointer[url.URL]
	box *optionsBox
}

var (
	optionsByURL sync.Map     // uintptr (the URL's address) → *optionsEntry
	optionsCount atomic.Int64 // entries not yet collected: 0 spares lookups
)

// WithOptions returns a shallow copy of req, with its own copy of req.URL,
// that carries opts; it replaces options attached earlier. req itself is
// not changed.
//
// The options stay with the returned request r and with requests derived
// from it: r.WithContext(ctx) keeps them whatever ctx is, and so does a
// copy of the struct (changing the URL in place keeps them too).
// r.Clone(ctx), which copies the URL, keeps them as a context value: while
// the clone's context is r.Context() or derives from it. A clone made with
// an unrelated context, a clone whose context is then replaced, and a
// request whose URL field is set to another *url.URL have none: call
// WithOptions on them. A request made on its own never has them, even for
// the same URL, unless it is made with r's context (as any context value,
// they reach http.NewRequestWithContext(r.Context(), ...)).
func WithOptions(req *http.Request, opts RequestOptions) *http.Request {
	b := &optionsBox{opts}
	r2 := req.WithContext(context.WithValue(req.Context(), optionsKey{}, b))
	if req.URL != nil {
		u := new(url.URL)
		*u = *req.URL
		r2.URL = u
		attachOptions(u, b)
	}
	return r2
}

// attachOptions enters u's options in the side table until u is collected.
// u must be new: a URL that other requests share would carry them.
func attachOptions(u *url.URL, b *optionsBox) {
	e := &optionsEntry{key: uintptr(unsafe.Pointer(u)), url: weak.Make(u), box: b}
	optionsCount.Add(1)
	optionsByURL.Store(e.key, e)
	runtime.AddCleanup(u, detachOptions, e)
}

// detachOptions removes a collected URL's entry, unless a newer URL at the
// same address has replaced it.
func detachOptions(e *optionsEntry) {
	optionsByURL.CompareAndDelete(e.key, e)
	optionsCount.Add(-1)
}

// OptionsOf returns the options attached to req with WithOptions (see there
// for the requests that keep them), and whether there were any; without,
// it returns the zero RequestOptions.
func OptionsOf(req *http.Request) (RequestOptions, bool) {
	if req == nil {
		return RequestOptions{}, false
	}
	if u := req.URL; u != nil && optionsCount.Load() > 0 {
		if v, ok := optionsByURL.Load(uintptr(unsafe.Pointer(u))); ok {
			if e := v.(*optionsEntry); e.url.Value() == u {
				return e.box.opts, true
			}
		}
	}
	if b, ok := req.Context().Value(optionsKey{}).(*optionsBox); ok {
		return b.opts, true
	}
	return RequestOptions{}, false
}
