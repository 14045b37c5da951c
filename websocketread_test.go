package urlsession

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// readClientFrame reads one masked client frame of at most 125 bytes.
func readClientFrame(br *bufio.Reader) (opcode byte, payload []byte, err error) {
	var h [6]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 == 0 || h[1]&0x7f > 125 {
		return 0, nil, fmt.Errorf("unexpected client frame header % x", h[:2])
	}
	payload = make([]byte, h[1]&0x7f)
	if _, err := io.ReadFull(br, payload); err != nil {
		return 0, nil, err
	}
	for i := range payload {
		payload[i] ^= h[2+i%4]
	}
	return h[0] & 0x0f, payload, nil
}

// waitFor waits, polling, until cond holds under the task's lock.
func waitFor(t *testing.T, ws *wsState, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ws.mu.Lock()
		ok := cond()
		ws.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWebSocketIdleControlFrames: with no Receive ever called, the task
// answers the server's ping and reports its close.
func TestWebSocketIdleControlFrames(t *testing.T) {
	pong := make(chan string, 1)
	raw := rawWSServer(t, "", func(c net.Conn, br *bufio.Reader) {
		c.Write(frame(0x9, []byte("idle?")))
		op, p, err := readClientFrame(br)
		if err != nil || op != 0xA {
			pong <- fmt.Sprintf("opcode %#x %q %v", op, p, err)
			return
		}
		pong <- string(p)
		c.Write(frame(0x8, closePayload(4001, "bye")))
		readClientFrame(br) // the answer
	})
	rec := newWSRecorder()
	s := newSession(t, wsConfig(), rec)
	u, _ := url.Parse(raw)
	task := s.WebSocketTask(u, nil)
	task.Resume()
	if got := <-pong; got != "idle?" {
		t.Errorf("pong %s", got)
	}
	if err := rec.wait(t); err != nil {
		t.Errorf("completed with %v", err)
	}
	want := []string{"create", "open ", "close 4001 bye", "metrics 1", "complete"}
	if ev := rec.Events(); !sameEvents(ev, want) {
		t.Errorf("events %q, want %q", ev, want)
	}
	if task.CloseCode() != 4001 || string(task.CloseReason()) != "bye" {
		t.Errorf("CloseCode %v %q", task.CloseCode(), task.CloseReason())
	}
}

// TestWebSocketReceiveForms: Receive calls that read for themselves,
// Receive calls the task reads for and a message read ahead while nothing
// received keep the messages' order, and concurrent Receive calls are
// served in the order they were made.
func TestWebSocketReceiveForms(t *testing.T) {
	srv := echoServer(t, nil)
	s := newSession(t, wsConfig(), nil)
	task := s.WebSocketTask(wsURL(t, srv.URL, "/echo"), nil)
	task.Resume()
	defer task.Cancel()
	ws := task.ws
	bg := context.Background()
	send := func(m string) {
		t.Helper()
		if err := task.Send(bg, TextMessage(m)); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(ctx context.Context, want string) {
		t.Helper()
		m, err := task.Receive(ctx)
		if err != nil || m.Text() != want {
			t.Fatalf("Receive = %q %v, want %q", m.Data, err, want)
		}
	}

	// Alternating forms, messages sent ahead.
	const n = 500
	go func() {
		for i := range n {
			if task.Send(bg, TextMessage(fmt.Sprint(i))) != nil {
				return
			}
		}
	}()
	for i := range n {
		ctx, cancel := bg, context.CancelFunc(func() {})
		if i%3 == 1 {
			ctx, cancel = context.WithCancel(bg)
		}
		expect(ctx, fmt.Sprint(i))
		cancel()
	}

	// A message that arrives while nothing receives is read ahead.
	send("ahead")
	waitFor(t, ws, "the message read ahead", func() bool { return ws.nAhead > 0 })
	expect(bg, "ahead")

	// No more than wsMaxAhead messages are read ahead.
	for _, m := range []string{"a1", "a2", "a3"} {
		send(m)
	}
	waitFor(t, ws, "the task waiting with two messages read", func() bool { return ws.nAhead == wsMaxAhead && ws.parked && !ws.reading })
	for _, m := range []string{"a1", "a2", "a3"} {
		expect(bg, m)
	}

	// A ping makes the task read on past a message read ahead, keeping
	// the order.
	send("kept")
	waitFor(t, ws, "the message read ahead", func() bool { return ws.nAhead > 0 })
	pctx, pcancel := context.WithTimeout(bg, 50*time.Millisecond)
	pinged := make(chan error, 1)
	go func() { pinged <- task.SendPing(pctx) }()
	send("next")
	expect(bg, "kept")
	expect(bg, "next")
	if err := <-pinged; err != nil && pctx.Err() == nil {
		t.Errorf("SendPing: %v", err)
	}
	pcancel()

	// Two Receive calls at once: the first made gets the first message,
	// whether it reads for itself or both wait for the task's read.
	first := make(chan string, 1)
	go func() {
		m, err := task.Receive(bg)
		first <- fmt.Sprint(m.Text(), err)
	}()
	waitFor(t, ws, "the first Receive", func() bool { return ws.self || len(ws.queue) == 1 })
	second := make(chan string, 1)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	go func() {
		m, err := task.Receive(ctx)
		second <- fmt.Sprint(m.Text(), err)
	}()
	waitFor(t, ws, "the second Receive", func() bool { return ws.self && len(ws.queue) == 1 || len(ws.queue) == 2 })
	send("one")
	send("two")
	if got := <-first; got != "one<nil>" {
		t.Errorf("first Receive: %s", got)
	}
	if got := <-second; got != "two<nil>" {
		t.Errorf("second Receive: %s", got)
	}
	send("after")
	expect(bg, "after")
}

// TestWebSocketCancelWithIdle: CancelWith with no Receive in progress still
// reports the server's answer, whichever reader reads it.
func TestWebSocketCancelWithIdle(t *testing.T) {
	srv := echoServer(t, nil)
	for i := range 8 {
		rec := newWSRecorder()
		s := newSession(t, wsConfig(), rec)
		task := s.WebSocketTask(wsURL(t, srv.URL, "/echo"), nil)
		task.Resume()
		if err := task.Send(context.Background(), TextMessage("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := task.Receive(context.Background()); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			// Past the idle delay: the task reads on its own.
			waitFor(t, task.ws, "the task's own read", func() bool { return task.ws.reading && !task.ws.self })
		}
		reason := fmt.Sprint("bye ", i)
		if err := task.CancelWith(CloseNormalClosure, []byte(reason)); err != nil {
			t.Fatal(err)
		}
		if err := rec.wait(t); err != nil {
			t.Fatalf("completed with %v", err)
		}
		want := []string{"create", "open ", "close 1000 " + reason, "metrics 1", "complete"}
		if ev := rec.Events(); !sameEvents(ev, want) {
			t.Errorf("events %q, want %q", ev, want)
		}
	}
}

// TestWSGuardCloseFrame: the guard keeps the first close frame's payload,
// whether it comes in one read or byte by byte.
func TestWSGuardCloseFrame(t *testing.T) {
	closing := append([]byte{0x88, 5}, binary.BigEndian.AppendUint16(nil, 1001)...)
	closing = append(closing, "bye"...)
	stream := append(append([]byte{0x89, 1, 'p', 0x81, 2, 'h', 'i'}, closing...), 0x88, 0)
	var max atomic.Int64
	max.Store(1 << 20)
	for _, r := range []io.Reader{iotest.OneByteReader(bytes.NewReader(stream)), bytes.NewReader(stream)} {
		g := &wsGuard{ReadWriteCloser: struct {
			io.Reader
			io.Writer
			io.Closer
		}{r, io.Discard, io.NopCloser(nil)}, max: &max}
		if p, ok := g.closeFrame(); ok {
			t.Fatalf("close frame %q before any read", p)
		}
		if _, err := io.ReadAll(g); err != nil {
			t.Fatal(err)
		}
		if p, ok := g.closeFrame(); !ok || string(p) != "\x03\xe9bye" {
			t.Errorf("close frame %q %v", p, ok)
		}
	}
}

// TestWebSocketReadAheadAfterEnd: a message read ahead before the task
// ended is still returned, then the task's end.
func TestWebSocketReadAheadAfterEnd(t *testing.T) {
	srv := echoServer(t, nil)
	s := newSession(t, wsConfig(), nil)
	task := s.WebSocketTask(wsURL(t, srv.URL, "/echo"), nil)
	task.Resume()
	bg := context.Background()
	if err := task.Send(bg, TextMessage("kept")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, task.ws, "the message read ahead", func() bool { return task.ws.nAhead > 0 })
	if err := task.CancelWith(CloseNormalClosure, nil); err != nil {
		t.Fatal(err)
	}
	<-task.Done()
	if m, err := task.Receive(bg); err != nil || m.Text() != "kept" {
		t.Errorf("Receive after the end = %q %v, want the message read before", m.Data, err)
	}
	if _, err := task.Receive(bg); CodeOf(err) != ErrNetworkConnectionLost {
		t.Errorf("second Receive after the end: %v", err)
	}
}
