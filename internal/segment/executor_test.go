package segment

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// body returns n deterministic pseudo-random bytes.
func body(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// origin serves data with http.ServeContent and a strong ETag, counting the
// body bytes it sends.
type origin struct {
	data []byte
	sent atomic.Int64
	reqs atomic.Int64
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.reqs.Add(1)
	w.Header().Set("ETag", `"v1"`)
	http.ServeContent(countingWriter{w, &o.sent}, r, "", time.Unix(1e9, 0), bytes.NewReader(o.data))
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

// Write counts p before writing it, so that the count is complete by the
// time a client has read everything.
func (c countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n - len(p)))
	return n, err
}

// fetcher returns a Config.Fetch sending GETs with Range to url.
func fetcher(client *http.Client, url string) func(context.Context, Range) (*http.Response, error) {
	return func(ctx context.Context, r Range) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Range", r.Header())
		return client.Do(req)
	}
}

// newFile returns an empty file in a test directory.
func newFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "download"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// checkFile fails t unless f holds exactly want.
func checkFile(t *testing.T, f *os.File, want []byte) {
	t.Helper()
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("file SHA-256 %x (%d bytes); want %x (%d bytes)", sha256.Sum256(got), len(got), sha256.Sum256(want), len(want))
	}
}

func noBackoff(int) time.Duration { return 0 }

// progressLog checks that Progress calls are serialised and never go back.
type progressLog struct {
	mu      sync.Mutex
	busy    bool
	last    int64
	calls   int
	resets  int
	problem string
}

func (p *progressLog) record(n int64) {
	p.mu.Lock()
	if p.busy {
		p.problem = "concurrent Progress calls"
	}
	p.busy = true
	if n < p.last {
		if n == 0 {
			p.resets++
		} else if p.problem == "" {
			p.problem = fmt.Sprintf("progress went back from %d to %d", p.last, n)
		}
	}
	p.last = n
	p.calls++
	p.busy = false
	p.mu.Unlock()
}

func TestPlan(t *testing.T) {
	tests := []struct {
		total   int64
		n       int
		min     int64
		lengths []int64
	}{
		{10, 3, 1, []int64{4, 3, 3}},
		{10, 1, 1, []int64{10}},
		{10, 20, 1, []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{10, 4, 4, []int64{5, 5}},
		{10, 4, 100, []int64{10}},
		{1, 8, 0, []int64{1}},
		{1 << 30, 8, 1 << 20, []int64{1 << 27, 1 << 27, 1 << 27, 1 << 27, 1 << 27, 1 << 27, 1 << 27, 1 << 27}},
	}
	for _, tt := range tests {
		st, err := Plan(tt.total, tt.n, tt.min)
		if err != nil {
			t.Fatalf("Plan(%d, %d, %d): %v", tt.total, tt.n, tt.min, err)
		}
		var got []int64
		for _, g := range st.Segments {
			got = append(got, g.End-g.Start)
		}
		if !slices.Equal(got, tt.lengths) || st.Validate() != nil || st.Written() != 0 || st.Complete() {
			t.Errorf("Plan(%d, %d, %d) = %v; want lengths %v", tt.total, tt.n, tt.min, st, tt.lengths)
		}
	}
	for _, bad := range []struct {
		total int64
		n     int
	}{{0, 1}, {-5, 1}, {10, 0}, {10, MaxSegments + 1}} {
		if _, err := Plan(bad.total, bad.n, 1); !errors.Is(err, ErrInvalidState) {
			t.Errorf("Plan(%d, %d) error = %v; want ErrInvalidState", bad.total, bad.n, err)
		}
	}
}

func TestStateEncoding(t *testing.T) {
	st := State{Total: 100, Segments: []Segment{{0, 40, 40}, {40, 70, 5}, {70, 100, 0}}}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"total":100,"segments":[{"start":0,"end":40,"done":40},{"start":40,"end":70,"done":5},{"start":70,"end":100,"done":0}]}`; string(b) != want {
		t.Errorf("encoding = %s; want %s", b, want)
	}
	got, err := ParseState(b)
	if err != nil || !slices.Equal(got.Segments, st.Segments) || got.Total != 100 || got.Written() != 45 {
		t.Errorf("ParseState = %+v, %v", got, err)
	}
	for _, bad := range []string{
		``, `{`, `null`, `[]`, `{"total":100}`,
		`{"total":0,"segments":[{"start":0,"end":0,"done":0}]}`,
		`{"total":100,"segments":[{"start":0,"end":50,"done":0}]}`,
		`{"total":100,"segments":[{"start":0,"end":50,"done":0},{"start":40,"end":100,"done":0}]}`,
		`{"total":100,"segments":[{"start":0,"end":50,"done":0},{"start":60,"end":100,"done":0}]}`,
		`{"total":100,"segments":[{"start":0,"end":100,"done":101}]}`,
		`{"total":100,"segments":[{"start":0,"end":100,"done":-1}]}`,
		`{"total":100,"segments":[{"start":0,"end":100,"done":0}],"extra":1}`,
		`{"total":100,"segments":[{"start":0,"end":100,"done":0}]} {}`,
		`{"total":100,"segments":[{"start":0,"end":100,"done":0}]}x`,
		`{"total":1e400,"segments":[]}`,
	} {
		if _, err := ParseState([]byte(bad)); !errors.Is(err, ErrInvalidState) {
			t.Errorf("ParseState(%s) error = %v; want ErrInvalidState", bad, err)
		}
	}
}

func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"total":100,"segments":[{"start":0,"end":40,"done":40},{"start":40,"end":100,"done":5}]}`))
	f.Add([]byte(`{"total":9223372036854775807,"segments":[{"start":0,"end":9223372036854775807,"done":0}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseState(b)
		if err != nil {
			return
		}
		if st.Validate() != nil || st.Written() < 0 || st.Written() > st.Total {
			t.Fatalf("accepted bad state %+v", st)
		}
	})
}

// servers returns an HTTP/1.1 and an HTTP/2 server for h.
func servers(t *testing.T, h http.Handler) map[string]*httptest.Server {
	h1 := httptest.NewServer(h)
	h2 := httptest.NewUnstartedServer(h)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(func() { h1.Close(); h2.Close() })
	return map[string]*httptest.Server{"h1": h1, "h2": h2}
}

func TestSegmentedServeContent(t *testing.T) {
	data := body(3<<20 + 12345)
	o := &origin{data: data}
	for name, srv := range servers(t, o) {
		for _, n := range []int{1, 4, 16} {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				o.sent.Store(0)
				st, err := Plan(int64(len(data)), n, 64<<10)
				if err != nil {
					t.Fatal(err)
				}
				f := newFile(t)
				var pl progressLog
				e, err := NewExecutor(Config{
					Fetch:      fetcher(srv.Client(), srv.URL),
					Dst:        f,
					Progress:   pl.record,
					MinSplit:   -1,
					BufferSize: 64 << 10,
				}, st)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
				checkFile(t, f, data)
				if fin := e.State(); !fin.Complete() || len(fin.Segments) != len(st.Segments) {
					t.Errorf("final state %+v", fin)
				}
				if pl.problem != "" || pl.last != int64(len(data)) || pl.resets != 0 {
					t.Errorf("progress: %s; last %d of %d; %d resets", pl.problem, pl.last, len(data), pl.resets)
				}
				if got := o.sent.Load(); got != int64(len(data)) {
					t.Errorf("server sent %d bytes; want %d", got, len(data))
				}
				if e.FellBack() {
					t.Error("FellBack with a server that does ranges")
				}
			})
		}
	}
}

// resetter wraps an origin and resets the connection (RST) the first time
// a response reaches each of the given absolute offsets of the body.
type resetter struct {
	o    *origin
	mu   sync.Mutex
	cuts []int64 // not yet used, ascending
	hits atomic.Int64
}

func (rs *resetter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rs.o.reqs.Add(1)
	w.Header().Set("ETag", `"v1"`)
	cw := &cutWriter{ResponseWriter: w, rs: rs}
	http.ServeContent(cw, r, "", time.Unix(1e9, 0), bytes.NewReader(rs.o.data))
}

type cutWriter struct {
	http.ResponseWriter
	rs      *resetter
	started bool
	pos     int64
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if !c.started {
		c.started = true
		if cr := c.Header().Get("Content-Range"); cr != "" {
			fmt.Sscanf(cr, "bytes %d-", &c.pos)
		}
	}
	c.rs.mu.Lock()
	cut := int64(-1)
	for i, k := range c.rs.cuts {
		if k >= c.pos && k < c.pos+int64(len(p)) {
			cut = k
			c.rs.cuts = slices.Delete(c.rs.cuts, i, i+1)
			break
		}
	}
	c.rs.mu.Unlock()
	if cut < 0 {
		c.rs.o.sent.Add(int64(len(p)))
		n, err := c.ResponseWriter.Write(p)
		c.rs.o.sent.Add(int64(n - len(p)))
		c.pos += int64(n)
		return n, err
	}
	c.rs.o.sent.Add(cut - c.pos)
	n, _ := c.ResponseWriter.Write(p[:cut-c.pos])
	c.rs.o.sent.Add(int64(n) - (cut - c.pos))
	rc := http.NewResponseController(c.ResponseWriter)
	rc.Flush()
	conn, _, err := rc.Hijack()
	if err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		conn.Close()
	}
	c.rs.hits.Add(1)
	panic(http.ErrAbortHandler)
}

func TestResetsResumePerSegment(t *testing.T) {
	const size = 2<<20 + 999
	data := body(size)
	r := rand.New(rand.NewPCG(1, 2))
	var cuts []int64
	for range 60 {
		cuts = append(cuts, r.Int64N(size))
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	rs := &resetter{o: &origin{data: data}, cuts: cuts}
	srv := httptest.NewServer(rs)
	defer srv.Close()
	st, _ := Plan(size, 6, 1)
	f := newFile(t)
	var pl progressLog
	var received atomic.Int64
	plain := fetcher(srv.Client(), srv.URL)
	e, err := NewExecutor(Config{
		Fetch: func(ctx context.Context, r Range) (*http.Response, error) {
			resp, err := plain(ctx, r)
			if err == nil {
				resp.Body = countingBody{resp.Body, &received}
			}
			return resp, err
		},
		Dst:        f,
		Backoff:    noBackoff,
		Progress:   pl.record,
		BufferSize: 8 << 10,
		MinSplit:   -1,
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFile(t, f, data)
	t.Logf("%d resets of %d planned", rs.hits.Load(), len(cuts))
	if rs.hits.Load() < int64(len(cuts))/2 {
		t.Errorf("only %d of %d resets happened", rs.hits.Load(), len(cuts))
	}
	// Each reset costs at most what was in flight: bytes the server wrote
	// that never reached the file. Resuming never fetches again what is
	// written, so the excess is bounded by the socket buffers per reset.
	if extra := rs.o.sent.Load() - size; extra < 0 || extra > rs.hits.Load()*(4<<20) {
		t.Errorf("server sent %d bytes for a %d-byte body with %d resets", rs.o.sent.Load(), size, rs.hits.Load())
	}
	if pl.problem != "" || pl.last != size {
		t.Errorf("progress: %s; last %d", pl.problem, pl.last)
	}
	// Every byte that reached the client was kept: resuming downloads
	// nothing twice.
	if got := received.Load(); got != size {
		t.Errorf("the client received %d bytes for a %d-byte body", got, size)
	}
}

// countingBody counts the bytes read from a response body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestIgnoredRangeFallsBack(t *testing.T) {
	data := body(1<<20 + 5)
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No range support at all: the whole body, 200.
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		n, _ := w.Write(data)
		sent.Add(int64(n))
	}))
	defer srv.Close()
	st, _ := Plan(int64(len(data)), 4, 1)
	f := newFile(t)
	var pl progressLog
	e, _ := NewExecutor(Config{Fetch: fetcher(srv.Client(), srv.URL), Dst: f, Progress: pl.record, Backoff: noBackoff}, st)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFile(t, f, data)
	if !e.FellBack() {
		t.Error("FellBack = false")
	}
	if fin := e.State(); len(fin.Segments) != 1 || !fin.Complete() {
		t.Errorf("state after fall-back: %+v", fin)
	}
	if pl.problem != "" || pl.last != int64(len(data)) {
		t.Errorf("progress: %s; last %d", pl.problem, pl.last)
	}
}

func TestIgnoredRangeLengthChanged(t *testing.T) {
	data := body(1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(data) // 1000 bytes, but the State says 2000
	}))
	defer srv.Close()
	st, _ := Plan(2000, 2, 1)
	e, _ := NewExecutor(Config{Fetch: fetcher(srv.Client(), srv.URL), Dst: newFile(t)}, st)
	if err := e.Run(context.Background()); !errors.Is(err, ErrLengthChanged) {
		t.Errorf("Run = %v; want ErrLengthChanged", err)
	}
	if e.State().Complete() {
		t.Error("state complete after a failure")
	}
}

func TestWrongContentRange(t *testing.T) {
	data := body(100000)
	for _, tc := range []struct{ name, cr string }{
		{"shifted", "bytes %d-%d/100000"},
		{"other total", "bytes %d-%d/99999"},
		{"missing", ""},
		{"garbage", "bytes x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var a, b int64
				fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b)
				switch {
				case tc.name == "shifted":
					w.Header().Set("Content-Range", fmt.Sprintf(tc.cr, a+1, b+1))
				case strings.Contains(tc.cr, "%"):
					w.Header().Set("Content-Range", fmt.Sprintf(tc.cr, a, b))
				case tc.cr != "":
					w.Header().Set("Content-Range", tc.cr)
				}
				w.WriteHeader(http.StatusPartialContent)
				w.Write(data[a : b+1])
			}))
			defer srv.Close()
			st, _ := Plan(int64(len(data)), 3, 1)
			e, _ := NewExecutor(Config{Fetch: fetcher(srv.Client(), srv.URL), Dst: newFile(t), Backoff: noBackoff}, st)
			err := e.Run(context.Background())
			var cre *ContentRangeError
			if !errors.As(err, &cre) || cre.Total != int64(len(data)) {
				t.Fatalf("Run = %v; want a *ContentRangeError", err)
			}
			if e.State().Written() != 0 {
				t.Errorf("%d bytes written from a wrong range", e.State().Written())
			}
		})
	}
}

func TestStatusRetriesAndGivesUp(t *testing.T) {
	data := body(50000)
	o := &origin{data: data}
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every other request is refused with 503.
		if calls.Add(1)%2 == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		o.ServeHTTP(w, r)
	}))
	defer srv.Close()
	st, _ := Plan(int64(len(data)), 3, 1)
	f := newFile(t)
	e, _ := NewExecutor(Config{Fetch: fetcher(srv.Client(), srv.URL), Dst: f, Backoff: noBackoff, Connections: 1}, st)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFile(t, f, data)

	// A server that always fails: bounded retries, then the error.
	var fails atomic.Int64
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fails.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer bad.Close()
	e, _ = NewExecutor(Config{Fetch: fetcher(bad.Client(), bad.URL), Dst: newFile(t), Backoff: noBackoff, Retries: 3, Connections: 1}, st)
	err := e.Run(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusBadGateway {
		t.Fatalf("Run = %v; want a 502 *StatusError", err)
	}
	if got := fails.Load(); got != 4 {
		t.Errorf("%d requests; want 1 + 3 retries", got)
	}
	// A permanent status is not retried.
	fails.Store(0)
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fails.Add(1)
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
	}))
	defer gone.Close()
	e, _ = NewExecutor(Config{Fetch: fetcher(gone.Client(), gone.URL), Dst: newFile(t), Backoff: noBackoff, Connections: 1}, st)
	if err := e.Run(context.Background()); !errors.As(err, &se) || se.Code != 416 || fails.Load() != 1 {
		t.Errorf("Run = %v after %d requests; want one 416", err, fails.Load())
	}
}

// failingFile fails every write once limit bytes have been written.
type failingFile struct {
	f     *os.File
	mu    sync.Mutex
	left  int64
	wrote int64
}

var errDiskFull = errors.New("no space left on device")

func (ff *failingFile) WriteAt(p []byte, off int64) (int, error) {
	ff.mu.Lock()
	n := int(min(int64(len(p)), ff.left))
	ff.left -= int64(n)
	ff.mu.Unlock()
	w, err := ff.f.WriteAt(p[:n], off)
	ff.mu.Lock()
	ff.wrote += int64(w)
	ff.mu.Unlock()
	if err == nil && n < len(p) {
		err = errDiskFull
	}
	return w, err
}

func TestWriteFailureKeepsStateTrue(t *testing.T) {
	data := body(1 << 20)
	srv := httptest.NewServer(&origin{data: data})
	defer srv.Close()
	st, _ := Plan(int64(len(data)), 4, 1)
	ff := &failingFile{f: newFile(t), left: 300000}
	e, _ := NewExecutor(Config{Fetch: fetcher(srv.Client(), srv.URL), Dst: ff, BufferSize: 16 << 10}, st)
	err := e.Run(context.Background())
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Run = %v; want the write error", err)
	}
	fin := e.State()
	if fin.Written() != ff.wrote || fin.Complete() {
		t.Errorf("state says %d bytes written; the file got %d", fin.Written(), ff.wrote)
	}
	// What the state claims is in the file is the body's bytes.
	got, _ := os.ReadFile(ff.f.Name())
	for _, g := range fin.Segments {
		if g.Done == 0 {
			continue
		}
		if g.Start+g.Done > int64(len(got)) {
			t.Errorf("segment %+v: the file has only %d bytes", g, len(got))
			continue
		}
		if !bytes.Equal(got[g.Start:g.Start+g.Done], data[g.Start:g.Start+g.Done]) {
			t.Errorf("segment %+v: file differs from the body", g)
		}
	}
}

func TestCancelAndResumeFromSavedState(t *testing.T) {
	data := body(2 << 20)
	o := &origin{data: data}
	srv := httptest.NewServer(o)
	defer srv.Close()
	f := newFile(t)
	st, _ := Plan(int64(len(data)), 5, 1)
	for round := 0; ; round++ {
		if round > 50 {
			t.Fatal("no progress after 50 rounds")
		}
		ctx, cancel := context.WithCancel(context.Background())
		before := st.Written()
		e, err := NewExecutor(Config{
			Fetch:      fetcher(srv.Client(), srv.URL),
			Dst:        f,
			BufferSize: 16 << 10,
			MinSplit:   64 << 10,
			Progress: func(n int64) {
				if n >= before+300000 {
					cancel() // stop after about 300 kB more
				}
			},
		}, st)
		if err != nil {
			t.Fatal(err)
		}
		err = e.Run(ctx)
		cancel()
		saved, merr := json.Marshal(e.State())
		if merr != nil {
			t.Fatal(merr)
		}
		if st, err = ParseState(saved); err != nil {
			t.Fatalf("saved state does not parse: %v", err)
		}
		if err == nil && st.Complete() {
			break
		}
		if st.Written() <= before {
			t.Fatalf("round %d made no progress", round)
		}
	}
	checkFile(t, f, data)
	if len(st.Segments) <= 5 {
		t.Logf("no split happened (%d segments)", len(st.Segments))
	}
}

func TestSplitsLargestSegment(t *testing.T) {
	data := body(4 << 20)
	o := &origin{data: data}
	// The first response waits after 1 MiB until a split's request
	// comes, so that a busy machine cannot finish it before a split.
	srv := httptest.NewServer(newPausedFirst(o))
	defer srv.Close()
	// One segment, four connections: the idle three split it.
	st, _ := Plan(int64(len(data)), 1, 1)
	f := newFile(t)
	var pl progressLog
	e, _ := NewExecutor(Config{
		Fetch: fetcher(srv.Client(), srv.URL), Dst: f, Connections: 4,
		MinSplit: 256 << 10, BufferSize: 32 << 10, Progress: pl.record,
		Limiter: NewLimiter(64<<20, nil), // slow enough for the splits to matter
	}, st)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFile(t, f, data)
	fin := e.State()
	if len(fin.Segments) < 2 {
		t.Errorf("no split: %+v", fin)
	}
	if err := fin.Validate(); err != nil || !fin.Complete() {
		t.Errorf("final state %+v: %v", fin, err)
	}
	if got := o.sent.Load(); got > int64(len(data))+int64(len(fin.Segments))*(4<<20) {
		t.Errorf("server sent %d bytes for %d", got, len(data))
	}
	if pl.problem != "" || pl.last != int64(len(data)) {
		t.Errorf("progress: %s; last %d", pl.problem, pl.last)
	}
}

func TestLimiterBoundsExecutor(t *testing.T) {
	data := body(1 << 20)
	srv := httptest.NewServer(&origin{data: data})
	defer srv.Close()
	const rate = 4 << 20
	st, _ := Plan(int64(len(data)), 4, 1)
	f := newFile(t)
	start := time.Now()
	e, _ := NewExecutor(Config{Fetch: fetcher(srv.Client(), srv.URL), Dst: f, Limiter: NewLimiter(rate, nil)}, st)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFile(t, f, data)
	// A lower bound only: the burst, then the rate.
	if min := time.Duration(float64(len(data)-rate/4) / rate * float64(time.Second)); time.Since(start) < min {
		t.Errorf("1 MiB at 4 MiB/s took %v; the limit allows no less than %v", time.Since(start), min)
	}
}

func TestNewExecutorRejects(t *testing.T) {
	st, _ := Plan(10, 1, 1)
	if _, err := NewExecutor(Config{Dst: newFile(t)}, st); err == nil {
		t.Error("no Fetch accepted")
	}
	if _, err := NewExecutor(Config{Fetch: fetcher(http.DefaultClient, "http://127.0.0.1:1/")}, st); err == nil {
		t.Error("no Dst accepted")
	}
	if _, err := NewExecutor(Config{Fetch: fetcher(http.DefaultClient, "http://127.0.0.1:1/"), Dst: newFile(t)}, State{}); !errors.Is(err, ErrInvalidState) {
		t.Errorf("empty state: %v", err)
	}
}

func TestDefaultTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{&StatusError{Code: 503}, true},
		{&StatusError{Code: 429}, true},
		{&StatusError{Code: 404}, false},
		{&StatusError{Code: 416}, false},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, true},
		{errors.New("something else"), false},
		{nil, false},
	} {
		if got := DefaultTransient(tc.err); got != tc.want {
			t.Errorf("DefaultTransient(%v) = %v; want %v", tc.err, got, tc.want)
		}
	}
}

func TestRangeHeader(t *testing.T) {
	if got := (Range{0, 100}).Header(); got != "bytes=0-99" {
		t.Errorf("Header = %q", got)
	}
	for _, tc := range []struct {
		v  string
		ok bool
	}{
		{"bytes 10-19/100", true},
		{"bytes 10-19/*", true},
		{" bytes 10-19/100 ", true},
		{"bytes 10-20/100", false},
		{"bytes 11-19/100", false},
		{"bytes 10-19/101", false},
		{"bytes */100", false},
		{"items 10-19/100", false},
		{"bytes 10-19", false},
		{"", false},
	} {
		if got := contentRangeIs(tc.v, Range{10, 20}, 100); got != tc.ok {
			t.Errorf("contentRangeIs(%q) = %v; want %v", tc.v, got, tc.ok)
		}
	}
}

func TestShortWholeBodiesGiveUp(t *testing.T) {
	data := body(100000)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		// No range support, no length, and the body always cut short:
		// each attempt starts again from byte 0 and gets no further.
		w.Write(data[:60000])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	st, _ := Plan(int64(len(data)), 1, 1)
	e, _ := NewExecutor(Config{Fetch: fetcher(srv.Client(), srv.URL), Dst: newFile(t), Backoff: noBackoff, Retries: 3}, st)
	if err := e.Run(context.Background()); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Run = %v; want the cut body's error", err)
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("%d requests; want 1 + 3 retries", n)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 3 ", 3 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"100000", MaxRetryAfter},
		{"Thu, 01 Jan 2026 00:00:10 GMT", 10 * time.Second},
		{"Wed, 31 Dec 2025 23:59:00 GMT", 0},
		{"Fri, 02 Jan 2026 00:00:00 GMT", MaxRetryAfter},
		{"soon", 0},
	} {
		if got := retryAfter(tc.v, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v; want %v", tc.v, got, tc.want)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	st, _ := Plan(10, 1, 1)
	e, _ := NewExecutor(Config{Fetch: fetcher(srv.Client(), srv.URL), Dst: newFile(t), Retries: -1}, st)
	var se *StatusError
	if err := e.Run(context.Background()); !errors.As(err, &se) || se.RetryAfter != 7*time.Second || !DefaultTransient(se) {
		t.Errorf("Run = %v; want a transient 429 asking for 7s", err)
	}
}

// slowOrigin limits each response to rate bytes per second, as a server
// limiting each connection does.
type slowOrigin struct {
	o    *origin
	rate int64
}

func (s slowOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lw := NewWriter(r.Context(), w, NewLimiter(s.rate, nil))
	s.o.ServeHTTP(writerOnly{w, lw}, r)
}

// writerOnly is a ResponseWriter whose body goes through w.
type writerOnly struct {
	http.ResponseWriter
	w io.Writer
}

func (wo writerOnly) Write(p []byte) (int, error) { return wo.w.Write(p) }

func TestPerConnectionRateLimitedServer(t *testing.T) {
	data := body(2 << 20)
	o := &origin{data: data}
	srv := httptest.NewServer(slowOrigin{o, 4 << 20})
	defer srv.Close()
	st, _ := Plan(int64(len(data)), 8, 1)
	f := newFile(t)
	e, _ := NewExecutor(Config{Fetch: fetcher(srv.Client(), srv.URL), Dst: f, BufferSize: 32 << 10}, st)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFile(t, f, data)
	if got := o.sent.Load(); got != int64(len(data)) {
		t.Errorf("server sent %d bytes; want %d", got, len(data))
	}
}

// TestChangedResourceNeverSplices replaces the resource while a download
// runs: with If-Range the server then answers 200 with the new version, and
// the file must hold the new version whole, not a mix.
func TestChangedResourceNeverSplices(t *testing.T) {
	v1, v2 := body(1<<20), body(1<<20)
	for i := range v2 {
		v2[i] ^= 0x5a
	}
	var (
		mu    sync.Mutex
		reqs  int
		bytes = v1
		etag  = `"v1"`
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs++
		if reqs == 3 { // replaced after two ranges were asked for
			bytes, etag = v2, `"v2"`
		}
		b, tag := bytes, etag
		mu.Unlock()
		w.Header().Set("ETag", tag)
		http.ServeContent(w, r, "", time.Unix(1e9, 0), newReader(b))
	}))
	defer srv.Close()
	client := srv.Client()
	fetch := func(ctx context.Context, r Range) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		req.Header.Set("Range", r.Header())
		req.Header.Set("If-Range", `"v1"`)
		return client.Do(req)
	}
	st, _ := Plan(int64(len(v1)), 4, 1)
	f := newFile(t)
	var pl progressLog
	e, _ := NewExecutor(Config{Fetch: fetch, Dst: f, Connections: 2, BufferSize: 16 << 10, Progress: pl.record}, st)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !e.FellBack() {
		t.Error("FellBack = false after the resource changed")
	}
	checkFile(t, f, v2)
	if pl.problem != "" || pl.resets != 1 || pl.last != int64(len(v2)) {
		t.Errorf("progress: %q, %d resets, last %d", pl.problem, pl.resets, pl.last)
	}
}

func newReader(b []byte) io.ReadSeeker { return bytes.NewReader(b) }

// TestRunAgainAfterFailure runs an Executor whose server fails
// permanently for a while, then runs it again: it goes on from where it
// stopped.
func TestRunAgainAfterFailure(t *testing.T) {
	data := body(1 << 20)
	o := &origin{data: data}
	var broken atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			http.Error(w, "gone", http.StatusForbidden)
			return
		}
		o.ServeHTTP(w, r)
	}))
	defer srv.Close()
	st, _ := Plan(int64(len(data)), 4, 1)
	f := newFile(t)
	e, _ := NewExecutor(Config{
		Fetch: fetcher(srv.Client(), srv.URL), Dst: f, BufferSize: 16 << 10, MinSplit: -1,
		Progress: func(n int64) {
			if n >= 200000 {
				broken.Store(true)
			}
		},
	}, st)
	var se *StatusError
	if err := e.Run(context.Background()); !errors.As(err, &se) || se.Code != http.StatusForbidden {
		// The first segments may all have finished before the break.
		if err != nil || !e.State().Complete() {
			t.Fatalf("first Run = %v", err)
		}
	}
	broken.Store(false)
	written := e.State().Written()
	var asked atomic.Int64
	plain := e.cfg.Fetch
	e.cfg.Fetch = func(ctx context.Context, r Range) (*http.Response, error) {
		asked.Add(r.Len())
		return plain(ctx, r)
	}
	e.cfg.Progress = nil
	if err := e.Run(context.Background()); err != nil {
		t.Fatalf("second Run: %v", err)
	}
	checkFile(t, f, data)
	if got := asked.Load(); got != int64(len(data))-written {
		t.Errorf("second Run asked for %d bytes; %d were missing", got, int64(len(data))-written)
	}
}

// getWhole sends "Range: bytes=0-" as a download task's first request does.
func getWhole(t *testing.T, client *http.Client, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Range", "bytes=0-")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// pausedFirst serves o, holding the first response after 1 MiB until a
// second request arrives (or for 5 s at most), so that a split always
// comes before the first response could end on its own.
type pausedFirst struct {
	o      *origin
	second chan struct{}
	once   sync.Once
	n      atomic.Int64
}

func newPausedFirst(o *origin) *pausedFirst {
	p := &pausedFirst{o: o, second: make(chan struct{})}
	time.AfterFunc(5*time.Second, p.release) // a guard: no test waits on it
	return p
}

func (p *pausedFirst) release() { p.once.Do(func() { close(p.second) }) }

func (p *pausedFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.n.Add(1) > 1 {
		p.release()
		p.o.ServeHTTP(w, r)
		return
	}
	p.o.ServeHTTP(&pauseWriter{ResponseWriter: w, left: 1 << 20, wait: p.second, done: r.Context().Done()}, r)
}

// pauseWriter passes left bytes of a body, flushes them, then waits for
// wait (or done) before passing the rest.
type pauseWriter struct {
	http.ResponseWriter
	left       int64
	wait, done <-chan struct{}
}

func (w *pauseWriter) Write(b []byte) (int, error) {
	if w.left < 0 || int64(len(b)) <= w.left {
		w.left -= int64(len(b))
		return w.ResponseWriter.Write(b)
	}
	n, err := w.ResponseWriter.Write(b[:w.left])
	w.left = -1
	if err != nil {
		return n, err
	}
	http.NewResponseController(w.ResponseWriter).Flush()
	select {
	case <-w.wait:
	case <-w.done:
		return n, http.ErrHandlerTimeout
	}
	m, err := w.ResponseWriter.Write(b[n:])
	return n + m, err
}

func TestInitialResponseIsSplit(t *testing.T) {
	data := body(4 << 20)
	o := &origin{data: data}
	srv := httptest.NewServer(newPausedFirst(o))
	defer srv.Close()
	first := getWhole(t, srv.Client(), srv.URL)
	if first.StatusCode != http.StatusPartialContent {
		t.Fatalf("status %d", first.StatusCode)
	}
	var asked atomic.Int64
	plain := fetcher(srv.Client(), srv.URL)
	st, _ := Plan(first.ContentLength, 1, 1)
	f := newFile(t)
	var pl progressLog
	e, _ := NewExecutor(Config{
		Initial: first,
		Fetch: func(ctx context.Context, r Range) (*http.Response, error) {
			asked.Add(r.Len())
			return plain(ctx, r)
		},
		Dst: f, Connections: 4, MinSplit: 256 << 10, BufferSize: 32 << 10, Progress: pl.record,
		Limiter: NewLimiter(64<<20, nil),
	}, st)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFile(t, f, data)
	fin := e.State()
	if len(fin.Segments) < 2 {
		t.Errorf("the initial response was not split: %+v", fin)
	}
	// The split-off ranges are all that was asked for again.
	var splitOff int64
	for _, g := range fin.Segments[1:] {
		splitOff += g.End - g.Start
	}
	if got := asked.Load(); got < splitOff || got > splitOff+int64(len(fin.Segments))*(1<<20) {
		t.Errorf("asked for %d bytes besides the initial response; %d were split off", got, splitOff)
	}
	if pl.problem != "" || pl.last != int64(len(data)) {
		t.Errorf("progress: %s; last %d", pl.problem, pl.last)
	}
}

func TestInitialResponseIgnoredRange(t *testing.T) {
	data := body(1 << 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(data) // no ranges, no length
	}))
	defer srv.Close()
	first := getWhole(t, srv.Client(), srv.URL)
	st, _ := Plan(int64(len(data)), 4, 1)
	f := newFile(t)
	e, _ := NewExecutor(Config{Initial: first, Fetch: fetcher(srv.Client(), srv.URL), Dst: f}, st)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFile(t, f, data)
	if !e.FellBack() {
		t.Error("FellBack = false")
	}
}

func TestInitialResponseWrongRange(t *testing.T) {
	data := body(1000)
	srv := httptest.NewServer(&origin{data: data})
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Range", "bytes=0-99") // not the whole body
	first, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := Plan(int64(len(data)), 2, 1)
	e, _ := NewExecutor(Config{Initial: first, Fetch: fetcher(srv.Client(), srv.URL), Dst: newFile(t)}, st)
	var cre *ContentRangeError
	if err := e.Run(context.Background()); !errors.As(err, &cre) || cre.Asked != (Range{0, 1000}) {
		t.Errorf("Run = %v; want a *ContentRangeError for bytes=0-999", err)
	}
}

// TestCancelStalledInitial cancels a Run whose initial response stalls:
// Run must return although that response's request is not the Executor's.
func TestCancelStalledInitial(t *testing.T) {
	data := body(1 << 20)
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(data)-1, len(data)))
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data[:100000])
		w.(http.Flusher).Flush()
		select { // stall
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	first := getWhole(t, srv.Client(), srv.URL)
	st, _ := Plan(int64(len(data)), 1, 1)
	ctx, cancel := context.WithCancel(context.Background())
	e, _ := NewExecutor(Config{
		Initial: first, Fetch: fetcher(srv.Client(), srv.URL), Dst: newFile(t), MinSplit: -1, BufferSize: 10000,
		Progress: func(n int64) {
			if n >= 100000 {
				cancel()
			}
		},
	}, st)
	if err := e.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v; want context.Canceled", err)
	}
	if got := e.State().Written(); got != 100000 {
		t.Errorf("state says %d bytes written; 100000 arrived", got)
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want ContentRange
		ok   bool
	}{
		{"bytes 0-99/100", ContentRange{Range: Range{0, 100}, Total: 100}, true},
		{"bytes 10-19/*", ContentRange{Range: Range{10, 20}, Total: -1}, true},
		{"bytes */100", ContentRange{Total: 100, Unsatisfied: true}, true},
		{"bytes 5-5/6", ContentRange{Range: Range{5, 6}, Total: 6}, true},
		{"bytes */*", ContentRange{}, false},
		{"bytes 10-9/100", ContentRange{}, false},
		{"bytes 0-100/100", ContentRange{}, false},
		{"bytes +1-2/3", ContentRange{}, false},
		{"bytes -1-2/3", ContentRange{}, false},
		{"bytes 1-2/-3", ContentRange{}, false},
		{"bytes 0-99999999999999999999/*", ContentRange{}, false},
		{"bytes 0-9223372036854775807/*", ContentRange{}, false},
		{"bytes=0-1/2", ContentRange{}, false},
		{"bytes 0-1", ContentRange{}, false},
		{"", ContentRange{}, false},
	} {
		got, err := ParseContentRange(tc.v)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseContentRange(%q) = %+v, %v; want %+v, ok %v", tc.v, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrContentRange) {
			t.Errorf("error %v does not wrap ErrContentRange", err)
		}
	}
}

func FuzzParseContentRange(f *testing.F) {
	f.Add("bytes 0-99/100")
	f.Add("bytes */100")
	f.Add("bytes 10-19/*")
	f.Fuzz(func(t *testing.T, v string) {
		cr, err := ParseContentRange(v)
		if err != nil {
			return
		}
		if cr.Unsatisfied {
			if cr.Total < 0 || cr.Range != (Range{}) {
				t.Fatalf("%q: %+v", v, cr)
			}
			return
		}
		if cr.Start < 0 || cr.End <= cr.Start || (cr.Total >= 0 && cr.End > cr.Total) {
			t.Fatalf("%q: %+v", v, cr)
		}
		if !contentRangeIs(v, cr.Range, cr.Total) {
			t.Fatalf("%q does not match its own parse %+v", v, cr)
		}
	})
}

func TestCallerClassifiesAndBacksOff(t *testing.T) {
	data := body(10000)
	o := &origin{data: data}
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 3 {
			http.NotFound(w, r) // not transient by default
			return
		}
		o.ServeHTTP(w, r)
	}))
	defer srv.Close()
	st, _ := Plan(int64(len(data)), 1, 1)
	f := newFile(t)
	var mu sync.Mutex
	var retries []int
	e, _ := NewExecutor(Config{
		Fetch: fetcher(srv.Client(), srv.URL), Dst: f,
		Transient: func(err error) bool {
			var se *StatusError
			return errors.As(err, &se) && se.Code == http.StatusNotFound
		},
		Backoff: func(retry int) time.Duration {
			mu.Lock()
			retries = append(retries, retry)
			mu.Unlock()
			return 0
		},
	}, st)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFile(t, f, data)
	if !slices.Equal(retries, []int{1, 2, 3}) {
		t.Errorf("Backoff called with %v; want [1 2 3]", retries)
	}
}

// TestIdleTimeoutRetriesStalls stalls the first two responses, one before
// its headers and one in the middle of its body: each attempt ends after
// the idle timeout and a retry completes the range.
func TestIdleTimeoutRetriesStalls(t *testing.T) {
	data := body(300000)
	o := &origin{data: data}
	release := make(chan struct{})
	defer close(release)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stall := func() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		switch calls.Add(1) {
		case 1: // before the headers
			stall()
			return
		case 2: // in the middle of the body
			var a, b int
			fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &a, &b)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, len(data)))
			w.Header().Set("Content-Length", fmt.Sprint(b-a+1))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[a : a+(b-a)/2])
			w.(http.Flusher).Flush()
			stall()
			return
		}
		o.ServeHTTP(w, r)
	}))
	defer srv.Close()
	st, _ := Plan(int64(len(data)), 1, 1)
	f := newFile(t)
	var seen []error
	var mu sync.Mutex
	e, _ := NewExecutor(Config{
		Fetch: fetcher(srv.Client(), srv.URL), Dst: f, IdleTimeout: 400 * time.Millisecond,
		Transient: func(err error) bool {
			mu.Lock()
			seen = append(seen, err)
			mu.Unlock()
			return DefaultTransient(err)
		},
		Backoff: noBackoff,
	}, st)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFile(t, f, data)
	// The first two attempts stall; on a very busy machine a later one
	// may be slow enough to count as a stall too.
	if len(seen) < 2 {
		t.Errorf("errors retried: %v; want two stalls", seen)
	}
	for _, err := range seen {
		if !errors.Is(err, ErrStalled) {
			t.Errorf("retried %v; want only stalls", err)
		}
	}
}

// memFile is an in-memory io.WriterAt.
type memFile struct {
	mu sync.Mutex
	b  []byte
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	copy(m.b[off:], p)
	return len(p), nil
}

// stallBody serves r until stallAt bytes were read, then blocks until
// closed.
type stallBody struct {
	r       io.Reader
	stallAt int
	n       int
	closed  chan struct{}
	once    sync.Once
}

func (b *stallBody) Read(p []byte) (int, error) {
	if b.n >= b.stallAt {
		<-b.closed
		return 0, errors.New("read on closed body")
	}
	p = p[:min(len(p), b.stallAt-b.n)]
	n, err := b.r.Read(p)
	b.n += n
	return n, err
}

func (b *stallBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// memFetch answers ranges of data from memory; the responses to the first
// stalls requests stop after half their range.
func memFetch(data []byte, stalls int64, calls *atomic.Int64) func(context.Context, Range) (*http.Response, error) {
	return func(ctx context.Context, r Range) (*http.Response, error) {
		stallAt := int(r.Len()) + 1
		if calls.Add(1) <= stalls {
			stallAt = int(r.Len()) / 2
		}
		h := http.Header{}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", r.Start, r.End-1, len(data)))
		return &http.Response{
			StatusCode: http.StatusPartialContent,
			Header:     h,
			Body:       &stallBody{r: bytes.NewReader(data[r.Start:r.End]), stallAt: stallAt, closed: make(chan struct{})},
		}, nil
	}
}

// TestIdleTimeoutIgnoresLimiterWaits limits the rate so that each wait in
// the Limiter lasts far longer than the idle timeout: no attempt may be
// ended for it. Then it stalls two bodies: those attempts, and only those,
// end after the timeout.
func TestIdleTimeoutIgnoresLimiterWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := body(64 << 10)
		for _, stalls := range []int64{0, 2} {
			var calls atomic.Int64
			var stalled atomic.Int64
			dst := &memFile{}
			st, _ := Plan(int64(len(data)), 4, 1)
			start := time.Now()
			e, _ := NewExecutor(Config{
				Fetch: memFetch(data, stalls, &calls), Dst: dst,
				IdleTimeout: 50 * time.Millisecond,
				// Four connections take turns of 2 KiB at 8 KiB/s:
				// each waits about a second between its turns.
				Limiter:  NewLimiter(8<<10, nil),
				MinSplit: -1,
				Backoff:  noBackoff,
				Transient: func(err error) bool {
					if errors.Is(err, ErrStalled) {
						stalled.Add(1)
					}
					return DefaultTransient(err)
				},
			}, st)
			if err := e.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(dst.b, data) {
				t.Fatal("wrong content")
			}
			if calls.Load() != 4+stalls || stalled.Load() != stalls {
				t.Errorf("%d stalls planned: %d requests, %d stalls seen", stalls, calls.Load(), stalled.Load())
			}
			if d := time.Since(start); d < 7*time.Second {
				t.Errorf("64 KiB at 8 KiB/s took %v", d)
			}
		}
	})
}

// TestLimiterSharedFairlyBySegmentsAndTasks runs two downloads of four
// segments each under one session Limiter (one of them also under its own
// task Limiter) and checks how the bytes were shared.
func TestLimiterSharedFairlyBySegmentsAndTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := body(256 << 10)
		session := NewLimiter(64<<10, nil)
		tasks := []*Limiter{NewLimiter(0, session), NewLimiter(16<<10, session)}
		executors := make([]*Executor, len(tasks))
		for i, l := range tasks {
			var calls atomic.Int64
			st, _ := Plan(int64(len(data)), 4, 1)
			executors[i], _ = NewExecutor(Config{
				Fetch: memFetch(data, 0, &calls), Dst: &memFile{},
				Limiter: l, MinSplit: -1, BufferSize: 8 << 10,
			}, st)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, e := range executors {
			wg.Go(func() { e.Run(ctx) })
		}
		time.Sleep(4 * time.Second)
		a, b := executors[0].State(), executors[1].State()
		cancel()
		wg.Wait()
		// After 4 s: the session granted 64 KiB/s (plus its quarter-second
		// bucket, and one 8 KiB read per task at the very instant). The
		// limited task gets at most its 16 KiB/s; taking turns in order of
		// arrival with the four connections of the other task, in 4 KiB
		// pieces (its own bucket) against their 8 KiB, it gets at least
		// half of that.
		if got := a.Written() + b.Written(); got < 4*64<<10-16<<10 || got > 4*64<<10+16<<10+2*8<<10 {
			t.Errorf("%d bytes in 4 s under a 64 KiB/s session", got)
		}
		if got := b.Written(); got < 4*8<<10 || got > 4*16<<10+4<<10+8<<10 {
			t.Errorf("the 16 KiB/s task wrote %d bytes in 4 s", got)
		}
		// Within each task, the four segments progressed alike: each turn
		// is one 8 KiB read.
		for i, st := range []State{a, b} {
			lo, hi := st.Segments[0].Done, st.Segments[0].Done
			for _, g := range st.Segments {
				lo, hi = min(lo, g.Done), max(hi, g.Done)
			}
			if hi-lo > 16<<10 {
				t.Errorf("task %d: segments wrote between %d and %d bytes", i, lo, hi)
			}
		}
	})
}

// A permanent failure stops the run before its segment is given back: no
// other connection can take the failed range up and fetch it again.
func TestPermanentFailureHandsNothingOn(t *testing.T) {
	data := body(64 << 10)
	o := &origin{data: data}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("Range"), "bytes=0-") {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		o.ServeHTTP(w, r)
	}))
	defer srv.Close()
	var claimed []Range
	testHookFailedReleased = func(e *Executor, ctx context.Context) {
		if s := e.next(ctx); s != nil {
			claimed = append(claimed, s.Remaining())
			e.release(s)
		}
	}
	defer func() { testHookFailedReleased = nil }()
	st, _ := Plan(int64(len(data)), 2, 1)
	e, _ := NewExecutor(Config{Fetch: fetcher(srv.Client(), srv.URL), Dst: newFile(t), Backoff: noBackoff, Connections: 2, MinSplit: -1}, st)
	var se *StatusError
	if err := e.Run(context.Background()); !errors.As(err, &se) || se.Code != http.StatusForbidden {
		t.Fatalf("Run = %v; want a 403 *StatusError", err)
	}
	if len(claimed) > 0 {
		t.Errorf("after the failure, a connection could claim %v", claimed)
	}
	if g := e.State().Segments[0]; g.Done != 0 {
		t.Errorf("the refused segment has %d bytes done", g.Done)
	}
}
