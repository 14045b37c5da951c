package urlsession

import (
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/urlsession-go/urlsession/cookiestore"
	"github.com/urlsession-go/urlsession/credstore"
	"github.com/urlsession-go/urlsession/hsts"
	"github.com/urlsession-go/urlsession/urlcache"
)

// The shared stores are Apple's URLCache.shared, HTTPCookieStorage.shared
// and URLCredentialStorage.shared: one of each per process, kept on disk per
// application so that the next run of the same program finds them, and
// shared safely with other processes of that program. DefaultConfiguration
// uses them. They are opened on first use; when their files cannot be
// opened (no home directory, a read-only disk), the store is a memory-only
// one instead and SharedStoresError reports why.
//
// An application is told apart by ApplicationIdentifier. The stores live
// under the XDG base directories:
//
//	$XDG_CACHE_HOME/urlsession/<app>/URLCache/       the cache (os.UserCacheDir)
//	$XDG_DATA_HOME/urlsession/<app>/Cookies.sqlite   persistent cookies (~/.local/share)
//	$XDG_CONFIG_HOME/urlsession/<app>/Credentials/   permanent credentials (os.UserConfigDir)
//	$XDG_DATA_HOME/urlsession/<app>/HSTS.txt         HSTS hosts, in curl's format
var (
	sharedCacheOnce, sharedCookiesOnce, sharedCredsOnce sync.Once
	sharedCache                                         *urlcache.Cache
	sharedCookies                                       *cookiestore.Store
	sharedCreds                                         *credstore.Store
	sharedErrMu                                         sync.Mutex
	sharedErr                                           error
)

// Sizes of the shared URLCache.
const (
	SharedURLCacheMemoryCapacity = 4 << 20
	SharedURLCacheDiskCapacity   = 64 << 20
	// EphemeralURLCacheMemoryCapacity is the size of the memory cache of
	// each EphemeralConfiguration.
	EphemeralURLCacheMemoryCapacity = 4 << 20
)

// ApplicationIdentifier returns the name that keys the shared stores on
// disk: the URLSESSION_APP_ID environment variable if set, else the
// executable's base name without extension.
func ApplicationIdentifier() string {
	if id := os.Getenv("URLSESSION_APP_ID"); id != "" {
		return filepath.Base(id)
	}
	exe, err := os.Executable()
	if err != nil {
		return "go"
	}
	name := filepath.Base(exe)
	return strings.TrimSuffix(name, filepath.Ext(name))
}

// SharedURLCache returns the process's shared URLCache (see the stores'
// description above): SharedURLCacheMemoryCapacity in memory and
// SharedURLCacheDiskCapacity on disk.
func SharedURLCache() *urlcache.Cache {
	sharedCacheOnce.Do(func() {
		dir, err := os.UserCacheDir()
		if err == nil {
			sharedCache, err = urlcache.New(urlcache.Options{
				MemoryCapacity: SharedURLCacheMemoryCapacity,
				DiskCapacity:   SharedURLCacheDiskCapacity,
				Directory:      filepath.Join(dir, "urlsession", ApplicationIdentifier(), "URLCache"),
			})
		}
		if err != nil {
			noteSharedErr(err)
			sharedCache, _ = urlcache.New(urlcache.Options{MemoryCapacity: SharedURLCacheMemoryCapacity})
		}
	})
	return sharedCache
}

// SharedCookieStorage returns the process's shared cookie storage (see the
// stores' description above). Its own accept policy is Always, as Apple's;
// sessions apply their configuration's policy.
func SharedCookieStorage() *cookiestore.Store {
	sharedCookiesOnce.Do(func() {
		dir, err := dataDir()
		if err == nil {
			sharedCookies, err = cookiestore.New(cookiestore.Options{
				Path: filepath.Join(dir, "urlsession", ApplicationIdentifier(), "Cookies.sqlite"),
			})
		}
		if err != nil {
			noteSharedErr(err)
			sharedCookies, _ = cookiestore.New(cookiestore.Options{})
		}
	})
	return sharedCookies
}

var (
	sharedHSTSOnce sync.Once
	sharedHSTS     *hsts.Store
)

// SharedHSTSStorage returns the process's shared HSTS storage (see the
// stores' description above). It is read when first used, and written
// when a session using it is invalidated or flushed, on top of what other
// processes wrote meanwhile.
func SharedHSTSStorage() *hsts.Store {
	sharedHSTSOnce.Do(func() {
		dir, err := dataDir()
		if err == nil {
			sharedHSTS, err = hsts.Open(filepath.Join(dir, "urlsession", ApplicationIdentifier(), "HSTS.txt"))
		}
		if err != nil {
			noteSharedErr(err)
			sharedHSTS = hsts.New()
		}
	})
	return sharedHSTS
}

// SharedCredentialStorage returns the process's shared credential storage
// (see the stores' description above).
func SharedCredentialStorage() *credstore.Store {
	sharedCredsOnce.Do(func() {
		dir, err := os.UserConfigDir()
		if err == nil {
			sharedCreds, err = credstore.New(credstore.Options{
				Dir: filepath.Join(dir, "urlsession", ApplicationIdentifier(), "Credentials"),
			})
		}
		if err != nil {
			noteSharedErr(err)
			sharedCreds, _ = credstore.New(credstore.Options{})
		}
	})
	return sharedCreds
}

// SharedStoresError reports the first reason a shared store had to fall back
// to memory, or nil.
func SharedStoresError() error {
	sharedErrMu.Lock()
	defer sharedErrMu.Unlock()
	return sharedErr
}

func noteSharedErr(err error) {
	sharedErrMu.Lock()
	if sharedErr == nil {
		sharedErr = err
	}
	sharedErrMu.Unlock()
}

// dataDir is $XDG_DATA_HOME, else ~/.local/share.
func dataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share"), nil
}

// newEphemeralStores returns private memory-only stores for an ephemeral
// configuration.
func newEphemeralStores() (*urlcache.Cache, *cookiestore.Store, *credstore.Store) {
	c, _ := urlcache.New(urlcache.Options{MemoryCapacity: EphemeralURLCacheMemoryCapacity})
	k, _ := cookiestore.New(cookiestore.Options{})
	r, _ := credstore.New(credstore.Options{})
	return c, k, r
}
