package urlsession

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/proxy/proxytest"
)

// wsChallenges is a WebSocket task delegate that also answers challenges.
type wsChallenges struct {
	*wsRecorder
	*challengeLog
}

// wsEchoOnce sends msg, expects it back, and closes the task normally.
func wsEchoOnce(t *testing.T, task *WebSocketTask, rec *wsRecorder, msg string) {
	t.Helper()
	if err := task.Send(t.Context(), TextMessage(msg)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	m, err := task.Receive(t.Context())
	if err != nil || m.Text() != msg {
		t.Fatalf("Receive: %q %v", m.Data, err)
	}
	task.CancelWith(CloseNormalClosure, nil)
	if err := rec.wait(t); err != nil && CodeOf(err) != ErrCancelled {
		t.Errorf("completed with %v", err)
	}
}

// namedWS is srv's URL as ws or wss with the host "example.com", which
// only the test proxies resolve (to loopback).
func namedWS(t testing.TB, srvURL, path string) *url.URL {
	u := wsURL(t, srvURL, path)
	u.Host = "example.com:" + u.Port()
	return u
}

func TestProxyWebSocketThroughHTTPProxy(t *testing.T) {
	t.Parallel()
	seen := make(chan *http.Request, 4)
	srv := echoServer(t, seen)
	hp := proxytest.NewHTTPProxy(t)
	hp.User, hp.Password, hp.Scheme = "puser", "ppass", "Basic"
	pc, err := ProxyURL(hp.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg := streamProxied(pc)
	cfg.TransportSecurity.AllowsArbitraryLoads = true
	log := &challengeLog{answer: func(c *Challenge) (AuthChallengeDisposition, *Credential) {
		return UseCredential, NewCredential("puser", "ppass", credstore.ForSession)
	}}
	rec := newWSRecorder()
	s := newSession(t, cfg, wsChallenges{rec, log})
	u := namedWS(t, srv.URL, "/")
	task := s.WebSocketTask(u, []string{"chat"})
	task.Resume()
	wsEchoOnce(t, task, rec, "through a tunnel")

	// ws is tunnelled with CONNECT, as browsers do, and the proxy's 407
	// went through the challenge flow.
	var lines []string
	var answers []int
	for _, r := range hp.Requests() {
		lines = append(lines, r.Line)
		answers = append(answers, r.Answer)
	}
	want := "CONNECT " + u.Host
	if !slices.Equal(lines, []string{want, want}) || !slices.Equal(answers, []int{407, 200}) {
		t.Errorf("proxy saw %q answered %v; want two %q, 407 then 200", lines, answers, want)
	}
	ch := log.challenges()
	if len(ch) != 1 || ch[0].ProtectionSpace.Host != "127.0.0.1" || ch[0].ProtectionSpace.Port != hp.Port() ||
		ch[0].ProtectionSpace.ProxyType != credstore.ProxyHTTP {
		t.Errorf("challenges %+v", ch)
	}
	r := <-seen
	if v := r.Header.Get("Proxy-Authorization"); v != "" {
		t.Errorf("the origin received Proxy-Authorization %q", v)
	}
	if r.Host != u.Host {
		t.Errorf("the origin saw Host %q, want %q", r.Host, u.Host)
	}

	// Unanswered, the 407 fails the handshake, as any other status
	// than 101 does.
	rec = newWSRecorder()
	s = newSession(t, cfg, rec)
	task = s.WebSocketTask(u, nil)
	task.Resume()
	if err := rec.wait(t); CodeOf(err) != ErrBadServerResponse {
		t.Errorf("unanswered 407: %v, want code %d", err, ErrBadServerResponse)
	} else if strings.Contains(err.Error(), "ppass") {
		t.Errorf("the error shows the password: %v", err)
	}
	if r := task.Response(); r == nil || r.StatusCode != http.StatusProxyAuthRequired {
		t.Errorf("Response() = %v, want the 407", r)
	}
}

func TestProxyWebSocketSecureThroughTunnel(t *testing.T) {
	t.Parallel()
	seen := make(chan *http.Request, 4)
	srv := echoServer(t, seen) // plain, made TLS below
	tlsSrv := httptest.NewTLSServer(srv.Config.Handler)
	t.Cleanup(tlsSrv.Close)
	for _, kind := range []string{"http", "socks5h"} {
		t.Run(kind, func(t *testing.T) {
			var pc *ProxyConfiguration
			var check func() []string
			if kind == "http" {
				hp := proxytest.NewHTTPProxy(t)
				pc, _ = ProxyURL("http://puser:ppass@" + hp.Addr)
				hp.User, hp.Password, hp.Scheme = "puser", "ppass", "Basic"
				check = func() []string {
					var out []string
					for _, r := range hp.Requests() {
						out = append(out, fmt.Sprintf("%s %d", r.Line, r.Answer))
					}
					return out
				}
			} else {
				sp := proxytest.NewSOCKS(t)
				sp.User, sp.Password = "suser", "spass"
				pc = &ProxyConfiguration{SOCKSProxy: mustParse(t, "socks5h://suser:spass@"+sp.Addr)}
				check = sp.Targets
			}
			cfg := streamProxied(pc)
			cfg.TLSClientConfig = &tls.Config{RootCAs: tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
			rec := newWSRecorder()
			s := newSession(t, cfg, rec)
			u := namedWS(t, tlsSrv.URL, "/")
			task := s.WebSocketTask(u, nil)
			task.Resume()
			wsEchoOnce(t, task, rec, "over TLS end to end")
			got := check()
			want := map[string]string{"http": "CONNECT " + u.Host + " 200", "socks5h": "v5 name " + u.Host}[kind]
			if !slices.Equal(got, []string{want}) {
				t.Errorf("proxy saw %q, want %q", got, want)
			}
			if r := <-seen; r.Header.Get("Proxy-Authorization") != "" || r.TLS == nil {
				t.Errorf("origin request: TLS %v, Proxy-Authorization %q", r.TLS != nil, r.Header.Get("Proxy-Authorization"))
			}
		})
	}
}
