// Package interop holds the interoperability suite: tests that run the
// session and the stores against real servers from the operating system's
// packages: nginx; Apache httpd with mod_auth_basic, mod_auth_digest and
// mod_auth_gssapi; an MIT Kerberos KDC of a private realm; GNOME Keyring's
// Secret Service on a private D-Bus; vsftpd (anonymous FTP, explicit FTPS,
// passive, and a system account the test adds and removes, which needs
// root); Caddy serving HTTP/3; a WebSocket server on Node.js and the npm
// package ws (wsserver/server.js, with the Autobahn testsuite's cases
// that run offline: echo, fragments, size limits, subprotocols,
// permessage-deflate, ping/pong, close codes, and misbehaving frames on
// raw sockets), which .ci/run installs under $TMPDIR.
// They build only with the interop tag:
//
//	go test -race -tags interop ./interop/
//
// A test whose server is not installed skips, unless INTEROP_REQUIRED=1 is set
// (as .ci/run does), when it fails instead.
package interop
