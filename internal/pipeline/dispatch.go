package pipeline

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/netconn"
)

// connGuard ends a request whose connection Call.ConnCheck refuses.
type connGuard struct {
	check   func(net.Conn) error
	stop    context.CancelCauseFunc // ends the request's context
	refused atomic.Pointer[error]
}

func (g *connGuard) gotConn(info httptrace.GotConnInfo) {
	if err := g.check(info.Conn); err != nil {
		g.refused.Store(&err)
		g.stop(err)
	}
}

// stopBody ends its request's context when it is closed.
type stopBody struct {
	io.ReadCloser
	stop context.CancelCauseFunc
}

func (b *stopBody) Close() error {
	err := b.ReadCloser.Close()
	b.stop(nil)
	return err
}

// Protocol loads requests of some schemes; see urlsession.Protocol.
type Protocol interface {
	CanHandle(*http.Request) bool
	RoundTrip(*http.Request) (*http.Response, error)
}

// Dispatch is the last stage: it picks the protocol for the request (custom
// protocols first, then http and https through Transport, then the
// built-in protocols of other schemes), sends it and records the
// Transaction.
type Dispatch struct {
	Protocols []Protocol
	// Builtins are the built-in protocols of the schemes other than http
	// and https (data, file, ftp), asked after Protocols.
	Builtins  []Protocol
	Transport http.RoundTripper
	// Proxy tells whether a request goes through a proxy (for metrics only).
	Proxy func(*http.Request) (*url.URL, error)
}

// Do implements Stage.
func (d *Dispatch) Do(ctx context.Context, call *Call, req *http.Request, _ Next) (*http.Response, error) {
	var tx *Transaction // nil: nobody wants metrics
	if call.Metrics {
		tx = &Transaction{}
		tx.Request = req
		tx.FetchStart = time.Now()
		tx.FetchType = FetchNetworkLoad
		call.addTransaction(tx)
	}

	rt, err := d.protocolFor(req, tx)
	if err == nil && rt == d.Transport && call.Transport != nil {
		rt = call.Transport
	}
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // as a RoundTripper would
		}
		return nil, err
	}
	if tx != nil {
		tx.update(func(t *TransactionData) { t.RequestHeaderBytesSent = requestHeaderSize(req) })
	}
	if req.Body != nil && req.Body != http.NoBody {
		r2 := *req
		sb := &sendBody{rc: req.Body, hooks: call.Hooks, tx: tx, expected: req.ContentLength, ctx: ctx}
		sb.suspend, _ = call.Hooks.(SuspendHooks)
		r2.Body = sb
		req = &r2
	}
	var guard *connGuard // with ConnCheck
	if call.ConnCheck != nil && (rt == d.Transport || rt == call.Transport) {
		guard = &connGuard{check: call.ConnCheck}
		ctx, guard.stop = context.WithCancelCause(ctx)
		ctx = withTrace(ctx, &httptrace.ClientTrace{GotConn: guard.gotConn})
	}
	if ih, ok := call.Hooks.(InformationalHooks); ok {
		if f := ih.Informational(req); f != nil {
			ctx = withTrace(ctx, interimTrace(req, f))
		}
	}
	var seen *seenConn // learns the connection when tx does not
	if tx == nil && (rt == d.Transport || rt == call.Transport) && strings.EqualFold(req.URL.Scheme, "https") {
		seen = &seenConn{}
		seen.trace.GotConn = seen.got
		ctx = withTrace(ctx, &seen.trace)
	}
	if tx != nil {
		req = req.WithContext(withTrace(ctx, tx.clientTrace()))
	} else if req.Context() != ctx {
		req = req.WithContext(ctx) // a request from the delegate, say
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		if guard != nil {
			guard.stop(nil)
			if r := guard.refused.Load(); r != nil {
				return nil, *r // the connection was refused
			}
		}
		return nil, err
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if guard != nil {
		resp.Body = &stopBody{resp.Body, guard.stop} // the request's context lasts as long as its body
	}
	if tx == nil {
		b := &recvBody{rc: resp.Body, hooks: call.Hooks}
		if seen != nil {
			b.expect(resp, seen.conn)
		}
		resp.Body = b
		return resp, nil
	}
	tx.update(func(t *TransactionData) {
		t.Response = resp
		t.NetworkProtocolName = protocolName(resp)
		t.ResponseHeaderBytesReceived = responseHeaderSize(resp)
		if t.ResponseStart.IsZero() {
			t.ResponseStart = time.Now()
		}
	})
	tx.body = recvBody{rc: resp.Body, hooks: call.Hooks, tx: tx}
	tx.mu.Lock()
	conn := tx.conn
	tx.conn = nil // the record does not keep the connection
	tx.mu.Unlock()
	if strings.EqualFold(req.URL.Scheme, "https") {
		tx.body.expect(resp, conn)
	}
	resp.Body = &tx.body
	return resp, nil
}

// seenConn records the connection a request was sent on.
type seenConn struct {
	trace httptrace.ClientTrace
	conn  net.Conn
}

func (s *seenConn) got(info httptrace.GotConnInfo) { s.conn = info.Conn }

// expectSlack bounds what net/http and crypto/tls may have read of an
// HTTP/1.1 body over TLS before it is handed out: the connection's read
// buffer and a TLS record or two, with room.
const expectSlack = 128 << 10

// expect tells the socket of an HTTPS response over HTTP/1.1 that the
// rest of its body is coming, so that a fast one can be read in batches
// (netconn.Conn.Expect); the body's end withdraws it. An http response's
// is the session's HTTP/1.1 client's to tell, and an HTTP/2 one's the
// HTTP/2 client's, which know what they buffered.
func (b *recvBody) expect(resp *http.Response, conn net.Conn) {
	if resp.ProtoMajor != 1 || resp.ContentLength <= expectSlack || conn == nil {
		return
	}
	if b.sock = netconn.Of(conn); b.sock != nil {
		b.sock.Expect(resp.ContentLength - expectSlack)
	}
}

// protocolFor picks the RoundTripper for req: the first custom protocol that
// handles it, else the transport for http and https.
func (d *Dispatch) protocolFor(req *http.Request, tx *Transaction) (http.RoundTripper, error) {
	if req.URL == nil || (req.URL.Scheme == "" && req.URL.Host == "" && req.URL.Path == "" && req.URL.Opaque == "") {
		return nil, fail.Newf(-1002, "the request has no URL")
	}
	for _, p := range d.Protocols {
		if p.CanHandle(req) {
			return p, nil
		}
	}
	switch strings.ToLower(req.URL.Scheme) {
	case "http", "https":
		if err := CheckHTTPURL(req.URL); err != nil {
			return nil, err
		}
		if d.Proxy != nil && tx != nil {
			if u, err := d.Proxy(req); err == nil && u != nil {
				tx.update(func(t *TransactionData) { t.ProxyConnection = true })
			}
		}
		return d.Transport, nil
	case "":
		return nil, fail.Newf(-1000, "the URL %q has no scheme", req.URL.Redacted())
	}
	for _, p := range d.Builtins {
		if p.CanHandle(req) {
			return p, nil
		}
	}
	return nil, fail.Newf(-1002, "no protocol handles the scheme %q", req.URL.Scheme)
}

// CheckHTTPURL reports a malformed http or https URL (no host, a bad port)
// with code -1000.
func CheckHTTPURL(u *url.URL) error {
	if u.Host == "" || u.Hostname() == "" {
		return fail.Newf(-1000, "the URL %q has no host", u.Redacted())
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fail.Newf(-1000, "the URL %q has an invalid port", u.Redacted())
		}
	}
	return nil
}

func protocolName(resp *http.Response) string {
	switch {
	case resp.ProtoMajor == 2:
		return "h2"
	case resp.ProtoMajor == 3:
		return "h3"
	case resp.ProtoMajor == 1 && resp.ProtoMinor == 0:
		return "http/1.0"
	case resp.ProtoMajor == 1:
		return "http/1.1"
	}
	return strings.ToLower(resp.Proto)
}

// requestHeaderSize estimates the request head's size on the wire as
// HTTP/1.1 would send it.
func requestHeaderSize(req *http.Request) int64 {
	n := len(req.Method) + 1 + len(req.URL.RequestURI()) + len(" HTTP/1.1\r\n") + len("Host: \r\n") + len(req.Host)
	if req.Host == "" {
		n += len(req.URL.Host)
	}
	return int64(n+headerSize(req.Header)) + 2
}

func responseHeaderSize(resp *http.Response) int64 {
	return int64(len(resp.Proto)+1+len(resp.Status)+2+headerSize(resp.Header)) + 2
}

func headerSize(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n
}

// sendBody counts request body bytes as the transport reads them.
type sendBody struct {
	rc       io.ReadCloser
	hooks    Hooks
	tx       *Transaction
	expected int64
	total    int64
	ctx      context.Context
	suspend  SuspendHooks // nil when the task cannot be suspended
}

func (b *sendBody) Read(p []byte) (int, error) {
	if b.suspend != nil {
		// A suspended task sends nothing.
		if err := b.suspend.WaitRunning(b.ctx); err != nil {
			return 0, err
		}
	}
	n, err := b.rc.Read(p)
	if n > 0 {
		b.total += int64(n)
		total := b.total
		b.tx.update(func(t *TransactionData) { t.RequestBodyBytesSent = total })
		b.hooks.BodySent(int64(n), total, b.expected)
	}
	return n, err
}

func (b *sendBody) Close() error { return b.rc.Close() }

// Upgraded returns the connection under body, the body of a 101
// (Switching Protocols) response that Dispatch delivered: net/http's
// writable body, or nil when body is not one.
func Upgraded(body io.ReadCloser) io.ReadWriteCloser {
	if b, ok := body.(*recvBody); ok {
		body = b.rc
	}
	rwc, _ := body.(io.ReadWriteCloser)
	return rwc
}

// recvBody counts response body bytes as they arrive and marks the end of
// the response. It may be closed while a Read is in progress on another
// goroutine, as net/http's bodies may: its count is kept under mu.
type recvBody struct {
	rc    io.ReadCloser
	hooks Hooks
	tx    *Transaction

	sock *netconn.Conn // told to expect the body (see expect), or nil

	mu    sync.Mutex
	n     int64
	ended bool
}

func (b *recvBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.hooks.Received(int64(n))
	}
	b.mu.Lock()
	b.n += int64(n)
	if err != nil && !b.ended {
		b.endLocked()
	}
	b.mu.Unlock()
	return n, err
}

func (b *recvBody) endLocked() {
	b.ended = true
	if b.sock != nil {
		b.sock.Expect(0)
	}
	total := b.n
	b.tx.update(func(t *TransactionData) {
		t.ResponseBodyBytesReceived = total
		t.ResponseEnd = time.Now()
	})
}

func (b *recvBody) Close() error {
	b.mu.Lock()
	if !b.ended {
		b.endLocked()
	}
	b.mu.Unlock()
	return b.rc.Close()
}

// withTrace returns ctx with trace added, as httptrace.WithClientTrace
// does. A context that runs functions once done through an AfterFunc
// method (the session's task context) keeps that method through the
// result, so that the contexts the transports derive from it need no
// goroutine each to watch it: context.AfterFunc and context.WithCancel
// find the method only on the context they are given.
func withTrace(ctx context.Context, trace *httptrace.ClientTrace) context.Context {
	v := httptrace.WithClientTrace(ctx, trace)
	if a, ok := ctx.(afterFuncer); ok {
		return tracedContext{v, a}
	}
	return v
}

// afterFuncer is a context with an AfterFunc method, as the context
// package recognises it.
type afterFuncer interface {
	AfterFunc(func()) (stop func() bool)
}

// tracedContext is a context with a trace whose parent has an AfterFunc
// method; it is done exactly when that parent is.
type tracedContext struct {
	context.Context
	parent afterFuncer
}

func (c tracedContext) AfterFunc(f func()) func() bool { return c.parent.AfterFunc(f) }
