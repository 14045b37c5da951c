package cookiestore

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func header(lines ...string) http.Header {
	h := http.Header{}
	for _, l := range lines {
		h.Add("Set-Cookie", l)
	}
	return h
}

func names(cs []*http.Cookie) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func sortedNames(cs []*http.Cookie) []string {
	n := names(cs)
	sort.Strings(n)
	return n
}

// The scenarios of swift-corelibs-foundation's TestHTTPCookieStorage.

func TestAppleBasicStorageAndRetrieval(t *testing.T) {
	s := newStore(t, Options{})
	err := s.SetCookie(&http.Cookie{Name: "TestCookie1", Value: "Test value @#$%^$&*99", Path: "/",
		Domain: "swift.org", Expires: time.Unix(1475767775, 0)}) // expired
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.AllCookies()); n != 0 {
		t.Fatalf("after storing an expired cookie: %d cookies; want 0", n)
	}
	s.SetCookie(&http.Cookie{Name: "TestCookie1", Value: "Test @#$%^$&*99", Path: "/", Domain: "swift.org"})
	if n := len(s.AllCookies()); n != 1 {
		t.Fatalf("got %d cookies; want 1", n)
	}
	s.SetCookie(&http.Cookie{Name: "TestCookie1", Value: "Test @#$%^$&*99", Path: "/", Domain: "swift.org"})
	if n := len(s.AllCookies()); n != 1 {
		t.Fatalf("after replacement: %d cookies; want 1", n)
	}
	s.SetCookie(&http.Cookie{Name: "TestCookie1", Value: "Test @#$%^$&*99", Path: "/", Domain: "example.com"})
	if n := len(s.AllCookies()); n != 2 {
		t.Fatalf("got %d cookies; want 2", n)
	}
}

func TestAppleDeleteCookie(t *testing.T) {
	s := newStore(t, Options{})
	c2 := &http.Cookie{Name: "TestCookie1", Value: "Test @#$%^$&*99", Path: "/", Domain: "example.com"}
	c1 := &http.Cookie{Name: "TestCookie1", Value: "Test value @#$%^$&*99", Path: "/", Domain: "swift.org",
		Expires: time.Now().Add(1000 * time.Second)}
	s.SetCookie(c1)
	s.SetCookie(c2)
	if n := len(s.AllCookies()); n != 2 {
		t.Fatalf("got %d cookies; want 2", n)
	}
	s.DeleteCookie(c1)
	if got := s.AllCookies(); len(got) != 1 || got[0].Domain != "example.com" {
		t.Fatalf("after deleting the swift.org cookie: %v", got)
	}
	s.DeleteCookie(c2)
	if n := len(s.AllCookies()); n != 0 {
		t.Fatalf("got %d cookies; want 0", n)
	}
	if got := s.String(); got != "<cookiestore.Store cookies count:0>" {
		t.Errorf("String() = %q", got)
	}
}

func TestAppleRemoveCookiesSince(t *testing.T) {
	s := newStore(t, Options{})
	past, future := time.Now().Add(-120*time.Second), time.Now().Add(120*time.Second)
	s.SetCookie(&http.Cookie{Name: "TestCookie1", Value: "v", Path: "/", Domain: "swift.org",
		Expires: time.Now().Add(1000 * time.Second)})
	s.RemoveCookies(future)
	if n := len(s.AllCookies()); n != 1 {
		t.Fatalf("after RemoveCookies(future): %d cookies; want 1", n)
	}
	s.RemoveCookies(past)
	if n := len(s.AllCookies()); n != 0 {
		t.Fatalf("after RemoveCookies(past): %d cookies; want 0", n)
	}
}

func TestAppleCookiesForURL(t *testing.T) {
	s := newStore(t, Options{})
	u := mustURL(t, "https://swift.org")
	s.SetCookiesForURL([]*http.Cookie{
		{Name: "TestCookie1", Value: "Test @#$%^$&*99", Path: "/", Domain: "example.com"},
		{Name: "TestCookie1", Value: "Test value @#$%^$&*99", Path: "/", Domain: "swift.org", Expires: time.Now().Add(1000 * time.Second)},
	}, u, nil)
	if n := len(s.AllCookies()); n != 1 {
		t.Fatalf("stored %d cookies; want 1 (the example.com one does not fit https://swift.org)", n)
	}
	if n := len(s.Cookies(u)); n != 1 {
		t.Fatalf("Cookies(%v) = %d cookies; want 1", u, n)
	}
}

func TestAppleMainDocumentURLPolicy(t *testing.T) {
	s := newStore(t, Options{})
	s.SetAcceptPolicy(OnlyFromMainDocumentDomain)
	if s.AcceptPolicy() != OnlyFromMainDocumentDomain {
		t.Fatal("SetAcceptPolicy did not stick")
	}
	u := mustURL(t, "https://swift.org/downloads")
	main := mustURL(t, "http://ci.swift.org")
	s.SetCookiesForURL([]*http.Cookie{{Name: "TestCookie2", Value: "Test@#$%^$&*99khnia", Path: "/", Domain: "swift.org"}}, u, main)
	if n := len(s.Cookies(u)); n != 1 {
		t.Fatalf("Cookies(%v) = %d; want 1", u, n)
	}
	u1 := mustURL(t, "https://dt.swift.org/downloads")
	s.SetCookiesForURL([]*http.Cookie{{Name: "TestCookie3", Value: "Test@#$%^$&*999189", Path: "/", Domain: "swift.org"}}, u1, main)
	if n := len(s.Cookies(u1)); n != 0 {
		t.Fatalf("Cookies(%v) = %d; want 0", u1, n)
	}

	// The policy itself, with cookies that fit their URL.
	tests := []struct {
		policy    AcceptPolicy
		from      string
		main      string // "" = nil
		wantStore bool
	}{
		{Always, "https://a.example.com/", "https://other.org/", true},
		{Never, "https://a.example.com/", "https://a.example.com/", false},
		{Never, "https://a.example.com/", "", false},
		{OnlyFromMainDocumentDomain, "https://a.example.com/", "", true},
		{OnlyFromMainDocumentDomain, "https://a.example.com/", "https://www.example.com/", true},
		{OnlyFromMainDocumentDomain, "https://example.com/", "https://a.b.example.com/", true},
		{OnlyFromMainDocumentDomain, "https://a.example.com/", "https://example.org/", false},
		{OnlyFromMainDocumentDomain, "https://tracker.com/", "https://news.example.com/", false},
		{OnlyFromMainDocumentDomain, "https://a.example.co.uk/", "https://b.example.co.uk/", true},
		{OnlyFromMainDocumentDomain, "https://other.co.uk/", "https://b.example.co.uk/", false},
		{OnlyFromMainDocumentDomain, "https://x.github.io/", "https://y.github.io/", false}, // private PSL entry
		{OnlyFromMainDocumentDomain, "http://127.0.0.1:8080/", "http://127.0.0.1:9090/", true},
		{OnlyFromMainDocumentDomain, "http://127.0.0.1/", "http://localhost/", false},
	}
	for _, tt := range tests {
		for _, api := range []string{"SetCookiesForURL", "SetCookiesFromResponse"} {
			s := newStore(t, Options{AcceptPolicy: tt.policy})
			from := mustURL(t, tt.from)
			var main *url.URL
			if tt.main != "" {
				main = mustURL(t, tt.main)
			}
			if api == "SetCookiesForURL" {
				s.SetCookiesForURL([]*http.Cookie{{Name: "c", Value: "1"}}, from, main)
			} else {
				s.SetCookiesFromResponse(header("c=1"), from, main)
			}
			if got := len(s.AllCookies()) == 1; got != tt.wantStore {
				t.Errorf("%s policy %v from %s main %q: stored %v; want %v", api, tt.policy, tt.from, tt.main, got, tt.wantStore)
			}
		}
	}
}

func TestAppleCookieDomainMatching(t *testing.T) {
	s := newStore(t, Options{})
	s.SetCookie(&http.Cookie{Name: "TestCookie1", Value: "TestValue1", Path: "/", Domain: "swift.org"})
	s.SetCookie(&http.Cookie{Name: "TestCookie2", Value: "TestValue2", Path: "/", Domain: ".SWIFT.org"})
	s.SetCookie(&http.Cookie{Name: "TestCookie3", Value: "TestValue3", Path: "/", Domain: "bugs.swift.org"})
	if n := len(s.AllCookies()); n != 3 {
		t.Fatalf("got %d cookies; want 3", n)
	}
	tests := []struct {
		url  string
		want []string
	}{
		{"https://swift.ORG", []string{"TestCookie1", "TestCookie2"}},
		{"https://CI.swift.ORG", []string{"TestCookie2"}},
		{"https://BUGS.swift.org", []string{"TestCookie2", "TestCookie3"}},
		{"http://www.example.com", []string{}},
		{"https://superswift.org", []string{}},
	}
	for _, tt := range tests {
		if got := sortedNames(s.Cookies(mustURL(t, tt.url))); !slices.Equal(got, tt.want) {
			t.Errorf("Cookies(%s) = %v; want %v", tt.url, got, tt.want)
		}
	}
	// Apple's convention on the way out.
	for _, c := range s.AllCookies() {
		want := map[string]string{"TestCookie1": "swift.org", "TestCookie2": ".swift.org", "TestCookie3": "bugs.swift.org"}[c.Name]
		if c.Domain != want {
			t.Errorf("%s: Domain %q; want %q", c.Name, c.Domain, want)
		}
	}
}

func TestAppleSorting(t *testing.T) {
	s := newStore(t, Options{})
	u := mustURL(t, "https://swift.org")
	s.SetCookiesForURL([]*http.Cookie{
		{Name: "A", Value: "3", Path: "/1", Domain: "swift.org"},
		{Name: "B", Value: "2", Path: "/2", Domain: "swift.org", Expires: time.Now().Add(1000 * time.Second)},
		{Name: "C", Value: "1", Path: "/2", Domain: "swift.org", Expires: time.Now().Add(2000 * time.Second)},
	}, u, u)
	got := s.SortedCookies(func(a, b *http.Cookie) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return -strings.Compare(a.Name, b.Name)
	})
	if n := names(got); !slices.Equal(n, []string{"A", "C", "B"}) {
		t.Errorf("SortedCookies(path asc, name desc) = %v; want [A C B]", n)
	}
}

func TestAppleThreadSafety(t *testing.T) {
	s := newStore(t, Options{MaxCookies: 200, MaxCookiesPerDomain: 20})
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				u := mustURL(t, fmt.Sprintf("https://h%d.example%d.com/p/%d", i%7, g%4, i))
				switch i % 6 {
				case 0:
					s.SetCookiesFromResponse(header(fmt.Sprintf("c%d=%d; Max-Age=60", i, g), "s=1; Secure"), u, nil)
				case 1:
					_ = s.CookieHeader(u)
				case 2:
					_ = s.Cookies(u)
				case 3:
					_ = s.AllCookies()
				case 4:
					s.DeleteCookie(&http.Cookie{Name: fmt.Sprintf("c%d", i-4), Domain: u.Hostname(), Path: "/p"})
				case 5:
					s.SetCookies(u, []*http.Cookie{{Name: "j", Value: "1"}})
					s.SetAcceptPolicy(s.AcceptPolicy())
				}
			}
		}()
	}
	wg.Wait()
	if n := len(s.AllCookies()); n > 200 {
		t.Errorf("%d cookies; limit is 200", n)
	}
}

// TestSessionLevelExpectations: the cookie cases a session relies on.
func TestSessionLevelExpectations(t *testing.T) {
	s := newStore(t, Options{AcceptPolicy: OnlyFromMainDocumentDomain})
	u := mustURL(t, "http://127.0.0.1:8080/cookies")
	s.SetCookiesFromResponse(header("foreign=1; domain=.swift.org", "local=2; path=/"), u, u)
	if got := s.CookieHeader(u); got != "local=2" {
		t.Errorf("Cookie header = %q; want %q", got, "local=2")
	}
	if n := len(s.AllCookies()); n != 1 {
		t.Errorf("%d cookies stored; want 1", n)
	}
	// Another port of the same IP host gets it too (cookies ignore ports).
	if got := s.CookieHeader(mustURL(t, "http://127.0.0.1:9999/x")); got != "local=2" {
		t.Errorf("other port: %q", got)
	}
	// Other schemes carry no cookies.
	if got := s.CookieHeader(mustURL(t, "ftp://127.0.0.1/x")); got != "" {
		t.Errorf("ftp: %q", got)
	}
	if got := s.CookieHeader(nil); got != "" {
		t.Errorf("nil URL: %q", got)
	}
}

// TestAsHTTPClientJar uses the store as the jar of a net/http client
// against a real server: the cookie net/http parses is re-parsed from Raw,
// a cookie set on a redirect is sent on the next hop.
func TestAsHTTPClientJar(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "session=abc; Path=/; HttpOnly")
		w.Header().Add("Set-Cookie", "foreign=1; Domain=.swift.org")
		w.Header().Add("Set-Cookie", "deep=1; Path=/account")
		http.Redirect(w, r, "/account/home", http.StatusFound)
	})
	mux.HandleFunc("/account/home", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Cookie"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s := newStore(t, Options{})
	client := &http.Client{Jar: s}
	resp, err := client.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := string(body), "deep=1; session=abc"; got != want {
		t.Errorf("Cookie on the redirected request = %q; want %q", got, want)
	}
	for _, c := range s.AllCookies() {
		if c.Name == "session" && !c.HttpOnly {
			t.Error("HttpOnly lost")
		}
	}
}

func TestCookieHeaderOrder(t *testing.T) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now})
	u := mustURL(t, "https://www.example.com/a/b/c")
	for _, l := range []string{"root1=1; Path=/", "ab=1; Path=/a/b", "a=1; Path=/a", "root2=1; Path=/; Domain=example.com", "abc=1; Path=/a/b/c"} {
		s.SetCookiesFromResponse(header(l), u, nil)
		clk.Advance(time.Second)
	}
	// Replacing root1 keeps its creation time, so it stays first among "/".
	s.SetCookiesFromResponse(header("root1=2; Path=/"), u, nil)
	if got, want := s.CookieHeader(u), "abc=1; ab=1; a=1; root1=2; root2=1"; got != want {
		t.Errorf("Cookie header\ngot  %q\nwant %q", got, want)
	}
	if got, want := names(s.Cookies(u)), []string{"abc", "ab", "a", "root1", "root2"}; !slices.Equal(got, want) {
		t.Errorf("Cookies order %v; want %v", got, want)
	}
	// Same creation time (the clock stands still): insertion order decides.
	s2 := newStore(t, Options{Now: clk.Now})
	s2.SetCookiesFromResponse(header("z=1", "y=1", "x=1"), u, nil)
	if got, want := s2.CookieHeader(u), "z=1; y=1; x=1"; got != want {
		t.Errorf("same-time order %q; want %q", got, want)
	}
}

func TestSecureCookies(t *testing.T) {
	s := newStore(t, Options{})
	https := mustURL(t, "https://example.com/")
	http_ := mustURL(t, "http://example.com/")
	s.SetCookiesFromResponse(header("s=1; Secure", "p=1"), https, nil)
	if got := s.CookieHeader(https); got != "s=1; p=1" {
		t.Errorf("https: %q", got)
	}
	if got := s.CookieHeader(http_); got != "p=1" {
		t.Errorf("http: %q; want the Secure cookie withheld", got)
	}
	if got := s.CookieHeader(mustURL(t, "wss://example.com/")); got != "s=1; p=1" {
		t.Errorf("wss: %q", got)
	}
	// Secure cookies from http are refused.
	s.SetCookiesFromResponse(header("s2=1; Secure"), http_, nil)
	if got := s.CookieHeader(https); got != "s=1; p=1" {
		t.Errorf("after Secure from http: %q", got)
	}
	// An insecure origin cannot overwrite, shadow or delete a Secure cookie...
	for _, l := range []string{"s=evil", "s=evil; Path=/deeper", "s=evil; Max-Age=0", "s=evil; Domain=example.com"} {
		s.SetCookiesFromResponse(header(l), http_, nil)
	}
	s.SetCookiesFromResponse(header("s=evil"), mustURL(t, "http://sub.example.com/"), nil)
	if got := s.CookieHeader(https); got != "s=1; p=1" {
		t.Errorf("after insecure overwrite attempts: %q", got)
	}
	// A secure origin may replace it.
	s.SetCookiesFromResponse(header("s=2"), https, nil)
	if got := s.CookieHeader(http_); got != "s=2; p=1" {
		t.Errorf("after https replaced it with a non-secure cookie: %q", got)
	}
	// The rule covers the secure cookie's path and below, not above.
	s.SetCookiesFromResponse(header("t=1; Secure; Path=/admin"), https, nil)
	s.SetCookiesFromResponse(header("t=evil; Path=/admin/sub"), mustURL(t, "http://example.com/admin/sub/x"), nil)
	s.SetCookiesFromResponse(header("t=other; Path=/"), http_, nil)
	if got := s.CookieHeader(mustURL(t, "https://example.com/admin/sub/x")); got != "t=1; s=2; p=1; t=other" {
		t.Errorf("t cookies: %q", got)
	}
	s.DeleteCookie(&http.Cookie{Name: "t", Domain: "example.com", Path: "/admin"})
	s.DeleteCookie(&http.Cookie{Name: "t", Domain: "example.com", Path: "/"})
	// SetCookiesForURL applies the same origin rule; SetCookie (no URL) trusts.
	s.SetCookiesForURL([]*http.Cookie{{Name: "x", Value: "1", Secure: true}}, http_, nil)
	if err := s.SetCookie(&http.Cookie{Name: "y", Value: "1", Secure: true, Domain: "example.com"}); err != nil {
		t.Error(err)
	}
	if got := sortedNames(s.Cookies(https)); !slices.Equal(got, []string{"p", "s", "y"}) {
		t.Errorf("cookies for https: %v", got)
	}
}

func TestSetCookieErrors(t *testing.T) {
	s := newStore(t, Options{})
	tests := []struct {
		c    *http.Cookie
		want error
	}{
		{&http.Cookie{Name: "a", Value: "1"}, ErrDomain},
		{&http.Cookie{Name: "a", Value: "1", Domain: ".com"}, ErrDomain},
		{&http.Cookie{Name: "a", Value: "1", Domain: ".co.uk"}, ErrDomain},
		{&http.Cookie{Name: "a;b", Value: "1", Domain: "x.com"}, ErrMalformed},
		{&http.Cookie{Name: "a", Value: "1;2", Domain: "x.com"}, ErrMalformed},
		{&http.Cookie{Name: "a\n", Value: "1", Domain: "x.com"}, ErrMalformed},
		{&http.Cookie{Name: "", Value: "", Domain: "x.com"}, ErrMalformed},
		{&http.Cookie{Name: "a", Value: strings.Repeat("v", 4096), Domain: "x.com"}, ErrMalformed},
		{&http.Cookie{Name: "__Secure-a", Value: "1", Domain: "x.com"}, ErrPrefix},
		{&http.Cookie{Name: "__Host-a", Value: "1", Domain: ".x.com", Secure: true}, ErrPrefix},
		{&http.Cookie{Name: "__Http-a", Value: "1", Domain: "x.com", Secure: true}, ErrPrefix},
		{&http.Cookie{Name: "a", Value: "1", Domain: "x.com", SameSite: http.SameSiteNoneMode}, ErrInsecure},
		{nil, ErrMalformed},
		{&http.Cookie{Name: "__Host-a", Value: "1", Domain: "x.com", Secure: true}, nil},
		{&http.Cookie{Name: "a", Value: "1", Domain: ".127.0.0.1"}, nil}, // IP: host-only
		{&http.Cookie{Name: "q", Value: "v w", Quoted: true, Domain: "x.com"}, nil},
	}
	for _, tt := range tests {
		err := s.SetCookie(tt.c)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("SetCookie(%+v) = %v; want %v", tt.c, err, tt.want)
		}
	}
	if got := s.CookieHeader(mustURL(t, "https://x.com/")); got != `__Host-a=1; q="v w"` {
		t.Errorf("Cookie header %q", got)
	}
	for _, c := range s.AllCookies() {
		if c.Name == "q" && (!c.Quoted || c.Value != "v w") {
			t.Errorf("quoted cookie read back as %+v", c)
		}
		if c.Name == "a" && c.Domain != "127.0.0.1" {
			t.Errorf("IP cookie domain %q", c.Domain)
		}
	}
	s.SetAcceptPolicy(Never)
	if err := s.SetCookie(&http.Cookie{Name: "z", Value: "1", Domain: "x.com"}); !errors.Is(err, ErrPolicy) {
		t.Errorf("SetCookie under Never = %v; want ErrPolicy", err)
	}
}

func TestHostOnlyAndDomainCookiesAreDistinct(t *testing.T) {
	s := newStore(t, Options{})
	u := mustURL(t, "http://example.com/")
	s.SetCookiesFromResponse(header("a=host", "a=domain; Domain=example.com"), u, nil)
	if got := s.CookieHeader(u); got != "a=host; a=domain" {
		t.Errorf("example.com: %q", got)
	}
	if got := s.CookieHeader(mustURL(t, "http://www.example.com/")); got != "a=domain" {
		t.Errorf("www.example.com: %q", got)
	}
	s.DeleteCookie(&http.Cookie{Name: "a", Domain: ".example.com", Path: "/"})
	if got := s.CookieHeader(u); got != "a=host" {
		t.Errorf("after deleting the domain cookie: %q", got)
	}
}

func TestExpiryAndMaxAge(t *testing.T) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now})
	u := mustURL(t, "http://example.com/")
	s.SetCookiesFromResponse(header("short=1; Max-Age=10", "long=1; Max-Age=100", "both=1; Max-Age=10; Expires=Fri, 31 Dec 2027 00:00:00 GMT"), u, nil)
	if got := s.CookieHeader(u); got != "short=1; long=1; both=1" {
		t.Fatalf("at first: %q", got)
	}
	clk.Advance(11 * time.Second)
	if got := s.CookieHeader(u); got != "long=1" {
		t.Errorf("after 11 s: %q", got)
	}
	if n := len(s.AllCookies()); n != 1 {
		t.Errorf("expired cookies not evicted: %d left", n)
	}
	s.SetCookiesFromResponse(header("long=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT"), u, nil)
	if got := s.CookieHeader(u); got != "" {
		t.Errorf("after deletion by past Expires: %q", got)
	}
	// Jar cookies built by hand: MaxAge < 0 deletes, Domain makes a domain cookie.
	s.SetCookies(u, []*http.Cookie{{Name: "j", Value: "1", Domain: "example.com", MaxAge: 60}})
	if got := s.CookieHeader(mustURL(t, "http://www.example.com/")); got != "j=1" {
		t.Errorf("jar domain cookie: %q", got)
	}
	s.SetCookies(u, []*http.Cookie{{Name: "j", Value: "1", Domain: ".example.com", MaxAge: -1}})
	if got := s.CookieHeader(u); got != "" {
		t.Errorf("after jar deletion: %q", got)
	}
}

func TestLimitsAndEviction(t *testing.T) {
	clk := newClock()
	s := newStore(t, Options{Now: clk.Now, MaxCookiesPerDomain: 3, MaxCookies: 5})
	a := mustURL(t, "http://a.example.com/")
	set := func(u *url.URL, l string) {
		s.SetCookiesFromResponse(header(l), u, nil)
		clk.Advance(time.Second)
	}
	set(a, "c1=1; Path=/1")
	set(a, "c2=1; Path=/2")
	set(mustURL(t, "http://example.com/"), "c3=1; Path=/3; Max-Age=5") // same registrable domain
	// Touch c1 so that c2 becomes the least recently accessed.
	if got := s.CookieHeader(mustURL(t, "http://a.example.com/1")); got != "c1=1" {
		t.Fatalf("c1: %q", got)
	}
	clk.Advance(10 * time.Second) // c3 expires
	set(a, "c4=1; Path=/4")
	if got := sortedNames(s.AllCookies()); !slices.Equal(got, []string{"c1", "c2", "c4"}) {
		t.Errorf("after c4 (expired c3 goes first): %v", got)
	}
	set(a, "c5=1; Path=/5")
	if got := sortedNames(s.AllCookies()); !slices.Equal(got, []string{"c1", "c4", "c5"}) {
		t.Errorf("after c5 (least recently accessed c2 goes): %v", got)
	}
	// The global limit across domains.
	set(mustURL(t, "http://b.org/"), "b1=1")
	set(mustURL(t, "http://b.org/"), "b2=1")
	set(mustURL(t, "http://c.net/"), "c=1")
	all := sortedNames(s.AllCookies())
	if !slices.Equal(all, []string{"b1", "b2", "c", "c4", "c5"}) {
		t.Errorf("after exceeding 5 in all: %v", all)
	}
	if s.maxCookies != 5 || s.maxPerSite != 3 {
		t.Fatal("options not applied")
	}
	d := newStore(t, Options{})
	if d.maxCookies != DefaultMaxCookies || d.maxPerSite != DefaultMaxCookiesPerDomain {
		t.Errorf("defaults %d/%d", d.maxCookies, d.maxPerSite)
	}
}

func TestSameSiteAndHTTPOnlyReported(t *testing.T) {
	s := newStore(t, Options{})
	u := mustURL(t, "https://example.com/")
	s.SetCookiesFromResponse(header("l=1; SameSite=Lax; HttpOnly", "s=1; SameSite=Strict", "n=1; SameSite=None; Secure", "d=1; SameSite=bogus", "bad=1; SameSite=None"), u, nil)
	got := map[string]http.SameSite{}
	for _, c := range s.AllCookies() {
		got[c.Name] = c.SameSite
		if c.Name == "l" && !c.HttpOnly {
			t.Error("HttpOnly not reported")
		}
	}
	want := map[string]http.SameSite{"l": http.SameSiteLaxMode, "s": http.SameSiteStrictMode, "n": http.SameSiteNoneMode, "d": 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SameSite got %v; want %v", got, want)
	}
	// Not enforced: all are sent.
	if h := s.CookieHeader(u); h != "l=1; s=1; n=1; d=1" {
		t.Errorf("Cookie header %q", h)
	}
}

func TestRemoveAll(t *testing.T) {
	s := newStore(t, Options{})
	s.SetCookiesFromResponse(header("a=1", "b=2; Max-Age=60"), mustURL(t, "http://example.com/"), nil)
	s.RemoveAll()
	if n := len(s.AllCookies()); n != 0 {
		t.Errorf("%d cookies after RemoveAll", n)
	}
	if err := s.Flush(); err != nil {
		t.Error(err)
	}
}

func TestAcceptPolicyString(t *testing.T) {
	for p, want := range map[AcceptPolicy]string{Always: "always", Never: "never", OnlyFromMainDocumentDomain: "onlyFromMainDocumentDomain", 7: "AcceptPolicy(7)"} {
		if got := p.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", int(p), got, want)
		}
	}
}
