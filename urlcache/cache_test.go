package urlcache

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	aBit = 2 * 1024
	lots = 200 * 1024 * 1024
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logRecorder collects log records as text.
type logRecorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logRecorder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logRecorder) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func (l *logRecorder) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.FieldsFunc(l.buf.String(), func(r rune) bool { return r == '\n' })
}

func newCache(t testing.TB, mem, disk int64) (*Cache, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := New(Options{MemoryCapacity: mem, DiskCapacity: disk, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, dir
}

func get(t testing.TB, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// cachePair is TestURLCache's helper: a GET request and a 200 response with
// a body of size bytes, the first of which is first.
func cachePair(t testing.TB, url string, size int, policy StoragePolicy, first byte) (*http.Request, *CachedResponse) {
	t.Helper()
	body := make([]byte, size)
	if size > 0 {
		body[0] = first
	}
	return get(t, url), &CachedResponse{
		Response: &http.Response{
			Status: "200 OK", StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/octet-stream"}},
		},
		Body:          body,
		StoragePolicy: policy,
	}
}

// bodyFiles counts the body files of the disk store in dir.
func bodyFiles(t testing.TB, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(filepath.Join(dir, bodiesDir), func(_ string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func bodyPaths(t testing.TB, dir string) []string {
	t.Helper()
	var paths []string
	filepath.WalkDir(filepath.Join(dir, bodiesDir), func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	return paths
}

var urls = []string{"https://apple.com/", "https://google.com/", "https://facebook.com/"}

func mustStore(t testing.TB, c *Cache, cr *CachedResponse, req *http.Request) {
	t.Helper()
	if err := c.StoreCachedResponse(cr, req); err != nil {
		t.Fatalf("StoreCachedResponse(%s): %v", req.URL, err)
	}
}

func TestStorageRoundtrip(t *testing.T) {
	c, _ := newCache(t, lots, lots)
	req, cr := cachePair(t, "https://google.com/", aBit, Allowed, 7)
	cr.UserInfo = map[string]string{"k": "v"}
	mustStore(t, c, cr, req)
	got := c.CachedResponse(req)
	if got == nil {
		t.Fatal("miss after store")
	}
	if !bytes.Equal(got.Body, cr.Body) || got.Response.StatusCode != 200 || got.Response.Header.Get("Content-Type") != "application/octet-stream" ||
		got.UserInfo["k"] != "v" || got.StoragePolicy != Allowed || got.Response.Proto != "HTTP/1.1" {
		t.Errorf("got %+v %+v, want the stored response back", got, got.Response)
	}
	// The same from disk only.
	c.SetMemoryCapacity(0)
	got = c.CachedResponse(req)
	if got == nil || !bytes.Equal(got.Body, cr.Body) || got.UserInfo["k"] != "v" || got.Response.Status != "200 OK" {
		t.Errorf("from disk: got %+v, want the stored response back", got)
	}
	// The caller owns what it gets.
	got.Body[0] = 99
	got.Response.Header.Set("Content-Type", "changed")
	if again := c.CachedResponse(req); again.Body[0] != 7 || again.Response.Header.Get("Content-Type") != "application/octet-stream" {
		t.Error("changing a returned response changed the cache")
	}
}

func TestStoreDropsUnstoredFields(t *testing.T) {
	// RFC 9111 section 3.1: neither connection-specific fields nor the
	// proxy's authentication fields are stored.
	c, _ := newCache(t, lots, lots)
	req, cr := cachePair(t, "https://h.test/", 10, Allowed, 1)
	for _, l := range []string{"Connection: X-A", "X-A: 1", "Keep-Alive: timeout=5", "Proxy-Authenticate: Basic realm=p",
		"Proxy-Authentication-Info: nextnonce=n", "Proxy-Authorization: Basic eDp5", "WWW-Authenticate: Basic realm=o"} {
		k, v, _ := strings.Cut(l, ": ")
		cr.Response.Header.Add(k, v)
	}
	mustStore(t, c, cr, req)
	for _, fromDisk := range []bool{false, true} {
		if fromDisk {
			c.SetMemoryCapacity(0)
		}
		got := c.CachedResponse(req)
		if got == nil {
			t.Fatalf("miss (from disk %v)", fromDisk)
		}
		for _, k := range []string{"Connection", "X-A", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authentication-Info", "Proxy-Authorization"} {
			if v, ok := got.Response.Header[k]; ok {
				t.Errorf("from disk %v: %s stored: %q", fromDisk, k, v)
			}
		}
		if got.Response.Header.Get("WWW-Authenticate") != "Basic realm=o" {
			t.Errorf("from disk %v: the origin's WWW-Authenticate was not stored", fromDisk)
		}
	}
}

func TestStoragePolicy(t *testing.T) {
	for _, tc := range []struct {
		policy    StoragePolicy
		files     int
		retrieved bool
	}{
		{Allowed, 1, true},
		{AllowedInMemoryOnly, 0, true},
		{NotAllowed, 0, false},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			c, dir := newCache(t, lots, lots)
			req, cr := cachePair(t, "https://google.com/", aBit, tc.policy, 0)
			mustStore(t, c, cr, req)
			if n := bodyFiles(t, dir); n != tc.files {
				t.Errorf("body files = %d, want %d", n, tc.files)
			}
			if got := c.CachedResponse(req) != nil; got != tc.retrieved {
				t.Errorf("retrieved = %v, want %v", got, tc.retrieved)
			}
		})
	}
}

func TestNoDiskUsageIfDisabled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never")
	c, err := New(Options{MemoryCapacity: lots, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req, cr := cachePair(t, "https://google.com/", aBit, Allowed, 0)
	mustStore(t, c, cr, req)
	if c.CachedResponse(req) == nil {
		t.Error("miss from the memory store")
	}
	c.RemoveAllCachedResponses()
	c.Flush()
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a memory-only cache touched the disk: Stat(%s) = %v", dir, err)
	}
	if c.CurrentDiskUsage() != 0 {
		t.Errorf("disk usage %d", c.CurrentDiskUsage())
	}
}

func TestShrinkingDiskCapacityEvictsItems(t *testing.T) {
	c, dir := newCache(t, lots, lots)
	for _, u := range urls {
		req, cr := cachePair(t, u, aBit, Allowed, 0)
		mustStore(t, c, cr, req)
	}
	if n := bodyFiles(t, dir); n != 3 {
		t.Fatalf("body files = %d, want 3", n)
	}
	c.SetDiskCapacity(0)
	if n := bodyFiles(t, dir); n != 0 {
		t.Errorf("body files after shrinking to 0 = %d, want 0", n)
	}
	if u := c.CurrentDiskUsage(); u != 0 {
		t.Errorf("disk usage = %d, want 0", u)
	}
	for _, u := range urls {
		if c.CachedResponse(get(t, u)) == nil {
			t.Errorf("%s: miss; the memory store still has it", u)
		}
	}
}

func TestNoMemoryUsageIfDisabled(t *testing.T) {
	c, dir := newCache(t, 0, lots)
	req, cr := cachePair(t, "https://google.com/", aBit, Allowed, 0)
	mustStore(t, c, cr, req)
	if n := bodyFiles(t, dir); n != 1 {
		t.Errorf("body files = %d, want 1", n)
	}
	if c.CachedResponse(req) == nil {
		t.Fatal("miss")
	}
	if c.CurrentMemoryUsage() != 0 {
		t.Errorf("memory usage = %d, want 0", c.CurrentMemoryUsage())
	}
	// The answer came from disk: without the body files it is a miss.
	os.RemoveAll(filepath.Join(dir, bodiesDir))
	if c.CachedResponse(req) != nil {
		t.Error("hit without the body file; it must have come from memory")
	}
}

func TestShrinkingMemoryCapacityEvictsItems(t *testing.T) {
	c, dir := newCache(t, lots, lots)
	for _, u := range urls {
		req, cr := cachePair(t, u, aBit, Allowed, 0)
		mustStore(t, c, cr, req)
	}
	os.RemoveAll(filepath.Join(dir, bodiesDir))
	for _, u := range urls {
		if c.CachedResponse(get(t, u)) == nil {
			t.Errorf("%s: miss; the memory store has it", u)
		}
	}
	c.SetMemoryCapacity(0)
	if c.CurrentMemoryUsage() != 0 {
		t.Errorf("memory usage = %d, want 0", c.CurrentMemoryUsage())
	}
	for _, u := range urls {
		if c.CachedResponse(get(t, u)) != nil {
			t.Errorf("%s: hit after the memory store was emptied and the bodies removed", u)
		}
	}
}

func TestRemovingOne(t *testing.T) {
	c, dir := newCache(t, lots, lots)
	for _, u := range urls {
		req, cr := cachePair(t, u, aBit, Allowed, 0)
		mustStore(t, c, cr, req)
	}
	c.RemoveCachedResponse(get(t, urls[0]))
	if n := bodyFiles(t, dir); n != 2 {
		t.Errorf("body files = %d, want 2", n)
	}
	for i, u := range urls {
		if got := c.CachedResponse(get(t, u)) != nil; got != (i != 0) {
			t.Errorf("%s: hit = %v, want %v", u, got, i != 0)
		}
	}
}

func TestRemovingAll(t *testing.T) {
	c, dir := newCache(t, lots, lots)
	for _, u := range urls {
		req, cr := cachePair(t, u, aBit, Allowed, 0)
		mustStore(t, c, cr, req)
	}
	if n := bodyFiles(t, dir); n != 3 {
		t.Fatalf("body files = %d, want 3", n)
	}
	// An orphan body (a crash between rename and indexing) goes too.
	orphan := filepath.Join(dir, bodiesDir, "ab", "ab"+string(bytes.Repeat([]byte("0"), 30)))
	os.MkdirAll(filepath.Dir(orphan), 0o700)
	os.WriteFile(orphan, []byte("x"), 0o600)
	c.RemoveAllCachedResponses()
	if n := bodyFiles(t, dir); n != 0 {
		t.Errorf("body files = %d, want 0", n)
	}
	if c.CurrentDiskUsage() != 0 || c.CurrentMemoryUsage() != 0 {
		t.Errorf("usage = %d disk, %d memory; want 0", c.CurrentDiskUsage(), c.CurrentMemoryUsage())
	}
	for _, u := range urls {
		if c.CachedResponse(get(t, u)) != nil {
			t.Errorf("%s: hit after RemoveAllCachedResponses", u)
		}
	}
}

func TestRemovingSince(t *testing.T) {
	clk := newClock()
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := New(Options{MemoryCapacity: lots, DiskCapacity: lots, Directory: dir, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, u := range urls {
		req, cr := cachePair(t, u, aBit, Allowed, 0)
		mustStore(t, c, cr, req)
		if i == 0 {
			clk.Advance(5 * time.Second)
		}
	}
	c.RemoveCachedResponses(clk.Now().Add(-3500 * time.Millisecond))
	if n := bodyFiles(t, dir); n != 1 {
		t.Errorf("body files = %d, want 1", n)
	}
	for i, u := range urls {
		if got := c.CachedResponse(get(t, u)) != nil; got != (i == 0) {
			t.Errorf("%s: hit = %v, want %v", u, got, i == 0)
		}
	}
	c.SetMemoryCapacity(0) // and on disk alone
	if c.CachedResponse(get(t, urls[0])) == nil {
		t.Error("the older entry is gone from disk")
	}
}

func TestStoringTwiceOnlyHasOneEntry(t *testing.T) {
	c, dir := newCache(t, lots, lots)
	reqA, a := cachePair(t, "https://apple.com/", aBit, Allowed, 1)
	mustStore(t, c, a, reqA)
	reqB, b := cachePair(t, "https://apple.com/", aBit, Allowed, 2)
	mustStore(t, c, b, reqB)
	if n := bodyFiles(t, dir); n != 1 {
		t.Errorf("body files = %d, want 1", n)
	}
	got := c.CachedResponse(reqB)
	if got == nil || !bytes.Equal(got.Body, b.Body) {
		t.Fatalf("got %v, want the second response", got)
	}
	c.SetMemoryCapacity(0)
	if got := c.CachedResponse(reqB); got == nil || got.Body[0] != 2 {
		t.Errorf("disk: got %v, want the second response", got)
	}
	var d struct{ bytes, entries int64 }
	c.disk.db.QueryRow("SELECT bytes, entries FROM usage").Scan(&d.bytes, &d.entries)
	if d.entries != 1 || d.bytes != c.CurrentDiskUsage() {
		t.Errorf("usage row = %+v, want 1 entry of %d bytes", d, c.CurrentDiskUsage())
	}
}

func TestUsageFigures(t *testing.T) {
	c, _ := newCache(t, lots, lots)
	var want int64
	for _, u := range urls {
		req, cr := cachePair(t, u, aBit, Allowed, 0)
		mustStore(t, c, cr, req)
		want += entrySize(t, u, aBit)
	}
	if got := c.CurrentMemoryUsage(); got != want {
		t.Errorf("memory usage = %d, want %d (header blocks + bodies)", got, want)
	}
	if got := c.CurrentDiskUsage(); got != want {
		t.Errorf("disk usage = %d, want %d", got, want)
	}
	c.RemoveCachedResponse(get(t, urls[1]))
	if got := c.CurrentDiskUsage(); got >= want || got <= want/2 {
		t.Errorf("disk usage after removing one = %d, want about 2/3 of %d", got, want)
	}
	if c.MemoryCapacity() != lots || c.DiskCapacity() != lots {
		t.Errorf("capacities %d, %d", c.MemoryCapacity(), c.DiskCapacity())
	}
}

// storeN stores n entries of size bytes under https://h.test/i.
func storeN(t testing.TB, c *Cache, n, size int) {
	for i := range n {
		req, cr := cachePair(t, "https://h.test/"+string(rune('a'+i)), size, Allowed, byte(i))
		mustStore(t, c, cr, req)
	}
}

// entrySize is the size a cachePair entry is counted at.
func entrySize(t testing.TB, url string, size int) int64 {
	req, cr := cachePair(t, url, size, Allowed, 0)
	now := time.Now()
	e := newEntry(url, cr, req, now)
	e.RequestTime, e.ResponseTime, e.BodyLen = now, now, int64(size)
	return int64(len(e.encode())) + int64(size)
}

func TestMemoryLRUEviction(t *testing.T) {
	one := entrySize(t, "https://h.test/a", 1000)
	c, _ := newCache(t, 3*one, 0)
	storeN(t, c, 3, 1000)                        // a b c
	c.CachedResponse(get(t, "https://h.test/a")) // a is now the most recent: b c a
	storeN2 := func(name string) {
		req, cr := cachePair(t, "https://h.test/"+name, 1000, Allowed, 0)
		mustStore(t, c, cr, req)
	}
	storeN2("d") // evicts b
	for name, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := c.CachedResponse(get(t, "https://h.test/"+name)) != nil; got != want {
			t.Errorf("%s: hit = %v, want %v", name, got, want)
		}
	}
	if c.CurrentMemoryUsage() > 3*one {
		t.Errorf("usage %d over capacity %d", c.CurrentMemoryUsage(), 3*one)
	}
	// Too large for the store: not stored, and the earlier entry goes.
	req, big := cachePair(t, "https://h.test/a", int(4*one), Allowed, 0)
	if err := c.StoreCachedResponse(big, req); !errors.Is(err, ErrTooLarge) {
		t.Errorf("storing more than the capacity: %v, want ErrTooLarge", err)
	}
	if c.CachedResponse(req) != nil {
		t.Error("the replaced entry is still there")
	}
}

func TestDiskLRUEviction(t *testing.T) {
	one := entrySize(t, "https://h.test/a", 1000)
	clk := newClock()
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := New(Options{DiskCapacity: 3 * one, Directory: dir, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	storeN(t, c, 3, 1000)
	clk.Advance(time.Second)
	c.CachedResponse(get(t, "https://h.test/a"))
	req, cr := cachePair(t, "https://h.test/d", 1000, Allowed, 0)
	mustStore(t, c, cr, req)
	for name, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := c.CachedResponse(get(t, "https://h.test/"+name)) != nil; got != want {
			t.Errorf("%s: hit = %v, want %v", name, got, want)
		}
	}
	if n := bodyFiles(t, dir); n != 3 {
		t.Errorf("body files = %d, want 3", n)
	}
	if u := c.CurrentDiskUsage(); u != 3*one {
		t.Errorf("disk usage = %d, want %d", u, 3*one)
	}
	c.CachedResponse(get(t, "https://h.test/c"))
	c.SetDiskCapacity(one)
	if n := bodyFiles(t, dir); n != 1 {
		t.Errorf("body files after shrinking to one entry = %d, want 1", n)
	}
	if c.CachedResponse(get(t, "https://h.test/c")) == nil {
		t.Error("the most recently used entry was evicted")
	}
}

func TestVary(t *testing.T) {
	for _, disk := range []bool{false, true} {
		mem, dsk := int64(lots), int64(0)
		if disk {
			mem, dsk = 0, lots
		}
		c, _ := newCache(t, mem, dsk)
		req, cr := cachePair(t, "https://h.test/v", 10, Allowed, 0)
		cr.Response.Header.Set("Vary", "Accept-Language, accept-encoding")
		req.Header.Set("Accept-Language", "fr-CA, fr-FR")
		req.Header.Add("Accept-Language", "en-US")
		req.Header.Set("Accept-Encoding", "gzip")
		mustStore(t, c, cr, req)
		for _, tc := range []struct {
			name string
			hdr  http.Header
			hit  bool
		}{
			{"same", http.Header{"Accept-Language": {"fr-CA, fr-FR", "en-US"}, "Accept-Encoding": {"gzip"}}, true},
			{"same, one line", http.Header{"Accept-Language": {"fr-CA,fr-FR,en-US"}, "Accept-Encoding": {"gzip"}}, true},
			// Language ranges and content codings are case-insensitive
			// (RFC 9111 section 4.1 lets a cache normalise them).
			{"same, other case", http.Header{"Accept-Language": {"FR-ca , fr-fr", " en-us"}, "Accept-Encoding": {"GZIP"}}, true},
			{"other order", http.Header{"Accept-Language": {"en-US, fr-CA, fr-FR"}, "Accept-Encoding": {"gzip"}}, false},
			{"changed", http.Header{"Accept-Language": {"en-US"}, "Accept-Encoding": {"gzip"}}, false},
			{"fewer values", http.Header{"Accept-Language": {"fr-CA", "en-US"}, "Accept-Encoding": {"gzip"}}, false},
			{"removed", http.Header{"Accept-Encoding": {"gzip"}}, false},
		} {
			r := get(t, "https://h.test/v")
			r.Header = tc.hdr
			if got := c.CachedResponse(r) != nil; got != tc.hit {
				t.Errorf("disk=%v %s: hit = %v, want %v", disk, tc.name, got, tc.hit)
			}
		}
		// Vary: * never matches.
		req2, cr2 := cachePair(t, "https://h.test/star", 10, Allowed, 0)
		cr2.Response.Header.Set("Vary", "*")
		mustStore(t, c, cr2, req2)
		if c.CachedResponse(req2) != nil {
			t.Errorf("disk=%v: Vary: * matched", disk)
		}
		// Other fields keep their case.
		req4, cr4 := cachePair(t, "https://h.test/case", 10, Allowed, 0)
		cr4.Response.Header.Set("Vary", "Foo")
		req4.Header.Set("Foo", "a")
		mustStore(t, c, cr4, req4)
		r4 := get(t, "https://h.test/case")
		r4.Header.Set("Foo", "A")
		if c.CachedResponse(r4) != nil {
			t.Errorf("disk=%v: Foo: A matched Foo: a", disk)
		}
		// Absent then absent matches.
		req3, cr3 := cachePair(t, "https://h.test/foo", 10, Allowed, 0)
		cr3.Response.Header.Set("Vary", "Foo")
		mustStore(t, c, cr3, req3)
		if c.CachedResponse(get(t, "https://h.test/foo")) == nil {
			t.Errorf("disk=%v: absent field did not match absent field", disk)
		}
		r := get(t, "https://h.test/foo")
		r.Header.Set("Foo", "bar")
		if c.CachedResponse(r) != nil {
			t.Errorf("disk=%v: added field matched", disk)
		}
	}
}

func TestKeys(t *testing.T) {
	c, _ := newCache(t, lots, 0)
	req, cr := cachePair(t, "HTTPS://Example.COM:443?q=1#frag", 10, Allowed, 0)
	mustStore(t, c, cr, req)
	for _, tc := range []struct {
		method, url string
		hit         bool
	}{
		{"GET", "https://example.com/?q=1", true},
		{"GET", "https://example.com:443/?q=1#other", true},
		{"HEAD", "https://example.com/?q=1", true},
		{"POST", "https://example.com/?q=1", false},
		{"GET", "https://example.com/?q=2", false},
		{"GET", "http://example.com/?q=1", false},
		{"GET", "https://example.com:8443/?q=1", false},
	} {
		r, _ := http.NewRequest(tc.method, tc.url, nil)
		if got := c.CachedResponse(r) != nil; got != tc.hit {
			t.Errorf("%s %s: hit = %v, want %v", tc.method, tc.url, got, tc.hit)
		}
	}
	post, _ := http.NewRequest("POST", "https://example.com/x", nil)
	if err := c.StoreCachedResponse(cr, post); !errors.Is(err, ErrNotStorable) {
		t.Errorf("storing for a POST: %v, want ErrNotStorable", err)
	}
	if err := c.StoreCachedResponse(&CachedResponse{}, req); !errors.Is(err, ErrNotStorable) {
		t.Errorf("storing without a response: %v, want ErrNotStorable", err)
	}
}

func TestPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := New(Options{MemoryCapacity: lots, DiskCapacity: lots, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range urls {
		req, cr := cachePair(t, u, aBit, Allowed, 3)
		mustStore(t, c, cr, req)
	}
	reqM, crM := cachePair(t, "https://memory.only/", aBit, AllowedInMemoryOnly, 0)
	mustStore(t, c, crM, reqM)
	usage := c.CurrentDiskUsage()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if c.CachedResponse(get(t, urls[0])) != nil {
		t.Error("hit after Close")
	}
	if err := c.StoreCachedResponse(crM, reqM); !errors.Is(err, ErrClosed) {
		t.Errorf("store after Close: %v, want ErrClosed", err)
	}

	c2, err := New(Options{MemoryCapacity: lots, DiskCapacity: lots, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for _, u := range urls {
		if got := c2.CachedResponse(get(t, u)); got == nil || got.Body[0] != 3 || len(got.Body) != aBit {
			t.Errorf("%s after reopening: %v", u, got)
		}
	}
	if c2.CachedResponse(reqM) != nil {
		t.Error("a memory-only entry survived reopening")
	}
	if got := c2.CurrentDiskUsage(); got != usage {
		t.Errorf("disk usage after reopening = %d, want %d", got, usage)
	}
}

func TestWriter(t *testing.T) {
	c, dir := newCache(t, lots, lots)
	req, cr := cachePair(t, "https://h.test/w", 0, Allowed, 0)

	w := c.NewWriter(req, cr)
	w.Write([]byte("hello, "))
	if c.CachedResponse(req) != nil {
		t.Error("visible before Commit")
	}
	w.Write([]byte("world"))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := c.CachedResponse(req); got == nil || string(got.Body) != "hello, world" {
		t.Fatalf("got %v", got)
	}

	w = c.NewWriter(req, cr)
	w.Write([]byte("partial"))
	w.Abort()
	w.Commit() // after Abort: nothing
	if got := c.CachedResponse(req); got == nil || string(got.Body) != "hello, world" {
		t.Errorf("an aborted write replaced the entry: %v", got)
	}
	if n := bodyFiles(t, dir); n != 1 {
		t.Errorf("body files = %d, want 1", n)
	}
	if des, _ := os.ReadDir(filepath.Join(dir, tmpDir)); len(des) != 0 {
		t.Errorf("temporary files left: %d", len(des))
	}

	// An empty body is a body.
	w = c.NewWriter(req, cr)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	c.SetMemoryCapacity(0)
	if got := c.CachedResponse(req); got == nil || len(got.Body) != 0 {
		t.Errorf("empty body: got %v", got)
	}
}

// rowCount returns the number of index rows.
func rowCount(t testing.TB, c *Cache) int {
	var n int
	if err := c.disk.db.QueryRow("SELECT count(*) FROM entries").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCorruption(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, c *Cache, dir string)
	}{
		{"truncated body", func(t *testing.T, c *Cache, dir string) {
			p := bodyPaths(t, dir)[0]
			os.Truncate(p, 100)
		}},
		{"empty body file", func(t *testing.T, c *Cache, dir string) {
			os.Truncate(bodyPaths(t, dir)[0], 0)
		}},
		{"longer body", func(t *testing.T, c *Cache, dir string) {
			f, _ := os.OpenFile(bodyPaths(t, dir)[0], os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("more"))
			f.Close()
		}},
		{"flipped bytes", func(t *testing.T, c *Cache, dir string) {
			p := bodyPaths(t, dir)[0]
			b, _ := os.ReadFile(p)
			b[10] ^= 0xff
			b[len(b)-1] ^= 0x01
			os.WriteFile(p, b, 0o600)
		}},
		{"deleted body", func(t *testing.T, c *Cache, dir string) {
			os.Remove(bodyPaths(t, dir)[0])
		}},
		{"garbage header block", func(t *testing.T, c *Cache, dir string) {
			c.disk.db.Exec("UPDATE entries SET meta = randomblob(200)")
		}},
		{"header block flipped", func(t *testing.T, c *Cache, dir string) {
			var meta []byte
			c.disk.db.QueryRow("SELECT meta FROM entries").Scan(&meta)
			meta[len(meta)/2] ^= 0x10
			c.disk.db.Exec("UPDATE entries SET meta = ?", meta)
		}},
		{"header block truncated", func(t *testing.T, c *Cache, dir string) {
			c.disk.db.Exec("UPDATE entries SET meta = substr(meta, 1, 20)")
		}},
		{"header block of another key", func(t *testing.T, c *Cache, dir string) {
			req, cr := cachePair(t, "https://other.test/", aBit, Allowed, 0)
			e := newEntry("https://other.test/", cr, req, time.Now())
			e.BodyLen = aBit
			c.disk.db.Exec("UPDATE entries SET meta = ?", e.encode())
		}},
		{"file outside the store", func(t *testing.T, c *Cache, dir string) {
			c.disk.db.Exec("UPDATE entries SET file = '../../../../etc/passwd'")
		}},
		{"null row values", func(t *testing.T, c *Cache, dir string) {
			c.disk.db.Exec("PRAGMA ignore_check_constraints = ON")
			c.disk.db.Exec("UPDATE entries SET meta = x'', file = ''")
		}},
		{"text header block", func(t *testing.T, c *Cache, dir string) {
			c.disk.db.Exec("UPDATE entries SET meta = 'not a blob'")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logRecorder{}
			dir := filepath.Join(t.TempDir(), "cache")
			c, err := New(Options{DiskCapacity: lots, Directory: dir, Logger: logs.logger()})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req, cr := cachePair(t, "https://h.test/c?token=x", aBit, Allowed, 42)
			mustStore(t, c, cr, req)
			if c.CachedResponse(req) == nil {
				t.Fatal("miss before the damage")
			}
			if err := c.Recovered(); err != nil {
				t.Fatalf("Recovered before the damage: %v", err)
			}
			tc.corrupt(t, c, dir)
			// The instance that wrote the entry may still answer from its
			// in-memory index row, but only with the right bytes.
			if got := c.CachedResponse(req); got != nil && !bytes.Equal(got.Body, cr.Body) {
				t.Fatalf("wrong data returned: %d bytes", len(got.Body))
			}
			// A cache opened afresh on the damaged directory misses and
			// removes the entry.
			c2, err := New(Options{DiskCapacity: lots, Directory: dir, Logger: logs.logger()})
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			if got := c2.CachedResponse(req); got != nil {
				t.Fatalf("a damaged entry was returned: %d bytes", len(got.Body))
			}
			if n := rowCount(t, c2); n != 0 {
				t.Errorf("the damaged row was kept (%d rows)", n)
			}
			// The cache that removed it (the first one, when its
			// in-memory row led it to a damaged body; else the second)
			// reports it, once, and logs it.
			var res []*RecoveryError
			for _, err := range []error{c.Recovered(), c2.Recovered()} {
				var re *RecoveryError
				if errors.As(err, &re) {
					res = append(res, re)
				} else if err != nil {
					t.Errorf("Recovered() = %T %v, want a *RecoveryError", err, err)
				}
			}
			if len(res) != 1 {
				t.Fatalf("%d caches report a discard, want 1", len(res))
			}
			re := res[0]
			if re.What != "entry for https://h.test/c" || re.Path == "" || re.Err == nil || !strings.HasPrefix(re.Path, dir) {
				t.Errorf("RecoveryError %+v", re)
			}
			if strings.Contains(re.Error(), "token") {
				t.Errorf("the report shows the query: %v", re)
			}
			if got := logs.messages(); len(got) != 1 || !strings.Contains(got[0], "what=\"entry for https://h.test/c\"") ||
				!strings.Contains(got[0], "path="+re.Path) {
				t.Errorf("log records %q, want one about %v", got, re)
			}
			if got := c.CachedResponse(req); got != nil && !bytes.Equal(got.Body, cr.Body) {
				t.Errorf("wrong data returned after the entry was removed: %d bytes", len(got.Body))
			}
			// The cache still works.
			mustStore(t, c2, cr, req)
			if got := c2.CachedResponse(req); got == nil || !bytes.Equal(got.Body, cr.Body) {
				t.Error("storing again after the damage failed")
			}
			if got := c.CachedResponse(req); got == nil || !bytes.Equal(got.Body, cr.Body) {
				t.Error("the first cache does not see the entry stored again")
			}
		})
	}
}

func TestCorruptIndexFileIsRebuilt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := New(Options{DiskCapacity: lots, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	req, cr := cachePair(t, "https://h.test/c", aBit, Allowed, 1)
	mustStore(t, c, cr, req)
	c.Close()
	for _, name := range []string{indexName + "-wal", indexName + "-shm"} {
		os.Remove(filepath.Join(dir, name))
	}
	garbage := bytes.Repeat([]byte("garbage!"), 1024)
	if err := os.WriteFile(filepath.Join(dir, indexName), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logRecorder{}
	c2, err := New(Options{DiskCapacity: lots, Directory: dir, Logger: logs.logger()})
	if err != nil {
		t.Fatalf("New over a corrupt index: %v", err)
	}
	defer c2.Close()
	if c2.CachedResponse(req) != nil {
		t.Error("hit from a corrupt index")
	}
	var re *RecoveryError
	if err := c2.Recovered(); !errors.As(err, &re) || re.What != "index" || re.Path != filepath.Join(dir, indexName) || re.Err == nil {
		t.Errorf("Recovered() = %v, want the index's RecoveryError", err)
	}
	if got := logs.messages(); len(got) != 1 || !strings.Contains(got[0], "what=index") || !strings.Contains(got[0], "level=WARN") {
		t.Errorf("log records %q, want one about the index", got)
	}
	mustStore(t, c2, cr, req)
	if c2.CachedResponse(req) == nil {
		t.Error("the rebuilt cache does not store")
	}
}

func TestCrashLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := New(Options{DiskCapacity: lots, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	// A writer that crashed after renaming its body, before indexing it, and
	// one that crashed while writing its temporary file, both long ago.
	name := newName()
	old := time.Now().Add(-2 * staleAfter)
	c.disk.db.Exec("INSERT INTO pending(file, created) VALUES (?, ?)", name, old.UnixNano())
	os.MkdirAll(filepath.Dir(c.disk.bodyPath(name)), 0o700)
	os.WriteFile(c.disk.bodyPath(name), []byte("orphan"), 0o600)
	tmp := filepath.Join(dir, tmpDir, "body-1.tmp")
	os.WriteFile(tmp, []byte("torn"), 0o600)
	os.Chtimes(tmp, old, old)
	// And a recent pending write of a live writer, which must stay.
	live := newName()
	c.disk.db.Exec("INSERT INTO pending(file, created) VALUES (?, ?)", live, time.Now().UnixNano())
	c.Close()

	c2, err := New(Options{DiskCapacity: lots, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := os.Stat(c2.disk.bodyPath(name)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("orphan body kept: %v", err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	var n int
	c2.disk.db.QueryRow("SELECT count(*) FROM pending").Scan(&n)
	if n != 1 {
		t.Errorf("pending rows = %d, want the live one only", n)
	}
}

func TestFlush(t *testing.T) {
	c, _ := newCache(t, 0, lots)
	req, cr := cachePair(t, "https://h.test/f", aBit, Allowed, 1)
	mustStore(t, c, cr, req)
	c.CachedResponse(req)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	c, _ := newCache(t, 64*1024, 256*1024)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				u := "https://h.test/" + string(rune('a'+(g*7+i)%26))
				req, cr := cachePair(t, u, 1+i*37%3000, Allowed, byte(i))
				c.StoreCachedResponse(cr, req)
				if got := c.CachedResponse(req); got != nil && len(got.Body) == 0 {
					t.Error("empty body")
				}
				if i%10 == 0 {
					c.RemoveCachedResponse(req)
				}
				if i%25 == 0 {
					c.SetMemoryCapacity(int64(32*1024 + i))
					c.CurrentDiskUsage()
				}
			}
		})
	}
	wg.Wait()
	if c.CurrentMemoryUsage() > c.MemoryCapacity() || c.CurrentDiskUsage() > c.DiskCapacity() {
		t.Errorf("over capacity: memory %d/%d disk %d/%d", c.CurrentMemoryUsage(), c.MemoryCapacity(), c.CurrentDiskUsage(), c.DiskCapacity())
	}
}

func TestDiskStoreOpenedLater(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	c, err := New(Options{MemoryCapacity: lots, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("directory created before a disk capacity was set: %v", err)
	}
	c.SetDiskCapacity(lots)
	req, cr := cachePair(t, "https://h.test/later", aBit, Allowed, 5)
	mustStore(t, c, cr, req)
	if n := bodyFiles(t, dir); n != 1 {
		t.Errorf("body files = %d, want 1", n)
	}
	// Without a directory, a disk capacity cannot be used: stores say why
	// only when no memory store took the response.
	c2, _ := New(Options{})
	c2.SetDiskCapacity(lots)
	if err := c2.StoreCachedResponse(cr, req); err == nil {
		t.Error("storing in a cache without stores succeeded")
	}
	if _, err := New(Options{DiskCapacity: 1}); err == nil {
		t.Error("New with a disk capacity and no directory succeeded")
	}
}
