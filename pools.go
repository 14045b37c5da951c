package urlsession

import (
	"net/http"
	"runtime"
	"sync"
	"weak"

	"github.com/urlsession-go/urlsession/internal/h2"
)

// h2Pools holds the HTTP/2 pool of each transport that has one, for
// retire (the transport's own CloseIdleConnections reaches the pool). It
// does not keep a transport alive: its entry goes with the transport.
var h2Pools sync.Map // weak.Pointer[http.Transport] → *h2.Pool

// installH2 makes tr carry its HTTP/2 connections with the session's own
// HTTP/2 client (internal/h2) instead of net/http's. A transport cloned
// from one that had a pool gets a pool of its own.
func installH2(tr *http.Transport) {
	p := h2.Install(tr, h2.Config{
		IdleTimeout:           tr.IdleConnTimeout,
		MaxHeaderListSize:     uint32(tr.MaxResponseHeaderBytes),
		ExpectContinueTimeout: tr.ExpectContinueTimeout,
	})
	key := weak.Make(tr)
	h2Pools.Store(key, p)
	runtime.AddCleanup(tr, func(k weak.Pointer[http.Transport]) { h2Pools.Delete(k) }, key)
}

// retire closes tr's idle connections and each of the others once it is
// idle; tr takes no more requests.
func retire(tr *http.Transport) {
	tr.CloseIdleConnections()
	if p, ok := h2Pools.LoadAndDelete(weak.Make(tr)); ok {
		p.(*h2.Pool).Close()
	}
}
