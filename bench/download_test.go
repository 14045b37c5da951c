//go:build unix

package bench

// The download section of TestReport: a big body written to a file by a
// download task, by raw net/http copying with a 1 MiB buffer, and by
// curl -s -o; and the bytes a resumed download fetches again per
// interruption.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

const (
	dlRaw     = "raw net/http, 1 MiB buffer, to a file"
	dlSession = "session Download"
	dlCurl    = "curl -s -o FILE"
	dlCLI     = "urlsession -s -o FILE (the CLI)"
)

// externalDLClient runs a command that downloads to a file. Its peak RSS
// is its own VmHWM sampled while it runs: the maxrss that wait4 reports
// counts the forking (Go) process's memory.
func externalDLClient(name string, check func() error, argv ...string) *dlClient {
	return &dlClient{name: name, close: func() {}, download: func() (int64, error) {
		cmd := exec.Command(argv[0], argv[1:]...)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		var peak atomic.Int64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
			for {
				if v := vmHWM(status); v > peak.Load() {
					peak.Store(v)
				}
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		err := cmd.Wait()
		close(stop)
		<-sampled
		if err != nil {
			return 0, fmt.Errorf("%s: %v: %s", name, err, out.String())
		}
		return peak.Load(), check()
	}}
}

// dlClient downloads the big body to a file once and returns the client's
// peak resident memory in bytes during the download.
type dlClient struct {
	name     string
	download func() (peakRSS int64, err error)
	close    func()
}

// resetPeakRSS resets this process's peak resident set size (Linux 4.0 and
// later); peakRSS reads it.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSS() int64 { return vmHWM("/proc/self/status") }

// vmHWM returns the VmHWM of a /proc/PID/status file in bytes, 0 when it
// cannot be read.
func vmHWM(status string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func newDLClient(name, url string, size int64, dir string) (*dlClient, error) {
	target := dir + "/out.bin"
	check := func() error {
		fi, err := os.Stat(target)
		if err != nil {
			return err
		}
		defer os.Remove(target)
		if fi.Size() != size {
			return fmt.Errorf("%s: the file has %d bytes, want %d", name, fi.Size(), size)
		}
		return nil
	}
	switch name {
	case dlRaw:
		tr := newRawTransport(unlimited)
		c := &http.Client{Transport: tr}
		buf := make([]byte, 1<<20)
		return &dlClient{name: name, close: tr.CloseIdleConnections, download: func() (int64, error) {
			resetPeakRSS()
			resp, err := c.Get(url)
			if err != nil {
				return 0, err
			}
			f, err := os.Create(target)
			if err != nil {
				resp.Body.Close()
				return 0, err
			}
			_, err = io.CopyBuffer(struct{ io.Writer }{f}, resp.Body, buf)
			resp.Body.Close()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return 0, err
			}
			return peakRSS(), check()
		}}, nil
	case dlSession:
		s := newSession(limit6, nil)
		return &dlClient{name: name, close: s.FinishTasksAndInvalidate, download: func() (int64, error) {
			resetPeakRSS()
			req, err := http.NewRequest(http.MethodGet, url, nil)
			if err != nil {
				return 0, err
			}
			path, _, err := s.Download(context.Background(), req)
			if err != nil {
				return 0, err
			}
			peak := peakRSS()
			if err := os.Rename(path, target); err != nil {
				os.Remove(path)
				return 0, err
			}
			return peak, check()
		}}, nil
	case dlCurl:
		curl, err := exec.LookPath("curl")
		if err != nil {
			return nil, errSkip
		}
		return externalDLClient(name, check, curl, "-s", "-S", "--fail", "--noproxy", "*", "-o", target, url), nil
	case dlCLI:
		dir, err := os.MkdirTemp("", "bench-cli-")
		if err != nil {
			return nil, err
		}
		cli, err := buildCLI(dir)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c := externalDLClient(name, check, cli, "-s", "-S", "--fail", "--noproxy", "*", "-o", target, url)
		c.close = func() { os.RemoveAll(dir) }
		return c, nil
	}
	panic("unknown client " + name)
}

func reportDownload(t *testing.T, p printer, rounds int) {
	srv := sharedServer(t)
	size := bigSize()
	url := bigURL(srv.base, size)
	dir, err := os.MkdirTemp("", "bench-download-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	p("\n### Downloading a %d MiB body to a file (in %s)\n\n", size>>20, os.TempDir())
	p("Peak RSS: for the Go clients the test process's VmHWM (reset before each run, so it includes the process's own baseline); for curl and the CLI their own VmHWM sampled every 5 ms.\n\n")
	p("| client | median wall s | min–max s | MB/s | wall vs curl | paired vs curl | wall vs raw | client CPU s/GiB | CPU vs raw | peak RSS MiB | ≤ 0.8 of curl? | RSS ≤ 32 MiB? |\n")
	p("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	var clients []*dlClient
	var skipped []string
	for _, name := range []string{dlRaw, dlSession, dlCLI, dlCurl} {
		c, err := newDLClient(name, url, size, dir)
		if errors.Is(err, errSkip) {
			skipped = append(skipped, name)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	wall := make([][]float64, len(clients))
	rss := make([][]float64, len(clients))
	cpu := make([][]float64, len(clients))
	for r := range rounds {
		for _, i := range rotate(len(clients), r) {
			runtime.GC()
			cpu0 := cpuTime()
			start := time.Now()
			peak, err := clients[i].download()
			if err != nil {
				t.Fatal(err)
			}
			wall[i] = append(wall[i], time.Since(start).Seconds())
			cpu[i] = append(cpu[i], (cpuTime()-cpu0).Seconds()/(float64(size)/(1<<30)))
			rss[i] = append(rss[i], float64(peak)/(1<<20))
		}
	}
	curl := -1
	for i, c := range clients {
		if c.name == dlCurl {
			curl = i
		}
	}
	for i, c := range clients {
		c.close()
		w := median(wall[i])
		vsCurl, paired, target := "—", "—", "—"
		if curl >= 0 {
			vsCurl = fmt.Sprintf("%.2f", w/median(wall[curl]))
			paired = fmt.Sprintf("%.2f", pairedRatio(wall[i], wall[curl]))
			if c.name == dlSession || c.name == dlCLI {
				target = verdict(pairedRatio(wall[i], wall[curl]) <= 0.8)
			}
		}
		rssTarget := "—"
		if c.name == dlSession || c.name == dlCLI {
			rssTarget = verdict(median(rss[i]) <= 32)
		}
		p("| %s | %.2f | %.2f–%.2f | %.0f | %s | %s | %.2f | %.3f | %.2f | %.1f | %s | %s |\n", c.name, w, slices.Min(wall[i]), slices.Max(wall[i]),
			float64(size)/1e6/w, vsCurl, paired, w/median(wall[0]), median(cpu[i]), pairedRatio(cpu[i], cpu[0]), median(rss[i]), target, rssTarget)
	}
	for _, name := range skipped {
		p("| %s: not on PATH, skipped | | | | | | | | | | | |\n", name)
	}
	reportInterruptions(t, p)
}

// reportInterruptions resumes a download across many connection resets at
// random offsets and reports the bytes the server sent beyond the body's
// size, per interruption.
func reportInterruptions(t *testing.T, p printer) {
	const size = 64 << 20
	n := envInt("BENCH_INTERRUPTIONS", 100)
	content := make([]byte, size)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range content {
		content[i] = byte(rnd.Uint32())
	}
	// Cut points: n random offsets, sorted; each response is reset after
	// the bytes up to the next cut point.
	cuts := make([]int64, n)
	for i := range cuts {
		cuts[i] = 1 + rnd.Int64N(size-1)
	}
	slices.Sort(cuts)
	var sent atomic.Int64
	res := urlsessiontest.NewResource(content)
	fh := &urlsessiontest.FaultHandler{
		Next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res.ServeHTTP(countingWriter{w, &sent}, r)
		}),
		Choose: func(i int, r *http.Request) urlsessiontest.Fault {
			start := int64(0)
			if v := r.Header.Get("Range"); v != "" {
				start, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(v, "bytes="), "-"), 10, 64)
			}
			for _, c := range cuts {
				if c > start {
					return urlsessiontest.Fault{Kind: urlsessiontest.Reset, At: c - start}
				}
			}
			return urlsessiontest.Fault{}
		},
	}
	srv := httptest.NewServer(fh)
	defer srv.Close()
	s := newSession(limit6, nil)
	defer s.FinishTasksAndInvalidate()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	start := time.Now()
	path, _, err := s.Download(context.Background(), req)
	interruptions := 0
	for err != nil {
		data := urlsession.ErrorResumeData(err)
		if data == nil {
			t.Fatalf("interruption %d: %v without resume data", interruptions, err)
		}
		interruptions++
		if interruptions > 2*n {
			t.Fatal("too many interruptions")
		}
		path, _, err = s.DownloadWithResumeData(context.Background(), data)
	}
	elapsed := time.Since(start)
	defer os.Remove(path)
	got, rerr := os.ReadFile(path)
	if rerr != nil || len(got) != size || string(got) != string(content) {
		t.Fatalf("the resumed file differs from the content (%d bytes, %v)", len(got), rerr)
	}
	extra := sent.Load() - size
	per := float64(extra) / float64(max(interruptions, 1))
	p("\n### Resuming a %d MiB download across %d connection resets at random offsets (HTTP/1.1 loopback)\n\n", size>>20, interruptions)
	p("| interruptions | bytes sent by the server | bytes again | bytes again per interruption | total wall s | ≤ 1 MiB per interruption? |\n")
	p("|---:|---:|---:|---:|---:|---|\n")
	p("| %d | %d | %d | %.0f | %.2f | %s |\n", interruptions, sent.Load(), extra, per, elapsed.Seconds(), verdict(per <= 1<<20))
}

// countingWriter counts the body bytes written through it.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func (c countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
