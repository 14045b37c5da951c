// Package urlsessiontest provides loopback HTTP servers and handlers for
// testing code that uses package urlsession, and for porting the URLSession
// tests of Apple's swift-corelibs-foundation.
//
// [NewServer] starts a scripted raw TCP server for responses that net/http's
// server refuses to produce: malformed status lines, lying lengths, oversized
// headers, stalls. Ready-made scripts ([Raw], [StatusLine],
// [LyingContentLength], [NoLength], [HugeHeaders], [Hang], [RedirectLoop])
// cover the common cases; custom scripts write whatever bytes they like
// through a [Conn].
//
// [FaultHandler] wraps any handler and injects faults into its responses: a
// reset, a stall, a pause until the test lets it go on, or a clean
// truncation at a chosen byte of the body;
// [NewFaultProxy] puts one in front of another server. [Resource] serves a
// resource that can be replaced between requests, with ranges and strong
// validators, as a static file server does: together they test downloads
// and their resumption.
//
// [Capitals] returns an http.Handler serving the routes of the
// swift-corelibs-foundation test server; serve it with
// net/http/httptest.NewServer.
//
// Every server in this package listens on 127.0.0.1:0 only, so tests never
// expose a port beyond the local host.
package urlsessiontest
