//go:build linux

package urlsession

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestNetworkServiceTypeValues(t *testing.T) {
	for _, c := range []struct {
		t    NetworkServiceType
		name string
		dscp int
	}{
		{NetworkServiceDefault, "default", 0},
		{NetworkServiceVoIP, "voip", 46},
		{NetworkServiceVideo, "video", 34},
		{NetworkServiceBackground, "background", 10},
		{NetworkServiceVoice, "voice", 46},
		{NetworkServiceResponsiveData, "responsiveData", 18},
		{NetworkServiceAVStreaming, "avStreaming", 26},
		{NetworkServiceResponsiveAV, "responsiveAV", 32},
		{NetworkServiceCallSignaling, "callSignaling", 24},
	} {
		if c.t.String() != c.name || c.t.DSCP() != c.dscp || !c.t.valid() {
			t.Errorf("%d: %q DSCP %d valid %t, want %q %d", int32(c.t), c.t, c.t.DSCP(), c.t.valid(), c.name, c.dscp)
		}
		cfg := DefaultConfiguration()
		cfg.NetworkServiceType = c.t
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	for _, bad := range []NetworkServiceType{-1, 5, 7, 10, 12, 100} {
		if bad.valid() || bad.DSCP() != 0 || bad.String() == "" {
			t.Errorf("%d: valid %t DSCP %d %q", int32(bad), bad.valid(), bad.DSCP(), bad)
		}
		cfg := DefaultConfiguration()
		cfg.NetworkServiceType = bad
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate accepted NetworkServiceType %d", int32(bad))
		}
	}
}

// socketTOS returns the IPv4 TOS byte or IPv6 traffic class of c's
// socket, under c's TLS if any.
func socketTOS(t *testing.T, c net.Conn) int {
	t.Helper()
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		t.Fatalf("connection %T has no socket", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	v6 := c.LocalAddr().(*net.TCPAddr).IP.To4() == nil
	var tos int
	var gerr error
	raw.Control(func(fd uintptr) {
		if v6 {
			tos, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_TCLASS)
		} else {
			tos, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS)
		}
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	return tos
}

// connTrace records the connection each request of ctx is given.
type connTrace struct {
	mu    sync.Mutex
	conns []httptrace.GotConnInfo
}

func (c *connTrace) ctx() context.Context {
	return httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		c.mu.Lock()
		c.conns = append(c.conns, i)
		c.mu.Unlock()
	}})
}

func (c *connTrace) last(t *testing.T) httptrace.GotConnInfo {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.conns) == 0 {
		t.Fatal("no connection traced")
	}
	return c.conns[len(c.conns)-1]
}

// The configuration's service type marks the session's connections, and
// a request's own type gets connections of its own, marked with it and
// shared only with requests of that type: over HTTP/1.1 and HTTP/2, IPv4
// and IPv6.
func TestNetworkServiceTypeMarksConnections(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		for _, h2 := range []bool{false, true} {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
			if err != nil {
				t.Logf("%s: %v; skipped", host, err)
				continue
			}
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(r.Proto))
			}))
			srv.Listener.Close()
			srv.Listener = ln
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			defer srv.Close()
			cfg := EphemeralConfiguration()
			cfg.Proxy = NoProxy
			cfg.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
			cfg.NetworkServiceType = NetworkServiceVideo
			s := newSession(t, cfg, nil)
			var tr connTrace
			ctx := tr.ctx()
			load := func(opts *RequestOptions) httptrace.GotConnInfo {
				t.Helper()
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				if err != nil {
					t.Fatal(err)
				}
				if opts != nil {
					req = WithOptions(req, *opts)
				}
				body, _, err := s.Data(ctx, req)
				if err != nil || (string(body) == "HTTP/2.0") != h2 {
					t.Fatalf("%s h2 %t: %v %q", host, h2, err, body)
				}
				return tr.last(t)
			}
			video := load(nil)
			if got := socketTOS(t, video.Conn); got != 34<<2 {
				t.Errorf("%s h2 %t: the configuration's video connection has TOS %#x, want %#x", host, h2, got, 34<<2)
			}
			bg := load(&RequestOptions{NetworkServiceType: NetworkServiceBackground})
			if bg.Conn == video.Conn {
				t.Errorf("%s h2 %t: a background request shared the video connection", host, h2)
			}
			if got := socketTOS(t, bg.Conn); got != 10<<2 {
				t.Errorf("%s h2 %t: background connection TOS %#x, want %#x", host, h2, got, 10<<2)
			}
			// The same types reuse their own connections; a request that
			// names the configuration's type is one of the session's.
			if again := load(&RequestOptions{NetworkServiceType: NetworkServiceBackground}); again.Conn != bg.Conn || !again.Reused {
				t.Errorf("%s h2 %t: a second background request did not reuse the background connection", host, h2)
			}
			for _, opts := range []*RequestOptions{nil, {NetworkServiceType: NetworkServiceVideo}, {CachePolicy: ReloadIgnoringLocalCacheData}} {
				if c := load(opts); c.Conn != video.Conn || !c.Reused {
					t.Errorf("%s h2 %t: request with %+v did not reuse the video connection", host, h2, opts)
				}
			}
			// Reset forgets the connections of every type.
			if err := s.Reset(context.Background()); err != nil {
				t.Fatal(err)
			}
			if c := load(&RequestOptions{NetworkServiceType: NetworkServiceBackground}); c.Conn == bg.Conn || c.Reused || socketTOS(t, c.Conn) != 10<<2 {
				t.Errorf("%s h2 %t: after Reset, a background request got connection reused %t, TOS %#x", host, h2, c.Reused, socketTOS(t, c.Conn))
			}
		}
	}
}

// Without a type, the session leaves its sockets unmarked.
func TestNetworkServiceTypeDefaultUnmarked(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	cfg := EphemeralConfiguration()
	cfg.Proxy = NoProxy
	s := newSession(t, cfg, nil)
	var tr connTrace
	ctx := tr.ctx()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if _, _, err := s.Data(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := socketTOS(t, tr.last(t).Conn); got != 0 {
		t.Errorf("default service type: TOS %#x, want 0", got)
	}
}

// A WebSocket task's request may name its own service type: its
// connection, opened by the handshake, is marked with it.
func TestNetworkServiceTypeWebSocket(t *testing.T) {
	srv := echoServer(t, nil)
	defer srv.Close()
	s := newSession(t, wsConfig(), nil)
	var tr connTrace
	req, err := http.NewRequestWithContext(tr.ctx(), http.MethodGet, wsURL(t, srv.URL, "/").String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	task := s.WebSocketTaskWithRequest(WithOptions(req, RequestOptions{NetworkServiceType: NetworkServiceVoice}))
	task.Resume()
	defer task.CancelWith(CloseNormalClosure, nil)
	if err := task.Send(context.Background(), TextMessage("x")); err != nil {
		t.Fatal(err)
	}
	if m, err := task.Receive(context.Background()); err != nil || string(m.Data) != "x" {
		t.Fatalf("echo: %+v %v", m, err)
	}
	if got := socketTOS(t, tr.last(t).Conn); got != 46<<2 {
		t.Errorf("WebSocket connection of a voice request: TOS %#x, want %#x", got, 46<<2)
	}
}
