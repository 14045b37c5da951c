package urlcache

import "strings"

// SingleRange answers a Range field value that asks for one range of bytes
// (RFC 9110 section 14.1.2: "bytes=first-last", "bytes=first-" or
// "bytes=-suffix") of a representation of size bytes. It returns the first
// byte and the number of bytes to send, with status 206; or status 416 when
// no byte of the range exists (a first position at or past the end, or a
// suffix of zero bytes). It returns status 0 for what it leaves to the
// server: several ranges, another unit, a malformed value (last before
// first, spaces, signs), or an empty representation. The unit is
// case-insensitive; a last position past the end means the end.
func SingleRange(value string, size int64) (start, length int64, status int) {
	unit, spec, ok := strings.Cut(value, "=")
	if !ok || !equalFold(unit, "bytes") || size <= 0 {
		return 0, 0, 0
	}
	firstStr, lastStr, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, 0
	}
	if firstStr == "" { // a suffix: the last n bytes
		n, ok := position(lastStr)
		switch {
		case !ok:
			return 0, 0, 0
		case n == 0:
			return 0, 0, 416
		}
		n = min(n, size)
		return size - n, n, 206
	}
	first, ok := position(firstStr)
	if !ok {
		return 0, 0, 0
	}
	last := size - 1
	if lastStr != "" {
		l, ok := position(lastStr)
		if !ok || l < first {
			return 0, 0, 0
		}
		last = min(l, size-1)
	}
	if first >= size {
		return 0, 0, 416
	}
	return first, last - first + 1, 206
}

// position parses the digits of a byte position, saturating where an int64
// would overflow (any such position is past every end).
func position(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-9)/10 {
			n = 1<<63 - 1
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
