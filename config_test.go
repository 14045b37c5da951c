package urlsession

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// metricsOf runs req on s and returns the task's metrics.
func metricsOf(t *testing.T, s *Session, rec *recorder, req *http.Request) *TaskMetrics {
	t.Helper()
	task := s.DataTask(req)
	task.Resume()
	wait(t, task)
	if task.Err() != nil {
		t.Fatal(task.Err())
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.metrics
}

func TestMetricsAndFlush(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		rec := newRecorder()
		s := newSession(t, srv.config(), rec)
		m := metricsOf(t, s, rec, get(t, srv.URL+"/Nepal"))
		tx := m.Transactions[0]
		if tx.ReusedConnection || tx.ConnectStart.IsZero() || tx.ConnectEnd.Before(tx.ConnectStart) ||
			tx.RequestStart.IsZero() || tx.ResponseStart.IsZero() || tx.ResponseEnd.Before(tx.ResponseStart) {
			t.Errorf("first transaction timings: %+v", tx)
		}
		if srv.proto == "h2" && (tx.SecureConnectionStart.IsZero() || tx.NegotiatedTLSProtocolVersion == 0) {
			t.Errorf("no TLS facts for an https transaction: %+v", tx)
		}
		if tx.RemoteAddr == nil || tx.RemoteAddr.String() != srv.Listener.Addr().String() {
			t.Errorf("remote address %v, want %v", tx.RemoteAddr, srv.Listener.Addr())
		}
		if tx.ResponseBodyBytesReceived != 9 || tx.ResponseBodyBytesAfterDecoding != 9 ||
			tx.RequestHeaderBytesSent == 0 || tx.ResponseHeaderBytesReceived == 0 {
			t.Errorf("byte counts: %+v", tx)
		}
		if tx.ResourceFetchType != FetchTypeNetworkLoad || m.TaskDuration <= 0 {
			t.Errorf("fetch type %v duration %v", tx.ResourceFetchType, m.TaskDuration)
		}
		if !metricsOf(t, s, rec, get(t, srv.URL+"/Nepal")).Transactions[0].ReusedConnection {
			t.Error("the second request did not reuse the connection")
		}
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if metricsOf(t, s, rec, get(t, srv.URL+"/Nepal")).Transactions[0].ReusedConnection {
			t.Error("a request after Flush reused a connection")
		}
		if err := s.Reset(context.Background()); err != nil {
			t.Fatal(err)
		}
		if metricsOf(t, s, rec, get(t, srv.URL+"/Nepal")).Transactions[0].ReusedConnection {
			t.Error("a request after Reset reused a connection")
		}
	})
}

func TestMaximumConnectionsPerHost(t *testing.T) {
	var open, peak atomic.Int32
	release := make(chan struct{})
	entered := make(chan struct{}, 6)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			n := open.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	cfg := baseConfiguration()
	cfg.Proxy = NoProxy
	cfg.HTTPMaximumConnectionsPerHost = 2
	s := newSession(t, cfg, nil)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := s.Data(context.Background(), get(t, srv.URL)); err != nil {
				t.Error(err)
			}
		}()
	}
	<-entered
	<-entered // both connections are busy; the other four requests wait
	select {
	case <-entered:
		t.Error("a third request reached the server while two were in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Errorf("peak connections = %d, want 2", p)
	}
}

func TestTLSVersionLimits(t *testing.T) {
	srv := httptest.NewUnstartedServer(capitals)
	srv.TLS = &tls.Config{MaxVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()
	sv := &server{srv, "h2"}

	cfg := sv.config()
	cfg.TLSMinimumSupportedProtocolVersion = tls.VersionTLS13
	_, _, err := newSession(t, cfg, nil).Data(context.Background(), get(t, srv.URL+"/Peru"))
	if !errors.Is(err, ErrSecureConnectionFailed) {
		t.Errorf("TLS 1.3 minimum against a TLS 1.2 server: %v, want secure connection failed", err)
	}

	cfg = sv.config()
	cfg.TLSMaximumSupportedProtocolVersion = tls.VersionTLS12
	rec := newRecorder()
	m := metricsOf(t, newSession(t, cfg, rec), rec, get(t, srv.URL+"/Peru"))
	if v := m.Transactions[0].NegotiatedTLSProtocolVersion; v != tls.VersionTLS12 {
		t.Errorf("negotiated %#x, want TLS 1.2", v)
	}

	// An untrusted server certificate.
	_, _, err = newSession(t, nil, nil).Data(context.Background(), get(t, srv.URL+"/Peru"))
	if !errors.Is(err, ErrServerCertificateUntrusted) {
		t.Errorf("untrusted certificate: %v", err)
	}

	bad := baseConfiguration()
	bad.TLSMinimumSupportedProtocolVersion, bad.TLSMaximumSupportedProtocolVersion = tls.VersionTLS13, tls.VersionTLS12
	if _, err := New(bad, nil); err == nil {
		t.Error("New accepted a TLS minimum above the maximum")
	}
}

func TestDisableHTTP2(t *testing.T) {
	srv := httptest.NewUnstartedServer(capitals)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	cfg := (&server{srv, "h2"}).config()
	cfg.DisableHTTP2 = true
	rec := newRecorder()
	m := metricsOf(t, newSession(t, cfg, rec), rec, get(t, srv.URL+"/Peru"))
	if p := m.Transactions[0].NetworkProtocolName; p != "http/1.1" {
		t.Errorf("protocol %q with HTTP/2 disabled", p)
	}
}

func TestMetricsKeepHeadersAsReceived(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		rec := newRecorder()
		s := newSession(t, srv.config(), rec)
		task := s.DataTask(get(t, srv.URL+"/gzipped-response"))
		task.Resume()
		wait(t, task)
		if rec.Body() != "Hello World!" || task.Response().Header.Get("Content-Encoding") != "" || !task.Response().Uncompressed {
			t.Fatalf("decoded response: %q %v", rec.Body(), task.Response().Header)
		}
		tx := rec.metrics.Transactions[0]
		if tx.Response.Header.Get("Content-Encoding") != "gzip" || tx.Response.Uncompressed {
			t.Errorf("metrics response headers %v, want them as received", tx.Response.Header)
		}
		if tx.ResponseBodyBytesAfterDecoding != 12 || tx.ResponseBodyBytesReceived == 12 {
			t.Errorf("byte counts received %d decoded %d", tx.ResponseBodyBytesReceived, tx.ResponseBodyBytesAfterDecoding)
		}
	})
}
