//go:build unix

package bench

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/proxy/proxytest"
)

// BenchmarkProxyGet1K: sequential 1 KiB GETs over reused connections,
// direct and through an in-process SOCKS5 gateway and HTTP forward proxy
// (proxytest, in the client's process), for raw net/http (whose Transport
// speaks SOCKS5 and HTTP proxies itself) and for a session. The ratio of
// interest is session-through-proxy / raw-through-the-same-proxy, and
// proxied / direct for the session.
func BenchmarkProxyGet1K(b *testing.B) {
	srv := sharedServer(b)
	target := srv.base + "/1k"
	socks := proxytest.NewSOCKS(b)
	fwd := proxytest.NewHTTPProxy(b)
	for _, c := range []struct{ name, proxy string }{
		{"direct", ""},
		{"socks5", "socks5://" + socks.Addr},
		{"http-proxy", fwd.URL()},
	} {
		for _, client := range []string{"raw", "session"} {
			b.Run(c.name+"/"+client, func(b *testing.B) {
				gc := newProxyGetClient(b, client, c.proxy, target)
				defer gc.close()
				if err := warmGets(gc, 1); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				r, err := runGets(gc, b.N, 1)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.rps(), "req/s")
				b.ReportMetric(µs(r.pct(50)), "p50-µs")
				b.ReportMetric(µs(r.pct(99)), "p99-µs")
			})
		}
	}
}

func newProxyGetClient(b *testing.B, client, proxyURL, target string) *getClient {
	if client == "raw" {
		tr := newRawTransport(limit6)
		if proxyURL != "" {
			u, _ := url.Parse(proxyURL)
			tr.Proxy = http.ProxyURL(u)
		}
		c := &http.Client{Transport: tr}
		return &getClient{name: client, close: tr.CloseIdleConnections, get: func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				return err
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			return checkSmall(resp, body, err)
		}}
	}
	cfg := urlsession.EphemeralConfiguration()
	cfg.URLCache, cfg.HTTPCookieStorage = nil, nil
	cfg.ProxyConfiguration = &urlsession.ProxyConfiguration{}
	if proxyURL != "" {
		pc, err := urlsession.ProxyURL(proxyURL)
		if err != nil {
			b.Fatal(err)
		}
		cfg.ProxyConfiguration = pc
	}
	s, err := urlsession.New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	return &getClient{name: client, close: s.FinishTasksAndInvalidate, get: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		body, resp, err := s.Data(ctx, req)
		return checkSmall(resp, body, err)
	}}
}
