package main

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/mccutchen/go-httpbin/v2/httpbin"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/auth/authtest"
)

var bin = httpbin.New(httpbin.WithMaxDuration(10 * time.Second))

// authServer is a server that logs the Authorization header of every
// request. Its routes:
//
//	/basic               200 "ok <user>" for Basic user:secret, else 401
//	                     with a Basic challenge
//	/whoami              200 "<user>:<password>" for any Basic
//	                     credentials, else 401 with a Basic challenge
//	/digest-auth/...     go-httpbin's Digest route
//	/any/digest-auth/... the same, its 401 offering Basic too
//	/redirect?to=URL     302 to URL
type authServer struct {
	*httptest.Server
	mu  sync.Mutex
	log []string // "METHOD PATH Authorization" of each request
}

// newAuthServer starts an authServer: over TLS with HTTP/2 when tls is
// set, else plain HTTP/1.1.
func newAuthServer(t *testing.T, tls bool) *authServer {
	t.Helper()
	a := new(authServer)
	mux := http.NewServeMux()
	mux.HandleFunc("/basic", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "user" && p == "secret" {
			fmt.Fprintf(w, "ok %s", u)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="basic"`)
		http.Error(w, "who are you?", http.StatusUnauthorized)
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok {
			fmt.Fprintf(w, "%s:%s", u, p)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="whoami"`)
		http.Error(w, "who are you?", http.StatusUnauthorized)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.Handle("/digest-auth/", bin)
	mux.Handle("/any/", http.StripPrefix("/any", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bin.ServeHTTP(basicToo{w}, r)
	})))
	a.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.log = append(a.log, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		a.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	if tls {
		a.EnableHTTP2 = true
		a.StartTLS()
	} else {
		a.Start()
	}
	t.Cleanup(a.Close)
	return a
}

// requests returns the log and empties it.
func (a *authServer) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.log
	a.log = nil
	return l
}

// basicToo adds a Basic challenge to a 401.
type basicToo struct{ http.ResponseWriter }

func (b basicToo) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		b.Header().Add("WWW-Authenticate", `Basic realm="any"`)
	}
	b.ResponseWriter.WriteHeader(code)
}

func basicValue(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// bothProtocols runs f against an authServer over HTTP/1.1 and over
// HTTP/2 (TLS, with -k).
func bothProtocols(t *testing.T, f func(t *testing.T, s *authServer, args []string)) {
	t.Run("HTTP/1.1", func(t *testing.T) {
		t.Parallel()
		f(t, newAuthServer(t, false), nil)
	})
	t.Run("HTTP/2", func(t *testing.T) {
		t.Parallel()
		f(t, newAuthServer(t, true), []string{"-k"})
	})
}

// wantLog fails unless the server's log is want.
func wantLog(t *testing.T, s *authServer, want ...string) {
	t.Helper()
	if got := s.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestUserBasic: -u sends Basic with the first request, as curl does, and
// so do the URL's user info and --basic.
func TestUserBasic(t *testing.T) {
	t.Parallel()
	bothProtocols(t, func(t *testing.T, s *authServer, args []string) {
		good := basicValue("user", "secret")
		for _, extra := range [][]string{{"-u", "user:secret"}, {"--user", "user:secret", "--basic"}} {
			r := cli(t, "", append(append(args, extra...), s.URL+"/basic")...).want(t, 0)
			if r.stdout != "ok user" {
				t.Errorf("%q: %v", extra, r)
			}
			wantLog(t, s, "GET /basic "+good)
		}
		// The URL's user info, taken out of the URL.
		u, _ := url.Parse(s.URL + "/basic")
		u.User = url.UserPassword("user", "secret")
		r := cli(t, "", append(args, "-w", " %{url_effective}", u.String())...).want(t, 0)
		if r.stdout != "ok user "+s.URL+"/basic" {
			t.Errorf("URL user info: %v", r)
		}
		wantLog(t, s, "GET /basic "+good)
		// -u wins over the URL.
		u.User = url.UserPassword("user", "wrong")
		cli(t, "", append(args, "-u", "user:secret", u.String())...).want(t, 0)
		wantLog(t, s, "GET /basic "+good)
		// The password may hold colons; an empty one is sent empty.
		r = cli(t, "", append(args, "-u", "a:b:c", s.URL+"/whoami")...).want(t, 0)
		if r.stdout != "a:b:c" {
			t.Errorf("a:b:c: %v", r)
		}
		r = cli(t, "", append(args, "-u", "a:", s.URL+"/whoami")...).want(t, 0)
		if r.stdout != "a:" {
			t.Errorf("a: %v", r)
		}
		s.requests()
		// -H Authorization wins, and the 401 is the response, as with
		// curl.
		r = cli(t, "", append(args, "-u", "user:secret", "-H", "Authorization: Bearer tok", s.URL+"/basic")...).want(t, 0)
		if !strings.HasPrefix(r.stdout, "who are you?") {
			t.Errorf("-H Authorization: %v", r)
		}
		wantLog(t, s, "GET /basic Bearer tok")
	})
}

// TestWrongPassword: a credential the server refuses leaves its 401 as the
// response, after one try: exit 0, or 22 with -f.
func TestWrongPassword(t *testing.T) {
	t.Parallel()
	bothProtocols(t, func(t *testing.T, s *authServer, args []string) {
		bad := basicValue("user", "wrong")
		r := cli(t, "", append(args, "-u", "user:wrong", "-w", "%{http_code}", s.URL+"/basic")...).want(t, 0)
		if r.stdout != "who are you?\n401" {
			t.Errorf("got %v", r)
		}
		wantLog(t, s, "GET /basic "+bad)
		r = cli(t, "", append(args, "-f", "-u", "user:wrong", s.URL+"/basic")...).want(t, 22)
		if r.stdout != "" || r.stderr != "urlsession: (22) the requested URL returned error: 401 Unauthorized\n" {
			t.Errorf("-f: %v", r)
		}
		wantLog(t, s, "GET /basic "+bad)

		// Digest: the first request without, one answer, then the 401.
		path := "/digest-auth/auth/user/passwd/MD5"
		r = cli(t, "", append(args, "--digest", "-u", "user:wrong", "-w", "%{http_code}", s.URL+path)...).want(t, 0)
		if !strings.HasSuffix(r.stdout, "401") {
			t.Errorf("--digest: %v", r)
		}
		if l := s.requests(); len(l) != 2 || l[0] != "GET "+path+" " || !strings.HasPrefix(l[1], "GET "+path+" Digest ") {
			t.Errorf("--digest requests: %q", l)
		}
		cli(t, "", append(args, "--digest", "-fu", "user:wrong", s.URL+path)...).want(t, 22)
	})
}

// TestDigest: --digest answers go-httpbin's Digest challenge; the first
// request carries no credentials.
func TestDigest(t *testing.T) {
	t.Parallel()
	bothProtocols(t, func(t *testing.T, s *authServer, args []string) {
		for _, alg := range []string{"MD5", "SHA-256"} {
			path := "/digest-auth/auth/user/passwd/" + alg
			r := cli(t, "", append(args, "--digest", "-u", "user:passwd", s.URL+path)...).want(t, 0)
			if !strings.Contains(r.stdout, `"authenticated": true`) {
				t.Errorf("%s: %v", alg, r)
			}
			if l := s.requests(); len(l) != 2 || l[0] != "GET "+path+" " || !strings.HasPrefix(l[1], "GET "+path+" Digest ") {
				t.Errorf("%s requests: %q", alg, l)
			}
		}
		// Basic is not answered with --digest: the 401 is the response.
		r := cli(t, "", append(args, "--digest", "-u", "user:secret", "-w", "%{http_code}", s.URL+"/basic")...).want(t, 0)
		if !strings.HasSuffix(r.stdout, "401") {
			t.Errorf("--digest against Basic: %v", r)
		}
		wantLog(t, s, "GET /basic ")
		// Nor Digest with Basic alone.
		path := "/digest-auth/auth/user/passwd/MD5"
		r = cli(t, "", append(args, "-u", "user:passwd", "-w", "%{http_code}", s.URL+path)...).want(t, 0)
		if !strings.HasSuffix(r.stdout, "401") {
			t.Errorf("--basic against Digest: %v", r)
		}
		wantLog(t, s, "GET "+path+" "+basicValue("user", "passwd"))
	})
}

// TestAnyAuth: --anyauth answers the strongest scheme offered, after a
// first request without credentials.
func TestAnyAuth(t *testing.T) {
	t.Parallel()
	bothProtocols(t, func(t *testing.T, s *authServer, args []string) {
		path := "/any/digest-auth/auth/user/passwd/MD5"
		r := cli(t, "", append(args, "--anyauth", "-u", "user:passwd", s.URL+path)...).want(t, 0)
		if !strings.Contains(r.stdout, `"authenticated": true`) {
			t.Errorf("Digest and Basic offered: %v", r)
		}
		if l := s.requests(); len(l) != 2 || l[0] != "GET "+path+" " || !strings.HasPrefix(l[1], "GET "+path+" Digest ") {
			t.Errorf("requests: %q", l)
		}
		// --basic --digest is the same choice.
		cli(t, "", append(args, "--basic", "--digest", "-u", "user:passwd", s.URL+path)...).want(t, 0)
		if l := s.requests(); len(l) != 2 || !strings.HasPrefix(l[1], "GET "+path+" Digest ") {
			t.Errorf("--basic --digest requests: %q", l)
		}
		// Basic alone offered: Basic, after the 401.
		r = cli(t, "", append(args, "--anyauth", "-u", "user:secret", s.URL+"/basic")...).want(t, 0)
		if r.stdout != "ok user" {
			t.Errorf("Basic offered: %v", r)
		}
		wantLog(t, s, "GET /basic ", "GET /basic "+basicValue("user", "secret"))
		// --anyauth --no-digest leaves Basic among others: not sent first.
		cli(t, "", append(args, "--anyauth", "--no-digest", "-u", "user:secret", s.URL+"/basic")...).want(t, 0)
		wantLog(t, s, "GET /basic ", "GET /basic "+basicValue("user", "secret"))
	})
}

// TestAuthRedirect: the credentials follow a redirect within the origin
// only, unless --location-trusted.
func TestAuthRedirect(t *testing.T) {
	t.Parallel()
	bothProtocols(t, func(t *testing.T, a *authServer, args []string) {
		b := newAuthServer(t, len(args) > 0)
		good := basicValue("user", "secret")
		toB := a.URL + "/redirect?to=" + url.QueryEscape(b.URL+"/basic")
		r := cli(t, "", append(args, "-L", "-u", "user:secret", "-w", "%{http_code}", toB)...).want(t, 0)
		if r.stdout != "who are you?\n401" {
			t.Errorf("to another host: %v", r)
		}
		wantLog(t, a, "GET /redirect "+good)
		wantLog(t, b, "GET /basic ")
		// Another port of the same host is another origin.
		cli(t, "", append(args, "-L", "-f", "-u", "user:secret", toB)...).want(t, 22)
		a.requests()
		b.requests()

		for _, trusted := range [][]string{{"--location-trusted"}, {"-L", "--location-trusted"}} {
			r = cli(t, "", append(append(args, trusted...), "-u", "user:secret", toB)...).want(t, 0)
			if r.stdout != "ok user" {
				t.Errorf("%q: %v", trusted, r)
			}
			wantLog(t, a, "GET /redirect "+good)
			wantLog(t, b, "GET /basic "+good)
		}

		// Within the origin the credentials go along.
		r = cli(t, "", append(args, "-L", "-u", "user:secret", a.URL+"/redirect?to=/basic")...).want(t, 0)
		if r.stdout != "ok user" {
			t.Errorf("same origin: %v", r)
		}
		wantLog(t, a, "GET /redirect "+good, "GET /basic "+good)

		// Back to the first origin, they go again.
		back := b.URL + "/redirect?to=" + url.QueryEscape(a.URL+"/basic")
		r = cli(t, "", append(args, "-L", "-u", "user:secret", a.URL+"/redirect?to="+url.QueryEscape(back))...).want(t, 0)
		if r.stdout != "ok user" {
			t.Errorf("back: %v", r)
		}
		wantLog(t, a, "GET /redirect "+good, "GET /basic "+good)
		wantLog(t, b, "GET /redirect ")

		// Digest: the other host's challenge is not answered, unless
		// trusted.
		path := "/digest-auth/auth/user/passwd/MD5"
		toBDigest := a.URL + "/redirect?to=" + url.QueryEscape(b.URL+path)
		r = cli(t, "", append(args, "-L", "--digest", "-u", "user:passwd", "-w", "%{http_code}", toBDigest)...).want(t, 0)
		if !strings.HasSuffix(r.stdout, "401") {
			t.Errorf("--digest to another host: %v", r)
		}
		wantLog(t, b, "GET "+path+" ")
		r = cli(t, "", append(args, "--location-trusted", "--digest", "-u", "user:passwd", toBDigest)...).want(t, 0)
		if !strings.Contains(r.stdout, `"authenticated": true`) {
			t.Errorf("--digest --location-trusted: %v", r)
		}
		if l := b.requests(); len(l) != 2 || !strings.HasPrefix(l[1], "GET "+path+" Digest ") {
			t.Errorf("--digest --location-trusted requests: %q", l)
		}

		// An Authorization given with -H goes along only when trusted.
		toWhoami := a.URL + "/redirect?to=" + url.QueryEscape(b.URL+"/whoami")
		h := "Authorization: " + basicValue("h", "header")
		r = cli(t, "", append(args, "-L", "-H", h, "-w", "%{http_code}", toWhoami)...).want(t, 0)
		if !strings.HasSuffix(r.stdout, "401") {
			t.Errorf("-H to another host: %v", r)
		}
		r = cli(t, "", append(args, "--location-trusted", "-H", h, toWhoami)...).want(t, 0)
		if r.stdout != "h:header" {
			t.Errorf("-H --location-trusted: %v", r)
		}
	})
}

// TestAuthVerboseRedacted: -v shows the scheme of Authorization and
// Proxy-Authorization, never the secret.
func TestAuthVerboseRedacted(t *testing.T) {
	t.Parallel()
	bothProtocols(t, func(t *testing.T, s *authServer, args []string) {
		secret := "s3cr3t-pw"
		encoded := base64.StdEncoding.EncodeToString([]byte("user:" + secret))
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"-u", "user:" + secret, s.URL + "/whoami"}, "> Authorization: Basic <redacted>\n"},
			{[]string{"--digest", "-u", "user:" + secret, s.URL + "/digest-auth/auth/user/" + secret + "x/MD5"}, "> Authorization: Digest <redacted>\n"},
			{[]string{"--anyauth", "-u", "user:" + secret, s.URL + "/whoami"}, "> Authorization: Basic <redacted>\n"},
			{[]string{"-H", "Authorization: Bearer " + secret, "-H", "Proxy-Authorization: " + secret, s.URL + "/whoami"},
				"> Authorization: Bearer <redacted>\n"},
		} {
			r := cli(t, "", append(append(args, "-v"), c.args...)...).want(t, 0)
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("%q: stderr lacks %q:\n%s", c.args, c.want, r.stderr)
			}
			// The Digest URL holds the secret in its path: the password
			// itself must not show anywhere else.
			stderr := strings.ReplaceAll(r.stderr, "/user/"+secret+"x/", "/user/PATH/")
			if strings.Contains(stderr, secret) || strings.Contains(stderr, encoded) {
				t.Errorf("%q: the secret shows:\n%s", c.args, r.stderr)
			}
		}
		r := cli(t, "", append(args, "-v", "-H", "Proxy-Authorization: "+secret, s.URL+"/whoami")...)
		if !strings.Contains(r.stderr, "> Proxy-Authorization: <redacted>\n") || strings.Contains(r.stderr, secret) {
			t.Errorf("Proxy-Authorization:\n%s", r.stderr)
		}
	})
}

func TestRedactedHeader(t *testing.T) {
	t.Parallel()
	h := http.Header{"Authorization": {"Basic abc", "token"}, "proxy-authorization": {" Digest x=1"}, "X": {"y"}}
	got := redactedHeader(h)
	if got.Get("Authorization") != "Basic <redacted>" || got["Authorization"][1] != "<redacted>" ||
		got["proxy-authorization"][0] != "Digest <redacted>" || got.Get("X") != "y" {
		t.Errorf("got %v", got)
	}
	if h.Get("Authorization") != "Basic abc" {
		t.Errorf("the header changed: %v", h)
	}
	plain := http.Header{"X": {"y"}}
	if got := redactedHeader(plain); got.Get("X") != "y" {
		t.Errorf("got %v", got)
	}
}

// TestUserPasswordPrompt: -u without a password asks on the terminal; when
// standard input is not one, that is a usage error.
func TestUserPasswordPrompt(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, false)
	r := cli(t, "secret\n", "-u", "user", s.URL+"/basic").want(t, 2)
	if !strings.HasPrefix(r.stderr, `urlsession: (2) option -u: no password given for user "user"`) {
		t.Errorf("stderr: %q", r.stderr)
	}
	wantLog(t, s)

	var prompt string
	c := &client{o: &options{}, askPassword: func(p string) (string, error) {
		prompt = p
		return "typed", nil
	}}
	cred, err := c.userCredential("user")
	if err != nil || cred != (credential{"user", "typed"}) || prompt != "Enter host password for user 'user':" {
		t.Errorf("got %+v, %v, prompt %q", cred, err, prompt)
	}
	c.askPassword = func(string) (string, error) { return "", errors.New("no tty") }
	if _, err := c.userCredential("user"); err == nil {
		t.Error("no error")
	}
	if terminalPassword(strings.NewReader(""), io.Discard) != nil {
		t.Error("a reader is not a terminal")
	}
}

// TestNTLMAndNegotiate: --ntlm answers an NTLM challenge with -u's
// credentials (DOMAIN\user); --negotiate answers a Negotiate challenge
// with a Kerberos ticket from the user's cache (KRB5CCNAME), as curl's
// --negotiate -u : does; without the flag neither is answered.
func TestNTLMAndNegotiate(t *testing.T) {
	ntlm := httptest.NewServer(&authtest.NTLMServer{Domain: "CORP", User: "alice", Password: "pw"})
	defer ntlm.Close()
	r := cli(t, "", "--ntlm", "-u", `CORP\alice:pw`, ntlm.URL+"/x").want(t, 0)
	if r.stdout != "hello alice" {
		t.Errorf("--ntlm: stdout %q", r.stdout)
	}
	cli(t, "", "-f", "-u", `CORP\alice:pw`, ntlm.URL+"/x").want(t, 22)
	cli(t, "", "-f", "--ntlm", "-u", `CORP\alice:wrong`, ntlm.URL+"/x").want(t, 22)

	k := authtest.NewKerberos(t, "localhost", "service key")
	t.Setenv("KRB5CCNAME", "FILE:"+k.WriteCCache(t, k.TGT(t), k.Service(t, "localhost")))
	t.Setenv("KRB5_CONFIG", k.WriteConfig(t))
	krb := httptest.NewServer(spnego.SPNEGOKRB5Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "kerberos ok")
	}), k.Keytab))
	defer krb.Close()
	target := strings.Replace(krb.URL, "127.0.0.1", "localhost", 1)
	if r := cli(t, "", "--negotiate", "-u", ":", target).want(t, 0); r.stdout != "kerberos ok" {
		t.Errorf("--negotiate: stdout %q", r.stdout)
	}
	cli(t, "", "-f", target).want(t, 22)
}

// TestCredentialsNotStored: the credentials never reach the user's
// credential storage: a run in a fresh home writes no file, and the next
// run sends nothing.
func TestCredentialsNotStored(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, false)
	home := t.TempDir()
	cliProcess(t, home, nil, "", "-u", "user:secret", s.URL+"/basic").want(t, 0)
	cliProcess(t, home, nil, "", "--digest", "-u", "user:passwd", s.URL+"/digest-auth/auth/user/passwd/MD5").want(t, 0)
	cliProcess(t, home, nil, "", "--anyauth", "-u", "user:secret", s.URL+"/basic").want(t, 0)
	if files, _ := filesUnder(t, home); len(files) > 0 {
		t.Errorf("files written: %q", files)
	}
	s.requests()
	r := cliProcess(t, home, nil, "", "-w", "%{http_code}", s.URL+"/basic").want(t, 0)
	if !strings.HasSuffix(r.stdout, "401") {
		t.Errorf("next run: %v", r)
	}
	wantLog(t, s, "GET /basic ")
}

// TestDecideTLSChallenges: server trust is accepted with -k and left to
// the default evaluation otherwise; the -E certificate answers a client
// certificate challenge.
func TestDecideTLSChallenges(t *testing.T) {
	t.Parallel()
	trust := &urlsession.ServerTrust{Host: "example.test"}
	ch := &urlsession.Challenge{ProtectionSpace: credstore.ProtectionSpace{Host: "example.test", Port: 443, Protocol: "https",
		AuthenticationMethod: credstore.AuthMethodServerTrust}, ServerTrust: trust}
	a := &authenticator{schemes: authBasic}
	if d, c := a.decide(ch); d != urlsession.PerformDefaultHandling || c != nil {
		t.Errorf("trust without -k: %v %v", d, c)
	}
	a.insecure = true
	if d, c := a.decide(ch); d != urlsession.UseCredential || c == nil || c.Trust != trust {
		t.Errorf("trust with -k: %v %v", d, c)
	}
	ch.ProtectionSpace.AuthenticationMethod = credstore.AuthMethodClientCertificate
	if d, c := a.decide(ch); d != urlsession.PerformDefaultHandling || c != nil {
		t.Errorf("client certificate without -E: %v %v", d, c)
	}
	a.cert = new(tls.Certificate)
	if d, c := a.decide(ch); d != urlsession.UseCredential || c == nil || c.Certificate == nil {
		t.Errorf("client certificate with -E: %v %v", d, c)
	}
	// A proxy's challenge is left to the default handling.
	a.given = &credential{"user", "secret"}
	a.origin, _ = url.Parse("http://example.test/")
	ch.ProtectionSpace = credstore.ProtectionSpace{Host: "proxy.test", Port: 3128, ProxyType: credstore.ProxyHTTP,
		AuthenticationMethod: credstore.AuthMethodHTTPBasic}
	if d, c := a.decide(ch); d != urlsession.PerformDefaultHandling || c != nil {
		t.Errorf("proxy: %v %v", d, c)
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"http://h/x", "http://H:80/y", true},
		{"https://h/", "https://h:443", true},
		{"http://h/", "https://h/", false},
		{"http://h:8080/", "http://h:8081/", false},
		{"http://h/", "http://g/", false},
		{"http://[::1]:80/", "http://[::1]/", true},
	} {
		a, _ := url.Parse(c.a)
		b, _ := url.Parse(c.b)
		if got := sameOrigin(a, b); got != c.want {
			t.Errorf("%s %s: got %v", c.a, c.b, got)
		}
	}
	if u := spaceURL(credstore.ProtectionSpace{Host: "::1", Port: 8080, Protocol: "http"}); u.String() != "http://[::1]:8080" {
		t.Errorf("spaceURL: %v", u)
	}
}

// writeNetrc writes a .netrc file in a new directory and returns its name.
func writeNetrc(t *testing.T, content string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "netrc")
	writeFile(t, name, content)
	return name
}
