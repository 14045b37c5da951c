package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestBasic(t *testing.T) {
	utf8Challenge := &Challenge{Scheme: SchemeBasic, Realm: "foo", Params: map[string]string{"realm": "foo", "charset": "UTF-8"}}
	tests := []struct {
		user, password string
		c              *Challenge
		want           string
	}{
		// RFC 7617 §2.
		{"Aladdin", "open sesame", nil, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},
		// RFC 7617 §2.1: "test" / "123£" with charset="UTF-8".
		{"test", "123\u00a3", utf8Challenge, "Basic dGVzdDoxMjPCow=="},
		// Without charset, UTF-8 all the same.
		{"test", "123\u00a3", nil, "Basic dGVzdDoxMjPCow=="},
		// With charset=UTF-8, NFC: "e" + U+0301 becomes U+00E9.
		{"jose\u0301", "pw", utf8Challenge, "Basic " + base64.StdEncoding.EncodeToString([]byte("jos\u00e9:pw"))},
		// Without it, the bytes as given.
		{"jose\u0301", "pw", nil, "Basic " + base64.StdEncoding.EncodeToString([]byte("jose\u0301:pw"))},
		// A colon in the password is fine.
		{"u", "a:b", nil, "Basic dTphOmI="},
		{"", "", nil, "Basic Og=="},
	}
	for _, tt := range tests {
		got, err := Basic(tt.user, tt.password, tt.c)
		if err != nil || got != tt.want {
			t.Errorf("Basic(%q, %q) = %q, %v; want %q", tt.user, tt.password, got, err, tt.want)
		}
	}
}

func TestBasicRejects(t *testing.T) {
	const secret = "s3cr3t-pw"
	for _, tt := range []struct{ user, password string }{
		{"us:er" + secret, secret},
		{"user\x00" + secret, secret},
		{"user", secret + "\n"},
		{"user", secret + "\x7f"},
		{"user", secret + "\u0085"},
		{"user\xff" + secret, secret},
	} {
		got, err := Basic(tt.user, tt.password, nil)
		if got != "" || !errors.Is(err, ErrInvalidCredential) {
			t.Errorf("Basic(%q, %q) = %q, %v; want ErrInvalidCredential", tt.user, tt.password, got, err)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "us:er") {
			t.Errorf("error %q shows the credential", err)
		}
	}
}
