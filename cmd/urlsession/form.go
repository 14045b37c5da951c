package main

import (
	"net/url"
	"path/filepath"
	"strings"
)

// curlEscape percent-encodes every byte of s but the unreserved characters
// of RFC 3986 (letters, digits, "-", ".", "_", "~"), as curl_easy_escape
// does: a space becomes %20.
func curlEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// withFileName returns u with the last element of the file name appended
// to its path when the path is empty or ends with "/", as curl -T names
// the file it uploads; otherwise u unchanged.
func withFileName(u *url.URL, file string) *url.URL {
	p := u.EscapedPath()
	if p != "" && !strings.HasSuffix(p, "/") {
		return u
	}
	if p == "" {
		p = "/"
	}
	base := file
	if i := strings.LastIndexAny(file, `/\`); i >= 0 {
		base = file[i+1:]
	}
	if base == "" {
		base = filepath.Base(file)
	}
	u2 := *u
	u2.RawPath = p + curlEscape(base)
	u2.Path, _ = url.PathUnescape(u2.RawPath)
	return &u2
}
