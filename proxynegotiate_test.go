package urlsession

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/auth/authtest"
	"github.com/urlsession-go/urlsession/internal/proxy/proxytest"
)

// proxyLines lists what hp received, with its answers.
func proxyLines(hp *proxytest.HTTPProxy) []string {
	var out []string
	for _, r := range hp.Requests() {
		scheme, _, _ := strings.Cut(r.ProxyAuthorization, " ")
		out = append(out, fmt.Sprintf("%s %s %d", r.Line, scheme, r.Answer))
	}
	return out
}

// TestProxyNegotiate: a proxy's 407 with Negotiate is answered with a
// Kerberos ticket for HTTP/<proxy host> from the credential cache, as a
// server's 401 is, for CONNECT tunnels, forwarded requests and stream
// tasks; later requests through the proxy carry a new token unasked.
func TestProxyNegotiate(t *testing.T) {
	k := authtest.NewKerberos(t, "127.0.0.1", "proxy secret")
	t.Setenv("KRB5CCNAME", "FILE:"+k.WriteCCache(t, k.TGT(t), k.Service(t, "127.0.0.1")))
	t.Setenv("KRB5_CONFIG", k.WriteConfig(t))
	bothProtocols(t, echoOrigin, func(t *testing.T, srv *server) {
		hp := proxytest.NewHTTPProxy(t)
		hp.Keytab = k.Keytab
		target := named(srv) + "/x"
		line := "CONNECT " + strings.TrimPrefix(named(srv), "https://")
		if strings.HasPrefix(target, "http:") {
			line = "GET " + target
		}

		t.Run("default handling", func(t *testing.T) {
			store, _ := credstore.New(credstore.Options{})
			cfg := proxied(t, srv, hp.URL())
			cfg.URLCredentialStorage = store
			s := newSession(t, cfg, nil)
			for i := range 2 {
				body, resp, err := s.Data(t.Context(), get(t, target))
				if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(string(body), `proxy-auth=""`) {
					t.Fatalf("request %d: %v %q %v", i, resp, body, err)
				}
			}
			// The second request carries a new token unasked: on a
			// forwarded request, or on a new tunnel (over HTTP/2 the
			// first tunnel usually carries both requests).
			got := proxyLines(hp)
			want := []string{line + "  407", line + " Negotiate 200", line + " Negotiate 200"}
			if srv.proto == "h2" && len(got) == 2 {
				want = want[:2]
			}
			if !slices.Equal(got, want) {
				t.Errorf("proxy saw %q, want %q", got, want)
			}
			space := credstore.ProtectionSpace{Host: "127.0.0.1", Port: hp.Port(), ProxyType: credstore.ProxyHTTP,
				AuthenticationMethod: credstore.AuthMethodNegotiate}
			if _, ok := store.DefaultCredential(space); ok {
				t.Errorf("a Kerberos ticket was stored as a credential")
			}
		})

		t.Run("session delegate asked first", func(t *testing.T) {
			d := &sessionOnly{}
			s := newSession(t, proxied(t, srv, hp.URL()), d)
			if _, _, err := s.Data(t.Context(), get(t, target)); CodeOf(err) != ErrCancelled || d.asked.Load() != 1 {
				t.Errorf("err %v after %d questions; want cancelled by the session delegate", err, d.asked.Load())
			}
		})
	})

	t.Run("stream task", func(t *testing.T) {
		port := tcpServer(t, echo)
		hp := proxytest.NewHTTPProxy(t)
		hp.Keytab = k.Keytab
		pc, err := ProxyURL(hp.URL())
		if err != nil {
			t.Fatal(err)
		}
		rec := newStreamRecorder()
		s := newSession(t, streamProxied(pc), rec)
		st := s.StreamTask("localhost", port)
		st.Resume()
		echoOnce(t, st, rec, "kerberised tunnel")
		line := fmt.Sprintf("CONNECT localhost:%d", port)
		if got, want := proxyLines(hp), []string{line + "  407", line + " Negotiate 200"}; !slices.Equal(got, want) {
			t.Errorf("proxy saw %q, want %q", got, want)
		}
	})

	t.Run("websocket", func(t *testing.T) {
		srv := echoServer(t, nil)
		hp := proxytest.NewHTTPProxy(t)
		hp.Keytab = k.Keytab
		pc, err := ProxyURL(hp.URL())
		if err != nil {
			t.Fatal(err)
		}
		cfg := streamProxied(pc)
		cfg.TransportSecurity.AllowsArbitraryLoads = true
		rec := newWSRecorder()
		s := newSession(t, cfg, rec)
		u := namedWS(t, srv.URL, "/")
		task := s.WebSocketTask(u, nil)
		task.Resume()
		wsEchoOnce(t, task, rec, "kerberised upgrade")
		line := "CONNECT " + u.Host
		if got, want := proxyLines(hp), []string{line + "  407", line + " Negotiate 200"}; !slices.Equal(got, want) {
			t.Errorf("proxy saw %q, want %q", got, want)
		}
	})

	t.Run("no credential cache", func(t *testing.T) {
		t.Setenv("KRB5CCNAME", "FILE:"+filepath.Join(t.TempDir(), "none"))
		srv := &server{newLoopbackServer(t, echoOrigin), "h1"}
		hp := proxytest.NewHTTPProxy(t)
		hp.Keytab = k.Keytab
		s := newSession(t, proxied(t, srv, hp.URL()), nil)
		_, resp, err := s.Data(t.Context(), get(t, named(srv)+"/x"))
		if err != nil || resp.StatusCode != http.StatusProxyAuthRequired {
			t.Errorf("got %v %v, want the 407", resp, err)
		}
	})
}
