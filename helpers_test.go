package urlsession

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// recorder is a delegate that records every callback as a short string, and
// can be told how to answer the ones that decide something.
type recorder struct {
	mu         sync.Mutex
	events     []string
	body       bytes.Buffer
	err        error
	invalidErr error
	metrics    *TaskMetrics
	sent       int64
	invalid    chan struct{}
	complete   chan struct{}

	onRedirect func(resp *http.Response, req *http.Request) *http.Request
	onResponse func(resp *http.Response) ResponseDisposition
	onStream   func() (io.ReadCloser, error)
	onData     func(t *DataTask)
}

func newRecorder() *recorder {
	return &recorder{invalid: make(chan struct{}), complete: make(chan struct{}, 100)}
}

var (
	_ InvalidationDelegate = (*recorder)(nil)
	_ TaskCreationDelegate = (*recorder)(nil)
	_ RedirectionDelegate  = (*recorder)(nil)
	_ BodyStreamDelegate   = (*recorder)(nil)
	_ SendProgressDelegate = (*recorder)(nil)
	_ ConnectivityDelegate = (*recorder)(nil)
	_ MetricsDelegate      = (*recorder)(nil)
	_ CompletionDelegate   = (*recorder)(nil)
	_ ResponseDelegate     = (*recorder)(nil)
	_ DataDelegate         = (*recorder)(nil)
)

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Runs of the same progress event are recorded once.
	if n := len(r.events); n > 0 && r.events[n-1] == e && (e == "data" || e == "send") {
		return
	}
	r.events = append(r.events, e)
}

func (r *recorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *recorder) Body() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body.String()
}

func (r *recorder) DidBecomeInvalidWithError(s *Session, err error) {
	r.add("invalid")
	r.mu.Lock()
	r.invalidErr = err
	r.mu.Unlock()
	close(r.invalid)
}
func (r *recorder) DidCreateTask(s *Session, t *Task) { r.add("create") }
func (r *recorder) WillPerformHTTPRedirection(s *Session, t *Task, resp *http.Response, req *http.Request) *http.Request {
	r.add(fmt.Sprintf("redirect %d %s", resp.StatusCode, req.Method))
	if r.onRedirect != nil {
		return r.onRedirect(resp, req)
	}
	return req
}
func (r *recorder) NeedNewBodyStream(s *Session, t *Task) (io.ReadCloser, error) {
	r.add("needbody")
	if r.onStream != nil {
		return r.onStream()
	}
	return nil, nil
}
func (r *recorder) DidSendBodyData(s *Session, t *Task, n, total, expected int64) {
	r.mu.Lock()
	r.sent = total
	r.mu.Unlock()
	r.add("send")
}
func (r *recorder) TaskIsWaitingForConnectivity(s *Session, t *Task) { r.add("waiting") }
func (r *recorder) DidFinishCollectingMetrics(s *Session, t *Task, m *TaskMetrics) {
	r.mu.Lock()
	r.metrics = m
	r.mu.Unlock()
	r.add("metrics")
}
func (r *recorder) DidCompleteWithError(s *Session, t *Task, err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	if err != nil {
		r.add(fmt.Sprintf("complete %d", CodeOf(err)))
	} else {
		r.add("complete")
	}
	r.complete <- struct{}{}
}
func (r *recorder) DidReceiveResponse(s *Session, t *DataTask, resp *http.Response) ResponseDisposition {
	r.add(fmt.Sprintf("response %d", resp.StatusCode))
	if r.onResponse != nil {
		return r.onResponse(resp)
	}
	return ResponseAllow
}
func (r *recorder) DidReceiveData(s *Session, t *DataTask, data []byte) {
	r.mu.Lock()
	r.body.Write(data)
	r.mu.Unlock()
	r.add("data")
	if r.onData != nil {
		r.onData(t)
	}
}

// wait waits for a task's completion callbacks, failing the test after a
// generous bound instead of hanging.
func wait(t testing.TB, task interface{ Done() <-chan struct{} }) {
	t.Helper()
	select {
	case <-task.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the task did not complete")
	}
}

// server is a loopback test server with the configuration to reach it.
type server struct {
	*httptest.Server
	proto string // "h1" or "h2"
}

// config returns a configuration that trusts the server. It has no
// stores, so tests do not see each other's cookies or cached responses;
// the store tests add their own.
func (s *server) config() *Configuration {
	c := baseConfiguration()
	c.Proxy = NoProxy
	if s.TLS != nil {
		c.TLSClientConfig = &tls.Config{RootCAs: s.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	}
	return c
}

// bothProtocols runs f against h over HTTP/1.1 (plain) and HTTP/2 (TLS).
func bothProtocols(t *testing.T, h http.Handler, f func(t *testing.T, srv *server)) {
	t.Run("h1", func(t *testing.T) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		f(t, &server{srv, "h1"})
	})
	t.Run("h2", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(h)
		srv.EnableHTTP2 = true
		srv.StartTLS()
		defer srv.Close()
		f(t, &server{srv, "h2"})
	})
}

func newSession(t testing.TB, cfg *Configuration, d any) *Session {
	t.Helper()
	s, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.InvalidateAndCancel)
	return s
}

func get(t testing.TB, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func newReq(t testing.TB, method, url, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func sameEvents(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

var capitals = urlsessiontest.Capitals()

// newLoopbackServer starts h on loopback and closes it when the test ends.
func newLoopbackServer(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestMain keeps the shared stores (DefaultConfiguration, Shared) of this
// test binary in a temporary home instead of the user's.
func TestMain(m *testing.M) {
	if os.Getenv("URLSESSION_EPHEMERAL_CHILD") == "" {
		home, err := os.MkdirTemp("", "urlsession-test-home-")
		if err != nil {
			panic(err)
		}
		// Nor in the desktop's Secret Service: permanent credentials go to
		// the temporary home's file.
		os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
		for _, k := range []string{"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"} {
			os.Setenv(k, filepath.Join(home, strings.ToLower(k)))
		}
		code := m.Run()
		os.RemoveAll(home)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// testExceptionDomains lets the hosts under .test, which tests make up and
// reach through their own dialers, load over cleartext; App Transport
// Security stays on for every other host.
func testExceptionDomains() map[string]TransportSecurityException {
	return map[string]TransportSecurityException{
		"test": {IncludesSubdomains: true, AllowsInsecureHTTPLoads: true},
	}
}
