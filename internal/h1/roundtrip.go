package h1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

const (
	// max1xx bounds the informational responses before the final one, as
	// the session's HTTP/2 client does.
	max1xx = 5
	// writeWait is how long a response that ended before its request's
	// body was all written waits for the write to end, so that the
	// connection can carry another request, as net/http waits.
	writeWait = 50 * time.Millisecond
)

var (
	errServerClosedIdle = errors.New("http: server closed idle connection")
	errTooMany1xx       = errors.New("net/http: too many 1xx informational responses")
	errUnexpected101    = errors.New("net/http: HTTP/1.x transport connection broken: malformed response: 101 Switching Protocols to a request that asked for no upgrade")
	errReadOnClosedBody = errors.New("http: read on closed response body")
)

// RoundTrip sends req if the Pool takes it, and otherwise returns
// http.ErrSkipAltProtocol without touching it (net/http's client then
// sends it). It takes a direct request with the http scheme and valid
// method and header fields, unless it is CONNECT, asks for an upgrade or
// for "100-continue", or Config.Handles refuses it.
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	addr, ok := p.takes(req)
	if !ok {
		return nil, http.ErrSkipAltProtocol
	}
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	for {
		resp, err, retry := p.roundTrip(ctx, req, addr, trace)
		if err == errPoolClosed {
			return nil, http.ErrSkipAltProtocol
		}
		if !retry {
			return resp, err
		}
		if hasBody(req) {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			r2 := *req
			r2.Body = body
			req = &r2
		}
	}
}

// takes reports whether the Pool sends req, and to which host:port.
func (p *Pool) takes(req *http.Request) (string, bool) {
	u := req.URL
	if u == nil || u.Scheme != "http" || u.Host == "" || req.Header == nil {
		return "", false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodPatch:
	case http.MethodConnect:
		return "", false
	default:
		if !validToken(req.Method) {
			return "", false
		}
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return "", false
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return "", false
			}
		}
		switch k {
		case "Upgrade", "Expect":
			return "", false
		case "Connection":
			if httpguts.HeaderValuesContainsToken(vv, "upgrade") {
				return "", false
			}
		}
	}
	if p.cfg.Handles != nil && !p.cfg.Handles(req) {
		return "", false
	}
	host, port := u.Hostname(), u.Port()
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			return "", false // net/http converts it to punycode
		}
	}
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(host, port), true
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !httpguts.IsTokenRune(rune(s[i])) {
			return false
		}
	}
	return true
}

func hasBody(req *http.Request) bool { return req.Body != nil && req.Body != http.NoBody }

// replayable reports whether req may be sent again after its connection
// failed with part of it sent, as net/http's rule has it.
func replayable(req *http.Request) bool {
	if hasBody(req) && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// roundTrip makes one attempt at req on a connection to addr. retry asks
// for another attempt on a new connection.
func (p *Pool) roundTrip(ctx context.Context, req *http.Request, addr string, trace *httptrace.ClientTrace) (resp *http.Response, err error, retry bool) {
	if err := ctx.Err(); err != nil {
		// Nothing is sent for a request already cancelled.
		if hasBody(req) {
			req.Body.Close()
		}
		return nil, context.Cause(ctx), false
	}
	if trace != nil && trace.GetConn != nil {
		trace.GetConn(addr)
	}
	c, reused, idle, err := p.get(ctx, addr)
	if err != nil {
		if hasBody(req) && err != errPoolClosed {
			req.Body.Close()
		}
		return nil, err, false
	}
	if trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: c.nc, Reused: reused, WasIdle: idle > 0, IdleTime: idle})
	}
	ex := &exchange{p: p, c: c, req: req}
	ex.body.ex = ex
	if a, ok := ctx.(afterFuncer); ok {
		// The session's task context: no goroutine, no channel.
		ex.stop = a.AfterFunc(ex.abort)
	} else if ctx.Done() != nil {
		ex.stop = context.AfterFunc(ctx, ex.abort)
	}
	c.r.n, c.w.n, c.r.err, c.w.err = 0, 0, nil, nil
	c.r.limit = p.cfg.MaxResponseHeaderBytes
	if ctx.Err() != nil {
		// Cancelled while it waited for the connection, or by GotConn.
		return ex.fail(ctx, context.Cause(ctx), reused)
	}

	if !hasBody(req) {
		if err := ex.write(req); err != nil {
			return ex.fail(ctx, err, reused)
		}
	} else {
		ex.wdone = make(chan struct{})
		go ex.writeBody()
	}
	resp, err = ex.readResponse(trace)
	if err != nil {
		return ex.fail(ctx, err, reused)
	}
	c.r.limit = -1
	ex.close = resp.Close || req.Close || httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close")
	if resp.Body == http.NoBody {
		ex.finish(true)
		return resp, nil, false
	}
	ex.body.rc = resp.Body
	resp.Body = &ex.body
	if c.watched != nil && resp.ContentLength > 0 {
		// The rest of the body is on its way: a fast one can be read
		// in batches (netconn.Conn.Expect); finish withdraws this.
		c.watched.Expect(resp.ContentLength - int64(c.br.Buffered()))
	}
	return resp, nil, false
}

// afterFuncer is a context that runs a function once done, as
// context.AfterFunc arranges for any context.
type afterFuncer interface {
	AfterFunc(func()) (stop func() bool)
}

// exchange is one request and its response on a connection.
type exchange struct {
	p     *Pool
	c     *conn
	req   *http.Request
	stop  func() bool // the context's AfterFunc; nil without one
	close bool        // the connection ends with the response

	mu      sync.Mutex
	aborted bool
	done    bool // the connection went back or was dropped

	wdone chan struct{} // closed when a request body's writer ends
	werr  error         // the writer's error, once wdone is closed

	body body // the response body, when there is one
}

// abort closes the connection, ending a read or write under way.
func (ex *exchange) abort() {
	ex.mu.Lock()
	ex.aborted = true
	ex.mu.Unlock()
	ex.c.nc.Close()
}

// write writes req (headers and body) and flushes it. Request.Write
// reports WroteHeaders and WroteRequest to the request's trace, before the
// flush as in net/http's client.
func (ex *exchange) write(req *http.Request) error {
	c := ex.c
	err := req.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	return err
}

// writeBody writes a request with a body, on its own goroutine. A failed
// write closes the connection, as net/http's does.
func (ex *exchange) writeBody() {
	br := &bodyReader{rc: ex.req.Body}
	r2 := *ex.req
	r2.Body = br
	err := ex.write(&r2)
	if br.err != nil {
		err = br.err // the body's own failure, not Write's wrapping of it
	}
	ex.werr = err
	close(ex.wdone)
	if err != nil {
		ex.abort()
	}
}

// bodyReader keeps the error of a request body's Read.
type bodyReader struct {
	rc  io.ReadCloser
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *bodyReader) Close() error { return b.rc.Close() }

// readResponse reads the response head, skipping informational responses.
func (ex *exchange) readResponse(trace *httptrace.ClientTrace) (*http.Response, error) {
	c := ex.c
	// A connection closed before any byte is io.EOF, as in net/http
	// (ReadResponse would call it unexpected).
	if _, err := c.br.Peek(1); err != nil {
		return nil, err
	}
	if trace != nil && trace.GotFirstResponseByte != nil {
		trace.GotFirstResponseByte()
	}
	for n1xx := 0; ; {
		resp, err := http.ReadResponse(c.br, ex.req)
		if err != nil {
			if c.r.limit == 0 {
				err = fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", ex.p.cfg.MaxResponseHeaderBytes)
			}
			return nil, err
		}
		code := resp.StatusCode
		switch {
		case code == http.StatusSwitchingProtocols:
			return nil, errUnexpected101
		case code >= 100 && code <= 199:
			if n1xx++; n1xx > max1xx {
				return nil, errTooMany1xx
			}
			if code == http.StatusContinue && trace != nil && trace.Got100Continue != nil {
				trace.Got100Continue()
			}
			if trace != nil && trace.Got1xxResponse != nil {
				if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
					return nil, err
				}
				c.r.limit = ex.p.cfg.MaxResponseHeaderBytes
			}
			continue
		}
		return resp, nil
	}
}

// fail ends a failed attempt: the connection is closed, a request body's
// writer has ended, and the error is the most telling one. retry is set
// when the attempt may be made again on a new connection.
func (ex *exchange) fail(ctx context.Context, err error, reused bool) (*http.Response, error, bool) {
	ex.finish(false) // and waits for a request body's writer
	if ex.wdone != nil {
		if ex.werr != nil && !errors.Is(err, errTooMany1xx) && ex.c.r.n == 0 {
			err = ex.werr
		}
	} else if hasBody(ex.req) {
		ex.req.Body.Close()
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx), false
	}
	c := ex.c
	if !reused || c.r.n > 0 || (c.r.err == nil && c.w.err == nil) || (ex.werr != nil && c.w.err == nil) {
		// A fresh connection, a response begun, or a failure that is not
		// the connection's (an invalid request, a body that failed).
		return nil, err, false
	}
	// Nothing of a response came on a connection that served others: the
	// server may have closed it just before the request.
	if c.w.n == 0 && (!hasBody(ex.req) || ex.req.GetBody != nil) {
		return nil, err, true
	}
	if replayable(ex.req) {
		return nil, err, true
	}
	if errors.Is(err, io.EOF) {
		err = errServerClosedIdle
	}
	return nil, err, false
}

// finish ends the exchange once: the connection goes back to the pool if
// the response ended cleanly and the connection may carry another,
// otherwise it is closed, and a request body's writer still at work is
// stopped and waited for.
func (ex *exchange) finish(clean bool) {
	ex.mu.Lock()
	if ex.done {
		ex.mu.Unlock()
		return
	}
	ex.done = true
	aborted := ex.aborted
	ex.mu.Unlock()
	if ex.c.watched != nil {
		ex.c.watched.Expect(0)
	}
	if ex.stop != nil && !ex.stop() {
		aborted = true // the context ended: the connection is closing
	}
	// Bytes after the response were sent for no request: the connection
	// cannot be trusted with another.
	if clean && !aborted && !ex.close && ex.c.br.Buffered() == 0 && ex.wroteAll() {
		ex.p.put(ex.c)
		return
	}
	ex.p.drop(ex.c)
	if ex.wdone != nil {
		select {
		case <-ex.wdone:
		default:
			// A request body still being sent ends with the exchange, so
			// that none of it is read, nor its progress reported, once the
			// response is done. Closing the body ends a Read that waits (a
			// pipe nobody writes to), as in net/http.
			ex.req.Body.Close()
			<-ex.wdone
		}
	}
}

// wroteAll reports whether the whole request was written.
func (ex *exchange) wroteAll() bool {
	if ex.wdone == nil {
		return true
	}
	select {
	case <-ex.wdone:
		return ex.werr == nil
	default:
	}
	t := time.NewTimer(writeWait)
	defer t.Stop()
	select {
	case <-ex.wdone:
		return ex.werr == nil
	case <-t.C:
		return false // the server answered before taking the whole body
	}
}

// body is a response body. Its end gives the connection back; closing it
// before the end closes the connection.
type body struct {
	ex     *exchange
	rc     io.ReadCloser // http.ReadResponse's body
	mu     sync.Mutex
	closed bool
	err    error // the first error or io.EOF
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, errReadOnClosedBody
	}
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return 0, err
	}
	b.mu.Unlock()
	n, err := b.rc.Read(p)
	if err == nil {
		return n, nil
	}
	ex := b.ex
	if err != io.EOF {
		if ctx := ex.req.Context(); ctx.Err() != nil {
			err = context.Cause(ctx)
		}
	}
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	closed := b.closed
	b.mu.Unlock()
	ex.finish(err == io.EOF && !closed)
	if closed {
		return n, errReadOnClosedBody
	}
	return n, err
}

func (b *body) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.ex.finish(false)
	return nil
}
