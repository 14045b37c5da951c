package urlsession

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/urlsession-go/urlsession/urlcache"
)

// orderedCacheRecorder records WillCacheResponse among the other callbacks.
type orderedCacheRecorder struct {
	*recorder
}

func (c orderedCacheRecorder) WillCacheResponse(s *Session, t *DataTask, proposed *urlcache.CachedResponse) *urlcache.CachedResponse {
	c.add(fmt.Sprintf("willcache %d", len(proposed.Body)))
	return proposed
}

// TestWillCacheResponseComesAfterTheData: as Apple orders it, the delegate
// is asked what to cache after the last DidReceiveData, with the whole body,
// and before the metrics and the completion.
func TestWillCacheResponseComesAfterTheData(t *testing.T) {
	body := strings.Repeat("cacheable ", 20000) // several pieces
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.URL.Query().Has("chunked") {
			w.Write([]byte(body[:1000]))
			w.(http.Flusher).Flush()
			w.Write([]byte(body[1000:]))
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write([]byte(body))
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		for _, q := range []string{"", "?chunked"} {
			cfg := srv.config()
			cfg.URLCache, _ = urlcache.New(urlcache.Options{MemoryCapacity: 16 << 20})
			rec := orderedCacheRecorder{newRecorder()}
			s := newSession(t, cfg, rec)
			task := s.DataTask(get(t, srv.URL+"/"+q))
			task.Resume()
			wait(t, task)
			if err := task.Err(); err != nil {
				t.Fatal(err)
			}
			want := []string{"create", "response 200", "data", fmt.Sprintf("willcache %d", len(body)), "metrics", "complete"}
			if got := rec.Events(); !sameEvents(got, want) {
				t.Errorf("%s: events %q, want %q", q, got, want)
			}
			if cr := cfg.URLCache.CachedResponse(get(t, srv.URL+"/"+q)); cr == nil || string(cr.Body) != body {
				t.Errorf("%s: the response was not stored whole", q)
			}
		}
	})
}
