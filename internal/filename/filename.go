// Package filename chooses a safe local file name for a downloaded resource.
//
// [Suggest] follows the order of Apple's suggestedFilename: the name the
// server gives in Content-Disposition (RFC 6266), else the last segment of
// the URL's path, else the URL's host, else [Fallback]. Whatever it picks is
// passed through [Sanitize], so the result is always a single, non-empty path
// element that is safe to join to a directory on any operating system Go runs
// on:
//
//   - it contains no path separator ('/' or '\'), so it cannot name a
//     directory or climb out of one; when the source held separators, only
//     the part after the last one is kept;
//   - it is never "." or "..", and never starts with a dot (no hidden files,
//     no dot-directories);
//   - it contains no NUL, no C0 or C1 control character, no DEL and no Unicode
//     bidirectional control (which could disguise an extension);
//   - the characters Windows reserves (< > : " | ? *) are replaced by '_', and
//     a Windows device name (CON, NUL, COM1, ...) gets a '_' prefix;
//   - it has no leading or trailing white space and no trailing dot;
//   - it is valid UTF-8 (each invalid byte becomes '_') and at most [MaxLen]
//     bytes long; a longer name is cut on a UTF-8 boundary, keeping its
//     extension.
//
// The functions are pure and safe for concurrent use.
package filename

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fallback is the name [Suggest] returns when neither the response nor the
// URL yields a usable one. It is the name Apple's suggestedFilename uses.
const Fallback = "Unknown"

// MaxLen is the largest length, in bytes of UTF-8, of a name returned by
// [Suggest] or [Sanitize]: the file-name limit of ext4, XFS and Btrfs
// (NTFS and APFS count 255 UTF-16 units or characters, which 255 bytes
// never exceed).
const MaxLen = 255

// maxExt is the longest extension (with its dot) that a cut keeps.
const maxExt = 32

// Suggest returns the file name for a resource fetched from u whose response
// carried the Content-Disposition header value contentDisposition ("" when
// absent). The first source that gives a usable name after [Sanitize] wins:
//
//  1. the filename* or filename parameter of contentDisposition, as
//     [FromContentDisposition] reads it (a malformed header is ignored);
//  2. the last non-empty segment of u's path, percent-decoded
//     ("/a/b%20c.txt" gives "b c.txt", "/dir/" gives "dir");
//  3. u's host name, without port ("http://example.com/" gives
//     "example.com");
//  4. [Fallback].
//
// u may be nil. The result is never empty and always satisfies the rules in
// the package documentation.
func Suggest(contentDisposition string, u *url.URL) string {
	if contentDisposition != "" {
		if name, ok := FromContentDisposition(contentDisposition); ok {
			if s := Sanitize(name); s != "" {
				return s
			}
		}
	}
	if u != nil {
		if s := Sanitize(lastSegment(u)); s != "" {
			return s
		}
		if s := Sanitize(u.Hostname()); s != "" {
			return s
		}
	}
	return Fallback
}

// lastSegment returns the last non-empty segment of u's path, decoded.
func lastSegment(u *url.URL) string {
	p := u.EscapedPath() // "" for an opaque URL such as data: or mailto:
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if dec, err := url.PathUnescape(p); err == nil {
		return dec
	}
	return p
}

// Sanitize turns name into a safe single path element following the rules in
// the package documentation, or returns "" when nothing usable remains (for
// example for "", "..", "/" or a name made only of control characters).
func Sanitize(name string) string {
	// Keep only what follows the last separator of either kind.
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteByte('_')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			// control characters, NUL included: dropped
		case unicode.Is(unicode.Bidi_Control, r):
			// dropped: they can reorder how the extension is displayed
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteByte('_')
		default:
			b.WriteString(name[i : i+size])
		}
		i += size
	}
	s := trim(b.String())
	if s == "" {
		return ""
	}
	if reservedDevice(s) {
		s = "_" + s
	}
	if len(s) > MaxLen {
		s = cut(s)
	}
	return s
}

// trim removes leading white space and dots, and trailing white space and
// dots, until the name is stable.
func trim(s string) string {
	return strings.TrimRightFunc(strings.TrimLeftFunc(s, func(r rune) bool {
		return r == '.' || unicode.IsSpace(r)
	}), func(r rune) bool {
		return r == '.' || unicode.IsSpace(r)
	})
}

// cut shortens s (longer than MaxLen bytes) to at most MaxLen bytes on a
// UTF-8 boundary, keeping a short extension.
func cut(s string) string {
	ext := ""
	if i := strings.LastIndexByte(s, '.'); i > 0 && len(s)-i <= maxExt {
		ext = s[i:]
		s = s[:i]
	}
	limit := MaxLen - len(ext)
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	stem := trim(s[:limit])
	if stem == "" {
		// Only possible when the stem was all dots and spaces; the
		// extension alone, without its dot, still names the file.
		return trim(ext)
	}
	return stem + ext
}

// reservedDevice reports whether s names a Windows device whatever its
// extension ("CON", "nul.txt", "com1.tar.gz").
func reservedDevice(s string) bool {
	base := s
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) &&
		base[3] >= '0' && base[3] <= '9' {
		return true
	}
	return false
}
