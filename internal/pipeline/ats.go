package pipeline

import (
	"context"
	"net/http"
	"net/url"
)

// TransportSecurity refuses a request that App Transport Security does not
// allow to be sent in cleartext, before anything is looked up, dialled or
// sent. It sits after Followup, so every hop of a redirect is checked, and
// before the cache, so a refused URL is refused whatever the cache holds.
// Requests a custom protocol loads are not subject to it.
type TransportSecurity struct {
	// Refuse returns the error for a URL the policy refuses, nil for one
	// it allows. A nil Refuse allows everything.
	Refuse func(*url.URL) error
	// Protocols are the configuration's custom protocols.
	Protocols []Protocol
}

// Do implements Stage.
func (s *TransportSecurity) Do(ctx context.Context, call *Call, req *http.Request, next Next) (*http.Response, error) {
	if s.Refuse != nil && req.URL != nil {
		if err := s.Refuse(req.URL); err != nil && !s.custom(req) {
			if req.Body != nil {
				req.Body.Close() // as a RoundTripper would
			}
			return nil, err
		}
	}
	return next.Do(ctx, req)
}

// custom reports whether a custom protocol loads req. It is asked only of
// requests Refuse refuses, which are few.
func (s *TransportSecurity) custom(req *http.Request) bool {
	for _, p := range s.Protocols {
		if p.CanHandle(req) {
			return true
		}
	}
	return false
}
