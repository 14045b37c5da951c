package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// TestATS: as curl, the command loads cleartext http from any host; with
// --ats it refuses a public host name's before connecting, and still loads
// from an IP address.
func TestATS(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	s := httptest.NewUnstartedServer(urlsessiontest.Capitals())
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	resolve := "public.example:" + port + ":127.0.0.1"
	public := "http://public.example:" + port + "/Nepal"

	if r := cli(t, "", "--resolve", resolve, public).want(t, 0); r.stdout != "Kathmandu" {
		t.Errorf("without --ats: %v", r)
	}
	before := conns.Load()
	r := cli(t, "", "--ats", "--resolve", resolve, public).want(t, 1)
	if !strings.Contains(r.stderr, "(-1022)") {
		t.Errorf("--ats: %v, want error -1022", r)
	}
	if n := conns.Load() - before; n != 0 {
		t.Errorf("--ats made %d connections for a refused URL", n)
	}
	if r := cli(t, "", "--ats", s.URL+"/Nepal").want(t, 0); r.stdout != "Kathmandu" {
		t.Errorf("--ats to an IP address: %v", r)
	}
}
