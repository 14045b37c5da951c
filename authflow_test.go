package urlsession

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jcmturner/goidentity/v6"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/auth/authtest"
)

// authServer is a Basic-protected handler that counts the requests it
// refuses and records the bodies it accepts.
type authServer struct {
	user, password string
	realm          string
	offers         []string // extra WWW-Authenticate values offered first
	refused        atomic.Int32
	accepted       atomic.Int32
	mu             sync.Mutex
	bodies         []string
	auths          []string
}

func (a *authServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.auths = append(a.auths, r.Header.Get("Authorization"))
	a.mu.Unlock()
	u, p, ok := r.BasicAuth()
	if !ok || u != a.user || p != a.password {
		a.refused.Add(1)
		for _, o := range a.offers {
			w.Header().Add("WWW-Authenticate", o)
		}
		w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Basic realm=%q`, a.realm))
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "refused")
		return
	}
	a.accepted.Add(1)
	a.mu.Lock()
	a.bodies = append(a.bodies, string(body))
	a.mu.Unlock()
	io.WriteString(w, "welcome "+u)
}

func (a *authServer) authorizations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auths...)
}

// challengeLog is a task-level challenge delegate that records the
// challenges it sees and answers with answer.
type challengeLog struct {
	mu     sync.Mutex
	seen   []Challenge
	answer func(c *Challenge) (AuthChallengeDisposition, *Credential)
}

func (l *challengeLog) TaskDidReceiveChallenge(s *Session, t *Task, c *Challenge) (AuthChallengeDisposition, *Credential) {
	if c.ProtectionSpace.AuthenticationMethod == credstore.AuthMethodServerTrust {
		return PerformDefaultHandling, nil // the TLS servers' trust: not what these tests are about
	}
	l.mu.Lock()
	l.seen = append(l.seen, *c)
	l.mu.Unlock()
	return l.answer(c)
}

func (l *challengeLog) challenges() []Challenge {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Challenge(nil), l.seen...)
}

func TestAuthNoCredentialDeliversThe401(t *testing.T) {
	as := &authServer{user: "u", password: "p", realm: "r"}
	bothProtocols(t, as, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		body, resp, err := s.Data(t.Context(), get(t, srv.URL+"/private"))
		if err != nil || resp.StatusCode != 401 || string(body) != "refused" {
			t.Fatalf("got %v %q %v, want the 401 as the response", resp, body, err)
		}
	})
}

func TestAuthDefaultHandling(t *testing.T) {
	as := &authServer{user: "alice", password: "s3cret", realm: "private area"}
	bothProtocols(t, as, func(t *testing.T, srv *server) {
		u, _ := url.Parse(srv.URL)
		t.Run("user info", func(t *testing.T) {
			s := newSession(t, srv.config(), nil)
			target := strings.Replace(srv.URL, "://", "://alice:s3cret@", 1) + "/private"
			body, resp, err := s.Data(t.Context(), get(t, target))
			if err != nil || resp.StatusCode != 200 || string(body) != "welcome alice" {
				t.Fatalf("got %v %q %v", resp, body, err)
			}
		})
		t.Run("credential storage", func(t *testing.T) {
			cfg := srv.config()
			store, _ := credstore.New(credstore.Options{})
			cfg.URLCredentialStorage = store
			space := protectionSpace(u, "private area", credstore.AuthMethodHTTPBasic)
			store.SetDefaultCredential(credstore.Credential{User: "alice", Password: "s3cret", Persistence: credstore.ForSession}, space)
			s := newSession(t, cfg, nil)
			body, resp, err := s.Data(t.Context(), get(t, srv.URL+"/private"))
			if err != nil || resp.StatusCode != 200 || string(body) != "welcome alice" {
				t.Fatalf("got %v %q %v", resp, body, err)
			}
		})
		t.Run("wrong stored credential stops after one failure", func(t *testing.T) {
			cfg := srv.config()
			store, _ := credstore.New(credstore.Options{})
			cfg.URLCredentialStorage = store
			space := protectionSpace(u, "private area", credstore.AuthMethodDefault)
			store.SetDefaultCredential(credstore.Credential{User: "alice", Password: "wrong", Persistence: credstore.ForSession}, space)
			s := newSession(t, cfg, nil)
			before := as.refused.Load()
			_, resp, err := s.Data(t.Context(), get(t, srv.URL+"/private"))
			if err != nil || resp.StatusCode != 401 {
				t.Fatalf("got %v %v, want the 401", resp, err)
			}
			if n := as.refused.Load() - before; n != 2 {
				t.Errorf("the server refused %d requests, want 2 (no credential, then the stored one)", n)
			}
		})
	})
}

func TestAuthDelegateDispositions(t *testing.T) {
	as := &authServer{user: "bob", password: "pw", realm: "r"}
	bothProtocols(t, as, func(t *testing.T, srv *server) {
		run := func(t *testing.T, answer func(c *Challenge) (AuthChallengeDisposition, *Credential)) (*challengeLog, []byte, *http.Response, error) {
			log := &challengeLog{answer: answer}
			s := newSession(t, srv.config(), log)
			body, resp, err := s.Data(t.Context(), get(t, srv.URL+"/dir/page"))
			return log, body, resp, err
		}
		t.Run("use credential", func(t *testing.T) {
			log, body, resp, err := run(t, func(*Challenge) (AuthChallengeDisposition, *Credential) {
				return UseCredential, NewCredential("bob", "pw", credstore.None)
			})
			if err != nil || resp.StatusCode != 200 || string(body) != "welcome bob" {
				t.Fatalf("got %v %q %v", resp, body, err)
			}
			cs := log.challenges()
			if len(cs) != 1 {
				t.Fatalf("%d challenges, want 1", len(cs))
			}
			c := cs[0]
			sp := c.ProtectionSpace
			if sp.Realm != "r" || sp.AuthenticationMethod != credstore.AuthMethodHTTPBasic || sp.Host != "127.0.0.1" ||
				c.PreviousFailureCount != 0 || c.FailureResponse == nil || c.FailureResponse.StatusCode != 401 || c.ProposedCredential != nil {
				t.Errorf("challenge %+v", c)
			}
		})
		t.Run("failure count grows, then cancel", func(t *testing.T) {
			log, _, _, err := run(t, func(c *Challenge) (AuthChallengeDisposition, *Credential) {
				if c.PreviousFailureCount < 2 {
					return UseCredential, NewCredential("bob", "wrong", credstore.None)
				}
				return CancelAuthenticationChallenge, nil
			})
			if !errors.Is(err, ErrCancelled) {
				t.Fatalf("err = %v, want ErrCancelled", err)
			}
			var counts []int
			for _, c := range log.challenges() {
				counts = append(counts, c.PreviousFailureCount)
			}
			if fmt.Sprint(counts) != "[0 1 2]" {
				t.Errorf("failure counts %v, want [0 1 2]", counts)
			}
			if p := log.challenges()[1].ProposedCredential; p == nil || p.User != "bob" {
				t.Errorf("the credential that failed is not proposed again: %v", p)
			}
		})
		t.Run("continue without credential", func(t *testing.T) {
			_, _, resp, err := run(t, func(*Challenge) (AuthChallengeDisposition, *Credential) { return UseCredential, nil })
			if err != nil || resp.StatusCode != 401 {
				t.Fatalf("got %v %v, want the 401", resp, err)
			}
		})
		t.Run("reject the only space", func(t *testing.T) {
			_, _, resp, err := run(t, func(*Challenge) (AuthChallengeDisposition, *Credential) { return RejectProtectionSpace, nil })
			if err != nil || resp.StatusCode != 401 {
				t.Fatalf("got %v %v, want the 401", resp, err)
			}
		})
		t.Run("a delegate that never gives up ends", func(t *testing.T) {
			log, _, resp, err := run(t, func(*Challenge) (AuthChallengeDisposition, *Credential) {
				return UseCredential, NewCredential("bob", "wrong", credstore.None)
			})
			if err != nil || resp.StatusCode != 401 {
				t.Fatalf("got %v %v, want the 401", resp, err)
			}
			if n := len(log.challenges()); n != 16 {
				t.Errorf("asked %d times, want 16", n)
			}
		})
	})
}

// TestAuthRejectTriesTheNextScheme: rejecting the strongest scheme's
// protection space goes on to the next one offered.
func TestAuthRejectTriesTheNextScheme(t *testing.T) {
	as := &authServer{user: "carol", password: "pw", realm: "basic realm",
		offers: []string{`Digest realm="digest realm", nonce="abc", algorithm=SHA-256, qop="auth"`}}
	bothProtocols(t, as, func(t *testing.T, srv *server) {
		log := &challengeLog{answer: func(c *Challenge) (AuthChallengeDisposition, *Credential) {
			if c.ProtectionSpace.AuthenticationMethod == credstore.AuthMethodHTTPDigest {
				return RejectProtectionSpace, nil
			}
			return UseCredential, NewCredential("carol", "pw", credstore.None)
		}}
		s := newSession(t, srv.config(), log)
		_, resp, err := s.Data(t.Context(), get(t, srv.URL+"/"))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("got %v %v", resp, err)
		}
		cs := log.challenges()
		if len(cs) != 2 || cs[0].ProtectionSpace.Realm != "digest realm" || cs[1].ProtectionSpace.Realm != "basic realm" {
			t.Errorf("challenges %+v, want Digest then Basic", cs)
		}
	})
}

// TestAuthPersistenceAndPreemptive: a credential the server accepted is
// stored as its persistence says and sent pre-emptively to the same origin
// and path prefix, never to another origin.
func TestAuthPersistenceAndPreemptive(t *testing.T) {
	as := &authServer{user: "dave", password: "pw", realm: "r"}
	other := &authServer{user: "x", password: "y", realm: "other"}
	bothProtocols(t, as, func(t *testing.T, srv *server) {
		o := rdOther(t, srv, other)
		cfg := srv.config()
		store, _ := credstore.New(credstore.Options{})
		cfg.URLCredentialStorage = store
		var asked atomic.Int32
		log := &challengeLog{answer: func(*Challenge) (AuthChallengeDisposition, *Credential) {
			asked.Add(1)
			return UseCredential, NewCredential("dave", "pw", credstore.ForSession)
		}}
		s := newSession(t, cfg, log)
		before := as.refused.Load()
		for _, p := range []string{"/docs/a", "/docs/b", "/docs/sub/c"} {
			if _, resp, err := s.Data(t.Context(), get(t, srv.URL+p)); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s: %v %v", p, resp, err)
			}
		}
		if n := as.refused.Load() - before; n != 1 || asked.Load() != 1 {
			t.Errorf("%d refusals and %d questions, want 1 and 1: later requests carry the credential", n, asked.Load())
		}
		u, _ := url.Parse(srv.URL)
		c, ok := store.DefaultCredential(protectionSpace(u, "r", credstore.AuthMethodHTTPBasic))
		if !ok || c.User != "dave" || c.Persistence != credstore.ForSession {
			t.Errorf("stored default credential %v %v", c, ok)
		}
		// Another origin is not sent it unasked: its first request carries
		// no credential (the delegate answers its challenge, as it may).
		s.Data(t.Context(), get(t, o.URL+"/docs/a"))
		if got := other.authorizations(); len(got) == 0 || got[0] != "" {
			t.Errorf("the other origin's first request carried %q", got)
		}
	})
}

// TestAuthReplaysBodies: the request that answers a challenge carries the
// body again: from memory, from a file, or from a new body stream.
func TestAuthReplaysBodies(t *testing.T) {
	as := &authServer{user: "erin", password: "pw", realm: "r"}
	bothProtocols(t, as, func(t *testing.T, srv *server) {
		cred := func(*Challenge) (AuthChallengeDisposition, *Credential) {
			return UseCredential, NewCredential("erin", "pw", credstore.None)
		}
		log := &challengeLog{answer: cred}
		s := newSession(t, srv.config(), log)
		if _, resp, err := s.Upload(t.Context(), newReq(t, http.MethodPost, srv.URL+"/up", ""), []byte("from memory")); err != nil || resp.StatusCode != 200 {
			t.Fatalf("upload: %v %v", resp, err)
		}
		// A stream without GetBody: NeedNewBodyStream supplies it again.
		rec := newRecorder()
		rec.onStream = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("streamed")), nil }
		both := struct {
			*recorder
			*challengeLog
		}{rec, log}
		s2 := newSession(t, srv.config(), both)
		req := newReq(t, http.MethodPost, srv.URL+"/up", "")
		req.Body = io.NopCloser(strings.NewReader("streamed"))
		task := s2.DataTask(req)
		task.Resume()
		wait(t, task)
		if err := task.Err(); err != nil || task.Response().StatusCode != 200 {
			t.Fatalf("stream: %v", err)
		}
		as.mu.Lock()
		bodies := append([]string(nil), as.bodies...)
		as.mu.Unlock()
		if len(bodies) < 2 || bodies[len(bodies)-2] != "from memory" || bodies[len(bodies)-1] != "streamed" {
			t.Errorf("accepted bodies %q", bodies)
		}
	})
}

// TestAuthDigest runs the flow against go-httpbin's Digest endpoints: the
// delegate is asked once, and later requests in the space are authorized
// pre-emptively with the next nonce count.
func TestAuthDigest(t *testing.T) {
	var challenged atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		bin.ServeHTTP(rec, r)
		if rec.Code == 401 {
			challenged.Add(1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		for _, alg := range []string{"MD5", "SHA-256"} {
			challenged.Store(0)
			log := &challengeLog{answer: func(*Challenge) (AuthChallengeDisposition, *Credential) {
				return UseCredential, NewCredential("user", "pass word", credstore.ForSession)
			}}
			s := newSession(t, srv.config(), log)
			path := "/digest-auth/auth/user/pass%20word/" + alg
			for i := range 3 {
				body, resp, err := s.Data(t.Context(), get(t, srv.URL+path))
				if err != nil || resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"authenticated": true`)) {
					t.Fatalf("%s request %d: %v %q %v", alg, i, resp, body, err)
				}
			}
			if n := len(log.challenges()); n != 1 || challenged.Load() != 1 {
				t.Errorf("%s: asked %d times, %d challenges; want 1 and 1", alg, n, challenged.Load())
			}
			if m := log.challenges()[0].ProtectionSpace.AuthenticationMethod; m != credstore.AuthMethodHTTPDigest {
				t.Errorf("method %q", m)
			}
		}
	})
}

// TestAuthSessionDelegateNotAskedForBasic: Basic is a task-level method: a
// session delegate's DidReceiveChallenge is not asked about it; without a
// task-level method the default handling applies.
func TestAuthSessionDelegateNotAskedForBasic(t *testing.T) {
	as := &authServer{user: "u", password: "p", realm: "r"}
	bothProtocols(t, as, func(t *testing.T, srv *server) {
		d := &sessionOnly{}
		s := newSession(t, srv.config(), d)
		target := strings.Replace(srv.URL, "://", "://u:p@", 1)
		if _, resp, err := s.Data(t.Context(), get(t, target)); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		if d.asked.Load() != 0 {
			t.Errorf("the session-level method was asked about Basic")
		}
	})
}

type sessionOnly struct{ asked atomic.Int32 }

func (d *sessionOnly) DidReceiveChallenge(s *Session, c *Challenge) (AuthChallengeDisposition, *Credential) {
	if c.ProtectionSpace.AuthenticationMethod == credstore.AuthMethodServerTrust {
		return PerformDefaultHandling, nil
	}
	d.asked.Add(1)
	return CancelAuthenticationChallenge, nil
}

// TestAuthCompletionHandlerTasksAsk: tasks with a completion handler still
// ask the delegate about challenges.
func TestAuthCompletionHandlerTasksAsk(t *testing.T) {
	as := &authServer{user: "u", password: "p", realm: "r"}
	bothProtocols(t, as, func(t *testing.T, srv *server) {
		log := &challengeLog{answer: func(*Challenge) (AuthChallengeDisposition, *Credential) {
			return UseCredential, NewCredential("u", "p", credstore.None)
		}}
		s := newSession(t, srv.config(), log)
		var status int
		task := s.DataTaskWithCompletion(get(t, srv.URL), func(_ []byte, resp *http.Response, err error) {
			if resp != nil {
				status = resp.StatusCode
			}
		})
		task.Resume()
		wait(t, task)
		if status != 200 || len(log.challenges()) != 1 {
			t.Errorf("status %d after %d challenges", status, len(log.challenges()))
		}
	})
}

// TestAuthPerTaskDelegateFirst: the per-task delegate's
// TaskDidReceiveChallenge answers before the session delegate's; a per-task
// delegate without it leaves the question to the session delegate.
func TestAuthPerTaskDelegateFirst(t *testing.T) {
	as := &authServer{user: "u", password: "p", realm: "r"}
	bothProtocols(t, as, func(t *testing.T, srv *server) {
		sessionLog := &challengeLog{answer: func(*Challenge) (AuthChallengeDisposition, *Credential) {
			return PerformDefaultHandling, nil
		}}
		s := newSession(t, srv.config(), sessionLog)
		taskLog := &challengeLog{answer: func(*Challenge) (AuthChallengeDisposition, *Credential) {
			return UseCredential, NewCredential("u", "p", credstore.None)
		}}
		if _, resp, err := s.Data(t.Context(), get(t, srv.URL), WithDelegate(taskLog)); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		if len(taskLog.challenges()) != 1 || len(sessionLog.challenges()) != 0 {
			t.Errorf("task delegate asked %d times, session delegate %d; want 1 and 0",
				len(taskLog.challenges()), len(sessionLog.challenges()))
		}
		// A per-task delegate without the method: the session's answers
		// (default handling without a credential: the 401).
		if _, resp, err := s.Data(t.Context(), get(t, srv.URL), WithDelegate(newRecorder())); err != nil || resp.StatusCode != 401 {
			t.Fatalf("%v %v", resp, err)
		}
		if len(sessionLog.challenges()) != 1 {
			t.Errorf("session delegate asked %d times, want 1", len(sessionLog.challenges()))
		}
	})
}

// TestAuthNegotiate: a Negotiate challenge is answered with a Kerberos
// ticket from the user's credential cache (KRB5CCNAME), by default
// handling; the server checks it with the service's keytab. Negotiate is a
// session-wide method: the session delegate's DidReceiveChallenge is asked
// first. Without a usable cache the next scheme offered is tried.
func TestAuthNegotiate(t *testing.T) {
	k := authtest.NewKerberos(t, "localhost", "service secret")
	t.Setenv("KRB5CCNAME", "FILE:"+k.WriteCCache(t, k.TGT(t), k.Service(t, "localhost")))
	t.Setenv("KRB5_CONFIG", k.WriteConfig(t))
	var who atomic.Value
	h := spnego.SPNEGOKRB5Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := goidentity.FromHTTPRequestContext(r); id != nil {
			who.Store(id.UserName() + "@" + id.Domain())
		}
		io.WriteString(w, "kerberos ok")
	}), k.Keytab)
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		target := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
		cfg := srv.config()
		if cfg.TLSClientConfig != nil {
			cfg.TLSClientConfig.ServerName = "127.0.0.1" // the test certificate's name for the host
		}
		t.Run("default handling", func(t *testing.T) {
			s := newSession(t, cfg, nil)
			body, resp, err := s.Data(t.Context(), get(t, target))
			if err != nil || resp.StatusCode != 200 || string(body) != "kerberos ok" || who.Load() != "alice@"+authtest.Realm {
				t.Fatalf("got %v %q %v as %v", resp, body, err, who.Load())
			}
		})
		t.Run("session delegate asked first", func(t *testing.T) {
			d := &sessionOnly{}
			s := newSession(t, cfg, d)
			_, _, err := s.Data(t.Context(), get(t, target))
			if !errors.Is(err, ErrCancelled) || d.asked.Load() != 1 {
				t.Fatalf("err %v after %d questions; want cancelled by the session delegate", err, d.asked.Load())
			}
		})
	})
	t.Run("no credential cache", func(t *testing.T) {
		t.Setenv("KRB5CCNAME", "FILE:"+filepath.Join(t.TempDir(), "none"))
		srv := httptest.NewServer(h)
		defer srv.Close()
		s := newSession(t, (&server{srv, "h1"}).config(), nil)
		_, resp, err := s.Data(t.Context(), get(t, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)))
		if err != nil || resp.StatusCode != 401 {
			t.Fatalf("got %v %v, want the 401", resp, err)
		}
	})
}

// ntlmSessionDelegate answers NTLM at session level.
type ntlmSessionDelegate struct {
	asked atomic.Int32
	pw    string
}

func (d *ntlmSessionDelegate) DidReceiveChallenge(s *Session, c *Challenge) (AuthChallengeDisposition, *Credential) {
	if c.ProtectionSpace.AuthenticationMethod == credstore.AuthMethodServerTrust {
		return PerformDefaultHandling, nil
	}
	d.asked.Add(1)
	if c.ProtectionSpace.AuthenticationMethod != credstore.AuthMethodNTLM || c.PreviousFailureCount > 0 {
		return CancelAuthenticationChallenge, nil
	}
	return UseCredential, NewCredential(`CORP\alice`, d.pw, credstore.ForSession)
}

// TestAuthNTLM: an NTLM challenge (a session-wide method) is answered with
// the NTLMv2 handshake, whose legs share one HTTP/1.1 connection even
// when the server speaks HTTP/2 and several tasks authenticate at once.
func TestAuthNTLM(t *testing.T) {
	srv := &authtest.NTLMServer{Domain: "CORP", User: "alice", Password: "Pa$$w0rd"}
	bothProtocols(t, srv, func(t *testing.T, ts *server) {
		t.Run("session delegate", func(t *testing.T) {
			cfg := ts.config()
			store, _ := credstore.New(credstore.Options{})
			cfg.URLCredentialStorage = store
			d := &ntlmSessionDelegate{pw: "Pa$$w0rd"}
			s := newSession(t, cfg, d)
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					body, resp, err := s.Data(t.Context(), get(t, ts.URL+"/secret"))
					if err != nil || resp.StatusCode != 200 || string(body) != "hello alice" {
						t.Errorf("got %v %q %v", resp, body, err)
					}
				}()
			}
			wg.Wait()
			if n := d.asked.Load(); n != 4 {
				t.Errorf("asked %d times, want 4 (NTLM authenticates a connection, each task shakes hands)", n)
			}
			u, _ := url.Parse(ts.URL)
			if c, ok := store.DefaultCredential(protectionSpace(u, "", credstore.AuthMethodNTLM)); !ok || c.User != `CORP\alice` {
				t.Errorf("stored %v %v", c, ok)
			}
		})
		t.Run("user info", func(t *testing.T) {
			s := newSession(t, ts.config(), nil)
			target := strings.Replace(ts.URL, "://", "://CORP%5Calice:Pa$$w0rd@", 1) + "/secret"
			body, resp, err := s.Data(t.Context(), get(t, target))
			if err != nil || resp.StatusCode != 200 || string(body) != "hello alice" {
				t.Fatalf("got %v %q %v", resp, body, err)
			}
		})
		t.Run("wrong password", func(t *testing.T) {
			d := &ntlmSessionDelegate{pw: "wrong"}
			s := newSession(t, ts.config(), d)
			_, _, err := s.Data(t.Context(), get(t, ts.URL+"/secret"))
			if !errors.Is(err, ErrCancelled) || d.asked.Load() != 2 {
				t.Fatalf("err %v after %d questions; want cancelled at the second", err, d.asked.Load())
			}
		})
	})
}

// TestAuthHTTPBin runs Basic against go-httpbin: /basic-auth answers a
// challenge with the URL's user info; /hidden-basic-auth never challenges
// (404), so only a credential sent pre-emptively reaches it, after the
// session has seen it work on that origin.
func TestAuthHTTPBin(t *testing.T) {
	bothProtocols(t, bin, func(t *testing.T, srv *server) {
		log := &challengeLog{answer: func(*Challenge) (AuthChallengeDisposition, *Credential) {
			return UseCredential, NewCredential("user", "passwd", credstore.ForSession)
		}}
		s := newSession(t, srv.config(), log)
		if _, resp, err := s.Data(t.Context(), get(t, srv.URL+"/hidden-basic-auth/user/passwd")); err != nil || resp.StatusCode != 404 {
			t.Fatalf("hidden, before: %v %v; want 404", resp, err)
		}
		body, resp, err := s.Data(t.Context(), get(t, srv.URL+"/basic-auth/user/passwd"))
		if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"authorized": true`) {
			t.Fatalf("basic-auth: %v %q %v", resp, body, err)
		}
		if len(log.challenges()) != 1 || log.challenges()[0].ProtectionSpace.Realm != "Fake Realm" {
			t.Errorf("challenges %+v", log.challenges())
		}
		// The credential is now sent unasked, but only under the path
		// prefix it worked for (RFC 7617 section 2.2): /basic-auth/user/.
		if _, resp, err := s.Data(t.Context(), get(t, srv.URL+"/hidden-basic-auth/user/passwd")); err != nil || resp.StatusCode != 404 {
			t.Fatalf("hidden, other path: %v %v; want 404", resp, err)
		}
		if _, resp, err := s.Data(t.Context(), get(t, srv.URL+"/basic-auth/user/passwd")); err != nil || resp.StatusCode != 200 || len(log.challenges()) != 1 {
			t.Fatalf("again: %v %v after %d challenges", resp, err, len(log.challenges()))
		}
	})
}
