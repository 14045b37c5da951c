package main

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/urlsessiontest"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	for _, spec := range []string{
		"example.test:" + port + ":127.0.0.1",
		"+EXAMPLE.test:" + port + ":127.0.0.1",
		"*:" + port + ":127.0.0.1",
		"example.test:" + port + ":[::1],127.0.0.1", // nothing listens on ::1
	} {
		r := cli(t, "", "--resolve", spec, "http://example.test:"+port+"/requestHeaders").want(t, 0)
		if !strings.Contains(r.stdout, `"Host":"example.test:`+port+`"`) {
			t.Errorf("%s: %v", spec, r)
		}
	}
	// Only that host and port.
	cli(t, "", "--resolve", "example.test:1:127.0.0.1", "http://example.test:"+port+"/").want(t, 6)
	// -4 and -6 choose among the addresses.
	cli(t, "", "-4", "--resolve", "example.test:"+port+":[::1],127.0.0.1", "http://example.test:"+port+"/Nepal").want(t, 0)
	cli(t, "", "-6", "--resolve", "example.test:"+port+":127.0.0.1", "http://example.test:"+port+"/Nepal").want(t, 6)
	for _, bad := range []string{"nope", "example.test:http:127.0.0.1", "example.test:80:", "example.test:80:not-an-ip", "example.test:80:1.2.3.4,"} {
		cli(t, "", "--resolve", bad, s.URL).want(t, 2)
	}
}

func TestIPVersion(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	s := httptest.NewUnstartedServer(urlsessiontest.Capitals())
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	r := cli(t, "", "-6", "-w", " %{remote_ip}", s.URL+"/Nepal").want(t, 0)
	if !strings.HasPrefix(r.stdout, "Kathmandu") || !strings.HasSuffix(r.stdout, " ::1") {
		t.Errorf("-6: %v, want the body then the address ::1", r)
	}
	cli(t, "", "--ipv4", s.URL+"/Nepal").want(t, 6)
	v4 := capitals(t)
	cli(t, "", "-4", v4.URL+"/Nepal").want(t, 0)
	cli(t, "", "--ipv6", v4.URL+"/Nepal").want(t, 6)
}

// TestConnectTimeout: --connect-timeout is the configuration's
// ConnectTimeout, which bounds TCP and HTTP/3 connections alike (see
// TestHTTP3DialFlags); alone it sets no dial function of the command's,
// which would keep HTTP/3 from being used.
func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	hanging := func(ctx context.Context, network, addr string) (net.Conn, error) {
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
	for _, args := range [][]string{{"http://x/"}, {"--connect-timeout", "0.05", "http://x/"}} {
		o, err := parseArgs(args)
		if err != nil {
			t.Fatal(err)
		}
		if dialFunc(o, hanging) != nil || udpDialFunc(o) != nil {
			t.Errorf("%q: a dial function without --resolve, -4 or -6", args)
		}
	}
	o, _ := parseArgs([]string{"--connect-timeout", "0.05", "http://x/"})
	if o.connectTimeout != 50*time.Millisecond {
		t.Errorf("--connect-timeout 0.05: %v", o.connectTimeout)
	}
	cli(t, "", "--connect-timeout", "soon", "http://127.0.0.1:1/").want(t, 2)
}

// TestUDPDialFunc: the addresses --resolve, -4 and -6 give HTTP/3
// connections.
func TestUDPDialFunc(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		addr string
		want string // "" for a name that does not resolve
	}{
		{[]string{"--resolve", "h3.test:443:127.0.0.2,127.0.0.1"}, "h3.test:443", "127.0.0.2:443"},
		{[]string{"--resolve", "*:443:127.0.0.3"}, "H3.test:443", "127.0.0.3:443"},
		{[]string{"-4", "--resolve", "h3.test:443:[::1],127.0.0.1"}, "h3.test:443", "127.0.0.1:443"},
		{[]string{"-6", "--resolve", "h3.test:443:127.0.0.1,[::1]"}, "h3.test:443", "[::1]:443"},
		{[]string{"-6", "--resolve", "h3.test:443:127.0.0.1"}, "h3.test:443", ""},
		{[]string{"-6"}, "127.0.0.1:443", ""},
		{[]string{"-4"}, "127.0.0.1:8443", "127.0.0.1:8443"},
		{[]string{"-4"}, "localhost:443", "127.0.0.1:443"},
	} {
		o, err := parseArgs(append(c.args, "https://x/"))
		if err != nil {
			t.Fatal(err)
		}
		pc, raddr, err := udpDialFunc(o)(context.Background(), "udp", c.addr)
		if c.want == "" {
			var dns *net.DNSError
			if !errors.As(err, &dns) || !dns.IsNotFound {
				t.Errorf("%q %s: got %v %v, want a name that does not resolve", c.args, c.addr, raddr, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q %s: %v", c.args, c.addr, err)
			continue
		}
		if raddr.String() != c.want {
			t.Errorf("%q %s: to %s, want %s", c.args, c.addr, raddr, c.want)
		}
		pc.Close()
	}
}
