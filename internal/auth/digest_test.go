package auth

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
)

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newHTTPBin(t *testing.T) *httptest.Server {
	ts := httptest.NewServer(httpbin.New())
	t.Cleanup(ts.Close)
	return ts
}

func fixedCnonce(s string) func() string { return func() string { return s } }

// TestDigestRFC7616Examples checks the worked examples of RFC 7616 §3.9.1
// (SHA-256 and MD5 for "Mufasa") byte for byte.
func TestDigestRFC7616Examples(t *testing.T) {
	const challenge = `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=%s, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`
	for _, tt := range []struct{ alg, response string }{
		{"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
		{"MD5", "8ca523f5e9506fed4657c9700eebdbec"},
	} {
		cs := Parse(fmt.Sprintf(challenge, tt.alg))
		if len(cs) != 1 {
			t.Fatalf("challenge did not parse: %#v", cs)
		}
		d := &DigestClient{cnonce: fixedCnonce("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")}
		// The example uses qop=auth although auth-int is offered too.
		a, err := d.Answer(Space{Origin: "http://www.example.org:80"}, cs[0], "Mufasa", "Circle of Life",
			Request{Method: "GET", URI: "/dir/index.html", Qop: QopAuth})
		if err != nil {
			t.Fatal(err)
		}
		want := `Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=` + tt.alg +
			`, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="` +
			tt.response + `", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`
		if a.Value != want {
			t.Errorf("%s:\n got %s\nwant %s", tt.alg, a.Value, want)
		}
	}
}

// TestDigestRFC2617Example checks the example of RFC 2617 §3.5, which has
// no algorithm parameter (MD5, not echoed).
func TestDigestRFC2617Example(t *testing.T) {
	cs := Parse(`Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`)
	d := &DigestClient{cnonce: fixedCnonce("0a4f113b")}
	a, err := d.Answer(Space{Origin: "http://www.nowhere.org:80"}, cs[0], "Mufasa", "Circle Of Life",
		Request{Method: "GET", URI: "/dir/index.html", Qop: QopAuth})
	if err != nil {
		t.Fatal(err)
	}
	want := `Digest username="Mufasa", realm="testrealm@host.com", uri="/dir/index.html", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", nc=00000001, cnonce="0a4f113b", qop=auth, response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`
	if a.Value != want {
		t.Errorf("\n got %s\nwant %s", a.Value, want)
	}
}

func TestDigestUsernameEncoding(t *testing.T) {
	c := Parse(`Digest realm="api@example.org", qop=auth, algorithm=SHA-512-256, nonce="n"`)[0]
	d := &DigestClient{cnonce: fixedCnonce("c")}
	req := Request{Method: "GET", URI: "/doe.json"}
	// RFC 7616 §3.9.2's user name, which a quoted-string cannot carry.
	a, err := d.Answer(Space{}, c, "J\u00e4s\u00f8n Doe", "Secret, or not?", req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.Value, `Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm="api@example.org"`) {
		t.Errorf("value %s", a.Value)
	}
	// Quotes and backslashes are escaped in a quoted-string.
	a, _ = d.Answer(Space{}, c, `a"b\c`, "pw", req)
	if !strings.HasPrefix(a.Value, `Digest username="a\"b\\c", `) {
		t.Errorf("value %s", a.Value)
	}
	if got := Parse(a.Value)[0].Param("username"); got != `a"b\c` {
		t.Errorf("username parses back as %q", got)
	}
}

func TestDigestErrors(t *testing.T) {
	d := &DigestClient{}
	for _, tt := range []struct {
		challenge string
		req       Request
		want      error
	}{
		{`Basic realm="x"`, Request{}, ErrUnsupported},
		{`Digest realm="x"`, Request{}, ErrUnsupported},
		{`Digest realm="x", nonce="n", algorithm=SHA-1`, Request{}, ErrUnsupported},
		{`Digest realm="x", nonce="n", qop="auth-conf"`, Request{}, ErrUnsupported},
		{`Digest realm="x", nonce="n", qop="auth-int"`, Request{Streamed: true}, ErrBodyNotHashable},
	} {
		c := Challenge{Scheme: "basic"}
		if cs := Parse(tt.challenge); len(cs) == 1 {
			c = cs[0]
		}
		_, err := d.Answer(Space{}, c, "user", "secret-pw", tt.req)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.challenge, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-pw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	if _, err := d.Authorize(Space{Origin: "http://x:80"}, "u", "p", Request{}); !errors.Is(err, ErrNoState) {
		t.Errorf("Authorize without state: %v", err)
	}
}

func TestChooseQop(t *testing.T) {
	getBody := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("x")), nil }
	for _, tt := range []struct {
		offered []string
		req     Request
		want    string
		err     error
	}{
		{nil, Request{}, "", nil},
		{[]string{"auth"}, Request{}, "auth", nil},
		{[]string{"auth", "auth-int"}, Request{}, "auth-int", nil},
		{[]string{"auth", "auth-int"}, Request{Qop: QopAuth}, "auth", nil},
		{[]string{"auth-int"}, Request{Qop: QopAuth}, "auth-int", nil},
		{[]string{"auth", "auth-int"}, Request{Streamed: true}, "auth", nil},
		{[]string{"auth", "auth-int"}, Request{Streamed: true, GetBody: getBody}, "auth-int", nil},
		{[]string{"auth-int"}, Request{Streamed: true}, "", ErrBodyNotHashable},
	} {
		got, err := chooseQop(tt.offered, &tt.req)
		if got != tt.want || err != tt.err {
			t.Errorf("chooseQop(%q, %+v) = %q, %v; want %q, %v", tt.offered, tt.req, got, err, tt.want, tt.err)
		}
	}
}

func TestNewRequest(t *testing.T) {
	r := httptest.NewRequest("POST", "http://example.com/a/b?c=d%20e", strings.NewReader("body"))
	r.GetBody = nil
	q := NewRequest(r)
	if q.Method != "POST" || q.URI != "/a/b?c=d%20e" || !q.Streamed {
		t.Errorf("NewRequest = %+v", q)
	}
	r, _ = http.NewRequest("PUT", "http://example.com/", bytes.NewReader([]byte("body")))
	if q = NewRequest(r); q.Streamed || q.GetBody == nil {
		t.Errorf("rewindable body: %+v", q)
	}
	r, _ = http.NewRequest("GET", "http://example.com", nil)
	if q = NewRequest(r); q.Streamed || q.URI != "/" {
		t.Errorf("no body: %+v", q)
	}
	r, _ = http.NewRequest("CONNECT", "http://example.com:443", nil)
	if q = NewRequest(r); q.URI != "example.com:443" {
		t.Errorf("CONNECT: %+v", q)
	}
}

func TestDigestNonceCount(t *testing.T) {
	d := &DigestClient{}
	sp := Space{Origin: "http://h:80"}
	c := Parse(`Digest realm="r", nonce="n1", qop=auth`)[0]
	nc := func(a *DigestAnswer) string { return Parse(a.Value)[0].Param("nc") }
	a, _ := d.Answer(sp, c, "u", "p", Request{URI: "/"})
	if got := nc(a); got != "00000001" {
		t.Errorf("first nc = %s", got)
	}
	sp.Realm = "r"
	for i := 2; i <= 3; i++ {
		a, err := d.Authorize(sp, "u", "p", Request{URI: "/"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := nc(a), fmt.Sprintf("%08x", i); got != want {
			t.Errorf("nc = %s, want %s", got, want)
		}
	}
	// The same nonce in a new challenge continues the count.
	a, _ = d.Answer(sp, c, "u", "p", Request{URI: "/"})
	if got := nc(a); got != "00000004" {
		t.Errorf("same nonce again: nc = %s", got)
	}
	// A new nonce starts again.
	a, _ = d.Answer(sp, Parse(`Digest realm="r", nonce="n2", qop=auth, stale=true`)[0], "u", "p", Request{URI: "/"})
	if got := nc(a); got != "00000001" {
		t.Errorf("new nonce: nc = %s", got)
	}
	// Concurrent requests get distinct counts.
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			a, err := d.Authorize(sp, "u", "p", Request{URI: "/"})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[nc(a)] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != 50 || !seen["00000002"] || !seen["00000033"] {
		t.Errorf("concurrent nonce counts: %d distinct", len(seen))
	}
	d.Forget(sp)
	if _, err := d.Authorize(sp, "u", "p", Request{URI: "/"}); !errors.Is(err, ErrNoState) {
		t.Errorf("after Forget: %v", err)
	}
}

func TestDigestLegacyRFC2069(t *testing.T) {
	d := &DigestClient{}
	a, err := d.Answer(Space{}, Parse(`Digest realm="r", nonce="abc", opaque=""`)[0], "u", "p", Request{URI: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	p := Parse(a.Value)[0].Params
	for _, k := range []string{"nc", "cnonce", "qop", "algorithm"} {
		if _, ok := p[k]; ok {
			t.Errorf("RFC 2069 answer has %s: %s", k, a.Value)
		}
	}
	if v, ok := p["opaque"]; !ok || v != "" {
		t.Errorf("empty opaque not echoed: %s", a.Value)
	}
	// H(H(A1):nonce:H(A2)) with MD5, computed by hand.
	if p["response"] != md5hex(md5hex("u:r:p")+":abc:"+md5hex("GET:/x")) {
		t.Errorf("response %s", p["response"])
	}
}

func TestDigestLookup(t *testing.T) {
	d := &DigestClient{}
	srv := "http://h:80"
	d.Answer(Space{Origin: srv}, Parse(`Digest realm="all", nonce="1"`)[0], "u", "p", Request{})
	d.Answer(Space{Origin: srv}, Parse(`Digest realm="docs", nonce="2", domain="/docs/ http://H/api https://h/other http://elsewhere/x"`)[0], "u", "p", Request{})
	d.Answer(Space{Origin: "proxy:3128", Proxy: true}, Parse(`Digest realm="proxy", nonce="3"`)[0], "u", "p", Request{})
	for _, tt := range []struct {
		origin string
		proxy  bool
		uri    string
		want   string // realm, "" for none
	}{
		{srv, false, "/docs/a", "docs"},
		{srv, false, "/api/v1", "docs"},
		{srv, false, "/other", "all"},
		{srv, false, "/x", "all"},
		{"HTTP://H:80", false, "/docs/", "docs"},
		{"http://elsewhere:80", false, "/x", ""},
		{"proxy:3128", true, "/anything", "proxy"},
		{"proxy:3128", false, "/anything", ""},
	} {
		sp, ok := d.Lookup(tt.origin, tt.proxy, tt.uri)
		if ok != (tt.want != "") || sp.Realm != tt.want {
			t.Errorf("Lookup(%s, %v, %s) = %+v, %v; want realm %q", tt.origin, tt.proxy, tt.uri, sp, ok, tt.want)
		}
	}
	// The most recently used of several matching spaces wins.
	d.Authorize(Space{Origin: srv, Realm: "all"}, "u", "p", Request{})
	if sp, _ := d.Lookup(srv, false, "/docs/a"); sp.Realm != "all" {
		t.Errorf("after using all: %+v", sp)
	}
}

func TestDigestInfo(t *testing.T) {
	d := &DigestClient{}
	if err := d.Info(&DigestAnswer{}, "", nil); err != nil {
		t.Errorf("empty Info: %v", err)
	}
	if err := d.Info(&DigestAnswer{}, `nextnonce="a`, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed Info: %v", err)
	}
}

// TestDigestRoundTrip answers a real server for every algorithm and qop,
// with Authentication-Info, nextnonce, stale nonces, userhash, charset and
// bodies, over loopback HTTP.
func TestDigestRoundTrip(t *testing.T) {
	for _, alg := range []string{"", "MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess"} {
		for _, qop := range []string{"", "auth", "auth-int", "auth, auth-int"} {
			t.Run(alg+"/"+qop, func(t *testing.T) {
				t.Parallel()
				srv := &digestServer{realm: `r "1"`, alg: alg, qop: qop, opaque: "op", user: "Mufasa", password: "Circle of Life", nextnonce: true}
				testDigestRoundTrip(t, srv, "Mufasa", "Circle of Life")
			})
		}
	}
	t.Run("userhash", func(t *testing.T) {
		srv := &digestServer{realm: "api@example.org", alg: "SHA-512-256", qop: "auth", userhash: true, user: "J\u00e4s\u00f8n Doe", password: "Secret, or not?"}
		testDigestRoundTrip(t, srv, "J\u00e4s\u00f8n Doe", "Secret, or not?")
	})
	t.Run("username*", func(t *testing.T) {
		srv := &digestServer{realm: "api@example.org", alg: "SHA-256", qop: "auth", user: "J\u00e4s\u00f8n Doe", password: "pw"}
		testDigestRoundTrip(t, srv, "J\u00e4s\u00f8n Doe", "pw")
	})
	t.Run("charset NFC", func(t *testing.T) {
		srv := &digestServer{realm: "r", alg: "SHA-256", qop: "auth", charset: true, user: "jos\u00e9", password: "caf\u00e9"}
		testDigestRoundTrip(t, srv, "jose\u0301", "cafe\u0301")
	})
}

func testDigestRoundTrip(t *testing.T, srv *digestServer, user, password string) {
	ts := httptest.NewServer(srv)
	defer ts.Close()
	d := &DigestClient{}
	u, _ := url.Parse(ts.URL)
	origin := Origin(u)
	get := func(path string, body string, authz string) *http.Response {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest("POST", ts.URL+path, rd)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	request := func(path, body string) Request {
		req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
		return NewRequest(req)
	}
	finish := func(resp *http.Response, a *DigestAnswer) {
		t.Helper()
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d (%s) for %s", resp.StatusCode, resp.Header.Get("X-Failure"), a.Value)
		}
		if err := d.Info(a, resp.Header.Get("Authentication-Info"), b); err != nil {
			t.Fatalf("Info(%s): %v", resp.Header.Get("Authentication-Info"), err)
		}
	}

	// 1. Challenge, answer.
	resp := get("/p?q=1", "", "")
	resp.Body.Close()
	cs := ParseHeader(resp.Header, false)
	if resp.StatusCode != 401 || len(cs) != 1 || !cs[0].Supported() {
		t.Fatalf("challenge %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	space := Space{Origin: origin}
	a, err := d.Answer(space, cs[0], user, password, request("/p?q=1", "first body"))
	if err != nil {
		t.Fatal(err)
	}
	finish(get("/p?q=1", "first body", a.Value), a)

	// 2. Pre-emptive, on the nextnonce or the same nonce.
	sp, ok := d.Lookup(origin, false, "/other")
	if !ok {
		t.Fatal("no space for pre-emptive use")
	}
	for i := range 3 {
		body := strings.Repeat("b", i)
		a, err = d.Authorize(sp, user, password, request("/other", body))
		if err != nil {
			t.Fatal(err)
		}
		finish(get("/other", body, a.Value), a)
	}

	// 3. The server expires the nonce: stale=true, answered without a new
	// credential.
	srv.expire()
	a, _ = d.Authorize(sp, user, password, request("/s", ""))
	resp = get("/s", "", a.Value)
	resp.Body.Close()
	cs = ParseHeader(resp.Header, false)
	if resp.StatusCode != 401 || len(cs) != 1 || !cs[0].Stale() {
		t.Fatalf("after expiry: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	a, err = d.Answer(space, cs[0], user, password, request("/s", ""))
	if err != nil {
		t.Fatal(err)
	}
	finish(get("/s", "", a.Value), a)

	// 4. A wrong password fails, and a forged rspauth is caught.
	bad, _ := d.Authorize(sp, user, password+"x", request("/", ""))
	resp = get("/", "", bad.Value)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("wrong password: status %d", resp.StatusCode)
	}
	forged := `rspauth="` + strings.Repeat("0", len(a.ha1)) + `"`
	if err := d.Info(a, forged, nil); !errors.Is(err, ErrMutualAuth) {
		t.Errorf("forged rspauth: %v", err)
	}
}

func TestDigestGoHTTPBin(t *testing.T) {
	ts := newHTTPBin(t)
	for _, alg := range []string{"MD5", "SHA-256"} {
		t.Run(alg, func(t *testing.T) {
			path := "/digest-auth/auth/user/pass%20word/" + alg
			resp, err := ts.Client().Get(ts.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cs := ParseHeader(resp.Header, false)
			if resp.StatusCode != 401 || len(cs) != 1 {
				t.Fatalf("challenge: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
			}
			req, _ := http.NewRequest("GET", ts.URL+path, nil)
			var d DigestClient
			a, err := d.Answer(Space{Origin: Origin(req.URL)}, cs[0], "user", "pass word", NewRequest(req))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", a.Value)
			resp, err = ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"authenticated": true`)) {
				t.Errorf("answer %s: %d %s", a.Value, resp.StatusCode, body)
			}
			// A wrong password is refused, so the 200 above means something.
			a, _ = d.Answer(Space{Origin: Origin(req.URL)}, cs[0], "user", "wrong", NewRequest(req))
			req.Header.Set("Authorization", a.Value)
			resp, _ = ts.Client().Do(req)
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Errorf("wrong password: %d", resp.StatusCode)
			}
		})
	}
}

func TestDigestAnswerCopiesNoSecret(t *testing.T) {
	d := &DigestClient{}
	a, _ := d.Answer(Space{}, Parse(`Digest realm="r", nonce="n", qop=auth`)[0], "user", "hunter2", Request{})
	if strings.Contains(fmt.Sprintf("%v %+v", a, *a), "hunter2") {
		t.Error("answer shows the password")
	}
	if !reflect.DeepEqual(a.Space, Space{Realm: "r"}) {
		t.Errorf("space %+v", a.Space)
	}
}
