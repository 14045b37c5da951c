package auth

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/Azure/go-ntlmssp"
)

// NTLM over HTTP is a three-leg handshake on one connection (MS-NLMP, as
// HTTP carries it per RFC 4559 §5): the server answers a request with
// "WWW-Authenticate: NTLM"; the client repeats the request with
// [NTLMNegotiate]'s NEGOTIATE_MESSAGE; the server answers 401 with a
// CHALLENGE_MESSAGE ("NTLM <base64>"); the client repeats the request
// once more with [NTLMAuthenticate]'s AUTHENTICATE_MESSAGE. The server
// authenticates the connection, not the request, so all three legs must
// use the same connection, and the request body is best left out of the
// first two legs.
//
// Only NTLMv2 is produced, and only without key exchange: a server that
// demands NTLMv1 (NTLMSSP_NEGOTIATE_LM_KEY) or key exchange is refused.

// SplitNTLMUser splits a Windows logon name into domain and user:
// "DOMAIN\user" gives ("DOMAIN", "user"); a user principal name
// "user@example.com" and a plain "user" have no domain (the server
// resolves a UPN itself).
func SplitNTLMUser(name string) (domain, user string) {
	if d, u, ok := strings.Cut(name, `\`); ok {
		return d, u
	}
	return "", name
}

// NTLMNegotiate returns the Authorization (or Proxy-Authorization) field
// value of the first leg: "NTLM " and a NEGOTIATE_MESSAGE that names no
// domain and no workstation.
func NTLMNegotiate() (string, error) {
	msg, err := ntlmssp.NewNegotiateMessage("", "")
	if err != nil {
		return "", fmt.Errorf("auth: ntlm negotiate message: %w", err)
	}
	return "NTLM " + base64.StdEncoding.EncodeToString(msg), nil
}

// NTLMAuthenticate returns the field value that answers the server's NTLM
// challenge c (scheme NTLM, with the CHALLENGE_MESSAGE as its token68)
// for the Windows logon name user (see [SplitNTLMUser]) and password: "NTLM
// " and an NTLMv2 AUTHENTICATE_MESSAGE.
//
// It fails with ErrInvalidCredential for an empty user name, with
// ErrMalformed when c carries no token or the token is not base64 or not
// a CHALLENGE_MESSAGE, and with ErrUnsupported when the server asks for
// NTLMv1 or key exchange. The error never contains the credential.
func NTLMAuthenticate(c Challenge, user, password string) (string, error) {
	if c.Scheme != SchemeNTLM {
		return "", fmt.Errorf("%w: scheme %q is not ntlm", ErrUnsupported, c.Scheme)
	}
	domain, name := SplitNTLMUser(user)
	if name == "" {
		return "", fmt.Errorf("%w: empty NTLM user name", ErrInvalidCredential)
	}
	if c.Token68 == "" {
		return "", fmt.Errorf("%w: NTLM challenge without a CHALLENGE_MESSAGE", ErrMalformed)
	}
	challenge, err := base64.StdEncoding.DecodeString(c.Token68)
	if err != nil {
		return "", fmt.Errorf("%w: NTLM challenge is not base64", ErrMalformed)
	}
	if err := checkNTLMChallenge(challenge); err != nil {
		return "", err
	}
	logon := name
	if domain != "" {
		logon = domain + `\` + name
	}
	msg, err := ntlmssp.NewAuthenticateMessage(challenge, logon, password, nil)
	if err != nil {
		// The library's errors describe the message, never the credential.
		return "", fmt.Errorf("%w: ntlm: %v", ErrMalformed, err)
	}
	return "NTLM " + base64.StdEncoding.EncodeToString(msg), nil
}

// NTLM negotiate flags this package checks (MS-NLMP §2.2.2.5).
const (
	ntlmFlagUnicode = 0x00000001
	ntlmFlagLMKey   = 0x00000080
	ntlmFlagKeyExch = 0x40000000
)

// checkNTLMChallenge validates the fixed part of a CHALLENGE_MESSAGE
// (MS-NLMP §2.2.1.2) and its variable fields' bounds before the library
// reads it.
func checkNTLMChallenge(b []byte) error {
	const fixed = 48 // signature, type, TargetNameFields, flags, challenge, reserved, TargetInfoFields
	if len(b) < fixed || string(b[:8]) != "NTLMSSP\x00" || le32(b[8:]) != 2 {
		return fmt.Errorf("%w: not an NTLM CHALLENGE_MESSAGE", ErrMalformed)
	}
	for _, off := range []int{12, 40} { // TargetNameFields, TargetInfoFields
		n, at := int(le16(b[off:])), int(le32(b[off+4:]))
		if n > 0 && (at < 0 || at > len(b) || n > len(b)-at) {
			return fmt.Errorf("%w: NTLM CHALLENGE_MESSAGE field out of bounds", ErrMalformed)
		}
	}
	flags := le32(b[20:])
	switch {
	case flags&ntlmFlagUnicode == 0:
		return fmt.Errorf("%w: NTLM server does not accept Unicode", ErrUnsupported)
	case flags&ntlmFlagLMKey != 0:
		return fmt.Errorf("%w: NTLM server asks for NTLMv1 (LM key)", ErrUnsupported)
	case flags&ntlmFlagKeyExch != 0:
		return fmt.Errorf("%w: NTLM server asks for key exchange", ErrUnsupported)
	}
	return nil
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
