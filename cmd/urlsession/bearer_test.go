package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestOAuth2Bearer: --oauth2-bearer sends the token to the URL's origin
// only (a redirect to another origin drops it, unless --location-trusted),
// -v does not print it, and a token that could break the header is
// refused.
func TestOAuth2Bearer(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	record := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, name+": "+r.Header.Get("Authorization"))
			mu.Unlock()
			w.Write([]byte("ok"))
		}
	}
	other := httptest.NewServer(record("other"))
	t.Cleanup(other.Close)
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record("first")(httptest.NewRecorder(), r)
		http.Redirect(w, r, other.URL+"/", http.StatusFound)
	}))
	t.Cleanup(first.Close)
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		s := seen
		seen = nil
		return s
	}

	r := cli(t, "", "-v", "-L", "--oauth2-bearer", "tok.EN-_~+/=", first.URL+"/").want(t, 0)
	if got := take(); len(got) != 2 || got[0] != "first: Bearer tok.EN-_~+/=" || got[1] != "other: " {
		t.Errorf("sent: %q", got)
	}
	if strings.Contains(r.stderr, "tok.EN") {
		t.Errorf("-v printed the token: %q", r.stderr)
	}
	cli(t, "", "-L", "--location-trusted", "--oauth2-bearer", "tok", first.URL+"/").want(t, 0)
	if got := take(); len(got) != 2 || got[1] != "other: Bearer tok" {
		t.Errorf("with --location-trusted: %q", got)
	}
	// -H Authorization wins.
	cli(t, "", "-H", "Authorization: Other x", "--oauth2-bearer", "tok", other.URL+"/").want(t, 0)
	if got := take(); len(got) != 1 || got[0] != "other: Other x" {
		t.Errorf("with -H: %q", got)
	}
	for _, bad := range []string{"a b", "a\r\nX-Injected: 1", "==", "tök"} {
		cli(t, "", "--oauth2-bearer", bad, other.URL+"/").want(t, 2)
	}
	if got := take(); len(got) != 0 {
		t.Errorf("a refused token was sent: %q", got)
	}
}

// TestNoProgressMeter: --no-progress-meter hides the bar that -# asks for
// but not the error message; -N is accepted and changes nothing.
func TestNoProgressMeter(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	r := cli(t, "", "-#", s.URL+"/Nepal").want(t, 0)
	if r.stderr == "" {
		t.Fatalf("-# drew no bar: %v", r)
	}
	r = cli(t, "", "-#", "--no-progress-meter", "-N", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" || r.stderr != "" {
		t.Errorf("got %v", r)
	}
	r = cli(t, "", "--no-progress-meter", closedPort(t)).want(t, 7)
	if !strings.HasPrefix(r.stderr, "urlsession: ") {
		t.Errorf("no error message: %v", r)
	}
}
