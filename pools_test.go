package urlsession

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
	"weak"
)

// A transport's pools are forgotten with the transport: a session
// dropped without being invalidated leaves nothing behind in transportPools.
func TestPoolsForgetTransport(t *testing.T) {
	tr := &http.Transport{DisableCompression: true}
	installPools(tr, true, 0)
	key := weak.Make(tr)
	if _, ok := transportPools.Load(key); !ok {
		t.Fatal("no pool recorded")
	}
	tr = nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		if _, ok := transportPools.Load(key); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the pool outlived its transport")
		}
		runtime.Gosched()
	}
}

// retire closes the transport's pools and forgets them.
func TestRetireClosesPool(t *testing.T) {
	tr := &http.Transport{DisableCompression: true}
	installPools(tr, true, 0)
	retire(tr)
	if _, ok := transportPools.Load(weak.Make(tr)); ok {
		t.Error("pool still recorded after retire")
	}
}

// A session's plain http requests, sent straight to the server, ride on
// the session's own HTTP/1.1 client: its pool holds the connection they
// leave idle, and closing the pool's idle connections closes it.
func TestPlainHTTPRunsOnOwnClient(t *testing.T) {
	closed := make(chan struct{}, 4)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()

	s := newSession(t, EphemeralConfiguration(), nil)
	body, _, err := s.Data(context.Background(), get(t, srv.URL))
	if err != nil || string(body) != "ok" {
		t.Fatalf("Data: %q, %v", body, err)
	}
	v, ok := transportPools.Load(weak.Make(s.transport.Load()))
	if !ok || v.(clientPools).h1 == nil {
		t.Fatal("the session's transport has no HTTP/1.1 pool")
	}
	v.(clientPools).h1.CloseIdleConnections()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the connection is not the HTTP/1.1 pool's: closing its idle connections left it open")
	}
}
