package urlsession

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// udpDials records the calls of a DialUDPContext that sends every
// connection to 127.0.0.1:port, and the closing of the sockets it made.
type udpDials struct {
	port int

	mu     sync.Mutex
	calls  []string // network + " " + addr
	noDead bool     // a call's context had no deadline
	closed chan struct{}
}

// closeNote is a socket that tells when it is closed.
type closeNote struct {
	*net.UDPConn
	once   sync.Once
	closed chan struct{}
}

func (c *closeNote) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.UDPConn.Close()
}

func (d *udpDials) dial(ctx context.Context, network, addr string) (net.PacketConn, net.Addr, error) {
	d.mu.Lock()
	d.calls = append(d.calls, network+" "+addr)
	if _, ok := ctx.Deadline(); !ok {
		d.noDead = true
	}
	d.mu.Unlock()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, err
	}
	return &closeNote{UDPConn: pc, closed: d.closed}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: d.port}, nil
}

// TestHTTP3DialUDPContext: DialUDPContext decides where a QUIC connection
// goes, also beside a DialContext of the configuration's own, and the
// connection closes the socket it got.
func TestHTTP3DialUDPContext(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), true)
	srv.setAltSvc("")
	port := strconv.Itoa(srv.tcp.Listener.Addr().(*net.TCPAddr).Port)
	var tcpDials []string
	var mu sync.Mutex
	cfg := srv.config()
	cfg.HTTP3Only = true
	cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		tcpDials = append(tcpDials, addr)
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.tcp.Listener.Addr().String())
	}
	d := &udpDials{port: srv.udpPort(), closed: make(chan struct{})}
	cfg.DialUDPContext = d.dial
	s, hk := newH3Session(t, cfg, nil, time.Minute, 20*time.Second)

	// example.com is in httptest's certificate and resolves nowhere here:
	// only DialUDPContext can take the request to the server.
	url := "https://example.com:" + port + "/"
	for i := range 2 {
		body, _, p, err := fetch(t, s, get(t, url))
		if err != nil || body != "hello over HTTP/3.0" || len(p) != 1 || p[0] != "h3" {
			t.Fatalf("request %d: %q %v %v, want h3", i, body, p, err)
		}
	}
	d.mu.Lock()
	calls, noDead := d.calls, d.noDead
	d.mu.Unlock()
	if want := "udp example.com:" + port; len(calls) != 1 || calls[0] != want {
		t.Errorf("DialUDPContext calls %q, want one: %q", calls, want)
	}
	if noDead {
		t.Error("DialUDPContext's context has no deadline")
	}
	if hk.count() != 1 {
		t.Errorf("%d QUIC dials, want 1", hk.count())
	}
	mu.Lock()
	if len(tcpDials) != 0 {
		t.Errorf("TCP dials %q with HTTP3Only", tcpDials)
	}
	mu.Unlock()

	s.InvalidateAndCancel()
	select {
	case <-d.closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the socket from DialUDPContext was not closed with the session")
	}
}

// TestHTTP3DialUDPContextFails: an error from DialUDPContext is the
// request's with HTTP3Only; otherwise the request goes over TCP.
func TestHTTP3DialUDPContextFails(t *testing.T) {
	srv := newH3Server(t, http.HandlerFunc(hello), true)
	srv.setAltSvc("")
	notFound := func(ctx context.Context, network, addr string) (net.PacketConn, net.Addr, error) {
		return nil, nil, &net.DNSError{Err: "no such host", Name: "nowhere", IsNotFound: true}
	}
	noSocket := func(ctx context.Context, network, addr string) (net.PacketConn, net.Addr, error) {
		return nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil
	}

	cfg := srv.config()
	cfg.HTTP3Only = true
	cfg.DialUDPContext = notFound
	s, _ := newH3Session(t, cfg, nil, time.Minute, 20*time.Second)
	if _, _, _, err := fetch(t, s, get(t, srv.tcp.URL)); CodeOf(err) != ErrCannotFindHost {
		t.Errorf("HTTP3Only, host not found: got %v, want ErrCannotFindHost", err)
	}
	cfg.DialUDPContext = noSocket
	s, _ = newH3Session(t, cfg, nil, time.Minute, 20*time.Second)
	if _, _, _, err := fetch(t, s, get(t, srv.tcp.URL)); CodeOf(err) != ErrCannotConnectToHost {
		t.Errorf("HTTP3Only, no socket: got %v, want ErrCannotConnectToHost", err)
	}

	cfg = srv.config()
	cfg.DialUDPContext = notFound
	s, hk := newH3Session(t, cfg, nil, time.Minute, 20*time.Second)
	req := WithOptions(get(t, srv.tcp.URL), RequestOptions{AssumesHTTP3Capable: true})
	body, _, p, err := fetch(t, s, req)
	if err != nil || body != "hello over HTTP/2.0" || p[0] != "h2" {
		t.Fatalf("fallback: %q %v %v, want h2", body, p, err)
	}
	var dnsErr *net.DNSError
	if err := hk.waitDialed(t); !errors.As(err, &dnsErr) {
		t.Errorf("the dial ended with %v, want the DNS error", err)
	}
}

// TestHTTP3ConnectTimeout: ConnectTimeout bounds the wait for a QUIC
// server that never answers, and a DialUDPContext that never returns.
func TestHTTP3ConnectTimeout(t *testing.T) {
	hole := blackhole(t)
	cfg := baseConfiguration()
	cfg.Proxy = NoProxy
	cfg.HTTP3Only = true
	cfg.ConnectTimeout = 200 * time.Millisecond
	// The handshake's own bound (half of 40 s without a packet) is far
	// beyond the time allowed below.
	s, _ := newH3Session(t, cfg, nil, time.Minute, 40*time.Second)
	start := time.Now()
	_, _, _, err := fetch(t, s, get(t, "https://127.0.0.1:"+strconv.Itoa(hole)+"/"))
	if CodeOf(err) != ErrTimedOut {
		t.Fatalf("black hole: got %v, want ErrTimedOut", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("black hole: failed after %v, want about ConnectTimeout", d)
	}

	cfg.DialUDPContext = func(ctx context.Context, network, addr string) (net.PacketConn, net.Addr, error) {
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}
	s, _ = newH3Session(t, cfg, nil, time.Minute, 40*time.Second)
	start = time.Now()
	_, _, _, err = fetch(t, s, get(t, "https://127.0.0.1:"+strconv.Itoa(hole)+"/"))
	if CodeOf(err) != ErrTimedOut {
		t.Fatalf("hanging DialUDPContext: got %v, want ErrTimedOut", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("hanging DialUDPContext: failed after %v", d)
	}
}

// TestConnectTimeoutTCP: ConnectTimeout bounds each DialContext call, of
// http and of ftp requests.
func TestConnectTimeoutTCP(t *testing.T) {
	for _, url := range []string{"http://127.0.0.1:1/", "ftp://127.0.0.1:1/f"} {
		synctest.Test(t, func(t *testing.T) {
			var dials atomic.Int32
			cfg := baseConfiguration()
			cfg.Proxy = NoProxy
			cfg.ConnectTimeout = 3 * time.Second
			cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				<-ctx.Done()
				return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
			}
			s := newSession(t, cfg, nil)
			start := time.Now()
			task := s.DataTask(get(t, url))
			task.Resume()
			<-task.Done()
			err, took := task.Err(), time.Since(start)
			if CodeOf(err) != ErrTimedOut || took != 3*time.Second {
				t.Errorf("%s: got %v after %v, want ErrTimedOut after 3s", url, err, took)
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("%s: %d dials, want 1", url, n)
			}
		})
	}

	bad := baseConfiguration()
	bad.ConnectTimeout = -time.Second
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepts a negative ConnectTimeout")
	}
}

// TestDialUDP: DialUDP resolves the host, prefers
// IPv4, and returns an unconnected socket of that family.
func TestDialUDP(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:4433", "localhost:4433"} {
		pc, raddr, err := DialUDP(context.Background(), "udp", addr)
		if err != nil {
			t.Fatalf("DialUDP(%q): %v", addr, err)
		}
		local := pc.LocalAddr().(*net.UDPAddr)
		pc.Close()
		u, ok := raddr.(*net.UDPAddr)
		if !ok || u.Port != 4433 || (addr == "127.0.0.1:4433" && !u.IP.Equal(net.IPv4(127, 0, 0, 1))) {
			t.Fatalf("DialUDP(%q) = %v", addr, raddr)
		}
		if (u.IP.To4() != nil) != (local.IP.To4() != nil) {
			t.Errorf("DialUDP(%q): address %v, local socket %v: not of one family", addr, u, local)
		}
	}
	if _, _, err := DialUDP(context.Background(), "udp", "no-port"); err == nil {
		t.Error("dialUDP without a port did not fail")
	}
}
