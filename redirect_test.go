package urlsession

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// rdEcho is the reply of the Capitals /jsonBody route, its body decoded.
type rdEcho struct {
	URI     string            `json:"uri"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func rdParse(t *testing.T, body string) rdEcho {
	t.Helper()
	var e rdEcho
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("the body %q is not the JSON of /jsonBody: %v", body, err)
	}
	b, err := base64.StdEncoding.DecodeString(e.Body)
	if err != nil {
		t.Fatalf("the body field %q is not base64: %v", e.Body, err)
	}
	e.Body = string(b)
	return e
}

// rdRun runs req as a data task of a new session whose delegate is rec and
// waits for it.
func rdRun(t *testing.T, cfg *Configuration, rec *recorder, req *http.Request) *DataTask {
	t.Helper()
	s := newSession(t, cfg, rec)
	task := s.DataTask(req)
	task.Resume()
	wait(t, task)
	return task
}

// rdEvents returns the recorded events without the body progress ones, whose
// place relative to a redirect depends on when the server stops reading.
func rdEvents(rec *recorder) []string {
	return slices.DeleteFunc(rec.Events(), func(e string) bool { return e == "send" })
}

func rdCheckEvents(t *testing.T, rec *recorder, want ...string) {
	t.Helper()
	if got := rdEvents(rec); !sameEvents(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

// rdOther starts a second server of the same kind as srv (plain HTTP/1.1 or
// TLS with HTTP/2), trusted by srv.config().
func rdOther(t *testing.T, srv *server, h http.Handler) *httptest.Server {
	t.Helper()
	var o *httptest.Server
	if srv.TLS != nil {
		o = httptest.NewUnstartedServer(h)
		o.EnableHTTP2 = true
		o.StartTLS()
	} else {
		o = httptest.NewServer(h)
	}
	t.Cleanup(o.Close)
	return o
}

// rdBodyLog is a handler that records "<path> <body>" for every request, then
// serves it with the Capitals handler.
type rdBodyLog struct {
	mu     sync.Mutex
	bodies []string
}

func (l *rdBodyLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	l.bodies = append(l.bodies, r.URL.Path+" "+string(b))
	l.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(b))
	capitals.ServeHTTP(w, r)
}

func (l *rdBodyLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bodies
	l.bodies = nil
	return b
}

func TestRedirectMethodRewrite(t *testing.T) {
	const (
		get, head, post, put, del = http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete
	)
	cases := []struct {
		code               int
		method, wantMethod string
		keepBody           bool
	}{
		{301, post, get, false},
		{302, post, get, false},
		{301, put, put, true},
		{302, put, put, true},
		{301, del, del, true},
		{302, del, del, true},
		{301, get, get, false},
		{302, get, get, false},
		{301, head, head, false},
		{302, head, head, false},
		{303, head, get, false},
		{303, get, get, false},
		{303, put, get, false},
		{303, post, get, false},
		{303, del, get, false},
		{307, post, post, true},
		{307, put, put, true},
		{307, del, del, true},
		{307, get, get, false},
		{307, head, head, false},
		{308, post, post, true},
		{308, put, put, true},
		{308, del, del, true},
		{308, get, get, false},
	}
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%d-%s", c.code, c.method), func(t *testing.T) {
				body := ""
				if c.method != get && c.method != head {
					body = "payload of " + c.method
				}
				req := newReq(t, c.method, fmt.Sprintf("%s/%d?location=jsonBody", srv.URL, c.code), body)
				if body != "" {
					req.Header.Set("Content-Type", "text/plain")
				}
				rec := newRecorder()
				task := rdRun(t, srv.config(), rec, req)
				if err := task.Err(); err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				if got := task.Response().StatusCode; got != 200 {
					t.Errorf("final status = %d, want 200", got)
				}
				redirect := fmt.Sprintf("redirect %d %s", c.code, c.wantMethod)
				if c.wantMethod == head {
					rdCheckEvents(t, rec, "create", redirect, "response 200", "metrics", "complete")
				} else {
					rdCheckEvents(t, rec, "create", redirect, "response 200", "data", "metrics", "complete")
				}
				cur := task.CurrentRequest()
				if cur.Method != c.wantMethod || cur.URL.Path != "/jsonBody" {
					t.Errorf("CurrentRequest = %s %s, want %s /jsonBody", cur.Method, cur.URL.Path, c.wantMethod)
				}
				if c.wantMethod == head {
					if got := rec.Body(); got != "" {
						t.Errorf("HEAD body = %q, want none", got)
					}
					return
				}
				e := rdParse(t, rec.Body())
				if want := c.wantMethod + " /jsonBody HTTP/1.1"; e.URI != want {
					t.Errorf("uri = %q, want %q", e.URI, want)
				}
				wantBody, wantCT := "", ""
				if c.keepBody {
					wantBody, wantCT = body, "text/plain"
				}
				if e.Body != wantBody {
					t.Errorf("body received after the redirect = %q, want %q", e.Body, wantBody)
				}
				if got := e.Headers["Content-Type"]; got != wantCT {
					t.Errorf("Content-Type after the redirect = %q, want %q", got, wantCT)
				}
			})
		}
	})
}

func TestRedirectNotFollowed(t *testing.T) {
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete}
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		for _, code := range []int{300, 304} {
			for _, m := range methods {
				t.Run(fmt.Sprintf("%d-%s", code, m), func(t *testing.T) {
					body := ""
					if m != http.MethodGet && m != http.MethodHead {
						body = "payload"
					}
					rec := newRecorder()
					task := rdRun(t, srv.config(), rec, newReq(t, m, fmt.Sprintf("%s/%d", srv.URL, code), body))
					if err := task.Err(); err != nil {
						t.Fatalf("err = %v, want nil", err)
					}
					if got := task.Response().StatusCode; got != code {
						t.Errorf("status = %d, want %d", got, code)
					}
					wantBody := ""
					if code == 300 && m != http.MethodHead {
						wantBody = "Redirecting to " + m + " jsonBody"
					}
					if got := rec.Body(); got != wantBody {
						t.Errorf("body = %q, want %q", got, wantBody)
					}
					if wantBody != "" {
						rdCheckEvents(t, rec, "create", fmt.Sprintf("response %d", code), "data", "metrics", "complete")
					} else {
						rdCheckEvents(t, rec, "create", fmt.Sprintf("response %d", code), "metrics", "complete")
					}
					if m := rec.metrics; len(m.Transactions) != 1 || m.RedirectCount != 0 {
						t.Errorf("%d transactions, %d redirects; want 1, 0", len(m.Transactions), m.RedirectCount)
					}
				})
			}
		}
	})
}

// TestRedirectToLocalFileRefused: a server cannot send a task to a local
// file: the redirect fails the task with ErrUnsupportedURL, the file is
// not read, and the delegate is not asked.
func TestRedirectToLocalFileRefused(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("local secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := (&url.URL{Scheme: "file", Path: secret}).String()
	bothProtocols(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusFound)
	}), func(t *testing.T, srv *server) {
		rec := newRecorder()
		task := rdRun(t, srv.config(), rec, get(t, srv.URL+"/"))
		if code := CodeOf(task.Err()); code != ErrUnsupportedURL {
			t.Fatalf("err = %v, want ErrUnsupportedURL", task.Err())
		}
		if strings.Contains(rec.Body(), "local secret") {
			t.Fatal("the local file was read")
		}
		for _, e := range rec.Events() {
			if strings.HasPrefix(e, "redirect") {
				t.Errorf("the delegate was asked: %v", rec.Events())
			}
		}
		// Without a delegate, as a context-first call.
		s := newSession(t, srv.config(), nil)
		body, _, err := s.Data(context.Background(), get(t, srv.URL+"/"))
		if CodeOf(err) != ErrUnsupportedURL || strings.Contains(string(body), "local secret") {
			t.Errorf("Data: %q, %v", body, err)
		}
	})
}

func TestRedirectLocations(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		cases := []struct{ path, want, final string }{
			{"/303?location=Peru", "Lima", "/Peru"},
			{"/302?location=./Italy", "Rome", "/Italy"},
			{"/301?location=%2FNepal", "Kathmandu", "/Nepal"},
			{"/307?location=..%2FUK", "London", "/UK"},
			{"/303?location=echo-query%3Fparam%3Dfoo", "param=foo", "/echo-query"},
		}
		for _, c := range cases {
			t.Run(c.path, func(t *testing.T) {
				rec := newRecorder()
				task := rdRun(t, srv.config(), rec, get(t, srv.URL+c.path))
				if err := task.Err(); err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				if got := rec.Body(); got != c.want {
					t.Errorf("body = %q, want %q", got, c.want)
				}
				if got := task.CurrentRequest().URL.Path; got != c.final {
					t.Errorf("final path = %q, want %q", got, c.final)
				}
			})
		}

		t.Run("absolute", func(t *testing.T) {
			other := rdOther(t, srv, capitals)
			rec := newRecorder()
			task := rdRun(t, srv.config(), rec, get(t, srv.URL+"/302?location="+url.QueryEscape(other.URL+"/Nepal")))
			if err := task.Err(); err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if got := rec.Body(); got != "Kathmandu" {
				t.Errorf("body = %q, want Kathmandu", got)
			}
			rdCheckEvents(t, rec, "create", "redirect 302 GET", "response 200", "data", "metrics", "complete")
			if got, want := task.CurrentRequest().URL.String(), other.URL+"/Nepal"; got != want {
				t.Errorf("CurrentRequest URL = %q, want %q", got, want)
			}
			m := rec.metrics
			if len(m.Transactions) != 2 {
				t.Fatalf("%d transactions, want 2", len(m.Transactions))
			}
			if got, want := m.Transactions[1].Request.URL.Host, strings.TrimPrefix(strings.TrimPrefix(other.URL, "https://"), "http://"); got != want {
				t.Errorf("second transaction host = %q, want %q", got, want)
			}
		})
	})
}

func TestRedirectLimit(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		// /redirect/15 takes 16 redirects: the most a task follows.
		t.Run("16 redirects", func(t *testing.T) {
			rec := newRecorder()
			task := rdRun(t, srv.config(), rec, get(t, srv.URL+"/redirect/15"))
			if err := task.Err(); err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			e := rdParse(t, rec.Body())
			if e.URI != "GET /jsonBody HTTP/1.1" {
				t.Errorf("uri = %q", e.URI)
			}
			want := []string{"create"}
			for range 16 {
				want = append(want, "redirect 302 GET")
			}
			want = append(want, "response 200", "data", "metrics", "complete")
			rdCheckEvents(t, rec, want...)
			if m := rec.metrics; m.RedirectCount != 16 || len(m.Transactions) != 17 {
				t.Errorf("RedirectCount %d, %d transactions; want 16, 17", m.RedirectCount, len(m.Transactions))
			}
		})
		// /redirect/16 takes 17: one too many.
		t.Run("17 redirects", func(t *testing.T) {
			rec := newRecorder()
			task := rdRun(t, srv.config(), rec, get(t, srv.URL+"/redirect/16"))
			err := task.Err()
			if CodeOf(err) != ErrHTTPTooManyRedirects || !errors.Is(err, ErrHTTPTooManyRedirects) {
				t.Fatalf("err = %v, want code %d", err, ErrHTTPTooManyRedirects)
			}
			ue, ok := err.(*Error)
			if !ok {
				t.Fatalf("err is %T, want *Error", err)
			}
			// The failing hop is the request whose response was the 17th
			// redirect.
			if want := srv.URL + "/redirect/0"; ue.URL != want {
				t.Errorf("error URL = %q, want %q", ue.URL, want)
			}
			if task.State() != TaskCompleted {
				t.Errorf("state = %v, want completed", task.State())
			}
			want := []string{"create"}
			for range 16 {
				want = append(want, "redirect 302 GET")
			}
			want = append(want, "metrics", fmt.Sprintf("complete %d", ErrHTTPTooManyRedirects))
			rdCheckEvents(t, rec, want...)
			if got := rec.Body(); got != "" {
				t.Errorf("body delivered = %q, want none", got)
			}
		})
	})
}

func TestRedirectLoopFails(t *testing.T) {
	srv := urlsessiontest.NewServer(urlsessiontest.RedirectLoop())
	t.Cleanup(srv.Close)
	cfg := baseConfiguration()
	cfg.Proxy = NoProxy
	rec := newRecorder()
	s := newSession(t, cfg, rec)
	task := s.DataTask(get(t, srv.URL+"/a"))
	task.Resume()
	select {
	case <-task.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a redirect loop did not end the task")
	}
	err := task.Err()
	if CodeOf(err) != ErrHTTPTooManyRedirects || !errors.Is(err, ErrHTTPTooManyRedirects) {
		t.Fatalf("err = %v, want code %d", err, ErrHTTPTooManyRedirects)
	}
	if ue, ok := err.(*Error); !ok || ue.URL != srv.URL+"/a"+strings.Repeat("x", 16) {
		t.Errorf("err = %#v, want an *Error for %s", err, srv.URL+"/a"+strings.Repeat("x", 16))
	}
	if got := srv.Requests(); got != 17 {
		t.Errorf("the server got %d requests, want 17", got)
	}
	ev := rdEvents(rec)
	if n := len(ev); n < 2 || ev[n-2] != "metrics" || ev[n-1] != fmt.Sprintf("complete %d", ErrHTTPTooManyRedirects) {
		t.Errorf("events = %q, want them to end with metrics, complete %d", ev, ErrHTTPTooManyRedirects)
	}
}

func TestRedirectDelegateDecides(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		t.Run("follow", func(t *testing.T) {
			rec := newRecorder()
			rec.onRedirect = func(resp *http.Response, req *http.Request) *http.Request { return req }
			task := rdRun(t, srv.config(), rec, get(t, srv.URL+"/302"))
			if err := task.Err(); err != nil {
				t.Fatalf("err = %v", err)
			}
			rdCheckEvents(t, rec, "create", "redirect 302 GET", "response 200", "data", "metrics", "complete")
			if e := rdParse(t, rec.Body()); e.URI != "GET /jsonBody HTTP/1.1" {
				t.Errorf("uri = %q", e.URI)
			}
		})
		t.Run("change", func(t *testing.T) {
			rec := newRecorder()
			rec.onRedirect = func(resp *http.Response, req *http.Request) *http.Request {
				r, err := http.NewRequest(http.MethodGet, srv.URL+"/Italy", nil)
				if err != nil {
					panic(err)
				}
				return r
			}
			task := rdRun(t, srv.config(), rec, get(t, srv.URL+"/302"))
			if err := task.Err(); err != nil {
				t.Fatalf("err = %v", err)
			}
			if got := rec.Body(); got != "Rome" {
				t.Errorf("body = %q, want Rome", got)
			}
			rdCheckEvents(t, rec, "create", "redirect 302 GET", "response 200", "data", "metrics", "complete")
			if got := task.CurrentRequest().URL.Path; got != "/Italy" {
				t.Errorf("CurrentRequest path = %q, want /Italy", got)
			}
			if m := rec.metrics; m.RedirectCount != 1 || len(m.Transactions) != 2 {
				t.Errorf("RedirectCount %d, %d transactions; want 1, 2", m.RedirectCount, len(m.Transactions))
			}
		})
		t.Run("refuse", func(t *testing.T) {
			rec := newRecorder()
			rec.onRedirect = func(*http.Response, *http.Request) *http.Request { return nil }
			task := rdRun(t, srv.config(), rec, get(t, srv.URL+"/302"))
			if err := task.Err(); err != nil {
				t.Fatalf("err = %v", err)
			}
			if got := task.Response().StatusCode; got != 302 {
				t.Errorf("status = %d, want 302", got)
			}
			if got := rec.Body(); got != "Redirecting to GET jsonBody" {
				t.Errorf("body = %q, want the 302's body", got)
			}
			rdCheckEvents(t, rec, "create", "redirect 302 GET", "response 302", "data", "metrics", "complete")
			if got := task.CurrentRequest().URL.Path; got != "/302" {
				t.Errorf("CurrentRequest path = %q, want /302", got)
			}
			if m := rec.metrics; m.RedirectCount != 0 || len(m.Transactions) != 1 {
				t.Errorf("RedirectCount %d, %d transactions; want 0, 1", m.RedirectCount, len(m.Transactions))
			}
		})
	})
}

func TestRedirectMetrics(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		rec := newRecorder()
		task := rdRun(t, srv.config(), rec, get(t, srv.URL+"/redirect/2"))
		if err := task.Err(); err != nil {
			t.Fatalf("err = %v", err)
		}
		m := rec.metrics
		if m.RedirectCount != 3 {
			t.Errorf("RedirectCount = %d, want 3", m.RedirectCount)
		}
		wantPaths := []string{"/redirect/2", "/redirect/1", "/redirect/0", "/jsonBody"}
		wantStatus := []int{302, 302, 302, 200}
		if len(m.Transactions) != len(wantPaths) {
			t.Fatalf("%d transactions, want %d", len(m.Transactions), len(wantPaths))
		}
		for i, tx := range m.Transactions {
			if tx.Request == nil || tx.Request.URL.Path != wantPaths[i] {
				t.Errorf("transaction %d request = %v, want %s", i, tx.Request, wantPaths[i])
			}
			if tx.Response == nil || tx.Response.StatusCode != wantStatus[i] {
				t.Errorf("transaction %d response = %v, want status %d", i, tx.Response, wantStatus[i])
			}
		}
		if got := task.OriginalRequest().URL.Path; got != "/redirect/2" {
			t.Errorf("OriginalRequest path = %q, want /redirect/2", got)
		}
		if got := task.CurrentRequest().URL.Path; got != "/jsonBody" {
			t.Errorf("CurrentRequest path = %q, want /jsonBody", got)
		}
	})
}

func TestRedirectCredentialsStayWithOrigin(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		withCreds := func(target string) *http.Request {
			req := get(t, target)
			req.Header.Set("Authorization", "Bearer secret")
			req.Header.Set("Cookie", "session=1")
			req.Header.Set("Proxy-Authorization", "Basic cHJveHk6c2VjcmV0")
			req.Header["cookie2"] = []string{"legacy=1"} // a key http.Header would not write this way
			req.Header.Set("X-Custom", "kept")
			return req
		}
		t.Run("other origin", func(t *testing.T) {
			other := rdOther(t, srv, capitals)
			rec := newRecorder()
			var inDelegate http.Header
			rec.onRedirect = func(resp *http.Response, req *http.Request) *http.Request {
				inDelegate = req.Header.Clone()
				return req
			}
			task := rdRun(t, srv.config(), rec, withCreds(srv.URL+"/302?location="+url.QueryEscape(other.URL+"/jsonBody")))
			if err := task.Err(); err != nil {
				t.Fatalf("err = %v", err)
			}
			e := rdParse(t, rec.Body())
			for _, k := range []string{"Authorization", "Cookie", "Proxy-Authorization", "Cookie2"} {
				if v, ok := e.Headers[k]; ok {
					t.Errorf("the other origin got %s: %q", k, v)
				}
				for hk, v := range inDelegate {
					if strings.EqualFold(hk, k) {
						t.Errorf("the delegate's new request still has %s: %q", hk, v)
					}
				}
			}
			if got := e.Headers["X-Custom"]; got != "kept" {
				t.Errorf("X-Custom = %q, want kept", got)
			}
		})
		t.Run("same origin", func(t *testing.T) {
			rec := newRecorder()
			task := rdRun(t, srv.config(), rec, withCreds(srv.URL+"/302?location=jsonBody"))
			if err := task.Err(); err != nil {
				t.Fatalf("err = %v", err)
			}
			e := rdParse(t, rec.Body())
			if got := e.Headers["Authorization"]; got != "Bearer secret" {
				t.Errorf("Authorization = %q, want it kept", got)
			}
			if got := e.Headers["Cookie"]; got != "session=1" {
				t.Errorf("Cookie = %q, want it kept", got)
			}
		})
	})
}

func TestRedirectStreamBody(t *testing.T) {
	const payload = "streamed body"
	streamReq := func(t *testing.T, target string) *http.Request {
		req := newReq(t, http.MethodPost, target, "")
		req.Header.Set("Content-Type", "text/plain")
		req.Body = io.NopCloser(strings.NewReader(payload))
		req.ContentLength = int64(len(payload))
		req.GetBody = nil
		return req
	}
	// A stream of unknown length: no Content-Length and no GetBody, so
	// nothing in the redirected request itself says a body must follow.
	unknownLength := func(t *testing.T, target string) *http.Request {
		req := streamReq(t, target)
		req.Body = io.NopCloser(io.MultiReader(strings.NewReader(payload)))
		req.ContentLength = 0
		return req
	}
	log := &rdBodyLog{}
	bothProtocols(t, log, func(t *testing.T, srv *server) {
		for _, c := range []struct {
			name  string
			build func(*testing.T, string) *http.Request
		}{{"known length", streamReq}, {"unknown length", unknownLength}} {
			for _, upload := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s upload=%v", c.name, upload), func(t *testing.T) {
					for _, code := range []int{307, 308} {
						log.take()
						rec := newRecorder()
						s := newSession(t, srv.config(), rec)
						req := c.build(t, fmt.Sprintf("%s/%d?location=jsonBody", srv.URL, code))
						var task *DataTask
						if upload {
							task = s.UploadTaskWithStreamedRequest(req).DataTask
						} else {
							task = s.DataTask(req)
						}
						task.Resume()
						wait(t, task)
						if err := task.Err(); CodeOf(err) != ErrRequestBodyStreamExhausted {
							t.Fatalf("%d: err = %v, want code %d: the body must not be resent empty", code, err, ErrRequestBodyStreamExhausted)
						}
						rdCheckEvents(t, rec, "create", fmt.Sprintf("redirect %d POST", code), "needbody", "metrics",
							fmt.Sprintf("complete %d", ErrRequestBodyStreamExhausted))
						if got, want := log.take(), []string{fmt.Sprintf("/%d %s", code, payload)}; !sameEvents(got, want) {
							t.Errorf("%d: the server received %q, want %q", code, got, want)
						}
					}
				})
			}
		}
		t.Run("new stream of unknown length", func(t *testing.T) {
			log.take()
			rec := newRecorder()
			rec.onStream = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(payload)), nil }
			task := rdRun(t, srv.config(), rec, unknownLength(t, srv.URL+"/307?location=jsonBody"))
			if err := task.Err(); err != nil {
				t.Fatalf("err = %v", err)
			}
			want := []string{"/307 " + payload, "/jsonBody " + payload}
			if got := log.take(); !sameEvents(got, want) {
				t.Errorf("the server received %q, want %q", got, want)
			}
		})
		t.Run("new stream", func(t *testing.T) {
			log.take()
			rec := newRecorder()
			rec.onStream = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(payload)), nil }
			task := rdRun(t, srv.config(), rec, streamReq(t, srv.URL+"/307?location=jsonBody"))
			if err := task.Err(); err != nil {
				t.Fatalf("err = %v", err)
			}
			rdCheckEvents(t, rec, "create", "redirect 307 POST", "needbody", "response 200", "data", "metrics", "complete")
			e := rdParse(t, rec.Body())
			if e.URI != "POST /jsonBody HTTP/1.1" || e.Body != payload {
				t.Errorf("final request %q with body %q, want POST /jsonBody with %q", e.URI, e.Body, payload)
			}
			want := []string{"/307 " + payload, "/jsonBody " + payload}
			if got := log.take(); !sameEvents(got, want) {
				t.Errorf("the server received %q, want %q", got, want)
			}
		})
		t.Run("no new stream", func(t *testing.T) {
			rec := newRecorder()
			task := rdRun(t, srv.config(), rec, streamReq(t, srv.URL+"/307?location=jsonBody"))
			err := task.Err()
			if CodeOf(err) != ErrRequestBodyStreamExhausted || !errors.Is(err, ErrRequestBodyStreamExhausted) {
				t.Fatalf("err = %v, want code %d", err, ErrRequestBodyStreamExhausted)
			}
			if ue, ok := err.(*Error); !ok || ue.URL == "" {
				t.Errorf("err = %#v, want an *Error with a URL", err)
			}
			rdCheckEvents(t, rec, "create", "redirect 307 POST", "needbody", "metrics",
				fmt.Sprintf("complete %d", ErrRequestBodyStreamExhausted))
		})
		t.Run("no delegate", func(t *testing.T) {
			s := newSession(t, srv.config(), nil)
			task := s.DataTask(streamReq(t, srv.URL+"/307?location=jsonBody"))
			task.Resume()
			wait(t, task)
			if err := task.Err(); CodeOf(err) != ErrRequestBodyStreamExhausted {
				t.Fatalf("err = %v, want code %d", err, ErrRequestBodyStreamExhausted)
			}
		})
	})
}

func TestRedirectUploadResendsBody(t *testing.T) {
	const payload = "upload body"
	log := &rdBodyLog{}
	bothProtocols(t, log, func(t *testing.T, srv *server) {
		for _, c := range []struct {
			code   int
			method string
		}{{307, http.MethodPost}, {308, http.MethodPut}} {
			t.Run(fmt.Sprintf("%d-%s", c.code, c.method), func(t *testing.T) {
				log.take()
				rec := newRecorder()
				s := newSession(t, srv.config(), rec)
				task := s.UploadTask(newReq(t, c.method, fmt.Sprintf("%s/%d?location=jsonBody", srv.URL, c.code), ""), []byte(payload))
				task.Resume()
				wait(t, task)
				if err := task.Err(); err != nil {
					t.Fatalf("err = %v", err)
				}
				rdCheckEvents(t, rec, "create", fmt.Sprintf("redirect %d %s", c.code, c.method), "response 200", "data", "metrics", "complete")
				e := rdParse(t, rec.Body())
				if want := c.method + " /jsonBody HTTP/1.1"; e.URI != want || e.Body != payload {
					t.Errorf("final request %q with body %q, want %q with %q", e.URI, e.Body, want, payload)
				}
				want := []string{fmt.Sprintf("/%d %s", c.code, payload), "/jsonBody " + payload}
				if got := log.take(); !sameEvents(got, want) {
					t.Errorf("the server received %q, want %q", got, want)
				}
			})
		}
	})
}

func TestRedirectCompletionHandlerAsksDelegate(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		rec := newRecorder()
		s := newSession(t, srv.config(), rec)
		var body string
		var status int
		var gotErr error
		task := s.DataTaskWithCompletion(get(t, srv.URL+"/302"), func(b []byte, resp *http.Response, err error) {
			body, gotErr = string(b), err
			if resp != nil {
				status = resp.StatusCode
			}
			rec.add("handler")
		})
		task.Resume()
		wait(t, task)
		if gotErr != nil || status != 200 {
			t.Fatalf("handler got status %d, err %v", status, gotErr)
		}
		if e := rdParse(t, body); e.URI != "GET /jsonBody HTTP/1.1" {
			t.Errorf("uri = %q", e.URI)
		}
		rdCheckEvents(t, rec, "create", "redirect 302 GET", "metrics", "handler")
	})
}
