package urlsession

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/urlsession-go/urlsession/hsts"
)

// hstsServers are an https and an http server that both answer for
// example.com (the name in httptest's certificate), with a configuration
// whose connections to example.com reach them: port 443 the https one,
// port 80 the http one.
type hstsServers struct {
	secure, plain *httptest.Server
}

func newHSTSServers(t *testing.T) *hstsServers {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("sts"); v != "" {
			w.Header().Set("Strict-Transport-Security", v)
		}
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		io.WriteString(w, scheme+" "+r.Host)
	})
	s := &hstsServers{secure: httptest.NewTLSServer(h), plain: httptest.NewServer(h)}
	t.Cleanup(s.secure.Close)
	t.Cleanup(s.plain.Close)
	return s
}

func (s *hstsServers) config(store *hsts.Store) *Configuration {
	cfg := EphemeralConfiguration()
	cfg.Proxy = NoProxy
	cfg.HSTSStorage = store
	cfg.TLSClientConfig = s.secure.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		switch addr {
		case "example.com:443":
			addr = s.secure.Listener.Addr().String()
		case "example.com:80":
			addr = s.plain.Listener.Addr().String()
		default:
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.ErrNotExist}
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	return cfg
}

func loadText(t *testing.T, s *Session, url string) (string, error) {
	t.Helper()
	body, _, err := s.Data(context.Background(), get(t, url))
	return string(body), err
}

// A host that sent Strict-Transport-Security over https is reached over
// https from then on, for http URLs and redirects alike, before App
// Transport Security looks at the request; max-age=0 ends it.
func TestHSTSUpgrades(t *testing.T) {
	srv := newHSTSServers(t)
	store := hsts.New()
	cfg := srv.config(store)
	cfg.TransportSecurity.AllowsArbitraryLoads = true
	s := newSession(t, cfg, nil)
	if got, err := loadText(t, s, "http://example.com/"); err != nil || got != "http example.com" {
		t.Fatalf("before: %q %v", got, err)
	}
	// Over plain http the field means nothing.
	if _, err := loadText(t, s, "http://example.com/?sts=max-age%3D3600"); err != nil || store.Known("example.com", time.Now()) {
		t.Fatalf("a field over http was recorded (%v)", err)
	}
	if _, err := loadText(t, s, "https://example.com/?sts=max-age%3D3600%3B%20includeSubDomains"); err != nil || !store.Known("example.com", time.Now()) {
		t.Fatalf("the field over https was not recorded (%v)", err)
	}
	for _, u := range []string{
		"http://example.com/",
		"http://example.com:80/",
		"https://example.com/?to=http%3A%2F%2Fexample.com%2Fafter", // a redirect to http
	} {
		if got, err := loadText(t, s, u); err != nil || got != "https example.com" {
			t.Errorf("%s: %q %v, want it over https", u, got, err)
		}
	}
	// App Transport Security, which refuses http to a public host, sees
	// the upgraded request.
	ats := srv.config(store)
	if got, err := loadText(t, newSession(t, ats, nil), "http://example.com/"); err != nil || got != "https example.com" {
		t.Errorf("under ATS: %q %v", got, err)
	}
	ats.HSTSStorage = nil
	if _, err := loadText(t, newSession(t, ats, nil), "http://example.com/"); CodeOf(err) != ErrAppTransportSecurityRequiresSecureConnection {
		t.Errorf("under ATS without HSTS: %v, want -1022", err)
	}
	if _, err := loadText(t, s, "https://example.com/?sts=max-age%3D0"); err != nil || store.Known("example.com", time.Now()) {
		t.Errorf("max-age=0 did not forget the host (%v)", err)
	}
	if got, err := loadText(t, s, "http://example.com/"); err != nil || got != "http example.com" {
		t.Errorf("after max-age=0: %q %v", got, err)
	}
}

// A certificate the system did not verify (accepted by InsecureSkipVerify
// or a ServerTrust delegate) does not make a host an HSTS host.
func TestHSTSNeedsVerifiedCertificate(t *testing.T) {
	srv := newHSTSServers(t)
	store := hsts.New()
	cfg := srv.config(store)
	cfg.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	if _, err := loadText(t, newSession(t, cfg, nil), "https://example.com/?sts=max-age%3D3600"); err != nil {
		t.Fatal(err)
	}
	trusting := srv.config(store)
	if _, err := loadText(t, newSession(t, trusting, &trustLog{}), "https://example.com/?sts=max-age%3D3600"); err != nil {
		t.Fatal(err)
	}
	if store.Known("example.com", time.Now()) {
		t.Error("an unverified connection's field was recorded")
	}
}

// What a session records is on disk once its invalidation is delivered.
func TestHSTSDurable(t *testing.T) {
	srv := newHSTSServers(t)
	path := filepath.Join(t.TempDir(), "HSTS.txt")
	store, err := hsts.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(srv.config(store), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loadText(t, s, "https://example.com/?sts=max-age%3D3600"); err != nil {
		t.Fatal(err)
	}
	s.FinishTasksAndInvalidate()
	<-s.Invalidated()
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), "\nexample.com \"") {
		t.Errorf("the file after invalidation: %q %v", data, err)
	}
}

// A WebSocket task to a known HSTS host goes over wss: its handshake is an
// http request, upgraded as any.
func TestHSTSUpgradesWebSocket(t *testing.T) {
	var secure atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure.Store(r.TLS != nil)
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, data, err := c.Read(r.Context())
		if err == nil {
			c.Write(r.Context(), typ, data)
		}
	})
	srv := &hstsServers{secure: httptest.NewTLSServer(h), plain: httptest.NewServer(h)}
	t.Cleanup(srv.secure.Close)
	t.Cleanup(srv.plain.Close)
	store := hsts.New()
	store.Add(hsts.Entry{Host: "example.com", Expires: time.Now().Add(time.Hour)})
	s := newSession(t, srv.config(store), nil)
	u, _ := url.Parse("ws://example.com/")
	task := s.WebSocketTask(u, nil)
	task.Resume()
	defer task.CancelWith(CloseNormalClosure, nil)
	if err := task.Send(context.Background(), TextMessage("x")); err != nil {
		t.Fatal(err)
	}
	if m, err := task.Receive(context.Background()); err != nil || string(m.Data) != "x" {
		t.Fatalf("echo: %+v %v", m, err)
	}
	if !secure.Load() {
		t.Error("the WebSocket went over ws, not wss")
	}
}
