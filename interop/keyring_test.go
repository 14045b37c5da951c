//go:build interop

package interop

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/urlsession-go/urlsession/credstore"
)

// The Secret Service test runs the credential store against GNOME Keyring
// on a private D-Bus session bus. It needs, from Debian:
//
//	apt-get install -y --no-install-recommends dbus gnome-keyring
//
// (dbus-daemon and dbus-send come with dbus; nothing else is started or
// configured beforehand). Each test starts dbus-daemon with a bus of its
// own (no activatable services) and gnome-keyring-daemon on it, with a
// temporary HOME and XDG directories, and stops both when it ends.
// gnome-keyring-daemon --unlock creates the "login" keyring from the
// password on its standard input; it does not create one from an empty
// password, so the tests pipe a throwaway one.

func needKeyringTool(t *testing.T, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("INTEROP_REQUIRED") == "1" {
			t.Fatalf("%s is not installed (apt-get install dbus gnome-keyring)", bin)
		}
		t.Skipf("%s is not installed (apt-get install dbus gnome-keyring); skipping the Secret Service test", bin)
	}
	return p
}

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startSecretService starts a private session bus and GNOME Keyring on it,
// and points this process's environment at them. With login, the daemon
// creates and unlocks a "login" keyring; without, it has no keyring to
// keep passwords in.
func startSecretService(t *testing.T, login bool) {
	dbusDaemon := needKeyringTool(t, "dbus-daemon")
	keyringDaemon := needKeyringTool(t, "gnome-keyring-daemon")
	needKeyringTool(t, "dbus-send")

	root, err := os.MkdirTemp("", "keyring-interop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	for _, d := range []string{"home", "run", "data", "config"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", filepath.Join(root, "home"))
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(root, "run"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(root, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(root, "config"))

	conf := filepath.Join(root, "bus.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, busConfig, filepath.Join(root, "bus")), 0o600); err != nil {
		t.Fatal(err)
	}
	bus := exec.Command(dbusDaemon, "--config-file="+conf, "--nofork", "--print-address=1")
	out, err := bus.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bus.Process.Kill()
		bus.Wait()
	})
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", strings.TrimSpace(addr))

	args := []string{"--foreground", "--components=secrets"}
	if login {
		args = append(args, "--unlock")
	}
	daemon := exec.Command(keyringDaemon, args...)
	daemon.Stdin = strings.NewReader("urlsession-interop") // the login keyring's password
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		daemon.Process.Kill()
		daemon.Wait()
	})

	// Wait for the service to answer: until then the bus, which has no
	// activatable services, says it does not know the name.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := gokeyring.Get("urlsession interop", "probe")
		up := err == nil || errors.Is(err, gokeyring.ErrNotFound) ||
			(!login && strings.Contains(err.Error(), "failed to unlock")) // up, with no keyring
		if up {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Secret Service did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// secretServiceItems counts the items the credential store keeps in the
// Secret Service.
func secretServiceItems(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.secrets",
		"/org/freedesktop/secrets", "org.freedesktop.Secret.Service.SearchItems",
		"dict:string:string:service,urlsession credentials").CombinedOutput()
	if err != nil {
		t.Fatalf("dbus-send SearchItems: %v\n%s", err, out)
	}
	return strings.Count(string(out), "object path")
}

func TestSecretServiceKeyring(t *testing.T) {
	startSecretService(t, true)
	dir := t.TempDir()
	open := func(b credstore.Backend) *credstore.Store {
		t.Helper()
		s, err := credstore.New(credstore.Options{Dir: dir, Backend: b})
		if err != nil {
			t.Fatalf("New(%v): %v", b, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	auto := open(credstore.BackendAuto)
	if auto.Backend() != credstore.BackendSecretService {
		t.Fatalf("Backend() = %v (%v); want the Secret Service", auto.Backend(), auto.SecretServiceError())
	}
	space := credstore.ProtectionSpace{Host: "api.example", Protocol: "https", Realm: "r\xe9alm", AuthenticationMethod: credstore.AuthMethodHTTPBasic}
	proxy := credstore.ProtectionSpace{Host: "proxy.example", Port: 3128, ProxyType: credstore.ProxyHTTP}
	alice := credstore.Credential{User: "alice", Password: "s3cret\x00\xff " + strings.Repeat("x", 2000), Persistence: credstore.Permanent}
	bob := credstore.Credential{User: "b\xf6b", Password: "hunter2", Persistence: credstore.Permanent}
	for _, set := range []struct {
		c  credstore.Credential
		sp credstore.ProtectionSpace
	}{{alice, space}, {bob, space}, {bob, proxy}} {
		if err := auto.Set(set.c, set.sp); err != nil {
			t.Fatalf("Set: %v", err)
		}
	}
	if n := secretServiceItems(t); n != 3 {
		t.Errorf("%d items in the Secret Service, want 3", n)
	}

	// The file holds no password: a Store that does not use the Secret
	// Service sees no credential.
	if n := len(open(credstore.BackendFile).AllCredentials()); n != 0 {
		t.Errorf("a file-backend Store sees %d spaces", n)
	}
	other := open(credstore.BackendSecretService)
	if got := other.Credentials(space); got["alice"] != alice || got["b\xf6b"] != bob {
		t.Errorf("another Store sees %v", got)
	}
	if d, ok := other.DefaultCredential(space); !ok || d != alice {
		t.Errorf("default %v, %v", d, ok)
	}
	alice.Password = "changed"
	if err := other.Set(alice, space); err != nil {
		t.Fatal(err)
	}
	if got := auto.Credentials(space)["alice"]; got != alice {
		t.Errorf("after the change: %v", got)
	}
	if n := secretServiceItems(t); n != 3 {
		t.Errorf("%d items after a change, want 3 (the old one deleted)", n)
	}
	if err := auto.Remove(bob, proxy); err != nil {
		t.Fatal(err)
	}
	if n := secretServiceItems(t); n != 2 {
		t.Errorf("%d items after Remove, want 2", n)
	}
	if err := auto.Flush(); err != nil {
		t.Errorf("Flush: %v", err)
	}
	if err := auto.Recovered(); err != nil {
		t.Errorf("Recovered: %v", err)
	}
	if err := other.RemoveAll(); err != nil {
		t.Fatal(err)
	}
	if n := secretServiceItems(t); n != 0 {
		t.Errorf("%d items after RemoveAll, want 0", n)
	}
	if err := auto.Set(alice, space); err != nil {
		t.Fatal(err)
	}

	// A locked collection: a new Store falls back to the file within the
	// timeout, and shows nothing it cannot read.
	out, err := exec.Command("dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.secrets",
		"/org/freedesktop/secrets", "org.freedesktop.Secret.Service.Lock",
		"array:objpath:/org/freedesktop/secrets/collection/login").CombinedOutput()
	if err != nil {
		t.Fatalf("locking the collection: %v\n%s", err, out)
	}
	start := time.Now()
	locked, err := credstore.New(credstore.Options{Dir: dir, KeyringTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer locked.Close()
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("New with a locked collection took %v", took)
	}
	t.Logf("locked collection: backend %v after %v: %v", locked.Backend(), time.Since(start).Round(time.Millisecond), locked.SecretServiceError())
	if locked.Backend() != credstore.BackendFile || !errors.Is(locked.SecretServiceError(), credstore.ErrNoSecretService) {
		t.Errorf("locked collection: Backend() = %v, %v", locked.Backend(), locked.SecretServiceError())
	}
	if n := len(locked.AllCredentials()); n != 0 {
		t.Errorf("with the collection locked a Store shows %d spaces", n)
	}
}

// TestSecretServiceWithoutKeyring: a Secret Service with no keyring to
// keep passwords in (as on a fresh headless machine) means the file.
func TestSecretServiceWithoutKeyring(t *testing.T) {
	startSecretService(t, false)
	dir := t.TempDir()
	s, err := credstore.New(credstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("no keyring: %v", s.SecretServiceError())
	if s.Backend() != credstore.BackendFile || !errors.Is(s.SecretServiceError(), credstore.ErrNoSecretService) {
		t.Errorf("Backend() = %v, %v", s.Backend(), s.SecretServiceError())
	}
	c := credstore.Credential{User: "u", Password: "pw", Persistence: credstore.Permanent}
	sp := credstore.ProtectionSpace{Host: "h.example", Protocol: "https"}
	if err := s.Set(c, sp); err != nil {
		t.Fatal(err)
	}
	f, err := credstore.New(credstore.Options{Dir: dir, Backend: credstore.BackendFile})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Credentials(sp)["u"]; got != c {
		t.Errorf("the file backend reads %v", got)
	}
	if _, err := credstore.New(credstore.Options{Dir: dir, Backend: credstore.BackendSecretService}); !errors.Is(err, credstore.ErrNoSecretService) {
		t.Errorf("forced Secret Service: %v", err)
	}
}
