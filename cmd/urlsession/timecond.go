package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// timeCondition reads a -z argument as curl does: a date, or else the
// name of a file whose modification time is the date. It returns the
// header that asks for the body only if it changed since then
// (If-Modified-Since), or, with a "-" in front, only if it did not
// (If-Unmodified-Since). A "+" in front is allowed and changes nothing.
// An argument that is neither a date nor a file is an error: the request
// then goes without a condition.
func timeCondition(arg string) (header string, when time.Time, err error) {
	header = "If-Modified-Since"
	switch {
	case strings.HasPrefix(arg, "-"):
		header, arg = "If-Unmodified-Since", arg[1:]
	case strings.HasPrefix(arg, "+"):
		arg = arg[1:]
	}
	if t, ok := parseDate(arg); ok {
		return header, t, nil
	}
	fi, serr := os.Stat(arg)
	if serr != nil {
		return "", time.Time{}, fmt.Errorf("%q is neither a date nor a file name", arg)
	}
	return header, fi.ModTime(), nil
}

// dateLayouts are the forms of a -z date besides HTTP's own three: ISO
// 8601 dates and times, curl's compact forms and day-month-year. A date
// without a zone is UTC, as curl takes it.
var dateLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
	"20060102 15:04:05",
	"20060102",
	"2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05",
	"2 Jan 2006",
	"Jan 2 2006 15:04:05",
	"Jan 2 2006",
	"Mon, 2 Jan 2006 15:04:05 -0700",
}

// parseDate reads s as a date in one of the forms curl users give -z:
// HTTP's (RFC 1123, RFC 850, asctime) or one of dateLayouts.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if t, err := http.ParseTime(s); err == nil {
		return t, true
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// validETag reports whether tag is an entity tag (RFC 9110 section 8.8.3):
// an opaque quoted string, weak ("W/") or not, of visible characters.
func validETag(tag string) bool {
	tag = strings.TrimPrefix(tag, "W/")
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return false
	}
	for _, c := range []byte(tag[1 : len(tag)-1]) {
		if c == '"' || c < 0x21 || c == 0x7f {
			return false
		}
	}
	return true
}

// writeETag writes tag and a newline to name, as curl's --etag-save does
// (an empty file for no tag).
func writeETag(name, tag string) error {
	if tag != "" {
		tag += "\n"
	}
	return writeWhole(name, tag)
}
