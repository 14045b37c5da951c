package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestHSTS: --hsts keeps the hosts an https response names in
// Strict-Transport-Security, and a later run goes to them (and, with
// includeSubDomains, their subdomains) over https, redirects included;
// max-age=0 forgets a host.
func TestHSTS(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	sts := "max-age=3600; includeSubDomains"
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		w.Header().Set("Strict-Transport-Security", sts)
		mu.Unlock()
		fmt.Fprintf(w, "https %s%s", r.Host, r.URL.Path)
	}))
	t.Cleanup(secure.Close)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Over plain http the field means nothing.
		w.Header().Set("Strict-Transport-Security", "max-age=3600")
		if r.URL.Path == "/to-hsts" {
			http.Redirect(w, r, "http://app.hsts.test/landed", http.StatusFound)
			return
		}
		fmt.Fprintf(w, "http %s%s", r.Host, r.URL.Path)
	}))
	t.Cleanup(plain.Close)
	su, _ := url.Parse(secure.URL)
	pu, _ := url.Parse(plain.URL)
	file := filepath.Join(t.TempDir(), "hsts.txt")
	run := func(args ...string) result {
		base := []string{"-k", "--hsts", file,
			"--connect-to", ":443:127.0.0.1:" + su.Port(), "--connect-to", ":80:127.0.0.1:" + pu.Port()}
		return cli(t, "", append(base, args...)...).want(t, 0)
	}

	// Before: plain http stays plain; nothing is learnt over http.
	if r := run("http://hsts.test/"); r.stdout != "http hsts.test/" {
		t.Fatalf("got %v", r)
	}
	if r := run("https://hsts.test/first"); r.stdout != "https hsts.test/first" {
		t.Fatalf("got %v", r)
	}
	if got := readFile(t, file); !strings.Contains(got, "\n.hsts.test \"") {
		t.Fatalf("cache: %q", got)
	}
	// After: the host and its subdomains over https, a redirect too.
	for _, c := range []struct{ url, want string }{
		{"http://hsts.test/", "https hsts.test/"},
		{"http://hsts.test:80/x", "https hsts.test/x"},
		{"http://deep.sub.hsts.test/", "https deep.sub.hsts.test/"},
		{"http://other.test/", "http other.test/"},
	} {
		if r := run(c.url); r.stdout != c.want {
			t.Errorf("%s: got %v", c.url, r)
		}
	}
	if r := run("-L", "http://plain.test/to-hsts"); r.stdout != "https app.hsts.test/landed" {
		t.Errorf("redirect: %v", r)
	}
	// Without --hsts nothing changes.
	r := cli(t, "", "--connect-to", ":80:127.0.0.1:"+pu.Port(), "http://hsts.test/")
	if r.code != 0 || r.stdout != "http hsts.test/" {
		t.Errorf("without --hsts: %v", r)
	}
	// max-age=0 forgets the host.
	mu.Lock()
	sts = "max-age=0"
	mu.Unlock()
	run("https://hsts.test/")
	// (The subdomains visited have entries of their own, which stay.)
	if got := readFile(t, file); strings.Contains(got, "\n.hsts.test ") || !strings.Contains(got, "\n.deep.sub.hsts.test ") {
		t.Errorf("cache after max-age=0: %q", got)
	}
	if r := run("http://hsts.test/"); r.stdout != "http hsts.test/" {
		t.Errorf("after max-age=0: %v", r)
	}
}
