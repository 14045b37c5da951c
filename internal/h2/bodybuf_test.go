package h2

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// A bodyBuf hands back what was written, in order, whatever the sizes of
// the writes and reads, across its chunks' boundaries.
func TestBodyBuf(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := payload(3*chunkSize+12345, 20)
	for round := range 50 {
		var b bodyBuf
		var got []byte
		in := data
		for len(in) > 0 || b.len() > 0 {
			if len(in) > 0 && rng.IntN(2) == 0 {
				k := min(len(in), 1+rng.IntN(2*chunkSize))
				b.write(in[:k])
				in = in[k:]
				continue
			}
			p := make([]byte, 1+rng.IntN(2*chunkSize))
			n := b.read(p)
			got = append(got, p[:n]...)
			if want := len(data) - len(in) - len(got); b.len() != want {
				t.Fatalf("round %d: len %d, want %d", round, b.len(), want)
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round %d: read %d bytes, not what was written", round, len(got))
		}
		if len(b.chunks) != 0 {
			t.Fatalf("round %d: %d chunks held once all is read", round, len(b.chunks))
		}
	}
	var b bodyBuf
	b.write(data[:chunkSize+1])
	b.read(make([]byte, 10))
	if n := b.reset(); n != chunkSize+1-10 || b.len() != 0 || b.chunks != nil {
		t.Errorf("reset dropped %d, left %d bytes in %d chunks", n, b.len(), len(b.chunks))
	}
	if n := b.read(make([]byte, 10)); n != 0 {
		t.Errorf("read %d bytes after reset", n)
	}
}
