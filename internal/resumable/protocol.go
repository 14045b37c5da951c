// Package resumable is the client side of "Resumable Uploads for HTTP"
// (draft-ietf-httpbis-resumable-upload) in the interop versions Apple's
// URLSession speaks: 3 (draft -01, iOS 17.0), 5 (draft -03, iOS 18.0) and 6
// (drafts -04 and -05, iOS 18.1). It builds and parses the protocol's
// messages and encodes the resume data of an interrupted upload; it does no
// I/O of its own.
//
// The protocol in brief: an upload (POST or PUT) announces itself with
// Upload-Draft-Interop-Version and Upload-Complete (Upload-Incomplete in
// version 3). A server that can resume it answers at once with the
// informational status 104 and a Location, the upload's resumption URL.
// After an interruption the client asks that URL for the offset the server
// holds (HEAD, answered with Upload-Offset), sends the rest from there
// (PATCH with Upload-Offset; version 6 types the body
// application/partial-upload), and on 409 Conflict asks for the offset
// again. DELETE on the resumption URL abandons the upload. Booleans and
// integers in these fields are RFC 8941 structured fields: ?1, ?0, 42.
package resumable

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Field names and values of the protocol.
const (
	HeaderInteropVersion = "Upload-Draft-Interop-Version"
	HeaderComplete       = "Upload-Complete"   // versions 5 and 6
	HeaderIncomplete     = "Upload-Incomplete" // version 3: the negation
	HeaderOffset         = "Upload-Offset"
	HeaderLength         = "Upload-Length" // version 6
	HeaderLimit          = "Upload-Limit"
	// PartialUploadType is the Content-Type of an append in version 6.
	PartialUploadType = "application/partial-upload"
	// StatusUploadResumptionSupported is the informational status a server
	// sends with the resumption URL.
	StatusUploadResumptionSupported = 104
)

// Versions of the interop protocol this package speaks, oldest first.
const (
	Version3 = 3
	Version5 = 5
	Version6 = 6
	// Latest is the newest version, the one Apple's platforms send today.
	Latest = Version6
)

// Supported reports whether v is an interop version this package speaks.
func Supported(v int) bool { return v == Version3 || v == Version5 || v == Version6 }

// ErrProtocol is the cause of a message that breaks the protocol.
var ErrProtocol = errors.New("resumable upload protocol violation")

// FormatBool returns b as an RFC 8941 boolean: "?1" or "?0".
func FormatBool(b bool) string {
	if b {
		return "?1"
	}
	return "?0"
}

// ParseBool parses an RFC 8941 boolean item. Parameters after it (";k=v")
// are allowed and ignored, as the RFC asks of unknown parameters.
func ParseBool(s string) (bool, error) {
	s = bareItem(s)
	switch s {
	case "?1":
		return true, nil
	case "?0":
		return false, nil
	}
	return false, fmt.Errorf("%w: %q is not a structured boolean", ErrProtocol, s)
}

// ParseInteger parses an RFC 8941 integer item: an optional minus and 1 to
// 15 digits. Parameters after it are ignored.
func ParseInteger(s string) (int64, error) {
	s = bareItem(s)
	digits := strings.TrimPrefix(s, "-")
	if len(digits) == 0 || len(digits) > 15 {
		return 0, fmt.Errorf("%w: %q is not a structured integer", ErrProtocol, s)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, fmt.Errorf("%w: %q is not a structured integer", ErrProtocol, s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a structured integer", ErrProtocol, s)
	}
	return n, nil
}

// bareItem strips optional whitespace and the parameters of an item.
func bareItem(s string) string {
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	return strings.Trim(s, " \t")
}

// oneField returns the single value of the field name in h: "" and false
// when it is absent, an error when it appears more than once.
func oneField(h http.Header, name string) (string, bool, error) {
	vs := h.Values(name)
	switch len(vs) {
	case 0:
		return "", false, nil
	case 1:
		return vs[0], true, nil
	}
	return "", false, fmt.Errorf("%w: %s appears %d times", ErrProtocol, name, len(vs))
}

// SetComplete sets the field that says whether the message carries the end
// of the upload: Upload-Complete in versions 5 and 6, its negation
// Upload-Incomplete in version 3. Both fields are removed first.
func SetComplete(h http.Header, version int, complete bool) {
	h.Del(HeaderComplete)
	h.Del(HeaderIncomplete)
	if version == Version3 {
		h.Set(HeaderIncomplete, FormatBool(!complete))
		return
	}
	h.Set(HeaderComplete, FormatBool(complete))
}

// Complete reads the completeness field of version v from h: whether the
// upload is complete, and whether the field was there at all.
func Complete(h http.Header, version int) (complete, present bool, err error) {
	name := HeaderComplete
	if version == Version3 {
		name = HeaderIncomplete
	}
	v, ok, err := oneField(h, name)
	if err != nil || !ok {
		return false, false, err
	}
	b, err := ParseBool(v)
	if err != nil {
		return false, false, err
	}
	if version == Version3 {
		b = !b
	}
	return b, true, nil
}

// Offset reads Upload-Offset from h: a non-negative structured integer.
func Offset(h http.Header) (int64, error) {
	v, ok, err := oneField(h, HeaderOffset)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("%w: the response has no %s", ErrProtocol, HeaderOffset)
	}
	n, err := ParseInteger(v)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("%w: negative %s %d", ErrProtocol, HeaderOffset, n)
	}
	return n, nil
}

// Announce sets, on the headers of an upload's first request, the fields
// that offer the server to make it resumable: the interop version and,
// since the request carries the whole body, completeness. length is the
// body's length, sent as Upload-Length in version 6 when not negative.
func Announce(h http.Header, version int, length int64) {
	h.Set(HeaderInteropVersion, strconv.Itoa(version))
	SetComplete(h, version, true)
	h.Del(HeaderLength)
	if version >= Version6 && length >= 0 {
		h.Set(HeaderLength, strconv.FormatInt(length, 10))
	}
}

// OffsetHeader returns the headers of an offset retrieval (HEAD on the
// resumption URL).
func OffsetHeader(version int) http.Header {
	h := make(http.Header, 2)
	h.Set(HeaderInteropVersion, strconv.Itoa(version))
	h.Set("Cache-Control", "no-store")
	return h
}

// AppendHeader returns the headers of an append (PATCH on the resumption
// URL) of the bytes from offset on; complete says whether they reach the
// end of the upload.
func AppendHeader(version int, offset int64, complete bool) http.Header {
	h := make(http.Header, 4)
	h.Set(HeaderInteropVersion, strconv.Itoa(version))
	h.Set(HeaderOffset, strconv.FormatInt(offset, 10))
	SetComplete(h, version, complete)
	if version >= Version6 {
		h.Set("Content-Type", PartialUploadType)
	}
	return h
}

// CancelHeader returns the headers of a cancellation (DELETE on the
// resumption URL).
func CancelHeader(version int) http.Header {
	h := make(http.Header, 1)
	h.Set(HeaderInteropVersion, strconv.Itoa(version))
	return h
}

// ResumptionURL resolves the Location of a 104 response against the URL of
// the upload's request. It refuses a resumption URL of another origin
// (scheme, host and port): the session would send the rest of the body,
// and the request's credentials, wherever the server pointed, and a
// server that can make a client upload to a third party could use it to
// attack that party with the client's network position.
func ResumptionURL(request *url.URL, location string) (*url.URL, error) {
	if location == "" {
		return nil, fmt.Errorf("%w: the 104 response has no Location", ErrProtocol)
	}
	loc, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("%w: the 104 response's Location does not parse", ErrProtocol)
	}
	u := request.ResolveReference(loc)
	u.Fragment, u.RawFragment = "", ""
	if !SameOrigin(request, u) {
		return nil, fmt.Errorf("%w: the resumption URL %s is not of the upload's origin", ErrProtocol, u.Redacted())
	}
	return u, nil
}

// SameOrigin reports whether a and b have the same scheme, host and port,
// a missing port meaning the scheme's default.
func SameOrigin(a, b *url.URL) bool {
	sa, sb := strings.ToLower(a.Scheme), strings.ToLower(b.Scheme)
	if sa != sb {
		return false
	}
	if !strings.EqualFold(a.Hostname(), b.Hostname()) {
		return false
	}
	return port(sa, a.Port()) == port(sb, b.Port())
}

func port(scheme, p string) string {
	if p != "" {
		return p
	}
	switch scheme {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// Limits are the bounds a server sets on an upload (the Upload-Limit
// dictionary). A field the server did not send is -1.
type Limits struct {
	MaxSize, MinSize             int64
	MaxAppendSize, MinAppendSize int64
	Expires                      int64 // seconds
}

// ParseLimits parses Upload-Limit, an RFC 8941 dictionary of integers;
// members it does not know, and their parameters, are ignored. An absent
// field gives no limits.
func ParseLimits(h http.Header) (Limits, error) {
	l := Limits{-1, -1, -1, -1, -1}
	vs := h.Values(HeaderLimit)
	for _, v := range vs {
		for member := range strings.SplitSeq(v, ",") {
			member = strings.Trim(member, " \t")
			if member == "" {
				return l, fmt.Errorf("%w: empty member in %s", ErrProtocol, HeaderLimit)
			}
			key, val, ok := strings.Cut(member, "=")
			if !ok {
				continue // a bare key is the boolean true: none of ours
			}
			var dst *int64
			switch key {
			case "max-size":
				dst = &l.MaxSize
			case "min-size":
				dst = &l.MinSize
			case "max-append-size":
				dst = &l.MaxAppendSize
			case "min-append-size":
				dst = &l.MinAppendSize
			case "expires":
				dst = &l.Expires
			default:
				continue
			}
			n, err := ParseInteger(val)
			if err != nil {
				return l, err
			}
			if n < 0 {
				return l, fmt.Errorf("%w: negative %s in %s", ErrProtocol, key, HeaderLimit)
			}
			*dst = n
		}
	}
	return l, nil
}
