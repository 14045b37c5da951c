package pipeline

// The behaviours of a private (browser-like) cache that the public
// cache-tests suite (cache-tests.fyi) checks, one scenario per behaviour,
// grouped as the suite groups them, each with the section of RFC 9111 (or
// RFC 9110, RFC 5861) it comes from. What the suite checks of shared
// caches and CDNs only (s-maxage freshness, CDN-Cache-Control) is here
// only to show that a private cache leaves it alone; what a cache answers
// for its clients' own preconditions (which this cache passes on to the
// server) is not here. See the package and urlcache documentation for the
// deviations the project chose (one stored response per URL, no stored
// Set-Cookie, no partial content stored, only GET responses stored).

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// outcome is how a request of a scenario was answered.
type outcome int

const (
	anyOutcome outcome = iota // not checked
	cached                    // from the cache, the server not asked
	fetched                   // the server asked without preconditions
	validated                 // the server asked with If-None-Match or If-Modified-Since
)

func (o outcome) String() string {
	return [...]string{"any", "cached", "fetched", "validated"}[o]
}

// step is one request of a scenario and the reply the server gives should
// the request reach it. In the fields of the reply, "{N}" stands for the
// stage's time plus N seconds as an HTTP-date (so "{-3600}" is an hour
// ago); a reply without a Date field gets "Date: {0}", the stage's time.
type step struct {
	wait   time.Duration // the clock moves on by this much first
	method string        // GET when empty
	path   string        // "/" when empty
	req    []string      // request fields, "Name: value"
	status int           // of the reply; 200 when 0
	resp   []string      // reply fields
	body   string        // reply body; "body N" (N the step's index) when empty

	want     outcome
	wantHdr  []string // "Name: value" the response must carry
	wantNot  []string // names the response must not carry
	wantBody string   // the body the caller must get, when not empty
}

// expand replaces each "{N}" in s with the HTTP-date of the stage's time
// plus N seconds.
func (e *env) expand(s string) string {
	for {
		i := strings.IndexByte(s, '{')
		j := strings.IndexByte(s, '}')
		if i < 0 || j < i {
			return s
		}
		n, err := strconv.Atoi(s[i+1 : j])
		if err != nil {
			e.t.Fatalf("bad placeholder in %q", s)
		}
		s = s[:i] + e.date(time.Duration(n)*time.Second) + s[j+1:]
	}
}

// run plays the steps of a scenario in order against a fresh cache.
func (e *env) run(steps ...step) {
	e.t.Helper()
	for i, s := range steps {
		e.clk.Advance(s.wait)
		hs := make([]string, 0, len(s.resp)+1)
		hasDate := false
		for _, h := range s.resp {
			if k, _, _ := strings.Cut(h, ":"); strings.EqualFold(strings.TrimSpace(k), "Date") {
				hasDate = true
			}
			hs = append(hs, e.expand(h))
		}
		if !hasDate {
			hs = append(hs, "Date: "+e.date(0))
		}
		body := s.body
		if body == "" && s.status != 204 && s.status != 304 {
			body = "body " + strconv.Itoa(i)
		}
		rp := reply{status: s.status, headers: hs, body: body}
		if s.status == http.StatusNotModified {
			// Written by hand: net/http's server drops Content-Type and
			// Content-Length from a 304, and they are part of what is
			// tested.
			rp.raw = "HTTP/1.1 304 Not Modified\r\n" + strings.Join(hs, "\r\n") + "\r\nConnection: close\r\n\r\n"
		}
		e.o.enqueue(rp)
		method, path := s.method, s.path
		if method == "" {
			method = "GET"
		}
		if path == "" {
			path = "/"
		}
		before := e.o.count()
		req := make([]string, len(s.req))
		for j, h := range s.req {
			req[j] = e.expand(h)
		}
		resp, err := e.do(method, path, req...)
		if err != nil {
			e.t.Fatalf("step %d: %s %s: %v", i, method, path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			e.t.Fatalf("step %d: reading the body: %v", i, err)
		}
		got := cached
		if e.o.count() > before {
			got = fetched
			r := e.o.request(e.o.count() - 1)
			if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
				got = validated
			}
		} else {
			e.o.mu.Lock()
			e.o.replies = nil // the reply was not needed
			e.o.mu.Unlock()
		}
		if s.want != anyOutcome && got != s.want {
			e.t.Errorf("step %d (%s %s %q): %v, want %v", i, method, path, s.req, got, s.want)
		}
		for _, h := range s.wantHdr {
			k, v, _ := strings.Cut(h, ":")
			v = e.expand(strings.TrimSpace(v))
			if g := resp.Header.Values(k); len(g) != 1 || g[0] != v {
				e.t.Errorf("step %d: %s = %q, want %q", i, k, g, v)
			}
		}
		for _, k := range s.wantNot {
			if g, ok := resp.Header[http.CanonicalHeaderKey(k)]; ok {
				e.t.Errorf("step %d: the response carries %s: %q", i, k, g)
			}
		}
		if s.wantBody != "" && string(b) != s.wantBody {
			e.t.Errorf("step %d: body %q, want %q", i, b, s.wantBody)
		}
	}
}

// scenario is a named list of steps.
type scenario struct {
	name  string
	steps []step
}

func runScenarios(t *testing.T, scs []scenario) {
	t.Helper()
	for _, sc := range scs {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			newEnv(t).run(sc.steps...)
		})
	}
}

// storedThen is a scenario of two requests: the first stores a response
// with the fields resp, the second, wait later, is answered as want says.
func storedThen(name string, resp []string, wait time.Duration, want outcome) scenario {
	return scenario{name, []step{{resp: resp}, {wait: wait, want: want}}}
}

// TestCacheConformanceFreshness: how long a response with Cache-Control
// max-age or Expires stays fresh (RFC 9111 sections 4.2.1, 5.2.2.1 and 5.3),
// and how strictly those fields are read (sections 1.2.2, 4.2 and 5.2).
func TestCacheConformanceFreshness(t *testing.T) {
	t.Parallel()
	const pause = 3 * time.Second
	runScenarios(t, []scenario{
		// Neither explicit freshness nor a validator: nothing to reuse.
		storedThen("no freshness, no validator", nil, pause, fetched),
		storedThen("max-age", []string{"Cache-Control: max-age=3600"}, pause, cached),
		storedThen("max-age once stale", []string{"Cache-Control: max-age=2"}, pause, fetched),
		// The apparent age counts (section 4.2.3).
		storedThen("max-age with an old Date", []string{"Cache-Control: max-age=3600", "Date: {-7200}"}, pause, fetched),
		// A quoted-string value is accepted (section 5.2).
		storedThen("max-age quoted", []string{`Cache-Control: max-age="3600"`}, pause, cached),
		storedThen("max-age single-quoted is invalid", []string{"Cache-Control: max-age='3600'"}, pause, fetched),
		// A directive's value may contain "max-age=": it is no directive.
		storedThen("max-age in a quoted string, before", []string{`Cache-Control: extension="max-age=100", max-age=1`}, pause, fetched),
		storedThen("max-age in a quoted string, after", []string{`Cache-Control: max-age=1, extension="max-age=100"`}, pause, fetched),
		storedThen("max-age in a quoted string, quoted max-age", []string{`Cache-Control: extension="max-age=100", max-age="1"`}, pause, fetched),
		storedThen("max-age in a quoted string, quoted max-age first", []string{`Cache-Control: max-age="1", extension="max-age=100"`}, pause, fetched),
		storedThen("space before =", []string{"Cache-Control: max-age =100"}, pause, fetched),
		storedThen("space after =", []string{"Cache-Control: max-age= 100"}, pause, fetched),
		storedThen("max-age=0", []string{"Cache-Control: max-age=0"}, pause, fetched),
		storedThen("max-age with a leading letter", []string{"Cache-Control: max-age=a100"}, pause, fetched),
		storedThen("max-age with a trailing letter", []string{"Cache-Control: max-age=100a"}, pause, fetched),
		storedThen("negative max-age", []string{"Cache-Control: max-age=-100"}, pause, fetched),
		storedThen("max-age with leading zeros", []string{"Cache-Control: max-age=003600"}, pause, cached),
		// Section 1.2.2: a delta-seconds too large saturates at 2^31.
		storedThen("max-age 2^31-1", []string{"Cache-Control: max-age=2147483647"}, pause, cached),
		storedThen("max-age 2^31", []string{"Cache-Control: max-age=2147483648"}, pause, cached),
		storedThen("max-age 2^31+1", []string{"Cache-Control: max-age=2147483649"}, pause, cached),
		storedThen("max-age past 2^31", []string{"Cache-Control: max-age=99999999999"}, pause, cached),
		storedThen("Age above max-age", []string{"Cache-Control: max-age=3600", "Age: 7200"}, pause, fetched),
		// max-age takes precedence over Expires (section 5.3).
		storedThen("max-age with a past Expires", []string{"Cache-Control: max-age=3600", "Expires: {-10000}"}, pause, cached),
		storedThen("max-age with an invalid Expires", []string{"Cache-Control: max-age=3600", "Expires: 0"}, pause, cached),
		storedThen("max-age=0 with a future Expires", []string{"Cache-Control: max-age=0", "Expires: {10000}"}, pause, fetched),
		storedThen("max-age with an extension", []string{"Cache-Control: foobar, max-age=3600"}, pause, cached),
		storedThen("directive names in any case", []string{"Cache-Control: MaX-aGe=3600"}, pause, cached),
		// A private cache ignores s-maxage (section 5.2.2.10).
		storedThen("s-maxage does not lengthen max-age", []string{"Cache-Control: s-maxage=3600, max-age=1"}, pause, fetched),
		storedThen("s-maxage does not lengthen max-age, two lines", []string{"Cache-Control: s-maxage=3600", "Cache-Control: max-age=1"}, pause, fetched),

		storedThen("future Expires", []string{"Expires: {2592000}"}, pause, cached),
		storedThen("past Expires", []string{"Expires: {-2592000}"}, pause, fetched),
		storedThen("Expires equal to Date", []string{"Expires: {0}"}, 0, fetched),
		storedThen("Expires before Date, both ahead", []string{"Expires: {300}", "Date: {400}"}, pause, fetched),
		storedThen("Expires with upper-case day name", []string{"Expires: THU, 18 Aug 2050 02:01:18 GMT"}, pause, cached),
		storedThen("Expires with upper-case month", []string{"Expires: Thu, 18 AUG 2050 02:01:18 GMT"}, pause, cached),
		storedThen("Expires with mixed-case GMT", []string{"Expires: Thu, 18 Aug 2050 02:01:18 gMT"}, pause, cached),
		// Section 5.3: an invalid date means already expired.
		storedThen("Expires 0", []string{"Expires: 0"}, pause, fetched),
		storedThen("Expires in UTC", []string{"Expires: Thu, 18 Aug 2050 02:01:18 UTC"}, pause, fetched),
		storedThen("Expires with a two-digit year", []string{"Expires: Thu, 18 Aug 50 02:01:18 GMT"}, pause, fetched),
		storedThen("Expires without the comma", []string{"Expires: Thu 18 Aug 2050 02:01:18 GMT"}, pause, fetched),
		storedThen("Expires with double spaces", []string{"Expires: Thu, 18  Aug  2050 02:01:18 GMT"}, pause, fetched),
		storedThen("Expires with dashes", []string{"Expires: Thu, 18-Aug-2050 02:01:18 GMT"}, pause, fetched),
		storedThen("Expires with periods", []string{"Expires: Thu, 18 Aug 2050 02.01.18 GMT"}, pause, fetched),
		storedThen("Expires with a one-digit hour", []string{"Expires: Thu, 18 Aug 2050 2:01:18 GMT"}, pause, fetched),
		// An invalid Date counts as the time the response arrived
		// (section 4.2.3 of RFC 9111, section 6.6.1 of RFC 9110).
		storedThen("Expires with an invalid Date", []string{"Date: foo", "Expires: {10}"}, 0, cached),
		storedThen("Age above Expires minus Date, Date behind", []string{"Date: {-10}", "Expires: {10}", "Age: 25"}, 0, fetched),
		storedThen("Age above Expires minus Date, Date ahead", []string{"Date: {10}", "Expires: {20}", "Age: 15"}, 0, fetched),
	})
}

// TestCacheConformanceHeuristicFreshness: a response with Last-Modified and
// no explicit freshness is fresh for a while when its status is
// heuristically cacheable (RFC 9110 section 15.1) or it says public (RFC
// 9111 sections 4.2.2 and 5.2.2.9), and only then.
func TestCacheConformanceHeuristicFreshness(t *testing.T) {
	t.Parallel()
	var scs []scenario
	for _, tc := range []struct {
		status int
		cc     string
		want   outcome
	}{
		{200, "", cached}, {203, "", cached}, {204, "", cached}, {404, "", cached}, {405, "", cached},
		{410, "", cached}, {414, "", cached}, {501, "", cached},
		{201, "", fetched}, {202, "", fetched}, {403, "", fetched}, {502, "", fetched}, {503, "", fetched},
		{504, "", fetched}, {599, "", fetched},
		{599, "public", cached},
	} {
		resp := []string{"Last-Modified: {-86400}"}
		name := strconv.Itoa(tc.status)
		if tc.cc != "" {
			resp = append(resp, "Cache-Control: "+tc.cc)
			name += " " + tc.cc
		}
		// A response that may be stored is reused; the others are not
		// stored at all, so the second request is not conditional.
		scs = append(scs, scenario{name, []step{
			{status: tc.status, resp: resp, body: "stored"},
			{status: tc.status, want: tc.want},
		}})
	}
	runScenarios(t, scs)
}

// TestCacheConformanceStatusCodes: any final status but 206 and 304 may be
// stored with explicit freshness, and is reused while fresh and not after
// (RFC 9111 section 3).
func TestCacheConformanceStatusCodes(t *testing.T) {
	t.Parallel()
	var scs []scenario
	for _, code := range []int{200, 203, 204, 299, 400, 404, 410, 499, 500, 502, 503, 504, 599} {
		body := ""
		if code != 204 {
			body = "stored"
		}
		scs = append(scs,
			scenario{strconv.Itoa(code) + " fresh", []step{
				{status: code, body: body, resp: []string{"Cache-Control: max-age=100000", "Expires: {100000}", "Last-Modified: {0}"}},
				{status: code, wait: 2 * time.Second, want: cached},
			}},
			scenario{strconv.Itoa(code) + " stale", []step{
				{status: code, body: body, resp: []string{"Expires: {-5000}", "Last-Modified: {-100000}"}},
				{status: code, want: validated},
			}},
		)
	}
	// must-understand (section 5.2.2.3): no-store is overridden only for
	// a status code whose caching rules the cache knows.
	scs = append(scs,
		scenario{"599 no-store must-understand", []step{
			{status: 599, resp: []string{"Cache-Control: max-age=3600, no-store, must-understand"}},
			{status: 599, want: fetched},
		}},
		scenario{"200 no-store must-understand", []step{
			{resp: []string{"Cache-Control: max-age=3600, no-store, must-understand"}},
			{want: cached},
		}},
	)
	runScenarios(t, scs)
}

// TestCacheConformanceResponseDirectives: no-store, no-cache,
// must-revalidate, private and immutable in responses (RFC 9111 section
// 5.2.2, RFC 8246).
func TestCacheConformanceResponseDirectives(t *testing.T) {
	t.Parallel()
	runScenarios(t, []scenario{
		storedThen("private is stored by a private cache", []string{"Cache-Control: private, max-age=3600"}, 0, cached),
		storedThen("no-store", []string{"Cache-Control: no-store"}, 0, fetched),
		storedThen("no-store in any case", []string{"Cache-Control: No-StOrE"}, 0, fetched),
		storedThen("no-store with max-age and Expires", []string{"Cache-Control: max-age=10000, no-store", "Expires: {10000}"}, 0, fetched),
		storedThen("no-cache with max-age and Expires", []string{"Cache-Control: max-age=10000, no-cache", "Expires: {10000}"}, 0, fetched),
		storedThen("no-cache in any case", []string{"Cache-Control: max-age=10000, No-CaChE", "Expires: {10000}"}, 0, fetched),
		storedThen("no-cache with an ETag is revalidated", []string{"Cache-Control: no-cache", `ETag: "abcd"`}, 0, validated),
		storedThen("no-cache with max-age and an ETag is revalidated",
			[]string{"Cache-Control: max-age=10000, no-cache", "Expires: {10000}", `ETag: "abcd"`}, 0, validated),
		storedThen("must-revalidate while fresh", []string{"Cache-Control: max-age=10000, must-revalidate", `ETag: "abcd"`}, 0, cached),
		{"must-revalidate once stale", []step{
			{resp: []string{"Cache-Control: max-age=2, must-revalidate", `ETag: "abcd"`}},
			{want: cached},
			{wait: 3 * time.Second, status: 304, resp: []string{`ETag: "abcd"`}, want: validated},
		}},
		// A stale immutable response is revalidated like any other.
		{"immutable once stale", []step{
			{resp: []string{"Cache-Control: max-age=2, immutable", `ETag: "abcd"`}},
			{wait: 3 * time.Second, req: []string{"Cache-Control: max-age=0"}, status: 304, want: validated},
		}},
		// A newer response that may not be stored leaves the stored one
		// usable when it never reached the cache.
		{"no-store after a fresh response", []step{
			{resp: []string{"Cache-Control: max-age=10000", "A: 1"}},
			{resp: []string{"Cache-Control: no-store", "A: 2"}, want: cached},
			{want: cached, wantHdr: []string{"A: 1"}},
		}},
	})
}

// TestCacheConformanceRequestDirectives: max-age, max-stale, min-fresh,
// no-cache, no-store and only-if-cached in requests (RFC 9111 section
// 5.2.1), and Pragma (section 5.4).
func TestCacheConformanceRequestDirectives(t *testing.T) {
	t.Parallel()
	fresh := []string{"Cache-Control: max-age=100000", "Expires: {100000}"}
	runScenarios(t, []scenario{
		{"max-age=0", []step{{resp: fresh}, {wait: time.Second, req: []string{"Cache-Control: max-age=0"}, want: fetched}}},
		{"max-age=1", []step{{resp: fresh}, {wait: 2 * time.Second, req: []string{"Cache-Control: max-age=1"}, want: fetched}}},
		{"max-age below Age", []step{{resp: []string{"Cache-Control: max-age=3600", "Age: 1800"}}, {req: []string{"Cache-Control: max-age=600"}, want: fetched}}},
		{"max-stale", []step{{resp: []string{"Cache-Control: max-age=1"}}, {wait: 3 * time.Second, req: []string{"Cache-Control: max-stale=1000"}, want: cached}}},
		{"max-stale with Age", []step{{resp: []string{"Cache-Control: max-age=1500", "Age: 2000"}}, {req: []string{"Cache-Control: max-stale=1000"}, want: cached}}},
		{"min-fresh", []step{{resp: []string{"Cache-Control: max-age=1500"}}, {req: []string{"Cache-Control: min-fresh=2000"}, want: fetched}}},
		{"min-fresh with Age", []step{{resp: []string{"Cache-Control: max-age=1500", "Age: 1000"}}, {req: []string{"Cache-Control: min-fresh=1000"}, want: fetched}}},
		{"no-cache", []step{{resp: []string{"Cache-Control: max-age=3600"}}, {req: []string{"Cache-Control: no-cache"}, want: fetched}}},
		{"no-cache validates with Last-Modified", []step{
			{resp: []string{"Cache-Control: max-age=3600", "Last-Modified: {-10000}"}},
			{req: []string{"Cache-Control: no-cache"}, status: 304, want: validated},
		}},
		{"no-cache validates with ETag", []step{
			{resp: []string{"Cache-Control: max-age=3600", `ETag: "abc"`}},
			{req: []string{"Cache-Control: no-cache"}, status: 304, want: validated},
		}},
		{"no-store", []step{{resp: []string{"Cache-Control: max-age=3600"}}, {req: []string{"Cache-Control: no-store"}, want: fetched}}},
		// Without Cache-Control, Pragma: no-cache in a request is no-cache
		// (section 5.4).
		{"Pragma: no-cache", []step{
			{resp: []string{"Cache-Control: max-age=3600", `ETag: "abc"`}},
			{req: []string{"Pragma: no-cache"}, status: 304, want: validated},
		}},
		{"Pragma extension", []step{{resp: []string{"Cache-Control: max-age=3600"}}, {req: []string{"Pragma: unrecognised-extension"}, want: cached}}},
		{"response Pragma beside Cache-Control", []step{{resp: []string{"Cache-Control: max-age=3600", "Pragma: no-cache"}}, {want: cached}}},
	})
	t.Run("only-if-cached with nothing stored", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		resp, body := e.get("/", "Cache-Control: only-if-cached")
		if resp.StatusCode != http.StatusGatewayTimeout || body != "" {
			t.Errorf("%d %q, want an empty 504", resp.StatusCode, body)
		}
		e.wantCount(0)
	})
}

// TestCacheConformanceVary: a stored response is selected only by requests
// with the same values of the fields its Vary names (RFC 9111 section
// 4.1), and never with "Vary: *".
func TestCacheConformanceVary(t *testing.T) {
	t.Parallel()
	vary := func(v string) []string {
		return []string{"Expires: {5000}", "Last-Modified: {-3000}", "Vary: " + v}
	}
	// A response the request does not select is not validated either.
	miss := fetched
	runScenarios(t, []scenario{
		{"match", []step{{req: []string{"Foo: 1"}, resp: vary("Foo")}, {req: []string{"Foo: 1"}, want: cached}}},
		{"no match", []step{{req: []string{"Foo: 1"}, resp: vary("Foo")}, {req: []string{"Foo: 2"}, want: miss}}},
		{"field omitted", []step{{req: []string{"Foo: 1"}, resp: vary("Foo")}, {want: miss}}},
		{"field omitted from the stored request", []step{{resp: vary("Foo")}, {req: []string{"Foo: 1"}, want: miss}}},
		{"other fields are not keys", []step{{req: []string{"Foo: 1", "Other: 2"}, resp: vary("Foo")}, {req: []string{"Foo: 1", "Other: 3"}, want: cached}}},
		{"two fields match", []step{{req: []string{"Foo: 1", "Bar: abc"}, resp: vary("Foo, Bar")}, {req: []string{"Foo: 1", "Bar: abc"}, want: cached}}},
		{"two fields, no match", []step{{req: []string{"Foo: 1", "Bar: abc"}, resp: vary("Foo, Bar")}, {req: []string{"Foo: 2", "Bar: abc"}, want: miss}}},
		{"two fields, one omitted", []step{{req: []string{"Foo: 1"}, resp: vary("Foo, Bar")}, {want: miss}}},
		{"three fields match", []step{{req: []string{"Foo: 1", "Bar: abc", "Baz: 789"}, resp: vary("Foo, Bar, Baz")},
			{req: []string{"Foo: 1", "Bar: abc", "Baz: 789"}, want: cached}}},
		{"three fields, no match", []step{{req: []string{"Foo: 1", "Bar: abc", "Baz: 789"}, resp: vary("Foo, Bar, Baz")},
			{req: []string{"Foo: 2", "Bar: abc", "Baz: 789"}, want: miss}}},
		{"three fields, whatever the order", []step{{req: []string{"Foo: 1", "Bar: abc4", "Baz: 789"}, resp: vary("Foo, Bar, Baz")},
			{req: []string{"Foo: 1", "Bar: abc", "Baz: 789"}, want: miss}}},
		{"three fields, the same one absent from both", []step{{req: []string{"Foo: 1", "Baz: 789"}, resp: vary("Foo, Bar, Baz")},
			{req: []string{"Foo: 1", "Baz: 789"}, want: cached}}},
		{"whitespace is normalised", []step{{req: []string{"Foo: 1,2"}, resp: vary("Foo")}, {req: []string{"Foo:  1, 2 "}, want: cached}}},
		{"lines are combined", []step{{req: []string{"Foo: 1, 2"}, resp: vary("Foo")}, {req: []string{"Foo: 1", "Foo: 2"}, want: cached}}},
		{"Accept-Language in any case", []step{{req: []string{"Accept-Language: en, de"}, resp: vary("Accept-Language")},
			{req: []string{"Accept-Language: eN, De"}, want: cached}}},
		{"Accept-Language whitespace", []step{{req: []string{"Accept-Language: en, de"}, resp: vary("Accept-Language")},
			{req: []string{"Accept-Language:  en ,   de"}, want: cached}}},
		{"*", []step{{req: []string{"Foo: 1"}, resp: vary("*")}, {req: []string{"Foo: 1"}, want: miss}}},
		{"*, *", []step{{req: []string{"Foo: 1"}, resp: vary("*, *")}, {req: []string{"Foo: 1"}, want: miss}}},
		{"* on two lines", []step{{req: []string{"Foo: 1"}, resp: append(vary("*"), "Vary: *")}, {req: []string{"Foo: 1"}, want: miss}}},
		{", *", []step{{req: []string{"Foo: 1"}, resp: vary(", *")}, {req: []string{"Foo: 1"}, want: miss}}},
		{"empty line, then *", []step{{req: []string{"Foo: 1"}, resp: append(vary(""), "Vary: *")}, {req: []string{"Foo: 1"}, want: miss}}},
		{"*, Foo", []step{{req: []string{"Foo: 1"}, resp: vary("*, Foo")}, {req: []string{"Foo: 1"}, want: miss}}},
		{"Foo, *", []step{{req: []string{"Foo: 1"}, resp: vary("Foo, *")}, {req: []string{"Foo: 1"}, want: miss}}},
	})
	t.Run("the conditional request carries the varying field", func(t *testing.T) {
		// Section 4.3.1.
		t.Parallel()
		e := newEnv(t)
		e.run(
			step{req: []string{"Abc: 123"}, resp: []string{"Expires: {1}", `ETag: "abcdef"`, "Vary: Abc"}},
			step{wait: 3 * time.Second, req: []string{"Abc: 123"}, status: 304, want: validated},
		)
		if got := e.o.request(1).Header.Get("Abc"); got != "123" {
			t.Errorf("Abc = %q, want 123", got)
		}
	})
}

// TestCacheConformanceValidation: a stale response with a validator is
// revalidated with it (RFC 9111 section 4.3.1), and a 304 updates the
// stored fields (sections 3.2 and 4.3.4).
func TestCacheConformanceValidation(t *testing.T) {
	t.Parallel()
	for _, tag := range []string{`"abcdef"`, `W/"abcdef"`} {
		t.Run("If-None-Match "+tag, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.run(
				step{resp: []string{"Cache-Control: max-age=2", "ETag: " + tag}, body: "stored"},
				step{wait: 3 * time.Second, status: 304, resp: []string{"ETag: " + tag}, want: validated, wantBody: "stored"},
			)
			if got := e.o.request(1).Header.Get("If-None-Match"); got != tag {
				t.Errorf("If-None-Match = %q, want %q", got, tag)
			}
		})
	}
	t.Run("If-Modified-Since", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		lm := e.date(-3000 * time.Second)
		e.run(
			step{resp: []string{"Expires: {2}", "Last-Modified: " + lm}, body: "stored"},
			step{wait: 3 * time.Second, status: 304, want: validated, wantBody: "stored"},
		)
		if got := e.o.request(1).Header.Get("If-Modified-Since"); got != lm {
			t.Errorf("If-Modified-Since = %q, want %q", got, lm)
		}
	})
	const lm = "Last-Modified: Wed, 01 Jan 2020 00:00:00 GMT"
	runScenarios(t, []scenario{
		{"a 304 without a field keeps the stored one", []step{
			{resp: []string{"Cache-Control: max-age=2", lm, "Test-Header: A"}},
			{wait: 3 * time.Second, status: 304, resp: []string{lm}, want: validated, wantHdr: []string{"Test-Header: A"}},
		}},
	})
	// Fields a 304 must update (section 3.2) and the one it must not.
	var scs []scenario
	for _, f := range []struct{ name, a, b string }{
		{"Test-Header", "A", "B"}, {"X-Test-Header", "A", "B"}, {"Content-Foo", "A", "B"}, {"X-Content-Foo", "A", "B"},
		{"Content-Type", "text/plain", "text/plain;charset=utf-8"}, {"Content-Location", "/foo", "/bar"},
		{"X-Frame-Options", "deny", "sameorigin"}, {"Expires", "Fri, 01 Jan 2038 01:01:01 GMT", "Mon, 11 Jan 2038 11:11:11 GMT"},
	} {
		etag := `ETag: "` + f.name + `-1"`
		resp := func(v string) []string { return []string{"Cache-Control: max-age=2", etag, f.name + ": " + v} }
		scs = append(scs, scenario{"a 304 updates " + f.name, []step{
			{resp: resp(f.a)},
			{wait: 3 * time.Second, status: 304, resp: resp(f.b), want: validated, wantHdr: []string{f.name + ": " + f.b}},
			{want: cached, wantHdr: []string{f.name + ": " + f.b}},
		}})
	}
	scs = append(scs, scenario{"a 304 updates Cache-Control", []step{
		{resp: []string{"Cache-Control: max-age=1", `ETag: "cc-1"`}},
		{wait: 2 * time.Second, status: 304, resp: []string{"Cache-Control: max-age=3600", `ETag: "cc-1"`}, want: validated,
			wantHdr: []string{"Cache-Control: max-age=3600"}},
		{wait: 2 * time.Second, want: cached, wantHdr: []string{"Cache-Control: max-age=3600"}},
	}})
	scs = append(scs, scenario{"a 304 does not update Content-Length", []step{
		{resp: []string{"Cache-Control: max-age=2", `ETag: "cl-1"`}, body: "12345"},
		{wait: 3 * time.Second, status: 304, resp: []string{"Cache-Control: max-age=3600", `ETag: "cl-1"`, "Content-Length: 10"}, want: validated,
			wantHdr: []string{"Content-Length: 5"}, wantBody: "12345"},
		{want: cached, wantHdr: []string{"Content-Length: 5"}, wantBody: "12345"},
	}})
	runScenarios(t, scs)
}

// TestCacheConformanceInvalidation: a non-error response to an unsafe
// request invalidates the target URI and the same-origin Location and
// Content-Location URIs (RFC 9111 section 4.4); an error response does not.
func TestCacheConformanceInvalidation(t *testing.T) {
	t.Parallel()
	fresh := []string{"Expires: {100000}", "Cache-Control: max-age=100000", "Last-Modified: {0}"}
	var scs []scenario
	for _, m := range []string{"POST", "PUT", "DELETE", "M-SEARCH"} {
		scs = append(scs,
			scenario{m, []step{{resp: fresh}, {method: m}, {want: fetched}}},
			scenario{m + " failed", []step{{resp: fresh}, {method: m, status: 500}, {want: cached}}},
			scenario{m + " Location", []step{
				{path: "/target", resp: fresh},
				{method: m, resp: []string{"Location: /target"}},
				{path: "/target", want: fetched},
			}},
			scenario{m + " Content-Location", []step{
				{path: "/target", resp: fresh},
				{method: m, resp: []string{"Content-Location: /target"}},
				{path: "/target", want: fetched},
			}},
		)
	}
	runScenarios(t, scs)
}

// TestCacheConformanceStale: a private cache does not serve a stale
// response when the server cannot be reached unless stale-if-error allows
// it, and never when must-revalidate or no-cache forbids it (RFC 9111
// section 4.2.4, RFC 5861).
func TestCacheConformanceStale(t *testing.T) {
	t.Parallel()
	var scs []scenario
	// must-revalidate and no-cache forbid serving stale even within
	// stale-if-error; proxy-revalidate and s-maxage bind shared caches
	// only, but no stale response is served without stale-if-error.
	for _, cc := range []string{"must-revalidate, stale-if-error=60", "no-cache, stale-if-error=60", "proxy-revalidate", "s-maxage=2"} {
		scs = append(scs, scenario{cc, []step{
			{resp: []string{"Cache-Control: max-age=2, " + cc}, body: "stored"},
			{wait: 3 * time.Second, status: 503, body: "down", want: fetched, wantBody: "down"},
		}})
	}
	scs = append(scs,
		scenario{"503 without stale-if-error", []step{
			{resp: []string{"Cache-Control: max-age=2"}, body: "stored"},
			{wait: 3 * time.Second, status: 503, body: "down", want: fetched, wantBody: "down"},
		}},
		scenario{"stale-if-error", []step{
			{resp: []string{"Cache-Control: max-age=0, stale-if-error=3600"}, body: "stored"},
			{wait: time.Second, status: 500, want: fetched, wantBody: "stored"},
		}},
		scenario{"stale-if-error elapsed", []step{
			{resp: []string{"Cache-Control: max-age=0, stale-if-error=1"}, body: "stored"},
			{wait: 3 * time.Second, status: 500, body: "down", want: fetched, wantBody: "down"},
		}},
		// A response with max-age=0 is stored only with a validator (or
		// a stale-if-error of its own): without, no request could use it
		// but one whose cache policy takes any stored response.
		scenario{"request stale-if-error", []step{
			{resp: []string{"Cache-Control: max-age=0", `ETag: "s"`}, body: "stored"},
			{wait: time.Second, req: []string{"Cache-Control: stale-if-error=3600"}, status: 500, want: validated, wantBody: "stored"},
		}},
		scenario{"request stale-if-error elapsed", []step{
			{resp: []string{"Cache-Control: max-age=0", `ETag: "s"`}, body: "stored"},
			{wait: 3 * time.Second, req: []string{"Cache-Control: stale-if-error=1"}, status: 500, body: "down", want: validated, wantBody: "down"},
		}},
	)
	runScenarios(t, scs)
}

// TestCacheConformanceStoredFields: a stored response keeps its fields
// except the connection's and the proxy's (RFC 9111 section 3.1).
func TestCacheConformanceStoredFields(t *testing.T) {
	t.Parallel()
	keep := []string{"Test-Header: v", "X-Test-Header: v", "Content-Foo: v", "X-Content-Foo: v", "Content-Type: text/plain",
		"Content-Location: /foo", "Content-MD5: rL0Y20zC+Fzt72VPzMSk2A==", "Content-Security-Policy: default-src 'self'",
		"Content-Range: bytes */10", "Content-Encoding: x-unknown", `ETag: "abcdef"`, "Expires: Fri, 01 Jan 2038 01:01:01 GMT",
		"X-Frame-Options: deny", "X-XSS-Protection: 1", "Clear-Site-Data: cookies", "Public-Key-Pins: v", "Set-Cookie2: a=b",
		"Strict-Transport-Security: max-age=1", "Strict-Transport-Security2: v", "WWW-Authenticate: Basic realm=x"}
	runScenarios(t, []scenario{
		{"other fields are kept", []step{
			{resp: append([]string{"Cache-Control: max-age=3600"}, keep...)},
			{wait: time.Second, want: cached, wantHdr: keep},
		}},
		{"the fields Connection names are not", []step{
			{resp: []string{"Cache-Control: max-age=3600", "Connection: a, b", "A: 1", "B: 2", "C: 3"}},
			{wait: time.Second, want: cached, wantHdr: []string{"C: 3"}, wantNot: []string{"Connection", "A", "B"}},
		}},
		{"nor connection-specific fields", []step{
			{resp: []string{"Cache-Control: max-age=3600", "Keep-Alive: timeout=5", "Proxy-Connection: keep-alive", "Upgrade: h2c"}},
			{wait: time.Second, want: cached, wantNot: []string{"Keep-Alive", "Proxy-Connection", "Upgrade"}},
		}},
		{"nor the proxy's authentication fields", []step{
			{resp: []string{"Cache-Control: max-age=3600", "Proxy-Authenticate: Basic realm=p", "Proxy-Authentication-Info: nextnonce=x"}},
			{wait: time.Second, want: cached, wantNot: []string{"Proxy-Authenticate", "Proxy-Authentication-Info"}},
		}},
		{"nor after a 304", []step{
			{resp: []string{"Cache-Control: max-age=1", `ETag: "p"`}},
			{wait: 2 * time.Second, status: 304, resp: []string{"Cache-Control: max-age=3600", `ETag: "p"`, "Proxy-Authenticate: Basic realm=p"},
				want: validated, wantNot: []string{"Proxy-Authenticate"}},
			{want: cached, wantNot: []string{"Proxy-Authenticate"}},
		}},
	})
}

// TestCacheConformanceOther: the Age a stored response is served with
// (RFC 9111 sections 4 and 5.1), its unchanged Date, query strings in the
// key, and cookies (which do not keep a response from being reused).
func TestCacheConformanceOther(t *testing.T) {
	t.Parallel()
	runScenarios(t, []scenario{
		{"Age is generated", []step{
			{resp: []string{"Expires: {2592000}"}},
			{wait: 3 * time.Second, want: cached, wantHdr: []string{"Age: 3"}},
		}},
		{"Age is updated, Expires", []step{
			{resp: []string{"Expires: {2592000}", "Age: 30"}},
			{wait: 3 * time.Second, want: cached, wantHdr: []string{"Age: 33"}},
		}},
		{"Age is updated, max-age", []step{
			{resp: []string{"Cache-Control: max-age=600", "Age: 30"}},
			{wait: 3 * time.Second, want: cached, wantHdr: []string{"Age: 33"}},
		}},
		{"Date is not updated", []step{
			{resp: []string{"Expires: {2592000}", "Date: {0}"}},
			{wait: 3 * time.Second, want: cached, wantHdr: []string{"Date: {-3}"}},
		}},
		{"other query, other key", []step{
			{path: "/?test=1", resp: []string{"Cache-Control: max-age=100000"}},
			{path: "/?test=2", want: fetched},
		}},
		{"same query, same key", []step{
			{path: "/?test=1", resp: []string{"Cache-Control: max-age=100000"}},
			{path: "/?test=1", want: cached},
		}},
		{"Content-Disposition: attachment", []step{
			{resp: []string{"Cache-Control: max-age=3600", "Content-Disposition: attachment; filename=example.txt"}},
			{want: cached},
		}},
		{"heuristic Content-Disposition: attachment", []step{
			{resp: []string{"Last-Modified: {-100000}", "Content-Disposition: attachment; filename=example.txt"}},
			{want: cached},
		}},
		{"Set-Cookie", []step{{resp: []string{"Cache-Control: max-age=3600", "Set-Cookie: a=b"}}, {want: cached}}},
		{"Cookie", []step{{resp: []string{"Cache-Control: max-age=3600"}}, {req: []string{"Cookie: a=b"}, want: cached}}},
	})
}

// TestCacheConformanceRanges: a range of a complete stored response is
// answered from it (RFC 9111 section 3.4 lets a cache do so; RFC 9110
// section 14).
func TestCacheConformanceRanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, rng, want string }{
		{"01234567890", "bytes=0-1", "01"},
		{"01234567890", "bytes=1-", "1234567890"},
		{"0123456789A", "bytes=-1", "A"},
	} {
		t.Run(tc.rng, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.run(step{resp: []string{"Cache-Control: max-age=3600", "A: 1"}, body: tc.body})
			resp, body := e.get("/", "Range: "+tc.rng)
			if resp.StatusCode != http.StatusPartialContent || body != tc.want {
				t.Errorf("%d %q, want 206 %q", resp.StatusCode, body, tc.want)
			}
			// The stored fields are kept (section 3.4).
			if got := resp.Header.Get("A"); got != "1" {
				t.Errorf("A = %q, want the stored 1", got)
			}
			e.wantCount(1)
		})
	}
}

// TestCacheConformanceSharedCacheFields: what binds only shared caches and
// CDNs leaves a private cache as Cache-Control alone would: s-maxage and
// proxy-revalidate (RFC 9111 sections 5.2.2.8 and 5.2.2.10), and the
// CDN-Cache-Control and Surrogate-Control fields, which target other
// caches (RFC 9213 section 2).
func TestCacheConformanceSharedCacheFields(t *testing.T) {
	t.Parallel()
	const pause = 3 * time.Second
	runScenarios(t, []scenario{
		storedThen("s-maxage alone gives no freshness", []string{"Cache-Control: s-maxage=3600"}, pause, fetched),
		storedThen("proxy-revalidate while fresh", []string{"Cache-Control: max-age=3600, proxy-revalidate"}, pause, cached),
		storedThen("CDN-Cache-Control max-age", []string{"CDN-Cache-Control: max-age=3600"}, pause, fetched),
		storedThen("CDN-Cache-Control does not lengthen max-age", []string{"Cache-Control: max-age=1", "CDN-Cache-Control: max-age=3600"}, pause, fetched),
		storedThen("CDN-Cache-Control does not shorten max-age", []string{"Cache-Control: max-age=3600", "CDN-Cache-Control: max-age=1"}, pause, cached),
		storedThen("CDN-Cache-Control no-store", []string{"Cache-Control: max-age=3600", "CDN-Cache-Control: no-store"}, pause, cached),
		storedThen("CDN-Cache-Control over no-store", []string{"Cache-Control: no-store", "CDN-Cache-Control: max-age=10000"}, pause, fetched),
		storedThen("CDN-Cache-Control private", []string{"Cache-Control: max-age=3600", "CDN-Cache-Control: private"}, pause, cached),
		storedThen("Surrogate-Control max-age", []string{"Surrogate-Control: max-age=3600"}, pause, fetched),
		storedThen("Surrogate-Control no-store", []string{"Cache-Control: max-age=3600", "Surrogate-Control: no-store"}, pause, cached),
	})
}
