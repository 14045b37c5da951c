package urlcache

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// date formats now+d as an HTTP date.
func date(d time.Duration) string { return now.Add(d).UTC().Format(http.TimeFormat) }

// hdr builds a header from "Name: value" lines.
func hdr(lines ...string) http.Header {
	h := http.Header{}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, ":")
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return h
}

func resp(status int, lines ...string) *http.Response {
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: hdr(lines...)}
}

func request(method, u string, lines ...string) *http.Request {
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		panic(err)
	}
	r.Header = hdr(lines...)
	return r
}

func TestParseCacheControl(t *testing.T) {
	for _, tc := range []struct {
		lines []string
		want  CacheControl
	}{
		{nil, CacheControl{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}},
		{[]string{"Cache-Control: max-age=60, s-maxage=30"}, CacheControl{MaxAge: 60, SMaxAge: 30, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}},
		{[]string{"Cache-Control: MAX-AGE=60", "Cache-Control: max-age=5"}, CacheControl{MaxAge: 60, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}},
		{[]string{`Cache-Control: max-age="60"`}, CacheControl{MaxAge: 60, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}},
		{[]string{"Cache-Control: max-age=abc"}, CacheControl{MaxAge: 0, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}},
		{[]string{"Cache-Control: max-age=-5"}, CacheControl{MaxAge: 0, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}},
		{[]string{"Cache-Control: max-age=99999999999999999999"}, CacheControl{MaxAge: maxDelta, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}},
		{[]string{"Cache-Control: max-stale"}, CacheControl{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1, MaxStaleAny: true}},
		{[]string{"Cache-Control: max-stale=10, min-fresh=20, only-if-cached"}, CacheControl{MaxAge: -1, SMaxAge: -1, MaxStale: 10, MinFresh: 20, StaleWhileRevalidate: -1, StaleIfError: -1, OnlyIfCached: true}},
		{[]string{`Cache-Control: private="Set-Cookie, X", no-cache="A,B", immutable, must-revalidate, public, no-store, no-transform, proxy-revalidate, must-understand`},
			CacheControl{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1, Private: true, NoCache: true, Immutable: true, MustRevalidate: true,
				Public: true, NoStore: true, NoTransform: true, ProxyRevalidate: true, MustUnderstand: true}},
		{[]string{"Cache-Control: stale-while-revalidate=30, stale-if-error=600"}, CacheControl{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: 30, StaleIfError: 600}},
		{[]string{"Cache-Control: max-age =5"}, CacheControl{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}},
		{[]string{"Cache-Control: max-age= 5, s-maxage = 7"}, CacheControl{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}},
		{[]string{"Cache-Control: max-age =5, max-age=9"}, CacheControl{MaxAge: 9, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}},
		{[]string{"Cache-Control: \tmax-age=5 ,no-store\t"}, CacheControl{MaxAge: 5, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1, NoStore: true}},
		{[]string{"Cache-Control: no cache"}, CacheControl{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}},
		{[]string{"Pragma: no-cache"}, CacheControl{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1, NoCache: true}},
		{[]string{"Pragma: no-cache", "Cache-Control: max-age=5"}, CacheControl{MaxAge: 5, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}},
	} {
		if got := ParseCacheControl(hdr(tc.lines...)); got != tc.want {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.lines, got, tc.want)
		}
	}
}

func TestLifetime(t *testing.T) {
	for _, tc := range []struct {
		name      string
		url       string
		resp      *http.Response
		want      time.Duration
		heuristic bool
	}{
		{"max-age", "", resp(200, "Cache-Control: max-age=60"), time.Minute, false},
		{"max-age over Expires", "", resp(200, "Date: "+date(0), "Expires: "+date(-time.Hour), "Cache-Control: max-age=60"), time.Minute, false},
		{"s-maxage ignored", "", resp(200, "Cache-Control: s-maxage=60, max-age=180"), 3 * time.Minute, false},
		{"s-maxage alone ignored", "", resp(200, "Date: "+date(0), "Cache-Control: s-maxage=60"), 0, false},
		{"Expires - Date", "", resp(200, "Date: "+date(-time.Hour), "Expires: "+date(time.Hour)), 2 * time.Hour, false},
		{"Expires without Date uses the response time", "", resp(200, "Expires: "+date(time.Hour)), time.Hour, false},
		{"Expires in the past", "", resp(200, "Date: "+date(0), "Expires: "+date(-time.Hour)), 0, false},
		{"Expires invalid (0)", "", resp(200, "Date: "+date(0), "Expires: 0", "Last-Modified: "+date(-100*time.Hour)), 0, false},
		{"Expires with an extra space", "", resp(200, "Date: "+date(0), "Expires: "+strings.Replace(date(time.Hour), " ", "  ", 1)), 0, false},
		{"Expires with a one-digit hour", "", resp(200, "Date: "+date(0), "Expires: Sun, 02 Mar 2025 9:00:00 GMT"), 0, false},
		{"Expires with two values", "", resp(200, "Date: "+date(0), "Expires: "+date(time.Hour)+", "+date(2*time.Hour)), 0, false},
		{"Expires on two lines", "", resp(200, "Date: "+date(0), "Expires: "+date(time.Hour), "Expires: "+date(time.Hour)), 0, false},
		{"Expires in lower case", "", resp(200, "Date: "+date(0), "Expires: "+strings.ToLower(date(time.Hour))), time.Hour, false},
		{"Expires in rfc850 form", "", resp(200, "Date: "+date(0), "Expires: "+now.Add(time.Hour).Format("Monday, 02-Jan-06 15:04:05 GMT")), time.Hour, false},
		{"Expires in asctime form", "", resp(200, "Date: "+date(0), "Expires: "+now.Add(time.Hour).Format(time.ANSIC)), time.Hour, false},
		{"invalid Date counts as the response time", "", resp(200, "Date: "+strings.Replace(date(-time.Hour), " ", "  ", 1), "Expires: "+date(time.Hour)), time.Hour, false},
		{"invalid Last-Modified gives no heuristic", "", resp(200, "Last-Modified: "+strings.Replace(date(-105*time.Second), " ", "  ", 1), "Date: "+date(-5*time.Second)), 0, false},
		{"Expires before Last-Modified", "", resp(200, "Last-Modified: "+date(-time.Hour), "Expires: "+date(-2*time.Hour)), 0, false},
		{"heuristic 10%", "", resp(200, "Last-Modified: "+date(-105*time.Second), "Date: "+date(-5*time.Second)), 10 * time.Second, true},
		{"heuristic on a 404", "", resp(404, "Last-Modified: "+date(-100*time.Second), "Date: "+date(0)), 10 * time.Second, true},
		{"heuristic capped", "", resp(200, "Last-Modified: "+date(-1000*24*time.Hour), "Date: "+date(0)), MaxHeuristicLifetime, true},
		{"no heuristic with a query", "https://h.test/?q=1", resp(200, "Last-Modified: "+date(-105*time.Second), "Date: "+date(-5*time.Second)), 0, false},
		{"explicit with a query", "https://h.test/?q=1", resp(200, "Cache-Control: max-age=9"), 9 * time.Second, false},
		{"no heuristic for 302", "", resp(302, "Last-Modified: "+date(-100*time.Second), "Date: "+date(0)), 0, false},
		{"no heuristic for 500", "", resp(500, "Last-Modified: "+date(-100*time.Second), "Date: "+date(0)), 0, false},
		// RFC 9111 section 5.2.2.9: public makes any status heuristically
		// cacheable.
		{"heuristic for a public 599", "", resp(599, "Cache-Control: public", "Last-Modified: "+date(-100*time.Second), "Date: "+date(0)), 10 * time.Second, true},
		{"heuristic for a public 500", "", resp(500, "Cache-Control: public", "Last-Modified: "+date(-100*time.Second), "Date: "+date(0)), 10 * time.Second, true},
		{"no heuristic for a private 599", "", resp(599, "Cache-Control: private", "Last-Modified: "+date(-100*time.Second), "Date: "+date(0)), 0, false},
		{"public with max-age is explicit", "", resp(599, "Cache-Control: public, max-age=5", "Last-Modified: "+date(-100*time.Second), "Date: "+date(0)), 5 * time.Second, false},
		{"Last-Modified in the future", "", resp(200, "Last-Modified: "+date(time.Hour), "Date: "+date(0)), 0, false},
		{"nothing", "", resp(200, "Date: "+date(0)), 0, false},
	} {
		u, _ := url.Parse(tc.url)
		if tc.url == "" {
			u, _ = url.Parse("https://h.test/")
		}
		got, h := Lifetime(tc.resp, u, now)
		if got != tc.want || h != tc.heuristic {
			t.Errorf("%s: got %v heuristic=%v, want %v heuristic=%v", tc.name, got, h, tc.want, tc.heuristic)
		}
	}
}

func TestAge(t *testing.T) {
	for _, tc := range []struct {
		name                string
		resp                *http.Response
		requested, received time.Duration // relative to now
		want                time.Duration
	}{
		{"just received, no Date", resp(200), 0, 0, 0},
		{"resident time", resp(200, "Date: "+date(-10*time.Second)), -10 * time.Second, -10 * time.Second, 10 * time.Second},
		{"apparent age", resp(200, "Date: "+date(-120*time.Second)), -60 * time.Second, -60 * time.Second, 120 * time.Second},
		{"Age header", resp(200, "Date: "+date(0), "Age: 30"), 0, 0, 30 * time.Second},
		{"Age plus response delay", resp(200, "Date: "+date(-2*time.Second), "Age: 30"), -5 * time.Second, -2 * time.Second, 35 * time.Second},
		{"apparent age larger than Age", resp(200, "Date: "+date(-100*time.Second), "Age: 10"), -50 * time.Second, -50 * time.Second, 100 * time.Second},
		{"Date in the future", resp(200, "Date: "+date(time.Hour)), 0, 0, 0},
		{"bad Age", resp(200, "Date: "+date(0), "Age: soon"), 0, 0, 0},
		{"Age list: the first counts", resp(200, "Date: "+date(0), "Age: 7200, 0"), 0, 0, 2 * time.Hour},
		{"Age list without spaces", resp(200, "Date: "+date(0), "Age: 60,7200"), 0, 0, time.Minute},
		{"Age on two lines: the first counts", resp(200, "Date: "+date(0), "Age: 60", "Age: 7200"), 0, 0, time.Minute},
	} {
		got := Age(tc.resp, now.Add(tc.requested), now.Add(tc.received), now)
		if got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// stored is a CachedResponse received receivedAgo before now.
func stored(r *http.Response, receivedAgo time.Duration) *CachedResponse {
	return &CachedResponse{Response: r, Body: []byte("A"), RequestTime: now.Add(-receivedAgo), ResponseTime: now.Add(-receivedAgo)}
}

func TestDecide(t *testing.T) {
	lm := "Last-Modified: " + date(-2*time.Hour)
	for _, tc := range []struct {
		name string
		req  *http.Request
		cr   *CachedResponse
		want Action
	}{
		{"nothing stored", request("GET", "https://h.test/"), nil, Fetch},
		{"nothing stored, only-if-cached", request("GET", "https://h.test/", "Cache-Control: only-if-cached"), nil, Unsatisfiable},
		{"fresh max-age", request("GET", "https://h.test/"), stored(resp(200, "Cache-Control: max-age=60"), 0), Use},
		{"fresh Expires", request("GET", "https://h.test/"), stored(resp(200, "Expires: "+date(time.Hour)), 0), Use},
		{"stale, Last-Modified", request("GET", "https://h.test/"), stored(resp(200, lm, "Expires: "+date(-time.Hour)), 0), Validate},
		{"stale, no validator", request("GET", "https://h.test/"), stored(resp(200, "Expires: "+date(-time.Hour)), 0), Fetch},
		{"stale, ETag", request("GET", "https://h.test/"), stored(resp(200, "ETag: v1", "Cache-Control: max-age=0"), 0), Validate},
		{"max-age in the past via Date", request("GET", "https://h.test/"), stored(resp(200, "Date: "+date(-120*time.Second), "Cache-Control: max-age=60"), 0), Fetch},
		{"max-age expired while stored", request("GET", "https://h.test/"), stored(resp(200, "ETag: x", "Cache-Control: max-age=60"), 61*time.Second), Validate},
		{"heuristic fresh", request("GET", "https://h.test/"), stored(resp(200, "Last-Modified: "+date(-105*time.Second), "Date: "+date(-5*time.Second)), 0), Use},
		{"heuristic stale", request("GET", "https://h.test/"), stored(resp(200, "Last-Modified: "+date(-115*time.Second), "Date: "+date(-15*time.Second)), 0), Validate},
		{"response no-cache", request("GET", "https://h.test/"), stored(resp(200, lm, "Cache-Control: no-cache", "Expires: "+date(time.Hour)), 0), Validate},
		{"response Pragma no-cache", request("GET", "https://h.test/"), stored(resp(200, lm, "Pragma: no-cache", "Expires: "+date(time.Hour)), 0), Validate},
		{"response no-cache, no validator", request("GET", "https://h.test/"), stored(resp(200, "Cache-Control: no-cache"), 0), Fetch},
		{"request no-cache", request("GET", "https://h.test/", "Cache-Control: no-cache"), stored(resp(200, lm, "Cache-Control: max-age=60"), 0), Validate},
		{"request Pragma no-cache", request("GET", "https://h.test/", "Pragma: no-cache"), stored(resp(200, lm, "Cache-Control: max-age=60"), 0), Validate},
		{"request no-store", request("GET", "https://h.test/", "Cache-Control: no-store"), stored(resp(200, "Cache-Control: max-age=60"), 0), Fetch},
		{"request max-age lower than age", request("GET", "https://h.test/", "Cache-Control: max-age=30"), stored(resp(200, lm, "Expires: "+date(time.Hour)), time.Minute), Validate},
		{"request max-age higher than age", request("GET", "https://h.test/", "Cache-Control: max-age=90"), stored(resp(200, lm, "Expires: "+date(time.Hour)), time.Minute), Use},
		{"request max-age=0", request("GET", "https://h.test/", "Cache-Control: max-age=0"), stored(resp(200, lm, "Cache-Control: max-age=60"), 0), Validate},
		{"immutable https ignores request max-age=0", request("GET", "https://h.test/", "Cache-Control: max-age=0"), stored(resp(200, lm, "Cache-Control: max-age=60, immutable"), 0), Use},
		{"immutable http does not", request("GET", "http://h.test/", "Cache-Control: max-age=0"), stored(resp(200, lm, "Cache-Control: max-age=60, immutable"), 0), Validate},
		{"immutable not beyond lifetime", request("GET", "https://h.test/"), stored(resp(200, lm, "Cache-Control: max-age=60, immutable"), 2*time.Minute), Validate},
		{"immutable, request no-cache", request("GET", "https://h.test/", "Cache-Control: no-cache"), stored(resp(200, lm, "Cache-Control: max-age=60, immutable"), 0), Validate},
		{"min-fresh unmet", request("GET", "https://h.test/", "Cache-Control: min-fresh=120"), stored(resp(200, lm, "Cache-Control: max-age=60"), 0), Validate},
		{"min-fresh met", request("GET", "https://h.test/", "Cache-Control: min-fresh=30"), stored(resp(200, lm, "Cache-Control: max-age=60"), 0), Use},
		{"max-stale covers", request("GET", "https://h.test/", "Cache-Control: max-stale=180"), stored(resp(200, "Cache-Control: max-age=120", "Date: "+date(-4*time.Minute)), 0), Use},
		{"max-stale short", request("GET", "https://h.test/", "Cache-Control: max-stale=60"), stored(resp(200, "Cache-Control: max-age=120", "Date: "+date(-4*time.Minute)), 0), Fetch},
		{"max-stale without value", request("GET", "https://h.test/", "Cache-Control: max-stale"), stored(resp(200, "Cache-Control: max-age=120", "Date: "+date(-400*24*time.Hour)), 0), Use},
		{"max-stale and must-revalidate", request("GET", "https://h.test/", "Cache-Control: max-stale=180"), stored(resp(200, "Cache-Control: max-age=120, must-revalidate", "Date: "+date(-4*time.Minute)), 0), Fetch},
		{"only-if-cached fresh", request("GET", "https://h.test/", "Cache-Control: only-if-cached"), stored(resp(200, "Cache-Control: max-age=30"), 0), Use},
		{"only-if-cached stale", request("GET", "https://h.test/", "Cache-Control: only-if-cached"), stored(resp(200, lm, "Cache-Control: max-age=30"), time.Minute), Unsatisfiable},
		{"only-if-cached unhelpful", request("GET", "https://h.test/", "Cache-Control: only-if-cached"), stored(resp(200), 0), Unsatisfiable},
		{"client If-None-Match", request("GET", "https://h.test/", "If-None-Match: v1"), stored(resp(200, "Cache-Control: max-age=60"), 0), Fetch},
		{"client If-Modified-Since", request("GET", "https://h.test/", "If-Modified-Since: "+date(-time.Hour)), stored(resp(200, "Cache-Control: max-age=60"), 0), Fetch},
		{"client Range", request("GET", "https://h.test/", "Range: bytes=0-1"), stored(resp(200, "Cache-Control: max-age=60"), 0), Fetch},
	} {
		if got := Decide(tc.req, tc.cr, now); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	swr := "Cache-Control: max-age=60, stale-while-revalidate=30"
	for _, tc := range []struct {
		name string
		req  *http.Request
		cr   *CachedResponse
		want bool
	}{
		{"nothing stored", request("GET", "https://h.test/"), nil, false},
		{"fresh", request("GET", "https://h.test/"), stored(resp(200, swr), 30*time.Second), true},
		{"stale within the window", request("GET", "https://h.test/"), stored(resp(200, swr), 89*time.Second), true},
		{"at the window's end", request("GET", "https://h.test/"), stored(resp(200, swr), 90*time.Second), true},
		{"beyond the window", request("GET", "https://h.test/"), stored(resp(200, swr), 91*time.Second), false},
		{"no window", request("GET", "https://h.test/"), stored(resp(200, "Cache-Control: max-age=60"), 70*time.Second), false},
		{"must-revalidate", request("GET", "https://h.test/"), stored(resp(200, swr+", must-revalidate"), 70*time.Second), false},
		{"response no-cache", request("GET", "https://h.test/"), stored(resp(200, swr+", no-cache"), 70*time.Second), false},
		{"request no-cache", request("GET", "https://h.test/", "Cache-Control: no-cache"), stored(resp(200, swr), 70*time.Second), false},
		{"request max-age=0", request("GET", "https://h.test/", "Cache-Control: max-age=0"), stored(resp(200, swr), 70*time.Second), false},
		{"request min-fresh", request("GET", "https://h.test/", "Cache-Control: min-fresh=1"), stored(resp(200, swr), 70*time.Second), false},
		{"request only-if-cached", request("GET", "https://h.test/", "Cache-Control: only-if-cached"), stored(resp(200, swr), 70*time.Second), false},
		{"request If-None-Match", request("GET", "https://h.test/", "If-None-Match: x"), stored(resp(200, swr), 70*time.Second), false},
		{"invalid directive", request("GET", "https://h.test/"), stored(resp(200, "Cache-Control: max-age=60, stale-while-revalidate =30"), 70*time.Second), false},
	} {
		if got := StaleWhileRevalidate(tc.req, tc.cr, now); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStaleIfError(t *testing.T) {
	sie := "Cache-Control: max-age=60, stale-if-error=300"
	for _, tc := range []struct {
		name string
		req  *http.Request
		cr   *CachedResponse
		want bool
	}{
		{"nothing stored", request("GET", "https://h.test/"), nil, false},
		{"within the window", request("GET", "https://h.test/"), stored(resp(200, sie), 300*time.Second), true},
		{"beyond the window", request("GET", "https://h.test/"), stored(resp(200, sie), 361*time.Second), false},
		{"no window", request("GET", "https://h.test/"), stored(resp(200, "Cache-Control: max-age=60"), 61*time.Second), false},
		{"request's window", request("GET", "https://h.test/", "Cache-Control: stale-if-error=600"), stored(resp(200, "Cache-Control: max-age=60"), 600*time.Second), true},
		{"the larger window", request("GET", "https://h.test/", "Cache-Control: stale-if-error=10"), stored(resp(200, sie), 300*time.Second), true},
		{"must-revalidate", request("GET", "https://h.test/"), stored(resp(200, sie+", must-revalidate"), 70*time.Second), false},
		{"response no-cache", request("GET", "https://h.test/"), stored(resp(200, sie+", no-cache"), 70*time.Second), false},
		{"request no-store", request("GET", "https://h.test/", "Cache-Control: no-store"), stored(resp(200, sie), 70*time.Second), false},
		{"request no-cache", request("GET", "https://h.test/", "Cache-Control: no-cache"), stored(resp(200, sie), 70*time.Second), false},
		{"request no-cache and its own window", request("GET", "https://h.test/", "Cache-Control: no-cache, stale-if-error=100"), stored(resp(200, sie), 70*time.Second), true},
	} {
		if got := StaleIfError(tc.req, tc.cr, now); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	for code, want := range map[int]bool{500: true, 502: true, 503: true, 504: true, 501: false, 404: false, 200: false} {
		if got := ErrorStatus(code); got != want {
			t.Errorf("ErrorStatus(%d) = %v", code, got)
		}
	}
}

func TestStorable(t *testing.T) {
	explicit := "Expires: " + date(time.Hour)
	lm := "Last-Modified: " + date(-time.Hour)
	// Heuristic cacheability by status (OkHttp responseCachingByResponseCode,
	// with Last-Modified only).
	cacheable := map[int]bool{200: true, 203: true, 204: true, 300: true, 301: true, 308: true, 404: true, 405: true, 410: true, 414: true, 501: true}
	for _, code := range []int{101, 200, 201, 202, 203, 204, 205, 206, 207, 300, 301, 302, 303, 304, 305, 306, 307, 308,
		400, 401, 402, 403, 404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 500, 501, 502, 503, 504, 505, 506} {
		got := Storable(request("GET", "https://h.test/"), resp(code, lm))
		if got != cacheable[code] {
			t.Errorf("status %d with Last-Modified only: got %v, want %v", code, got, cacheable[code])
		}
		// With explicit freshness every final status but 206 and 304 may be stored.
		want := code >= 200 && code != 206 && code != 304
		if got := Storable(request("GET", "https://h.test/"), resp(code, explicit)); got != want {
			t.Errorf("status %d with Expires: got %v, want %v", code, got, want)
		}
	}
	for _, tc := range []struct {
		name string
		req  *http.Request
		resp *http.Response
		want bool
	}{
		{"302 max-age", request("GET", "https://h.test/"), resp(302, "Cache-Control: max-age=60"), true},
		{"307 private", request("GET", "https://h.test/"), resp(307, "Cache-Control: private"), true},
		{"307 public", request("GET", "https://h.test/"), resp(307, "Cache-Control: public"), true},
		{"302 s-maxage only", request("GET", "https://h.test/"), resp(302, "Cache-Control: s-maxage=60"), false},
		{"POST", request("POST", "https://h.test/"), resp(200, explicit), false},
		{"HEAD", request("HEAD", "https://h.test/"), resp(200, explicit), false},
		{"response no-store", request("GET", "https://h.test/"), resp(200, explicit, "Cache-Control: no-store"), false},
		{"request no-store", request("GET", "https://h.test/", "Cache-Control: no-store"), resp(200, explicit), false},
		{"no-store, must-understand, known status", request("GET", "https://h.test/"), resp(200, "Cache-Control: no-store, must-understand, max-age=60"), true},
		{"no-store, must-understand, unknown status", request("GET", "https://h.test/"), resp(299, "Cache-Control: no-store, must-understand, max-age=60"), false},
		{"no-cache is stored", request("GET", "https://h.test/"), resp(200, "Cache-Control: no-cache"), true},
		{"private is stored", request("GET", "https://h.test/"), resp(200, "Cache-Control: private, max-age=60"), true},
		{"Vary: *", request("GET", "https://h.test/"), resp(200, explicit, "Vary: *"), false},
		{"Vary: a, *", request("GET", "https://h.test/"), resp(200, explicit, "Vary: Accept, *"), false},
		{"Authorization without public, must-revalidate or s-maxage", request("GET", "https://h.test/", "Authorization: Basic eA=="), resp(200, "Cache-Control: max-age=60"), false},
		{"Authorization, heuristic", request("GET", "https://h.test/", "Authorization: Basic eA=="), resp(200, "Last-Modified: "+date(-time.Hour)), false},
		{"Authorization, private", request("GET", "https://h.test/", "Authorization: Basic eA=="), resp(200, "Cache-Control: private, max-age=60"), false},
		{"user info in the URL", request("GET", "https://u:p@h.test/"), resp(200, "Cache-Control: max-age=60"), false},
		{"user info in the URL, public", request("GET", "https://u:p@h.test/"), resp(200, "Cache-Control: public, max-age=60"), true},
		{"Proxy-Authorization alone", request("GET", "https://h.test/", "Proxy-Authorization: Basic eA=="), resp(200, "Cache-Control: max-age=60"), true},
		{"Authorization, public", request("GET", "https://h.test/", "Authorization: Basic eA=="), resp(200, "Cache-Control: public, max-age=60"), true},
		{"Authorization, must-revalidate", request("GET", "https://h.test/", "Authorization: Basic eA=="), resp(200, "Cache-Control: must-revalidate, max-age=60"), true},
		{"Authorization, s-maxage", request("GET", "https://h.test/", "Authorization: Basic eA=="), resp(200, "Cache-Control: s-maxage=60"), true},
	} {
		if got := Storable(tc.req, tc.resp); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestConditionalRequest(t *testing.T) {
	lm := "Tue, 01 Jan 2030 00:00:00 EST" // echoed as served, whatever its format
	for _, tc := range []struct {
		name      string
		cr        *CachedResponse
		inm, ims  string
		wantNil   bool
		keepOther bool
	}{
		{"ETag", stored(resp(200, "ETag: \"v1\""), 0), "\"v1\"", "", false, true},
		{"Last-Modified", stored(resp(200, "Last-Modified: "+lm), 0), "", lm, false, true},
		{"both", stored(resp(200, "ETag: W/\"v1\"", "Last-Modified: "+lm), 0), "W/\"v1\"", lm, false, true},
		{"neither (Date is no validator)", stored(resp(200, "Date: "+date(0)), 0), "", "", true, false},
	} {
		req := request("GET", "https://h.test/", "Accept: text/plain")
		got := ConditionalRequest(req, tc.cr)
		if (got == nil) != tc.wantNil {
			t.Errorf("%s: got %v, want nil=%v", tc.name, got, tc.wantNil)
			continue
		}
		if got == nil {
			continue
		}
		if g := got.Header.Get("If-None-Match"); g != tc.inm {
			t.Errorf("%s: If-None-Match = %q, want %q", tc.name, g, tc.inm)
		}
		if g := got.Header.Get("If-Modified-Since"); g != tc.ims {
			t.Errorf("%s: If-Modified-Since = %q, want %q", tc.name, g, tc.ims)
		}
		if got.Header.Get("Accept") != "text/plain" || req.Header.Get("If-None-Match") != "" || req.Header.Get("If-Modified-Since") != "" {
			t.Errorf("%s: the original request was changed or its headers lost", tc.name)
		}
	}
}

func TestMergeNotModified(t *testing.T) {
	cr := stored(resp(200,
		"ETag: a", "Cache-Control: max-age=0", "A: a1", "B: b2", "B: b3", "Content-Length: 4",
		"Content-Encoding: gzip", "Content-Type: text/plain", "Warning: 199 x danger", "Warning: 299 x kept",
		"Allow: GET, HEAD", "Transfer-Encoding: identity"), 0)
	cr.UserInfo = map[string]string{"u": "1"}
	r304 := resp(304, "B: b4", "B: b5", "C: c6", "Content-Length: 0", "Content-Encoding: identity", "Content-Type: text/html",
		"Allow: GET, HEAD, PUT", "Connection: close, X-Hop", "X-Hop: 1", "Keep-Alive: timeout=5", "Transfer-Encoding: chunked",
		"Cache-Control: max-age=30")
	got := MergeNotModified(cr, r304)
	want := hdr("ETag: a", "Cache-Control: max-age=30", "A: a1", "B: b4", "B: b5", "C: c6", "Content-Length: 4",
		"Content-Encoding: gzip", "Content-Type: text/html", "Warning: 299 x kept", "Allow: GET, HEAD, PUT")
	if !reflect.DeepEqual(got.Response.Header, want) {
		t.Errorf("merged headers:\n got %v\nwant %v", got.Response.Header, want)
	}
	if got.Response.StatusCode != 200 || string(got.Body) != "A" || got.UserInfo["u"] != "1" {
		t.Errorf("merged response lost its status, body or user info: %+v", got)
	}
	if cr.Response.Header.Get("C") != "" || len(cr.Response.Header["B"]) != 2 {
		t.Error("the stored response was changed")
	}
}

func TestMergeNotModifiedDropsStoredHopByHopFields(t *testing.T) {
	cr := stored(resp(200, "ETag: a", "Connection: X-Conn", "X-Conn: 1", "Keep-Alive: timeout=5", "Proxy-Connection: keep-alive",
		"Te: trailers", "Upgrade: h2c", "X-Kept: 2"), 0)
	got := MergeNotModified(cr, resp(304, "Connection: X-Other", "X-Other: 3", "Upgrade: websocket", "X-New: 4"))
	want := hdr("ETag: a", "X-Kept: 2", "X-New: 4")
	if !reflect.DeepEqual(got.Response.Header, want) {
		t.Errorf("merged headers:\n got %v\nwant %v", got.Response.Header, want)
	}
}

func TestMergeNotModifiedDropsProxyFields(t *testing.T) {
	// RFC 9111 section 3.1: the fields of the proxy a response came
	// through are not stored, from a 304 or from an older entry.
	cr := stored(resp(200, "ETag: a", "Proxy-Authenticate: Basic realm=old", "X-Kept: 2"), 0)
	got := MergeNotModified(cr, resp(304, "Proxy-Authenticate: Basic realm=p", "Proxy-Authentication-Info: nextnonce=n",
		"Proxy-Authorization: Basic eDp5", "X-New: 4"))
	want := hdr("ETag: a", "X-Kept: 2", "X-New: 4")
	if !reflect.DeepEqual(got.Response.Header, want) {
		t.Errorf("merged headers:\n got %v\nwant %v", got.Response.Header, want)
	}
}

func TestRemoveHopByHopFields(t *testing.T) {
	h := hdr("Connection: close, X-A", "Connection: x-b", "X-A: 1", "X-B: 2", "X-C: 3", "Keep-Alive: timeout=5",
		"Proxy-Connection: keep-alive", "TE: trailers", "Transfer-Encoding: chunked", "Upgrade: h2c")
	RemoveHopByHopFields(h)
	if want := hdr("X-C: 3"); !reflect.DeepEqual(h, want) {
		t.Errorf("got %v, want %v", h, want)
	}
}

func TestHeadMatches(t *testing.T) {
	lm := "Last-Modified: " + date(-time.Hour)
	cr := stored(resp(200, "ETag: \"v1\"", lm, "Content-Length: 1"), 0) // Body "A"
	bare := stored(resp(200), 0)
	for _, tc := range []struct {
		name string
		cr   *CachedResponse
		head *http.Response
		want bool
	}{
		{"same validators", cr, resp(200, "ETag: \"v1\"", lm), true},
		{"same ETag only", cr, resp(200, "ETag: \"v1\""), true},
		{"same Content-Length", cr, resp(200, "ETag: \"v1\"", "Content-Length: 1"), true},
		{"other ETag", cr, resp(200, "ETag: \"v2\"", lm), false},
		{"weak ETag", cr, resp(200, "ETag: W/\"v1\""), false},
		{"other Last-Modified", cr, resp(200, "ETag: \"v1\"", "Last-Modified: "+date(0)), false},
		{"other Content-Length", cr, resp(200, "ETag: \"v1\"", "Content-Length: 2"), false},
		{"no validators", cr, resp(200, "X: y"), true},
		{"a validator the stored one lacks", bare, resp(200, "ETag: \"v1\""), false},
		{"Content-Length against the body", bare, resp(200, "Content-Length: 1"), true},
		{"Content-Length against the body, other", bare, resp(200, "Content-Length: 3"), false},
		{"not a 200", cr, resp(404, "ETag: \"v1\""), false},
	} {
		if got := HeadMatches(tc.cr, tc.head); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNotModifiedMatches(t *testing.T) {
	for _, tc := range []struct {
		stored, got string
		want        bool
	}{
		{`"v1"`, `"v1"`, true},
		{`"v1"`, `W/"v1"`, true},
		{`"v1"`, `"v2"`, false},
		{`"v1"`, "", true},
		{"", `"v2"`, true},
	} {
		cr := stored(resp(200), 0)
		if tc.stored != "" {
			cr.Response.Header.Set("ETag", tc.stored)
		}
		r := resp(304)
		if tc.got != "" {
			r.Header.Set("ETag", tc.got)
		}
		if got := NotModifiedMatches(cr, r); got != tc.want {
			t.Errorf("stored %q, 304 %q: got %v, want %v", tc.stored, tc.got, got, tc.want)
		}
	}
}

func TestShouldInvalidate(t *testing.T) {
	for _, tc := range []struct {
		method string
		resp   *http.Response
		want   []string
	}{
		{"GET", resp(200), nil},
		{"HEAD", resp(200), nil},
		{"OPTIONS", resp(200), nil},
		{"POST", resp(200), []string{"https://h.test/a/b"}},
		{"PUT", resp(204), []string{"https://h.test/a/b"}},
		{"DELETE", resp(200), []string{"https://h.test/a/b"}},
		{"PATCH", resp(302, "Location: /x"), []string{"https://h.test/a/b", "https://h.test/x"}},
		{"POST", resp(201, "Location: c", "Content-Location: https://H.TEST:443/d#f"), []string{"https://h.test/a/b", "https://h.test/a/c", "https://h.test/d"}},
		{"POST", resp(201, "Location: https://other.test/c", "Content-Location: http://h.test/d"), []string{"https://h.test/a/b"}},
		{"POST", resp(404), nil},
		{"POST", resp(500), nil},
		{"POST", resp(100), nil},
	} {
		got := ShouldInvalidate(request(tc.method, "https://h.test/a/b?#frag"), tc.resp)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %d: got %q, want %q", tc.method, tc.resp.StatusCode, got, tc.want)
		}
	}
}

func TestKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"HTTP://Example.COM", "http://example.com/"},
		{"http://example.com:80/a", "http://example.com/a"},
		{"https://example.com:443/a?b#c", "https://example.com/a?b"},
		{"https://example.com:8443/a?", "https://example.com:8443/a"},
		{"http://example.com:/a", "http://example.com/a"},
		{"http://[::1]:80/", "http://[::1]/"},
		{"data:text/plain,hi", "data:text/plain,hi"},
		{"https://user:password@example.com/a#frag", "https://example.com/a"},
		{"https://user@Example.com:443/a?b", "https://example.com/a?b"},
		{"ftp://user:pw@example.com/f", "ftp://example.com/f"},
	} {
		u, _ := url.Parse(tc.in)
		if got, ok := Key(u); !ok || got != tc.want {
			t.Errorf("Key(%s) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	if _, ok := Key(&url.URL{Path: "/relative"}); ok {
		t.Error("a relative URL has a key")
	}
}

// keyURLs are URLs Key's two ways of building a key must agree on.
var keyURLs = []string{
	"http://127.0.0.1:8080/1k", "https://example.com/a/b?c=d&e", "https://example.com/a?", "http://example.com",
	"http://example.com:80/", "https://example.com:443/x", "https://example.com:80/x", "http://example.com:/x",
	"https://Example.com/a", "HTTPS://example.com/a", "https://example.com/a%20b", "https://example.com/a%2Fb",
	"https://example.com/caf%C3%A9", "https://example.com/a;b=c,d", "https://example.com/a:b@c", "https://example.com/a!b*(c)",
	"https://example.com/a/./b/../c", "https://example.com//a", "https://u@example.com/a", "https://example.com/a#f",
	"https://example.com/a?b#c", "https://example.com/a?b%20c", "http://[::1]:8080/a", "http://[fe80::1%25en0]/a",
	"https://xn--caf-dma.example/a", "https://ex_ample.com/a", "https://example.com./a", "https://a.b-c.d:65535/~x_y.z",
	"http://example.com?x", "https://example.com/*", "ws://example.com/a", "https://example.com:8443/%7Ex",
}

func TestPlainKeyIsCopyKey(t *testing.T) {
	plain := 0
	for _, s := range keyURLs {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := plainKey(u); ok {
			plain++
			if want := copyKey(u); k != want {
				t.Errorf("%s: plainKey %q, copyKey %q", s, k, want)
			}
		}
	}
	if plain < 10 {
		t.Errorf("only %d of the URLs take the plain way", plain)
	}
}
