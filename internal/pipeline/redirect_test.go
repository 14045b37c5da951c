package pipeline

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/urlsession-go/urlsession/internal/fail"
)

func TestRedirectRequest(t *testing.T) {
	tests := []struct {
		method   string
		status   int
		location string
		// want
		follow     bool
		wantMethod string
		wantURL    string
		needBody   bool
	}{
		{"POST", 301, "/a", true, "GET", "http://h.test/a", false},
		{"POST", 302, "/a", true, "GET", "http://h.test/a", false},
		{"PUT", 301, "/a", true, "PUT", "http://h.test/a", true},
		{"DELETE", 302, "/a", true, "DELETE", "http://h.test/a", true},
		{"HEAD", 302, "/a", true, "HEAD", "http://h.test/a", false},
		{"GET", 302, "/a", true, "GET", "http://h.test/a", false},
		{"POST", 303, "/a", true, "GET", "http://h.test/a", false},
		{"PUT", 303, "/a", true, "GET", "http://h.test/a", false},
		{"HEAD", 303, "/a", true, "GET", "http://h.test/a", false},
		{"POST", 307, "/a", true, "POST", "http://h.test/a", true},
		{"PUT", 308, "/a", true, "PUT", "http://h.test/a", true},
		{"GET", 307, "/a", true, "GET", "http://h.test/a", false},
		{"GET", 300, "/a", false, "", "", false},
		{"GET", 304, "/a", false, "", "", false},
		{"GET", 305, "/a", false, "", "", false},
		{"GET", 306, "/a", false, "", "", false},
		{"GET", 200, "/a", false, "", "", false},
		{"GET", 302, "", false, "", "", false},
		{"GET", 302, "UK", true, "GET", "http://h.test/dir/UK", false},
		{"GET", 302, "../up", true, "GET", "http://h.test/up", false},
		{"GET", 302, "//other.test/x", true, "GET", "http://other.test/x", false},
		{"GET", 302, "https://other.test:8443/x?q=%3F", true, "GET", "https://other.test:8443/x?q=%3F", false},
		{"GET", 302, "/b#frag", true, "GET", "http://h.test/b#frag", false},
	}
	for _, tc := range tests {
		var body string
		if tc.method == "POST" || tc.method == "PUT" || tc.method == "DELETE" {
			body = "payload"
		}
		req, _ := http.NewRequest(tc.method, "http://h.test/dir/page", strings.NewReader(body))
		if body == "" {
			req.Body, req.GetBody, req.ContentLength = nil, nil, 0
		}
		req.Header.Set("Content-Type", "text/plain")
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
		if tc.location != "" {
			resp.Header.Set("Location", tc.location)
		}
		next, needBody, err := RedirectRequest(req, resp)
		name := tc.method + " " + http.StatusText(tc.status) + " " + tc.location
		if err != nil {
			t.Errorf("%s: error %v", name, err)
			continue
		}
		if (next != nil) != tc.follow {
			t.Errorf("%s: followed = %v, want %v", name, next != nil, tc.follow)
			continue
		}
		if next == nil {
			continue
		}
		if next.Method != tc.wantMethod || next.URL.String() != tc.wantURL || needBody != tc.needBody {
			t.Errorf("%s: got %s %s needBody=%v, want %s %s needBody=%v", name,
				next.Method, next.URL, needBody, tc.wantMethod, tc.wantURL, tc.needBody)
		}
		if next.Body != nil {
			t.Errorf("%s: next.Body is set; the caller supplies it", name)
		}
		if dropped := next.Method != tc.method && !needBody; dropped && next.Header.Get("Content-Type") != "" {
			t.Errorf("%s: Content-Type kept after the body was dropped", name)
		}
	}
}

func TestRedirectRequestFragmentInherited(t *testing.T) {
	req, _ := http.NewRequest("GET", "http://h.test/a#section", nil)
	resp := &http.Response{StatusCode: 301, Header: http.Header{"Location": {"/b"}}}
	next, _, _ := RedirectRequest(req, resp)
	if got := next.URL.String(); got != "http://h.test/b#section" {
		t.Errorf("got %s, want the fragment carried over", got)
	}
}

func TestRedirectRequestBadLocation(t *testing.T) {
	req, _ := http.NewRequest("GET", "http://h.test/", nil)
	resp := &http.Response{StatusCode: 302, Header: http.Header{"Location": {"http://[::1"}}}
	_, _, err := RedirectRequest(req, resp)
	var fe *fail.Error
	if !errors.As(err, &fe) || fe.Code != -1010 {
		t.Errorf("err = %v, want code -1010", err)
	}
}

func TestRedirectToFileRefused(t *testing.T) {
	for _, from := range []string{"http://h.test/", "https://h.test/", "ftp://h.test/x"} {
		for _, loc := range []string{"file:///etc/passwd", "FILE:///etc/passwd", "file://localhost/etc/passwd"} {
			req, _ := http.NewRequest("GET", from, nil)
			resp := &http.Response{StatusCode: 302, Header: http.Header{"Location": {loc}}}
			next, _, err := RedirectRequest(req, resp)
			var fe *fail.Error
			if next != nil || !errors.As(err, &fe) || fe.Code != -1002 {
				t.Errorf("%s to %s: %v, %v; want refused with -1002", from, loc, next, err)
			}
		}
	}
	// Other schemes are the session's to load or refuse.
	req, _ := http.NewRequest("GET", "http://h.test/", nil)
	resp := &http.Response{StatusCode: 302, Header: http.Header{"Location": {"https://h.test/filed"}}}
	if next, _, err := RedirectRequest(req, resp); err != nil || next == nil {
		t.Errorf("https: %v, %v", next, err)
	}
}

func TestRedirectDropsCredentialsAcrossOrigins(t *testing.T) {
	for _, tc := range []struct {
		location string
		keep     bool
	}{
		{"/same", true},
		{"http://h.test:80/same-default-port", true},
		{"http://H.TEST/case", true},
		{"https://h.test/scheme", false},
		{"http://h.test:8080/port", false},
		{"http://evil.test/host", false},
		{"http://sub.h.test/sub", false},
	} {
		req, _ := http.NewRequest("GET", "http://h.test/", nil)
		req.Header.Set("Authorization", "Basic eA==")
		req.Header.Set("Cookie", "a=b")
		req.Header.Set("X-Other", "kept")
		resp := &http.Response{StatusCode: 302, Header: http.Header{"Location": {tc.location}}}
		next, _, _ := RedirectRequest(req, resp)
		kept := next.Header.Get("Authorization") != "" && next.Header.Get("Cookie") != ""
		if kept != tc.keep || next.Header.Get("X-Other") != "kept" {
			t.Errorf("%s: credentials kept = %v, want %v", tc.location, kept, tc.keep)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	u := func(s string) *url.URL { v, _ := url.Parse(s); return v }
	if !SameOrigin(u("https://a.test/x"), u("https://a.test:443/y")) {
		t.Error("default port not made explicit")
	}
	if SameOrigin(u("http://a.test/"), u("https://a.test/")) {
		t.Error("schemes differ")
	}
}
