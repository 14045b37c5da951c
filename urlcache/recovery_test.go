package urlcache

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecoveredSeveral: several discards come back joined, each a
// *RecoveryError, and go to slog.Default() when Options.Logger is nil.
func TestRecoveredSeveral(t *testing.T) {
	logs := &logRecorder{}
	old := slog.Default()
	slog.SetDefault(logs.logger())
	defer slog.SetDefault(old)

	c, dir := newCache(t, 0, lots)
	for _, u := range urls {
		req, cr := cachePair(t, u, aBit, Allowed, 1)
		mustStore(t, c, cr, req)
	}
	c.Close()
	for _, p := range bodyPaths(t, dir) {
		os.Remove(p)
	}
	c, err := New(Options{DiskCapacity: lots, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Recovered(); err != nil {
		t.Fatalf("Recovered before any lookup: %v", err)
	}
	for _, u := range urls {
		if c.CachedResponse(get(t, u)) != nil {
			t.Errorf("%s: hit without a body file", u)
		}
	}
	err = c.Recovered()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) != len(urls) {
		t.Fatalf("Recovered() = %v, want %d errors joined", err, len(urls))
	}
	for i, e := range joined.Unwrap() {
		var re *RecoveryError
		if !errors.As(e, &re) || re.What != "entry for "+urls[i] || !errors.Is(re, fs.ErrNotExist) ||
			filepath.Dir(filepath.Dir(re.Path)) != filepath.Join(dir, bodiesDir) {
			t.Errorf("error %d: %#v", i, e)
		}
	}
	if got := logs.messages(); len(got) != len(urls) || !strings.Contains(got[0], "urlcache: discarded unreadable data") {
		t.Errorf("default logger got %q", got)
	}
	// A lookup that merely misses adds nothing.
	c.CachedResponse(get(t, urls[0]))
	if j, _ := c.Recovered().(interface{ Unwrap() []error }); len(j.Unwrap()) != len(urls) {
		t.Errorf("a plain miss was reported")
	}
}

// TestRecoveredBounded: only the first discards are kept.
func TestRecoveredBounded(t *testing.T) {
	c, _ := newCache(t, lots, 0)
	c.logger = slog.New(slog.DiscardHandler)
	for range maxRecovered + 10 {
		c.noteDiscard("p", "w", errCorrupt)
	}
	if j, _ := c.Recovered().(interface{ Unwrap() []error }); len(j.Unwrap()) != maxRecovered {
		t.Errorf("%d kept, want %d", len(j.Unwrap()), maxRecovered)
	}
}
