package urlsession

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"
)

type ctxKey struct{}

func TestOptionsFollowTheRequest(t *testing.T) {
	orig := get(t, "http://example.test/a?q=1")
	want := RequestOptions{TimeoutInterval: 7 * time.Second, CachePolicy: ReturnCacheDataElseLoad}
	req := WithOptions(orig, want)
	derived := context.WithValue(req.Context(), ctxKey{}, 1)
	copied := *req
	inPlace := req.WithContext(context.Background())
	inPlace.URL.Path = "/b" // changing the URL in place keeps them

	for _, tt := range []struct {
		name string
		r    *http.Request
		has  bool
	}{
		{"WithOptions", req, true},
		{"WithContext(Background)", req.WithContext(context.Background()), true},
		{"WithContext(derived)", req.WithContext(derived), true},
		{"WithContext twice", req.WithContext(context.TODO()).WithContext(context.Background()), true},
		{"a copy of the struct", &copied, true},
		{"URL changed in place", inPlace, true},
		{"Clone(own context)", req.Clone(req.Context()), true},
		{"Clone(derived)", req.Clone(derived), true},

		// Unrelated requests.
		{"the request given to WithOptions", orig, false},
		{"another request for the same URL", get(t, "http://example.test/a?q=1"), false},
		{"a request sharing the given request's URL", &http.Request{Method: "GET", URL: orig.URL, Header: http.Header{}}, false},
		{"Clone(Background)", req.Clone(context.Background()), false},
		// A clone has a URL of its own, so has the options only while its
		// context carries them.
		{"Clone(derived).WithContext(Background)", req.Clone(derived).WithContext(context.Background()), false},
		{"a request with the URL replaced", func() *http.Request {
			r := req.WithContext(context.Background())
			u := *r.URL
			r.URL = &u
			return r
		}(), false},
		{"a nil request", nil, false},
	} {
		got, ok := OptionsOf(tt.r)
		switch {
		case ok != tt.has:
			t.Errorf("%s: has options %v, want %v", tt.name, ok, tt.has)
		case ok && got != want:
			t.Errorf("%s: options %+v, want %+v", tt.name, got, want)
		case !ok && got != (RequestOptions{}):
			t.Errorf("%s: no options but %+v", tt.name, got)
		}
	}
	if req.URL == orig.URL || orig.URL.Path != "/a" {
		t.Error("WithOptions shares or changed the given request's URL")
	}

	// A later WithOptions replaces the options, on every path.
	again := RequestOptions{TimeoutInterval: time.Second}
	r2 := WithOptions(req, again)
	for name, r := range map[string]*http.Request{
		"WithOptions": r2, "WithContext": r2.WithContext(context.Background()), "Clone": r2.Clone(r2.Context()),
	} {
		if got, _ := OptionsOf(r); got != again {
			t.Errorf("%s after a second WithOptions: %+v, want %+v", name, got, again)
		}
	}
	if got, _ := OptionsOf(req); got != want {
		t.Errorf("the first request's options changed to %+v", got)
	}
}

// TestOptionsSurviveWithContext: a task loads a request with options whose
// context was replaced as its options say.
func TestOptionsSurviveWithContext(t *testing.T) {
	bothProtocols(t, cookieServer(), func(t *testing.T, srv *server) {
		cfg := ephemeralConfig(srv)
		s := newSession(t, cfg, nil)
		fetchBody(t, s, get(t, srv.URL+"/set"))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req := WithOptions(get(t, srv.URL+"/echo"), RequestOptions{DoNotHandleCookies: true}).WithContext(ctx)
		if got := fetchBody(t, s, req); got != "" {
			t.Errorf("a request with DoNotHandleCookies, given a new context, sent Cookie %q", got)
		}
		var sent string
		task := s.DataTaskWithCompletion(req, func(body []byte, _ *http.Response, err error) {
			if err != nil {
				t.Error(err)
			}
			sent = string(body)
		})
		task.Resume()
		wait(t, task)
		if sent != "" {
			t.Errorf("a DataTask with DoNotHandleCookies, given a new context, sent Cookie %q", sent)
		}
	})
}

// TestOptionsTableForgets: the side table drops an entry once its request
// is gone, and an address reused by a new URL never finds an old entry.
func TestOptionsTableForgets(t *testing.T) {
	var entries []*optionsEntry
	for i := range 200 {
		r := WithOptions(get(t, "http://example.test/"), RequestOptions{TimeoutInterval: time.Duration(i + 1)})
		v, ok := optionsByURL.Load(uintptr(unsafe.Pointer(r.URL)))
		if !ok {
			t.Fatal("WithOptions made no entry")
		}
		entries = append(entries, v.(*optionsEntry))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		runtime.GC()
		left := 0
		for _, e := range entries {
			if v, ok := optionsByURL.Load(e.key); ok && v == e {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d entries are still in the table", left, len(entries))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOptionsConcurrentNeverLeak(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 4 {
		wg.Go(func() {
			for i := range 3000 {
				want := RequestOptions{TimeoutInterval: time.Duration(g*1e6 + i + 1)}
				r := WithOptions(&http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "h.test"}}, want)
				if got, ok := OptionsOf(r.WithContext(context.Background())); !ok || got != want {
					errs <- "a request lost or mixed up its options"
					return
				}
				// A new URL, perhaps at the address of a collected one that
				// had options.
				plain := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "h.test"}}
				if got, ok := OptionsOf(plain); ok {
					errs <- "a new request has options " + got.TimeoutInterval.String()
					return
				}
				if i%500 == 0 {
					runtime.GC()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
