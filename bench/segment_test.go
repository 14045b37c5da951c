//go:build unix

package bench

// TestSegmentReport compares segmented downloads on loopback against a
// server that limits each connection to 20 MiB/s (as nginx's limit_rate
// does), serving a 200 MiB body: a download task (Session.Download with
// WithSegments) with 8 segments, the same with 1, and aria2c -x 8 -s 8
// when it is on PATH.
// It runs only with BENCH_REPORT=1:
//
//	BENCH_REPORT=1 go test ./bench -run '^TestSegmentReport$' -v -timeout 30m
//
// Knobs: BENCH_SEG_BYTES (body size, 200 MiB), BENCH_SEG_RATE (bytes per
// second per connection, 20 MiB), BENCH_SEG_ROUNDS (rounds, 3). The server
// runs in the test process (it only paces 8 connections, a few percent of a
// core); each client runs in a process of its own, the download task in the
// test binary re-executed to run TestSegmentClient, so its peak RSS is its
// own.
// Every download goes to a file in a temporary directory and is checked
// with SHA-256.

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/segment"
)

type connLimiterKey struct{}

// startPacedServer serves a size-byte body at /file with http.ServeContent
// and a strong ETag, each connection limited to rate bytes per second.
func startPacedServer(t *testing.T, size, rate int64) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connLimiterKey{}, segment.NewLimiter(rate, nil))
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l := r.Context().Value(connLimiterKey{}).(*segment.Limiter)
			w.Header().Set("ETag", `"bench"`)
			pw := pacedWriter{w, segment.NewWriter(r.Context(), w, l)}
			http.ServeContent(pw, r, "file", time.Unix(1e9, 0), &blob{size: size})
		}),
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/file"
}

type pacedWriter struct {
	http.ResponseWriter
	w io.Writer
}

func (p pacedWriter) Write(b []byte) (int, error) { return p.w.Write(b) }

func fileSum(t *testing.T, path string) [32]byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// taskDownload fetches url into path as a user of the library would: one
// Session.Download with WithSegments(n) (n connections, each fetching a
// range written at its offset in the one file), the file then renamed to
// path.
func taskDownload(ctx context.Context, url, path string, n int) error {
	s := newSession(unlimited, nil) // room for n connections to the host
	defer s.FinishTasksAndInvalidate()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	tmp, resp, err := s.Download(ctx, req, urlsession.WithSegments(n))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		os.Remove(tmp)
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func TestSegmentReport(t *testing.T) {
	if os.Getenv("BENCH_REPORT") != "1" {
		t.Skip("set BENCH_REPORT=1 to run the segmented-download comparison")
	}
	size := int64(envInt("BENCH_SEG_BYTES", 200<<20))
	rate := int64(envInt("BENCH_SEG_RATE", 20<<20))
	rounds := envInt("BENCH_SEG_ROUNDS", 3)
	url := startPacedServer(t, size, rate)
	want := blobSHA256(size)
	dir := t.TempDir()
	aria2, _ := exec.LookPath("aria2c")

	type client struct {
		name string
		run  func(path string) (rssKiB int64, err error)
	}
	child := func(n int) func(string) (int64, error) {
		return func(p string) (int64, error) {
			return runSegmentClient(url, p, n)
		}
	}
	clients := []client{
		{"DownloadTask, 8 segments", child(8)},
		{"DownloadTask, 1 stream", child(1)},
	}
	if aria2 != "" {
		clients = append(clients, client{"aria2c -x 8 -s 8", func(p string) (int64, error) {
			cmd := exec.Command(aria2, "-x", "8", "-s", "8", "-q", "--allow-overwrite=true",
				"--auto-file-renaming=false", "--file-allocation=none", "--max-tries=1",
				"-d", filepath.Dir(p), "-o", filepath.Base(p), url)
			out, err := cmd.CombinedOutput()
			if err != nil {
				return 0, fmt.Errorf("%v: %s", err, out)
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				return ru.Maxrss, nil
			}
			return 0, nil
		}})
	} else {
		t.Log("aria2c not on PATH: its row is skipped")
	}

	secs := make([][]float64, len(clients))
	rss := make([]int64, len(clients))
	for r := range rounds {
		for k := range clients {
			i := (k + r) % len(clients) // rotate the order
			p := filepath.Join(dir, fmt.Sprintf("out%d", i))
			os.Remove(p)
			start := time.Now()
			kib, err := clients[i].run(p)
			d := time.Since(start).Seconds()
			if err != nil {
				t.Fatalf("%s: %v", clients[i].name, err)
			}
			if got := fileSum(t, p); got != want {
				t.Fatalf("%s: SHA-256 %x; want %x", clients[i].name, got, want)
			}
			os.Remove(p)
			secs[i] = append(secs[i], d)
			rss[i] = max(rss[i], kib)
		}
	}
	med := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nSegmented download: %d MiB, each connection limited to %d MiB/s, median of %d rounds\n\n",
		size>>20, rate>>20, rounds)
	fmt.Fprintf(&b, "| client | wall s (median) | MiB/s | ratio to first row | peak RSS |\n|---|---|---|---|---|\n")
	base := med(secs[0])
	for i, c := range clients {
		m := med(secs[i])
		peak := "—"
		if rss[i] > 0 {
			peak = strconv.FormatInt(rss[i]>>10, 10) + " MiB"
		}
		fmt.Fprintf(&b, "| %s | %.2f | %.1f | %.2f | %s |\n", c.name, m, float64(size)/(1<<20)/m, m/base, peak)
	}
	if aria2 != "" {
		last := len(secs) - 1
		ratios := make([]float64, rounds)
		for r := range ratios {
			ratios[r] = secs[0][r] / secs[last][r]
		}
		fmt.Fprintf(&b, "\nDownloadTask (8 segments) / aria2c: %.2f (median of the per-round ratios; rounds: %.2f)\n", med(ratios), ratios)
	}
	t.Log(b.String())
}

// Environment of a TestSegmentClient process.
const (
	segClientURL = "BENCH_SEG_CLIENT_URL"
	segClientOut = "BENCH_SEG_CLIENT_OUT"
	segClientN   = "BENCH_SEG_CLIENT_N"
)

// runSegmentClient runs taskDownload with n segments in a child
// process and returns its peak RSS in KiB.
func runSegmentClient(url, path string, n int) (int64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe, "-test.run=^TestSegmentClient$", "-test.count=1")
	cmd.Env = append(os.Environ(), segClientURL+"="+url, segClientOut+"="+path, segClientN+"="+strconv.Itoa(n))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss, nil
	}
	return 0, nil
}

// TestSegmentClient is the client process of TestSegmentReport; it skips
// itself unless started by it.
func TestSegmentClient(t *testing.T) {
	url, path := os.Getenv(segClientURL), os.Getenv(segClientOut)
	if url == "" || path == "" {
		t.Skip("run by TestSegmentReport")
	}
	n, _ := strconv.Atoi(os.Getenv(segClientN))
	if err := taskDownload(context.Background(), url, path, max(n, 1)); err != nil {
		t.Fatal(err)
	}
}
