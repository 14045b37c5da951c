package urlcache

import (
	"net/http"
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
		"sun, 06 nov 1994 08:49:37 gmt", // as browsers accept
		"SUNDAY, 06-NOV-94 08:49:37 Gmt",
		"Mon, 06 Nov 1994 08:49:37 GMT", // the day name is not checked
	} {
		got, ok := ParseHTTPDate(s)
		if !ok || !got.Equal(want) {
			t.Errorf("ParseHTTPDate(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, tc := range []struct {
		s    string
		want time.Time
	}{
		{"Thu, 29 Feb 2024 23:59:59 GMT", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)},
		{"Sat, 31 Dec 2016 23:59:60 GMT", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Thu Jan 15 00:00:00 2026", time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)},
	} {
		if got, ok := ParseHTTPDate(tc.s); !ok || !got.Equal(tc.want) {
			t.Errorf("ParseHTTPDate(%q) = %v, %v; want %v", tc.s, got, ok, tc.want)
		}
	}
	for _, s := range []string{
		"",
		"0",
		"-1",
		"Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 06 Nov 1994 08:49:37 +0000",
		"Sun, 06 Nov 1994 08:49:37",
		"Sun,  06 Nov 1994 08:49:37 GMT", // extra space
		"Sun, 06 Nov 1994  08:49:37 GMT",
		"Sun, 06  Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08:49:37  GMT",
		"Sun, 06 Nov 1994 8:49:37 GMT", // one-digit hour
		"Sun, 6 Nov 1994 08:49:37 GMT", // one-digit day
		"Sun, 06 Nov 94 08:49:37 GMT",
		"Sun, 06 Nov 1994 08:49 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT",
		"Sun, 06 Nov 1994 08:60:00 GMT",
		"Sun, 06 Nov 1994 08:49:61 GMT",
		"Sun, 31 Nov 1994 08:49:37 GMT",
		"Thu, 29 Feb 2023 08:49:37 GMT",
		"Sun, 00 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov +994 08:49:37 GMT",
		"Sun, 06 Nox 1994 08:49:37 GMT",
		"Xyz, 06 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT", // a list
		"Sun, 06 Nov 1994 08:49:37 GMTX",
		"Sunday, 06-Nov-1994 08:49:37 GMT",
		"Sunday, 6-Nov-94 08:49:37 GMT",
		"Sunday,  06-Nov-94 08:49:37 GMT",
		"Sun, 06-Nov-94 08:49:37 GMT", // short day name in rfc850
		"Sundae, 06-Nov-94 08:49:37 GMT",
		"Sunday, 06 Nov 94 08:49:37 GMT",
		"Sun Nov 6 08:49:37 1994",   // asctime needs the padding space
		"Sun Nov 06 08:49:37 1994 ", // trailing space inside the value
		"Sun Nov  6 08:49:37 1994 GMT",
		"Sun Nov  6 8:49:37  1994",
		"Sun  Nov 6 08:49:37 1994",
		"Sun Nov  6 08:49:37 94",
		"Sun Nov x6 08:49:37 1994",
	} {
		if got, ok := ParseHTTPDate(s); ok {
			t.Errorf("ParseHTTPDate(%q) = %v, want no date", s, got)
		}
	}
}

func TestParseHTTPDateRFC850Century(t *testing.T) {
	cur := time.Now().Year()
	// A year 49 years ahead stays in this century's reading; one more than
	// 50 years ahead is taken from the past.
	ahead := (cur + 49) % 100
	behind := (cur + 51) % 100
	mk := func(yy int) string {
		return "Monday, 01-Jan-" + string(rune('0'+yy/10)) + string(rune('0'+yy%10)) + " 00:00:00 GMT"
	}
	if got, ok := ParseHTTPDate(mk(ahead)); !ok || got.Year() != cur+49 {
		t.Errorf("%s: %v %v, want year %d", mk(ahead), got, ok, cur+49)
	}
	if got, ok := ParseHTTPDate(mk(behind)); !ok || got.Year() != cur+51-100 {
		t.Errorf("%s: %v %v, want year %d", mk(behind), got, ok, cur+51-100)
	}
}

func TestParseDateField(t *testing.T) {
	ok := "Sun, 06 Nov 1994 08:49:37 GMT"
	for _, tc := range []struct {
		h    http.Header
		want bool
	}{
		{http.Header{"Date": {ok}}, true},
		{http.Header{"Date": {" " + ok + "\t"}}, true}, // OWS around the value
		{http.Header{}, false},
		{http.Header{"Date": {ok, ok}}, false}, // several lines
		{http.Header{"Date": {ok + ", " + ok}}, false},
	} {
		if _, got := parseDate(tc.h, "Date"); got != tc.want {
			t.Errorf("parseDate(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}
