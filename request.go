package urlsession

import (
	"context"
	"net/http"
	"time"
)

// RequestOptions are the properties Apple's URLRequest has beyond what an
// *http.Request carries. Attach them with WithOptions; a session reads them
// with OptionsOf. The zero value means "use the configuration's values".
type RequestOptions struct {
	// TimeoutInterval is this request's idle timeout; it takes precedence
	// over Configuration.TimeoutIntervalForRequest. Zero means the
	// configuration's value.
	TimeoutInterval time.Duration
}

type optionsKey struct{}

// WithOptions returns a shallow copy of req that carries opts (in its
// context, so they survive req.WithContext and req.Clone with the same
// context). It replaces options attached earlier.
func WithOptions(req *http.Request, opts RequestOptions) *http.Request {
	return req.WithContext(context.WithValue(req.Context(), optionsKey{}, opts))
}

// OptionsOf returns the options attached to req with WithOptions, or the
// zero RequestOptions.
func OptionsOf(req *http.Request) RequestOptions {
	if req == nil {
		return RequestOptions{}
	}
	o, _ := req.Context().Value(optionsKey{}).(RequestOptions)
	return o
}
