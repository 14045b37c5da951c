package credstore

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Persistence says how long a Store keeps a credential: Apple's
// URLCredential.Persistence, with Apple's numeric values. There is no
// Synchronizable: nothing here syncs credentials between devices.
type Persistence int

const (
	// None means the credential is used once and never stored: a Store's
	// Set and SetDefaultCredential accept it and store nothing.
	None Persistence = 0
	// ForSession keeps the credential in the Store's memory until the Store
	// is closed or the process ends.
	ForSession Persistence = 1
	// Permanent keeps the credential on disk, in the Store's directory, so
	// that later Stores on that directory (in any process) see it. A
	// memory-only Store keeps it in memory.
	Permanent Persistence = 2
)

// String returns Apple's name for the persistence ("none", "forSession",
// "permanent") or "Persistence(n)" for any other value.
func (p Persistence) String() string {
	switch p {
	case None:
		return "none"
	case ForSession:
		return "forSession"
	case Permanent:
		return "permanent"
	}
	return "Persistence(" + strconv.Itoa(int(p)) + ")"
}

// Credential is a user name and password with a persistence: Apple's
// URLCredential(user:password:persistence:). Certificate and server-trust
// credentials are not stored by a Store and are not represented here.
//
// Every way the fmt and log/slog packages format a Credential redacts the
// password; the User is shown.
type Credential struct {
	// User is the user name; it is the key of the credential within its
	// protection space. The empty user name is a valid key.
	User string
	// Password is the secret. Empty means the credential has no password.
	Password string
	// Persistence is how long a Store keeps the credential.
	Persistence Persistence
}

// HasPassword reports whether c carries a password (Password is not empty),
// like Apple's URLCredential.hasPassword.
func (c Credential) HasPassword() bool { return c.Password != "" }

// redacted is what stands for a password in every textual form.
const redacted = "<redacted>"

func (c Credential) passwordText() string {
	if c.HasPassword() {
		return redacted
	}
	return "<none>"
}

// String returns a description of c with the password redacted, for example
// `{User:"alice" Password:<redacted> Persistence:forSession}`.
func (c Credential) String() string {
	return fmt.Sprintf("{User:%q Password:%s Persistence:%s}", c.User, c.passwordText(), c.Persistence)
}

// GoString returns a Go-syntax-like description of c for %#v, with the
// password redacted: `credstore.Credential{User:"alice",
// Password:"<redacted>", Persistence:1}`.
func (c Credential) GoString() string {
	return fmt.Sprintf("credstore.Credential{User:%q, Password:%q, Persistence:%d}", c.User, c.passwordText(), int(c.Persistence))
}

// Format implements fmt.Formatter so that no verb prints the password: %#v
// prints GoString, every other verb prints String (quoted for %q).
func (c Credential) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, c.GoString())
	case verb == 'q':
		fmt.Fprint(f, strconv.Quote(c.String()))
	default:
		fmt.Fprint(f, c.String())
	}
}

// LogValue implements slog.LogValuer: a group of the user, whether there is
// a password, and the persistence; never the password.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user", c.User),
		slog.Bool("hasPassword", c.HasPassword()),
		slog.String("persistence", c.Persistence.String()),
	)
}
