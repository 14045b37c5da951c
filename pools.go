package urlsession

import (
	"net/http"
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/urlsession-go/urlsession/internal/h1"
	"github.com/urlsession-go/urlsession/internal/h2"
)

// clientPools is a transport's own HTTP clients: h1 carries its direct
// plain http requests, h2 its HTTP/2 connections. Either may be nil.
type clientPools struct {
	h1 *h1.Pool
	h2 *h2.Pool
}

// transportPools holds the pools of each transport that has some, for
// retire (net/http's CloseIdleConnections reaches the HTTP/2 pool, not the
// HTTP/1.1 one). It does not keep a transport alive: its entry goes with
// the transport.
var transportPools sync.Map // weak.Pointer[http.Transport] → clientPools

// installPools makes tr carry its direct plain http requests with the
// session's own HTTP/1.1 client (internal/h1) and, with http2, its HTTP/2
// connections with the session's own HTTP/2 client (internal/h2), instead
// of net/http's. Requests through a proxy stay with net/http's HTTP/1.1
// client. An HTTP/2 connection whose socket takes nothing for
// writeTimeout (the session's request timeout) is closed, rather than
// leave its requests waiting to write. Call it once tr's dialler is set; a
// transport cloned from one that had pools gets pools of its own.
func installPools(tr *http.Transport, http2 bool, writeTimeout time.Duration) {
	var ps clientPools
	ps.h1 = h1.Install(tr, direct)
	if http2 {
		ps.h2 = h2.Install(tr, h2.Config{
			IdleTimeout:           tr.IdleConnTimeout,
			MaxHeaderListSize:     uint32(tr.MaxResponseHeaderBytes),
			ExpectContinueTimeout: tr.ExpectContinueTimeout,
			WriteTimeout:          writeTimeout,
		})
	}
	key := weak.Make(tr)
	transportPools.Store(key, ps)
	runtime.AddCleanup(tr, func(k weak.Pointer[http.Transport]) { transportPools.Delete(k) }, key)
}

// direct reports whether req goes straight to its origin, with no proxy
// route chosen for it.
func direct(req *http.Request) bool { return routeFrom(req.Context()) == nil }

// retire closes tr's idle connections and each of the others once it is
// idle; tr takes no more requests.
func retire(tr *http.Transport) {
	tr.CloseIdleConnections()
	if v, ok := transportPools.LoadAndDelete(weak.Make(tr)); ok {
		ps := v.(clientPools)
		if ps.h1 != nil {
			ps.h1.Close()
		}
		if ps.h2 != nil {
			ps.h2.Close()
		}
	}
}
