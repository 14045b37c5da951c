package auth

import "errors"

// Errors returned by this package. They are matched with errors.Is; the
// returned errors may wrap them with more context, but never with a user
// name, password, hash or token.
var (
	// ErrUnsupported is returned for a challenge this package cannot
	// answer: an unknown scheme, a Digest algorithm or qop it does not
	// know, or a Digest challenge without a nonce.
	ErrUnsupported = errors.New("auth: unsupported challenge")
	// ErrInvalidCredential is returned for a user name or password that
	// the scheme cannot carry: a Basic user name with a colon, control
	// characters, or an empty NTLM user name.
	ErrInvalidCredential = errors.New("auth: credential cannot be sent with this scheme")
	// ErrBodyNotHashable is returned when a Digest challenge demands qop
	// "auth-int" but the request body is a stream that cannot be read
	// twice.
	ErrBodyNotHashable = errors.New("auth: digest auth-int needs a request body that can be read again")
	// ErrNoState is returned by DigestClient.Authorize for a protection
	// space it has no nonce for.
	ErrNoState = errors.New("auth: no digest nonce for this protection space")
	// ErrMutualAuth is returned when the server's Authentication-Info
	// rspauth does not prove that it knows the credential.
	ErrMutualAuth = errors.New("auth: server failed digest mutual authentication")
	// ErrMalformed is returned for a malformed Authentication-Info field
	// or NTLM or Negotiate token from the server.
	ErrMalformed = errors.New("auth: malformed authentication data from server")
)
