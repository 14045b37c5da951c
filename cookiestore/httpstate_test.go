package cookiestore

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHTTPState replays the cases of Adam Barth's http-state suite with the
// expectations of its web-platform-tests copy (cookies/http-state), which
// follow rfc6265bis: nameless cookies are kept. Each case sets cookies from
// http://home.example.org:8888/cookie-parser?<name> and reads the Cookie
// header for http://home.example.org:8888/cookie-parser-result?<name>
// unless it names another URL. The clock is set to the suite's era, when
// its "future" dates were in the future.
func TestHTTPState(t *testing.T) {
	const host = "http://home.example.org:8888"
	long4096 := strings.Repeat("a", 4096)
	tests := []struct {
		name     string
		received []string
		sentTo   string // path or URL; "" = /cookie-parser-result
		want     string
	}{
		{"0001", []string{"foo=bar"}, "", "foo=bar"},
		{"0002", []string{"foo=bar; Expires=Fri, 07 Aug 2019 08:04:19 GMT"}, "", "foo=bar"},
		{"0003", []string{"foo=bar; Expires=Fri, 07 Aug 2007 08:04:19 GMT", "foo2=bar2; Expires=Fri, 07 Aug 2017 08:04:19 GMT"}, "", "foo2=bar2"},
		{"0004", []string{"foo"}, "", "foo"},
		{"0005", []string{"foo=bar; max-age=10000;"}, "", "foo=bar"},
		{"0006", []string{"foo=bar; max-age=0;"}, "", ""},
		{"0007", []string{"foo=bar; version=1;"}, "", "foo=bar"},
		{"0008", []string{"foo=bar; version=1000;"}, "", "foo=bar"},
		{"0009", []string{"foo=bar; customvalue=1000;"}, "", "foo=bar"},
		{"0010", []string{"foo=bar; secure;"}, "", ""},
		{"0011", []string{`foo=bar; customvalue="1000 or more";`}, "", "foo=bar"},
		{"0012", []string{`foo=bar; customvalue="no trailing semicolon"`}, "", "foo=bar"},
		{"0013", []string{"foo=bar", "foo=qux"}, "", "foo=qux"},
		{"0014", []string{"foo1=bar", "foo2=qux"}, "", "foo1=bar; foo2=qux"},
		{"0015", []string{"a=b", "z=y"}, "", "a=b; z=y"},
		{"0016", []string{"z=y", "a=b"}, "", "z=y; a=b"},
		{"0017", []string{"z=y, a=b"}, "", "z=y, a=b"},
		{"0018", []string{"z=y; foo=bar, a=b"}, "", "z=y"},
		{"0019", []string{"foo=b;max-age=3600, c=d;path=/"}, "", "foo=b"},
		{"0020", []string{"a=b", "=", "c=d"}, "", "a=b; c=d"},
		{"0021", []string{"a=b", "=x", "c=d"}, "", "a=b; x; c=d"},
		{"0022", []string{"a=b", "x=", "c=d"}, "", "a=b; x=; c=d"},
		{"0023", []string{"foo", ""}, "", "foo"},
		{"0024", []string{"foo", "="}, "", "foo"},
		{"0025", []string{"foo", "; bar"}, "", "foo"},
		{"0026", []string{"foo", "   "}, "", "foo"},
		{"0027", []string{"foo", "bar"}, "", "bar"},
		{"0028", []string{"foo", "\t"}, "", "foo"},

		{"attribute0001", []string{"foo=bar; Secure"}, "", ""},
		{"attribute0002", []string{"foo=bar; seCURe"}, "", ""},
		{"attribute0003", []string{`foo=bar; "Secure"`}, "", "foo=bar"},
		{"attribute0004", []string{"foo=bar; Secure="}, "", ""},
		{"attribute0005", []string{"foo=bar; Secure=aaaa"}, "", ""},
		{"attribute0006", []string{"foo=bar; Secure qux"}, "", "foo=bar"},
		{"attribute0007", []string{"foo=bar; Secure =aaaaa"}, "", ""},
		{"attribute0008", []string{"foo=bar; Secure= aaaaa"}, "", ""},
		{"attribute0009", []string{"foo=bar; Secure; qux"}, "", ""},
		{"attribute0010", []string{"foo=bar; Secure;qux"}, "", ""},
		{"attribute0011", []string{"foo=bar; Secure    ; qux"}, "", ""},
		{"attribute0012", []string{"foo=bar;                Secure"}, "", ""},
		{"attribute0013", []string{"foo=bar;       Secure     ;"}, "", ""},
		{"attribute0014", []string{"foo=bar; Path"}, "", "foo=bar"},
		{"attribute0015", []string{"foo=bar; Path="}, "", "foo=bar"},
		{"attribute0016", []string{"foo=bar; Path=/"}, "", "foo=bar"},
		{"attribute0017", []string{"foo=bar; Path=/qux"}, "", ""},
		{"attribute0018", []string{"foo=bar; Path    =/qux"}, "", ""},
		{"attribute0019", []string{"foo=bar; Path=    /qux"}, "", ""},
		{"attribute0020", []string{"foo=bar; Path=/qux      ; taz"}, "", ""},
		{"attribute0021", []string{"foo=bar; Path=/qux; Path=/"}, "", "foo=bar"},
		{"attribute0022", []string{"foo=bar; Path=/; Path=/qux"}, "", ""},
		{"attribute0023", []string{"foo=bar; Path=/qux; Path=/cookie-parser-result"}, "", "foo=bar"},
		{"attribute0024", []string{"foo=bar; Path=/cookie-parser-result; Path=/qux"}, "", ""},
		{"attribute0025", []string{"foo=bar; qux; Secure"}, "", ""},
		{"attribute0026", []string{`foo=bar; qux="aaa;bbb"; Secure`}, "", ""},

		{"charset0001", []string{"foo=春节回家路·春运完全手册"}, "", "foo=春节回家路·春运完全手册"},
		{"charset0002", []string{"春节回=家路·春运完全手册"}, "", "春节回=家路·春运完全手册"},
		{"charset0003", []string{"春节回=家路·春运; 完全手册"}, "", "春节回=家路·春运"},
		{"charset0004", []string{`foo="春节回家路·春运完全手册"`}, "", `foo="春节回家路·春运完全手册"`},

		{"chromium0001", []string{"a=b"}, "", "a=b"},
		{"chromium0002", []string{`aBc="zzz "   ;`}, "", `aBc="zzz "`},
		{"chromium0003", []string{`aBc="zzz " ;`}, "", `aBc="zzz "`},
		{"chromium0004", []string{`aBc="zz;pp" ; ;`}, "", `aBc="zz`},
		{"chromium0005", []string{`aBc="zz ;`}, "", `aBc="zz`},
		{"chromium0006", []string{`aBc="zzz "   "ppp"  ;`}, "", `aBc="zzz "   "ppp"`},
		{"chromium0007", []string{`aBc="zzz "   "ppp" ;`}, "", `aBc="zzz "   "ppp"`},
		{"chromium0008", []string{`aBc=A"B ;`}, "", `aBc=A"B`},
		{"chromium0009", []string{"BLAHHH; path=/;"}, "", "BLAHHH"},
		{"chromium0010", []string{`"BLA\"HHH"; path=/;`}, "", `"BLA\"HHH"`},
		{"chromium0011", []string{`a="B`}, "", `a="B`},
		{"chromium0012", []string{"=ABC"}, "", "ABC"},
		{"chromium0013", []string{"ABC=;  path = /"}, "", "ABC="},
		{"chromium0014", []string{"  A  = BC  ;foo;;;   bar"}, "", "A=BC"},
		{"chromium0015", []string{"  A=== BC  ;foo;;;   bar"}, "", "A=== BC"},
		{"chromium0016", []string{`foo="zohNumRKgI0oxyhSsV3Z7D"  ; expires=Sun, 18-Apr-2027 21:06:29 GMT ; path=/  ;  `}, "", `foo="zohNumRKgI0oxyhSsV3Z7D"`},
		{"chromium0017", []string{"foo=zohNumRKgI0oxyhSsV3Z7D  ; expires=Sun, 18-Apr-2027 21:06:29 GMT ; path=/  ;  "}, "", "foo=zohNumRKgI0oxyhSsV3Z7D"},
		{"chromium0018", []string{"    "}, "", ""},
		{"chromium0019", []string{long4096 + "a"}, "", ""},
		{"chromium0019-at-limit", []string{long4096}, "", long4096},
		{"chromium0021", []string{""}, "", ""},
		{"chromium0022", []string{"AAA=BB\x00ZYX"}, "", ""}, // rfc6265bis: control characters reject the line
		{"chromium0023", []string{"AAA=BB\rZYX"}, "", ""},

		{"comma0001", []string{"foo=bar, baz=qux"}, "", "foo=bar, baz=qux"},
		{"comma0002", []string{`foo="bar, baz=qux"`}, "", `foo="bar, baz=qux"`},
		{"comma0003", []string{"foo=bar; b,az=qux"}, "", "foo=bar"},
		{"comma0004", []string{"foo=bar; baz=q,ux"}, "", "foo=bar"},
		{"comma0005", []string{"foo=bar; Max-Age=50,399"}, "", "foo=bar"},
		{"comma0006", []string{"foo=bar; Expires=Fri, 07 Aug 2019 08:04:19 GMT"}, "", "foo=bar"},
		{"comma0007", []string{"foo=bar; Expires=Fri 07 Aug 2019 08:04:19 GMT, baz=qux"}, "", "foo=bar"},

		{"domain0001", []string{"foo=bar; domain=home.example.org"}, host, "foo=bar"},
		{"domain0002", []string{"foo=bar; domain=home.example.org"}, "http://sibling.example.org:8888", ""},
		{"domain0003", []string{"foo=bar; domain=.home.example.org"}, host, "foo=bar"},
		{"domain0004", []string{"foo=bar; domain=home.example.org"}, "http://subdomain.home.example.org:8888", "foo=bar"},
		{"domain0005", []string{"foo=bar; domain=.home.example.org"}, "http://subdomain.home.example.org:8888", "foo=bar"},
		{"domain0006", []string{"foo=bar; domain=.home.example.org"}, "http://sibling.example.org:8888", ""},
		{"domain0007", []string{"foo=bar; domain=sibling.example.org"}, "http://sibling.example.org:8888", ""},
		{"domain0008", []string{"foo=bar; domain=.example.org"}, host, "foo=bar"},
		{"domain0009", []string{"foo=bar; domain=example.org"}, host, "foo=bar"},
		{"domain0010", []string{"foo=bar; domain=..home.example.org"}, host, ""},
		{"domain0011", []string{"foo=bar; domain=home..example.org"}, host, ""},
		{"domain0012", []string{"foo=bar; domain=  .home.example.org"}, host, "foo=bar"},
		{"domain0013", []string{"foo=bar; domain=  .  home.example.org"}, host, ""},
		{"domain0014", []string{"foo=bar; domain=home.example.org."}, host, ""},
		{"domain0015", []string{"foo=bar; domain=home.example.org.."}, host, ""},
		{"domain0016", []string{"foo=bar; domain=home.example.org ."}, host, ""},
		{"domain0017", []string{"foo=bar; domain=.org"}, host, ""},
		{"domain0018", []string{"foo=bar; domain=.org."}, host, ""},
		{"domain0019", []string{"foo=bar; domain=home.example.org", "foo2=bar2; domain=.home.example.org"}, host, "foo=bar; foo2=bar2"},
		{"domain0020", []string{"foo2=bar2; domain=.home.example.org", "foo=bar; domain=home.example.org"}, host, "foo2=bar2; foo=bar"},
		{"domain0021", []string{`foo=bar; domain="home.example.org"`}, host, ""},
		{"domain0022", []string{"foo=bar; domain=home.example.org", "foo2=bar2; domain=.example.org"}, host, "foo=bar; foo2=bar2"},
		{"domain0023", []string{"foo2=bar2; domain=.example.org", "foo=bar; domain=home.example.org"}, host, "foo2=bar2; foo=bar"},
		{"domain0024", []string{"foo=bar; domain=.example.org; domain=home.example.org"}, "http://sibling.example.org:8888", ""},
		{"domain0025", []string{"foo=bar; domain=home.example.org; domain=.example.org"}, "http://sibling.example.org:8888", "foo=bar"},
		{"domain0026", []string{"foo=bar; domain=home.eXaMpLe.org"}, host, "foo=bar"},
		{"domain0027", []string{"foo=bar; domain=home.example.org:8888"}, host, ""},
		{"domain0028", []string{"foo=bar; domain=subdomain.home.example.org"}, "http://subdomain.home.example.org:8888", ""},
		{"domain0029", []string{"foo=bar"}, "http://subdomain.home.example.org:8888", ""},
		{"domain0031", []string{"foo=bar; domain=home.example.org; domain=.example.org"}, "http://sibling.example.org:8888", "foo=bar"},
		{"domain0033", []string{"foo=bar; domain=home.example.org"}, "http://hoMe.eXaMplE.org:8888", "foo=bar"},
		{"domain0034", []string{"foo=bar; domain=home.example.org; domain=home.example.com"}, host, ""},
		{"domain0035", []string{"foo=bar; domain=home.example.com; domain=home.example.org"}, host, "foo=bar"},
		{"domain0036", []string{"foo=bar; domain=home.example.org; domain=home.example.com; domain=home.example.org"}, host, "foo=bar"},
		{"domain0037", []string{"foo=bar; domain=home.example.com; domain=home.example.org; domain=home.example.com"}, host, ""},
		{"domain0038", []string{"foo=bar; domain=home.example.org; domain=home.example.org"}, host, "foo=bar"},
		{"domain0039", []string{"foo=bar; domain=home.example.org; domain=example.org"}, host, "foo=bar"},
		{"domain0040", []string{"foo=bar; domain=example.org; domain=home.example.org"}, host, "foo=bar"},
		{"domain0041", []string{"foo=bar; domain=.sibling.example.org"}, "http://sibling.example.org:8888", ""},
		{"domain0042", []string{"foo=bar; domain=.sibling.home.example.org"}, "http://sibling.home.example.org:8888", ""},
		{"optional-domain0030", []string{"foo=bar; domain="}, host, "foo=bar"},
		{"optional-domain0041", []string{"foo=bar; domain=example.org; domain="}, host, "foo=bar"},
		{"optional-domain0042", []string{"foo=bar; domain=foo.example.org; domain="}, host, ""},
		{"optional-domain0043", []string{"foo=bar; domain=foo.example.org; domain="}, "http://subdomain.home.example.org:8888", ""},

		{"mozilla0001", []string{"foo=bar; max-age=-1"}, "", ""},
		{"mozilla0002", []string{"foo=bar; max-age=0"}, "", ""},
		{"mozilla0003", []string{"foo=bar; expires=Thu, 10 Apr 1980 16:33:12 GMT"}, "", ""},
		{"mozilla0004", []string{"foo=bar; max-age=60"}, "", "foo=bar"},
		{"mozilla0005", []string{"foo=bar; max-age=-20"}, "", ""},
		{"mozilla0006", []string{"foo=bar; max-age=60"}, "", "foo=bar"},
		{"mozilla0007", []string{"foo=bar; expires=Thu, 10 Apr 1980 16:33:12 GMT"}, "", ""},
		{"mozilla0008", []string{"foo=bar; max-age=60", "foo1=bar; max-age=60"}, "", "foo=bar; foo1=bar"},
		{"mozilla0009", []string{"foo=bar; max-age=60", "foo1=bar; max-age=60", "foo=differentvalue; max-age=0"}, "", "foo1=bar"},
		{"mozilla0010", []string{"foo=bar; max-age=60", "foo1=bar; max-age=60", "foo=differentvalue; max-age=0", "foo2=evendifferentvalue; max-age=0"}, "", "foo1=bar"},
		{"mozilla0011", []string{"test=parser; domain=.parser.test; ;; ;=; ,,, ===,abc,=; abracadabra! max-age=20;=;;"}, "", ""},
		{"mozilla0012", []string{`test="fubar! = foo;bar\";" parser; max-age=6`, "five; max-age=2.63,"}, "", `test="fubar! = foo; five`},
		{"mozilla0013", []string{"test=kill; max-age=0", "five; max-age=0"}, "", ""},
		{"mozilla0014", []string{"six"}, "", "six"},
		{"mozilla0015", []string{"six", "seven"}, "", "seven"},
		{"mozilla0016", []string{"six", "seven", " =eight"}, "", "eight"},
		{"mozilla0017", []string{"six", "seven", " =eight", "test=six"}, "", "eight; test=six"},

		{"name0001", []string{"a=bar"}, "", "a=bar"},
		{"name0002", []string{"1=bar"}, "", "1=bar"},
		{"name0003", []string{"$=bar"}, "", "$=bar"},
		{"name0004", []string{"!a=bar"}, "", "!a=bar"},
		{"name0005", []string{"@a=bar"}, "", "@a=bar"},
		{"name0006", []string{"#a=bar"}, "", "#a=bar"},
		{"name0007", []string{"$a=bar"}, "", "$a=bar"},
		{"name0008", []string{"%a=bar"}, "", "%a=bar"},
		{"name0009", []string{"^a=bar"}, "", "^a=bar"},
		{"name0010", []string{"&a=bar"}, "", "&a=bar"},
		{"name0011", []string{"*a=bar"}, "", "*a=bar"},
		{"name0012", []string{"(a=bar"}, "", "(a=bar"},
		{"name0013", []string{")a=bar"}, "", ")a=bar"},
		{"name0014", []string{"-a=bar"}, "", "-a=bar"},
		{"name0015", []string{"_a=bar"}, "", "_a=bar"},
		{"name0016", []string{"+=bar"}, "", "+=bar"},
		{"name0017", []string{"=a=bar"}, "", "a=bar"},
		{"name0018", []string{"a =bar"}, "", "a=bar"},
		{"name0019", []string{`"a=bar`}, "", `"a=bar`},
		{"name0020", []string{`"a=b"=bar`}, "", `"a=b"=bar`},
		{"name0021", []string{`"a=b"=bar`, `"a=qux`}, "", `"a=qux`},
		{"name0022", []string{"   foo=bar"}, "", "foo=bar"},
		{"name0023", []string{"foo;bar=baz"}, "", "foo"},
		{"name0024", []string{"$Version=1; foo=bar"}, "", "$Version=1"},
		{"name0025", []string{"===a=bar"}, "", "==a=bar"},
		{"name0026", []string{"foo=bar    "}, "", "foo=bar"},
		{"name0027", []string{"foo=bar    ;"}, "", "foo=bar"},
		{"name0028", []string{"=a"}, "", "a"},
		{"name0029", []string{"="}, "", ""},
		{"name0030", []string{"foo bar=baz"}, "", "foo bar=baz"},
		{"name0031", []string{`"foo;bar"=baz`}, "", `"foo`},
		{"name0032", []string{`"foo\"bar`, `"foo\"bar;baz"=qux`}, "", `"foo\"bar`},
		{"name0033", []string{"=foo=bar", "aaa"}, "", "aaa"},

		{"ordering0001", []string{
			"key=val0;",
			"key=val1; path=/cookie-parser-result",
			"key=val2; path=/",
			"key=val3; path=/bar",
			"key=val4; domain=.example.org",
			"key=val5; domain=.example.org; path=/cookie-parser-result/foo",
		}, "/cookie-parser-result/foo/baz", "key=val5; key=val1; key=val2; key=val4"},

		{"path0001", []string{"a=b; path=/", "x=y; path=/cookie-parser-result"}, "", "x=y; a=b"},
		{"path0002", []string{"a=b; path=/cookie-parser-result", "x=y; path=/"}, "", "a=b; x=y"},
		{"path0003", []string{"x=y; path=/", "a=b; path=/cookie-parser-result"}, "", "a=b; x=y"},
		{"path0004", []string{"x=y; path=/cookie-parser-result", "a=b; path=/"}, "", "x=y; a=b"},
		{"path0005", []string{"foo=bar; path=/cookie-parser-result/foo"}, "", ""},
		{"path0006", []string{"foo=bar", "foo=qux; path=/cookie-parser-result/foo"}, "", "foo=bar"},
		{"path0007", []string{"foo=bar; path=/cookie-parser-result/foo"}, "/cookie-parser-result/foo", "foo=bar"},
		{"path0008", []string{"foo=bar; path=/cookie-parser-result/foo"}, "/cookie-parser-result/bar", ""},
		{"path0009", []string{"foo=bar; path=/cookie-parser-result/foo/qux"}, "/cookie-parser-result/foo", ""},
		{"path0010", []string{"foo=bar; path=/cookie-parser-result/foo/qux"}, "/cookie-parser-result/foo/qux", "foo=bar"},
		{"path0011", []string{"foo=bar; path=/cookie-parser-result/foo/qux"}, "/cookie-parser-result/bar/qux", ""},
		{"path0012", []string{"foo=bar; path=/cookie-parser-result/foo/qux"}, "/cookie-parser-result/foo/baz", ""},
		{"path0013", []string{"foo=bar; path=/cookie-parser-result/foo/qux/"}, "/cookie-parser-result/foo/baz", ""},
		{"path0014", []string{"foo=bar; path=/cookie-parser-result/foo/qux/"}, "/cookie-parser-result/foo/qux", ""},
		{"path0015", []string{"foo=bar; path=/cookie-parser-result/foo/qux/"}, "/cookie-parser-result/foo/qux/", "foo=bar"},
		{"path0016", []string{"foo=bar; path=/cookie-parser-result/foo/"}, "/cookie-parser-result/foo/qux", "foo=bar"},
		{"path0017", []string{"foo=bar; path=/cookie-parser-result/foo/"}, "/cookie-parser-result/foo//qux", "foo=bar"},
		{"path0018", []string{"foo=bar; path=/cookie-parser-result/foo/"}, "/cookie-parser-result/fooqux", ""},
		{"path0019", []string{"foo=bar; path"}, "", "foo=bar"},
		{"path0020", []string{"foo=bar; path="}, "", "foo=bar"},
		{"path0021", []string{"foo=bar; path=/"}, "", "foo=bar"},
		{"path0022", []string{"foo=bar; path= /"}, "", "foo=bar"},
		{"path0023", []string{"foo=bar; Path=/cookie-PARSER-result"}, "", ""},
		{"path0024", []string{"foo=bar; path=/cookie-parser-result/foo/qux?"}, "/cookie-parser-result/foo/qux", ""},
		{"path0025", []string{"foo=bar; path=/cookie-parser-result/foo/qux#"}, "/cookie-parser-result/foo/qux", ""},
		{"path0026", []string{"foo=bar; path=/cookie-parser-result/foo/qux;"}, "/cookie-parser-result/foo/qux", "foo=bar"},
		{"path0027", []string{`foo=bar; path="/cookie-parser-result/foo/qux;"`}, "/cookie-parser-result/foo/qux", "foo=bar"},
		{"path0028", []string{"foo=bar; path=/cookie-parser-result/f%6Fo/bar"}, "/cookie-parser-result/foo/bar", ""},
		{"path0029", []string{"a=b;       path    =       /cookie-parser-result   ", "x=y;       path    =       /book   "}, "", "a=b"},
		{"path0030", []string{"foo=bar; path=/dog; path="}, "", "foo=bar"},
		{"path0031", []string{"foo=bar; path=; path=/dog"}, "", ""},
		{"path0032", []string{"foo=bar; path=/cookie-parser-result", "foo=qux; path=/cookie-parser-result/"}, "/cookie-parser-result/dog", "foo=qux; foo=bar"},

		{"value0001", []string{"foo=  bar"}, "", "foo=bar"},
		{"value0002", []string{`foo="bar"`}, "", `foo="bar"`},
		{"value0003", []string{`foo="  bar "`}, "", `foo="  bar "`},
		{"value0004", []string{`foo="bar;baz"`}, "", `foo="bar`},
		{"value0005", []string{`foo="bar=baz"`}, "", `foo="bar=baz"`},
		{"value0006", []string{"   foo     =       bar             ;       ttt"}, "", "foo=bar"},
	}
	era := time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{Now: func() time.Time { return era }})
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			for _, l := range tt.received {
				h.Add("Set-Cookie", l)
			}
			s.SetCookiesFromResponse(h, mustURL(t, host+"/cookie-parser?"+tt.name), nil)
			to := tt.sentTo
			switch {
			case to == "":
				to = host + "/cookie-parser-result"
			case strings.HasPrefix(to, "/"):
				to = host + to
			default:
				to += "/cookie-parser-result"
			}
			got := s.CookieHeader(mustURL(t, to+"?"+tt.name))
			if got != tt.want {
				show := func(s string) string {
					if len(s) > 80 {
						return s[:80] + "..."
					}
					return s
				}
				t.Errorf("Set-Cookie %q\nCookie for %s\ngot  %q\nwant %q", tt.received, to, show(got), show(tt.want))
			}
		})
	}
}
