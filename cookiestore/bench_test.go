package cookiestore

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fillBenchStore puts 10,000 cookies in s: 2,000 sites with 5 cookies each
// (two domain cookies, two host-only ones on www, one on a deeper path).
func fillBenchStore(b *testing.B, s *Store, persistent bool) []*url.URL {
	const sites = 2000
	attr := ""
	if persistent {
		attr = "; Max-Age=86400"
	}
	urls := make([]*url.URL, sites)
	for i := range sites {
		site := fmt.Sprintf("site%d.com", i)
		u := mustURL(b, "https://www."+site+"/account/settings")
		s.SetCookiesFromResponse(header(
			"sid=0123456789abcdef; Domain="+site+"; Path=/"+attr,
			"pref=dark; Domain="+site+"; Path=/"+attr,
			"csrf=token"+site+"; Path=/; Secure"+attr,
			"lang=en; Path=/"+attr,
			"acct=42; Path=/account"+attr,
		), u, nil)
		urls[i] = u
	}
	if n := len(s.AllCookies()); n != 5*sites {
		b.Fatalf("store holds %d cookies; want %d", n, 5*sites)
	}
	return urls
}

// BenchmarkCookieHeader measures CookieHeader for a URL with 10,000
// cookies in the store across 2,000 domains, and reports the per-call
// latency percentiles (target: p99 under 50 µs).
func BenchmarkCookieHeader(b *testing.B) {
	for _, mode := range []string{"memory", "sqlite"} {
		b.Run(mode, func(b *testing.B) {
			opts := Options{MaxCookies: 20000}
			if mode == "sqlite" {
				opts.Path = filepath.Join(b.TempDir(), "bench.db")
			}
			s := newStore(b, opts)
			urls := fillBenchStore(b, s, mode == "sqlite")
			rng := rand.New(rand.NewPCG(1, 2))
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				u := urls[rng.IntN(len(urls))]
				t0 := time.Now()
				h := s.CookieHeader(u)
				lat = append(lat, time.Since(t0))
				if len(h) == 0 {
					b.Fatal("no cookies")
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
			b.ReportMetric(float64(p(0.50).Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(p(0.99).Nanoseconds()), "p99-ns")
			b.Logf("%s, 10,000 cookies, %d calls: p50 %v, p99 %v, max %v", mode, len(lat), p(0.50), p(0.99), lat[len(lat)-1])
		})
	}
}

// BenchmarkOpen measures New on a file holding 10,000 persistent cookies.
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "open.db")
	s := newStore(b, Options{Path: path, MaxCookies: 20000})
	fillBenchStore(b, s, true)
	s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := New(Options{Path: path, MaxCookies: 20000})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
