package urlsession

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/urlsession-go/urlsession/cookiestore"
	"github.com/urlsession-go/urlsession/credstore"
)

// wsRecorder is a delegate recording a WebSocket task's callbacks.
type wsRecorder struct {
	mu     sync.Mutex
	events []string
	err    error
	done   chan struct{}
	once   sync.Once
}

func newWSRecorder() *wsRecorder { return &wsRecorder{done: make(chan struct{})} }

var (
	_ TaskCreationDelegate   = (*wsRecorder)(nil)
	_ WebSocketOpenDelegate  = (*wsRecorder)(nil)
	_ WebSocketCloseDelegate = (*wsRecorder)(nil)
	_ MetricsDelegate        = (*wsRecorder)(nil)
	_ CompletionDelegate     = (*wsRecorder)(nil)
)

func (r *wsRecorder) add(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *wsRecorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *wsRecorder) DidCreateTask(*Session, *Task) { r.add("create") }
func (r *wsRecorder) DidOpenWithProtocol(_ *Session, _ *WebSocketTask, p string) {
	r.add("open " + p)
}
func (r *wsRecorder) DidCloseWith(_ *Session, _ *WebSocketTask, c CloseCode, reason []byte) {
	r.add(fmt.Sprintf("close %d %s", int(c), reason))
}
func (r *wsRecorder) DidFinishCollectingMetrics(_ *Session, _ *Task, m *TaskMetrics) {
	r.add(fmt.Sprintf("metrics %d", len(m.Transactions)))
}
func (r *wsRecorder) DidCompleteWithError(_ *Session, _ *Task, err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	r.add("complete")
	r.once.Do(func() { close(r.done) })
}

func (r *wsRecorder) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the WebSocket task did not complete")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// wsURL turns an httptest server's URL into a ws or wss one.
func wsURL(t testing.TB, raw, path string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw + path)
	if err != nil {
		t.Fatal(err)
	}
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	return u
}

// echoServer accepts WebSockets and echoes every message; "/close" makes
// it close with 4000 "done" after the first message, "/big" sends a
// message of the size in the query, then waits.
func echoServer(t testing.TB, seen chan<- *http.Request) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen <- r
		}
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Subprotocols:    []string{"chat", "superchat"},
			CompressionMode: websocket.CompressionNoContextTakeover,
		})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(-1)
		ctx := r.Context()
		if r.URL.Path == "/big" {
			var n int
			fmt.Sscan(r.URL.Query().Get("n"), &n)
			c.Write(ctx, websocket.MessageBinary, make([]byte, n))
			c.Read(ctx) // until the client closes
			return
		}
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if r.URL.Path == "/close" {
				c.Close(4000, "done")
				return
			}
			if err := c.Write(ctx, typ, data); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func wsConfig() *Configuration {
	c := baseConfiguration()
	c.Proxy = NoProxy
	return c
}

func TestWebSocketEchoAndCallbackOrder(t *testing.T) {
	seen := make(chan *http.Request, 1)
	srv := echoServer(t, seen)
	cfg := wsConfig()
	cfg.HTTPAdditionalHeaders = http.Header{"X-Extra": {"yes"}}
	rec := newWSRecorder()
	s := newSession(t, cfg, rec)
	task := s.WebSocketTask(wsURL(t, srv.URL, "/echo"), []string{"superchat", "chat"})
	if task.State() != TaskSuspended {
		t.Fatalf("new task state %v", task.State())
	}
	if got := s.Tasks().WebSocket; len(got) != 1 || got[0] != task {
		t.Fatalf("Tasks().WebSocket = %v", got)
	}
	task.Resume()
	ctx := context.Background()
	msgs := []WebSocketMessage{TextMessage("hello"), BinaryMessage([]byte{0, 1, 2, 255}), TextMessage(strings.Repeat("long text ", 1000))}
	var size int64
	for _, m := range msgs {
		if err := task.Send(ctx, m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		got, err := task.Receive(ctx)
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		if got.Type != m.Type || string(got.Data) != string(m.Data) {
			t.Fatalf("Receive = %v %q, want %v %q", got.Type, got.Data, m.Type, m.Data)
		}
		size += int64(len(m.Data))
	}
	if err := task.SendPing(ctx); err != nil {
		t.Fatalf("SendPing: %v", err)
	}
	if p := task.Protocol(); p != "chat" {
		t.Errorf("Protocol = %q", p)
	}
	r := <-seen
	if r.Header.Get("X-Extra") != "yes" || r.Header.Get("Sec-WebSocket-Protocol") != "superchat,chat" {
		t.Errorf("handshake headers: %v", r.Header)
	}
	if !strings.Contains(r.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		t.Errorf("permessage-deflate not offered: %q", r.Header.Get("Sec-WebSocket-Extensions"))
	}
	if err := task.CancelWith(CloseGoingAway, []byte("bye")); err != nil {
		t.Fatal(err)
	}
	if err := rec.wait(t); err != nil {
		t.Fatalf("completed with %v, want nil", err)
	}
	want := []string{"create", "open chat", "close 1001 bye", "metrics 1", "complete"}
	if got := rec.Events(); !sameEvents(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if task.CloseCode() != CloseGoingAway || string(task.CloseReason()) != "bye" {
		t.Errorf("CloseCode %v %q", task.CloseCode(), task.CloseReason())
	}
	if task.State() != TaskCompleted {
		t.Errorf("state %v", task.State())
	}
	if task.CountOfBytesSent() != size || task.CountOfBytesReceived() != size {
		t.Errorf("bytes sent %d received %d, want %d", task.CountOfBytesSent(), task.CountOfBytesReceived(), size)
	}
	if _, err := task.Receive(ctx); !errors.Is(err, syscall.ENOTCONN) || CodeOf(err) != ErrNetworkConnectionLost {
		t.Errorf("Receive after close: %v", err)
	}
	if err := task.Send(ctx, TextMessage("late")); !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("Send after close: %v", err)
	}
	if got := s.Tasks().WebSocket; len(got) != 0 {
		t.Errorf("Tasks().WebSocket after completion = %v", got)
	}
}

func TestWebSocketServerCloses(t *testing.T) {
	srv := echoServer(t, nil)
	rec := newWSRecorder()
	s := newSession(t, wsConfig(), rec)
	task := s.WebSocketTask(wsURL(t, srv.URL, "/close"), nil)
	task.Resume()
	if err := task.Send(context.Background(), TextMessage("x")); err != nil {
		t.Fatal(err)
	}
	_, err := task.Receive(context.Background())
	if CodeOf(err) != ErrNetworkConnectionLost || !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("Receive after the server's close: %v", err)
	}
	if err := rec.wait(t); err != nil {
		t.Errorf("completed with %v", err)
	}
	want := []string{"create", "open ", "close 4000 done", "metrics 1", "complete"}
	if got := rec.Events(); !sameEvents(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if task.CloseCode() != 4000 || string(task.CloseReason()) != "done" {
		t.Errorf("CloseCode %v %q", task.CloseCode(), task.CloseReason())
	}
}

func TestWebSocketMaximumMessageSize(t *testing.T) {
	srv := echoServer(t, nil)
	for _, tc := range []struct {
		name string
		max  int // 0: the default
		n    int
		ok   bool
	}{
		{"default/at", 0, 1 << 20, true},
		{"default/over", 0, 1<<20 + 1, false},
		{"set/over", 1000, 1001, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newWSRecorder()
			s := newSession(t, wsConfig(), rec)
			task := s.WebSocketTask(wsURL(t, srv.URL, fmt.Sprintf("/big?n=%d", tc.n)), nil)
			if tc.max != 0 {
				task.SetMaximumMessageSize(tc.max)
			}
			if task.MaximumMessageSize() != max(tc.max, 0) && tc.max != 0 || tc.max == 0 && task.MaximumMessageSize() != DefaultMaximumMessageSize {
				t.Errorf("MaximumMessageSize = %d", task.MaximumMessageSize())
			}
			task.Resume()
			m, err := task.Receive(context.Background())
			if tc.ok {
				if err != nil || len(m.Data) != tc.n {
					t.Fatalf("Receive: %d bytes, %v", len(m.Data), err)
				}
				task.Cancel()
				if err := rec.wait(t); CodeOf(err) != ErrCancelled {
					t.Errorf("completed with %v, want ErrCancelled", err)
				}
				return
			}
			if CodeOf(err) != ErrDataLengthExceedsMaximum || !errors.Is(err, syscall.EMSGSIZE) {
				t.Errorf("Receive: %v, want ErrDataLengthExceedsMaximum (EMSGSIZE)", err)
			}
			if err := rec.wait(t); CodeOf(err) != ErrDataLengthExceedsMaximum {
				t.Errorf("completed with %v", err)
			}
			if task.CloseCode() != CloseMessageTooBig {
				t.Errorf("CloseCode %v, want messageTooBig", task.CloseCode())
			}
		})
	}
}

// rawWSServer accepts one WebSocket handshake per connection by hand and
// then runs script on the connection; with refuse set it answers the
// handshake with that raw response instead.
func rawWSServer(t testing.TB, refuse string, script func(c net.Conn, br *bufio.Reader)) string {
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
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				if refuse != "" {
					c.Write([]byte(refuse))
					if refuse == "hang" {
						br.ReadByte() // until the client goes
					}
					return
				}
				h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
				fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
					base64.StdEncoding.EncodeToString(h[:]))
				script(c, br)
			})
		}
	})
	return "ws://" + ln.Addr().String() + "/"
}

// frame returns an unmasked server frame with FIN set.
func frame(opcode byte, payload []byte) []byte {
	return append([]byte{0x80 | opcode, byte(len(payload))}, payload...)
}

func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

func TestWebSocketMisbehavingServers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		refuse    string
		script    func(c net.Conn, br *bufio.Reader)
		code      Code
		closeCode CloseCode
	}{
		{"reserved opcode", "", func(c net.Conn, br *bufio.Reader) {
			c.Write(frame(0x3, []byte("?")))
			br.ReadByte()
		}, ErrBadServerResponse, CloseProtocolError},
		{"invalid close code", "", func(c net.Conn, br *bufio.Reader) {
			c.Write(frame(0x8, closePayload(1004, "reserved")))
			br.ReadByte()
		}, ErrBadServerResponse, CloseProtocolError},
		{"close code 999", "", func(c net.Conn, br *bufio.Reader) {
			c.Write(frame(0x8, closePayload(999, "")))
			br.ReadByte()
		}, ErrBadServerResponse, CloseProtocolError},
		{"fragmented ping", "", func(c net.Conn, br *bufio.Reader) {
			c.Write([]byte{0x09, 0x01, 'x'})
			br.ReadByte()
		}, ErrBadServerResponse, CloseProtocolError},
		{"garbage", "", func(c net.Conn, br *bufio.Reader) {
			c.Write([]byte("\xf7\x7fgarbage garbage garbage"))
			br.ReadByte()
		}, ErrBadServerResponse, CloseProtocolError},
		{"invalid UTF-8", "", func(c net.Conn, br *bufio.Reader) {
			c.Write(frame(0x1, []byte{0xff, 0xfe}))
			br.ReadByte()
		}, ErrBadServerResponse, CloseInvalidFramePayloadData},
		{"masked frame", "", func(c net.Conn, br *bufio.Reader) {
			c.Write([]byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2})
			br.ReadByte()
		}, ErrBadServerResponse, CloseProtocolError},
		{"2^40 bytes announced", "", func(c net.Conn, br *bufio.Reader) {
			c.Write([]byte{0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0, 'x'})
			br.ReadByte()
		}, ErrDataLengthExceedsMaximum, CloseMessageTooBig},
		{"fragments announcing too much", "", func(c net.Conn, br *bufio.Reader) {
			c.Write([]byte{0x02, 126, 0x80, 0x00}) // 32 KiB, not final
			c.Write(make([]byte, 1<<15))
			for range 32 {
				c.Write([]byte{0x00, 126, 0x80, 0x00})
				c.Write(make([]byte, 1<<15))
			}
			c.Write([]byte{0x80, 127, 0, 0, 0, 0, 0, 0x10, 0, 0}) // 1 MiB more, never sent
			br.ReadByte()
		}, ErrDataLengthExceedsMaximum, CloseMessageTooBig},
		{"abrupt close", "", func(c net.Conn, br *bufio.Reader) {}, ErrNetworkConnectionLost, CloseAbnormalClosure},
		{"cut frame", "", func(c net.Conn, br *bufio.Reader) {
			c.Write([]byte{0x82, 0x7e, 0x10, 0x00, 'a', 'b'}) // 4096 bytes announced
		}, ErrNetworkConnectionLost, CloseAbnormalClosure},
		{"refused handshake", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno", nil, ErrBadServerResponse, CloseInvalid},
		{"bad accept", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n", nil, ErrBadServerResponse, CloseInvalid},
		{"garbage handshake", "SSH-2.0-OpenSSH\r\n\r\n", nil, ErrBadServerResponse, CloseInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := rawWSServer(t, tc.refuse, tc.script)
			task, rerr, err := wsFirstReceive(t, raw)
			if CodeOf(err) != tc.code {
				t.Errorf("completed with %v, want code %d", err, tc.code)
			}
			if CodeOf(rerr) != tc.code {
				t.Errorf("Receive: %v, want code %d", rerr, tc.code)
			}
			if task.CloseCode() != tc.closeCode {
				t.Errorf("CloseCode %v, want %v", task.CloseCode(), tc.closeCode)
			}
		})
	}
}

func TestWebSocketHandshakeTimeout(t *testing.T) {
	raw := rawWSServer(t, "hang", nil)
	cfg := wsConfig()
	cfg.TimeoutIntervalForRequest = 100 * time.Millisecond
	rec := newWSRecorder()
	s := newSession(t, cfg, rec)
	u, _ := url.Parse(raw)
	task := s.WebSocketTask(u, nil)
	task.Resume()
	if err := rec.wait(t); CodeOf(err) != ErrTimedOut {
		t.Errorf("completed with %v, want ErrTimedOut", err)
	}
	if task.CloseCode() != CloseInvalid {
		t.Errorf("CloseCode %v", task.CloseCode())
	}
}

func TestWebSocketCancelWhileReceiving(t *testing.T) {
	srv := echoServer(t, nil)
	rec := newWSRecorder()
	s := newSession(t, wsConfig(), rec)
	task := s.WebSocketTask(wsURL(t, srv.URL, "/echo"), nil)
	task.Resume()
	got := make(chan error, 1)
	go func() {
		_, err := task.Receive(context.Background())
		got <- err
	}()
	if err := task.SendPing(context.Background()); err != nil { // open
		t.Fatal(err)
	}
	task.Cancel()
	if err := <-got; CodeOf(err) != ErrCancelled {
		t.Errorf("Receive: %v, want ErrCancelled", err)
	}
	if err := rec.wait(t); CodeOf(err) != ErrCancelled {
		t.Errorf("completed with %v", err)
	}
	// A Receive whose own context ends leaves the connection alone.
	task2 := s.WebSocketTask(wsURL(t, srv.URL, "/echo"), nil)
	task2.Resume()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := task2.Receive(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Receive with a cancelled context: %v", err)
	}
	if err := task2.Send(context.Background(), TextMessage("still")); err != nil {
		t.Fatal(err)
	}
	if m, err := task2.Receive(context.Background()); err != nil || m.Text() != "still" {
		t.Errorf("Receive: %q %v", m.Data, err)
	}
	task2.Cancel()
}

func TestWebSocketCancelBeforeResume(t *testing.T) {
	s := newSession(t, wsConfig(), nil)
	task := s.WebSocketTask(&url.URL{Scheme: "ws", Host: "127.0.0.1:1"}, nil)
	task.Cancel()
	if _, err := task.Receive(context.Background()); CodeOf(err) != ErrCancelled {
		t.Errorf("Receive: %v", err)
	}
	if err := task.Send(context.Background(), TextMessage("x")); CodeOf(err) != ErrCancelled {
		t.Errorf("Send: %v", err)
	}
	if err := task.CancelWith(1005, nil); err != ErrInvalidCloseCode {
		t.Errorf("CancelWith(1005) = %v", err)
	}
	if err := task.CancelWith(CloseNormalClosure, make([]byte, 124)); err != ErrInvalidCloseCode {
		t.Errorf("CancelWith with a 124-byte reason = %v", err)
	}
}

func TestWebSocketManyMessagesInOrder(t *testing.T) {
	srv := echoServer(t, nil)
	s := newSession(t, wsConfig(), nil)
	task := s.WebSocketTask(wsURL(t, srv.URL, "/echo"), nil)
	task.Resume()
	defer task.Cancel()
	const n = 10000
	ctx := context.Background()
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			if err := task.Send(ctx, TextMessage(fmt.Sprint(i))); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := range n {
		m, err := task.Receive(ctx)
		if err != nil {
			t.Fatalf("Receive %d: %v", i, err)
		}
		if m.Text() != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Data)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestWebSocketConcurrentSenders(t *testing.T) {
	srv := echoServer(t, nil)
	s := newSession(t, wsConfig(), nil)
	task := s.WebSocketTask(wsURL(t, srv.URL, "/echo"), nil)
	task.Resume()
	defer task.Cancel()
	const senders, each = 8, 50
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				if err := task.Send(context.Background(), BinaryMessage([]byte(fmt.Sprintf("%d-%d", g, i)))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	next := make([]int, senders)
	for range senders * each {
		m, err := task.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var g, i int
		fmt.Sscanf(m.Text(), "%d-%d", &g, &i)
		if i != next[g] {
			t.Fatalf("sender %d: message %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	wg.Wait()
}

func TestWebSocketCompletionForms(t *testing.T) {
	srv := echoServer(t, nil)
	s := newSession(t, wsConfig(), nil)
	task := s.WebSocketTask(wsURL(t, srv.URL, "/echo"), nil)
	task.Resume()
	defer task.Cancel()
	done := make(chan string, 3)
	task.SendWithCompletion(TextMessage("one"), func(err error) { done <- fmt.Sprint("sent ", err) })
	if got := <-done; got != "sent <nil>" {
		t.Fatal(got)
	}
	task.ReceiveWithCompletion(func(m WebSocketMessage, err error) { done <- fmt.Sprint(m.Text(), " ", err) })
	if got := <-done; got != "one <nil>" {
		t.Fatal(got)
	}
	task.SendPingWithHandler(func(err error) { done <- fmt.Sprint("pong ", err) })
	if got := <-done; got != "pong <nil>" {
		t.Fatal(got)
	}
}

func TestWebSocketCookiesAndATS(t *testing.T) {
	seen := make(chan *http.Request, 1)
	srv := echoServer(t, seen)
	cfg := wsConfig()
	jar, err := cookiestore.New(cookiestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPCookieStorage = jar
	u := wsURL(t, srv.URL, "/echo")
	hu, _ := url.Parse(srv.URL)
	jar.SetCookies(hu, []*http.Cookie{{Name: "session", Value: "abc"}})
	s := newSession(t, cfg, nil)
	task := s.WebSocketTask(u, nil)
	task.Resume()
	if err := task.SendPing(context.Background()); err != nil {
		t.Fatal(err)
	}
	task.Cancel()
	if c, err := (<-seen).Cookie("session"); err != nil || c.Value != "abc" {
		t.Errorf("cookie on the handshake: %v %v", c, err)
	}

	strict := wsConfig()
	strict.TransportSecurity.DisallowsLocalNetworking = true
	rec := newWSRecorder()
	s = newSession(t, strict, rec)
	task = s.WebSocketTask(u, nil)
	task.Resume()
	if err := rec.wait(t); CodeOf(err) != ErrAppTransportSecurityRequiresSecureConnection {
		t.Errorf("ws:// under ATS: %v", err)
	}
	select {
	case r := <-seen:
		t.Errorf("the refused handshake reached the server: %v", r.URL)
	default:
	}
}

func TestWebSocketUnsupportedURL(t *testing.T) {
	rec := newWSRecorder()
	s := newSession(t, wsConfig(), rec)
	task := s.WebSocketTask(&url.URL{Scheme: "ftp", Host: "127.0.0.1", Path: "/"}, nil)
	task.Resume()
	if err := rec.wait(t); CodeOf(err) != ErrUnsupportedURL {
		t.Errorf("ftp URL: %v", err)
	}
}

// trustAll answers ServerTrust challenges by trusting the server.
type trustAll struct{ *wsRecorder }

func (trustAll) DidReceiveChallenge(_ *Session, c *Challenge) (AuthChallengeDisposition, *Credential) {
	if c.ServerTrust != nil {
		return UseCredential, NewTrustCredential(c.ServerTrust)
	}
	return PerformDefaultHandling, nil
}

func TestWebSocketSecure(t *testing.T) {
	var h http.HandlerFunc = func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, data, err := c.Read(r.Context())
		if err == nil {
			c.Write(r.Context(), typ, append([]byte(r.Proto+" "), data...))
		}
		c.Close(websocket.StatusNormalClosure, "")
	}
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	u := wsURL(t, srv.URL, "/")

	// Untrusted without a delegate; trusted through the ServerTrust
	// challenge; trusted through the configuration.
	rec := newWSRecorder()
	s := newSession(t, wsConfig(), rec)
	task := s.WebSocketTask(u, nil)
	task.Resume()
	if err := rec.wait(t); CodeOf(err) != ErrServerCertificateUntrusted && CodeOf(err) != ErrServerCertificateHasUnknownRoot {
		t.Errorf("untrusted wss: %v", err)
	}

	cfgTrusted := wsConfig()
	cfgTrusted.TLSClientConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	for name, set := range map[string]struct {
		cfg *Configuration
		d   func(*wsRecorder) any
	}{
		"challenge":     {wsConfig(), func(r *wsRecorder) any { return trustAll{r} }},
		"configuration": {cfgTrusted, func(r *wsRecorder) any { return r }},
	} {
		t.Run(name, func(t *testing.T) {
			rec := newWSRecorder()
			s := newSession(t, set.cfg, set.d(rec))
			task := s.WebSocketTask(u, nil)
			task.Resume()
			if err := task.Send(context.Background(), TextMessage("hi")); err != nil {
				t.Fatal(err)
			}
			m, err := task.Receive(context.Background())
			if err != nil || m.Text() != "HTTP/1.1 hi" {
				t.Errorf("Receive: %q %v", m.Data, err)
			}
			if err := rec.wait(t); err != nil {
				t.Errorf("completed with %v", err)
			}
			if task.CloseCode() != CloseNormalClosure {
				t.Errorf("CloseCode %v", task.CloseCode())
			}
		})
	}
}

func TestWebSocketRequestForm(t *testing.T) {
	seen := make(chan *http.Request, 1)
	srv := echoServer(t, seen)
	s := newSession(t, wsConfig(), nil)
	req := get(t, wsURL(t, srv.URL, "/echo").String())
	req.Header.Set("Authorization", "Bearer token")
	req.Header.Set("Sec-WebSocket-Protocol", "nope, chat")
	task := s.WebSocketTaskWithRequest(req)
	task.Resume()
	if err := task.SendPing(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer task.Cancel()
	r := <-seen
	if r.Header.Get("Authorization") != "Bearer token" {
		t.Errorf("Authorization not sent: %v", r.Header)
	}
	if task.Protocol() != "chat" {
		t.Errorf("Protocol %q", task.Protocol())
	}
}

// TestWebSocketTimeoutsOnceOpen: the idle timeout bounds the handshake
// only; an open WebSocket stays open while idle, until the resource
// timeout.
func TestWebSocketTimeoutsOnceOpen(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			c.Write(context.Background(), typ, data)
		}
	})
	inBubble(t, h, func(t *testing.T, cfg *Configuration) {
		cfg.TimeoutIntervalForRequest = 5 * time.Second
		cfg.TimeoutIntervalForResource = 3 * time.Minute
		rec := newWSRecorder()
		s := newSession(t, cfg, rec)
		task := s.WebSocketTask(&url.URL{Scheme: "ws", Host: "ws.test", Path: "/"}, nil)
		start := time.Now()
		task.Resume()
		if err := task.SendPing(context.Background()); err != nil {
			t.Errorf("SendPing: %v", err)
			return
		}
		time.Sleep(time.Minute) // idle far past the idle timeout
		if err := task.Send(context.Background(), TextMessage("still here")); err != nil {
			t.Errorf("Send after a minute idle: %v", err)
			return
		}
		if m, err := task.Receive(context.Background()); err != nil || m.Text() != "still here" {
			t.Errorf("Receive: %q %v", m.Data, err)
			return
		}
		<-task.Done()
		err := task.Err()
		if CodeOf(err) != ErrTimedOut || time.Since(start) != 3*time.Minute {
			t.Errorf("completed with %v after %v, want ErrTimedOut after the 3m resource timeout", err, time.Since(start))
		}
	})
}

func TestWebSocketFragmentsPingsAndCloses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script func(c net.Conn, br *bufio.Reader)
		want   []string // messages received
		close  string   // DidCloseWith
		code   CloseCode
	}{
		{"fragments with a ping between", func(c net.Conn, br *bufio.Reader) {
			c.Write([]byte{0x01, 3, 'a', 'b', 'c'})     // text, not final
			c.Write(frame(0x9, []byte("p")))            // ping in the middle
			c.Write([]byte{0x00, 3, 'd', 'e', 'f'})     // continuation
			c.Write([]byte{0x80, 3, 'g', 'h', 'i'})     // final continuation
			c.Write(frame(0x2, []byte{1, 2}))           // binary
			c.Write(frame(0x8, closePayload(1001, ""))) // going away
			br.ReadByte()
		}, []string{"text abcdefghi", "binary \x01\x02"}, "close 1001 ", CloseGoingAway},
		{"close without a status", func(c net.Conn, br *bufio.Reader) {
			c.Write(frame(0x8, nil))
			br.ReadByte()
		}, nil, "close 1005 ", CloseNoStatusReceived},
		{"private close code", func(c net.Conn, br *bufio.Reader) {
			c.Write(frame(0x1, []byte("last")))
			c.Write(frame(0x8, closePayload(4999, "private")))
			br.ReadByte()
		}, []string{"text last"}, "close 4999 private", 4999},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := rawWSServer(t, "", tc.script)
			rec := newWSRecorder()
			s := newSession(t, wsConfig(), rec)
			u, _ := url.Parse(raw)
			task := s.WebSocketTask(u, nil)
			task.Resume()
			var got []string
			for {
				m, err := task.Receive(context.Background())
				if err != nil {
					break
				}
				got = append(got, m.Type.String()+" "+string(m.Data))
			}
			if err := rec.wait(t); err != nil {
				t.Errorf("completed with %v", err)
			}
			if !sameEvents(got, tc.want) {
				t.Errorf("received %q, want %q", got, tc.want)
			}
			want := []string{"create", "open ", tc.close, "metrics 1", "complete"}
			if ev := rec.Events(); !sameEvents(ev, want) {
				t.Errorf("events %q, want %q", ev, want)
			}
			if task.CloseCode() != tc.code {
				t.Errorf("CloseCode %v, want %v", task.CloseCode(), tc.code)
			}
		})
	}
}

// TestWebSocketBroadcast: several tasks of one session on a server that
// sends every message to every client; each sees all of them in order.
func TestWebSocketBroadcast(t *testing.T) {
	var mu sync.Mutex
	var conns []*websocket.Conn
	joined := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		joined <- struct{}{}
		for {
			typ, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			mu.Lock()
			for _, o := range conns {
				o.Write(context.Background(), typ, data)
			}
			mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	s := newSession(t, wsConfig(), nil)
	const clients, each = 3, 50
	var tasks []*WebSocketTask
	for range clients {
		task := s.WebSocketTask(wsURL(t, srv.URL, "/"), nil)
		task.Resume()
		tasks = append(tasks, task)
		<-joined
	}
	if n := len(s.Tasks().WebSocket); n != clients {
		t.Errorf("Tasks().WebSocket has %d tasks", n)
	}
	for i := range each {
		if err := tasks[i%clients].Send(context.Background(), TextMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		// Wait for this message everywhere before the next one, so that
		// all see one order.
		for _, task := range tasks {
			m, err := task.Receive(context.Background())
			if err != nil || m.Text() != fmt.Sprint(i) {
				t.Fatalf("task %d: %q %v, want %d", task.TaskIdentifier(), m.Data, err, i)
			}
		}
	}
	s.InvalidateAndCancel()
	<-s.Invalidated()
	for _, task := range tasks {
		if CodeOf(task.Err()) != ErrCancelled {
			t.Errorf("task %d after InvalidateAndCancel: %v", task.TaskIdentifier(), task.Err())
		}
	}
}

// basicAuth answers the Basic challenge of a WebSocket handshake and
// keeps the handshake's metrics.
type basicAuth struct {
	*wsRecorder
	mu      sync.Mutex
	asked   int
	metrics *TaskMetrics
}

func (b *basicAuth) TaskDidReceiveChallenge(_ *Session, _ *Task, c *Challenge) (AuthChallengeDisposition, *Credential) {
	b.mu.Lock()
	b.asked++
	b.mu.Unlock()
	return UseCredential, NewCredential("user", "secret", credstore.None)
}

func (b *basicAuth) DidFinishCollectingMetrics(s *Session, t *Task, m *TaskMetrics) {
	b.mu.Lock()
	b.metrics = m
	b.mu.Unlock()
	b.wsRecorder.DidFinishCollectingMetrics(s, t, m)
}

func TestWebSocketHandshakeAuthenticationAndMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "secret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="ws"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.Write(r.Context(), websocket.MessageText, []byte("welcome"))
		c.Close(websocket.StatusNormalClosure, "")
	}))
	t.Cleanup(srv.Close)
	d := &basicAuth{wsRecorder: newWSRecorder()}
	s := newSession(t, wsConfig(), d)
	task := s.WebSocketTask(wsURL(t, srv.URL, "/private"), nil)
	task.Resume()
	if m, err := task.Receive(context.Background()); err != nil || m.Text() != "welcome" {
		t.Fatalf("Receive: %q %v", m.Data, err)
	}
	if err := d.wait(t); err != nil {
		t.Fatalf("completed with %v", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.asked != 1 {
		t.Errorf("challenge asked %d times", d.asked)
	}
	if d.metrics == nil || len(d.metrics.Transactions) != 2 {
		t.Fatalf("metrics %+v, want the 401 and the upgrade", d.metrics)
	}
	last := d.metrics.Transactions[1]
	if last.Response == nil || last.Response.StatusCode != http.StatusSwitchingProtocols || last.NetworkProtocolName != "http/1.1" {
		t.Errorf("last transaction: %+v", last)
	}
	if r := task.Response(); r == nil || r.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("Response() = %v", r)
	}
}

// TestWebSocketConcurrentReceivers: each message goes to exactly one of
// several concurrent Receive calls.
func TestWebSocketConcurrentReceivers(t *testing.T) {
	srv := echoServer(t, nil)
	s := newSession(t, wsConfig(), nil)
	task := s.WebSocketTask(wsURL(t, srv.URL, "/echo"), nil)
	task.Resume()
	defer task.Cancel()
	const n = 200
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				mu.Lock()
				total := 0
				for _, c := range seen {
					total += c
				}
				mu.Unlock()
				if total >= n {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				m, err := task.Receive(ctx)
				cancel()
				if err != nil {
					continue // a timeout: look at the count again
				}
				mu.Lock()
				seen[m.Text()]++
				mu.Unlock()
			}
		})
	}
	for i := range n {
		if err := task.Send(context.Background(), TextMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d distinct messages received, want %d", len(seen), n)
	}
	for m, c := range seen {
		if c != 1 {
			t.Errorf("message %s received %d times", m, c)
		}
	}
}

func TestWebSocketNilURLAndRequest(t *testing.T) {
	s := newSession(t, wsConfig(), nil)
	for _, task := range []*WebSocketTask{s.WebSocketTask(nil, nil), s.WebSocketTaskWithRequest(nil)} {
		task.Resume()
		wait(t, task)
		if CodeOf(task.Err()) != ErrUnsupportedURL {
			t.Errorf("completed with %v, want ErrUnsupportedURL", task.Err())
		}
		if err := task.Send(context.Background(), WebSocketMessage{Type: 7}); err == nil {
			t.Error("Send of a message of type 7 succeeded")
		}
	}
}

// Completion-form calls made back to back are served in call order: the
// messages go out in order, come back in order to the receives in the
// order they were made, and the handlers run in that order.
func TestWebSocketCompletionFormsKeepCallOrder(t *testing.T) {
	srv := echoServer(t, nil)
	s := newSession(t, wsConfig(), nil)
	task := s.WebSocketTask(wsURL(t, srv.URL, "/echo"), nil)
	task.Resume()
	defer task.Cancel()
	const n = 200
	sent := make(chan int, n)
	got := make(chan string, n)
	for i := range n {
		task.SendWithCompletion(TextMessage(strconv.Itoa(i)), func(err error) {
			if err != nil {
				t.Error(err)
			}
			sent <- i
		})
	}
	for i := range n {
		task.ReceiveWithCompletion(func(m WebSocketMessage, err error) {
			if err != nil {
				t.Error(err)
			}
			got <- fmt.Sprint(i, "=", m.Text())
		})
	}
	for i := range n {
		if k := <-sent; k != i {
			t.Fatalf("send handler %d ran in place %d", k, i)
		}
	}
	for i := range n {
		if g, want := <-got, fmt.Sprint(i, "=", i); g != want {
			t.Fatalf("receive %d: got %q, want %q", i, g, want)
		}
	}
}

// wsFirstReceive resumes a WebSocket task on raw with a new session,
// makes one Receive and waits for the task to complete: the task,
// Receive's error and the completion's.
func wsFirstReceive(t *testing.T, raw string) (task *WebSocketTask, receiveErr, completeErr error) {
	t.Helper()
	rec := newWSRecorder()
	s := newSession(t, wsConfig(), rec)
	u, _ := url.Parse(raw)
	task = s.WebSocketTask(u, nil)
	task.Resume()
	_, receiveErr = task.Receive(context.Background())
	return task, receiveErr, rec.wait(t)
}
