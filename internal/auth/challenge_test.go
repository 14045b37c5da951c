package auth

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/urlsession-go/urlsession/credstore"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   []Challenge
	}{
		{"empty", []string{""}, nil},
		{"only commas", []string{" , ,, "}, nil},
		{"basic", []string{`Basic realm="simple"`}, []Challenge{
			{Scheme: "basic", Realm: "simple", Params: map[string]string{"realm": "simple"}},
		}},
		{"scheme case and token value", []string{`BASIC Realm=simple, CharSet=UTF-8`}, []Challenge{
			{Scheme: "basic", Realm: "simple", Params: map[string]string{"realm": "simple", "charset": "UTF-8"}},
		}},
		{"bare scheme", []string{`Negotiate`}, []Challenge{{Scheme: "negotiate"}}},
		{"token68", []string{`NTLM TlRMTVNTUAACAAAA==`}, []Challenge{{Scheme: "ntlm", Token68: "TlRMTVNTUAACAAAA=="}}},
		{"token68 with slash and plus", []string{`Negotiate oRQw+EqAD/CgEAoQ=`}, []Challenge{{Scheme: "negotiate", Token68: "oRQw+EqAD/CgEAoQ="}}},
		{"token68 that looks like a param start", []string{`Newauth abc=`}, []Challenge{{Scheme: "newauth", Token68: "abc="}}},
		{
			// RFC 9110 §11.6.1's example: two challenges in one value.
			"rfc 9110 example",
			[]string{`Basic realm="simple", Newauth realm="apps", type=1, title="Login to \"apps\""`},
			[]Challenge{
				{Scheme: "basic", Realm: "simple", Params: map[string]string{"realm": "simple"}},
				{Scheme: "newauth", Realm: "apps", Params: map[string]string{"realm": "apps", "type": "1", "title": `Login to "apps"`}},
			},
		},
		{"comma inside quoted string", []string{`Digest realm="a, b", nonce="n,=\"x", qop="auth,auth-int"`}, []Challenge{
			{Scheme: "digest", Realm: "a, b", Params: map[string]string{"realm": "a, b", "nonce": `n,="x`, "qop": "auth,auth-int"}},
		}},
		{"empty elements and BWS", []string{` ,Basic realm = "x" ,, , Digest  realm="y",nonce=abc ,`}, []Challenge{
			{Scheme: "digest", Realm: "y", Params: map[string]string{"realm": "y", "nonce": "abc"}},
			{Scheme: "basic", Realm: "x", Params: map[string]string{"realm": "x"}},
		}},
		{"several lines", []string{`Basic realm="b"`, `NTLM`, `Negotiate`, `Bearer realm="api"`}, []Challenge{
			{Scheme: "negotiate"},
			{Scheme: "ntlm"},
			{Scheme: "basic", Realm: "b", Params: map[string]string{"realm": "b"}},
			{Scheme: "bearer", Realm: "api", Params: map[string]string{"realm": "api"}},
		}},
		{"param without value drops its challenge only", []string{`Digest nonce=, realm="d", Basic realm="b"`}, []Challenge{
			{Scheme: "basic", Realm: "b", Params: map[string]string{"realm": "b"}},
		}},
		{"lone name= is a token68 by the grammar", []string{`Basic realm=`}, []Challenge{{Scheme: "basic", Token68: "realm="}}},
		{"broken middle param", []string{`Digest realm="d", nonce=, qop=auth, Basic realm="b"`}, []Challenge{
			{Scheme: "basic", Realm: "b", Params: map[string]string{"realm": "b"}},
		}},
		{"unterminated quote eats the rest of its line only", []string{`Basic realm="b", Digest realm="oops`, `NTLM`}, []Challenge{
			{Scheme: "ntlm"},
			{Scheme: "basic", Realm: "b", Params: map[string]string{"realm": "b"}},
		}},
		{"control character in quoted string", []string{"Basic realm=\"a\x01b\", Negotiate"}, []Challenge{{Scheme: "negotiate"}}},
		{"escaped backslash", []string{`Basic realm="a\\b"`}, []Challenge{
			{Scheme: "basic", Realm: `a\b`, Params: map[string]string{"realm": `a\b`}},
		}},
		{"obs-text kept", []string{"Basic realm=\"caf\xc3\xa9\""}, []Challenge{
			{Scheme: "basic", Realm: "café", Params: map[string]string{"realm": "café"}},
		}},
		{"duplicate param", []string{`Basic realm="a", realm="b", NTLM`}, []Challenge{{Scheme: "ntlm"}}},
		{"duplicate param any case", []string{`Basic realm="a", REALM="b"`}, nil},
		{"param after token68", []string{`Negotiate abc, realm="x", Basic realm="b"`}, []Challenge{
			{Scheme: "basic", Realm: "b", Params: map[string]string{"realm": "b"}},
		}},
		{"leading param without scheme", []string{`realm="x", Basic realm="b"`}, []Challenge{
			{Scheme: "basic", Realm: "b", Params: map[string]string{"realm": "b"}},
		}},
		{"garbage after param", []string{`Basic realm="a" junk, NTLM`}, []Challenge{{Scheme: "ntlm"}}},
		{"garbage element", []string{`@@@, Basic realm="b"`}, []Challenge{
			{Scheme: "basic", Realm: "b", Params: map[string]string{"realm": "b"}},
		}},
		{"scheme glued to quote", []string{`Basic"x", NTLM`}, []Challenge{{Scheme: "ntlm"}}},
		{"token68 then garbage", []string{`Negotiate abc def, NTLM`}, []Challenge{{Scheme: "ntlm"}}},
		{"tab separators", []string{"Basic\trealm=\"t\""}, []Challenge{
			{Scheme: "basic", Realm: "t", Params: map[string]string{"realm": "t"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(tt.values...)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q)\n got %#v\nwant %#v", tt.values, got, tt.want)
			}
		})
	}
}

func TestSort(t *testing.T) {
	got := Parse(
		`Basic realm="b"`,
		`Digest realm="r", nonce="1", algorithm=MD5`,
		`Digest realm="r", nonce="2", algorithm=SHA-256-sess`,
		`Unknown foo=bar`,
		`Digest realm="r", nonce="3", algorithm=SHA-512-256`,
		`Digest realm="r", nonce="4", algorithm=SHA-256`,
		`Digest realm="r", nonce="5", algorithm=UNKNOWN-ALG`,
		`Digest realm="r", nonce="6", algorithm=MD5-sess`,
		`Digest realm="r"`,
		`NTLM`,
		`Negotiate`,
		`Digest realm="r", nonce="7"`,
	)
	var order []string
	for _, c := range got {
		order = append(order, c.Scheme+" "+c.Param("nonce"))
	}
	want := []string{
		"negotiate ", "ntlm ",
		"digest 3", "digest 2", "digest 4", "digest 1", "digest 6", "digest 7",
		"basic ",
		// Unanswerable ones last, in the server's order.
		"unknown ", "digest 5", "digest ",
	}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("order\n got %q\nwant %q", order, want)
	}
	for _, c := range got {
		if got, want := c.Supported(), c.Scheme != "unknown" && c.Param("nonce") != "5" && c.Param("nonce") != ""; c.Scheme == "digest" && got != want {
			t.Errorf("%q Supported() = %v, want %v", c.Param("nonce"), got, want)
		}
	}
}

func TestParseHeader(t *testing.T) {
	h := http.Header{}
	h.Add("Www-Authenticate", `Basic realm="server"`)
	h.Add("Proxy-Authenticate", `Basic realm="proxy"`)
	h.Add("Proxy-Authenticate", `Negotiate`)
	if got := ParseHeader(h, false); len(got) != 1 || got[0].Realm != "server" {
		t.Errorf("server challenges = %#v", got)
	}
	if got := ParseHeader(h, true); len(got) != 2 || got[0].Scheme != SchemeNegotiate || got[1].Realm != "proxy" {
		t.Errorf("proxy challenges = %#v", got)
	}
}

func TestMethodMatchesCredstore(t *testing.T) {
	for scheme, want := range map[string]string{
		SchemeBasic:     credstore.AuthMethodHTTPBasic,
		SchemeDigest:    credstore.AuthMethodHTTPDigest,
		SchemeNTLM:      credstore.AuthMethodNTLM,
		SchemeNegotiate: credstore.AuthMethodNegotiate,
		"bearer":        "",
	} {
		if got := (Challenge{Scheme: scheme}).Method(); got != want {
			t.Errorf("Method of %s = %q, want %q", scheme, got, want)
		}
	}
}

func TestParseParamList(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		ok   bool
	}{
		{``, map[string]string{}, true},
		{`nextnonce="abc", qop=auth, rspauth="0f", cnonce="x", nc=00000001`, map[string]string{
			"nextnonce": "abc", "qop": "auth", "rspauth": "0f", "cnonce": "x", "nc": "00000001"}, true},
		{`, NextNonce = "a\"b" ,`, map[string]string{"nextnonce": `a"b`}, true},
		{`nextnonce`, nil, false},
		{`nextnonce="a", nextnonce="b"`, nil, false},
		{`nextnonce="a" x`, nil, false},
		{`a="unterminated`, nil, false},
	}
	for _, tt := range tests {
		got, ok := parseParamList(tt.in)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseParamList(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
