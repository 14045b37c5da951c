package filename

import (
	"strings"
	"unicode/utf8"
)

// FromContentDisposition returns the file name carried by a Content-Disposition
// header value (RFC 6266), decoded but not sanitised: pass it to [Sanitize]
// before using it as a path. ok is false when the header has no file name or
// is malformed.
//
// The filename* parameter, an RFC 8187 ext-value such as
//
//	filename*=UTF-8''%e2%82%ac%20rates
//
// is preferred over filename, as RFC 6266 section 4.3 asks; its charset
// must be UTF-8 or ISO-8859-1 (case-insensitive), and a filename* that
// cannot be decoded, or that is given as a quoted-string (which an
// ext-value never is), is ignored in favour of filename. A
// filename given as a token or quoted-string is taken as UTF-8 when its bytes
// are valid UTF-8 and as ISO-8859-1 otherwise. The disposition type
// (attachment, inline or another token) does not matter.
//
// A header that does not follow the grammar (a missing '=', an unterminated
// quoted-string, a parameter given twice, stray characters) is ignored as a
// whole rather than guessed at: ok is false.
func FromContentDisposition(v string) (name string, ok bool) {
	p := dispParser{s: v}
	p.skipSpace()
	if p.token() == "" {
		return "", false
	}
	params := map[string]string{}
	quotedExt := false // filename* was given as a quoted-string
	for {
		p.skipSpace()
		if p.done() {
			break
		}
		if !p.consume(';') {
			return "", false
		}
		p.skipSpace()
		if p.done() {
			break // a trailing ';' is harmless
		}
		key := strings.ToLower(p.token())
		if key == "" {
			return "", false
		}
		p.skipSpace()
		if !p.consume('=') {
			return "", false
		}
		p.skipSpace()
		var val string
		if p.peek() == '"' {
			var good bool
			if val, good = p.quoted(); !good {
				return "", false
			}
		} else if val = p.token(); val == "" {
			return "", false
		}
		if _, dup := params[key]; dup {
			return "", false
		}
		params[key] = val
		if key == "filename*" && p.s[p.i-1] == '"' {
			quotedExt = true
		}
	}
	if ext, has := params["filename*"]; has && !quotedExt {
		if dec, good := decodeExtValue(ext); good && dec != "" {
			return dec, true
		}
	}
	if plain, has := params["filename"]; has && plain != "" {
		return bytesToUTF8(plain), true
	}
	return "", false
}

// dispParser walks a header value.
type dispParser struct {
	s string
	i int
}

func (p *dispParser) done() bool { return p.i >= len(p.s) }

func (p *dispParser) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *dispParser) consume(c byte) bool {
	if p.peek() == c && !p.done() {
		p.i++
		return true
	}
	return false
}

func (p *dispParser) skipSpace() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// token reads an RFC 9110 token ("" when none is there).
func (p *dispParser) token() string {
	start := p.i
	for !p.done() && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string starting at '"' and returns its unescaped
// content.
func (p *dispParser) quoted() (string, bool) {
	p.i++ // opening quote
	var b strings.Builder
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return b.String(), true
		case c == '\\':
			if p.done() {
				return "", false
			}
			q := p.s[p.i]
			if q != '\t' && (q < 0x20 || q == 0x7f) {
				return "", false
			}
			b.WriteByte(q)
			p.i++
		case c == '\t' || (c >= 0x20 && c != 0x7f):
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	return "", false
}

// isTchar reports whether c may appear in an RFC 9110 token.
func isTchar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// decodeExtValue decodes an RFC 8187 ext-value: charset'language'pct-encoded.
func decodeExtValue(v string) (string, bool) {
	charset, rest, ok := strings.Cut(v, "'")
	if !ok {
		return "", false
	}
	_, enc, ok := strings.Cut(rest, "'") // the language tag is not used
	if !ok {
		return "", false
	}
	raw := make([]byte, 0, len(enc))
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if c == '%' {
			if i+2 >= len(enc) {
				return "", false
			}
			hi, lo := unhex(enc[i+1]), unhex(enc[i+2])
			if hi < 0 || lo < 0 {
				return "", false
			}
			raw = append(raw, byte(hi<<4|lo))
			i += 2
			continue
		}
		raw = append(raw, c)
	}
	switch strings.ToUpper(charset) {
	case "UTF-8":
		if !utf8.Valid(raw) {
			return "", false
		}
		return string(raw), true
	case "ISO-8859-1":
		return latin1(raw), true
	}
	return "", false
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// bytesToUTF8 returns s unchanged when it is valid UTF-8 and its ISO-8859-1
// reading otherwise.
func bytesToUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return latin1([]byte(s))
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}
