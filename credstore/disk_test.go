package credstore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func openDir(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := New(Options{Dir: dir, Backend: BackendFile, Logger: quiet})
	if err != nil {
		t.Fatalf("New(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// quiet is the Logger of tests that expect recoveries but do not check
// the log.
var quiet = slog.New(slog.DiscardHandler)

func TestPersistenceAcrossNew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "creds")
	perm := Credential{User: "p", Password: "perm", Persistence: Permanent}
	sess := Credential{User: "s", Password: "sess", Persistence: ForSession}
	other := otherHost("other.example")

	s := openDir(t, dir)
	mustSet(t, s, perm, exampleSpace)
	mustSet(t, s, sess, exampleSpace)
	mustSetDefault(t, s, Credential{User: "d", Password: "def", Persistence: Permanent}, other)
	mustSet(t, s, Credential{User: "e", Password: "e", Persistence: Permanent}, other)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openDir(t, dir)
	got := s2.Credentials(exampleSpace)
	if len(got) != 1 || got["p"] != perm {
		t.Errorf("after reopening: %v, want only the permanent %v", got, perm)
	}
	if d, ok := s2.DefaultCredential(exampleSpace); !ok || d != perm {
		t.Errorf("permanent default lost: %v, %v", d, ok)
	}
	if d, ok := s2.DefaultCredential(other); !ok || d.User != "d" {
		t.Errorf("explicit permanent default lost: %v, %v", d, ok)
	}

	// A memory-only store keeps nothing across New.
	m := func() *Store {
		s, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	m1 := m()
	mustSet(t, m1, perm, exampleSpace)
	m1.Close()
	if n := count(m()); n != 0 {
		t.Errorf("memory-only store kept %d credentials across New", n)
	}
}

func TestSessionDefaultIsNotPersisted(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	a := Credential{User: "a", Password: "1", Persistence: Permanent}
	mustSet(t, s, a, exampleSpace)
	mustSetDefault(t, s, Credential{User: "b", Password: "2", Persistence: ForSession}, exampleSpace)
	s.Close()
	s2 := openDir(t, dir)
	// The session default only shadowed the permanent default; it ended
	// with its store, and the permanent one shows again.
	if d, ok := s2.DefaultCredential(exampleSpace); !ok || d != a {
		t.Errorf("DefaultCredential = %v, %v; want %v", d, ok, a)
	}
	if got := s2.Credentials(exampleSpace); len(got) != 1 || got["a"] != a {
		t.Errorf("Credentials = %v", got)
	}
}

func TestFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b")
	s := openDir(t, dir)
	mustSet(t, s, Credential{User: "u", Password: "pw", Persistence: Permanent}, exampleSpace)
	checkMode(t, dir, 0o700)
	checkMode(t, filepath.Join(root, "a"), 0o700)
	checkMode(t, filepath.Join(dir, fileName), 0o600)
	checkMode(t, filepath.Join(dir, lockName), 0o600)
	s.Close()

	// An existing directory with wider permissions is tightened.
	loose := filepath.Join(root, "loose")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(loose, 0o777)
	openDir(t, loose)
	checkMode(t, loose, 0o700)

	// A credentials file someone loosened is tightened when read.
	os.Chmod(filepath.Join(dir, fileName), 0o644)
	s3 := openDir(t, dir)
	if n := count(s3); n != 1 {
		t.Errorf("count = %d, want 1", n)
	}
	checkMode(t, filepath.Join(dir, fileName), 0o600)

	// A path that is not a directory is refused.
	file := filepath.Join(root, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := New(Options{Dir: file, Backend: BackendFile}); err == nil {
		t.Error("New on a regular file succeeded")
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

func TestDirectoryHoldsOnlyFileAndLock(t *testing.T) {
	// The file is owner-only; this checks nothing else in the directory
	// holds the secret (temporary files are removed or renamed).
	dir := t.TempDir()
	s := openDir(t, dir)
	for i := range 5 {
		mustSet(t, s, Credential{User: "u", Password: fmt.Sprint("secret", i), Persistence: Permanent}, exampleSpace)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != lockName+","+fileName && strings.Join(names, ",") != fileName+","+lockName {
		t.Errorf("directory holds %v, want only %s and %s", names, fileName, lockName)
	}
}

func TestStaleTempFilesAreSwept(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".credentials-12345.tmp")
	os.WriteFile(stale, []byte("half"), 0o600)
	s := openDir(t, dir)
	mustSet(t, s, Credential{User: "u", Password: "pw", Persistence: Permanent}, exampleSpace)
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file survived: %v", err)
	}
}

func TestCorruptionRecovery(t *testing.T) {
	recs := []record{
		{space: exampleSpace.Normalize(), user: "u", secret: "pw"},
		{space: exampleSpace.Normalize(), user: "v", secret: "pw2"},
	}
	valid := encode(recs)
	v1 := encodeV1(recs)
	flippedV1 := bytes.Clone(v1)
	flippedV1[len(fileMagic)+5] ^= 0x40
	tests := []struct {
		name    string
		data    []byte
		survive int
	}{
		{"garbage", []byte("this is not a credentials file"), 0},
		{"empty", []byte{}, 0},
		{"truncated in the last record", valid[:len(valid)-10], 1},
		{"truncated in the first record", valid[:len(header(2))+10], 0},
		{"version 1 without checksum", v1[:len(v1)-32], 0},
		{"version 1 bit flip", flippedV1, 0},
		{"bad magic", append([]byte("XXXXXXXX"), v1[8:]...), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, fileName)
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			s := openDir(t, dir)
			if n := count(s); n != tt.survive {
				t.Errorf("count = %d, want %d after recovery", n, tt.survive)
			}
			aside, _ := filepath.Glob(path + corruptInfix + "*")
			if len(aside) != 1 {
				t.Fatalf("kept copies: %v, want 1", aside)
			}
			if got, _ := os.ReadFile(aside[0]); !bytes.Equal(got, tt.data) {
				t.Errorf("the copy kept aside differs from the damaged file")
			}
			if runtime.GOOS != "windows" {
				checkMode(t, aside[0], 0o600)
			}
			re := recoveries(s.Recovered())
			if len(re) == 0 {
				t.Fatal("Recovered() = nil")
			}
			for _, e := range re {
				if e.Path != path || !strings.Contains(e.What, aside[0]) || !errors.Is(e, errCorrupt) {
					t.Errorf("recovery %v; want one for %s naming %s", e, path, aside[0])
				}
			}
			// The file was rewritten with what survived.
			if d, err := decode(mustRead(t, path)); err != nil || len(d.damage) > 0 || len(d.records) != tt.survive {
				t.Errorf("rewritten file: %+v, %v", d, err)
			}
			// The store works afterwards, and a new file is written.
			c := Credential{User: "new", Password: "pw", Persistence: Permanent}
			mustSet(t, s, c, exampleSpace)
			s.Close()
			if got := openDir(t, dir).Credentials(exampleSpace); got["new"] != c {
				t.Errorf("after recovery and Set: %v", got)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recoveries flattens what Store.Recovered returns.
func recoveries(err error) []*RecoveryError {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*RecoveryError
		for _, e := range j.Unwrap() {
			out = append(out, recoveries(e)...)
		}
		return out
	}
	if re, ok := err.(*RecoveryError); ok {
		return []*RecoveryError{re}
	}
	return nil
}

func TestCorruptionWhileOpen(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	mustSet(t, s, Credential{User: "u", Password: "pw", Persistence: Permanent}, exampleSpace)
	path := filepath.Join(dir, fileName)
	// Another party replaces the file with garbage.
	tmp := path + ".x"
	os.WriteFile(tmp, []byte("garbage garbage garbage garbage garbage garbage"), 0o600)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if n := count(s); n != 0 {
		t.Errorf("count = %d, want 0 (the file is gone bad)", n)
	}
	if aside, _ := filepath.Glob(path + corruptInfix + "*"); len(aside) != 1 {
		t.Errorf("moved-aside files: %v", aside)
	}
	mustSet(t, s, Credential{User: "v", Password: "pw", Persistence: Permanent}, exampleSpace)
	if got := openDir(t, dir).Credentials(exampleSpace); len(got) != 1 {
		t.Errorf("after recovery: %v", got)
	}
}

func TestNewerVersionIsLeftAlone(t *testing.T) {
	data := []byte(header(fileVersion+1) + "\nwhatever a later version writes\n")
	dir := t.TempDir()
	path := filepath.Join(dir, fileName)
	os.WriteFile(path, data, 0o600)
	if _, err := New(Options{Dir: dir, Backend: BackendFile}); !errors.Is(err, errVersion) {
		t.Errorf("New on a newer file: %v, want a version error", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
		t.Error("the newer file was modified")
	}
	if aside, _ := filepath.Glob(path + corruptInfix + "*"); len(aside) != 0 {
		t.Errorf("the newer file was moved aside: %v", aside)
	}
}

func TestStoresSharingADirectory(t *testing.T) {
	dir := t.TempDir()
	a, b := openDir(t, dir), openDir(t, dir)
	ca := Credential{User: "a", Password: "1", Persistence: Permanent}
	cb := Credential{User: "b", Password: "2", Persistence: Permanent}
	mustSet(t, a, ca, exampleSpace)
	if got := b.Credentials(exampleSpace); got["a"] != ca {
		t.Errorf("b does not see a's credential: %v", got)
	}
	mustSet(t, b, cb, exampleSpace) // must not erase a's
	if got := a.Credentials(exampleSpace); len(got) != 2 {
		t.Errorf("a sees %v, want both", got)
	}
	if d, _ := a.DefaultCredential(exampleSpace); d != ca {
		t.Errorf("default = %v, want the first stored %v", d, ca)
	}
	mustRemove(t, b, ca, exampleSpace)
	if got := a.Credentials(exampleSpace); len(got) != 1 || got["b"] != cb {
		t.Errorf("a sees %v after b removed a's credential", got)
	}
	if _, ok := a.DefaultCredential(exampleSpace); ok {
		t.Error("default survived its removal by another store")
	}
	// Session credentials stay private to their store.
	mustSet(t, a, Credential{User: "s", Password: "3", Persistence: ForSession}, exampleSpace)
	if _, ok := b.Credentials(exampleSpace)["s"]; ok {
		t.Error("a session credential is visible to another store")
	}
	// Concurrent writers in one process lose nothing.
	var wg sync.WaitGroup
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			for j := range 50 {
				sp := otherHost(fmt.Sprintf("h%d-%d.example", i, j))
				if err := s.Set(Credential{User: "u", Password: "pw", Persistence: Permanent}, sp); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := len(openDir(t, dir).AllCredentials()); got != 101 {
		t.Errorf("%d spaces, want 101", got)
	}
}

// TestTwoProcesses runs two copies of the test binary, each storing 100
// permanent credentials in the same directory at once.
func TestTwoProcesses(t *testing.T) {
	if os.Getenv("CREDSTORE_HELPER_DIR") != "" {
		t.Skip("helper process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	const procs, each = 2, 100
	cmds := make([]*exec.Cmd, procs)
	outs := make([]bytes.Buffer, procs)
	for i := range cmds {
		cmd := exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"CREDSTORE_HELPER_DIR="+dir,
			"CREDSTORE_HELPER_ID="+strconv.Itoa(i),
			"CREDSTORE_HELPER_N="+strconv.Itoa(each))
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		cmds[i] = cmd
	}
	for _, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i].String())
		}
	}
	s := openDir(t, dir)
	n := 0
	for sp, creds := range s.AllCredentials() {
		for user, c := range creds {
			n++
			if c.Persistence != Permanent || c.Password != "pw-"+sp.Host+"-"+user {
				t.Errorf("%v: %v", sp, c)
			}
		}
	}
	if n != procs*each {
		t.Errorf("%d credentials after two processes, want %d", n, procs*each)
	}
}

// TestHelperProcess is the body of TestTwoProcesses' child processes.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("CREDSTORE_HELPER_DIR")
	if dir == "" {
		t.Skip("only run as a helper process")
	}
	id := os.Getenv("CREDSTORE_HELPER_ID")
	n, _ := strconv.Atoi(os.Getenv("CREDSTORE_HELPER_N"))
	s, err := New(Options{Dir: dir, Backend: BackendFile})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		sp := ProtectionSpace{Host: "p" + id + ".example", Protocol: "https", Realm: strconv.Itoa(i % 7)}
		user := "u" + strconv.Itoa(i)
		if err := s.Set(Credential{User: user, Password: "pw-" + sp.Host + "-" + user, Persistence: Permanent}, sp); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMemoryOnlyWritesNothing exercises a memory-only store with HOME, the
// XDG directories and TMPDIR pointing at an empty directory and checks it
// stays empty.
func TestMemoryOnlyWritesNothing(t *testing.T) {
	home := t.TempDir()
	for _, v := range []string{"HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "TMPDIR"} {
		t.Setenv(v, home)
	}
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		sp := otherHost(fmt.Sprint("h", i))
		mustSet(t, s, Credential{User: "u", Password: "pw", Persistence: Permanent}, sp)
		mustSetDefault(t, s, Credential{User: "v", Password: "pw", Persistence: ForSession}, sp)
	}
	mustRemove(t, s, Credential{User: "u"}, otherHost("h0"))
	s.AllCredentials()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveAll(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	entries, err := os.ReadDir(home)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("memory-only store wrote %v", entries)
	}
}

func TestRemoveAllClearsDisk(t *testing.T) {
	dir := t.TempDir()
	a, b := openDir(t, dir), openDir(t, dir)
	mustSet(t, a, Credential{User: "a", Password: "1", Persistence: Permanent}, exampleSpace)
	mustSet(t, b, Credential{User: "b", Password: "2", Persistence: Permanent}, otherHost("x"))
	if err := a.RemoveAll(); err != nil {
		t.Fatal(err)
	}
	if n := count(b); n != 0 {
		t.Errorf("b still sees %v", b.AllCredentials())
	}
	if n := count(openDir(t, dir)); n != 0 {
		t.Errorf("%d credentials on disk after RemoveAll", n)
	}
}

func TestPermanentWriteFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	// Make the credentials path unreadable and unreplaceable, even for
	// root: a non-empty directory in its place.
	path := filepath.Join(dir, fileName)
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	n := notifications(s)
	c := Credential{User: "u", Password: "pw", Persistence: Permanent}
	if err := s.Set(c, exampleSpace); err == nil {
		t.Error("Set succeeded with a broken credentials file")
	}
	if err := s.SetDefaultCredential(c, exampleSpace); err == nil {
		t.Error("SetDefaultCredential succeeded with a broken credentials file")
	}
	if count(s) != 0 || n.Load() != 0 {
		t.Errorf("a failed Set changed the store: %v, %d notifications", s.AllCredentials(), n.Load())
	}
	if err := s.Flush(); err == nil {
		t.Error("Flush reported no error for an unreadable credentials file")
	}
	// Session credentials do not depend on the disk.
	mustSet(t, s, Credential{User: "s", Password: "pw", Persistence: ForSession}, exampleSpace)
	if count(s) != 1 || n.Load() != 1 {
		t.Errorf("session Set: %v, %d notifications", s.AllCredentials(), n.Load())
	}
	// Once the file is back in order, the store recovers.
	os.RemoveAll(path)
	mustSet(t, s, c, exampleSpace)
	if err := s.Flush(); err != nil {
		t.Error(err)
	}
	if got := openDir(t, dir).Credentials(exampleSpace); got["u"] != c {
		t.Errorf("on disk: %v", got)
	}
}

// TestOneChangedByteCostsOneCredential changes one byte at several places
// of each line of a credentials file: the credential on that line is the
// most that is lost, it is reported with the copy of the damaged file, and
// every other credential and default survives.
func TestOneChangedByteCostsOneCredential(t *testing.T) {
	src := t.TempDir()
	s := openDir(t, src)
	type cred struct {
		sp ProtectionSpace
		c  Credential
	}
	var creds []cred
	for i := range 4 {
		sp := otherHost(fmt.Sprintf("h%d.example", i))
		for _, u := range []string{"first", "second"} {
			c := Credential{User: u, Password: fmt.Sprintf("pw-%d-%s", i, u), Persistence: Permanent}
			mustSet(t, s, c, sp) // "first" becomes the space's default
			creds = append(creds, cred{sp, c})
		}
	}
	s.Close()
	data := mustRead(t, filepath.Join(src, fileName))
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines = lines[:len(lines)-1] // after the last newline

	// lineOf finds the line that holds a credential.
	lineOf := map[string]int{}
	for li, line := range lines[1:] {
		r, err := parseRecord(bytes.TrimSuffix(line, []byte("\n")))
		if err != nil {
			t.Fatal(err)
		}
		lineOf[r.space.Host+"/"+r.user] = li + 2
	}

	off := 0
	for li, line := range lines {
		n := li + 1
		for _, pos := range []int{0, sumLen, sumLen + 1, len(line) / 2, len(line) - 2, len(line) - 1} {
			t.Run(fmt.Sprintf("line%d/byte%d", n, pos), func(t *testing.T) {
				damaged := bytes.Clone(data)
				damaged[off+pos] ^= 0x20
				dir := t.TempDir()
				path := filepath.Join(dir, fileName)
				if err := os.WriteFile(path, damaged, 0o600); err != nil {
					t.Fatal(err)
				}
				s := openDir(t, dir)
				lost := 0
				for _, c := range creds {
					got, ok := s.Credentials(c.sp)[c.c.User]
					if !ok {
						lost++
						if lineOf[c.sp.Host+"/"+c.c.User] != n {
							t.Errorf("lost %s at %s, on line %d", c.c.User, c.sp.Host, lineOf[c.sp.Host+"/"+c.c.User])
						}
						continue
					}
					if got != c.c {
						t.Errorf("%s at %s came back as %v", c.c.User, c.sp.Host, got)
					}
				}
				for _, c := range creds {
					if c.c.User != "first" {
						continue
					}
					d, ok := s.DefaultCredential(c.sp)
					if _, present := s.Credentials(c.sp)["first"]; present && (!ok || d != c.c) {
						t.Errorf("default of %s: %v, %v", c.sp.Host, d, ok)
					} else if !present && ok {
						t.Errorf("default of %s is %v; no other credential may be promoted", c.sp.Host, d)
					}
				}
				re := recoveries(s.Recovered())
				switch {
				case lost > 1:
					t.Errorf("%d credentials lost", lost)
				case lost == 1 && (len(re) != 1 || !strings.Contains(re[0].What, fmt.Sprintf("line %d,", n))):
					t.Errorf("one credential lost; Recovered() = %v", re)
				case lost == 0 && len(re) != 0 && !(n == 1 && strings.Contains(re[0].What, "header")):
					t.Errorf("nothing lost; Recovered() = %v", re)
				}
				if len(re) > 0 {
					aside, _ := filepath.Glob(path + corruptInfix + "*")
					if len(aside) != 1 || !bytes.Equal(mustRead(t, aside[0]), damaged) || !strings.Contains(re[0].What, aside[0]) {
						t.Errorf("kept copies %v; report %v", aside, re)
					}
				}
				if d, err := decode(mustRead(t, path)); err != nil || d.irregular || len(d.records) != len(creds)-lost {
					t.Errorf("the file was not repaired: %+v, %v", d, err)
				}
			})
		}
		off += len(line)
	}
}

func TestFileBackendMigratesVersion1(t *testing.T) {
	dir := t.TempDir()
	recs := []record{{space: exampleSpace.Normalize(), user: "u", secret: "pw", isDefault: true}}
	if err := os.WriteFile(filepath.Join(dir, fileName), encodeV1(recs), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openDir(t, dir)
	if d, ok := s.DefaultCredential(exampleSpace); !ok || d.Password != "pw" {
		t.Errorf("default %v, %v", d, ok)
	}
	d, err := decode(mustRead(t, filepath.Join(dir, fileName)))
	if err != nil || d.v1 || d.irregular || !sameRecords(d.records, recs) {
		t.Errorf("file after migration: %+v, %v", d, err)
	}
}

// TestDamagedFileNotReplacedWithoutACopy: while no copy of a damaged file
// can be kept, the Store shows what survived but never replaces the file.
func TestDamagedFileNotReplacedWithoutACopy(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	keep := Credential{User: "keep", Password: "1", Persistence: Permanent}
	mustSet(t, s, keep, exampleSpace)
	mustSet(t, s, Credential{User: "lose", Password: "2", Persistence: Permanent}, exampleSpace)
	path := filepath.Join(dir, fileName)
	data := mustRead(t, path)
	damaged := bytes.Clone(data)
	off := 0
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if r, err := parseRecord(bytes.TrimSuffix(line, []byte("\n"))); err == nil && r.user == "lose" {
			damaged[off+len(line)/2] ^= 1 // in the middle of the record
		}
		off += len(line)
	}
	tmp := path + ".x"
	os.WriteFile(tmp, damaged, 0o600)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	fb := s.perm.(*fileBackend)
	s.mu.Lock()
	fb.failAside = errors.New("disk full")
	s.mu.Unlock()

	if got := s.Credentials(exampleSpace); len(got) != 1 || got["keep"] != keep {
		t.Errorf("credentials %v; want what survived", got)
	}
	if err := s.Set(Credential{User: "new", Password: "3", Persistence: Permanent}, exampleSpace); !errors.Is(err, errNotKept) {
		t.Errorf("Set = %v; want errNotKept", err)
	}
	if err := s.Flush(); !errors.Is(err, errNotKept) {
		t.Errorf("Flush = %v; want errNotKept", err)
	}
	if !bytes.Equal(mustRead(t, path), damaged) {
		t.Error("the damaged file was replaced without a copy")
	}
	if err := s.Recovered(); err != nil {
		t.Errorf("Recovered() = %v before anything was discarded from the file", err)
	}

	s.mu.Lock()
	fb.failAside = nil
	s.mu.Unlock()
	mustSet(t, s, Credential{User: "new", Password: "3", Persistence: Permanent}, exampleSpace)
	aside, _ := filepath.Glob(path + corruptInfix + "*")
	if len(aside) != 1 || !bytes.Equal(mustRead(t, aside[0]), damaged) {
		t.Errorf("kept copies %v", aside)
	}
	if re := recoveries(s.Recovered()); len(re) != 1 || !strings.Contains(re[0].What, `"lose"`) {
		t.Errorf("Recovered() = %v", re)
	}
	if got := openDir(t, dir).Credentials(exampleSpace); len(got) != 2 {
		t.Errorf("on disk: %v", got)
	}
}
