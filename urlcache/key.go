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
	if k, ok := plainKey(u); ok {
		return k, true
	}
	return copyKey(u), true
}

// copyKey is Key for any URL with a scheme: a copy of it changed as Key
// describes, as url.URL.String writes it.
func copyKey(u *url.URL) string {
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
	return k.String()
}

// plainKey is Key for the usual http or https URL, which Key changes only
// by dropping its fragment: scheme and host in lower case, a host of
// letters, digits, dots and hyphens with no port or another than the
// scheme's default, no user information, and a path of characters
// url.URL.String writes as they are, starting with "/". It returns the
// string copyKey would, without copying the URL; ok is false for any
// other URL.
func plainKey(u *url.URL) (key string, ok bool) {
	var defaultPort string
	switch u.Scheme {
	case "http":
		defaultPort = "80"
	case "https":
		defaultPort = "443"
	default:
		return "", false
	}
	if u.Opaque != "" || u.User != nil || u.Host == "" || u.RawPath != "" || u.Path == "" || u.Path[0] != '/' {
		return "", false
	}
	host := u.Host
	colon := -1
	for i := 0; i < len(host); i++ {
		switch c := host[i]; {
		case '0' <= c && c <= '9':
		case colon < 0 && ('a' <= c && c <= 'z' || c == '.' || c == '-'):
		case colon < 0 && c == ':':
			colon = i
		default:
			return "", false
		}
	}
	if colon >= 0 {
		if port := host[colon+1:]; port == "" || port == defaultPort {
			return "", false
		}
	}
	for i := 0; i < len(u.Path); i++ {
		if !plainPathByte(u.Path[i]) {
			return "", false
		}
	}
	if u.RawQuery == "" {
		return u.Scheme + "://" + host + u.Path, true
	}
	return u.Scheme + "://" + host + u.Path + "?" + u.RawQuery, true
}

// plainPathByte reports whether url.URL.EscapedPath leaves c as it is in
// a path: an unreserved character or "/".
func plainPathByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '/'
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
	for _, line := range h["Vary"] { // h.Values, the name being canonical
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
// whitespace and joined by ",", and in lower case for the fields whose
// values are case-insensitive (see caseInsensitiveField).
func fieldValue(h http.Header, name string) string {
	vs := h.Values(name)
	if len(vs) == 0 {
		return ""
	}
	fold := caseInsensitiveField(name)
	var b strings.Builder
	first := true
	for _, v := range vs {
		for elem := range strings.SplitSeq(v, ",") {
			if !first {
				b.WriteByte(',')
			}
			first = false
			elem = strings.TrimSpace(elem)
			if fold {
				elem = strings.ToLower(elem)
			}
			b.WriteString(elem)
		}
	}
	return b.String()
}

// caseInsensitiveField reports whether the canonical field name is one of
// the content negotiation fields whose values mean the same in any letter
// case: language ranges (RFC 4647 section 2), content codings (RFC 9110
// section 8.4.1) and charsets (section 8.3.2), with their weights.
func caseInsensitiveField(name string) bool {
	switch name {
	case "Accept-Language", "Accept-Encoding", "Accept-Charset":
		return true
	}
	return false
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

// credTag identifies the credentials a request carries (see
// credentialTag).
type credTag struct {
	sum [sha256.Size]byte
	set bool // false: no credentials
}

// stored returns the tag as an entry keeps it: "" for no credentials.
func (t *credTag) stored() string {
	if !t.set {
		return ""
	}
	return string(t.sum[:])
}

// credentialTag returns what identifies the credentials req carries, for
// the entry key: no tag when it carries none, else the SHA-256 of the key
// and req's Authorization and Proxy-Authorization values and its URL's
// user information. The secrets themselves are never kept; the key in the
// hash keeps equal credentials from giving equal tags on different URLs.
func credentialTag(key string, req *http.Request) credTag {
	if req == nil {
		return credTag{}
	}
	auth, proxy := req.Header["Authorization"], req.Header["Proxy-Authorization"]
	var user *url.Userinfo
	if req.URL != nil {
		user = req.URL.User
	}
	if len(auth) == 0 && len(proxy) == 0 && user == nil {
		return credTag{}
	}
	var buf [512]byte
	b := append(buf[:0], key...)
	for _, v := range auth {
		b = append(b, 0, 'A')
		b = append(b, v...)
	}
	for _, v := range proxy {
		b = append(b, 0, 'P')
		b = append(b, v...)
	}
	if user != nil {
		b = append(b, 0, 'U')
		b = append(b, user.String()...)
	}
	return credTag{sum: sha256.Sum256(b), set: true}
}

// hasCredentials reports whether req authenticates to the origin: an
// Authorization field, or user information in its URL (which a client
// sends as Basic credentials).
func hasCredentials(req *http.Request) bool {
	_, auth := req.Header["Authorization"]
	return auth || (req.URL != nil && req.URL.User != nil)
}

// selects reports whether the entry e may answer req, whose credentialTag
// is cred: it was fetched with the same credentials (none for none) and its
// Vary fields match.
func (e *entry) selects(req *http.Request, cred *credTag) bool {
	if cred.set {
		if e.Cred != string(cred.sum[:]) {
			return false
		}
	} else if e.Cred != "" {
		return false
	}
	return varyMatches(e.Header, e.Vary, req)
}
