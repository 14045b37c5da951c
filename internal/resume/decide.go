package resume

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StrongETag reports whether tag is a strong entity tag: a quoted string
// without the W/ prefix (RFC 9110 section 8.8.3).
func StrongETag(tag string) bool {
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return false
	}
	for i := 1; i < len(tag)-1; i++ {
		c := tag[i]
		if c == '"' || c < 0x21 || c == 0x7f {
			return false
		}
	}
	return true
}

// StrongLastModified reports whether a Last-Modified date is a strong
// validator: the response's Date is at least one second after it (RFC
// 9110 section 8.8.2.2). Without a valid Date it is not.
func StrongLastModified(lastModified, date string) bool {
	lm, err := http.ParseTime(lastModified)
	if err != nil {
		return false
	}
	d, err := http.ParseTime(date)
	if err != nil {
		return false
	}
	return !d.Before(lm.Add(time.Second))
}

// Validators are what a response offers to resume from.
type Validators struct {
	ETag     string // strong entity tag, or ""
	Modified string // strong Last-Modified, or ""
}

// Valid reports whether there is a validator.
func (v Validators) Valid() bool { return v.ETag != "" || v.Modified != "" }

// IfRange returns the If-Range value: the entity tag, else the date.
func (v Validators) IfRange() string {
	if v.ETag != "" {
		return v.ETag
	}
	return v.Modified
}

// ValidatorsOf returns the strong validators of a response's header.
func ValidatorsOf(h http.Header) Validators {
	var v Validators
	if et := h.Get("Etag"); StrongETag(et) {
		v.ETag = et
	}
	if lm := h.Get("Last-Modified"); lm != "" && StrongLastModified(lm, h.Get("Date")) {
		v.Modified = lm
	}
	return v
}

// AcceptsRanges reports whether a response says its server takes byte
// ranges (Accept-Ranges: bytes, RFC 9110 section 14.3).
func AcceptsRanges(h http.Header) bool {
	for _, v := range h.Values("Accept-Ranges") {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "bytes") {
				return true
			}
		}
	}
	return false
}

// RangeHeader returns the Range value that asks for the bytes from offset
// on.
func RangeHeader(offset int64) string { return "bytes=" + strconv.FormatInt(offset, 10) + "-" }

// ContentRange is a parsed Content-Range value (RFC 9110 section 14.4).
type ContentRange struct {
	First, Last int64 // the range; -1 for an unsatisfied range ("*")
	Complete    int64 // the whole length; -1 when "*"
}

// ParseContentRange parses "bytes first-last/complete" and "bytes
// */complete".
func ParseContentRange(s string) (ContentRange, error) {
	bad := fmt.Errorf("malformed Content-Range %q", s)
	unit, rest, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return ContentRange{}, bad
	}
	rng, complete, ok := strings.Cut(strings.TrimSpace(rest), "/")
	if !ok {
		return ContentRange{}, bad
	}
	cr := ContentRange{First: -1, Last: -1, Complete: -1}
	if complete != "*" {
		n, err := parseLength(complete)
		if err != nil {
			return ContentRange{}, bad
		}
		cr.Complete = n
	}
	if rng == "*" {
		if cr.Complete < 0 {
			return ContentRange{}, bad
		}
		return cr, nil
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return ContentRange{}, bad
	}
	first, err1 := parseLength(a)
	last, err2 := parseLength(b)
	if err1 != nil || err2 != nil || last < first || (cr.Complete >= 0 && last >= cr.Complete) {
		return ContentRange{}, bad
	}
	cr.First, cr.Last = first, last
	return cr, nil
}

func parseLength(s string) (int64, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s, 10, 64)
}

// Action is what a resumed download does with the response to its range
// request.
type Action int

const (
	// Append: the response continues the partial file at Offset.
	Append Action = iota + 1
	// Restart: the response is the whole resource (a 200: the validator
	// no longer matches, or the server ignores ranges): the partial file
	// is truncated and the body written from byte 0.
	Restart
	// Complete: the partial file is already the whole resource.
	Complete
	// Fail: the response contradicts the request; Outcome.Err says how.
	Fail
	// Keep: the response is not the resource (an error status such as a
	// 404 or 503, a redirect not followed, any status but 200, 206 and
	// 416): its body is not the partial file's, which is left as it is
	// for a later resume.
	Keep
)

// Outcome is the decision about a response to a range request.
type Outcome struct {
	Action Action
	// Total is the whole length of the resource, -1 when not known.
	Total int64
	// Err explains Fail.
	Err error
}

// Decide decides what to do with a response (status and header) to a
// request for the bytes from offset on, whose partial file holds offset
// bytes:
//
//   - 206 whose Content-Range starts at offset: Append;
//   - 206 with any other Content-Range, or none: Fail (never write at a
//     wrong offset);
//   - 416 whose Content-Range says the complete length is offset:
//     Complete; any other 416: Fail;
//   - 200 (the validator no longer matches, or the server ignores
//     ranges): Restart;
//   - any other status (404, 500, 503, a 3xx...): Keep.
func Decide(offset int64, status int, h http.Header) Outcome {
	switch status {
	case http.StatusPartialContent:
		v := h.Values("Content-Range")
		if len(v) != 1 {
			return Outcome{Action: Fail, Total: -1, Err: fmt.Errorf("a 206 response to a range request has %d Content-Range fields", len(v))}
		}
		cr, err := ParseContentRange(v[0])
		if err != nil {
			return Outcome{Action: Fail, Total: -1, Err: err}
		}
		if cr.First != offset {
			return Outcome{Action: Fail, Total: -1, Err: fmt.Errorf("asked for the bytes from %d on, the server sent Content-Range %q", offset, v[0])}
		}
		if cr.Complete >= 0 && cr.Last != cr.Complete-1 {
			return Outcome{Action: Fail, Total: -1, Err: fmt.Errorf("asked for the bytes from %d to the end, the server sent Content-Range %q", offset, v[0])}
		}
		return Outcome{Action: Append, Total: cr.Complete}
	case http.StatusRequestedRangeNotSatisfiable:
		cr, err := ParseContentRange(h.Get("Content-Range"))
		if err == nil && cr.First < 0 && cr.Complete == offset {
			return Outcome{Action: Complete, Total: offset}
		}
		return Outcome{Action: Fail, Total: -1, Err: fmt.Errorf("the server could not satisfy the range from %d on (Content-Range %q)", offset, h.Get("Content-Range"))}
	case http.StatusOK:
		return Outcome{Action: Restart, Total: -1}
	}
	return Outcome{Action: Keep, Total: -1}
}
