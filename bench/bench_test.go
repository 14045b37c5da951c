//go:build unix

package bench

// testing.B benchmarks. They run only with -bench; for the side-by-side
// table with ratios (median of 5) run TestReport, see README.md.

import (
	"errors"
	"fmt"
	"testing"
)

// BenchmarkGet1K: 1 KiB GETs over HTTP/1.1 loopback, one at a time (seq)
// and 64 in flight (par64), with the session's default limit of 6
// connections per host (and the raw transport limited alike) or none.
func BenchmarkGet1K(b *testing.B) {
	srv := sharedServer(b)
	url := srv.base + "/1k"
	for _, l := range []limit{limit6, unlimited} {
		for _, conc := range []int{1, 64} {
			mode := "seq"
			if conc > 1 {
				mode = fmt.Sprintf("par%d", conc)
			}
			for _, name := range getClients {
				b.Run(fmt.Sprintf("%s/%s/%s", l, mode, benchName(name)), func(b *testing.B) {
					c := newGetClient(name, l, url)
					defer c.close()
					r := benchGets(b, c, conc)
					b.ReportMetric(r.rps(), "req/s")
					b.ReportMetric(µs(r.pct(50)), "p50-µs")
					b.ReportMetric(µs(r.pct(99)), "p99-µs")
					b.ReportMetric(r.gPerReq, "goroutines-created/op")
					b.ReportMetric(µs(r.cpu), "cpu-µs/op")
					b.ReportMetric(r.csw, "ctxsw/op")
					b.ReportMetric(µs(r.gcCPU), "gc-cpu-µs/op")
					b.ReportMetric(float64(r.mutexW), "mutex-wait-ns/op")
				})
			}
		}
	}
}

// BenchmarkBigBody: one download of BENCH_BIG_BYTES (1 GiB by default) per
// iteration, the body discarded.
func BenchmarkBigBody(b *testing.B) {
	srv := sharedServer(b)
	size := bigSize()
	url := bigURL(srv.base, size)
	for _, name := range bigClients {
		b.Run(benchName(name), func(b *testing.B) {
			c, err := newBigClient(name, url, size)
			if errors.Is(err, errSkip) {
				b.Skipf("%s is not on PATH", name)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer c.close()
			b.SetBytes(size)
			b.ReportAllocs()
			var cpu, gs float64
			for b.Loop() {
				r, err := timeBig(c, size)
				if err != nil {
					b.Fatal(err)
				}
				cpu += r.cpuPerGiB
				gs += float64(r.gCreated)
			}
			b.ReportMetric(cpu/float64(b.N), "cpu-s/GiB")
			b.ReportMetric(gs/float64(b.N), "goroutines-created/op")
		})
	}
}

// BenchmarkInflight: 10,000 requests in flight at once (fewer if the file
// descriptor limit is too low) against a server process that holds each
// response for a second. Reports the client's live heap, stack and
// goroutines per in-flight task. Each iteration takes a few seconds; use
// -benchtime=1x.
func BenchmarkInflight(b *testing.B) {
	n, note := inflightN()
	if note != "" {
		b.Log(note)
	}
	for _, kind := range []string{inflightRaw, inflightSession} {
		b.Run(benchName(kind), func(b *testing.B) {
			var heap, stack, gs float64
			var minIn int64 = -1
			for b.Loop() {
				r, err := runInflight(kind, n)
				if err != nil {
					b.Fatal(err)
				}
				heap += r.heapPerTask
				stack += r.stackPerTask
				gs += r.gPerTask
				if minIn < 0 || r.minInflight < minIn {
					minIn = r.minInflight
				}
			}
			k := float64(b.N)
			b.ReportMetric(heap/k, "heap-B/task")
			b.ReportMetric(stack/k, "stack-B/task")
			b.ReportMetric(gs/k, "goroutines/task")
			b.ReportMetric(float64(minIn), "in-flight-at-sample")
			b.ReportMetric(float64(n), "tasks")
		})
	}
}

// benchName turns a client's display name into a sub-benchmark name.
func benchName(s string) string {
	out := []byte(s)
	for i, c := range out {
		switch c {
		case ' ', '+', '/':
			out[i] = '_'
		}
	}
	return string(out)
}
