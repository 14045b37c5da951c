//go:build interop

package interop

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain keeps the shared stores of DefaultConfiguration in a temporary
// home instead of the user's.
func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "urlsession-interop-home-")
	if err != nil {
		panic(err)
	}
	// Nor in the desktop's Secret Service: permanent credentials go to
	// the temporary home's file.
	os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
	// A go command a test runs keeps the build cache it would have had.
	if os.Getenv("GOCACHE") == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			os.Setenv("GOCACHE", filepath.Join(dir, "go-build"))
		}
	}
	for _, k := range []string{"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"} {
		os.Setenv(k, filepath.Join(home, k))
	}
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}
