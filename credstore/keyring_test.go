package credstore

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	gokeyring "github.com/zalando/go-keyring"
)

// fakeKeyring is an in-memory Secret Service with fault injection.
type fakeKeyring struct {
	mu      sync.Mutex
	items   map[[2]string]string // service, item -> password
	fail    error                // every call fails with it when set
	failGet func(item string) error
	hang    chan struct{} // calls wait for it to close, when set
	calls   atomic.Int32
}

func newFakeKeyring() *fakeKeyring { return &fakeKeyring{items: map[[2]string]string{}} }

func (k *fakeKeyring) enter() error {
	k.calls.Add(1)
	k.mu.Lock()
	hang, fail := k.hang, k.fail
	k.mu.Unlock()
	if hang != nil {
		<-hang
	}
	return fail
}

func (k *fakeKeyring) Get(service, item string) (string, error) {
	if err := k.enter(); err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failGet != nil {
		if err := k.failGet(item); err != nil {
			return "", err
		}
	}
	pw, ok := k.items[[2]string{service, item}]
	if !ok {
		return "", gokeyring.ErrNotFound
	}
	return pw, nil
}

func (k *fakeKeyring) Set(service, item, pw string) error {
	if err := k.enter(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.items[[2]string{service, item}] = pw
	return nil
}

func (k *fakeKeyring) Delete(service, item string) error {
	if err := k.enter(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.items[[2]string{service, item}]; !ok {
		return gokeyring.ErrNotFound
	}
	delete(k.items, [2]string{service, item})
	return nil
}

func (k *fakeKeyring) set(f func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f()
}

// passwords returns the passwords the fake holds, by item.
func (k *fakeKeyring) passwords() map[string]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]string{}
	for key, pw := range k.items {
		if key[0] != secretServiceName {
			panic("item outside the package's service: " + key[0])
		}
		out[key[1]] = pw
	}
	return out
}

func openKeyringStore(t *testing.T, dir string, kr keyring) *Store {
	t.Helper()
	s, err := New(Options{Dir: dir, Backend: BackendSecretService, keyring: kr, Logger: quiet})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSecretServiceKeepsPasswordsOutOfTheFile(t *testing.T) {
	dir := t.TempDir()
	kr := newFakeKeyring()
	a := openKeyringStore(t, dir, kr)
	if a.Backend() != BackendSecretService || a.SecretServiceError() != nil {
		t.Fatalf("Backend() = %v, %v", a.Backend(), a.SecretServiceError())
	}
	alice := Credential{User: "alice", Password: "first-secret", Persistence: Permanent}
	bob := Credential{User: "bob", Password: "second-secret", Persistence: Permanent}
	mustSet(t, a, alice, exampleSpace)
	mustSet(t, a, bob, otherHost("b.example"))
	checkAllInKeyring(t, dir, 2)
	if got := kr.passwords(); len(got) != 2 {
		t.Errorf("Secret Service holds %v, want 2 items", got)
	}

	// Another Store (or process) on the directory sees them, and sees a
	// changed password at once.
	b := openKeyringStore(t, dir, kr)
	if got := b.Credentials(exampleSpace); got["alice"] != alice {
		t.Errorf("b sees %v", got)
	}
	alice.Password = "changed"
	mustSet(t, a, alice, exampleSpace)
	if got := b.Credentials(exampleSpace); got["alice"] != alice {
		t.Errorf("after the change b sees %v", got)
	}
	if d, ok := b.DefaultCredential(exampleSpace); !ok || d != alice {
		t.Errorf("default %v, %v", d, ok)
	}
	pws := kr.passwords()
	if len(pws) != 2 || !containsValue(pws, "changed") || containsValue(pws, "first-secret") {
		t.Errorf("after the change the Secret Service holds %v; want the old item gone", pws)
	}
	mustRemove(t, b, bob, otherHost("b.example"))
	if pws := kr.passwords(); len(pws) != 1 {
		t.Errorf("after Remove the Secret Service holds %v", pws)
	}
	if err := a.RemoveAll(); err != nil {
		t.Fatal(err)
	}
	if pws := kr.passwords(); len(pws) != 0 {
		t.Errorf("after RemoveAll the Secret Service holds %v", pws)
	}
	if n := count(b); n != 0 {
		t.Errorf("b still sees %d", n)
	}
}

// fileRecords reads the records of dir's credentials file, which must be
// intact and in the current format.
func fileRecords(t *testing.T, dir string) []record {
	t.Helper()
	d, err := decode(mustRead(t, filepath.Join(dir, fileName)))
	if err != nil || d.irregular || d.v1 {
		t.Fatalf("credentials file: %+v, %v", d, err)
	}
	return d.records
}

// checkAllInKeyring checks that dir's file has n records and no password.
func checkAllInKeyring(t *testing.T, dir string, n int) {
	t.Helper()
	recs := fileRecords(t, dir)
	if len(recs) != n {
		t.Errorf("%d records in the file, want %d", len(recs), n)
	}
	for _, r := range recs {
		if !r.keyring {
			t.Errorf("the file holds the password of %q", r.user)
		}
	}
}

func containsValue(m map[string]string, v string) bool {
	for _, x := range m {
		if x == v {
			return true
		}
	}
	return false
}

func TestSecretServiceMigratesPasswordsFromTheFile(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		name := map[bool]string{false: "version 2", true: "version 1"}[v1]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			recs := []record{
				{space: exampleSpace.Normalize(), user: "u", secret: "pw-u", isDefault: true},
				{space: otherHost("x").Normalize(), user: "v", secret: "pw-v"},
			}
			data := encode(recs)
			if v1 {
				data = encodeV1(recs)
			}
			if err := os.WriteFile(filepath.Join(dir, fileName), data, 0o600); err != nil {
				t.Fatal(err)
			}
			kr := newFakeKeyring()
			s := openKeyringStore(t, dir, kr)
			if d, ok := s.DefaultCredential(exampleSpace); !ok || d.Password != "pw-u" {
				t.Errorf("default after migration: %v, %v", d, ok)
			}
			if n := count(s); n != 2 {
				t.Errorf("count %d", n)
			}
			checkAllInKeyring(t, dir, 2)
			if pws := kr.passwords(); len(pws) != 2 {
				t.Errorf("Secret Service holds %v", pws)
			}
			if err := s.Recovered(); err != nil {
				t.Errorf("Recovered() = %v; a migration discards nothing", err)
			}
			if aside, _ := filepath.Glob(filepath.Join(dir, fileName+corruptInfix+"*")); len(aside) != 0 {
				t.Errorf("kept copies %v", aside)
			}
		})
	}
}

func TestAutoFallsBackToTheFile(t *testing.T) {
	dir := t.TempDir()
	kr := newFakeKeyring()
	kr.fail = errors.New("org.freedesktop.secrets was not provided by any .service files")
	s, err := New(Options{Dir: dir, keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Backend() != BackendFile {
		t.Errorf("Backend() = %v, want file", s.Backend())
	}
	if err := s.SecretServiceError(); !errors.Is(err, ErrNoSecretService) || !strings.Contains(err.Error(), "not provided") {
		t.Errorf("SecretServiceError() = %v", err)
	}
	mustSet(t, s, Credential{User: "u", Password: "in-the-file", Persistence: Permanent}, exampleSpace)
	if recs := fileRecords(t, dir); len(recs) != 1 || recs[0].keyring || recs[0].secret != "in-the-file" {
		t.Errorf("file records %+v; want the password in the file", recs)
	}
	if n := kr.calls.Load(); n != 1 {
		t.Errorf("%d Secret Service calls; want the one probe", n)
	}
	// Forcing the Secret Service fails instead.
	if _, err := New(Options{Dir: dir, Backend: BackendSecretService, keyring: kr}); !errors.Is(err, ErrNoSecretService) {
		t.Errorf("forced Secret Service: %v", err)
	}
	// Forcing the file never asks.
	kr.calls.Store(0)
	f, err := New(Options{Dir: dir, Backend: BackendFile, keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Backend() != BackendFile || f.SecretServiceError() != nil || kr.calls.Load() != 0 {
		t.Errorf("BackendFile: %v, %v, %d calls", f.Backend(), f.SecretServiceError(), kr.calls.Load())
	}
	for _, o := range []Options{{}, {Dir: dir, Backend: BackendMemory}} {
		m, err := New(o)
		if err != nil || m.Backend() != BackendMemory {
			t.Errorf("New(%+v): %v, %v", o, m.Backend(), err)
		}
	}
	if _, err := New(Options{Dir: dir, Backend: 42}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown backend: %v", err)
	}
}

// TestNoSessionBus checks, with the real client, that a missing or dead
// session bus means the file, quickly and without starting a bus.
func TestNoSessionBus(t *testing.T) {
	if _, err := os.Stat(filepathRunUserBus()); err == nil {
		t.Skip("this machine has a session bus at " + filepathRunUserBus())
	}
	for _, addr := range []string{"", "autolaunch:", "unix:path=" + filepath.Join(t.TempDir(), "no-bus")} {
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
		s, err := New(Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if s.Backend() != BackendFile || !errors.Is(s.SecretServiceError(), ErrNoSecretService) {
			t.Errorf("bus %q: Backend() = %v, %v", addr, s.Backend(), s.SecretServiceError())
		}
		t.Logf("bus %q: %v", addr, s.SecretServiceError())
		s.Close()
	}
}

func filepathRunUserBus() string { return "/run/user/" + strconv.Itoa(os.Getuid()) + "/bus" }

// TestSecretServiceThatDoesNotAnswer: every call is bounded by
// KeyringTimeout, on the fake clock of a synctest bubble.
func TestSecretServiceThatDoesNotAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		kr := newFakeKeyring()
		kr.hang = make(chan struct{})
		start := time.Now()
		s, err := New(Options{Dir: dir, keyring: kr, KeyringTimeout: 3 * time.Second, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != 3*time.Second {
			t.Errorf("New took %v, want the 3s timeout", took)
		}
		if s.Backend() != BackendFile || !strings.Contains(s.SecretServiceError().Error(), "did not answer within 3s") {
			t.Errorf("Backend() = %v, %v", s.Backend(), s.SecretServiceError())
		}
		s.Close()
		close(kr.hang) // the probe returns, its goroutine ends

		// A Store using the Secret Service when it stops answering: a
		// write fails after the timeout, and the next one at once, while
		// the stuck call is still out.
		kr.set(func() { kr.hang = nil })
		s = openKeyringStore(t, dir, kr)
		hang := make(chan struct{})
		kr.set(func() { kr.hang = hang })
		c := Credential{User: "u", Password: "pw", Persistence: Permanent}
		start = time.Now()
		if err := s.Set(c, exampleSpace); err == nil {
			t.Error("Set succeeded with a Secret Service that does not answer")
		}
		if took := time.Since(start); took != DefaultKeyringTimeout {
			t.Errorf("Set took %v, want %v", took, DefaultKeyringTimeout)
		}
		calls := kr.calls.Load()
		start = time.Now()
		if err := s.Set(c, exampleSpace); !errors.Is(err, errKeyringBusy) || time.Since(start) != 0 {
			t.Errorf("second Set: %v after %v; want errKeyringBusy at once", err, time.Since(start))
		}
		if kr.calls.Load() != calls {
			t.Error("a call was made while one was stuck")
		}
		if n := count(s); n != 0 {
			t.Errorf("count %d after failed Sets", n)
		}
		close(hang)
		synctest.Wait()
		kr.set(func() { kr.hang = nil })
		mustSet(t, s, c, exampleSpace)
		if got := s.Credentials(exampleSpace); got["u"] != c {
			t.Errorf("after the service answers again: %v", got)
		}
	})
}

// TestHeldCredentials: credentials whose passwords are in the Secret
// Service stay in the file, unseen, for a Store that cannot fetch them,
// and come back when the service answers.
func TestHeldCredentials(t *testing.T) {
	dir := t.TempDir()
	kr := newFakeKeyring()
	k := openKeyringStore(t, dir, kr)
	inKeyring := Credential{User: "k", Password: "pw-k", Persistence: Permanent}
	mustSetDefault(t, k, inKeyring, exampleSpace)
	mustSet(t, k, Credential{User: "gone", Password: "pw-g", Persistence: Permanent}, otherHost("g"))
	k.Close()

	// A file-only Store sees nothing of them, and keeps them.
	f := openDir(t, dir)
	if n := count(f); n != 0 {
		t.Errorf("file backend sees %v", f.AllCredentials())
	}
	fileCred := Credential{User: "f", Password: "pw-f", Persistence: Permanent}
	mustSet(t, f, fileCred, exampleSpace)
	if d, ok := f.DefaultCredential(exampleSpace); !ok || d != fileCred {
		t.Errorf("default %v, %v; the held default is not shown", d, ok)
	}
	mustRemove(t, f, Credential{User: "gone"}, otherHost("g"))
	f.Close()

	// Back with the Secret Service: the held credential is there again,
	// the one removed meanwhile is not, the file credential moved in.
	k = openKeyringStore(t, dir, kr)
	got := k.Credentials(exampleSpace)
	if len(got) != 2 || got["k"] != inKeyring || got["f"] != fileCred {
		t.Errorf("credentials %v", got)
	}
	if d, _ := k.DefaultCredential(exampleSpace); d != fileCred {
		t.Errorf("default %v; the one set while the other was held", d)
	}
	if len(k.Credentials(otherHost("g"))) != 0 {
		t.Error("a credential removed while held came back")
	}
	checkAllInKeyring(t, dir, 2)

	// Credentials the Secret Service will not give (a locked item) are
	// held too, and Flush says so.
	kr.set(func() {
		kr.failGet = func(item string) error {
			if item == probeItem {
				return gokeyring.ErrNotFound
			}
			return errors.New("item is locked")
		}
	})
	l := openKeyringStore(t, dir, kr)
	if l.Backend() != BackendSecretService || count(l) != 0 {
		t.Errorf("locked: %v, %v", l.Backend(), l.AllCredentials())
	}
	if err := l.Flush(); err == nil || !strings.Contains(err.Error(), "item is locked") {
		t.Errorf("Flush() = %v", err)
	}
	if err := l.Recovered(); err != nil {
		t.Errorf("Recovered() = %v; nothing was discarded", err)
	}
	kr.set(func() { kr.failGet = nil })
	mustSet(t, l, Credential{User: "new", Password: "n", Persistence: Permanent}, otherHost("n"))
	if l2 := openKeyringStore(t, dir, kr); count(l2) != 3 {
		t.Errorf("after the service answers again: %v", l2.AllCredentials())
	}
}

func TestSecretServiceItemGone(t *testing.T) {
	dir := t.TempDir()
	kr := newFakeKeyring()
	s := openKeyringStore(t, dir, kr)
	keep := Credential{User: "keep", Password: "1", Persistence: Permanent}
	mustSet(t, s, keep, exampleSpace)
	mustSet(t, s, Credential{User: "lost", Password: "2", Persistence: Permanent}, exampleSpace)
	s.Close()
	kr.set(func() {
		for key, pw := range kr.items {
			if pw == "2" {
				delete(kr.items, key) // someone deleted it in a keyring manager
			}
		}
	})
	s = openKeyringStore(t, dir, kr)
	if got := s.Credentials(exampleSpace); len(got) != 1 || got["keep"] != keep {
		t.Errorf("credentials %v", got)
	}
	re := recoveries(s.Recovered())
	if len(re) != 1 || !errors.Is(re[0], gokeyring.ErrNotFound) || !strings.Contains(re[0].What, `"lost"`) {
		t.Errorf("Recovered() = %v", re)
	}
	d, err := decode(mustRead(t, filepath.Join(dir, fileName)))
	if err != nil || len(d.records) != 1 {
		t.Errorf("file after the loss: %+v, %v", d, err)
	}
}

// TestGoKeyringMock runs the go-keyring client against go-keyring's own
// mock provider, in a child process because the mock replaces the
// client's provider for the rest of the process.
func TestGoKeyringMock(t *testing.T) {
	if os.Getenv("CREDSTORE_GOKEYRING_MOCK") == "1" {
		gokeyring.MockInit()
		dir := t.TempDir()
		kr, err := openKeyring(secretService{}, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		s := openKeyringStore(t, dir, kr.api)
		c := Credential{User: "u", Password: "pw", Persistence: Permanent}
		mustSet(t, s, c, exampleSpace)
		s.Close()
		if got := openKeyringStore(t, dir, kr.api).Credentials(exampleSpace); got["u"] != c {
			t.Fatalf("through go-keyring's mock: %v", got)
		}
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestGoKeyringMock$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CREDSTORE_GOKEYRING_MOCK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
