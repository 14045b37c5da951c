package urlcache

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sharedBody is the body stored for entry i of writer w.
func sharedBody(w string, i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%s-%d;", w, i)), 1+i%50)
}

// storeShared stores 200 entries named after w in the cache in dir.
func storeShared(t testing.TB, dir, w string) {
	c, err := New(Options{MemoryCapacity: 1 << 20, DiskCapacity: 1 << 30, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 200 {
		req := get(t, fmt.Sprintf("https://shared.test/%s/%d", w, i))
		_, cr := cachePair(t, req.URL.String(), 0, Allowed, 0)
		cr.Body = sharedBody(w, i)
		if err := c.StoreCachedResponse(cr, req); err != nil {
			t.Errorf("%s %d: %v", w, i, err)
		}
		if i%20 == 0 {
			c.CachedResponse(req)
		}
	}
}

// checkShared verifies that every entry of the writers is in the cache in dir.
func checkShared(t *testing.T, dir string, writers ...string) {
	t.Helper()
	c, err := New(Options{DiskCapacity: 1 << 30, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	missing := 0
	for _, w := range writers {
		for i := range 200 {
			got := c.CachedResponse(get(t, fmt.Sprintf("https://shared.test/%s/%d", w, i)))
			if got == nil || !bytes.Equal(got.Body, sharedBody(w, i)) {
				missing++
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d entries lost or wrong", missing, 200*len(writers))
	}
	if n, want := rowCount(t, c), 200*len(writers); n != want {
		t.Errorf("%d rows, want %d", n, want)
	}
	if n := bodyFiles(t, dir); n != 200*len(writers) {
		t.Errorf("%d body files, want %d", n, 200*len(writers))
	}
}

func TestTwoCachesOneDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	var wg sync.WaitGroup
	for _, w := range []string{"a", "b"} {
		wg.Go(func() { storeShared(t, dir, w) })
	}
	wg.Wait()
	checkShared(t, dir, "a", "b")
}

const childEnv = "URLCACHE_TEST_CHILD"

// TestChildProcess is the body of a child process started by
// TestTwoProcessesOneDirectory; on its own it does nothing.
func TestChildProcess(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("run by TestTwoProcessesOneDirectory")
	}
	dir, w, _ := cutLast(spec, "|")
	storeShared(t, dir, w)
}

func cutLast(s, sep string) (string, string, bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

func TestTwoProcessesOneDirectory(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("in a child")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	dir := filepath.Join(t.TempDir(), "cache")
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for _, w := range []string{"p1", "p2"} {
		cmd := exec.Command(exe, "-test.run=^TestChildProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+dir+"|"+w)
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	checkShared(t, dir, "p1", "p2")
}

// TestRememberedMisses: a miss is remembered for a moment so that asking
// again for an uncached URL does not query the index, but a store of this
// process (the same cache or another one on the directory) makes the entry
// visible at once, and another process's store within missMemoTTL.
func TestRememberedMisses(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cache")
	alias := filepath.Join(root, "alias")
	open := func(d string) *Cache {
		c, err := New(Options{DiskCapacity: 1 << 30, Directory: d})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b := open(dir), open(dir)
	if err := os.Symlink(dir, alias); err != nil {
		t.Skip(err)
	}
	other := open(alias) // the same files, which the process cannot tell
	storeAndFind := func(writer *Cache, url string, wait time.Duration) {
		t.Helper()
		req := get(t, url)
		for _, c := range []*Cache{a, b} {
			if c.CachedResponse(req) != nil {
				t.Fatalf("%s: found before it was stored", url)
			}
			if len(c.disk.misses) == 0 {
				t.Fatalf("%s: the miss was not remembered", url)
			}
		}
		_, cr := cachePair(t, url, 100, Allowed, 'x')
		if err := writer.StoreCachedResponse(cr, req); err != nil {
			t.Fatal(err)
		}
		writer.Flush()
		deadline := time.Now().Add(wait)
		for _, c := range []*Cache{a, b} {
			for c.CachedResponse(req) == nil {
				if time.Now().After(deadline) {
					t.Fatalf("%s: not found %v after it was stored", url, wait)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	storeAndFind(a, "https://miss.test/same", 0)
	storeAndFind(b, "https://miss.test/sibling", 0)
	storeAndFind(other, "https://miss.test/other-process", missMemoTTL+time.Second)
}

// TestConcurrentMissesShareOneQuery: many lookups of one uncached URL at
// once all miss, leave no lookup registered as running, and find the entry
// once another process (a cache on the same files under another name)
// stored it and the remembered miss expired.
func TestConcurrentMissesShareOneQuery(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cache")
	alias := filepath.Join(root, "alias")
	open := func(d string) *Cache {
		c, err := New(Options{DiskCapacity: 1 << 30, Directory: d})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a := open(dir)
	if err := os.Symlink(dir, alias); err != nil {
		t.Skip(err)
	}
	other := open(alias)
	const url = "https://miss.test/concurrent"
	lookAll := func() (found int) {
		var wg sync.WaitGroup
		var n atomic.Int32
		for range 64 {
			req := get(t, url)
			wg.Go(func() {
				if a.CachedResponse(req) != nil {
					n.Add(1)
				}
			})
		}
		wg.Wait()
		return int(n.Load())
	}
	if n := lookAll(); n != 0 {
		t.Fatalf("%d lookups found %s before it was stored", n, url)
	}
	a.disk.mu.Lock()
	running := len(a.disk.asking)
	a.disk.mu.Unlock()
	if running != 0 {
		t.Fatalf("%d lookups still registered as running", running)
	}
	_, cr := cachePair(t, url, 100, Allowed, 'x')
	if err := other.StoreCachedResponse(cr, get(t, url)); err != nil {
		t.Fatal(err)
	}
	other.Flush()
	deadline := time.Now().Add(missMemoTTL + time.Second)
	for {
		n := lookAll()
		if n == 64 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 64 concurrent lookups found %s %v after another process stored it", n, url, missMemoTTL+time.Second)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
