package urlsession

import (
	"bytes"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// guardRead reads everything through a wsGuard fed one byte at a time and
// in one piece, and checks that both read the same.
func guardRead(t *testing.T, stream []byte, limit int64) ([]byte, error) {
	t.Helper()
	var max atomic.Int64
	max.Store(limit)
	var outs [2][]byte
	var errs [2]error
	for i, r := range []io.Reader{iotest.OneByteReader(bytes.NewReader(stream)), bytes.NewReader(stream)} {
		g := &wsGuard{ReadWriteCloser: struct {
			io.Reader
			io.Writer
			io.Closer
		}{r, io.Discard, io.NopCloser(nil)}, max: &max}
		outs[i], errs[i] = io.ReadAll(g)
	}
	// Byte by byte, the offending header's first bytes have gone by the
	// time it is known.
	if !bytes.HasPrefix(outs[0], outs[1]) || len(outs[0]) > len(outs[1])+13 || (errs[0] == nil) != (errs[1] == nil) {
		t.Fatalf("byte by byte: %q %v; whole: %q %v", outs[0], errs[0], outs[1], errs[1])
	}
	return outs[1], errs[1]
}

func TestWSGuard(t *testing.T) {
	text := []byte{0x81, 2, 'h', 'i'}
	ping := []byte{0x89, 1, 'p'}
	var big []byte // a 300-byte binary frame (16-bit length)
	big = append(big, 0x82, 126, 1, 44)
	big = append(big, bytes.Repeat([]byte{'b'}, 300)...)
	masked := []byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}
	huge := []byte{0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0, 'x'}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name   string
		stream []byte
		limit  int64
		pass   int // bytes delivered
		err    string
	}{
		{"fine", cat(text, ping, big, text), 300, len(text)*2 + len(ping) + len(big), ""},
		{"masked after a message", cat(text, ping, masked), 300, len(text) + len(ping), "masked"},
		{"announced over the limit", cat(text, big), 299, len(text), "big"},
		{"a huge length", cat(text, huge), 1 << 20, len(text), "big"},
		{"fragments over the limit", cat([]byte{0x01, 100}, bytes.Repeat([]byte{'a'}, 100), ping, []byte{0x80, 101}), 200, 2 + 100 + len(ping), "big"},
		{"a new message starts the count again", cat([]byte{0x81, 100}, bytes.Repeat([]byte{'a'}, 100), []byte{0x81, 101}, bytes.Repeat([]byte{'a'}, 101)), 101, 2 + 100 + 2 + 101, ""},
		{"compressed, a little over", cat([]byte{0xc2, 126, 1, 44}, bytes.Repeat([]byte{'c'}, 300)), 290, 304, ""},
		{"compressed in fragments, a little over", cat([]byte{0x42, 100}, bytes.Repeat([]byte{'c'}, 100), []byte{0x80, 126, 0, 200}, bytes.Repeat([]byte{'c'}, 200)), 290, 306, ""},
		{"compressed, far over", cat([]byte{0xc2, 126, 0x10, 0}), 1024, 0, "big"},
		{"reserved opcodes are the library's", cat([]byte{0xf7, 0x7f}, []byte("garbage garbage")), 10, 17, ""},
		{"control frames are the library's", cat([]byte{0x89, 126, 1, 0}, bytes.Repeat([]byte{'p'}, 256)), 10, 260, ""},
		// RFC 6455 8.1: text fails at its first byte that cannot be UTF-8,
		// whatever comes after it.
		{"UTF-8 text across fragments and a ping", cat([]byte{0x01, 2, 0xce, 0xba}, []byte{0x00, 1, 0xe1}, ping, []byte{0x80, 2, 0xbd, 0xb9}), 100, 4 + 3 + len(ping) + 4, ""},
		{"invalid UTF-8 in a first fragment", cat(text, []byte{0x01, 4, 'o', 'k', 0xf4, 0x90}), 100, len(text) + 2, "utf8"},
		{"invalid UTF-8 in a continuation", cat([]byte{0x01, 2, 'o', 'k'}, ping, []byte{0x00, 1, 0xc0}), 100, 4 + len(ping) + 2, "utf8"},
		{"a sequence cut by the message's end", cat([]byte{0x01, 1, 0xe1}, []byte{0x80, 1, 0xbd}), 100, 3 + 2, "utf8"},
		{"a sequence cut by an empty last fragment", cat([]byte{0x01, 1, 0xe1}, []byte{0x80, 0}), 100, 3, "utf8"},
		{"binary is not text", cat([]byte{0x82, 2, 0xff, 0xfe}), 100, 4, ""},
		{"compressed text is not checked here", cat([]byte{0xc1, 2, 0xff, 0xfe}), 100, 4, ""},
		{"a close reason that is UTF-8", cat(text, []byte{0x88, 4, 0x03, 0xe8, 0xce, 0xba}), 100, len(text) + 6, ""},
		{"a close reason that is not UTF-8", cat(text, []byte{0x88, 5, 0x03, 0xe8, 'o', 0xed, 0xa0}), 100, len(text) + 2, "reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := guardRead(t, tc.stream, tc.limit)
			if len(out) != tc.pass || !bytes.Equal(out, tc.stream[:tc.pass]) {
				t.Errorf("delivered %d bytes, want %d", len(out), tc.pass)
			}
			var big *wsAnnouncedTooBig
			switch tc.err {
			case "":
				if err != nil {
					t.Errorf("error %v", err)
				}
			case "masked":
				if !errors.Is(err, errServerFrameMasked) {
					t.Errorf("error %v, want errServerFrameMasked", err)
				}
			case "utf8":
				if !errors.Is(err, errTextNotUTF8) {
					t.Errorf("error %v, want errTextNotUTF8", err)
				}
			case "reason":
				if !errors.Is(err, errCloseReasonNotUTF8) {
					t.Errorf("error %v, want errCloseReasonNotUTF8", err)
				}
			case "big":
				if !errors.As(err, &big) {
					t.Errorf("error %v, want wsAnnouncedTooBig", err)
				}
			}
		})
	}
}

// TestUTF8Check: the streaming check agrees with utf8.Valid however the
// bytes are split, and fails at the first byte no continuation can save.
func TestUTF8Check(t *testing.T) {
	for _, s := range []string{
		"", "hello", "κόσμε", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", "\U0010ffff", "\xf4\x90\x80\x80",
		"\xed\xa0\x80", "\xc0\xaf", "\xe1\xbd", "a\xff", "\xf0\x90\x80", "\xef\xbf\xbf", "\x80",
	} {
		b := []byte(s)
		for cut1 := 0; cut1 <= len(b); cut1++ {
			for cut2 := cut1; cut2 <= len(b); cut2++ {
				var v utf8Check
				ok := v.write(b[:cut1]) && v.write(b[cut1:cut2]) && v.write(b[cut2:]) && v.done()
				if ok != utf8.Valid(b) {
					t.Errorf("%q cut at %d and %d: %v, want %v", s, cut1, cut2, ok, utf8.Valid(b))
				}
			}
		}
	}
	// Fail fast: an invalid prefix fails before its sequence would end.
	var v utf8Check
	if v.write([]byte("ok\xf4")) != true || v.write([]byte{0x90}) != false {
		t.Error("\\xf4\\x90 not failed at its second byte")
	}
}
