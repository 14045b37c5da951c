package cookiestore

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The tests in this file check the behaviours that the web-platform-tests
// cookie directories (cookies/attributes, cookies/value, cookies/size,
// cookies/path, cookies/prefix, cookies/secure, cookies/ordering,
// cookies/encoding, cookies/domain, cookies/samesite, ...) check for cookies
// set by Set-Cookie and sent in Cookie, where they apply to an HTTP client's
// store. The cases are our own; section numbers refer to
// draft-ietf-httpbis-rfc6265bis.

// exchange is one scenario: Set-Cookie lines received in the response to
// a request for from, then the Cookie header a request to to carries.
type exchange struct {
	name  string
	from  string   // URL the lines come from
	lines []string // Set-Cookie lines, each in a response of its own
	to    string   // URL the header is read for; "" means from
	want  string   // the Cookie header
}

// run plays the exchanges, each on a fresh store whose clock stands at
// parseNow, so that every Set-Cookie line of an exchange gets a distinct
// creation time one second apart.
func run(t *testing.T, tests []exchange) {
	t.Helper()
	for _, tt := range tests {
		clk := newClock()
		s := newStore(t, Options{Now: clk.Now})
		from := mustURL(t, tt.from)
		for _, l := range tt.lines {
			s.SetCookiesFromResponse(header(l), from, nil)
			clk.Advance(time.Second)
		}
		to := from
		if tt.to != "" {
			to = mustURL(t, tt.to)
		}
		if got := s.CookieHeader(to); got != tt.want {
			t.Errorf("%s: Cookie header %.80q; want %.80q", tt.name, got, tt.want)
		}
	}
}

// TestWPTInvalidAttributes: unknown, malformed and quoted attribute names
// are ignored without affecting the cookie (5.6, step 6 of the
// set-cookie-string algorithm); lines with neither name nor value are
// ignored (5.7 step 6).
func TestWPTInvalidAttributes(t *testing.T) {
	const u = "http://www.example.com/app/page"
	run(t, []exchange{
		{"bare unknown attribute", u, []string{"c=1; bogus; Path=/"}, "", "c=1"},
		{"trailing unknown attribute", u, []string{"c=1; Path=/; bogus"}, "", "c=1"},
		{"single-quoted attribute", u, []string{"c=1; Path=/; 'bogus'"}, "", "c=1"},
		{"double-quoted attribute", u, []string{`c=1; Path=/; "bogus"`}, "", "c=1"},
		{"unknown attribute with empty value", u, []string{"c=1; Path=/; bogus="}, "", "c=1"},
		{"semicolon inside a quoted attribute value", u, []string{`c=1; bogus="x;y"; Path=/`}, "", "c=1"},
		{`"Secure" in quotes is not Secure`, u, []string{`c=1; "Secure"`}, "", "c=1"},
		{"Secure followed by a word is not Secure", u, []string{"c=1; Secure junk"}, "", "c=1"},
		{"comma in an attribute name", u, []string{"c=1; at,tr=v"}, "", "c=1"},
		{"comma in an attribute value", u, []string{"c=1; attr=v,w"}, "", "c=1"},
		{"whitespace and empty attributes", u, []string{"  c  = 1  ;x;;;   y"}, "", "c=1"},
		{"equals signs in the value", u, []string{"  c=== 1  ;x;;;   y"}, "", "c=== 1"},
		{"Version attributes are unknown", u, []string{"c=1; Version=1", "d=1; version=1000"}, "", "c=1; d=1"},
		{"a comma does not start another cookie", u, []string{"c=1; a=b, d=e"}, "", "c=1"},
		{"attributes after a comma still count", u, []string{"c=1;Max-Age=60, d=e;Path=/"}, "http://www.example.com/", "c=1"},
		{"a lone = is ignored", u, []string{"a=1", "=", "b=1"}, "", "a=1; b=1"},
		{"an empty line is ignored", u, []string{"a=1", ""}, "", "a=1"},
		{"a lone = after a nameless cookie", u, []string{"a", "="}, "", "a"},
		{"only attributes", u, []string{"a", "; b"}, "", "a"},
		{"only spaces", u, []string{"a", "   "}, "", "a"},
		{"only a tab", u, []string{"a", "\t"}, "", "a"},
		{"noise and a Domain that does not match", u, []string{"c=1; domain=.other.test; ;; ;=; ,,, ===,x,=; zz! max-age=20;=;;"}, "", ""},
	})
}

// TestWPTDomainAttribute: the Domain attribute (5.6.3) and the storage
// model's domain checks (5.7 steps 9-10). Cookies come from
// www.example.com with Path=/.
func TestWPTDomainAttribute(t *testing.T) {
	const (
		www   = "http://www.example.com/set"
		sib   = "http://other.example.com/"
		deep  = "http://a.www.example.com/"
		wwwTo = "http://www.example.com/"
	)
	run(t, []exchange{
		{"Domain equal to the host", www, []string{"c=1; Domain=www.example.com; Path=/"}, wwwTo, "c=1"},
		{"Domain of the host is not sent to a sibling", www, []string{"c=1; Domain=www.example.com; Path=/"}, sib, ""},
		{"leading dot is dropped", www, []string{"c=1; Domain=.www.example.com; Path=/"}, wwwTo, "c=1"},
		{"Domain of the host reaches its subdomains", www, []string{"c=1; Domain=www.example.com; Path=/"}, deep, "c=1"},
		{"dotted Domain reaches subdomains", www, []string{"c=1; Domain=.www.example.com; Path=/"}, deep, "c=1"},
		{"parent Domain", www, []string{"c=1; Domain=example.com; Path=/"}, wwwTo, "c=1"},
		{"dotted parent Domain reaches siblings", www, []string{"c=1; Domain=.example.com; Path=/"}, sib, "c=1"},
		{"Domain of a sibling is refused", www, []string{"c=1; Domain=other.example.com; Path=/"}, sib, ""},
		{"Domain of a subdomain is refused", www, []string{"c=1; Domain=a.www.example.com; Path=/"}, deep, ""},
		{"no Domain: host-only", www, []string{"c=1; Path=/"}, deep, ""},
		{"two leading dots", www, []string{"c=1; Domain=..www.example.com; Path=/"}, wwwTo, ""},
		{"empty label", www, []string{"c=1; Domain=www..example.com; Path=/"}, wwwTo, ""},
		{"whitespace before the dot", www, []string{"c=1; Domain=  .www.example.com; Path=/"}, wwwTo, "c=1"},
		{"whitespace after the dot", www, []string{"c=1; Domain=.  www.example.com; Path=/"}, wwwTo, ""},
		{"trailing dot", www, []string{"c=1; Domain=www.example.com.; Path=/"}, wwwTo, ""},
		{"two trailing dots", www, []string{"c=1; Domain=www.example.com..; Path=/"}, wwwTo, ""},
		{"whitespace and a trailing dot", www, []string{"c=1; Domain=www.example.com .; Path=/"}, wwwTo, ""},
		{"top-level domain", www, []string{"c=1; Domain=com; Path=/"}, wwwTo, ""},
		{"dotted top-level domain", www, []string{"c=1; Domain=.com; Path=/"}, wwwTo, ""},
		{"dotted top-level domain with a trailing dot", www, []string{"c=1; Domain=.com.; Path=/"}, wwwTo, ""},
		{"quoted Domain", www, []string{`c=1; Domain="www.example.com"; Path=/`}, wwwTo, ""},
		{"Domain with a port", www, []string{"c=1; Domain=www.example.com:80; Path=/"}, wwwTo, ""},
		{"odd capitals in the Domain", www, []string{"c=1; Domain=wWw.ExAmPlE.cOm; Path=/"}, wwwTo, "c=1"},
		{"odd capitals in the request host", www, []string{"c=1; Domain=www.example.com; Path=/"}, "http://WwW.eXaMpLe.CoM/", "c=1"},
		{"with and without the dot, in creation order", www,
			[]string{"a=1; Domain=www.example.com; Path=/", "b=1; Domain=.www.example.com; Path=/"}, wwwTo, "a=1; b=1"},
		{"parent and host Domain, in creation order", www,
			[]string{"b=1; Domain=.example.com; Path=/", "a=1; Domain=www.example.com; Path=/"}, wwwTo, "b=1; a=1"},
		{"the last Domain decides (mismatch)", www, []string{"c=1; Domain=example.com; Domain=other.example.com; Path=/"}, sib, ""},
		{"the last Domain decides (match)", www, []string{"c=1; Domain=other.example.com; Domain=example.com; Path=/"}, sib, "c=1"},
		{"the last Domain decides (three)", www, []string{"c=1; Domain=www.example.com; Domain=www.example.zzz; Domain=www.example.com; Path=/"}, wwwTo, "c=1"},
		{"the last Domain decides (three, mismatch)", www, []string{"c=1; Domain=www.example.zzz; Domain=www.example.com; Domain=www.example.zzz; Path=/"}, wwwTo, ""},
		{"an empty Domain is ignored", www, []string{"c=1; Domain=; Path=/"}, wwwTo, "c=1"},
		{"an empty Domain does not cancel an earlier one", www, []string{"c=1; Domain=example.com; Domain=; Path=/"}, sib, "c=1"},
		{"an empty Domain does not rescue a mismatch", www, []string{"c=1; Domain=other.example.com; Domain=; Path=/"}, wwwTo, ""},
		// "Domain" without "=" ends up in the value of the cookie: host-only.
		{"Domain inside the value", www, []string{"c=1 Domain=other.example.com; Domain=; Path=/"}, deep, ""},
		// Same name, path and domain: the leading dot makes no difference.
		{"dotted Domain replaces undotted", www, []string{"c=1; Domain=www.example.com; Path=/", "c=2; Domain=.www.example.com; Path=/"}, wwwTo, "c=2"},
		{"undotted Domain replaces dotted", www, []string{"c=1; Domain=.www.example.com; Path=/", "c=2; Domain=www.example.com; Path=/"}, wwwTo, "c=2"},
		// Public suffixes (5.7 step 9), PRIVATE section included.
		{"public suffix Domain", "http://foo.github.io/", []string{"c=1; Domain=github.io"}, "http://bar.github.io/", ""},
		{"public suffix Domain equal to the host", "http://github.io/", []string{"c=1; Domain=github.io"}, "http://github.io/", "c=1"},
		{"public suffix host cookie stays host-only", "http://github.io/", []string{"c=1; Domain=github.io"}, "http://foo.github.io/", ""},
		{"multi-label public suffix", "http://www.example.co.uk/", []string{"c=1; Domain=co.uk"}, "http://www.example.co.uk/", ""},
	})
}

// TestWPTIPAddressHosts: IP addresses never domain-match anything but
// themselves (5.1.3), so a Domain attribute other than the address itself
// rejects the cookie, and an address's cookies are host-only.
func TestWPTIPAddressHosts(t *testing.T) {
	run(t, []exchange{
		{"IPv4 host-only", "http://127.0.0.1/", []string{"c=1"}, "", "c=1"},
		{"IPv4 Domain equal to the address", "http://127.0.0.1/", []string{"c=1; Domain=127.0.0.1"}, "", "c=1"},
		{"IPv4 Domain as a suffix", "http://127.0.0.1/", []string{"c=1; Domain=0.0.1"}, "", ""},
		{"IPv4 dotted Domain", "http://127.0.0.1/", []string{"c=1; Domain=.127.0.0.1"}, "", "c=1"},
		{"IPv4 other port, same host", "http://127.0.0.1:8080/", []string{"c=1"}, "http://127.0.0.1:9090/", "c=1"},
		{"IPv6 host-only", "http://[::1]/", []string{"c=1"}, "", "c=1"},
		{"IPv6 Domain equal to the address", "http://[::1]/", []string{"c=1; Domain=::1"}, "", "c=1"},
		{"IPv6 bracketed Domain", "http://[::1]/", []string{"c=1; Domain=[::1]"}, "", ""},
		{"host name cannot claim an address", "http://www.example.com/", []string{"c=1; Domain=127.0.0.1"}, "http://127.0.0.1/", ""},
	})
}

// TestWPTExpiresAndMaxAge: Expires (5.6.1) and Max-Age (5.6.2), and
// deletion by a time in the past (5.7 step 23).
func TestWPTExpiresAndMaxAge(t *testing.T) {
	const u = "http://www.example.com/"
	run(t, []exchange{
		{"Expires with a comma", u, []string{"c=1; Expires=Fri, 01 Jan 2038 00:00:00 GMT"}, "", "c=1"},
		{"Expires followed by a comma", u, []string{"c=1; Expires=Fri 01 Jan 2038 00:00:00 GMT, a=b"}, "", "c=1"},
		{"expired then live", u, []string{"c=old; Expires=Tue, 07 Aug 2007 08:04:19 GMT", "c=1; Expires=Sat, 07 Aug 2027 08:04:19 GMT"}, "", "c=1"},
		{"Expires in the past", u, []string{"c=1; Expires=Thu, 10 Apr 1980 16:33:12 GMT"}, "", ""},
		{"Max-Age with a comma is ignored", u, []string{"c=1; Max-Age=50,399"}, "", "c=1"},
		{"Max-Age", u, []string{"c=1; max-age=10000"}, "", "c=1"},
		{"Max-Age=0", u, []string{"c=1; max-age=0"}, "", ""},
		{"Max-Age=-1", u, []string{"c=1; max-age=-1"}, "", ""},
		{"Max-Age=-20", u, []string{"c=1; max-age=-20"}, "", ""},
		{"two with Max-Age", u, []string{"a=1; max-age=60", "b=1; max-age=60"}, "", "a=1; b=1"},
		{"Max-Age=0 deletes", u, []string{"a=1; max-age=60", "b=1; max-age=60", "a=x; max-age=0"}, "", "b=1"},
		{"Max-Age=0 deletes and sets nothing", u, []string{"a=1; max-age=60", "b=1; max-age=60", "a=x; max-age=0", "c=1; max-age=0"}, "", "b=1"},
		{"quoted value cut at the semicolon; decimal Max-Age ignored", u,
			[]string{`c="1! = x;y\";" z; max-age=6`, "n; max-age=2.63,"}, "", `c="1! = x; n`},
		{"Max-Age=0 for a named and a nameless cookie", u, []string{"c=1; max-age=0", "n; max-age=0"}, "", ""},
		{"Max-Age wins over Expires in the past", u, []string{"c=1; Expires=Thu, 10 Apr 1980 16:33:12 GMT; Max-Age=60"}, "", "c=1"},
		{"Max-Age=0 wins over Expires in the future", u, []string{"c=1; Max-Age=0; Expires=Fri, 01 Jan 2038 00:00:00 GMT"}, "", ""},
	})
}

// TestWPTValues: how names and values are cut out of the line (5.6 steps
// 1-5): quotes are kept, whitespace around the pair is removed, nothing
// is decoded.
func TestWPTValues(t *testing.T) {
	const u = "http://www.example.com/"
	run(t, []exchange{
		{"comma in the value", u, []string{"c=1, a=b"}, "", "c=1, a=b"},
		{"comma in a quoted value", u, []string{`c="1, a=b"`}, "", `c="1, a=b"`},
		{"semicolon ends a quoted value", u, []string{`c="1zz;pp" ; ;`}, "", `c="1zz`},
		{"unterminated quote", u, []string{`c="1zz ;`}, "", `c="1zz`},
		{"quotes and inner whitespace kept", u, []string{`c="1z "   "p"  ;`}, "", `c="1z "   "p"`},
		{"a quote inside the value", u, []string{`c=1A"B ;`}, "", `c=1A"B`},
		{"nameless cookie", u, []string{"token"}, "", "token"},
		{"nameless cookie with an escaped quote", u, []string{`"tok\"en"`}, "", `"tok\"en"`},
		{"unbalanced leading quote", u, []string{`c="1`}, "", `c="1`},
		{"nameless cookie with a leading =", u, []string{"=token"}, "", "token"},
		{"whitespace after the closing quote", u, []string{`c="1 "   ;`}, "", `c="1 "`},
		{"whitespace before the semicolon", u, []string{"c=1    ;"}, "", "c=1"},
		{"whitespace before the value", u, []string{"c=  1"}, "", "c=1"},
		{"quoted value", u, []string{`c="1"`}, "", `c="1"`},
		{"whitespace inside quotes", u, []string{`c="  1 "`}, "", `c="  1 "`},
		{"= inside a quoted value", u, []string{`c="1=1"`}, "", `c="1=1"`},
		{"tabs around name and value", u, []string{"c\t=\t1\t \t;\tx"}, "", "c=1"},
		{"empty value", u, []string{"a=1", "c=", "b=1"}, "", "a=1; c=; b=1"},
		{"percent escapes are not decoded", u, []string{"c=%32%33"}, "", "c=%32%33"},
	})
}

// TestWPTNames: how names are cut out of the line (5.6 steps 1-5): at the
// first "=", whitespace trimmed, nothing decoded; a pair without "=" or
// with an empty name is a nameless cookie, and nameless cookies replace
// each other like any cookie with the same (empty) name.
func TestWPTNames(t *testing.T) {
	const u = "http://www.example.com/"
	run(t, []exchange{
		{"empty value", u, []string{"c=; Path=/"}, "", "c="},
		{"nameless value with =", u, []string{"=c=2"}, "", "c=2"},
		{"nameless value with several =", u, []string{"===c=2"}, "", "==c=2"},
		{"nameless value after =", u, []string{"=c"}, "", "c"},
		{"trailing whitespace in the name", u, []string{"c =3"}, "", "c=3"},
		{"leading whitespace in the name", u, []string{" c=4"}, "", "c=4"},
		{"a quote in the name", u, []string{`"c=5"=x`, `"c=5`}, "", `"c=5`},
		{"attributes after a nameless cookie", u, []string{"c; a=b"}, "", "c"},
		{"name that looks like Version", u, []string{"Version=1; c=7"}, "", "Version=1"},
		{"space inside the name", u, []string{"c d=8"}, "", "c d=8"},
		{"nameless cookie cut at ;", u, []string{`"c;d"=9`}, "", `"c`},
		{"nameless cookie with a backslash cut at ;", u, []string{`"c\"10;d"=x`}, "", `"c\"10`},
		{"the latest nameless cookie wins", u, []string{"=c=11", "c11"}, "", "c11"},
		{"the latest nameless cookie wins (2)", u, []string{"c11", "c11a"}, "", "c11a"},
		{"the latest nameless cookie wins (3)", u, []string{"c11", "c11a", "=c11b"}, "", "c11b"},
		{"nameless and named", u, []string{"c11", "c11a", "=c11b", "c=11c"}, "", "c11b; c=11c"},
		{"same name: last value", u, []string{"c=1", "c=2"}, "", "c=2"},
		{"creation order, not name order", u, []string{"z=1", "a=1"}, "", "z=1; a=1"},
		{"comma-separated pairs are one cookie", u, []string{"z=1, a=1"}, "", "z=1, a=1"},
		{"nameless cookie between named ones", u, []string{"a=1", "=n", "b=1"}, "", "a=1; n; b=1"},
		{"nameless cookie replaced", u, []string{"n1", "n2"}, "", "n2"},
		{"neither name nor value", u, []string{"="}, "", ""},
		{"empty line", u, []string{""}, "", ""},
		{"percent escapes in the name are not decoded", u, []string{"%74%65=20"}, "", "%74%65=20"},
	})
	var ex []exchange
	for _, n := range []string{"a", "1", "$", "!a", "@a", "#a", "$a", "%a", "^a", "&a", "*a", "(a", ")a", "-a", "_a", "+", `"a`, `"a=b"`} {
		ex = append(ex, exchange{"name " + n, u, []string{n + "=v"}, "", n + "=v"})
	}
	run(t, ex)
}

// TestWPTControlCharacters: a control character other than HTAB anywhere
// in the line, name, value or attributes, rejects the whole line (5.7
// step 3 and the set-cookie-string algorithm of 5.6); HTAB is whitespace
// around names, values and attribute values and kept inside them.
func TestWPTControlCharacters(t *testing.T) {
	const u = "http://www.example.com/dir/page"
	for c := byte(0); c < 0x20 || c == 0x7f; c++ {
		ch := string(rune(c))
		lines := []string{
			"na" + ch + "me=v",
			"name=va" + ch + "lue",
			"name=v; Domain=www.exa" + ch + "mple.com; Domain=example.com",
			"name=v; Domain=example.com" + ch,
			"name=v; Path=/te" + ch + "st; Path=/dir",
			"name=v; Path=/dir" + ch,
			"name=v; Max-Age=10" + ch + "00; Max-Age=1000",
			"name=v; Max-Age=1000" + ch,
			"name=v; Expires=Fri, 01 Jan 20" + ch + "38 00:00:00 GMT; Expires=Fri, 01 Jan 2038 00:00:00 GMT",
			"name=v; Sec" + ch + "ure",
			"name=v; Http" + ch + "Only",
		}
		for _, l := range lines {
			s := newStore(t, Options{Now: newClock().Now})
			s.SetCookiesFromResponse(header(l), mustURL(t, u), nil)
			got := s.CookieHeader(mustURL(t, u))
			switch {
			case c != '\t' && got != "":
				t.Errorf("%q: stored as %q; want the line rejected", l, got)
			case c == '\t' && got == "":
				t.Errorf("%q: rejected; HTAB is allowed", l)
			}
		}
		if c == 0x7f {
			break
		}
		if c == 0x1f {
			c = 0x7e
		}
	}
	run(t, []exchange{
		{"HTAB inside the name", u, []string{"na\tme=v"}, "", "na\tme=v"},
		{"HTAB inside the value", u, []string{"name=va\tlue"}, "", "name=va\tlue"},
		{"HTAB after an attribute value", u, []string{"name=v; Path=/dir\t"}, "http://www.example.com/dir/x", "name=v"},
		{"HTAB inside Secure makes it unknown", u, []string{"name=v; Sec\ture"}, "", "name=v"},
	})
}

// TestWPTOverwriteValue: a cookie with the same name, domain, host-only
// flag and path replaces the stored one (5.7 step 22), whatever else is
// equal, in separate responses or in one.
func TestWPTOverwriteValue(t *testing.T) {
	attrs := []string{
		"Path=/",
		"Path=/; Secure",
		"Path=/; HttpOnly",
		"Path=/; SameSite=Strict",
		"Path=/; SameSite=Lax",
		"Path=/; SameSite=None; Secure",
		"Path=/; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
		"Path=/; Max-Age=1000",
		"Path=/; Secure; HttpOnly; SameSite=Strict; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
	}
	u := mustURL(t, "https://www.example.com/")
	for _, a := range attrs {
		for _, oneResponse := range []bool{false, true} {
			s := newStore(t, Options{Now: newClock().Now})
			if oneResponse {
				s.SetCookiesFromResponse(header("c=1; "+a, "c=2; "+a), u, nil)
			} else {
				s.SetCookiesFromResponse(header("c=1; "+a), u, nil)
				s.SetCookiesFromResponse(header("c=2; "+a), u, nil)
			}
			if got := s.CookieHeader(u); got != "c=2" {
				t.Errorf("%q (one response %v): %q; want c=2", a, oneResponse, got)
			}
		}
	}
	run(t, []exchange{
		{"value replaced by the empty value", u.String(), []string{"c=1; Path=/", "c=; Path=/"}, "", "c="},
		{"empty value replaced by a value", u.String(), []string{"c=; Path=/", "c=1; Path=/"}, "", "c=1"},
	})
}

// TestWPTOverwriteHTTPOnly: a replacing cookie's http-only flag is taken
// even when its value is unchanged (5.7 step 22), in one response or two,
// and also when another store on the same file made the change.
func TestWPTOverwriteHTTPOnly(t *testing.T) {
	u := mustURL(t, "https://www.example.com/")
	httpOnly := func(s *Store) (bool, int) {
		var n int
		var h bool
		for _, c := range s.AllCookies() {
			if c.Name == "c" {
				n++
				h = c.HttpOnly
			}
		}
		return h, n
	}
	for _, tc := range []struct {
		lines [][]string
		want  bool
	}{
		{[][]string{{"c=1; Path=/"}, {"c=1; Path=/; HttpOnly"}}, true},
		{[][]string{{"c=1; Path=/; HttpOnly"}, {"c=1; Path=/"}}, false},
		{[][]string{{"c=1; Path=/", "c=1; Path=/; HttpOnly"}}, true},
		{[][]string{{"c=1; Path=/; HttpOnly", "c=1; Path=/"}}, false},
	} {
		s := newStore(t, Options{Now: newClock().Now})
		for _, resp := range tc.lines {
			s.SetCookiesFromResponse(header(resp...), u, nil)
		}
		if h, n := httpOnly(s); n != 1 || h != tc.want || s.CookieHeader(u) != "c=1" {
			t.Errorf("%q: %d cookies, HttpOnly %v, header %q; want 1, %v, c=1", tc.lines, n, h, s.CookieHeader(u), tc.want)
		}
	}

	path := filepath.Join(t.TempDir(), "cookies.db")
	clk := newClock()
	a := newStore(t, Options{Path: path, Now: clk.Now})
	b := newStore(t, Options{Path: path, Now: clk.Now})
	a.SetCookiesFromResponse(header("c=1; Path=/; Max-Age=600"), u, nil)
	if h, n := httpOnly(b); n != 1 || h {
		t.Fatalf("other store: %d cookies, HttpOnly %v; want 1, false", n, h)
	}
	a.SetCookiesFromResponse(header("c=1; Path=/; Max-Age=600; HttpOnly"), u, nil)
	if h, n := httpOnly(b); n != 1 || !h {
		t.Errorf("other store after HttpOnly was added: %d cookies, HttpOnly %v; want 1, true", n, h)
	}
	a.SetCookiesFromResponse(header("c=1; Path=/; Max-Age=600"), u, nil)
	if h, n := httpOnly(b); n != 1 || h {
		t.Errorf("other store after HttpOnly was removed: %d cookies, HttpOnly %v; want 1, false", n, h)
	}
}

// TestWPTSizeLimits: name plus value over 4096 bytes rejects the cookie
// (5.7 step 4); an attribute value over 1024 bytes is ignored as if absent,
// so an earlier or later attribute of the kind wins (5.6 step 6).
func TestWPTSizeLimits(t *testing.T) {
	const u = "http://www.example.com/dir/page"
	nv := func(n, v int) string {
		return strings.Repeat("n", n) + "=" + strings.Repeat("v", v)
	}
	long := strings.Repeat("e", 1024)
	run(t, []exchange{
		{"2048+2048", u, []string{nv(2048, 2048)}, "", nv(2048, 2048)},
		{"4097+1", u, []string{nv(4097, 1)}, "", ""},
		{"4096+0", u, []string{nv(4096, 0)}, "", nv(4096, 0)},
		{"4097+0", u, []string{nv(4097, 0)}, "", ""},
		{"1+4095", u, []string{nv(1, 4095)}, "", nv(1, 4095)},
		{"1+4096", u, []string{nv(1, 4096)}, "", ""},
		{"4096+1", u, []string{nv(4096, 1)}, "", ""},
		{"nameless 4096", u, []string{nv(0, 4096)}, "", nv(0, 4096)[1:]},
		{"nameless 4097", u, []string{nv(0, 4097)}, "", ""},
		{"nameless 4097 without =", u, []string{nv(0, 4097)[1:]}, "", ""},
		{"over-long Path after a good one", u, []string{"c=1; Path=/dir; Path=/di" + long}, "", "c=1"},
		{"over-long Path before a good one", u, []string{"c=1; Path=/di" + long + "; Path=/dir"}, "", "c=1"},
		{"over-long Path alone: default path", u, []string{"c=1; Path=/di" + long}, "http://www.example.com/dir/other", "c=1"},
		{"over-long Domain after a good one", u, []string{"c=1; Domain=example.com; Domain=" + strings.Repeat("a", 1024) + ".com"}, "http://other.example.com/dir/", "c=1"},
		{"over-long Domain before a good one", u, []string{"c=1; Domain=" + strings.Repeat("a", 1024) + ".com; Domain=example.com"}, "http://other.example.com/dir/", "c=1"},
		{"attribute value of exactly 1024 bytes counts", u, []string{"c=1; Path=/" + strings.Repeat("p", 1023)}, "http://www.example.com/" + strings.Repeat("p", 1023), "c=1"},
	})
}

// TestWPTBytes: bytes outside ASCII pass through unchanged, invalid UTF-8
// included, in memory and through the file (5.6: the value is an octet
// sequence); a control character rejects the whole line (5.7 step 3).
func TestWPTBytes(t *testing.T) {
	const line = "raw=\xfftest\xff"
	u := mustURL(t, "http://www.example.com/")
	s := newStore(t, Options{})
	s.SetCookiesFromResponse(header(line), u, nil)
	if got := s.CookieHeader(u); got != "raw=\xfftest\xff" {
		t.Errorf("non-UTF-8 value: %q", got)
	}
	s.SetCookiesFromResponse(header("ctl=\x0dtest\x0c"), u, nil)
	if got := s.CookieHeader(u); got != "raw=\xfftest\xff" {
		t.Errorf("after a line with control characters: %q", got)
	}

	path := filepath.Join(t.TempDir(), "cookies.db")
	p := newStore(t, Options{Path: path})
	p.SetCookiesFromResponse(header("raw=\xfftest\xff; Max-Age=600", "\xc3\xa9t\xe9=\xff; Max-Age=600"), u, nil)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	q := newStore(t, Options{Path: path})
	if got := q.CookieHeader(u); got != "raw=\xfftest\xff; \xc3\xa9t\xe9=\xff" {
		t.Errorf("non-UTF-8 cookies read back from the file: %q", got)
	}
}

// TestWPTEncoding: UTF-8 names and values are kept as they are.
func TestWPTEncoding(t *testing.T) {
	const u = "http://www.example.com/"
	run(t, []exchange{
		{"UTF-8 value", u, []string{"c=1日本語·テスト"}, "", "c=1日本語·テスト"},
		{"UTF-8 name", u, []string{"тест=2"}, "", "тест=2"},
		{"quoted UTF-8 value", u, []string{`c="3日本語"`}, "", `c="3日本語"`},
		{"UTF-8 name and value", u, []string{"日本=4語"}, "", "日本=4語"},
		{"quoted UTF-8 nameless cookie", u, []string{`"日本=5語"`}, "", `"日本=5語"`},
		{"UTF-8 attribute is unknown", u, []string{"日本=6語; テスト"}, "", "日本=6語"},
	})
}

// TestWPTPaths: Path (5.6.4), default-path (5.1.4) and path-match, which
// compares the Path with the request's path as sent, percent escapes
// and all, at segment boundaries only.
func TestWPTPaths(t *testing.T) {
	const (
		page = "http://www.example.com/docs/guide/page.html"
		dir  = "/docs/guide"
	)
	run(t, []exchange{
		{"Path=/", page, []string{"c=1; Path=/"}, "", "c=1"},
		{"valueless Path: default path", page, []string{"c=1; Path"}, "http://www.example.com/docs/guide", "c=1"},
		{"empty Path: default path", page, []string{"c=1; Path="}, "http://www.example.com/docs/", ""},
		{"the last Path wins, even if it does not match", page, []string{"c=1; Path=/; Path=/qux"}, "", ""},
		{"Path with spaces around", page, []string{"c=1; Path =  /qux ; x"}, "http://www.example.com/qux/y", "c=1"},
		{"relative Path: default path", page, []string{"c=1; Path=page.html"}, "", "c=1"},
		{"relative Path is not kept", page, []string{"c=1; Path=docs"}, "http://www.example.com/docs/other", ""},
		{"Path of a parent", page, []string{"c=1; Path=/docs"}, "", "c=1"},
		{"Path of a parent with a slash", page, []string{"c=1; Path=/docs/"}, "", "c=1"},
		{"Path equal to the request path", page, []string{"c=1; Path=" + dir + "/page.html"}, "", "c=1"},
		{"Path that stops inside a segment", page, []string{"c=1; Path=/doc"}, "", ""},
		{"Path elsewhere", page, []string{"c=1; Path=/w/"}, "", ""},
		{"Path ending inside the last segment", page, []string{"c=1; Path=" + dir + "/page"}, "", ""},
		{"Path longer than the request path by a slash", page, []string{"c=1; Path=" + dir + "/page.html/"}, "", ""},
		{"Path longer than the request path by a segment", page, []string{"c=1; Path=" + dir + "/page.html/sub"}, "", ""},
		{"default path is the directory", page, []string{"c=1"}, "http://www.example.com/docs/guide", "c=1"},
		{"default path does not reach the parent", page, []string{"c=1"}, "http://www.example.com/docs/", ""},
		{"default path of a single segment is /", "http://www.example.com/page", []string{"c=1"}, "http://www.example.com/else/x", "c=1"},
		{"the last Path wins", page, []string{"c=1; Path=/nomatch; Path=/docs"}, "", "c=1"},
		{"default path ignores the query", "http://www.example.com/docs/page?x=/a/b", []string{"c=1"}, "http://www.example.com/docs", "c=1"},
		{"request query is not part of the path", page, []string{"c=1; Path=/docs/guide/page.html"}, "http://www.example.com/docs/guide/page.html?q=1", "c=1"},
		// Percent escapes are compared as written.
		{"literal space does not match %20", page, []string{"c=1; Path=/docs/a b"}, "http://www.example.com/docs/a%20b/x", ""},
		{"%20 matches %20", page, []string{"c=1; Path=/docs/a%20b"}, "http://www.example.com/docs/a%20b/x", "c=1"},
		{"escaped non-ASCII matches its escapes", page, []string{"c=1; Path=/docs/%C2%B8"}, "http://www.example.com/docs/%C2%B8/x", "c=1"},
		{"escapes are not decoded", page, []string{"c=1; Path=/docs/%61"}, "http://www.example.com/docs/a/x", ""},
	})
}

// TestWPTNonASCIIPath: a cookie path is a URL path, which is ASCII; a
// winning Path attribute with a byte outside ASCII rejects the cookie,
// rather than storing a cookie that no request can reach or falling back
// to the default path. A losing one does not matter.
func TestWPTNonASCIIPath(t *testing.T) {
	const page = "http://www.example.com/docs/guide/page.html"
	run(t, []exchange{
		{"non-ASCII value is fine", page, []string{"c=\xe4\xb8\xad; Path=/docs"}, "", "c=\xe4\xb8\xad"},
		{"losing non-ASCII Path", page, []string{"c=1; Path=/docs/zz\xe4\xb8\xad; Path=/docs"}, "", "c=1"},
		{"winning non-ASCII Path", page, []string{"c=1; Path=/docs; Path=/docs/zz\xe4\xb8\xad"}, "http://www.example.com/docs/zz%E4%B8%AD/x", ""},
		{"non-ASCII appended to a matching Path", page, []string{"c=1; Path=/docs\xe4\xb8\xad"}, "", ""},
		{"no fallback to the default path", page, []string{"c=1; Path=/x/\xb8"}, "", ""},
	})
	s := newStore(t, Options{})
	for _, l := range []string{"c=1; Path=/docs/\xb8", "d=1; Path=/docs/\xe4\xb8\xad"} {
		s.SetCookiesFromResponse(header(l), mustURL(t, page), nil)
	}
	if n := len(s.AllCookies()); n != 0 {
		t.Errorf("%d cookies stored with a non-ASCII path; want none", n)
	}
}

// TestWPTPrefixes: __Secure- and __Host- (5.7 steps 19-20), matched
// case-insensitively.
func TestWPTPrefixes(t *testing.T) {
	const (
		https = "https://www.example.com/a/b"
		http_ = "http://www.example.com/a/b"
		root  = "https://www.example.com/"
	)
	run(t, []exchange{
		{"__Secure- with Secure", https, []string{"__Secure-c=1; Secure; Path=/"}, root, "__Secure-c=1"},
		{"__Secure- without Secure", https, []string{"__Secure-c=1; Path=/"}, root, ""},
		{"__secure- without Secure", https, []string{"__secure-c=1; Path=/"}, root, ""},
		{"__SeCuRe- without Secure", https, []string{"__SeCuRe-c=1; Path=/"}, root, ""},
		{"__Secure- with Secure and Domain", https, []string{"__Secure-c=1; Secure; Path=/; Domain=example.com"}, "https://other.example.com/", "__Secure-c=1"},
		{"__Secure- with Secure and Max-Age", https, []string{"__Secure-c=1; Secure; Path=/; Max-Age=10"}, root, "__Secure-c=1"},
		{"__Secure- with Secure and HttpOnly", https, []string{"__Secure-c=1; Secure; Path=/; HttpOnly"}, root, "__Secure-c=1"},
		{"__Secure- from http", http_, []string{"__Secure-c=1; Secure; Path=/"}, root, ""},
		{"__Host- with everything", https, []string{"__Host-c=1; Secure; Path=/"}, root, "__Host-c=1"},
		{"__host- with everything", https, []string{"__host-c=1; Secure; Path=/"}, root, "__host-c=1"},
		{"__HOST- without Secure", https, []string{"__HOST-c=1; Path=/"}, root, ""},
		{"__Host- from http", http_, []string{"__Host-c=1; Secure; Path=/"}, "http://www.example.com/", ""},
		{"__Host- with a Domain", https, []string{"__Host-c=1; Secure; Path=/; Domain=www.example.com"}, root, ""},
		{"__Host- with another Path", https, []string{"__Host-c=1; Secure; Path=/a"}, "https://www.example.com/a/x", ""},
		{"__Host- with Max-Age", https, []string{"__Host-c=1; Secure; Path=/; Max-Age=10"}, root, "__Host-c=1"},
		{"__Host- with HttpOnly", https, []string{"__Host-c=1; Secure; Path=/; HttpOnly"}, root, "__Host-c=1"},
		{"nameless cookie posing as __Host-", https, []string{"__Host-c=1; Secure; Path=/", "=__Host-c=2; Secure; Path=/"}, root, "__Host-c=1"},
		{"nameless cookie posing as __Secure-", https, []string{"__Secure-c; Secure; Path=/"}, root, ""},
		// __Http- and __Host-Http- need Secure and HttpOnly as well.
		{"__Http- with Secure and HttpOnly", https, []string{"__Http-c=1; Secure; Path=/; HttpOnly"}, root, "__Http-c=1"},
		{"__Http- with another Path", https, []string{"__Http-c=1; Secure; Path=/a; HttpOnly"}, "https://www.example.com/a/x", "__Http-c=1"},
		{"__Http- with a Domain", https, []string{"__Http-c=1; Secure; HttpOnly; Domain=example.com"}, "https://other.example.com/a/", "__Http-c=1"},
		{"__Http- without HttpOnly", https, []string{"__Http-c=1; Secure; Path=/"}, root, ""},
		{"__Http- without Secure", https, []string{"__Http-c=1; Path=/; HttpOnly"}, root, ""},
		{"__http- without HttpOnly", https, []string{"__http-c=1; Secure; Path=/"}, root, ""},
		{"__Host-Http- with everything", https, []string{"__Host-Http-c=1; Secure; Path=/; HttpOnly"}, root, "__Host-Http-c=1"},
		{"__Host-Http- without HttpOnly", https, []string{"__Host-Http-c=1; Secure; Path=/"}, root, ""},
		{"__Host-Http- with another Path", https, []string{"__Host-Http-c=1; Secure; Path=/a/; HttpOnly"}, "https://www.example.com/a/x", ""},
		{"__Host-Http- without Secure", https, []string{"__Host-Http-c=1; Path=/; HttpOnly"}, root, ""},
		{"__Host-Http- with a Domain", https, []string{"__Host-Http-c=1; Secure; Path=/; HttpOnly; Domain=www.example.com"}, root, ""},
		{"__HostHttp- is no prefix", https, []string{"__HostHttp-c=1; Secure; Path=/"}, root, "__HostHttp-c=1"},
		{"nameless cookie posing as __Http-", https, []string{"=__Http-c=1; Secure; HttpOnly"}, root, ""},
		// The prefix needs a Path attribute of "/"; a default path of "/"
		// is not enough (5.7 step 20; the web-platform-tests require an
		// explicit attribute).
		{"__Host- without Path at the root", root, []string{"__Host-c=1; Secure"}, root, ""},
		{"__Host- with an empty Path at the root", root, []string{"__Host-c=1; Secure; Path="}, root, ""},
		{"__Host- with a valueless Path at the root", root, []string{"__Host-c=1; Secure; Path"}, root, ""},
		{"__Host- with a relative Path at the root", root, []string{"__Host-c=1; Secure; Path=x"}, root, ""},
		{"__Host- whose last Path is empty", root, []string{"__Host-c=1; Secure; Path=/; Path="}, root, ""},
		{"__Host- whose last Path is /", root, []string{"__Host-c=1; Secure; Path=; Path=/"}, root, "__Host-c=1"},
	})
}

// TestWPTSecure: a Secure cookie cannot be set from a non-secure origin
// (5.7 step 15), is sent only to secure ones (5.8.3), and non-secure
// origins leave secure cookies alone (5.7 step 16).
func TestWPTSecure(t *testing.T) {
	run(t, []exchange{
		{"Secure from http", "http://www.example.com/", []string{"s=1; Secure; Path=/", "i=1; Path=/"}, "https://www.example.com/", "i=1"},
		{"Secure from https, read over http", "https://www.example.com/", []string{"s=1; Secure; Path=/", "i=1; Path=/"}, "http://www.example.com/", "i=1"},
		{"Secure from https, read over https", "https://www.example.com/", []string{"s=1; Secure; Path=/", "i=1; Path=/"}, "", "s=1; i=1"},
	})
}

// TestWPTEvictionSparesSecureCookies: when a site has more cookies than its
// limit, non-secure cookies go before secure ones, least recently
// accessed first (5.7, "remove excess cookies"), so a non-secure origin
// can push out non-secure cookies but not a secure one.
func TestWPTEvictionSparesSecureCookies(t *testing.T) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now, MaxCookiesPerDomain: 5})
	https := mustURL(t, "https://www.example.com/")
	http_ := mustURL(t, "http://www.example.com/")
	s.SetCookiesFromResponse(header("marker=secure; Secure"), https, nil)
	clk.Advance(time.Second)
	s.SetCookiesFromResponse(header("plain=1"), http_, nil)
	for i := range 20 {
		clk.Advance(time.Second)
		s.SetCookiesFromResponse(header("filler"+string(rune('a'+i))+"=1"), http_, nil)
	}
	got := names(s.AllCookies())
	if !slices.Contains(got, "marker") {
		t.Errorf("non-secure cookies pushed the secure cookie out: %v", got)
	}
	if slices.Contains(got, "plain") {
		t.Errorf("the oldest non-secure cookie was not pushed out: %v", got)
	}
	if len(got) != 5 {
		t.Errorf("%d cookies; want 5", len(got))
	}
	// Secure cookies are evicted too, once only secure cookies are left.
	s2 := newStore(t, Options{Now: clk.Now, MaxCookiesPerDomain: 2})
	for _, n := range []string{"a", "b", "c"} {
		clk.Advance(time.Second)
		s2.SetCookiesFromResponse(header(n+"=1; Secure"), https, nil)
	}
	if got := sortedNames(s2.AllCookies()); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("only secure cookies: %v; want [b c]", got)
	}
}

// TestWPTOrdering: longer paths first, then earlier creation times
// (5.8.3 step 2).
func TestWPTOrdering(t *testing.T) {
	const (
		from = "http://www.example.com/setter/set" // default path /setter
		to   = "http://www.example.com/docs/guide/more/page.html"
	)
	run(t, []exchange{
		{"longer paths first", from, []string{
			"a=1", "b=1; Path=/docs", "c=1; Path=/", "d=1; Path=/doctor",
			"e=1; Domain=.example.com; Path=/", "f=1; Domain=.example.com; Path=/docs/guide",
		}, to, "f=1; b=1; c=1; e=1"},
		{"longer paths first (2)", from, []string{
			"a=2", "b=2; Path=/docs/guide/more", "c=2; Path=/", "d=2; Path=/doctor",
			"e=2; Domain=.example.com", "f=2; Domain=.example.com; Path=/docs/guide",
			"g=2; Domain=.example.com; Path=/docs/guide/more/page.html", "h=2; Path=/docs",
		}, to, "g=2; b=2; f=2; h=2; c=2"}, // e has the default path
		{"three depths", from, []string{"a=3; Path=/docs/guide/more", "b=3; Path=/docs/guide/more/page.html", "c=3; Path=/docs"}, to, "b=3; a=3; c=3"},
		{"equal paths by creation", from, []string{"z=4; Path=/docs", "b=4; Path=/docs/guide/more", "a=4; Path=/docs"}, to, "b=4; z=4; a=4"},
	})
}

// TestWPTSameSiteNotEnforced: SameSite is parsed and stored (5.6.7) but,
// as the package documentation decides, not enforced: an HTTP client has
// no browsing context, so the main document URL does not decide whether
// Lax and Strict cookies are stored or sent; only the accept policy looks
// at it.
func TestWPTSameSiteNotEnforced(t *testing.T) {
	s := newStore(t, Options{})
	u := mustURL(t, "https://www.example.com/")
	crossSite := mustURL(t, "https://other.test/")
	s.SetCookiesFromResponse(header("strict=1; SameSite=Strict", "lax=1; SameSite=Lax", "none=1; SameSite=None; Secure", "unset=1"), u, crossSite)
	if got := s.CookieHeader(u); got != "strict=1; lax=1; none=1; unset=1" {
		t.Errorf("cookies set from a cross-site context: %q", got)
	}
	modes := map[string]http.SameSite{}
	for _, c := range s.AllCookies() {
		modes[c.Name] = c.SameSite
	}
	if modes["strict"] != http.SameSiteStrictMode || modes["lax"] != http.SameSiteLaxMode ||
		modes["none"] != http.SameSiteNoneMode || modes["unset"] != 0 {
		t.Errorf("SameSite read back as %v", modes)
	}
	// The accept policy, not SameSite, refuses cookies from a foreign
	// main document.
	s.SetCookiesFromResponseWithPolicy(header("strict2=1; SameSite=Strict"), u, crossSite, OnlyFromMainDocumentDomain)
	s.SetCookiesFromResponseWithPolicy(header("lax2=1; SameSite=Lax"), u, mustURL(t, "https://example.com/"), OnlyFromMainDocumentDomain)
	if got := s.CookieHeader(u); got != "strict=1; lax=1; none=1; unset=1; lax2=1" {
		t.Errorf("after policy OnlyFromMainDocumentDomain: %q", got)
	}
	// SameSite=None needs Secure (5.7 step 18).
	s.SetCookiesFromResponse(header("bad=1; SameSite=None"), u, nil)
	if strings.Contains(s.CookieHeader(u), "bad") {
		t.Error("SameSite=None without Secure was stored")
	}
}

// TestWPTHTTPOnlyAndAPIs: every API of the store is an HTTP API (the
// package documentation's decision, as with Apple's HTTPCookieStorage), so
// the rfc6265bis rules that keep non-HTTP APIs away from http-only
// cookies (5.7 steps 13 and 22) do not apply: SetCookie may set and
// replace an HttpOnly cookie, and HttpOnly cookies are sent.
func TestWPTHTTPOnlyAndAPIs(t *testing.T) {
	s := newStore(t, Options{})
	u := mustURL(t, "https://www.example.com/")
	s.SetCookiesFromResponse(header("h=1; Path=/; HttpOnly"), u, nil)
	if got := s.CookieHeader(u); got != "h=1" {
		t.Fatalf("HttpOnly cookie: %q", got)
	}
	if err := s.SetCookie(&http.Cookie{Name: "h", Value: "2", Domain: "www.example.com", Path: "/"}); err != nil {
		t.Fatal(err)
	}
	cs := s.AllCookies()
	if len(cs) != 1 || cs[0].Value != "2" || cs[0].HttpOnly {
		t.Errorf("after SetCookie over an HttpOnly cookie: %v", cs)
	}
	if err := s.SetCookie(&http.Cookie{Name: "j", Value: "1", Domain: "www.example.com", HttpOnly: true}); err != nil {
		t.Errorf("SetCookie of an HttpOnly cookie: %v", err)
	}
	if got := s.CookieHeader(u); got != "h=2; j=1" {
		t.Errorf("Cookie header %q", got)
	}
}

// TestWPTPartitioned: the Partitioned attribute (CHIPS) is not part of
// rfc6265bis; the store has no partitions (there is no top-level site),
// so the attribute is ignored and the cookie kept like any other, as
// browsers do with partitioning off.
func TestWPTPartitioned(t *testing.T) {
	run(t, []exchange{
		{"Partitioned __Host- cookie", "https://www.example.com/", []string{"__Host-p=1; Secure; Path=/; SameSite=None; Partitioned"}, "", "__Host-p=1"},
		{"Partitioned alone", "https://www.example.com/", []string{"p=1; Partitioned; Secure"}, "", "p=1"},
	})
}

// TestWPTIDNDomain: hosts are canonicalised to punycode (5.1.2), so a
// host written in Unicode and its punycode form are one host, and a
// Domain attribute in punycode matches either; a Domain attribute with
// bytes outside ASCII rejects the cookie (5.7 step 8), a documented
// difference from browsers, which convert UTF-8 Domain attributes.
func TestWPTIDNDomain(t *testing.T) {
	const (
		host    = "https://xn--lve-6lad.example.com/"
		unicode = "https://\u00e9l\u00e8ve.example.com/"
	)
	run(t, []exchange{
		{"punycode Domain", host, []string{"a=b; Domain=xn--lve-6lad.example.com"}, "", "a=b"},
		{"wrong punycode Domain", host, []string{"a=b; Domain=xn--lve-6la7i.example.com"}, "", ""},
		{"UTF-8 Domain", host, []string{"a=b; Domain=\xc3\xa9l\xc3\xa8ve.example.com"}, "", ""},
		{"invalid UTF-8 Domain", host, []string{"a=b; Domain=\xc3\xa9l\xc3\xa8ve\xff.example.com"}, "", ""},
		{"Unicode host, punycode request", unicode, []string{"a=b"}, host, "a=b"},
		{"punycode host, Unicode request", host, []string{"a=b"}, unicode, "a=b"},
		{"Unicode host, punycode Domain", unicode, []string{"a=b; Domain=xn--lve-6lad.example.com"}, "https://sub.xn--lve-6lad.example.com/", "a=b"},
		{"capital Unicode host", "https://\u00c9L\u00c8VE.example.com/", []string{"a=b"}, host, "a=b"},
		{"Unicode host, parent Domain", unicode, []string{"a=b; Domain=example.com"}, "https://other.example.com/", "a=b"},
	})
	s := newStore(t, Options{})
	s.SetCookiesFromResponse(header("a=b"), mustURL(t, unicode), nil)
	if cs := s.AllCookies(); len(cs) != 1 || cs[0].Domain != "xn--lve-6lad.example.com" {
		t.Errorf("cookie from a Unicode host stored as %v; want domain xn--lve-6lad.example.com", cs)
	}
	if err := s.SetCookie(&http.Cookie{Name: "c", Value: "1", Domain: ".b\u00fccher.example"}); err != nil {
		t.Fatal(err)
	}
	if got := s.CookieHeader(mustURL(t, "https://www.xn--bcher-kva.example/")); got != "c=1" {
		t.Errorf("SetCookie with a Unicode Domain: %q", got)
	}
	s.DeleteCookie(&http.Cookie{Name: "c", Domain: ".B\u00fccher.example"})
	if got := s.CookieHeader(mustURL(t, "https://www.xn--bcher-kva.example/")); got != "" {
		t.Errorf("DeleteCookie with a Unicode Domain left %q", got)
	}
	// A host IDNA refuses gets no cookies, without a panic.
	bad := mustURL(t, "https://a\u00a0b.example/")
	s.SetCookiesFromResponse(header("x=1"), bad, nil)
	if got := s.CookieHeader(bad); got != "" {
		t.Errorf("host refused by IDNA: %q", got)
	}
}
