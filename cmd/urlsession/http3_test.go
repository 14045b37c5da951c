package main

import (
	"crypto/tls"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// capitalsH3 serves the capitals over HTTP/2 on TCP and HTTP/3 on the same
// port number over UDP, on 127.0.0.1.
func capitalsH3(t *testing.T) *httptest.Server {
	t.Helper()
	for attempt := 0; ; attempt++ {
		s := capitalsTLS(t)
		port := s.Listener.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			if attempt == 20 {
				t.Fatal(err)
			}
			continue
		}
		h3 := &http3.Server{
			Handler:   urlsessiontest.Capitals(),
			TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: s.TLS.Certificates}),
		}
		go h3.Serve(udp)
		t.Cleanup(func() { h3.Close(); udp.Close() })
		return s
	}
}

func TestHTTP3Flags(t *testing.T) {
	t.Parallel()
	s := capitalsH3(t)
	r := cli(t, "", "-k", "--http3-only", "-v", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" {
		t.Errorf("--http3-only: got %v", r)
	}
	for _, want := range []string{"> GET /Nepal HTTP/3\n", "< HTTP/3 200 OK\n", "* protocol h3, ", "TLS 1.3"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--http3-only: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// --http3 races TCP: a busy machine may decide for TCP, so both are
	// right, but nothing else.
	r = cli(t, "", "-k", "--http3", "-v", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" || !strings.Contains(r.stderr, "* protocol h3, ") && !strings.Contains(r.stderr, "* protocol h2, ") {
		t.Errorf("--http3: got %v", r)
	}
	// The last of --http1.1, --http2, --http3 and --http3-only wins; without
	// any, no HTTP/3, as with curl.
	for _, c := range []struct {
		args  []string
		proto string
	}{
		{nil, "h2"},
		{[]string{"--http3", "--http2"}, "h2"},
		{[]string{"--http3-only", "--http1.1"}, "http/1.1"},
		{[]string{"--http1.1", "--http3-only"}, "h3"},
	} {
		args := append(append([]string{"-k", "-v"}, c.args...), s.URL+"/Nepal")
		r := cli(t, "", args...).want(t, 0)
		if !strings.Contains(r.stderr, "* protocol "+c.proto+", ") {
			t.Errorf("%v: want %s, stderr:\n%s", c.args, c.proto, r.stderr)
		}
	}
}

// TestHTTP3FlagFallback: --http3 goes over TCP when nothing answers over
// UDP; --http3-only fails with exit status 7 where HTTP/3 cannot be used.
func TestHTTP3FlagFallback(t *testing.T) {
	t.Parallel()
	s := capitalsTLS(t) // nothing on its UDP port
	r := cli(t, "", "-k", "--http3", "-v", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" || !strings.Contains(r.stderr, "* protocol h2, ") {
		t.Errorf("--http3 without a QUIC server: %v", r)
	}
	plain := capitals(t)
	r = cli(t, "", "--http3-only", plain.URL+"/Nepal").want(t, 7)
	if !strings.Contains(r.stderr, "HTTP/3") {
		t.Errorf("stderr: %q", r.stderr)
	}
}

// TestHTTP3DialFlags: --resolve, -4, -6 and --connect-timeout apply to
// HTTP/3 connections.
func TestHTTP3DialFlags(t *testing.T) {
	t.Parallel()
	s := capitalsH3(t)
	port := strconv.Itoa(s.Listener.Addr().(*net.TCPAddr).Port)
	url := "https://h3.test:" + port + "/Nepal"
	for _, args := range [][]string{
		{"--resolve", "h3.test:" + port + ":127.0.0.1"},
		{"--resolve", "*:" + port + ":127.0.0.1", "--connect-timeout", "20"},
		{"-4", "--resolve", "h3.test:" + port + ":[::1],127.0.0.1"},
	} {
		args := append(append([]string{"-k", "-v", "--http3-only"}, args...), url)
		r := cli(t, "", args...).want(t, 0)
		if r.stdout != "Kathmandu" || !strings.Contains(r.stderr, "* protocol h3, ") {
			t.Errorf("%q: %v", args, r)
		}
	}
	// No address of the version asked for: status 6, as over TCP.
	cli(t, "", "-k", "--http3-only", "-6", "--resolve", "h3.test:"+port+":127.0.0.1", url).want(t, 6)
	cli(t, "", "-k", "--http3-only", "-6", strings.Replace(url, "h3.test", "127.0.0.1", 1)).want(t, 6)
	// Nothing on the UDP port: --http3 falls back to TCP, to the address
	// --resolve gives.
	tcp := capitalsTLS(t)
	tport := strconv.Itoa(tcp.Listener.Addr().(*net.TCPAddr).Port)
	r := cli(t, "", "-k", "-v", "--http3", "--resolve", "h3.test:"+tport+":127.0.0.1", "https://h3.test:"+tport+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" || !strings.Contains(r.stderr, "* protocol h2, ") {
		t.Errorf("--http3 fallback with --resolve: %v", r)
	}
}

// TestHTTP3ConnectTimeoutFlag: with --http3-only, a server that never
// answers over UDP is status 28 once --connect-timeout has passed.
func TestHTTP3ConnectTimeoutFlag(t *testing.T) {
	t.Parallel()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	go func() { // a black hole: reads and drops
		buf := make([]byte, 2048)
		for {
			if _, _, err := udp.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	url := "https://127.0.0.1:" + strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port) + "/"
	start := time.Now()
	cli(t, "", "-k", "--http3-only", "--connect-timeout", "0.3", url).want(t, 28)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("status 28 after %v, want it after about 0.3 s (the handshake's own limit is 5 s)", d)
	}
}
