package urlsession

import "net/http"

// Protocol loads URLs of a scheme the session does not know, or takes over
// requests it would otherwise send itself. It is the Go form of Apple's
// URLProtocol, registered per session through Configuration.Protocols.
//
// A Protocol answers with an *http.Response the way an http.RoundTripper
// does (http.NewFileTransport is an example), so everything above it works
// unchanged: a 3xx with a Location is followed as a redirect, the body is
// streamed to the delegate, metrics are recorded. The request's context is
// cancelled when the task is cancelled or times out; RoundTrip and reads of
// the body must then return promptly.
type Protocol interface {
	// CanHandle reports whether the protocol loads req. It must be fast and
	// must not keep req.
	CanHandle(req *http.Request) bool
	// RoundTrip loads req, as http.RoundTripper.RoundTrip: a non-nil error
	// means no response; the session closes the returned body.
	RoundTrip(req *http.Request) (*http.Response, error)
}
