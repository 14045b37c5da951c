package urlsession

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/urlsession-go/urlsession/cookiestore"
)

// TestZeroConfigurationIsAppleDefaults: every field of a zero Configuration
// means what DefaultConfiguration sets, except the stores, whose nil means
// none (as Apple's nil does).
func TestZeroConfigurationIsAppleDefaults(t *testing.T) {
	var zero Configuration
	def := DefaultConfiguration()
	// Fields DefaultConfiguration spells out whose zero value stands for
	// the same thing, and the stores.
	same := map[string]bool{
		"TimeoutIntervalForRequest":     zero.requestTimeout() == def.requestTimeout(),
		"TimeoutIntervalForResource":    zero.resourceTimeout() == def.resourceTimeout(),
		"HTTPMaximumConnectionsPerHost": zero.maxConnsPerHost() == def.maxConnsPerHost(),
		"URLCache":                      true,
		"HTTPCookieStorage":             true,
		"URLCredentialStorage":          true,
		"HSTSStorage":                   true,
	}
	zv, dv := reflect.ValueOf(zero), reflect.ValueOf(*def)
	for i := range zv.NumField() {
		f := zv.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if ok, listed := same[f.Name]; listed {
			if !ok {
				t.Errorf("%s: the zero value does not resolve to DefaultConfiguration's", f.Name)
			}
			continue
		}
		if !reflect.DeepEqual(zv.Field(i).Interface(), dv.Field(i).Interface()) {
			t.Errorf("DefaultConfiguration().%s = %v, the zero value is %v", f.Name, dv.Field(i), zv.Field(i))
		}
	}
	if zero.HTTPCookieAcceptPolicy != CookieAcceptOnlyFromMainDocumentDomain || zero.DoNotSendCookies {
		t.Errorf("zero cookie settings: policy %v, DoNotSendCookies %v", zero.HTTPCookieAcceptPolicy, zero.DoNotSendCookies)
	}
}

// TestZeroConfigurationCookies: a Configuration with a cookie storage and
// nothing else set sends the stored cookies and accepts cookies only from
// the main document's domain, Apple's defaults.
func TestZeroConfigurationCookies(t *testing.T) {
	bothProtocols(t, cookieServer(), func(t *testing.T, srv *server) {
		jar, err := cookiestore.New(cookiestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		base := srv.config()
		s := newSession(t, &Configuration{Proxy: base.Proxy, TLSClientConfig: base.TLSClientConfig, HTTPCookieStorage: jar}, nil)
		other, _ := url.Parse("https://elsewhere.example/")
		fetchBody(t, s, WithOptions(get(t, srv.URL+"/set"), RequestOptions{MainDocumentURL: other}))
		if n := len(jar.AllCookies()); n != 0 {
			t.Errorf("a main document from another domain let %d cookies in", n)
		}
		fetchBody(t, s, get(t, srv.URL+"/set"))
		if got := fetchBody(t, s, get(t, srv.URL+"/echo")); !strings.Contains(got, "fr=anjd&232") {
			t.Errorf("the zero configuration sent Cookie %q, want the stored cookies", got)
		}
	})
}

func TestCookieAcceptPolicyValues(t *testing.T) {
	for _, tt := range []struct {
		p     CookieAcceptPolicy
		name  string
		store cookiestore.AcceptPolicy
	}{
		{CookieAcceptOnlyFromMainDocumentDomain, "onlyFromMainDocumentDomain", cookiestore.OnlyFromMainDocumentDomain},
		{CookieAcceptAlways, "always", cookiestore.Always},
		{CookieAcceptNever, "never", cookiestore.Never},
	} {
		if tt.p.String() != tt.name || tt.p.storePolicy() != tt.store {
			t.Errorf("%d: %q, %v; want %q, %v", int(tt.p), tt.p, tt.p.storePolicy(), tt.name, tt.store)
		}
	}
	if got := CookieAcceptPolicy(7).String(); got != "CookieAcceptPolicy(7)" {
		t.Errorf("CookieAcceptPolicy(7).String() = %q", got)
	}
	cfg := EphemeralConfiguration()
	cfg.HTTPCookieAcceptPolicy = 7
	if _, err := New(cfg, nil); err == nil {
		t.Error("New accepted an unknown cookie accept policy")
	}
}
