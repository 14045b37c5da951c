package main

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestProtoSet(t *testing.T) {
	for _, c := range []struct {
		start   []string
		spec    string
		want    []string
		unknown []string
	}{
		{knownProtocols, "=https", []string{"https"}, nil},
		{knownProtocols, "-all,+https,+http", []string{"http", "https"}, nil},
		{knownProtocols, "-file,-data", []string{"ftp", "ftpes", "ftps", "http", "https", "ws", "wss"}, nil},
		{defaultRedirProtocols, "+data", []string{"data", "ftp", "ftpes", "ftps", "http", "https"}, nil},
		{defaultRedirProtocols, "=HTTPS,gopher", []string{"https"}, []string{"gopher"}},
		{defaultRedirProtocols, "", []string{"ftp", "ftpes", "ftps", "http", "https"}, nil},
	} {
		s := setOf(c.start)
		unknown := s.apply(c.spec)
		var got []string
		for _, k := range slices.Sorted(maps.Keys(s)) {
			if s[k] {
				got = append(got, k)
			}
		}
		if !slices.Equal(got, c.want) || !slices.Equal(unknown, c.unknown) {
			t.Errorf("%q: got %v (unknown %v), want %v (unknown %v)", c.spec, got, unknown, c.want, c.unknown)
		}
	}
}

// TestProto: --proto limits the URL and its redirects, --proto-redir the
// redirects alone (by default to http, https and FTP, as curl: a redirect
// to data: is refused), exit status 1.
func TestProto(t *testing.T) {
	t.Parallel()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-data":
			http.Redirect(w, r, "data:,from-data", http.StatusFound)
		case "/to-https":
			http.Redirect(w, r, "https://127.0.0.1:1/", http.StatusFound)
		default:
			w.Write([]byte("plain"))
		}
	}))
	t.Cleanup(s.Close)

	r := cli(t, "", "-L", s.URL+"/to-data").want(t, 1)
	if r.stdout != "" || !strings.Contains(r.stderr, `protocol "data" is not allowed (--proto-redir)`) {
		t.Errorf("got %v", r)
	}
	if r = cli(t, "", "-L", "--proto-redir", "+data", s.URL+"/to-data").want(t, 0); r.stdout != "from-data" {
		t.Errorf("--proto-redir +data: %v", r)
	}
	// --proto applies to the redirect too.
	cli(t, "", "-L", "--proto-redir", "+data", "--proto", "-data", s.URL+"/to-data").want(t, 1)
	// And to the URL itself.
	r = cli(t, "", "--proto", "=https", s.URL+"/").want(t, 1)
	if !strings.Contains(r.stderr, `protocol "http" is not allowed (--proto)`) {
		t.Errorf("got %v", r)
	}
	cli(t, "", "--proto", "=https", "--proto", "+http", s.URL+"/").want(t, 0)
	cli(t, "", "--proto", "-all,+data", "data:,x").want(t, 0)
	// Without -L nothing is followed, so nothing is refused.
	cli(t, "", "--proto-redir", "=ftp", s.URL+"/to-https").want(t, 0)
	// An unknown protocol is warned about (not with -s).
	r = cli(t, "", "--proto", "+gopher", s.URL+"/").want(t, 0)
	if !strings.Contains(r.stderr, `unrecognized protocol "gopher"`) {
		t.Errorf("got %v", r)
	}
}
