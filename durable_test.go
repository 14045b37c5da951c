package urlsession

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/urlcache"
)

// TestInvalidationMakesCacheEntriesDurable: once a session is invalidated
// (Invalidated closed, DidBecomeInvalidWithError delivered), the cache
// entries its tasks stored are on disk, where a cache opened afresh on the
// same directory (as the next process would) finds them.
func TestInvalidationMakesCacheEntriesDurable(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("cached body " + r.URL.Path))
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		for i := range 25 {
			dir := filepath.Join(t.TempDir(), "cache")
			c, err := urlcache.New(urlcache.Options{MemoryCapacity: 1 << 20, DiskCapacity: 16 << 20, Directory: dir})
			if err != nil {
				t.Fatal(err)
			}
			cfg := srv.config()
			cfg.URLCache = c
			rec := newRecorder()
			s, err := New(cfg, rec)
			if err != nil {
				t.Fatal(err)
			}
			path := "/entry"
			if _, _, err := s.Data(t.Context(), get(t, srv.URL+path)); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				s.FinishTasksAndInvalidate()
			} else {
				s.InvalidateAndCancel()
			}
			select {
			case <-s.Invalidated():
			case <-time.After(20 * time.Second):
				t.Fatal("the session was not invalidated")
			}
			select {
			case <-rec.invalid:
			default:
				t.Fatal("Invalidated closed before DidBecomeInvalidWithError was delivered")
			}
			rec.mu.Lock()
			invalidErr := rec.invalidErr
			rec.mu.Unlock()
			if invalidErr != nil {
				t.Errorf("DidBecomeInvalidWithError(%v), want nil", invalidErr)
			}
			fresh, err := urlcache.New(urlcache.Options{DiskCapacity: 16 << 20, Directory: dir})
			if err != nil {
				t.Fatal(err)
			}
			cr := fresh.CachedResponse(get(t, srv.URL+path))
			fresh.Close()
			c.Close()
			if cr == nil || string(cr.Body) != "cached body "+path {
				t.Fatalf("round %d: the entry is not on disk after invalidation (got %v)", i, cr)
			}
		}
	})
}
