package auth

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Basic returns the Authorization (or Proxy-Authorization) field value
// that answers a Basic challenge (RFC 7617) with user and password:
// "Basic " and the base64 of user ":" password in UTF-8.
//
// The credential is always encoded in UTF-8, as browsers do, whether or
// not the challenge c says charset="UTF-8"; when it does, user and
// password are first put in Unicode Normalization Form C (RFC 7617 §2.1).
// c may be nil, for a pre-emptive request.
//
// Basic fails with ErrInvalidCredential when user contains a colon, or
// when user or password contains a control character or is not valid
// UTF-8 (RFC 7617 §2). The error never contains the credential.
func Basic(user, password string, c *Challenge) (string, error) {
	if strings.IndexByte(user, ':') >= 0 {
		return "", fmt.Errorf("%w: a Basic user name cannot contain ':'", ErrInvalidCredential)
	}
	if !basicText(user) {
		return "", fmt.Errorf("%w: the Basic user name has a control character or invalid UTF-8", ErrInvalidCredential)
	}
	if !basicText(password) {
		return "", fmt.Errorf("%w: the Basic password has a control character or invalid UTF-8", ErrInvalidCredential)
	}
	if c != nil && strings.EqualFold(c.Params["charset"], "UTF-8") {
		user, password = norm.NFC.String(user), norm.NFC.String(password)
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password)), nil
}

// basicText reports whether s is valid UTF-8 without control characters
// (C0, DEL and C1).
func basicText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || (0x7f <= r && r <= 0x9f) {
			return false
		}
	}
	return true
}
