package h2

import (
	"errors"
	"net/http"
)

// The texts are those of net/http's HTTP/2 client, which the session
// classifies by.
var (
	errConnClosed     = errors.New("http2: client conn is closed")
	errConnUnusable   = errors.New("http2: client conn not usable")
	errBodyClosed     = errors.New("http2: response body closed")
	errHeaderList     = errors.New("http2: response header list larger than advertised limit")
	errReqHeaderList  = errors.New("http2: request header list larger than peer's advertised limit")
	errTooMany1xx     = errors.New("http2: too many 1xx informational responses")
	err1xxEndStream   = errors.New("malformed response from server: 1xx informational response with END_STREAM flag")
	errStatus         = errors.New("malformed response from server: missing or malformed status pseudo header")
	errPseudo         = errors.New("malformed response from server: unexpected pseudo header")
	errContentLength  = errors.New("malformed response from server: invalid content-length")
	errBodyLength     = errors.New("malformed response from server: body length differs from content-length")
	errTrailerPseudo  = errors.New("malformed response from server: pseudo header in trailers")
	errTrailerNoEnd   = errors.New("malformed response from server: trailers without END_STREAM")
	errDataBeforeHead = errors.New("malformed response from server: DATA before HEADERS")
	// errStopped ends a request body's writer whose stream has ended.
	errStopped = errors.New("http2: stream ended")
)

// notCached is an error after which the request may go on another
// connection: it was refused before the server processed it. net/http's
// Transport recognises the method, drops the connection from its idle
// list and sends the request again.
type notCached struct{ err error }

func (e notCached) Error() string                                { return e.err.Error() }
func (e notCached) Unwrap() error                                { return e.err }
func (notCached) IsHTTP2NoCachedConnError()                      {}
func retryable(err error) error                                  { return notCached{err} }
func isRetryable(err error) bool                                 { _, ok := err.(notCached); return ok }
func (e erring) RoundTrip(*http.Request) (*http.Response, error) { return nil, e.err }

// RoundTripErr is what net/http's Transport asks a TLSNextProto result
// that could not be set up for.
func (e erring) RoundTripErr() error { return e.err }

// erring is the RoundTripper Pool.Upgrade returns for a connection it
// could not start.
type erring struct{ err error }
