//go:build linux

package runner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
	"github.com/urlsession-go/urlsession/internal/netclass/nmtest"
)

// A job that refuses cellular networks fails its run with -1009, a
// transient failure the daemon retries, while NetworkManager calls the
// way out a modem; the same job without the refusal, and the refusing job
// once the network is ordinary, download.
func TestJobRefusesCellular(t *testing.T) {
	nm := nmtest.Start(t)
	nm.Set(t, "lo", nmtest.DeviceModem, nmtest.MeteredNo)
	body := []byte(strings.Repeat("cellular ", 1000))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	r := newRunner(t, nil)

	refusing := downloadJob(t, srv.URL+"/f")
	refusing.DisallowCellular = true
	res := r.Run(context.Background(), refusing, func(server.Progress) {})
	te, ok := res.Err.(*server.TransferError)
	if !ok || te.Code != int(urlsession.ErrNotConnectedToInternet) || te.Permanent {
		t.Fatalf("refusing job over a modem: %+v, want a transient -1009", res)
	}

	plain := downloadJob(t, srv.URL+"/f")
	if res := r.Run(context.Background(), plain, func(server.Progress) {}); res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("job without the refusal: %+v", res)
	}
	checkFile(t, plain.File, body)

	r2 := newRunner(t, nil) // a fresh answer from NetworkManager
	nm.Set(t, "lo", nmtest.DeviceEthernet, nmtest.MeteredNo)
	if res := r2.Run(context.Background(), refusing, func(server.Progress) {}); res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("refusing job over an ordinary network: %+v", res)
	}
	checkFile(t, refusing.File, body)
}
