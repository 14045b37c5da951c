package h2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/urlsession-go/urlsession/internal/netconn"
)

const (
	// The windows the client grants: per stream, and for the connection.
	streamWindow = 4 << 20
	connWindow   = 1 << 30
	// maxReadFrame is the largest frame the client accepts.
	maxReadFrame = 1 << 20
	// Before the server's SETTINGS say otherwise, at most this many
	// streams; a SETTINGS without a limit allows defaultMaxStreams.
	initialMaxStreams = 100
	defaultMaxStreams = 1000
	// max1xx bounds the informational responses a stream takes when
	// nobody asked to see them.
	max1xx = 5
	// maxStreamID is the last client stream ID (RFC 9113 section 5.1.1).
	maxStreamID = 1<<31 - 1
)

// connState is what a connection can do for a new request.
type connState int

const (
	stateFree connState = iota // takes a stream now
	stateFull                  // takes one when another ends
	stateDone                  // takes none
)

// Conn is one HTTP/2 connection. It implements http.RoundTripper.
type Conn struct {
	pool     *Pool
	key      string
	tc       net.Conn
	tlsState *tls.ConnectionState
	fr       *http2.Framer
	br       *bufio.Reader
	nc       *netconn.Conn // the socket under tc, when watched; see expectFor

	// Read loop only: with a socket that reports when a read would wait
	// (holdWakes), the streams whose waiting readers have body bytes they
	// were not yet woken for, and the bytes received since the last wake
	// (see wakeAt).
	holdWakes bool
	held      []*stream
	sinceWake int

	// Reading frames. On a socket that reports when a read would wait,
	// the read loop steps aside when the socket runs empty while the
	// connection's one stream has a reader waiting in Read: that reader
	// then reads the stream's DATA frames itself, with no goroutine
	// between the socket and it, until a frame of another kind or
	// stream comes, the stream ends, or the loop is needed back.
	rd       sync.Mutex             // held by whoever reads frames
	driver   atomic.Pointer[stream] // set while the loop has stepped aside for it
	loopWake chan struct{}          // the loop, stepped aside, is needed back
	// Under rd.
	readErr     error     // the read failure a driver met, for the loop
	cur         dataFrame // a DATA frame whose payload is not all read
	sawFirst    bool      // the server's first frame (its SETTINGS) came
	restartable bool      // the read in progress may stop when the socket is empty
	readingAs   *stream   // the driving stream, nil when the loop reads
	// A driver waiting for the socket is woken by a past read deadline:
	// under kickMu, the stream driving and whether the deadline is set.
	kickMu  sync.Mutex
	driving *stream
	kicked  bool

	// Writing: the framer's write side, the encoder and the buffer, under
	// wsem (a lock that a request's context can give up on). writers
	// counts the writers holding or waiting for it; the last flushes.
	wsem    chan struct{}
	writers atomic.Int32
	bw      *bufio.Writer
	henc    *hpack.Encoder
	hbuf    bytes.Buffer
	werr    error

	// Received data not yet acknowledged on the connection, and the window
	// the server has left.
	flowMu sync.Mutex
	recv   inflow

	mu            sync.Mutex
	cond          sync.Cond // slots, send windows, closing
	streams       map[uint32]*stream
	nextID        uint32
	reserved      int // slots taken by requests about to write
	maxStreams    int
	peerWindow    int32 // SETTINGS_INITIAL_WINDOW_SIZE
	peerFrame     int   // SETTINGS_MAX_FRAME_SIZE
	peerHeaderMax uint64
	sendWindow    int64
	used          bool // has carried a stream
	seenSettings  bool
	idleSince     time.Time
	idleTimer     *time.Timer
	goAway        bool
	goAwayErr     error
	closed        bool
	err           error // why the connection ended, once it has
	closedHere    bool  // by the client (idle, or the pool closing)
}

func newConn(tc *tls.Conn, p *Pool, key string) (*Conn, error) {
	cs := tc.ConnectionState()
	cc := &Conn{
		pool:       p,
		key:        key,
		tc:         tc,
		tlsState:   &cs,
		br:         bufio.NewReaderSize(tc, 32<<10),
		bw:         bufio.NewWriterSize(stallWriter{tc, p.cfg.WriteTimeout}, 32<<10),
		wsem:       make(chan struct{}, 1),
		streams:    make(map[uint32]*stream),
		nextID:     1,
		maxStreams: initialMaxStreams,
		peerWindow: 65535,
		peerFrame:  16384,
		sendWindow: 65535,
		recv:       inflow{avail: connWindow},
		idleSince:  time.Now(),
		loopWake:   make(chan struct{}, 1),
	}
	cc.cond.L = &cc.mu
	cc.nc = netconn.Of(tc)
	if bn, ok := tc.NetConn().(netconn.BlockNotifier); ok {
		// The read loop is the socket's only reader from here on.
		bn.OnReadBlock(cc.onReadBlock)
		cc.holdWakes = true
	}
	cc.henc = hpack.NewEncoder(&cc.hbuf)
	cc.fr = http2.NewFramer(cc.bw, cc.br)
	cc.fr.SetReuseFrames()
	cc.fr.SetMaxReadFrameSize(maxReadFrame)
	cc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	limit := p.cfg.MaxHeaderListSize
	if limit == 0 {
		limit = 10 << 20
	}
	cc.fr.MaxHeaderListSize = limit

	if _, err := cc.bw.WriteString(http2.ClientPreface); err != nil {
		return nil, err
	}
	err := cc.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: streamWindow},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: maxReadFrame},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: limit},
	)
	if err == nil {
		err = cc.fr.WriteWindowUpdate(0, connWindow-65535)
	}
	if err == nil {
		err = cc.bw.Flush()
	}
	if err != nil {
		return nil, err
	}
	if t := p.cfg.IdleTimeout; t > 0 {
		cc.idleTimer = time.AfterFunc(t, func() { cc.closeIfIdle(true) })
	}
	go cc.readLoop()
	return cc, nil
}

// state reports what cc can do for a new request.
func (cc *Conn) state() connState {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	switch {
	case cc.closed || cc.goAway || cc.nextID > maxStreamID:
		return stateDone
	case len(cc.streams)+cc.reserved >= cc.maxStreams:
		return stateFull
	}
	return stateFree
}

// RoundTrip sends req on a new stream and returns the response once its
// header section has arrived. An error that lets the request go on another
// connection implements IsHTTP2NoCachedConnError.
func (cc *Conn) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	hasBody := req.Body != nil && req.Body != http.NoBody
	cl := req.ContentLength
	if !hasBody {
		cl = 0
	} else if cl == 0 {
		cl = -1
	}
	reused, wasIdle, idleFor, err := cc.reserve(ctx)
	if err != nil {
		closeBodyUnlessRetryable(req, err)
		return nil, err
	}
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: cc.tc, Reused: reused, WasIdle: wasIdle, IdleTime: idleFor})
	}
	if ctx.Err() != nil { // given up on, by GotConn too
		cc.unreserve()
		closeBody(req)
		return nil, context.Cause(ctx)
	}
	s := &stream{
		cc:       cc,
		req:      req,
		trace:    trace,
		respc:    make(chan struct{}),
		readable: make(chan struct{}, 1),
		want:     -1,
		isHead:   req.Method == http.MethodHead,
	}
	if hasBody {
		s.reqBody = &reqBody{rc: req.Body, done: make(chan struct{})}
		if expectsContinue(req) && cc.pool.cfg.ExpectContinueTimeout > 0 {
			s.on100 = make(chan struct{}, 1)
		}
	}
	if err := cc.writeHeaders(ctx, s, req, hasBody, cl); err != nil {
		closeBodyUnlessRetryable(req, err)
		return nil, err
	}
	if trace != nil && trace.WroteHeaders != nil {
		trace.WroteHeaders()
	}
	if hasBody {
		go s.writeBody(s.reqBody, cl, req.Trailer)
	} else {
		closeBody(req)
		if trace != nil && trace.WroteRequest != nil {
			trace.WroteRequest(httptrace.WroteRequestInfo{})
		}
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { s.cancel(context.Cause(ctx)) })
		cc.mu.Lock()
		if s.done {
			cc.mu.Unlock()
			stop()
		} else {
			s.stopCtx = stop
			cc.mu.Unlock()
		}
	}
	<-s.respc
	if s.rterr != nil {
		if s.reqBody != nil {
			// As net/http's own client does: the body's writer has
			// stopped (the failure closed the body under it) before the
			// Transport may send the request again.
			<-s.reqBody.done
		}
		return nil, s.rterr
	}
	return s.resp, nil
}

// reqBody is a request body that the stream's failure closes while its
// writer may be reading it.
type reqBody struct {
	rc   io.ReadCloser
	once sync.Once
	done chan struct{} // closed when the writer has stopped
}

func (b *reqBody) Read(p []byte) (int, error) { return b.rc.Read(p) }

func (b *reqBody) Close() error {
	b.once.Do(func() { b.rc.Close() })
	return nil
}

// closeAsync closes the body without waiting for a Read under way.
func (b *reqBody) closeAsync() {
	go b.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// closeBodyUnlessRetryable closes req's body after a failure, unless the
// request may go on another connection: net/http's Transport then sends
// the body, unread, there (and closes it if it gives up).
func closeBodyUnlessRetryable(req *http.Request, err error) {
	if !isRetryable(err) {
		closeBody(req)
	}
}

func expectsContinue(req *http.Request) bool {
	for _, v := range req.Header["Expect"] {
		if strings.EqualFold(strings.TrimSpace(v), "100-continue") {
			return true
		}
	}
	return false
}

// reserve takes a stream slot, waiting for one while ctx allows.
func (cc *Conn) reserve(ctx context.Context) (reused, wasIdle bool, idleFor time.Duration, err error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	var stop func() bool
	for {
		if cc.closed || cc.goAway || cc.nextID > maxStreamID {
			if stop != nil {
				stop()
			}
			return false, false, 0, cc.unusableLocked()
		}
		if len(cc.streams)+cc.reserved < cc.maxStreams {
			break
		}
		if err := ctx.Err(); err != nil {
			if stop != nil {
				stop()
			}
			return false, false, 0, context.Cause(ctx)
		}
		if stop == nil && ctx.Done() != nil {
			stop = context.AfterFunc(ctx, func() {
				cc.mu.Lock()
				cc.cond.Broadcast()
				cc.mu.Unlock()
			})
		}
		cc.cond.Wait()
	}
	if stop != nil {
		stop()
	}
	reused = cc.used
	if len(cc.streams)+cc.reserved == 0 {
		wasIdle = reused
		idleFor = time.Since(cc.idleSince)
		if cc.idleTimer != nil {
			cc.idleTimer.Stop()
		}
	}
	cc.reserved++
	return reused, wasIdle, idleFor, nil
}

// unusableLocked returns the error for a request that cc cannot take: one
// that lets it go on another connection, unless cc failed before carrying
// any request, as a connection the server rejects in the handshake's last
// step does. net/http's Transport does not retry on a fresh connection
// either.
func (cc *Conn) unusableLocked() error {
	if cc.err != nil && !cc.used && !cc.goAway {
		return cc.err
	}
	return retryable(errConnUnusable)
}

// unreserve gives back a slot that no stream took.
func (cc *Conn) unreserve() {
	cc.mu.Lock()
	cc.reserved--
	cc.idleCheckLocked()
	cc.cond.Broadcast()
	cc.mu.Unlock()
}

// lock takes the write lock, giving up when ctx ends.
func (cc *Conn) lock(ctx context.Context) error {
	cc.writers.Add(1)
	select {
	case cc.wsem <- struct{}{}:
		return nil
	default:
	}
	select {
	case cc.wsem <- struct{}{}:
		return nil
	case <-ctx.Done():
		if cc.writers.Add(-1) == 0 {
			// A writer that left meanwhile counted on this one to flush.
			go cc.write(func(*http2.Framer) error { return nil })
		}
		return context.Cause(ctx)
	}
}

// unlock ends a write: the last writer flushes. It returns the
// connection's write error, if any.
func (cc *Conn) unlock(err error) error {
	if cc.werr == nil {
		cc.werr = err
	}
	if cc.writers.Add(-1) == 0 && cc.werr == nil {
		cc.werr = cc.bw.Flush()
	}
	err = cc.werr
	<-cc.wsem
	if err != nil {
		cc.close()
	}
	return err
}

// write runs fn under the write lock.
func (cc *Conn) write(fn func(*http2.Framer) error) error {
	cc.lock(context.Background())
	var err error
	if cc.werr == nil {
		err = fn(cc.fr)
	}
	return cc.unlock(err)
}

// writeHeaders gives s its ID and writes its HEADERS.
func (cc *Conn) writeHeaders(ctx context.Context, s *stream, req *http.Request, hasBody bool, cl int64) error {
	if err := cc.lock(ctx); err != nil {
		cc.unreserve()
		return err
	}
	if cc.werr != nil {
		cc.unreserve()
		cc.unlock(nil)
		return retryable(errConnUnusable)
	}
	cc.hbuf.Reset()
	if err := cc.encodeHeaders(req, cl); err != nil {
		cc.unreserve()
		cc.unlock(nil)
		return err
	}
	cc.mu.Lock()
	if cc.closed || cc.goAway {
		err := cc.unusableLocked()
		cc.mu.Unlock()
		cc.unreserve()
		cc.unlock(nil)
		return err
	}
	s.id = cc.nextID
	cc.nextID += 2
	cc.used = true
	cc.reserved--
	cc.streams[s.id] = s
	s.sendWindow = int64(cc.peerWindow)
	s.recv = inflow{avail: streamWindow}
	s.sentEnd = !hasBody
	frame := cc.peerFrame
	cc.mu.Unlock()

	err := writeBlock(cc.fr, s.id, cc.hbuf.Bytes(), frame, !hasBody)
	// A failed write closes the connection, whose reader then fails s.
	cc.unlock(err)
	// A reader reading for itself reads no other stream's frames.
	cc.reclaim()
	return nil
}

// writeBlock writes a header block as a HEADERS frame and the CONTINUATION
// frames that frames of at most frame bytes need.
func writeBlock(fr *http2.Framer, id uint32, block []byte, frame int, end bool) error {
	first := true
	for first || len(block) > 0 {
		chunk := block
		if len(chunk) > frame {
			chunk = chunk[:frame]
		}
		block = block[len(chunk):]
		var err error
		if first {
			err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: chunk, EndStream: end, EndHeaders: len(block) == 0})
			first = false
		} else {
			err = fr.WriteContinuation(id, len(block) == 0, chunk)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// encodeHeaders writes req's header section into cc.hbuf; cl is the
// body's length (0 without a body, -1 when unknown).
func (cc *Conn) encodeHeaders(req *http.Request, cl int64) error {
	host, err := authority(req)
	if err != nil {
		return err
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	connect := method == http.MethodConnect
	path := ""
	if !connect {
		path = req.URL.RequestURI()
	}
	var trailers string
	if len(req.Trailer) > 0 {
		keys := make([]string, 0, len(req.Trailer))
		for k := range req.Trailer {
			keys = append(keys, lower(k))
		}
		trailers = strings.Join(keys, ",")
	}
	sendCL := cl > 0 || cl == 0 && (method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch)
	_, hasUA := req.Header["User-Agent"]

	each := func(f func(name, value string)) {
		f(":authority", host)
		f(":method", method)
		if !connect {
			f(":path", path)
			f(":scheme", "https")
		}
		for k, vv := range req.Header {
			name := lower(k)
			switch name {
			case "host", "content-length", "connection", "proxy-connection", "transfer-encoding", "upgrade", "keep-alive", "trailer":
				continue
			case "user-agent":
				if len(vv) == 0 || vv[0] == "" {
					continue
				}
				vv = vv[:1]
			case "te":
				ok := false
				for _, v := range vv {
					ok = ok || strings.EqualFold(strings.TrimSpace(v), "trailers")
				}
				if ok {
					f(name, "trailers")
				}
				continue
			}
			for _, v := range vv {
				f(name, v)
			}
		}
		if trailers != "" {
			f("trailer", trailers)
		}
		if sendCL {
			f("content-length", strconv.FormatInt(cl, 10))
		}
		if !hasUA {
			f("user-agent", "Go-http-client/2.0")
		}
	}
	cc.mu.Lock()
	max := cc.peerHeaderMax
	cc.mu.Unlock()
	if max > 0 {
		var size uint64
		each(func(name, value string) { size += uint64(len(name) + len(value) + 32) })
		if size > max {
			return errReqHeaderList
		}
	}
	each(func(name, value string) {
		cc.henc.WriteField(hpack.HeaderField{Name: name, Value: value})
	})
	return nil
}

// lower returns a header name in lower case, without allocating for
// names already so and the common canonical ones.
func lower(k string) string {
	if v, ok := commonLower[k]; ok {
		return v
	}
	for i := 0; i < len(k); i++ {
		if 'A' <= k[i] && k[i] <= 'Z' {
			return strings.ToLower(k)
		}
	}
	return k
}

var commonLower = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Encoding", "Content-Length", "Content-Type", "Cookie", "Date",
		"Expect", "Host", "If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
		"Keep-Alive", "Origin", "Pragma", "Proxy-Authorization", "Proxy-Connection", "Range", "Referer", "Te",
		"Trailer", "Transfer-Encoding", "Upgrade", "User-Agent", "Upload-Complete", "Upload-Draft-Interop-Version",
		"Upload-Length", "Upload-Offset", "X-Requested-With"} {
		m[k] = strings.ToLower(k)
	}
	return m
}()

// close closes the connection; its reader then fails the streams left.
func (cc *Conn) close() {
	cc.mu.Lock()
	already := cc.closed
	cc.closed = true
	cc.closedHere = true
	cc.cond.Broadcast()
	cc.mu.Unlock()
	if !already {
		cc.pool.remove(cc)
		cc.tc.Close()
	}
	cc.reclaim()
}

// closeIfIdle closes cc if it carries no stream (and, for the idle
// timer, has carried none for the idle timeout).
func (cc *Conn) closeIfIdle(timer bool) {
	cc.mu.Lock()
	idle := len(cc.streams)+cc.reserved == 0
	if timer && idle && time.Since(cc.idleSince) < cc.pool.cfg.IdleTimeout {
		cc.idleTimer.Reset(cc.pool.cfg.IdleTimeout - time.Since(cc.idleSince))
		idle = false
	}
	cc.mu.Unlock()
	if idle {
		cc.close()
	}
}

// idleCheckLocked starts the idle clock when the last stream has gone,
// and closes a connection the server is going away from.
func (cc *Conn) idleCheckLocked() {
	if len(cc.streams)+cc.reserved > 0 {
		return
	}
	cc.idleSince = time.Now()
	if (cc.goAway || cc.pool.closing.Load()) && !cc.closed {
		go cc.close()
		return
	}
	if cc.idleTimer != nil {
		cc.idleTimer.Reset(cc.pool.cfg.IdleTimeout)
	}
}

// forgetLocked ends s on the connection, freeing its slot.
func (cc *Conn) forgetLocked(s *stream) {
	if s.done {
		return
	}
	s.done = true
	if s.id != 0 {
		delete(cc.streams, s.id)
	}
	if cc.driver.Load() == s {
		cc.reclaim()
	}
	if s.stopCtx != nil {
		s.stopCtx()
		s.stopCtx = nil
	}
	cc.cond.Broadcast()
	cc.idleCheckLocked()
}

// inflow is a window the client grants: what the server may still send,
// and what has been read but not yet acknowledged.
type inflow struct{ avail, unsent int }

// read records n bytes read and returns the acknowledgement to send now:
// all that is unacknowledged once it reaches half of the window's size,
// else nothing.
func (f *inflow) read(n, size int) int {
	f.unsent += n
	if f.unsent < size/2 {
		return 0
	}
	inc := f.unsent
	f.avail += inc
	f.unsent = 0
	return inc
}

// consumed acknowledges n bytes read from stream id's body, and
// streamInc of its window.
func (cc *Conn) consumed(id uint32, n, streamInc int) {
	connInc := 0
	if n > 0 {
		cc.flowMu.Lock()
		connInc = cc.recv.read(n, connWindow)
		cc.flowMu.Unlock()
	}
	if connInc == 0 && streamInc == 0 {
		return
	}
	cc.write(func(fr *http2.Framer) error {
		if connInc > 0 {
			if err := fr.WriteWindowUpdate(0, uint32(connInc)); err != nil {
				return err
			}
		}
		if streamInc > 0 {
			return fr.WriteWindowUpdate(id, uint32(streamInc))
		}
		return nil
	})
}

// readLoop reads the server's frames until the connection ends.
func (cc *Conn) readLoop() {
	err := cc.read()
	cc.mu.Lock()
	cc.closed = true
	if cc.goAway && (err == io.EOF || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF)) {
		err = cc.goAwayErr
	} else if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if !cc.closedHere {
		cc.err = err
	}
	left := make([]*stream, 0, len(cc.streams))
	for _, s := range cc.streams {
		left = append(left, s)
	}
	for _, s := range left {
		cc.forgetLocked(s)
	}
	if cc.idleTimer != nil {
		cc.idleTimer.Stop()
	}
	cc.cond.Broadcast()
	cc.mu.Unlock()
	cc.pool.remove(cc)
	cc.tc.Close()
	for _, s := range left {
		s.fail(err)
	}
	// net/http's idle list may hold the connection a while: let go of
	// its buffers now.
	cc.lock(context.Background())
	if cc.werr == nil {
		cc.werr = errConnClosed
	}
	cc.fr, cc.bw, cc.br, cc.henc = nil, nil, nil, nil
	cc.hbuf = bytes.Buffer{}
	cc.unlock(nil)
}

func (cc *Conn) read() error {
	defer cc.wake()
	cc.rd.Lock()
	defer cc.rd.Unlock()
	for {
		err := cc.step()
		if err == nil {
			continue
		}
		if !errors.Is(err, netconn.ErrWouldBlock) {
			return err
		}
		// The socket ran empty with the one stream's reader waiting.
		if s := cc.handOffCandidate(); s != nil {
			if err := cc.stepAside(s); err != nil {
				return err
			}
		}
	}
}

// step reads the next frame, or the rest of the DATA frame under way, and
// acts on it. Reading the next frame's header, or a DATA frame's payload,
// may stop with netconn.ErrWouldBlock (or a kick's timeout) when the
// socket is empty: nothing is then lost, and the next step goes on.
func (cc *Conn) step() error {
	if cc.cur.active {
		return cc.dataRest()
	}
	if err := cc.peekHeader(); err != nil {
		return err
	}
	fh, err := cc.fr.ReadFrameHeader()
	var f http2.Frame
	if err == nil {
		if fh.Type == http2.FrameData && cc.sawFirst {
			// DATA payloads go from the connection's buffer to
			// their streams without the Framer's copy.
			return cc.onData(fh)
		}
		f, err = cc.fr.ReadFrameForHeader(fh)
	}
	if err != nil {
		var se http2.StreamError
		if errors.As(err, &se) {
			if s := cc.stream(se.StreamID); s != nil {
				s.abort(se, se.Code)
			}
			return nil
		}
		if ce, ok := err.(http2.ConnectionError); ok {
			cc.write(func(fr *http2.Framer) error { return fr.WriteGoAway(0, http2.ErrCode(ce), nil) })
		}
		return err
	}
	if !cc.sawFirst {
		if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
			return cc.connError(http2.ErrCodeProtocol)
		}
		cc.sawFirst = true
	}
	// Whatever else the frame makes the loop do (write, wait for the
	// write lock) comes after the held wakes.
	cc.wake()
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		err = cc.onHeaders(f)
	case *http2.RSTStreamFrame:
		err = cc.onReset(f)
	case *http2.SettingsFrame:
		err = cc.onSettings(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			data := f.Data
			cc.write(func(fr *http2.Framer) error { return fr.WritePing(true, data) })
		}
	case *http2.GoAwayFrame:
		cc.onGoAway(f)
	case *http2.WindowUpdateFrame:
		err = cc.onWindowUpdate(f)
	case *http2.PushPromiseFrame:
		err = cc.connError(http2.ErrCodeProtocol)
	}
	return err
}

// peekHeader waits until the next frame's header is buffered, and with it
// a DATA frame's pad length, so that reading them takes nothing from the
// socket. It may stop when the socket is empty, having consumed nothing.
func (cc *Conn) peekHeader() error {
	cc.restartable = true
	defer func() { cc.restartable = false }()
	h, err := cc.br.Peek(frameHeaderLen)
	if err != nil {
		return err
	}
	if http2.FrameType(h[3]) == http2.FrameData && http2.Flags(h[4]).Has(http2.FlagDataPadded) &&
		h[0]|h[1]|h[2] != 0 {
		_, err = cc.br.Peek(frameHeaderLen + 1)
	}
	return err
}

// frameHeaderLen is the length of a frame's header (RFC 9113 section 4.1).
const frameHeaderLen = 9

// onReadBlock is the socket's notification that a read is about to wait;
// it runs on the reading goroutine. It delivers the held wakes, and stops
// the read (it returns true) at a point where nothing is lost: for the
// loop, when it may step aside for a waiting reader; for a driver, once it
// has bytes to return.
func (cc *Conn) onReadBlock() bool {
	cc.wake()
	if !cc.restartable {
		return false
	}
	if s := cc.readingAs; s != nil {
		s.mu.Lock()
		has := s.lent > 0 || s.buf.len() > 0
		s.mu.Unlock()
		return has
	}
	return cc.handOffCandidate() != nil
}

// handOffAfter is how much of a body must have come before its reader may
// read for itself: stepping aside and back costs two wakes, which a
// download repays and a small response does not.
var handOffAfter atomic.Int64

func init() { handOffAfter.Store(256 << 10) }

// handOffCandidate returns the connection's one stream when its request
// is sent, handOffAfter of its body has come, and its reader waits in
// Read with nothing buffered (it may have bytes in its own buffer, which
// the wake that hands off returns), or nil.
func (cc *Conn) handOffCandidate() *stream {
	cc.mu.Lock()
	if len(cc.streams) != 1 || cc.reserved != 0 || cc.closed {
		cc.mu.Unlock()
		return nil
	}
	var s *stream
	for _, x := range cc.streams {
		s = x
	}
	ok := s.sentEnd && !s.done && !s.resetting
	cc.mu.Unlock()
	if !ok {
		return nil
	}
	s.mu.Lock()
	ok = s.wants > 0 && s.buf.len() == 0 && !s.eof && s.err == nil &&
		s.recvd >= handOffAfter.Load()
	s.mu.Unlock()
	if !ok || (cc.cur.active && cc.cur.s != s && cc.cur.s != nil) {
		return nil
	}
	return s
}

// stepAside lets s's reader read frames until the loop is needed back,
// and returns the failure a reader met reading them, if any. Read loop
// only, holding rd, which it holds again on return.
func (cc *Conn) stepAside(s *stream) error {
	cc.driver.Store(s)
	cc.rd.Unlock()
	s.signal()
	<-cc.loopWake
	cc.rd.Lock()
	return cc.readErr
}

// reclaim ends a driver's turn: the loop reads again, once the driver
// (woken if it waits for the socket) lets go.
func (cc *Conn) reclaim() {
	s := cc.driver.Swap(nil)
	if s == nil {
		return
	}
	if cc.nc != nil {
		cc.nc.Expect(0)
	}
	cc.kick(s)
	cc.loopWake <- struct{}{} // one per step aside: never blocks
}

// kick wakes s's reader if it is driving and waits for the socket, with
// a read deadline in the past; the driver clears it.
func (cc *Conn) kick(s *stream) {
	cc.kickMu.Lock()
	if cc.driving == s && s != nil && !cc.kicked {
		cc.kicked = true
		cc.tc.SetReadDeadline(time.Unix(1, 0))
	}
	cc.kickMu.Unlock()
}

// drive reads frames for s, whose reader waits in Read, when the loop has
// stepped aside for it. It returns false, having done nothing, when it
// may not; the reader then waits to be woken.
func (cc *Conn) drive(s *stream) bool {
	if cc.driver.Load() != s || !cc.rd.TryLock() {
		return false
	}
	cc.kickMu.Lock()
	cc.driving = s
	cc.kickMu.Unlock()
	if cc.driver.Load() != s {
		// Taken back meanwhile: the loop reads, and wakes s.
		cc.endDrive()
		cc.rd.Unlock()
		return false
	}
	cc.readingAs = s
	cc.expectFor(s)
	if h := testHookDriving.Load(); h != nil {
		(*h)()
	}
	handBack := false
	for {
		err := cc.driveStep(s)
		if err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, netconn.ErrWouldBlock):
				// Bytes to return, and the socket empty.
			case errors.As(err, &ne) && ne.Timeout():
				// A kick: the loop is needed back, or s has ended.
				cc.kickMu.Lock()
				cc.tc.SetReadDeadline(time.Time{})
				cc.kicked = false
				cc.kickMu.Unlock()
				if cc.driver.Load() == s && !cc.readerStops(s, false) {
					continue
				}
			case err == errNotMine:
				handBack = true
			default:
				cc.readErr = err
				handBack = true
			}
			break
		}
		// With bytes to return and none buffered, the next read may
		// wait: returned now, they spare a read that would only find the
		// socket empty.
		if cc.driver.Load() != s || cc.readerStops(s, cc.br.Buffered() == 0) {
			break
		}
	}
	cc.readingAs = nil
	cc.endDrive()
	s.mu.Lock()
	if s.eof || s.err != nil {
		handBack = true
	}
	s.mu.Unlock()
	if handBack {
		cc.reclaim()
	}
	cc.rd.Unlock()
	return true
}

// testHookDriving, when set, runs as a reader starts reading frames for
// itself.
var testHookDriving atomic.Pointer[func()]

// readerStops reports whether s's reader, reading for itself, returns
// now: the buffer it lent is full, the body has ended or failed, or
// (with partial) it has any bytes to return.
func (cc *Conn) readerStops(s *stream, partial bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eof || s.err != nil || s.buf.len() > 0 || s.lent == len(s.lend) || partial && s.lent > 0
}

// endDrive ends a driver's reading: no kick reaches the socket after it.
func (cc *Conn) endDrive() {
	cc.kickMu.Lock()
	cc.driving = nil
	cc.unkickLocked()
	cc.kickMu.Unlock()
}

// unkickLocked clears a kick's read deadline; under kickMu.
func (cc *Conn) unkickLocked() {
	if cc.kicked {
		cc.tc.SetReadDeadline(time.Time{})
		cc.kicked = false
	}
}

// expectFor tells the socket how many more bytes s's body is sure to
// bring (netconn.Conn.Expect), so that a driver waiting for them wakes
// once per batch: what is left of a body of known length, within the
// stream's and the connection's windows, less what may be buffered
// already (frames in br, and records crypto/tls read ahead). A body of
// unknown length brings nothing sure. Driver only, holding rd.
func (cc *Conn) expectFor(s *stream) {
	if cc.nc == nil {
		return
	}
	s.mu.Lock()
	n := int64(-1)
	if s.want >= 0 && s.err == nil {
		n = min(s.want-s.recvd, int64(s.recv.avail))
	}
	s.mu.Unlock()
	cc.flowMu.Lock()
	n = min(n, int64(cc.recv.avail))
	cc.flowMu.Unlock()
	cc.nc.Expect(n - int64(cc.br.Buffered()) - expectSlack)
}

// expectSlack bounds what crypto/tls may have read from the socket and
// not yet given out: a record being read and one read ahead, with room.
const expectSlack = 64 << 10

// errNotMine: the next frame is not a DATA frame of the driving stream.
var errNotMine = errors.New("h2: a frame for the read loop")

// driveStep reads the next DATA frame of s, or the rest of the one under
// way, or returns errNotMine with nothing read.
func (cc *Conn) driveStep(s *stream) error {
	if cc.cur.active {
		if cc.cur.s != s && cc.cur.s != nil {
			return errNotMine
		}
		return cc.dataRest()
	}
	if err := cc.peekHeader(); err != nil {
		return err
	}
	h, _ := cc.br.Peek(frameHeaderLen)
	id := uint32(h[5]&0x7f)<<24 | uint32(h[6])<<16 | uint32(h[7])<<8 | uint32(h[8])
	if http2.FrameType(h[3]) != http2.FrameData || id != s.id {
		return errNotMine
	}
	fh, err := cc.fr.ReadFrameHeader()
	if err != nil {
		return err
	}
	return cc.onData(fh)
}

// wakeAt bounds how much a waiting body reader asks to be woken for, and
// how many bytes the connection receives while any wake is held: a
// stream's few bytes never wait behind another's long run of frames.
const wakeAt = 64 << 10

// wake wakes the readers whose wakes are held; read loop only (the socket
// calls it on that goroutine when a read is about to wait).
func (cc *Conn) wake() {
	for i, s := range cc.held {
		s.held = false
		s.signal()
		cc.held[i] = nil
	}
	cc.held = cc.held[:0]
	cc.sinceWake = 0
}

// connError ends the connection with a GOAWAY carrying code.
func (cc *Conn) connError(code http2.ErrCode) error {
	cc.write(func(fr *http2.Framer) error { return fr.WriteGoAway(0, code, nil) })
	return http2.ConnectionError(code)
}

// stream returns the open stream id, or nil.
func (cc *Conn) stream(id uint32) *stream {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.streams[id]
}

// known reports whether the client opened stream id (now open or not).
func (cc *Conn) known(id uint32) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return id%2 == 1 && id < cc.nextID
}

func (cc *Conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	sawMax := false
	var table *uint32
	err := f.ForeachSetting(func(st http2.Setting) error {
		if err := st.Valid(); err != nil {
			return err
		}
		cc.mu.Lock()
		defer cc.mu.Unlock()
		switch st.ID {
		case http2.SettingMaxConcurrentStreams:
			cc.maxStreams = int(min(st.Val, 1<<20))
			sawMax = true
		case http2.SettingInitialWindowSize:
			delta := int64(st.Val) - int64(cc.peerWindow)
			for _, s := range cc.streams {
				s.sendWindow += delta
				if s.sendWindow > maxStreamID {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			cc.peerWindow = int32(st.Val)
		case http2.SettingMaxFrameSize:
			cc.peerFrame = int(st.Val)
		case http2.SettingMaxHeaderListSize:
			cc.peerHeaderMax = uint64(st.Val)
		case http2.SettingHeaderTableSize:
			v := st.Val
			table = &v
		}
		return nil
	})
	if err != nil {
		if ce, ok := err.(http2.ConnectionError); ok {
			return cc.connError(http2.ErrCode(ce))
		}
		return err
	}
	cc.mu.Lock()
	if !sawMax && !cc.seenSettings {
		cc.maxStreams = defaultMaxStreams
	}
	cc.seenSettings = true
	cc.cond.Broadcast()
	cc.mu.Unlock()
	return cc.write(func(fr *http2.Framer) error {
		if table != nil {
			cc.henc.SetMaxDynamicTableSizeLimit(*table)
		}
		return fr.WriteSettingsAck()
	})
}

func (cc *Conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	inc := int64(f.Increment)
	cc.mu.Lock()
	if f.StreamID == 0 {
		cc.sendWindow += inc
		bad := cc.sendWindow > maxStreamID
		cc.cond.Broadcast()
		cc.mu.Unlock()
		if bad {
			return cc.connError(http2.ErrCodeFlowControl)
		}
		return nil
	}
	s := cc.streams[f.StreamID]
	bad := false
	if s != nil {
		s.sendWindow += inc
		bad = s.sendWindow > maxStreamID
	}
	cc.cond.Broadcast()
	cc.mu.Unlock()
	if bad {
		s.abort(http2.StreamError{StreamID: s.id, Code: http2.ErrCodeFlowControl}, http2.ErrCodeFlowControl)
	}
	return nil
}

func (cc *Conn) onGoAway(f *http2.GoAwayFrame) {
	cc.mu.Lock()
	cc.goAway = true
	cc.goAwayErr = http2.GoAwayError{LastStreamID: f.LastStreamID, ErrCode: f.ErrCode, DebugData: string(f.DebugData())}
	var refused []*stream
	for id, s := range cc.streams {
		if id > f.LastStreamID {
			refused = append(refused, s)
		}
	}
	for _, s := range refused {
		cc.forgetLocked(s)
	}
	cc.idleCheckLocked()
	cc.cond.Broadcast()
	cc.mu.Unlock()
	cc.pool.remove(cc)
	for _, s := range refused {
		s.fail(retryable(cc.goAwayErr))
	}
}

func (cc *Conn) onReset(f *http2.RSTStreamFrame) error {
	s := cc.stream(f.StreamID)
	if s == nil {
		if !cc.known(f.StreamID) {
			return cc.connError(http2.ErrCodeProtocol)
		}
		return nil
	}
	err := error(http2.StreamError{StreamID: f.StreamID, Code: f.ErrCode, Cause: errors.New("received from peer")})
	cc.mu.Lock()
	remoteEnded := s.remoteEnd
	cc.forgetLocked(s)
	cc.mu.Unlock()
	if remoteEnded && f.ErrCode == http2.ErrCodeNo {
		// The response is whole; the server wants no more of the body.
		return nil
	}
	if f.ErrCode == http2.ErrCodeRefusedStream {
		err = retryable(err)
	}
	s.fail(err)
	return nil
}

// dataFrame is a DATA frame whose payload is being read.
type dataFrame struct {
	active  bool
	s       *stream // nil: the payload is skipped
	left    int     // data bytes still to read
	pad     int     // padding bytes still to skip after them
	n       int     // the frame's flow-controlled length
	dropped int     // bytes to give back to the connection's window at the end
	ended   bool    // END_STREAM
}

// onData reads the DATA frame fh, whose header was read (and whose pad
// length is buffered): it checks the frame, takes it from the windows and
// reads its payload.
func (cc *Conn) onData(fh http2.FrameHeader) error {
	if fh.StreamID == 0 {
		return cc.connError(http2.ErrCodeProtocol)
	}
	n := int(fh.Length)
	pad := 0 // the Pad Length field and the padding
	if fh.Flags.Has(http2.FlagDataPadded) {
		if n == 0 {
			return cc.connError(http2.ErrCodeProtocol)
		}
		b, err := cc.br.ReadByte()
		if err != nil {
			return unexpectedEOF(err)
		}
		pad = 1 + int(b)
		if pad > n {
			return cc.connError(http2.ErrCodeProtocol)
		}
	}
	size := n - pad
	cc.flowMu.Lock()
	if n > cc.recv.avail {
		cc.flowMu.Unlock()
		return cc.connError(http2.ErrCodeFlowControl)
	}
	cc.recv.avail -= n
	cc.flowMu.Unlock()
	skip := func() error {
		cc.cur = dataFrame{active: true, left: n - min(pad, 1)}
		return cc.dataRest()
	}
	s := cc.stream(fh.StreamID)
	if s == nil {
		if !cc.known(fh.StreamID) {
			return cc.connError(http2.ErrCodeProtocol)
		}
		// A stream ended here: give its share back (after the held
		// wakes, as this may wait to write).
		cc.wake()
		cc.consumed(0, n, 0)
		return skip()
	}
	s.mu.Lock()
	var bad error
	switch {
	case n > s.recv.avail:
		bad = http2.StreamError{StreamID: s.id, Code: http2.ErrCodeFlowControl}
	case !s.gotResponse:
		bad = http2.StreamError{StreamID: s.id, Code: http2.ErrCodeProtocol, Cause: errDataBeforeHead}
	case s.noBody && size > 0:
		bad = http2.StreamError{StreamID: s.id, Code: http2.ErrCodeProtocol, Cause: errBodyLength}
	case s.want >= 0 && s.recvd+int64(size) > s.want:
		bad = http2.StreamError{StreamID: s.id, Code: http2.ErrCodeProtocol, Cause: errBodyLength}
	}
	if bad != nil {
		s.mu.Unlock()
		cc.wake()
		cc.consumed(0, n, 0)
		s.abort(bad, bad.(http2.StreamError).Code)
		return skip()
	}
	s.recv.avail -= n
	s.recv.unsent += pad
	s.recvd += int64(size)
	s.mu.Unlock()
	cc.cur = dataFrame{
		active: true, s: s, left: size, pad: max(pad-1, 0), n: n, dropped: pad,
		ended: fh.Flags.Has(http2.FlagDataEndStream),
	}
	return cc.dataRest()
}

// dataRest reads on the payload of the DATA frame under way, from the
// connection's buffer into its stream, piece by piece as the buffer holds
// it: bytes buffered are never moved within it, nor copied anywhere but to
// the stream (into its reader's own buffer when one waits). It may stop
// when the socket is empty (see step), and goes on from there next time.
func (cc *Conn) dataRest() error {
	c := &cc.cur
	for c.left > 0 || c.pad > 0 {
		k := cc.br.Buffered()
		if k == 0 {
			cc.restartable = true
			_, err := cc.br.Peek(1)
			cc.restartable = false
			if err != nil {
				return unexpectedEOF(err)
			}
			k = cc.br.Buffered()
		}
		if c.left == 0 {
			k = min(k, c.pad)
			cc.br.Discard(k)
			c.pad -= k
			continue
		}
		k = min(k, c.left)
		if s := c.s; s != nil {
			piece, _ := cc.br.Peek(k)
			s.mu.Lock()
			if s.err != nil {
				c.dropped += k // closed or failed: nobody reads it
			} else {
				s.append(piece)
			}
			s.mu.Unlock()
		}
		cc.br.Discard(k)
		c.left -= k
	}
	f := *c
	*c = dataFrame{}
	s := f.s
	if s == nil {
		return nil
	}
	if f.dropped > 0 {
		// Given back before the frame's end can show: a reader that sees
		// EOF sees the connection's window whole. Held wakes go first, as
		// this may wait to write.
		cc.wake()
		cc.consumed(0, f.dropped, 0)
	}
	s.mu.Lock()
	if f.ended {
		s.eof = true
		if s.want >= 0 && s.recvd != s.want && s.err == nil {
			s.err = errBodyLength
		}
	}
	// A reader waiting for fewer bytes than it asked for is woken later,
	// when enough have come or the loop is about to wait for the socket;
	// a reader reading for itself is not woken.
	self := cc.readingAs == s
	hold := self || cc.holdWakes && !f.ended && s.err == nil && s.wants > 0 && s.unread() < s.wants
	s.mu.Unlock()
	cc.sinceWake += f.n
	if hold && cc.sinceWake < wakeAt {
		if !s.held && !self {
			s.held = true
			cc.held = append(cc.held, s)
		}
	} else {
		if !self {
			s.signal()
		}
		if cc.sinceWake >= wakeAt {
			cc.wake()
		}
	}
	if f.ended {
		cc.remoteEnded(s)
	}
	return nil
}

// unexpectedEOF reports the end of the connection within a frame as
// io.ErrUnexpectedEOF, as the Framer does.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// remoteEnded records the server's END_STREAM on s.
// A request body still being sent then is of no more use: as net/http's
// own client does, the client stops sending it and resets the stream
// (RFC 9113 section 8.1 lets the server answer before the whole request).
func (cc *Conn) remoteEnded(s *stream) {
	cc.mu.Lock()
	s.remoteEnd = true
	if s.sentEnd || s.done {
		cc.forgetLocked(s)
		cc.mu.Unlock()
		return
	}
	reset := !s.resetting
	s.resetting = true
	cc.mu.Unlock()
	if reset {
		cc.write(func(fr *http2.Framer) error { return fr.WriteRSTStream(s.id, http2.ErrCodeCancel) })
	}
	cc.mu.Lock()
	cc.forgetLocked(s)
	cc.mu.Unlock()
	if s.reqBody != nil {
		s.reqBody.closeAsync()
	}
}

// ended reports whether s takes no more frames from the client: it has
// been reset (or is being) or has ended. A writer asks under the write
// lock, so that nothing follows a reset on the wire.
func (s *stream) ended() bool {
	s.cc.mu.Lock()
	defer s.cc.mu.Unlock()
	return s.done || s.resetting
}

func (cc *Conn) onHeaders(f *http2.MetaHeadersFrame) error {
	s := cc.stream(f.StreamID)
	if s == nil {
		if !cc.known(f.StreamID) {
			return cc.connError(http2.ErrCodeProtocol)
		}
		return nil
	}
	if f.Truncated {
		s.abort(errHeaderList, http2.ErrCodeCancel)
		return nil
	}
	if s.gotResponse {
		return s.onTrailers(f)
	}
	if !s.gotFirstByte {
		s.gotFirstByte = true
		if s.trace != nil && s.trace.GotFirstResponseByte != nil {
			s.trace.GotFirstResponseByte()
		}
	}
	resp, err := s.response(f)
	if err != nil {
		s.abort(err, http2.ErrCodeProtocol)
		return nil
	}
	if resp == nil { // informational
		return nil
	}
	s.mu.Lock()
	s.gotResponse = true
	s.resp = resp
	ended := f.StreamEnded()
	if ended {
		s.eof = true
		if s.want > 0 && !s.isHead {
			s.err = errBodyLength
		}
	}
	s.mu.Unlock()
	cc.mu.Lock()
	if !s.delivered {
		s.delivered = true
		close(s.respc)
	}
	cc.mu.Unlock()
	if ended {
		cc.remoteEnded(s)
	}
	return nil
}

// stream is one request and its response.
type stream struct {
	cc           *Conn
	id           uint32
	req          *http.Request
	trace        *httptrace.ClientTrace
	isHead       bool
	on100        chan struct{}
	gotFirstByte bool // read loop only
	held         bool // read loop only: in cc.held
	num1xx       int  // read loop only

	reqBody *reqBody    // nil without a body
	trailer http.Header // received, for Read to hand over at EOF

	// The response, for RoundTrip: set before respc closes.
	respc     chan struct{}
	resp      *http.Response
	rterr     error
	delivered bool // under cc.mu

	// Under cc.mu.
	sendWindow int64
	sentEnd    bool
	remoteEnd  bool
	done       bool
	resetting  bool // a RST_STREAM is being written
	stopCtx    func() bool

	// The body, under mu.
	mu          sync.Mutex
	readable    chan struct{}
	buf         bodyBuf
	eof         bool
	err         error
	closed      bool
	gotResponse bool
	noBody      bool
	want        int64
	recvd       int64
	recv        inflow
	wants       int // bytes a reader waiting in Read would like before it wakes; 0 when none waits
	// lend is the buffer of a reader waiting in Read: while the unread
	// body is empty, DATA goes straight into it (lent bytes so far), one
	// copy fewer. Only Read sets and clears it, never returning with it
	// set, and the read loop writes into it under mu.
	lend []byte
	lent int
}

// response builds the response of a HEADERS frame, or returns nil for an
// informational one.
func (s *stream) response(f *http2.MetaHeadersFrame) (*http.Response, error) {
	for _, pf := range f.PseudoFields() {
		if pf.Name != ":status" {
			return nil, errPseudo
		}
	}
	status := f.PseudoValue("status")
	code, err := strconv.Atoi(status)
	if len(status) != 3 || err != nil || code < 100 {
		return nil, errStatus
	}
	regular := f.RegularFields()
	header := make(http.Header, len(regular))
	strs := make([]string, len(regular))
	var trailer http.Header
	for _, hf := range regular {
		key := textproto.CanonicalMIMEHeaderKey(hf.Name)
		if key == "Trailer" {
			for _, t := range strings.Split(hf.Value, ",") {
				if t = textproto.TrimString(t); t != "" {
					if trailer == nil {
						trailer = make(http.Header)
					}
					trailer[textproto.CanonicalMIMEHeaderKey(t)] = nil
				}
			}
		}
		if vv := header[key]; vv == nil && len(strs) > 0 {
			header[key], strs = strs[:1:1], strs[1:]
			header[key][0] = hf.Value
		} else {
			header[key] = append(vv, hf.Value)
		}
	}
	if code < 200 {
		if f.StreamEnded() {
			return nil, err1xxEndStream
		}
		if fn := s.trace; fn != nil && fn.Got1xxResponse != nil {
			if err := fn.Got1xxResponse(code, textproto.MIMEHeader(header)); err != nil {
				return nil, err
			}
		} else if s.num1xx++; s.num1xx > max1xx {
			return nil, errTooMany1xx
		}
		if code == http.StatusContinue {
			if s.trace != nil && s.trace.Got100Continue != nil {
				s.trace.Got100Continue()
			}
			if s.on100 != nil {
				select {
				case s.on100 <- struct{}{}:
				default:
				}
			}
		}
		return nil, nil
	}
	want := int64(-1)
	if vv := header["Content-Length"]; len(vv) > 0 {
		for _, v := range vv {
			if v != vv[0] {
				return nil, errContentLength
			}
		}
		n, err := strconv.ParseUint(vv[0], 10, 63)
		if err != nil {
			return nil, errContentLength
		}
		want = int64(n)
	} else if f.StreamEnded() && !s.isHead {
		want = 0
	}
	resp := &http.Response{
		Status:        status + " " + http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        header,
		Trailer:       trailer,
		ContentLength: want,
		TLS:           s.cc.tlsState,
		Request:       s.req,
	}
	s.mu.Lock()
	if s.isHead {
		s.want = 0
		s.noBody = true
	} else {
		s.want = want
	}
	s.mu.Unlock()
	if s.isHead || f.StreamEnded() && want <= 0 {
		resp.Body = http.NoBody
	} else {
		resp.Body = &body{s: s}
	}
	return resp, nil
}

func (s *stream) onTrailers(f *http2.MetaHeadersFrame) error {
	if !f.StreamEnded() {
		s.abort(errTrailerNoEnd, http2.ErrCodeProtocol)
		return nil
	}
	if len(f.PseudoFields()) > 0 {
		s.abort(errTrailerPseudo, http2.ErrCodeProtocol)
		return nil
	}
	trailer := make(http.Header, len(f.RegularFields()))
	for _, hf := range f.RegularFields() {
		key := textproto.CanonicalMIMEHeaderKey(hf.Name)
		trailer[key] = append(trailer[key], hf.Value)
	}
	s.mu.Lock()
	s.trailer = trailer
	s.eof = true
	if s.want >= 0 && s.recvd != s.want && s.err == nil {
		s.err = errBodyLength
	}
	s.mu.Unlock()
	s.signal()
	s.cc.remoteEnded(s)
	return nil
}

// append adds data to the unread body, into the waiting reader's own
// buffer while it has room; under s.mu. Nothing is buffered ahead of lent
// bytes: Read lends only while nothing is buffered, and data goes to the
// buffer only once the lent one is full.
func (s *stream) append(data []byte) {
	if s.lent < len(s.lend) {
		m := copy(s.lend[s.lent:], data)
		s.lent += m
		data = data[m:]
	}
	s.buf.write(data)
}

// unread returns the number of body bytes received and not yet read; under
// s.mu.
func (s *stream) unread() int { return s.lent + s.buf.len() }

func (s *stream) signal() {
	select {
	case s.readable <- struct{}{}:
	default:
	}
}

// cancel ends s with err, dropping what its body holds unread. The body's
// error is set as its unread bytes are dropped, under one lock: data that
// arrives later is dropped too, so that a Read can never return bytes from
// after the gap.
func (s *stream) cancel(err error) {
	s.mu.Lock()
	dropped := s.buf.reset()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	if testHookCancelDropped != nil {
		testHookCancelDropped()
	}
	if dropped > 0 {
		s.cc.consumed(0, dropped, 0)
	}
	s.abort(err, http2.ErrCodeCancel)
}

// testHookCancelDropped, when not nil, runs in stream.cancel once the
// unread body is dropped, for tests to deliver data at that moment.
var testHookCancelDropped func()

// abort ends s with err, resetting it with code if it is still open.
// The reset is written before the stream's slot is freed, so that a
// request waiting for the slot cannot open a stream the server would count
// over its limit.
func (s *stream) abort(err error, code http2.ErrCode) {
	cc := s.cc
	cc.mu.Lock()
	reset := !s.done && !s.resetting && s.id != 0 && !(s.remoteEnd && s.sentEnd)
	s.resetting = s.resetting || reset
	cc.mu.Unlock()
	// The failure first: a response that arrives meanwhile is not taken.
	s.fail(err)
	if reset {
		id := s.id
		cc.write(func(fr *http2.Framer) error { return fr.WriteRSTStream(id, code) })
	}
	cc.mu.Lock()
	cc.forgetLocked(s)
	cc.mu.Unlock()
}

// fail hands err to whoever waits for s's response, or reads its body
// after what it holds, and stops the request body's writer.
func (s *stream) fail(err error) {
	s.cc.mu.Lock()
	if !s.delivered {
		s.delivered = true
		s.rterr = err
		close(s.respc)
	}
	s.cc.mu.Unlock()
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.signal()
	s.cc.kick(s) // a reader reading for itself, waiting for the socket
	// Only once err is the request's and the body's: the writer fails
	// when its body is closed, and that failure must not pass for the
	// cause.
	if s.reqBody != nil {
		s.reqBody.closeAsync()
	}
}

// body is a response body.
type body struct {
	s *stream
	// rmu makes Reads take turns: a waiting Read lends its p to the
	// stream, and only one p at a time may be lent.
	rmu sync.Mutex
}

func (b *body) Read(p []byte) (int, error) {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	s := b.s
	s.mu.Lock()
	if s.buf.len() == 0 && !s.eof && s.err == nil {
		s.lend = p
		s.wants = min(len(p), wakeAt)
		for s.lent == 0 && s.buf.len() == 0 && !s.eof && s.err == nil {
			s.mu.Unlock()
			if !s.cc.drive(s) {
				<-s.readable
			}
			s.mu.Lock()
		}
		s.wants = 0
	}
	// What the read loop wrote into p comes first: it wrote there only
	// while nothing was buffered.
	n := s.lent
	s.lend, s.lent = nil, 0
	if n == 0 && s.buf.len() == 0 {
		err := s.err
		if err == nil {
			err = io.EOF
			// The trailers become the response's at EOF, in the
			// reader's goroutine, as net/http documents.
			if t := s.trailer; t != nil {
				s.trailer = nil
				if s.resp.Trailer == nil {
					s.resp.Trailer = make(http.Header, len(t))
				}
				for k, vv := range t {
					s.resp.Trailer[k] = vv
				}
			}
		}
		s.mu.Unlock()
		return 0, err
	}
	if len(p) == 0 {
		s.mu.Unlock()
		return 0, nil
	}
	n += s.buf.read(p[n:])
	inc := 0
	if !s.eof {
		inc = s.recv.read(n, streamWindow)
	}
	s.mu.Unlock()
	s.cc.consumed(s.id, n, inc)
	return n, nil
}

func (b *body) Close() error {
	s := b.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	dropped := s.buf.reset()
	if s.err == nil {
		s.err = errBodyClosed
	}
	s.mu.Unlock()
	s.signal()
	if dropped > 0 {
		s.cc.consumed(0, dropped, 0)
	}
	// A stream still open either way (the response or the request body
	// unfinished) is reset.
	s.cc.mu.Lock()
	done := s.done
	s.cc.mu.Unlock()
	if !done {
		s.abort(errBodyClosed, http2.ErrCodeCancel)
	}
	return nil
}

// writeBody sends the request body, then END_STREAM or the trailers.
func (s *stream) writeBody(rb *reqBody, cl int64, trailer http.Header) {
	defer close(rb.done)
	defer rb.Close()
	cc := s.cc
	err := s.sendBody(rb, cl, trailer)
	if s.trace != nil && s.trace.WroteRequest != nil {
		s.trace.WroteRequest(httptrace.WroteRequestInfo{Err: err})
	}
	if err == errStopped {
		return // whoever ended the stream reported why
	}
	if err != nil {
		s.abort(err, http2.ErrCodeCancel)
		return
	}
	cc.mu.Lock()
	s.sentEnd = true
	if s.remoteEnd {
		cc.forgetLocked(s)
	}
	cc.mu.Unlock()
}

var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

func (s *stream) sendBody(rb io.Reader, cl int64, trailer http.Header) error {
	cc := s.cc
	if s.on100 != nil {
		t := time.NewTimer(cc.pool.cfg.ExpectContinueTimeout)
		select {
		case <-s.on100:
		case <-t.C:
		case <-s.respc:
			// A final answer (or a failure) came first: no body.
			t.Stop()
			if s.rterr != nil {
				return nil
			}
			return s.endStream(nil)
		}
		t.Stop()
	}
	bp := bodyBufs.Get().(*[]byte)
	defer bodyBufs.Put(bp)
	buf := *bp
	var sent int64
	for {
		n, rerr := rb.Read(buf)
		if n > 0 {
			sent += int64(n)
			if cl >= 0 && sent > cl {
				return lengthError(cl, sent)
			}
			if cl >= 0 && sent == cl && rerr == nil {
				// The body must end here; a body that goes on is an error,
				// not a request cut short.
				if err := probeEOF(rb, cl, sent); err != nil {
					return err
				}
				rerr = io.EOF
			}
			if rerr == io.EOF && cl >= 0 && sent != cl {
				return lengthError(cl, sent)
			}
			last := rerr == io.EOF && len(trailer) == 0
			if err := s.sendData(buf[:n], last); err != nil {
				return err
			}
			if last {
				return nil
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if cl >= 0 && sent != cl {
		return lengthError(cl, sent)
	}
	return s.endStream(trailer)
}

func lengthError(cl, sent int64) error {
	return fmt.Errorf("http: ContentLength=%d with Body length %d", cl, sent)
}

// probeEOF reads on from a body that has given its ContentLength's bytes:
// nil when it ends there, an error when it goes on or fails.
func probeEOF(rb io.Reader, cl, sent int64) error {
	var one [1]byte
	for {
		n, err := rb.Read(one[:])
		if n > 0 {
			return lengthError(cl, sent+int64(n))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// sendData writes data as DATA frames within the windows.
func (s *stream) sendData(data []byte, end bool) error {
	cc := s.cc
	for len(data) > 0 {
		cc.mu.Lock()
		for !s.done && !cc.closed && (s.sendWindow <= 0 || cc.sendWindow <= 0) {
			cc.cond.Wait()
		}
		if s.done || cc.closed {
			cc.mu.Unlock()
			return errStopped
		}
		k := int64(len(data))
		k = min(k, s.sendWindow, cc.sendWindow, int64(cc.peerFrame))
		s.sendWindow -= k
		cc.sendWindow -= k
		cc.mu.Unlock()
		chunk := data[:k]
		data = data[k:]
		fin := end && len(data) == 0
		stopped := false
		err := cc.write(func(fr *http2.Framer) error {
			if stopped = s.ended(); stopped {
				return nil
			}
			return fr.WriteData(s.id, fin, chunk)
		})
		if err != nil {
			return err
		}
		if stopped {
			return errStopped
		}
	}
	return nil
}

// endStream ends the request: with trailers, or an empty DATA frame.
func (s *stream) endStream(trailer http.Header) (err error) {
	cc := s.cc
	stopped := false
	defer func() {
		if stopped && err == nil {
			err = errStopped
		}
	}()
	if len(trailer) == 0 {
		return cc.write(func(fr *http2.Framer) error {
			if stopped = s.ended(); stopped {
				return nil
			}
			return fr.WriteData(s.id, true, nil)
		})
	}
	cc.mu.Lock()
	frame := cc.peerFrame
	cc.mu.Unlock()
	return cc.write(func(fr *http2.Framer) error {
		if stopped = s.ended(); stopped {
			return nil // before encoding: the HPACK state stays the server's
		}
		cc.hbuf.Reset()
		for k, vv := range trailer {
			for _, v := range vv {
				cc.henc.WriteField(hpack.HeaderField{Name: lower(k), Value: v})
			}
		}
		return writeBlock(fr, s.id, cc.hbuf.Bytes(), frame, true)
	})
}

// stallWriter writes to a connection, failing a write (of at most a
// buffer or a frame) not done within timeout (none if zero): a server that
// stops reading would otherwise hold the write lock, and every request
// waiting on it, for good. A TLS connection cannot go on after a write
// timed out, so neither does this one.
type stallWriter struct {
	nc      net.Conn
	timeout time.Duration
}

func (w stallWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
	}
	return w.nc.Write(p)
}
