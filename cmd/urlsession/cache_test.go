package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// countingServer counts the requests for each path. /fresh is cacheable
// for a minute; /a is a redirect to /b cacheable for a minute; /b
// redirects to /a on its odd-numbered requests and answers "done" on the
// others, so a run that follows /a, /b, /a, /b sees /a from the cache the
// second time when there is one.
type countingServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newCountingServer(t *testing.T) *countingServer {
	t.Helper()
	c := &countingServer{hits: map[string]int{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.hits[r.URL.Path]++
		n := c.hits[r.URL.Path]
		c.mu.Unlock()
		switch r.URL.Path {
		case "/fresh":
			w.Header().Set("Cache-Control", "max-age=60")
			fmt.Fprintf(w, "response %d", n)
		case "/a":
			w.Header().Set("Cache-Control", "max-age=60")
			http.Redirect(w, r, "/b", http.StatusFound)
		case "/b":
			w.Header().Set("Cache-Control", "no-store")
			if n%2 == 1 {
				http.Redirect(w, r, "/a", http.StatusFound)
				return
			}
			fmt.Fprint(w, "done")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *countingServer) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[path]
}

const servedFromCache = "* served from the local cache\n"

func TestCache(t *testing.T) {
	t.Parallel()
	s := newCountingServer(t)
	r := cli(t, "", "--cache", "-v", s.URL+"/fresh").want(t, 0)
	if r.stdout != "response 1" || strings.Contains(r.stderr, servedFromCache) {
		t.Errorf("first: %v", r)
	}
	r = cli(t, "", "--cache", "-v", s.URL+"/fresh").want(t, 0)
	if r.stdout != "response 1" || !strings.Contains(r.stderr, servedFromCache) {
		t.Errorf("second: %v", r)
	}
	if n := s.count("/fresh"); n != 1 {
		t.Errorf("the server saw %d requests, want 1", n)
	}
	// -i shows the stored head.
	r = cli(t, "", "--cache", "-i", s.URL+"/fresh").want(t, 0)
	if !strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(r.stdout, "\r\n\r\nresponse 1") {
		t.Errorf("-i: %v", r)
	}

	// Without --cache, no cache: the server sees every request.
	s2 := newCountingServer(t)
	for i := 1; i <= 2; i++ {
		r = cli(t, "", "-v", s2.URL+"/fresh").want(t, 0)
		if r.stdout != fmt.Sprintf("response %d", i) || strings.Contains(r.stderr, servedFromCache) {
			t.Errorf("run %d: %v", i, r)
		}
	}
	// Nor does a --cache run find what a run without it fetched.
	r = cli(t, "", "--cache", s2.URL+"/fresh").want(t, 0)
	if r.stdout != "response 3" {
		t.Errorf("got %v", r)
	}
}

// TestCachePersists: the shared cache is on disk, so a later process finds
// what an earlier one stored.
func TestCachePersists(t *testing.T) {
	t.Parallel()
	s := newCountingServer(t)
	home := t.TempDir()
	cliProcess(t, home, nil, "", "--cache", s.URL+"/fresh").want(t, 0)
	r := cliProcess(t, home, nil, "", "--cache", "-v", s.URL+"/fresh").want(t, 0)
	if r.stdout != "response 1" || !strings.Contains(r.stderr, servedFromCache) {
		t.Errorf("second process: %v", r)
	}
	if n := s.count("/fresh"); n != 1 {
		t.Errorf("the server saw %d requests, want 1", n)
	}
	files, _ := filesUnder(t, filepath.Join(home, ".cache"))
	if len(files) == 0 {
		t.Error("no cache files under XDG_CACHE_HOME")
	}
	// Without --cache a process neither reads it nor stores cookies.
	r = cliProcess(t, home, nil, "", s.URL+"/fresh").want(t, 0)
	if r.stdout != "response 2" {
		t.Errorf("without --cache: %v", r)
	}
}

// TestEphemeral: --ephemeral --cache caches within the run only, and
// nothing is written under HOME, whatever the flags (but the -c file).
func TestEphemeral(t *testing.T) {
	t.Parallel()
	s := newCountingServer(t)
	home := t.TempDir()
	for run := 1; run <= 2; run++ {
		// /a, /b, /a from the cache, /b.
		r := cliProcess(t, home, nil, "", "-L", "--ephemeral", "--cache", "-v", s.URL+"/a").want(t, 0)
		if r.stdout != "done" || strings.Count(r.stderr, servedFromCache) != 1 {
			t.Errorf("run %d: %v", run, r)
		}
		if a, b := s.count("/a"), s.count("/b"); a != run || b != 2*run {
			t.Errorf("run %d: the server saw /a %d times and /b %d times", run, a, b)
		}
	}
	// Without --cache, /a goes to the server both times.
	r := cliProcess(t, home, nil, "", "-L", "--ephemeral", "-v", s.URL+"/a").want(t, 0)
	if r.stdout != "done" || strings.Contains(r.stderr, servedFromCache) || s.count("/a") != 4 {
		t.Errorf("no cache: /a %d times, %v", s.count("/a"), r)
	}
	// Cookies: no engine unless asked for, -c still writes its file.
	c := cookieServer(t)
	jar := filepath.Join(t.TempDir(), "jar.txt")
	r = cliProcess(t, home, nil, "", "-L", "--ephemeral", setURL(c.URL, "/echo", "x=1")).want(t, 0)
	if r.stdout != "" {
		t.Errorf("no engine: %v", r)
	}
	r = cliProcess(t, home, nil, "", "-L", "--ephemeral", "-c", jar, setURL(c.URL, "/echo", "x=1")).want(t, 0)
	if r.stdout != "x=1" || !strings.HasSuffix(readFile(t, jar), "\tx\t1\n") {
		t.Errorf("-c: %v", r)
	}
	if files, any := filesUnder(t, home); any {
		t.Errorf("written under HOME: %q (or directories)", files)
	}
}

// TestCachePersistsEveryRun: every response a run stores in the shared
// cache is on disk when the process exits, so the next process finds it.
// Each of the runs below stores one fresh response and a second process
// must be served it from the cache.
func TestCachePersistsEveryRun(t *testing.T) {
	t.Parallel()
	const runs = 24
	var mu sync.Mutex
	hits := map[string]int{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.RequestURI()]++
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "response to %s", r.URL.RequestURI())
	}))
	t.Cleanup(s.Close)

	var wg sync.WaitGroup
	limit := make(chan struct{}, 4)
	for i := range runs {
		limit <- struct{}{}
		wg.Go(func() {
			defer func() { <-limit }()
			home := t.TempDir()
			uri := fmt.Sprintf("/fresh?run=%d", i)
			for range 2 {
				r := cliProcess(t, home, nil, "", "--cache", s.URL+uri)
				if r.code != 0 || r.stdout != "response to "+uri {
					t.Errorf("run %d: %v", i, r)
				}
			}
		})
	}
	wg.Wait()
	lost := 0
	for i := range runs {
		if n := hits[fmt.Sprintf("/fresh?run=%d", i)]; n != 1 {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d cache entries did not survive the process that stored them", lost, runs)
	}
}
