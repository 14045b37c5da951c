//go:build interop

package interop

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/hsts"
)

// hstsHost is the name nginx's certificate carries, with its subdomains,
// for the HSTS test (HSTS never applies to an IP address).
const hstsHost = "hsts.interop.test"

// TestNginxHSTS: nginx's Strict-Transport-Security (add_header, on both
// ports) is recorded from https only, and then sends http URLs of the
// host and its subdomains over https.
func TestNginxHSTS(t *testing.T) {
	n := startNginx(t)
	store := hsts.New()
	cfg := urlsession.EphemeralConfiguration()
	cfg.Proxy = urlsession.NoProxy
	cfg.URLCache = nil
	cfg.HSTSStorage = store
	cfg.TransportSecurity.AllowsArbitraryLoads = true // plain http before HSTS
	cfg.TLSClientConfig = &tls.Config{RootCAs: n.roots}
	cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != hstsHost && !strings.HasSuffix(host, "."+hstsHost) {
			return nil, fmt.Errorf("no such host %q", addr)
		}
		switch port {
		case "80":
			port = fmt.Sprint(n.plainPort)
		case "443":
			port = fmt.Sprint(n.securePort)
		}
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	s, err := urlsession.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.InvalidateAndCancel()
	load := func(u string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, resp, err := s.Data(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		return resp
	}
	if resp := load("http://" + hstsHost + "/sts"); resp.TLS != nil || store.Known(hstsHost, time.Now()) {
		t.Fatal("the field was recorded from plain http")
	}
	if resp := load("https://" + hstsHost + "/sts"); resp.TLS == nil || !store.Known(hstsHost, time.Now()) {
		t.Fatal("the field was not recorded from https")
	}
	for _, u := range []string{"http://" + hstsHost + "/hello.txt", "http://www." + hstsHost + ":80/hello.txt"} {
		if resp := load(u); resp.TLS == nil || resp.StatusCode != 200 {
			t.Errorf("%s: status %d, TLS %v: want it over https", u, resp.StatusCode, resp.TLS != nil)
		}
	}
}
