package urlsession

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/pipeline"
)

// sockTask is a task kind that runs outside the request pipeline's data
// path: a StreamTask or a WebSocketTask.
type sockTask interface {
	// runSock runs the task on the goroutine Resume started, to its
	// completion.
	runSock(ctx context.Context)
	// addTo lists the task in set.
	addTo(set *TaskSet)
}

// CloseCode is a WebSocket close code (RFC 6455 section 7.4): Apple's
// URLSessionWebSocketTask.CloseCode. Codes 3000 to 4999 are for libraries
// and applications and may be used too.
type CloseCode int

// The close codes Apple names, with their RFC 6455 values.
const (
	// CloseInvalid: no close code, as when the connection is still open or
	// the handshake never completed.
	CloseInvalid                   CloseCode = 0
	CloseNormalClosure             CloseCode = 1000
	CloseGoingAway                 CloseCode = 1001
	CloseProtocolError             CloseCode = 1002
	CloseUnsupportedData           CloseCode = 1003
	CloseNoStatusReceived          CloseCode = 1005
	CloseAbnormalClosure           CloseCode = 1006
	CloseInvalidFramePayloadData   CloseCode = 1007
	ClosePolicyViolation           CloseCode = 1008
	CloseMessageTooBig             CloseCode = 1009
	CloseMandatoryExtensionMissing CloseCode = 1010
	CloseInternalServerError       CloseCode = 1011
	CloseTLSHandshakeFailure       CloseCode = 1015
)

// String returns the code's name in Apple's spelling, such as
// "normalClosure", or its number.
func (c CloseCode) String() string {
	switch c {
	case CloseInvalid:
		return "invalid"
	case CloseNormalClosure:
		return "normalClosure"
	case CloseGoingAway:
		return "goingAway"
	case CloseProtocolError:
		return "protocolError"
	case CloseUnsupportedData:
		return "unsupportedData"
	case CloseNoStatusReceived:
		return "noStatusReceived"
	case CloseAbnormalClosure:
		return "abnormalClosure"
	case CloseInvalidFramePayloadData:
		return "invalidFramePayloadData"
	case ClosePolicyViolation:
		return "policyViolation"
	case CloseMessageTooBig:
		return "messageTooBig"
	case CloseMandatoryExtensionMissing:
		return "mandatoryExtensionMissing"
	case CloseInternalServerError:
		return "internalServerError"
	case CloseTLSHandshakeFailure:
		return "tlsHandshakeFailure"
	}
	return fmt.Sprintf("CloseCode(%d)", int(c))
}

// sendable reports whether an endpoint may put c in a close frame: the
// codes RFC 6455 defines for that (1000-1003, 1007-1011), those IANA added
// since (1012-1014), and 3000-4999.
func (c CloseCode) sendable() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014, c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// WebSocketMessageType tells a text message from a binary one.
type WebSocketMessageType int

const (
	// WebSocketText is a text message (Apple's .string): UTF-8 data.
	WebSocketText WebSocketMessageType = 1
	// WebSocketBinary is a binary message (Apple's .data).
	WebSocketBinary WebSocketMessageType = 2
)

// String returns "text" or "binary".
func (t WebSocketMessageType) String() string {
	switch t {
	case WebSocketText:
		return "text"
	case WebSocketBinary:
		return "binary"
	}
	return fmt.Sprintf("WebSocketMessageType(%d)", int(t))
}

// WebSocketMessage is one WebSocket message: Apple's
// URLSessionWebSocketTask.Message.
type WebSocketMessage struct {
	// Type is WebSocketText or WebSocketBinary.
	Type WebSocketMessageType
	// Data is the message's payload; for a text message, UTF-8 text.
	Data []byte
}

// TextMessage returns a text message holding s.
func TextMessage(s string) WebSocketMessage {
	return WebSocketMessage{Type: WebSocketText, Data: []byte(s)}
}

// BinaryMessage returns a binary message holding b (not copied).
func BinaryMessage(b []byte) WebSocketMessage {
	return WebSocketMessage{Type: WebSocketBinary, Data: b}
}

// Text returns the payload as a string, whatever the type.
func (m WebSocketMessage) Text() string { return string(m.Data) }

// DefaultMaximumMessageSize is the largest message a WebSocketTask receives
// unless SetMaximumMessageSize changes it: 1 MiB, Apple's default.
const DefaultMaximumMessageSize = 1 << 20

// ErrInvalidCloseCode is returned by CancelWith for a close code an
// endpoint may not send (such as 1005, 1006 or 1015) or a reason longer
// than 123 bytes.
var ErrInvalidCloseCode = errors.New("urlsession: invalid WebSocket close code or reason")

// WebSocketOpenDelegate hears that a WebSocket task's handshake succeeded.
type WebSocketOpenDelegate interface {
	// DidOpenWithProtocol is called once the server accepted the
	// WebSocket handshake, before any message is received. protocol is
	// the subprotocol the server chose, "" for none.
	DidOpenWithProtocol(s *Session, t *WebSocketTask, protocol string)
}

// WebSocketCloseDelegate hears that the server closed a WebSocket.
type WebSocketCloseDelegate interface {
	// DidCloseWith is called when a close frame arrived from the server,
	// whether the server closed first or answered CancelWith: code is the
	// frame's code (CloseNoStatusReceived when it had none) and reason its
	// reason, nil when empty. It comes before the task's metrics and
	// DidCompleteWithError.
	DidCloseWith(s *Session, t *WebSocketTask, code CloseCode, reason []byte)
}

// WebSocketTask exchanges messages with a WebSocket server (RFC 6455):
// Apple's URLSessionWebSocketTask. It has every method of Task; create it
// with Session.WebSocketTask or WebSocketTaskWithRequest and Resume it.
//
// The handshake is an HTTP/1.1 upgrade request sent as any request of the
// session is: with the configuration's additional headers, the session's
// cookies (and the response's Set-Cookie stored), App Transport Security
// (ws is cleartext as http is), redirects, the authentication challenges
// of a server's 401, the server-trust and client-certificate challenges of
// wss, the configuration's dialer, TLS settings and proxies, and
// DidFinishCollectingMetrics with the handshake's transaction.
//
// Proxies are chosen as for http (ws) and https (wss) URLs (see
// ProxyConfiguration). Through an HTTP or HTTPS proxy, ws and wss alike go
// through a CONNECT tunnel, as browsers send them, since the upgraded
// connection must reach the server itself: the proxy never sees the
// handshake, and a wss handshake's TLS runs end to end with the server.
// Through a SOCKS gateway the connection is a SOCKS one. A 407 to the
// CONNECT raises the proxy's authentication challenge, answered like a
// server's 401, and the handshake is sent again; a 407 left unanswered
// fails the task with ErrBadServerResponse, Response being the 407, as
// any answer other than 101 does.
// permessage-deflate (RFC 7692) is offered without context takeover; a
// server that accepts it without server_no_context_takeover fails the
// handshake with ErrBadServerResponse, as does any answer RFC 6455 4.1
// or RFC 7692 section 5 has a client refuse, the connection closed. RFC
// 8441 (WebSockets over HTTP/2) is not supported: wss negotiates
// HTTP/1.1.
//
// Once open, messages are sent with Send and received with Receive; the
// task's idle timeout (TimeoutIntervalForRequest) no longer applies, its
// resource timeout does. The task ends when the server closes (a close
// frame: DidCloseWith, then completion with a nil error), after CancelWith
// (the same once the server answers), with Cancel (ErrCancelled), or when
// the connection fails:
//
//   - the connection lost without a close frame: ErrNetworkConnectionLost,
//     CloseCode CloseAbnormalClosure;
//   - a message over MaximumMessageSize: ErrDataLengthExceedsMaximum (its
//     cause matches syscall.EMSGSIZE, the POSIX error Apple reports),
//     close code CloseMessageTooBig sent, as soon as the frame lengths
//     announce it, without waiting for the bytes;
//   - a frame that breaks the protocol (a masked frame, reserved bits or
//     opcodes, a fragmented control frame, a continuation without a
//     start), a close frame with an invalid code or a reason over 123
//     bytes: ErrBadServerResponse, close code CloseProtocolError sent;
//   - a text message that is not UTF-8, or a close frame whose reason is
//     not: ErrBadServerResponse, close code CloseInvalidFramePayloadData
//     sent; a message fails as soon as bytes arrive (decompressed, if
//     compressed) that no continuation could make UTF-8, without
//     waiting for its end;
//   - a handshake the server refuses or answers wrongly:
//     ErrBadServerResponse, CloseCode CloseInvalid.
//
// Suspend before the handshake delays it; afterwards it does not pause the
// connection. All methods are safe for concurrent use.
type WebSocketTask struct {
	*Task
	ws *wsState
}

// wsState is a WebSocket task's own state.
type wsState struct {
	protocols []string
	header    http.Header

	opened chan struct{} // closed once conn is set
	ended  chan struct{} // closed once the task's end is known (endErr)

	mu          sync.Mutex
	conn        *websocket.Conn
	guard       *wsGuard
	maxSize     atomic.Int64 // read without mu by wsGuard
	protocol    string
	closeCode   CloseCode
	closeReason []byte
	closing     bool   // CancelWith sent a close frame
	endErr      *Error // nil for a clean close

	// The read side, one reader at a time (see Receive): a Receive that
	// reads for itself, or the task's goroutine, which reads for the
	// Receive calls that wait and while no Receive is in progress.
	reading  bool                         // a reader holds the read side
	self     bool                         // that reader is a Receive reading for itself
	queue    []*wsWaiter                  // Receive calls waiting for the task's goroutine, in call order
	ahead    [wsMaxAhead]WebSocketMessage // read by the task's goroutine before any Receive asked
	nAhead   int
	pings    int                      // SendPing calls waiting for their pong
	activity uint64                   // counts the reads of Receive calls that read for themselves
	keepOn   bool                     // the last Receive the task's goroutine read for could not read for itself: read on
	parked   bool                     // the task's goroutine waits for a kick, its idle timer not rearmed
	spare    atomic.Pointer[wsWaiter] // the wsWaiter of a Receive that returned, for the next
	kick     chan struct{}            // wakes the task's goroutine to look at the read side again
	readErr  chan error               // a Receive's read ended the connection: for the task's goroutine
	text     utf8Reader               // the reader's check of a text message (see readOne)

	// The completion forms run on goroutines of their own, each after the
	// one called before it of its kind (see turn): the last of each chain,
	// closed when that call has finished and queued its handler.
	sendTail, recvTail chan struct{}
}

// turn puts a call of a completion form at the end of tail's chain. The
// call's goroutine does wait() before it starts and done() once its
// handler is queued, so that the calls of a kind run, and their handlers
// are queued, in the order they were made, as Apple serves them.
func (ws *wsState) turn(tail *chan struct{}) (wait func(), done func()) {
	next := make(chan struct{})
	ws.mu.Lock()
	prev := *tail
	*tail = next
	ws.mu.Unlock()
	return func() {
			if prev != nil {
				<-prev
			}
		}, func() {
			ws.mu.Lock()
			if *tail == next {
				*tail = nil // nothing waits: let the chain start afresh
			}
			ws.mu.Unlock()
			close(next)
		}
}

// wsWaiter is a Receive waiting for the task's goroutine to read for it.
type wsWaiter struct {
	ch     chan WebSocketMessage // gets the message; buffered
	inline bool                  // the Receive could have read for itself
}

// wsMaxAhead is how many messages the task reads before Receive asks for
// them, at most.
const wsMaxAhead = 2

// wsIdleRead is how long the connection may go without a Receive before
// the task's goroutine reads on its own, to answer pings and see a close.
const wsIdleRead = 10 * time.Millisecond

// WebSocketTask returns a suspended task that opens a WebSocket to u, a
// ws or wss URL (http and https are taken as ws and wss), offering the
// given subprotocols in Sec-WebSocket-Protocol. A URL of another scheme
// fails the task with ErrUnsupportedURL once resumed.
func (s *Session) WebSocketTask(u *url.URL, protocols []string) *WebSocketTask {
	req := &http.Request{Method: http.MethodGet, Header: http.Header{}}
	if u != nil {
		u2 := *u
		req.URL = &u2
		req.Host = u2.Host
	}
	return s.newWebSocketTask(req, protocols)
}

// WebSocketTaskWithRequest returns a suspended WebSocket task for req, a
// GET of a ws or wss URL whose headers are sent with the handshake; the
// subprotocols offered are those of its Sec-WebSocket-Protocol header. The
// headers the handshake sets itself (Connection, Upgrade and the
// Sec-WebSocket ones) are replaced. req's context, if cancelled, cancels
// the task.
func (s *Session) WebSocketTaskWithRequest(req *http.Request) *WebSocketTask {
	var protocols []string
	if req != nil {
		for _, v := range req.Header.Values("Sec-WebSocket-Protocol") {
			for p := range strings.SplitSeq(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					protocols = append(protocols, p)
				}
			}
		}
	}
	return s.newWebSocketTask(req, protocols)
}

func (s *Session) newWebSocketTask(req *http.Request, protocols []string) *WebSocketTask {
	w := &WebSocketTask{ws: &wsState{
		protocols: protocols,
		opened:    make(chan struct{}),
		ended:     make(chan struct{}),
		kick:      make(chan struct{}, 1),
		readErr:   make(chan error, 1),
	}}
	w.ws.maxSize.Store(DefaultMaximumMessageSize)
	if req != nil {
		w.ws.header = req.Header.Clone()
		for _, k := range []string{"Connection", "Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version",
			"Sec-Websocket-Extensions", "Sec-Websocket-Protocol", "Sec-Websocket-Accept"} {
			delete(w.ws.header, textproto.CanonicalMIMEHeaderKey(k))
		}
	}
	t := s.newTaskOf(req, bodySource{}, delivery{}, func(t *Task) sockTask {
		w.Task = t
		return w
	})
	if t.State() == TaskCompleted {
		w.Task = t
		w.ws.end(t.Err())
	}
	return w
}

func (w *WebSocketTask) addTo(set *TaskSet) { set.WebSocket = append(set.WebSocket, w) }

// MaximumMessageSize returns the largest message Receive accepts, in
// bytes: DefaultMaximumMessageSize (1 MiB) unless set.
func (w *WebSocketTask) MaximumMessageSize() int {
	return int(w.ws.maxSize.Load())
}

// SetMaximumMessageSize sets the largest message the task accepts, in
// bytes (after decompression). It applies from the next message read; n
// below 1 is taken as 1. A larger message fails the task with
// ErrDataLengthExceedsMaximum and close code CloseMessageTooBig.
func (w *WebSocketTask) SetMaximumMessageSize(n int) {
	n = max(n, 1)
	w.ws.mu.Lock()
	w.ws.maxSize.Store(int64(n))
	c := w.ws.conn
	w.ws.mu.Unlock()
	if c != nil {
		c.SetReadLimit(int64(n))
	}
}

// CloseCode returns the code of the first close frame sent or received:
// CloseInvalid while the connection is open or when the handshake never
// completed, CloseAbnormalClosure when the connection was lost without
// one.
func (w *WebSocketTask) CloseCode() CloseCode {
	w.ws.mu.Lock()
	defer w.ws.mu.Unlock()
	return w.ws.closeCode
}

// CloseReason returns the reason of the first close frame sent or
// received, nil if it had none.
func (w *WebSocketTask) CloseReason() []byte {
	w.ws.mu.Lock()
	defer w.ws.mu.Unlock()
	return w.ws.closeReason
}

// Protocol returns the subprotocol the server chose, "" before the
// handshake or when it chose none.
func (w *WebSocketTask) Protocol() string {
	w.ws.mu.Lock()
	defer w.ws.mu.Unlock()
	return w.ws.protocol
}

// CancelWith closes the WebSocket with code and reason: Apple's
// cancel(with:reason:). When open, the task sends a close frame and
// completes, with a nil error, once the server answered it (DidCloseWith
// reports the answer) or after five seconds; before the handshake
// completes it is Cancel. code must be one an endpoint may send (1000-1003,
// 1007-1014, 3000-4999) and reason at most 123 bytes, else CancelWith
// returns ErrInvalidCloseCode and does nothing. Calls after the first, and
// after the connection closed, do nothing. Messages that arrive after
// CancelWith, before the server's answer, are discarded.
func (w *WebSocketTask) CancelWith(code CloseCode, reason []byte) error {
	if !code.sendable() || len(reason) > 123 {
		return ErrInvalidCloseCode
	}
	ws := w.ws
	ws.mu.Lock()
	c := ws.conn
	first := !ws.closing && ws.closeCode == CloseInvalid
	if first {
		ws.closing = true
		ws.closeCode, ws.closeReason = code, reason
	}
	ws.mu.Unlock()
	if !first {
		return nil
	}
	if c == nil {
		w.Cancel()
		return nil
	}
	// The task's goroutine reads until the server's answer (or the
	// library's close handshake reads it, see readEnded).
	ws.wake()
	go func() {
		c.Close(websocket.StatusCode(code), string(reason)) // ends when the server answers, or after its own timeout
		ws.wake()
	}()
	return nil
}

// wake kicks the task's goroutine to look at the read side again.
func (ws *wsState) wake() {
	select {
	case ws.kick <- struct{}{}:
	default:
	}
}

// wait returns the open connection, waiting for the handshake; an error
// when the task ended first or ctx is done.
func (w *WebSocketTask) wait(ctx context.Context) (*websocket.Conn, error) {
	select {
	case <-w.ws.opened:
	default:
		select {
		case <-w.ws.opened:
		case <-w.ws.ended:
			return nil, w.ws.notConnected(w.Task)
		case <-w.Done(): // cancelled before it started
			return nil, w.ws.notConnected(w.Task)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case <-w.ws.ended:
		return nil, w.ws.notConnected(w.Task)
	default:
	}
	w.ws.mu.Lock()
	defer w.ws.mu.Unlock()
	return w.ws.conn, nil
}

// notConnected is the error of a message sent or received after the task
// ended: the task's own error when it failed, otherwise one of code
// ErrNetworkConnectionLost whose cause matches syscall.ENOTCONN, the POSIX
// error Apple reports ("socket is not connected").
func (ws *wsState) notConnected(t *Task) error {
	if err := t.Err(); err != nil {
		return err
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.endErr != nil {
		return ws.endErr
	}
	u := ""
	if r := t.OriginalRequest(); r != nil && r.URL != nil {
		u = r.URL.Redacted()
	}
	return &Error{Code: ErrNetworkConnectionLost, URL: u, Err: fmt.Errorf("urlsession: the WebSocket is closed: %w", syscall.ENOTCONN)}
}

// Send sends a message, waiting for the handshake first if the task has
// not opened yet. Messages are sent whole and one at a time, each in the
// order its Send began. It returns once the message was written, ctx's
// error when ctx ends before the message starts out, or an *Error when the
// task has ended. Once a message started out it cannot be taken back: if
// ctx ends while it is written, the task ends with ErrTimedOut or
// ErrCancelled (for a deadline or a cancellation).
func (w *WebSocketTask) Send(ctx context.Context, m WebSocketMessage) error {
	typ := websocket.MessageBinary
	switch m.Type {
	case WebSocketText:
		typ = websocket.MessageText
	case WebSocketBinary:
	default:
		return fmt.Errorf("urlsession: invalid WebSocket message type %d", int(m.Type))
	}
	c, err := w.wait(ctx)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The library closes the connection when the context of a write ends;
	// the task's end closes it anyway, so it gets none, and ctx ending
	// ends the task with a code of its own.
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { w.cancelWith(opCancelled(ctx)) })
	}
	err = c.Write(context.Background(), typ, m.Data)
	if stop != nil {
		stop()
	}
	if err != nil {
		return w.opError(err)
	}
	w.sent.Add(int64(len(m.Data)))
	return nil
}

// opCancelled is the error a task ends with when the context of a
// message being sent ends.
func opCancelled(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fail.New(int(ErrTimedOut), errors.New("urlsession: a WebSocket message could not be sent in time"))
	}
	return fail.New(int(ErrCancelled), errors.New("urlsession: a WebSocket message was cancelled while being sent"))
}

// opError is the error of a Send or SendPing that failed: the task's,
// once it ended, else err wrapped in an *Error.
func (w *WebSocketTask) opError(err error) error {
	select {
	case <-w.ws.ended:
		return w.ws.notConnected(w.Task)
	case <-w.Done():
		return w.ws.notConnected(w.Task)
	default:
	}
	return classify(err, w.ws.url(w.Task))
}

func (ws *wsState) url(t *Task) string {
	if r := t.OriginalRequest(); r != nil && r.URL != nil {
		return r.URL.Redacted()
	}
	return ""
}

// Receive returns the next message, waiting for it (and for the handshake
// if need be). Messages are returned in the order they arrived, each to
// one Receive, and concurrent Receive calls are served in the order they
// were made. It returns ctx's error when ctx ends first (the connection is
// not affected), and an *Error once the task ended and every message
// received before has been returned (see WebSocketTask for the errors).
// Messages that arrive after CancelWith are discarded.
//
// A Receive whose ctx cannot be cancelled (ctx.Done() is nil, as for
// context.Background), made while no other is in progress, reads the
// message on its caller's goroutine. Otherwise the task reads for it, and
// goes on reading while such Receive calls follow. When no Receive is in
// progress for 10 ms, the task reads on its own, so that pings are
// answered, pongs seen and a close from the server reported (DidCloseWith)
// while nothing receives. The task reads two messages ahead of Receive at
// most; then it waits for a Receive.
func (w *WebSocketTask) Receive(ctx context.Context) (WebSocketMessage, error) {
	ws := w.ws
	select {
	case <-ws.opened: // messages read before the end are still returned
	default:
		if _, err := w.wait(ctx); err != nil {
			return WebSocketMessage{}, err
		}
	}
	ws.mu.Lock()
	if ws.nAhead > 0 {
		m := ws.ahead[0]
		copy(ws.ahead[:], ws.ahead[1:])
		ws.nAhead--
		ws.ahead[ws.nAhead] = WebSocketMessage{}
		parked := ws.parked
		ws.mu.Unlock()
		if parked {
			ws.wake() // the task's goroutine may read again
		}
		return m, nil
	}
	if ws.isEnded() || ws.closing {
		ws.mu.Unlock()
		return w.receiveEnd(ctx)
	}
	inline := ctx.Done() == nil
	if inline && !ws.reading && len(ws.queue) == 0 {
		ws.reading, ws.self = true, true
		c := ws.conn
		ws.mu.Unlock()
		m, err := w.readOne(c)
		ws.mu.Lock()
		if err != nil {
			// The read side stays taken: the task's goroutine ends the
			// task.
			ws.mu.Unlock()
			ws.readErr <- err
			return w.receiveEnd(ctx)
		}
		ws.reading, ws.self = false, false
		ws.activity++
		ws.keepOn = false // Receive calls read for themselves again
		closing := ws.closing
		if ws.parked || len(ws.queue) > 0 || ws.pings > 0 || closing {
			ws.parked = false
			ws.wake()
		}
		ws.mu.Unlock()
		if closing {
			return w.receiveEnd(ctx) // discarded
		}
		return m, nil
	}
	wt := ws.spare.Swap(nil)
	if wt == nil {
		wt = &wsWaiter{ch: make(chan WebSocketMessage, 1)}
	}
	wt.inline = inline
	ws.queue = append(ws.queue, wt)
	if !ws.reading {
		ws.wake()
	}
	ws.mu.Unlock()
	select {
	case m := <-wt.ch:
		ws.spare.CompareAndSwap(nil, wt)
		return m, nil
	case <-ws.ended:
	case <-w.Done():
	case <-ctx.Done():
	}
	// Leave the queue, unless the message came meanwhile.
	ws.mu.Lock()
	for k, q := range ws.queue {
		if q == wt {
			n := k + copy(ws.queue[k:], ws.queue[k+1:])
			ws.queue[n] = nil
			ws.queue = ws.queue[:n]
			break
		}
	}
	ws.mu.Unlock()
	select {
	case m := <-wt.ch:
		ws.spare.CompareAndSwap(nil, wt)
		return m, nil
	default:
	}
	ws.spare.CompareAndSwap(nil, wt) // out of the queue, nothing sent to it
	if err := ctx.Err(); err != nil {
		return WebSocketMessage{}, err
	}
	return WebSocketMessage{}, ws.notConnected(w.Task)
}

// isEnded reports whether the task's end is known.
func (ws *wsState) isEnded() bool {
	select {
	case <-ws.ended:
		return true
	default:
		return false
	}
}

// receiveEnd is the outcome of a Receive that no message will come to:
// the task's error once it ended, or ctx's if ctx ends first.
func (w *WebSocketTask) receiveEnd(ctx context.Context) (WebSocketMessage, error) {
	select {
	case <-w.ws.ended:
	case <-w.Done():
	case <-ctx.Done():
		return WebSocketMessage{}, ctx.Err()
	}
	return WebSocketMessage{}, w.ws.notConnected(w.Task)
}

// readOne reads the next message; an error ends the task (see
// readFailed).
func (w *WebSocketTask) readOne(c *websocket.Conn) (WebSocketMessage, error) {
	typ, r, err := c.Reader(context.Background())
	if err != nil {
		return WebSocketMessage{}, err
	}
	// Text is checked as it comes, so that a compressed message fails at
	// its first bytes that cannot be UTF-8 (wsGuard does so for the
	// others, before the library reads them). One reader at a time uses
	// ws.text.
	var data []byte
	if typ == websocket.MessageText {
		tr := &w.ws.text
		*tr = utf8Reader{r: r}
		data, err = io.ReadAll(tr)
		if err == nil && !tr.v.done() {
			err = errTextNotUTF8
		}
		tr.r = nil
	} else {
		data, err = io.ReadAll(r)
	}
	if err != nil {
		return WebSocketMessage{}, err
	}
	w.received.Add(int64(len(data)))
	m := WebSocketMessage{Type: WebSocketBinary, Data: data}
	if typ == websocket.MessageText {
		m.Type = WebSocketText
	}
	return m, nil
}

// utf8Reader reads r, failing with errTextNotUTF8 once what it read
// cannot be the start of UTF-8 text.
type utf8Reader struct {
	r io.Reader
	v utf8Check
}

func (u *utf8Reader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if !u.v.write(p[:n]) {
		return 0, errTextNotUTF8
	}
	return n, err
}

// errTextNotUTF8 is a text message that is not UTF-8.
var errTextNotUTF8 = errors.New("urlsession: the server sent a text message that is not UTF-8")

// SendPing sends a ping and returns when its pong arrived: Apple's
// sendPing(pongReceiveHandler:). It returns ctx's error if ctx ends first
// and an *Error when the task ended. The pong is read by a Receive in
// progress or by the task, which reads ahead of Receive by two messages
// at most: a ping waits while two messages nobody receives are pending.
func (w *WebSocketTask) SendPing(ctx context.Context) error {
	c, err := w.wait(ctx)
	if err != nil {
		return err
	}
	ws := w.ws
	ws.mu.Lock()
	ws.pings++
	ws.mu.Unlock()
	ws.wake()
	err = c.Ping(ctx)
	ws.mu.Lock()
	ws.pings--
	ws.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return w.opError(err)
	}
	return nil
}

// SendWithCompletion sends m as Send does, without a context, and calls
// handler with the outcome on the session's delegate queue: Apple's
// send(_:completionHandler:). Messages given to SendWithCompletion go out
// in the order of the calls, and their handlers run in that order.
func (w *WebSocketTask) SendWithCompletion(m WebSocketMessage, handler func(err error)) {
	wait, done := w.ws.turn(&w.ws.sendTail)
	go func() {
		wait()
		err := w.Send(context.Background(), m)
		w.session.queue.add(func() { handler(err) })
		done()
	}()
}

// ReceiveWithCompletion waits for the next message as Receive does and
// calls handler with it on the session's delegate queue: Apple's
// receive(completionHandler:). Calls made one after another get the
// messages in the order of the calls, and their handlers run in that
// order.
func (w *WebSocketTask) ReceiveWithCompletion(handler func(m WebSocketMessage, err error)) {
	wait, done := w.ws.turn(&w.ws.recvTail)
	go func() {
		wait()
		m, err := w.Receive(context.Background())
		w.session.queue.add(func() { handler(m, err) })
		done()
	}()
}

// SendPingWithHandler sends a ping as SendPing does and calls handler when
// the pong arrived (nil) or the task ended (its error), on the session's
// delegate queue: Apple's sendPing(pongReceiveHandler:).
func (w *WebSocketTask) SendPingWithHandler(handler func(err error)) {
	go func() {
		err := w.SendPing(context.Background())
		w.session.queue.add(func() { handler(err) })
	}()
}

// end records the task's end; the first call wins.
func (ws *wsState) end(e error) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	select {
	case <-ws.ended:
		return
	default:
	}
	if e != nil {
		ws.endErr, _ = e.(*Error)
	}
	close(ws.ended)
}

// runSock runs the task: the handshake, then the reader, to its end.
func (w *WebSocketTask) runSock(ctx context.Context) {
	t := w.Task
	dels := t.delegates()
	err := t.waitRunning(ctx)
	if err == nil {
		err = t.delegateProblem()
	}
	if err == nil {
		err = ctx.Err()
	}
	var c *websocket.Conn
	var resp *http.Response
	if err == nil {
		c, resp, err = w.handshake(ctx, dels)
	}
	if err != nil {
		w.finish(ctx, resp, err, false, 0, nil)
		return
	}
	defer c.CloseNow()
	// The connection is open: idleness is no longer a reason to end it (see
	// onTimer); the resource timeout still runs.
	t.inDelegate.Add(1)
	ws := w.ws
	ws.mu.Lock()
	ws.conn = c
	ws.protocol = c.Subprotocol()
	c.SetReadLimit(ws.maxSize.Load())
	ws.mu.Unlock()
	close(ws.opened)
	if d, ok := delegateFor[WebSocketOpenDelegate](t); ok {
		proto := c.Subprotocol()
		t.session.queue.add(func() { d.DidOpenWithProtocol(t.session, w, proto) })
	}
	// The task's end (Cancel, a timeout) closes the connection, which ends
	// the read in progress; reads get no context of their own, which the
	// library would watch for each message.
	stopClose := context.AfterFunc(ctx, func() { go c.CloseNow() })
	defer stopClose()
	w.serveReads(ctx, c, resp)
}

// serveReads reads for the Receive calls that cannot read for themselves,
// for pings, for CancelWith's close handshake, and on its own once no
// Receive was in progress for wsIdleRead, until the task ends.
func (w *WebSocketTask) serveReads(ctx context.Context, c *websocket.Conn, resp *http.Response) {
	ws := w.ws
	idle := time.NewTimer(wsIdleRead)
	defer idle.Stop()
	var seen uint64 // ws.activity when idle was armed
	fired := false
	for {
		read := false
		ws.mu.Lock()
		switch {
		case ws.reading && fired && ws.activity == seen:
			// A Receive has been reading for a while: it kicks when done.
			ws.parked = true
		case ws.reading:
			// Receive calls read for themselves: look again in a while
			// (a kick when each is done would be a wake-up per message).
			seen = ws.activity
			idle.Reset(wsIdleRead)
		case ws.closing || len(ws.queue) > 0: // messages discarded, or for the queue
			read = true
		case ws.nAhead == wsMaxAhead:
			ws.parked = true // until a Receive takes one
		case ws.pings > 0 || ws.keepOn || fired && ws.activity == seen:
			read = true
		default:
			seen = ws.activity
			idle.Reset(wsIdleRead)
		}
		if read {
			ws.reading, ws.parked = true, false
		}
		ws.mu.Unlock()
		fired = false
		if !read {
			select {
			case <-ws.kick:
			case <-idle.C:
				fired = true
			case err := <-ws.readErr:
				w.readFailed(ctx, c, resp, err)
				return
			case <-ctx.Done():
				w.finish(ctx, resp, context.Cause(ctx), false, 0, nil)
				return
			}
			continue
		}
		m, err := w.readOne(c)
		if err != nil {
			w.readFailed(ctx, c, resp, err)
			return
		}
		ws.mu.Lock()
		ws.reading = false
		switch {
		case ws.closing: // discarded
		case len(ws.queue) > 0:
			wt := ws.queue[0]
			n := copy(ws.queue, ws.queue[1:])
			ws.queue[n] = nil
			ws.queue = ws.queue[:n]
			wt.ch <- m
			ws.keepOn = !wt.inline
		default:
			ws.ahead[ws.nAhead] = m
			ws.nAhead++
		}
		ws.mu.Unlock()
	}
}

// readFailed ends the task after a read's error err.
func (w *WebSocketTask) readFailed(ctx context.Context, c *websocket.Conn, resp *http.Response, err error) {
	// RFC 6455 8.1: text that is not UTF-8, in a message or a close
	// frame's reason, fails the connection; 7.4.1 gives it code 1007.
	if (errors.Is(err, errTextNotUTF8) || errors.Is(err, errCloseReasonNotUTF8)) && ctx.Err() == nil {
		c.Close(websocket.StatusInvalidFramePayloadData, "invalid UTF-8")
		cause := errTextNotUTF8
		if errors.Is(err, errCloseReasonNotUTF8) {
			cause = errCloseReasonNotUTF8
		}
		w.finish(ctx, resp, fail.New(int(ErrBadServerResponse), cause), false, CloseInvalidFramePayloadData, nil)
		return
	}
	if w.guardStopped(ctx, c, resp, err) {
		return
	}
	w.readEnded(ctx, resp, err)
}

// readEnded ends the task after the reader's error err.
func (w *WebSocketTask) readEnded(ctx context.Context, resp *http.Response, err error) {
	ws := w.ws
	ws.mu.Lock()
	closing := ws.closing
	ws.mu.Unlock()
	var ce websocket.CloseError
	switch {
	case ctx.Err() != nil:
		w.finish(ctx, resp, context.Cause(ctx), false, 0, nil)
	case errors.As(err, &ce):
		var reason []byte
		if ce.Reason != "" {
			reason = []byte(ce.Reason)
		}
		w.finish(ctx, resp, nil, true, CloseCode(ce.Code), reason)
	case closing:
		// CancelWith's close handshake read the server's answer itself, or
		// ended without it.
		if code, reason, ok := ws.heardClose(); ok {
			w.finish(ctx, resp, nil, true, code, reason)
			return
		}
		w.finish(ctx, resp, nil, false, 0, nil)
	case errors.Is(err, websocket.ErrMessageTooBig):
		w.finish(ctx, resp, fail.New(int(ErrDataLengthExceedsMaximum),
			fmt.Errorf("urlsession: a WebSocket message is larger than the maximum message size of %d bytes: %w", w.MaximumMessageSize(), syscall.EMSGSIZE)),
			false, CloseMessageTooBig, nil)
	case lostConnection(err):
		w.finish(ctx, resp, fail.New(int(ErrNetworkConnectionLost), err), false, CloseAbnormalClosure, nil)
	default:
		w.finish(ctx, resp, fail.New(int(ErrBadServerResponse), err), false, CloseProtocolError, nil)
	}
}

// guardStopped ends the task after a violation wsGuard caught, closing
// the connection with the close code it calls for; it reports false for
// any other error.
func (w *WebSocketTask) guardStopped(ctx context.Context, c *websocket.Conn, resp *http.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if errors.Is(err, errServerFrameMasked) {
		c.Close(websocket.StatusProtocolError, "masked frame")
		w.finish(ctx, resp, fail.New(int(ErrBadServerResponse), errServerFrameMasked), false, CloseProtocolError, nil)
		return true
	}
	if big, ok := errors.AsType[*wsAnnouncedTooBig](err); ok {
		c.Close(websocket.StatusMessageTooBig, "message too big")
		w.finish(ctx, resp, fail.New(int(ErrDataLengthExceedsMaximum), fmt.Errorf("%w: %w", big, syscall.EMSGSIZE)),
			false, CloseMessageTooBig, nil)
		return true
	}
	return false
}

// heardClose returns the code and reason of the close frame the server
// sent, when one passed the guard and is valid.
func (ws *wsState) heardClose() (CloseCode, []byte, bool) {
	ws.mu.Lock()
	g := ws.guard
	ws.mu.Unlock()
	if g == nil {
		return 0, nil, false
	}
	p, ok := g.closeFrame()
	switch {
	case !ok || len(p) == 1:
		return 0, nil, false
	case len(p) == 0:
		return CloseNoStatusReceived, nil, true
	}
	code := CloseCode(binary.BigEndian.Uint16(p))
	if !code.sendable() {
		return 0, nil, false
	}
	var reason []byte
	if len(p) > 2 {
		reason = p[2:]
	}
	return code, reason, true
}

// lostConnection reports whether a read error means the connection ended
// (closed, reset, cut short) rather than a protocol violation.
func lostConnection(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

// finish completes the task with err; heard reports a close frame from the
// server, with code and reason, for DidCloseWith; otherwise code (if not
// CloseInvalid) is the close code recorded for the task.
func (w *WebSocketTask) finish(ctx context.Context, resp *http.Response, err error, heard bool, code CloseCode, reason []byte) {
	t := w.Task
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	var e *Error
	if err != nil {
		e = classify(err, w.ws.url(t))
	}
	ws := w.ws
	ws.mu.Lock()
	if ws.closeCode == CloseInvalid && code != CloseInvalid {
		ws.closeCode, ws.closeReason = code, reason
	}
	ws.mu.Unlock()
	if heard {
		if d, ok := delegateFor[WebSocketCloseDelegate](t); ok {
			t.session.queue.add(func() { d.DidCloseWith(t.session, w, code, reason) })
		}
	}
	if e != nil {
		ws.end(e)
		t.complete(nil, resp, e, t.ownGoroutine)
		return
	}
	ws.end(nil)
	t.complete(nil, resp, nil, t.ownGoroutine)
}

// handshake opens the WebSocket: the upgrade request goes through the
// session's pipeline, whose transport hands over the connection.
func (w *WebSocketTask) handshake(ctx context.Context, dels *taskDelegates) (*websocket.Conn, *http.Response, error) {
	t := w.Task
	req := t.orig
	if req == nil || req.URL == nil {
		return nil, nil, fail.Newf(int(ErrUnsupportedURL), "the request has no URL")
	}
	switch strings.ToLower(req.URL.Scheme) {
	case "ws", "wss", "http", "https":
	default:
		return nil, nil, fail.Newf(int(ErrUnsupportedURL), "a WebSocket task cannot load a %q URL", req.URL.Scheme)
	}
	if req.Method != "" && req.Method != http.MethodGet {
		return nil, nil, fail.Newf(int(ErrUnsupportedURL), "a WebSocket handshake is a GET, not a %s", req.Method)
	}
	t.call.Hooks = hooks{t}
	t.call.WaitsForConnectivity = t.session.cfg.WaitsForConnectivity
	t.call.Metrics = dels.metrics != nil
	t.call.CachePolicy = int(ReloadIgnoringLocalCacheData)
	t.call.HandleCookies = !t.opts.DoNotHandleCookies
	t.call.ConnCheck = t.session.connCheck(t.opts)
	t.call.MainDocumentURL = t.opts.MainDocumentURL
	t.ran = true
	var rt wsRoundTrip
	rt.w = w
	opts := &websocket.DialOptions{
		HTTPClient: &http.Client{
			Transport:     &rt,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		HTTPHeader:      w.ws.header,
		Host:            req.Host,
		Subprotocols:    w.ws.protocols,
		CompressionMode: websocket.CompressionNoContextTakeover,
	}
	c, resp, err := websocket.Dial(ctx, req.URL.String(), opts)
	if resp == nil {
		resp = rt.resp
	}
	if err != nil {
		if rt.err != nil {
			return nil, resp, rt.err // the pipeline's error, with its code
		}
		if ctx.Err() != nil {
			return nil, resp, context.Cause(ctx)
		}
		return nil, resp, fail.New(int(ErrBadServerResponse), err)
	}
	return c, resp, nil
}

// wsRoundTrip sends a WebSocket task's handshake through the session's
// pipeline and gives the connection of a 101 response back as its body.
type wsRoundTrip struct {
	w    *WebSocketTask
	resp *http.Response
	err  error
}

func (rt *wsRoundTrip) RoundTrip(req *http.Request) (*http.Response, error) {
	t := rt.w.Task
	resp, err := t.session.chain.Do(req.Context(), &t.call, req)
	if err != nil {
		rt.err = err
		return nil, err
	}
	t.mu.Lock()
	t.response = resp
	t.mu.Unlock()
	rt.resp = resp
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if err := checkUpgradeAnswer(req, resp, rt.w.ws.protocols); err != nil {
			resp.Body.Close()
			rt.err = err
			return nil, err
		}
		if rwc := pipeline.Upgraded(resp.Body); rwc != nil {
			r2 := *resp
			g := &wsGuard{ReadWriteCloser: rwc, max: &rt.w.ws.maxSize}
			ws := rt.w.ws
			ws.mu.Lock()
			ws.guard = g
			ws.mu.Unlock()
			r2.Body = g
			return &r2, nil
		}
	}
	return resp, nil
}

// checkUpgradeAnswer checks a 101 answer to the WebSocket handshake req
// as the WebSocket library would (RFC 6455 4.1: the Upgrade and
// Connection headers, Sec-WebSocket-Accept, a subprotocol among those
// offered, the extensions, see checkDeflateAnswer), so that a wrong one
// fails the handshake at once with the connection closed, rather than
// after the library's three-second wait for bytes to quote from it.
func checkUpgradeAnswer(req *http.Request, resp *http.Response, protocols []string) error {
	bad := func(format string, a ...any) error {
		return fail.New(int(ErrBadServerResponse), fmt.Errorf("urlsession: a wrong WebSocket handshake answer: "+format, a...))
	}
	if !headerHasToken(resp.Header, "Connection", "upgrade") {
		return bad("Connection %q", resp.Header.Get("Connection"))
	}
	if !headerHasToken(resp.Header, "Upgrade", "websocket") {
		return bad("Upgrade %q", resp.Header.Get("Upgrade"))
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != base64.StdEncoding.EncodeToString(sum[:]) {
		return bad("Sec-WebSocket-Accept %q", got)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" && !slices.ContainsFunc(protocols, func(o string) bool { return strings.EqualFold(o, p) }) {
		return bad("the subprotocol %q was not offered", p)
	}
	return checkDeflateAnswer(resp.Header)
}

// headerHasToken reports whether a comma-separated header of h has token,
// in any case.
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// checkDeflateAnswer checks the server's Sec-WebSocket-Extensions answer
// to the task's offer of permessage-deflate with client_no_context_takeover
// and server_no_context_takeover, before the WebSocket library does, so
// that a wrong answer fails the handshake at once, the connection closed.
// The task requested no other extension (RFC 6455 4.1 and 9.1), and RFC
// 7692 section 5 lists the answers a client must refuse: parameters
// unknown, repeated, or with an invalid value, and client_max_window_bits,
// not offered (7.1.2.2). An answer without server_no_context_takeover is
// refused too: RFC 7692 7.1.1.1 has a server that accepts the offer
// include it, and a server that compressed each message with the history
// of the ones before would have the second message fail.
func checkDeflateAnswer(h http.Header) error {
	bad := func(why string) error {
		return fail.New(int(ErrBadServerResponse), errors.New("urlsession: the server answered the WebSocket extension offer wrongly: "+why))
	}
	var exts []string
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		for ext := range strings.SplitSeq(v, ",") {
			if ext = strings.TrimSpace(ext); ext != "" {
				exts = append(exts, ext)
			}
		}
	}
	if len(exts) == 0 {
		return nil
	}
	if len(exts) > 1 {
		return bad("more than one extension")
	}
	params := strings.Split(exts[0], ";")
	if name := strings.TrimSpace(params[0]); name != "permessage-deflate" {
		return bad(fmt.Sprintf("%q was not offered", name))
	}
	seen := map[string]bool{}
	for _, p := range params[1:] {
		name, val, hasVal := strings.Cut(strings.TrimSpace(p), "=")
		name = strings.TrimSpace(name) // the library, as RFC 7692 spells them: lower case
		if seen[name] {
			return bad("a repeated " + name)
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if hasVal {
				return bad(name + " with a value")
			}
		case "server_max_window_bits":
			val = strings.Trim(strings.TrimSpace(val), `"`)
			if len(val) > 2 || val == "" || val[0] == '0' || !(val >= "8" && len(val) == 1 || len(val) == 2 && val >= "10" && val <= "15") {
				return bad("server_max_window_bits=" + val)
			}
		default:
			return bad(fmt.Sprintf("the parameter %q", p))
		}
	}
	if !seen["server_no_context_takeover"] {
		return bad("permessage-deflate without server_no_context_takeover, which the offer asked for")
	}
	return nil
}
