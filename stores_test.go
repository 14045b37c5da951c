package urlsession

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/urlcache"
)

// cookieServer sets cookies and echoes the Cookie header it receives.
func cookieServer() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "fr=anjd&232; Max-Age=3600")
		w.Header().Add("Set-Cookie", "nm=sddf&232")
		w.Header().Add("Set-Cookie", "foreign=1; Domain=.swift.org")
		fmt.Fprint(w, "set")
	})
	mux.HandleFunc("/redirect-set", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "hop=1")
		http.Redirect(w, r, "/echo", http.StatusFound)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("Cookie"))
	})
	return mux
}

func ephemeralConfig(srv *server) *Configuration {
	c := EphemeralConfiguration()
	base := srv.config()
	c.Proxy, c.TLSClientConfig = base.Proxy, base.TLSClientConfig
	return c
}

func fetchBody(t *testing.T, s *Session, req *http.Request) string {
	t.Helper()
	body, _, err := s.Data(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func TestCookiesStoredAndSent(t *testing.T) {
	bothProtocols(t, cookieServer(), func(t *testing.T, srv *server) {
		cfg := ephemeralConfig(srv)
		s := newSession(t, cfg, nil)
		fetchBody(t, s, get(t, srv.URL+"/set"))
		all := cfg.HTTPCookieStorage.AllCookies()
		if len(all) != 2 {
			t.Fatalf("stored %d cookies, want 2 (the .swift.org one rejected): %v", len(all), all)
		}
		if got := fetchBody(t, s, get(t, srv.URL+"/echo")); !strings.Contains(got, "fr=anjd&232") || !strings.Contains(got, "nm=sddf&232") {
			t.Errorf("Cookie header %q lacks the stored cookies", got)
		}
		// A cookie set on a redirect is sent on the next hop.
		if got := fetchBody(t, s, get(t, srv.URL+"/redirect-set")); !strings.Contains(got, "hop=1") {
			t.Errorf("redirected request carried %q, want hop=1", got)
		}
		// The request's own Cookie header is kept, stored ones follow.
		req := get(t, srv.URL+"/echo")
		req.Header.Set("Cookie", "mine=1")
		if got := fetchBody(t, s, req); !strings.HasPrefix(got, "mine=1; ") {
			t.Errorf("Cookie header %q, want the request's own first", got)
		}
		// DoNotHandleCookies sends none and stores none.
		req = WithOptions(get(t, srv.URL+"/echo"), RequestOptions{DoNotHandleCookies: true})
		if got := fetchBody(t, s, req); got != "" {
			t.Errorf("DoNotHandleCookies sent %q", got)
		}
	})
}

func TestCookiePolicies(t *testing.T) {
	bothProtocols(t, cookieServer(), func(t *testing.T, srv *server) {
		cfg := ephemeralConfig(srv)
		cfg.HTTPCookieAcceptPolicy = CookieAcceptNever
		s := newSession(t, cfg, nil)
		fetchBody(t, s, get(t, srv.URL+"/set"))
		if n := len(cfg.HTTPCookieStorage.AllCookies()); n != 0 {
			t.Errorf("policy Never stored %d cookies", n)
		}

		cfg = ephemeralConfig(srv)
		s = newSession(t, cfg, nil)
		other, _ := url.Parse("https://elsewhere.example/")
		fetchBody(t, s, WithOptions(get(t, srv.URL+"/set"), RequestOptions{MainDocumentURL: other}))
		if n := len(cfg.HTTPCookieStorage.AllCookies()); n != 0 {
			t.Errorf("a main document from another domain let %d cookies in", n)
		}

		cfg = ephemeralConfig(srv)
		cfg.DoNotSendCookies = true
		s = newSession(t, cfg, nil)
		fetchBody(t, s, get(t, srv.URL+"/set"))
		if got := fetchBody(t, s, get(t, srv.URL+"/echo")); got != "" {
			t.Errorf("DoNotSendCookies sent %q", got)
		}
	})
}

func TestEphemeralStoresArePrivate(t *testing.T) {
	srv := &server{newLoopbackServer(t, cookieServer()), "h1"}
	a, b := ephemeralConfig(srv), ephemeralConfig(srv)
	fetchBody(t, newSession(t, a, nil), get(t, srv.URL+"/set"))
	if len(a.HTTPCookieStorage.AllCookies()) != 2 || len(b.HTTPCookieStorage.AllCookies()) != 0 {
		t.Error("ephemeral configurations share cookies")
	}
	if a.URLCache == b.URLCache || a.URLCredentialStorage == b.URLCredentialStorage || a.URLCache.DiskCapacity() != 0 {
		t.Error("ephemeral stores are shared or on disk")
	}
}

// cacheServer serves a cacheable response and counts the requests.
func cacheServer(hits *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		switch r.URL.Path {
		case "/fresh":
			w.Header().Set("Cache-Control", "max-age=60")
		case "/stale":
			w.Header().Set("Cache-Control", "no-cache")
		}
		fmt.Fprint(w, "cached body "+r.URL.Path)
	})
}

type cacheRecorder struct {
	*recorder
	refuse bool
	asked  atomic.Int32
}

func (c *cacheRecorder) WillCacheResponse(s *Session, t *DataTask, proposed *urlcache.CachedResponse) *urlcache.CachedResponse {
	c.asked.Add(1)
	if c.refuse {
		return nil
	}
	proposed.UserInfo = map[string]string{"by": "delegate"}
	return proposed
}

func TestCachePolicies(t *testing.T) {
	var hits atomic.Int32
	bothProtocols(t, cacheServer(&hits), func(t *testing.T, srv *server) {
		cfg := srv.config()
		cfg.URLCache, _ = urlcache.New(urlcache.Options{MemoryCapacity: 1 << 20})
		rec := &cacheRecorder{recorder: newRecorder()}
		s := newSession(t, cfg, rec)
		hits.Store(0)
		for range 3 {
			if got := fetchBody(t, s, get(t, srv.URL+"/fresh")); got != "cached body /fresh" {
				t.Fatalf("body %q", got)
			}
		}
		if n := hits.Load(); n != 1 {
			t.Errorf("fresh response fetched %d times, want 1", n)
		}
		if rec.asked.Load() != 1 {
			t.Errorf("WillCacheResponse asked %d times, want 1", rec.asked.Load())
		}
		if cr := cfg.URLCache.CachedResponse(get(t, srv.URL+"/fresh")); cr == nil || cr.UserInfo["by"] != "delegate" {
			t.Errorf("stored entry %+v lacks the delegate's user info", cr)
		}
		// A hit is a local fetch in the metrics.
		task := s.DataTask(get(t, srv.URL+"/fresh"))
		task.Resume()
		wait(t, task)
		if m := rec.metrics; len(m.Transactions) != 1 || m.Transactions[0].ResourceFetchType != FetchTypeLocalCache {
			t.Errorf("cache hit metrics: %+v", m.Transactions)
		}

		// no-cache: revalidated every time; a 304 serves the stored body.
		hits.Store(0)
		for range 2 {
			if got := fetchBody(t, s, get(t, srv.URL+"/stale")); got != "cached body /stale" {
				t.Fatalf("body %q", got)
			}
		}
		if n := hits.Load(); n != 2 {
			t.Errorf("no-cache response: %d requests, want 2 (one full, one conditional)", n)
		}

		// Reload ignores the cache; ReturnCacheDataDontLoad never loads.
		hits.Store(0)
		fetchBody(t, s, WithOptions(get(t, srv.URL+"/fresh"), RequestOptions{CachePolicy: ReloadIgnoringLocalCacheData}))
		if n := hits.Load(); n != 1 {
			t.Errorf("ReloadIgnoringLocalCacheData: %d requests, want 1", n)
		}
		_, _, err := s.Data(context.Background(), WithOptions(get(t, srv.URL+"/never-stored"), RequestOptions{CachePolicy: ReturnCacheDataDontLoad}))
		if !errors.Is(err, ErrCannotLoadFromNetwork) {
			t.Errorf("ReturnCacheDataDontLoad on a miss: %v", err)
		}
		// The configuration's policy applies to requests without options.
		cfg2 := cfg.Clone()
		cfg2.RequestCachePolicy = ReturnCacheDataDontLoad
		s2 := newSession(t, cfg2, nil)
		if _, _, err := s2.Data(context.Background(), get(t, srv.URL+"/missing")); !errors.Is(err, ErrCannotLoadFromNetwork) {
			t.Errorf("configuration policy ignored: %v", err)
		}

		// The delegate may refuse.
		rec.refuse = true
		cfg.URLCache.RemoveAllCachedResponses()
		fetchBody(t, s, get(t, srv.URL+"/fresh"))
		if cr := cfg.URLCache.CachedResponse(get(t, srv.URL+"/fresh")); cr != nil {
			t.Error("stored although the delegate refused")
		}
	})
}

func TestResetAndFlushEmptyStores(t *testing.T) {
	var hits atomic.Int32
	srv := &server{newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cacheServer(&hits).ServeHTTP(w, r)
	})), "h1"}
	cfg := ephemeralConfig(srv)
	s := newSession(t, cfg, nil)
	fetchBody(t, s, get(t, srv.URL+"/fresh"))
	cfg.HTTPCookieStorage.SetCookie(&http.Cookie{Name: "a", Value: "b", Domain: "127.0.0.1", Path: "/"})
	space := credstore.ProtectionSpace{Host: "127.0.0.1", Protocol: "http", Realm: "r", AuthenticationMethod: credstore.AuthMethodHTTPBasic}
	cfg.URLCredentialStorage.Set(credstore.Credential{User: "u", Password: "p", Persistence: credstore.ForSession}, space)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cfg.URLCache.CurrentMemoryUsage() == 0 || len(cfg.HTTPCookieStorage.AllCookies()) != 1 {
		t.Fatal("Flush lost something")
	}
	if err := s.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cfg.URLCache.CurrentMemoryUsage() != 0 || len(cfg.HTTPCookieStorage.AllCookies()) != 0 || len(cfg.URLCredentialStorage.AllCredentials()) != 0 {
		t.Error("Reset left something in the stores")
	}
}

// TestEphemeralWritesNothing runs a full exercise of an ephemeral session in a
// child process whose HOME and XDG directories point at an empty directory,
// then checks the directory is still empty.
func TestEphemeralWritesNothing(t *testing.T) {
	if os.Getenv("URLSESSION_EPHEMERAL_CHILD") == "1" {
		ephemeralExercise(t)
		return
	}
	home := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestEphemeralWritesNothing$", "-test.v")
	cmd.Env = append(os.Environ(), "URLSESSION_EPHEMERAL_CHILD=1", "HOME="+home,
		"XDG_CACHE_HOME="+home+"/cache", "XDG_CONFIG_HOME="+home+"/config", "XDG_DATA_HOME="+home+"/data",
		"XDG_STATE_HOME="+home+"/state", "TMPDIR="+home+"/tmp-unused")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ephemeral exercise done") {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	var written []string
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if p != home {
			written = append(written, p)
		}
		return nil
	})
	if len(written) != 0 {
		t.Errorf("an ephemeral session wrote %q", written)
	}
}

func ephemeralExercise(t *testing.T) {
	var hits atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/set", cookieServer())
	mux.Handle("/echo", cookieServer())
	mux.Handle("/fresh", cacheServer(&hits))
	mux.Handle("/stale", cacheServer(&hits))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cfg := EphemeralConfiguration()
	cfg.Proxy = NoProxy
	rec := &cacheRecorder{recorder: newRecorder()}
	s, err := New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/set", "/echo", "/fresh", "/fresh", "/stale", "/stale"} {
		if _, _, err := s.Data(context.Background(), get(t, srv.URL+p)); err != nil {
			t.Fatal(err)
		}
	}
	space := credstore.ProtectionSpace{Host: "127.0.0.1", Protocol: "http", Realm: "r"}
	cfg.URLCredentialStorage.Set(credstore.Credential{User: "u", Password: "p", Persistence: credstore.Permanent}, space)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec.asked.Load() != 0 {
		t.Error("WillCacheResponse was asked in an ephemeral session")
	}
	if cfg.URLCache.CurrentMemoryUsage() == 0 || len(cfg.HTTPCookieStorage.AllCookies()) == 0 {
		t.Error("the ephemeral stores stayed empty: the exercise did not exercise them")
	}
	s.FinishTasksAndInvalidate()
	<-rec.invalid
	t.Log("ephemeral exercise done")
}
