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

// TestConnectTimeout: --connect-timeout bounds each connection attempt.
func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	o, err := parseArgs([]string{"--connect-timeout", "0.05", "http://x/"})
	if err != nil {
		t.Fatal(err)
	}
	var deadline time.Time
	hanging := func(ctx context.Context, network, addr string) (net.Conn, error) {
		deadline, _ = ctx.Deadline()
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
	start := time.Now()
	_, err = dialFunc(o, hanging)(context.Background(), "tcp", "x:80")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("got %v, want a timeout", err)
	}
	if deadline.IsZero() || deadline.Sub(start) > time.Second {
		t.Errorf("deadline %v after the start", deadline.Sub(start))
	}
	// Without the flags that need it, the session dials as it would.
	if o, _ := parseArgs([]string{"http://x/"}); dialFunc(o, hanging) != nil {
		t.Error("a dial function without --connect-timeout, --resolve, -4 or -6")
	}
	cli(t, "", "--connect-timeout", "soon", "http://127.0.0.1:1/").want(t, 2)
}
