package urlsession

import (
	"net/http"
	"testing"
)

// TestDataURLs: a session loads data: URLs through every path (context
// first, a task with a delegate), with App Transport Security on; a
// malformed one fails with ErrBadURL.
func TestDataURLs(t *testing.T) {
	s := newSession(t, EphemeralConfiguration(), nil)
	body, resp, err := s.Data(t.Context(), get(t, "data:text/plain;charset=utf-8;base64,aMOpbGxv#frag"))
	if err != nil || string(body) != "héllo" || resp.StatusCode != 200 ||
		resp.Header.Get("Content-Type") != "text/plain;charset=utf-8" || resp.ContentLength != 6 {
		t.Fatalf("got %q %v %v", body, resp, err)
	}
	if _, _, err := s.Data(t.Context(), get(t, "data:no-comma")); CodeOf(err) != ErrBadURL {
		t.Errorf("malformed: %v, want code %d", err, ErrBadURL)
	}

	rec := newRecorder()
	sd := newSession(t, EphemeralConfiguration(), rec)
	task := sd.DataTask(get(t, "data:,a%20b"))
	task.Resume()
	wait(t, task)
	if err := task.Err(); err != nil || rec.Body() != "a b" {
		t.Fatalf("task: %v, body %q", err, rec.Body())
	}
	if got, want := rec.Events(), []string{"create", "response 200", "data", "metrics", "complete"}; !sameEvents(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	req, _ := http.NewRequest(http.MethodHead, "data:,abc", nil)
	if body, resp, err := s.Data(t.Context(), req); err != nil || len(body) != 0 || resp.ContentLength != 3 {
		t.Errorf("HEAD: %q %v %v", body, resp, err)
	}
}
