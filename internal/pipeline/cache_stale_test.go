package pipeline

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// stage returns the env's Cache stage.
func (e *env) stage() *Cache { return e.chain[2].(*Cache) }

// blocked is a reply that waits for release before answering with r. So
// that a client that wrongly waits for it fails rather than hangs, it
// answers anyway after a long while, and gives up at the end of the test.
func blocked(t *testing.T, release <-chan struct{}, r reply) reply {
	return reply{f: func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-time.After(time.Minute):
			t.Error("the client waited for a reply it should not wait for")
		case <-t.Context().Done():
			return
		}
		for _, l := range r.headers {
			k, v, _ := cutHeader(l)
			w.Header().Add(k, v)
		}
		if r.status != 0 {
			w.WriteHeader(r.status)
		}
		io.WriteString(w, r.body)
	}}
}

func cutHeader(l string) (string, string, bool) {
	for i := 0; i < len(l); i++ {
		if l[i] == ':' {
			k, v := l[:i], l[i+1:]
			for len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			return k, v, true
		}
	}
	return l, "", false
}

func TestCacheStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	t.Run("served stale, revalidated with a 200 in the background", func(t *testing.T) {
		e := newEnv(t)
		release := make(chan struct{})
		h := []string{"Cache-Control: max-age=60, stale-while-revalidate=30", "ETag: v1"}
		e.o.enqueue(reply{body: "A", headers: h},
			blocked(t, release, reply{body: "B", headers: []string{"Cache-Control: max-age=600", "ETag: v2"}}))
		e.wantBody("/", "A")
		e.clk.Advance(70 * time.Second)
		// The server has not answered: the stale response comes at once.
		resp, body := e.get("/")
		if body != "A" || resp.Header.Get("Age") != "70" {
			t.Errorf("stale answer %q, Age %q; want A, 70", body, resp.Header.Get("Age"))
		}
		close(release)
		e.stage().Wait()
		e.wantCount(2)
		if r := e.o.request(1); r.Header.Get("If-None-Match") != "v1" {
			t.Errorf("the revalidation was not conditional: %v", r.Header)
		}
		if txs := e.last.Transactions(); len(txs) != 1 || txs[0].Snapshot().FetchType != FetchLocalCache {
			t.Errorf("the stale answer's transactions: %d, want one local-cache", len(txs))
		}
		e.wantBody("/", "B")
		e.wantCount(2)
	})
	t.Run("revalidated with a 304", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60, stale-while-revalidate=30", "ETag: v1", "X-V: 1"}},
			reply{status: 304, headers: []string{"Cache-Control: max-age=600", "ETag: v1", "X-V: 2"}})
		e.wantBody("/", "A")
		e.clk.Advance(70 * time.Second)
		e.wantBody("/", "A")
		e.stage().Wait()
		e.wantCount(2)
		e.clk.Advance(300 * time.Second)
		if r, b := e.get("/"); b != "A" || r.Header.Get("X-V") != "2" {
			t.Errorf("after the 304: %q X-V %q, want the merged A", b, r.Header.Get("X-V"))
		}
		e.wantCount(2)
	})
	t.Run("neither freshness nor a validator", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=0, stale-while-revalidate=30"}}, reply{body: "B"})
		e.wantBody("/", "A")
		e.clk.Advance(10 * time.Second)
		e.wantBody("/", "A")
		e.stage().Wait()
		e.wantCount(2)
	})
	t.Run("beyond the window", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60, stale-while-revalidate=30"}}, reply{body: "B"})
		e.wantBody("/", "A")
		e.clk.Advance(91 * time.Second)
		e.wantBody("/", "B")
		e.stage().Wait()
		e.wantCount(2)
	})
	t.Run("must-revalidate", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60, stale-while-revalidate=30, must-revalidate"}}, reply{body: "B"})
		e.wantBody("/", "A")
		e.clk.Advance(70 * time.Second)
		e.wantBody("/", "B")
	})
	t.Run("one revalidation at a time, outliving the task", func(t *testing.T) {
		e := newEnv(t)
		release := make(chan struct{})
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60, stale-while-revalidate=30"}},
			blocked(t, release, reply{body: "B", headers: []string{"Cache-Control: max-age=600"}}))
		e.wantBody("/", "A")
		e.clk.Advance(70 * time.Second)
		for range 3 {
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", e.o.url("/"), nil)
			resp, err := e.chain.Do(ctx, &Call{Hooks: testHooks{}}, req)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := io.ReadAll(resp.Body); string(b) != "A" {
				t.Errorf("stale answer %q", b)
			}
			resp.Body.Close()
			cancel() // the task ends; its revalidation does not
		}
		close(release)
		e.stage().Wait()
		e.wantCount(2)
		e.wantBody("/", "B")
	})
	t.Run("ends at the timeout", func(t *testing.T) {
		e := newEnv(t)
		e.stage().RevalidationTimeout = time.Millisecond
		never := make(chan struct{})
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60, stale-while-revalidate=30"}},
			blocked(t, never, reply{body: "B"}))
		e.wantBody("/", "A")
		e.clk.Advance(70 * time.Second)
		e.wantBody("/", "A")
		e.stage().Wait() // returns although the server never answers
		if cr := e.stored("/"); cr == nil || string(cr.Body) != "A" {
			t.Errorf("after a revalidation that timed out: %v, want A still stored", cr)
		}
	})
}

func TestCacheStaleIfError(t *testing.T) {
	t.Parallel()
	// A malformed answer fails the request without the transport's retry
	// of a request that found its connection closed.
	hangUp := reply{raw: "this is no HTTP\r\n\r\n"}
	for _, tc := range []struct {
		name    string
		headers []string
		req     []string
		age     time.Duration
		failure reply
		want    string // body; "error" for a transport error
	}{
		{"503 within the window", []string{"Cache-Control: max-age=60, stale-if-error=300"}, nil, 120 * time.Second, reply{status: 503, body: "down"}, "A"},
		{"500 within the window", []string{"Cache-Control: max-age=60, stale-if-error=300"}, nil, 120 * time.Second, reply{status: 500, body: "down"}, "A"},
		{"504, validating", []string{"Cache-Control: max-age=60, stale-if-error=300", "ETag: v1"}, nil, 120 * time.Second, reply{status: 504, body: "down"}, "A"},
		{"network error", []string{"Cache-Control: max-age=60, stale-if-error=300"}, nil, 120 * time.Second, hangUp, "A"},
		{"beyond the window", []string{"Cache-Control: max-age=60, stale-if-error=300"}, nil, 361 * time.Second, reply{status: 503, body: "down"}, "down"},
		{"network error beyond the window", []string{"Cache-Control: max-age=60, stale-if-error=300"}, nil, 361 * time.Second, hangUp, "error"},
		{"501 is no error", []string{"Cache-Control: max-age=60, stale-if-error=300"}, nil, 120 * time.Second, reply{status: 501, body: "nope"}, "nope"},
		{"no window", []string{"Cache-Control: max-age=60"}, nil, 120 * time.Second, reply{status: 503, body: "down"}, "down"},
		{"neither freshness nor a validator", []string{"Cache-Control: max-age=0, stale-if-error=300"}, nil, 10 * time.Second, reply{status: 503, body: "down"}, "A"},
		{"the request's window", []string{"Cache-Control: max-age=60"}, []string{"Cache-Control: stale-if-error=600"}, 120 * time.Second, reply{status: 503, body: "down"}, "A"},
		{"must-revalidate", []string{"Cache-Control: max-age=60, stale-if-error=300, must-revalidate", "ETag: v1"}, nil, 120 * time.Second, reply{status: 503, body: "down"}, "down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.o.enqueue(reply{body: "A", headers: tc.headers}, tc.failure)
			e.wantBody("/", "A")
			e.clk.Advance(tc.age)
			resp, err := e.do("GET", "/", tc.req...)
			if tc.want == "error" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got %d, want the transport's error", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tc.want {
				t.Errorf("body %q, want %q", b, tc.want)
			}
			if tc.want == "A" && (resp.StatusCode != 200 || resp.Header.Get("Age") == "" || resp.Header.Get("Age") == "0") {
				t.Errorf("stale answer %d Age %q, want 200 and a visible age", resp.StatusCode, resp.Header.Get("Age"))
			}
			e.wantCount(2)
			if tc.want == "A" {
				if cr := e.stored("/"); cr == nil || string(cr.Body) != "A" {
					t.Error("the stale entry was not kept")
				}
			}
		})
	}
	t.Run("not for other cache policies", func(t *testing.T) {
		e := newEnv(t)
		e.o.enqueue(reply{body: "A", headers: []string{"Cache-Control: max-age=60, stale-if-error=300", "ETag: v1"}}, reply{status: 503, body: "down"})
		e.wantBody("/", "A")
		e.clk.Advance(120 * time.Second)
		e.policy = ReloadRevalidatingCacheData
		e.wantBody("/", "down")
	})
}
