package proxy

// The dialers: a connection to the proxy itself (TLS for an HTTPS proxy),
// an HTTP CONNECT tunnel through it, or a SOCKS4, SOCKS4a or SOCKS5
// connection through a gateway (RFC 1928, RFC 1929; SOCKS4 and 4a as
// their protocol notes describe them).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
)

// URLError codes the dialers fail with (Apple's values).
const (
	codeCannotConnect      = -1004
	codeBadServerResponse  = -1011
	codeAuthRequired       = -1013
	codeConnectionLost     = -1005
	maxHandshakeReplyBytes = 64 << 10
)

// Error is a failure to reach an origin through a proxy. It unwraps to a
// *fail.Error carrying the URLError code, whose cause is the detail.
type Error struct {
	// Proxy is the proxy's URL with its password redacted.
	Proxy string
	// Unreachable reports that the proxy itself could not be connected to
	// (a connection refused, a name not found, a timeout): the next
	// proxy of a list may be tried.
	Unreachable bool
	Err         error
}

func (e *Error) Error() string { return "proxy " + e.Proxy + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

func newError(p Proxy, code int, format string, args ...any) error {
	return &Error{Proxy: p.String(), Err: fail.Newf(code, format, args...)}
}

// AuthRequiredError reports that an HTTP proxy answered CONNECT with 407
// Proxy Authentication Required. Response is that answer, its body
// already read and closed.
type AuthRequiredError struct {
	Proxy    Proxy
	Response *http.Response
}

func (e *AuthRequiredError) Error() string {
	return "proxy " + e.Proxy.String() + " requires authentication for CONNECT"
}

// Dialer connects through proxies. Its zero value dials with a zero
// net.Dialer and verifies HTTPS proxies against the system roots.
type Dialer struct {
	// Forward opens the TCP connections to proxies (and to origins for
	// Direct). Nil means a net.Dialer.
	Forward func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLSConfig is the TLS configuration for HTTPS proxies; its
	// ServerName is set to the proxy's host when empty.
	TLSConfig *tls.Config
	// Resolver resolves origin names for SOCKS4 and SOCKS5 (local DNS).
	// Nil means net.DefaultResolver.
	Resolver *net.Resolver
}

func (d *Dialer) forward(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.Forward != nil {
		return d.Forward(ctx, network, addr)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// DialProxy connects to the proxy p itself: TCP, and TLS for an HTTPS
// proxy. An error reaching the proxy is an *Error with Unreachable set.
func (d *Dialer) DialProxy(ctx context.Context, p Proxy) (net.Conn, error) {
	conn, err := d.forward(ctx, "tcp", p.Addr)
	if err != nil {
		return nil, &Error{Proxy: p.String(), Unreachable: ctx.Err() == nil, Err: err}
	}
	if p.Kind != HTTPS {
		return conn, nil
	}
	cfg := d.TLSConfig.Clone()
	if cfg == nil {
		cfg = new(tls.Config)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = p.Host()
	}
	cfg.NextProtos = []string{"http/1.1"}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, &Error{Proxy: p.String(), Err: err}
	}
	return tc, nil
}

// Dial connects to target ("host:port") through p. For HTTP and HTTPS
// proxies it opens a CONNECT tunnel, sending header (Proxy-Authorization,
// User-Agent) with the request; a 407 answer is an *AuthRequiredError.
// For SOCKS it uses p's credentials (SOCKS5 user name and password, the
// SOCKS4 user id). Direct dials target. Errors are *Error values carrying
// the URLError code; cancelling ctx ends the handshake at once.
func (d *Dialer) Dial(ctx context.Context, p Proxy, target string, header http.Header) (net.Conn, error) {
	return d.DialAnswering(ctx, p, target, header, nil)
}

// DialAnswering is Dial for an HTTP proxy whose authentication takes a
// second leg on the same connection (NTLM): when the proxy answers CONNECT
// with a 407 that keeps the connection open, answer is given that 407 and
// returns the Proxy-Authorization of the next CONNECT on the connection
// ("" to stop). answer may be nil; it is not used for SOCKS.
func (d *Dialer) DialAnswering(ctx context.Context, p Proxy, target string, header http.Header, answer func(*http.Response) string) (net.Conn, error) {
	if p.IsDirect() {
		return d.forward(ctx, "tcp", target)
	}
	host, portText, err := net.SplitHostPort(target)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("proxy: bad port in %q", target)
	}
	conn, err := d.DialProxy(ctx, p)
	if err != nil {
		return nil, err
	}
	// A handshake cancelled through ctx, or past its deadline, ends
	// with the connection's deadline.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	var out net.Conn
	switch p.Kind {
	case HTTP, HTTPS:
		out, err = connect(conn, p, target, header, answer)
	case SOCKS4, SOCKS4A:
		out, err = d.socks4(ctx, conn, p, host, port)
	case SOCKS5, SOCKS5H:
		out, err = d.socks5(ctx, conn, p, host, port)
	default:
		err = fmt.Errorf("proxy: unknown kind %v", p.Kind)
	}
	if !stop() || ctx.Err() != nil {
		conn.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return out, nil
}

// handshakeErr describes an I/O error during a handshake: a connection
// the proxy closed is lost, a timeout stays a timeout.
func handshakeErr(p Proxy, stage string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return newError(p, codeConnectionLost, "the proxy closed the connection during %s", stage)
	}
	return &Error{Proxy: p.String(), Err: fmt.Errorf("%s: %w", stage, err)}
}

// bufferedConn is a connection whose first bytes were already read.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// CloseRead shuts down the read side when the connection can.
func (c *bufferedConn) CloseRead() error {
	if hc, ok := c.Conn.(interface{ CloseRead() error }); ok {
		return hc.CloseRead()
	}
	return nil
}

// CloseWrite shuts down the write side when the connection can, so a
// tunnel whose first bytes were read with the proxy's answer still
// half-closes.
func (c *bufferedConn) CloseWrite() error {
	if hc, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return nil
}

// connect opens a CONNECT tunnel to target on conn, answering one 407 on
// the same connection when answer gives a value.
func connect(conn net.Conn, p Proxy, target string, header http.Header, answer func(*http.Response) string) (net.Conn, error) {
	lr := &io.LimitedReader{R: conn, N: maxHandshakeReplyBytes}
	br := bufio.NewReader(lr)
	for {
		resp, err := connectOnce(conn, br, lr, p, target, header)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusProxyAuthRequired {
			_, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxHandshakeReplyBytes))
			resp.Body.Close()
			resp.Body = http.NoBody
			if err == nil && !resp.Close && answer != nil {
				if v := answer(resp); v != "" {
					header = header.Clone()
					if header == nil {
						header = http.Header{}
					}
					header.Set("Proxy-Authorization", v)
					answer = nil // one more leg at most
					continue
				}
			}
			return nil, &AuthRequiredError{Proxy: p, Response: resp}
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			resp.Body.Close()
			return nil, newError(p, codeCannotConnect, "CONNECT %s refused: %s", target, resp.Status)
		}
		lr.N = 1<<63 - 1 // the tunnel: no limit
		if n := br.Buffered(); n > 0 {
			rest, _ := br.Peek(n)
			return &bufferedConn{Conn: conn, r: io.MultiReader(bytes.NewReader(bytes.Clone(rest)), conn)}, nil
		}
		return conn, nil
	}
}

// connectOnce sends one CONNECT and reads its answer's head.
func connectOnce(conn net.Conn, br *bufio.Reader, lr *io.LimitedReader, p Proxy, target string, header http.Header) (*http.Response, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target, target)
	for k, vs := range header {
		for _, v := range vs {
			if !validHeader(k) || !validHeader(v) {
				return nil, fmt.Errorf("proxy: invalid CONNECT header %q", k)
			}
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := conn.Write(b.Bytes()); err != nil {
		return nil, handshakeErr(p, "CONNECT", err)
	}
	req := &http.Request{Method: http.MethodConnect}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if lr.N <= 0 {
				return nil, newError(p, codeBadServerResponse, "the answer to CONNECT is too long")
			}
			return nil, handshakeErr(p, "CONNECT", err)
		}
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, syscall.ECONNRESET) {
			return nil, handshakeErr(p, "CONNECT", err)
		}
		return nil, newError(p, codeBadServerResponse, "malformed answer to CONNECT: %v", err)
	}
	return resp, nil
}

func validHeader(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' || s[i] == 0 {
			return false
		}
	}
	return true
}

func (d *Dialer) resolver() *net.Resolver {
	if d.Resolver != nil {
		return d.Resolver
	}
	return net.DefaultResolver
}

// lookup resolves host for a SOCKS request with local DNS, preferring
// IPv4 when v4only.
func (d *Dialer) lookup(ctx context.Context, host string, v4only bool) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		if v4only && ip.To4() == nil {
			return nil, fmt.Errorf("proxy: SOCKS4 cannot reach the IPv6 address %s", host)
		}
		return ip, nil
	}
	addrs, err := d.resolver().LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if a.IP.To4() != nil {
			return a.IP.To4(), nil
		}
	}
	if v4only || len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no IPv4 address for SOCKS4", Name: host, IsNotFound: true}
	}
	return addrs[0].IP, nil
}

// socks4 runs a SOCKS4 or SOCKS4a CONNECT.
func (d *Dialer) socks4(ctx context.Context, conn net.Conn, p Proxy, host string, port int) (net.Conn, error) {
	user, _, _ := p.Credentials()
	if len(user) > 255 {
		return nil, errors.New("proxy: SOCKS4 user id too long")
	}
	req := []byte{4, 1, byte(port >> 8), byte(port)}
	ip := net.ParseIP(host).To4()
	remote := false
	if ip == nil {
		if p.Kind == SOCKS4A {
			ip, remote = net.IPv4(0, 0, 0, 1).To4(), true
		} else {
			var err error
			if ip, err = d.lookup(ctx, host, true); err != nil {
				return nil, err
			}
		}
	}
	req = append(req, ip...)
	req = append(req, user...)
	req = append(req, 0)
	if remote {
		if len(host) > 255 {
			return nil, errors.New("proxy: host name too long for SOCKS4a")
		}
		req = append(req, host...)
		req = append(req, 0)
	}
	if _, err := conn.Write(req); err != nil {
		return nil, handshakeErr(p, "the SOCKS4 request", err)
	}
	var reply [8]byte
	if _, err := io.ReadFull(conn, reply[:]); err != nil {
		return nil, handshakeErr(p, "the SOCKS4 reply", err)
	}
	if reply[0] != 0 {
		return nil, newError(p, codeBadServerResponse, "not a SOCKS4 reply (version %d)", reply[0])
	}
	switch reply[1] {
	case 90:
		return conn, nil
	case 92, 93:
		return nil, newError(p, codeAuthRequired, "SOCKS4 request rejected: identd (code %d)", reply[1])
	case 91:
		return nil, newError(p, codeCannotConnect, "SOCKS4 request rejected or failed")
	}
	return nil, newError(p, codeBadServerResponse, "unknown SOCKS4 reply code %d", reply[1])
}

// socks5Replies are the texts of RFC 1928's reply codes.
var socks5Replies = [...]string{
	1: "general SOCKS server failure", 2: "connection not allowed by ruleset",
	3: "network unreachable", 4: "host unreachable", 5: "connection refused",
	6: "TTL expired", 7: "command not supported", 8: "address type not supported",
}

// socks5 runs a SOCKS5 CONNECT, authenticating with a user name and
// password (RFC 1929) when p has them.
func (d *Dialer) socks5(ctx context.Context, conn net.Conn, p Proxy, host string, port int) (net.Conn, error) {
	user, pass, hasUser := p.Credentials()
	methods := []byte{5, 1, 0}
	if hasUser {
		methods = []byte{5, 2, 0, 2}
	}
	// The request, made before anything is sent so a bad name fails
	// without a round trip.
	req := []byte{5, 1, 0}
	if ip := net.ParseIP(host); ip != nil || p.Kind == SOCKS5 {
		if ip == nil {
			var err error
			if ip, err = d.lookup(ctx, host, false); err != nil {
				return nil, err
			}
		}
		if ip4 := ip.To4(); ip4 != nil {
			req = append(append(req, 1), ip4...)
		} else {
			req = append(append(req, 4), ip.To16()...)
		}
	} else {
		if len(host) > 255 {
			return nil, errors.New("proxy: host name too long for SOCKS5")
		}
		req = append(append(req, 3, byte(len(host))), host...)
	}
	req = binary.BigEndian.AppendUint16(req, uint16(port))

	if _, err := conn.Write(methods); err != nil {
		return nil, handshakeErr(p, "the SOCKS5 greeting", err)
	}
	var sel [2]byte
	if _, err := io.ReadFull(conn, sel[:]); err != nil {
		return nil, handshakeErr(p, "the SOCKS5 greeting", err)
	}
	if sel[0] != 5 {
		return nil, newError(p, codeBadServerResponse, "not a SOCKS5 server (version %d)", sel[0])
	}
	switch sel[1] {
	case 0:
	case 2:
		if !hasUser {
			return nil, newError(p, codeBadServerResponse, "the SOCKS5 server chose a method not offered")
		}
		if len(user) > 255 || len(pass) > 255 {
			return nil, errors.New("proxy: SOCKS5 user name or password too long")
		}
		a := append([]byte{1, byte(len(user))}, user...)
		a = append(append(a, byte(len(pass))), pass...)
		if _, err := conn.Write(a); err != nil {
			return nil, handshakeErr(p, "SOCKS5 authentication", err)
		}
		var st [2]byte
		if _, err := io.ReadFull(conn, st[:]); err != nil {
			return nil, handshakeErr(p, "SOCKS5 authentication", err)
		}
		if st[1] != 0 {
			return nil, newError(p, codeAuthRequired, "the SOCKS5 server refused the user name and password")
		}
	case 0xff:
		if hasUser {
			return nil, newError(p, codeAuthRequired, "the SOCKS5 server accepts no offered authentication method")
		}
		return nil, newError(p, codeAuthRequired, "the SOCKS5 server requires authentication")
	default:
		return nil, newError(p, codeBadServerResponse, "the SOCKS5 server chose a method not offered (%d)", sel[1])
	}
	if _, err := conn.Write(req); err != nil {
		return nil, handshakeErr(p, "the SOCKS5 request", err)
	}
	var head [4]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return nil, handshakeErr(p, "the SOCKS5 reply", err)
	}
	if head[0] != 5 {
		return nil, newError(p, codeBadServerResponse, "not a SOCKS5 reply (version %d)", head[0])
	}
	if head[1] != 0 {
		text := "unknown reply code"
		if int(head[1]) < len(socks5Replies) && socks5Replies[head[1]] != "" {
			text = socks5Replies[head[1]]
		}
		return nil, newError(p, codeCannotConnect, "SOCKS5 connect to %s: %s (%d)", net.JoinHostPort(host, strconv.Itoa(port)), text, head[1])
	}
	var skip int
	switch head[3] {
	case 1:
		skip = 4
	case 4:
		skip = 16
	case 3:
		var n [1]byte
		if _, err := io.ReadFull(conn, n[:]); err != nil {
			return nil, handshakeErr(p, "the SOCKS5 reply", err)
		}
		skip = int(n[0])
	default:
		return nil, newError(p, codeBadServerResponse, "bad address type %d in the SOCKS5 reply", head[3])
	}
	if _, err := io.CopyN(io.Discard, conn, int64(skip+2)); err != nil {
		return nil, handshakeErr(p, "the SOCKS5 reply", err)
	}
	return conn, nil
}
