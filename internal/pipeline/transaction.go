package pipeline

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// Fetch types of a transaction, numbered as Apple's ResourceFetchType.
const (
	FetchUnknown     = 0
	FetchNetworkLoad = 1
	FetchLocalCache  = 3
)

// Transaction is the record of one request and its response: timings, byte
// counts and connection facts, gathered with httptrace. Its fields are
// written while the request runs; read them through Snapshot.
type Transaction struct {
	mu sync.Mutex
	TransactionData
	body recvBody // the response body's wrapper, allocated with the record
	conn net.Conn // the request's connection (GotConn), under mu
}

// TransactionData is a copy of a Transaction's fields.
type TransactionData struct {
	Request  *http.Request
	Response *http.Response

	FetchStart, DomainLookupStart, DomainLookupEnd       time.Time
	ConnectStart, ConnectEnd                             time.Time
	SecureConnectionStart, SecureConnectionEnd           time.Time
	RequestStart, RequestEnd, ResponseStart, ResponseEnd time.Time

	NetworkProtocolName string
	RemoteAddr          net.Addr
	LocalAddr           net.Addr
	ReusedConnection    bool
	ProxyConnection     bool
	TLSVersion          uint16
	TLSCipherSuite      uint16
	FetchType           int

	RequestHeaderBytesSent       int64
	RequestBodyBytesSent         int64
	ResponseHeaderBytesReceived  int64
	ResponseBodyBytesReceived    int64
	ResponseBodyBytesAfterDecode int64
}

// Snapshot returns a copy of the transaction's fields.
func (t *Transaction) Snapshot() TransactionData {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.TransactionData
}

// update changes the record; on a nil Transaction (metrics off) it does
// nothing.
func (t *Transaction) update(f func(d *TransactionData)) {
	if t == nil {
		return
	}
	t.mu.Lock()
	f(&t.TransactionData)
	t.mu.Unlock()
}

// SetDecoded records the size of the body after content decoding.
func (t *Transaction) SetDecoded(n int64) {
	t.update(func(d *TransactionData) { d.ResponseBodyBytesAfterDecode = n })
}

// clientTrace returns a ClientTrace that fills t.
func (t *Transaction) clientTrace() *httptrace.ClientTrace {
	now := time.Now
	return &httptrace.ClientTrace{
		GetConn: func(string) {},
		DNSStart: func(httptrace.DNSStartInfo) {
			t.update(func(d *TransactionData) { d.DomainLookupStart = now() })
		},
		DNSDone: func(httptrace.DNSDoneInfo) {
			t.update(func(d *TransactionData) { d.DomainLookupEnd = now() })
		},
		ConnectStart: func(string, string) {
			t.update(func(d *TransactionData) {
				if d.ConnectStart.IsZero() {
					d.ConnectStart = now()
				}
			})
		},
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				t.update(func(d *TransactionData) { d.ConnectEnd = now() })
			}
		},
		TLSHandshakeStart: func() {
			// The session's TLS dialer reports the start of its handshake;
			// net/http reports it again once the connection is up.
			t.update(func(d *TransactionData) {
				if d.SecureConnectionStart.IsZero() {
					d.SecureConnectionStart = now()
				}
			})
		},
		TLSHandshakeDone: func(cs tls.ConnectionState, err error) {
			t.update(func(d *TransactionData) {
				d.SecureConnectionEnd = now()
				if err == nil {
					d.TLSVersion = cs.Version
					d.TLSCipherSuite = cs.CipherSuite
				}
			})
		},
		GotConn: func(info httptrace.GotConnInfo) {
			t.mu.Lock()
			t.conn = info.Conn
			t.mu.Unlock()
			t.update(func(d *TransactionData) {
				d.ReusedConnection = info.Reused
				if info.Conn != nil {
					d.RemoteAddr = info.Conn.RemoteAddr()
					d.LocalAddr = info.Conn.LocalAddr()
					// A *tls.Conn, or a QUIC connection's stand-in.
					if tc, ok := info.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok && (info.Reused || d.TLSVersion == 0) {
						cs := tc.ConnectionState()
						d.TLSVersion, d.TLSCipherSuite = cs.Version, cs.CipherSuite
					}
				}
				d.RequestStart = now()
			})
		},
		WroteHeaders: func() {
			t.update(func(d *TransactionData) {
				if d.RequestStart.IsZero() {
					d.RequestStart = now()
				}
			})
		},
		WroteRequest: func(httptrace.WroteRequestInfo) {
			t.update(func(d *TransactionData) { d.RequestEnd = now() })
		},
		GotFirstResponseByte: func() {
			t.update(func(d *TransactionData) { d.ResponseStart = now() })
		},
	}
}
