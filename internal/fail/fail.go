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
