package cookiestore

import (
	"net/http"
	"net/url"
	"testing"
)

func TestAcceptPolicyAllows(t *testing.T) {
	u := func(s string) *url.URL {
		if s == "" {
			return nil
		}
		v, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		policy    AcceptPolicy
		from, doc string
		want      bool
	}{
		{Always, "https://a.example.com/", "https://other.test/", true},
		{Never, "https://a.example.com/", "https://a.example.com/", false},
		{OnlyFromMainDocumentDomain, "https://a.example.com/", "https://www.example.com/", true},
		{OnlyFromMainDocumentDomain, "https://a.example.com/", "https://other.test/", false},
		{OnlyFromMainDocumentDomain, "https://a.example.co.uk/", "https://b.example.co.uk/", true},
		{OnlyFromMainDocumentDomain, "https://a.example.co.uk/", "https://other.co.uk/", false},
		{OnlyFromMainDocumentDomain, "https://a.example.com/", "", true},
		{Always, "", "https://a.example.com/", false},
	} {
		if got := tc.policy.Allows(u(tc.from), u(tc.doc)); got != tc.want {
			t.Errorf("%v.Allows(%q, %q) = %v, want %v", tc.policy, tc.from, tc.doc, got, tc.want)
		}
	}
}

func TestSetCookiesFromResponseWithPolicy(t *testing.T) {
	s, err := New(Options{AcceptPolicy: Never})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Set-Cookie": {"a=1"}}
	u, _ := url.Parse("https://a.example.com/")
	s.SetCookiesFromResponse(h, u, nil)
	if n := len(s.AllCookies()); n != 0 {
		t.Fatalf("the store's policy Never let %d cookies in", n)
	}
	s.SetCookiesFromResponseWithPolicy(h, u, nil, Always)
	if n := len(s.AllCookies()); n != 1 {
		t.Fatalf("policy Always stored %d cookies, want 1", n)
	}
	other, _ := url.Parse("https://other.test/")
	s.SetCookiesFromResponseWithPolicy(http.Header{"Set-Cookie": {"b=2"}}, u, other, OnlyFromMainDocumentDomain)
	if n := len(s.AllCookies()); n != 1 {
		t.Fatalf("a foreign main document let a cookie in: %d cookies", n)
	}
}

func TestSetCookieRejectsBadDomains(t *testing.T) {
	s, _ := New(Options{})
	for _, d := range []string{"#foo", "a b", "x/y", "..", "foo.", ".foo..bar", "a\x00b"} {
		if err := s.SetCookie(&http.Cookie{Name: "n", Value: "v", Domain: d}); err == nil {
			t.Errorf("SetCookie accepted Domain %q", d)
		}
	}
	for _, d := range []string{"example.com", ".example.com", "127.0.0.1", "::1", "my_host.local", "xn--bcher-kva.example"} {
		if err := s.SetCookie(&http.Cookie{Name: "n", Value: "v", Domain: d}); err != nil {
			t.Errorf("SetCookie refused Domain %q: %v", d, err)
		}
	}
}
