//go:build linux

package urlsession

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/netclass/nmtest"
)

// The configuration's refusal of cellular and expensive networks, with
// NetworkManager (a stand-in on a private bus) calling loopback a modem,
// or metered.
func TestDisallowCellularAndExpensiveNetworks(t *testing.T) {
	nm := nmtest.Start(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	session := func(cellular, expensive, waits bool, d any) *Session {
		cfg := EphemeralConfiguration()
		cfg.Proxy = NoProxy
		cfg.DisallowCellularAccess = cellular
		cfg.DisallowExpensiveNetworkAccess = expensive
		cfg.WaitsForConnectivity = waits
		return newSession(t, cfg, d)
	}
	fetch := func(s *Session) error {
		_, _, err := s.Data(context.Background(), get(t, srv.URL))
		return err
	}
	for _, c := range []struct {
		name                string
		typ, metered        uint32
		cellular, expensive bool
		reason              NetworkUnavailableReason
		refused             bool
	}{
		{"modem, cellular refused", nmtest.DeviceModem, nmtest.MeteredNo, true, false, NetworkUnavailableCellular, true},
		{"modem, cellular allowed", nmtest.DeviceModem, nmtest.MeteredNo, false, true, 0, false},
		{"metered, expensive refused", nmtest.DeviceEthernet, nmtest.MeteredGuess, false, true, NetworkUnavailableExpensive, true},
		{"metered, expensive allowed", nmtest.DeviceEthernet, nmtest.MeteredYes, true, false, 0, false},
		{"ordinary network, both refused", nmtest.DeviceEthernet, nmtest.MeteredNo, true, true, 0, false},
	} {
		nm.Set(t, "lo", c.typ, c.metered)
		err := fetch(session(c.cellular, c.expensive, false, nil))
		if !c.refused {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != ErrNotConnectedToInternet || !errors.Is(err, syscall.ENETUNREACH) {
			t.Errorf("%s: %v, want ErrNotConnectedToInternet", c.name, err)
			continue
		}
		if r, ok := e.NetworkUnavailableReason(); !ok || r != c.reason {
			t.Errorf("%s: reason %d (%t), want %d", c.name, r, ok, c.reason)
		}
	}
	// The default configuration asks nothing and refuses nothing.
	nm.Set(t, "lo", nmtest.DeviceModem, nmtest.MeteredYes)
	if err := fetch(session(false, false, false, nil)); err != nil {
		t.Errorf("default configuration: %v", err)
	}
	// Another error has no reason.
	if r, ok := (&Error{Code: ErrNotConnectedToInternet}).NetworkUnavailableReason(); ok {
		t.Errorf("an error without a refusal reports reason %d", r)
	}

	// With WaitsForConnectivity the task waits until the network may be
	// used (NetworkManager's answer is kept 5 seconds).
	rec := newRecorder()
	s := session(true, false, true, rec)
	task := s.DataTask(get(t, srv.URL))
	task.Resume()
	deadline := time.Now().Add(time.Minute)
	for !slices.Contains(rec.Events(), "waiting") {
		if time.Now().After(deadline) {
			t.Fatalf("the task did not wait: %q", rec.Events())
		}
		time.Sleep(10 * time.Millisecond)
	}
	nm.Set(t, "lo", nmtest.DeviceEthernet, nmtest.MeteredYes)
	select {
	case <-task.Done():
	case <-time.After(time.Minute):
		t.Fatal("the task did not complete in a minute once the network could be used")
	}
	if err := task.Err(); err != nil || rec.Body() != "ok" {
		t.Errorf("after waiting: %v, body %q", err, rec.Body())
	}
}

// A request's own refusal (RequestOptions) checks the connection it is
// given, a pooled one too, over HTTP/1.1 and HTTP/2; the connection stays
// for requests that allow the network.
func TestRequestDisallowsNetwork(t *testing.T) {
	nm := nmtest.Start(t)
	nm.Set(t, "lo", nmtest.DeviceModem, nmtest.MeteredYes)
	for _, h2 := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(r.Proto))
		}))
		srv.EnableHTTP2 = h2
		srv.StartTLS()
		defer srv.Close()
		cfg := EphemeralConfiguration()
		cfg.Proxy = NoProxy
		cfg.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		s := newSession(t, cfg, nil)
		ctx := context.Background()
		// A request that allows everything opens the connection.
		body, _, err := s.Data(ctx, get(t, srv.URL))
		if err != nil || (string(body) == "HTTP/2.0") != h2 {
			t.Fatalf("h2 %t: %v %q", h2, err, body)
		}
		for _, c := range []struct {
			opts   RequestOptions
			reason NetworkUnavailableReason
		}{
			{RequestOptions{DisallowCellularAccess: true}, NetworkUnavailableCellular},
			{RequestOptions{DisallowExpensiveNetworkAccess: true}, NetworkUnavailableExpensive},
		} {
			_, _, err := s.Data(ctx, WithOptions(get(t, srv.URL), c.opts))
			var e *Error
			if !errors.As(err, &e) || e.Code != ErrNotConnectedToInternet {
				t.Errorf("h2 %t, %+v: %v, want ErrNotConnectedToInternet", h2, c.opts, err)
				continue
			}
			if r, ok := e.NetworkUnavailableReason(); !ok || r != c.reason {
				t.Errorf("h2 %t, %+v: reason %d (%t), want %d", h2, c.opts, r, ok, c.reason)
			}
		}
		// The connection served on.
		if _, _, err := s.Data(ctx, get(t, srv.URL)); err != nil {
			t.Errorf("h2 %t: a request after the refusals: %v", h2, err)
		}
	}
	// An ordinary network: the refusing request loads.
	nm.Set(t, "lo", nmtest.DeviceEthernet, nmtest.MeteredNo)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	cfg := EphemeralConfiguration()
	cfg.Proxy = NoProxy
	s := newSession(t, cfg, nil)
	if _, _, err := s.Data(context.Background(), WithOptions(get(t, srv.URL), RequestOptions{DisallowCellularAccess: true, DisallowExpensiveNetworkAccess: true})); err != nil {
		t.Errorf("refusing request over an ordinary network: %v", err)
	}
}
