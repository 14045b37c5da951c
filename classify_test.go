package urlsession

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"reflect"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
)

const classifyURL = "https://127.0.0.1/classify"

// classifyCheck classifies err and checks the code, the URL and the cause.
func classifyCheck(t *testing.T, err error, want Code) {
	t.Helper()
	got := classify(err, classifyURL)
	if got == nil {
		t.Fatalf("classify(%v) = nil, want code %d (%v)", err, want, want)
	}
	t.Logf("got %d, want %d, for %T: %v", got.Code, want, err, err)
	if got.Code != want {
		t.Errorf("classify(%q [%T]) code = %d (%v), want %d (%v)", err, err, got.Code, got.Code, want, want)
	}
	if got.URL != classifyURL {
		t.Errorf("classify(%q) URL = %q, want %q", err, got.URL, classifyURL)
	}
	if !classifySame(got.Err, err) {
		t.Errorf("classify(%q) Err = %v, want the original error", err, got.Err)
	}
}

// classifySame reports whether a and b are the same error value.
func classifySame(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	if reflect.TypeOf(a).Comparable() {
		return a == b
	}
	return reflect.DeepEqual(a, b)
}

func TestClassifyNil(t *testing.T) {
	if got := classify(nil, classifyURL); got != nil {
		t.Errorf("classify(nil) = %v, want nil", got)
	}
}

func TestClassifyKnownCodes(t *testing.T) {
	withURL := &Error{Code: ErrHTTPTooManyRedirects, URL: "http://127.0.0.1/a", Err: errors.New("cause")}
	if got := classify(fmt.Errorf("wrapped: %w", withURL), classifyURL); got != withURL {
		t.Errorf("classify(wrapped *Error) = %v, want the *Error itself %v", got, withURL)
	}

	noURL := &Error{Code: ErrUserAuthenticationRequired}
	got := classify(fmt.Errorf("wrapped: %w", noURL), classifyURL)
	if got.Code != ErrUserAuthenticationRequired || got.URL != classifyURL {
		t.Errorf("classify(*Error without URL) = {%d %q}, want {%d %q}", got.Code, got.URL, ErrUserAuthenticationRequired, classifyURL)
	}
	if noURL.URL != "" {
		t.Errorf("classify changed its argument's URL to %q", noURL.URL)
	}

	cause := errors.New("stopped after 10 redirects")
	fe := fmt.Errorf("hop: %w", fail.New(int(ErrHTTPTooManyRedirects), cause))
	got = classify(fe, classifyURL)
	if got.Code != ErrHTTPTooManyRedirects || got.URL != classifyURL || got.Err != cause {
		t.Errorf("classify(fail.Error) = {%d %q %v}, want {%d %q %v}", got.Code, got.URL, got.Err, ErrHTTPTooManyRedirects, classifyURL, cause)
	}

	bare := fmt.Errorf("hop: %w", fail.New(int(ErrZeroByteResource), nil))
	got = classify(bare, classifyURL)
	if got.Code != ErrZeroByteResource || got.Err != bare {
		t.Errorf("classify(fail.Error without cause) = {%d %v}, want {%d %v}", got.Code, got.Err, ErrZeroByteResource, bare)
	}
}

// classifyTimeout is a net.Error that timed out.
type classifyTimeout struct{}

func (classifyTimeout) Error() string   { return "net/http: timeout awaiting response headers" }
func (classifyTimeout) Timeout() bool   { return true }
func (classifyTimeout) Temporary() bool { return true }

// TestClassifyConstructed covers each rule with errors built by hand, as the
// standard library and golang.org/x/net/http2 build them.
func TestClassifyConstructed(t *testing.T) {
	sysErr := func(op string, errno syscall.Errno) error {
		return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, errno)}
	}
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: classifyURL, Err: err} }
	now := time.Now()
	future := &x509.Certificate{NotBefore: now.Add(time.Hour), NotAfter: now.Add(2 * time.Hour)}
	past := &x509.Certificate{NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)}
	verify := func(err error, leaf *x509.Certificate) error {
		return &tls.CertificateVerificationError{UnverifiedCertificates: []*x509.Certificate{leaf}, Err: err}
	}

	tests := []struct {
		name string
		err  error
		want Code
	}{
		{"context canceled", wrap(context.Canceled), ErrCancelled},
		{"request canceled", wrap(errors.New("net/http: request canceled while waiting for connection")), ErrCancelled},
		{"deadline exceeded", wrap(context.DeadlineExceeded), ErrTimedOut},
		{"os deadline", wrap(&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}), ErrTimedOut},
		{"net.Error timeout", wrap(classifyTimeout{}), ErrTimedOut},
		{"ETIMEDOUT", wrap(sysErr("dial", syscall.ETIMEDOUT)), ErrTimedOut},

		{"parse", &url.Error{Op: "parse", URL: "http://h:99a/", Err: errors.New(`invalid port ":99a" after host`)}, ErrBadURL},
		{"invalid host", wrap(url.InvalidHostError("%zz")), ErrBadURL},
		{"escape", wrap(url.EscapeError("%zz")), ErrBadURL},
		{"unsupported scheme", wrap(errors.New(`unsupported protocol scheme "foo"`)), ErrUnsupportedURL},
		{"no host", wrap(errors.New("http: no Host in request URL")), ErrBadURL},

		{"DNS not found", wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "a.test", IsNotFound: true}}), ErrCannotFindHost},
		{"DNS timeout", wrap(&net.DNSError{Err: "i/o timeout", Name: "a.test", IsTimeout: true}), ErrTimedOut},
		{"DNS no such host text", wrap(&net.DNSError{Err: "no such host", Name: "a.test"}), ErrCannotFindHost},
		{"DNS other", wrap(&net.DNSError{Err: "server misbehaving", Name: "a.test", Server: "127.0.0.53:53"}), ErrDNSLookupFailed},

		{"AddrError", wrap(&net.OpError{Op: "dial", Err: &net.AddrError{Err: "invalid port", Addr: "999999"}}), ErrBadURL},
		{"ParseError", wrap(&net.ParseError{Type: "IP address", Text: "1.2.3"}), ErrBadURL},

		{"ECONNREFUSED", wrap(sysErr("dial", syscall.ECONNREFUSED)), ErrCannotConnectToHost},
		{"EHOSTUNREACH", wrap(sysErr("dial", syscall.EHOSTUNREACH)), ErrCannotConnectToHost},
		{"EHOSTDOWN", wrap(sysErr("dial", syscall.EHOSTDOWN)), ErrCannotConnectToHost},
		{"EADDRNOTAVAIL", wrap(sysErr("dial", syscall.EADDRNOTAVAIL)), ErrCannotConnectToHost},
		{"ENETUNREACH", wrap(sysErr("dial", syscall.ENETUNREACH)), ErrNotConnectedToInternet},
		{"ENETDOWN", wrap(sysErr("dial", syscall.ENETDOWN)), ErrNotConnectedToInternet},
		{"ECONNRESET", wrap(sysErr("read", syscall.ECONNRESET)), ErrNetworkConnectionLost},
		{"EPIPE", wrap(sysErr("write", syscall.EPIPE)), ErrNetworkConnectionLost},
		{"ECONNABORTED", wrap(sysErr("read", syscall.ECONNABORTED)), ErrNetworkConnectionLost},
		{"other dial error", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("boom")}), ErrCannotConnectToHost},

		{"EOF", wrap(io.EOF), ErrNetworkConnectionLost},
		{"unexpected EOF", io.ErrUnexpectedEOF, ErrNetworkConnectionLost},
		{"closed idle", wrap(errors.New("http: server closed idle connection")), ErrNetworkConnectionLost},
		{"connection broken", wrap(fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", errors.New("write: something"))), ErrNetworkConnectionLost},
		{"h2 GOAWAY", wrap(errors.New(`http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=PROTOCOL_ERROR, debug=""`)), ErrNetworkConnectionLost},
		{"h2 stream reset", wrap(errors.New("stream error: stream ID 1; INTERNAL_ERROR; received from peer")), ErrNetworkConnectionLost},
		{"h2 connection lost", wrap(errors.New("http2: client connection lost")), ErrNetworkConnectionLost},
		{"h2 connection error", wrap(errors.New("connection error: INTERNAL_ERROR")), ErrNetworkConnectionLost},

		{"status code", wrap(errors.New(`malformed HTTP status code "99"`)), ErrBadServerResponse},
		{"response", wrap(errors.New(`malformed HTTP response "garbage"`)), ErrBadServerResponse},
		{"MIME header", wrap(textproto.ProtocolError(`malformed MIME header line: "x"`)), ErrBadServerResponse},
		{"headers exceeded", wrap(errors.New("net/http: server response headers exceeded 10 bytes; aborted")), ErrBadServerResponse},
		{"invalid Content-Length", wrap(errors.New(`net/http: invalid Content-Length header: "x"`)), ErrBadServerResponse},
		{"bad Content-Length", wrap(errors.New(`bad Content-Length "x"`)), ErrBadServerResponse},
		{"trailer EOF", errors.New("http: unexpected EOF reading trailer"), ErrBadServerResponse},
		{"chunked", errors.New("malformed chunked encoding"), ErrBadServerResponse},
		{"chunk length", errors.New("invalid byte in chunk length"), ErrBadServerResponse},
		{"server sent an invalid", wrap(errors.New("http2: server sent an invalid content-length")), ErrBadServerResponse},
		{"broken: malformed", wrap(fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", errors.New(`malformed HTTP status code "99"`))), ErrBadServerResponse},
		{"h2 PROTOCOL_ERROR", wrap(errors.New("stream error: stream ID 3; PROTOCOL_ERROR; invalid header field value")), ErrBadServerResponse},
		{"h2 header list", wrap(errors.New("http2: response header list larger than advertised limit")), ErrBadServerResponse},
		{"h2 1xx flood", wrap(errors.New("http2: too many 1xx informational responses")), ErrBadServerResponse},
		{"h2 FRAME_SIZE_ERROR", wrap(errors.New("connection error: FRAME_SIZE_ERROR")), ErrBadServerResponse},
		{"h2 COMPRESSION_ERROR", wrap(errors.New("connection error: COMPRESSION_ERROR")), ErrBadServerResponse},

		{"unknown authority", wrap(verify(x509.UnknownAuthorityError{}, past)), ErrServerCertificateUntrusted},
		{"hostname", wrap(verify(x509.HostnameError{Certificate: past, Host: "a.test"}, past)), ErrServerCertificateUntrusted},
		{"expired", wrap(verify(x509.CertificateInvalidError{Cert: past, Reason: x509.Expired}, past)), ErrServerCertificateHasBadDate},
		{"not yet valid", wrap(verify(x509.CertificateInvalidError{Cert: future, Reason: x509.Expired}, future)), ErrServerCertificateNotYetValid},
		{"not yet valid leaf", wrap(verify(x509.CertificateInvalidError{Reason: x509.Expired}, future)), ErrServerCertificateNotYetValid},
		{"not authorized to sign", wrap(verify(x509.CertificateInvalidError{Cert: past, Reason: x509.NotAuthorizedToSign}, past)), ErrServerCertificateUntrusted},
		{"critical extension", wrap(verify(x509.UnhandledCriticalExtension{}, past)), ErrServerCertificateUntrusted},
		{"constraint violation", wrap(verify(x509.ConstraintViolationError{}, past)), ErrServerCertificateUntrusted},
		{"bare x509", wrap(x509.UnknownAuthorityError{}), ErrServerCertificateUntrusted},
		{"alert 116", wrap(tls.AlertError(116)), ErrClientCertificateRequired},
		{"remote alert 116", wrap(&net.OpError{Op: "remote error", Err: tls.AlertError(116)}), ErrClientCertificateRequired},
		{"alert 42", wrap(tls.AlertError(42)), ErrClientCertificateRejected},
		{"alert 43", wrap(tls.AlertError(43)), ErrClientCertificateRejected},
		{"alert 44", wrap(tls.AlertError(44)), ErrClientCertificateRejected},
		{"alert 45", wrap(tls.AlertError(45)), ErrClientCertificateRejected},
		{"remote alert 46", wrap(&net.OpError{Op: "remote error", Err: tls.AlertError(46)}), ErrClientCertificateRejected},
		{"alert 48", wrap(tls.AlertError(48)), ErrClientCertificateRejected},
		{"alert 40", wrap(tls.AlertError(40)), ErrSecureConnectionFailed},
		{"remote alert 70", wrap(&net.OpError{Op: "remote error", Err: tls.AlertError(70)}), ErrSecureConnectionFailed},
		{"record header", wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), ErrSecureConnectionFailed},
		{"ECH rejected", wrap(&tls.ECHRejectionError{}), ErrSecureConnectionFailed},
		{"tls text", wrap(errors.New("tls: server selected unsupported protocol version 301")), ErrSecureConnectionFailed},
		{"scheme mismatch", wrap(http.ErrSchemeMismatch), ErrSecureConnectionFailed},

		{"unknown", errors.New("something else"), ErrUnknown},
		{"URL text is not matched", &url.Error{Op: "Get", URL: "http://127.0.0.1/malformed/tls: /GOAWAY", Err: errors.New("boom")}, ErrUnknown},
		{"joined", errors.Join(errors.New("first"), sysErr("read", syscall.ECONNRESET)), ErrNetworkConnectionLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { classifyCheck(t, tt.err, tt.want) })
	}
}

// TestClassifyNetwork covers the rules with real errors from net/http on
// loopback.
func TestClassifyNetwork(t *testing.T) {
	t.Parallel()
	trustedSrv := classifyTLSServer(t, classifyCert(t, "127.0.0.1", time.Now().Add(-time.Hour), time.Now().Add(time.Hour)), nil)
	expiredSrv := classifyTLSServer(t, classifyCert(t, "127.0.0.1", time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)), nil)
	futureSrv := classifyTLSServer(t, classifyCert(t, "127.0.0.1", time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)), nil)
	otherNameSrv := classifyTLSServer(t, classifyCert(t, "other.test", time.Now().Add(-time.Hour), time.Now().Add(time.Hour)), nil)
	clientCA := classifyCert(t, "client.test", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	strangerCert := classifyCert(t, "stranger.test", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	mTLSSrv := classifyTLSServer(t, classifyCert(t, "127.0.0.1", time.Now().Add(-time.Hour), time.Now().Add(time.Hour)), func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = x509.NewCertPool()
		c.ClientCAs.AddCert(clientCA.Leaf)
	})
	untrustingSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	untrustingSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	untrustingSrv.StartTLS()
	t.Cleanup(untrustingSrv.Close)
	plainSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(plainSrv.Close)
	h2Srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // resets the stream
	}))
	h2Srv.EnableHTTP2 = true
	h2Srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	h2Srv.StartTLS()
	t.Cleanup(h2Srv.Close)

	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	hang := classifyRawServer(t, func(c net.Conn, _ *http.Request) {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, c) // until the client gives up
	})
	canned := func(response string) string {
		return classifyRawServer(t, func(c net.Conn, _ *http.Request) { io.WriteString(c, response) })
	}
	reset := classifyRawServer(t, func(c net.Conn, _ *http.Request) {
		c.(*net.TCPConn).SetLinger(0) // close with RST
	})

	plain := func(cfg *tls.Config) *http.Client {
		tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	trusting := func(certs ...tls.Certificate) *http.Client {
		roots := x509.NewCertPool()
		for _, c := range []*httptest.Server{trustedSrv, expiredSrv, futureSrv, otherNameSrv, mTLSSrv} {
			roots.AddCert(c.TLS.Certificates[0].Leaf)
		}
		cfg := &tls.Config{RootCAs: roots}
		if len(certs) > 0 {
			// Send the certificate even though the server asks for other CAs.
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
		}
		return plain(cfg)
	}
	get := func(c *http.Client, rawURL string) func(context.Context) error {
		return func(ctx context.Context) error { return classifyFetch(ctx, c, rawURL) }
	}
	timeoutAfter := func(d time.Duration, f func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return f(ctx)
		}
	}
	cancelAfter := func(d time.Duration, f func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			defer time.AfterFunc(d, cancel).Stop()
			return f(ctx)
		}
	}
	headerTimeout := &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond, DisableKeepAlives: true}
	t.Cleanup(headerTimeout.CloseIdleConnections)
	smallHeaders := &http.Transport{MaxResponseHeaderBytes: 64, DisableKeepAlives: true}
	t.Cleanup(smallHeaders.CloseIdleConnections)

	tests := []struct {
		name  string
		fetch func(context.Context) error
		want  Code
	}{
		{"refused", get(plain(nil), "http://"+refused+"/"), ErrCannotConnectToHost},
		{"refused via Transport", func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+refused+"/", nil)
			_, err := plain(nil).Transport.RoundTrip(req)
			return err
		}, ErrCannotConnectToHost},
		{"untrusted", get(plain(nil), untrustingSrv.URL), ErrServerCertificateUntrusted},
		{"hostname mismatch", get(trusting(), otherNameSrv.URL), ErrServerCertificateUntrusted},
		{"expired", get(trusting(), expiredSrv.URL), ErrServerCertificateHasBadDate},
		{"not yet valid", get(trusting(), futureSrv.URL), ErrServerCertificateNotYetValid},
		{"client certificate required", get(trusting(), mTLSSrv.URL), ErrClientCertificateRequired},
		{"client certificate rejected", get(trusting(strangerCert), mTLSSrv.URL), ErrClientCertificateRejected},
		{"TLS to plain HTTP", get(plain(nil), "https://"+plainSrv.Listener.Addr().String()+"/"), ErrSecureConnectionFailed},
		{"TLS to plain HTTP via Transport", func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+plainSrv.Listener.Addr().String()+"/", nil)
			_, err := plain(nil).Transport.RoundTrip(req)
			return err
		}, ErrSecureConnectionFailed},
		{"status 99", get(plain(nil), "http://"+canned("HTTP/1.1 99 OK\r\n\r\n")+"/"), ErrBadServerResponse},
		{"garbage", get(plain(nil), "http://"+canned("garbage\r\n\r\n")+"/"), ErrBadServerResponse},
		{"bad header line", get(plain(nil), "http://"+canned("HTTP/1.1 200 OK\r\nno colon\r\n\r\n")+"/"), ErrBadServerResponse},
		{"bad Content-Length", get(plain(nil), "http://"+canned("HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n")+"/"), ErrBadServerResponse},
		{"bad chunk", get(plain(nil), "http://"+canned("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")+"/"), ErrBadServerResponse},
		{"trailer EOF", get(plain(nil), "http://"+canned("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n")+"/"), ErrBadServerResponse},
		{"headers too long", func(ctx context.Context) error {
			return classifyFetch(ctx, &http.Client{Transport: smallHeaders},
				"http://"+canned("HTTP/1.1 200 OK\r\nX-Long: "+string(make([]byte, 200))+"\r\n\r\n")+"/")
		}, ErrBadServerResponse},
		{"short body", get(plain(nil), "http://"+canned("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")+"/"), ErrNetworkConnectionLost},
		{"no answer", get(plain(nil), "http://"+canned("")+"/"), ErrNetworkConnectionLost},
		{"reset", get(plain(nil), "http://"+reset+"/"), ErrNetworkConnectionLost},
		{"h2 stream reset", get(h2Srv.Client(), h2Srv.URL), ErrNetworkConnectionLost},
		{"unsupported scheme", get(plain(nil), "foo://127.0.0.1/"), ErrUnsupportedURL},
		{"no scheme", get(plain(nil), "127.0.0.1/x"), ErrUnsupportedURL},
		{"no host", get(plain(nil), "http:///x"), ErrBadURL},
		{"bad port", get(plain(nil), "http://127.0.0.1:99a/"), ErrBadURL},
		{"port out of range", get(plain(nil), "http://127.0.0.1:999999/"), ErrBadURL},
		{"missing scheme", get(plain(nil), "://127.0.0.1/"), ErrBadURL},
		{"canceled", cancelAfter(50*time.Millisecond, get(plain(nil), "http://"+hang+"/")), ErrCancelled},
		{"deadline", timeoutAfter(50*time.Millisecond, get(plain(nil), "http://"+hang+"/")), ErrTimedOut},
		{"client timeout", get(&http.Client{Transport: plain(nil).Transport, Timeout: 50 * time.Millisecond}, "http://"+hang+"/"), ErrTimedOut},
		{"response header timeout", get(&http.Client{Transport: headerTimeout}, "http://"+hang+"/"), ErrTimedOut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := tt.fetch(ctx)
			if err == nil {
				t.Fatalf("fetch succeeded, want an error with code %d (%v)", tt.want, tt.want)
			}
			classifyCheck(t, err, tt.want)
		})
	}
}

// classifyFetch gets rawURL and reads the whole body.
func classifyFetch(ctx context.Context, c *http.Client, rawURL string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return err
}

// classifyRawServer listens on loopback and calls serve with each connection
// and the request read from it; the connection is closed when serve returns.
// It returns the listener's address.
func classifyRawServer(t *testing.T, serve func(net.Conn, *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				serve(c, req)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// classifyTLSServer starts a loopback HTTPS server with cert; configure, if
// not nil, adjusts its TLS configuration.
func classifyTLSServer(t *testing.T, cert tls.Certificate, configure func(*tls.Config)) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake errors are expected
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	if configure != nil {
		configure(srv.TLS)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// classifyCert returns a self-signed certificate for host (a name or an IP
// address) valid from notBefore to notAfter.
func classifyCert(t *testing.T, host string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: host},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
