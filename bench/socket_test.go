//go:build unix

package bench

// WebSocket and stream tasks against the same servers driven directly:
// github.com/coder/websocket for WebSocket echoes (64-byte messages one
// round trip at a time, and 1 MiB messages), a raw net.Conn for a TCP
// echo of BENCH_SOCK_BYTES (1 GiB by default) written and read back at
// once. The servers are a separate process (the test binary re-executed
// with BENCH_SOCK_SERVER=1), which prints "WS <port> TCP <port>".
//
//	BENCH_REPORT=1 go test ./bench -run '^TestSocketReport$' -v -timeout 30m
//	go test ./bench -run '^$' -bench 'WebSocket|StreamTask'
//
// Knobs: BENCH_ROUNDS (5), BENCH_WS_SMALL_N (round trips of 64 bytes per
// run, 20000), BENCH_WS_BIG_N (1 MiB messages per run, 200),
// BENCH_SOCK_BYTES (bytes through the TCP echo per run).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/urlsession-go/urlsession"
)

const sockServerEnv = "BENCH_SOCK_SERVER"

func init() {
	if os.Getenv(sockServerEnv) == "1" {
		sockServerMain() // does not return
	}
}

// sockServerMain serves a WebSocket echo (no compression) and a TCP echo
// until its stdin is closed.
func sockServerMain() {
	wsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(-1)
		for {
			typ, rd, err := c.Reader(r.Context())
			if err != nil {
				return
			}
			wr, err := c.Writer(r.Context(), typ)
			if err != nil {
				return
			}
			if _, err := io.Copy(wr, rd); err != nil {
				return
			}
			if wr.Close() != nil {
				return
			}
		}
	})}
	go srv.Serve(wsLn)
	go func() {
		for {
			c, err := tcpLn.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.CopyBuffer(c, c, make([]byte, 256<<10))
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	fmt.Printf("WS %d TCP %d\n", wsLn.Addr().(*net.TCPAddr).Port, tcpLn.Addr().(*net.TCPAddr).Port)
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// sockServer is the running socket server process.
type sockServer struct {
	server
	ws, tcp int
}

var (
	sockSharedMu sync.Mutex
	sockShared   *sockServer
)

func sharedSockServer(tb testing.TB) *sockServer {
	tb.Helper()
	sockSharedMu.Lock()
	defer sockSharedMu.Unlock()
	if sockShared != nil {
		return sockShared
	}
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), sockServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s := &sockServer{server: server{cmd: cmd, stdin: stdin}}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if _, serr := fmt.Sscanf(strings.TrimSpace(line), "WS %d TCP %d", &s.ws, &s.tcp); err != nil || serr != nil {
		s.stop()
		tb.Fatalf("bench socket server did not start: %q %v %v", line, err, serr)
	}
	sockShared = s
	tb.Cleanup(func() {
		sockSharedMu.Lock()
		defer sockSharedMu.Unlock()
		if sockShared != nil {
			sockShared.stop()
			sockShared = nil
		}
	})
	return s
}

// wsConn is one WebSocket client: the session's task or the library's
// connection.
type wsConn interface {
	roundTrip(ctx context.Context, typ websocket.MessageType, msg []byte) (int, error)
	close()
}

type rawWS struct{ c *websocket.Conn }

func (r rawWS) roundTrip(ctx context.Context, typ websocket.MessageType, msg []byte) (int, error) {
	if err := r.c.Write(ctx, typ, msg); err != nil {
		return 0, err
	}
	_, data, err := r.c.Read(ctx)
	return len(data), err
}

func (r rawWS) close() { r.c.Close(websocket.StatusNormalClosure, "") }

type sessionWS struct {
	s *urlsession.Session
	t *urlsession.WebSocketTask
}

func (w sessionWS) roundTrip(ctx context.Context, typ websocket.MessageType, msg []byte) (int, error) {
	m := urlsession.BinaryMessage(msg)
	if typ == websocket.MessageText {
		m = urlsession.TextMessage(string(msg))
	}
	if err := w.t.Send(ctx, m); err != nil {
		return 0, err
	}
	got, err := w.t.Receive(ctx)
	return len(got.Data), err
}

func (w sessionWS) close() {
	w.t.CancelWith(urlsession.CloseNormalClosure, nil)
	<-w.t.Done()
	w.s.FinishTasksAndInvalidate()
	<-w.s.Invalidated()
}

const (
	wsRaw     = "coder/websocket directly"
	wsSession = "WebSocketTask"
)

var wsClients = []string{wsRaw, wsSession}

func dialWS(name string, port int) (wsConn, error) {
	u := fmt.Sprintf("ws://127.0.0.1:%d/echo", port)
	if name == wsRaw {
		c, _, err := websocket.Dial(context.Background(), u, &websocket.DialOptions{
			CompressionMode: websocket.CompressionNoContextTakeover, // offered as the session offers it
		})
		if err != nil {
			return nil, err
		}
		c.SetReadLimit(2 << 20)
		return rawWS{c}, nil
	}
	cfg := urlsession.EphemeralConfiguration()
	cfg.Proxy = urlsession.NoProxy
	s, err := urlsession.New(cfg, nil)
	if err != nil {
		return nil, err
	}
	pu, _ := url.Parse(u)
	t := s.WebSocketTask(pu, nil)
	t.SetMaximumMessageSize(2 << 20)
	t.Resume()
	return sessionWS{s, t}, nil
}

// runWS makes n round trips of msg and returns messages per second and
// the client's CPU per message.
func runWS(c wsConn, n int, msg []byte) (perSec, cpuPerMsg float64, err error) {
	ctx := context.Background()
	typ := websocket.MessageBinary
	cpu0 := cpuTime()
	start := time.Now()
	for range n {
		got, err := c.roundTrip(ctx, typ, msg)
		if err != nil {
			return 0, 0, err
		}
		if got != len(msg) {
			return 0, 0, fmt.Errorf("echo of %d bytes came back with %d", len(msg), got)
		}
	}
	d := time.Since(start)
	return float64(n) / d.Seconds(), float64(cpuTime()-cpu0) / float64(n), nil
}

// streamConn is one TCP client: the session's stream task or a net.Conn.
type streamConn interface {
	write(p []byte) error
	read(p []byte) (int, error) // into p, or a buffer of its own
	closeWrite()
	close()
}

type rawStream struct{ c *net.TCPConn }

func (r rawStream) write(p []byte) error       { _, err := r.c.Write(p); return err }
func (r rawStream) read(p []byte) (int, error) { return r.c.Read(p) }
func (r rawStream) closeWrite()                { r.c.CloseWrite() }
func (r rawStream) close()                     { r.c.Close() }

type sessionStream struct {
	s *urlsession.Session
	t *urlsession.StreamTask
}

func (w sessionStream) write(p []byte) error {
	_, err := w.t.Write(context.Background(), p)
	return err
}

func (w sessionStream) read(p []byte) (int, error) {
	n, eof, err := w.t.ReadDataInto(context.Background(), p, 1)
	if err == nil && eof && n == 0 {
		err = io.EOF
	}
	return n, err
}

func (w sessionStream) closeWrite() { w.t.CloseWrite() }

func (w sessionStream) close() {
	w.t.Cancel()
	<-w.t.Done()
	w.s.FinishTasksAndInvalidate()
	<-w.s.Invalidated()
}

const (
	streamRaw     = "net.Conn"
	streamSession = "StreamTask"
)

var streamClients = []string{streamRaw, streamSession}

func dialStream(name string, port int) (streamConn, error) {
	if name == streamRaw {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return nil, err
		}
		return rawStream{c.(*net.TCPConn)}, nil
	}
	cfg := urlsession.EphemeralConfiguration()
	s, err := urlsession.New(cfg, nil)
	if err != nil {
		return nil, err
	}
	t := s.StreamTask("127.0.0.1", port)
	t.Resume()
	return sessionStream{s, t}, nil
}

// runStream writes size bytes in 64 KiB writes while reading them back
// (reads of up to 64 KiB) and returns bytes per second and the client's
// CPU seconds per GiB.
func runStream(c streamConn, size int64) (perSec, cpuPerGiB float64, err error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	werr := make(chan error, 1)
	cpu0 := cpuTime()
	start := time.Now()
	go func() {
		for left := size; left > 0; left -= chunk {
			if err := c.write(buf[:min(left, chunk)]); err != nil {
				werr <- err
				return
			}
		}
		c.closeWrite()
		werr <- nil
	}()
	rbuf := make([]byte, chunk)
	var got int64
	for {
		n, err := c.read(rbuf)
		got += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
	}
	if err := <-werr; err != nil {
		return 0, 0, err
	}
	if got != size {
		return 0, 0, fmt.Errorf("read back %d bytes of %d", got, size)
	}
	d := time.Since(start)
	return float64(size) / d.Seconds(), (cpuTime() - cpu0).Seconds() / (float64(size) / (1 << 30)), nil
}

func sockBytes() int64 { return int64(envInt("BENCH_SOCK_BYTES", 1<<30)) }

// BenchmarkWebSocketEcho: round trips of 64 bytes and of 1 MiB.
func BenchmarkWebSocketEcho(b *testing.B) {
	srv := sharedSockServer(b)
	for _, size := range []int{64, 1 << 20} {
		for _, name := range wsClients {
			b.Run(fmt.Sprintf("%d/%s", size, benchName(name)), func(b *testing.B) {
				c, err := dialWS(name, srv.ws)
				if err != nil {
					b.Fatal(err)
				}
				defer c.close()
				msg := make([]byte, size)
				b.SetBytes(int64(2 * size))
				b.ReportAllocs()
				b.ResetTimer()
				rate, _, err := runWS(c, b.N, msg)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(rate, "msg/s")
			})
		}
	}
}

// BenchmarkStreamTaskEcho: BENCH_SOCK_BYTES through the TCP echo.
func BenchmarkStreamTaskEcho(b *testing.B) {
	srv := sharedSockServer(b)
	size := sockBytes()
	for _, name := range streamClients {
		b.Run(benchName(name), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				c, err := dialStream(name, srv.tcp)
				if err != nil {
					b.Fatal(err)
				}
				_, _, err = runStream(c, size)
				c.close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSocketReport prints the WebSocket and stream task comparisons with
// paired ratios (medians of BENCH_ROUNDS rounds). The targets:
// 0.9 of the library's message rate (64 B) and throughput (1 MiB), and 0.9
// of a raw net.Conn's throughput for the stream task.
func TestSocketReport(t *testing.T) {
	if os.Getenv("BENCH_REPORT") != "1" {
		t.Skip("set BENCH_REPORT=1 to run the comparison report")
	}
	rounds := envInt("BENCH_ROUNDS", 5)
	srv := sharedSockServer(t)
	p := func(format string, args ...any) { fmt.Printf(format, args...) }
	p("\n%s, %s/%s, %d CPUs; library sources sha256 %s; load average %s; median of %d rounds\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), libraryHash(), loadAvg(), rounds)
	for _, tc := range []struct {
		size, n int
		unit    string
	}{
		{64, envInt("BENCH_WS_SMALL_N", 20000), "msg/s"},
		{1 << 20, envInt("BENCH_WS_BIG_N", 200), "MiB/s"},
	} {
		rate := map[string][]float64{}
		cpu := map[string][]float64{}
		msg := make([]byte, tc.size)
		for r := range rounds {
			for _, i := range rotate(len(wsClients), r) {
				name := wsClients[i]
				c, err := dialWS(name, srv.ws)
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := runWS(c, 10, msg); err != nil { // warm up
					t.Fatal(err)
				}
				perSec, cpuPer, err := runWS(c, tc.n, msg)
				c.close()
				if err != nil {
					t.Fatal(err)
				}
				if tc.unit == "MiB/s" {
					perSec *= float64(tc.size) / (1 << 20)
				}
				rate[name] = append(rate[name], perSec)
				cpu[name] = append(cpu[name], cpuPer/1e3)
			}
		}
		p("\n### WebSocket echo, %d-byte messages, %d round trips\n\n", tc.size, tc.n)
		p("| client | %s | ratio | client CPU µs/msg | CPU ratio |\n|---|---:|---:|---:|---:|\n", tc.unit)
		for _, name := range wsClients {
			p("| %s | %.0f | %.3f | %.1f | %.3f |\n", name, median(rate[name]), pairedRatio(rate[name], rate[wsRaw]),
				median(cpu[name]), pairedRatio(cpu[name], cpu[wsRaw]))
		}
		ratio := pairedRatio(rate[wsSession], rate[wsRaw])
		p("\nWebSocketTask at >= 0.9 of coder/websocket: %s (%.3f)\n", verdict(ratio >= 0.9), ratio)
	}

	size := sockBytes()
	rate := map[string][]float64{}
	cpu := map[string][]float64{}
	for r := range rounds {
		for _, i := range rotate(len(streamClients), r) {
			name := streamClients[i]
			c, err := dialStream(name, srv.tcp)
			if err != nil {
				t.Fatal(err)
			}
			perSec, cpuPer, err := runStream(c, size)
			c.close()
			if err != nil {
				t.Fatal(err)
			}
			rate[name] = append(rate[name], perSec/(1<<20))
			cpu[name] = append(cpu[name], cpuPer)
		}
	}
	p("\n### TCP echo of %d MiB, written and read back at once\n\n", size>>20)
	p("| client | MiB/s | ratio | client CPU s/GiB | CPU ratio |\n|---|---:|---:|---:|---:|\n")
	for _, name := range streamClients {
		p("| %s | %.0f | %.3f | %.2f | %.3f |\n", name, median(rate[name]), pairedRatio(rate[name], rate[streamRaw]),
			median(cpu[name]), pairedRatio(cpu[name], cpu[streamRaw]))
	}
	ratio := pairedRatio(rate[streamSession], rate[streamRaw])
	p("\nStreamTask at >= 0.9 of net.Conn: %s (%.3f)\n", verdict(ratio >= 0.9), ratio)
}
