package urlcache

import (
	"bytes"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCredentials: an entry answers only requests with the credentials it
// was fetched with, from memory, from the disk store's in-memory rows and
// from a cache opened afresh; the credentials themselves are not stored.
func TestCredentials(t *testing.T) {
	const u = "https://h.test/me"
	variants := []struct {
		name string
		url  string
		hdr  []string
	}{
		{"none", u, nil},
		{"alice", u, []string{"Authorization: Basic YWxpY2U6c2VjcmV0LWE="}},
		{"bob", u, []string{"Authorization: Basic Ym9iOnNlY3JldC1i"}},
		{"alice via proxy", u, []string{"Authorization: Basic YWxpY2U6c2VjcmV0LWE=", "Proxy-Authorization: Basic cHJveHk6cA=="}},
		{"proxy only", u, []string{"Proxy-Authorization: Basic cHJveHk6cA=="}},
		{"user info", "https://alice:secret-a@h.test/me", nil},
		{"other user info", "https://alice:secret-b@h.test/me", nil},
	}
	for _, stored := range variants {
		t.Run(stored.name, func(t *testing.T) {
			for _, mem := range []int64{lots, 0} {
				c, dir := newCache(t, mem, lots)
				_, cr := cachePair(t, u, aBit, Allowed, 7)
				mustStore(t, c, cr, request("GET", stored.url, stored.hdr...))
				c2, err := New(Options{DiskCapacity: lots, Directory: dir})
				if err != nil {
					t.Fatal(err)
				}
				for _, asked := range variants {
					want := asked.name == stored.name
					for i, cache := range []*Cache{c, c2} {
						for _, method := range []string{"GET", "HEAD"} {
							got := cache.CachedResponse(request(method, asked.url, asked.hdr...))
							if (got != nil) != want {
								t.Errorf("memory %d, cache %d: stored for %s, %s for %s: hit = %v, want %v",
									mem, i, stored.name, method, asked.name, got != nil, want)
							}
						}
					}
				}
				c2.Close()
				c.Flush()
				filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
					if err != nil || de.IsDir() {
						return nil
					}
					b, _ := os.ReadFile(p)
					for _, secret := range []string{"YWxpY2U6c2VjcmV0LWE=", "Ym9iOnNlY3JldC1i", "cHJveHk6cA==", "secret-a", "secret-b"} {
						if bytes.Contains(b, []byte(secret)) {
							t.Errorf("%s holds %q", p, secret)
						}
					}
					return nil
				})
			}
		})
	}
}

// TestCredentialsReplace: storing for other credentials replaces the entry.
func TestCredentialsReplace(t *testing.T) {
	c, _ := newCache(t, lots, lots)
	alice := request("GET", "https://h.test/", "Authorization: a")
	bob := request("GET", "https://h.test/", "Authorization: b")
	_, cr := cachePair(t, "https://h.test/", 10, Allowed, 1)
	mustStore(t, c, cr, alice)
	_, cr = cachePair(t, "https://h.test/", 10, Allowed, 2)
	mustStore(t, c, cr, bob)
	if got := c.CachedResponse(alice); got != nil {
		t.Error("alice still reads an entry after bob's replaced it")
	}
	if got := c.CachedResponse(bob); got == nil || got.Body[0] != 2 {
		t.Errorf("bob reads %v, want his entry", got)
	}
}

// TestUpgradeFromFormat1: an index of format 1, whose header blocks do not
// record credentials, is emptied when a cache opens it.
func TestUpgradeFromFormat1(t *testing.T) {
	c, dir := newCache(t, 0, lots)
	req, cr := cachePair(t, "https://h.test/", aBit, Allowed, 1)
	mustStore(t, c, cr, req)
	c.Close()
	db, err := sql.Open("sqlite", filepath.Join(dir, indexName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if n := bodyFiles(t, dir); n != 1 {
		t.Fatalf("%d body files before the upgrade", n)
	}
	c, err = New(Options{DiskCapacity: lots, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.CachedResponse(req) != nil {
		t.Error("an entry of format 1 was read")
	}
	if n := bodyFiles(t, dir); n != 0 {
		t.Errorf("%d body files after the upgrade, want 0", n)
	}
	if u := c.CurrentDiskUsage(); u != 0 {
		t.Errorf("disk usage %d after the upgrade", u)
	}
	var v int
	c.disk.db.QueryRow("PRAGMA user_version").Scan(&v)
	if v != schemaVers {
		t.Errorf("user_version %d, want %d", v, schemaVers)
	}
	mustStore(t, c, cr, req)
	if c.CachedResponse(req) == nil {
		t.Error("the upgraded store does not store")
	}
}
