package cookiestore

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzParseSetCookie checks that no Set-Cookie line makes the parser or
// the store panic, and that whatever is accepted is well formed.
func FuzzParseSetCookie(f *testing.F) {
	for _, seed := range []string{
		"foo=bar",
		"foo",
		"=",
		"",
		"a=b; Path=/x; Domain=.example.com; Max-Age=60; Secure; HttpOnly; SameSite=Lax",
		"a=b; Expires=Thu, 10 Apr 1980 16:33:12 GMT",
		"a=b; Expires=Sat, 15-Apr-17 21:01:22 GMT-0400 (EDT)",
		"a=b; Max-Age=-1; Max-Age=99999999999999999999999999",
		`test="fubar! = foo;bar\";" parser; max-age=6`,
		"test=parser; domain=.parser.test; ;; ;=; ,,, ===,abc,=; abracadabra! max-age=20;=;;",
		"__Host-a=b; Secure; Path=/",
		"__Secure-",
		"a=b; domain=..example.com; path=relative",
		"a=b\x00c",
		"春节回=家路·春运; 完全手册",
		"a=b; samesite=none; secure; domain=com",
		strings.Repeat("a", 4097),
	} {
		f.Add(seed)
	}
	u := mustURL(f, "https://www.example.com/a/b")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line string) {
		ParseCookieDate(line)
		c, err := ParseSetCookie(line, u, now)
		if err != nil {
			if c != nil {
				t.Fatalf("cookie %+v with error %v", c, err)
			}
			return
		}
		if c.Name == "" && c.Value == "" {
			t.Fatalf("empty cookie accepted from %q", line)
		}
		if !strings.HasPrefix(c.Path, "/") || c.Domain == "" || len(c.Name)+len(c.Value) > MaxNameValueSize {
			t.Fatalf("malformed cookie %+v from %q", c, line)
		}
		if indexCTL(c.Name+c.Value+c.Path+c.Domain) >= 0 || strings.Contains(c.Name+c.Value, ";") || strings.Contains(c.Name, "=") {
			t.Fatalf("cookie %+v from %q cannot be sent", c, line)
		}
		if !DomainMatch("www.example.com", c.Domain) {
			t.Fatalf("cookie for %q accepted from www.example.com", c.Domain)
		}
		if c.Expires.After(now.Add(MaxLifetime)) {
			t.Fatalf("expiry %v beyond the cap", c.Expires)
		}
		s, err := New(Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		s.SetCookiesFromResponse(http.Header{"Set-Cookie": {line}}, u, nil)
		h := s.CookieHeader(u)
		if (c.Persistent() && !c.Expires.After(now)) || !PathMatch("/a/b", c.Path) {
			return
		}
		if want := c.String(); !strings.Contains(h, want) {
			t.Fatalf("Cookie header %q lacks %q", h, want)
		}
	})
}
