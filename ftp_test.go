package urlsession

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/ftptest"
)

// startFTPServer starts a scripted FTP server with files, set up by the
// options before it starts.
func startFTPServer(t *testing.T, files map[string][]byte, opts ...func(*ftptest.Server)) *ftptest.Server {
	t.Helper()
	s := &ftptest.Server{Files: files, Mod: time.Date(2026, 11, 30, 19, 0, 0, 0, time.UTC)}
	for _, o := range opts {
		o(s)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestFTPDataTask: an ftp URL loads through a delegate as an http one does:
// response, data, metrics, completion, with the whole body.
func TestFTPDataTask(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("ftp data "), 50_000)
	srv := startFTPServer(t, map[string][]byte{"/pub/file.bin": body})
	rec := newRecorder()
	s := newSession(t, DefaultConfiguration(), rec)
	task := s.DataTask(get(t, srv.URL("/pub/file.bin")))
	task.Resume()
	wait(t, task)
	if want := []string{"create", "response 200", "data", "metrics", "complete"}; !sameEvents(rec.Events(), want) {
		t.Errorf("events %q, want %q", rec.Events(), want)
	}
	if rec.Body() != string(body) {
		t.Errorf("got %d bytes, want %d", len(rec.Body()), len(body))
	}
	if got := task.CountOfBytesReceived(); got != int64(len(body)) {
		t.Errorf("CountOfBytesReceived %d", got)
	}
	if got := task.CountOfBytesExpectedToReceive(); got != int64(len(body)) {
		t.Errorf("CountOfBytesExpectedToReceive %d", got)
	}
	if m := rec.metrics; m == nil || len(m.Transactions) != 1 || m.Transactions[0].ResponseBodyBytesReceived != int64(len(body)) {
		t.Errorf("metrics %+v", m)
	}
}

// TestFTPErrorCodes: the codes Apple's URLError gives FTP's failures.
func TestFTPErrorCodes(t *testing.T) {
	t.Parallel()
	srv := startFTPServer(t, map[string][]byte{"/d/f": []byte("x"), "/big": bytes.Repeat([]byte("b"), 200_000)},
		func(s *ftptest.Server) { s.DropAfter = 100_000 })
	s := newSession(t, DefaultConfiguration(), nil)
	for _, c := range []struct {
		url  string
		code Code
	}{
		{srv.URL("/nothing"), ErrFileDoesNotExist},
		{srv.URL("/d"), ErrFileIsDirectory},
		{srv.URL("/big"), ErrNetworkConnectionLost},
		{"ftp://127.0.0.1:1/f", ErrCannotConnectToHost},
		{"ftp://ftp.example.com/pub/", ErrAppTransportSecurityRequiresSecureConnection},
		{srv.URL("/f;type=q"), ErrBadURL},
	} {
		_, _, err := s.Data(t.Context(), get(t, c.url))
		if CodeOf(err) != c.code {
			t.Errorf("%s: got %v, want code %d", c.url, err, c.code)
		}
	}
}

// TestFTPRangeResumes: a byte range is loaded with REST and answered 206,
// as resuming a download asks.
func TestFTPRangeResumes(t *testing.T) {
	t.Parallel()
	srv := startFTPServer(t, map[string][]byte{"/f": []byte("0123456789abcdef")})
	s := newSession(t, DefaultConfiguration(), nil)
	req := get(t, srv.URL("/f"))
	req.Header.Set("Range", "bytes=10-")
	body, resp, err := s.Data(t.Context(), req)
	if err != nil || resp.StatusCode != 206 || string(body) != "abcdef" || resp.Header.Get("Content-Range") != "bytes 10-15/16" {
		t.Fatalf("got %v %q %v", resp, body, err)
	}
	if !slices.Contains(srv.Commands(), "REST 10") {
		t.Errorf("commands %q", srv.Commands())
	}
}

// TestFTPLoginChallenge: a refused login is a challenge for the FTP
// protection space; the delegate's credential logs in, and the session
// then sends it to the same server unasked.
func TestFTPLoginChallenge(t *testing.T) {
	t.Parallel()
	srv := &ftptest.Server{Files: map[string][]byte{"/priv/a": []byte("secret a"), "/priv/b": []byte("secret b")}, User: "alice", Password: "pw"}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	var answers atomic.Int32
	log := &challengeLog{answer: func(c *Challenge) (AuthChallengeDisposition, *Credential) {
		answers.Add(1)
		if c.PreviousFailureCount > 0 {
			return CancelAuthenticationChallenge, nil
		}
		return UseCredential, NewCredential("alice", "pw", credstore.ForSession)
	}}
	s := newSession(t, DefaultConfiguration(), log)
	body, _, err := s.Data(t.Context(), get(t, srv.URL("/priv/a")))
	if err != nil || string(body) != "secret a" {
		t.Fatalf("got %q %v", body, err)
	}
	cs := log.challenges()
	if len(cs) != 1 {
		t.Fatalf("%d challenges", len(cs))
	}
	u, _ := url.Parse(srv.URL("/"))
	sp := cs[0].ProtectionSpace
	if sp.Protocol != "ftp" || sp.Host != "127.0.0.1" || sp.Port != mustPort(t, u) || sp.AuthenticationMethod != credstore.AuthMethodDefault || sp.Realm != "" {
		t.Errorf("protection space %+v", sp)
	}
	// The credential that worked is sent again without a challenge.
	body, _, err = s.Data(t.Context(), get(t, srv.URL("/priv/b")))
	if err != nil || string(body) != "secret b" || answers.Load() != 1 {
		t.Errorf("second load: %q %v after %d answers", body, err, answers.Load())
	}
}

func mustPort(t *testing.T, u *url.URL) int {
	t.Helper()
	var p int
	for _, r := range u.Port() {
		p = p*10 + int(r-'0')
	}
	return p
}

// TestFTPLoginRefused: without a credential, or with a wrong one, the task
// fails with -1013 (Apple: "for other URL types, such as FTP, the
// connection fails"), and the password is in no error text.
func TestFTPLoginRefused(t *testing.T) {
	t.Parallel()
	srv := &ftptest.Server{Files: map[string][]byte{"/f": []byte("x")}, User: "alice", Password: "right"}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	s := newSession(t, DefaultConfiguration(), nil)
	_, _, err := s.Data(t.Context(), get(t, srv.URL("/f")))
	if CodeOf(err) != ErrUserAuthenticationRequired {
		t.Errorf("anonymous: %v", err)
	}
	if _, ok := errors.AsType[*fail.LoginRefused](err); !ok {
		t.Errorf("cause %v", err)
	}
	_, _, err = s.Data(t.Context(), get(t, "ftp://alice:hunter22@"+srv.Addr()+"/f"))
	if CodeOf(err) != ErrUserAuthenticationRequired || strings.Contains(err.Error(), "hunter22") {
		t.Errorf("wrong password: %v", err)
	}
	body, _, err := s.Data(t.Context(), get(t, "ftp://alice:right@"+srv.Addr()+"/f"))
	if err != nil || string(body) != "x" {
		t.Errorf("URL credential: %q %v", body, err)
	}
	// The default credential of the credential storage, by default handling.
	store, _ := credstore.New(credstore.Options{})
	u, _ := url.Parse(srv.URL("/f"))
	store.SetDefaultCredential(credstore.Credential{User: "alice", Password: "right", Persistence: credstore.ForSession},
		protectionSpace(u, "", credstore.AuthMethodDefault))
	cfg := DefaultConfiguration()
	cfg.URLCredentialStorage = store
	s2 := newSession(t, cfg, nil)
	if body, _, err := s2.Data(t.Context(), get(t, srv.URL("/f"))); err != nil || string(body) != "x" {
		t.Errorf("stored credential: %q %v", body, err)
	}
}

// TestFTPCancelAndSuspend: suspending holds a transfer, resuming finishes
// it; cancelling mid-transfer ends the task with -999 at once.
func TestFTPCancelAndSuspend(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("s"), 300_000)
	hold := make(chan struct{})
	srv := startFTPServer(t, map[string][]byte{"/f": body}, func(s *ftptest.Server) { s.Hold, s.HoldAfter = hold, 100_000 })
	rec := newRecorder()
	first := make(chan struct{})
	var once atomic.Bool
	rec.onData = func(*DataTask) {
		if once.CompareAndSwap(false, true) {
			close(first)
		}
	}
	s := newSession(t, DefaultConfiguration(), rec)
	task := s.DataTask(get(t, srv.URL("/f")))
	task.Resume()
	<-first
	task.Suspend()
	close(hold)
	if task.State() != TaskSuspended {
		t.Errorf("state %v", task.State())
	}
	task.Resume()
	wait(t, task)
	if rec.err != nil || rec.Body() != string(body) {
		t.Errorf("after resume: %d bytes, %v", len(rec.Body()), rec.err)
	}

	hold2 := make(chan struct{})
	defer close(hold2)
	srv2 := startFTPServer(t, map[string][]byte{"/f": body}, func(s *ftptest.Server) { s.Hold, s.HoldAfter = hold2, 100_000 })
	rec2 := newRecorder()
	first2 := make(chan struct{})
	var once2 atomic.Bool
	rec2.onData = func(*DataTask) {
		if once2.CompareAndSwap(false, true) {
			close(first2)
		}
	}
	s2 := newSession(t, DefaultConfiguration(), rec2)
	task2 := s2.DataTask(get(t, srv2.URL("/f")))
	task2.Resume()
	<-first2
	task2.Cancel()
	wait(t, task2)
	if CodeOf(rec2.err) != ErrCancelled {
		t.Errorf("cancelled: %v", rec2.err)
	}
	if n := len(rec2.Body()); n > 100_000 {
		t.Errorf("%d bytes delivered past the hold", n)
	}
}

// TestFTPUploadTask: an upload task stores its body with STOR and reports
// what it sent.
func TestFTPUploadTask(t *testing.T) {
	t.Parallel()
	srv := startFTPServer(t, map[string][]byte{})
	rec := newRecorder()
	s := newSession(t, DefaultConfiguration(), rec)
	payload := bytes.Repeat([]byte("u"), 70_000)
	task := s.UploadTask(newReq(t, http.MethodPut, srv.URL("/in/up.bin"), ""), payload)
	task.Resume()
	wait(t, task)
	if rec.err != nil {
		t.Fatal(rec.err)
	}
	if b, ok := srv.File("/in/up.bin"); !ok || !bytes.Equal(b, payload) {
		t.Errorf("stored %d bytes", len(b))
	}
	if rec.sent != int64(len(payload)) {
		t.Errorf("sent %d", rec.sent)
	}
}

// TestFTPTimeout: a server that greets and then answers nothing times the
// task out after the request's idle timeout (-1001); so does one that
// stops sending in the middle of a file, after the data that came.
func TestFTPTimeout(t *testing.T) {
	for _, mid := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			pn, dn := newPipeNet(), newPipeNet()
			go stallingFTP(pn, dn, mid)
			cfg := baseConfiguration()
			cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				if strings.HasSuffix(addr, ":2121") {
					return dn.dial(ctx, network, addr) // the data connection
				}
				return pn.dial(ctx, network, addr)
			}
			cfg.TimeoutIntervalForRequest = 7 * time.Second
			rec := newRecorder()
			s := newSession(t, cfg, rec)
			start := time.Now()
			task := s.DataTask(get(t, "ftp://127.0.0.1/f"))
			task.Resume()
			<-task.Done()
			err, took := task.Err(), time.Since(start)
			if CodeOf(err) != ErrTimedOut || took != 7*time.Second {
				t.Errorf("mid-file %v: got %v after %v, want -1001 after 7s", mid, err, took)
			}
			if want := map[bool]string{false: "", true: "12345"}[mid]; rec.Body() != want {
				t.Errorf("mid-file %v: body %q", mid, rec.Body())
			}
			s.InvalidateAndCancel()
			pn.Close()
			dn.Close()
			synctest.Wait()
		})
	}
}

// stallingFTP serves the FTP control connections of pn: it greets and then
// answers nothing, or, with mid, logs in, sends the first 5 of 10 bytes of
// any file on a data connection from dn and stops there.
func stallingFTP(pn, dn *pipeNet, mid bool) {
	for {
		c, err := pn.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.WriteString(c, "220 hello\r\n")
			if !mid {
				io.Copy(io.Discard, c) // and never a reply
				return
			}
			r := bufio.NewReader(c)
			data := make(chan net.Conn, 1)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				reply := map[string]string{
					"USER": "331 password", "PASS": "230 in", "FEAT": "211 no features",
					"TYPE": "200 ok", "SIZE": "213 10", "EPSV": "229 Entering Extended Passive Mode (|||2121|)",
				}[strings.Fields(line)[0]]
				switch {
				case strings.HasPrefix(line, "EPSV"):
					go func() {
						if d, err := dn.Accept(); err == nil {
							data <- d
						}
					}()
				case strings.HasPrefix(line, "RETR"):
					d := <-data
					defer d.Close()
					io.WriteString(c, "150 sending\r\n")
					io.WriteString(d, "12345")
					io.Copy(io.Discard, c) // and nothing more
					return
				case reply == "":
					reply = "502 no"
				}
				io.WriteString(c, reply+"\r\n")
			}
		}()
	}
}

// TestFTPS: ftpes:// (AUTH TLS) and ftps:// (implicit TLS) load over TLS on
// both connections, with the session's TLS configuration; an untrusted
// certificate fails as https does, and so does a pin that does not match.
func TestFTPS(t *testing.T) {
	t.Parallel()
	hs := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate
	hs.Close()
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())
	for _, implicit := range []bool{false, true} {
		srv := &ftptest.Server{Files: map[string][]byte{"/s": []byte("over tls")}, TLS: hs.TLS, Implicit: implicit}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		scheme := map[bool]string{false: "ftpes", true: "ftps"}[implicit]
		u := scheme + "://" + srv.Addr() + "/s"
		cfg := DefaultConfiguration()
		cfg.TLSClientConfig = &tls.Config{RootCAs: roots}
		s := newSession(t, cfg, nil)
		body, _, err := s.Data(t.Context(), get(t, u))
		if err != nil || string(body) != "over tls" {
			t.Errorf("%s: %q %v", scheme, body, err)
		}
		cmds := strings.Join(srv.Commands(), ",")
		if want := map[bool]string{false: "AUTH TLS,USER anonymous", true: "USER anonymous"}[implicit]; !strings.HasPrefix(cmds, want) || !strings.Contains(cmds, "PROT P") {
			t.Errorf("%s: commands %s", scheme, cmds)
		}
		untrusted := newSession(t, DefaultConfiguration(), nil)
		if _, _, err := untrusted.Data(t.Context(), get(t, u)); CodeOf(err) != ErrServerCertificateUntrusted && CodeOf(err) != ErrServerCertificateHasUnknownRoot {
			t.Errorf("%s, untrusted: %v", scheme, err)
		}
		// A delegate that vouches for the certificate is asked once per
		// request, for the FTP scheme's protection space.
		var trusts []credstore.ProtectionSpace
		var mu sync.Mutex
		vouch := trustDelegate(func(c *Challenge) (AuthChallengeDisposition, *Credential) {
			mu.Lock()
			trusts = append(trusts, c.ProtectionSpace)
			mu.Unlock()
			return UseCredential, NewTrustCredential(c.ServerTrust)
		})
		body, _, err = newSession(t, DefaultConfiguration(), vouch).Data(t.Context(), get(t, u))
		mu.Lock()
		if err != nil || string(body) != "over tls" || len(trusts) != 1 || trusts[0].Protocol != scheme ||
			trusts[0].AuthenticationMethod != credstore.AuthMethodServerTrust || trusts[0].Host != "127.0.0.1" {
			t.Errorf("%s, vouched for: %q %v, challenges %+v", scheme, body, err, trusts)
		}
		mu.Unlock()
		deflt := trustDelegate(func(*Challenge) (AuthChallengeDisposition, *Credential) { return PerformDefaultHandling, nil })
		if _, _, err := newSession(t, DefaultConfiguration(), deflt).Data(t.Context(), get(t, u)); CodeOf(err) != ErrServerCertificateUntrusted && CodeOf(err) != ErrServerCertificateHasUnknownRoot {
			t.Errorf("%s, default handling: %v", scheme, err)
		}
		pinned := DefaultConfiguration()
		pinned.TLSClientConfig = &tls.Config{RootCAs: roots}
		pinned.PinnedDomains = map[string]PinnedDomain{"127.0.0.1": {LeafIdentities: []string{strings.Repeat("A", 43) + "="}}}
		if _, _, err := newSession(t, pinned, nil).Data(t.Context(), get(t, u)); CodeOf(err) != ErrServerCertificateUntrusted {
			t.Errorf("%s, pinned: %v", scheme, err)
		}
	}
}

// trustDelegate answers every task-level challenge with its function.
type trustDelegate func(c *Challenge) (AuthChallengeDisposition, *Credential)

func (f trustDelegate) TaskDidReceiveChallenge(s *Session, t *Task, c *Challenge) (AuthChallengeDisposition, *Credential) {
	return f(c)
}
