// Package proxytest runs small proxies on loopback for tests: an HTTP
// forward proxy with CONNECT and optional Basic, Digest, NTLM or Negotiate
// authentication, and a SOCKS4/4a/5 gateway with optional user name and
// password. Both reach only loopback: every host name they are asked for resolves to
// 127.0.0.1, so tests can use names that only the proxy "knows".
package proxytest

import (
	"bufio"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/urlsession-go/urlsession/internal/auth/authtest"
)

// loopback maps a target to a loopback address: IP literals must be
// loopback, names resolve to 127.0.0.1.
func loopback(hostport string) (string, bool) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", false
	}
	if ip := net.ParseIP(host); ip != nil {
		return hostport, ip.IsLoopback()
	}
	return net.JoinHostPort("127.0.0.1", port), true
}

// HTTPProxy is an HTTP forward proxy with CONNECT.
type HTTPProxy struct {
	// Addr is the proxy's "127.0.0.1:port".
	Addr string
	// User and Password, when User is set, are required, with Scheme
	// "Basic", "Digest" or "NTLM" (407 until the request carries them).
	// NTLM is accepted on CONNECT only, its three legs on one connection;
	// User is then DOMAIN\user.
	User, Password, Scheme string
	// Keytab, when set, makes the proxy require Negotiate instead: a
	// Kerberos token for a service whose key Keytab holds (see
	// authtest.Kerberos), on every request.
	Keytab *keytab.Keytab

	ln net.Listener
	mu sync.Mutex
	// Seen lists the requests the proxy received ("CONNECT host:port",
	// "GET http://..."), with the Proxy-Authorization they carried.
	seen []Seen
	wg   sync.WaitGroup
}

// Seen is one request a proxy received.
type Seen struct {
	Line               string // method and target
	ProxyAuthorization string
	Answer             int // the proxy's status (200 for a tunnel opened)
}

// NewHTTPProxy starts a proxy on loopback, closed at the test's end.
func NewHTTPProxy(t testing.TB) *HTTPProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &HTTPProxy{Addr: ln.Addr().String(), ln: ln}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

// Port is the proxy's port.
func (p *HTTPProxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// URL is the proxy's "http://127.0.0.1:port".
func (p *HTTPProxy) URL() string { return "http://" + p.Addr }

// Requests returns what the proxy has received so far.
func (p *HTTPProxy) Requests() []Seen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Seen(nil), p.seen...)
}

func (p *HTTPProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

const digestNonce = "f0e1d2c3b4a59687"

func (p *HTTPProxy) authorized(req *http.Request, ntlm *[]byte) bool {
	v := req.Header.Get("Proxy-Authorization")
	if p.Keytab != nil {
		return checkNegotiate(v, p.Keytab)
	}
	if p.User == "" {
		return true
	}
	if strings.EqualFold(p.Scheme, "NTLM") {
		return p.checkNTLM(req, v, ntlm)
	}
	if strings.EqualFold(p.Scheme, "Digest") {
		return checkDigest(v, req.Method, p.User, p.Password)
	}
	return v == "Basic "+base64.StdEncoding.EncodeToString([]byte(p.User+":"+p.Password))
}

func (p *HTTPProxy) challenge(ntlm []byte) string {
	if p.Keytab != nil {
		return "Negotiate"
	}
	if strings.EqualFold(p.Scheme, "NTLM") {
		if ntlm != nil {
			var srv authtest.NTLMServer
			return "NTLM " + base64.StdEncoding.EncodeToString(srv.ChallengeMessage(ntlm))
		}
		return "NTLM"
	}
	if strings.EqualFold(p.Scheme, "Digest") {
		return `Digest realm="proxytest", qop="auth", nonce="` + digestNonce + `", algorithm=MD5`
	}
	return `Basic realm="proxytest"`
}

func (p *HTTPProxy) record(req *http.Request, status int) {
	target := req.RequestURI
	p.mu.Lock()
	p.seen = append(p.seen, Seen{Line: req.Method + " " + target, ProxyAuthorization: req.Header.Get("Proxy-Authorization"), Answer: status})
	p.mu.Unlock()
}

func (p *HTTPProxy) handle(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	var ntlm []byte // the NTLM server challenge sent on this connection
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if !p.authorized(req, &ntlm) {
			p.record(req, 407)
			io.Copy(io.Discard, req.Body)
			fmt.Fprintf(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: %s\r\nContent-Length: 6\r\n\r\ndenied", p.challenge(ntlm))
			continue
		}
		if req.Method == http.MethodConnect {
			addr, ok := loopback(req.RequestURI)
			var up net.Conn
			if ok {
				up, err = net.Dial("tcp", addr)
			}
			if !ok || err != nil {
				p.record(req, 502)
				fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
				return
			}
			p.record(req, 200)
			fmt.Fprintf(c, "HTTP/1.1 200 Connection established\r\n\r\n")
			pipe(c, br, up)
			return
		}
		if req.URL.Host == "" {
			p.record(req, 400)
			fmt.Fprintf(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		addr := req.URL.Host
		if !strings.Contains(addr, ":") || strings.HasSuffix(addr, "]") {
			addr = net.JoinHostPort(strings.Trim(addr, "[]"), "80")
		}
		addr, ok := loopback(addr)
		if !ok {
			p.record(req, 502)
			fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			return
		}
		p.record(req, 200)
		req.Header.Del("Proxy-Authorization")
		req.Header.Del("Proxy-Connection")
		req.RequestURI = ""
		resp, err := forward(req, addr)
		if err != nil {
			fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			return
		}
		resp.Write(c)
		resp.Body.Close()
	}
}

// checkNegotiate verifies the SPNEGO token of a Negotiate
// Proxy-Authorization value v with the service keys of kt.
func checkNegotiate(v string, kt *keytab.Keytab) bool {
	tok, ok := strings.CutPrefix(v, "Negotiate ")
	if !ok {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return false
	}
	var st spnego.SPNEGOToken
	if st.Unmarshal(b) != nil || !st.Init || len(st.NegTokenInit.MechTypes) == 0 {
		return false
	}
	ok, _, status := spnego.SPNEGOService(kt).AcceptSecContext(&st)
	return ok && status.Code == gssapi.StatusComplete
}

// forward sends req to the origin at addr on a connection of its own.
func forward(req *http.Request, addr string) (*http.Response, error) {
	up, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	req.Close = true
	if err := req.Write(up); err != nil {
		up.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(up), req)
	if err != nil {
		up.Close()
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{resp.Body, up}
	return resp, nil
}

// pipe copies between the client (with what it buffered) and up until
// either side ends.
func pipe(c net.Conn, br *bufio.Reader, up net.Conn) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, br); up.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, up); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
	up.Close()
}

// checkNTLM runs the proxy's side of NTLM on one connection: a NEGOTIATE
// message gets a challenge (kept in *state), an AUTHENTICATE message is
// verified against it.
func (p *HTTPProxy) checkNTLM(req *http.Request, v string, state *[]byte) bool {
	token, ok := strings.CutPrefix(v, "NTLM ")
	msg, err := base64.StdEncoding.DecodeString(token)
	if !ok || err != nil || len(msg) < 12 || string(msg[:8]) != "NTLMSSP\x00" || req.Method != http.MethodConnect {
		*state = nil
		return false
	}
	switch binary.LittleEndian.Uint32(msg[8:]) {
	case 1:
		*state = []byte("proxytst")
		return false
	case 3:
		sc := *state
		*state = nil
		if sc == nil || len(msg) < 64 {
			return false
		}
		nt, err1 := ntlmField(msg, 20)
		dom, err2 := ntlmField(msg, 28)
		usr, err3 := ntlmField(msg, 36)
		if err1 != nil || err2 != nil || err3 != nil {
			return false
		}
		domain, user, _ := strings.Cut(p.User, `\`)
		if !strings.EqualFold(utf16String(usr), user) || utf16String(dom) != domain {
			return false
		}
		return authtest.VerifyNTLMv2(authtest.NTOWFv2(p.Password, utf16String(usr), domain), sc, nt, authtest.NTLMTimestamp) == nil
	}
	return false
}

func ntlmField(msg []byte, off int) ([]byte, error) {
	n, at := int(binary.LittleEndian.Uint16(msg[off:])), int(binary.LittleEndian.Uint32(msg[off+4:]))
	if at+n > len(msg) {
		return nil, fmt.Errorf("field out of bounds")
	}
	return msg[at : at+n], nil
}

func utf16String(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// checkDigest verifies an MD5 Digest answer with qop auth to the proxy's
// challenge.
func checkDigest(v, method, user, password string) bool {
	rest, ok := strings.CutPrefix(v, "Digest ")
	if !ok {
		return false
	}
	f := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			f[strings.ToLower(k)] = strings.Trim(val, `"`)
		}
	}
	if f["username"] != user || f["nonce"] != digestNonce || f["realm"] != "proxytest" {
		return false
	}
	h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	ha1 := h(user + ":proxytest:" + password)
	ha2 := h(method + ":" + f["uri"])
	want := h(ha1 + ":" + digestNonce + ":" + f["nc"] + ":" + f["cnonce"] + ":" + f["qop"] + ":" + ha2)
	return f["response"] == want
}

// SOCKS is a SOCKS4, SOCKS4a and SOCKS5 gateway.
type SOCKS struct {
	// Addr is the gateway's "127.0.0.1:port".
	Addr string
	// User and Password, when User is set, are required by SOCKS5
	// (RFC 1929); SOCKS4 requests must carry User as their user id.
	User, Password string

	ln      net.Listener
	mu      sync.Mutex
	targets []string
	wg      sync.WaitGroup
}

// NewSOCKS starts a gateway on loopback, closed at the test's end.
func NewSOCKS(t testing.TB) *SOCKS {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SOCKS{Addr: ln.Addr().String(), ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.handle(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// Targets returns the targets asked for so far, as the client sent them
// ("v5 name example.test:443", "v4 ip 127.0.0.1:80", "v4a name x:80").
func (s *SOCKS) Targets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.targets...)
}

func (s *SOCKS) note(t string) {
	s.mu.Lock()
	s.targets = append(s.targets, t)
	s.mu.Unlock()
}

func (s *SOCKS) handle(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	v, err := br.ReadByte()
	if err != nil {
		return
	}
	switch v {
	case 4:
		s.handle4(c, br)
	case 5:
		s.handle5(c, br)
	}
}

func readCString(br *bufio.Reader) (string, error) {
	s, err := br.ReadString(0)
	return strings.TrimSuffix(s, "\x00"), err
}

func (s *SOCKS) handle4(c net.Conn, br *bufio.Reader) {
	var h [7]byte
	if _, err := io.ReadFull(br, h[:]); err != nil || h[0] != 1 {
		return
	}
	port := binary.BigEndian.Uint16(h[1:3])
	ip := net.IP(h[3:7])
	user, err := readCString(br)
	if err != nil {
		return
	}
	host, kind := ip.String(), "v4 ip"
	if h[3] == 0 && h[4] == 0 && h[5] == 0 && h[6] != 0 {
		if host, err = readCString(br); err != nil {
			return
		}
		kind = "v4a name"
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(port)))
	s.note(kind + " " + target)
	if s.User != "" && user != s.User {
		c.Write([]byte{0, 93, 0, 0, 0, 0, 0, 0})
		return
	}
	addr, ok := loopback(target)
	var up net.Conn
	if ok {
		up, err = net.Dial("tcp", addr)
	}
	if !ok || err != nil {
		c.Write([]byte{0, 91, 0, 0, 0, 0, 0, 0})
		return
	}
	c.Write([]byte{0, 90, 0, 0, 0, 0, 0, 0})
	pipe(c, br, up)
}

func (s *SOCKS) handle5(c net.Conn, br *bufio.Reader) {
	n, err := br.ReadByte()
	if err != nil {
		return
	}
	methods := make([]byte, n)
	if _, err := io.ReadFull(br, methods); err != nil {
		return
	}
	want := byte(0)
	if s.User != "" {
		want = 2
	}
	if !strings.ContainsRune(string(methods), rune(want)) {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, want})
	if want == 2 {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return
		}
		u := make([]byte, h[1])
		io.ReadFull(br, u)
		pl, _ := br.ReadByte()
		pw := make([]byte, pl)
		if _, err := io.ReadFull(br, pw); err != nil {
			return
		}
		if string(u) != s.User || string(pw) != s.Password {
			c.Write([]byte{1, 1})
			return
		}
		c.Write([]byte{1, 0})
	}
	var h [4]byte
	if _, err := io.ReadFull(br, h[:]); err != nil || h[0] != 5 || h[1] != 1 {
		return
	}
	var host, kind string
	switch h[3] {
	case 1:
		b := make([]byte, 4)
		io.ReadFull(br, b)
		host, kind = net.IP(b).String(), "v5 ip"
	case 4:
		b := make([]byte, 16)
		io.ReadFull(br, b)
		host, kind = net.IP(b).String(), "v5 ip"
	case 3:
		l, _ := br.ReadByte()
		b := make([]byte, l)
		io.ReadFull(br, b)
		host, kind = string(b), "v5 name"
	default:
		c.Write([]byte{5, 8, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	var pb [2]byte
	if _, err := io.ReadFull(br, pb[:]); err != nil {
		return
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(pb[:]))))
	s.note(kind + " " + target)
	addr, ok := loopback(target)
	var up net.Conn
	if ok {
		up, err = net.Dial("tcp", addr)
	}
	if !ok || err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
	pipe(c, br, up)
}

// Garbage starts a server on loopback that answers every connection with
// reply and closes it, closed at the test's end.
func Garbage(t testing.TB, reply string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(reply))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// TLSFront accepts TLS connections on loopback with cfg (a server
// configuration, such as an httptest TLS server's) and relays their
// plaintext to target: an https proxy in front of an HTTP proxy. It
// returns the front's address; it is closed at the test's end.
func TLSFront(t testing.TB, cfg *tls.Config, target string) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{})
				go func() { io.Copy(up, c); up.Close(); c.Close(); close(done) }()
				io.Copy(c, up)
				c.Close()
				<-done
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}
