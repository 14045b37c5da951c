package urlsession

// CONNECT requests of data tasks: sent on a connection of their own (over
// HTTP/2 when an https server chooses it, see connecth2.go), so that a 2xx answer leaves the connection to the task (a
// body that reads and writes the tunnel), which ResponseBecomeStream turns
// into a stream task. net/http's Transport keeps the connection of a
// CONNECT and closes it when the tunnel's read side ends, which would take
// a half-close from the task.

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/urlsession-go/urlsession/internal/fail"
)

// isConnect reports whether req is a CONNECT request.
func isConnect(req *http.Request) bool { return req != nil && req.Method == http.MethodConnect }

// connectTransport sends CONNECT requests, one connection each, with the
// dialers of tr: its DialContext (the session's proxies) and, for https
// URLs, its DialTLSContext (the session's TLS, offering HTTP/1.1 only).
type connectTransport struct {
	tr *http.Transport
	h2 bool // offer HTTP/2 to https servers
}

// connectAuthority returns the host and port a CONNECT request asks for:
// its Host, else its URL's host, which must name a port.
func connectAuthority(req *http.Request) (string, int, error) {
	authority := req.Host
	if authority == "" && req.URL != nil {
		authority = req.URL.Host
	}
	host, portText, err := net.SplitHostPort(authority)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil || host == "" || port < 1 || port > 65535 {
		return "", 0, fail.Newf(int(ErrBadURL), "urlsession: a CONNECT request names a host and a port, not %q", authority)
	}
	return host, port, nil
}

func (c connectTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close() // never sent: see ResponseBecomeStream
	}
	if _, _, err := connectAuthority(req); err != nil {
		return nil, err
	}
	ctx := req.Context()
	addr := canonicalAddr(req)
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.GetConn != nil {
		trace.GetConn(addr)
	}
	var conn net.Conn
	var err error
	if strings.EqualFold(req.URL.Scheme, "https") {
		dctx := context.WithValue(ctx, http1OnlyKey{}, true)
		if c.h2 {
			dctx = context.WithValue(ctx, alpnKey{}, []string{"h2", "http/1.1"})
		}
		conn, err = c.tr.DialTLSContext(dctx, "tcp", addr)
	} else {
		conn, err = c.tr.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*tls.Conn); ok && trace != nil && trace.TLSHandshakeDone != nil {
		trace.TLSHandshakeDone(tc.ConnectionState(), nil) // as net/http reports it
	}
	if trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: conn})
	}
	if tc, ok := conn.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
		return c.roundTripH2(ctx, tc, req) // connecth2.go
	}
	resp, br, err := c.exchange(ctx, conn, req, trace)
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		// ReadResponse's body is dropped unread: closing it would consume
		// tunnel bytes as the answer's content.
		tb := &tunnelBody{br: br, conn: conn}
		tb.stop = context.AfterFunc(ctx, func() { conn.Close() })
		resp.Body = tb
		resp.ContentLength = -1
		resp.Close = true
		return resp, nil
	}
	resp.Body = &connBody{ReadCloser: resp.Body, conn: conn, stop: context.AfterFunc(ctx, func() { conn.Close() })}
	return resp, nil
}

// exchange writes the CONNECT request on conn and reads its answer, bounded
// by ctx; the reader holds the bytes after the answer's header.
func (c connectTransport) exchange(ctx context.Context, conn net.Conn, req *http.Request, trace *httptrace.ClientTrace) (*http.Response, *bufio.Reader, error) {
	stop := deadline(ctx, conn.SetDeadline)
	defer stop()
	r2 := req.Clone(ctx)
	r2.Body, r2.GetBody, r2.ContentLength = nil, nil, 0
	r2.TransferEncoding = nil
	if r2.Header.Get("User-Agent") == "" {
		r2.Header.Set("User-Agent", "") // none rather than Go's
	}
	bw := bufio.NewWriter(conn)
	if err := r2.Write(bw); err != nil {
		return nil, nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, nil, err
	}
	if trace != nil && trace.WroteHeaders != nil {
		trace.WroteHeaders()
	}
	if trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{})
	}
	br := bufio.NewReader(conn)
	for first := true; ; first = false {
		if first && trace != nil && trace.GotFirstResponseByte != nil {
			if _, err := br.Peek(1); err != nil {
				return nil, nil, err
			}
			trace.GotFirstResponseByte()
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, br, nil
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, nil, err
			}
		}
	}
}

// canonicalAddr is the host:port a request's URL connects to.
func canonicalAddr(req *http.Request) string {
	u := req.URL
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// detacher is a CONNECT tunnel's body, which the end of the request's
// context closes until detach is called (by becomeStream, which hands the
// tunnel to a stream task that outlives the data task).
type detacher interface{ detach() }

// tunnelBody is the body of a 2xx answer to CONNECT: the tunnel, read
// (first what came with the answer) and written.
type tunnelBody struct {
	br   *bufio.Reader
	conn net.Conn
	stop func() bool // stops closing conn when the request's context ends
}

func (b *tunnelBody) Read(p []byte) (int, error)  { return b.br.Read(p) }
func (b *tunnelBody) Write(p []byte) (int, error) { return b.conn.Write(p) }
func (b *tunnelBody) detach()                     { b.stop() }

func (b *tunnelBody) Close() error {
	b.stop()
	return b.conn.Close()
}

// connBody is the body of any other answer to CONNECT; closing it closes
// the connection, as the end of the request's context does.
type connBody struct {
	io.ReadCloser
	conn net.Conn
	stop func() bool
}

func (b *connBody) Close() error {
	b.stop()
	b.ReadCloser.Close()
	return b.conn.Close()
}
