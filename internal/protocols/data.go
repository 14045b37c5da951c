// Package protocols holds the protocols built into a session's dispatch
// stage for the schemes other than http and https: data:, file: and the
// FTP family (ftp:, ftps:, ftpes:).
package protocols

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/urlsession-go/urlsession/internal/fail"
)

// Data loads data: URLs (RFC 2397) the way the WHATWG Fetch standard's
// "data: URL processor" reads them, which is also what browsers and Apple's
// URL Loading System do:
//
//   - everything up to the first comma is the MIME type, everything after it
//     the percent-encoded body; a URL without a comma is malformed;
//   - a MIME type ending in ";base64" (any case, spaces allowed before
//     "base64") marks the body as base64, decoded with the standard's
//     forgiving algorithm (ASCII whitespace ignored, padding optional);
//   - the MIME type is parsed per the MIME Sniffing standard; one that does
//     not parse becomes "text/plain;charset=US-ASCII", and one that starts
//     with ";" gets "text/plain" in front.
//
// The response has status 200 ("200 OK", protocol "HTTP/1.1" so that code
// written for net/http responses handles it), Content-Type set to the
// serialised MIME type and Content-Length to the body's length. Every method
// gets the same response; a HEAD response has no body. A malformed URL fails
// with code -1000 (bad URL). The fragment is ignored.
type Data struct{}

// CanHandle reports whether the request's URL has the data scheme.
func (Data) CanHandle(req *http.Request) bool {
	return req != nil && req.URL != nil && strings.EqualFold(req.URL.Scheme, "data")
}

// RoundTrip answers the request from its URL.
func (Data) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close() // a data: URL sends nothing
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if req.URL == nil {
		return nil, fail.New(-1000, errors.New("data: request has no URL"))
	}
	mime, body, err := dataProcess(dataSerialize(req.URL))
	if err != nil {
		return nil, fail.New(-1000, err)
	}
	n := strconv.Itoa(len(body))
	resp := localResponse(req, http.Header{"Content-Type": {mime}, "Content-Length": {n}})
	resp.ContentLength = int64(len(body))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if req.Method == http.MethodHead {
		resp.Body = http.NoBody
	}
	return resp, nil
}

// dataSerialize writes u as the WHATWG URL serializer would with "exclude
// fragment" set: the content is taken as written (Opaque, RawQuery), and
// the bytes the WHATWG URL parser would have percent-encoded or dropped are
// treated the same way here, since a url.URL may hold them raw.
func dataSerialize(u *url.URL) string {
	var s string
	if u.Opaque != "" {
		s = u.Scheme + ":" + u.Opaque
		if u.ForceQuery || u.RawQuery != "" {
			s += "?" + u.RawQuery
		}
	} else {
		v := *u
		v.Fragment, v.RawFragment = "", ""
		s = v.String()
	}
	// The URL parser strips leading and trailing C0 controls and spaces from
	// its input: a trailing run belongs to the last component, which here is
	// the one before the fragment only when there is no fragment.
	if u.Fragment == "" {
		s = strings.TrimRight(s, dataC0OrSpace)
	}
	s = strings.TrimLeft(s, dataC0OrSpace)

	query := len(s) // where the query starts, if anywhere
	if i := strings.IndexByte(s, '?'); i >= 0 {
		query = i
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\t' || c == '\n' || c == '\r':
			// removed by the URL parser
		case c < 0x20 || c > 0x7e,
			i > query && (c == ' ' || c == '"' || c == '#' || c == '<' || c == '>'):
			b.WriteByte('%')
			b.WriteByte(dataHex[c>>4])
			b.WriteByte(dataHex[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

const (
	dataHex        = "0123456789ABCDEF"
	dataC0OrSpace  = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "
	dataASCIIWhite = "\t\n\f\r "
	dataHTTPWhite  = "\t\n\r "
)

var (
	errDataNoComma   = errors.New("data URL has no comma")
	errDataBadBase64 = errors.New("data URL has invalid base64 content")
)

// dataProcess is the Fetch standard's "data: URL processor"
// (https://fetch.spec.whatwg.org/#data-url-processor) applied to a
// serialised URL without fragment. It returns the serialised MIME type and
// the body.
func dataProcess(input string) (string, []byte, error) {
	// Remove the leading "data:" (the scheme, whatever its case).
	if i := strings.IndexByte(input, ':'); i >= 0 {
		input = input[i+1:]
	}
	mimeType, encoded, ok := strings.Cut(input, ",")
	if !ok {
		return "", nil, errDataNoComma
	}
	mimeType = strings.Trim(mimeType, dataASCIIWhite)
	body := dataPercentDecode(encoded)

	if rest, ok := dataCutBase64(mimeType); ok {
		var err error
		if body, err = dataForgivingBase64(body); err != nil {
			return "", nil, err
		}
		mimeType = rest
	}
	if strings.HasPrefix(mimeType, ";") {
		mimeType = "text/plain" + mimeType
	}
	m, ok := dataParseMIME(mimeType)
	if !ok {
		return "text/plain;charset=US-ASCII", body, nil
	}
	return m.String(), body, nil
}

// dataCutBase64 reports whether mimeType ends with ";", zero or more spaces
// and "base64" (ASCII case-insensitive), and returns it without them.
func dataCutBase64(mimeType string) (string, bool) {
	if len(mimeType) < 7 || !strings.EqualFold(mimeType[len(mimeType)-6:], "base64") {
		return "", false
	}
	rest := strings.TrimRight(mimeType[:len(mimeType)-6], " ")
	if !strings.HasSuffix(rest, ";") {
		return "", false
	}
	return rest[:len(rest)-1], true
}

// dataPercentDecode is the URL standard's percent-decode: "%" and two hex
// digits become the byte; anything else, a malformed "%" included, stays.
func dataPercentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := dataUnhex(s[i+1])
			lo, ok2 := dataUnhex(s[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

func dataUnhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// dataForgivingBase64 is the Infra standard's forgiving-base64 decode
// (https://infra.spec.whatwg.org/#forgiving-base64-decode), over the body's
// bytes read as code points U+0000 to U+00FF (isomorphic decode).
func dataForgivingBase64(in []byte) ([]byte, error) {
	data := make([]byte, 0, len(in))
	for _, c := range in {
		if strings.IndexByte(dataASCIIWhite, c) < 0 {
			data = append(data, c)
		}
	}
	if len(data)%4 == 0 {
		if bytes.HasSuffix(data, []byte("==")) {
			data = data[:len(data)-2]
		} else if bytes.HasSuffix(data, []byte("=")) {
			data = data[:len(data)-1]
		}
	}
	if len(data)%4 == 1 {
		return nil, errDataBadBase64
	}
	out := make([]byte, 0, len(data)*3/4)
	var buf uint32
	bits := 0
	for _, c := range data {
		var v byte
		switch {
		case 'A' <= c && c <= 'Z':
			v = c - 'A'
		case 'a' <= c && c <= 'z':
			v = c - 'a' + 26
		case '0' <= c && c <= '9':
			v = c - '0' + 52
		case c == '+':
			v = 62
		case c == '/':
			v = 63
		default:
			return nil, errDataBadBase64
		}
		buf = buf<<6 | uint32(v)
		bits += 6
		if bits == 24 {
			out = append(out, byte(buf>>16), byte(buf>>8), byte(buf))
			buf, bits = 0, 0
		}
	}
	switch bits {
	case 12: // one byte; the last four bits are dropped
		out = append(out, byte(buf>>4))
	case 18: // two bytes; the last two bits are dropped
		out = append(out, byte(buf>>10), byte(buf>>2))
	}
	return out, nil
}

// dataMIME is a MIME type record of the MIME Sniffing standard.
type dataMIME struct {
	typ, subtype string
	params       [][2]string // name (lower case), value; in order
}

// dataParseMIME is the MIME Sniffing standard's "parse a MIME type"
// (https://mimesniff.spec.whatwg.org/#parse-a-mime-type).
func dataParseMIME(s string) (dataMIME, bool) {
	s = strings.Trim(s, dataHTTPWhite)
	typ, rest, ok := strings.Cut(s, "/")
	if !ok || !dataIsToken(typ) {
		return dataMIME{}, false
	}
	subtype := rest
	rest = ""
	if i := strings.IndexByte(subtype, ';'); i >= 0 {
		subtype, rest = subtype[:i], subtype[i:]
	}
	subtype = strings.TrimRight(subtype, dataHTTPWhite)
	if !dataIsToken(subtype) {
		return dataMIME{}, false
	}
	m := dataMIME{typ: strings.ToLower(typ), subtype: strings.ToLower(subtype)}

	pos := 0 // rest[pos] is ';' or pos == len(rest)
	for pos < len(rest) {
		pos++ // skip ';'
		for pos < len(rest) && strings.IndexByte(dataHTTPWhite, rest[pos]) >= 0 {
			pos++
		}
		start := pos
		for pos < len(rest) && rest[pos] != ';' && rest[pos] != '=' {
			pos++
		}
		name := strings.ToLower(rest[start:pos])
		if pos < len(rest) {
			if rest[pos] == ';' {
				continue
			}
			pos++ // skip '='
		}
		if pos >= len(rest) {
			break
		}
		var value string
		if rest[pos] == '"' {
			value, pos = dataQuotedString(rest, pos)
			for pos < len(rest) && rest[pos] != ';' {
				pos++
			}
		} else {
			start := pos
			for pos < len(rest) && rest[pos] != ';' {
				pos++
			}
			value = strings.TrimRight(rest[start:pos], dataHTTPWhite)
			if value == "" {
				continue
			}
		}
		if name != "" && dataIsToken(name) && dataIsQuotedToken(value) && !m.has(name) {
			m.params = append(m.params, [2]string{name, value})
		}
	}
	return m, true
}

// dataQuotedString is the Fetch standard's "collect an HTTP quoted string"
// with the extract-value flag set; s[pos] is '"'. It returns the value and
// the position after the string.
func dataQuotedString(s string, pos int) (string, int) {
	var b strings.Builder
	pos++ // skip the opening '"'
	for {
		for pos < len(s) && s[pos] != '"' && s[pos] != '\\' {
			b.WriteByte(s[pos])
			pos++
		}
		if pos >= len(s) {
			break
		}
		c := s[pos]
		pos++
		if c != '\\' {
			break // the closing '"'
		}
		if pos >= len(s) {
			b.WriteByte('\\')
			break
		}
		b.WriteByte(s[pos])
		pos++
	}
	return b.String(), pos
}

func (m dataMIME) has(name string) bool {
	for _, p := range m.params {
		if p[0] == name {
			return true
		}
	}
	return false
}

// String is the MIME Sniffing standard's "serialize a MIME type".
func (m dataMIME) String() string {
	var b strings.Builder
	b.WriteString(m.typ)
	b.WriteByte('/')
	b.WriteString(m.subtype)
	for _, p := range m.params {
		b.WriteByte(';')
		b.WriteString(p[0])
		b.WriteByte('=')
		v := p[1]
		if v != "" && dataIsToken(v) {
			b.WriteString(v)
			continue
		}
		b.WriteByte('"')
		for i := 0; i < len(v); i++ {
			if v[i] == '"' || v[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(v[i])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// dataIsToken reports whether s is non-empty and made only of HTTP token
// code points.
func dataIsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}

// dataIsQuotedToken reports whether s is made only of HTTP quoted-string
// token code points: tab, space to '~', and U+0080 to U+00FF (here, bytes,
// since the input has been percent-encoded to ASCII).
func dataIsQuotedToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\t' && (c < 0x20 || c == 0x7f) {
			return false
		}
	}
	return true
}

// localResponse is the 200 response of a built-in protocol, with header h:
// written as HTTP/1.1, so that code made for net/http's responses handles
// it as it would one of those.
func localResponse(req *http.Request, h http.Header) *http.Response {
	return &http.Response{
		Status:     "200 OK",
		StatusCode: http.StatusOK,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Request:    req,
	}
}
