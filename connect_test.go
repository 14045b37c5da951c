package urlsession

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"

	"github.com/urlsession-go/urlsession/internal/proxy/proxytest"
)

// connectServer answers CONNECT requests itself: for a target it accepts
// (any but "refused:1") a 200 with "hello " right behind it in the same
// write, then it echoes until end-of-file and half-closes; for
// "refused:1" a 403 with a body. It records the request lines.
type connectServer struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func newConnectServer(t *testing.T) *connectServer {
	cs := &connectServer{}
	port := tcpServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		cs.mu.Lock()
		cs.seen = append(cs.seen, req.Method+" "+req.RequestURI+" "+req.Header.Get("X-Test"))
		cs.mu.Unlock()
		if req.RequestURI == "refused:1" {
			io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden")
			return
		}
		io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Connection established\r\n\r\nhello ")
		io.Copy(c, br)
		c.(interface{ CloseWrite() error }).CloseWrite()
	})
	cs.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return cs
}

func (cs *connectServer) Seen() []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]string(nil), cs.seen...)
}

func connectRequest(t *testing.T, base, target string) *http.Request {
	req, err := http.NewRequest(http.MethodConnect, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = target
	req.Header.Set("X-Test", "t")
	return req
}

// tunnelEcho checks a stream task over connectServer's tunnel: the bytes
// that came with the 200, a read timeout that keeps the task, the echo
// and the half-closes.
func tunnelEcho(t *testing.T, st *StreamTask) {
	t.Helper()
	ctx := t.Context()
	if data, _, err := st.ReadData(ctx, 6, 6); string(data) != "hello " || err != nil {
		t.Fatalf("the bytes behind the 200: %q %v", data, err)
	}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, _, err := st.ReadData(tctx, 1, 10)
	cancel()
	if CodeOf(err) != ErrTimedOut {
		t.Fatalf("ReadData past its deadline: %v", err)
	}
	if n, err := st.Write(ctx, []byte("through")); n != 7 || err != nil {
		t.Fatalf("Write: %d %v", n, err)
	}
	if _, err := st.Write(ctx, []byte(" the tunnel")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	st.CloseWrite()
	if got := readAll(t, st); got != "through the tunnel" {
		t.Errorf("echo %q", got)
	}
	if _, err := st.Write(ctx, []byte("late")); CodeOf(err) != ErrNetworkConnectionLost {
		t.Errorf("Write after CloseWrite: %v", err)
	}
	st.CloseRead()
	<-st.Done()
	if st.Err() != nil {
		t.Errorf("stream task: %v", st.Err())
	}
}

func TestDataTaskConnectBecomesStream(t *testing.T) {
	t.Parallel()
	cs := newConnectServer(t)
	b := &becomer{streamRecorder: newStreamRecorder(), became: make(chan *StreamTask, 1)}
	s := newSession(t, wsConfig(), b)
	task := s.DataTask(connectRequest(t, "http://"+cs.addr, "echo.test:7"))
	task.Resume()
	st := <-b.became
	wait(t, task)
	if task.Err() != nil {
		t.Fatalf("the data task completed with %v", task.Err())
	}
	if resp := task.Response(); resp == nil || resp.StatusCode != 200 {
		t.Fatalf("the data task's response %v", resp)
	}
	if st.Host() != "echo.test" || st.Port() != 7 {
		t.Errorf("the stream task's end %s:%d, want echo.test:7", st.Host(), st.Port())
	}
	tunnelEcho(t, st)
	want := []string{"create", "response 200", "create", "became", "metrics 1", "complete", "writeClosed", "readClosed", "metrics 0", "complete"}
	alt := []string{"create", "response 200", "create", "became", "metrics 1", "complete", "readClosed", "writeClosed", "metrics 0", "complete"}
	if got := b.Events(); !sameEvents(got, want) && !sameEvents(got, alt) {
		t.Errorf("events %q, want %q", got, want)
	}
	if got := cs.Seen(); len(got) != 1 || got[0] != "CONNECT echo.test:7 t" {
		t.Errorf("the server saw %q", got)
	}
}

func TestDataTaskConnectRefused(t *testing.T) {
	t.Parallel()
	cs := newConnectServer(t)

	// A refusal is a response like any other.
	s := newSession(t, wsConfig(), nil)
	var body []byte
	var resp *http.Response
	var err error
	task := s.DataTaskWithCompletion(connectRequest(t, "http://"+cs.addr, "refused:1"), func(b []byte, r *http.Response, e error) {
		body, resp, err = b, r, e
	})
	task.Resume()
	wait(t, task)
	if err != nil || resp == nil || resp.StatusCode != http.StatusForbidden || string(body) != "forbidden" {
		t.Fatalf("refused CONNECT: %v %q %v", resp, body, err)
	}

	// ResponseBecomeStream cancels it, with no stream task.
	b := &becomer{streamRecorder: newStreamRecorder(), became: make(chan *StreamTask, 1)}
	s = newSession(t, wsConfig(), b)
	dt := s.DataTask(connectRequest(t, "http://"+cs.addr, "refused:1"))
	dt.Resume()
	wait(t, dt)
	if CodeOf(dt.Err()) != ErrCancelled {
		t.Errorf("ResponseBecomeStream for a 403: %v", dt.Err())
	}
	if got, want := b.Events(), []string{"create", "response 403", "metrics 1", "complete"}; !sameEvents(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}

	// A CONNECT naming no port fails before any I/O.
	dt = s.DataTask(connectRequest(t, "http://"+cs.addr, "no-port"))
	dt.Resume()
	wait(t, dt)
	if CodeOf(dt.Err()) != ErrBadURL {
		t.Errorf("CONNECT without a port: %v", dt.Err())
	}
	if got := cs.Seen(); len(got) != 2 {
		t.Errorf("the server saw %q", got)
	}
}

func TestDataTaskConnectAllowedReadsTheTunnel(t *testing.T) {
	t.Parallel()
	// Without ResponseBecomeStream, the tunnel's bytes are the body, to
	// the server's end-of-file.
	port := tcpServer(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nall of the tunnel")
	})
	s := newSession(t, wsConfig(), nil)
	b, resp, err := s.Data(t.Context(), connectRequest(t, fmt.Sprintf("http://127.0.0.1:%d", port), "x:1"))
	if err != nil || resp.StatusCode != 200 || string(b) != "all of the tunnel" {
		t.Errorf("CONNECT as a data task: %v %q %v", resp, b, err)
	}
}

func TestDataTaskConnectThroughProxy(t *testing.T) {
	t.Parallel()
	cs := newConnectServer(t)
	hp := proxytest.NewHTTPProxy(t)
	cfg := wsConfig()
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse(hp.URL()) }
	b := &becomer{streamRecorder: newStreamRecorder(), became: make(chan *StreamTask, 1)}
	s := newSession(t, cfg, b)
	task := s.DataTask(connectRequest(t, "http://"+cs.addr, "echo.test:7"))
	task.Resume()
	st := <-b.became
	wait(t, task)
	tunnelEcho(t, st)
	// The proxy tunnels to the server the CONNECT goes to, which sees it.
	if got := hp.Requests(); len(got) != 1 || got[0].Line != "CONNECT "+cs.addr || got[0].Answer != 200 {
		t.Errorf("the proxy saw %+v", got)
	}
	if got := cs.Seen(); len(got) != 1 || got[0] != "CONNECT echo.test:7 t" {
		t.Errorf("the server saw %q", got)
	}
}

func TestDataTaskConnectOverTLS(t *testing.T) {
	t.Parallel()
	cs := newConnectServer(t)
	front := httptest.NewUnstartedServer(nil)
	front.StartTLS()
	serverCfg, clientCfg := front.TLS, front.Client().Transport.(*http.Transport).TLSClientConfig
	front.Close() // only its certificate is used
	addr := proxytest.TLSFront(t, serverCfg, cs.addr)
	cfg := wsConfig()
	cfg.TLSClientConfig = clientCfg
	b := &becomer{streamRecorder: newStreamRecorder(), became: make(chan *StreamTask, 1)}
	s := newSession(t, cfg, b)
	task := s.DataTask(connectRequest(t, "https://"+addr, "echo.test:7"))
	task.Resume()
	var st *StreamTask
	select {
	case st = <-b.became:
	case <-task.Done():
		t.Fatalf("the data task completed with %v", task.Err())
	}
	wait(t, task)
	ctx := t.Context()
	if data, _, err := st.ReadData(ctx, 6, 6); string(data) != "hello " || err != nil {
		t.Fatalf("the bytes behind the 200: %q %v", data, err)
	}
	st.Write(ctx, []byte("secure"))
	if data, _, err := st.ReadData(ctx, 6, 6); string(data) != "secure" || err != nil {
		t.Fatalf("echo: %q %v", data, err)
	}
	st.Cancel()
	<-st.Done()
	if CodeOf(st.Err()) != ErrCancelled {
		t.Errorf("stream task: %v", st.Err())
	}
}

func TestDataTaskConnectServerNeverAnswers(t *testing.T) {
	t.Parallel()
	port := tcpServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	cfg := wsConfig()
	cfg.TimeoutIntervalForRequest = 100 * time.Millisecond
	s := newSession(t, cfg, nil)
	_, _, err := s.Data(t.Context(), connectRequest(t, fmt.Sprintf("http://127.0.0.1:%d", port), "x:1"))
	if CodeOf(err) != ErrTimedOut {
		t.Errorf("CONNECT without an answer: %v", err)
	}
}

// h2ConnectServer answers CONNECT over HTTP/2 (and HTTP/1.1, for a client
// that does not offer h2): a 200, "hello " and an echo of the request body
// to its end, or a 403 for "refused:1".
func h2ConnectServer(t *testing.T) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		if r.Host == "refused:1" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		rc := http.NewResponseController(w)
		if r.ProtoMajor == 1 {
			// A tunnel, not a chunked body: the connection itself.
			c, brw, err := rc.Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			brw.WriteString("HTTP/1.1 200 OK\r\nX-Proto: HTTP/1.1\r\n\r\nhello ")
			brw.Flush()
			io.Copy(c, brw)
			c.(interface{ CloseWrite() error }).CloseWrite()
			return
		}
		w.Header().Set("X-Proto", r.Proto)
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "hello ")
		rc.Flush()
		buf := make([]byte, 1<<10)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
				rc.Flush()
			}
			if err != nil {
				return
			}
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestDataTaskConnectOverHTTP2(t *testing.T) {
	t.Parallel()
	srv := h2ConnectServer(t)
	for _, h2 := range []bool{true, false} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			cfg := wsConfig()
			cfg.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
			cfg.DisableHTTP2 = !h2
			b := &becomer{streamRecorder: newStreamRecorder(), became: make(chan *StreamTask, 1)}
			s := newSession(t, cfg, b)
			task := s.DataTask(connectRequest(t, srv.URL, "echo.test:7"))
			task.Resume()
			var st *StreamTask
			select {
			case st = <-b.became:
			case <-task.Done():
				t.Fatalf("the data task completed with %v", task.Err())
			}
			wait(t, task)
			want := map[bool]string{true: "HTTP/2.0", false: "HTTP/1.1"}[h2]
			if resp := task.Response(); resp == nil || resp.Proto != want || resp.Header.Get("X-Proto") != want {
				t.Fatalf("the CONNECT's response %v, want %s", resp, want)
			}
			tunnelEcho(t, st)
		})
	}

	// A refusal over HTTP/2 is an ordinary response.
	cfg := wsConfig()
	cfg.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	s := newSession(t, cfg, nil)
	body, resp, err := s.Data(t.Context(), connectRequest(t, srv.URL, "refused:1"))
	if err != nil || resp.StatusCode != http.StatusForbidden || resp.Proto != "HTTP/2.0" || string(body) != "forbidden\n" {
		t.Errorf("refused CONNECT: %v %q %v", resp, body, err)
	}
}

func TestTunnelWriterDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newTunnelWriter()
		// Nobody reads: the deadline ends the write.
		w.dl.set(time.Now().Add(time.Second))
		start := time.Now()
		n, err := w.Write([]byte("stuck"))
		if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("Write past its deadline: %d %v after %v", n, err, time.Since(start))
		}
		// A passed deadline fails at once, until cleared.
		if _, err := w.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write after the deadline: %v", err)
		}
		w.dl.set(time.Time{})
		got := make(chan string)
		go func() {
			b, _ := io.ReadAll(iotest.OneByteReader(w))
			got <- string(b)
		}()
		if n, err := w.Write([]byte("through")); n != 7 || err != nil {
			t.Fatalf("Write: %d %v", n, err)
		}
		w.Close()
		if s := <-got; s != "through" {
			t.Errorf("read %q", s)
		}
		if _, err := w.Write([]byte("late")); err == nil {
			t.Error("Write after Close succeeded")
		}
	})
}

func TestH2TunnelReadDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		tun := newH2Tunnel(nil, pr, newTunnelWriter(), func() {})
		defer tun.Close()
		tun.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 8)
		if _, err := tun.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read past its deadline: %v", err)
		}
		tun.SetReadDeadline(time.Time{})
		go func() { pw.Write([]byte("0123456789")); pw.Close() }()
		var all []byte
		for {
			n, err := tun.Read(buf)
			all = append(all, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if string(all) != "0123456789" {
			t.Errorf("read %q", all)
		}
	})
}

func TestDataTaskConnectCancelWhileReadingTheTunnel(t *testing.T) {
	t.Parallel()
	cs := newConnectServer(t)
	h2 := h2ConnectServer(t)
	for _, base := range []string{"http://" + cs.addr, h2.URL} {
		t.Run(base[:5], func(t *testing.T) {
			cfg := wsConfig()
			cfg.TLSClientConfig = h2.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
			s := newSession(t, cfg, nil)
			// The tunnel never ends: the body is read until the task is
			// cancelled.
			ctx, cancel := context.WithCancel(t.Context())
			task := s.DataTaskWithCompletion(connectRequest(t, base, "echo.test:7"), func([]byte, *http.Response, error) {})
			stop := context.AfterFunc(ctx, task.Cancel)
			defer stop()
			task.Resume()
			time.AfterFunc(50*time.Millisecond, cancel)
			wait(t, task)
			if CodeOf(task.Err()) != ErrCancelled {
				t.Errorf("completed with %v, want ErrCancelled", task.Err())
			}
		})
	}
}
