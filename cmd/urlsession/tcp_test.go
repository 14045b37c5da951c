package main

import (
	"crypto/tls"
	"io"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// tcpEcho serves an echo on loopback, over TLS when cert is not nil,
// answering the peer's end of input with its own.
func tcpEcho(t *testing.T, cert *tls.Certificate) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				if cert != nil {
					tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*cert}})
					if tc.Handshake() != nil {
						return
					}
					io.Copy(tc, tc)
					tc.CloseWrite()
					return
				}
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			})
		}
	})
	return ln.Addr().String()
}

// testCert is httptest's certificate, for 127.0.0.1.
func testCert(t *testing.T) tls.Certificate {
	s := httptest.NewTLSServer(nil)
	defer s.Close()
	return s.TLS.Certificates[0]
}

func TestTCP(t *testing.T) {
	t.Parallel()
	addr := tcpEcho(t, nil)
	r := cli(t, "hello tcp\nsecond line", "--tcp", addr).want(t, 0)
	if r.stdout != "hello tcp\nsecond line" {
		t.Errorf("stdout %q", r.stdout)
	}
}

func TestTCPStartTLS(t *testing.T) {
	t.Parallel()
	cert := testCert(t)
	addr := tcpEcho(t, &cert)
	r := cli(t, "over tls", "--tcp", addr, "--starttls", "-k").want(t, 0)
	if r.stdout != "over tls" {
		t.Errorf("stdout %q", r.stdout)
	}
	r = cli(t, "over tls", "--tcp", addr, "--starttls").want(t, 60)
	if !strings.Contains(r.stderr, "(-120") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestTCPUsage(t *testing.T) {
	t.Parallel()
	addr := tcpEcho(t, nil)
	cli(t, "", "--tcp", addr, "http://127.0.0.1/").want(t, 2)
	cli(t, "", "--starttls", "http://127.0.0.1/").want(t, 2)
	for _, bad := range []string{"nohost", "127.0.0.1:0", "127.0.0.1:99999", ":80", "127.0.0.1:http"} {
		cli(t, "", "--tcp", bad).want(t, 2)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cli(t, "", "--tcp", "127.0.0.1:"+strconv.Itoa(port)).want(t, 7)
}
