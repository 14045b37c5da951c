//go:build unix

package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// peerServer answers with the address the request came from.
func peerServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.RemoteAddr)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestParseInterface(t *testing.T) {
	lo := loopbackName(t)
	for _, c := range []struct {
		arg          string
		device, host string
		bad          bool
	}{
		{"if!eth9", "eth9", "", false},
		{"host!10.0.0.1", "", "10.0.0.1", false},
		{"host!example.com", "", "example.com", false},
		{"ifhost!" + lo + "!127.0.0.1", lo, "127.0.0.1", false},
		{lo, lo, "", false},
		{"127.0.0.2", "", "127.0.0.2", false},
		{"no-such-interface-9", "", "no-such-interface-9", false},
		{"", "", "", true},
		{"ifhost!" + lo, "", "", true},
		{"bogus!x", "", "", true},
	} {
		var b bindSpec
		err := parseInterface(c.arg, &b)
		if (err != nil) != c.bad || !c.bad && (b.device != c.device || b.host != c.host) {
			t.Errorf("%q: %+v, %v; want device %q, host %q, error %v", c.arg, b, err, c.device, c.host, c.bad)
		}
	}
	for _, c := range []struct {
		arg      string
		from, to int
		bad      bool
	}{
		{"4000", 4000, 4000, false},
		{"4000-4010", 4000, 4010, false},
		{"4010-4000", 0, 0, true},
		{"0", 0, 0, true},
		{"70000", 0, 0, true},
		{"x", 0, 0, true},
		{"4000-", 0, 0, true},
	} {
		var b bindSpec
		err := parseLocalPort(c.arg, &b)
		if (err != nil) != c.bad || !c.bad && (b.fromPort != c.from || b.toPort != c.to) {
			t.Errorf("--local-port %q: %d-%d, %v", c.arg, b.fromPort, b.toPort, err)
		}
	}
}

// loopbackName returns the name of the loopback interface.
func loopbackName(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 {
			return ifi.Name
		}
	}
	t.Skip("no loopback interface")
	return ""
}

// --interface and --local-port choose where the connection comes from; one
// that cannot be used fails with 45, as with curl.
func TestInterfaceAndLocalPort(t *testing.T) {
	t.Parallel()
	s := peerServer(t)
	from := func(args ...string) (string, int) {
		t.Helper()
		r := cli(t, "", append(args, s.URL+"/")...).want(t, 0)
		host, port, err := net.SplitHostPort(r.stdout)
		if err != nil {
			t.Fatalf("%q: the server saw %q", args, r.stdout)
		}
		n, _ := strconv.Atoi(port)
		return host, n
	}
	if host, _ := from("--interface", "127.0.0.1"); host != "127.0.0.1" {
		t.Errorf("--interface 127.0.0.1: from %s", host)
	}
	if host, _ := from("--interface", "host!localhost"); host != "127.0.0.1" {
		t.Errorf("--interface host!localhost: from %s", host)
	}
	lo := loopbackName(t)
	if host, _ := from("--interface", "if!"+lo); host != "127.0.0.1" {
		t.Errorf("--interface if!%s: from %s", lo, host)
	}
	if host, port := from("--interface", lo, "--local-port", "42100-42199"); host != "127.0.0.1" || port < 42100 || port > 42199 {
		t.Errorf("--interface %s --local-port 42100-42199: from %s:%d", lo, host, port)
	}
	if _, port := from("--local-port", "42200-42299"); port < 42200 || port > 42299 {
		t.Errorf("--local-port 42200-42299: from port %d", port)
	}
	// A port in use is passed over.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bp := busy.Addr().(*net.TCPAddr).Port
	if top := min(bp+50, 65535); top > bp {
		if _, port := from("--local-port", fmt.Sprintf("%d-%d", bp, top)); port <= bp || port > top {
			t.Errorf("--local-port %d-%d with %d in use: from port %d", bp, top, bp, port)
		}
	}

	for _, c := range []struct {
		args []string
		why  string
	}{
		{[]string{"--interface", "if!no-such-interface-9"}, "no-such-interface-9"},
		{[]string{"--interface", "192.0.2.1"}, "192.0.2.1"}, // TEST-NET-1: no address of this machine
		{[]string{"--interface", "host!::1"}, "::1 has no IPv4 address"},
		{[]string{"--local-port", fmt.Sprint(bp)}, fmt.Sprint(bp)},
	} {
		r := cli(t, "", append(c.args, s.URL+"/")...).want(t, 45)
		if !strings.Contains(r.stderr, "cannot bind the connection") || !strings.Contains(r.stderr, c.why) {
			t.Errorf("%q: stderr %q; want the binding's failure, naming %q", c.args, r.stderr, c.why)
		}
	}
	cli(t, "", "--interface", "127.0.0.1", "--http3", s.URL).want(t, 2)
	cli(t, "", "--local-port", "0", s.URL).want(t, 2)
}
