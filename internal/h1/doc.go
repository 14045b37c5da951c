// Package h1 is the session's HTTP/1.1 client (RFC 9112) for plain http
// requests sent straight to their origin. Install registers a Pool as a
// net/http Transport's "http" protocol; a request the Pool does not take
// (a proxy's, an upgrade, "Expect: 100-continue", CONNECT, anything
// unusual) goes on to net/http's own client, as does every https request.
//
// It differs from net/http's HTTP/1 client where that client costs a
// request CPU time: net/http gives each connection a reading and a writing
// goroutine, and a request passes through both, so that a GET wakes three
// goroutines besides its caller's. Here the caller writes a request without
// a body and reads the response itself; only a request body gets a
// goroutine of its own, so that the server can answer before it has read
// the whole body. A GET of 1 KiB over loopback takes about half of
// net/http's CPU time this way.
//
// Otherwise it behaves as net/http's client does: requests are written by
// http.Request.Write and responses read by http.ReadResponse, connections
// are kept alive and reused most recent first, up to a number per host,
// closed after an idle timeout, and a request that fails on a reused
// connection before any byte of its response arrived is sent again on a
// new one when net/http would (it is idempotent, or nothing of it was
// written, and its body can be had again). The errors are net/http's
// texts, so that callers classify them alike. It never asks for
// compression.
//
// Unlike net/http's client it does not watch idle connections with a
// goroutine each: an idle connection is checked without blocking before it
// is used again (on Unix), and one the server closed or wrote to unasked
// is closed instead; a server that closes it just as a request goes out is
// noticed then, and the request retried as above.
package h1
