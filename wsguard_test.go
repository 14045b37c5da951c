package urlsession

import (
	"bytes"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"testing/iotest"
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
			case "big":
				if !errors.As(err, &big) {
					t.Errorf("error %v, want wsAnnouncedTooBig", err)
				}
			}
		})
	}
}
