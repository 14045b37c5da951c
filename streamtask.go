package urlsession

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/pipeline"
)

// StreamReadClosedDelegate hears that a stream task's read side closed.
type StreamReadClosedDelegate interface {
	// ReadClosed is called once the read side of the task's connection
	// is shut down, after CloseRead: Apple's readClosedFor. It does not
	// mean that the peer closed its side: ReadData reports that as
	// atEOF.
	ReadClosed(s *Session, t *StreamTask)
}

// StreamWriteClosedDelegate hears that a stream task's write side closed.
type StreamWriteClosedDelegate interface {
	// WriteClosed is called once the write side of the task's connection
	// is shut down, after CloseWrite and the writes queued before it:
	// Apple's writeClosedFor.
	WriteClosed(s *Session, t *StreamTask)
}

// StreamCaptureDelegate receives a stream task's connection after
// CaptureStreams.
type StreamCaptureDelegate interface {
	// DidBecomeStreams hands over the task's connection: Apple's
	// streamTask:didBecomeInputStream:outputStream:, with one Go
	// io.ReadWriteCloser in place of the two Foundation streams. Reads
	// return first any bytes the task had received but not delivered.
	// The stream also has a CloseWrite() error method, which shuts down
	// the write side. The delegate owns it from now on and must close
	// it; the task completes right after.
	DidBecomeStreams(s *Session, t *StreamTask, stream io.ReadWriteCloser)
}

// StreamTask is a TCP connection, optionally secured with TLS in band:
// Apple's URLSessionStreamTask. It has every method of Task; create it with
// Session.StreamTask and Resume it.
//
// Reads (ReadData) and writes (Write) are each queued and run one at a
// time in the order they were called; a read and a write may run at the
// same time. Calls made before Resume, or before the connection is open,
// wait for it. CloseRead and CloseWrite shut down one direction each,
// StartSecureConnection starts TLS on the open connection, and
// CaptureStreams hands the connection to the delegate; each waits for the
// reads and writes queued before it.
//
// The task connects through the session's proxies as Apple applies them
// to stream tasks, chosen as for an https URL of the host and port
// (Configuration.Proxy is asked with such a request; see
// ProxyConfiguration): through an HTTP or HTTPS proxy, a CONNECT tunnel
// to host:port; through a SOCKS gateway, a SOCKS connection; the entries
// of a PAC answer in order, falling over to the next when a proxy cannot
// be connected to; directly for an exception or DIRECT. A 407 to the
// CONNECT raises the proxy's authentication challenge as for a data task
// (see ProxyConfiguration), after which the CONNECT is sent again with the
// credential chosen; a 407 left unanswered fails the task with
// ErrUserAuthenticationRequired, and a proxy's refusal of the tunnel with
// ErrCannotConnectToHost. Whatever the route, the task's bytes and
// StartSecureConnection's TLS run end to end with the host, never with
// the proxy. Through an https proxy, CloseWrite before
// StartSecureConnection ends the TLS session with the proxy (a
// close_notify alert) in place of a TCP half-close; whether the host then
// reads end-of-file depends on the proxy. TCP connections
// are opened with the configuration's DialContext, and the connection
// attempt (proxy handshakes included) is bounded by
// TimeoutIntervalForRequest. Once connected, only the contexts of the
// calls and the resource timeout bound the task. It completes, with DidCompleteWithError, when both
// directions are closed (a nil error), after CaptureStreams (a nil
// error), when Cancel is called (ErrCancelled), or when the connection
// fails (ErrCannotConnectToHost, ErrNetworkConnectionLost, a TLS error,
// ...). App Transport Security does not apply to stream tasks, and there
// is no DNS-SD (Apple's deprecated NetService form): connect by host name
// and port. Apple's betterRouteDiscovered callback has no equivalent.
//
// All methods are safe for concurrent use.
type StreamTask struct {
	*Task
	st *streamState
}

// streamState is a stream task's own state.
type streamState struct {
	host   string
	port   int
	preset net.Conn // the connection to use instead of dialling, or nil

	opened chan struct{} // closed once conn is set
	ended  chan struct{} // closed once the task's end is known
	over   chan struct{} // closed to end the task (see stop)

	reads, writes opQueue

	mu          sync.Mutex
	conn        net.Conn // *tls.Conn once secured
	raw         net.Conn // the connection as dialled
	pending     []byte   // received but not yet delivered
	eof         bool
	readClosed  bool
	writeClosed bool
	readDone    bool // the read side is shut down
	writeDone   bool // the write side is shut down
	captured    bool
	overErr     error  // why over was closed
	endErr      *Error // the task's error, once ended
}

// StreamTask returns a suspended task that opens a TCP connection to host
// and port when resumed. An empty host or a port outside 1-65535 fails the
// task with ErrBadURL.
func (s *Session) StreamTask(host string, port int) *StreamTask {
	return s.newStreamTask(host, port, nil)
}

// newStreamTask returns a suspended stream task; with conn set, the task
// uses conn instead of connecting.
func (s *Session) newStreamTask(host string, port int, conn net.Conn) *StreamTask {
	st := &StreamTask{st: &streamState{
		host:   host,
		port:   port,
		preset: conn,
		opened: make(chan struct{}),
		ended:  make(chan struct{}),
		over:   make(chan struct{}),
	}}
	t := s.newTaskOf(nil, bodySource{}, delivery{}, func(t *Task) sockTask {
		st.Task = t
		return st
	})
	if t.State() == TaskCompleted {
		st.Task = t
		st.st.end(t.Err())
	}
	return st
}

func (st *StreamTask) addTo(set *TaskSet) { set.Stream = append(set.Stream, st) }

// Host returns the host the task connects to.
func (st *StreamTask) Host() string { return st.st.host }

// Port returns the port the task connects to.
func (st *StreamTask) Port() int { return st.st.port }

// runSock connects, then waits for the task's end.
func (st *StreamTask) runSock(ctx context.Context) {
	t := st.Task
	t.delegates()
	s := st.st
	err := t.waitRunning(ctx)
	if err == nil {
		err = t.delegateProblem()
	}
	if err == nil {
		err = ctx.Err()
	}
	conn := s.preset
	if err == nil && conn == nil {
		conn, err = st.dial(ctx)
	}
	if err != nil {
		if s.preset != nil {
			s.preset.Close()
		}
		st.finish(ctx, err)
		return
	}
	// Connected: idleness no longer ends the task (see onTimer); the calls'
	// contexts and the resource timeout do.
	t.inDelegate.Add(1)
	s.mu.Lock()
	s.conn, s.raw = conn, conn
	s.mu.Unlock()
	close(s.opened)
	select {
	case <-ctx.Done():
		st.finish(ctx, context.Cause(ctx))
	case <-s.over:
		s.mu.Lock()
		err := s.overErr
		s.mu.Unlock()
		st.finish(ctx, err)
	}
}

func (st *StreamTask) dial(ctx context.Context) (net.Conn, error) {
	s := st.st
	if s.host == "" || s.port < 1 || s.port > 65535 {
		return nil, fail.Newf(int(ErrBadURL), "urlsession: a stream task needs a host and a port from 1 to 65535, not %q and %d", s.host, s.port)
	}
	addr := net.JoinHostPort(s.host, strconv.Itoa(s.port))
	return st.session.proxies.dialFor(ctx, st.Task, addr)
}

// stop ends the task with err (nil for a clean end); the first call wins.
func (s *streamState) stop(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.over:
		return
	default:
	}
	s.overErr = err
	close(s.over)
}

// end records the task's end and closes the connection unless captured;
// the first call wins.
func (s *streamState) end(err error) {
	s.mu.Lock()
	select {
	case <-s.ended:
		s.mu.Unlock()
		return
	default:
	}
	s.endErr, _ = err.(*Error)
	close(s.ended)
	conn := s.conn
	if s.captured {
		conn = nil
	}
	s.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

func (st *StreamTask) finish(ctx context.Context, err error) {
	t := st.Task
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	var e *Error
	if err != nil {
		e = classify(err, "")
		st.st.end(e)
		t.complete(nil, nil, e, t.ownGoroutine)
		return
	}
	st.st.end(nil)
	t.complete(nil, nil, nil, t.ownGoroutine)
}

// notConnected is the error of a call after the task ended: the task's
// own error when it failed, otherwise one of code ErrNetworkConnectionLost
// whose cause matches syscall.ENOTCONN.
func (st *StreamTask) notConnected() error {
	if err := st.Err(); err != nil {
		return err
	}
	st.st.mu.Lock()
	defer st.st.mu.Unlock()
	if st.st.endErr != nil {
		return st.st.endErr
	}
	return &Error{Code: ErrNetworkConnectionLost, Err: fmt.Errorf("urlsession: the stream task has ended: %w", syscall.ENOTCONN)}
}

// errSideClosed is the cause of a read after CloseRead or a write after
// CloseWrite.
func errSideClosed(side string) error {
	return &Error{Code: ErrNetworkConnectionLost, Err: fmt.Errorf("urlsession: the %s side of the stream is closed: %w", side, syscall.ENOTCONN)}
}

// opQueue runs operations one at a time in the order they entered it.
type opQueue struct {
	mu      sync.Mutex
	busy    bool
	waiters []*opTurn
}

// opTurn is one operation's place in an opQueue.
type opTurn struct {
	q     *opQueue
	ready chan struct{} // closed when the turn comes
	gone  bool          // gave up before its turn
}

// enter takes a place in line; the turn may already have come.
func (q *opQueue) enter() *opTurn {
	w := &opTurn{q: q}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.busy {
		q.busy = true
		w.ready = closedTurn
	} else {
		w.ready = make(chan struct{})
		q.waiters = append(q.waiters, w)
	}
	return w
}

// closedTurn is the ready channel of a turn that came at once.
var closedTurn = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// done ends the turn (its operation finished, or it gave up).
func (w *opTurn) done() {
	q := w.q
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case <-w.ready:
	default:
		w.gone = true // still waiting: just leave the line
		return
	}
	for len(q.waiters) > 0 {
		next := q.waiters[0]
		q.waiters = q.waiters[1:]
		if !next.gone {
			close(next.ready)
			return
		}
	}
	q.busy = false
}

// wait waits for the turn and the open connection; on failure the turn is
// given up.
func (st *StreamTask) wait(ctx context.Context, turns ...*opTurn) error {
	for _, w := range turns {
		select {
		case <-w.ready:
			continue
		case <-st.st.ended:
		case <-st.Done():
		case <-ctx.Done():
		}
		for _, w := range turns {
			w.done()
		}
		if ctx.Err() != nil {
			return ctxError(ctx)
		}
		return st.notConnected()
	}
	select {
	case <-st.st.opened:
	case <-st.st.ended:
	case <-st.Done():
	case <-ctx.Done():
	}
	select {
	case <-st.st.ended:
	case <-st.Done():
	default:
		select {
		case <-st.st.opened:
			return nil
		default:
		}
	}
	for _, w := range turns {
		w.done()
	}
	if ctx.Err() != nil {
		return ctxError(ctx)
	}
	return st.notConnected()
}

// ctxError is the *Error of a call whose context ended: ErrTimedOut for a
// deadline, ErrCancelled otherwise.
func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{Code: ErrTimedOut, Err: ctx.Err()}
	}
	return &Error{Code: ErrCancelled, Err: ctx.Err()}
}

// deadline applies ctx's deadline and cancellation to one direction of
// conn (set is SetReadDeadline or SetWriteDeadline) until the returned
// function is called.
func deadline(ctx context.Context, set func(time.Time) error) (stop func()) {
	if ctx.Done() == nil {
		return func() {} // no deadline either; none is left set between calls
	}
	if d, ok := ctx.Deadline(); ok {
		set(d)
	}
	fired := make(chan struct{})
	stopAF := context.AfterFunc(ctx, func() {
		set(time.Unix(1, 0)) // in the past: the call in progress returns
		close(fired)
	})
	return func() {
		if !stopAF() {
			<-fired
		}
		set(time.Time{})
	}
}

// opFailed turns the error of a read or write into the call's error: a
// passed deadline is the call's own timeout (the task goes on); any other
// failure ends the task, and a call after the end gets the task's error.
func (st *StreamTask) opFailed(ctx context.Context, err error) error {
	select {
	case <-st.st.ended:
		return st.notConnected()
	default:
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if errors.Is(ctx.Err(), context.Canceled) {
			return ctxError(ctx)
		}
		return &Error{Code: ErrTimedOut, Err: err}
	}
	e := classify(err, "")
	if e.Code == ErrUnknown || e.Code == ErrBadServerResponse {
		e = &Error{Code: ErrNetworkConnectionLost, Err: err}
	}
	st.st.stop(e)
	<-st.st.ended
	return st.notConnected()
}

// ReadData reads between minLength and maxLength bytes: Apple's
// readData(ofMinLength:maxLength:timeout:). It returns once at least
// minLength bytes arrived (a minLength below 1 counts as 1) or the peer
// closed its side, with atEOF true when the peer closed its side and every
// byte before has been returned. ctx bounds the wait, as Apple's timeout
// does: when it ends first, ReadData returns an *Error with code
// ErrTimedOut (for a deadline) or ErrCancelled and no data, keeps what
// arrived for the next read, and the task goes on. After CloseRead, or
// once the task ended, it returns an error of code
// ErrNetworkConnectionLost (or the task's error) matching
// syscall.ENOTCONN. A maxLength below 1 or below minLength is an error.
func (st *StreamTask) ReadData(ctx context.Context, minLength, maxLength int) (data []byte, atEOF bool, err error) {
	if maxLength < 1 || minLength > maxLength {
		return nil, false, fmt.Errorf("urlsession: ReadData: invalid lengths %d to %d", minLength, maxLength)
	}
	var out []byte
	n, atEOF, err := st.read(ctx, minLength, maxLength, func(n int) []byte {
		out = make([]byte, n)
		return out
	})
	if n == 0 {
		return nil, atEOF, err
	}
	return out[:n:n], atEOF, err
}

// ReadDataInto is ReadData reading into p, for a caller that reuses its
// buffer: it reads between minLength and len(p) bytes into p and returns
// how many, with the same atEOF, errors and queueing as ReadData. An empty
// p or a minLength over len(p) is an error.
func (st *StreamTask) ReadDataInto(ctx context.Context, p []byte, minLength int) (n int, atEOF bool, err error) {
	if len(p) < 1 || minLength > len(p) {
		return 0, false, fmt.Errorf("urlsession: ReadDataInto: invalid lengths %d to %d", minLength, len(p))
	}
	return st.read(ctx, minLength, len(p), func(int) []byte { return p })
}

// read runs one queued read of minLength to maxLength bytes into the
// buffer buf returns (of at least maxLength bytes), made only once the
// read's turn came.
func (st *StreamTask) read(ctx context.Context, minLength, maxLength int, buf func(n int) []byte) (n int, atEOF bool, err error) {
	minLength = max(minLength, 1)
	s := st.st
	turn := s.reads.enter()
	if err := st.wait(ctx, turn); err != nil {
		return 0, false, err
	}
	defer turn.done()
	s.mu.Lock()
	conn, closed, eof := s.conn, s.readClosed, s.eof
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	if closed {
		return 0, false, errSideClosed("read")
	}
	if len(pending) >= minLength || (eof && len(pending) > 0) {
		n = min(len(pending), maxLength)
		copy(buf(n), pending[:n])
		s.mu.Lock()
		s.pending = pending[n:]
		atEOF = eof && len(s.pending) == 0
		s.mu.Unlock()
		return n, atEOF, nil
	}
	if eof {
		return 0, true, nil
	}
	out := buf(maxLength)[:maxLength]
	filled := copy(out, pending)
	stop := deadline(ctx, conn.SetReadDeadline)
	for filled < minLength {
		n, rerr := conn.Read(out[filled:])
		filled += n
		st.received.Add(int64(n))
		if rerr == io.EOF {
			eof = true
			break
		}
		if rerr != nil {
			stop()
			if filled > 0 {
				s.mu.Lock()
				s.pending = append([]byte(nil), out[:filled]...)
				s.mu.Unlock()
			}
			return 0, false, st.opFailed(ctx, rerr)
		}
	}
	stop()
	if eof {
		s.mu.Lock()
		s.eof = true
		s.mu.Unlock()
	}
	return filled, eof, nil
}

// Write writes all of data: Apple's write(_:timeout:). Writes run one at a
// time in call order. ctx bounds the write as Apple's timeout does: when
// it ends first, Write returns the number of bytes written and an *Error
// with code ErrTimedOut (for a deadline) or ErrCancelled, and the task
// goes on (on a TLS connection, a write cut short leaves the connection
// unusable). After CloseWrite, or once the task ended, it returns an error
// of code ErrNetworkConnectionLost (or the task's error) matching
// syscall.ENOTCONN.
func (st *StreamTask) Write(ctx context.Context, data []byte) (int, error) {
	s := st.st
	turn := s.writes.enter()
	if err := st.wait(ctx, turn); err != nil {
		return 0, err
	}
	defer turn.done()
	s.mu.Lock()
	conn, closed := s.conn, s.writeClosed
	s.mu.Unlock()
	if closed {
		return 0, errSideClosed("write")
	}
	stop := deadline(ctx, conn.SetWriteDeadline)
	n, err := conn.Write(data)
	stop()
	st.sent.Add(int64(n))
	if err != nil {
		return n, st.opFailed(ctx, err)
	}
	return n, nil
}

// halfCloser is a connection that can shut down one direction.
type halfCloser interface {
	CloseRead() error
	CloseWrite() error
}

// CloseRead shuts down the read side of the connection once the reads
// queued before it are done, then calls the delegate's ReadClosed: Apple's
// closeRead. Later reads fail. When the write side is closed too, the task
// completes. It returns at once; calls after the first do nothing.
func (st *StreamTask) CloseRead() {
	s := st.st
	s.mu.Lock()
	if s.readClosed {
		s.mu.Unlock()
		return
	}
	s.readClosed = true
	turn := s.reads.enter()
	s.mu.Unlock()
	go st.closeSide(turn, true)
}

// CloseWrite shuts down the write side of the connection once the writes
// queued before it are done (on TLS, after a close_notify alert), then
// calls the delegate's WriteClosed: Apple's closeWrite. The peer reads
// end-of-file; later writes fail. When the read side is closed too, the
// task completes. It returns at once; calls after the first do nothing.
func (st *StreamTask) CloseWrite() {
	s := st.st
	s.mu.Lock()
	if s.writeClosed {
		s.mu.Unlock()
		return
	}
	s.writeClosed = true
	turn := s.writes.enter()
	s.mu.Unlock()
	go st.closeSide(turn, false)
}

func (st *StreamTask) closeSide(turn *opTurn, read bool) {
	if st.wait(context.Background(), turn) != nil {
		return // the task ended first
	}
	defer turn.done()
	s := st.st
	s.mu.Lock()
	conn, raw := s.conn, s.raw
	s.mu.Unlock()
	if !read {
		if tc, ok := conn.(*tls.Conn); ok {
			tc.CloseWrite()
		}
	}
	if hc, ok := raw.(halfCloser); ok {
		if read {
			hc.CloseRead()
		} else {
			hc.CloseWrite()
		}
	}
	s.mu.Lock()
	if read {
		s.readDone = true
	} else {
		s.writeDone = true
	}
	both := s.readDone && s.writeDone
	s.mu.Unlock()
	t := st.Task
	if read {
		if d, ok := delegateFor[StreamReadClosedDelegate](t); ok {
			t.session.queue.add(func() { d.ReadClosed(t.session, st) })
		}
	} else if d, ok := delegateFor[StreamWriteClosedDelegate](t); ok {
		t.session.queue.add(func() { d.WriteClosed(t.session, st) })
	}
	if both {
		s.stop(nil)
	}
}

// StartSecureConnection starts TLS on the connection once the reads and
// writes queued before it are done: Apple's startSecureConnection. The
// handshake is the one of the session's https connections: the
// configuration's TLS settings, pinned domains, and the ServerTrust and
// ClientCertificate challenges for the task's host and port. Reads and
// writes called after it wait for the handshake and then go over TLS; a
// failed handshake ends the task with its error (such as
// ErrServerCertificateUntrusted). It returns at once.
func (st *StreamTask) StartSecureConnection() {
	s := st.st
	s.mu.Lock()
	r, w := s.reads.enter(), s.writes.enter()
	s.mu.Unlock()
	go func() {
		if st.wait(context.Background(), r, w) != nil {
			return
		}
		defer r.done()
		defer w.done()
		s.mu.Lock()
		conn := s.conn
		s.mu.Unlock()
		if _, ok := conn.(*tls.Conn); ok {
			return // already secure
		}
		_, d := newTransportTLS(st.session.cfg, st.session.proxies)
		ctx, cancel := context.WithTimeout(&st.ctx, st.requestTimeout())
		tc, err := d.secure(ctx, conn, s.host, s.port, false)
		cancel()
		if err != nil {
			s.stop(err)
			return
		}
		s.mu.Lock()
		s.conn = tc
		s.mu.Unlock()
	}()
}

// capturedStream is the connection CaptureStreams hands over.
type capturedStream struct {
	pending []byte
	conn    net.Conn
	raw     net.Conn
}

func (c *capturedStream) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.conn.Read(p)
}

func (c *capturedStream) Write(p []byte) (int, error) { return c.conn.Write(p) }

func (c *capturedStream) Close() error { return c.conn.Close() }

// CloseWrite shuts down the write side.
func (c *capturedStream) CloseWrite() error {
	if tc, ok := c.conn.(*tls.Conn); ok {
		if err := tc.CloseWrite(); err != nil {
			return err
		}
	}
	if hc, ok := c.raw.(halfCloser); ok {
		return hc.CloseWrite()
	}
	return nil
}

// CaptureStreams hands the connection to the delegate's DidBecomeStreams
// once the reads and writes queued before it are done, and completes the
// task (with a nil error): Apple's captureStreams. Without a
// StreamCaptureDelegate the connection is closed instead. It returns at
// once; reads and writes called after it fail.
func (st *StreamTask) CaptureStreams() {
	s := st.st
	s.mu.Lock()
	r, w := s.reads.enter(), s.writes.enter()
	s.mu.Unlock()
	go func() {
		if st.wait(context.Background(), r, w) != nil {
			return
		}
		defer r.done()
		defer w.done()
		t := st.Task
		s.mu.Lock()
		d, ok := delegateFor[StreamCaptureDelegate](t)
		stream := &capturedStream{pending: s.pending, conn: s.conn, raw: s.raw}
		s.pending = nil
		s.captured = ok
		s.readClosed, s.writeClosed = true, true
		s.mu.Unlock()
		if ok {
			t.session.queue.add(func() { d.DidBecomeStreams(t.session, st, stream) })
		}
		s.stop(nil)
	}()
}

// StreamConversionDelegate receives the stream task a data task became.
type StreamConversionDelegate interface {
	// DidBecomeStreamTask is called when the ResponseDelegate answered a
	// 101 (Switching Protocols) response, or a 2xx answer to a CONNECT
	// request, with ResponseBecomeStream: Apple's dataTask:didBecome
	// streamTask:. streamTask has the response's connection (the
	// upgraded protocol's or the tunnel's first bytes included) and is
	// already resumed; its Host and Port are those of the URL for a 101,
	// and those the CONNECT asked for (the request's Host) for a tunnel.
	// dataTask completes right after, with a nil error.
	DidBecomeStreamTask(s *Session, dataTask *DataTask, streamTask *StreamTask)
}

// watchUpgrade returns ctx with a trace that keeps the connection of req
// when req asks for a protocol upgrade or is a CONNECT, for becomeStream;
// ctx otherwise.
func (t *Task) watchUpgrade(ctx context.Context, req *http.Request) context.Context {
	if req.Header.Get("Upgrade") == "" && !isConnect(req) {
		return ctx
	}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		t.mu.Lock()
		t.more().upgrade = info.Conn
		t.mu.Unlock()
	}})
}

// becomeStream hands the connection of resp, a 101 response or a 2xx
// answer to CONNECT, to a new stream task and completes the data task; it
// reports false, changing nothing, when resp has no connection to hand
// over or no delegate takes the stream task.
func (t *Task) becomeStream(ctx context.Context, resp *http.Response) bool {
	if resp.Request == nil || resp.Request.URL == nil {
		return false
	}
	tunnel := isConnect(resp.Request) && resp.StatusCode/100 == 2
	if resp.StatusCode != http.StatusSwitchingProtocols && !tunnel {
		return false
	}
	d, ok := delegateFor[StreamConversionDelegate](t)
	if !ok {
		return false
	}
	rwc := pipeline.Upgraded(resp.Body)
	if d, ok := rwc.(detacher); ok {
		d.detach() // the stream task outlives the data task's context
	}
	t.mu.Lock()
	var conn net.Conn
	if x := t.extra.Load(); x != nil {
		conn = x.upgrade
		x.upgrade = nil
	}
	u := resp.Request.URL
	t.mu.Unlock()
	if nc, ok := rwc.(net.Conn); ok {
		conn = nc // a tunnel of its own (HTTP/2)
	}
	if rwc == nil || conn == nil {
		return false
	}
	host, port := u.Hostname(), urlPort(u)
	if u.Port() == "" && !strings.EqualFold(u.Scheme, "https") {
		port = 80
	}
	if tunnel {
		if h, p, err := connectAuthority(resp.Request); err == nil {
			host, port = h, p // the tunnel's end
		}
	}
	var preset net.Conn = &upgradedConn{rwc: rwc, c: conn}
	if nc, ok := rwc.(net.Conn); ok {
		preset = nc
	}
	st := t.session.newStreamTask(host, port, preset)
	st.Resume()
	t.session.queue.add(func() { d.DidBecomeStreamTask(t.session, t.data, st) })
	resp.Body = http.NoBody // the stream task's now
	t.finish(ctx, nil, resp, nil)
	return true
}

// upgradedConn is the connection of a 101 response: reads and writes go
// through net/http's body (which returns first what it had buffered),
// deadlines and half-closes to the connection itself.
type upgradedConn struct {
	rwc io.ReadWriteCloser
	c   net.Conn
}

func (u *upgradedConn) Read(p []byte) (int, error)         { return u.rwc.Read(p) }
func (u *upgradedConn) Write(p []byte) (int, error)        { return u.rwc.Write(p) }
func (u *upgradedConn) Close() error                       { return u.rwc.Close() }
func (u *upgradedConn) LocalAddr() net.Addr                { return u.c.LocalAddr() }
func (u *upgradedConn) RemoteAddr() net.Addr               { return u.c.RemoteAddr() }
func (u *upgradedConn) SetDeadline(t time.Time) error      { return u.c.SetDeadline(t) }
func (u *upgradedConn) SetReadDeadline(t time.Time) error  { return u.c.SetReadDeadline(t) }
func (u *upgradedConn) SetWriteDeadline(t time.Time) error { return u.c.SetWriteDeadline(t) }

// CloseRead shuts down the read side when the connection can.
func (u *upgradedConn) CloseRead() error {
	if c, ok := u.c.(interface{ CloseRead() error }); ok {
		return c.CloseRead()
	}
	return nil
}

// CloseWrite shuts down the write side (on TLS, with a close_notify).
func (u *upgradedConn) CloseWrite() error {
	if c, ok := u.c.(interface{ CloseWrite() error }); ok {
		return c.CloseWrite()
	}
	return nil
}
