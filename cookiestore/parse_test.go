package cookiestore

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

var parseNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// summary renders the parts of a parsed cookie a table compares.
func summary(c *Cookie) string {
	exp := "session"
	if !c.Expires.IsZero() {
		if !c.Expires.After(parseNow) {
			exp = "expired"
		} else {
			exp = "+" + c.Expires.Sub(parseNow).String()
		}
	}
	var flags []string
	if c.HostOnly {
		flags = append(flags, "hostonly")
	}
	if c.Secure {
		flags = append(flags, "secure")
	}
	if c.HTTPOnly {
		flags = append(flags, "httponly")
	}
	switch c.SameSite {
	case http.SameSiteLaxMode:
		flags = append(flags, "lax")
	case http.SameSiteStrictMode:
		flags = append(flags, "strict")
	case http.SameSiteNoneMode:
		flags = append(flags, "none")
	}
	return fmt.Sprintf("%q=%q d=%s p=%s %s [%s]", c.Name, c.Value, c.Domain, c.Path, exp, strings.Join(flags, ","))
}

func TestParseSetCookie(t *testing.T) {
	const from = "http://www.example.com/dir/page"
	const sfrom = "https://www.example.com/dir/page"
	tests := []struct {
		from, line string
		want       string // summary, or "error:<sentinel>"
	}{
		{from, "a=b", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{from, "  a  =  b  ", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=b=c", `"a"="b=c" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=", `"a"="" d=www.example.com p=/dir session [hostonly]`},
		{from, "nameless", `""="nameless" d=www.example.com p=/dir session [hostonly]`},
		{from, "=v", `""="v" d=www.example.com p=/dir session [hostonly]`},
		{from, `a="quoted value"`, `"a"="\"quoted value\"" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=b\tc", `"a"="b\tc" d=www.example.com p=/dir session [hostonly]`},
		{from, "=", "error:malformed"},
		{from, "", "error:malformed"},
		{from, "; Path=/", "error:malformed"},
		{from, "a=b\x00c", "error:malformed"},
		{from, "a=b\rc", "error:malformed"},
		{from, "a=b\x7f", "error:malformed"},
		{from, "a=b; Path=/\x01", "error:malformed"},
		// Attribute names are case-insensitive; the last of a kind wins.
		{from, "a=b; PATH=/x; pAtH=/y", `"a"="b" d=www.example.com p=/y session [hostonly]`},
		{from, "a=b; path=/x; path=relative", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=b; path=", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=b; path=/\xc3\xa9", "error:malformed"}, // a URL path is ASCII
		{from, "a=b; path=/\xc3\xa9; path=/x", `"a"="b" d=www.example.com p=/x session [hostonly]`},
		{from, "a=b; DOMAIN=example.com", `"a"="b" d=example.com p=/dir session []`},
		{from, "a=b; domain=.example.com", `"a"="b" d=example.com p=/dir session []`},
		{from, "a=b; domain=.", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=b; domain=example.com; domain=", `"a"="b" d=example.com p=/dir session []`},
		{from, "a=b; domain=other.com", "error:domain"},
		{from, "a=b; domain=example.com; domain=other.com", "error:domain"},
		{from, "a=b; domain=other.com; domain=example.com", `"a"="b" d=example.com p=/dir session []`},
		{from, "a=b; HttpOnly", `"a"="b" d=www.example.com p=/dir session [hostonly,httponly]`},
		{from, "a=b; httponly=no", `"a"="b" d=www.example.com p=/dir session [hostonly,httponly]`},
		{from, "a=b; unknown=1; version=1; comment=x", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		// Expiry: Max-Age over Expires, whatever the order; <= 0 deletes.
		{from, "a=b; Max-Age=60", `"a"="b" d=www.example.com p=/dir +1m0s [hostonly]`},
		{from, "a=b; Max-Age=60; Expires=Thu, 10 Apr 1980 16:33:12 GMT", `"a"="b" d=www.example.com p=/dir +1m0s [hostonly]`},
		{from, "a=b; Expires=Thu, 10 Apr 1980 16:33:12 GMT; Max-Age=60", `"a"="b" d=www.example.com p=/dir +1m0s [hostonly]`},
		{from, "a=b; Expires=Thu, 10 Apr 1980 16:33:12 GMT", `"a"="b" d=www.example.com p=/dir expired [hostonly]`},
		{from, "a=b; Expires=Fri, 02 Jan 2026 03:05:05 GMT", `"a"="b" d=www.example.com p=/dir +1m0s [hostonly]`},
		{from, "a=b; Expires=bogus", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=b; Max-Age=0", `"a"="b" d=www.example.com p=/dir expired [hostonly]`},
		{from, "a=b; Max-Age=-1", `"a"="b" d=www.example.com p=/dir expired [hostonly]`},
		{from, "a=b; Max-Age=60; Max-Age=0", `"a"="b" d=www.example.com p=/dir expired [hostonly]`},
		{from, "a=b; Max-Age=0; Max-Age=60", `"a"="b" d=www.example.com p=/dir +1m0s [hostonly]`},
		{from, "a=b; Max-Age=60; Max-Age=x", `"a"="b" d=www.example.com p=/dir +1m0s [hostonly]`},
		{from, "a=b; Max-Age=1.5", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=b; Max-Age=+5", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=b; Max-Age=-", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=b; Max-Age=", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=b; Max-Age= 60 ", `"a"="b" d=www.example.com p=/dir +1m0s [hostonly]`},
		// Clamped to 400 days.
		{from, "a=b; Max-Age=99999999999999999999999", `"a"="b" d=www.example.com p=/dir +9600h0m0s [hostonly]`},
		{from, "a=b; Expires=Fri, 31 Dec 9999 23:59:59 GMT", `"a"="b" d=www.example.com p=/dir +9600h0m0s [hostonly]`},
		// Attribute values over 1024 bytes are ignored.
		{from, "a=b; Path=/" + strings.Repeat("x", 1024), `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=b; Path=/" + strings.Repeat("x", 1023), `"a"="b" d=www.example.com p=/` + strings.Repeat("x", 1023) + ` session [hostonly]`},
		// Size limit on name + value.
		{from, "a=" + strings.Repeat("v", 4095), `"a"="` + strings.Repeat("v", 4095) + `" d=www.example.com p=/dir session [hostonly]`},
		{from, "a=" + strings.Repeat("v", 4096), "error:malformed"},
		{from, strings.Repeat("n", 4097) + "=", "error:malformed"},
		// SameSite.
		{sfrom, "a=b; SameSite=Strict", `"a"="b" d=www.example.com p=/dir session [hostonly,strict]`},
		{sfrom, "a=b; samesite=LAX", `"a"="b" d=www.example.com p=/dir session [hostonly,lax]`},
		{sfrom, "a=b; SameSite=None; Secure", `"a"="b" d=www.example.com p=/dir session [hostonly,secure,none]`},
		{sfrom, "a=b; SameSite=None", "error:insecure"},
		{sfrom, "a=b; SameSite=bogus", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{sfrom, "a=b; SameSite", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{sfrom, "a=b; SameSite=Strict; SameSite=bogus", `"a"="b" d=www.example.com p=/dir session [hostonly]`},
		{sfrom, "a=b; SameSite=bogus; SameSite=Lax", `"a"="b" d=www.example.com p=/dir session [hostonly,lax]`},
		// Secure needs a secure scheme.
		{sfrom, "a=b; Secure", `"a"="b" d=www.example.com p=/dir session [hostonly,secure]`},
		{"wss://www.example.com/", "a=b; Secure", `"a"="b" d=www.example.com p=/ session [hostonly,secure]`},
		{from, "a=b; Secure", "error:insecure"},
		{"ws://www.example.com/", "a=b; Secure", "error:insecure"},
		{"http://localhost/", "a=b; Secure", "error:insecure"},
		// Prefixes.
		{sfrom, "__Secure-a=b; Secure", `"__Secure-a"="b" d=www.example.com p=/dir session [hostonly,secure]`},
		{sfrom, "__Secure-a=b", "error:prefix"},
		{sfrom, "__SECURE-a=b", "error:prefix"},
		{from, "__Secure-a=b; Secure", "error:insecure"},
		{sfrom, "__Host-a=b; Secure; Path=/", `"__Host-a"="b" d=www.example.com p=/ session [hostonly,secure]`},
		{sfrom, "__host-a=b; Secure; Path=/", `"__host-a"="b" d=www.example.com p=/ session [hostonly,secure]`},
		{sfrom, "__Host-a=b; Secure", "error:prefix"},                                 // no Path attribute
		{"https://www.example.com/", "__Host-a=b; Secure; Path=", "error:prefix"},     // default path "/" is not enough
		{sfrom, "__Host-a=b; Secure; Path=/dir", "error:prefix"},                      // Path not /
		{sfrom, "__Host-a=b; Path=/", "error:prefix"},                                 // not Secure
		{sfrom, "__Host-a=b; Secure; Path=/; Domain=www.example.com", "error:prefix"}, // Domain
		{sfrom, "__Host-a=b; Secure; Path=/; Domain=example.com", "error:prefix"},     // Domain
		{"https://localhost/", "__Host-a=b; Secure; Path=/; Domain=localhost", `"__Host-a"="b" d=localhost p=/ session [hostonly,secure]`},
		// Nameless cookies cannot pose as prefixed ones.
		{sfrom, "__Secure-x; Secure", "error:prefix"},
		{sfrom, "=__Host-x; Secure; Path=/", "error:prefix"},
		{sfrom, "=__host-x", "error:prefix"},
		// URLs that cannot carry cookies.
		{"ftp://www.example.com/", "a=b", "error:url"},
		{"file:///tmp/x", "a=b", "error:url"},
		{"http:///nohost", "a=b", "error:url"},
	}
	sentinels := map[string]error{
		"malformed": ErrMalformed, "domain": ErrDomain, "insecure": ErrInsecure,
		"prefix": ErrPrefix, "url": ErrURL,
	}
	for _, tt := range tests {
		c, err := ParseSetCookie(tt.line, mustURL(t, tt.from), parseNow)
		line := tt.line
		if len(line) > 60 {
			line = line[:60] + "..."
		}
		if name, ok := strings.CutPrefix(tt.want, "error:"); ok {
			if err == nil {
				t.Errorf("ParseSetCookie(%q) from %s = %s; want %s error", line, tt.from, summary(c), name)
			} else if !errors.Is(err, sentinels[name]) {
				t.Errorf("ParseSetCookie(%q) from %s: error %v; want %s", line, tt.from, err, name)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSetCookie(%q) from %s: %v\nwant %s", line, tt.from, err, tt.want)
			continue
		}
		if got := summary(c); got != tt.want {
			t.Errorf("ParseSetCookie(%q) from %s\ngot  %s\nwant %s", line, tt.from, got, tt.want)
		}
	}
}

func TestHTTPCookieConversion(t *testing.T) {
	c, err := ParseSetCookie(`q="v w"; Domain=example.com; Max-Age=60; Secure; HttpOnly; SameSite=Lax`,
		mustURL(t, "https://www.example.com/a/b"), parseNow)
	if err != nil {
		t.Fatal(err)
	}
	hc := c.HTTPCookie()
	got := fmt.Sprintf("%s=%s quoted=%v domain=%s path=%s expires=%s secure=%v httponly=%v samesite=%v",
		hc.Name, hc.Value, hc.Quoted, hc.Domain, hc.Path, hc.Expires.Format(time.RFC3339), hc.Secure, hc.HttpOnly, hc.SameSite)
	want := "q=v w quoted=true domain=.example.com path=/a expires=2026-01-02T03:05:05Z secure=true httponly=true samesite=2"
	if got != want {
		t.Errorf("HTTPCookie()\ngot  %s\nwant %s", got, want)
	}
	c, _ = ParseSetCookie("h=1", mustURL(t, "http://Host.Example.com/"), parseNow)
	if hc := c.HTTPCookie(); hc.Domain != "host.example.com" || !hc.Expires.IsZero() {
		t.Errorf("host-only session cookie: Domain %q Expires %v; want host.example.com, zero", hc.Domain, hc.Expires)
	}
}
