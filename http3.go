package urlsession

// HTTP/3 (RFC 9114) over QUIC, through quic-go. The session sends an https
// request over HTTP/3 when its origin advertised an HTTP/3 alternative with
// Alt-Svc (altsvc.go), when the request assumes HTTP/3
// (RequestOptions.AssumesHTTP3Capable), or always with
// Configuration.HTTP3Only; everything else goes over TCP through the
// session's http.Transport. The choice is made under the pipeline, in
// sessionTransport, so redirects, cookies, the cache and authentication
// are the same for all three versions.
//
// Racing: a request that needs a new QUIC connection waits for it for
// h3FallbackDelay; when the server has not answered by then (UDP blocked
// or slow), the request goes over TCP and the handshake goes on for the
// requests after it. Once the server has answered, the request waits for
// the handshake to end: a certificate is being evaluated, maybe by the
// task's delegate, and the task's TCP handshake would ask it again. A
// handshake that fails marks the alternative broken for the origin
// (altSvcCache.markBroken), so that the requests after it go over TCP at
// once.
//
// Server trust is that of TCP connections (servertrust.go): the handshake
// configuration comes from the same tlsDialer.handshakeConfig, with the
// ServerTrust and ClientCertificate challenges of the task whose request
// started the dial, the pins and App Transport Security.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/urlsession-go/urlsession/internal/fail"
)

// h3FallbackDelay is how long a request waits for a new QUIC connection's
// server to answer before it goes over TCP instead.
const h3FallbackDelay = 300 * time.Millisecond

// h3HandshakeTimeout bounds a QUIC handshake.
const h3HandshakeTimeout = 10 * time.Second

// h3IdleTimeout closes a QUIC connection that carried nothing for this
// long, as IdleConnTimeout does for TCP.
const h3IdleTimeout = 90 * time.Second

// h3State is a session's HTTP/3 state: its QUIC connections, which Reset
// and Flush replace, and its Alt-Svc memory.
type h3State struct {
	tr      atomic.Pointer[h3Transport] // nil when HTTP/3 is not used
	alt     altSvcCache
	tickets ticketCache // TLS session tickets, with EnablesEarlyData

	// For tests, set before the session's first request: fallbackDelay
	// and handshakeTimeout, when set, replace h3FallbackDelay and
	// h3HandshakeTimeout; hook, when set, is told of each dial's start
	// ("dial") and end ("dialed", with its error).
	fallbackDelay    time.Duration
	handshakeTimeout time.Duration
	hook             func(event, addr string, err error)
}

// ticketCache is the TLS session cache of a session's QUIC connections,
// which Reset empties.
type ticketCache struct {
	mu sync.Mutex
	c  tls.ClientSessionCache
}

// ticketCacheSize is how many servers' tickets a session keeps.
const ticketCacheSize = 64

// Get and Put implement tls.ClientSessionCache.
func (t *ticketCache) Get(key string) (*tls.ClientSessionState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.c == nil {
		return nil, false
	}
	return t.c.Get(key)
}

func (t *ticketCache) Put(key string, cs *tls.ClientSessionState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.c == nil {
		t.c = tls.NewLRUClientSessionCache(ticketCacheSize)
	}
	t.c.Put(key, cs)
}

// reset forgets every ticket.
func (t *ticketCache) reset() {
	t.mu.Lock()
	t.c = nil
	t.mu.Unlock()
}

// h3Transport holds a session's QUIC connections.
type h3Transport struct {
	early   bool         // EnablesEarlyData
	tickets *ticketCache // the session's, with early
	dialer  *tlsDialer   // the base TLS settings, pins, client certificates
	start   *tls.Config  // a handshake's configuration before the callbacks
	quic    *quic.Config
	conns   *http3.Transport // makes the HTTP/3 client connections
	alt     *altSvcCache
	delay   time.Duration
	hsTime  time.Duration // bounds a handshake
	hook    func(event, addr string, err error)

	// dialUDP is Configuration.DialUDPContext, nil for the session's own
	// resolution and socket; connectTimeout is ConnectTimeout.
	dialUDP        func(ctx context.Context, network, addr string) (net.PacketConn, net.Addr, error)
	connectTimeout time.Duration

	mu     sync.Mutex
	pool   map[string]*h3Conn // by address dialled ("host:port")
	closed bool
}

// newH3Transport returns the HTTP/3 transport of a session with cfg, or
// nil when cfg does not use HTTP/3: DisableHTTP3, a DialContext of its own
// (which only opens TCP connections) without a DialUDPContext, or a
// maximum TLS version below 1.3 (QUIC needs TLS 1.3).
func newH3Transport(cfg *Configuration, st *h3State) *h3Transport {
	if cfg.DisableHTTP3 || cfg.DialContext != nil && cfg.DialUDPContext == nil {
		return nil
	}
	base := baseTLSConfig(cfg)
	if base == nil {
		base = new(tls.Config)
	}
	if base.MaxVersion != 0 && base.MaxVersion < tls.VersionTLS13 {
		return nil
	}
	d := &tlsDialer{base: base.Clone(), pins: newPinSet(cfg.PinnedDomains)}
	d.askCert = len(base.Certificates) == 0 && base.GetClientCertificate == nil
	start := base.Clone()
	start.NextProtos = []string{http3.NextProtoH3}
	start.MinVersion = tls.VersionTLS13
	if cfg.EnablesEarlyData {
		start.ClientSessionCache = &st.tickets
	}
	delay, hsTime := h3FallbackDelay, h3HandshakeTimeout
	if st.fallbackDelay > 0 {
		delay = st.fallbackDelay
	}
	if st.handshakeTimeout > 0 {
		hsTime = st.handshakeTimeout
	}
	idle := hsTime / 2
	if cfg.ConnectTimeout > 0 {
		// quic-go ends a handshake when no packet arrived for this long:
		// the server's first answer, as a TCP connect waits for its.
		idle = min(idle, cfg.ConnectTimeout)
	}
	return &h3Transport{
		early:   cfg.EnablesEarlyData,
		tickets: &st.tickets,
		dialer:  d,
		start:   start,
		quic: &quic.Config{
			HandshakeIdleTimeout: idle,
			MaxIdleTimeout:       h3IdleTimeout,
			MaxIncomingStreams:   -1, // the server opens no request streams
		},
		conns:          &http3.Transport{DisableCompression: true, MaxResponseHeaderBytes: 1 << 20},
		alt:            &st.alt,
		delay:          delay,
		hsTime:         hsTime,
		hook:           st.hook,
		dialUDP:        cfg.DialUDPContext,
		connectTimeout: cfg.ConnectTimeout,
	}
}

// errH3Abandoned ends a handshake that its task no longer waits for and
// that would ask that task's delegate to evaluate the server's
// certificate: the task went on over TCP, where it is asked instead.
var errH3Abandoned = errors.New("urlsession: HTTP/3 handshake abandoned: the request went over TCP")

// h3Conn is one QUIC connection, from its dial on.
type h3Conn struct {
	addr   string
	origin string
	ready  chan struct{} // closed when the dial has ended
	cancel context.CancelFunc

	// Set before ready is closed.
	conn *quic.Conn
	cc   *http3.ClientConn
	err  error

	used    atomic.Bool                           // a request went on it
	aborted atomic.Bool                           // closeIdle cancelled the dial
	trace   atomic.Pointer[httptrace.ClientTrace] // of the request waiting for the dial

	mu        sync.Mutex
	waiting   bool          // the request that started the dial waits for it
	committed bool          // it waits until the dial ends
	answered  chan struct{} // closed when the server's certificate arrived
	active    int           // requests in flight (h3Transport.mu)
}

// commit is called when the server's certificate has arrived. The request
// that started the dial then waits for the handshake to end. It reports
// false when that request went over TCP already and the handshake asks
// its task's delegate (ask), which must not be asked twice.
func (c *h3Conn) commit(ask bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.waiting && ask {
		return false
	}
	if c.waiting && !c.committed {
		c.committed = true
		close(c.answered)
	}
	return true
}

// giveUp is called when the request that started the dial stops waiting
// for it; it reports false when the request must wait on (commit came
// first).
func (c *h3Conn) giveUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.committed {
		return false
	}
	c.waiting = false
	c.trace.Store(nil)
	return true
}

// h3Route returns the address of the HTTP/3 alternative req goes to, or ""
// for TCP, and whether it must go over HTTP/3 (Configuration.HTTP3Only).
// An error means req must go over HTTP/3 and cannot.
func (s *Session) h3Route(req *http.Request) (origin, addr string, only bool, err error) {
	only = s.cfg.HTTP3Only && !s.cfg.DisableHTTP3
	tr := s.h3.tr.Load()
	if tr == nil && !only {
		return "", "", false, nil
	}
	refuse := func(why string) (string, string, bool, error) {
		if !only {
			return "", "", false, nil
		}
		return "", "", true, fail.Newf(int(ErrCannotConnectToHost), "urlsession: HTTP/3 is required (Configuration.HTTP3Only) but %s", why)
	}
	switch {
	case tr == nil:
		return refuse("the configuration cannot use it (a DialContext of its own without a DialUDPContext, or TLS below 1.3)")
	case req.URL == nil || !strings.EqualFold(req.URL.Scheme, "https"):
		return refuse("HTTP/3 needs an https URL")
	case req.Header.Get("Upgrade") != "":
		return refuse("HTTP/3 has no Upgrade")
	}
	t := taskFrom(req.Context())
	assumes := t != nil && t.opts.AssumesHTTP3Capable
	if !only && !assumes && !s.h3.alt.known() {
		return "", "", false, nil // the common case: nothing to look up
	}
	host := strings.ToLower(req.URL.Hostname())
	port := req.URL.Port()
	if port == "" {
		port = "443"
	}
	origin = net.JoinHostPort(host, port)
	addr = ""
	if p, ok := s.h3.alt.lookup(origin); ok {
		addr = net.JoinHostPort(host, strconv.Itoa(p))
		if !only && s.h3.alt.isBroken(origin, addr) {
			addr = ""
		}
	}
	if addr == "" && (only || assumes && !s.h3.alt.isBroken(origin, origin)) {
		addr = origin
	}
	if addr == "" {
		return "", "", false, nil
	}
	if u, perr := s.proxies.usesProxy(req); perr != nil || u != nil {
		return refuse("the request goes through a proxy")
	}
	return origin, addr, only, nil
}

// roundTrip sends req over HTTP/3 to addr. With handled false, req was not
// sent and goes over TCP: the connection was not up in time or could not
// be made, and only is false.
func (h *h3Transport) roundTrip(req *http.Request, origin, addr string, only bool) (resp *http.Response, err error, handled bool) {
	resp, err, handled = h.roundTripOn(req, origin, addr, only)
	if errors.Is(err, quic.Err0RTTRejected) {
		// The server discarded the early data unread (it cannot read the
		// ticket, or changed its settings). The request goes again on a
		// new connection with a full handshake: the rejected one is
		// unusable until the ticket is forgotten.
		h.tickets.reset()
		resp, err, handled = h.roundTripOn(req, origin, addr, only)
	}
	return resp, err, handled
}

// roundTripOn is roundTrip on the connection to addr. It returns an error
// that is quic.Err0RTTRejected, with handled true, when the server
// rejected the early data the request went in; the connection is then
// closed.
func (h *h3Transport) roundTripOn(req *http.Request, origin, addr string, only bool) (resp *http.Response, err error, handled bool) {
	ctx := req.Context()
	c, dialer := h.get(ctx, origin, addr)
	if c == nil {
		if only {
			return nil, fail.Newf(int(ErrCannotConnectToHost), "urlsession: HTTP/3 is required but the session's connections are closed"), true
		}
		return nil, nil, false
	}
	if !h.wait(ctx, c, dialer, only) {
		if err := ctx.Err(); err != nil {
			return nil, err, true
		}
		return nil, nil, false // slow: over TCP, the dial goes on
	}
	if c.err != nil {
		if only || trustFailure(c.err) && !c.aborted.Load() {
			return nil, h.dialError(c.err), true
		}
		return nil, nil, false
	}
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: quicConnInfo{c.conn}, Reused: c.used.Swap(true)})
	} else {
		c.used.Store(true)
	}
	h.mu.Lock()
	c.active++
	h.mu.Unlock()
	send := req
	if h.early {
		send = earlyRequest(req)
	}
	resp, err = c.cc.RoundTrip(send)
	if resp != nil {
		resp.Request = req
	}
	if err != nil && errors.Is(err, quic.Err0RTTRejected) {
		h.release(c)
		h.discard(c)
		return nil, err, true
	}
	if err != nil {
		h.release(c)
		if h.early {
			if herr := earlyFailure(c); herr != nil {
				return nil, h.dialError(herr), true
			}
		}
		if ctx.Err() != nil || only || !replayable(req) && !unsent(err) {
			return nil, err, true
		}
		// Nothing the server could act on was lost: the request was not
		// sent (the connection had received a GOAWAY or was closing), or
		// it has no body and an idempotent method. It goes over TCP.
		return nil, nil, false
	}
	resp.Body = &h3Body{rc: resp.Body, release: func() { h.release(c) }}
	return resp, nil, true
}

// earlyRequest returns req as quic-go's client sends it in 0-RTT when its
// connection's handshake is still going on: a GET or HEAD without a body,
// under quic-go's method names for it. Other requests are returned as
// they are, and wait for the handshake.
func earlyRequest(req *http.Request) *http.Request {
	if req.Body != nil && req.Body != http.NoBody {
		return req
	}
	method := ""
	switch req.Method {
	case "", http.MethodGet:
		method = http3.MethodGet0RTT
	case http.MethodHead:
		method = http3.MethodHead0RTT
	default:
		return req
	}
	r2 := *req
	r2.Method = method
	return &r2
}

// discard closes c, whose server rejected its early data, and takes it out
// of the pool. (quic-go would have its streams begin again from the first
// after the rejection, where the rejected streams' resets still go.)
func (h *h3Transport) discard(c *h3Conn) {
	h.unpool(c)
	c.conn.CloseWithError(0, "")
}

// unpool takes c out of the pool, where a new connection to its address
// may have taken its place, and reports whether the transport is closed.
func (h *h3Transport) unpool(c *h3Conn) (closed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pool[c.addr] == c {
		delete(h.pool, c.addr)
	}
	return h.closed
}

// replayable reports whether req may be sent again over TCP after its
// HTTP/3 attempt failed: it has no body and an idempotent method.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// unsent reports whether err, from an HTTP/3 round trip, means that the
// request was not sent at all: quic-go could not open its stream. quic-go
// exposes no type for it (its errConnUnusable), hence the text.
func unsent(err error) bool {
	return strings.HasPrefix(err.Error(), "http3: conn unusable")
}

// trustFailure reports whether a failed handshake failed on the server's
// certificate or the client's, or because the task was cancelled (by a
// challenge's delegate): TCP would fail alike, after asking the delegates
// again.
func trustFailure(err error) bool {
	switch classify(err, "").Code {
	case ErrCancelled, ErrServerCertificateHasBadDate, ErrServerCertificateUntrusted,
		ErrServerCertificateHasUnknownRoot, ErrServerCertificateNotYetValid,
		ErrClientCertificateRejected, ErrClientCertificateRequired:
		return true
	}
	return false
}

// dialError is the error of a request that could not be sent over
// HTTP/3: a failure to connect, unless it is one of trust, or a timeout
// when the configuration has a ConnectTimeout.
func (h *h3Transport) dialError(err error) error {
	if trustFailure(err) {
		return err
	}
	if h.connectTimeout > 0 && isTimeout(err) {
		return fail.New(int(ErrTimedOut), fmt.Errorf("urlsession: no HTTP/3 connection within %v: %w", h.connectTimeout, err))
	}
	if c := classify(err, "").Code; c == ErrCannotFindHost || c == ErrDNSLookupFailed {
		return err
	}
	return fail.New(int(ErrCannotConnectToHost), fmt.Errorf("urlsession: no HTTP/3 connection: %w", err))
}

// wait waits for the dial of c. It reports false when the request should
// not wait longer: its context ended, or (unless only) c's server did not
// answer within the fallback delay.
func (h *h3Transport) wait(ctx context.Context, c *h3Conn, dialer, only bool) bool {
	select {
	case <-c.ready:
		return true
	default:
	}
	if only || !dialer {
		// A request that did not start the dial waits for it only as
		// long as a fallback would.
		if !only {
			t := time.NewTimer(h.delay)
			defer t.Stop()
			select {
			case <-c.ready:
				return true
			case <-t.C:
				return false
			case <-ctx.Done():
				return false
			}
		}
		select {
		case <-c.ready:
			return true
		case <-ctx.Done():
			return false
		}
	}
	t := time.NewTimer(h.delay)
	defer t.Stop()
	select {
	case <-c.ready:
		return true
	case <-c.answered:
	case <-t.C:
		if c.giveUp() {
			return false
		}
	case <-ctx.Done():
		c.giveUp()
		return false
	}
	// The server answered: the handshake ends soon, or its certificate is
	// with a delegate.
	select {
	case <-c.ready:
		return true
	case <-ctx.Done():
		return false
	}
}

// get returns the connection to addr, dialling it when there is none;
// dialer tells whether this call started the dial. It returns nil once
// the transport is closed.
func (h *h3Transport) get(ctx context.Context, origin, addr string) (c *h3Conn, dialer bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	if c := h.pool[addr]; c != nil {
		select {
		case <-c.ready:
			if c.err == nil && c.conn.Context().Err() == nil {
				return c, false
			}
		default:
			return c, false
		}
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.hsTime)
	c = &h3Conn{addr: addr, origin: origin, ready: make(chan struct{}), answered: make(chan struct{}), cancel: cancel, waiting: true}
	c.trace.Store(httptrace.ContextClientTrace(ctx))
	if h.pool == nil {
		h.pool = make(map[string]*h3Conn)
	}
	h.pool[addr] = c
	if h.hook != nil {
		h.hook("dial", addr, nil)
	}
	go h.dial(dctx, c)
	return c, true
}

// dial makes c's connection. It ends when the handshake has, within
// h3HandshakeTimeout; the connection's watch goroutine then runs until the
// connection closes.
func (h *h3Transport) dial(ctx context.Context, c *h3Conn) {
	defer c.cancel()
	conn, udp, early, err := h.handshake(ctx, c)
	trace := c.trace.Swap(nil) // the waiting request's metrics are done with
	if err == nil {
		c.conn = conn
		c.cc = h.conns.NewClientConn(conn)
	} else {
		c.err = err
		h.failed(c, err)
	}
	close(c.ready)
	if h.hook != nil {
		h.hook("dialed", c.addr, err)
	}
	if err != nil {
		return
	}
	if early {
		// Requests go on the connection in 0-RTT while its handshake
		// ends, within the dial's time.
		if err := finishHandshake(ctx, conn, trace); err != nil {
			udp.Close()
			h.failed(c, err)
			return
		}
	}
	h.alt.confirm(c.origin, c.addr)
	go func() {
		<-conn.Context().Done()
		udp.Close()
		h.unpool(c)
	}()
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		conn.CloseWithError(0, "")
	}
}

// failed takes c, whose handshake failed with err, out of the pool and,
// unless the transport is closed or the dial was abandoned or cancelled,
// leaves its alternative unused for a while.
func (h *h3Transport) failed(c *h3Conn, err error) {
	if !h.unpool(c) && !errors.Is(err, errH3Abandoned) && !errors.Is(err, context.Canceled) {
		h.alt.markBroken(c.origin, c.addr)
	}
}

// finishHandshake waits, until ctx is done, for the end of the handshake
// of conn, which carries early data, and reports it to trace (the metrics
// of the request that dialled). It returns the handshake's failure.
func finishHandshake(ctx context.Context, conn *quic.Conn, trace *httptrace.ClientTrace) error {
	var err error
	select {
	case <-conn.HandshakeComplete():
	case <-conn.Context().Done():
		err = context.Cause(conn.Context())
	case <-ctx.Done():
		err = context.Cause(ctx)
		conn.CloseWithError(0, "")
	}
	var state tls.ConnectionState
	if err == nil {
		state = conn.ConnectionState().TLS
	}
	if trace != nil && trace.TLSHandshakeDone != nil {
		trace.TLSHandshakeDone(state, err)
	}
	return err
}

// earlyFailure returns, for a request that failed on c, the failure of
// c's handshake when c carried early data and its handshake failed on
// trust: the request fails with it, as it would have without early data,
// rather than go over TCP, whose handshake would ask the delegate again.
// It waits for the handshake to end (bounded by the dial's time).
func earlyFailure(c *h3Conn) error {
	select {
	case <-c.conn.HandshakeComplete():
		return nil
	case <-c.conn.Context().Done():
	}
	select {
	case <-c.conn.HandshakeComplete():
		return nil
	default:
	}
	if err := context.Cause(c.conn.Context()); trustFailure(err) && !c.aborted.Load() {
		return err
	}
	return nil
}

// isTimeout reports whether err is a timeout: a context's deadline, or a
// net.Error that says so (quic-go's handshake timeouts among them).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// socket returns the UDP socket of a new connection to addr (host and
// port apart) and the server's address on it: DialUDPContext's, or a
// socket of the session's own to an address of host, IPv4 preferred. The
// step is bounded by ConnectTimeout.
func (h *h3Transport) socket(ctx context.Context, addr, host, portText string, tr func() *httptrace.ClientTrace) (net.PacketConn, net.Addr, error) {
	if h.connectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.connectTimeout)
		defer cancel()
	}
	if h.dialUDP != nil {
		pc, raddr, err := h.dialUDP(ctx, "udp", addr)
		if err == nil && (pc == nil || raddr == nil) {
			if pc != nil {
				pc.Close()
			}
			err = errors.New("urlsession: DialUDPContext returned no socket or no address")
		}
		if err != nil {
			return nil, nil, err
		}
		return pc, raddr, nil
	}
	return udpSocket(ctx, host, portText, tr)
}

// DialUDP prepares the UDP side of an HTTP/3 connection to addr
// ("host:port") as a session does when its Configuration has no
// DialUDPContext: the host resolved with net.DefaultResolver, an IPv4
// address preferred, and an unconnected socket from net.ListenUDP. It
// returns the socket and the server's address. network is ignored (it is
// "udp"). Give it as Configuration.DialUDPContext beside a DialContext of
// your own to keep HTTP/3 with the session's own UDP dialing.
func DialUDP(ctx context.Context, network, addr string) (net.PacketConn, net.Addr, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	return udpSocket(ctx, host, portText, func() *httptrace.ClientTrace { return nil })
}

// udpSocket resolves host (reporting to tr's trace) and opens the UDP
// socket of an HTTP/3 connection to it (see DialUDP).
func udpSocket(ctx context.Context, host, portText string, tr func() *httptrace.ClientTrace) (net.PacketConn, net.Addr, error) {
	port, err := net.LookupPort("udp", portText)
	if err != nil {
		return nil, nil, err
	}
	ips := []net.IPAddr{}
	if ip := net.ParseIP(host); ip != nil {
		ips = append(ips, net.IPAddr{IP: ip})
	} else {
		if t := tr(); t != nil && t.DNSStart != nil {
			t.DNSStart(httptrace.DNSStartInfo{Host: host})
		}
		ips, err = net.DefaultResolver.LookupIPAddr(ctx, host)
		if t := tr(); t != nil && t.DNSDone != nil {
			t.DNSDone(httptrace.DNSDoneInfo{Addrs: ips, Err: err})
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if len(ips) == 0 {
		return nil, nil, &net.DNSError{Err: "no address", Name: host, IsNotFound: true}
	}
	ip := ips[0]
	for _, a := range ips {
		if a.IP.To4() != nil { // IPv4 first, as a blocked v6 path would hang
			ip = a
			break
		}
	}
	raddr := &net.UDPAddr{IP: ip.IP, Port: port, Zone: ip.Zone}
	network := "udp4"
	if ip.IP.To4() == nil {
		network = "udp6"
	}
	udp, err := net.ListenUDP(network, nil)
	if err != nil {
		return nil, nil, err
	}
	return udp, raddr, nil
}

// handshake resolves c's address and runs the QUIC handshake, reporting
// each step to the trace of the request that waits for it.
//
// With EnablesEarlyData, a connection that resumes a TLS session allowing
// early data is returned once the early data may be sent (early), before
// its handshake ends.
func (h *h3Transport) handshake(ctx context.Context, c *h3Conn) (conn *quic.Conn, udp net.PacketConn, early bool, err error) {
	host, portText, err := net.SplitHostPort(c.addr)
	if err != nil {
		return nil, nil, false, err
	}
	_, originPort, _ := net.SplitHostPort(c.origin)
	op, _ := strconv.Atoi(originPort)
	tr := func() *httptrace.ClientTrace { return c.trace.Load() }

	udp, raddr, err := h.socket(ctx, c.addr, host, portText, tr)
	if err != nil {
		return nil, nil, false, err
	}

	cfg, hs := h.dialer.handshakeConfig(ctx, h.start, host, op)
	ask := hs.task != nil
	inner := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if !c.commit(ask) {
			return errH3Abandoned
		}
		if inner != nil {
			return inner(cs)
		}
		return nil
	}
	if t := tr(); t != nil && t.ConnectStart != nil {
		t.ConnectStart("udp", raddr.String())
	}
	if t := tr(); t != nil && t.TLSHandshakeStart != nil {
		t.TLSHandshakeStart()
	}
	if h.early {
		conn, err = quic.DialEarly(ctx, udp, raddr, cfg, h.quic)
	} else {
		conn, err = quic.Dial(ctx, udp, raddr, cfg, h.quic)
	}
	if err != nil {
		udp.Close()
		if errors.Is(err, errH3Abandoned) {
			err = errH3Abandoned
		}
	}
	var state tls.ConnectionState
	if conn != nil {
		select {
		case <-conn.HandshakeComplete():
			state = conn.ConnectionState().TLS
		default:
			early = true // finishHandshake reports the end
		}
	}
	if t := tr(); t != nil && t.TLSHandshakeDone != nil && !early {
		t.TLSHandshakeDone(state, err)
	}
	if t := tr(); t != nil && t.ConnectDone != nil {
		t.ConnectDone("udp", raddr.String(), err)
	}
	if err != nil {
		return nil, nil, false, err
	}
	return conn, udp, early, nil
}

// release ends a request on c.
func (h *h3Transport) release(c *h3Conn) {
	h.mu.Lock()
	c.active--
	last := h.closed && c.active == 0
	h.mu.Unlock()
	if last {
		c.conn.CloseWithError(0, "")
	}
}

// closeIdle closes the connections that carry no request and cancels the
// dials in progress.
func (h *h3Transport) closeIdle() {
	h.mu.Lock()
	var idle []*h3Conn
	for addr, c := range h.pool {
		select {
		case <-c.ready:
			if c.active > 0 {
				continue
			}
		default:
		}
		idle = append(idle, c)
		delete(h.pool, addr)
	}
	h.mu.Unlock()
	for _, c := range idle {
		c.aborted.Store(true)
		c.cancel()
		select {
		case <-c.ready:
			if c.conn != nil {
				c.conn.CloseWithError(0, "")
			}
		default:
			// The dial ends on its cancelled context.
		}
	}
}

// close closes the idle connections and makes the transport refuse new
// ones; connections carrying a request close when it ends (or their idle
// timeout passes).
func (h *h3Transport) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.closeIdle()
}

// h3Body is the body of a response over HTTP/3: its end releases the
// connection.
type h3Body struct {
	rc      io.ReadCloser
	once    sync.Once
	release func()
}

func (b *h3Body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.once.Do(b.release)
	}
	return n, err
}

func (b *h3Body) Close() error {
	err := b.rc.Close()
	b.once.Do(b.release)
	return err
}

// quicConnInfo stands for a QUIC connection in httptrace.GotConnInfo,
// whose Conn is a net.Conn: it has the connection's addresses and TLS
// state; it carries no bytes, and Close does nothing.
type quicConnInfo struct{ c *quic.Conn }

var errQUICConnInfo = errors.New("urlsession: a QUIC connection carries streams, not bytes")

func (q quicConnInfo) Read([]byte) (int, error)         { return 0, errQUICConnInfo }
func (q quicConnInfo) Write([]byte) (int, error)        { return 0, errQUICConnInfo }
func (q quicConnInfo) Close() error                     { return nil }
func (q quicConnInfo) LocalAddr() net.Addr              { return q.c.LocalAddr() }
func (q quicConnInfo) RemoteAddr() net.Addr             { return q.c.RemoteAddr() }
func (q quicConnInfo) SetDeadline(time.Time) error      { return nil }
func (q quicConnInfo) SetReadDeadline(time.Time) error  { return nil }
func (q quicConnInfo) SetWriteDeadline(time.Time) error { return nil }

// ConnectionState returns the connection's TLS state. While the handshake
// of a connection carrying early data goes on it returns only the version,
// TLS 1.3 as for every QUIC connection, rather than wait for the end.
func (q quicConnInfo) ConnectionState() tls.ConnectionState {
	select {
	case <-q.c.HandshakeComplete():
		return q.c.ConnectionState().TLS
	default:
		return tls.ConnectionState{Version: tls.VersionTLS13}
	}
}

// observeAltSvc records the Alt-Svc fields of resp, the response to req
// over a direct connection.
func (s *Session) observeAltSvc(req *http.Request, resp *http.Response) {
	if resp == nil || s.h3.tr.Load() == nil || req.URL == nil || !strings.EqualFold(req.URL.Scheme, "https") {
		return
	}
	fields := resp.Header.Values("Alt-Svc")
	if len(fields) == 0 {
		return
	}
	if u, err := s.proxies.usesProxy(req); err != nil || u != nil {
		return
	}
	host := strings.ToLower(req.URL.Hostname())
	port := req.URL.Port()
	if port == "" {
		port = "443"
	}
	s.h3.alt.observe(net.JoinHostPort(host, port), host, fields)
}
