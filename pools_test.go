package urlsession

import (
	"net/http"
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
