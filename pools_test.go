package urlsession

import (
	"net/http"
	"runtime"
	"testing"
	"time"
	"weak"
)

// A transport's HTTP/2 pool is forgotten with the transport: a session
// dropped without being invalidated leaves nothing behind in h2Pools.
func TestH2PoolsForgetTransport(t *testing.T) {
	tr := &http.Transport{DisableCompression: true}
	installH2(tr)
	key := weak.Make(tr)
	if _, ok := h2Pools.Load(key); !ok {
		t.Fatal("no pool recorded")
	}
	tr = nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		if _, ok := h2Pools.Load(key); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the pool outlived its transport")
		}
		runtime.Gosched()
	}
}

// retire closes the transport's pool and forgets it.
func TestRetireClosesPool(t *testing.T) {
	tr := &http.Transport{DisableCompression: true}
	installH2(tr)
	retire(tr)
	if _, ok := h2Pools.Load(weak.Make(tr)); ok {
		t.Error("pool still recorded after retire")
	}
}
