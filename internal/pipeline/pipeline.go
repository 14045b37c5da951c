// Package pipeline is a session's request pipeline: a chain of stages, each
// with one concern, shaped after OkHttp's interceptor chain. A stage gets the
// request and the rest of the chain; only the last stage (Dispatch) sends
// anything anywhere.
//
//	Followup           redirects, retries while waiting for connectivity, body replay
//	TransportSecurity  App Transport Security: refuses cleartext URLs it does not allow
//	Bridge             default headers, cookies, Accept-Encoding and content decoding
//	Cache              the URLCache: request cache policies, RFC 9111, storing
//	Dispatch           picks the protocol by scheme and sends the request
//
// Stages report to the task that owns the call through Hooks and record one
// Transaction per request sent.
package pipeline

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
)

// Next is the rest of the chain after a stage. It is a small value, so
// passing it along allocates nothing.
type Next struct {
	chain Chain
	i     int
	call  *Call
}

// Do sends req through the rest of the chain.
func (n Next) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	if n.i >= len(n.chain) {
		panic("pipeline: the last stage called next")
	}
	return n.chain[n.i].Do(ctx, n.call, req, Next{n.chain, n.i + 1, n.call})
}

// Stage is one step of the pipeline. It may change the request, call next
// any number of times (a redirect calls it again), and change the response.
type Stage interface {
	Do(ctx context.Context, call *Call, req *http.Request, next Next) (*http.Response, error)
}

// Hooks are the task's side of a call: the decisions the delegate makes and
// the events it hears about. Every method may block (a delegate decides on the
// session's queue); each must return promptly once ctx is done.
type Hooks interface {
	// WillRedirect is asked before following a redirect. It returns the
	// request to send (next itself, a changed request, or nil to stop and
	// deliver resp as the final response).
	WillRedirect(ctx context.Context, resp *http.Response, next *http.Request) (*http.Request, error)
	// NewBodyStream returns a fresh body for a request that must be sent
	// again, or nil when there is none.
	NewBodyStream(ctx context.Context) (io.ReadCloser, error)
	// BodySent reports n more request body bytes written; total so far and
	// expected (-1 when unknown) for the current request.
	BodySent(n, total, expected int64)
	// WaitingForConnectivity reports that the task found no network and
	// waits for it (called at most once per call).
	WaitingForConnectivity()
	// Received reports that n more response bytes arrived from the network
	// (used for the idle timeout).
	Received(n int64)
}

// SuspendHooks is implemented by Hooks whose task can be suspended: the
// request body is not read while it is.
type SuspendHooks interface {
	// WaitRunning returns once the task runs (at once when it does), or
	// with ctx's cause when ctx ends first.
	WaitRunning(ctx context.Context) error
}

// InformationalHooks is implemented by Hooks that hear about interim (1xx)
// responses.
type InformationalHooks interface {
	// Informational returns the function to call with each interim
	// response to req (not 101, which ends the exchange), in the order
	// they arrive and before RoundTrip returns; nil when the task does not
	// want them. The function must not block.
	Informational(req *http.Request) func(resp *http.Response)
}

// Call is one task's trip through the pipeline.
type Call struct {
	Hooks Hooks
	// WaitsForConnectivity makes Followup retry when there is no network.
	WaitsForConnectivity bool
	// Metrics records a Transaction, with connection timings from
	// httptrace, for each request sent; without it none is recorded.
	Metrics bool
	// HandleCookies lets Bridge send stored cookies and store response
	// cookies (Apple's httpShouldHandleCookies).
	HandleCookies bool
	// CachePolicy is the request's cache policy, as Apple's
	// URLRequest.CachePolicy raw values (see the Cache stage): 0
	// useProtocolCachePolicy, 1 reloadIgnoringLocalCacheData, 2
	// returnCacheDataElseLoad, 3 returnCacheDataDontLoad, 4
	// reloadIgnoringLocalAndRemoteCacheData, 5 reloadRevalidatingCacheData.
	CachePolicy int
	// MainDocumentURL is the main document for the cookie accept policy;
	// nil means each request's own URL.
	MainDocumentURL *url.URL
	// ConnCheck, when set, is asked about the connection each http or https
	// request of the call is given (httptrace's GotConn): an error ends the
	// request with that error, leaving the connection to others.
	ConnCheck func(net.Conn) error
	// Transport, when set, carries the call's http and https requests
	// instead of Dispatch's: a handshake bound to one connection (NTLM)
	// sets it for its legs.
	Transport http.RoundTripper

	mu           sync.Mutex
	first        [1]*Transaction // transactions' storage for the usual single one
	transactions []*Transaction
	redirects    int
}

// Chain is an ordered list of stages.
type Chain []Stage

// Do sends req through the chain.
func (ch Chain) Do(ctx context.Context, call *Call, req *http.Request) (*http.Response, error) {
	return Next{ch, 0, call}.Do(ctx, req)
}

// Transactions returns the transactions recorded so far, in order.
func (c *Call) Transactions() []*Transaction {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Transaction(nil), c.transactions...)
}

// Redirects returns the number of redirects followed.
func (c *Call) Redirects() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.redirects
}

// AddTransaction records a transaction made outside Dispatch (a response
// served from the local cache, say) after the ones recorded so far.
func (c *Call) AddTransaction(t *Transaction) { c.addTransaction(t) }

func (c *Call) addTransaction(t *Transaction) {
	c.mu.Lock()
	if c.transactions == nil {
		c.transactions = c.first[:0]
	}
	c.transactions = append(c.transactions, t)
	c.mu.Unlock()
}
