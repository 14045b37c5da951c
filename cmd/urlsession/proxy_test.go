package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urlsession-go/urlsession/internal/proxy/proxytest"
)

// proxyOrigin answers with the host asked for and any Proxy-Authorization
// it received (there must never be one).
func proxyOrigin(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s proxy-auth=%q", r.Host, r.Header.Get("Proxy-Authorization"))
	}))
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	return s, u.Port()
}

func TestProxyFlags(t *testing.T) {
	t.Parallel()
	_, port := proxyOrigin(t)
	target := "http://origin.test:" + port + "/x"
	want := "origin.test:" + port + ` proxy-auth=""`
	hp := proxytest.NewHTTPProxy(t)
	sp := proxytest.NewSOCKS(t)
	for _, args := range [][]string{
		{"-x", hp.Addr},
		{"--proxy", "http://" + hp.Addr},
		{"-x", "socks5h://" + sp.Addr},
		{"-x", "socks4a://" + sp.Addr},
		{"--socks5-hostname", sp.Addr},
		{"-x", "http://127.0.0.1:1", "--socks5-hostname", sp.Addr},
	} {
		r := cli(t, "", append(args, target)...).want(t, 0)
		if r.stdout != want {
			t.Errorf("%q: %v", args, r)
		}
	}
	if n := len(hp.Requests()); n != 2 {
		t.Errorf("the HTTP proxy saw %d requests; want 2", n)
	}
	if got := sp.Targets(); len(got) != 4 || got[0] != "v5 name origin.test:"+port || got[1] != "v4a name origin.test:"+port {
		t.Errorf("gateway targets %q", got)
	}
	// socks4 and socks5 resolve locally: an address.
	s4, _ := url.Parse(strings.Replace(target, "origin.test", "127.0.0.1", 1))
	for _, scheme := range []string{"socks4", "socks5"} {
		cli(t, "", "-x", scheme+"://"+sp.Addr, s4.String()).want(t, 0)
	}
	// --noproxy "*" and -x "" go direct: the gateway sees nothing more.
	before := len(sp.Targets())
	cli(t, "", "-x", "socks5://"+sp.Addr, "--noproxy", "*", s4.String()).want(t, 0)
	cli(t, "", "-x", "socks5://"+sp.Addr, "--noproxy", "localhost,127.0.0.0/8", s4.String()).want(t, 0)
	cli(t, "", "-x", "", s4.String()).want(t, 0)
	if n := len(sp.Targets()); n != before {
		t.Errorf("excepted hosts went through the gateway (%d)", n-before)
	}
	// A proxy URL that cannot be used is a usage error, without its
	// password.
	r := cli(t, "", "-x", "gopher://u:sesame@h:1", target).want(t, 2)
	if strings.Contains(r.stderr, "sesame") || !strings.Contains(r.stderr, "--proxy") {
		t.Errorf("bad -x: %v", r)
	}
	// A proxy that cannot be connected to: status 7.
	cli(t, "", "-x", "http://"+proxytest.Refusing(t), target).want(t, 7)
}

func TestProxyUserFlags(t *testing.T) {
	t.Parallel()
	_, port := proxyOrigin(t)
	target := "http://origin.test:" + port + "/x"
	want := "origin.test:" + port + ` proxy-auth=""`
	for _, scheme := range []string{"Basic", "Digest"} {
		hp := proxytest.NewHTTPProxy(t)
		hp.User, hp.Password, hp.Scheme = "pu", "pp", scheme
		// Without -U the 407 is the response; -f makes it status 22.
		r := cli(t, "", "-x", hp.Addr, "-w", "%{http_code}", target).want(t, 0)
		if !strings.HasSuffix(r.stdout, "407") {
			t.Errorf("%s without -U: %v", scheme, r)
		}
		cli(t, "", "-f", "-x", hp.Addr, target).want(t, 22)
		args := []string{"-x", hp.Addr, "-U", "pu:pp"}
		if scheme == "Digest" {
			args = append(args, "--proxy-digest")
		}
		r = cli(t, "", append(args, target)...).want(t, 0)
		if r.stdout != want {
			t.Errorf("%s with -U: %v", scheme, r)
		}
		// A wrong password: tried once, then the 407.
		r = cli(t, "", "-x", hp.Addr, "--proxy-user", "pu:wrong", "--proxy-"+strings.ToLower(scheme), "-w", "%{http_code}", target).want(t, 0)
		if !strings.HasSuffix(r.stdout, "407") {
			t.Errorf("%s wrong password: %v", scheme, r)
		}
		// The URL's credentials work as -U does.
		r = cli(t, "", "-x", "http://pu:pp@"+hp.Addr, target).want(t, 0)
		if r.stdout != want {
			t.Errorf("%s URL credentials: %v", scheme, r)
		}
	}
	// Basic is sent with the first request; --proxy-digest sends nothing
	// before the 407.
	hp := proxytest.NewHTTPProxy(t)
	hp.User, hp.Password, hp.Scheme = "pu", "pp", "Digest"
	cli(t, "", "-x", hp.Addr, "-U", "pu:pp", "--proxy-digest", target).want(t, 0)
	if r := hp.Requests(); len(r) != 2 || r[0].ProxyAuthorization != "" || !strings.HasPrefix(r[1].ProxyAuthorization, "Digest ") {
		t.Errorf("--proxy-digest requests %+v", r)
	}
	sp := proxytest.NewSOCKS(t)
	sp.User, sp.Password = "su", "sp"
	cli(t, "", "-x", "socks5h://"+sp.Addr, "-U", "su:sp", target).want(t, 0)
}

func TestProxyPACFlag(t *testing.T) {
	t.Parallel()
	_, port := proxyOrigin(t)
	sp := proxytest.NewSOCKS(t)
	pac := filepath.Join(t.TempDir(), "proxy.pac")
	script := fmt.Sprintf(`function FindProxyForURL(url, host) {
		if (shExpMatch(host, "*.pac.test")) return "PROXY %s; SOCKS5 %s";
		return "DIRECT";
	}`, proxytest.Refusing(t), sp.Addr)
	if err := os.WriteFile(pac, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "", "--pac", "file://"+pac, "http://www.pac.test:"+port+"/").want(t, 0)
	if r.stdout != "www.pac.test:"+port+` proxy-auth=""` {
		t.Errorf("--pac: %v", r)
	}
	if got := sp.Targets(); len(got) != 1 {
		t.Errorf("gateway targets %q", got)
	}
	cli(t, "", "--pac", "gopher://x/p.pac", "http://127.0.0.1:"+port+"/").want(t, 2)
}

func TestProxyInsecureFlag(t *testing.T) {
	t.Parallel()
	_, port := proxyOrigin(t)
	front := httptest.NewUnstartedServer(nil)
	front.StartTLS()
	serverCfg := front.TLS
	front.Close()
	hp := proxytest.NewHTTPProxy(t)
	addr := proxytest.TLSFront(t, serverCfg, hp.Addr)
	target := "http://origin.test:" + port + "/x"
	cli(t, "", "-x", "https://"+addr, target).want(t, 60)
	r := cli(t, "", "-x", "https://"+addr, "--proxy-insecure", target).want(t, 0)
	if r.stdout != "origin.test:"+port+` proxy-auth=""` {
		t.Errorf("--proxy-insecure: %v", r)
	}
}

func TestProxyNTLMFlag(t *testing.T) {
	t.Parallel()
	_, port := proxyOrigin(t)
	target := "http://origin.test:" + port + "/x"
	hp := proxytest.NewHTTPProxy(t)
	hp.User, hp.Password, hp.Scheme = `CORP\alice`, "Pa$$w0rd", "NTLM"
	r := cli(t, "", "-x", hp.Addr, "-U", `CORP\alice:Pa$$w0rd`, "--proxy-ntlm", target).want(t, 0)
	if r.stdout != "origin.test:"+port+` proxy-auth=""` {
		t.Errorf("--proxy-ntlm: %v", r)
	}
	// Without --proxy-ntlm the NTLM challenge is not answered: the 407.
	r = cli(t, "", "-x", hp.Addr, "-U", `CORP\alice:Pa$$w0rd`, "-w", "%{http_code}", target).want(t, 0)
	if !strings.HasSuffix(r.stdout, "407") {
		t.Errorf("NTLM without --proxy-ntlm: %v", r)
	}
}
