package urlsession

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The behaviours the Autobahn testsuite's fuzzing server checks of a
// WebSocket client, case by case (sections 1 to 7, 9 and 10): a loopback
// server sends each case's frames after a real handshake, the client
// echoes every message it receives through Receive and Send, and the
// server records what the client sent back: the echoed messages, the
// pongs, and its close frame.

// abWire is what the case's server writes: frames, each written whole, or
// split into pieces written one after another.
type abWire struct {
	chunks [][]byte
	// echoes, when above 0, makes the server wait for that many echoed
	// messages before it writes chunks.
	echoes int
}

// abCase is one case.
type abCase struct {
	id    string
	wire  []abWire
	echo  []WebSocketMessage // the messages the client must echo, in order
	pongs []string           // the pongs it must send, in order
	// closes: the script sends a close frame itself; otherwise the server
	// closes with 1000 once the echoes and pongs came, unless fail is set.
	closes bool
	// codes are the close codes the client may send; -1 is a close frame
	// without a code. None means 1000, the echo of the server's close.
	codes []int
	fail  Code      // the task's error code; 0 for a clean end
	want  CloseCode // the task's CloseCode; 0 means the client's close code
	max   int       // the maximum message size, if not the default
	// ext is the server's Sec-WebSocket-Extensions answer, such as a
	// permessage-deflate one (RFC 7692); "" for none.
	ext string
}

// abFrame returns a server frame (unmasked, RFC 6455 5.2) of any length;
// rsv holds the RSV1-3 bits as a 3-bit number, RSV1 the highest.
func abFrame(fin bool, rsv, opcode byte, payload []byte) []byte {
	b0 := rsv<<4 | opcode
	if fin {
		b0 |= 0x80
	}
	h := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		h = append(h, byte(n))
	case n <= 0xffff:
		h = append(h, 126)
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h = append(h, 127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	return append(h, payload...)
}

// Frame shorthands for the table.
func abText(s string) []byte    { return abFrame(true, 0, 0x1, []byte(s)) }
func abBinary(b []byte) []byte  { return abFrame(true, 0, 0x2, b) }
func abPing(s string) []byte    { return abFrame(true, 0, 0x9, []byte(s)) }
func abPong(s string) []byte    { return abFrame(true, 0, 0xa, []byte(s)) }
func abClose(b []byte) []byte   { return abFrame(true, 0, 0x8, b) }
func abCode(code int) []byte    { return abClose(closePayload(code, "")) }
func abFirst(s string) []byte   { return abFrame(false, 0, 0x1, []byte(s)) }
func abCont(s string) []byte    { return abFrame(false, 0, 0x0, []byte(s)) }
func abLast(s string) []byte    { return abFrame(true, 0, 0x0, []byte(s)) }
func abSend(f ...[]byte) abWire { return abWire{chunks: f} }
func abCont2(b []byte) []byte   { return abFrame(false, 0, 0x0, b) }

// abSplit is frames written in pieces of n bytes.
func abSplit(n int, f ...[]byte) abWire {
	b := bytes.Join(f, nil)
	var w abWire
	for len(b) > 0 {
		k := min(n, len(b))
		w.chunks = append(w.chunks, b[:k])
		b = b[k:]
	}
	return w
}

// abAfter is frames written once n messages were echoed.
func abAfter(n int, f ...[]byte) abWire { return abWire{chunks: f, echoes: n} }

// abFragments is a text message sent one byte per frame (RFC 6455 5.4).
func abFragments(s string) []byte {
	if len(s) == 0 {
		return abText("")
	}
	var out []byte
	for i := range len(s) {
		op := byte(0x0)
		if i == 0 {
			op = 0x1
		}
		out = append(out, abFrame(i == len(s)-1, 0, op, []byte{s[i]})...)
	}
	return out
}

func txt(s string) WebSocketMessage { return TextMessage(s) }

// abResult is what the server saw of the client.
type abResult struct {
	echo     []WebSocketMessage
	pongs    []string
	close    []byte // the client's close frame's payload
	closed   bool   // the client sent a close frame
	extra    int    // frames after the client's close frame
	timedOut bool
	err      string // a malformed client frame
}

// abEvent is one frame, or message, from the client.
type abEvent struct {
	op   byte // 0x1, 0x2: a message; 0x8, 0xa; 0 the end
	data []byte
	err  error
}

// abReadClient reads the client's frames, masked as RFC 6455 5.3 requires,
// and sends the messages, pongs and close frames to events.
func abReadClient(br *bufio.Reader, events chan<- abEvent) {
	defer close(events)
	var msg []byte
	var msgOp byte
	var deflated bool
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			events <- abEvent{err: err}
			return
		}
		if h[1]&0x80 == 0 {
			events <- abEvent{err: fmt.Errorf("an unmasked client frame % x", h)}
			return
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				events <- abEvent{err: err}
				return
			}
			n = uint64(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				events <- abEvent{err: err}
				return
			}
			n = binary.BigEndian.Uint64(l[:])
		}
		var key [4]byte
		if _, err := io.ReadFull(br, key[:]); err != nil || n > 64<<20 {
			events <- abEvent{err: fmt.Errorf("a client frame of %d bytes: %v", n, err)}
			return
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			events <- abEvent{err: err}
			return
		}
		for i := range p {
			p[i] ^= key[i%4]
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0f
		switch op {
		case 0x1, 0x2:
			msg, msgOp, deflated = p, op, h[0]&0x40 != 0
		case 0x0:
			msg = append(msg, p...)
		default:
			events <- abEvent{op: op, data: p}
			continue
		}
		if fin {
			if deflated {
				var err error
				if msg, err = abInflate(msg); err != nil {
					events <- abEvent{err: err}
					return
				}
			}
			events <- abEvent{op: msgOp, data: msg}
			msg = nil
		}
	}
}

// abInflate decompresses a permessage-deflate message (RFC 7692 7.2.2):
// the payload, the empty stored block its sender removed, and a final
// empty block to end the stream.
func abInflate(p []byte) ([]byte, error) {
	p = append(p, 0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff)
	return io.ReadAll(flate.NewReader(bytes.NewReader(p)))
}

// abDeflater compresses messages as a permessage-deflate server does
// (RFC 7692 7.2.1): one DEFLATE stream for all messages (context
// takeover) or one per message.
type abDeflater struct {
	takeover bool
	buf      bytes.Buffer
	w        *flate.Writer
}

// message returns m compressed, without the empty block's 4 bytes.
func (d *abDeflater) message(m []byte) []byte {
	if d.w == nil || !d.takeover {
		d.buf.Reset()
		d.w, _ = flate.NewWriter(&d.buf, flate.BestSpeed)
	}
	start := d.buf.Len()
	d.w.Write(m)
	d.w.Flush()
	out := bytes.Clone(d.buf.Bytes()[start:])
	return out[:len(out)-4]
}

// abWSServer is rawWSServer with ext in the handshake's answer.
func abWSServer(t testing.TB, ext string, script func(c net.Conn, br *bufio.Reader)) string {
	if ext == "" {
		return rawWSServer(t, "", script)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: %s\r\n\r\n",
			base64.StdEncoding.EncodeToString(h[:]), ext)
		script(c, br)
	}()
	return "ws://" + ln.Addr().String() + "/"
}

// abServe runs tc on the server's side of c.
func abServe(tc abCase, c net.Conn, br *bufio.Reader) abResult {
	var res abResult
	// A failure guard, not a synchronisation: a case that goes wrong ends
	// here rather than hanging.
	c.SetDeadline(time.Now().Add(5 * time.Second))
	events := make(chan abEvent, 16)
	go abReadClient(br, events)
	ended := false
	next := func() bool {
		e, ok := <-events
		if !ok || e.op == 0 {
			if ne, isNet := e.err.(net.Error); isNet && ne.Timeout() {
				res.timedOut = true
			} else if e.err != nil && e.err != io.EOF && !strings.Contains(e.err.Error(), "reset") {
				res.err = e.err.Error()
			}
			ended = true
			return false
		}
		switch {
		case res.closed:
			res.extra++
		case e.op == 0xa:
			res.pongs = append(res.pongs, string(e.data))
		case e.op == 0x8:
			res.closed, res.close = true, e.data
		default:
			typ := WebSocketText
			if e.op == 0x2 {
				typ = WebSocketBinary
			}
			res.echo = append(res.echo, WebSocketMessage{Type: typ, Data: e.data})
		}
		return true
	}
	until := func(cond func() bool) {
		for !ended && !res.closed && !cond() {
			next()
		}
	}
	for _, w := range tc.wire {
		until(func() bool { return len(res.echo) >= w.echoes })
		for _, ch := range w.chunks {
			c.Write(ch)
		}
	}
	if !tc.closes && tc.fail == 0 {
		until(func() bool { return len(res.echo) >= len(tc.echo) && len(res.pongs) >= len(tc.pongs) })
		c.Write(abCode(1000))
	}
	until(func() bool { return false })
	if res.closed && !tc.closes && tc.fail != 0 {
		c.Write(abClose(res.close)) // RFC 6455 5.5.1: the answer to the client's close
	}
	if !ended {
		// RFC 6455 7.1.1: the server closes the TCP connection first; a
		// frame that was under way still comes.
		if tcp, ok := c.(*net.TCPConn); ok {
			tcp.CloseWrite()
		}
		for next() {
		}
	}
	return res
}

func abCases() []abCase {
	var cases []abCase
	add := func(tc abCase) { cases = append(cases, tc) }
	bytesOf := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

	// 1: text and binary messages of the sizes around each payload length
	// encoding (RFC 6455 5.2), written whole and in pieces.
	for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		s := strings.Repeat("*", n)
		add(abCase{id: fmt.Sprintf("1.1.%d", i+1), wire: []abWire{abSend(abText(s))}, echo: []WebSocketMessage{txt(s)}})
		b := bytesOf(n, 0xfe)
		add(abCase{id: fmt.Sprintf("1.2.%d", i+1), wire: []abWire{abSend(abBinary(b))}, echo: []WebSocketMessage{BinaryMessage(b)}})
	}
	s64k := strings.Repeat("*", 65536)
	add(abCase{id: "1.1.8", wire: []abWire{abSplit(997, abText(s64k))}, echo: []WebSocketMessage{txt(s64k)}})
	add(abCase{id: "1.2.8", wire: []abWire{abSplit(997, abBinary(bytesOf(65536, 0xfe)))}, echo: []WebSocketMessage{BinaryMessage(bytesOf(65536, 0xfe))}})

	// 2: pings are answered with their payload (RFC 6455 5.5.2, 5.5.3);
	// a control frame over 125 bytes fails the connection (5.5); a pong
	// nobody asked for is ignored.
	bin := string([]byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff})
	p125 := string(bytesOf(125, 0xfe))
	add(abCase{id: "2.1", wire: []abWire{abSend(abPing(""))}, pongs: []string{""}})
	add(abCase{id: "2.2", wire: []abWire{abSend(abPing("Hello, world!"))}, pongs: []string{"Hello, world!"}})
	add(abCase{id: "2.3", wire: []abWire{abSend(abPing(bin))}, pongs: []string{bin}})
	add(abCase{id: "2.4", wire: []abWire{abSend(abPing(p125))}, pongs: []string{p125}})
	add(abCase{id: "2.5", wire: []abWire{abSend(abFrame(true, 0, 0x9, bytesOf(126, 0xfe)))}, codes: []int{1002}, fail: ErrBadServerResponse})
	add(abCase{id: "2.6", wire: []abWire{abSplit(1, abPing(p125))}, pongs: []string{p125}})
	add(abCase{id: "2.7", wire: []abWire{abSend(abPong(""))}})
	add(abCase{id: "2.8", wire: []abWire{abSend(abPong("unsolicited pong payload"))}})
	add(abCase{id: "2.9", wire: []abWire{abSend(abPong("unsolicited pong payload"), abPing("ping payload"))}, pongs: []string{"ping payload"}})
	var pings [][]byte
	var pongs []string
	for i := range 10 {
		pings = append(pings, abPing(fmt.Sprintf("payload-%d", i)))
		pongs = append(pongs, fmt.Sprintf("payload-%d", i))
	}
	add(abCase{id: "2.10", wire: []abWire{abSend(pings...)}, pongs: pongs})
	add(abCase{id: "2.11", wire: []abWire{abSplit(1, pings...)}, pongs: pongs})

	// 3: a reserved bit with no extension to give it a meaning fails the
	// connection (RFC 6455 5.2), even after a message that went well and
	// before a ping that then goes unanswered.
	add(abCase{id: "3.1", wire: []abWire{abSend(abFrame(true, 1, 0x1, []byte("Hello, world!")))}, codes: []int{1002}, fail: ErrBadServerResponse})
	for i, rsv := range []byte{2, 3, 4} {
		add(abCase{id: fmt.Sprintf("3.%d", i+2), wire: []abWire{abSend(abText("Hello, world!")),
			abAfter(1, abFrame(true, rsv, 0x1, []byte("Hello, world!")), abPing(""))},
			echo: []WebSocketMessage{txt("Hello, world!")}, codes: []int{1002}, fail: ErrBadServerResponse})
	}
	add(abCase{id: "3.5", wire: []abWire{abSend(abFrame(true, 5, 0x2, bytesOf(8, 0xfe)))}, codes: []int{1002}, fail: ErrBadServerResponse})
	add(abCase{id: "3.6", wire: []abWire{abSend(abFrame(true, 6, 0x9, []byte("ping")))}, codes: []int{1002}, fail: ErrBadServerResponse})
	add(abCase{id: "3.7", wire: []abWire{abSend(abFrame(true, 7, 0x8, closePayload(1000, "")))}, codes: []int{1002}, fail: ErrBadServerResponse})

	// 4: reserved opcodes, data (3-7) and control (0xb-0xf), fail the
	// connection (RFC 6455 5.2).
	for sec, ops := range map[int][]byte{1: {3, 4, 5, 6, 7}, 2: {0xb, 0xc, 0xd, 0xe, 0xf}} {
		for i, op := range ops {
			id := fmt.Sprintf("4.%d.%d", sec, i+1)
			switch i {
			case 0:
				add(abCase{id: id, wire: []abWire{abSend(abFrame(true, 0, op, nil))}, codes: []int{1002}, fail: ErrBadServerResponse})
			case 1:
				add(abCase{id: id, wire: []abWire{abSend(abFrame(true, 0, op, []byte("reserved opcode payload")))}, codes: []int{1002}, fail: ErrBadServerResponse})
			default:
				add(abCase{id: id, wire: []abWire{abSend(abText("Hello, world!")),
					abAfter(1, abFrame(true, 0, op, []byte("reserved opcode payload")), abPing(""))},
					echo: []WebSocketMessage{txt("Hello, world!")}, codes: []int{1002}, fail: ErrBadServerResponse})
			}
		}
	}

	// 5: fragmentation (RFC 6455 5.4): control frames cannot be
	// fragmented, may come between a message's fragments, and a
	// continuation needs a message to continue, which a new message cannot
	// interrupt.
	fail1002 := func(id string, w ...abWire) abCase {
		return abCase{id: id, wire: w, codes: []int{1002}, fail: ErrBadServerResponse}
	}
	add(fail1002("5.1", abSend(abFrame(false, 0, 0x9, []byte("fragment1")), abLast("fragment2"))))
	add(fail1002("5.2", abSend(abFrame(false, 0, 0xa, []byte("fragment1")), abLast("fragment2"))))
	two := []WebSocketMessage{txt("fragment1fragment2")}
	add(abCase{id: "5.3", wire: []abWire{abSend(abFirst("fragment1"), abLast("fragment2"))}, echo: two})
	add(abCase{id: "5.4", wire: []abWire{abSend(abFirst("fragment1")), abSend(abLast("fragment2"))}, echo: two})
	add(abCase{id: "5.5", wire: []abWire{abSplit(1, abFirst("fragment1"), abLast("fragment2"))}, echo: two})
	add(abCase{id: "5.6", wire: []abWire{abSend(abFirst("fragment1"), abPing("ping payload"), abLast("fragment2"))}, echo: two, pongs: []string{"ping payload"}})
	add(abCase{id: "5.8", wire: []abWire{abSplit(1, abFirst("fragment1"), abPing("ping payload"), abLast("fragment2"))}, echo: two, pongs: []string{"ping payload"}})
	add(fail1002("5.9", abSend(abLast("non-continuation payload"), abText("Hello, world!"))))
	add(fail1002("5.11", abSplit(1, abLast("non-continuation payload"), abText("Hello, world!"))))
	add(fail1002("5.12", abSend(abCont("non-continuation payload"), abText("Hello, world!"))))
	add(fail1002("5.14", abSplit(1, abCont("non-continuation payload"), abText("Hello, world!"))))
	add(abCase{id: "5.15", wire: []abWire{abSend(abFirst("fragment1"), abLast("fragment2")),
		abAfter(1, abCont("fragment3"), abText("fragment4"))}, echo: two, codes: []int{1002}, fail: ErrBadServerResponse})
	add(fail1002("5.16", abSend(abCont("fragment1"), abText("fragment2"), abLast("fragment3"))))
	add(fail1002("5.17", abSend(abLast("fragment1"), abText("fragment2"), abLast("fragment3"))))
	add(fail1002("5.18", abSend(abFirst("fragment1"), abText("fragment2"))))
	five := []WebSocketMessage{txt("fragment1fragment2fragment3fragment4fragment5")}
	add(abCase{id: "5.19", wire: []abWire{abSend(abFirst("fragment1"), abCont("fragment2"), abPing("pongme 1!")),
		abSend(abCont("fragment3"), abCont("fragment4"), abPing("pongme 2!"), abLast("fragment5"))},
		echo: five, pongs: []string{"pongme 1!", "pongme 2!"}})
	add(abCase{id: "5.20", wire: []abWire{abSplit(1, abFirst("fragment1"), abCont("fragment2"), abPing("pongme 1!"),
		abCont("fragment3"), abCont("fragment4"), abPing("pongme 2!"), abLast("fragment5"))},
		echo: five, pongs: []string{"pongme 1!", "pongme 2!"}})

	// 6: text must be UTF-8 (RFC 6455 5.6, 8.1); a message that is not
	// fails the connection with 1007 (7.4.1), as soon as bytes arrive
	// that no continuation can make UTF-8.
	add(abCase{id: "6.1.1", wire: []abWire{abSend(abText(""))}, echo: []WebSocketMessage{txt("")}})
	add(abCase{id: "6.1.2", wire: []abWire{abSend(abFirst(""), abCont(""), abLast(""))}, echo: []WebSocketMessage{txt("")}})
	add(abCase{id: "6.1.3", wire: []abWire{abSend(abFirst(""), abCont("middle frame payload"), abLast(""))}, echo: []WebSocketMessage{txt("middle frame payload")}})
	hello := "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!"
	add(abCase{id: "6.2.1", wire: []abWire{abSend(abText(hello))}, echo: []WebSocketMessage{txt(hello)}})
	add(abCase{id: "6.2.2", wire: []abWire{abSend(abFirst(hello[:12]), abLast(hello[12:]))}, echo: []WebSocketMessage{txt(hello)}})
	add(abCase{id: "6.2.3", wire: []abWire{abSplit(1, abText(hello))}, echo: []WebSocketMessage{txt(hello)}})
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	add(abCase{id: "6.2.4", wire: []abWire{abSend(abFragments(kosme))}, echo: []WebSocketMessage{txt(kosme)}})
	bad := kosme + "\xed\xa0\x80" + "edited"
	fail1007 := func(id string, w ...abWire) abCase {
		return abCase{id: id, wire: w, codes: []int{1007}, fail: ErrBadServerResponse}
	}
	add(fail1007("6.3.1", abSend(abText(bad))))
	add(fail1007("6.3.2", abSplit(1, abText(bad))))
	// 6.4: fail fast. The rest of the message never comes: a client that
	// waited for it would not fail (the case would time out).
	add(fail1007("6.4.1", abSend(abFirst(kosme)), abSend(abCont("\xf4\x90\x80\x80"))))
	add(fail1007("6.4.2", abSend(abFirst(kosme+"\xf4")), abSend(abCont("\x90"))))
	whole := abFrame(true, 0, 0x1, []byte(kosme+"\xf4\x90\x80\x80"+"edited"))
	cut := len(whole) - len("\x90\x80\x80edited")
	add(fail1007("6.4.3", abSend(whole[:cut]), abSend(whole[cut:cut+1]))) // up to the first invalid byte
	add(fail1007("6.4.4", abSend(whole[:cut-1]), abSend(whole[cut-1:cut+1])))
	// 6.5-6.23: sequences valid and not, each whole and one byte per
	// frame (a code point split across frames).
	valid := []string{"\u03ba\u1f79\u03c3\u03bc\u03b5", "\x00", "\u0080", "\u0800", "\U00010000", "\x7f", "\u07ff", "\uffff",
		"\ud7ff", "\ue000", "\ufffd", "\U0010ffff", "\ufffe", "\U0001fffe", "\U0010fffe"}
	invalid := []string{"\x80", "\xbf", "\x80\xbf", "\x80\xbf\x80", "\xc0 ", "\xe0 ", "\xf8 ", "\xfe", "\xff", "\xfe\xfe\xff\xff",
		"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf",
		"\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xa0\x80\xed\xb0\x80",
		"\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80", kosme + "\xed\xa0\x80edited"}
	for i, s := range valid {
		add(abCase{id: fmt.Sprintf("6.valid.%d", i+1), wire: []abWire{abSend(abText(s))}, echo: []WebSocketMessage{txt(s)}})
		add(abCase{id: fmt.Sprintf("6.valid.%d.frames", i+1), wire: []abWire{abSend(abFragments(s))}, echo: []WebSocketMessage{txt(s)}})
	}
	for i, s := range invalid {
		add(fail1007(fmt.Sprintf("6.invalid.%d", i+1), abSend(abText(s))))
		add(fail1007(fmt.Sprintf("6.invalid.%d.frames", i+1), abSend(abFragments(s))))
	}

	// 7: the closing handshake (RFC 6455 5.5.1, 7.1.x, 7.4). The client
	// answers the server's close with the same code and sends nothing
	// after it; a close frame whose payload cannot be a code, whose code
	// may not be sent, or whose reason is not UTF-8, fails the connection.
	add(abCase{id: "7.1.1", closes: true, wire: []abWire{abSend(abText("Hello World!")), abAfter(1, abCode(1000))}, echo: []WebSocketMessage{txt("Hello World!")}})
	add(abCase{id: "7.1.2", closes: true, wire: []abWire{abSend(abCode(1000), abCode(1000))}})
	add(abCase{id: "7.1.3", closes: true, wire: []abWire{abSend(abCode(1000), abPing("Hello World!"))}})
	add(abCase{id: "7.1.4", closes: true, wire: []abWire{abSend(abCode(1000), abText("Hello World!"))}})
	add(abCase{id: "7.1.5", closes: true, wire: []abWire{abSend(abFirst("fragment1"), abCode(1000), abLast("fragment2"))}})
	add(abCase{id: "7.3.1", closes: true, wire: []abWire{abSend(abClose(nil))}, codes: []int{-1}, want: CloseNoStatusReceived})
	add(abCase{id: "7.3.2", closes: true, wire: []abWire{abSend(abClose([]byte("a")))}, codes: []int{1002}, fail: ErrBadServerResponse})
	add(abCase{id: "7.3.3", closes: true, wire: []abWire{abSend(abCode(1000))}})
	add(abCase{id: "7.3.4", closes: true, wire: []abWire{abSend(abClose(closePayload(1000, "Hello World!")))}})
	add(abCase{id: "7.3.5", closes: true, wire: []abWire{abSend(abClose(closePayload(1000, strings.Repeat("*", 123))))}})
	add(abCase{id: "7.3.6", closes: true, wire: []abWire{abSend(abClose(closePayload(1000, strings.Repeat("*", 124))))}, codes: []int{1002}, fail: ErrBadServerResponse})
	add(abCase{id: "7.5.1", closes: true, wire: []abWire{abSend(abClose(closePayload(1000, bad)))}, codes: []int{1002, 1007}, fail: ErrBadServerResponse})
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		add(abCase{id: fmt.Sprintf("7.7.%d", i+1), closes: true, wire: []abWire{abSend(abCode(code))}, codes: []int{code}, want: CloseCode(code)})
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		add(abCase{id: fmt.Sprintf("7.9.%d", i+1), closes: true, wire: []abWire{abSend(abCode(code))}, codes: []int{1002}, fail: ErrBadServerResponse})
	}
	add(abCase{id: "7.13.1", closes: true, wire: []abWire{abSend(abCode(5000))}, codes: []int{1002}, fail: ErrBadServerResponse})
	add(abCase{id: "7.13.2", closes: true, wire: []abWire{abSend(abCode(65535))}, codes: []int{1002}, fail: ErrBadServerResponse})

	// 9, smaller: large messages, whole and in fragments, up to the
	// maximum message size; one over it fails with 1009.
	mib := strings.Repeat("*", 1<<20)
	add(abCase{id: "9.1.1", wire: []abWire{abSend(abText(mib[:64<<10]))}, echo: []WebSocketMessage{txt(mib[:64<<10])}})
	add(abCase{id: "9.1.3", wire: []abWire{abSend(abText(mib))}, echo: []WebSocketMessage{txt(mib)}})
	add(abCase{id: "9.2.2", wire: []abWire{abSend(abBinary(bytesOf(256<<10, 0xfe)))}, echo: []WebSocketMessage{BinaryMessage(bytesOf(256<<10, 0xfe))}})
	var frags [][]byte
	for i := 0; i < len(mib); i += 64 << 10 {
		op := byte(0x0)
		if i == 0 {
			op = 0x1
		}
		frags = append(frags, abFrame(i+64<<10 >= len(mib), 0, op, []byte(mib[i:i+64<<10])))
	}
	add(abCase{id: "9.3.x", wire: []abWire{abSend(frags...)}, echo: []WebSocketMessage{txt(mib)}})
	add(abCase{id: "9.1.4 over the maximum", wire: []abWire{abSend(abText(mib + "*"))}, codes: []int{1009}, fail: ErrDataLengthExceedsMaximum})
	add(abCase{id: "9.1.4 raised maximum", max: 2<<20 + 1, wire: []abWire{abSend(abText(mib + mib + "*"))}, echo: []WebSocketMessage{txt(mib + mib + "*")}})

	// 12 and 13, smaller: permessage-deflate (RFC 7692) messages of
	// several sizes, whole and fragmented (only the first frame has RSV1,
	// 6.1), for answers a server may give the client's offer of
	// client_no_context_takeover and server_no_context_takeover (7.1.1,
	// 7.1.2.1: a smaller server window needs nothing of the client).
	for i, ext := range []string{
		"permessage-deflate; server_no_context_takeover",
		"permessage-deflate; client_no_context_takeover; server_no_context_takeover",
		"permessage-deflate; server_no_context_takeover; server_max_window_bits=15",
		"permessage-deflate;server_no_context_takeover;client_no_context_takeover;server_max_window_bits=9",
		`permessage-deflate; server_no_context_takeover; server_max_window_bits="10"`,
	} {
		for j, size := range []int{16, 64, 256, 1024, 4096, 65536, 131072} {
			d := &abDeflater{}
			var wire []abWire
			var echo []WebSocketMessage
			for k := range 5 {
				m := []byte(strings.Repeat(fmt.Sprintf("message %d of %d bytes; ", k, size), size/20+1)[:size])
				op, mm := byte(0x1), txt(string(m))
				if (j+k)%2 == 1 {
					m[0] = 0xfe
					op, mm = 0x2, BinaryMessage(m)
				}
				z := d.message(m)
				if k == 4 && len(z) > 3 { // fragmented: RSV1 on the first frame only
					third := len(z) / 3
					wire = append(wire, abSend(abFrame(false, 4, op, z[:third]), abCont2(z[third:2*third]), abFrame(true, 0, 0, z[2*third:])))
				} else {
					wire = append(wire, abSend(abFrame(true, 4, op, z)))
				}
				echo = append(echo, mm)
			}
			add(abCase{id: fmt.Sprintf("13.%d.%d", i+1, j+1), ext: ext, wire: wire, echo: echo})
		}
	}

	// Compressed text is checked for UTF-8 as it is decompressed: a
	// message whose first fragment cannot be UTF-8 fails at once.
	pmd := "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
	var part bytes.Buffer
	zw, _ := flate.NewWriter(&part, flate.BestSpeed)
	zw.Write([]byte(kosme + "\xf4\x90\x80\x80"))
	zw.Flush() // the first fragment: the stream so far, its empty block included
	add(abCase{id: "6.4.1 compressed", ext: pmd, wire: []abWire{abSend(abFrame(false, 4, 0x1, part.Bytes()))}, codes: []int{1007}, fail: ErrBadServerResponse})
	d := &abDeflater{}
	add(abCase{id: "6.3.1 compressed", ext: pmd, wire: []abWire{abSend(abFrame(true, 4, 0x1, d.message([]byte(bad))))}, codes: []int{1007}, fail: ErrBadServerResponse})
	add(abCase{id: "6.invalid cut compressed", ext: pmd, wire: []abWire{abSend(abFrame(true, 4, 0x1, d.message([]byte(kosme+"\xe1\xbd"))))}, codes: []int{1007}, fail: ErrBadServerResponse})

	// 10.1.1: a message of 65536 bytes in fragments of 1300.
	var f1300 [][]byte
	for i := 0; i < len(s64k); i += 1300 {
		end := min(i+1300, len(s64k))
		op := byte(0x0)
		if i == 0 {
			op = 0x1
		}
		f1300 = append(f1300, abFrame(end == len(s64k), 0, op, []byte(s64k[i:end])))
	}
	add(abCase{id: "10.1.1", wire: []abWire{abSend(f1300...)}, echo: []WebSocketMessage{txt(s64k)}})
	return cases
}

// TestWebSocketAutobahnCases runs the cases against a task whose program
// echoes every message it receives, as the Autobahn testsuite's client
// runs do.
func TestWebSocketAutobahnCases(t *testing.T) {
	for _, tc := range abCases() {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			results := make(chan abResult, 1)
			raw := abWSServer(t, tc.ext, func(c net.Conn, br *bufio.Reader) {
				results <- abServe(tc, c, br)
			})
			rec := newWSRecorder()
			s := newSession(t, wsConfig(), rec)
			u, _ := url.Parse(raw)
			task := s.WebSocketTask(u, nil)
			if tc.max > 0 {
				task.SetMaximumMessageSize(tc.max)
			}
			task.Resume()
			guard := time.AfterFunc(10*time.Second, task.Cancel) // a failure guard
			defer guard.Stop()
			for {
				m, err := task.Receive(context.Background())
				if err != nil {
					break
				}
				if task.Send(context.Background(), m) != nil {
					break
				}
			}
			err := rec.wait(t)
			var res abResult
			select {
			case res = <-results:
			case <-time.After(10 * time.Second):
				t.Fatal("the server did not finish")
			}
			if res.timedOut || res.err != "" {
				t.Errorf("the server timed out (%v) or read a bad frame: %s", res.timedOut, res.err)
			}
			if !slices.EqualFunc(res.echo, tc.echo, func(a, b WebSocketMessage) bool { return a.Type == b.Type && bytes.Equal(a.Data, b.Data) }) {
				t.Errorf("echoed %d messages %.60q, want %d %.60q", len(res.echo), res.echo, len(tc.echo), tc.echo)
			}
			if !slices.Equal(res.pongs, tc.pongs) {
				t.Errorf("pongs %q, want %q", res.pongs, tc.pongs)
			}
			codes := tc.codes
			if codes == nil {
				codes = []int{1000}
			}
			code := -2 // no close frame
			switch {
			case res.closed && len(res.close) == 0:
				code = -1
			case res.closed && len(res.close) >= 2:
				code = int(binary.BigEndian.Uint16(res.close))
			}
			if !slices.Contains(codes, code) {
				t.Errorf("the client's close code %d (payload %q), want one of %v", code, res.close, codes)
			}
			if res.extra > 0 {
				t.Errorf("%d frames after the client's close frame", res.extra)
			}
			if CodeOf(err) != tc.fail {
				t.Errorf("completed with %v, want code %d", err, tc.fail)
			}
			want := tc.want
			if want == 0 && code > 0 {
				want = CloseCode(code)
			}
			if task.CloseCode() != want {
				t.Errorf("CloseCode %v, want %v", task.CloseCode(), want)
			}
		})
	}
}

// TestWebSocketDeflateAnswers: a server that accepts the permessage-deflate
// offer without the server_no_context_takeover it asks for (RFC 7692
// 7.1.1.1), or with a parameter the offer did not allow (section 5, such
// as client_max_window_bits, 7.1.2.2), fails the handshake rather than a
// later message.
func TestWebSocketDeflateAnswers(t *testing.T) {
	for _, ext := range []string{
		"permessage-deflate",
		"permessage-deflate; client_no_context_takeover",
		"permessage-deflate; server_max_window_bits=15",
		"permessage-deflate; server_no_context_takeover; client_max_window_bits=8",
		"x-webkit-deflate-frame",
		"permessage-deflate; server_no_context_takeover, permessage-deflate; server_no_context_takeover",
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
		"permessage-deflate; server_no_context_takeover; server_max_window_bits=16",
		"permessage-deflate; server_no_context_takeover; server_max_window_bits=7",
		"permessage-deflate; server_no_context_takeover; server_max_window_bits",
		"permessage-deflate; server_no_context_takeover=1",
		"permessage-deflate; server_no_context_takeover; mystery",
		"permessage-deflate; Server_No_Context_Takeover",
	} {
		t.Run(ext, func(t *testing.T) {
			t.Parallel()
			raw := abWSServer(t, ext, func(c net.Conn, br *bufio.Reader) {
				d := &abDeflater{takeover: true}
				c.Write(abFrame(true, 4, 0x1, d.message([]byte("hello hello"))))
				c.Write(abFrame(true, 4, 0x1, d.message([]byte("hello hello"))))
				br.ReadByte()
			})
			task, rerr, err := wsFirstReceive(t, raw)
			if CodeOf(err) != ErrBadServerResponse || CodeOf(rerr) != ErrBadServerResponse {
				t.Errorf("completed with %v, Receive %v; want ErrBadServerResponse", err, rerr)
			}
			if task.CloseCode() != CloseInvalid {
				t.Errorf("CloseCode %v, want invalid (no connection)", task.CloseCode())
			}
		})
	}
}

// TestWebSocketWrongUpgradeAnswer: a 101 answer the client must refuse
// (RFC 6455 4.1) fails the handshake at once and closes the connection,
// though the server keeps it open.
func TestWebSocketWrongUpgradeAnswer(t *testing.T) {
	for _, tc := range []struct{ name, head string }{
		{"wrong accept", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n"},
		{"no Upgrade", "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"},
		{"Connection without upgrade", "Upgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: %s\r\n"},
		{"a subprotocol not offered", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: mqtt\r\n"},
		{"an extension not offered", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: x-mystery\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			closed := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					closed <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second)) // a failure guard
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					closed <- err
					return
				}
				h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
				head := tc.head
				if strings.Contains(head, "%s") {
					head = fmt.Sprintf(head, base64.StdEncoding.EncodeToString(h[:]))
				}
				fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\n%s\r\n", head)
				_, err = br.ReadByte() // the connection stays open until the client closes it
				closed <- err
			}()
			rec := newWSRecorder()
			s := newSession(t, wsConfig(), rec)
			task := s.WebSocketTask(&url.URL{Scheme: "ws", Host: ln.Addr().String(), Path: "/"}, []string{"chat"})
			task.Resume()
			err = rec.wait(t)
			if CodeOf(err) != ErrBadServerResponse || !strings.Contains(err.Error(), "urlsession: a wrong WebSocket handshake answer") &&
				!strings.Contains(err.Error(), "answered the WebSocket extension offer wrongly") {
				t.Errorf("completed with %v, want ErrBadServerResponse from the answer's check", err)
			}
			if err := <-closed; err != io.EOF {
				t.Errorf("the server's read ended with %v, want EOF (the client closed)", err)
			}
		})
	}
}
