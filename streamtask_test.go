package urlsession

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// streamRecorder is a delegate recording a stream task's callbacks.
type streamRecorder struct {
	wsRecorder
	captured chan io.ReadWriteCloser
}

func newStreamRecorder() *streamRecorder {
	return &streamRecorder{wsRecorder: wsRecorder{done: make(chan struct{})}, captured: make(chan io.ReadWriteCloser, 1)}
}

var (
	_ StreamReadClosedDelegate  = (*streamRecorder)(nil)
	_ StreamWriteClosedDelegate = (*streamRecorder)(nil)
	_ StreamCaptureDelegate     = (*streamRecorder)(nil)
)

func (r *streamRecorder) ReadClosed(*Session, *StreamTask)  { r.add("readClosed") }
func (r *streamRecorder) WriteClosed(*Session, *StreamTask) { r.add("writeClosed") }
func (r *streamRecorder) DidBecomeStreams(_ *Session, _ *StreamTask, rwc io.ReadWriteCloser) {
	r.add("streams")
	r.captured <- rwc
}

// tcpServer runs serve on each connection accepted on loopback and
// returns the server's port.
func tcpServer(t testing.TB, serve func(c net.Conn)) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				serve(c)
			})
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// echo copies what it reads back until end-of-file, then closes its write
// side.
func echo(c net.Conn) {
	io.Copy(c, c)
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

func readAll(t *testing.T, st *StreamTask) string {
	t.Helper()
	var b strings.Builder
	for {
		data, eof, err := st.ReadData(context.Background(), 1, 1<<16)
		if err != nil {
			t.Fatalf("ReadData: %v", err)
		}
		b.Write(data)
		if eof {
			return b.String()
		}
	}
}

func TestStreamTaskEchoAndHalfClose(t *testing.T) {
	port := tcpServer(t, echo)
	rec := newStreamRecorder()
	s := newSession(t, wsConfig(), rec)
	st := s.StreamTask("127.0.0.1", port)
	if got := s.Tasks().Stream; len(got) != 1 || got[0] != st {
		t.Fatalf("Tasks().Stream = %v", got)
	}
	ctx := context.Background()
	// Queued before Resume: they wait for the connection.
	wrote := make(chan error, 1)
	go func() {
		_, err := st.Write(ctx, []byte("hello, "))
		wrote <- err
	}()
	st.Resume()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if n, err := st.Write(ctx, []byte("world")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	data, eof, err := st.ReadData(ctx, 12, 100)
	if string(data) != "hello, world" || eof || err != nil {
		t.Fatalf("ReadData = %q %v %v", data, eof, err)
	}
	st.CloseWrite()
	if _, err := st.Write(ctx, []byte("late")); !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("Write after CloseWrite: %v", err)
	}
	data, eof, err = st.ReadData(ctx, 1, 100)
	if len(data) != 0 || !eof || err != nil {
		t.Fatalf("ReadData at the end = %q %v %v", data, eof, err)
	}
	if st.State() != TaskRunning {
		t.Errorf("state after CloseWrite: %v", st.State())
	}
	st.CloseRead()
	if err := rec.wait(t); err != nil {
		t.Fatalf("completed with %v", err)
	}
	want := []string{"create", "writeClosed", "readClosed", "metrics 0", "complete"}
	if got := rec.Events(); !sameEvents(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if st.CountOfBytesSent() != 12 || st.CountOfBytesReceived() != 12 {
		t.Errorf("bytes sent %d received %d", st.CountOfBytesSent(), st.CountOfBytesReceived())
	}
	if _, _, err := st.ReadData(ctx, 1, 10); !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("ReadData after the end: %v", err)
	}
}

func TestStreamTaskLengths(t *testing.T) {
	next := make(chan string)
	port := tcpServer(t, func(c net.Conn) {
		for s := range next {
			c.Write([]byte(s))
		}
	})
	s := newSession(t, wsConfig(), nil)
	st := s.StreamTask("localhost", port)
	st.Resume()
	defer st.Cancel()
	ctx := context.Background()
	got := make(chan string)
	go func() {
		data, _, err := st.ReadData(ctx, 6, 10)
		got <- fmt.Sprint(string(data), err)
	}()
	next <- "abc"
	next <- "def"
	if g := <-got; g != "abcdef<nil>" {
		t.Errorf("ReadData(6, 10) = %q", g)
	}
	next <- "0123456789"
	for _, want := range []string{"0123", "4567", "89"} {
		data, _, err := st.ReadData(ctx, 1, 4)
		if err != nil {
			t.Fatal(err)
		}
		// Each read returns what is there, at most 4 bytes.
		if !strings.HasPrefix(want, string(data)) || len(data) == 0 {
			t.Fatalf("ReadData(1, 4) = %q, want a prefix of %q", data, want)
		}
		if rest := want[len(data):]; rest != "" {
			more, _, _ := st.ReadData(ctx, len(rest), len(rest))
			if string(more) != rest {
				t.Fatalf("then %q, want %q", more, rest)
			}
		}
	}
	if _, _, err := st.ReadData(ctx, 5, 4); err == nil {
		t.Error("ReadData(5, 4) succeeded")
	}
	buf := make([]byte, 8)
	next <- "abcdefghij"
	n, _, err := st.ReadDataInto(ctx, buf, 8)
	if n != 8 || string(buf) != "abcdefgh" || err != nil {
		t.Errorf("ReadDataInto(8 bytes, 8) = %d %q %v", n, buf[:n], err)
	}
	n, _, err = st.ReadDataInto(ctx, buf, 1)
	if string(buf[:n]) != "ij" && string(buf[:n]) != "i" || err != nil {
		t.Errorf("ReadDataInto(8 bytes, 1) = %d %q %v", n, buf[:n], err)
	}
	if _, _, err := st.ReadDataInto(ctx, buf, 9); err == nil {
		t.Error("ReadDataInto(8 bytes, 9) succeeded")
	}
	close(next)
}

func TestStreamTaskReadTimeoutKeepsData(t *testing.T) {
	next := make(chan string)
	port := tcpServer(t, func(c net.Conn) {
		for s := range next {
			c.Write([]byte(s))
		}
	})
	rec := newStreamRecorder()
	s := newSession(t, wsConfig(), rec)
	st := s.StreamTask("127.0.0.1", port)
	st.Resume()
	defer st.Cancel()
	if _, err := st.Write(context.Background(), nil); err != nil { // connected
		t.Fatal(err)
	}
	next <- "part"
	// Wait until "part" has been read by a ReadData that then times out.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	data, _, err := st.ReadData(ctx, 10, 10)
	if CodeOf(err) != ErrTimedOut || data != nil {
		t.Fatalf("ReadData past its deadline = %q, %v; want ErrTimedOut", data, err)
	}
	if st.State() != TaskRunning {
		t.Fatalf("state after a read timeout: %v", st.State())
	}
	next <- "-rest!"
	data, _, err = st.ReadData(context.Background(), 10, 10)
	if string(data) != "part-rest!" || err != nil {
		t.Fatalf("ReadData = %q, %v", data, err)
	}
	// A cancelled context: ErrCancelled, the task goes on.
	cctx, ccancel := context.WithCancel(context.Background())
	go ccancel()
	if _, _, err := st.ReadData(cctx, 1, 10); CodeOf(err) != ErrCancelled {
		t.Fatalf("ReadData with a cancelled context: %v", err)
	}
	if st.State() != TaskRunning {
		t.Fatalf("state after a cancelled read: %v", st.State())
	}
	close(next)
}

func TestStreamTaskCancelWhileReading(t *testing.T) {
	port := tcpServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	rec := newStreamRecorder()
	s := newSession(t, wsConfig(), rec)
	st := s.StreamTask("127.0.0.1", port)
	st.Resume()
	if _, err := st.Write(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, _, err := st.ReadData(context.Background(), 1, 10)
		got <- err
	}()
	st.Cancel()
	if err := <-got; CodeOf(err) != ErrCancelled {
		t.Errorf("pending ReadData: %v", err)
	}
	if err := rec.wait(t); CodeOf(err) != ErrCancelled {
		t.Errorf("completed with %v", err)
	}
}

func TestStreamTaskConnectFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	for _, tc := range []struct {
		host string
		port int
		code Code
	}{
		{"127.0.0.1", closedPort, ErrCannotConnectToHost},
		{"127.0.0.1", 0, ErrBadURL},
		{"127.0.0.1", 70000, ErrBadURL},
		{"", 80, ErrBadURL},
	} {
		rec := newStreamRecorder()
		s := newSession(t, wsConfig(), rec)
		st := s.StreamTask(tc.host, tc.port)
		st.Resume()
		if _, err := st.Write(context.Background(), []byte("x")); CodeOf(err) != tc.code {
			t.Errorf("%s:%d: Write: %v, want code %d", tc.host, tc.port, err, tc.code)
		}
		if err := rec.wait(t); CodeOf(err) != tc.code {
			t.Errorf("%s:%d: completed with %v, want code %d", tc.host, tc.port, err, tc.code)
		}
	}
}

func TestStreamTaskPeerReset(t *testing.T) {
	port := tcpServer(t, func(c net.Conn) {
		c.Write([]byte("x"))
		c.(*net.TCPConn).SetLinger(0) // a reset, not an orderly close
	})
	rec := newStreamRecorder()
	s := newSession(t, wsConfig(), rec)
	st := s.StreamTask("127.0.0.1", port)
	st.Resume()
	var err error
	for err == nil {
		_, _, err = st.ReadData(context.Background(), 2, 10)
	}
	if c := CodeOf(err); c != ErrNetworkConnectionLost {
		t.Errorf("ReadData: %v", err)
	}
	if err := rec.wait(t); CodeOf(err) != ErrNetworkConnectionLost {
		t.Errorf("completed with %v", err)
	}
}

// startTLSServer greets in clear text, answers "STARTTLS" with "go
// ahead", then echoes lines over TLS with cert.
func startTLSServer(t testing.TB, cert tls.Certificate) int {
	return tcpServer(t, func(c net.Conn) {
		c.Write([]byte("220 ready\r\n"))
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil || line != "STARTTLS\r\n" {
			return
		}
		c.Write([]byte("220 go ahead\r\n"))
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		if tc.Handshake() != nil {
			return
		}
		echo(tc)
	})
}

func TestStreamTaskStartSecureConnection(t *testing.T) {
	trusted := wsConfig()
	trusted.TLSClientConfig = &tls.Config{RootCAs: pki().roots}
	for _, tc := range []struct {
		name string
		cfg  *Configuration
		cert tls.Certificate
		d    func(*streamRecorder) any
		code Code
	}{
		{"trusted", trusted, pki().leaf, func(r *streamRecorder) any { return r }, 0},
		{"challenge", wsConfig(), pki().self, func(r *streamRecorder) any { return streamTrustAll{r} }, 0},
		{"untrusted", trusted, pki().self, func(r *streamRecorder) any { return r }, ErrServerCertificateUntrusted},
		{"expired", trusted, pki().expired, func(r *streamRecorder) any { return r }, ErrServerCertificateHasBadDate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := startTLSServer(t, tc.cert)
			rec := newStreamRecorder()
			s := newSession(t, tc.cfg, tc.d(rec))
			st := s.StreamTask("127.0.0.1", port)
			st.Resume()
			ctx := context.Background()
			if data, _, err := st.ReadData(ctx, 11, 11); string(data) != "220 ready\r\n" || err != nil {
				t.Fatalf("greeting %q %v", data, err)
			}
			st.Write(ctx, []byte("STARTTLS\r\n"))
			if data, _, err := st.ReadData(ctx, 14, 14); string(data) != "220 go ahead\r\n" || err != nil {
				t.Fatalf("answer %q %v", data, err)
			}
			st.StartSecureConnection()
			_, werr := st.Write(ctx, []byte("secret"))
			if tc.code != 0 {
				if CodeOf(werr) != tc.code {
					t.Errorf("Write after a failed handshake: %v, want code %d", werr, tc.code)
				}
				if err := rec.wait(t); CodeOf(err) != tc.code {
					t.Errorf("completed with %v, want code %d", err, tc.code)
				}
				return
			}
			if werr != nil {
				t.Fatal(werr)
			}
			st.CloseWrite()
			if got := readAll(t, st); got != "secret" {
				t.Errorf("over TLS: %q", got)
			}
			st.CloseRead()
			if err := rec.wait(t); err != nil {
				t.Errorf("completed with %v", err)
			}
		})
	}
}

// streamTrustAll trusts any server.
type streamTrustAll struct{ *streamRecorder }

func (streamTrustAll) DidReceiveChallenge(_ *Session, c *Challenge) (AuthChallengeDisposition, *Credential) {
	if c.ServerTrust != nil {
		return UseCredential, NewTrustCredential(c.ServerTrust)
	}
	return PerformDefaultHandling, nil
}

func TestStreamTaskCaptureStreams(t *testing.T) {
	port := tcpServer(t, func(c net.Conn) {
		c.Write([]byte("early bytes"))
		echo(c)
	})
	rec := newStreamRecorder()
	s := newSession(t, wsConfig(), rec)
	st := s.StreamTask("127.0.0.1", port)
	st.Resume()
	ctx := context.Background()
	// A read past its deadline keeps what arrived; part of it is read,
	// the rest goes to the captured stream.
	for {
		tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, _, err := st.ReadData(tctx, 100, 100)
		cancel()
		if CodeOf(err) != ErrTimedOut {
			t.Fatalf("ReadData past its deadline: %v", err)
		}
		st.st.mu.Lock()
		n := len(st.st.pending)
		st.st.mu.Unlock()
		if n == len("early bytes") {
			break
		}
	}
	if data, _, err := st.ReadData(ctx, 6, 6); string(data) != "early " || err != nil {
		t.Fatalf("ReadData %q %v", data, err)
	}
	st.CaptureStreams()
	rwc := <-rec.captured
	if err := rec.wait(t); err != nil {
		t.Fatalf("completed with %v", err)
	}
	if _, err := st.Write(ctx, []byte("x")); !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("Write after CaptureStreams: %v", err)
	}
	defer rwc.Close()
	rwc.Write([]byte(" and echo"))
	rwc.(interface{ CloseWrite() error }).CloseWrite()
	all, err := io.ReadAll(rwc)
	if string(all) != "bytes and echo" || err != nil {
		t.Errorf("captured stream read %q %v", all, err)
	}
	want := []string{"create", "streams", "metrics 0", "complete"}
	if got := rec.Events(); !sameEvents(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestStreamTaskConcurrentWritersKeepMessagesWhole(t *testing.T) {
	port := tcpServer(t, echo)
	s := newSession(t, wsConfig(), nil)
	st := s.StreamTask("127.0.0.1", port)
	st.Resume()
	defer st.Cancel()
	const writers, each = 8, 100
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			line := []byte(fmt.Sprintf("%d:%s\n", g, strings.Repeat(string(rune('a'+g)), 500)))
			for range each {
				if _, err := st.Write(context.Background(), line); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); st.CloseWrite() }()
	got := readAll(t, st)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != writers*each {
		t.Fatalf("%d lines, want %d", len(lines), writers*each)
	}
	for _, l := range lines {
		var g int
		fmt.Sscanf(l, "%d:", &g)
		if l != fmt.Sprintf("%d:%s", g, strings.Repeat(string(rune('a'+g)), 500)) {
			t.Fatalf("a write was interleaved: %.40q", l)
		}
	}
}

// becomer turns 101 responses into stream tasks.
type becomer struct {
	*streamRecorder
	became chan *StreamTask
}

var (
	_ ResponseDelegate         = (*becomer)(nil)
	_ StreamConversionDelegate = (*becomer)(nil)
)

func (b *becomer) DidReceiveResponse(_ *Session, _ *DataTask, resp *http.Response) ResponseDisposition {
	b.add(fmt.Sprint("response ", resp.StatusCode))
	return ResponseBecomeStream
}

func (b *becomer) DidBecomeStreamTask(_ *Session, _ *DataTask, st *StreamTask) {
	b.add("became")
	b.became <- st
}

func TestDataTaskBecomeStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			fmt.Fprint(w, "no upgrade")
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		// The first bytes of the new protocol come with the 101.
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello ")
		brw.Flush()
		io.Copy(c, brw)
		c.(*net.TCPConn).CloseWrite()
	}))
	t.Cleanup(srv.Close)
	b := &becomer{streamRecorder: newStreamRecorder(), became: make(chan *StreamTask, 1)}
	s := newSession(t, wsConfig(), b)
	req := get(t, srv.URL+"/up")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	task := s.DataTask(req)
	task.Resume()
	st := <-b.became
	wait(t, task)
	if task.Err() != nil {
		t.Fatalf("the data task completed with %v", task.Err())
	}
	ctx := context.Background()
	if data, _, err := st.ReadData(ctx, 6, 6); string(data) != "hello " || err != nil {
		t.Fatalf("the bytes sent with the 101: %q %v", data, err)
	}
	// The connection's deadlines apply.
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, _, err := st.ReadData(tctx, 1, 10)
	cancel()
	if CodeOf(err) != ErrTimedOut {
		t.Fatalf("ReadData past its deadline: %v", err)
	}
	st.Write(ctx, []byte("world"))
	st.CloseWrite()
	if got := readAll(t, st); got != "world" {
		t.Errorf("echo %q", got)
	}
	st.CloseRead()
	<-st.Done()
	if st.Err() != nil {
		t.Errorf("stream task: %v", st.Err())
	}
	// CloseWrite's callback comes once the writes queued before it are
	// done, and may follow the end of the echo that its half-close let
	// the server send: either order of the two half-closes is right.
	want := []string{"create", "response 101", "create", "became", "metrics 1", "complete", "writeClosed", "readClosed", "metrics 0", "complete"}
	alt := []string{"create", "response 101", "create", "became", "metrics 1", "complete", "readClosed", "writeClosed", "metrics 0", "complete"}
	if got := b.Events(); !sameEvents(got, want) && !sameEvents(got, alt) {
		t.Errorf("events %q, want %q", got, want)
	}

	// Any other response is cancelled.
	task = s.DataTask(get(t, srv.URL+"/plain"))
	task.Resume()
	wait(t, task)
	if CodeOf(task.Err()) != ErrCancelled {
		t.Errorf("ResponseBecomeStream for a 200: %v", task.Err())
	}
}
