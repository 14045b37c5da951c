package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// rangeServer serves /file, 1000 bytes of PatternBytes, honouring Range
// as net/http does.
func rangeServer(t *testing.T) *httptest.Server {
	t.Helper()
	content := bytes.Repeat([]byte("0123456789"), 100)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "file", time.Unix(1e9, 0), bytes.NewReader(content))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestRange(t *testing.T) {
	t.Parallel()
	s := rangeServer(t)
	r := cli(t, "", "-r", "10-14", "-w", " %{http_code}", s.URL+"/file").want(t, 0)
	if r.stdout != "01234 206" {
		t.Errorf("-r 10-14: %q", r.stdout)
	}
	r = cli(t, "", "--range", "-3", s.URL+"/file").want(t, 0)
	if r.stdout != "789" {
		t.Errorf("--range -3: %q", r.stdout)
	}
	c := capitals(t)
	if h := requestHeaders(t, c, "-r", "0-1,5-"); h["Range"] != "bytes=0-1,5-" {
		t.Errorf("Range: %q", h["Range"])
	}
	cli(t, "", "-r", "1-2\r\nX: y", c.URL).want(t, 2)
}

func TestReferer(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	if h := requestHeaders(t, s, "-e", "http://from.test/page"); h["Referer"] != "http://from.test/page" {
		t.Errorf("-e: %q", h["Referer"])
	}
	// ";auto" sets the Referer of each redirect to the URL it came from.
	r := cli(t, "", "-L", "--referer", "http://from.test/;auto", s.URL+"/302?location=/requestHeaders").want(t, 0)
	if !strings.Contains(r.stdout, `"Referer":"`+s.URL+`/302?location=/requestHeaders"`) {
		t.Errorf(";auto: %s", r.stdout)
	}
	r = cli(t, "", "-e", ";auto", s.URL+"/requestHeaders").want(t, 0)
	if strings.Contains(r.stdout, "Referer") {
		t.Errorf(";auto alone: %s", r.stdout)
	}
}

func TestURLFlag(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	r := cli(t, "", "--url", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" {
		t.Errorf("got %v", r)
	}
	cli(t, "", "--url", s.URL+"/Nepal", s.URL+"/Peru").want(t, 2)
}

func TestFailWithBody(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	r := cli(t, "", "--fail-with-body", s.URL+"/nowhere").want(t, 22)
	if r.stdout != "404 page not found\n" || r.stderr != "urlsession: (22) the requested URL returned error: 404 Not Found\n" {
		t.Errorf("got %v", r)
	}
	r = cli(t, "", "--fail-with-body", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" {
		t.Errorf("got %v", r)
	}
	// As with curl, it cannot be combined with -f.
	cli(t, "", "-f", "--fail-with-body", s.URL+"/Nepal").want(t, 2)
}
