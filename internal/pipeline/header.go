package pipeline

import (
	"net/http"
	"slices"
)

// canonical reports whether k is in canonical form, as http.Header's methods
// store names. (CanonicalHeaderKey returns a canonical name itself, without
// allocating.)
func canonical(k string) bool { return http.CanonicalHeaderKey(k) == k }

// CanonicalHeader returns h with every name in canonical form
// (http.CanonicalHeaderKey): h itself when every name already is, else a
// new header whose fields are h's, names that differ only in case joined
// into one field: the canonical name's values first, then the others' in
// the order of their names. Value slices are shared with h where nothing
// was joined.
func CanonicalHeader(h http.Header) http.Header {
	for k := range h {
		if !canonical(k) {
			out := make(http.Header, len(h))
			copyCanonical(out, h)
			return out
		}
	}
	return h
}

// copyCanonical adds h's fields to dst under canonical names, as
// CanonicalHeader joins them; a canonical name of h replaces dst's field of
// that name.
func copyCanonical(dst, h http.Header) {
	var odd []string
	for k, vs := range h {
		if canonical(k) {
			dst[k] = vs
		} else {
			odd = append(odd, k)
		}
	}
	if odd == nil {
		return
	}
	slices.Sort(odd)
	for _, k := range odd {
		ck := http.CanonicalHeaderKey(k)
		have := dst[ck]
		// A new slice: the values may be the caller's.
		dst[ck] = append(have[:len(have):len(have)], h[k]...)
	}
}
