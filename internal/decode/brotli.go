package decode

import (
	"reflect"

	"github.com/andybalholm/brotli"
)

// brotliReader works around a false alarm in github.com/andybalholm/brotli
// (v1.2.8): when the input arrives in pieces and one piece ends inside the
// last few bits of the stream, the decoder finishes the stream from its
// internal 8-byte staging buffer, and its Read then reports "brotli:
// excessive input" because that buffer is not empty, although every byte in
// it was consumed. Real excess input (bytes after the end of the stream) is
// still reported, since those stay unconsumed in the Reader's input slice.
// Network bodies arrive in arbitrary pieces, so without this a valid response
// would fail at random, roughly once in a few hundred small-chunked bodies.
type brotliReader struct{ *brotli.Reader }

// errExcessiveInputText is the text of brotli's unexported errExcessiveInput.
const errExcessiveInputText = "brotli: excessive input"

func (r brotliReader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if err != nil && err.Error() == errExcessiveInputText && brotliConsumedAll(r.Reader) {
		// The stream is complete and nothing was left over. The decoder
		// is in its final state: the next Read reads the input again and
		// returns io.EOF at its end, or excessive input (in its input
		// slice this time) if more bytes follow.
		err = nil
		if n == 0 {
			return r.Reader.Read(p)
		}
	}
	return n, err
}

// brotliConsumedAll reports whether a Reader that has just reported excessive
// input had in fact consumed all of its input: nothing in its input slice,
// every byte of its staging buffer loaded, and less than a byte of the loaded
// bits unused. It reads unexported fields, so it answers false (leaving the
// error as it was) if the Reader's layout is not the one it knows.
func brotliConsumedAll(r *brotli.Reader) bool {
	v := reflect.ValueOf(r).Elem()
	in := v.FieldByName("in")
	staged := v.FieldByName("buffer_length")
	br := v.FieldByName("br")
	if in.Kind() != reflect.Slice || !isUint(staged) || br.Kind() != reflect.Struct {
		return false
	}
	pos, end, bitPos := br.FieldByName("byte_pos"), br.FieldByName("input_len"), br.FieldByName("bit_pos_")
	if !isUint(pos) || !isUint(end) || !isUint(bitPos) {
		return false
	}
	const accBits = 64 // the bit reader's accumulator, val_ uint64
	return in.Len() == 0 && staged.Uint() > 0 && pos.Uint() == end.Uint() &&
		bitPos.Uint() <= accBits && accBits-bitPos.Uint() < 8
}

func isUint(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}
