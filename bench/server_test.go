//go:build unix

package bench

// The loopback server runs in a separate process: the test binary re-executed
// with BENCH_SERVER=1. It listens on 127.0.0.1:0, prints "PORT <n>" on its
// stdout and serves until its stdin is closed. Keeping it out of process
// means the client's CPU profile, allocations and heap are the client's
// alone.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const serverEnv = "BENCH_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) == "1" {
		serverMain()
		return
	}
	raiseNoFile()
	// The shared stores of the "default stores" client live in a
	// temporary home, not the user's.
	home, err := os.MkdirTemp("", "urlsession-bench-home-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(home)
	// Nor in the desktop's Secret Service: permanent credentials go to
	// the temporary home's file.
	os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
	for _, k := range []string{"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"} {
		os.Setenv(k, filepath.Join(home, k))
	}
	code := m.Run()
	sharedMu.Lock()
	if shared != nil {
		shared.stop()
	}
	sharedMu.Unlock()
	os.RemoveAll(home)
	os.Exit(code)
}

// raiseNoFile raises the soft RLIMIT_NOFILE to the hard limit and returns
// the limit now in force.
func raiseNoFile() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
	}
	return uint64(lim.Cur) // int64 on some systems
}

const (
	smallSize = 1024    // the body of /1k
	bigChunk  = 1 << 20 // the buffer /big writes again and again
)

func serverMain() {
	raiseNoFile()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench server:", err)
		os.Exit(1)
	}
	fmt.Printf("PORT %d\n", ln.Addr().(*net.TCPAddr).Port)
	srv := &http.Server{Handler: benchMux(), ReadHeaderTimeout: time.Minute, ErrorLog: nil}
	go srv.Serve(ln)
	io.Copy(io.Discard, os.Stdin) // the parent closes stdin (or dies)
	os.Exit(0)
}

// benchMux returns the routes the benchmark servers serve.
func benchMux() *http.ServeMux {
	small := make([]byte, smallSize)
	for i := range small {
		small[i] = 'a' + byte(i%26)
	}
	chunk := make([]byte, bigChunk)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	var arrived, inflight atomic.Int64

	mux := http.NewServeMux()
	mux.HandleFunc("/1k", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Length"] = []string{"1024"}
		w.Header()["Content-Type"] = []string{"application/octet-stream"}
		w.Write(small)
	})
	// /big?n=BYTES writes the 1 MiB buffer until n bytes went out.
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.Header().Set("Content-Type", "application/octet-stream")
		for n > 0 {
			p := chunk[:min(n, bigChunk)]
			if _, err := w.Write(p); err != nil {
				return
			}
			n -= int64(len(p))
		}
	})
	// /hold?ms=M sleeps M ms (default 1000) then answers a 16-byte body.
	// With gate=N it first waits until N /hold requests have arrived, so
	// that every response is held M ms after the last request arrived and
	// all N are in flight together however long the client took to send
	// them.
	var gateOnce sync.Once
	allIn := make(chan struct{})
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		got := arrived.Add(1)
		inflight.Add(1)
		defer inflight.Add(-1)
		q := r.URL.Query()
		ms := 1000
		if v, err := strconv.Atoi(q.Get("ms")); err == nil {
			ms = v
		}
		if gate, err := strconv.ParseInt(q.Get("gate"), 10, 64); err == nil && gate > 0 {
			if got >= gate {
				gateOnce.Do(func() { close(allIn) })
			}
			select {
			case <-allIn:
			case <-time.After(2 * time.Minute):
			case <-r.Context().Done():
				return
			}
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		w.Header()["Content-Length"] = []string{"16"}
		w.Write(small[:16])
	})
	// /blob?n=BYTES: a seekable body with a strong ETag and byte ranges
	// (see daemon_test.go).
	mux.Handle("/blob", serveBlob(nil))
	authRoutes(mux, small)
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d %d", arrived.Load(), inflight.Load())
	})

	return mux
}

// server is a running server process.
type server struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	base  string // http://127.0.0.1:port
}

// startServer starts a server process and waits for its port.
func startServer() (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	if cpus := os.Getenv("BENCH_SERVER_CPUS"); cpus != "" {
		// Pin the server (e.g. "1") away from the client, which the
		// caller pins with taskset (e.g. "taskset -c 0 go test ...").
		taskset, err := exec.LookPath("taskset")
		if err != nil {
			return nil, fmt.Errorf("BENCH_SERVER_CPUS needs taskset: %w", err)
		}
		cmd = exec.Command(taskset, "-c", cpus, exe)
	}
	cmd.Env = append(os.Environ(), serverEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "PORT ")
	if err != nil || !ok {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("bench server did not start: %q %v", line, err)
	}
	return &server{cmd: cmd, stdin: stdin, base: "http://127.0.0.1:" + port}, nil
}

func (s *server) stop() {
	s.stdin.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill() // our own child, by its pid
		<-done
	}
}

var (
	sharedMu sync.Mutex
	shared   *server
)

// sharedServer returns the server process the throughput benchmarks share,
// started on first use and stopped by TestMain.
func sharedServer(tb testing.TB) *server {
	tb.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil {
		s, err := startServer()
		if err != nil {
			tb.Fatal(err)
		}
		shared = s
	}
	return shared
}
