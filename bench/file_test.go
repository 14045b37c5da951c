//go:build unix

package bench

// The file section of TestReport: reading a BENCH_FILE_BYTES file (1 GiB by
// default, in the page cache) through file: URLs, against `cat FILE >
// /dev/null`. In process: Session.Bytes + io.Copy to io.Discard, a DataTask
// whose delegate counts DidReceiveData, and a plain Go read loop (os.File,
// 1 MiB reads) for reference. As processes: cat, and the command
// `urlsession -s -o /dev/null file:///...`; their start-up cost is
// measured apart on a one-byte file, so that the steady-state throughput
// shows.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
)

const (
	fileCat      = "cat FILE > /dev/null"
	fileGoRead   = "Go os.File.Read, 1 MiB reads"
	fileBytes    = "session Bytes+io.Copy"
	fileDelegate = "session DidReceiveData"
	fileCLI      = "urlsession -s -o /dev/null"
)

// fileClients are the clients of the file section; the first is the peer
// the others are compared with.
var fileClients = []string{fileCat, fileGoRead, fileBytes, fileDelegate, fileCLI}

// writeBenchFile writes a file of size bytes (a repeated pattern) to dir
// and reads it once, so that every client reads it from the page cache.
func writeBenchFile(dir, name string, size int64) (string, error) {
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i*7 + i>>8)
	}
	for left := size; left > 0; left -= int64(len(block)) {
		if _, err := f.Write(block[:min(left, int64(len(block)))]); err != nil {
			f.Close()
			return "", err
		}
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	f, err = os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	n, err := readAll1M(f, block)
	return path, checkBig(n, size, err)
}

// fileURL is the file: URL of an absolute path.
func fileURL(path string) string { return "file://" + filepath.ToSlash(path) }

// runToDevNull runs name with args, its standard output on /dev/null.
func runToDevNull(ctx context.Context, name string, args ...string) error {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = null
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, stderr.String())
	}
	return nil
}

func newFileClient(name, path string, size int64, cli string) (*bigClient, error) {
	url := fileURL(path)
	newSess := func() *urlsession.Session {
		cfg := urlsession.DefaultConfiguration()
		cfg.URLCache, cfg.HTTPCookieStorage, cfg.URLCredentialStorage = nil, nil, nil
		cfg.MaxCollectedBodySize = -1
		s, err := urlsession.New(cfg, nil)
		if err != nil {
			panic(err)
		}
		return s
	}
	switch name {
	case fileCat:
		cat, err := exec.LookPath("cat")
		if err != nil {
			return nil, errSkip
		}
		return &bigClient{name: name, close: func() {}, download: func(ctx context.Context) error {
			return runToDevNull(ctx, cat, path)
		}}, nil
	case fileGoRead:
		buf := make([]byte, 1<<20)
		return &bigClient{name: name, close: func() {}, download: func(ctx context.Context) error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			n, err := readAll1M(f, buf)
			return checkBig(n, size, err)
		}}, nil
	case fileBytes:
		return bytesClient(name, newSess(), url, size), nil
	case fileDelegate:
		return delegateClient(name, newSess(), url, size), nil
	case fileCLI:
		if cli == "" {
			return nil, errSkip
		}
		return &bigClient{name: name, close: func() {}, download: func(ctx context.Context) error {
			return runToDevNull(ctx, cli, "-s", "-S", "-o", os.DevNull, url)
		}}, nil
	}
	panic("unknown client " + name)
}

// startupRun times n runs of a command on a tiny file and returns the
// median wall time of one and the mean CPU time (user+sys) of one.
func startupRun(n int, run func() error) (wall, cpu time.Duration, err error) {
	walls := make([]float64, 0, n)
	cpu0 := cpuTime()
	for range n {
		start := time.Now()
		if err := run(); err != nil {
			return 0, 0, err
		}
		walls = append(walls, float64(time.Since(start)))
	}
	return time.Duration(median(walls)), (cpuTime() - cpu0) / time.Duration(n), nil
}

func reportFile(t *testing.T, p printer, rounds int) {
	size := int64(envInt("BENCH_FILE_BYTES", 1<<30))
	dir := t.TempDir()
	path, err := writeBenchFile(dir, "big.bin", size)
	if err != nil {
		t.Fatal(err)
	}
	tiny, err := writeBenchFile(dir, "tiny.bin", 1)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := buildCLI(dir)
	if err != nil {
		t.Logf("building the command: %v", err)
		cli = ""
	}

	p("\n### file: URLs, a %d MiB file in the page cache, read to the end and discarded\n\n", size>>20)
	p("| client | MB/s | min–max MB/s | vs cat | paired ratio | CPU s/GiB | CPU vs cat | ≥ 0.90 of cat? |\n")
	p("|---|---:|---|---:|---:|---:|---:|---|\n")
	var clients []*bigClient
	for _, name := range fileClients {
		c, err := newFileClient(name, path, size, cli)
		if err != nil {
			p("| %s: %v, skipped | | | | | | | |\n", name, err)
			continue
		}
		clients = append(clients, c)
	}
	if len(clients) == 0 || clients[0].name != fileCat {
		t.Fatal("cat is needed as the reference")
	}
	runs := timeRounds(t, clients, size, rounds)
	mbs, cpu := runField(runs, mbpsOf), runField(runs, cpuOfRun)
	for i, c := range clients {
		c.close()
		target := "—"
		if i > 0 && c.name != fileGoRead {
			target = verdict(pairedRatio(mbs[i], mbs[0]) >= 0.9)
		}
		p("| %s | %.0f | %.0f–%.0f | %.2f | %.2f | %.3f | %.2f | %s |\n", c.name, median(mbs[i]),
			slices.Min(mbs[i]), slices.Max(mbs[i]), median(mbs[i])/median(mbs[0]),
			pairedRatio(mbs[i], mbs[0]), median(cpu[i]), pairedRatio(cpu[i], cpu[0]), target)
	}

	// Start-up: the processes on a one-byte file, paired rounds of
	// BENCH_FILE_STARTUP_N runs each.
	n := envInt("BENCH_FILE_STARTUP_N", 20)
	type proc struct {
		name string
		run  func() error
	}
	procs := []proc{{fileCat, func() error { return runToDevNull(context.Background(), "cat", tiny) }}}
	if cli != "" {
		procs = append(procs, proc{fileCLI, func() error {
			return runToDevNull(context.Background(), cli, "-s", "-S", "-o", os.DevNull, fileURL(tiny))
		}})
	}
	walls := make([][]float64, len(procs))
	cpus := make([][]float64, len(procs))
	for r := range rounds {
		for _, i := range rotate(len(procs), r) {
			w, c, err := startupRun(n, procs[i].run)
			if err != nil {
				t.Fatal(err)
			}
			walls[i] = append(walls[i], µs(w)/1000)
			cpus[i] = append(cpus[i], µs(c)/1000)
		}
	}
	p("\nStart-up, a 1-byte file (%d runs per round; median of the rounds' medians):\n\n", n)
	p("| process | wall ms | min–max ms | CPU ms |\n|---|---:|---|---:|\n")
	for i, pr := range procs {
		p("| %s | %.2f | %.2f–%.2f | %.2f |\n", pr.name, median(walls[i]), slices.Min(walls[i]), slices.Max(walls[i]), median(cpus[i]))
	}
	if len(procs) > 1 {
		// The steady state: the 1 GiB run less the start-up of each process.
		idx := slices.IndexFunc(clients, func(c *bigClient) bool { return c.name == fileCLI })
		if idx > 0 {
			var ratios []float64
			for r := range rounds {
				catS := float64(size)/1e6/mbs[0][r] - walls[0][r]/1000
				cliS := float64(size)/1e6/mbs[idx][r] - walls[1][r]/1000
				ratios = append(ratios, catS/cliS)
			}
			p("\nThe command's throughput less each process's start-up, paired against cat's: %.2f (%.2f–%.2f)\n",
				median(ratios), slices.Min(ratios), slices.Max(ratios))
		}
	}
}
