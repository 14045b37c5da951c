package pipeline

import (
	"net/http"
	"reflect"
	"testing"
)

func TestCanonicalHeader(t *testing.T) {
	tests := []struct {
		in, want http.Header
	}{
		{nil, nil},
		{http.Header{"Accept": {"a"}}, http.Header{"Accept": {"a"}}},
		{http.Header{"accept": {"a"}, "X-Y": {"1"}}, http.Header{"Accept": {"a"}, "X-Y": {"1"}}},
		{
			http.Header{"x-y": {"lower"}, "X-y": {"mixed"}, "X-Y": {"canonical"}, "X-Z": {"z"}},
			http.Header{"X-Y": {"canonical", "mixed", "lower"}, "X-Z": {"z"}},
		},
		// Names net/http cannot canonicalise (a space) are kept as they are.
		{http.Header{"bad name": {"v"}}, http.Header{"bad name": {"v"}}},
	}
	for _, tt := range tests {
		in := tt.in.Clone()
		got := CanonicalHeader(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("CanonicalHeader(%v) = %v, want %v", in, got, tt.want)
		}
		if !reflect.DeepEqual(tt.in, in) {
			t.Errorf("CanonicalHeader changed its argument: %v, was %v", tt.in, in)
		}
	}
	// A header with canonical names only is returned as it is.
	h := http.Header{"Accept": {"a"}}
	if got := CanonicalHeader(h); reflect.ValueOf(got).Pointer() != reflect.ValueOf(h).Pointer() {
		t.Error("CanonicalHeader copied a canonical header")
	}
	// Joining never writes into the argument's value slices.
	vs := make([]string, 1, 4)
	vs[0] = "canonical"
	h = http.Header{"X-A": vs, "x-a": {"lower"}}
	CanonicalHeader(h)
	if got := vs[:2]; got[1] != "" {
		t.Errorf("CanonicalHeader appended into the argument's slice: %q", got)
	}
}
