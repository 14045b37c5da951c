//go:build unix

package credstore

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// withUmask runs the rest of the test with the process umask set to mask.
// The umask is process-wide: tests that use it must not be parallel.
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// checkTreeOwnerOnly fails unless every file under root is 0600 and every
// directory 0700, and returns how many entries it checked.
func checkTreeOwnerOnly(t *testing.T, root string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, err := d.Info()
		if err != nil {
			t.Fatal(err)
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", p, got, want)
		}
		n++
		return nil
	})
	return n
}

func TestOwnerOnlyFilesWithPermissiveUmask(t *testing.T) {
	withUmask(t, 0)
	root := filepath.Join(t.TempDir(), "home")
	dir := filepath.Join(root, "a", "creds")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	s := openDir(t, dir)
	mustSet(t, s, Credential{User: "u", Password: "pw", Persistence: Permanent}, exampleSpace)
	mustSet(t, s, Credential{User: "v", Password: "pw", Persistence: Permanent}, exampleSpace)
	s.Close()

	// Damage the file so that the store keeps a copy aside.
	path := filepath.Join(dir, fileName)
	os.Remove(path)
	if err := os.WriteFile(path, []byte("garbage garbage garbage garbage garbage"), 0o666); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, dir)
	mustSet(t, s, Credential{User: "w", Password: "pw", Persistence: Permanent}, exampleSpace)
	if aside, _ := filepath.Glob(path + corruptInfix + "*"); len(aside) != 1 {
		t.Errorf("kept copies: %v, want 1", aside)
	}
	// root, a, creds, credentials, credentials.lock, the kept copy
	if n := checkTreeOwnerOnly(t, root); n < 6 {
		t.Errorf("checked %d entries, want at least 6", n)
	}
}
