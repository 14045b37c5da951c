//go:build unix

package bench

// TestReport runs every comparison several times (median of BENCH_ROUNDS,
// 5 by default), the clients of a comparison taking turns in a rotating
// order, and prints Markdown tables with the ratios to the raw net/http
// figures. It runs only with BENCH_REPORT=1:
//
//	BENCH_REPORT=1 go test ./bench -run '^TestReport$' -v -timeout 30m
//
// Other knobs: BENCH_SECTIONS (comma-separated subset of
// get,big,inflight,auth,tls,ftp,file,download,daemon),
// BENCH_GET_N (GETs per sequential run, 10000), BENCH_GET_PAR_N (GETs per
// 64-in-flight run, 30000), BENCH_BIG_BYTES (1 GiB), BENCH_INFLIGHT_N
// (10000), BENCH_HOLD_MS (1000), BENCH_FTP_BYTES (the ftp section's file,
// 256 MiB), BENCH_FILE_BYTES (the file section's file, 1 GiB),
// BENCH_REPORT_OUT (also write the tables to this file).

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pairedRatio is the median of the per-round ratios xs[r]/base[r]: the two
// ran back to back in each round, so drifts of the machine's speed between
// rounds cancel out.
func pairedRatio(xs, base []float64) float64 {
	rs := make([]float64, len(xs))
	for i := range xs {
		rs[i] = xs[i] / base[i]
	}
	return median(rs)
}

// rotate returns the indexes 0..n-1 starting at r mod n.
func rotate(n, r int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = (r + i) % n
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func TestReport(t *testing.T) {
	if os.Getenv("BENCH_REPORT") != "1" {
		t.Skip("set BENCH_REPORT=1 to run the comparison report")
	}
	rounds := envInt("BENCH_ROUNDS", 5)
	sections := os.Getenv("BENCH_SECTIONS")
	want := func(s string) bool {
		return sections == "" || slices.Contains(strings.Split(sections, ","), s)
	}

	var out strings.Builder
	p := func(format string, args ...any) {
		fmt.Fprintf(&out, format, args...)
		fmt.Printf(format, args...)
	}
	p("\n%s, %s/%s, %d CPUs (GOMAXPROCS %d), %s; median of %d rounds\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0),
		time.Now().UTC().Format("2006-01-02 15:04 MST"), rounds)

	p("library sources (non-test .go files outside bench/) sha256 %s; load average at start: %s\n", libraryHash(), loadAvg())
	defer func() { p("\nload average at end: %s\n", loadAvg()) }()

	if want("get") {
		reportGets(t, p, rounds)
	}
	if want("big") {
		reportBig(t, p, rounds)
	}
	if want("inflight") {
		reportInflight(t, p, rounds)
	}
	if want("download") {
		reportDownload(t, p, rounds)
	}
	if want("auth") {
		reportAuth(t, p, rounds)
	}
	if want("tls") {
		reportTLS(t, p, rounds)
	}
	if want("ftp") {
		reportFTP(t, p, rounds)
	}
	if want("file") {
		reportFile(t, p, rounds)
	}
	if want("daemon") {
		reportDaemon(t, p, rounds)
	}
	if name := os.Getenv("BENCH_REPORT_OUT"); name != "" {
		defer func() {
			if err := os.WriteFile(name, []byte(out.String()), 0o644); err != nil {
				t.Error(err)
			}
		}()
	}
}

// libraryHash fingerprints the library code measured: the module's non-test
// .go files outside bench/ (the library changes while these benchmarks are
// written, so figures go with a fingerprint).
func libraryHash() string {
	h := sha256.New()
	root := ".."
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == "bench" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err == nil {
				fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(path), len(b))
				h.Write(b)
			}
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

type printer func(format string, args ...any)

func reportGets(t *testing.T, p printer, rounds int) {
	srv := sharedServer(t)
	url := srv.base + "/1k"
	seqN := envInt("BENCH_GET_N", 10000)
	parN := envInt("BENCH_GET_PAR_N", 30000)

	p("\n### 1 KiB GETs, HTTP/1.1 loopback (%d GETs per sequential run, %d per 64-in-flight run)\n\n", seqN, parN)
	p("| conns/host | in flight | client | req/s | min–max req/s | vs raw | paired ratio | client CPU µs/GET | CPU vs raw | p50 µs | p99 µs | p50 vs raw | p99 vs raw | goroutines created/GET | ≥ 0.90? |\n")
	p("|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, l := range []limit{limit6, unlimited} {
		for _, conc := range []int{1, 64} {
			n := seqN
			if conc > 1 {
				n = parN
			}
			clients := make([]*getClient, len(getClients))
			for i, name := range getClients {
				clients[i] = newGetClient(name, l, url)
				if err := warmGets(clients[i], conc); err != nil {
					t.Fatal(err)
				}
			}
			rps := make([][]float64, len(clients))
			p50 := make([][]float64, len(clients))
			p99 := make([][]float64, len(clients))
			gs := make([][]float64, len(clients))
			cpu := make([][]float64, len(clients))
			for r := range rounds {
				for _, i := range rotate(len(clients), r) {
					runtime.GC()
					res, err := runGets(clients[i], n, conc)
					if err != nil {
						t.Fatal(err)
					}
					rps[i] = append(rps[i], res.rps())
					p50[i] = append(p50[i], µs(res.pct(50)))
					p99[i] = append(p99[i], µs(res.pct(99)))
					gs[i] = append(gs[i], res.gPerReq)
					cpu[i] = append(cpu[i], µs(res.cpu))
				}
			}
			for _, c := range clients {
				c.close()
			}
			limitName := "6"
			if l == unlimited {
				limitName = "no limit"
			}
			rawRPS, rawP50, rawP99 := median(rps[0]), median(p50[0]), median(p99[0])
			for i, c := range clients {
				paired := pairedRatio(rps[i], rps[0])
				target := "—"
				if i > 0 {
					// The paired ratio: each round ran the clients back to
					// back, so it is the figure the machine's drifts (other
					// load on the host) disturb least.
					target = verdict(paired >= 0.90)
				}
				p("| %s | %d | %s | %.0f | %.0f–%.0f | %.2f | %.2f | %.1f | %.2f | %.0f | %.0f | %.2f | %.2f | %.2f | %s |\n",
					limitName, conc, c.name, median(rps[i]), slices.Min(rps[i]), slices.Max(rps[i]), median(rps[i])/rawRPS, paired,
					median(cpu[i]), pairedRatio(cpu[i], cpu[0]), median(p50[i]), median(p99[i]),
					median(p50[i])/rawP50, median(p99[i])/rawP99, median(gs[i]), target)
			}
			if conc == 1 && l == limit6 {
				if _, err := exec.LookPath("curl"); err != nil {
					p("| — | 1 | curl: not on PATH, skipped | | | | | | | | | | | | |\n")
				} else {
					var cr []float64
					for range rounds {
						res, err := curlGets(url, n)
						if err != nil {
							t.Fatal(err)
						}
						cr = append(cr, res.rps())
					}
					p("| 1 (curl's own) | 1 | curl, one process, %d URLs | %.0f | %.0f–%.0f | %.2f | | | | | | | | | — |\n",
						n, median(cr), slices.Min(cr), slices.Max(cr), median(cr)/rawRPS)
				}
			}
		}
	}
}

func reportBig(t *testing.T, p printer, rounds int) {
	srv := sharedServer(t)
	size := bigSize()
	url := bigURL(srv.base, size)
	p("\n### Streaming a %d MiB body (Content-Length set, 1 MiB server writes), discarded\n\n", size>>20)
	p("| client | MB/s | vs raw | paired ratio | min–max MB/s | CPU s/GiB | CPU vs raw | goroutines created | ≥ 0.95? |\n")
	p("|---|---:|---:|---:|---|---:|---:|---:|---|\n")
	var clients []*bigClient
	var skipped []string
	for _, name := range bigClients {
		c, err := newBigClient(name, url, size)
		if errors.Is(err, errSkip) {
			skipped = append(skipped, name)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	runs := timeRounds(t, clients, size, rounds)
	mbs, cpu := runField(runs, mbpsOf), runField(runs, cpuOfRun)
	gs := runField(runs, func(r bigRun) float64 { return float64(r.gCreated) })
	raw, rawCPU := median(mbs[0]), median(cpu[0])
	for i, c := range clients {
		c.close()
		ratio := median(mbs[i]) / raw
		target := "—"
		if strings.HasPrefix(c.name, "session") {
			target = verdict(ratio >= 0.95)
		}
		p("| %s | %.0f | %.2f | %.2f | %.0f–%.0f | %.3f | %.2f | %.0f | %s |\n", c.name, median(mbs[i]), ratio,
			pairedRatio(mbs[i], mbs[0]), slices.Min(mbs[i]), slices.Max(mbs[i]), median(cpu[i]), median(cpu[i])/rawCPU, median(gs[i]), target)
	}
	for _, name := range skipped {
		p("| %s: not on PATH, skipped | | | | | | | | |\n", name)
	}
}

func reportInflight(t *testing.T, p printer, rounds int) {
	n, note := inflightN()
	hold := fmt.Sprintf("%d ms", holdMS())
	if holdGate() {
		hold += " after the last request arrived"
	}
	p("\n### %d requests in flight at once, server (separate process) holds each response %s\n\n", n, hold)
	if note != "" {
		p("%s\n\n", note)
	}
	p("| client | heap B/task | vs raw | stack B/task | heap+stack B/task | goroutines/task | in flight at sample (min) | all arrived after | all done after | heap ≤ 1.5× raw? |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	kinds := []string{inflightRaw, inflightSession}
	res := make([][]inflightResult, len(kinds))
	for r := range rounds {
		for _, i := range rotate(len(kinds), r) {
			runtime.GC()
			v, err := runInflight(kinds[i], n)
			if err != nil {
				t.Fatal(err)
			}
			res[i] = append(res[i], v)
		}
	}
	pick := func(i int, f func(inflightResult) float64) float64 {
		var xs []float64
		for _, v := range res[i] {
			xs = append(xs, f(v))
		}
		return median(xs)
	}
	rawHeap := pick(0, func(v inflightResult) float64 { return v.heapPerTask })
	for i, kind := range kinds {
		heap := pick(i, func(v inflightResult) float64 { return v.heapPerTask })
		stack := pick(i, func(v inflightResult) float64 { return v.stackPerTask })
		minIn := int64(n)
		for _, v := range res[i] {
			minIn = min(minIn, v.minInflight)
		}
		target := "—"
		if i > 0 {
			target = verdict(heap <= 1.5*rawHeap)
		}
		p("| %s | %.0f | %.2f | %.0f | %.0f | %.2f | %d | %.2f s | %.2f s | %s |\n", kind, heap, heap/rawHeap, stack, heap+stack,
			pick(i, func(v inflightResult) float64 { return v.gPerTask }), minIn,
			pick(i, func(v inflightResult) float64 { return v.allArrived.Seconds() }),
			pick(i, func(v inflightResult) float64 { return v.elapsed.Seconds() }), target)
	}
}
