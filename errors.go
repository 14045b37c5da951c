package urlsession

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Code is a URL loading error code. Its values are Apple's URLError codes
// (NSURLErrorDomain), so a code read in Apple's documentation or in a log from
// an Apple platform means the same thing here.
//
// Code implements error, so each constant is also a sentinel that errors.Is
// matches against an *Error carrying that code:
//
//	if errors.Is(err, urlsession.ErrTimedOut) { ... }
type Code int

// The URL loading error codes. The names follow Apple's URLError.Code cases
// with an Err prefix; the numbers are Apple's.
const (
	ErrUnknown                                      Code = -1
	ErrCancelled                                    Code = -999
	ErrBadURL                                       Code = -1000
	ErrTimedOut                                     Code = -1001
	ErrUnsupportedURL                               Code = -1002
	ErrCannotFindHost                               Code = -1003
	ErrCannotConnectToHost                          Code = -1004
	ErrNetworkConnectionLost                        Code = -1005
	ErrDNSLookupFailed                              Code = -1006
	ErrHTTPTooManyRedirects                         Code = -1007
	ErrResourceUnavailable                          Code = -1008
	ErrNotConnectedToInternet                       Code = -1009
	ErrRedirectToNonExistentLocation                Code = -1010
	ErrBadServerResponse                            Code = -1011
	ErrUserCancelledAuthentication                  Code = -1012
	ErrUserAuthenticationRequired                   Code = -1013
	ErrZeroByteResource                             Code = -1014
	ErrCannotDecodeRawData                          Code = -1015
	ErrCannotDecodeContentData                      Code = -1016
	ErrCannotParseResponse                          Code = -1017
	ErrRequestBodyStreamExhausted                   Code = -1021
	ErrAppTransportSecurityRequiresSecureConnection Code = -1022
	ErrFileDoesNotExist                             Code = -1100
	ErrFileIsDirectory                              Code = -1101
	ErrNoPermissionsToReadFile                      Code = -1102
	ErrDataLengthExceedsMaximum                     Code = -1103
	ErrFileOutsideSafeArea                          Code = -1104
	ErrSecureConnectionFailed                       Code = -1200
	ErrServerCertificateHasBadDate                  Code = -1201
	ErrServerCertificateUntrusted                   Code = -1202
	ErrServerCertificateHasUnknownRoot              Code = -1203
	ErrServerCertificateNotYetValid                 Code = -1204
	ErrClientCertificateRejected                    Code = -1205
	ErrClientCertificateRequired                    Code = -1206
	ErrCannotLoadFromNetwork                        Code = -2000
	ErrCannotCreateFile                             Code = -3000
	ErrCannotOpenFile                               Code = -3001
	ErrCannotCloseFile                              Code = -3002
	ErrCannotWriteToFile                            Code = -3003
	ErrCannotRemoveFile                             Code = -3004
	ErrCannotMoveFile                               Code = -3005
	ErrDownloadDecodingFailedMidStream              Code = -3006
	ErrDownloadDecodingFailedToComplete             Code = -3007

	// The background session codes (see BackgroundConfiguration).
	ErrBackgroundSessionInUseByAnotherProcess Code = -996
	ErrBackgroundSessionWasDisconnected       Code = -997
)

// Codes of this package's own, for failures Apple's URLError has no code
// for. They lie from -10000 down, outside the range of Apple's codes.
const (
	// ErrDigestMismatch is the code of a download whose bytes do not match
	// a digest: the server's Content-Digest or Repr-Digest (RFC 9530), or
	// the one the caller expected (DownloadTask.SetExpectedDigest). The
	// file is not handed over and no resume data is kept: its bytes are
	// not the resource's. Apple's ErrCannotDecodeContentData (-1016) is
	// about content codings, and a program that retries or reports it
	// would be misled, hence a code of its own. The cause names the
	// algorithm, the digest's source and both values.
	ErrDigestMismatch Code = -10001
)

var codeText = map[Code]string{
	ErrUnknown:                       "unknown error",
	ErrCancelled:                     "cancelled",
	ErrBadURL:                        "bad URL",
	ErrTimedOut:                      "the request timed out",
	ErrUnsupportedURL:                "unsupported URL",
	ErrCannotFindHost:                "a server with the specified hostname could not be found",
	ErrCannotConnectToHost:           "could not connect to the server",
	ErrNetworkConnectionLost:         "the network connection was lost",
	ErrDNSLookupFailed:               "the DNS lookup failed",
	ErrHTTPTooManyRedirects:          "too many HTTP redirects",
	ErrResourceUnavailable:           "the requested resource is unavailable",
	ErrNotConnectedToInternet:        "the network is not reachable",
	ErrRedirectToNonExistentLocation: "redirected to a nonexistent location",
	ErrBadServerResponse:             "bad server response",
	ErrUserCancelledAuthentication:   "authentication was cancelled",
	ErrUserAuthenticationRequired:    "authentication is required",
	ErrZeroByteResource:              "zero byte resource",
	ErrCannotDecodeRawData:           "cannot decode raw data",
	ErrCannotDecodeContentData:       "cannot decode content data",
	ErrCannotParseResponse:           "cannot parse response",
	ErrRequestBodyStreamExhausted:    "the request body stream is exhausted",
	ErrAppTransportSecurityRequiresSecureConnection: "the resource could not be loaded because the " +
		"App Transport Security policy requires a secure connection",
	ErrFileDoesNotExist:                 "the file does not exist",
	ErrFileIsDirectory:                  "the file is a directory",
	ErrNoPermissionsToReadFile:          "no permission to read the file",
	ErrDataLengthExceedsMaximum:         "the resource exceeds the maximum size",
	ErrFileOutsideSafeArea:              "the file is outside the safe area",
	ErrSecureConnectionFailed:           "a TLS error occurred and a secure connection to the server cannot be made",
	ErrServerCertificateHasBadDate:      "the server's certificate has expired",
	ErrServerCertificateUntrusted:       "the server's certificate is not trusted",
	ErrServerCertificateHasUnknownRoot:  "the server's certificate has an unknown root",
	ErrServerCertificateNotYetValid:     "the server's certificate is not yet valid",
	ErrClientCertificateRejected:        "the server rejected the client certificate",
	ErrClientCertificateRequired:        "the server requires a client certificate",
	ErrCannotLoadFromNetwork:            "the resource is not in the cache and loading from the network is not allowed",
	ErrCannotCreateFile:                 "cannot create the file",
	ErrCannotOpenFile:                   "cannot open the file",
	ErrCannotCloseFile:                  "cannot close the file",
	ErrCannotWriteToFile:                "cannot write to the file",
	ErrCannotRemoveFile:                 "cannot remove the file",
	ErrCannotMoveFile:                   "cannot move the file",
	ErrDownloadDecodingFailedMidStream:  "download decoding failed mid-stream",
	ErrDownloadDecodingFailedToComplete: "download decoding failed to complete",
	ErrDigestMismatch:                   "the downloaded data does not match its digest",

	ErrBackgroundSessionInUseByAnotherProcess: "the background session is in use by another process",
	ErrBackgroundSessionWasDisconnected:       "the background session was disconnected",
}

// Error returns the code's short description and number, such as
// "the request timed out (-1001)".
func (c Code) Error() string { return c.String() + " (" + strconv.Itoa(int(c)) + ")" }

// String returns the code's short description, such as "the request timed out".
func (c Code) String() string {
	if s, ok := codeText[c]; ok {
		return s
	}
	return "URL error " + strconv.Itoa(int(c))
}

// Error is the error of a task that failed. Every error a Session reports for
// a task is an *Error; server status codes such as 404 or 500 are responses,
// never errors.
//
// errors.Is(err, code) reports whether err carries that Code. An Error with
// code ErrCancelled also matches context.Canceled, and one with ErrTimedOut
// matches context.DeadlineExceeded, so code written for net/http keeps
// working. errors.As and Unwrap reach the underlying cause.
type Error struct {
	// Code is Apple's URLError code for the failure.
	Code Code
	// URL is the URL that failed (Apple's NSURLErrorFailingURLErrorKey):
	// after a redirect it is the URL of the failing hop. A password in it
	// is replaced by "xxxxx", as url.URL.Redacted does; the task's
	// CurrentRequest has the URL itself. It may be empty when the request
	// had no URL.
	URL string
	// Err is the underlying cause, if any: a network error, a TLS error, a
	// context error or an error returned by a delegate.
	Err error
	// DownloadTaskResumeData is the resume data of a download task that
	// failed in a way it can resume from (Apple's
	// NSURLSessionDownloadTaskResumeData): pass it to
	// Session.DownloadTaskWithResumeData. It is nil for other tasks and
	// when the download cannot be resumed (see
	// DownloadTask.CancelByProducingResumeData).
	DownloadTaskResumeData []byte
	// UploadTaskResumeData is the resume data of an upload task that
	// failed in a way it can resume from (Apple's
	// NSURLSessionUploadTaskResumeData): pass it to
	// Session.UploadTaskWithResumeData. It is set when the server offered
	// to resume the upload, still holds it, and the task failed on the
	// network or timed out, not when it was cancelled.
	UploadTaskResumeData []byte

	reason    NetworkUnavailableReason // see NetworkUnavailableReason
	hasReason bool
}

// NetworkUnavailableReason says why a network the system has was not used
// (Apple's URLError.NetworkUnavailableReason). The values are Apple's.
type NetworkUnavailableReason int

const (
	// NetworkUnavailableCellular: the network is cellular and the
	// configuration disallows cellular access.
	NetworkUnavailableCellular NetworkUnavailableReason = 0
	// NetworkUnavailableExpensive: the network is expensive (metered) and
	// the configuration disallows expensive network access.
	NetworkUnavailableExpensive NetworkUnavailableReason = 1
)

// NetworkUnavailableReason reports why the request found no network it
// may use, when the cause was the configuration's refusal of a cellular
// or expensive network (see Configuration.DisallowCellularAccess); ok is
// false otherwise.
func (e *Error) NetworkUnavailableReason() (reason NetworkUnavailableReason, ok bool) {
	return e.reason, e.hasReason
}

// Error returns a one-line description: the code's text and number, the
// failing URL and the cause. Passwords of URLs in it (the failing URL's,
// and any a cause quotes, such as a redirect's location or a proxy's URL)
// read "xxxxx", so the text is safe to log.
func (e *Error) Error() string {
	msg := e.Code.Error()
	if e.URL != "" {
		msg = fmt.Sprintf("%s: %s", e.URL, msg)
	}
	if e.Err != nil && e.Err.Error() != e.Code.String() {
		msg += ": " + e.Err.Error()
	}
	return "urlsession: " + redactURLs(msg)
}

// redactURLs replaces the password of every "scheme://user:password@"
// in s by "xxxxx".
func redactURLs(s string) string {
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "://")
		if i < 0 {
			break
		}
		auth := rest[i+3:]
		end := strings.IndexAny(auth, "/?#@ \t\n\"'<>`")
		if end < 0 || auth[end] != '@' {
			b.WriteString(rest[:i+3])
			rest = auth
			continue
		}
		colon := strings.IndexByte(auth[:end], ':')
		if colon < 0 || auth[colon+1:end] == "xxxxx" {
			b.WriteString(rest[:i+3+end+1])
			rest = auth[end+1:]
			continue
		}
		b.WriteString(rest[:i+3+colon+1])
		b.WriteString("xxxxx@")
		rest = auth[end+1:]
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(rest)
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Code, or context.Canceled for a cancelled
// error, or context.DeadlineExceeded for a timed-out one.
func (e *Error) Is(target error) bool {
	switch target {
	case e.Code:
		return true
	case context.Canceled:
		return e.Code == ErrCancelled
	case context.DeadlineExceeded:
		return e.Code == ErrTimedOut
	}
	return false
}

// Timeout reports whether the error is a timeout, as net.Error asks.
func (e *Error) Timeout() bool { return e.Code == ErrTimedOut }

// Temporary reports whether retrying the same request may succeed.
//
// Deprecated: as with net.Error, temporariness is ill-defined; test the Code.
func (e *Error) Temporary() bool {
	switch e.Code {
	case ErrTimedOut, ErrNetworkConnectionLost, ErrNotConnectedToInternet, ErrDNSLookupFailed:
		return true
	}
	return false
}

// CodeOf returns the URLError code that err carries: the Code of the first
// *Error in err's chain, err itself if it is a Code, ErrCancelled for
// context.Canceled, ErrTimedOut for context.DeadlineExceeded, 0 for a nil
// error and ErrUnknown otherwise.
func CodeOf(err error) Code {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var c Code
	if errors.As(err, &c) {
		return c
	}
	switch {
	case errors.Is(err, context.Canceled):
		return ErrCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return ErrTimedOut
	}
	return ErrUnknown
}
