package credstore

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// The credentials file:
//
//	magic "URLSCRED" | version byte (1) | payload | SHA-256 of all preceding bytes
//
// payload:
//
//	uvarint space count, then per space:
//	  string host | uvarint port | string protocol | string realm |
//	  string method | string proxy type |
//	  uvarint user count, then per user: string user | string password
//	  byte 0 (no default) or 1 followed by uvarint index of the default user
//
// A string is a uvarint length and that many bytes, so any byte sequence
// (realms are not always UTF-8) round-trips exactly. The magic, version
// position and trailing checksum are fixed for all versions: a later version
// changes only the payload, so this version can tell "newer" from "corrupt".
const (
	fileMagic   = "URLSCRED"
	fileVersion = 1
	maxFileSize = 64 << 20
)

var (
	errCorrupt = errors.New("credstore: corrupt credentials file")
	errVersion = errors.New("credstore: credentials file written by a newer, incompatible version")
)

func corrupt(why string) error { return fmt.Errorf("%w: %s", errCorrupt, why) }

// encode serialises t deterministically (spaces and users sorted).
func encode(t *tierState) []byte {
	var b []byte
	b = append(b, fileMagic...)
	b = append(b, fileVersion)
	spaces := make([]ProtectionSpace, 0, len(t.spaces))
	for sp := range t.spaces {
		spaces = append(spaces, sp)
	}
	slices.SortFunc(spaces, compareSpaces)
	b = binary.AppendUvarint(b, uint64(len(spaces)))
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, sp := range spaces {
		ss := t.spaces[sp]
		str(sp.Host)
		b = binary.AppendUvarint(b, uint64(sp.Port))
		str(sp.Protocol)
		str(sp.Realm)
		str(sp.AuthenticationMethod)
		str(sp.ProxyType)
		users := make([]string, 0, len(ss.users))
		for u := range ss.users {
			users = append(users, u)
		}
		slices.Sort(users)
		b = binary.AppendUvarint(b, uint64(len(users)))
		def := -1
		for i, u := range users {
			str(u)
			str(ss.users[u])
			if ss.hasDef && ss.def == u {
				def = i
			}
		}
		if def < 0 {
			b = append(b, 0)
		} else {
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(def))
		}
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

func compareSpaces(a, b ProtectionSpace) int {
	return cmp.Or(
		cmp.Compare(a.Host, b.Host),
		cmp.Compare(a.Port, b.Port),
		cmp.Compare(a.Protocol, b.Protocol),
		cmp.Compare(a.ProxyType, b.ProxyType),
		cmp.Compare(a.Realm, b.Realm),
		cmp.Compare(a.AuthenticationMethod, b.AuthenticationMethod),
	)
}

// decode parses a credentials file. It returns an error wrapping errCorrupt
// for anything malformed, errVersion for a newer format, and never panics.
// Spaces are normalised; duplicates merge, later entries winning.
func decode(data []byte) (*tierState, error) {
	const minLen = len(fileMagic) + 1 + sha256.Size
	if len(data) < minLen {
		return nil, corrupt("short file")
	}
	body, trailer := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if !bytes.HasPrefix(body, []byte(fileMagic)) {
		return nil, corrupt("bad magic")
	}
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], trailer) {
		return nil, corrupt("checksum mismatch")
	}
	switch v := body[len(fileMagic)]; {
	case v > fileVersion:
		return nil, fmt.Errorf("%w (version %d)", errVersion, v)
	case v < fileVersion:
		return nil, corrupt("bad version")
	}
	r := reader{b: body[len(fileMagic)+1:]}
	t := newTier()
	n := r.count(7) // a space takes at least 7 bytes
	for i := uint64(0); i < n && r.err == nil; i++ {
		var sp ProtectionSpace
		sp.Host = r.str()
		port := r.uvarint()
		sp.Protocol = r.str()
		sp.Realm = r.str()
		sp.AuthenticationMethod = r.str()
		sp.ProxyType = r.str()
		if port > 65535 {
			r.fail("port out of range")
		}
		sp.Port = int(port)
		sp = sp.Normalize()
		nu := r.count(2) // a user takes at least 2 bytes
		users := make([]string, 0, min(nu, 1024))
		for j := uint64(0); j < nu && r.err == nil; j++ {
			u, p := r.str(), r.str()
			if r.err == nil {
				t.set(sp, u, p)
				users = append(users, u)
			}
		}
		switch r.byte() {
		case 0:
		case 1:
			idx := r.uvarint()
			if r.err == nil && idx >= uint64(len(users)) {
				r.fail("default index out of range")
			}
			if r.err == nil {
				t.setDefault(sp, users[idx])
			}
		default:
			r.fail("bad default flag")
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return t, nil
}

// reader consumes the payload; the first failure sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(why string) {
	if r.err == nil {
		r.err = corrupt(why)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads an element count, rejecting counts the remaining bytes cannot
// hold at minSize bytes per element.
func (r *reader) count(minSize int) uint64 {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)/minSize) {
		r.fail("count exceeds data")
		return 0
	}
	return n
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail("string exceeds data")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}
