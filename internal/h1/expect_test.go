package h1

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/urlsession-go/urlsession/internal/netconn"
)

// A response body of known length tells a watched socket that the rest of
// it is on its way (netconn.Conn.Expect), and the body's end, or its
// closing, withdraws that.
func TestBodyExpected(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sockets batch wakes on Linux only")
	}
	body := payload(1_000_000, 7)
	srv := newScriptServer(t, serveOK(string(body)))
	defer srv.Close()
	var sock atomic.Pointer[netconn.Conn]
	d := &net.Dialer{}
	c, _ := newClient(t, Config{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		w, ok := netconn.Watch(nc).(*netconn.Conn)
		if !ok {
			nc.Close()
			t.Error("the TCP connection is not watched")
			return nil, net.ErrClosed
		}
		sock.Store(w)
		return w, nil
	}})
	for _, whole := range []bool{true, false} {
		resp, err := c.Get(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		nc := sock.Load()
		// All of the body but what came with the header.
		if n := nc.Expected(); n > int64(len(body)) || n < int64(len(body))-64<<10 {
			t.Errorf("%d bytes expected of a %d-byte body", n, len(body))
		}
		if whole {
			got, err := io.ReadAll(resp.Body)
			if err != nil || string(got) != string(body) {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
		} else {
			if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		if n := nc.Expected(); n != 0 {
			t.Errorf("%d bytes still expected after the body (read whole: %v)", n, whole)
		}
		resp.Body.Close()
	}
}
