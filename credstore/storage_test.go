package credstore

import (
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Ports of swift-corelibs-foundation's TestURLCredentialStorage. Each case
// runs against a memory-only Store and a Store with a directory, with
// ForSession credentials as upstream and again with Permanent ones.

var exampleSpace = ProtectionSpace{Host: "example.com", Protocol: "http", AuthenticationMethod: AuthMethodDefault}

func otherHost(h string) ProtectionSpace {
	sp := exampleSpace
	sp.Host = h
	return sp
}

type storeCase struct {
	name string
	open func(t *testing.T) *Store
	p    Persistence
}

func storeCases() []storeCase {
	mem := func(t *testing.T) *Store {
		s, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	disk := func(t *testing.T) *Store {
		s, err := New(Options{Dir: filepath.Join(t.TempDir(), "creds"), Backend: BackendFile})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	keyring := func(t *testing.T) *Store {
		s, err := New(Options{Dir: filepath.Join(t.TempDir(), "creds"), Backend: BackendSecretService, keyring: newFakeKeyring()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return []storeCase{
		{"memory/forSession", mem, ForSession},
		{"memory/permanent", mem, Permanent},
		{"disk/forSession", disk, ForSession},
		{"disk/permanent", disk, Permanent},
		{"secret-service/forSession", keyring, ForSession},
		{"secret-service/permanent", keyring, Permanent},
	}
}

// eachStore runs f for every kind of store and persistence.
func eachStore(t *testing.T, f func(t *testing.T, s *Store, p Persistence)) {
	for _, c := range storeCases() {
		t.Run(c.name, func(t *testing.T) { f(t, c.open(t), c.p) })
	}
}

func count(s *Store) int {
	n := 0
	for _, m := range s.AllCredentials() {
		n += len(m)
	}
	return n
}

// notifications counts OnChange calls.
func notifications(s *Store) *atomic.Int32 {
	var n atomic.Int32
	s.OnChange(func() { n.Add(1) })
	return &n
}

func mustSet(t *testing.T, s *Store, c Credential, sp ProtectionSpace) {
	t.Helper()
	if err := s.Set(c, sp); err != nil {
		t.Fatalf("Set(%v, %v): %v", c, sp, err)
	}
}

func mustSetDefault(t *testing.T, s *Store, c Credential, sp ProtectionSpace) {
	t.Helper()
	if err := s.SetDefaultCredential(c, sp); err != nil {
		t.Fatalf("SetDefaultCredential(%v, %v): %v", c, sp, err)
	}
}

func mustRemove(t *testing.T, s *Store, c Credential, sp ProtectionSpace) {
	t.Helper()
	if err := s.Remove(c, sp); err != nil {
		t.Fatalf("Remove(%v, %v): %v", c, sp, err)
	}
}

func TestStorageStartsEmpty(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, _ Persistence) {
		if n := count(s); n != 0 {
			t.Errorf("count = %d, want 0", n)
		}
		if all := s.AllCredentials(); all == nil {
			t.Error("AllCredentials = nil, want empty map")
		}
	})
}

func TestCredentialGetsReturnedForTheRightProtectionSpace(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		c := Credential{User: "user1", Password: "password1", Persistence: p}
		before := count(s)
		mustSet(t, s, c, exampleSpace)
		if got := count(s) - before; got != 1 {
			t.Errorf("count changed by %d, want 1", got)
		}
		creds := s.Credentials(exampleSpace)
		if len(creds) != 1 {
			t.Fatalf("Credentials = %v, want 1 entry", creds)
		}
		if got := creds["user1"]; got != c {
			t.Errorf("recovered %v, want %v", got, c)
		}
	})
}

func TestCredentialDoesNotGetReturnedForTheWrongProtectionSpace(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		mustSet(t, s, Credential{User: "user1", Password: "password1", Persistence: p}, exampleSpace)
		if got := s.Credentials(otherHost("example2.com")); got != nil {
			t.Errorf("Credentials(wrong space) = %v, want nil", got)
		}
	})
}

func TestCredentialBecomesDefaultForProtectionSpace(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		c := Credential{User: "user1", Password: "password1", Persistence: p}
		mustSet(t, s, c, exampleSpace)
		if got, ok := s.DefaultCredential(exampleSpace); !ok || got != c {
			t.Errorf("DefaultCredential = %v, %v; want %v, true", got, ok, c)
		}
		// A second credential does not take the default over.
		mustSet(t, s, Credential{User: "user2", Password: "password2", Persistence: p}, exampleSpace)
		if got, _ := s.DefaultCredential(exampleSpace); got != c {
			t.Errorf("after a second Set, DefaultCredential = %v, want %v", got, c)
		}
	})
}

func TestCredentialGetsReturnedAsDefaultIfSetAsDefaultForSpace(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		c := Credential{User: "user1", Password: "password1", Persistence: p}
		mustSetDefault(t, s, c, exampleSpace)
		if got, ok := s.DefaultCredential(exampleSpace); !ok || got != c {
			t.Errorf("DefaultCredential = %v, %v; want %v, true", got, ok, c)
		}
	})
}

func TestCredentialGetsReturnedIfSetAsDefaultForSpace(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		c := Credential{User: "user1", Password: "password1", Persistence: p}
		before := count(s)
		mustSetDefault(t, s, c, exampleSpace)
		if got := count(s) - before; got != 1 {
			t.Errorf("count changed by %d, want 1", got)
		}
		if got := s.Credentials(exampleSpace)["user1"]; got != c {
			t.Errorf("recovered %v, want %v", got, c)
		}
	})
}

func TestCredentialDoesNotGetReturnedIfSetAsDefaultForOtherSpace(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		mustSetDefault(t, s, Credential{User: "user1", Password: "password1", Persistence: p}, exampleSpace)
		if got, ok := s.DefaultCredential(otherHost("example2.com")); ok {
			t.Errorf("DefaultCredential(other space) = %v, want none", got)
		}
	})
}

func TestCredentialDoesNotGetReturnedWhenNotAddedAsDefault(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		c1 := Credential{User: "user1", Password: "password1", Persistence: p}
		c2 := Credential{User: "user2", Password: "password2", Persistence: p}
		mustSet(t, s, c2, exampleSpace)
		mustSetDefault(t, s, c1, exampleSpace)
		if got, ok := s.DefaultCredential(exampleSpace); !ok || got != c1 {
			t.Errorf("DefaultCredential = %v, %v; want %v", got, ok, c1)
		}
	})
}

func TestCredentialCanBeRemovedFromSpace(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		c := Credential{User: "user1", Password: "password1", Persistence: p}
		mustSet(t, s, c, exampleSpace)
		before := count(s)
		mustRemove(t, s, c, exampleSpace)
		if got := count(s) - before; got != -1 {
			t.Errorf("count changed by %d, want -1", got)
		}
		if got := s.Credentials(exampleSpace); got != nil {
			t.Errorf("Credentials after Remove = %v, want nil", got)
		}
		if got, ok := s.DefaultCredential(exampleSpace); ok {
			t.Errorf("DefaultCredential after Remove = %v, want none", got)
		}
		mustRemove(t, s, c, exampleSpace) // again: not an error
	})
}

func TestDefaultCredentialCanBeRemovedFromSpace(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		c1 := Credential{User: "user1", Password: "password1", Persistence: p}
		c2 := Credential{User: "user2", Password: "password2", Persistence: p}
		mustSetDefault(t, s, c1, exampleSpace)
		mustSet(t, s, c2, exampleSpace)
		mustRemove(t, s, c1, exampleSpace)
		if got, ok := s.DefaultCredential(exampleSpace); ok {
			t.Errorf("DefaultCredential = %v, want none (no promotion)", got)
		}
		if got := s.Credentials(exampleSpace); len(got) != 1 || got["user2"] != c2 {
			t.Errorf("Credentials = %v, want only %v", got, c2)
		}
	})
}

func TestRemoveMatchesByUserName(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		mustSet(t, s, Credential{User: "user1", Password: "password1", Persistence: p}, exampleSpace)
		mustRemove(t, s, Credential{User: "user1", Password: "other", Persistence: None}, exampleSpace)
		if got := s.Credentials(exampleSpace); got != nil {
			t.Errorf("Credentials = %v, want nil", got)
		}
	})
}

func TestStorageCanRemoveArbitraryCredentialWithoutFailing(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		c2 := Credential{User: "user2", Password: "password2", Persistence: p}
		mustSet(t, s, c2, exampleSpace)
		n := notifications(s)
		mustRemove(t, s, Credential{User: "user1", Password: "password1", Persistence: p}, exampleSpace)
		if got := s.Credentials(exampleSpace); len(got) != 1 || got["user2"] != c2 {
			t.Errorf("Credentials = %v, want only %v", got, c2)
		}
		if n.Load() != 0 {
			t.Errorf("%d notifications, want 0", n.Load())
		}
	})
}

func TestStorageWillNotSaveCredentialsWithoutPersistence(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, _ Persistence) {
		n := notifications(s)
		c := Credential{User: "user1", Password: "password1", Persistence: None}
		mustSet(t, s, c, exampleSpace)
		mustSetDefault(t, s, c, exampleSpace)
		if got := count(s); got != 0 {
			t.Errorf("count = %d, want 0", got)
		}
		if _, ok := s.DefaultCredential(exampleSpace); ok {
			t.Error("a None credential became the default")
		}
		if n.Load() != 0 {
			t.Errorf("%d notifications, want 0", n.Load())
		}
	})
}

func TestNotifications(t *testing.T) {
	c1 := func(p Persistence) Credential {
		return Credential{User: "user1", Password: "password1", Persistence: p}
	}
	c2 := func(p Persistence) Credential {
		return Credential{User: "user2", Password: "password2", Persistence: p}
	}
	space1, space2 := otherHost("example1.com"), otherHost("example2.com")
	tests := []struct {
		name  string
		setup func(t *testing.T, s *Store, p Persistence)
		act   func(t *testing.T, s *Store, p Persistence)
		want  int32
	}{
		{"adding new credential", nil,
			func(t *testing.T, s *Store, p Persistence) { mustSet(t, s, c1(p), exampleSpace) }, 1},
		{"adding existing credential to different space",
			func(t *testing.T, s *Store, p Persistence) { mustSet(t, s, c1(p), space1) },
			func(t *testing.T, s *Store, p Persistence) { mustSet(t, s, c1(p), space2) }, 1},
		{"adding existing (equal) credential is no change",
			func(t *testing.T, s *Store, p Persistence) { mustSet(t, s, c1(p), exampleSpace) },
			func(t *testing.T, s *Store, p Persistence) { mustSet(t, s, c1(p), exampleSpace) }, 0},
		{"changing a password",
			func(t *testing.T, s *Store, p Persistence) { mustSet(t, s, c1(p), exampleSpace) },
			func(t *testing.T, s *Store, p Persistence) {
				mustSet(t, s, Credential{User: "user1", Password: "new", Persistence: p}, exampleSpace)
			}, 1},
		{"adding new default credential", nil,
			func(t *testing.T, s *Store, p Persistence) { mustSetDefault(t, s, c1(p), exampleSpace) }, 1},
		{"adding existing default credential is no change",
			func(t *testing.T, s *Store, p Persistence) { mustSetDefault(t, s, c1(p), exampleSpace) },
			func(t *testing.T, s *Store, p Persistence) { mustSetDefault(t, s, c1(p), exampleSpace) }, 0},
		{"adding different default credential",
			func(t *testing.T, s *Store, p Persistence) { mustSetDefault(t, s, c1(p), exampleSpace) },
			func(t *testing.T, s *Store, p Persistence) { mustSetDefault(t, s, c2(p), exampleSpace) }, 1},
		{"making a stored credential the default",
			func(t *testing.T, s *Store, p Persistence) {
				mustSet(t, s, c1(p), exampleSpace)
				mustSet(t, s, c2(p), exampleSpace)
			},
			func(t *testing.T, s *Store, p Persistence) { mustSetDefault(t, s, c2(p), exampleSpace) }, 1},
		{"removing existing credential",
			func(t *testing.T, s *Store, p Persistence) { mustSet(t, s, c1(p), exampleSpace) },
			func(t *testing.T, s *Store, p Persistence) { mustRemove(t, s, c1(p), exampleSpace) }, 1},
		{"removing existing credential in other space is no change",
			func(t *testing.T, s *Store, p Persistence) { mustSet(t, s, c1(p), space1) },
			func(t *testing.T, s *Store, p Persistence) { mustRemove(t, s, c1(p), space2) }, 0},
		{"removing the default credential notifies once",
			func(t *testing.T, s *Store, p Persistence) { mustSetDefault(t, s, c1(p), exampleSpace) },
			func(t *testing.T, s *Store, p Persistence) { mustRemove(t, s, c1(p), exampleSpace) }, 1},
		{"remove all",
			func(t *testing.T, s *Store, p Persistence) {
				mustSet(t, s, c1(p), space1)
				mustSet(t, s, c2(p), space2)
			},
			func(t *testing.T, s *Store, p Persistence) {
				if err := s.RemoveAll(); err != nil {
					t.Fatal(err)
				}
			}, 1},
		{"remove all of nothing is no change", nil,
			func(t *testing.T, s *Store, p Persistence) {
				if err := s.RemoveAll(); err != nil {
					t.Fatal(err)
				}
			}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, s *Store, p Persistence) {
				if tt.setup != nil {
					tt.setup(t, s, p)
				}
				n := notifications(s)
				tt.act(t, s, p)
				if got := n.Load(); got != tt.want {
					t.Errorf("%d notifications, want %d", got, tt.want)
				}
			})
		})
	}
}

func TestOnChangeCancelAndReentrancy(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		var seen []int
		// The callback reads the Store: it must not run under the lock.
		cancel := s.OnChange(func() { seen = append(seen, len(s.Credentials(exampleSpace))) })
		mustSet(t, s, Credential{User: "a", Password: "1", Persistence: p}, exampleSpace)
		mustSet(t, s, Credential{User: "b", Password: "2", Persistence: p}, exampleSpace)
		cancel()
		cancel() // idempotent
		mustSet(t, s, Credential{User: "c", Password: "3", Persistence: p}, exampleSpace)
		if len(seen) != 2 || seen[0] != 1 || seen[1] != 2 {
			t.Errorf("callback saw %v, want [1 2] (after the change, not after cancel)", seen)
		}
		if s.OnChange(nil) == nil {
			t.Error("OnChange(nil) returned a nil cancel")
		}
	})
}

func TestReplacingAcrossPersistence(t *testing.T) {
	for _, c := range storeCases() {
		if c.p != Permanent {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			s := c.open(t)
			perm := Credential{User: "u", Password: "p1", Persistence: Permanent}
			sess := Credential{User: "u", Password: "p2", Persistence: ForSession}
			mustSetDefault(t, s, perm, exampleSpace)
			// A session credential shadows the permanent one of its user.
			mustSet(t, s, sess, exampleSpace)
			if got := s.Credentials(exampleSpace); len(got) != 1 || got["u"] != sess {
				t.Errorf("after ForSession Set: %v, want only %v", got, sess)
			}
			if got, ok := s.DefaultCredential(exampleSpace); !ok || got != sess {
				t.Errorf("default (user u) = %v, %v; want %v", got, ok, sess)
			}
			// Setting the permanent one again drops the session one.
			mustSet(t, s, perm, exampleSpace)
			if got := s.Credentials(exampleSpace); len(got) != 1 || got["u"] != perm {
				t.Errorf("after Permanent Set: %v, want only %v", got, perm)
			}
			if got, ok := s.DefaultCredential(exampleSpace); !ok || got != perm {
				t.Errorf("default (user u) = %v, %v; want %v", got, ok, perm)
			}
			// Remove takes the user out of both tiers.
			mustSet(t, s, sess, exampleSpace)
			mustRemove(t, s, sess, exampleSpace)
			if got := s.Credentials(exampleSpace); got != nil {
				t.Errorf("after Remove: %v, want nil", got)
			}
		})
	}
}

func TestSessionCredentialLeavesDiskAlone(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	perm := Credential{User: "u", Password: "p1", Persistence: Permanent}
	mustSet(t, s, perm, exampleSpace)
	mustSetDefault(t, s, Credential{User: "u", Password: "p2", Persistence: ForSession}, exampleSpace)
	mustSetDefault(t, s, Credential{User: "v", Password: "p3", Persistence: ForSession}, exampleSpace)
	other := openDir(t, dir)
	if got := other.Credentials(exampleSpace); len(got) != 1 || got["u"] != perm {
		t.Errorf("another store sees %v, want only %v", got, perm)
	}
	if got, ok := other.DefaultCredential(exampleSpace); !ok || got != perm {
		t.Errorf("another store's default = %v, %v; want %v", got, ok, perm)
	}
	if got, _ := s.DefaultCredential(exampleSpace); got.User != "v" {
		t.Errorf("this store's default = %v, want the session default v", got)
	}
}

func TestSessionDefaultOverPermanentCredential(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		a := Credential{User: "a", Password: "1", Persistence: Permanent}
		b := Credential{User: "b", Password: "2", Persistence: ForSession}
		mustSet(t, s, a, exampleSpace) // becomes the default
		mustSetDefault(t, s, b, exampleSpace)
		if got, _ := s.DefaultCredential(exampleSpace); got != b {
			t.Errorf("DefaultCredential = %v, want %v", got, b)
		}
		mustSetDefault(t, s, a, exampleSpace)
		if got, _ := s.DefaultCredential(exampleSpace); got != a {
			t.Errorf("DefaultCredential = %v, want %v", got, a)
		}
		if got := s.Credentials(exampleSpace); len(got) != 2 {
			t.Errorf("Credentials = %v, want both", got)
		}
	})
}

// TestSpacesDoNotMix stores one credential in each of many spaces that
// differ in one field and checks that each lookup sees only its own.
func TestSpacesDoNotMix(t *testing.T) {
	base := ProtectionSpace{Host: "example.com", Port: 8080, Protocol: "http", Realm: "r", AuthenticationMethod: AuthMethodHTTPBasic}
	vary := []func(*ProtectionSpace){
		func(p *ProtectionSpace) {},
		func(p *ProtectionSpace) { p.Host = "example.org" },
		func(p *ProtectionSpace) { p.Port = 8081 },
		func(p *ProtectionSpace) { p.Port = 0 },
		func(p *ProtectionSpace) { p.Protocol = "https" },
		func(p *ProtectionSpace) { p.Protocol = "ftp" },
		func(p *ProtectionSpace) { p.Realm = "R" },
		func(p *ProtectionSpace) { p.Realm = "" },
		func(p *ProtectionSpace) { p.AuthenticationMethod = AuthMethodHTTPDigest },
		func(p *ProtectionSpace) { p.AuthenticationMethod = AuthMethodDefault },
		func(p *ProtectionSpace) { p.AuthenticationMethod = AuthMethodNTLM },
		func(p *ProtectionSpace) { p.Protocol, p.ProxyType = "", ProxyHTTP },
		func(p *ProtectionSpace) { p.Protocol, p.ProxyType = "", ProxyHTTPS },
		func(p *ProtectionSpace) { p.Protocol, p.ProxyType = "", ProxySOCKS },
		func(p *ProtectionSpace) { p.Protocol, p.ProxyType = "", ProxyFTP },
	}
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		spaces := make([]ProtectionSpace, len(vary))
		for i, v := range vary {
			spaces[i] = base
			v(&spaces[i])
			mustSet(t, s, Credential{User: "user", Password: spaces[i].String(), Persistence: p}, spaces[i])
		}
		if got := len(s.AllCredentials()); got != len(spaces) {
			t.Errorf("AllCredentials has %d spaces, want %d", got, len(spaces))
		}
		for _, sp := range spaces {
			got := s.Credentials(sp)
			if len(got) != 1 || got["user"].Password != sp.String() {
				t.Errorf("Credentials(%v) = %v, want its own only", sp, got)
			}
			if d, ok := s.DefaultCredential(sp); !ok || d.Password != sp.String() {
				t.Errorf("DefaultCredential(%v) = %v, %v", sp, d, ok)
			}
		}
	})
}

func TestNormalisedLookups(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		c := Credential{User: "u", Password: "pw", Persistence: p}
		mustSet(t, s, c, ProtectionSpace{Host: "Example.COM", Protocol: "HTTPS"})
		canonical := ProtectionSpace{Host: "example.com", Port: 443, Protocol: "https", AuthenticationMethod: AuthMethodDefault}
		for _, sp := range []ProtectionSpace{
			canonical,
			{Host: "EXAMPLE.com", Port: 443, Protocol: "https"},
			{Host: "example.com", Protocol: "Https", AuthenticationMethod: ""},
		} {
			if got := s.Credentials(sp)["u"]; got != c {
				t.Errorf("Credentials(%v) = %v, want %v", sp, got, c)
			}
		}
		all := s.AllCredentials()
		if _, ok := all[canonical]; !ok || len(all) != 1 {
			t.Errorf("AllCredentials keys = %v, want only %v", all, canonical)
		}
		mustRemove(t, s, c, ProtectionSpace{Host: "example.COM", Port: 443, Protocol: "https"})
		if count(s) != 0 {
			t.Errorf("Remove through a differently spelled space left %v", s.AllCredentials())
		}
	})
}

func TestInvalidArguments(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		c := Credential{User: "u", Password: "pw", Persistence: p}
		for _, port := range []int{-1, 65536} {
			sp := exampleSpace
			sp.Port = port
			if err := s.Set(c, sp); !errors.Is(err, ErrInvalid) {
				t.Errorf("Set with port %d: %v, want ErrInvalid", port, err)
			}
			if err := s.SetDefaultCredential(c, sp); !errors.Is(err, ErrInvalid) {
				t.Errorf("SetDefaultCredential with port %d: %v, want ErrInvalid", port, err)
			}
			if s.Credentials(sp) != nil {
				t.Error("an invalid space has credentials")
			}
		}
		for _, bad := range []Persistence{-1, 3} {
			if err := s.Set(Credential{User: "u", Persistence: bad}, exampleSpace); !errors.Is(err, ErrInvalid) {
				t.Errorf("Set with persistence %d: %v, want ErrInvalid", bad, err)
			}
		}
		if count(s) != 0 {
			t.Errorf("invalid calls stored %v", s.AllCredentials())
		}
	})
}

func TestEmptyUserName(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		c := Credential{User: "", Password: "token", Persistence: p}
		mustSet(t, s, c, exampleSpace)
		if got, ok := s.Credentials(exampleSpace)[""]; !ok || got != c {
			t.Errorf("Credentials[\"\"] = %v, %v", got, ok)
		}
		if got, ok := s.DefaultCredential(exampleSpace); !ok || got != c {
			t.Errorf("DefaultCredential = %v, %v", got, ok)
		}
	})
}

func TestClosed(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		c := Credential{User: "u", Password: "pw", Persistence: p}
		mustSet(t, s, c, exampleSpace)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		for name, err := range map[string]error{
			"Set":                  s.Set(c, exampleSpace),
			"SetDefaultCredential": s.SetDefaultCredential(c, exampleSpace),
			"Remove":               s.Remove(c, exampleSpace),
			"RemoveAll":            s.RemoveAll(),
			"Flush":                s.Flush(),
		} {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close: %v, want ErrClosed", name, err)
			}
		}
		if s.Credentials(exampleSpace) != nil || len(s.AllCredentials()) != 0 {
			t.Error("a closed store reports credentials")
		}
		if _, ok := s.DefaultCredential(exampleSpace); ok {
			t.Error("a closed store reports a default")
		}
	})
}

func TestReturnedMapsAreCopies(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		mustSet(t, s, Credential{User: "u", Password: "pw", Persistence: p}, exampleSpace)
		s.Credentials(exampleSpace)["x"] = Credential{}
		for _, m := range s.AllCredentials() {
			m["y"] = Credential{}
		}
		if got := s.Credentials(exampleSpace); len(got) != 1 {
			t.Errorf("callers' edits leaked into the store: %v", got)
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, p Persistence) {
		var calls atomic.Int32
		s.OnChange(func() { calls.Add(1) })
		var wg sync.WaitGroup
		const workers, each = 8, 10
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					sp := ProtectionSpace{Host: "h", Protocol: "https", Realm: string(rune('a' + w))}
					c := Credential{User: string(rune('0' + i)), Password: "pw", Persistence: p}
					if err := s.Set(c, sp); err != nil {
						t.Error(err)
					}
					s.Credentials(sp)
					s.DefaultCredential(sp)
					s.AllCredentials()
				}
			})
		}
		wg.Wait()
		if got := count(s); got != workers*each {
			t.Errorf("count = %d, want %d", got, workers*each)
		}
		if got := calls.Load(); got != workers*each {
			t.Errorf("%d notifications, want %d", got, workers*each)
		}
	})
}
