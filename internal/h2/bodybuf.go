package h2

import "sync"

// bodyBuf is a stream's unread body: a queue of fixed-size chunks, so
// that neither appending nor reading ever moves bytes already buffered,
// however far the reader lags. Its owner guards it (stream.mu).
type bodyBuf struct {
	chunks []*[]byte // the first holds the next unread byte at off
	off    int
	n      int // unread bytes
}

// chunkSize is the size of a bodyBuf's chunks.
const chunkSize = 32 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

// len returns the number of unread bytes.
func (b *bodyBuf) len() int { return b.n }

// write appends a copy of p.
func (b *bodyBuf) write(p []byte) {
	for len(p) > 0 {
		var last *[]byte
		if k := len(b.chunks); k > 0 && len(*b.chunks[k-1]) < chunkSize {
			last = b.chunks[k-1]
		} else {
			last = chunkPool.Get().(*[]byte)
			*last = (*last)[:0]
			b.chunks = append(b.chunks, last)
		}
		c := *last
		m := copy(c[len(c):chunkSize], p)
		*last = c[:len(c)+m]
		p = p[m:]
		b.n += m
	}
}

// read moves up to len(p) unread bytes into p and returns their number.
// Chunks read to their end go back to the pool.
func (b *bodyBuf) read(p []byte) int {
	n := 0
	for n < len(p) && b.n > 0 {
		c := *b.chunks[0]
		m := copy(p[n:], c[b.off:])
		n += m
		b.off += m
		b.n -= m
		if b.off == len(c) {
			b.release(b.chunks[0])
			b.chunks[0] = nil
			b.chunks = b.chunks[1:]
			b.off = 0
		}
	}
	if len(b.chunks) == 0 {
		b.chunks = nil // let the array the reads sliced along go
	}
	return n
}

// reset drops every unread byte and returns their number.
func (b *bodyBuf) reset() int {
	dropped := b.n
	for i, c := range b.chunks {
		b.release(c)
		b.chunks[i] = nil
	}
	b.chunks, b.off, b.n = nil, 0, 0
	return dropped
}

func (b *bodyBuf) release(c *[]byte) {
	*c = (*c)[:0]
	chunkPool.Put(c)
}
