package auth

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that what it returns is well
// formed and sorted, and that each challenge survives being written out
// and parsed again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`Basic realm="simple", Newauth realm="apps", type=1, title="Login to \"apps\""`,
		`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
		`NTLM TlRMTVNTUAACAAAADAAMADAAAAA=, Negotiate, Basic realm="x"`,
		`Basic realm="a, b", , Digest nonce=, realm="oops`,
		"Basic realm=\"a\x01\", Bearer error=\"invalid_token\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Parse(s)
		for i, c := range got {
			if c.Scheme == "" || c.Scheme != strings.ToLower(c.Scheme) {
				t.Fatalf("bad scheme %q", c.Scheme)
			}
			for _, r := range []byte(c.Scheme) {
				if !isTchar(r) {
					t.Fatalf("scheme %q is not a token", c.Scheme)
				}
			}
			if c.Token68 != "" && len(c.Params) > 0 {
				t.Fatalf("challenge %#v has both token68 and params", c)
			}
			if c.Realm != c.Params["realm"] {
				t.Fatalf("Realm %q != realm param %q", c.Realm, c.Params["realm"])
			}
			for k := range c.Params {
				if k == "" || k != strings.ToLower(k) {
					t.Fatalf("param name %q", k)
				}
			}
			again := Parse(format(c))
			if len(again) != 1 || !reflect.DeepEqual(again[0], c) {
				t.Fatalf("challenge %#v written as %q parses as %#v", c, format(c), again)
			}
			if i > 0 && got[i-1].strength() < c.strength() {
				t.Fatalf("not sorted: %#v before %#v", got[i-1], c)
			}
		}
	})
}

// format writes c as a field value, its parameters sorted by name.
func format(c Challenge) string {
	var b strings.Builder
	b.WriteString(c.Scheme)
	if c.Token68 != "" {
		b.WriteString(" " + c.Token68)
	}
	names := make([]string, 0, len(c.Params))
	for k := range c.Params {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, k := range names {
		if i == 0 {
			b.WriteString(" ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + quote(c.Params[k]))
	}
	return b.String()
}
