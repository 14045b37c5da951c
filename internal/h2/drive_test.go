package h2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// These tests run on watched sockets (netconn.Watch), where a body's
// reader waiting alone on its connection reads the frames itself.

// driving returns a channel that gets a value each time a reader starts
// reading frames for itself, until the test ends; readers may then read
// for themselves from a body's first byte.
func driving(t *testing.T) <-chan struct{} {
	ch := drivingAfter(t)
	after := handOffAfter.Swap(0)
	t.Cleanup(func() { handOffAfter.Store(after) })
	return ch
}

// drivingAfter is driving, keeping handOffAfter.
func drivingAfter(t *testing.T) <-chan struct{} {
	if unwatched {
		t.Skip("readers read frames themselves on watched sockets only")
	}
	ch := make(chan struct{}, 64)
	f := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	testHookDriving.Store(&f)
	t.Cleanup(func() { testHookDriving.Store(nil) })
	return ch
}

// pinger sends a PING on its connection each time it is poked, until the
// test ends.
type pinger chan struct{}

func newPinger(t *testing.T) pinger {
	p := make(pinger)
	t.Cleanup(func() { close(p) })
	return p
}

func (p pinger) serve(sc *srvConn) {
	go func() {
		for range p {
			sc.writeFrame(func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{'n', 'u', 'd', 'g', 'e'}) })
		}
	}()
}

// handOff makes the connection's read loop step aside for the body's
// reader that is about to wait in Read: once it waits, the server sends
// a PING, after which the loop finds the socket empty with the reader
// waiting. It returns once the reader reads frames for itself.
func handOff(t *testing.T, p *Pool, ping pinger, drv <-chan struct{}) {
	t.Helper()
	awaitReader(t, p)
	ping <- struct{}{}
	recv(t, drv)
}

// awaitReader waits until a body's reader waits in Read on one of p's
// connections.
func awaitReader(t *testing.T, p *Pool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !readerWaits(p) {
		if time.Now().After(deadline) {
			t.Fatal("no reader waits in Read")
		}
		time.Sleep(time.Millisecond) // polling the connection's state
	}
}

// readerWaits reports whether a body's reader waits in Read on one of
// p's connections.
func readerWaits(p *Pool) bool {
	for _, cc := range poolConns(p) {
		cc.mu.Lock()
		var all []*stream
		for _, s := range cc.streams {
			all = append(all, s)
		}
		cc.mu.Unlock()
		for _, s := range all {
			s.mu.Lock()
			w := s.wants > 0
			s.mu.Unlock()
			if w {
				return true
			}
		}
	}
	return false
}

// readAsync starts one Read of r into a buffer of size and returns its
// outcome.
func readAsync(r io.Reader, size int) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		buf := make([]byte, size)
		n, err := r.Read(buf)
		ch <- readResult{buf[:n], err}
	}()
	return ch
}

type readResult struct {
	b   []byte
	err error
}

// A reader waiting for the socket, reading for itself, returns at once
// when its body is closed or its request cancelled, and the stream is
// reset.
func TestDrivingReaderStops(t *testing.T) {
	for _, how := range []string{"close", "cancel", "reset by the server"} {
		t.Run(how, func(t *testing.T) {
			drv := driving(t)
			ping := newPinger(t)
			codes := make(chan http2.ErrCode, 1)
			reset := make(chan struct{})
			srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
				ping.serve(sc)
				h := sc.request()
				sc.writeHeaders(h.StreamID, false, ":status", "200")
				sc.sendData(h.StreamID, []byte("first"), false)
				if how == "reset by the server" {
					select {
					case <-reset:
					case <-time.After(waitTimeout):
					}
					sc.writeRST(h.StreamID, http2.ErrCodeInternal)
					return
				}
				codes <- sc.waitReset(h.StreamID)
			})
			c, _, p := srv.client(Config{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, err := c.Do(newReq(t, "GET", srv.url("/"), nil).WithContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got := readAllN(t, resp.Body, 5); got != "first" {
				t.Fatalf("read %q", got)
			}
			res := readAsync(resp.Body, 1<<20)
			handOff(t, p, ping, drv)
			switch how {
			case "close":
				resp.Body.Close()
			case "cancel":
				cancel()
			default:
				close(reset)
			}
			r := recv(t, res)
			if len(r.b) != 0 || r.err == nil || r.err == io.EOF {
				t.Fatalf("Read: %q, %v", r.b, r.err)
			}
			if how == "cancel" && !errors.Is(r.err, context.Canceled) {
				t.Errorf("Read after cancel: %v", r.err)
			}
			if how != "reset by the server" {
				if code := recv(t, codes); code != http2.ErrCodeCancel {
					t.Errorf("RST_STREAM %v, want CANCEL", code)
				}
			}
		})
	}
}

// readAllN reads exactly n bytes of r.
func readAllN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A second request on the connection gets its response whether the
// first body's reader is waiting for the socket, reading for itself, or
// away between reads; the first body then goes on whole.
func TestDrivingReaderYieldsToNewStream(t *testing.T) {
	for _, waiting := range []bool{true, false} {
		t.Run("waiting="+strconv.FormatBool(waiting), func(t *testing.T) {
			drv := driving(t)
			ping := newPinger(t)
			sendFirst := make(chan struct{})
			rest := payload(1<<20, 31)
			srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
				ping.serve(sc)
				first := sc.request()
				sc.writeHeaders(first.StreamID, false, ":status", "200")
				if !waiting {
					// Once the reader reads for itself.
					select {
					case <-sendFirst:
					case <-time.After(waitTimeout):
					}
				}
				sc.sendData(first.StreamID, []byte("first"), false)
				second := sc.request()
				sc.respond(second.StreamID, "200", []byte("second"))
				sc.sendData(first.StreamID, rest, true)
				sc.maybeRequest()
			})
			c, _, p := srv.client(Config{})
			resp, err := c.Get(srv.url("/first"))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var res <-chan readResult
			if waiting {
				if got := readAllN(t, resp.Body, 5); got != "first" {
					t.Fatalf("read %q", got)
				}
				res = readAsync(resp.Body, 1<<20)
				handOff(t, p, ping, drv)
			} else {
				// The reader reads "first" for itself, and is away.
				res := readAsync(resp.Body, 1<<20)
				handOff(t, p, ping, drv)
				close(sendFirst)
				if r := recv(t, res); string(r.b) != "first" || r.err != nil {
					t.Fatalf("read %q, %v", r.b, r.err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.url("/second"), nil)
			resp2, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAllString(t, resp2.Body); got != "second" {
				t.Errorf("second body %q", got)
			}
			resp2.Body.Close()
			var got []byte
			if waiting {
				r := recv(t, res)
				if r.err != nil {
					t.Fatal(r.err)
				}
				got = r.b
			}
			more, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got = append(got, more...); !bytes.Equal(got, rest) {
				t.Errorf("the first body's rest: %d bytes, want %d", len(got), len(rest))
			}
		})
	}
}

// Frames other than the stream's DATA that come while its reader reads
// for itself (PING, SETTINGS, WINDOW_UPDATE, padding, trailers) go to the
// read loop: the PING is answered, and the body and trailers come whole.
func TestDrivingReaderHandsOverOtherFrames(t *testing.T) {
	drv := driving(t)
	ping := newPinger(t)
	body := payload(600<<10, 32)
	pinged := make(chan struct{})
	acked := make(chan struct{}, 1)
	srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
		ping.serve(sc)
		h := sc.request()
		id := h.StreamID
		sc.writeHeaders(id, false, ":status", "200", "trailer", "x-sum")
		select {
		case <-pinged:
		case <-time.After(waitTimeout):
		}
		sc.sendDataOpts(id, body[:200<<10], false, 16384, -1)
		sc.writeFrame(func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{1, 2, 3}) })
		sc.sendDataOpts(id, body[200<<10:400<<10], false, 10000, 7)
		sc.writeFrame(func(fr *http2.Framer) error { return fr.WriteSettings() })
		sc.writeWindowUpdate(0, 1000)
		sc.sendDataOpts(id, body[400<<10:], false, 16384, -1)
		sc.writeHeaders(id, true, "x-sum", "ok")
		sc.await("the PING's ACK", func(f *frame) bool {
			return f.Type == http2.FramePing && f.Flags.Has(http2.FlagPingAck) && f.Data[0] == 1
		})
		acked <- struct{}{}
		sc.maybeRequest()
	})
	c, _, p := srv.client(Config{})
	resp, err := c.Get(srv.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	res := readAsync(resp.Body, 1<<20)
	handOff(t, p, ping, drv)
	close(pinged)
	r := recv(t, res)
	if r.err != nil {
		t.Fatal(r.err)
	}
	more, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := append(r.b, more...); !bytes.Equal(got, body) {
		t.Errorf("body: %d bytes, want %d", len(got), len(body))
	}
	if v := resp.Trailer.Get("x-sum"); v != "ok" {
		t.Errorf("trailer %q", v)
	}
	recv(t, acked)
}

// A connection that ends while a reader reads for itself fails the read
// (the body cut short), without waiting.
func TestDrivingReaderConnectionLost(t *testing.T) {
	for _, drop := range []bool{false, true} {
		t.Run("drop="+strconv.FormatBool(drop), func(t *testing.T) {
			drv := driving(t)
			ping := newPinger(t)
			lose := make(chan struct{})
			srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
				ping.serve(sc)
				h := sc.request()
				sc.writeHeaders(h.StreamID, false, ":status", "200", "content-length", "100000")
				sc.sendData(h.StreamID, make([]byte, 1000), false)
				select {
				case <-lose:
				case <-time.After(waitTimeout):
				}
				if drop {
					sc.abort()
				} else {
					sc.finish(false)
				}
			})
			c, _, p := srv.client(Config{})
			resp, err := c.Get(srv.url("/"))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			readAllN(t, resp.Body, 1000)
			res := readAsync(resp.Body, 1<<20)
			handOff(t, p, ping, drv)
			close(lose)
			deadline := time.After(waitTimeout)
			for {
				select {
				case r := <-res:
					if r.err == nil {
						res = readAsync(resp.Body, 1<<20)
						continue
					}
					if r.err == io.EOF {
						t.Fatalf("a body cut short ended with EOF")
					}
					return
				case <-deadline:
					t.Fatal("Read still waits after the connection ended")
				}
			}
		})
	}
}

// A download's reader reads for itself once handOffAfter of the body has
// come; a small response's reader never does.
func TestDownloadReaderReadsForItself(t *testing.T) {
	drv := drivingAfter(t)
	const chunk = 1 << 20
	big := payload(8*chunk, 33)
	next := make(chan struct{})
	runs := inRuns(big, chunk, next)
	rs := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			w.Write([]byte("small"))
			return
		}
		runs(w, r)
	}), nil)
	c, _, p := rs.client(t, Config{})
	for range 20 {
		if got := getString(t, c, rs.URL+"/small"); got != "small" {
			t.Fatalf("small body %q", got)
		}
	}
	select {
	case <-drv:
		t.Fatal("a small response's reader read for itself")
	default:
	}
	resp, err := c.Get(rs.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, 0, len(big))
	for len(got) < len(big) {
		// Each chunk is sent once its reader waits for it.
		res := make(chan error, 1)
		buf := make([]byte, chunk)
		go func() {
			_, err := io.ReadFull(resp.Body, buf)
			res <- err
		}()
		if len(got) > 0 {
			awaitReader(t, p)
			next <- struct{}{}
		}
		if err := recv(t, res); err != nil {
			t.Fatal(err)
		}
		got = append(got, buf...)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("the big body differs")
	}
	select {
	case <-drv:
	default:
		t.Error("the download's reader never read for itself")
	}
}

// A reader reading a body of known length for itself tells its socket how
// much more of it is sure to come (netconn.Conn.Expect), so that the
// socket can wake it per batch: the rest of the body less what may be
// buffered already; a body of unknown length promises nothing. The body's
// end withdraws it.
func TestDriverExpectsTheRest(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sockets batch wakes on Linux only")
	}
	const size = 1_000_000
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("length known %v", known), func(t *testing.T) {
			drv := driving(t)
			ping := newPinger(t)
			more, finished := make(chan struct{}), make(chan struct{})
			defer close(finished)
			body := payload(size, 35)
			srv := newScriptServer(t, srvOpts{}, func(sc *srvConn, _ int) {
				ping.serve(sc)
				h := sc.request()
				kv := []string{":status", "200"}
				if known {
					kv = append(kv, "content-length", strconv.Itoa(size))
				}
				sc.writeHeaders(h.StreamID, false, kv...)
				sc.sendData(h.StreamID, body[:5], false)
				select {
				case <-more:
				case <-time.After(waitTimeout):
				}
				sc.sendData(h.StreamID, body[5:], true)
				select {
				case <-finished:
				case <-time.After(waitTimeout):
				}
			})
			c, _, p := srv.client(Config{})
			resp, err := c.Do(newReq(t, "GET", srv.url("/"), nil))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got := readAllN(t, resp.Body, 5); got != string(body[:5]) {
				t.Fatalf("read %q", got)
			}
			nc := poolConns(p)[0].nc
			if nc == nil {
				t.Fatal("the connection's socket is not watched")
			}
			res := readAsync(resp.Body, 1<<20)
			handOff(t, p, ping, drv)
			want := int64(0)
			if known {
				want = size - 5 - expectSlack
			}
			if n := nc.Expected(); n != want {
				t.Errorf("the driving reader expects %d bytes, want %d", n, want)
			}
			close(more)
			got := append([]byte(nil), body[:5]...)
			for {
				r := recv(t, res)
				got = append(got, r.b...)
				if r.err == io.EOF {
					break
				}
				if r.err != nil {
					t.Fatalf("after %d bytes: %v", len(got), r.err)
				}
				res = readAsync(resp.Body, 1<<20)
			}
			if !bytes.Equal(got, body) {
				t.Fatalf("the body differs (%d bytes of %d)", len(got), size)
			}
			if n := nc.Expected(); n != 0 {
				t.Errorf("%d bytes still expected once the body ended", n)
			}
		})
	}
}
