package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestParseConnectTo(t *testing.T) {
	for _, c := range []struct {
		in   string
		want connectToEntry
	}{
		{"example.com:443:127.0.0.1:8443", connectToEntry{"example.com", "443", "127.0.0.1", "8443"}},
		{"Example.COM::backend:", connectToEntry{"example.com", "", "backend", ""}},
		{"::[::1]:8080", connectToEntry{"", "", "::1", "8080"}},
		{"[2001:db8::1]:80:[::1]:81", connectToEntry{"2001:db8::1", "80", "::1", "81"}},
		{":::", connectToEntry{}},
	} {
		got, err := parseConnectTo(c.in)
		if err != nil || got != c.want {
			t.Errorf("%q: got %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"a:1:b", "a:1:b:2:c", "a:x:b:2", "a:1:b:0", "[::1:1:b:2", "a:1:b:70000"} {
		if got, err := parseConnectTo(bad); err == nil {
			t.Errorf("%q: got %+v, want an error", bad, got)
		}
	}
}

// TestConnectTo: --connect-to sends the connection elsewhere while the
// request keeps its host: the first matching entry wins.
func TestConnectTo(t *testing.T) {
	t.Parallel()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Host))
	}))
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	r := cli(t, "", "--connect-to", "app.test:80:"+u.Hostname()+":"+u.Port(), "http://app.test/").want(t, 0)
	if r.stdout != "app.test" {
		t.Errorf("got %v", r)
	}
	// Any host, the port kept from the entry; an entry for another
	// host before it does not match.
	r = cli(t, "", "--connect-to", "other.test::127.0.0.1:1", "--connect-to", ":81:127.0.0.1:"+u.Port(),
		"http://app.test:81/").want(t, 0)
	if r.stdout != "app.test:81" {
		t.Errorf("got %v", r)
	}
	cli(t, "", "--connect-to", "app.test:80:127.0.0.1:1", "http://app.test/").want(t, 7)
	cli(t, "", "--connect-to", "nonsense", "http://app.test/").want(t, 2)
}
