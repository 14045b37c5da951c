package auth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/mccutchen/go-httpbin/v2/httpbin"

	"github.com/urlsession-go/urlsession/internal/auth"
)

func ExampleParse() {
	cs := auth.Parse(
		`Basic realm="simple", Newauth realm="apps", type=1, title="Login to \"apps\""`,
		`Digest realm="api", nonce="xyz", algorithm=SHA-256, qop="auth"`,
		`NTLM`,
	)
	for _, c := range cs {
		fmt.Printf("%s realm=%q supported=%v %s\n", c.Scheme, c.Realm, c.Supported(), c.Method())
	}
	// Output:
	// ntlm realm="" supported=true NSURLAuthenticationMethodNTLM
	// digest realm="api" supported=true NSURLAuthenticationMethodHTTPDigest
	// basic realm="simple" supported=true NSURLAuthenticationMethodHTTPBasic
	// newauth realm="apps" supported=false
}

func ExampleBasic() {
	c := auth.Parse(`Basic realm="foo", charset="UTF-8"`)[0]
	v, err := auth.Basic("test", "123\u00a3", &c)
	fmt.Println(v, err)
	// Output: Basic dGVzdDoxMjPCow== <nil>
}

// A Digest exchange with go-httpbin: answer the 401, then send the next
// request pre-emptively with the remembered nonce.
func ExampleDigestClient() {
	ts := httptest.NewServer(httpbin.New())
	defer ts.Close()
	url := ts.URL + "/digest-auth/auth/alice/secret/SHA-256"

	var digests auth.DigestClient // one per session
	resp, _ := http.Get(url)
	resp.Body.Close()
	fmt.Println(resp.StatusCode)

	c := auth.ParseHeader(resp.Header, false)[0]
	req, _ := http.NewRequest("GET", url, nil)
	space := auth.Space{Origin: auth.Origin(req.URL)}
	a, err := digests.Answer(space, c, "alice", "secret", auth.NewRequest(req))
	if err != nil {
		fmt.Println(err)
		return
	}
	req.Header.Set("Authorization", a.Value)
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, c.Param("algorithm"), a.Qop)

	// Later requests under the same origin: no 401 round trip.
	if sp, ok := digests.Lookup(auth.Origin(req.URL), false, req.URL.RequestURI()); ok {
		a, _ = digests.Authorize(sp, "alice", "secret", auth.NewRequest(req))
		req.Header.Set("Authorization", a.Value)
		resp, _ = http.DefaultClient.Do(req)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, "pre-emptively for realm", sp.Realm)
	}
	// Output:
	// 401
	// 200 SHA-256 auth
	// 200 pre-emptively for realm go-httpbin
}
