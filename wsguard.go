package urlsession

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
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
type wsGuard struct {
	io.ReadWriteCloser
	max *atomic.Int64 // the maximum message size

	head     [14]byte // the header being read
	nhead    int
	skip     uint64 // payload bytes left of the current frame
	message  uint64 // announced bytes of the data message in progress
	deflated bool   // that message is compressed
	err      error  // the violation, returned from the next Read on

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
			g.capture(b[i:i+int(step)], g.skip == 0)
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
	if opcode == 0x8 && length <= 125 && !g.capturing && g.close == nil {
		g.capturing = true
		g.close = make([]byte, 0, length)
		g.capture(nil, length == 0)
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
