//go:build unix

package bench

// BenchmarkResumableUpload: one upload of BENCH_UPLOAD_BYTES (256 MiB by
// default) from memory per iteration to a resumable-upload server on
// loopback, uninterrupted and with the connection reset 10 times at evenly
// spaced offsets, so that the task resumes on its own 10 times. The ratio
// of the two times is the cost of the interruptions.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/resumable"
)

func uploadSize() int64 {
	if v, err := strconv.ParseInt(os.Getenv("BENCH_UPLOAD_BYTES"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 256 << 20
}

// countingUploads is a minimal interop-version-6 server that counts the
// bytes of one upload at a time, and resets the connection once the upload
// reaches each of cuts.
type countingUploads struct {
	mu       sync.Mutex
	offset   int64
	complete bool
	cuts     []int64
}

func (s *countingUploads) reset(cuts []int64) {
	s.mu.Lock()
	s.offset, s.complete, s.cuts = 0, false, cuts
	s.mu.Unlock()
}

func (s *countingUploads) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set(resumable.HeaderInteropVersion, "6")
	switch r.Method {
	case http.MethodPost:
		h.Set("Location", "/upload/1")
		w.WriteHeader(resumable.StatusUploadResumptionSupported)
		s.receive(w, r)
	case http.MethodHead:
		s.mu.Lock()
		h.Set(resumable.HeaderOffset, strconv.FormatInt(s.offset, 10))
		resumable.SetComplete(h, 6, s.complete)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		off, err := resumable.Offset(r.Header)
		s.mu.Lock()
		cur := s.offset
		s.mu.Unlock()
		if err != nil || off != cur {
			h.Set(resumable.HeaderOffset, strconv.FormatInt(cur, 10))
			w.WriteHeader(http.StatusConflict)
			return
		}
		s.receive(w, r)
	}
}

func (s *countingUploads) receive(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	limit := int64(-1)
	if len(s.cuts) > 0 {
		limit = s.cuts[0] - s.offset
		s.cuts = s.cuts[1:]
	}
	s.mu.Unlock()
	body := io.Reader(r.Body)
	if limit >= 0 {
		body = io.LimitReader(r.Body, limit)
	}
	buf := make([]byte, 1<<20)
	for {
		n, err := body.Read(buf)
		s.mu.Lock()
		s.offset += int64(n)
		s.mu.Unlock()
		if err == io.EOF {
			break
		}
		if err != nil {
			return
		}
	}
	if limit >= 0 {
		panic(http.ErrAbortHandler)
	}
	s.mu.Lock()
	s.complete = true
	s.mu.Unlock()
	resumable.SetComplete(w.Header(), 6, true)
	w.WriteHeader(http.StatusCreated)
}

// uploadBench is the client, server and body of the upload benchmarks.
type uploadBench struct {
	size int64
	body []byte
	srv  *countingUploads
	ts   *httptest.Server
	s    *urlsession.Session
}

func newUploadBench(tb testing.TB) *uploadBench {
	u := &uploadBench{size: uploadSize(), srv: &countingUploads{}}
	u.body = make([]byte, u.size)
	for i := range u.body {
		u.body[i] = byte(i * 7)
	}
	u.ts = httptest.NewServer(u.srv)
	s, err := urlsession.New(urlsession.DefaultConfiguration(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	u.s = s
	tb.Cleanup(func() { s.InvalidateAndCancel(); u.ts.Close() })
	return u
}

// metricsOf hands over a task's metrics.
type metricsOf struct{ ch chan *urlsession.TaskMetrics }

func (d *metricsOf) DidFinishCollectingMetrics(_ *urlsession.Session, _ *urlsession.Task, m *urlsession.TaskMetrics) {
	d.ch <- m
}

// run uploads the body once with n resets and returns the time it took
// and the body bytes sent in all.
func (u *uploadBench) run(n int) (time.Duration, int64, error) {
	var cuts []int64
	for i := 1; i <= n; i++ {
		cuts = append(cuts, u.size*int64(i)/int64(n+1))
	}
	u.srv.reset(cuts)
	req, _ := http.NewRequest(http.MethodPost, u.ts.URL+"/upload", nil)
	d := &metricsOf{ch: make(chan *urlsession.TaskMetrics, 1)}
	start := time.Now()
	_, resp, err := u.s.Upload(context.Background(), req, u.body, urlsession.WithDelegate(d))
	took := time.Since(start)
	if err != nil {
		return 0, 0, err
	}
	u.srv.mu.Lock()
	got, done := u.srv.offset, u.srv.complete
	u.srv.mu.Unlock()
	if resp.StatusCode != http.StatusCreated || got != u.size || !done {
		return 0, 0, fmt.Errorf("status %d, server has %d of %d bytes (complete %v)", resp.StatusCode, got, u.size, done)
	}
	// The metrics may come after Upload returns.
	var sent int64
	for _, tx := range (<-d.ch).Transactions {
		sent += tx.RequestBodyBytesSent
	}
	return took, sent, nil
}

func BenchmarkResumableUpload(b *testing.B) {
	u := newUploadBench(b)
	for _, n := range []int{0, 10} {
		b.Run(fmt.Sprintf("cuts=%d", n), func(b *testing.B) {
			b.SetBytes(u.size)
			for b.Loop() {
				if _, _, err := u.run(n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestResumableUploadReport prints the median time of an uninterrupted
// upload and of one reset 10 times, run in alternation, and their ratio.
// It runs only with BENCH_UPLOAD=1.
func TestResumableUploadReport(t *testing.T) {
	if os.Getenv("BENCH_UPLOAD") != "1" {
		t.Skip("set BENCH_UPLOAD=1 to run")
	}
	rounds := 5
	if v, err := strconv.Atoi(os.Getenv("BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	u := newUploadBench(t)
	if _, _, err := u.run(0); err != nil { // warm up
		t.Fatal(err)
	}
	var plain, cut []time.Duration
	var ratios []float64
	var extra int64
	var cpu [2]time.Duration // CPU time of the process (client and server) per kind
	for r := range rounds {
		order := []int{0, 10}
		if r%2 == 1 {
			order = []int{10, 0}
		}
		var round [2]time.Duration
		for _, n := range order {
			c0 := cpuTime()
			took, sent, err := u.run(n)
			if err != nil {
				t.Fatal(err)
			}
			cpu[min(n, 1)] += cpuTime() - c0
			if n == 0 {
				plain = append(plain, took)
				round[0] = took
			} else {
				cut = append(cut, took)
				round[1] = took
				extra += sent - u.size
			}
		}
		ratios = append(ratios, round[1].Seconds()/round[0].Seconds())
	}
	slices.Sort(plain)
	slices.Sort(cut)
	slices.Sort(ratios)
	mp, mc := plain[len(plain)/2], cut[len(cut)/2]
	t.Logf("%d MiB upload, median of %d rounds: uninterrupted %v (%.0f MiB/s), 10 resets %v (%.0f MiB/s); ratio %.2f (per-round ratios %.2f to %.2f); body bytes sent again %.1f MiB per reset",
		u.size>>20, rounds, mp.Round(time.Millisecond), float64(u.size)/(1<<20)/mp.Seconds(),
		mc.Round(time.Millisecond), float64(u.size)/(1<<20)/mc.Seconds(), ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1],
		float64(extra)/float64(rounds*10)/(1<<20))
	t.Logf("CPU time of the process (client and server), mean per upload: uninterrupted %v, 10 resets %v; wall time per reset (median difference) %v",
		(cpu[0] / time.Duration(rounds)).Round(time.Millisecond), (cpu[1] / time.Duration(rounds)).Round(time.Millisecond),
		((mc - mp) / 10).Round(100*time.Microsecond))
}
