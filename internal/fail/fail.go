// Package fail carries a URL loading error code from the internal packages to
// the urlsession package, which turns it into a *urlsession.Error.
package fail

import "fmt"

// Error is a failure whose URLError code is already known.
type Error struct {
	Code int   // Apple's URLError code, such as -1007
	Err  error // the cause; may be nil
}

// New returns an *Error with the code and cause.
func New(code int, err error) error { return &Error{Code: code, Err: err} }

// Newf returns an *Error with the code and a formatted cause.
func Newf(code int, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("URL error %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// LoginRefused is the cause of a -1013 failure from a protocol whose server
// refused the credentials it logged in with (FTP's 530). The session may
// answer it as an authentication challenge for the URL's protection space
// and load the URL again with the credential the challenge yields, sent as
// a Basic Authorization header.
type LoginRefused struct {
	Reply string // the server's reply, such as "530 Login incorrect."
}

func (e *LoginRefused) Error() string { return "the server refused the login: " + e.Reply }
