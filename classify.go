package urlsession

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
)

// classify turns any error from loading rawURL into an *Error with the right
// code. The result keeps err as its cause and rawURL as its URL; an *Error
// already in err's chain is returned as it is, with its URL filled in if
// empty, and an internal *fail.Error keeps its code and cause.
func classify(err error, rawURL string) *Error {
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*Error](err); ok {
		if e.URL == "" && rawURL != "" {
			c := *e // a copy: e may be shared
			c.URL = rawURL
			return &c
		}
		return e
	}
	if fe, ok := errors.AsType[*fail.Error](err); ok {
		cause := fe.Err
		if cause == nil {
			cause = err
		}
		return &Error{Code: Code(fe.Code), URL: rawURL, Err: cause}
	}
	e := &Error{Code: codeOfCause(err), URL: rawURL, Err: err}
	if r, ok := errors.AsType[*refusedNetwork](err); ok {
		e.Code, e.reason, e.hasReason = ErrNotConnectedToInternet, r.reason, true
	}
	return e
}

// codeOfCause returns the code for an error that carries none. The checks run
// from the most to the least specific.
func codeOfCause(err error) Code {
	switch {
	case errors.Is(err, context.Canceled):
		return ErrCancelled
	case errors.Is(err, context.DeadlineExceeded) || chainHas(err, isNetTimeout):
		return ErrTimedOut
	case chainHas(err, isURLParseError),
		chainHasType[url.InvalidHostError](err),
		chainHasType[url.EscapeError](err):
		return ErrBadURL
	}
	if de, ok := errors.AsType[*net.DNSError](err); ok {
		switch {
		case de.IsNotFound:
			return ErrCannotFindHost
		case de.IsTimeout:
			return ErrTimedOut
		case strings.Contains(de.Err, "no such host"): // net's unexported errNoSuchHost
			return ErrCannotFindHost
		}
		return ErrDNSLookupFailed
	}
	if chainHasType[*net.AddrError](err) || chainHasType[*net.ParseError](err) {
		return ErrBadURL // such as "address 999999: invalid port"
	}
	if c := tlsCode(err); c != 0 {
		return c
	}
	if c := errnoCode(err); c != 0 {
		return c
	}
	if chainHasType[textproto.ProtocolError](err) {
		return ErrBadServerResponse
	}
	text := causeText(err)
	for _, t := range netErrorTexts {
		if strings.Contains(text, t.text) {
			return t.code
		}
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return ErrNetworkConnectionLost
	case chainHas(err, isDialError):
		return ErrCannotConnectToHost
	}
	return ErrUnknown
}

// netErrorTexts lists texts of errors that net/http, its bundled HTTP/2 and
// golang.org/x/net/http2 (which share the texts) and crypto/tls build with
// errors.New or fmt.Errorf and expose no type or variable for. codeOfCause
// looks for them in order, so the specific precede the general.
var netErrorTexts = []struct {
	text string
	code Code
}{
	// The request could not be sent.
	{"unsupported protocol scheme", ErrUnsupportedURL},
	{"http: no Host in request URL", ErrBadURL},
	{"http: nil Request.URL", ErrBadURL},
	{"net/http: request canceled", ErrCancelled}, // Request.Cancel, Transport.CancelRequest

	// The response is not HTTP. "malformed" covers the HTTP/1 status line and
	// version, MIME headers, chunked encoding, the HTTP/2 :status and
	// "transport connection broken: malformed ...".
	{"malformed", ErrBadServerResponse},
	{"server response headers exceeded", ErrBadServerResponse},
	{"header line too long", ErrBadServerResponse},
	{"bad Content-Length", ErrBadServerResponse},
	{"invalid Content-Length", ErrBadServerResponse},
	{"invalid empty Content-Length", ErrBadServerResponse},
	{"multiple Content-Length headers", ErrBadServerResponse},
	{"unexpected EOF reading trailer", ErrBadServerResponse},
	{"suspiciously long trailer", ErrBadServerResponse},
	{"bad trailer key", ErrBadServerResponse},
	{"chunk length", ErrBadServerResponse}, // invalid byte in, empty hex number for, too large
	{"chunked line", ErrBadServerResponse}, // ends with bare LF, invalid CR in
	{"chunked encoding", ErrBadServerResponse},
	{"server sent an invalid", ErrBadServerResponse},

	// HTTP/2. A GOAWAY's error code is the server's complaint, so it precedes
	// the codes that mean the server broke the protocol.
	{"GOAWAY", ErrNetworkConnectionLost},
	{"PROTOCOL_ERROR", ErrBadServerResponse},
	{"FRAME_SIZE_ERROR", ErrBadServerResponse},
	{"COMPRESSION_ERROR", ErrBadServerResponse},
	{"http2: frame too large", ErrBadServerResponse},
	{"http2: response header list larger", ErrBadServerResponse},
	{"http2: too many 1xx", ErrBadServerResponse},

	// The connection broke.
	{"http: server closed idle connection", ErrNetworkConnectionLost},
	{"transport connection broken", ErrNetworkConnectionLost},
	{"stream error: stream ID", ErrNetworkConnectionLost},
	{"connection error: ", ErrNetworkConnectionLost},
	{"http2: client conn", ErrNetworkConnectionLost}, // is closed, not usable, ...ection lost

	// Any other crypto/tls failure, such as "tls: handshake failure".
	{"tls: ", ErrSecureConnectionFailed},
}

// tlsCode returns the code for a TLS failure, or 0 if err is none.
func tlsCode(err error) Code {
	if c := certificateCode(err); c != 0 {
		return c
	}
	if a, ok := tlsAlert(err); ok {
		switch a {
		case 116: // certificate_required
			return ErrClientCertificateRequired
		case 42, 43, 44, 45, 46, 48:
			// bad_certificate, unsupported_certificate, certificate_revoked,
			// certificate_expired, certificate_unknown, unknown_ca: sent by
			// the server, they reject our certificate (or its absence).
			return ErrClientCertificateRejected
		}
		return ErrSecureConnectionFailed
	}
	switch {
	case errors.Is(err, http.ErrSchemeMismatch),
		chainHasType[tls.RecordHeaderError](err),
		chainHasType[*tls.ECHRejectionError](err):
		return ErrSecureConnectionFailed
	}
	return 0
}

// certificateCode returns the code for a server certificate that failed
// verification, or 0 if err is not such a failure.
func certificateCode(err error) Code {
	var leaf *x509.Certificate
	cve, verifying := errors.AsType[*tls.CertificateVerificationError](err)
	if verifying && len(cve.UnverifiedCertificates) > 0 {
		leaf = cve.UnverifiedCertificates[0]
	}
	if cie, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		if cie.Reason != x509.Expired {
			return ErrServerCertificateUntrusted
		}
		// x509 reports both ends of the validity period as Expired.
		cert := cie.Cert
		if cert == nil {
			cert = leaf
		}
		if cert != nil && time.Now().Before(cert.NotBefore) {
			return ErrServerCertificateNotYetValid
		}
		return ErrServerCertificateHasBadDate
	}
	switch {
	case verifying,
		chainHasType[x509.UnknownAuthorityError](err),
		chainHasType[x509.HostnameError](err),
		chainHasType[x509.UnhandledCriticalExtension](err),
		chainHasType[x509.ConstraintViolationError](err),
		chainHasType[x509.SystemRootsError](err),
		chainHasType[x509.InsecureAlgorithmError](err):
		return ErrServerCertificateUntrusted
	}
	return 0
}

// tlsAlert returns the TLS alert that err reports as received: a
// tls.AlertError, or the alert in the *net.OpError with Op "remote error" by
// which crypto/tls reports an alert from the peer. crypto/tls does not export
// that alert's type, a uint8, so tlsAlert reads it by reflection.
func tlsAlert(err error) (uint8, bool) {
	if a, ok := errors.AsType[tls.AlertError](err); ok {
		return uint8(a), true
	}
	var a uint8
	found := chainHas(err, func(e error) bool {
		op, ok := e.(*net.OpError)
		if !ok || op.Op != "remote error" || op.Err == nil {
			return false
		}
		v := reflect.ValueOf(op.Err)
		if v.Kind() != reflect.Uint8 || v.Type().PkgPath() != "crypto/tls" {
			return false
		}
		a = uint8(v.Uint())
		return true
	})
	return a, found
}

// errnoCode returns the code for a socket error, or 0 if err is none.
func errnoCode(err error) Code {
	is := func(errnos ...syscall.Errno) bool {
		for _, n := range errnos {
			if errors.Is(err, n) {
				return true
			}
		}
		return false
	}
	switch {
	case is(syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.EHOSTDOWN, syscall.EADDRNOTAVAIL):
		return ErrCannotConnectToHost
	case is(syscall.ENETUNREACH, syscall.ENETDOWN):
		return ErrNotConnectedToInternet
	case is(syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED):
		return ErrNetworkConnectionLost
	}
	return 0
}

// causeText returns the text to match against netErrorTexts: that of the cause
// inside the innermost *url.Error, so that the URL it quotes cannot match.
func causeText(err error) string {
	var inner error = err
	chainHas(err, func(e error) bool {
		if ue, ok := e.(*url.Error); ok && ue.Err != nil {
			inner = ue.Err
		}
		return false
	})
	return inner.Error()
}

func isNetTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func isURLParseError(err error) bool {
	ue, ok := err.(*url.Error)
	return ok && ue.Op == "parse"
}

func isDialError(err error) bool {
	op, ok := err.(*net.OpError)
	return ok && op.Op == "dial"
}

// chainHasType reports whether err's chain has an error of type T.
func chainHasType[T error](err error) bool {
	_, ok := errors.AsType[T](err)
	return ok
}

// chainHas reports whether f is true of err or of any error in its chain,
// following Unwrap() error and Unwrap() []error depth first.
func chainHas(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if chainHas(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
