package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsServer upper-cases each text message; after "quit" it closes with
// 1000 "bye". It records the close code the client sent, if any.
type wsServer struct {
	*httptest.Server
	mu        sync.Mutex
	got       []string
	closeCode websocket.StatusCode
	header    http.Header
	// ended is closed once a handler has recorded why its connection
	// ended: the server answers a close frame before its Read returns, so
	// the client may be gone before closeCode is set.
	ended     chan struct{}
	endedOnce sync.Once
}

func newWSServer(t *testing.T) *wsServer {
	s := &wsServer{closeCode: -1, ended: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/nows" {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		s.header = r.Header.Clone()
		s.mu.Unlock()
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"shout"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, data, err := c.Read(r.Context())
			if err != nil {
				s.mu.Lock()
				s.closeCode = websocket.CloseStatus(err)
				s.mu.Unlock()
				s.endedOnce.Do(func() { close(s.ended) })
				return
			}
			s.mu.Lock()
			s.got = append(s.got, string(data))
			s.mu.Unlock()
			if string(data) == "quit" {
				c.Close(websocket.StatusNormalClosure, "bye")
				return
			}
			c.Write(r.Context(), websocket.MessageText, bytes.ToUpper(data))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *wsServer) wsURL(path string) string { return "ws" + strings.TrimPrefix(s.URL, "http") + path }

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestWebSocketLines(t *testing.T) {
	t.Parallel()
	s := newWSServer(t)
	// Standard input stays open until the server has closed: every answer
	// arrives before the close.
	pr, pw := io.Pipe()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"-v", "--ws-protocol", "other, shout", "-H", "X-Test: 1", s.wsURL("/chat")}, pr, &out, &errOut)
	}()
	io.WriteString(pw, "hello\r\nworld\nquit\n")
	code := <-done
	pw.Close()
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, errOut.String())
	}
	if out.String() != "HELLO\nWORLD\n" {
		t.Errorf("stdout %q", out.String())
	}
	for _, want := range []string{"subprotocol shout", "closed by the server: 1000 normalClosure \"bye\""} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q: %s", want, errOut.String())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Join(s.got, ",") != "hello,world,quit" || s.header.Get("X-Test") != "1" {
		t.Errorf("server got %q, headers %v", s.got, s.header)
	}
}

func TestWebSocketEndOfInputCloses(t *testing.T) {
	t.Parallel()
	s := newWSServer(t)
	r := cli(t, "one\n", s.wsURL("/")).want(t, 0)
	if r.stdout != "" && r.stdout != "ONE\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	select {
	case <-s.ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the server never saw the connection end")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Join(s.got, ",") != "one" || s.closeCode != websocket.StatusNormalClosure {
		t.Errorf("server got %q, close code %d", s.got, s.closeCode)
	}
}

func TestWebSocketRefused(t *testing.T) {
	t.Parallel()
	s := newWSServer(t)
	r := cli(t, "", s.wsURL("/nows")).want(t, 8)
	if !strings.Contains(r.stderr, "(-1011)") {
		t.Errorf("stderr %q", r.stderr)
	}
	cli(t, "", "--ats", "ws://ws.example.invalid/").want(t, 1) // refused before any lookup
}

func TestWebSocketSecure(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.Write(r.Context(), websocket.MessageText, []byte("secure hello"))
		c.Close(websocket.StatusNormalClosure, "")
	}))
	t.Cleanup(srv.Close)
	u := "wss" + strings.TrimPrefix(srv.URL, "https") + "/"
	// Standard input stays open: the server closes first.
	pr, pw := io.Pipe()
	defer pw.Close()
	var out, errOut syncBuffer
	if code := run([]string{"-k", u}, pr, &out, &errOut); code != 0 || out.String() != "secure hello\n" {
		t.Errorf("-k: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	r := cli(t, "", u).want(t, 60) // the test certificate is not trusted
	if !strings.Contains(r.stderr, "(-120") {
		t.Errorf("stderr %q", r.stderr)
	}
}
