package credstore

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// The credentials file (version 2) is text, one line per credential, each
// line checked on its own, so that damage costs at most the credentials
// on the damaged lines:
//
//	URLSCRED 2 <check>            header; check = sum("URLSCRED 2")
//	<sum> <base64url(record)>     one line per credential
//	...
//
// sum(x) is the first 8 bytes of SHA-256(x) in lower-case hex (16
// characters), base64url has no padding. A record is
//
//	byte version (2) | byte flags | string host | uvarint port |
//	string protocol | string realm | string method | string proxy type |
//	string user | string secret
//
// flags bit 0 marks the space's default credential; with bit 1 clear the
// secret is the password, with bit 1 set it is the name of the Secret
// Service item that holds the password. A string is a uvarint length and
// that many bytes, so any byte sequence (realms are not always UTF-8)
// round-trips exactly.
//
// A reader that finds a well-formed header or record of a later version
// (or with flags it does not know) leaves the file alone: that file was
// written by a newer version. Neither a header nor a record can be
// mistaken for one of a later version by damage, since both carry a
// checksum.
//
// When a newline is damaged two records share a line; the reader finds
// each by its checksum and its separating space, so the merge costs
// nothing.
//
// Version 1 files (binary, one SHA-256 over the whole file; see
// decodeV1) are read and rewritten as version 2.
const (
	fileMagic   = "URLSCRED"
	fileVersion = 2
	maxFileSize = 64 << 20

	sumLen = 16 // hex characters of a line's checksum

	flagDefault = 1 << 0
	flagKeyring = 1 << 1
	knownFlags  = flagDefault | flagKeyring
)

var (
	errCorrupt = errors.New("credstore: corrupt credentials file")
	errVersion = errors.New("credstore: credentials file written by a newer, incompatible version")
)

func corrupt(why string) error { return fmt.Errorf("%w: %s", errCorrupt, why) }

// record is one credential as stored: the password itself, or the name of
// the Secret Service item that holds it.
type record struct {
	space     ProtectionSpace // normalised
	user      string
	secret    string // the password, or the item name when inKeyring
	keyring   bool   // secret names a Secret Service item
	isDefault bool   // the space's default credential
}

// damage is a part of a file that could not be read.
type damage struct {
	line int // 1-based; 0 for the whole file
	err  error
	hint string // what the line seems to have held, if it tells
}

// decoded is what decode read from a file.
type decoded struct {
	records []record
	damage  []damage
	// v1 is set when the file is in the version 1 format, to be
	// rewritten in the current one.
	v1 bool
	// irregular is set when the file is not as this version writes it
	// (damaged, or its lines out of place) although it may have lost
	// nothing: it is to be rewritten.
	irregular bool
}

// maxDamage bounds the damaged lines decode lists one by one.
const maxDamage = 32

func lineSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:sumLen/2])
}

func header(version int) string {
	h := fileMagic + " " + strconv.Itoa(version)
	return h + " " + lineSum([]byte(h))
}

// encode serialises records in the current format, sorted by space and
// user so that equal contents give equal files.
func encode(recs []record) []byte {
	recs = slices.Clone(recs)
	slices.SortFunc(recs, func(a, b record) int {
		return cmp.Or(compareSpaces(a.space, b.space), cmp.Compare(a.user, b.user))
	})
	var out []byte
	out = append(out, header(fileVersion)...)
	out = append(out, '\n')
	var payload []byte
	for _, r := range recs {
		payload = appendRecord(payload[:0], r)
		out = append(out, lineSum(payload)...)
		out = append(out, ' ')
		out = base64.RawURLEncoding.AppendEncode(out, payload)
		out = append(out, '\n')
	}
	return out
}

func appendRecord(b []byte, r record) []byte {
	var flags byte
	if r.isDefault {
		flags |= flagDefault
	}
	if r.keyring {
		flags |= flagKeyring
	}
	b = append(b, fileVersion, flags)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	sp := r.space
	str(sp.Host)
	b = binary.AppendUvarint(b, uint64(sp.Port))
	str(sp.Protocol)
	str(sp.Realm)
	str(sp.AuthenticationMethod)
	str(sp.ProxyType)
	str(r.user)
	str(r.secret)
	return b
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

// decode reads a credentials file of either version. It never panics. It
// fails only with errVersion, for a file a newer version wrote; anything
// it cannot read is listed in the result's damage and left out.
func decode(data []byte) (*decoded, error) {
	d, err := decodeFile(data)
	if d != nil && len(d.damage) > 0 {
		d.irregular = true
	}
	return d, err
}

func decodeFile(data []byte) (*decoded, error) {
	if len(data) == 0 {
		return &decoded{damage: []damage{{line: 0, err: corrupt("empty file")}}}, nil
	}
	if bytes.HasPrefix(data, []byte(fileMagic+"\x01")) {
		recs, err := decodeV1(data)
		if err != nil {
			return &decoded{damage: []damage{{line: 0, err: err}}}, nil
		}
		return &decoded{records: recs, v1: true}, nil
	}
	d := &decoded{}
	moreDamage := 0
	addDamage := func(n int, line []byte, err error) {
		hint := recordHint(line)
		if n == 1 && (bytes.HasPrefix(line, []byte(fileMagic)) || len(line) == len(header(fileVersion))) {
			hint = "the file's header (no credential was on it)"
		}
		if len(d.damage) < maxDamage {
			d.damage = append(d.damage, damage{line: n, err: err, hint: hint})
		} else {
			moreDamage++
		}
	}
	sawHeader := false
	lines := bytes.Split(data, []byte{'\n'})
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // the file ends with a newline
	}
	for i, line := range lines {
		n := i + 1
		if len(line) == 0 {
			continue
		}
		if n == 1 {
			if v, ok := parseHeader(line); ok {
				if v != fileVersion {
					return nil, fmt.Errorf("%w (version %d)", errVersion, v)
				}
				sawHeader = true
				continue
			}
		}
		r, err := parseRecord(line)
		if err == nil {
			d.records = append(d.records, r)
			continue
		}
		if errors.Is(err, errVersion) {
			return nil, err
		}
		// A damaged newline merges two lines; a damaged last byte of
		// the file is the last line's lost newline.
		d.irregular = true
		found, headerOK, complete, verr := resync(line, n == 1, n == len(lines) && data[len(data)-1] != '\n')
		if verr != nil {
			return nil, verr
		}
		sawHeader = sawHeader || headerOK
		d.records = append(d.records, found...)
		if !complete {
			addDamage(n, line, err)
		}
	}
	if !sawHeader && len(d.records) == 0 {
		return &decoded{damage: []damage{{line: 0, err: corrupt("not a credentials file")}}}, nil
	}
	if !sawHeader {
		d.irregular = true
	}
	if moreDamage > 0 {
		d.damage = append(d.damage, damage{line: 0, err: corrupt(fmt.Sprintf("%d more damaged lines", moreDamage))})
	}
	return d, nil
}

// recordHint says whose credential a damaged record line seems to have
// held, when the damage spared its structure (a changed byte inside the
// password, say); "" otherwise. It never includes the secret.
func recordHint(line []byte) string {
	if len(line) < sumLen+2 || line[sumLen] != ' ' {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(string(line[sumLen+1:]))
	if err != nil {
		return ""
	}
	r, err := decodeRecord(payload)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("apparently the credential for %q at %s", r.user, r.space)
}

// parseHeader reports the version of a well-formed header line.
func parseHeader(line []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(line, []byte(fileMagic+" "))
	if !ok {
		return 0, false
	}
	v, sum, ok := bytes.Cut(rest, []byte{' '})
	if !ok || len(v) == 0 || len(v) > 4 || (len(v) > 1 && v[0] == '0') {
		return 0, false
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n < 2 || string(sum) != lineSum(line[:len(fileMagic)+1+len(v)]) {
		return 0, false
	}
	return n, true
}

// parseRecord reads one record line. It fails with errVersion for a
// checksummed record of a later version, otherwise with errCorrupt.
func parseRecord(line []byte) (record, error) {
	if len(line) < sumLen+2 || line[sumLen] != ' ' {
		return record{}, corrupt("not a record line")
	}
	payload, err := base64.RawURLEncoding.DecodeString(string(line[sumLen+1:]))
	if err != nil {
		return record{}, corrupt("bad base64")
	}
	if string(line[:sumLen]) != lineSum(payload) {
		return record{}, corrupt("checksum mismatch")
	}
	return decodeRecord(payload)
}

// decodeRecord reads a record whose checksum matched.
func decodeRecord(p []byte) (record, error) {
	if len(p) < 2 {
		return record{}, corrupt("short record")
	}
	if p[0] > fileVersion || p[1]&^knownFlags != 0 {
		return record{}, fmt.Errorf("%w (record version %d, flags %#x)", errVersion, p[0], p[1])
	}
	if p[0] < fileVersion {
		return record{}, corrupt("bad record version")
	}
	flags := p[1]
	rd := reader{b: p[2:]}
	var r record
	r.space.Host = rd.str()
	port := rd.uvarint()
	r.space.Protocol = rd.str()
	r.space.Realm = rd.str()
	r.space.AuthenticationMethod = rd.str()
	r.space.ProxyType = rd.str()
	r.user = rd.str()
	r.secret = rd.str()
	if port > 65535 {
		rd.fail("port out of range")
	}
	if rd.err == nil && len(rd.b) != 0 {
		rd.fail("trailing bytes")
	}
	if rd.err != nil {
		return record{}, rd.err
	}
	r.space.Port = int(port)
	r.space = r.space.Normalize()
	r.isDefault = flags&flagDefault != 0
	r.keyring = flags&flagKeyring != 0
	return r, nil
}

// maxResyncSpaces bounds the work resync does on one damaged line.
const maxResyncSpaces = 8

// resync looks for intact records inside a damaged line: records that two
// lines merged into one when the newline between them was damaged, or (for
// the file's last line, when lastUnterminated) a record followed by its
// damaged newline. On the first line the part before a record may be the
// header. A record line has exactly one space, after its checksum, so each
// space marks where a record may start. complete reports that every byte
// of the line was accounted for, so that nothing was lost.
func resync(line []byte, first, lastUnterminated bool) (found []record, headerOK, complete bool, err error) {
	if lastUnterminated && len(line) > 1 {
		if r, perr := parseRecord(line[:len(line)-1]); perr == nil {
			return []record{r}, false, true, nil
		} else if errors.Is(perr, errVersion) {
			return nil, false, false, perr
		}
	}
	spaces := 0
	for s := sumLen + 1; s < len(line); s++ {
		if line[s] != ' ' {
			continue
		}
		if spaces++; spaces > maxResyncSpaces {
			break
		}
		start := s - sumLen // the record would start here, after the merged newline at start-1
		right, rerr := parseRecord(line[start:])
		if errors.Is(rerr, errVersion) {
			return nil, false, false, rerr
		}
		if rerr != nil {
			continue
		}
		found = append(found, right)
		left := line[:start-1]
		if first {
			if v, ok := parseHeader(left); ok {
				if v != fileVersion {
					return nil, false, false, fmt.Errorf("%w (version %d)", errVersion, v)
				}
				return found, true, true, nil
			}
		}
		l, lerr := parseRecord(left)
		switch {
		case lerr == nil:
			return append(found, l), false, true, nil
		case errors.Is(lerr, errVersion):
			return nil, false, false, lerr
		}
		return found, false, false, nil
	}
	return nil, false, false, nil
}

// reader consumes a record or a version 1 payload; the first failure
// sticks.
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

// decodeV1 reads a version 1 file:
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
// The one checksum covers every credential, so a damaged file yields
// nothing; the error wraps errCorrupt.
func decodeV1(data []byte) ([]record, error) {
	const minLen = len(fileMagic) + 1 + sha256.Size
	if len(data) < minLen {
		return nil, corrupt("short file")
	}
	body, trailer := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], trailer) {
		return nil, corrupt("checksum mismatch (version 1 file)")
	}
	r := reader{b: body[len(fileMagic)+1:]}
	var recs []record
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
		first := len(recs)
		nu := r.count(2) // a user takes at least 2 bytes
		for j := uint64(0); j < nu && r.err == nil; j++ {
			u, p := r.str(), r.str()
			if r.err == nil {
				recs = append(recs, record{space: sp, user: u, secret: p})
			}
		}
		switch r.byte() {
		case 0:
		case 1:
			idx := r.uvarint()
			if r.err == nil && idx >= uint64(len(recs)-first) {
				r.fail("default index out of range")
			}
			if r.err == nil {
				recs[first+int(idx)].isDefault = true
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
	return recs, nil
}
