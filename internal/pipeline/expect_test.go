package pipeline

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/urlsession-go/urlsession/internal/netconn"
)

// An HTTPS response over HTTP/1.1 tells its watched socket that the rest
// of its body is on its way (netconn.Conn.Expect), less what net/http and
// crypto/tls may have read ahead, with metrics recorded or not; the body's
// end withdraws it.
func TestDispatchExpectsHTTPSBody(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sockets batch wakes on Linux only")
	}
	const size = 1 << 20
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i % 251)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(body)
	}))
	defer srv.Close()
	var sock atomic.Pointer[netconn.Conn]
	tr := &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			raw, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			w := netconn.Watch(raw)
			nc, ok := w.(*netconn.Conn)
			if !ok {
				raw.Close()
				t.Error("the TCP connection is not watched")
				return nil, net.ErrClosed
			}
			sock.Store(nc)
			tc := tls.Client(w, &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "example.com"})
			if err := tc.HandshakeContext(ctx); err != nil {
				tc.Close()
				return nil, err
			}
			return tc, nil
		},
	}
	defer tr.CloseIdleConnections()
	chain := Chain{&Dispatch{Transport: tr}}
	for _, metrics := range []bool{true, false} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		resp, err := chain.Do(context.Background(), &Call{Hooks: testHooks{}, Metrics: metrics}, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ProtoMajor != 1 {
			t.Fatalf("the response came over %s", resp.Proto)
		}
		nc := sock.Load()
		if n := nc.Expected(); n != size-expectSlack {
			t.Errorf("with metrics %v: %d bytes expected, want %d", metrics, n, size-expectSlack)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(got) != size {
			t.Fatalf("read %d bytes, %v", len(got), err)
		}
		if n := nc.Expected(); n != 0 {
			t.Errorf("with metrics %v: %d bytes still expected after the body", metrics, n)
		}
	}
}
