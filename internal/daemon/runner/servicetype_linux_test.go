package runner

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
	"golang.org/x/sys/unix"
)

// A job's service type marks the connections of the session that runs
// it, through the runner's own dialer (which sizes receive buffers) as
// through the session's; an unknown one fails the job.
func TestJobServiceType(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close() // the test looks at the dialled socket only
		}
	}()
	for _, rb := range []int{0, 96 << 10} {
		r := newRunner(t, func(o *Options) { o.ReceiveBuffer = rb })
		for _, c := range []struct {
			typ  urlsession.NetworkServiceType
			want int
		}{
			{urlsession.NetworkServiceDefault, 0},
			{urlsession.NetworkServiceBackground, 10 << 2},
			{urlsession.NetworkServiceResponsiveData, 18 << 2},
		} {
			s, err := r.session(api.Job{ServiceType: int(c.typ)})
			if err != nil {
				t.Fatal(err)
			}
			if (s == r.s) != (c.typ == urlsession.NetworkServiceDefault) {
				t.Errorf("receive buffer %d, %s: the runner's own session %t", rb, c.typ, s == r.s)
			}
			cfg := s.Configuration()
			if cfg.NetworkServiceType != c.typ {
				t.Errorf("receive buffer %d: the session for %s has %s", rb, c.typ, cfg.NetworkServiceType)
			}
			if cfg.DialContext == nil {
				continue // the session's own dialer, which marks as the session's tests check
			}
			conn, err := cfg.DialContext(context.Background(), "tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := conn.(*net.TCPConn).SyscallConn()
			var tos int
			raw.Control(func(fd uintptr) { tos, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS) })
			conn.Close()
			if tos != c.want {
				t.Errorf("receive buffer %d, %s: the runner's connection has TOS %#x, want %#x", rb, c.typ, tos, c.want)
			}
		}
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) }))
	defer srv.Close()
	r := newRunner(t, nil)
	bad := downloadJob(t, srv.URL+"/f")
	bad.ServiceType = 5
	res := r.Run(context.Background(), bad, func(server.Progress) {})
	if res.Err == nil || !strings.Contains(res.Err.Error(), "NetworkServiceType 5") {
		t.Errorf("a job with service type 5: %+v, want it refused", res)
	}
	good := downloadJob(t, srv.URL+"/f")
	good.ServiceType = int(urlsession.NetworkServiceBackground)
	if res := r.Run(context.Background(), good, func(server.Progress) {}); res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("a background job: %+v", res)
	}
	checkFile(t, good.File, []byte("x"))
}
