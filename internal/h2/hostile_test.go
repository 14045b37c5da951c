package h2

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// malformed is a server misbehaving on the first stream (id) it is asked
// for. The request fails: RoundTrip with an error containing rtErr, or,
// if rtErr is empty, reading the body, after exactly body, with an error
// containing bodyErr. If goAway is set, the client must end the
// connection with that GOAWAY; otherwise, if reset is set, it must reset
// the stream with that code; unless ends is set, the connection must
// carry another request.
type malformed struct {
	name    string
	serve   func(sc *srvConn, id uint32)
	rtErr   string
	body    string
	bodyErr string
	goAway  *http2.ErrCode
	reset   *http2.ErrCode
	ends    bool // the connection ends without a GOAWAY
	method  string
	opts    srvOpts
}

func code(c http2.ErrCode) *http2.ErrCode { return &c }

func TestMalformedResponses(t *testing.T) {
	protocol := code(http2.ErrCodeProtocol)
	hdr := func(end bool, kv ...string) func(sc *srvConn, id uint32) {
		return func(sc *srvConn, id uint32) { sc.writeHeaders(id, end, kv...) }
	}
	cases := []malformed{
		{name: "status abc", serve: hdr(false, ":status", "abc"), rtErr: "malformed status", reset: protocol},
		{name: "status 20", serve: hdr(false, ":status", "20"), rtErr: "malformed status", reset: protocol},
		{name: "status 2000", serve: hdr(false, ":status", "2000"), rtErr: "malformed status", reset: protocol},
		{name: "status +20", serve: hdr(false, ":status", "+20"), rtErr: "malformed status", reset: protocol},
		{name: "status 099", serve: hdr(false, ":status", "099"), rtErr: "malformed status", reset: protocol},
		{name: "status missing", serve: hdr(false, "x-a", "b"), rtErr: "malformed status", reset: protocol},
		{name: "status missing, END_STREAM", serve: hdr(true, "x-a", "b"), rtErr: "malformed status"},
		{name: "status empty", serve: hdr(false, ":status", ""), rtErr: "malformed status", reset: protocol},
		{name: "request pseudo header", serve: hdr(false, ":status", "200", ":path", "/"), rtErr: "PROTOCOL_ERROR", reset: protocol},
		{name: "only a request pseudo header", serve: hdr(false, ":path", "/"), rtErr: "unexpected pseudo header", reset: protocol},
		{name: "unknown pseudo header", serve: hdr(false, ":status", "200", ":foo", "x"), rtErr: "PROTOCOL_ERROR", reset: protocol},
		{name: "duplicate status", serve: hdr(false, ":status", "200", ":status", "204"), rtErr: "PROTOCOL_ERROR", reset: protocol},
		{name: "pseudo header after regular", serve: hdr(false, "x-a", "b", ":status", "200"), rtErr: "PROTOCOL_ERROR", reset: protocol},
		{name: "uppercase name", serve: hdr(false, ":status", "200", "X-Upper", "v"), rtErr: "PROTOCOL_ERROR", reset: protocol},
		{name: "name with space", serve: hdr(false, ":status", "200", "x a", "v"), rtErr: "PROTOCOL_ERROR", reset: protocol},
		{name: "NUL in value", serve: hdr(false, ":status", "200", "x-a", "a\x00b"), rtErr: "PROTOCOL_ERROR", reset: protocol},
		{name: "differing content-lengths", serve: hdr(false, ":status", "200", "content-length", "5", "content-length", "6"), rtErr: "invalid content-length", reset: protocol},
		{name: "content-length abc", serve: hdr(false, ":status", "200", "content-length", "abc"), rtErr: "invalid content-length", reset: protocol},
		{name: "content-length -1", serve: hdr(false, ":status", "200", "content-length", "-1"), rtErr: "invalid content-length", reset: protocol},
		{name: "content-length +5", serve: hdr(false, ":status", "200", "content-length", "+5"), rtErr: "invalid content-length", reset: protocol},
		{name: "content-length huge", serve: hdr(false, ":status", "200", "content-length", "99999999999999999999"), rtErr: "invalid content-length", reset: protocol},
		{name: "more data than content-length", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "200", "content-length", "5")
			sc.sendData(id, []byte("hello world"), true)
		}, body: "", bodyErr: "body length differs from content-length", reset: protocol},
		{name: "more data than content-length, second frame", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "200", "content-length", "5")
			sc.sendData(id, []byte("hel"), false)
			sc.sendData(id, []byte("lo!!"), false)
		}, body: "hel", bodyErr: "body length differs from content-length", reset: protocol},
		{name: "less data than content-length", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "200", "content-length", "10")
			sc.sendData(id, []byte("hello"), true)
		}, body: "hello", bodyErr: "body length differs from content-length"},
		{name: "less data than content-length, trailers", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "200", "content-length", "10")
			sc.sendData(id, []byte("hello"), false)
			sc.writeHeaders(id, true, "x-t", "v")
		}, body: "hello", bodyErr: "body length differs from content-length"},
		{name: "content-length and END_STREAM on HEADERS", serve: hdr(true, ":status", "200", "content-length", "10"),
			body: "", bodyErr: "body length differs from content-length"},
		{name: "DATA before HEADERS", serve: func(sc *srvConn, id uint32) {
			sc.writeData(id, false, []byte("x"))
		}, rtErr: "DATA before HEADERS", reset: protocol},
		{name: "DATA after 1xx", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "103")
			sc.writeData(id, false, []byte("x"))
		}, rtErr: "DATA before HEADERS", reset: protocol},
		{name: "1xx with END_STREAM", serve: hdr(true, ":status", "100"), rtErr: "1xx informational response with END_STREAM"},
		{name: "trailers without END_STREAM", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "200")
			sc.sendData(id, []byte("abc"), false)
			sc.writeHeaders(id, false, "x-t", "v")
		}, body: "abc", bodyErr: "trailers without END_STREAM", reset: protocol},
		{name: "pseudo header in trailers", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "200")
			sc.sendData(id, []byte("abc"), false)
			sc.writeHeaders(id, true, ":status", "200")
		}, body: "abc", bodyErr: "pseudo header in trailers"},
		{name: "request pseudo header in trailers", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "200")
			sc.writeHeaders(id, true, ":path", "/")
		}, body: "", bodyErr: "pseudo header in trailers"},
		{name: "HEAD with body", method: "HEAD", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "200", "content-length", "5")
			sc.sendData(id, []byte("hello"), true)
		}, body: "", reset: protocol},
		{name: "PUSH_PROMISE", serve: func(sc *srvConn, id uint32) {
			block := sc.encode(":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/pushed")
			sc.writeFrame(func(fr *http2.Framer) error {
				return fr.WritePushPromise(http2.PushPromiseParam{StreamID: id, PromiseID: 2, BlockFragment: block, EndHeaders: true})
			})
		}, rtErr: "PROTOCOL_ERROR", goAway: protocol},
		{name: "PUSH_PROMISE mid-body", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "200")
			sc.sendData(id, []byte("abc"), false)
			block := sc.encode(":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/pushed")
			sc.writeFrame(func(fr *http2.Framer) error {
				return fr.WritePushPromise(http2.PushPromiseParam{StreamID: id, PromiseID: 2, BlockFragment: block, EndHeaders: true})
			})
		}, body: "abc", bodyErr: "PROTOCOL_ERROR", goAway: protocol},
		{name: "DATA on an even stream", serve: func(sc *srvConn, id uint32) {
			sc.writeData(2, false, []byte("x"))
		}, rtErr: "PROTOCOL_ERROR", goAway: protocol},
		{name: "HEADERS on an even stream", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(2, false, ":status", "200")
		}, rtErr: "PROTOCOL_ERROR", goAway: protocol},
		{name: "DATA on a stream not yet opened", serve: func(sc *srvConn, id uint32) {
			sc.writeData(id+10, false, []byte("x"))
		}, rtErr: "PROTOCOL_ERROR", goAway: protocol},
		{name: "RST_STREAM on a stream not yet opened", serve: func(sc *srvConn, id uint32) {
			sc.writeRST(id+10, http2.ErrCodeCancel)
		}, rtErr: "PROTOCOL_ERROR", goAway: protocol},
		{name: "DATA on stream 0", serve: func(sc *srvConn, id uint32) {
			sc.writeData(0, false, []byte("x"))
		}, rtErr: "PROTOCOL_ERROR", goAway: protocol},
		{name: "DATA padding longer than the frame", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "200")
			// Length 3, PADDED, a pad length of 5.
			sc.writeRaw([]byte{0, 0, 3, byte(http2.FrameData), byte(http2.FlagDataPadded), 0, 0, 0, byte(id), 5, 'a', 'b'})
		}, bodyErr: "PROTOCOL_ERROR", goAway: protocol, ends: true},
		{name: "DATA padded with no room for its pad length", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "200")
			sc.writeRaw([]byte{0, 0, 0, byte(http2.FrameData), byte(http2.FlagDataPadded), 0, 0, 0, byte(id)})
		}, bodyErr: "PROTOCOL_ERROR", goAway: protocol, ends: true},
		{name: "DATA padding cut short by the connection's end", serve: func(sc *srvConn, id uint32) {
			sc.writeHeaders(id, false, ":status", "200")
			// Length 10, PADDED, a pad length of 4: 5 bytes of data, then 2 of the 4 padding bytes.
			sc.writeRaw([]byte{0, 0, 10, byte(http2.FrameData), byte(http2.FlagDataPadded), 0, 0, 0, byte(id), 4, 'h', 'e', 'l', 'l', 'o', 0, 0})
			sc.finish(false)
		}, body: "hello", bodyErr: "unexpected EOF", ends: true},
		{name: "stream WINDOW_UPDATE overflow", serve: func(sc *srvConn, id uint32) {
			sc.writeFrame(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(id, 1<<31-1) })
		}, rtErr: "FLOW_CONTROL_ERROR", reset: code(http2.ErrCodeFlowControl)},
		{name: "connection WINDOW_UPDATE overflow", serve: func(sc *srvConn, id uint32) {
			sc.writeFrame(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, 1<<31-1) })
		}, rtErr: "FLOW_CONTROL_ERROR", goAway: code(http2.ErrCodeFlowControl)},
		{name: "WINDOW_UPDATE of 0", serve: func(sc *srvConn, id uint32) {
			sc.writeFrame(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(id, 0) })
		}, rtErr: "PROTOCOL_ERROR", reset: protocol},
		{name: "SETTINGS_MAX_FRAME_SIZE too small", serve: func(sc *srvConn, id uint32) {
			sc.writeFrame(func(fr *http2.Framer) error {
				return fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1000})
			})
		}, rtErr: "PROTOCOL_ERROR", goAway: protocol},
		{name: "SETTINGS_INITIAL_WINDOW_SIZE too large", serve: func(sc *srvConn, id uint32) {
			sc.writeFrame(func(fr *http2.Framer) error {
				return fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
			})
		}, rtErr: "FLOW_CONTROL_ERROR", goAway: code(http2.ErrCodeFlowControl)},
		{name: "frame too large", serve: func(sc *srvConn, id uint32) {
			var h [9]byte
			h[0], h[1], h[2] = 0x20, 0, 0 // 2 MiB
			h[3] = byte(http2.FrameData)
			binary.BigEndian.PutUint32(h[5:], id)
			sc.writeRaw(h[:])
		}, rtErr: "frame too large", ends: true},
		{name: "bad HPACK", serve: func(sc *srvConn, id uint32) {
			sc.writeFrame(func(fr *http2.Framer) error {
				return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff, 0xff}, EndHeaders: true})
			})
		}, rtErr: "COMPRESSION_ERROR", goAway: code(http2.ErrCodeCompression)},
		{name: "no CONTINUATION", serve: func(sc *srvConn, id uint32) {
			block := sc.encode(":status", "200")
			sc.writeFrame(func(fr *http2.Framer) error {
				if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block}); err != nil {
					return err
				}
				return fr.WriteData(id, true, []byte("x"))
			})
		}, rtErr: "PROTOCOL_ERROR", goAway: protocol},
		{name: "GOAWAY and close", serve: func(sc *srvConn, id uint32) {
			sc.writeGoAway(id, http2.ErrCodeNo)
			sc.finish(false)
		}, rtErr: "server sent GOAWAY and closed the connection", ends: true},
		{name: "close before the response", serve: func(sc *srvConn, id uint32) {
			sc.finish(true)
		}, rtErr: "unexpected EOF", ends: true},
		{name: "first frame not SETTINGS", opts: srvOpts{noSettings: true}, serve: func(sc *srvConn, id uint32) {
			sc.writeFrame(func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{}) })
		}, rtErr: "PROTOCOL_ERROR", goAway: protocol},
		{name: "SETTINGS ACK first", opts: srvOpts{noSettings: true}, serve: func(sc *srvConn, id uint32) {
			sc.writeFrame(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
		}, rtErr: "PROTOCOL_ERROR", goAway: protocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScriptServer(t, tc.opts, func(sc *srvConn, _ int) {
				h := sc.request()
				tc.serve(sc, h.StreamID)
				if tc.goAway != nil {
					g := sc.await("GOAWAY", func(f *frame) bool { return f.Type == http2.FrameGoAway })
					if g.ErrCode != *tc.goAway {
						sc.fatalf("GOAWAY %v, want %v", g.ErrCode, *tc.goAway)
					}
					if err := sc.waitClosed(); err != io.EOF {
						sc.fatalf("after GOAWAY: %v, want EOF", err)
					}
					return
				}
				if tc.reset != nil {
					if c := sc.waitReset(h.StreamID); c != *tc.reset {
						sc.fatalf("RST_STREAM %v, want %v", c, *tc.reset)
					}
				}
				if tc.ends {
					return
				}
				if h := sc.maybeRequest(); h != nil {
					sc.respond(h.StreamID, "200", []byte("next"), "x-next", "yes")
				}
			})
			p := NewPool(Config{})
			cc := srv.dial(p)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			resp, err := cc.RoundTrip(newReq(t, method, srv.url("/"), nil))
			if tc.rtErr != "" {
				if err == nil {
					b, rerr := io.ReadAll(resp.Body)
					t.Fatalf("RoundTrip succeeded: status %d, body %q, %v", resp.StatusCode, b, rerr)
				}
				mustContain(t, err, tc.rtErr)
			} else {
				if err != nil {
					t.Fatalf("RoundTrip: %v", err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != tc.body {
					t.Errorf("body %q, want %q", b, tc.body)
				}
				if tc.bodyErr != "" {
					mustContain(t, err, tc.bodyErr)
				} else if err != nil {
					t.Errorf("body: %v", err)
				}
			}
			if tc.goAway != nil || tc.ends {
				srv.waitHandlers(1)
				return
			}
			// Stream errors leave the connection (and its HPACK state) whole.
			resp, err = cc.RoundTrip(newReq(t, "GET", srv.url("/"), nil))
			if err != nil {
				t.Fatalf("next request: %v", err)
			}
			if got := readAllString(t, resp.Body); got != "next" || resp.Header.Get("X-Next") != "yes" {
				t.Errorf("next request: body %q, x-next %q", got, resp.Header.Get("X-Next"))
			}
			resp.Body.Close()
			srv.waitHandlers(1)
		})
	}
}

// A server that sends more than the stream's window gets a flow-control
// error, and the body reports it rather than ending cleanly.
func TestServerOverrunsWindow(t *testing.T) {
	sent := make(chan struct{})
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		h := sc.request()
		sc.writeHeaders(h.StreamID, false, ":status", "200")
		chunk := make([]byte, 16384)
		for range streamWindow/len(chunk) + 1 {
			sc.writeData(h.StreamID, false, chunk)
		}
		f := sc.await("the client's flow-control error", func(f *frame) bool {
			return f.Type == http2.FrameGoAway || f.Type == http2.FrameRSTStream
		})
		if f.ErrCode != http2.ErrCodeFlowControl {
			sc.fatalf("%v, want FLOW_CONTROL_ERROR", f)
		}
		close(sent)
	})
	p := NewPool(Config{})
	cc := srv.dial(p)
	resp, err := cc.RoundTrip(newReq(t, "GET", srv.url("/"), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	select {
	case <-sent:
	case <-time.After(waitTimeout):
		t.Fatal("server did not see the error")
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if n > streamWindow {
		t.Errorf("read %d bytes, more than the window", n)
	}
	mustContain(t, err, "FLOW_CONTROL_ERROR")
}

func TestResetMidBody(t *testing.T) {
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		h := sc.request()
		sc.writeHeaders(h.StreamID, false, ":status", "200", "content-length", "100000")
		sc.sendData(h.StreamID, payload(10000, 15), false)
		sc.writeRST(h.StreamID, http2.ErrCodeInternal)
		h = sc.request()
		sc.respond(h.StreamID, "200", []byte("next"))
	})
	c, _, _ := srv.client(Config{})
	b, err := getBytes(t, c, srv.url("/"))
	if !bytes.Equal(b, payload(10000, 15)) {
		t.Errorf("read %d bytes before the error, want 10000", len(b))
	}
	mustContain(t, err, "stream error", "INTERNAL_ERROR")
	var se http2.StreamError
	if !errors.As(err, &se) || se.Code != http2.ErrCodeInternal {
		t.Errorf("error %#v, want a StreamError with INTERNAL_ERROR", err)
	}
	if got := getString(t, c, srv.url("/")); got != "next" {
		t.Errorf("next body %q", got)
	}
}

func TestConnDropMidBody(t *testing.T) {
	for _, drop := range []bool{false, true} {
		for _, cl := range []bool{false, true} {
			t.Run(fmt.Sprintf("tcp=%v,content-length=%v", drop, cl), func(t *testing.T) {
				data := payload(30000, 16)
				srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
					h := sc.request()
					kv := []string{":status", "200"}
					if cl {
						kv = append(kv, "content-length", "100000")
					}
					sc.writeHeaders(h.StreamID, false, kv...)
					sc.sendData(h.StreamID, data, false)
					sc.finish(drop)
				})
				c, _, _ := srv.client(Config{})
				b, err := getBytes(t, c, srv.url("/"))
				if !bytes.Equal(b, data) {
					t.Errorf("read %d bytes, want %d", len(b), len(data))
				}
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("error %v, want io.ErrUnexpectedEOF", err)
				}
			})
		}
	}
}

// A connection that ends after a whole response leaves the body whole.
func TestConnDropAfterCompleteResponse(t *testing.T) {
	data := payload(30000, 17)
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		h := sc.request()
		sc.respond(h.StreamID, "200", data, "content-length", strconv.Itoa(len(data)))
		sc.finish(true)
	})
	c, _, _ := srv.client(Config{})
	b, err := getBytes(t, c, srv.url("/"))
	if err != nil || !bytes.Equal(b, data) {
		t.Errorf("read %d bytes, %v", len(b), err)
	}
}

// Padding counts in flow control and is given back: a long body in small
// frames with the most padding gets through a server that keeps to its
// windows (the padding alone outgrows the 4 MiB stream window).
func TestPaddedData(t *testing.T) {
	data := payload(2<<20, 18)
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		h := sc.request()
		sc.writeHeaders(h.StreamID, false, ":status", "200", "content-length", strconv.Itoa(len(data)))
		if !sc.sendDataOpts(h.StreamID, data, true, 200, 255) {
			sc.fatalf("stream reset")
		}
		sc.respond(sc.request().StreamID, "200", []byte("next"))
	})
	c, _, p := srv.client(Config{})
	b, err := getBytes(t, c, srv.url("/"))
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("read %d bytes, %v", len(b), err)
	}
	getString(t, c, srv.url("/"))
	for _, cc := range poolConns(p) {
		if leak := connWindowLeak(cc); leak != 0 {
			t.Errorf("connection window short by %d", leak)
		}
	}
}

// DATA frames of every size the client accepts arrive whole and in order,
// padded or not, and their flow-control window comes back.
func TestDataFrameSizes(t *testing.T) {
	data := payload(1<<20, 19)
	chunks := []int{100, 1000, 16384, 32<<10 - 9, 32<<10 - 8, 100 << 10, maxReadFrame}
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		for _, chunk := range chunks {
			h := sc.request()
			sc.writeHeaders(h.StreamID, false, ":status", "200", "content-length", strconv.Itoa(len(data)))
			// Half in frames of chunk bytes, half padded.
			if !sc.sendDataOpts(h.StreamID, data[:len(data)/2], false, chunk, -1) ||
				!sc.sendDataOpts(h.StreamID, data[len(data)/2:], true, max(chunk-256, 4096), 255) {
				sc.fatalf("stream reset")
			}
		}
		// Stay until the client is done: a close with its WINDOW_UPDATEs
		// unread would reset the connection under the body's last bytes.
		sc.maybeRequest()
	})
	c, _, p := srv.client(Config{})
	for _, chunk := range chunks {
		b, err := getBytes(t, c, srv.url("/"))
		if err != nil || !bytes.Equal(b, data) {
			t.Errorf("frames of %d bytes: read %d bytes, %v", chunk, len(b), err)
		}
	}
	for _, cc := range poolConns(p) {
		if leak := connWindowLeak(cc); leak != 0 {
			t.Errorf("connection window short by %d", leak)
		}
	}
}

// A stream given up on keeps its slot until its RST_STREAM is written:
// the server counts it open until the reset arrives, so a HEADERS frame
// sent before it exceeds SETTINGS_MAX_CONCURRENT_STREAMS.
func TestMaxStreamsAfterReset(t *testing.T) {
	const rounds = 20
	srv := newScriptServer(t, srvOpts{settings: []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 1}}}, func(sc *srvConn, _ int) {
		sc.eachRequest(func(h *frame) {
			if h.get(":path") == "/slow" {
				sc.writeHeaders(h.StreamID, false, ":status", "200")
				sc.sendData(h.StreamID, make([]byte, 1000), false)
				return
			}
			sc.respond(h.StreamID, "200", []byte("ok"))
		})
	})
	c, _, _ := srv.client(Config{})
	for i := range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		resp, err := c.Do(newReq(t, "GET", srv.url("/slow"), nil).WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			resp.Body.Close()
		} else {
			cancel()
		}
		resp2, err := c.Get(srv.url("/fast"))
		if err != nil {
			t.Fatal(err)
		}
		readAllString(t, resp2.Body)
		resp2.Body.Close()
		resp.Body.Close()
		cancel()
	}
	// Violations are reported as the server shuts down.
}

// A request that never went out on a connection the server is leaving
// (GOAWAY) goes on another connection, even if its body cannot be
// rewound: nothing of it was read.
func TestGoAwayIdleRetryWithoutGetBody(t *testing.T) {
	gone := make(chan struct{})
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, n int) {
		if n == 1 {
			h := sc.request()
			sc.respond(h.StreamID, "200", []byte("first"))
			sc.writeGoAway(h.StreamID, http2.ErrCodeNo)
			if err := sc.waitClosed(); err != io.EOF {
				sc.fatalf("connection 1: %v, want the client to close it", err)
			}
			close(gone)
			return
		}
		h := sc.request()
		body, _ := sc.body(h.StreamID)
		sc.respond(h.StreamID, "200", append([]byte("echo "), body...))
	})
	c, _, _ := srv.client(Config{})
	getString(t, c, srv.url("/"))
	recv(t, gone)
	req := newReq(t, "POST", srv.url("/"), onlyReader{strings.NewReader("payload")})
	if req.GetBody != nil {
		t.Fatal("GetBody set")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("request after GOAWAY: %v", err)
	}
	if got := readAllString(t, resp.Body); got != "echo payload" {
		t.Errorf("body %q", got)
	}
	resp.Body.Close()
	if n := srv.accepts.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// blockingBody is a request body whose Read blocks until data is fed or
// it is closed; it records whether a Read is under way.
type blockingBody struct {
	feed    chan []byte
	done    chan struct{}
	closed  atomic.Bool
	reading atomic.Bool
	reads   atomic.Int32
}

func newBlockingBody() *blockingBody {
	return &blockingBody{feed: make(chan []byte), done: make(chan struct{})}
}

func (b *blockingBody) Read(p []byte) (int, error) {
	b.reading.Store(true)
	defer b.reading.Store(false)
	b.reads.Add(1)
	select {
	case d := <-b.feed:
		return copy(p, d), nil
	case <-b.done:
		return 0, errors.New("body closed")
	}
}

func (b *blockingBody) Close() error {
	if b.closed.CompareAndSwap(false, true) {
		close(b.done)
	}
	return nil
}

// When a stream ends early, its request body is closed, so that the
// goroutine writing it does not wait in Read forever; when RoundTrip
// returns an error that makes net/http send the request again (with the
// same body or its GetBody), it no longer uses the body.
func TestAbortReleasesRequestBody(t *testing.T) {
	for _, how := range []string{"cancel", "close response", "server reset", "refused"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := NewPool(Config{})
				cc, sc := pipeConn(t, p, srvOpts{})
				defer closeAll(cc, sc)
				body := newBlockingBody()
				defer body.Close() // let the writer go, whatever happened
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req := newReq(t, "POST", "https://example.com/", nil).WithContext(ctx)
				req.Body, req.ContentLength = body, -1
				done := goRoundTrip(cc, req)
				h := sc.request()
				body.feed <- []byte("some")
				synctest.Wait()
				switch how {
				case "cancel":
					cancel()
				case "close response":
					sc.writeHeaders(h.StreamID, false, ":status", "200")
				case "server reset":
					sc.writeRST(h.StreamID, http2.ErrCodeCancel)
				case "refused":
					sc.writeRST(h.StreamID, http2.ErrCodeRefusedStream)
				}
				r := <-done
				readingAtReturn := body.reading.Load()
				if how == "close response" {
					if r.err != nil {
						t.Fatal(r.err)
					}
					r.resp.Body.Close()
				} else if r.err == nil {
					t.Fatal("RoundTrip succeeded")
				}
				if how == "refused" {
					if !isRetryable(r.err) {
						t.Errorf("REFUSED_STREAM: %v, want a retryable error", r.err)
					}
					if readingAtReturn {
						t.Errorf("RoundTrip returned a retryable error while its body writer was still reading the request body")
					}
				}
				synctest.Wait()
				if !body.closed.Load() || body.reading.Load() {
					t.Errorf("after the stream ended: body closed %v, Read under way %v", body.closed.Load(), body.reading.Load())
				}
			})
		})
	}
}

// FuzzServerFrames feeds arbitrary bytes as the server's frames after its
// SETTINGS: the client must not panic, and the request must end.
func FuzzServerFrames(f *testing.F) {
	var enc bytes.Buffer
	he := hpack.NewEncoder(&enc)
	block := func(kv ...string) []byte {
		enc.Reset()
		for i := 0; i+1 < len(kv); i += 2 {
			he.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return bytes.Clone(enc.Bytes())
	}
	frames := func(fn func(fr *http2.Framer)) []byte {
		var b bytes.Buffer
		fr := http2.NewFramer(&b, nil)
		fr.AllowIllegalWrites = true
		fn(fr)
		return b.Bytes()
	}
	f.Add(frames(func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":status", "200", "content-length", "5"), EndHeaders: true})
		fr.WriteData(1, true, []byte("hello"))
	}))
	f.Add(frames(func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":status", "200"), EndHeaders: true})
		fr.WriteDataPadded(1, false, []byte("abc"), make([]byte, 10))
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block("x-trailer", "t"), EndHeaders: true, EndStream: true})
	}))
	f.Add(frames(func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":status", "103", "link", "</x>"), EndHeaders: true})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":status", "204"), EndHeaders: true, EndStream: true})
	}))
	f.Add(frames(func(fr *http2.Framer) {
		b := block(":status", "200", "x-long", strings.Repeat("v", 100))
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:10]})
		fr.WriteContinuation(1, true, b[10:])
		fr.WriteRSTStream(1, http2.ErrCodeInternal)
	}))
	f.Add(frames(func(fr *http2.Framer) {
		fr.WritePing(false, [8]byte{1, 2, 3})
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
		fr.WriteWindowUpdate(0, 100)
		fr.WriteGoAway(0, http2.ErrCodeNo, []byte("bye"))
	}))
	f.Add(frames(func(fr *http2.Framer) {
		fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: block(":path", "/"), EndHeaders: true})
	}))
	f.Add(frames(func(fr *http2.Framer) {
		fr.WriteData(1, false, []byte("early"))
		fr.WriteRawFrame(0xff, 0, 1, []byte("unknown"))
	}))
	f.Add([]byte("\x00\x00\x05\x01\x05\x00\x00\x00\x01\x88\xff\xff\xff\xff"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			p := NewPool(Config{MaxHeaderListSize: 64 << 10})
			cc, sc := pipeConn(t, p, srvOpts{lenient: true})
			defer closeAll(cc, sc)
			sc.writeRaw(data)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			resp, err := cc.RoundTrip(newReq(t, "GET", "https://example.com/", nil).WithContext(ctx))
			if err != nil {
				if resp != nil {
					t.Errorf("RoundTrip returned a response and %v", err)
				}
				return
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.ContentLength >= 0 && err == nil && n != resp.ContentLength {
				t.Errorf("body of %d bytes ended cleanly, ContentLength %d", n, resp.ContentLength)
			}
		})
	})
}

// Closing the body of a whole response whose request is still being sent
// (the server answered early, wants no more, and grants no window) ends
// the upload: the client resets the stream, closes the request body and
// frees the stream's slot, as net/http's own HTTP/2 client does.
func TestCloseAfterEarlyResponseStopsUpload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(Config{})
		cc, sc := pipeConn(t, p, srvOpts{manualWindow: true, waitForever: true})
		defer closeAll(cc, sc)
		body := &closeTracker{Reader: bytes.NewReader(make([]byte, 1<<20))}
		req := newReq(t, "POST", "https://example.com/", nil)
		req.Body, req.ContentLength = body, 1<<20
		done := goRoundTrip(cc, req)
		h := sc.request()
		sc.respond(h.StreamID, "413", nil)
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.resp.StatusCode != 413 {
			t.Fatalf("status %d", r.resp.StatusCode)
		}
		readAllString(t, r.resp.Body)
		r.resp.Body.Close()
		synctest.Wait()
		var reset bool
		for _, f := range sc.frames() {
			if f.Type == http2.FrameRSTStream && f.StreamID == h.StreamID {
				reset = true
			}
		}
		cc.mu.Lock()
		open := len(cc.streams)
		cc.mu.Unlock()
		if !reset || !body.closed.Load() || open != 0 {
			t.Errorf("after closing the response: stream reset %v, request body closed %v, %d streams open", reset, body.closed.Load(), open)
		}
	})
}

// chunks is a request body that returns its parts one Read at a time.
type chunks struct{ parts []string }

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts = c.parts[1:]
	return n, nil
}

// A body that differs from its declared ContentLength fails the request,
// as it does in net/http's HTTP/1 and HTTP/2 clients, and the server never
// sees a request that looks whole.
func TestRequestBodyLengthMismatch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cl    int64
		parts []string
	}{
		{"shorter", 10, []string{"hello"}},
		{"longer in one read", 3, []string{"hello"}},
		{"longer in the next read", 3, []string{"hel", "lo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
				h := sc.request()
				f := sc.await("the end of the request", func(f *frame) bool {
					return f.StreamID == h.StreamID && (f.endStream() || f.Type == http2.FrameRSTStream)
				})
				if f.Type != http2.FrameRSTStream {
					data, _ := sc.body(h.StreamID)
					sc.t.Errorf("server got a whole request of %d bytes (%q), ContentLength %d", len(data), data, tc.cl)
				}
				sc.respond(h.StreamID, "200", nil)
			})
			p := NewPool(Config{})
			cc := srv.dial(p)
			req := newReq(t, "POST", srv.url("/"), nil)
			req.Body, req.ContentLength = io.NopCloser(&chunks{parts: tc.parts}), tc.cl
			resp, err := cc.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			mustContain(t, err, fmt.Sprintf("ContentLength=%d with Body length", tc.cl))
			srv.waitHandlers(1)
		})
	}
}

// Response.Trailer may be read before the body is (net/http: it "must not
// be accessed concurrently with Read calls on the Body"), so the client
// fills in the trailers' values only within Read, as net/http's own
// client does, never from its read loop.
func TestResponseTrailersOnlyInRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(Config{})
		cc, sc := pipeConn(t, p, srvOpts{})
		defer closeAll(cc, sc)
		go func() {
			h := sc.request()
			sc.writeHeaders(h.StreamID, false, ":status", "200", "trailer", "x-sum")
			sc.sendData(h.StreamID, []byte("body"), false)
			sc.writeHeaders(h.StreamID, true, "x-sum", "abc")
		}()
		resp, err := cc.RoundTrip(newReq(t, "GET", "https://example.com/", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v, ok := resp.Trailer["X-Sum"]; !ok || v != nil {
			t.Fatalf("declared trailers: %v", resp.Trailer)
		}
		// The read loop takes in the rest of the response meanwhile.
		synctest.Wait()
		if v := resp.Trailer["X-Sum"]; v != nil {
			t.Errorf("trailer filled in by the read loop, outside Read: %q", v)
		}
		if got := readAllString(t, resp.Body); got != "body" {
			t.Errorf("body %q", got)
		}
		if got := resp.Trailer.Get("X-Sum"); got != "abc" {
			t.Errorf("trailer after EOF: %q", got)
		}
	})
}

// Reads of every size, waiting for DATA or not, return the body in order:
// bytes copied straight into a waiting reader's buffer come before those
// buffered after it filled, and the flow-control window comes back.
func TestReadSizes(t *testing.T) {
	data := payload(4<<20, 23)
	sizes := []int{1, 3, 4096, 9000, 16384, 65536, 200 << 10, 1 << 20}
	// Up to 4096 reads each.
	body := func(size int) []byte { return data[:min(len(data), size*4096)] }
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		for _, size := range sizes {
			h := sc.request()
			data := body(size)
			sc.writeHeaders(h.StreamID, false, ":status", "200", "content-length", strconv.Itoa(len(data)))
			for i, chunk := 0, 0; i < len(data); i += chunk {
				chunk = min(1000+i%17000, len(data)-i)
				if !sc.sendDataOpts(h.StreamID, data[i:i+chunk], i+chunk == len(data), chunk, -1+i%3*7) {
					sc.fatalf("stream reset")
				}
			}
		}
		// Stay until the client is done: a close with its WINDOW_UPDATEs
		// unread would reset the connection under the body's last bytes.
		sc.maybeRequest()
	})
	c, _, p := srv.client(Config{})
	for _, size := range sizes {
		resp, err := c.Get(srv.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		buf := make([]byte, size)
		for {
			n, err := resp.Body.Read(buf[:1+len(got)%size])
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("reads of up to %d bytes: %v", size, err)
			}
		}
		resp.Body.Close()
		if data := body(size); !bytes.Equal(got, data) {
			t.Errorf("reads of up to %d bytes: %d bytes, first difference at %d", size, len(got), firstDiff(got, data))
		}
	}
	for _, cc := range poolConns(p) {
		if leak := connWindowLeak(cc); leak != 0 {
			t.Errorf("connection window short by %d", leak)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Reads from several goroutines at once (which io.Reader does not promise
// to allow) still hand over every byte exactly once.
func TestConcurrentReads(t *testing.T) {
	data := payload(2<<20, 29)
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		h := sc.request()
		sc.writeHeaders(h.StreamID, false, ":status", "200", "content-length", strconv.Itoa(len(data)))
		if !sc.sendDataOpts(h.StreamID, data, true, 5000, -1) {
			sc.fatalf("stream reset")
		}
		// Stay until the client is done: a close with its WINDOW_UPDATEs
		// unread would reset the connection under the body's last bytes.
		sc.maybeRequest()
	})
	c, _, _ := srv.client(Config{})
	resp, err := c.Get(srv.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var (
		mu    sync.Mutex
		count [256]int
		total int
		wg    sync.WaitGroup
	)
	for g := range 4 {
		wg.Go(func() {
			buf := make([]byte, 1000+g*3000)
			for {
				n, err := resp.Body.Read(buf)
				mu.Lock()
				for _, b := range buf[:n] {
					count[b]++
				}
				total += n
				mu.Unlock()
				if err != nil {
					if err != io.EOF {
						t.Errorf("reader %d: %v", g, err)
					}
					return
				}
			}
		})
	}
	wg.Wait()
	var want [256]int
	for _, b := range data {
		want[b]++
	}
	if total != len(data) || count != want {
		t.Errorf("read %d bytes of %d, byte counts equal: %v", total, len(data), count == want)
	}
}
