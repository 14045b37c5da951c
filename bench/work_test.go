//go:build unix

package bench

// The workloads, each written once and used by both the testing.B
// benchmarks (bench_test.go) and TestReport (report_test.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
)

// ---------------------------------------------------------------------------
// Clients

// limit is a connection policy: at most 6 connections per host (the
// session's default) or no limit.
type limit int

const (
	limit6 limit = iota
	unlimited
)

func (l limit) String() string {
	if l == limit6 {
		return "limit6"
	}
	return "unlimited"
}

// newSession returns a session with direct connections and the given limit,
// doing what the raw client does: no cache, no cookies.
func newSession(l limit, delegate any) *urlsession.Session {
	return newSessionWith(l, delegate, false)
}

// newSessionWith is newSession, with DefaultConfiguration's shared cache,
// cookie and credential stores when stores is set.
func newSessionWith(l limit, delegate any, stores bool) *urlsession.Session {
	cfg := urlsession.DefaultConfiguration()
	if !stores {
		cfg.URLCache, cfg.HTTPCookieStorage, cfg.URLCredentialStorage = nil, nil, nil
	}
	cfg.Proxy = urlsession.NoProxy
	if l == unlimited {
		cfg.HTTPMaximumConnectionsPerHost = -1
	}
	s, err := urlsession.New(cfg, delegate)
	if err != nil {
		panic(err)
	}
	return s
}

// newRawTransport returns a clone of http.DefaultTransport, without proxy,
// limited as the session is: 6 connections and 6 idle ones per host, or no
// limit and 64 idle connections per host.
func newRawTransport(l limit) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if l == limit6 {
		tr.MaxConnsPerHost = 6
		tr.MaxIdleConnsPerHost = 6
	} else {
		tr.MaxConnsPerHost = 0
		tr.MaxIdleConnsPerHost = 64
	}
	return tr
}

// ---------------------------------------------------------------------------
// 1 KiB GETs

// getClient performs one 1 KiB GET and checks the answer.
type getClient struct {
	name  string
	get   func(ctx context.Context) error
	close func()
}

const (
	clientRaw             = "raw net/http"
	clientSessionData     = "session Data"
	clientSessionDelegate = "session DataTask+delegate"
	// clientSessionStores is Data with DefaultConfiguration's stores: a
	// cache lookup (a miss: the responses are not cacheable) and a cookie
	// lookup per GET, work the raw client does not do.
	clientSessionStores = "session Data, default stores"
)

var getClients = []string{clientRaw, clientSessionData, clientSessionDelegate, clientSessionStores}

func newGetClient(name string, l limit, url string) *getClient {
	switch name {
	case clientRaw:
		tr := newRawTransport(l)
		c := &http.Client{Transport: tr}
		return &getClient{name: name, close: tr.CloseIdleConnections, get: func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
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
	case clientSessionData, clientSessionStores:
		s := newSessionWith(l, nil, name == clientSessionStores)
		return &getClient{name: name, close: s.FinishTasksAndInvalidate, get: func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			body, resp, err := s.Data(ctx, req)
			return checkSmall(resp, body, err)
		}}
	case clientSessionDelegate:
		s := newSession(l, nil)
		return &getClient{name: name, close: s.FinishTasksAndInvalidate, get: func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			t := s.DataTask(req)
			d := &collectDelegate{}
			t.SetDelegate(d)
			t.Resume()
			<-t.Done()
			return checkSmall(t.Response(), d.body, d.err)
		}}
	}
	panic("unknown client " + name)
}

func checkSmall(resp *http.Response, body []byte, err error) error {
	if err != nil {
		return err
	}
	if resp == nil || resp.StatusCode != http.StatusOK || len(body) != smallSize {
		return fmt.Errorf("bad answer: %v, %d bytes", resp, len(body))
	}
	return nil
}

// collectDelegate is a per-task delegate that keeps the body, as
// io.ReadAll does for the raw client.
type collectDelegate struct {
	body []byte
	err  error
}

var (
	_ urlsession.DataDelegate       = (*collectDelegate)(nil)
	_ urlsession.CompletionDelegate = (*collectDelegate)(nil)
)

func (d *collectDelegate) DidReceiveData(_ *urlsession.Session, _ *urlsession.DataTask, data []byte) {
	d.body = append(d.body, data...)
}

func (d *collectDelegate) DidCompleteWithError(_ *urlsession.Session, _ *urlsession.Task, err error) {
	d.err = err
}

// getResult is the outcome of n GETs.
type getResult struct {
	n       int
	elapsed time.Duration
	lat     []time.Duration // sorted
	gPerReq float64         // goroutines created per GET
	cpu     time.Duration   // the client's CPU time (user+system) per GET
	csw     float64         // the client's context switches per GET
	mutexW  time.Duration   // time goroutines waited on sync.Mutex, per GET
	gcCPU   time.Duration   // the runtime's estimate of GC CPU time per GET
}

func (r getResult) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r getResult) pct(p int) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, len(r.lat)*p/100)]
}

func µs(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// runGets performs n GETs with conc of them in flight and records each one's
// latency. It stops at the first error.
func runGets(c *getClient, n, conc int) (getResult, error) {
	ctx := context.Background()
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	g0 := goroutinesCreated()
	cpu0 := selfCPU()
	csw0, mw0, gc0 := contextSwitches(), mutexWait(), gcCPU()
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || firstErr.Load() != nil {
					return
				}
				t0 := time.Now()
				if err := c.get(ctx); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := selfCPU() - cpu0
	csw, mw, gcc := contextSwitches()-csw0, mutexWait()-mw0, gcCPU()-gc0
	created := goroutinesCreated() - g0 - uint64(conc)
	if e := firstErr.Load(); e != nil {
		return getResult{}, fmt.Errorf("%s: %w", c.name, *e)
	}
	slices.Sort(lat)
	return getResult{n: n, elapsed: elapsed, lat: lat, gPerReq: float64(created) / float64(n), cpu: cpu / time.Duration(n),
		csw: float64(csw) / float64(n), mutexW: mw / time.Duration(n), gcCPU: gcc / time.Duration(n)}, nil
}

// goroutinesCreated returns the number of goroutines the process created
// so far.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// warmGets opens the client's connections: two GETs per worker.
func warmGets(c *getClient, conc int) error {
	_, err := runGets(c, 2*conc, conc)
	return err
}

// curlGets fetches url n times with one curl process (one connection,
// keep-alive), listing the URLs in a config file.
func curlGets(url string, n int) (getResult, error) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		return getResult{}, err
	}
	f, err := os.CreateTemp("", "bench-curl-*.cfg")
	if err != nil {
		return getResult{}, err
	}
	defer os.Remove(f.Name())
	var sb strings.Builder
	for range n {
		fmt.Fprintf(&sb, "url = \"%s\"\noutput = \"/dev/null\"\n", url)
	}
	f.WriteString(sb.String())
	f.Close()
	start := time.Now()
	out, err := exec.Command(curl, "-s", "-S", "--fail", "--noproxy", "*", "-K", f.Name()).CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		return getResult{}, fmt.Errorf("curl: %v: %s", err, out)
	}
	return getResult{n: n, elapsed: elapsed}, nil
}

// ---------------------------------------------------------------------------
// Big body

const (
	bigRaw             = "raw net/http"
	bigSessionDelegate = "session DidReceiveData"
	bigSessionBytes    = "session Bytes+io.Copy"
	bigCurl            = "curl"
	bigAria2           = "aria2c"
)

var bigClients = []string{bigRaw, bigSessionDelegate, bigSessionBytes, bigCurl, bigAria2}

// bigSize is BENCH_BIG_BYTES, 1 GiB by default.
func bigSize() int64 {
	if v := os.Getenv("BENCH_BIG_BYTES"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 1 << 30
}

// bigClient downloads the whole big body once.
type bigClient struct {
	name     string
	download func(ctx context.Context) error
	close    func()
}

var errSkip = errors.New("not installed")

func newBigClient(name, url string, size int64) (*bigClient, error) {
	switch name {
	case bigRaw:
		tr := newRawTransport(unlimited)
		c := &http.Client{Transport: tr}
		return &bigClient{name: name, close: tr.CloseIdleConnections, download: func(ctx context.Context) error {
			resp, err := c.Get(url) // what http.Get does, on a transport of our own
			if err != nil {
				return err
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return checkBig(n, size, err)
		}}, nil
	case bigSessionDelegate:
		return delegateClient(name, newSession(limit6, nil), url, size), nil
	case bigSessionBytes:
		return bytesClient(name, newSession(limit6, nil), url, size), nil
	case bigCurl:
		curl, err := exec.LookPath("curl")
		if err != nil {
			return nil, errSkip
		}
		return &bigClient{name: name, close: func() {}, download: func(ctx context.Context) error {
			out, err := exec.CommandContext(ctx, curl, "-s", "-S", "--fail", "--noproxy", "*", "-o", "/dev/null", url).CombinedOutput()
			if err != nil {
				return fmt.Errorf("curl: %v: %s", err, out)
			}
			return nil
		}}, nil
	case bigAria2:
		aria, err := exec.LookPath("aria2c")
		if err != nil {
			return nil, errSkip
		}
		dir, err := os.MkdirTemp("", "bench-aria2-")
		if err != nil {
			return nil, err
		}
		return &bigClient{name: name, close: func() { os.RemoveAll(dir) }, download: func(ctx context.Context) error {
			// aria2c cannot write to /dev/null: it writes a file, which is
			// removed afterwards; one connection, like the others.
			out, err := exec.CommandContext(ctx, aria, "-q", "--allow-overwrite=true", "--file-allocation=none",
				"--no-conf", "-x1", "-s1", "-d", dir, "-o", "big.bin", url).CombinedOutput()
			os.Remove(filepath.Join(dir, "big.bin"))
			if err != nil {
				return fmt.Errorf("aria2c: %v: %s", err, out)
			}
			return nil
		}}, nil
	}
	panic("unknown client " + name)
}

func checkBig(n, size int64, err error) error {
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("got %d bytes, want %d", n, size)
	}
	return nil
}

// discardDelegate counts and drops the body.
type discardDelegate struct {
	n   int64
	err error
}

var (
	_ urlsession.DataDelegate       = (*discardDelegate)(nil)
	_ urlsession.CompletionDelegate = (*discardDelegate)(nil)
)

func (d *discardDelegate) DidReceiveData(_ *urlsession.Session, _ *urlsession.DataTask, data []byte) {
	d.n += int64(len(data))
}

func (d *discardDelegate) DidCompleteWithError(_ *urlsession.Session, _ *urlsession.Task, err error) {
	d.err = err
}

func bigURL(base string, size int64) string { return base + "/big?n=" + strconv.FormatInt(size, 10) }

// bigRun is the outcome of one big download.
type bigRun struct {
	mbps      float64 // throughput, 10^6 bytes per second
	cpuPerGiB float64 // client CPU seconds (user+sys) per GiB
	gCreated  uint64  // goroutines created during the download
}

// timeBig downloads once. The CPU time is this process's, plus that of the
// children waited for meanwhile (curl); the server process is not waited
// for, so it is not counted.
// bytesClient reads url's body of size bytes through s.Bytes and
// io.Copy into io.Discard.
func bytesClient(name string, s *urlsession.Session, url string, size int64) *bigClient {
	return &bigClient{name: name, close: s.FinishTasksAndInvalidate, download: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		stream, _, err := s.Bytes(ctx, req)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, stream)
		stream.Close()
		return checkBig(n, size, err)
	}}
}

// delegateClient reads url's body of size bytes through a data task
// whose delegate counts and discards each piece.
func delegateClient(name string, s *urlsession.Session, url string, size int64) *bigClient {
	return &bigClient{name: name, close: s.FinishTasksAndInvalidate, download: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		t := s.DataTask(req)
		d := &discardDelegate{}
		t.SetDelegate(d)
		t.Resume()
		<-t.Done()
		return checkBig(d.n, size, d.err)
	}}
}

// benchGets warms c up and times b.N GETs with conc in flight, reporting
// allocations; the caller reports the figures it wants from the result.
func benchGets(b *testing.B, c *getClient, conc int) getResult {
	b.Helper()
	if err := warmGets(c, conc); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	r, err := runGets(c, b.N, conc)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// timeRounds times each client once a round, in rotating order, and
// returns every client's runs in the order of clients.
func timeRounds(t *testing.T, clients []*bigClient, size int64, rounds int) [][]bigRun {
	runs := make([][]bigRun, len(clients))
	for r := range rounds {
		for _, i := range rotate(len(clients), r) {
			runtime.GC()
			v, err := timeBig(clients[i], size)
			if err != nil {
				t.Fatal(err)
			}
			runs[i] = append(runs[i], v)
		}
	}
	return runs
}

// runField picks one figure out of each client's runs.
func runField(runs [][]bigRun, f func(bigRun) float64) [][]float64 {
	out := make([][]float64, len(runs))
	for i, rs := range runs {
		for _, r := range rs {
			out[i] = append(out[i], f(r))
		}
	}
	return out
}

func mbpsOf(r bigRun) float64   { return r.mbps }
func cpuOfRun(r bigRun) float64 { return r.cpuPerGiB }

func timeBig(c *bigClient, size int64) (bigRun, error) {
	cpu0 := cpuTime()
	g0 := goroutinesCreated()
	start := time.Now()
	if err := c.download(context.Background()); err != nil {
		return bigRun{}, fmt.Errorf("%s: %w", c.name, err)
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	return bigRun{
		gCreated:  goroutinesCreated() - g0,
		mbps:      float64(size) / 1e6 / elapsed.Seconds(),
		cpuPerGiB: cpu.Seconds() / (float64(size) / (1 << 30)),
	}, nil
}

// selfCPU returns the user and system time of this process alone.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// contextSwitches returns this process's context switches so far
// (voluntary and not).
func contextSwitches() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Nvcsw + ru.Nivcsw
}

// gcCPU returns the runtime's estimate of the CPU time spent on garbage
// collection so far.
func gcCPU() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(s[0].Value.Float64() * 1e9)
}

// mutexWait returns the time goroutines have spent blocked on sync.Mutex.
func mutexWait() time.Duration {
	s := []metrics.Sample{{Name: "/sync/mutex/wait/total:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(s[0].Value.Float64() * 1e9)
}

// cpuTime returns the user and system time of this process and its
// waited-for children.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

// ---------------------------------------------------------------------------
// Many tasks in flight

const (
	inflightRaw     = "raw net/http"
	inflightSession = "session"
)

// inflightN is the number of requests held in flight at once: 10,000, or
// fewer when the file descriptor limit cannot take them. The server runs in
// another process, so each process needs one descriptor per connection plus
// some slack.
func inflightN() (n int, note string) {
	n = 10000
	if v := os.Getenv("BENCH_INFLIGHT_N"); v != "" {
		if m, err := strconv.Atoi(v); err == nil && m > 0 {
			n = m
		}
	}
	const slack = 1024
	if lim := raiseNoFile(); lim < uint64(n+slack) {
		m := int(lim) - slack
		note = fmt.Sprintf("RLIMIT_NOFILE hard limit %d: N lowered from %d to %d", lim, n, m)
		n = m
	}
	return n, note
}

// holdGate reports whether the server holds every response until all n
// requests arrived (BENCH_HOLD_GATE, on unless "0"); see /hold.
func holdGate() bool { return os.Getenv("BENCH_HOLD_GATE") != "0" }

// holdMS is how long the server holds each response: BENCH_HOLD_MS, 1000 by
// default.
func holdMS() int {
	if v := os.Getenv("BENCH_HOLD_MS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return n
		}
	}
	return 1000
}

type inflightResult struct {
	n            int
	heapPerTask  float64       // HeapAlloc after GC, in flight minus baseline, / n
	stackPerTask float64       // StackInuse, likewise
	gPerTask     float64       // goroutines, likewise
	minInflight  int64         // requests in flight when sampled (client's count)
	allArrived   time.Duration // from the first start to the server having all n
	elapsed      time.Duration // from the first start to the last completion
}

// runInflight starts n requests at once against a fresh server process that
// holds each response for holdMS, samples the client's memory once the
// server has received all n, and waits for all to complete.
func runInflight(kind string, n int) (inflightResult, error) {
	srv, err := startServer()
	if err != nil {
		return inflightResult{}, err
	}
	defer srv.stop()
	url := fmt.Sprintf("%s/hold?ms=%d", srv.base, holdMS())
	if holdGate() {
		url += fmt.Sprintf("&gate=%d", n)
	}

	// The stats client polls the server; its connection is open before the
	// baseline so that it counts in both samples.
	statsTr := &http.Transport{DialContext: (&net.Dialer{}).DialContext}
	defer statsTr.CloseIdleConnections()
	stats := func() (arrived, inflight int64, err error) {
		resp, err := (&http.Client{Transport: statsTr}).Get(srv.base + "/stats")
		if err != nil {
			return 0, 0, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_, err = fmt.Sscan(string(b), &arrived, &inflight)
		return arrived, inflight, err
	}
	if _, _, err := stats(); err != nil {
		return inflightResult{}, err
	}

	var wg sync.WaitGroup
	var inflight, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, &err)
	}
	ctx := context.Background()

	var start func()
	var closeClient func()
	switch kind {
	case inflightSession:
		d := &countDelegate{wg: &wg, inflight: &inflight, fail: fail}
		s := newSession(unlimited, d)
		closeClient = s.FinishTasksAndInvalidate
		start = func() {
			for range n {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					panic(err)
				}
				wg.Add(1)
				inflight.Add(1)
				s.DataTask(req).Resume()
			}
		}
	case inflightRaw:
		tr := newRawTransport(unlimited)
		c := &http.Client{Transport: tr}
		closeClient = tr.CloseIdleConnections
		start = func() {
			for range n {
				wg.Add(1)
				inflight.Add(1)
				go func() {
					defer wg.Done()
					defer inflight.Add(-1)
					req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
					if err != nil {
						panic(err)
					}
					resp, err := c.Do(req)
					if err != nil {
						fail(err)
						return
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != http.StatusOK || len(body) != 16) {
						err = fmt.Errorf("bad answer: %s, %d bytes", resp.Status, len(body))
					}
					if err != nil {
						fail(err)
					}
				}()
			}
		}
	default:
		panic("unknown kind " + kind)
	}
	defer closeClient()

	var base, peak runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&base)
	g0 := runtime.NumGoroutine()

	t0 := time.Now()
	start()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		arrived, _, err := stats()
		if err != nil {
			return inflightResult{}, fmt.Errorf("stats: %w", err)
		}
		if arrived >= int64(n) {
			break
		}
		if e := firstErr.Load(); e != nil {
			break
		}
		if time.Now().After(deadline) {
			return inflightResult{}, fmt.Errorf("%s: only %d of %d requests arrived", kind, arrived, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	allArrived := time.Since(t0)
	inNow := inflight.Load()
	runtime.GC()
	runtime.ReadMemStats(&peak)
	g1 := runtime.NumGoroutine()
	inAfter := inflight.Load()
	if dir := os.Getenv("BENCH_INFLIGHT_HEAPPROFILE"); dir != "" {
		// The live heap while all requests are in flight, for
		// go tool pprof -sample_index=inuse_space.
		if f, err := os.Create(filepath.Join(dir, "inflight-"+benchName(kind)+".heap")); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}

	wg.Wait()
	elapsed := time.Since(t0)
	if e := firstErr.Load(); e != nil {
		return inflightResult{}, fmt.Errorf("%s: %d of %d failed, first: %w", kind, failed.Load(), n, *e)
	}
	return inflightResult{
		n:            n,
		heapPerTask:  (float64(peak.HeapAlloc) - float64(base.HeapAlloc)) / float64(n),
		stackPerTask: (float64(peak.StackInuse) - float64(base.StackInuse)) / float64(n),
		gPerTask:     float64(g1-g0) / float64(n),
		minInflight:  min(inNow, inAfter),
		allArrived:   allArrived,
		elapsed:      elapsed,
	}, nil
}

// countDelegate is the session delegate of the in-flight test: it counts
// completions and failures.
type countDelegate struct {
	wg       *sync.WaitGroup
	inflight *atomic.Int64
	fail     func(error)
}

var _ urlsession.CompletionDelegate = (*countDelegate)(nil)

func (d *countDelegate) DidCompleteWithError(_ *urlsession.Session, t *urlsession.Task, err error) {
	if err == nil {
		if resp := t.Response(); resp == nil || resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("bad answer: %v", resp)
		} else if got := t.CountOfBytesReceived(); got != 16 {
			err = fmt.Errorf("got %d bytes, want 16", got)
		}
	}
	if err != nil {
		d.fail(err)
	}
	d.inflight.Add(-1)
	d.wg.Done()
}
