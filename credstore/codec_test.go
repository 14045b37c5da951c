package credstore

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
)

// resum appends a fresh version 1 checksum to body.
func resum(body []byte) []byte {
	sum := sha256.Sum256(body)
	return append(bytes.Clone(body), sum[:]...)
}

func sampleRecords() []record {
	sp := ProtectionSpace{Host: "example.com", Protocol: "https", Realm: "caf\xe9 \x00 realm"}.Normalize()
	proxy := ProtectionSpace{Host: "proxy", Port: 1080, ProxyType: ProxySOCKS, AuthenticationMethod: AuthMethodHTTPBasic}.Normalize()
	return []record{
		{space: sp, user: "alice", secret: "pw\xff\x00", isDefault: true},
		{space: sp, user: "", secret: "token"},
		{space: proxy, user: "bob", secret: ""},
		{space: otherHost("kr.example").Normalize(), user: "carol", secret: "\"carol\" at ... #0011223344556677", keyring: true, isDefault: true},
		{space: otherHost("long.example").Normalize(), user: strings.Repeat("u", 30), secret: strings.Repeat("p\n ", 30)},
	}
}

func sortRecords(recs []record) []record {
	recs = slices.Clone(recs)
	slices.SortFunc(recs, func(a, b record) int {
		return cmp.Or(compareSpaces(a.space, b.space), cmp.Compare(a.user, b.user), cmp.Compare(a.secret, b.secret))
	})
	return recs
}

func sameRecords(a, b []record) bool { return slices.Equal(sortRecords(a), sortRecords(b)) }

// encodeV1 writes records in the version 1 format, as the previous version
// of this package did, for the migration tests.
func encodeV1(recs []record) []byte {
	type spaceRecs struct {
		users []record
	}
	bySpace := map[ProtectionSpace]*spaceRecs{}
	var order []ProtectionSpace
	for _, r := range recs {
		if bySpace[r.space] == nil {
			bySpace[r.space] = &spaceRecs{}
			order = append(order, r.space)
		}
		bySpace[r.space].users = append(bySpace[r.space].users, r)
	}
	b := []byte(fileMagic + "\x01")
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(order)))
	for _, sp := range order {
		str(sp.Host)
		b = binary.AppendUvarint(b, uint64(sp.Port))
		str(sp.Protocol)
		str(sp.Realm)
		str(sp.AuthenticationMethod)
		str(sp.ProxyType)
		users := bySpace[sp].users
		b = binary.AppendUvarint(b, uint64(len(users)))
		def := -1
		for i, r := range users {
			str(r.user)
			str(r.secret)
			if r.isDefault {
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
	return resum(b)
}

// recordLine encodes one record line with its checksum.
func recordLine(payload []byte) string {
	return lineSum(payload) + " " + base64.RawURLEncoding.EncodeToString(payload)
}

func TestCodecRoundTrip(t *testing.T) {
	for _, recs := range [][]record{nil, sampleRecords()} {
		data := encode(recs)
		got, err := decode(data)
		if err != nil {
			t.Fatalf("decode(encode): %v", err)
		}
		if got.irregular || len(got.damage) > 0 || got.v1 {
			t.Errorf("a fresh file decodes as irregular=%v damage=%v v1=%v", got.irregular, got.damage, got.v1)
		}
		if !sameRecords(got.records, recs) {
			t.Errorf("round trip changed the records:\n got %+v\nwant %+v", got.records, recs)
		}
		if !bytes.Equal(encode(got.records), data) {
			t.Errorf("encoding is not deterministic")
		}
		if !bytes.HasPrefix(data, []byte("URLSCRED 2 ")) {
			t.Errorf("file starts %q", data[:min(len(data), 20)])
		}
	}
}

func TestDecodeVersion1(t *testing.T) {
	var recs []record
	for _, r := range sampleRecords() {
		if !r.keyring { // version 1 had no Secret Service items
			recs = append(recs, r)
		}
	}
	got, err := decode(encodeV1(recs))
	if err != nil || !got.v1 || len(got.damage) > 0 {
		t.Fatalf("decode(v1) = %+v, %v", got, err)
	}
	if !sameRecords(got.records, recs) {
		t.Errorf("v1 records:\n got %+v\nwant %+v", got.records, recs)
	}
	// Any damage to a version 1 file costs all of it: its one checksum
	// covers everything.
	data := encodeV1(recs)
	data[len(data)/2] ^= 1
	got, err = decode(data)
	if err != nil || len(got.records) != 0 || len(got.damage) != 1 || got.damage[0].line != 0 {
		t.Errorf("damaged v1: %+v, %v", got, err)
	}
}

func TestDecodeNewerVersion(t *testing.T) {
	rec := appendRecord(nil, sampleRecords()[0])
	newer := bytes.Clone(rec)
	newer[0] = fileVersion + 1
	newFlags := bytes.Clone(rec)
	newFlags[1] |= 0x80
	tests := map[string]string{
		"header":       header(3) + "\n" + recordLine(rec) + "\n",
		"record":       header(2) + "\n" + recordLine(newer) + "\n",
		"flags":        header(2) + "\n" + recordLine(newFlags) + "\n",
		"merged lines": header(2) + "\n" + recordLine(rec) + "X" + recordLine(newer) + "\n",
	}
	for name, data := range tests {
		if _, err := decode([]byte(data)); !errors.Is(err, errVersion) {
			t.Errorf("%s: %v, want errVersion", name, err)
		}
	}
	// Damage cannot forge a newer version: a header whose digit changed
	// fails its checksum and reads as damaged.
	damaged := []byte(tests["header"])
	damaged[len("URLSCRED ")] = '2'
	if d, err := decode(damaged); err != nil || len(d.records) != 1 || !d.irregular {
		t.Errorf("damaged header: %+v, %v", d, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	sp := exampleSpace.Normalize()
	good := appendRecord(nil, record{space: sp, user: "u", secret: "p"})
	tests := map[string][]byte{
		"trailing bytes":  append(bytes.Clone(good), 0),
		"short":           good[:5],
		"version one":     append([]byte{1}, good[1:]...),
		"port over 65535": append(append([]byte{2, 0, 1, 'h'}, binary.AppendUvarint(nil, 70000)...), 0, 0, 0, 0, 0, 0),
		"empty":           {},
	}
	for name, payload := range tests {
		if _, err := decodeRecord(payload); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: %v, want errCorrupt", name, err)
		}
	}
	if _, err := decodeRecord(good); err != nil {
		t.Errorf("good record: %v", err)
	}
	for name, data := range map[string]string{
		"empty file":   "",
		"garbage":      "this is not a credentials file",
		"binary":       "\x00\x01\x02\xff",
		"only newline": "\n\n\n",
	} {
		d, err := decode([]byte(data))
		if err != nil || len(d.records) != 0 || len(d.damage) != 1 || d.damage[0].line != 0 {
			t.Errorf("%s: %+v, %v; want one whole-file damage", name, d, err)
		}
	}
}

// TestDecodeSurvivesAnyOneChangedByte changes each byte of a file in turn
// (header, checksums, payloads, separators and newlines) in several ways:
// every credential on another line survives, the file is marked for
// rewriting, and a lost credential is reported on its line.
func TestDecodeSurvivesAnyOneChangedByte(t *testing.T) {
	recs := sampleRecords()
	data := encode(recs)
	lineOf := func(off int) int { return bytes.Count(data[:off], []byte{'\n'}) + 1 }
	sorted := sortRecords(recs) // the file's order: line i+2 holds sorted[i]
	changes := []func(byte) byte{
		func(c byte) byte { return c ^ 0x01 },
		func(c byte) byte { return c ^ 0x80 },
		func(byte) byte { return '\n' },
		func(byte) byte { return ' ' },
		func(byte) byte { return 'A' },
		func(byte) byte { return 0 },
	}
	for off := range data {
		for ci, change := range changes {
			damaged := bytes.Clone(data)
			damaged[off] = change(damaged[off])
			if bytes.Equal(damaged, data) {
				continue
			}
			d, err := decode(damaged)
			if err != nil {
				t.Fatalf("byte %d change %d: %v", off, ci, err)
			}
			line := lineOf(off)
			var lostLine = -1 // the record the change may cost
			if line >= 2 && data[off] != '\n' {
				lostLine = line
			}
			for i, r := range sorted {
				found := slices.Contains(d.records, r)
				if !found && i+2 != lostLine {
					t.Errorf("byte %d (line %d) change %d lost %q on line %d", off, line, ci, r.user, i+2)
				}
				if !found && !slices.ContainsFunc(d.damage, func(x damage) bool { return x.line == i+2 || x.line == i+3 }) {
					t.Errorf("byte %d change %d: %q lost without a report: %+v", off, ci, r.user, d.damage)
				}
			}
			if !d.irregular && !bytes.Equal(encode(d.records), damaged) {
				t.Errorf("byte %d change %d: not marked for rewriting", off, ci)
			}
		}
	}
}

// FuzzDecode: decode never panics and fails only for a newer version; what
// it accepts re-encodes to a file that decodes to the same records with no
// damage. Each input is tried as a whole file, as one record line behind a
// valid header, and as a record payload behind a valid checksum, so that
// the fuzzer reaches the record parser past the checksums.
func FuzzDecode(f *testing.F) {
	f.Add(encode(sampleRecords()))
	f.Add(encode(nil))
	f.Add(encodeV1(sampleRecords()[:3]))
	f.Add(encode(sampleRecords())[:100])
	f.Add([]byte(fileMagic))
	f.Add([]byte{})
	f.Add(appendRecord(nil, sampleRecords()[0]))
	f.Add([]byte(header(2) + "\n" + recordLine(appendRecord(nil, sampleRecords()[1])) + "X" + recordLine(appendRecord(nil, sampleRecords()[2]))))
	f.Add(resum([]byte(fileMagic + "\x01\x01\x01h\x50\x00\x00\x00\x00\x01\x01u\x00\x01\x00")))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		checkDecode(t, []byte(header(2)+"\n"+string(data)+"\n"))
		checkDecode(t, []byte(header(2)+"\n"+recordLine(data)+"\n"))
	})
}

// checkDecode asserts decode's contract for one input.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	d, err := decode(data)
	if err != nil {
		if !errors.Is(err, errVersion) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		return
	}
	for _, r := range d.records {
		if r.space != r.space.Normalize() {
			t.Fatalf("space not normalised: %#v", r.space)
		}
	}
	again, err := decode(encode(d.records))
	if err != nil {
		t.Fatalf("re-decode: %v", err)
	}
	if len(again.damage) > 0 || again.irregular {
		t.Fatalf("re-encoded file is damaged: %+v", again.damage)
	}
	if !sameRecords(again.records, d.records) {
		t.Fatal("re-encoding changed the records")
	}
	if len(d.damage) > maxDamage+1 {
		t.Fatalf("%d damage entries", len(d.damage))
	}
	for _, x := range d.damage {
		if x.err == nil || !errors.Is(x.err, errCorrupt) {
			t.Fatalf("damage without a corruption error: %+v", x)
		}
	}
}

func TestRecordHintHasNoSecret(t *testing.T) {
	r := record{space: exampleSpace.Normalize(), user: "alice", secret: "hunter2"}
	line := []byte(recordLine(appendRecord(nil, r)))
	line[0] ^= 1 // checksum damaged, payload intact
	h := recordHint(line)
	if !strings.Contains(h, `"alice"`) || strings.Contains(h, "hunter2") {
		t.Errorf("hint %q", h)
	}
}
