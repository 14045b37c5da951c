//go:build interop

package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
)

// wsServer is interop/wsserver/server.js running on Node.js with the npm
// package ws: the WebSocket cases of the Autobahn testsuite that run
// offline, well-behaved on the library and misbehaving on raw sockets.
type wsServer struct {
	port int
	seq  int
	mu   sync.Mutex
}

// wsModules is where .ci/run installs ws: URLSESSION_INTEROP_WS_MODULES,
// else the node_modules under the temporary directory's
// urlsession-interop-ws.
func wsModules() string {
	if d := os.Getenv("URLSESSION_INTEROP_WS_MODULES"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "urlsession-interop-ws", "node_modules")
}

func startWSServer(t *testing.T) *wsServer {
	t.Helper()
	node := need(t, "node")
	modules := wsModules()
	if _, err := os.Stat(filepath.Join(modules, "ws", "package.json")); err != nil {
		if os.Getenv("INTEROP_REQUIRED") == "1" {
			t.Fatalf("the npm package ws is not installed in %s", modules)
		}
		t.Skipf("the npm package ws is not installed in %s (npm install --prefix %s ws)", modules, filepath.Dir(modules))
	}
	cmd := exec.Command(node, "server.js")
	cmd.Dir = "wsserver"
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe() // closing it ends the server
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case s := <-line:
		port, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("the WebSocket server did not start: %q\n%s", s, stderr.String())
		}
		return &wsServer{port: port}
	case <-time.After(15 * time.Second):
		t.Fatalf("the WebSocket server did not start within 15 s\n%s", stderr.String())
	}
	return nil
}

// url returns the ws URL of path with a fresh connection id, and the id.
func (s *wsServer) url(path string) (*url.URL, string) {
	s.mu.Lock()
	s.seq++
	id := strconv.Itoa(s.seq)
	s.mu.Unlock()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	u, err := url.Parse(fmt.Sprintf("ws://127.0.0.1:%d%s%sid=%s", s.port, path, sep, id))
	if err != nil {
		panic(err)
	}
	return u, id
}

// closeSeen returns the close frame the server got from the client on
// connection id: "<code> <reason>", "0 " for one without a code, "none"
// when the connection ended without one.
func (s *wsServer) closeSeen(t *testing.T, id string) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/closed?id=%s", s.port, id))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the server's record of the close: %s %s", resp.Status, b)
	}
	return string(b)
}

// wsEvents records a WebSocket task's delegate callbacks in order.
type wsEvents struct {
	mu     sync.Mutex
	events []string
	done   chan error
}

var (
	_ urlsession.WebSocketOpenDelegate  = (*wsEvents)(nil)
	_ urlsession.WebSocketCloseDelegate = (*wsEvents)(nil)
	_ urlsession.CompletionDelegate     = (*wsEvents)(nil)
)

func newWSEvents() *wsEvents { return &wsEvents{done: make(chan error, 1)} }

func (e *wsEvents) add(s string) {
	e.mu.Lock()
	e.events = append(e.events, s)
	e.mu.Unlock()
}

func (e *wsEvents) DidOpenWithProtocol(_ *urlsession.Session, _ *urlsession.WebSocketTask, p string) {
	e.add("open " + p)
}

func (e *wsEvents) DidCloseWith(_ *urlsession.Session, _ *urlsession.WebSocketTask, c urlsession.CloseCode, reason []byte) {
	e.add(fmt.Sprintf("close %d %s", int(c), reason))
}

func (e *wsEvents) DidCompleteWithError(_ *urlsession.Session, _ *urlsession.Task, err error) {
	e.add("complete")
	e.done <- err
}

func (e *wsEvents) Events() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.events...)
}

// wait returns the task's error, failing the test when it does not
// complete within 20 s.
func (e *wsEvents) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-e.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("the task did not complete within 20 s; events %q", e.Events())
		return nil
	}
}

// wsSession returns a session for the WebSocket server, invalidated at the
// test's end.
func wsSession(t *testing.T, d any, edit func(*urlsession.Configuration)) *urlsession.Session {
	cfg := urlsession.EphemeralConfiguration()
	cfg.Proxy = urlsession.NoProxy
	if edit != nil {
		edit(cfg)
	}
	s, err := urlsession.New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.InvalidateAndCancel)
	return s
}

// bounded returns a context that ends the operation after 20 s.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestWSNodeEchoTextBinaryAndCompression(t *testing.T) {
	srv := startWSServer(t)
	ev := newWSEvents()
	s := wsSession(t, ev, nil)
	u, id := srv.url("/echo")
	task := s.WebSocketTask(u, nil)
	task.SetMaximumMessageSize(8 << 20)
	task.Resume()
	ctx := bounded(t)
	msgs := []urlsession.WebSocketMessage{
		urlsession.TextMessage("hello, wörld"),
		urlsession.BinaryMessage([]byte{0, 1, 2, 0xff}),
		urlsession.TextMessage(""),
		urlsession.BinaryMessage(bytes.Repeat([]byte("0123456789abcdef"), 1<<16)), // 1 MiB, compressible
		urlsession.TextMessage(strings.Repeat("€", 1<<20)),                        // 3 MiB of UTF-8
	}
	for i, m := range msgs {
		if err := task.Send(ctx, m); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
		got, err := task.Receive(ctx)
		if err != nil {
			t.Fatalf("Receive %d: %v", i, err)
		}
		if got.Type != m.Type || !bytes.Equal(got.Data, m.Data) {
			t.Fatalf("echo %d: %v of %d bytes, want %v of %d", i, got.Type, len(got.Data), m.Type, len(m.Data))
		}
	}
	if err := task.CancelWith(urlsession.CloseGoingAway, []byte("leaving")); err != nil {
		t.Fatal(err)
	}
	if err := ev.wait(t); err != nil {
		t.Fatalf("completed with %v", err)
	}
	if got := srv.closeSeen(t, id); got != "1001 leaving" {
		t.Errorf("the server got the close %q, want \"1001 leaving\"", got)
	}
	if task.CloseCode() != urlsession.CloseGoingAway || string(task.CloseReason()) != "leaving" {
		t.Errorf("CloseCode %v %q", task.CloseCode(), task.CloseReason())
	}
	if got, want := ev.Events(), []string{"open ", "close 1001 leaving", "complete"}; !equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestWSNodeSubprotocolAndDeflate(t *testing.T) {
	srv := startWSServer(t)
	for _, tc := range []struct {
		offered []string
		want    string
	}{
		{[]string{"v1.echo", "v2.echo"}, "v2.echo"},
		{[]string{"v0.echo", "v1.echo"}, "v1.echo"},
		{[]string{"v0.echo"}, ""},
		{nil, ""},
	} {
		t.Run(strings.Join(tc.offered, ","), func(t *testing.T) {
			ev := newWSEvents()
			s := wsSession(t, ev, nil)
			u, _ := srv.url("/hello")
			task := s.WebSocketTask(u, tc.offered)
			task.Resume()
			m, err := task.Receive(bounded(t))
			if err != nil {
				t.Fatal(err)
			}
			var hello struct{ Protocol, Extensions string }
			if err := json.Unmarshal(m.Data, &hello); err != nil {
				t.Fatalf("%q: %v", m.Data, err)
			}
			if hello.Protocol != tc.want || task.Protocol() != tc.want {
				t.Errorf("protocol: the server chose %q, the task says %q, want %q", hello.Protocol, task.Protocol(), tc.want)
			}
			if !strings.HasPrefix(hello.Extensions, "permessage-deflate") {
				t.Errorf("extensions %q, want permessage-deflate", hello.Extensions)
			}
			if err := ev.wait(t); err != nil {
				t.Fatalf("completed with %v", err)
			}
			if got, want := ev.Events(), []string{"open " + tc.want, "close 1000 bye", "complete"}; !equal(got, want) {
				t.Errorf("events %q, want %q", got, want)
			}
			if task.CloseCode() != urlsession.CloseNormalClosure || string(task.CloseReason()) != "bye" {
				t.Errorf("CloseCode %v %q", task.CloseCode(), task.CloseReason())
			}
		})
	}
}

func TestWSNodeFragmentedMessages(t *testing.T) {
	srv := startWSServer(t)
	ev := newWSEvents()
	s := wsSession(t, ev, nil)
	u, _ := srv.url("/fragments")
	task := s.WebSocketTask(u, nil)
	task.Resume()
	ctx := bounded(t)
	var got []string
	for {
		m, err := task.Receive(ctx)
		if err != nil {
			break
		}
		got = append(got, fmt.Sprintf("%v %q", m.Type, m.Data))
	}
	if want := []string{`text "abcdefghi"`, `binary "\x01\x02\x03"`}; !equal(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
	if err := ev.wait(t); err != nil {
		t.Errorf("completed with %v", err)
	}
	if task.CloseCode() != urlsession.CloseNormalClosure {
		t.Errorf("CloseCode %v", task.CloseCode())
	}
}

func TestWSNodeMessageSizeLimit(t *testing.T) {
	srv := startWSServer(t)
	const limit = urlsession.DefaultMaximumMessageSize
	for _, n := range []int{limit - 1, limit, limit + 1, 4 * limit} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			ev := newWSEvents()
			s := wsSession(t, ev, nil)
			u, id := srv.url(fmt.Sprintf("/big?n=%d", n))
			task := s.WebSocketTask(u, nil)
			task.Resume()
			m, err := task.Receive(bounded(t))
			if n <= limit {
				if err != nil || len(m.Data) != n || m.Type != urlsession.WebSocketBinary {
					t.Fatalf("Receive: %v of %d bytes, %v; want %d bytes", m.Type, len(m.Data), err, n)
				}
				task.CancelWith(urlsession.CloseNormalClosure, nil)
				if err := ev.wait(t); err != nil {
					t.Errorf("completed with %v", err)
				}
				if got := srv.closeSeen(t, id); got != "1000 " {
					t.Errorf("the server got the close %q", got)
				}
				return
			}
			if urlsession.CodeOf(err) != urlsession.ErrDataLengthExceedsMaximum {
				t.Errorf("Receive: %v, want ErrDataLengthExceedsMaximum", err)
			}
			if err := ev.wait(t); urlsession.CodeOf(err) != urlsession.ErrDataLengthExceedsMaximum {
				t.Errorf("completed with %v, want ErrDataLengthExceedsMaximum", err)
			}
			if task.CloseCode() != urlsession.CloseMessageTooBig {
				t.Errorf("CloseCode %v, want messageTooBig", task.CloseCode())
			}
			if got := srv.closeSeen(t, id); !strings.HasPrefix(got, "1009 ") {
				t.Errorf("the server got the close %q, want 1009", got)
			}
		})
	}
}

func TestWSNodeTenThousandMessagesInOrder(t *testing.T) {
	srv := startWSServer(t)
	const n = 10000
	ctx := bounded(t)

	// From the server.
	ev := newWSEvents()
	s := wsSession(t, ev, nil)
	u, _ := srv.url(fmt.Sprintf("/many?n=%d", n))
	task := s.WebSocketTask(u, nil)
	task.Resume()
	for i := range n {
		m, err := task.Receive(ctx)
		if err != nil {
			t.Fatalf("Receive %d: %v", i, err)
		}
		if string(m.Data) != strconv.Itoa(i) {
			t.Fatalf("message %d is %q", i, m.Data)
		}
	}
	if _, err := task.Receive(ctx); err == nil {
		t.Error("a message after the last")
	}
	if err := ev.wait(t); err != nil {
		t.Errorf("completed with %v", err)
	}
	if task.CloseCode() != urlsession.CloseNormalClosure || string(task.CloseReason()) != "done" {
		t.Errorf("CloseCode %v %q", task.CloseCode(), task.CloseReason())
	}

	// To the server and back, sending and receiving at once.
	ev = newWSEvents()
	s = wsSession(t, ev, nil)
	u, _ = srv.url("/echo")
	echo := s.WebSocketTask(u, nil)
	echo.Resume()
	sendErr := make(chan error, 1)
	go func() {
		for i := range n {
			if err := echo.Send(ctx, urlsession.TextMessage(strconv.Itoa(i))); err != nil {
				sendErr <- fmt.Errorf("Send %d: %w", i, err)
				return
			}
		}
		sendErr <- nil
	}()
	for i := range n {
		m, err := echo.Receive(ctx)
		if err != nil {
			t.Fatalf("Receive %d: %v", i, err)
		}
		if string(m.Data) != strconv.Itoa(i) {
			t.Fatalf("echo %d is %q", i, m.Data)
		}
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	echo.CancelWith(urlsession.CloseNormalClosure, nil)
	if err := ev.wait(t); err != nil {
		t.Errorf("completed with %v", err)
	}
}

func TestWSNodePingPong(t *testing.T) {
	srv := startWSServer(t)
	ev := newWSEvents()
	s := wsSession(t, ev, nil)
	u, _ := srv.url("/ping")
	task := s.WebSocketTask(u, nil)
	task.Resume()
	ctx := bounded(t)
	// The server's ping is answered with a pong carrying its data.
	m, err := task.Receive(ctx)
	if err != nil || string(m.Data) != "pong hi" {
		t.Fatalf("Receive: %q %v, want \"pong hi\"", m.Data, err)
	}
	// The client's pings are answered.
	for i := range 3 {
		if err := task.SendPing(ctx); err != nil {
			t.Fatalf("SendPing %d: %v", i, err)
		}
	}
	pong := make(chan error, 1)
	task.SendPingWithHandler(func(err error) { pong <- err })
	if err := <-pong; err != nil {
		t.Fatalf("SendPingWithHandler: %v", err)
	}
	task.Cancel()
	if err := ev.wait(t); urlsession.CodeOf(err) != urlsession.ErrCancelled {
		t.Errorf("completed with %v, want ErrCancelled", err)
	}
}

func TestWSNodeServerCloses(t *testing.T) {
	srv := startWSServer(t)
	for _, tc := range []struct {
		code   int
		reason string
	}{
		{1000, "normal"},
		{1001, ""},
		{1003, "unsupported"},
		{1008, "policy"},
		{1011, "oops"},
		{3000, "registered"},
		{4999, strings.Repeat("r", 123)}, // the longest reason there is
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			ev := newWSEvents()
			s := wsSession(t, ev, nil)
			u, id := srv.url(fmt.Sprintf("/close?code=%d&reason=%s", tc.code, url.QueryEscape(tc.reason)))
			task := s.WebSocketTask(u, nil)
			task.Resume()
			if _, err := task.Receive(bounded(t)); err == nil {
				t.Fatal("Receive returned a message")
			}
			if err := ev.wait(t); err != nil {
				t.Errorf("completed with %v", err)
			}
			want := fmt.Sprintf("close %d %s", tc.code, tc.reason)
			if got := ev.Events(); !equal(got, []string{"open ", want, "complete"}) {
				t.Errorf("events %q, want %q", got, want)
			}
			if int(task.CloseCode()) != tc.code || string(task.CloseReason()) != tc.reason {
				t.Errorf("CloseCode %v %q", task.CloseCode(), task.CloseReason())
			}
			// The client answers with the server's code (RFC 6455 5.5.1).
			if got := srv.closeSeen(t, id); !strings.HasPrefix(got, strconv.Itoa(tc.code)+" ") {
				t.Errorf("the server got the close %q", got)
			}
		})
	}
}

func TestWSNodeMisbehavingServers(t *testing.T) {
	srv := startWSServer(t)
	for _, tc := range []struct {
		name      string
		code      urlsession.Code
		closeCode urlsession.CloseCode
	}{
		{"bad-utf8", urlsession.ErrBadServerResponse, urlsession.CloseInvalidFramePayloadData},
		{"rsv", urlsession.ErrBadServerResponse, urlsession.CloseProtocolError},
		{"close-1005", urlsession.ErrBadServerResponse, urlsession.CloseProtocolError},
		{"close-999", urlsession.ErrBadServerResponse, urlsession.CloseProtocolError},
		{"long-reason", urlsession.ErrBadServerResponse, urlsession.CloseProtocolError},
		{"oversized", urlsession.ErrDataLengthExceedsMaximum, urlsession.CloseMessageTooBig},
		{"masked", urlsession.ErrBadServerResponse, urlsession.CloseProtocolError},
		{"fragmented-ping", urlsession.ErrBadServerResponse, urlsession.CloseProtocolError},
		{"continuation", urlsession.ErrBadServerResponse, urlsession.CloseProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := newWSEvents()
			s := wsSession(t, ev, nil)
			u, id := srv.url("/raw/" + tc.name)
			task := s.WebSocketTask(u, nil)
			task.Resume()
			m, rerr := task.Receive(bounded(t))
			if rerr == nil {
				t.Fatalf("Receive returned %v %q", m.Type, m.Data)
			}
			err := ev.wait(t)
			if urlsession.CodeOf(err) != tc.code || urlsession.CodeOf(rerr) != tc.code {
				t.Errorf("completed with %v, Receive %v; want code %d", err, rerr, tc.code)
			}
			if task.CloseCode() != tc.closeCode {
				t.Errorf("CloseCode %v, want %v", task.CloseCode(), tc.closeCode)
			}
			if got, want := srv.closeSeen(t, id), strconv.Itoa(int(tc.closeCode))+" "; !strings.HasPrefix(got, want) {
				t.Errorf("the server got the close %q, want code %d", got, tc.closeCode)
			}
			if got := ev.Events(); !equal(got, []string{"open ", "complete"}) {
				t.Errorf("events %q", got)
			}
		})
	}
}

func TestWSNodeHandshakeNeverCompletes(t *testing.T) {
	srv := startWSServer(t)
	ev := newWSEvents()
	s := wsSession(t, ev, func(cfg *urlsession.Configuration) {
		cfg.TimeoutIntervalForRequest = 300 * time.Millisecond
	})
	u, _ := srv.url("/raw/hang")
	task := s.WebSocketTask(u, nil)
	task.Resume()
	if _, err := task.Receive(bounded(t)); urlsession.CodeOf(err) != urlsession.ErrTimedOut {
		t.Errorf("Receive: %v, want ErrTimedOut", err)
	}
	if err := ev.wait(t); urlsession.CodeOf(err) != urlsession.ErrTimedOut {
		t.Errorf("completed with %v, want ErrTimedOut", err)
	}
	if task.CloseCode() != urlsession.CloseInvalid {
		t.Errorf("CloseCode %v", task.CloseCode())
	}
	if got := ev.Events(); !equal(got, []string{"complete"}) {
		t.Errorf("events %q", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
