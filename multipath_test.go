//go:build linux

package urlsession

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
)

// mptcpServer serves 200 on a Multipath TCP listener on loopback and
// records, per request, whether its connection is Multipath TCP.
func mptcpServer(t *testing.T) (url string, seen func() []bool) {
	t.Helper()
	if b, err := os.ReadFile("/proc/sys/net/mptcp/enabled"); err != nil || strings.TrimSpace(string(b)) != "1" {
		t.Skip("the kernel does not offer Multipath TCP (net.mptcp.enabled)")
	}
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	type mptcpKey struct{}
	var mu sync.Mutex
	var got []bool
	srv := &http.Server{
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			on, _ := c.(*net.TCPConn).MultipathTCP()
			return context.WithValue(ctx, mptcpKey{}, on)
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got = append(got, r.Context().Value(mptcpKey{}).(bool))
			mu.Unlock()
		}),
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/", func() []bool {
		mu.Lock()
		defer mu.Unlock()
		return append([]bool(nil), got...)
	}
}

// MultipathServiceType opens the session's connections as Multipath TCP;
// MultipathNone as plain TCP.
func TestMultipathServiceType(t *testing.T) {
	url, seen := mptcpServer(t)
	for _, c := range []struct {
		kind MultipathServiceType
		want bool
	}{{MultipathNone, false}, {MultipathHandover, true}, {MultipathInteractive, true}, {MultipathAggregate, true}} {
		cfg := EphemeralConfiguration()
		cfg.Proxy = NoProxy
		cfg.MultipathServiceType = c.kind
		s := newSession(t, cfg, nil)
		if _, resp, err := s.Data(context.Background(), get(t, url)); err != nil || resp.StatusCode != 200 {
			t.Fatalf("type %d: %v", c.kind, err)
		}
		got := seen()
		if on := got[len(got)-1]; on != c.want {
			t.Errorf("type %d: the server saw Multipath TCP %t, want %t", c.kind, on, c.want)
		}
	}
	bad := EphemeralConfiguration()
	bad.MultipathServiceType = 4
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepted MultipathServiceType 4")
	}
}
