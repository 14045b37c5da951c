package urlcache

import (
	"crypto/sha256"
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

// credentialTag returns what identifies the credentials req carries, for
// the entry key: "" when it carries none, else the SHA-256 of the key and
// req's Authorization and Proxy-Authorization values and its URL's user
// information. The secrets themselves are never kept; the key in the hash
// keeps equal credentials from giving equal tags on different URLs.
func credentialTag(key string, req *http.Request) string {
	if req == nil {
		return ""
	}
	auth, proxy := req.Header["Authorization"], req.Header["Proxy-Authorization"]
	var user *url.Userinfo
	if req.URL != nil {
		user = req.URL.User
	}
	if len(auth) == 0 && len(proxy) == 0 && user == nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(key))
	for _, v := range auth {
		h.Write([]byte("\x00A"))
		h.Write([]byte(v))
	}
	for _, v := range proxy {
		h.Write([]byte("\x00P"))
		h.Write([]byte(v))
	}
	if user != nil {
		h.Write([]byte("\x00U"))
		h.Write([]byte(user.String()))
	}
	return string(h.Sum(nil))
}

// hasCredentials reports whether req authenticates to the origin: an
// Authorization field, or user information in its URL (which a client
// sends as Basic credentials).
func hasCredentials(req *http.Request) bool {
	_, auth := req.Header["Authorization"]
	return auth || (req.URL != nil && req.URL.User != nil)
}

// selects reports whether the entry e may answer req, whose credentialTag
// is cred: its Vary fields match and it was fetched with the same
// credentials (none for none).
func (e *entry) selects(req *http.Request, cred string) bool {
	return e.Cred == cred && varyMatches(e.Header, e.Vary, req)
}
