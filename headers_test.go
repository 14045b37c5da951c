package urlsession

import (
	"net/http"
	"strings"
	"testing"
)

func TestReservedHeadersIsACopy(t *testing.T) {
	list := ReservedHeaders()
	if len(list) != 10 {
		t.Fatalf("ReservedHeaders() = %q, want 10 names", list)
	}
	for i, h := range list {
		if h != http.CanonicalHeaderKey(h) {
			t.Errorf("ReservedHeaders()[%d] = %q, not canonical", i, h)
		}
		for _, name := range []string{h, strings.ToLower(h), strings.ToUpper(h)} {
			if !IsReservedHeader(name) {
				t.Errorf("IsReservedHeader(%q) = false", name)
			}
		}
		list[i] = "X-Changed"
	}
	if IsReservedHeader("X-Changed") || !IsReservedHeader("Authorization") {
		t.Error("changing the returned slice changed the reserved headers")
	}
	if got := ReservedHeaders(); got[0] != "Authorization" {
		t.Errorf("after a change to an earlier copy, ReservedHeaders()[0] = %q", got[0])
	}
	for _, name := range []string{"Accept", "X-Authorization", "", "Authorization "} {
		if IsReservedHeader(name) {
			t.Errorf("IsReservedHeader(%q) = true", name)
		}
	}
	// New refuses a reserved header in any case.
	for _, h := range ReservedHeaders() {
		cfg := EphemeralConfiguration()
		cfg.HTTPAdditionalHeaders = http.Header{strings.ToLower(h): {"x"}}
		if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("New with additional header %q: err = %v, want a reserved-header error", strings.ToLower(h), err)
		}
	}
}
