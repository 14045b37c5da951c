package protocols

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/urlsession-go/urlsession/internal/fail"
)

// URLError codes used by FTP; they match the urlsession package's Code
// constants of the same names.
const (
	ftpErrBadURL                = -1000
	ftpErrUnsupportedURL        = -1002
	ftpErrNetworkConnectionLost = -1005
	ftpErrBadServerResponse     = -1011
	ftpErrAuthRequired          = -1013
	ftpErrFileDoesNotExist      = -1100
	ftpErrFileIsDirectory       = -1101
)

// The security of an FTP URL's connections, by scheme.
const (
	ftpPlain    = iota // ftp: cleartext
	ftpImplicit        // ftps: TLS from the first byte (port 990)
	ftpExplicit        // ftpes: AUTH TLS on the control connection (port 21)
)

// FTP loads ftp:, ftps: and ftpes: URLs (RFC 959, RFC 1738 section 3.2)
// through github.com/jlaffaye/ftp, one control connection per request.
//
// Connections: ftp:// is cleartext, port 21 by default. ftps:// is
// implicit FTPS (TLS from the first byte, port 990), as curl and most
// clients name it; ftpes:// is explicit FTPS (RFC 4217: AUTH TLS on the
// control connection, port 21), as FileZilla names it; both protect the
// data connections too (PBSZ 0, PROT P) and fail if the server cannot.
// Data connections are passive: EPSV, then PASV if the server refuses it;
// the address a PASV reply names is ignored in favour of the control
// connection's.
//
// Login: the user and password of a Basic Authorization header (which the
// session's challenge flow sets), else the URL's user information, else
// anonymous ("anonymous", password "anonymous@"). A refused login fails
// with -1013 (ErrUserAuthenticationRequired) whose cause is a
// *fail.LoginRefused, which the session answers as an authentication
// challenge.
//
// Path: the URL's path, percent-decoded, relative to the login directory
// (ftp://host/a/b is a/b; ftp://host//etc/motd or ftp://host/%2Fetc/motd is
// the absolute /etc/motd), with RFC 1738's ";type=" suffix on the last
// segment: ";type=i" binary (the default), ";type=a" ASCII,
// ";type=d" a names-only listing (NLST). A path that is empty or ends in
// "/" is a directory listing (LIST, or MLSD when the server has it); the
// listing's text is described at ftpListing.
//
// A file is answered with 200, Content-Type guessed from the name's
// extension (application/octet-stream when unknown; text/plain for
// ;type=a), Content-Length and Last-Modified from MLST when the server has
// it, else from SIZE and MDTM when it supports them (no Content-Length for
// ;type=a, whose size on the wire differs), and Accept-Ranges: bytes when
// the size is known. A single
// byte range (Range: bytes=a-b, a- or -n) is answered with 206 and
// Content-Range, resuming the transfer with REST; an unsatisfiable one with
// 416; ranges need the size, and If-Range is honoured against MDTM's time,
// as File does. The body streams from the data connection; its end is
// confirmed by the server's 226 reply, so a transfer cut short fails with
// -1005 (ErrNetworkConnectionLost) rather than ending early.
//
// PUT and POST store the request body with STOR and are answered with 200
// and no body; GET and HEAD load; other methods fail with -1002. Errors: a
// missing file -1100 (ErrFileDoesNotExist), a file URL naming a directory
// -1101 (ErrFileIsDirectory), a malformed URL -1000, a dropped control or
// data connection -1005, an unexpected reply -1011; dial and TLS errors keep
// their causes for the session to classify (-1004, -1200...). Cancelling
// the request's context closes every connection at once. Connections go
// straight to the server: no proxy is used, and active mode (PORT) is not
// offered.
type FTP struct {
	// TLSConfig is the TLS configuration of ftps and ftpes connections;
	// it is cloned, with ServerName set to the URL's host when empty. Nil
	// means Go's defaults.
	TLSConfig *tls.Config
	// DialContext opens the TCP connections, control and data. Nil means a
	// net.Dialer's.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Verify, when set, is asked once per request with TLS, with the
	// request's context, the URL's scheme, host and port and the name the
	// certificate must have. A function it returns verifies each of the
	// request's TLS connections instead of TLSConfig's own verification
	// (InsecureSkipVerify is then set, VerifyPeerCertificate and
	// VerifyConnection replaced); a connection presenting the leaf
	// certificate of one it accepted is accepted without asking again. Nil,
	// or a nil function, keeps TLSConfig's verification.
	Verify func(ctx context.Context, scheme, host string, port int, serverName string) func(tls.ConnectionState) error
}

// CanHandle reports whether req's URL has the scheme ftp, ftps or ftpes.
func (FTP) CanHandle(req *http.Request) bool {
	if req == nil || req.URL == nil {
		return false
	}
	_, ok := ftpSchemes[strings.ToLower(req.URL.Scheme)]
	return ok
}

var ftpSchemes = map[string]int{"ftp": ftpPlain, "ftps": ftpImplicit, "ftpes": ftpExplicit}

// ftpTarget is what an FTP URL asks for.
type ftpTarget struct {
	mode   int
	scheme string // in lower case
	host   string // for TLS
	addr   string // host:port
	path   string // as sent: "" for the login directory
	dir    bool   // a listing
	typ    byte   // 'i', 'a' or 'd'
}

// ftpParse reads an FTP URL.
func ftpParse(u *url.URL) (ftpTarget, error) {
	var t ftpTarget
	t.scheme = strings.ToLower(u.Scheme)
	t.mode = ftpSchemes[t.scheme]
	if u.Opaque != "" {
		return t, fail.Newf(ftpErrBadURL, "ftp: %s has no host", u.Redacted())
	}
	t.host = u.Hostname()
	if t.host == "" {
		return t, fail.Newf(ftpErrBadURL, "ftp: %s has no host", u.Redacted())
	}
	port := 21
	if t.mode == ftpImplicit {
		port = 990
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return t, fail.Newf(ftpErrBadURL, "ftp: %s has an invalid port", u.Redacted())
		}
		port = n
	}
	t.addr = net.JoinHostPort(t.host, strconv.Itoa(port))

	esc := u.EscapedPath()
	t.typ = 'i'
	if i := strings.LastIndex(esc, ";type="); i >= 0 && !strings.Contains(esc[i:], "/") {
		v := strings.ToLower(esc[i+len(";type="):])
		if len(v) != 1 || !strings.Contains("aid", v) {
			return t, fail.Newf(ftpErrBadURL, "ftp: %s has an unknown ;type= (a, i or d)", u.Redacted())
		}
		t.typ = v[0]
		esc = esc[:i]
	}
	p, err := url.PathUnescape(esc)
	if err != nil {
		return t, fail.Newf(ftpErrBadURL, "ftp: %s has a malformed path", u.Redacted())
	}
	if strings.ContainsAny(p, "\r\n\x00") {
		return t, fail.Newf(ftpErrBadURL, "ftp: the path of %s has a line break or NUL", u.Redacted())
	}
	t.dir = t.typ == 'd' || p == "" || strings.HasSuffix(p, "/")
	p = strings.TrimPrefix(p, "/")
	if t.dir && len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	t.path = p
	return t, nil
}

// ftpLogin returns the user and password to log in with.
func ftpLogin(req *http.Request) (user, pass string) {
	if u, p, ok := req.BasicAuth(); ok {
		return u, p
	}
	if ui := req.URL.User; ui != nil {
		p, _ := ui.Password()
		return ui.Username(), p
	}
	return "anonymous", "anonymous@"
}

// ftpConns holds a request's connections so that they can all be closed at
// once, from any goroutine.
type ftpConns struct {
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

func (cs *ftpConns) add(c net.Conn) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		c.Close()
		return net.ErrClosed
	}
	cs.conns = append(cs.conns, c)
	return nil
}

func (cs *ftpConns) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closed = true
	for _, c := range cs.conns {
		c.Close()
	}
	cs.conns = nil
}

// RoundTrip loads or stores the file, or lists the directory, req's URL
// names.
func (p FTP) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	ctx := req.Context()
	upload := false
	switch req.Method {
	case "", http.MethodGet, http.MethodHead:
	case http.MethodPut, http.MethodPost:
		upload = true
	default:
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fail.Newf(ftpErrUnsupportedURL, "ftp: method %s is not supported; GET, HEAD, PUT and POST are", req.Method)
	}
	body := req.Body
	if !upload && body != nil {
		body.Close()
		body = nil
	}
	defer func() {
		if body != nil {
			body.Close()
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.URL == nil {
		return nil, fail.Newf(ftpErrUnsupportedURL, "ftp: request without a URL")
	}
	t, err := ftpParse(req.URL)
	if err != nil {
		return nil, err
	}
	if upload && t.dir {
		return nil, fail.Newf(ftpErrUnsupportedURL, "ftp: cannot store to a directory URL %s", req.URL.Redacted())
	}

	conns := &ftpConns{}
	stop := context.AfterFunc(ctx, conns.closeAll)
	kept := false
	defer func() {
		if !kept {
			stop()
			conns.closeAll()
			if ctx.Err() != nil {
				resp, err = nil, ctx.Err()
			}
		}
	}()
	user, pass := ftpLogin(req)
	if strings.ContainsAny(user+pass, "\r\n\x00") {
		return nil, fail.Newf(ftpErrAuthRequired, "ftp: the user name or password has a line break or NUL")
	}
	c, err := p.connect(ctx, t, conns)
	if err != nil {
		return nil, err
	}
	if err := c.Login(user, pass); err != nil {
		return nil, ftpLoginError(err)
	}
	if t.typ == 'a' {
		if err := c.Type(ftp.TransferTypeASCII); err != nil {
			return nil, ftpReplyError(err, "TYPE A")
		}
	}

	switch {
	case upload:
		if body == nil {
			body = http.NoBody
		}
		err := c.Stor(t.path, body)
		body.Close()
		body = nil
		if err != nil {
			return nil, ftpReplyError(err, "STOR")
		}
		c.Quit()
		r := localResponse(req, http.Header{"Content-Length": {"0"}})
		r.ContentLength = 0
		r.Body = http.NoBody
		return r, nil
	case t.dir:
		return ftpList(req, c, t)
	}

	size, mod, err := ftpStat(c, t)
	if err != nil {
		return nil, err
	}

	h := http.Header{}
	ctype := mime.TypeByExtension(path.Ext(t.path))
	switch {
	case ctype != "":
	case t.typ == 'a':
		ctype = "text/plain; charset=utf-8"
	default:
		ctype = "application/octet-stream"
	}
	h.Set("Content-Type", ctype)
	if !mod.IsZero() {
		h.Set("Last-Modified", mod.UTC().Format(http.TimeFormat))
	}
	r := localResponse(req, h)
	start, length := int64(0), size
	if size >= 0 {
		h.Set("Accept-Ranges", "bytes")
		var ok bool
		if start, length, ok = answerRange(req, r, size, mod); !ok {
			c.Quit()
			return r, nil
		}
	}
	r.ContentLength = length
	if req.Method == http.MethodHead {
		c.Quit()
		r.Body = http.NoBody
		return r, nil
	}
	data, err := c.RetrFrom(t.path, uint64(start))
	if err != nil {
		if ftpFileError(err) {
			return nil, ftpMissing(c, t.path, err)
		}
		return nil, ftpReplyError(err, "RETR")
	}
	kept = true
	r.Body = &ftpBody{
		ctx: ctx, c: c, data: data, conns: conns, stop: stop,
		left:  length,
		toEnd: size < 0 || start+length == size,
	}
	return r, nil
}

// connect dials the control connection and reads the server's greeting
// (after AUTH TLS for ftpes).
func (p FTP) connect(ctx context.Context, t ftpTarget, conns *ftpConns) (*ftp.ServerConn, error) {
	dial := p.DialContext
	if dial == nil {
		dial = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	var tc *tls.Config
	if t.mode != ftpPlain {
		tc = p.TLSConfig.Clone()
		if tc == nil {
			tc = new(tls.Config)
		}
		if tc.ServerName == "" {
			tc.ServerName = t.host
		}
		if tc.ClientSessionCache == nil {
			// Servers commonly require the data connections to resume
			// the control connection's TLS session.
			tc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		}
		tc.NextProtos = nil
		if p.Verify != nil {
			_, portText, _ := net.SplitHostPort(t.addr)
			port, _ := strconv.Atoi(portText)
			if v := p.Verify(ctx, t.scheme, t.host, port, tc.ServerName); v != nil {
				tc.InsecureSkipVerify = true
				tc.VerifyPeerCertificate = nil
				tc.VerifyConnection = ftpVerifyOnce(v)
			}
		}
	}
	dials := 0
	f := func(network, addr string) (net.Conn, error) {
		control := dials == 0
		dials++
		if h, port, err := net.SplitHostPort(addr); err == nil && !control && h == ftpNoIP {
			// The control connection has no IP address (see ftpTCPConn):
			// the data connection goes to the URL's host.
			addr = net.JoinHostPort(t.host, port)
		}
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := conns.add(conn); err != nil {
			return nil, err
		}
		if _, ok := conn.RemoteAddr().(*net.TCPAddr); !ok {
			conn = ftpTCPConn{conn}
		}
		switch {
		case t.mode == ftpImplicit && control:
			c := tls.Client(conn, tc)
			if err := c.HandshakeContext(ctx); err != nil {
				return nil, err
			}
			return c, nil
		case t.mode != ftpPlain && !control:
			// The handshake of a data connection waits for its first read
			// or write: servers start it only once the command is sent.
			return tls.Client(conn, tc), nil
		}
		return conn, nil
	}
	opts := []ftp.DialOption{ftp.DialWithContext(ctx), ftp.DialWithDialFunc(f)}
	switch t.mode {
	case ftpImplicit:
		opts = append(opts, ftp.DialWithTLS(tc))
	case ftpExplicit:
		opts = append(opts, ftp.DialWithExplicitTLS(tc))
	}
	c, err := ftp.Dial(t.addr, opts...)
	if err != nil {
		if ftpCode(err) != 0 || ftpPlainError(err) {
			if t.mode == ftpExplicit && dials > 0 {
				return nil, fail.Newf(ftpErrBadServerResponse, "ftp: the server refused AUTH TLS: %v", err)
			}
			return nil, ftpReplyError(err, "greeting")
		}
		return nil, err
	}
	return c, nil
}

// ftpVerifyOnce returns v, skipped for a connection whose leaf certificate
// is that of a connection v accepted: the data connections of a request go
// to the server its control connection was verified for.
func ftpVerifyOnce(v func(tls.ConnectionState) error) func(tls.ConnectionState) error {
	var mu sync.Mutex
	var accepted []byte
	return func(cs tls.ConnectionState) error {
		var leaf []byte
		if len(cs.PeerCertificates) > 0 {
			leaf = cs.PeerCertificates[0].Raw
		}
		mu.Lock()
		same := accepted != nil && bytes.Equal(leaf, accepted)
		mu.Unlock()
		if same {
			return nil
		}
		if err := v(cs); err != nil {
			return err
		}
		if leaf != nil {
			mu.Lock()
			accepted = leaf
			mu.Unlock()
		}
		return nil
	}
}

// ftpStat finds a file's size (-1 when unknown, and always for ;type=a)
// and modification time (zero when unknown): with MLST when the server has
// it (RFC 3659), which also tells a directory from a file, else with SIZE
// and MDTM. It fails when the file is missing or a directory.
func ftpStat(c *ftp.ServerConn, t ftpTarget) (size int64, mod time.Time, err error) {
	size = -1
	e, err := c.GetEntry(t.path)
	switch {
	case err == nil:
		if e.Type == ftp.EntryTypeFolder {
			return 0, mod, fail.Newf(ftpErrFileIsDirectory, "ftp: %s is a directory; a URL ending in / lists it", t.path)
		}
		if t.typ != 'a' && e.Type == ftp.EntryTypeFile {
			size = int64(e.Size)
		}
		return size, e.Time, nil
	case ftpFileError(err):
		return 0, mod, ftpMissing(c, t.path, err)
	case ftpConnError(err):
		return 0, mod, err
	}
	// No MLST (jlaffaye/ftp answers 502 itself), or a reply it could not
	// read: SIZE and MDTM.
	n, err := c.FileSize(t.path)
	switch {
	case err == nil && n >= 0 && t.typ != 'a':
		size = n
	case ftpFileError(err):
		return 0, mod, ftpMissing(c, t.path, err)
	case err != nil && ftpConnError(err):
		return 0, mod, err // a malformed size is ignored, as is a refused SIZE
	}
	if c.IsGetTimeSupported() {
		tm, err := c.GetTime(t.path)
		switch {
		case err == nil:
			mod = tm
		case ftpConnError(err):
			return 0, mod, err
		}
	}
	return size, mod, nil
}

// ftpFileError reports a reply refusing a file: 450, 550 or 551 (which
// some servers send for a missing file).
func ftpFileError(err error) bool {
	switch ftpCode(err) {
	case ftp.StatusFileActionIgnored, ftp.StatusFileUnavailable, ftp.StatusPageTypeUnknown:
		return true
	}
	return false
}

// ftpNoIP is how github.com/jlaffaye/ftp writes the address of a control
// connection whose remote address has no IP (a nil net.IP's String).
const ftpNoIP = "<nil>"

// ftpTCPConn is a connection from Configuration.DialContext whose remote
// address is not a *net.TCPAddr (an in-memory or tunnelled connection):
// github.com/jlaffaye/ftp requires one, so it gets one without an IP.
type ftpTCPConn struct{ net.Conn }

func (ftpTCPConn) RemoteAddr() net.Addr { return &net.TCPAddr{} }

// ftpList answers a directory URL with its listing.
func ftpList(req *http.Request, c *ftp.ServerConn, t ftpTarget) (*http.Response, error) {
	var text []byte
	if req.Method == http.MethodHead {
		if t.path != "" {
			if err := c.ChangeDir(t.path); err != nil {
				return nil, ftpDirError(err)
			}
		}
	} else if t.typ == 'd' {
		names, err := c.NameList(t.path)
		if err != nil {
			return nil, ftpDirError(err)
		}
		var b bytes.Buffer
		for _, n := range names {
			b.WriteString(n)
			b.WriteString("\r\n")
		}
		text = b.Bytes()
	} else {
		entries, err := c.List(t.path)
		if err != nil {
			return nil, ftpDirError(err)
		}
		text = ftpListing(entries)
	}
	c.Quit()
	h := http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
	r := localResponse(req, h)
	r.ContentLength = -1
	r.Body = http.NoBody
	if req.Method != http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(len(text)))
		r.ContentLength = int64(len(text))
		r.Body = io.NopCloser(bytes.NewReader(text))
	}
	return r, nil
}

// ftpListing writes a directory's entries as the text of a listing: one
// line per entry, ending in CRLF, "." and ".." left out, in the server's
// order, each line four fields separated by one space:
//
//	type size modified name
//
// type is "-" for a file, "d" for a directory, "l" for a symbolic link;
// size is in bytes (decimal; 0 when the server gives none, as it often
// does not for directories); modified is the time in RFC 3339 form in
// UTC, to the second ("-" when the server gave none); name is the rest of
// the line, spaces included, followed for a link by " -> " and its target
// when the server names it. For example:
//
//   - 1024 2026-11-30T19:00:00Z notes.txt
//     d 4096 2026-11-29T08:12:00Z pub
//
// Times from a LIST reply are as precise as the server's ls-style format
// (often to the minute); MLSD's are exact.
func ftpListing(entries []*ftp.Entry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		if e == nil || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "\r\n") {
			continue
		}
		kind := "-"
		switch e.Type {
		case ftp.EntryTypeFolder:
			kind = "d"
		case ftp.EntryTypeLink:
			kind = "l"
		}
		mod := "-"
		if !e.Time.IsZero() {
			mod = e.Time.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "%s %d %s %s", kind, e.Size, mod, e.Name)
		if e.Type == ftp.EntryTypeLink && e.Target != "" && !strings.ContainsAny(e.Target, "\r\n") {
			b.WriteString(" -> " + e.Target)
		}
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// ftpBody is a file's content streaming from the data connection.
type ftpBody struct {
	ctx   context.Context
	c     *ftp.ServerConn
	data  *ftp.Response
	conns *ftpConns
	stop  func() bool
	left  int64 // bytes still to deliver; -1 when the size is unknown
	toEnd bool  // the transfer runs to the file's end, which the server confirms
	done  bool  // the server confirmed the transfer complete
	err   error // what every later Read returns
	once  sync.Once
}

func (b *ftpBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.left == 0 {
		if !b.toEnd {
			b.err = io.EOF // the range is complete: Close abandons the rest
			return 0, b.err
		}
		// Everything announced has come: the data connection must now
		// end, and the server confirm the transfer.
		var one [1]byte
		n, err := b.data.Read(one[:])
		if n > 0 {
			b.err = fail.Newf(ftpErrBadServerResponse, "ftp: the server sent more than the size it announced")
			return 0, b.err
		}
		return 0, b.end(err)
	}
	if b.left > 0 && int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.data.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	if err != nil {
		if n > 0 && err == io.EOF && b.left > 0 {
			// Report the shortfall on the next Read.
			b.err = b.end(err)
			return n, nil
		}
		return n, b.end(err)
	}
	return n, nil
}

// end records how the data connection ended and returns the error for Read.
func (b *ftpBody) end(err error) error {
	switch {
	case b.ctx.Err() != nil:
		b.err = b.ctx.Err()
	case err != io.EOF:
		b.err = fail.New(ftpErrNetworkConnectionLost, fmt.Errorf("ftp: the data connection failed: %w", err))
	case b.left > 0:
		b.err = fail.Newf(ftpErrNetworkConnectionLost, "ftp: the data connection closed with %d bytes still to come", b.left)
	default:
		if cerr := b.data.Close(); cerr != nil {
			if b.ctx.Err() != nil {
				b.err = b.ctx.Err()
			} else {
				b.err = fail.New(ftpErrNetworkConnectionLost, fmt.Errorf("ftp: the transfer did not complete: %w", cerr))
			}
			return b.err
		}
		b.done = true
		b.err = io.EOF
	}
	return b.err
}

// Close ends the session with QUIT after a confirmed transfer, and closes
// the connections at once otherwise.
func (b *ftpBody) Close() error {
	b.once.Do(func() {
		b.stop()
		if b.done && b.ctx.Err() == nil {
			b.c.Quit()
		}
		b.conns.closeAll()
	})
	return nil
}

// ftpCode returns the FTP reply code of err, or 0 when it has none.
func ftpCode(err error) int {
	if tp, ok := errors.AsType[*textproto.Error](err); ok {
		return tp.Code
	}
	return 0
}

// ftpConnError reports an error of the connection itself (closed, reset,
// timed out, TLS), as opposed to a reply the client refused or could not
// read.
func ftpConnError(err error) bool {
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.AlertError](err); ok {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// ftpPlainError reports an error github.com/jlaffaye/ftp made from a
// server's reply text alone (with errors.New), such as a refused USER
// command's: a reply, not a network failure.
func ftpPlainError(err error) bool {
	return err != io.EOF && err != io.ErrUnexpectedEOF && err != ftp.ErrInvalidCommand &&
		reflect.TypeOf(err) == reflect.TypeOf(errors.New(""))
}

// ftpLoginError maps a failed login: a refusal becomes -1013 with a
// *fail.LoginRefused cause; a network error is kept.
func ftpLoginError(err error) error {
	code := ftpCode(err)
	switch code {
	case 0:
	case ftp.StatusNotAvailable:
		return fail.New(ftpErrNetworkConnectionLost, fmt.Errorf("ftp: %w", err))
	case ftp.StatusNotLoggedIn, ftp.StatusInvalidCredentials, ftp.StatusLoginNeedAccount, ftp.StatusStorNeedAccount:
	default:
		// A refused TYPE, PBSZ or PROT after the login, say.
		return fail.New(ftpErrBadServerResponse, fmt.Errorf("ftp: after the login: %w", err))
	}
	switch {
	case code != 0 || ftpPlainError(err):
		reply := err.Error()
		if tp, ok := errors.AsType[*textproto.Error](err); ok {
			reply = strconv.Itoa(tp.Code) + " " + tp.Msg
		}
		return fail.New(ftpErrAuthRequired, &fail.LoginRefused{Reply: reply})
	}
	return err
}

// ftpReplyError maps the failure of a command: replies to -1005 (the server
// closing the connection or the data connection failing) or -1011 (any
// other reply), network errors kept as they are.
func ftpReplyError(err error, command string) error {
	switch ftpCode(err) {
	case 0:
		if ftpPlainError(err) {
			return fail.New(ftpErrBadServerResponse, fmt.Errorf("ftp: %s: %w", command, err))
		}
		return err
	case ftp.StatusNotAvailable, ftp.StatusCanNotOpenDataConnection, ftp.StatusTransfertAborted:
		return fail.New(ftpErrNetworkConnectionLost, fmt.Errorf("ftp: %s: %w", command, err))
	case ftp.StatusNotLoggedIn:
		return fail.New(ftpErrAuthRequired, fmt.Errorf("ftp: %s: %w", command, err))
	}
	return fail.New(ftpErrBadServerResponse, fmt.Errorf("ftp: %s: %w", command, err))
}

// ftpMissing tells a missing file (-1100) from a directory (-1101) after
// the server refused to size or send p.
func ftpMissing(c *ftp.ServerConn, p string, cause error) error {
	err := c.ChangeDir(p)
	switch {
	case err == nil:
		return fail.Newf(ftpErrFileIsDirectory, "ftp: %s is a directory; a URL ending in / lists it", p)
	case ftpConnError(err):
		return err
	}
	return fail.New(ftpErrFileDoesNotExist, fmt.Errorf("ftp: %s: %w", p, cause))
}

// ftpDirError maps the failure to list a directory.
func ftpDirError(err error) error {
	if ftpFileError(err) {
		return fail.New(ftpErrFileDoesNotExist, fmt.Errorf("ftp: listing: %w", err))
	}
	return ftpReplyError(err, "LIST")
}
