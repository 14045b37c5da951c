package urlsession_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/elazarl/goproxy"

	"github.com/urlsession-go/urlsession"
)

// A session whose requests go through an HTTP proxy, here one on
// loopback; https URLs would go through a CONNECT tunnel.
func ExampleProxyURL() {
	origin := newServer()
	defer origin.Close()
	gp := goproxy.NewProxyHttpServer()
	gp.Logger = log.New(io.Discard, "", 0)
	gp.OnRequest().DoFunc(func(r *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		r.Header.Set("Via", "1.1 example-proxy")
		return r, nil
	})
	proxy := httptest.NewServer(gp)
	defer proxy.Close()

	cfg := urlsession.EphemeralConfiguration()
	pc, err := urlsession.ProxyURL(proxy.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg.ProxyConfiguration = pc
	s, err := urlsession.New(cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.FinishTasksAndInvalidate()
	req, _ := http.NewRequest(http.MethodGet, origin.URL+"/hello", nil)
	body, resp, err := s.Data(context.Background(), req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello, world
}

// Proxy auto-configuration: the script chooses per host, and a list is
// tried in order.
func ExampleProxyConfiguration_pac() {
	cfg := urlsession.EphemeralConfiguration()
	cfg.ProxyConfiguration = &urlsession.ProxyConfiguration{
		PACScript: `function FindProxyForURL(url, host) {
			if (isPlainHostName(host) || dnsDomainIs(host, ".corp.example")) return "DIRECT";
			return "PROXY proxy.corp.example:3128; SOCKS gateway.corp.example:1080; DIRECT";
		}`,
		Exceptions: []string{"10.0.0.0/8"},
	}
	fmt.Println(cfg.Validate())
	// Output: <nil>
}
