package urlcache_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/urlsession-go/urlsession/urlcache"
)

func TestCommitInBackground(t *testing.T) {
	dir := t.TempDir()
	c, err := urlcache.New(urlcache.Options{DiskCapacity: 1 << 20, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	resp := &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Cache-Control": {"max-age=60"}}}
	req, _ := http.NewRequest("GET", "https://h.test/a", nil)
	w := c.NewWriter(req, &urlcache.CachedResponse{Response: resp})
	io.WriteString(w, "background body")
	w.CommitInBackground()
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if cr := c.CachedResponse(req); cr == nil || string(cr.Body) != "background body" {
		t.Fatalf("after Flush: %+v", cr)
	}
	c.Close()

	// A new cache on the directory finds it; a removal after a background
	// commit is not undone by the write.
	c, err = urlcache.New(urlcache.Options{DiskCapacity: 1 << 20, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if cr := c.CachedResponse(req); cr == nil || string(cr.Body) != "background body" {
		t.Fatalf("reopened: %+v", cr)
	}
	req2, _ := http.NewRequest("GET", "https://h.test/b", nil)
	w = c.NewWriter(req2, &urlcache.CachedResponse{Response: resp})
	io.WriteString(w, "gone")
	w.CommitInBackground()
	c.RemoveAllCachedResponses()
	c.Flush()
	if cr := c.CachedResponse(req2); cr != nil {
		t.Fatalf("an entry came back after RemoveAllCachedResponses: %q", cr.Body)
	}
}
