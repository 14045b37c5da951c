//go:build unix

package urlcache

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// checkPrivate fails unless every file under dir has mode 0600 and every
// directory (dir included) has mode 0700.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	files := 0
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		info, err := de.Info()
		if err != nil {
			t.Error(err)
			return nil
		}
		want := privateFile
		if de.IsDir() {
			want = privateDir
		} else {
			files++
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
		return nil
	})
	if files < 3 {
		t.Errorf("only %d files under %s: the store was not written", files, dir)
	}
}

// TestFileModes: whatever the umask, the disk store's files are 0600 and
// its directories 0700, including the SQLite index and its WAL.
func TestFileModes(t *testing.T) {
	for _, umask := range []int{0, 0o022, 0o277} {
		t.Run(fmt.Sprintf("umask%03o", umask), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a", "cache")
			old := syscall.Umask(umask)
			defer syscall.Umask(old)
			c, err := New(Options{MemoryCapacity: lots, DiskCapacity: lots, Directory: dir})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range urls {
				req, cr := cachePair(t, u, aBit, Allowed, 1)
				mustStore(t, c, cr, req)
			}
			if err := c.Flush(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, indexName+"-wal")); err != nil {
				t.Errorf("no WAL while the cache is open: %v", err)
			}
			checkPrivate(t, dir)
			if info, err := os.Stat(filepath.Dir(dir)); err != nil || info.Mode().Perm()&0o077 != 0 {
				t.Errorf("a parent directory the cache made is open to others: %v", info.Mode())
			}
			c.Close()
		})
	}
}

// TestFileModesNarrowed: files an older version left with wider modes are
// narrowed when the store opens; an existing directory of the caller's is
// left as it is.
func TestFileModesNarrowed(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{DiskCapacity: lots, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	req, cr := cachePair(t, urls[0], aBit, Allowed, 1)
	mustStore(t, c, cr, req)
	c.Close()
	for _, p := range append([]string{filepath.Join(dir, indexName), filepath.Join(dir, bodiesDir), filepath.Join(dir, tmpDir)},
		bodyPaths(t, dir)...) {
		os.Chmod(p, 0o755)
	}
	c, err = New(Options{DiskCapacity: lots, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.CachedResponse(req) == nil {
		t.Fatal("miss after reopening")
	}
	for _, p := range []string{filepath.Join(dir, indexName), filepath.Join(dir, bodiesDir), filepath.Join(dir, tmpDir)} {
		if info, _ := os.Stat(p); info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v after reopening, want no permission for others", p, info.Mode())
		}
	}
	if info, _ := os.Stat(dir); info.Mode().Perm() != 0o755 {
		t.Errorf("the caller's directory changed to %v", info.Mode())
	}
}

// TestKeysKeepNoPassword: a URL's user information reaches no file of the
// store.
func TestKeysKeepNoPassword(t *testing.T) {
	c, dir := newCache(t, 0, lots)
	req, cr := cachePair(t, "https://alice:s3cr3t-pw@h.test/private#frag", aBit, Allowed, 1)
	mustStore(t, c, cr, req)
	if got := c.CachedResponse(req); got == nil {
		t.Fatal("miss")
	}
	c.Flush()
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
		}
		for _, secret := range []string{"s3cr3t-pw", "alice"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds %q", p, secret)
			}
		}
		return nil
	})
}
