// Package h2 is the session's HTTP/2 client (RFC 9113) over connections
// that net/http dialled and secured: net/http's Transport keeps the dialling,
// proxies, TLS and connection limits, and hands each connection that chose
// "h2" in ALPN to a Pool (through Transport.TLSNextProto), which then carries
// the https requests to that origin (through Transport.RegisterProtocol).
//
// It differs from net/http's own HTTP/2 client where that client costs a
// transfer CPU time:
//
//   - A request without a body is written by the goroutine that sends it;
//     only a request body gets a goroutine of its own.
//   - Writers queue on one lock, and the last one in the queue flushes, so
//     requests sent together share a TLS record and a write system call.
//   - Received data is acknowledged (WINDOW_UPDATE) once half of a window
//     has been read, as nghttp2 does, not after every read of 4 KiB: a
//     large download sends a few hundred acknowledgements per GiB instead of
//     one per frame.
//   - On a socket from netconn.Watch (the session's direct connections),
//     a body reader waiting for more than has arrived is woken once 64 KiB
//     have come, the stream ends, or the connection's reader is about to
//     wait for the socket, rather than once per DATA frame: with several
//     threads each wake of a parked goroutine costs a thread's wake-up.
//     Unread bytes sit in chunks that never move.
//   - A DATA payload is copied once after crypto/tls hands it over: from
//     the connection's read buffer into the buffer of a reader waiting in
//     Read, or else the stream's chunks. The Framer reads the other frames.
//   - On such a socket, when it runs empty while the connection's one
//     stream has a reader waiting in Read (a download), the connection's
//     reading goroutine steps aside and that reader reads the stream's
//     DATA frames itself, as an HTTP/1.1 body's reader reads its socket:
//     no goroutine wakes another for each burst of data. Any other frame,
//     a new stream, the stream's end, or the body's closing hands the
//     socket back; a reader waiting for the socket then is woken by a read
//     deadline in the past, which crypto/tls survives, and frames are read
//     so that stopping at an empty socket loses nothing. Such a reader
//     tells the socket how much more of a body of known length is sure to
//     come (netconn.Conn.Expect: the rest, within the stream's and the
//     connection's windows, less what crypto/tls and the read buffer may
//     hold already), so that on Linux a fast download wakes it once per
//     batch of up to 256 KiB rather than once per TLS record.
//
// It asks for no compression (the session decodes bodies itself) and
// refuses server push.
package h2
