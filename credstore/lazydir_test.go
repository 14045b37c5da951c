package credstore

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirectoryCreatedWithFirstPermanentCredential(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "Credentials")
	s, err := New(Options{Dir: dir, Backend: BackendFile})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	space := ProtectionSpace{Host: "h.test", Protocol: "https", Realm: "r", AuthenticationMethod: AuthMethodHTTPBasic}
	if err := s.Set(Credential{User: "u", Password: "p", Persistence: ForSession}, space); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the directory exists before any permanent credential: %v", err)
	}
	if err := s.Set(Credential{User: "v", Password: "p", Persistence: Permanent}, space); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory after a permanent credential: %v, %v", fi, err)
	}
	again, err := New(Options{Dir: dir, Backend: BackendFile})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if c := again.Credentials(space); len(c) != 1 || c["v"].Password != "p" {
		t.Errorf("reopened store has %v", c)
	}
}
