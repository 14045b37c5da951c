package urlsession

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/proxy/proxytest"
)

// streamChallenges is a stream task delegate that also answers
// challenges.
type streamChallenges struct {
	*streamRecorder
	*challengeLog
}

// streamProxied returns a configuration whose proxies are pc.
func streamProxied(pc *ProxyConfiguration) *Configuration {
	cfg := wsConfig()
	cfg.Proxy = nil
	cfg.ProxyConfiguration = pc
	return cfg
}

// echoOnce writes msg, half-closes, reads the echo to its end and ends the
// task.
func echoOnce(t *testing.T, st *StreamTask, rec *streamRecorder, msg string) {
	t.Helper()
	if _, err := st.Write(t.Context(), []byte(msg)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	st.CloseWrite()
	if got := readAll(t, st); got != msg {
		t.Errorf("echo %q, want %q", got, msg)
	}
	st.CloseRead()
	if err := rec.wait(t); err != nil {
		t.Errorf("completed with %v", err)
	}
}

func TestProxyStreamTaskConnectWithChallenge(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		scheme, user, realm, method string
		first, again                []int // the proxy's answers
	}{
		{"Basic", "puser", "proxytest", credstore.AuthMethodHTTPBasic, []int{407, 200}, []int{200}},
		{"Digest", "puser", "proxytest", credstore.AuthMethodHTTPDigest, []int{407, 200}, []int{200}},
		{"NTLM", `CORP\alice`, "", credstore.AuthMethodNTLM, []int{407, 407, 200}, []int{407, 200}},
	} {
		t.Run(c.scheme, func(t *testing.T) {
			t.Parallel()
			port := tcpServer(t, echo)
			hp := proxytest.NewHTTPProxy(t)
			hp.User, hp.Password, hp.Scheme = c.user, "ppass", c.scheme
			pc, err := ProxyURL(hp.URL())
			if err != nil {
				t.Fatal(err)
			}
			store, _ := credstore.New(credstore.Options{})
			cfg := streamProxied(pc)
			cfg.URLCredentialStorage = store
			log := &challengeLog{answer: func(*Challenge) (AuthChallengeDisposition, *Credential) {
				return UseCredential, NewCredential(c.user, "ppass", credstore.ForSession)
			}}
			rec := newStreamRecorder()
			s := newSession(t, cfg, streamChallenges{rec, log})
			// "localhost" resolves only through the proxy here: the proxy
			// maps every name to loopback.
			st := s.StreamTask("localhost", port)
			st.Resume()
			echoOnce(t, st, rec, "through the tunnel")

			ch := log.challenges()
			if len(ch) != 1 {
				t.Fatalf("%d challenges, want 1", len(ch))
			}
			ps := ch[0].ProtectionSpace
			if ps.Host != "127.0.0.1" || ps.Port != hp.Port() || ps.ProxyType != credstore.ProxyHTTP || ps.Realm != c.realm ||
				ps.AuthenticationMethod != c.method || ch[0].PreviousFailureCount != 0 ||
				ch[0].FailureResponse == nil || ch[0].FailureResponse.StatusCode != 407 {
				t.Errorf("challenge %+v", ch[0])
			}
			target := fmt.Sprintf("CONNECT localhost:%d", port)
			answers := func() []int {
				var out []int
				for _, r := range hp.Requests() {
					if r.Line != target {
						t.Errorf("proxy saw %q", r.Line)
					}
					out = append(out, r.Answer)
				}
				return out
			}
			if got := answers(); !slices.Equal(got, c.first) {
				t.Errorf("proxy answered %v, want %v", got, c.first)
			}
			if cred, ok := store.DefaultCredential(ps); !ok || cred.User != c.user {
				t.Errorf("the credential was not stored for the proxy space")
			}

			// The session sends the accepted credential unasked on its
			// next tunnel.
			rec = newStreamRecorder()
			st = s.StreamTask("localhost", port)
			st.SetDelegate(rec)
			st.Resume()
			echoOnce(t, st, rec, "again")
			if len(log.challenges()) != 1 {
				t.Errorf("asked again for the second tunnel")
			}
			if got, want := answers(), append(slices.Clone(c.first), c.again...); !slices.Equal(got, want) {
				t.Errorf("proxy answered %v, want %v", got, want)
			}
		})
	}
}

func TestProxyStreamTaskConnectRefusals(t *testing.T) {
	t.Parallel()
	hp := proxytest.NewHTTPProxy(t)
	hp.User, hp.Password, hp.Scheme = "puser", "ppass", "Basic"
	closed := proxytest.Refusing(t)
	_, closedPort, _ := net.SplitHostPort(closed)
	port := tcpServer(t, echo)
	for _, c := range []struct {
		name   string
		proxy  string
		answer func(*Challenge) (AuthChallengeDisposition, *Credential)
		port   string
		code   Code
	}{
		{"no credential", hp.URL(), nil, fmt.Sprint(port), ErrUserAuthenticationRequired},
		{"wrong credential", hp.URL(), func(c *Challenge) (AuthChallengeDisposition, *Credential) {
			return UseCredential, NewCredential("puser", "wrong", credstore.None)
		}, fmt.Sprint(port), ErrUserAuthenticationRequired},
		{"cancelled", hp.URL(), func(c *Challenge) (AuthChallengeDisposition, *Credential) {
			return CancelAuthenticationChallenge, nil
		}, fmt.Sprint(port), ErrCancelled},
		{"origin refuses", "http://puser:ppass@" + hp.Addr, nil, closedPort, ErrCannotConnectToHost},
		{"proxy refuses", "http://" + closed, nil, fmt.Sprint(port), ErrCannotConnectToHost},
		{"garbage", "http://" + proxytest.Garbage(t, "SSH-2.0-OpenSSH\r\n\r\n"), nil, fmt.Sprint(port), ErrBadServerResponse},
	} {
		t.Run(c.name, func(t *testing.T) {
			pc, err := ProxyURL(c.proxy)
			if err != nil {
				t.Fatal(err)
			}
			rec := newStreamRecorder()
			var d any = rec
			log := &challengeLog{answer: c.answer}
			if c.answer != nil {
				d = streamChallenges{rec, log}
			}
			s := newSession(t, streamProxied(pc), d)
			var p int
			fmt.Sscan(c.port, &p)
			st := s.StreamTask("localhost", p)
			st.Resume()
			if _, err := st.Write(t.Context(), []byte("x")); CodeOf(err) != c.code {
				t.Errorf("Write: %v, want code %d", err, c.code)
			}
			err = rec.wait(t)
			if CodeOf(err) != c.code {
				t.Errorf("completed with %v (%d), want code %d", err, CodeOf(err), c.code)
			}
			if err != nil && (strings.Contains(err.Error(), "ppass") || strings.Contains(err.Error(), "wrong")) {
				t.Errorf("the error shows a password: %v", err)
			}
			if c.name == "wrong credential" {
				ch := log.challenges()
				if len(ch) < 2 || ch[1].PreviousFailureCount != 1 {
					t.Errorf("challenges %+v", ch)
				}
			}
		})
	}
}

func TestProxyStreamTaskSOCKS(t *testing.T) {
	t.Parallel()
	port := tcpServer(t, echo)
	sp := proxytest.NewSOCKS(t)
	sp.User, sp.Password = "suser", "spass"

	pc := &ProxyConfiguration{SOCKSProxy: mustParse(t, "socks5h://suser:spass@"+sp.Addr)}
	rec := newStreamRecorder()
	s := newSession(t, streamProxied(pc), rec)
	st := s.StreamTask("localhost", port)
	st.Resume()
	echoOnce(t, st, rec, "through the gateway")
	if got := sp.Targets(); !slices.Equal(got, []string{fmt.Sprintf("v5 name localhost:%d", port)}) {
		t.Errorf("gateway targets %q", got)
	}

	for _, c := range []struct {
		name, proxy string
		port        int
		code        Code
	}{
		{"wrong password", "socks5h://suser:wrong@" + sp.Addr, port, ErrUserAuthenticationRequired},
		{"no password", "socks5h://" + sp.Addr, port, ErrUserAuthenticationRequired},
		{"host refuses", "socks5h://suser:spass@" + sp.Addr, refusingPort(t), ErrCannotConnectToHost},
	} {
		t.Run(c.name, func(t *testing.T) {
			pc := &ProxyConfiguration{SOCKSProxy: mustParse(t, c.proxy)}
			rec := newStreamRecorder()
			s := newSession(t, streamProxied(pc), rec)
			s.StreamTask("localhost", c.port).Resume()
			err := rec.wait(t)
			if CodeOf(err) != c.code {
				t.Errorf("completed with %v (%d), want code %d", err, CodeOf(err), c.code)
			}
			if err != nil && strings.Contains(err.Error(), "spass") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestProxyStreamTaskPACAndExceptions(t *testing.T) {
	t.Parallel()
	port := tcpServer(t, echo)
	sp := proxytest.NewSOCKS(t)
	refusing := proxytest.Refusing(t)
	script := fmt.Sprintf(`function FindProxyForURL(url, host) {
		if (url != "https://" + host + ":%d/") return "PROXY %s";
		if (host == "localhost") return "PROXY %s; SOCKS %s; DIRECT";
		return "DIRECT";
	}`, port, refusing, refusing, sp.Addr)
	rec := newStreamRecorder()
	s := newSession(t, streamProxied(&ProxyConfiguration{PACScript: script}), rec)
	st := s.StreamTask("localhost", port)
	st.Resume()
	echoOnce(t, st, rec, "fell over to SOCKS")
	if got := sp.Targets(); len(got) != 1 {
		t.Errorf("gateway targets %q", got)
	}

	// An exception goes directly.
	hp := proxytest.NewHTTPProxy(t)
	pc, err := ProxyURL(hp.URL(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	rec = newStreamRecorder()
	s = newSession(t, streamProxied(pc), rec)
	st = s.StreamTask("127.0.0.1", port)
	st.Resume()
	echoOnce(t, st, rec, "direct")
	if got := hp.Requests(); len(got) != 0 {
		t.Errorf("the proxy saw %+v", got)
	}
}

func TestProxyStreamTaskStartTLSThroughTunnel(t *testing.T) {
	t.Parallel()
	port := startTLSServer(t, pki().leaf)
	hp := proxytest.NewHTTPProxy(t)
	pc, err := ProxyURL(hp.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg := streamProxied(pc)
	cfg.TLSClientConfig = &tls.Config{RootCAs: pki().roots}
	rec := newStreamRecorder()
	s := newSession(t, cfg, rec)
	st := s.StreamTask("localhost", port)
	st.Resume()
	ctx := context.Background()
	if data, _, err := st.ReadData(ctx, 11, 11); string(data) != "220 ready\r\n" || err != nil {
		t.Fatalf("greeting %q %v", data, err)
	}
	st.Write(ctx, []byte("STARTTLS\r\n"))
	if data, _, err := st.ReadData(ctx, 14, 14); string(data) != "220 go ahead\r\n" || err != nil {
		t.Fatalf("answer %q %v", data, err)
	}
	st.StartSecureConnection()
	// The origin's certificate (for localhost) is verified end to end.
	echoOnce(t, st, rec, "secret")
	if got := hp.Requests(); len(got) != 1 || got[0].Line != fmt.Sprintf("CONNECT localhost:%d", port) {
		t.Errorf("proxy saw %+v", got)
	}
}

func mustParse(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// refusingPort is a loopback port nothing listens on.
func refusingPort(t testing.TB) int {
	_, p, _ := net.SplitHostPort(proxytest.Refusing(t))
	var n int
	fmt.Sscan(p, &n)
	return n
}

// eagerTunnel is a CONNECT proxy that sends the origin's first bytes
// (up to the first newline) in the same write as its 200 answer, as a
// proxy may: the client reads them with the answer.
func eagerTunnel(t testing.TB) string {
	return "http://127.0.0.1:" + fmt.Sprint(tcpServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || req.Method != http.MethodConnect {
			return
		}
		_, port, _ := net.SplitHostPort(req.RequestURI)
		up, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			return
		}
		defer up.Close()
		ur := bufio.NewReader(up)
		first, err := ur.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"+first); err != nil {
			return
		}
		done := make(chan struct{})
		go func() {
			io.Copy(up, br)
			up.(*net.TCPConn).CloseWrite()
			close(done)
		}()
		io.Copy(c, ur)
		c.(*net.TCPConn).CloseWrite()
		<-done
	}))
}

// TestProxyStreamTaskEagerTunnel: bytes that came with the proxy's answer
// are delivered first, and the tunnel still half-closes.
func TestProxyStreamTaskEagerTunnel(t *testing.T) {
	t.Parallel()
	port := tcpServer(t, func(c net.Conn) {
		io.WriteString(c, "hello\n")
		echo(c)
	})
	pc, err := ProxyURL(eagerTunnel(t))
	if err != nil {
		t.Fatal(err)
	}
	rec := newStreamRecorder()
	s := newSession(t, streamProxied(pc), rec)
	st := s.StreamTask("localhost", port)
	st.Resume()
	if data, _, err := st.ReadData(t.Context(), 6, 6); string(data) != "hello\n" || err != nil {
		t.Fatalf("greeting %q %v", data, err)
	}
	echoOnce(t, st, rec, "half-closed through the tunnel")
}

// TestProxyStreamTaskStartTLSTrust: through a tunnel, the origin's
// certificate raises the ServerTrust challenge and fails untrusted as on a
// direct connection.
func TestProxyStreamTaskStartTLSTrust(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		d    func(*streamRecorder) any
		code Code
	}{
		{"challenge", func(r *streamRecorder) any { return streamTrustAll{r} }, 0},
		{"untrusted", func(r *streamRecorder) any { return r }, ErrServerCertificateUntrusted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := startTLSServer(t, pki().self)
			hp := proxytest.NewHTTPProxy(t)
			pc, err := ProxyURL(hp.URL())
			if err != nil {
				t.Fatal(err)
			}
			cfg := streamProxied(pc)
			cfg.TLSClientConfig = &tls.Config{RootCAs: pki().roots}
			rec := newStreamRecorder()
			s := newSession(t, cfg, tc.d(rec))
			st := s.StreamTask("127.0.0.1", port)
			st.Resume()
			ctx := t.Context()
			if data, _, err := st.ReadData(ctx, 11, 11); string(data) != "220 ready\r\n" || err != nil {
				t.Fatalf("greeting %q %v", data, err)
			}
			st.Write(ctx, []byte("STARTTLS\r\n"))
			if data, _, err := st.ReadData(ctx, 14, 14); string(data) != "220 go ahead\r\n" || err != nil {
				t.Fatalf("answer %q %v", data, err)
			}
			st.StartSecureConnection()
			if tc.code == 0 {
				echoOnce(t, st, rec, "trusted by the delegate")
			} else {
				st.Write(ctx, []byte("x"))
				if err := rec.wait(t); CodeOf(err) != tc.code {
					t.Errorf("completed with %v, want code %d", err, tc.code)
				}
			}
			if got := hp.Requests(); len(got) != 1 || got[0].Answer != 200 {
				t.Errorf("proxy saw %+v", got)
			}
		})
	}
}

// TestProxyStreamTaskHTTPSProxy: through an https proxy the tunnel runs
// over TLS to the proxy, verified against ProxyTLSConfig.
func TestProxyStreamTaskHTTPSProxy(t *testing.T) {
	t.Parallel()
	front := httptest.NewUnstartedServer(nil)
	front.StartTLS()
	serverCfg, clientCfg := front.TLS, front.Client().Transport.(*http.Transport).TLSClientConfig
	front.Close() // only its certificate is used
	port := tcpServer(t, echo)
	hp := proxytest.NewHTTPProxy(t)
	hp.User, hp.Password = "tu", "tp"
	addr := proxytest.TLSFront(t, serverCfg, hp.Addr)
	for _, trusted := range []bool{true, false} {
		pc, err := ProxyURL("https://tu:tp@" + addr)
		if err != nil {
			t.Fatal(err)
		}
		if trusted {
			pc.ProxyTLSConfig = clientCfg
		}
		rec := newStreamRecorder()
		s := newSession(t, streamProxied(pc), rec)
		st := s.StreamTask("localhost", port)
		st.Resume()
		if !trusted {
			if err := rec.wait(t); CodeOf(err) != ErrServerCertificateUntrusted && CodeOf(err) != ErrServerCertificateHasUnknownRoot {
				t.Errorf("untrusted https proxy: %v (%d)", err, CodeOf(err))
			}
			continue
		}
		if _, err := st.Write(t.Context(), []byte("ping")); err != nil {
			t.Fatal(err)
		}
		if data, _, err := st.ReadData(t.Context(), 4, 4); string(data) != "ping" || err != nil {
			t.Errorf("echo %q %v", data, err)
		}
		st.Cancel()
		if err := rec.wait(t); CodeOf(err) != ErrCancelled {
			t.Errorf("completed with %v", err)
		}
	}
	if got := hp.Requests(); len(got) != 1 || got[0].Line != fmt.Sprintf("CONNECT localhost:%d", port) || got[0].Answer != 200 {
		t.Errorf("proxy saw %+v", got)
	}
}
