package urlsession

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// wsGuard watches the frames a WebSocket server sends, as they pass to
// the WebSocket library, for the violations the library lets through: a
// masked frame (RFC 6455 5.1: a client must close the connection), and a
// data frame whose announced length alone makes its message larger than
// the maximum message size, which the library would wait for (up to 2^63
// bytes) before counting. It reads only frame headers, skipping payloads
// by their length. Bytes before the offending frame are delivered; the
// reads after it fail with the violation. It also keeps the payload of the
// first close frame it sees (see closeFrame).
//
// It checks the UTF-8 of uncompressed text messages as their bytes
// arrive, so that a message that cannot be UTF-8 fails the connection at
// once (RFC 6455 8.1), not when its last fragment comes, which may be
// never; and the reason of a close frame (RFC 6455 5.5.1), before the
// library answers that close. The bytes before the offending payload
// bytes are delivered.
type wsGuard struct {
	io.ReadWriteCloser
	max *atomic.Int64 // the maximum message size

	head     [14]byte // the header being read
	nhead    int
	skip     uint64 // payload bytes left of the current frame
	message  uint64 // announced bytes of the data message in progress
	deflated bool   // that message is compressed
	text     bool   // that message is uncompressed text: its UTF-8 is checked
	fin      bool   // the current data frame is its message's last
	checking bool   // the current frame's payload is checked as text
	utf8     utf8Check
	err      error // the violation, returned from the next Read on

	capturing bool // the current frame is the first close frame
	close     []byte

	mu        sync.Mutex // guards closeSeen and closeBody
	closeSeen bool
	closeBody []byte // the first close frame's payload
}

// closeFrame returns the payload of the first close frame read so far,
// whoever read it (a reader of the task's or the WebSocket library's close
// handshake).
func (g *wsGuard) closeFrame() ([]byte, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closeBody, g.closeSeen
}

// capture adds b, payload bytes of the current frame, to the close frame
// being captured; done reports that the frame's payload is complete.
func (g *wsGuard) capture(b []byte, done bool) {
	if !g.capturing {
		return
	}
	g.close = append(g.close, b...)
	if done {
		g.capturing = false
		g.mu.Lock()
		g.closeSeen, g.closeBody = true, g.close
		g.mu.Unlock()
	}
}

// errCloseReasonNotUTF8 is a close frame whose reason is not UTF-8.
var errCloseReasonNotUTF8 = errors.New("urlsession: the server sent a WebSocket close reason that is not UTF-8")

// errServerFrameMasked is a masked frame from the server.
var errServerFrameMasked = errors.New("urlsession: the server sent a masked WebSocket frame")

// wsAnnouncedTooBig is a frame that announced a message over the maximum.
type wsAnnouncedTooBig struct{ announced, max uint64 }

func (e *wsAnnouncedTooBig) Error() string {
	return fmt.Sprintf("urlsession: the server announced a WebSocket message of at least %d bytes, over the maximum message size of %d", e.announced, e.max)
}

func (g *wsGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.ReadWriteCloser.Read(p)
	if bad := g.scan(p[:n]); bad >= 0 {
		return bad, nil // g.err comes with the next Read
	}
	return n, err
}

// scan follows the frames in b; it returns the offset of the first byte
// of an offending header in b (0 when the header began in an earlier
// read), having set g.err, or -1.
func (g *wsGuard) scan(b []byte) int {
	for i := 0; i < len(b); {
		if g.skip > 0 {
			step := uint64(len(b) - i)
			if step > g.skip {
				step = g.skip
			}
			g.skip -= step
			chunk := b[i : i+int(step)]
			if g.capturing {
				g.capture(chunk, g.skip == 0)
				if !g.capturing && len(g.close) > 2 && !utf8.Valid(g.close[2:]) {
					g.err = errCloseReasonNotUTF8
					return i
				}
			} else if g.checking {
				if !g.utf8.write(chunk) || g.skip == 0 && g.fin && !g.utf8.done() {
					g.err = errTextNotUTF8
					return i
				}
				if g.skip == 0 && g.fin {
					g.text, g.checking = false, false // the message is complete
				}
			}
			i += int(step)
			continue
		}
		start := i - g.nhead
		for g.nhead < headerLen(g.head[:g.nhead]) && i < len(b) {
			g.head[g.nhead] = b[i]
			g.nhead++
			i++
		}
		if g.nhead < headerLen(g.head[:g.nhead]) {
			return -1 // the rest of the header comes with the next read
		}
		if err := g.check(); err != nil {
			g.err = err
			return max(start, 0)
		}
	}
	return -1
}

// headerLen is the length of the frame header that begins with h: 2 until
// its second byte is known.
func headerLen(h []byte) int {
	if len(h) < 2 {
		return 2
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// check judges the complete header in g.head and prepares for its payload.
func (g *wsGuard) check() error {
	h := g.head[:g.nhead]
	g.nhead = 0
	if h[1]&0x80 != 0 {
		return errServerFrameMasked
	}
	length := uint64(h[1] & 0x7f)
	switch length {
	case 126:
		length = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		length = binary.BigEndian.Uint64(h[2:10])
	}
	g.skip = length
	opcode := h[0] & 0x0f
	g.checking = false
	if opcode == 0x8 && length <= 125 && !g.capturing && g.close == nil {
		g.capturing = true
		g.close = make([]byte, 0, length)
		g.capture(nil, length == 0)
	}
	if opcode <= 0x2 && h[0]&0x30 == 0 {
		// A data frame; a control frame in the middle of a message leaves
		// its state alone.
		if opcode != 0 {
			g.text = opcode == 0x1 && h[0]&0x40 == 0
			g.utf8 = utf8Check{}
		}
		g.fin = h[0]&0x80 != 0
		g.checking = g.text
		if g.text && length == 0 && g.fin {
			if !g.utf8.done() {
				return errTextNotUTF8
			}
			g.text, g.checking = false, false
		}
	}
	if opcode > 0x2 || h[0]&0x30 != 0 {
		return nil // a control frame, a reserved opcode or bit: the library's
	}
	if opcode != 0 {
		g.message = 0 // a new message
		// RFC 7692: only a message's first frame carries RSV1.
		g.deflated = h[0]&0x40 != 0
	}
	if g.message += length; g.message < length {
		g.message = ^uint64(0)
	}
	limit := uint64(g.max.Load())
	if g.deflated {
		// Compressed: deflate's stored blocks may make the payload a
		// little larger than the message.
		limit += limit/8 + 1024
	}
	if g.message > limit {
		return &wsAnnouncedTooBig{announced: g.message, max: uint64(g.max.Load())}
	}
	return nil
}

// utf8Check checks that a byte stream given in pieces is UTF-8, failing at
// the first byte that cannot begin or continue a valid sequence.
type utf8Check struct {
	pend [utf8.UTFMax]byte // an incomplete sequence at the end of the last piece
	n    int
}

// write checks the next piece; it reports false once the stream cannot be
// UTF-8 whatever follows.
func (v *utf8Check) write(b []byte) bool {
	for v.n > 0 && len(b) > 0 {
		v.pend[v.n] = b[0]
		v.n++
		b = b[1:]
		if utf8.FullRune(v.pend[:v.n]) { // complete, or known to be invalid
			if r, size := utf8.DecodeRune(v.pend[:v.n]); r == utf8.RuneError && size <= 1 {
				return false
			}
			v.n = 0
		}
	}
	if v.n > 0 {
		return true // b went into the pending sequence
	}
	// Keep an incomplete sequence at the end for the next piece.
	// utf8.FullRune reports an invalid prefix as full, so only a prefix
	// that may still become valid is kept.
	tail := len(b)
	for k := len(b) - 1; k >= 0 && k >= len(b)-(utf8.UTFMax-1); k-- {
		if !utf8.RuneStart(b[k]) {
			continue
		}
		if !utf8.FullRune(b[k:]) {
			tail = k
		}
		break
	}
	if !utf8.Valid(b[:tail]) {
		return false
	}
	v.n = copy(v.pend[:], b[tail:])
	return true
}

// done reports whether the stream checked so far ends at a sequence's end.
func (v *utf8Check) done() bool { return v.n == 0 }
