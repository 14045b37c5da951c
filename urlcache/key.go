package urlcache

import (
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
)

// Key returns the cache key of a URL: the URL without its user information
// (so no password reaches the index) and its fragment, with the scheme and
// host lower-cased, the scheme's default port dropped and an empty http or
// https path made "/". It reports false for a URL that has no scheme or is
// not absolute.
func Key(u *url.URL) (string, bool) {
	if u == nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "" && u.Path == "") {
		return "", false
	}
	k := *u
	k.Scheme = strings.ToLower(u.Scheme)
	k.User = nil
	k.Fragment, k.RawFragment = "", ""
	k.Host = strings.ToLower(u.Host)
	if port := k.Port(); port != "" {
		if (k.Scheme == "http" && port == "80") || (k.Scheme == "https" && port == "443") {
			k.Host = strings.TrimSuffix(k.Host, ":"+port)
		}
	} else {
		k.Host = strings.TrimSuffix(k.Host, ":")
	}
	if (k.Scheme == "http" || k.Scheme == "https") && k.Opaque == "" && k.Path == "" {
		k.Path, k.RawPath = "/", ""
	}
	k.ForceQuery = false
	return k.String(), true
}

// requestKey returns the key of the entry a request may read: GET and HEAD
// requests read the GET entry of their URL.
func requestKey(req *http.Request) (string, bool) {
	if req == nil || (req.Method != "" && req.Method != http.MethodGet && req.Method != http.MethodHead) {
		return "", false
	}
	return Key(req.URL)
}

// VaryFields returns the field names a response's Vary header lists,
// canonicalised, and whether it lists "*".
func VaryFields(h http.Header) (names []string, star bool) {
	for _, line := range h.Values("Vary") {
		for name := range strings.SplitSeq(line, ",") {
			name = strings.TrimSpace(name)
			switch name {
			case "":
			case "*":
				star = true
			default:
				name = textproto.CanonicalMIMEHeaderKey(name)
				if !slices.Contains(names, name) {
					names = append(names, name)
				}
			}
		}
	}
	return names, star
}

// varyFields records the request's values of the fields respHeader varies on.
func varyFields(respHeader, reqHeader http.Header) []field {
	names, _ := VaryFields(respHeader)
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	fs := make([]field, len(names))
	for i, n := range names {
		fs[i] = field{n, fieldValue(reqHeader, n)}
	}
	return fs
}

// fieldValue returns a request field's value normalised for Vary matching
// (RFC 9111 section 4.1): its lines combined, list elements trimmed of
// whitespace and joined by ",".
func fieldValue(h http.Header, name string) string {
	vs := h.Values(name)
	if len(vs) == 0 {
		return ""
	}
	var b strings.Builder
	first := true
	for _, v := range vs {
		for elem := range strings.SplitSeq(v, ",") {
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(strings.TrimSpace(elem))
		}
	}
	return b.String()
}

// varyMatches reports whether req selects a response stored with the
// response header h and the recorded request values fs.
func varyMatches(h http.Header, fs []field, req *http.Request) bool {
	names, star := VaryFields(h)
	if star {
		return false
	}
	var reqHeader http.Header
	if req != nil {
		reqHeader = req.Header
	}
	for _, n := range names {
		stored := ""
		for _, f := range fs {
			if f.Name == n {
				stored = f.Value
				break
			}
		}
		if fieldValue(reqHeader, n) != stored {
			return false
		}
	}
	return true
}
