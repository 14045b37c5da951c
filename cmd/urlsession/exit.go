package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urlsession-go/urlsession"
)

// Exit statuses the command sets itself rather than from an error code.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitPartialFile = 18
	exitHTTPError   = 22
	exitReadError   = 26
	exitFileURL     = 37
	exitFTPNotFound = 78
	exitLoginDenied = 67
	exitClientCert  = 58
	exitCACertFile  = 77
	exitEmptyReply  = 52
	exitInterrupted = 130
	exitInterface   = 45

	// exitNoDaemon: no urlsessiond answers and none could be started
	// (--background, urlsession jobs); curl's "failed to connect".
	exitNoDaemon = 7
	// exitNoJob: urlsession jobs pause|resume|cancel named a job the
	// daemon does not have.
	exitNoJob = 4
)

// exitRule maps URLError codes to a curl-compatible exit status.
type exitRule struct {
	status  int
	meaning string
	codes   []urlsession.Code
}

// exitTable is the one table of exit statuses: the usage text and exitStatus
// both read it. Rules without codes are set by the command itself. A code
// not listed exits 1.
var exitTable = []exitRule{
	{0, "success, whatever the HTTP status (unless -f or --fail-with-body)", nil},
	{1, "unsupported protocol, or any failure not listed here", []urlsession.Code{urlsession.ErrUnsupportedURL}},
	{2, "usage error (unknown flag, bad value, no URL)", nil},
	{3, "malformed URL (also a redirect to a malformed location)", []urlsession.Code{
		urlsession.ErrBadURL, urlsession.ErrRedirectToNonExistentLocation}},
	{6, "could not resolve host", []urlsession.Code{urlsession.ErrCannotFindHost, urlsession.ErrDNSLookupFailed}},
	{7, "failed to connect to host (with --background: no daemon answers and none could be started)", []urlsession.Code{
		urlsession.ErrCannotConnectToHost, urlsession.ErrNotConnectedToInternet}},
	{8, "weird server reply (malformed response)", []urlsession.Code{
		urlsession.ErrBadServerResponse, urlsession.ErrCannotParseResponse}},
	{18, "partial file: the body ended before its announced length", nil},
	{22, "HTTP status 400 or above with -f or --fail-with-body", nil},
	{23, "could not write the output", []urlsession.Code{
		urlsession.ErrCannotCreateFile, urlsession.ErrCannotWriteToFile, urlsession.ErrCannotCloseFile,
		urlsession.ErrCannotMoveFile, urlsession.ErrCannotRemoveFile}},
	{26, "could not read a local file (-d @file, -F, -T, -w @file, .netrc)", []urlsession.Code{
		urlsession.ErrFileDoesNotExist, urlsession.ErrFileIsDirectory, urlsession.ErrNoPermissionsToReadFile,
		urlsession.ErrCannotOpenFile}},
	{28, "operation timed out (-m, --connect-timeout, or 60 s without data), or too slow (-Y, -y)", []urlsession.Code{urlsession.ErrTimedOut}},
	{32, "the downloaded file does not match its digest (--checksum, or the server's Content-Digest or Repr-Digest)", []urlsession.Code{
		urlsession.ErrDigestMismatch}},
	{33, "-C -: the server's answer cannot continue the file (a range other than the one asked for)", nil},
	{35, "TLS handshake failed", []urlsession.Code{
		urlsession.ErrSecureConnectionFailed, urlsession.ErrClientCertificateRejected,
		urlsession.ErrClientCertificateRequired}},
	{37, "could not read the file of a file: URL (missing, a directory, no permission)", nil},
	{45, "cannot connect from the interface, address or port asked for (--interface, --local-port)", nil},
	{47, "too many redirects (-L with --max-redirs, or the session's limit of 16)", []urlsession.Code{
		urlsession.ErrHTTPTooManyRedirects}},
	{52, "empty reply from server", []urlsession.Code{urlsession.ErrZeroByteResource}},
	{56, "failure receiving data (connection lost)", []urlsession.Code{urlsession.ErrNetworkConnectionLost}},
	{58, "problem with the local client certificate (-E, --key)", nil},
	{60, "server certificate not trusted or out of date", []urlsession.Code{
		urlsession.ErrServerCertificateHasBadDate, urlsession.ErrServerCertificateUntrusted,
		urlsession.ErrServerCertificateHasUnknownRoot, urlsession.ErrServerCertificateNotYetValid}},
	{61, "bad content encoding", []urlsession.Code{
		urlsession.ErrCannotDecodeRawData, urlsession.ErrCannotDecodeContentData,
		urlsession.ErrDownloadDecodingFailedMidStream, urlsession.ErrDownloadDecodingFailedToComplete}},
	{63, "maximum size exceeded (--max-filesize)", []urlsession.Code{urlsession.ErrDataLengthExceedsMaximum}},
	{65, "request body cannot be sent again for a redirect", []urlsession.Code{
		urlsession.ErrRequestBodyStreamExhausted}},
	{67, "the FTP server refused the login", nil},
	{77, "problem reading the CA certificates (--cacert, --capath)", nil},
	{78, "the file of an FTP URL does not exist (or is a directory)", nil},
	{90, "the server's public key matches no --pinnedpubkey pin", nil},
	{130, "interrupted (SIGINT or SIGTERM)", []urlsession.Code{urlsession.ErrCancelled}},
}

// exitStatus returns the exit status for a task that failed with err;
// gotResponse reports whether any response arrived.
func exitStatus(err error, gotResponse bool) int {
	code := urlsession.CodeOf(err)
	// A connection closed before a single byte of response is curl's
	// "empty reply from server".
	if code == urlsession.ErrNetworkConnectionLost && !gotResponse && errors.Is(err, io.EOF) {
		return exitEmptyReply
	}
	// A body that ends before the length it announced is curl's "partial
	// file".
	if code == urlsession.ErrNetworkConnectionLost && gotResponse && errors.Is(err, io.ErrUnexpectedEOF) {
		return exitPartialFile
	}
	// The interface, address or port to connect from could not be used.
	if be := (*bindError)(nil); errors.As(err, &be) {
		return exitInterface
	}
	for _, r := range exitTable {
		for _, c := range r.codes {
			if c == code {
				return r.status
			}
		}
	}
	return exitFailure
}

// exitStatusText is the exit status part of the usage text.
func exitStatusText() string {
	var b strings.Builder
	for _, r := range exitTable {
		fmt.Fprintf(&b, "  %3d  %s\n", r.status, r.meaning)
	}
	return b.String()
}

// statusError is a failure with an exit status of its own and no
// URLError code.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// failure is a failed run: the exit status and the one-line message.
type failure struct {
	status int
	code   int // the URLError code, or the exit status when there is none
	msg    string
}

// failureOf describes a task error.
func failureOf(err error, gotResponse bool) *failure {
	f := &failure{status: exitStatus(err, gotResponse), code: int(urlsession.CodeOf(err)), msg: err.Error()}
	var e *urlsession.Error
	if errors.As(err, &e) {
		f.msg = e.Code.String()
		if e.Err != nil && e.Err.Error() != f.msg {
			f.msg += ": " + e.Err.Error()
		}
	}
	return f
}

// report prints f as "urlsession: (<code>) <message>".
func (f *failure) report(w io.Writer) {
	fmt.Fprintf(w, "urlsession: (%d) %s\n", f.code, f.msg)
}
