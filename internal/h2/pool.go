package h2

import (
	"crypto/tls"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/idna"
)

// Config holds a Pool's settings.
type Config struct {
	// IdleTimeout closes a connection that has carried no stream for this
	// long; zero keeps it until the server closes it.
	IdleTimeout time.Duration
	// MaxHeaderListSize bounds a response's header section (names, values
	// and 32 bytes a field, as RFC 9113 section 6.5.2 counts); zero means
	// 10 MiB.
	MaxHeaderListSize uint32
	// ExpectContinueTimeout is how long a request with "Expect:
	// 100-continue" waits for the server's 100 before sending its body
	// anyway; zero sends it at once.
	ExpectContinueTimeout time.Duration
	// WriteTimeout closes a connection whose socket takes no byte for
	// this long while there is something to send; zero means no limit.
	WriteTimeout time.Duration
}

// Pool is the connections of one http.Transport that negotiated HTTP/2,
// by origin. Install makes the transport use it.
type Pool struct {
	cfg     Config
	closing atomic.Bool
	mu      sync.Mutex
	conns   map[string][]*Conn
}

// NewPool returns an empty pool.
func NewPool(cfg Config) *Pool {
	return &Pool{cfg: cfg, conns: make(map[string][]*Conn)}
}

// Install makes tr send its https requests over HTTP/2 through a new pool
// and returns the pool. tr must not ask for compression (DisableCompression)
// and must not have been used yet.
func Install(tr *http.Transport, cfg Config) *Pool {
	p := NewPool(cfg)
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = new(tls.Config)
	}
	tc := tr.TLSClientConfig
	if !slices.Contains(tc.NextProtos, "h2") {
		tc.NextProtos = append([]string{"h2"}, tc.NextProtos...)
	}
	if !slices.Contains(tc.NextProtos, "http/1.1") {
		tc.NextProtos = append(tc.NextProtos, "http/1.1")
	}
	if tr.TLSNextProto == nil {
		tr.TLSNextProto = make(map[string]func(string, *tls.Conn) http.RoundTripper)
	}
	tr.TLSNextProto["h2"] = p.Upgrade
	tr.RegisterProtocol("https", alt{p})
	return p
}

// alt is the pool as the transport's https alternative. net/http's
// Transport recognises a struct of one exported field that has a
// CloseIdleConnections method, and calls it from its own
// CloseIdleConnections.
type alt struct{ Pool *Pool }

func (a alt) RoundTrip(req *http.Request) (*http.Response, error) { return a.Pool.RoundTrip(req) }

// Upgrade takes over tc, a connection to authority (host:port) that chose
// "h2" in ALPN; it is the transport's TLSNextProto["h2"].
func (p *Pool) Upgrade(authority string, tc *tls.Conn) http.RoundTripper {
	cc, err := newConn(tc, p, authority)
	if err != nil {
		tc.Close()
		return erring{err}
	}
	p.mu.Lock()
	p.conns[authority] = append(p.conns[authority], cc)
	p.mu.Unlock()
	return cc
}

// RoundTrip sends req on a pooled connection to its origin, or returns
// http.ErrSkipAltProtocol so that the transport opens one (or uses one
// of its idle list).
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	cc := p.pick(authorityKey(req))
	if cc == nil {
		return nil, http.ErrSkipAltProtocol
	}
	resp, err := cc.RoundTrip(req)
	if err != nil && isRetryable(err) {
		return nil, http.ErrSkipAltProtocol
	}
	return resp, err
}

// pick returns a connection to key that takes new streams, preferring
// one with a free slot, or nil.
func (p *Pool) pick(key string) *Conn {
	if p.closing.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var busy *Conn
	for _, cc := range p.conns[key] {
		switch cc.state() {
		case stateFree:
			return cc
		case stateFull:
			if busy == nil {
				busy = cc
			}
		}
	}
	return busy
}

// remove forgets cc, which takes no more streams.
func (p *Pool) remove(cc *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.conns[cc.key]
	for i, c := range list {
		if c == cc {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(p.conns, cc.key)
	} else {
		p.conns[cc.key] = list
	}
}

// Close closes the connections that carry no stream, and each of the
// others once its last stream ends; the pool takes no more requests.
func (p *Pool) Close() {
	p.closing.Store(true)
	p.CloseIdleConnections()
}

// CloseIdleConnections closes the connections that carry no stream.
func (p *Pool) CloseIdleConnections() {
	p.mu.Lock()
	var all []*Conn
	for _, list := range p.conns {
		all = append(all, list...)
	}
	p.mu.Unlock()
	for _, cc := range all {
		cc.closeIfIdle(false)
	}
}

// authorityKey returns the key net/http gives req's connections: the
// host in ASCII and the port.
func authorityKey(req *http.Request) string {
	host := req.URL.Hostname()
	if !isASCII(host) {
		if h, err := idna.Lookup.ToASCII(host); err == nil {
			host = h
		}
	}
	port := req.URL.Port()
	if port == "" {
		port = "443"
	}
	return net.JoinHostPort(host, port)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// authority returns the :authority of req: its Host, or its URL's, in
// ASCII.
func authority(req *http.Request) (string, error) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if isASCII(host) {
		return host, nil
	}
	return httpguts.PunycodeHostPort(host)
}
