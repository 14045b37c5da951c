package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestATSDiagnostics: --ats-diagnostics reports that the default policy
// refuses cleartext HTTP to a public name, names the exception the host
// needs, and passes with it; a local address passes as it is.
func TestATSDiagnostics(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hi")) }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	public := "http://diag.example.org:" + u.Port() + "/"
	r := cli(t, "", "--ats-diagnostics", "--resolve", "diag.example.org:"+u.Port()+":127.0.0.1", public).want(t, 0)
	sections := strings.Split(r.stdout, "\n\n")
	want := []string{
		"Default App Transport Security policy:\n  Result: FAIL",
		`diag.example.org needs the exception domain "diag.example.org" with: NSExceptionAllowsInsecureHTTPLoads=YES`,
		"With that exception for diag.example.org:\n  Result: PASS (200 OK)",
		"Allowing arbitrary loads (App Transport Security off):\n  Result: PASS (200 OK)",
	}
	for i, w := range want {
		if i+1 >= len(sections) || !strings.HasPrefix(sections[i+1], w) {
			t.Fatalf("output:\n%s\nwant section %d to start with %q", r.stdout, i+1, w)
		}
	}
	r = cli(t, "", "--ats-diagnostics", srv.URL).want(t, 0)
	if !strings.Contains(r.stdout, "Default App Transport Security policy:\n  Result: PASS") || strings.Contains(r.stdout, "needs the exception") {
		t.Errorf("a loopback address:\n%s", r.stdout)
	}
}
