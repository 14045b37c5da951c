//go:build unix

package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/urlsession-go/urlsession"
)

// memProtocol answers every request at once with a 1 KiB body from memory,
// so that a benchmark through it measures the session's own work per task.
type memProtocol struct{ body []byte }

func (p memProtocol) CanHandle(*http.Request) bool { return true }

func (p memProtocol) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/octet-stream"}},
		Body:          io.NopCloser(bytes.NewReader(p.body)),
		ContentLength: int64(len(p.body)),
		Request:       req,
	}, nil
}

// BenchmarkOverhead: what a task costs the session beyond loading it. The
// requests are answered from memory by a Protocol, with no network, so the
// figures are the session's own CPU and allocations per task; "raw" is an
// http.Client with the same protocol as its transport.
func BenchmarkOverhead(b *testing.B) {
	p := memProtocol{body: bytes.Repeat([]byte("x"), smallSize)}
	url := "http://127.0.0.1:1/1k"
	newS := func() *urlsession.Session {
		cfg := urlsession.EphemeralConfiguration()
		cfg.URLCache, cfg.HTTPCookieStorage, cfg.URLCredentialStorage = nil, nil, nil
		cfg.Protocols = []urlsession.Protocol{p}
		cfg.Proxy = urlsession.NoProxy
		s, err := urlsession.New(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.FinishTasksAndInvalidate)
		return s
	}
	ctx := context.Background()
	b.Run("raw", func(b *testing.B) {
		c := &http.Client{Transport: p}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err := checkSmall(resp, body, err); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("Data", func(b *testing.B) {
		s := newS()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				body, resp, err := s.Data(ctx, req)
				if err := checkSmall(resp, body, err); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	// Data one task after another, as in the sequential Get1K runs,
	// without stores and with DefaultConfiguration's shared stores.
	for _, stores := range []bool{false, true} {
		name := "Data_seq"
		if stores {
			name = "Data_default_stores_seq"
		}
		b.Run(name, func(b *testing.B) {
			cfg := urlsession.DefaultConfiguration()
			if !stores {
				cfg.URLCache, cfg.HTTPCookieStorage, cfg.URLCredentialStorage = nil, nil, nil
			}
			cfg.Protocols = []urlsession.Protocol{p}
			cfg.Proxy = urlsession.NoProxy
			s, err := urlsession.New(cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(s.FinishTasksAndInvalidate)
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				body, resp, err := s.Data(ctx, req)
				if err := checkSmall(resp, body, err); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
	// Data with 64 in flight, as in the Get1K par64 runs, without stores
	// and with DefaultConfiguration's shared stores: per request a cache
	// lookup (a miss: nothing is cacheable), a cookie lookup and the
	// storing decision.
	for _, stores := range []bool{false, true} {
		name := "Data_par64"
		if stores {
			name = "Data_default_stores_par64"
		}
		b.Run(name, func(b *testing.B) {
			cfg := urlsession.DefaultConfiguration()
			if !stores {
				cfg.URLCache, cfg.HTTPCookieStorage, cfg.URLCredentialStorage = nil, nil, nil
			}
			cfg.Protocols = []urlsession.Protocol{p}
			cfg.Proxy = urlsession.NoProxy
			cfg.HTTPMaximumConnectionsPerHost = -1
			s, err := urlsession.New(cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(s.FinishTasksAndInvalidate)
			b.ReportAllocs()
			b.SetParallelism(32)
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
					body, resp, err := s.Data(ctx, req)
					if err := checkSmall(resp, body, err); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
	b.Run("DataTask_delegate", func(b *testing.B) {
		s := newS()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				t := s.DataTask(req)
				d := &collectDelegate{}
				t.SetDelegate(d)
				t.Resume()
				<-t.Done()
				if err := checkSmall(t.Response(), d.body, d.err); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
