package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/proxy"
	"github.com/urlsession-go/urlsession/internal/proxy/proxytest"
)

func TestParse(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"proxy.example:3128", "http://proxy.example:3128"},
		{"proxy.example", "http://proxy.example:1080"},
		{"https://p.example", "https://p.example:443"},
		{"socks5h://u:secret@127.0.0.1:9050", "socks5h://u:xxxxx@127.0.0.1:9050"},
		{"SOCKS4A://[::1]:1081", "socks4a://[::1]:1081"},
		{"socks://h", "socks5h://h:1080"},
		{"", "DIRECT"},
	} {
		p, err := proxy.Parse(c.in)
		if err != nil || p.String() != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %s", c.in, p, err, c.want)
		}
	}
	for _, in := range []string{"ftp://h:21", "http://:80", "http://h:99999", "http://u:topsecret@h:1/path", "http://u:topsecret@h:x"} {
		_, err := proxy.Parse(in)
		if !errors.Is(err, proxy.ErrBadProxyURL) {
			t.Errorf("Parse(%q) = %v; want ErrBadProxyURL", in, err)
		} else if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("Parse(%q) error shows the password: %v", in, err)
		}
	}
}

func TestParsePAC(t *testing.T) {
	got := proxy.ParsePAC("PROXY a:8080; socks b:1080;  SOCKS4 c; HTTPS d; BOGUS x; PROXY; DIRECT")
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	want := []string{"http://a:8080", "socks5h://b:1080", "socks4a://c:1080", "https://d:443", "DIRECT"}
	if !slices.Equal(s, want) {
		t.Errorf("ParsePAC = %q; want %q", s, want)
	}
	if got := proxy.ParsePAC("nonsense"); len(got) != 1 || !got[0].IsDirect() {
		t.Errorf("ParsePAC(nonsense) = %v; want DIRECT", got)
	}
}

func TestExceptions(t *testing.T) {
	e, bad := proxy.ParseExceptions("example.com, .corp.test ,*.wild.test,10.0.0.0/8, 169.254/16, ::1, [fd00::]/8, internal:8080, *.db-??.test", "<local>")
	if len(bad) != 0 {
		t.Fatalf("bad patterns %q", bad)
	}
	for _, c := range []struct {
		host string
		port int
		want bool
	}{
		{"example.com", 443, true},
		{"www.example.com", 80, true},
		{"badexample.com", 80, false},
		{"corp.test", 80, true},
		{"a.b.corp.test", 80, true},
		{"x.wild.test", 80, true},
		{"wild.test", 80, true},
		{"10.1.2.3", 80, true},
		{"11.1.2.3", 80, false},
		{"169.254.1.1", 80, true},
		{"::1", 80, true},
		{"[fd12::1]", 80, true},
		{"internal", 8080, true},
		{"internal.example.org", 8080, false},
		{"plainhost", 80, true},
		{"x.db-01.test", 80, true},
		{"x.db-1.test", 80, false},
		{"EXAMPLE.COM.", 80, true},
	} {
		if got := e.Match(c.host, c.port); got != c.want {
			t.Errorf("Match(%q, %d) = %v; want %v", c.host, c.port, got, c.want)
		}
	}
	e, _ = proxy.ParseExceptions("internal.test:8080")
	if e.Match("internal.test", 80) || !e.Match("internal.test", 8080) {
		t.Error("a port restricts the pattern")
	}
	all, _ := proxy.ParseExceptions("*")
	if !all.Match("anything.example", 1) {
		t.Error(`"*" excepts everything`)
	}
	if _, bad := proxy.ParseExceptions("a:0", "1.2.3.4/40"); len(bad) != 2 {
		t.Errorf("bad patterns = %q; want 2", bad)
	}
}

func TestShExpMatch(t *testing.T) {
	for _, c := range []struct {
		s, pat string
		want   bool
	}{
		{"http://home.netscape.com/people/ari/index.html", "*/ari/*", true},
		{"http://home.netscape.com/people/montulli/index.html", "*/ari/*", false},
		{"abc", "a?c", true},
		{"abc", "a*", true},
		{"", "*", true},
		{"abc", "*d", false},
		{strings.Repeat("a", 50), strings.Repeat("*a", 20) + "b", false},
	} {
		if got := proxy.ShExpMatch(c.s, c.pat); got != c.want {
			t.Errorf("ShExpMatch(%q, %q) = %v", c.s, c.pat, got)
		}
	}
}

func TestFromEnvironment(t *testing.T) {
	env := map[string]string{
		"HTTP_PROXY":  "http://ignored:1",
		"HTTPS_PROXY": "https://secure.example:8443",
		"ALL_PROXY":   "socks5h://all.example",
		"no_proxy":    "localhost,.internal.test",
		"NO_PROXY":    "ignored.test",
		"ftp_proxy":   "http://u:pw@[bad",
	}
	c, bad := proxy.FromEnvironment(func(k string) string { return env[k] })
	if !slices.Equal(bad, []string{"ftp_proxy"}) {
		t.Errorf("bad = %q", bad)
	}
	ctx := context.Background()
	for _, x := range []struct{ url, want string }{
		{"http://a.example/", "socks5h://all.example:1080"}, // HTTP_PROXY is ignored, as curl does
		{"https://a.example/", "https://secure.example:8443"},
		{"https://x.internal.test/", "DIRECT"},
		{"http://localhost:8080/", "DIRECT"},
		{"https://ignored.test/", "https://secure.example:8443"},
	} {
		u, _ := url.Parse(x.url)
		if got := c.For(ctx, u); len(got) != 1 || got[0].String() != x.want {
			t.Errorf("For(%s) = %v; want %s", x.url, got, x.want)
		}
	}
	env = map[string]string{"http_proxy": "lower.example:3128", "https_proxy": "h.example:1", "HTTPS_PROXY": "H.example:2"}
	c, _ = proxy.FromEnvironment(func(k string) string { return env[k] })
	if c.HTTP.String() != "http://lower.example:3128" || c.HTTPS.Addr != "h.example:1" {
		t.Errorf("lower case first: %v %v", c.HTTP, c.HTTPS)
	}
	if !proxy.EnvironmentSet(func(k string) string { return env[k] }) || proxy.EnvironmentSet(func(string) string { return "" }) {
		t.Error("EnvironmentSet")
	}
}

func TestFromGSettings(t *testing.T) {
	out := `org.gnome.system.proxy autoconfig-url ''
org.gnome.system.proxy ignore-hosts ['localhost', '127.0.0.0/8', '::1', '*.corp.test']
org.gnome.system.proxy mode 'manual'
org.gnome.system.proxy use-same-proxy false
org.gnome.system.proxy.ftp host ''
org.gnome.system.proxy.ftp port 0
org.gnome.system.proxy.http authentication-password 'pa\'ss'
org.gnome.system.proxy.http authentication-user 'me'
org.gnome.system.proxy.http enabled false
org.gnome.system.proxy.http host 'proxy.corp.example'
org.gnome.system.proxy.http port 3128
org.gnome.system.proxy.http use-authentication true
org.gnome.system.proxy.https host 'proxy.corp.example'
org.gnome.system.proxy.https port uint32 3129
org.gnome.system.proxy.socks host 'socks.corp.example'
org.gnome.system.proxy.socks port 1080
`
	c, pac := proxy.FromGSettings(out)
	if c == nil || pac != "" {
		t.Fatalf("FromGSettings = %v, %q", c, pac)
	}
	if got := c.HTTP.URL().String(); got != "http://me:pa%27ss@proxy.corp.example:3128" {
		t.Errorf("HTTP = %s", got)
	}
	if c.HTTPS.String() != "http://proxy.corp.example:3129" || c.SOCKS.String() != "socks5h://socks.corp.example:1080" || !c.FTP.IsDirect() {
		t.Errorf("HTTPS %v SOCKS %v FTP %v", c.HTTPS, c.SOCKS, c.FTP)
	}
	if !c.Exceptions.Match("a.corp.test", 443) || !c.Exceptions.Match("127.0.0.9", 80) || c.Exceptions.Match("example.org", 80) {
		t.Error("ignore-hosts")
	}
	c, pac = proxy.FromGSettings("org.gnome.system.proxy mode 'auto'\norg.gnome.system.proxy autoconfig-url 'http://wpad.test/wpad.dat'\n")
	if c != nil || pac != "http://wpad.test/wpad.dat" {
		t.Errorf("auto = %v, %q", c, pac)
	}
	if c, pac = proxy.FromGSettings("org.gnome.system.proxy mode 'none'\n"); c != nil || pac != "" {
		t.Errorf("none = %v, %q", c, pac)
	}
}

// origin is a loopback server answering its name and the request line.
func origin(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "origin %s %s auth=%q", r.Method, r.URL.Path, r.Header.Get("Proxy-Authorization"))
	}))
	t.Cleanup(s.Close)
	return s
}

// get sends one request on conn and returns the body.
func get(t *testing.T, conn net.Conn, host string) string {
	t.Helper()
	defer conn.Close()
	fmt.Fprintf(conn, "GET /x HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	return body
}

func code(err error) int {
	if fe, ok := errors.AsType[*fail.Error](err); ok {
		return fe.Code
	}
	return 0
}

func TestDialConnect(t *testing.T) {
	o := origin(t)
	_, port, _ := net.SplitHostPort(o.Listener.Addr().String())
	hp := proxytest.NewHTTPProxy(t)
	p, _ := proxy.Parse(hp.URL())
	var d proxy.Dialer
	ctx := context.Background()
	conn, err := d.Dial(ctx, p, "origin.test:"+port, http.Header{"User-Agent": {"t"}})
	if err != nil {
		t.Fatal(err)
	}
	if body := get(t, conn, "origin.test"); body != `origin GET /x auth=""` {
		t.Errorf("body %q", body)
	}

	hp.User, hp.Password = "u", "pw"
	_, err = d.Dial(ctx, p, "origin.test:"+port, nil)
	ae, ok := errors.AsType[*proxy.AuthRequiredError](err)
	if !ok || ae.Response.StatusCode != 407 || !strings.HasPrefix(ae.Response.Header.Get("Proxy-Authenticate"), "Basic") {
		t.Fatalf("err = %v; want AuthRequiredError", err)
	}
	conn, err = d.Dial(ctx, p, "origin.test:"+port, http.Header{"Proxy-Authorization": {"Basic dTpwdw=="}})
	if err != nil {
		t.Fatal(err)
	}
	// The origin never sees the proxy's credentials.
	if body := get(t, conn, "origin.test"); body != `origin GET /x auth=""` {
		t.Errorf("body %q", body)
	}
	if _, err := d.Dial(ctx, p, "x:1", http.Header{"X": {"a\r\nB: c"}}); err == nil {
		t.Error("a header with CRLF was sent")
	}
}

func TestDialConnectTLSProxy(t *testing.T) {
	o := origin(t)
	hp := proxytest.NewHTTPProxy(t)
	// A TLS front for the proxy: an https proxy.
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	serverCfg, clientCfg := srv.TLS, srv.Client().Transport.(*http.Transport).TLSClientConfig
	srv.Close() // only its certificate is used
	tlsLn := proxytest.TLSFront(t, serverCfg, hp.Addr)
	p, _ := proxy.Parse("https://" + tlsLn)
	d := proxy.Dialer{TLSConfig: clientCfg}
	conn, err := d.Dial(context.Background(), p, o.Listener.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := get(t, conn, "o"); !strings.HasPrefix(body, "origin GET /x") {
		t.Errorf("body %q", body)
	}
	// Without the proxy's root, the TLS handshake fails.
	var d2 proxy.Dialer
	if _, err := d2.Dial(context.Background(), p, o.Listener.Addr().String(), nil); err == nil {
		t.Error("untrusted proxy certificate accepted")
	}
}

func TestDialSOCKS(t *testing.T) {
	o := origin(t)
	_, port, _ := net.SplitHostPort(o.Listener.Addr().String())
	s := proxytest.NewSOCKS(t)
	var d proxy.Dialer
	ctx := context.Background()
	for _, c := range []struct {
		scheme, target, seen string
	}{
		{"socks5h", "origin.test:" + port, "v5 name origin.test:" + port},
		{"socks5", "127.0.0.1:" + port, "v5 ip 127.0.0.1:" + port},
		{"socks5", "localhost:" + port, "v5 ip 127.0.0.1:" + port},
		{"socks4", "127.0.0.1:" + port, "v4 ip 127.0.0.1:" + port},
		{"socks4a", "origin.test:" + port, "v4a name origin.test:" + port},
	} {
		p, _ := proxy.Parse(c.scheme + "://" + s.Addr)
		conn, err := d.Dial(ctx, p, c.target, nil)
		if err != nil {
			t.Errorf("%s: %v", c.scheme, err)
			continue
		}
		if body := get(t, conn, "o"); !strings.HasPrefix(body, "origin GET /x") {
			t.Errorf("%s: body %q", c.scheme, body)
		}
		if got := s.Targets(); got[len(got)-1] != c.seen {
			t.Errorf("%s: gateway saw %q; want %q", c.scheme, got[len(got)-1], c.seen)
		}
	}
	s.User, s.Password = "user", "pass"
	p, _ := proxy.Parse("socks5h://user:wrong@" + s.Addr)
	if _, err := d.Dial(ctx, p, "origin.test:"+port, nil); code(err) != -1013 || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v (code %d)", err, code(err))
	}
	p, _ = proxy.Parse("socks5h://" + s.Addr)
	if _, err := d.Dial(ctx, p, "origin.test:"+port, nil); code(err) != -1013 {
		t.Errorf("no password: %v", err)
	}
	p, _ = proxy.Parse("socks5h://user:pass@" + s.Addr)
	conn, err := d.Dial(ctx, p, "origin.test:"+port, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	// The gateway cannot reach a non-loopback address: refused.
	if _, err := d.Dial(ctx, p, "192.0.2.1:80", nil); code(err) != -1004 {
		t.Errorf("refused target: %v", err)
	}
}

func TestDialFailures(t *testing.T) {
	var d proxy.Dialer
	ctx := context.Background()
	refusing := proxytest.Refusing(t)
	for _, scheme := range []string{"http", "socks5"} {
		p, _ := proxy.Parse(scheme + "://" + refusing)
		_, err := d.Dial(ctx, p, "127.0.0.1:80", nil)
		pe, ok := errors.AsType[*proxy.Error](err)
		if !ok || !pe.Unreachable {
			t.Errorf("%s refusing: %v; want an unreachable proxy", scheme, err)
		}
	}
	for _, c := range []struct {
		scheme, reply string
		code          int
	}{
		{"http", "garbage\r\n\r\n", -1011},
		{"http", "", -1005},
		{"http", "HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n", -1004},
		{"socks5", "\x04\x00", -1011},
		{"socks5", "", -1005},
		{"socks4", "\x05\x5a\x00\x00\x00\x00\x00\x00", -1011},
		{"socks4", "\x00\x5b\x00\x00\x00\x00\x00\x00", -1004},
	} {
		p, _ := proxy.Parse(c.scheme + "://" + proxytest.Garbage(t, c.reply))
		_, err := d.Dial(ctx, p, "127.0.0.1:80", nil)
		if code(err) != c.code {
			t.Errorf("%s answering %q: %v (code %d); want %d", c.scheme, c.reply, err, code(err), c.code)
		}
	}
	// A proxy that never answers: cancelling ends the handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	p, _ := proxy.Parse("http://" + ln.Addr().String())
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { _, err := d.Dial(cctx, p, "127.0.0.1:80", nil); errc <- err }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	dctx, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := d.Dial(dctx, p, "127.0.0.1:80", nil); err == nil {
		t.Error("a silent proxy did not time out")
	}
}

func TestGNOMEDesktop(t *testing.T) {
	for in, want := range map[string]bool{"GNOME": true, "ubuntu:GNOME": true, "X-Cinnamon": true, "KDE": false, "": false, "XFCE": false} {
		if got := proxy.GNOMEDesktop(in); got != want {
			t.Errorf("GNOMEDesktop(%q) = %v", in, got)
		}
	}
	// Outside a GNOME desktop gsettings is not run.
	if _, err := proxy.GSettingsOutput(context.Background(), func(string) string { return "KDE" }); !errors.Is(err, proxy.ErrNoDesktopSettings) {
		t.Errorf("GSettingsOutput outside GNOME: %v", err)
	}
}
