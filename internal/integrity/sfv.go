package integrity

import (
	"encoding/base64"
	"errors"
	"fmt"
)

// This file parses RFC 8941 (Structured Field Values) dictionaries, as far as
// RFC 9530's fields need: every member is parsed to validate the field as a
// whole, but only a member's kind and, for a byte sequence, its bytes are
// kept. Dates (RFC 9651 "@") parse as integers.

// itemKind is the type of a dictionary member's value.
type itemKind int

const (
	kindInteger itemKind = iota
	kindDecimal
	kindString
	kindToken
	kindBytes
	kindBoolean
	kindInnerList
)

func (k itemKind) String() string {
	return [...]string{"integer", "decimal", "string", "token", "byte sequence", "boolean", "inner list"}[k]
}

// member is one dictionary member.
type member struct {
	key   string
	kind  itemKind
	bytes []byte // for kindBytes
}

// errSyntax is wrapped by every parse error.
var errSyntax = errors.New("structured field syntax error")

type sfParser struct {
	s string
	i int
}

func (p *sfParser) fail(what string) error {
	return fmt.Errorf("%w at offset %d: %s", errSyntax, p.i, what)
}

func (p *sfParser) eof() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSP() {
	for !p.eof() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// parseDictionary parses a whole field value (RFC 8941 section 4.2.2). A key
// given twice keeps its first position and its last value.
func parseDictionary(s string) ([]member, error) {
	p := &sfParser{s: s}
	p.skipSP()
	// Trailing spaces are removed before parsing (section 4.2).
	for len(p.s) > p.i && p.s[len(p.s)-1] == ' ' {
		p.s = p.s[:len(p.s)-1]
	}
	var out []member
	index := map[string]int{}
	for !p.eof() {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		m := member{key: key, kind: kindBoolean}
		if p.peek() == '=' {
			p.i++
			if p.peek() == '(' {
				if err := p.innerList(); err != nil {
					return nil, err
				}
				m.kind = kindInnerList
			} else {
				kind, b, err := p.bareItem()
				if err != nil {
					return nil, err
				}
				m.kind, m.bytes = kind, b
			}
		}
		if err := p.parameters(); err != nil {
			return nil, err
		}
		if j, dup := index[key]; dup {
			out[j] = m
		} else {
			index[key] = len(out)
			out = append(out, m)
		}
		p.skipOWS()
		if p.eof() {
			return out, nil
		}
		if p.s[p.i] != ',' {
			return nil, p.fail("expected ','")
		}
		p.i++
		p.skipOWS()
		if p.eof() {
			return nil, p.fail("trailing ','")
		}
	}
	return out, nil
}

// key parses an RFC 8941 key.
func (p *sfParser) key() (string, error) {
	c := p.peek()
	if !(c >= 'a' && c <= 'z' || c == '*') {
		return "", p.fail("expected a key")
	}
	start := p.i
	for !p.eof() {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], nil
}

// parameters parses *( ";" *SP key [ "=" bare-item ] ).
func (p *sfParser) parameters() error {
	for p.peek() == ';' && !p.eof() {
		p.i++
		p.skipSP()
		if _, err := p.key(); err != nil {
			return err
		}
		if p.peek() == '=' && !p.eof() {
			p.i++
			if _, _, err := p.bareItem(); err != nil {
				return err
			}
		}
	}
	return nil
}

// innerList parses "(" *SP [ item *( 1*SP item ) *SP ] ")" parameters.
func (p *sfParser) innerList() error {
	p.i++ // '('
	for {
		p.skipSP()
		if p.eof() {
			return p.fail("unterminated inner list")
		}
		if p.s[p.i] == ')' {
			p.i++
			return p.parameters()
		}
		if _, _, err := p.bareItem(); err != nil {
			return err
		}
		if err := p.parameters(); err != nil {
			return err
		}
		if c := p.peek(); c != ' ' && c != ')' {
			return p.fail("expected ' ' or ')' in inner list")
		}
	}
}

// bareItem parses one bare item and returns its kind and, for a byte
// sequence, its decoded bytes.
func (p *sfParser) bareItem() (itemKind, []byte, error) {
	c := p.peek()
	switch {
	case p.eof():
		return 0, nil, p.fail("expected an item")
	case c == '-' || c >= '0' && c <= '9':
		k, err := p.number()
		return k, nil, err
	case c == '@':
		p.i++
		k, err := p.number()
		if err == nil && k != kindInteger {
			err = p.fail("date is not an integer")
		}
		return kindInteger, nil, err
	case c == '"':
		return kindString, nil, p.str()
	case c == ':':
		b, err := p.byteSeq()
		return kindBytes, b, err
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			p.i += 2
			return kindBoolean, nil, nil
		}
		return 0, nil, p.fail("bad boolean")
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		p.i++
		for !p.eof() && (isTchar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return kindToken, nil, nil
	}
	return 0, nil, p.fail("unexpected character")
}

// number parses an integer or decimal (RFC 8941 section 4.2.4).
func (p *sfParser) number() (itemKind, error) {
	if p.peek() == '-' {
		p.i++
	}
	digits, frac, dot := 0, 0, false
	for !p.eof() {
		c := p.s[p.i]
		switch {
		case c >= '0' && c <= '9':
			if dot {
				frac++
			} else {
				digits++
			}
		case c == '.' && !dot:
			if digits > 12 {
				return 0, p.fail("decimal too long")
			}
			dot = true
		default:
			goto end
		}
		p.i++
		if !dot && digits > 15 {
			return 0, p.fail("integer too long")
		}
	}
end:
	if digits == 0 {
		return 0, p.fail("expected a digit")
	}
	if !dot {
		return kindInteger, nil
	}
	if frac == 0 || frac > 3 {
		return 0, p.fail("decimal needs 1 to 3 fraction digits")
	}
	return kindDecimal, nil
}

// str parses a string item.
func (p *sfParser) str() error {
	p.i++ // '"'
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.eof() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return p.fail("bad escape in string")
			}
			p.i++
		case c == '"':
			return nil
		case c < 0x20 || c > 0x7e:
			return p.fail("bad character in string")
		}
	}
	return p.fail("unterminated string")
}

// byteSeq parses ":" base64 ":".
func (p *sfParser) byteSeq() ([]byte, error) {
	p.i++ // ':'
	start := p.i
	for !p.eof() && p.s[p.i] != ':' {
		c := p.s[p.i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return nil, p.fail("bad character in byte sequence")
		}
		p.i++
	}
	if p.eof() {
		return nil, p.fail("unterminated byte sequence")
	}
	enc := p.s[start:p.i]
	p.i++
	// RFC 8941 lets parsers accept missing padding.
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(enc); err != nil {
			return nil, p.fail("bad base64 in byte sequence")
		}
	}
	return b, nil
}

func isTchar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
