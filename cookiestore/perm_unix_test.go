//go:build unix

package cookiestore

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// withUmask runs the rest of the test with the process umask set to mask.
// The umask is process-wide: tests that use it must not be parallel.
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// checkOwnerOnly fails unless every file in dir whose name starts with
// prefix has mode 0600 (0700 for a directory).
func checkOwnerOnly(t *testing.T, dir, prefix string) (checked int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		want := fs.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", e.Name(), got, want)
		}
		checked++
	}
	return checked
}

func TestOwnerOnlyFiles(t *testing.T) {
	withUmask(t, 0)
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b")
	path := filepath.Join(dir, "cookies.db")
	u := mustURL(t, "http://example.com/")

	s, err := New(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	s.SetCookiesFromResponse(header("a=1; Max-Age=3600"), u, nil)
	for _, d := range []string{filepath.Join(root, "a"), dir} {
		checkMode(t, d, 0o700)
	}
	if n := checkOwnerOnly(t, dir, "cookies.db"); n < 2 {
		t.Errorf("checked %d files; want the database and its WAL at least", n)
	}
	s.Close()

	// A database and companions someone loosened are tightened on open,
	// and the files SQLite creates beside it take the database's mode.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.Chmod(filepath.Join(dir, e.Name()), 0o644)
	}
	s = newStore(t, Options{Path: path})
	s.SetCookiesFromResponse(header("b=2; Max-Age=3600"), u, nil)
	if n := checkOwnerOnly(t, dir, "cookies.db"); n < 2 {
		t.Errorf("checked %d files; want the database and its WAL at least", n)
	}
	s.Close()

	// A corrupt file is kept aside owner-only, whatever its mode was.
	bad := filepath.Join(root, "bad.db")
	if err := os.WriteFile(bad, []byte(strings.Repeat("not a database\n", 400)), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(bad, 0o644)
	s = newStore(t, Options{Path: bad})
	s.SetCookiesFromResponse(header("c=3; Max-Age=3600"), u, nil)
	if aside, _ := filepath.Glob(bad + ".corrupt-*"); len(aside) == 0 {
		t.Error("the corrupt file was not kept aside")
	}
	if n := checkOwnerOnly(t, root, "bad.db"); n < 3 {
		t.Errorf("checked %d files; want the new database, its WAL and the kept copy", n)
	}
}

func checkMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", path, got, want)
	}
}
