package urlsession

import (
	"net"
	"net/http"
	"time"

	"github.com/urlsession-go/urlsession/internal/pipeline"
)

// TaskMetrics describes a finished task: its time span and every
// request-and-response transaction it made, redirects included. It is
// Apple's URLSessionTaskMetrics.
type TaskMetrics struct {
	// Transactions has one entry per request sent, in order: the first
	// request, then one per redirect hop.
	Transactions []TransactionMetrics
	// TaskStart is when the task was first resumed; TaskDuration how long
	// it ran until it completed.
	TaskStart    time.Time
	TaskDuration time.Duration
	// RedirectCount is the number of redirects followed.
	RedirectCount int
}

// ResourceFetchType tells where a transaction's response came from. The
// values are Apple's.
type ResourceFetchType int

const (
	FetchTypeUnknown     ResourceFetchType = 0
	FetchTypeNetworkLoad ResourceFetchType = 1
	FetchTypeLocalCache  ResourceFetchType = 3
)

// TransactionMetrics describes one request and its response. It is Apple's
// URLSessionTaskTransactionMetrics. Times are zero for steps that did not
// happen: a reused connection has no DNS, connect or TLS times.
type TransactionMetrics struct {
	// Request is the request as sent (with the session's headers added);
	// Response its response with the headers as received (Content-Encoding
	// and Content-Length included even when the session decoded the body),
	// nil when none arrived. Their bodies are not readable here.
	Request  *http.Request
	Response *http.Response

	FetchStart            time.Time // the task began to fetch this resource
	DomainLookupStart     time.Time // name resolution began
	DomainLookupEnd       time.Time // name resolution ended
	ConnectStart          time.Time // the TCP connection began
	ConnectEnd            time.Time // the connection (and TLS) was established
	SecureConnectionStart time.Time // the TLS handshake began
	SecureConnectionEnd   time.Time // the TLS handshake ended
	RequestStart          time.Time // the request's first byte was written
	RequestEnd            time.Time // the request's last byte was written
	ResponseStart         time.Time // the response's first byte arrived
	ResponseEnd           time.Time // the response's last byte arrived

	// NetworkProtocolName is the ALPN-style protocol name: "http/1.1",
	// "http/1.0", "h2" or "h3" (HTTP/3 over QUIC, whose RemoteAddr and
	// LocalAddr are UDP addresses).
	NetworkProtocolName string
	RemoteAddr          net.Addr
	LocalAddr           net.Addr
	// ReusedConnection reports that the request went on a connection that
	// carried an earlier request.
	ReusedConnection bool
	// ProxyConnection reports that the request went through a proxy.
	ProxyConnection bool
	// NegotiatedTLSProtocolVersion and NegotiatedTLSCipherSuite are the
	// crypto/tls constants for an https connection, 0 otherwise.
	NegotiatedTLSProtocolVersion uint16
	NegotiatedTLSCipherSuite     uint16
	ResourceFetchType            ResourceFetchType

	// Byte counts. Header sizes are those of the HTTP/1.1 form of the
	// headers (HTTP/2 compresses them on the wire). ResponseBodyBytesReceived
	// counts the body as it arrived (still encoded);
	// ResponseBodyBytesAfterDecoding counts it as delivered.
	RequestHeaderBytesSent         int64
	RequestBodyBytesSent           int64
	ResponseHeaderBytesReceived    int64
	ResponseBodyBytesReceived      int64
	ResponseBodyBytesAfterDecoding int64
}

func transactionMetrics(d pipeline.TransactionData) TransactionMetrics {
	return TransactionMetrics{
		Request: d.Request, Response: d.Response,
		FetchStart: d.FetchStart, DomainLookupStart: d.DomainLookupStart, DomainLookupEnd: d.DomainLookupEnd,
		ConnectStart: d.ConnectStart, ConnectEnd: d.ConnectEnd,
		SecureConnectionStart: d.SecureConnectionStart, SecureConnectionEnd: d.SecureConnectionEnd,
		RequestStart: d.RequestStart, RequestEnd: d.RequestEnd,
		ResponseStart: d.ResponseStart, ResponseEnd: d.ResponseEnd,
		NetworkProtocolName: d.NetworkProtocolName, RemoteAddr: d.RemoteAddr, LocalAddr: d.LocalAddr,
		ReusedConnection: d.ReusedConnection, ProxyConnection: d.ProxyConnection,
		NegotiatedTLSProtocolVersion: d.TLSVersion, NegotiatedTLSCipherSuite: d.TLSCipherSuite,
		ResourceFetchType:              ResourceFetchType(d.FetchType),
		RequestHeaderBytesSent:         d.RequestHeaderBytesSent,
		RequestBodyBytesSent:           d.RequestBodyBytesSent,
		ResponseHeaderBytesReceived:    d.ResponseHeaderBytesReceived,
		ResponseBodyBytesReceived:      d.ResponseBodyBytesReceived,
		ResponseBodyBytesAfterDecoding: d.ResponseBodyBytesAfterDecode,
	}
}
