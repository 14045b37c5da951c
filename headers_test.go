package urlsession

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/urlsession-go/urlsession/cookiestore"
)

func TestReservedHeadersIsACopy(t *testing.T) {
	list := ReservedHeaders()
	if len(list) != 10 {
		t.Fatalf("ReservedHeaders() = %q, want 10 names", list)
	}
	for i, h := range list {
		if h != http.CanonicalHeaderKey(h) {
			t.Errorf("ReservedHeaders()[%d] = %q, not canonical", i, h)
		}
		for _, name := range []string{h, strings.ToLower(h), strings.ToUpper(h)} {
			if !IsReservedHeader(name) {
				t.Errorf("IsReservedHeader(%q) = false", name)
			}
		}
		list[i] = "X-Changed"
	}
	if IsReservedHeader("X-Changed") || !IsReservedHeader("Authorization") {
		t.Error("changing the returned slice changed the reserved headers")
	}
	if got := ReservedHeaders(); got[0] != "Authorization" {
		t.Errorf("after a change to an earlier copy, ReservedHeaders()[0] = %q", got[0])
	}
	for _, name := range []string{"Accept", "X-Authorization", "", "Authorization "} {
		if IsReservedHeader(name) {
			t.Errorf("IsReservedHeader(%q) = true", name)
		}
	}
	// New refuses a reserved header in any case.
	for _, h := range ReservedHeaders() {
		cfg := EphemeralConfiguration()
		cfg.HTTPAdditionalHeaders = http.Header{strings.ToLower(h): {"x"}}
		if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("New with additional header %q: err = %v, want a reserved-header error", strings.ToLower(h), err)
		}
	}
}

// wireHeaders answers with what arrived: the Host and every header field
// as received, one "Name: value" line per value, in the order received.
var wireHeaders = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "Host: %s\n", r.Host)
	names := slices.Sorted(maps.Keys(r.Header))
	for _, k := range names {
		for _, v := range r.Header[k] {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
})

// fieldsOf returns the values the wireHeaders server received for name.
func fieldsOf(body []byte, name string) []string {
	var vs []string
	for line := range strings.Lines(string(body)) {
		if k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), ": "); ok && k == name {
			vs = append(vs, v)
		}
	}
	return vs
}

func TestHeaderNamesCompareCanonically(t *testing.T) {
	bothProtocols(t, wireHeaders, func(t *testing.T, srv *server) {
		cfg := srv.config()
		cfg.HTTPAdditionalHeaders = http.Header{
			"accept":     {"config"},
			"x-config":   {"lower"},
			"X-Config":   {"canonical"},
			"user-agent": {"config-agent"},
		}
		cookies, err := cookiestore.New(cookiestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cookies.SetCookies(mustURL(t, srv.URL), []*http.Cookie{{Name: "stored", Value: "1"}})
		cfg.HTTPCookieStorage = cookies
		s := newSession(t, cfg, nil)
		if got := s.Configuration().HTTPAdditionalHeaders; got["Accept"] == nil || got["accept"] != nil {
			t.Errorf("the session's additional headers are not canonical: %v", got)
		}

		req := newReq(t, http.MethodPost, srv.URL+"/", "a=b")
		req.Header = http.Header{
			"accept":          {"request"},
			"accept-encoding": {"identity"},
			"content-type":    {"text/plain"},
			"cookie":          {"own=1"},
			"x-both":          {"lower"},
			"X-Both":          {"canonical"},
			// Headers net/http writes itself: as canonical keys they are
			// ignored, so the lower-case ones must not reach the wire.
			"host":           {"elsewhere.example"},
			"content-length": {"99"},
		}
		body, resp, err := s.Data(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d; the server saw\n%s", resp.StatusCode, body)
		}
		want := map[string][]string{
			"Accept":          {"request"},
			"Accept-Encoding": {"identity"},
			"Content-Type":    {"text/plain"},
			"Cookie":          {"own=1; stored=1"},
			"User-Agent":      {"config-agent"},
			"X-Config":        {"canonical", "lower"},
			"X-Both":          {"canonical", "lower"},
			"Host":            {srv.Listener.Addr().String()},
		}
		for name, w := range want {
			if got := fieldsOf(body, name); !slices.Equal(got, w) {
				t.Errorf("%s on the wire: %q, want %q", name, got, w)
			}
		}
		if t.Failed() {
			t.Logf("the server saw\n%s", body)
		}
		if _, ok := req.Header["Accept"]; ok || len(req.Header) != 8 {
			t.Errorf("the caller's header was changed: %v", req.Header)
		}
	})
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
