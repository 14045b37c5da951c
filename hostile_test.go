package urlsession

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// hsBound is how long a task against a hostile server may take at most.
const hsBound = 5 * time.Second

func hsConfig() *Configuration {
	c := baseConfiguration()
	c.Proxy = NoProxy
	return c
}

// hsServer starts a scripted server closed at the end of the test.
func hsServer(t *testing.T, script func(*urlsessiontest.Conn)) *urlsessiontest.Server {
	t.Helper()
	srv := urlsessiontest.NewServer(script)
	t.Cleanup(srv.Close)
	return srv
}

// hsRun runs req as a data task of a new session whose delegate records its
// callbacks, failing the test if it does not complete within hsBound.
func hsRun(t *testing.T, cfg *Configuration, req *http.Request) (*DataTask, *recorder, time.Duration) {
	t.Helper()
	rec := newRecorder()
	s := newSession(t, cfg, rec)
	task := s.DataTask(req)
	start := time.Now()
	task.Resume()
	select {
	case <-task.Done():
	case <-time.After(hsBound):
		t.Fatalf("the task did not complete within %v (events %q)", hsBound, rec.Events())
	}
	return task, rec, time.Since(start)
}

// hsFailed checks that task failed with code want: an *Error (with its URL
// set when withURL) delivered to the delegate, the task completed, and the
// last two callbacks the metrics and the completion.
func hsFailed(t *testing.T, task *DataTask, rec *recorder, want Code, withURL bool) *Error {
	t.Helper()
	err := task.Err()
	if got := CodeOf(err); got != want {
		t.Errorf("code = %d (%v), want %d (%v); err = %v", got, got, want, want, err)
	}
	if !errors.Is(err, want) {
		t.Errorf("errors.Is(%v, %v) = false", err, want)
	}
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("err is %T, want *Error", err)
	}
	if withURL && e.URL == "" {
		t.Errorf("the error has no URL: %v", err)
	}
	if got := task.State(); got != TaskCompleted {
		t.Errorf("state = %v, want completed", got)
	}
	rec.mu.Lock()
	recErr := rec.err
	rec.mu.Unlock()
	if recErr != err {
		t.Errorf("the delegate got %v, the task has %v", recErr, err)
	}
	ev := rec.Events()
	wantTail := []string{"metrics", fmt.Sprintf("complete %d", want)}
	if len(ev) < 2 || !sameEvents(ev[len(ev)-2:], wantTail) {
		t.Errorf("events = %q, want them to end with %q", ev, wantTail)
	}
	return e
}

// hsNoResponse checks that no response was delivered.
func hsNoResponse(t *testing.T, task *DataTask, rec *recorder) {
	t.Helper()
	if resp := task.Response(); resp != nil {
		t.Errorf("Response() = status %d, want nil", resp.StatusCode)
	}
	for _, e := range rec.Events() {
		if strings.HasPrefix(e, "response") {
			t.Errorf("events = %q, want no response", rec.Events())
			break
		}
	}
}

func TestHostileInvalidStatusLine(t *testing.T) {
	cases := []struct {
		name   string
		script func(*urlsessiontest.Conn)
	}{
		{"no status", urlsessiontest.Raw("HTTP/1.1\r\n\r\n")},
		{"two digits", urlsessiontest.StatusLine("HTTP/1.1 20 OK")},
		{"four digits", urlsessiontest.StatusLine("HTTP/1.1 2000 OK")},
		{"garbage", urlsessiontest.Raw("SSH-2.0-OpenSSH_9.6\r\n\r\n")},
		{"binary garbage", urlsessiontest.Raw("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n")},
		{"bad version", urlsessiontest.StatusLine("HTTP/x.y 200 OK")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := hsServer(t, c.script)
			task, rec, _ := hsRun(t, hsConfig(), get(t, srv.URL+"/"))
			hsFailed(t, task, rec, ErrBadServerResponse, true)
			hsNoResponse(t, task, rec)
		})
	}
}

func TestHostileStatus999(t *testing.T) {
	srv := hsServer(t, urlsessiontest.StatusLine("HTTP/1.1 999 Wrong Code"))
	task, rec, _ := hsRun(t, hsConfig(), get(t, srv.URL+"/"))
	if err := task.Err(); err != nil {
		t.Fatalf("err = %v, want nil", err)
	}
	if resp := task.Response(); resp == nil || resp.StatusCode != 999 {
		t.Fatalf("response = %v, want status 999", resp)
	}
	want := []string{"create", "response 999", "metrics", "complete"}
	if got := rec.Events(); !sameEvents(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestHostileLyingContentLength(t *testing.T) {
	const sent = "0123456789"
	srv := hsServer(t, urlsessiontest.LyingContentLength(100, sent))
	task, rec, _ := hsRun(t, hsConfig(), get(t, srv.URL+"/"))
	hsFailed(t, task, rec, ErrNetworkConnectionLost, true)
	if got := task.CountOfBytesReceived(); got != int64(len(sent)) {
		t.Errorf("CountOfBytesReceived = %d, want %d", got, len(sent))
	}
	if got := task.CountOfBytesExpectedToReceive(); got != 100 {
		t.Errorf("CountOfBytesExpectedToReceive = %d, want 100", got)
	}
	if got := rec.Body(); got != sent {
		t.Errorf("body delivered = %q, want %q", got, sent)
	}
	if ev := rec.Events(); len(ev) < 2 || ev[1] != "response 200" {
		t.Errorf("events = %q, want the response delivered", ev)
	}
}

func TestHostileNoLengthBodyEndsAtClose(t *testing.T) {
	body := strings.Repeat("no length here. ", 5000)
	srv := hsServer(t, urlsessiontest.NoLength(body))
	task, rec, _ := hsRun(t, hsConfig(), get(t, srv.URL+"/"))
	if err := task.Err(); err != nil {
		t.Fatalf("err = %v, want nil", err)
	}
	if got := rec.Body(); got != body {
		t.Errorf("body has %d bytes, want %d", len(got), len(body))
	}
	if got := task.CountOfBytesExpectedToReceive(); got != TransferSizeUnknown {
		t.Errorf("CountOfBytesExpectedToReceive = %d, want -1", got)
	}
	want := []string{"create", "response 200", "data", "metrics", "complete"}
	if got := rec.Events(); !sameEvents(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestHostileHugeHeaders(t *testing.T) {
	srv := hsServer(t, urlsessiontest.HugeHeaders(2<<20))
	task, rec, _ := hsRun(t, hsConfig(), get(t, srv.URL+"/"))
	hsFailed(t, task, rec, ErrBadServerResponse, true)
	hsNoResponse(t, task, rec)
}

func TestHostileServerNeverAnswers(t *testing.T) {
	srv := hsServer(t, urlsessiontest.Hang())
	cfg := hsConfig()
	cfg.TimeoutIntervalForRequest = 300 * time.Millisecond
	task, rec, took := hsRun(t, cfg, get(t, srv.URL+"/"))
	hsFailed(t, task, rec, ErrTimedOut, true)
	hsNoResponse(t, task, rec)
	if took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("the task timed out after %v, want about 300ms", took)
	}
}

func TestHostileServerClosesWithoutAnswer(t *testing.T) {
	// Apple reports an empty reply as a lost connection (-1005).
	srv := hsServer(t, urlsessiontest.Raw(""))
	task, rec, _ := hsRun(t, hsConfig(), get(t, srv.URL+"/"))
	hsFailed(t, task, rec, ErrNetworkConnectionLost, true)
	hsNoResponse(t, task, rec)
}

func TestHostileServerResets(t *testing.T) {
	srv := hsServer(t, func(c *urlsessiontest.Conn) { c.Reset() })
	task, rec, _ := hsRun(t, hsConfig(), get(t, srv.URL+"/"))
	hsFailed(t, task, rec, ErrNetworkConnectionLost, true)
	hsNoResponse(t, task, rec)
}

func TestHostileConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	task, rec, _ := hsRun(t, hsConfig(), get(t, "http://"+addr+"/"))
	e := hsFailed(t, task, rec, ErrCannotConnectToHost, true)
	if want := "http://" + addr + "/"; e.URL != want {
		t.Errorf("error URL = %q, want %q", e.URL, want)
	}
	hsNoResponse(t, task, rec)
}

func TestHostileBadURLs(t *testing.T) {
	t.Run("port out of range", func(t *testing.T) {
		task, rec, _ := hsRun(t, hsConfig(), get(t, "http://127.0.0.1:999999/"))
		e := hsFailed(t, task, rec, ErrBadURL, true)
		if e.URL != "http://127.0.0.1:999999/" {
			t.Errorf("error URL = %q", e.URL)
		}
		hsNoResponse(t, task, rec)
	})
	t.Run("unknown scheme", func(t *testing.T) {
		task, rec, _ := hsRun(t, hsConfig(), get(t, "foobar://x"))
		e := hsFailed(t, task, rec, ErrUnsupportedURL, true)
		if e.URL != "foobar://x" {
			t.Errorf("error URL = %q", e.URL)
		}
		hsNoResponse(t, task, rec)
	})
	t.Run("nil URL", func(t *testing.T) {
		req := &http.Request{Method: http.MethodGet, Header: http.Header{}}
		task, rec, _ := hsRun(t, hsConfig(), req)
		// There is no URL to report.
		hsFailed(t, task, rec, ErrUnsupportedURL, false)
		hsNoResponse(t, task, rec)
		want := []string{"create", "metrics", fmt.Sprintf("complete %d", ErrUnsupportedURL)}
		if got := rec.Events(); !sameEvents(got, want) {
			t.Errorf("events = %q, want %q", got, want)
		}
	})
}

func TestHostileCorruptGzip(t *testing.T) {
	garbage := "this is certainly not a gzip stream"
	srv := hsServer(t, urlsessiontest.Raw("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "+
		strconv.Itoa(len(garbage))+"\r\n\r\n"+garbage))
	task, rec, _ := hsRun(t, hsConfig(), get(t, srv.URL+"/"))
	hsFailed(t, task, rec, ErrCannotDecodeRawData, true)
	if ev := rec.Events(); len(ev) < 2 || ev[0] != "create" || ev[1] != "response 200" {
		t.Errorf("events = %q, want create, response 200 first", ev)
	}
	if got := rec.Body(); strings.Contains(got, garbage) {
		t.Errorf("the undecodable body was delivered: %q", got)
	}
}

func TestHostileEncodedBodies(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		for _, path := range []string{"/gzipped-response", "/deflate-response", "/brotli-response"} {
			t.Run(path, func(t *testing.T) {
				task, rec, _ := hsRun(t, srv.config(), get(t, srv.URL+path))
				if err := task.Err(); err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				if got := rec.Body(); got != "Hello World!" {
					t.Errorf("body = %q, want Hello World!", got)
				}
				if got := task.CountOfBytesExpectedToReceive(); got != TransferSizeUnknown {
					t.Errorf("CountOfBytesExpectedToReceive = %d, want -1", got)
				}
				if got := task.CountOfBytesReceived(); got != 12 {
					t.Errorf("CountOfBytesReceived = %d, want 12", got)
				}
				m := rec.metrics
				if len(m.Transactions) != 1 || m.Transactions[0].Request == nil {
					t.Fatalf("metrics = %+v, want one transaction with its request", m)
				}
				ae := m.Transactions[0].Request.Header.Get("Accept-Encoding")
				for _, c := range []string{"gzip", "deflate", "br"} {
					if !slices.Contains(hsCodings(ae), c) {
						t.Errorf("Accept-Encoding %q does not list %s", ae, c)
					}
				}
			})
		}
		t.Run("server sees Accept-Encoding", func(t *testing.T) {
			task, rec, _ := hsRun(t, srv.config(), get(t, srv.URL+"/requestHeaders"))
			if err := task.Err(); err != nil {
				t.Fatalf("err = %v", err)
			}
			var h map[string]string
			if err := json.Unmarshal([]byte(rec.Body()), &h); err != nil {
				t.Fatal(err)
			}
			ae := h["Accept-Encoding"]
			for _, c := range []string{"gzip", "deflate", "br"} {
				if !slices.Contains(hsCodings(ae), c) {
					t.Errorf("the server got Accept-Encoding %q, which does not list %s", ae, c)
				}
			}
		})
	})
}

// hsCodings splits an Accept-Encoding value into its codings, without
// weights.
func hsCodings(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		c, _, _ := strings.Cut(p, ";")
		out = append(out, strings.ToLower(strings.TrimSpace(c)))
	}
	return out
}

func TestHostileErrorStatusesAreResponses(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		capitals.ServeHTTP(w, r)
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		cases := []struct {
			path   string
			status int
			body   string
		}{
			{"/no-such-capital", 404, "404 page not found\n"},
			{"/boom", 500, "boom\n"},
			{"/404", 404, ""},
			{"/500", 500, ""},
		}
		for _, c := range cases {
			t.Run(c.path, func(t *testing.T) {
				task, rec, _ := hsRun(t, srv.config(), get(t, srv.URL+c.path))
				if err := task.Err(); err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				if got := task.Response().StatusCode; got != c.status {
					t.Errorf("status = %d, want %d", got, c.status)
				}
				if got := rec.Body(); got != c.body {
					t.Errorf("body = %q, want %q", got, c.body)
				}
				want := []string{"create", fmt.Sprintf("response %d", c.status), "data", "metrics", "complete"}
				if c.body == "" {
					want = slices.DeleteFunc(want, func(e string) bool { return e == "data" })
				}
				if got := rec.Events(); !sameEvents(got, want) {
					t.Errorf("events = %q, want %q", got, want)
				}
			})
		}
	})
}
