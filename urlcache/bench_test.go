package urlcache_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/pipeline"
	"github.com/urlsession-go/urlsession/urlcache"
)

// percentile returns the p-th percentile (0..1) of ds, which it sorts.
func percentile(ds []time.Duration, p float64) time.Duration {
	slices.Sort(ds)
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// BenchmarkDiskLookup100k opens a disk cache holding 100,000 entries and
// looks up random entries (disk only: no memory store). It reports the
// open time and the lookup p50 and p99 (targets: open < 1 s, p99 < 1 ms).
func BenchmarkDiskLookup100k(b *testing.B) {
	const entries = 100_000
	dir := filepath.Join(b.TempDir(), "cache")
	urls, err := urlcache.BulkFill(dir, entries, 1024)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	c, err := urlcache.New(urlcache.Options{DiskCapacity: 1 << 40, Directory: dir})
	open := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if u := c.CurrentDiskUsage(); u < entries*1024 {
		b.Fatalf("disk usage %d: the fixture is not there", u)
	}
	// Random keys over all entries, so that the in-memory index rows (a few
	// thousand) rarely help: this measures the index.
	reqs := make([]*http.Request, len(urls))
	for i, u := range urls {
		reqs[i], _ = http.NewRequest("GET", u, nil)
	}
	var ds []time.Duration
	for b.Loop() {
		req := reqs[rand.IntN(len(reqs))]
		t0 := time.Now()
		cr := c.CachedResponse(req)
		ds = append(ds, time.Since(t0))
		if cr == nil || len(cr.Body) != 1024 {
			b.Fatal("miss")
		}
	}
	p50, p99 := percentile(ds, 0.50), percentile(ds, 0.99)
	b.ReportMetric(float64(open.Milliseconds()), "open-ms")
	b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
	b.Logf("%d entries: open %v, lookup p50 %v, p99 %v (%d lookups)", entries, open, p50, p99, len(ds))
	if open > time.Second {
		b.Errorf("open took %v, want < 1 s", open)
	}
	if p99 > time.Millisecond {
		b.Errorf("lookup p99 %v, want < 1 ms", p99)
	}
}

type hooks struct{}

func (hooks) WillRedirect(_ context.Context, _ *http.Response, next *http.Request) (*http.Request, error) {
	return next, nil
}
func (hooks) NewBodyStream(context.Context) (io.ReadCloser, error) { return nil, nil }
func (hooks) BodySent(n, total, expected int64)                    {}
func (hooks) WaitingForConnectivity()                              {}
func (hooks) Received(n int64)                                     {}

// BenchmarkHitVersusNetwork1KiB loads a 1 KiB response through the session
// pipeline (Bridge, Cache, Dispatch) fresh from the disk cache (no memory
// store) and, for comparison, from a loopback server (same chain, a
// response that is not stored), alternating the two. It reports both p50
// latencies and their ratio (target: hit <= 0.5 of network).
func BenchmarkHitVersusNetwork1KiB(b *testing.B) {
	body := strings.Repeat("x", 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/cached") {
			w.Header().Set("Cache-Control", "max-age=3600")
		} else {
			w.Header().Set("Cache-Control", "no-store")
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	uc, err := urlcache.New(urlcache.Options{DiskCapacity: 100 << 20, Directory: filepath.Join(b.TempDir(), "cache")})
	if err != nil {
		b.Fatal(err)
	}
	defer uc.Close()
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	chain := pipeline.Chain{&pipeline.Bridge{}, &pipeline.Cache{Cache: uc}, &pipeline.Dispatch{Transport: tr}}
	load := func(path string) time.Duration {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		t0 := time.Now()
		resp, err := chain.Do(context.Background(), &pipeline.Call{Hooks: hooks{}}, req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if n != 1024 {
			b.Fatalf("%s: %d bytes", path, n)
		}
		return d
	}
	load("/cached") // store it
	load("/net")    // open the connection
	var hits, nets []time.Duration
	for b.Loop() {
		hits = append(hits, load("/cached"))
		nets = append(nets, load("/net"))
	}
	hit, network := percentile(hits, 0.5), percentile(nets, 0.5)
	ratio := float64(hit) / float64(network)
	b.ReportMetric(float64(hit.Microseconds()), "hit-p50-µs")
	b.ReportMetric(float64(network.Microseconds()), "net-p50-µs")
	b.ReportMetric(ratio, "hit/net")
	b.Logf("1 KiB: disk cache hit p50 %v, loopback fetch p50 %v, ratio %.2f (%d each)", hit, network, ratio, len(hits))
	if ratio > 0.5 && len(hits) >= 100 {
		b.Errorf("hit/network p50 ratio %.2f, want <= 0.5", ratio)
	}
}

// BenchmarkDiskStore1KiB measures storing a 1 KiB response in the disk
// store (each op a new URL): what a task pays when it commits an entry.
func BenchmarkDiskStore1KiB(b *testing.B) {
	c, err := urlcache.New(urlcache.Options{DiskCapacity: 1 << 30, Directory: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	body := make([]byte, 1024)
	resp := &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Cache-Control": {"max-age=60"}, "Content-Type": {"text/plain"}}}
	b.ResetTimer()
	for i := range b.N {
		req, _ := http.NewRequest("GET", fmt.Sprintf("https://h.test/%d", i), nil)
		if err := c.StoreCachedResponse(&urlcache.CachedResponse{Response: resp, Body: body}, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipelineMemoryHit loads a fresh 1 KiB response from the memory
// store through the session pipeline (Bridge, Cache, Dispatch): the cost
// of the hit path itself, without disk or network.
func BenchmarkPipelineMemoryHit(b *testing.B) {
	body := strings.Repeat("x", 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	uc, err := urlcache.New(urlcache.Options{MemoryCapacity: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer uc.Close()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	chain := pipeline.Chain{&pipeline.Bridge{}, &pipeline.Cache{Cache: uc}, &pipeline.Dispatch{Transport: tr}}
	req, _ := http.NewRequest("GET", srv.URL+"/cached", nil)
	load := func() {
		resp, err := chain.Do(context.Background(), &pipeline.Call{Hooks: hooks{}}, req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != 1024 {
			b.Fatalf("%d bytes", n)
		}
	}
	load() // store it
	b.ReportAllocs()
	for b.Loop() {
		load()
	}
}

// BenchmarkMemoryLookup looks a 1 KiB entry up in the memory store, with
// and without credentials in the request.
func BenchmarkMemoryLookup(b *testing.B) {
	for _, auth := range []string{"", "Basic YWxpY2U6c2VjcmV0"} {
		name := "anonymous"
		if auth != "" {
			name = "authorized"
		}
		b.Run(name, func(b *testing.B) {
			c, err := urlcache.New(urlcache.Options{MemoryCapacity: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req, _ := http.NewRequest("GET", "https://h.test/item?id=1", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp := &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{"Cache-Control": {"max-age=60"}, "Content-Type": {"text/plain"}}}
			if err := c.StoreCachedResponse(&urlcache.CachedResponse{Response: resp, Body: make([]byte, 1024)}, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if c.CachedResponse(req) == nil {
					b.Fatal("miss")
				}
			}
		})
	}
}
