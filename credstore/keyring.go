package credstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	gokeyring "github.com/zalando/go-keyring"
)

// Backend says where a Store keeps permanent credentials. Options.Backend
// chooses it; Store.Backend reports the one in use.
type Backend int

const (
	// BackendAuto, the zero value, keeps passwords in the desktop's Secret
	// Service when one answers at New, and in the credentials file
	// otherwise.
	BackendAuto Backend = iota
	// BackendFile keeps passwords in the credentials file and never talks
	// to D-Bus. Tests and headless programs use it.
	BackendFile
	// BackendSecretService keeps passwords in the Secret Service; New
	// fails with an error wrapping ErrNoSecretService when none answers.
	BackendSecretService
	// BackendMemory keeps permanent credentials in the Store's memory
	// only, as a Store without a Dir does; Dir is ignored.
	BackendMemory
)

// String returns "auto", "file", "secret-service" or "memory".
func (b Backend) String() string {
	switch b {
	case BackendAuto:
		return "auto"
	case BackendFile:
		return "file"
	case BackendSecretService:
		return "secret-service"
	case BackendMemory:
		return "memory"
	}
	return fmt.Sprintf("Backend(%d)", int(b))
}

// ErrNoSecretService is wrapped by the error New returns when
// Options.Backend is BackendSecretService and no Secret Service answers,
// and by Store.SecretServiceError.
var ErrNoSecretService = errors.New("credstore: no Secret Service")

// DefaultKeyringTimeout bounds each call to the Secret Service when
// Options.KeyringTimeout is zero.
const DefaultKeyringTimeout = 5 * time.Second

// secretServiceName is the service attribute of every item the package
// keeps in the Secret Service; each item's user-name attribute is the
// item name recorded in the credentials file.
const secretServiceName = "urlsession credentials"

// probeItem is an item name that is never created: New asks for it to
// learn whether the Secret Service answers.
const probeItem = "urlsession credstore probe"

// keyring is the part of a Secret Service client a Store uses: item
// passwords by service and item name. The go-keyring functions implement
// it; an item that does not exist is an error wrapping
// gokeyring.ErrNotFound.
type keyring interface {
	Get(service, item string) (string, error)
	Set(service, item, password string) error
	Delete(service, item string) error
}

// secretService is the desktop's Secret Service, reached through
// go-keyring over the D-Bus session bus.
type secretService struct{}

func (secretService) Get(service, item string) (string, error) { return gokeyring.Get(service, item) }
func (secretService) Set(service, item, pw string) error       { return gokeyring.Set(service, item, pw) }
func (secretService) Delete(service, item string) error        { return gokeyring.Delete(service, item) }

// errKeyringBusy reports that an earlier call to the Secret Service timed
// out and has not returned yet.
var errKeyringBusy = errors.New("credstore: an earlier Secret Service call has not returned")

// boundedKeyring bounds every call to a keyring by a timeout, so that a
// Secret Service that does not answer (a hung service, an unlock prompt
// nobody sees) never blocks a Store for longer. A call that times out
// goes on in its goroutine until the service answers; meanwhile further
// calls fail at once, so at most one goroutine per Store waits on the
// service.
type boundedKeyring struct {
	api     keyring
	timeout time.Duration

	mu    sync.Mutex
	stuck chan struct{} // closed when the call that timed out returns
}

// call runs f with the timeout. f's results reach the caller through a
// channel, so a call that times out and returns later touches nothing the
// caller still uses.
func (k *boundedKeyring) call(f func() (string, error)) (string, error) {
	k.mu.Lock()
	if k.stuck != nil {
		select {
		case <-k.stuck:
			k.stuck = nil
		default:
			k.mu.Unlock()
			return "", errKeyringBusy
		}
	}
	k.mu.Unlock()
	type result struct {
		s   string
		err error
	}
	res := make(chan result, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s, err := f()
		res <- result{s, err}
	}()
	t := time.NewTimer(k.timeout)
	defer t.Stop()
	select {
	case r := <-res:
		return r.s, r.err
	case <-t.C:
		k.mu.Lock()
		k.stuck = done
		k.mu.Unlock()
		return "", fmt.Errorf("credstore: the Secret Service did not answer within %v", k.timeout)
	}
}

func (k *boundedKeyring) get(item string) (string, error) {
	return k.call(func() (string, error) { return k.api.Get(secretServiceName, item) })
}

func (k *boundedKeyring) set(item, pw string) error {
	_, err := k.call(func() (string, error) { return "", k.api.Set(secretServiceName, item, pw) })
	return err
}

func (k *boundedKeyring) delete(item string) error {
	_, err := k.call(func() (string, error) { return "", k.api.Delete(secretServiceName, item) })
	return err
}

// openKeyring returns the Secret Service client for a Store, or nil and
// the reason it cannot be used. With api nil it uses the desktop's Secret
// Service, after checking that there is a D-Bus session bus at all (so
// that no bus is ever started just to look).
func openKeyring(api keyring, timeout time.Duration) (*boundedKeyring, error) {
	if timeout <= 0 {
		timeout = DefaultKeyringTimeout
	}
	if api == nil {
		if err := sessionBus(); err != nil {
			return nil, err
		}
		api = secretService{}
	}
	k := &boundedKeyring{api: api, timeout: timeout}
	if _, err := k.get(probeItem); err != nil && !errors.Is(err, gokeyring.ErrNotFound) {
		return nil, err
	}
	return k, nil
}

// sessionBus reports why the Secret Service cannot be reached, or nil if
// there is a session bus to ask. It looks where go-keyring's D-Bus
// library looks (DBUS_SESSION_BUS_ADDRESS, then /run/user/<uid>/bus and
// /run/user/<uid>/dbus-session) and rules out its last resort, starting
// a bus with dbus-launch.
func sessionBus() error {
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
	default:
		return fmt.Errorf("the Secret Service is not used on %s", runtime.GOOS)
	}
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	run := fmt.Sprintf("/run/user/%d/", os.Getuid())
	if fi, err := os.Stat(run + "bus"); err == nil && fi.Mode().Type() == fs.ModeSocket {
		return nil
	}
	if b, err := os.ReadFile(run + "dbus-session"); err == nil && strings.HasPrefix(string(b), "DBUS_SESSION_BUS_ADDRESS=") {
		return nil
	}
	return errors.New("no D-Bus session bus")
}

// newItemName names a new Secret Service item for user's password in sp:
// readable in a keyring manager, unique by its random suffix. A password
// change gets a new item, so that other processes see the change in the
// credentials file.
func newItemName(sp ProtectionSpace, user string) string {
	var id [8]byte
	rand.Read(id[:])
	desc := strings.ToValidUTF8(fmt.Sprintf("%q at %s", user, sp), "\uFFFD")
	desc = strings.ReplaceAll(desc, "\x00", "\uFFFD")
	return desc + " #" + hex.EncodeToString(id[:])
}
