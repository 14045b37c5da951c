package cookiestore

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

func TestDomainMatch(t *testing.T) {
	tests := []struct {
		host, domain string
		want         bool
	}{
		{"example.com", "example.com", true},
		{"www.example.com", "example.com", true},
		{"a.b.example.com", "example.com", true},
		{"WWW.Example.COM", "example.com", true},
		{"www.example.com", "EXAMPLE.com", true},
		{"example.com", "www.example.com", false},
		{"badexample.com", "example.com", false},
		{"example.com.", "example.com", false},
		{"www.example.com", "", false},
		{"www.example.com", ".example.com", false}, // callers strip the dot
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "0.0.1", false}, // IP addresses match only exactly
		{"1.2.3.4", "3.4", false},
		{"::1", "::1", true},
		{"fe80::1", "1", false},
		{"foo.1", "1", true}, // a host name that ends in a digit is still a host name
	}
	for _, tt := range tests {
		if got := DomainMatch(tt.host, tt.domain); got != tt.want {
			t.Errorf("DomainMatch(%q, %q) = %v; want %v", tt.host, tt.domain, got, tt.want)
		}
	}
}

func TestPathMatch(t *testing.T) {
	tests := []struct {
		req, cookie string
		want        bool
	}{
		{"/", "/", true},
		{"", "/", true},
		{"/foo", "/", true},
		{"/foo", "/foo", true},
		{"/foo/", "/foo", true},
		{"/foo/bar", "/foo", true},
		{"/foo/bar", "/foo/", true},
		{"/foobar", "/foo", false},
		{"/foobar", "/foo/", false},
		{"/fo", "/foo", false},
		{"/foo", "/foo/", false},
		{"/Foo", "/foo", false},
		{"/foo//qux", "/foo/", true},
		{"/f%6Fo/bar", "/foo", false},
		{"/foo/bar", "/f%6Fo", false},
	}
	for _, tt := range tests {
		if got := PathMatch(tt.req, tt.cookie); got != tt.want {
			t.Errorf("PathMatch(%q, %q) = %v; want %v", tt.req, tt.cookie, got, tt.want)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"foo", "/"},
		{"/foo", "/"},
		{"/foo/", "/foo"},
		{"/foo/bar", "/foo"},
		{"/foo/bar/", "/foo/bar"},
		{"/a/b/c", "/a/b"},
		{"//", "/"},
		{"//a", "/"},
	}
	for _, tt := range tests {
		if got := DefaultPath(tt.in); got != tt.want {
			t.Errorf("DefaultPath(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestPublicSuffixDomains checks the Domain attribute against the public
// suffix list, private section included.
func TestPublicSuffixDomains(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		from, domain string
		wantDomain   string // "" = rejected
		wantHostOnly bool
	}{
		{"http://www.example.co.uk/", "example.co.uk", "example.co.uk", false},
		{"http://www.example.co.uk/", "co.uk", "", false},
		{"http://www.example.co.uk/", ".co.uk", "", false},
		{"http://co.uk/", "co.uk", "co.uk", true}, // equal to the host: host-only
		{"http://foo.github.io/", "github.io", "", false},
		{"http://foo.github.io/", "foo.github.io", "foo.github.io", false},
		{"http://github.io/", "github.io", "github.io", true},
		{"http://www.example.com/", "com", "", false},
		{"http://www.example.com/", "example.com", "example.com", false},
		{"http://localhost/", "localhost", "localhost", true},
		{"http://a.localhost/", "localhost", "", false},
		{"http://foo.bar.example/", "bar.example", "bar.example", false}, // unlisted TLD: "*" rule
		{"http://foo.bar.example/", "example", "", false},
		{"http://127.0.0.1/", "127.0.0.1", "127.0.0.1", true},
		{"http://127.0.0.1/", "0.0.1", "", false},
		{"http://[::1]:8080/", "::1", "::1", true},
		{"http://foo.1.2.3.4/", "1.2.3.4", "", false}, // an IP is never a cookie domain
		{"http://www.EXAMPLE.com/", "Example.COM", "example.com", false},
		{"http://www.example.com/", "exämple.com", "", false}, // non-ASCII Domain
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.from)
		c, err := ParseSetCookie("a=b; Domain="+tt.domain, u, now)
		switch {
		case tt.wantDomain == "":
			if err == nil {
				t.Errorf("from %s Domain=%s: got %q host-only=%v; want rejected", tt.from, tt.domain, c.Domain, c.HostOnly)
			} else if !errors.Is(err, ErrDomain) {
				t.Errorf("from %s Domain=%s: err = %v; want ErrDomain", tt.from, tt.domain, err)
			}
		case err != nil:
			t.Errorf("from %s Domain=%s: %v; want %q", tt.from, tt.domain, err, tt.wantDomain)
		case c.Domain != tt.wantDomain || c.HostOnly != tt.wantHostOnly:
			t.Errorf("from %s Domain=%s: got %q host-only=%v; want %q host-only=%v",
				tt.from, tt.domain, c.Domain, c.HostOnly, tt.wantDomain, tt.wantHostOnly)
		}
	}
}

func TestRegistrableDomain(t *testing.T) {
	tests := []struct{ in, want string }{
		{"www.example.com", "example.com"},
		{"a.b.example.co.uk", "example.co.uk"},
		{"foo.github.io", "foo.github.io"},
		{"github.io", "github.io"},
		{"localhost", "localhost"},
		{"127.0.0.1", "127.0.0.1"},
	}
	for _, tt := range tests {
		if got := registrableDomain(tt.in); got != tt.want {
			t.Errorf("registrableDomain(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
