package h2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/urlsession-go/urlsession/internal/netconn"
)

// waitTimeout bounds each wait of a scripted server for the client; in a
// synctest bubble it is fake time.
const waitTimeout = 10 * time.Second

// The test certificate: a self-signed CA for 127.0.0.1 and example.com,
// valid from 1990 (synctest bubbles start in 2000) to 2100.
var (
	certOnce  sync.Once
	certTLS   tls.Certificate
	certRoots *x509.CertPool
)

func testCert() (tls.Certificate, *x509.CertPool) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "h2 test"},
			NotBefore:             time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:              time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:              []string{"example.com"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		certTLS = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		certRoots = x509.NewCertPool()
		certRoots.AddCert(leaf)
	})
	return certTLS, certRoots
}

func serverTLSConfig() *tls.Config {
	cert, _ := testCert()
	return &tls.Config{
		Certificates:           []tls.Certificate{cert},
		NextProtos:             []string{"h2"},
		SessionTicketsDisabled: true,
	}
}

func clientTLSConfig() *tls.Config {
	_, roots := testCert()
	return &tls.Config{RootCAs: roots}
}

// payload returns n pseudo-random bytes, the same for the same seed.
func payload(n int, seed uint64) []byte {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	r := mrand.NewChaCha8(s)
	b := make([]byte, n)
	r.Read(b)
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ---- A real Go HTTP/2 server ----

type realServer struct {
	*httptest.Server
	conns atomic.Int32 // connections accepted
}

// newRealServer starts an HTTP/2 httptest server on 127.0.0.1;
// configure, if not nil, adjusts it before it starts.
func newRealServer(t *testing.T, h http.Handler, configure func(*httptest.Server)) *realServer {
	t.Helper()
	rs := &realServer{}
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			rs.conns.Add(1)
		}
	}
	if configure != nil {
		configure(srv)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	rs.Server = srv
	return rs
}

// client returns a client whose transport carries HTTP/2 through a new
// Pool with cfg.
func (rs *realServer) client(t *testing.T, cfg Config) (*http.Client, *http.Transport, *Pool) {
	tr := &http.Transport{
		TLSClientConfig:    rs.Client().Transport.(*http.Transport).TLSClientConfig.Clone(),
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
	}
	watchDials(tr)
	p := Install(tr, cfg)
	t.Cleanup(func() {
		p.Close()
		tr.CloseIdleConnections()
	})
	return &http.Client{Transport: tr}, tr, p
}

// unwatched: the tests' connections are plain sockets, as a proxy's are,
// rather than the session's direct ones from netconn.Watch, whose
// connections hold wakes and let a body's reader read for itself.
// .ci/run runs the package both ways.
var unwatched = os.Getenv("H2_TEST_UNWATCHED") == "1"

// watchDials makes tr's connections come from netconn.Watch, unless the
// tests run unwatched.
func watchDials(tr *http.Transport) {
	if !unwatched {
		watchAll(tr)
	}
}

// watchAll makes tr's connections come from netconn.Watch.
func watchAll(tr *http.Transport) {
	d := &net.Dialer{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return netconn.Watch(nc), nil
	}
}

// ---- A scripted HTTP/2 server ----

// frame is a frame a scripted server read, copied out of its framer.
type frame struct {
	Type     http2.FrameType
	Flags    http2.Flags
	StreamID uint32
	Length   uint32 // payload length, as flow control counts a DATA frame
	Data     []byte // DATA without padding; PING payload; GOAWAY debug data
	Fields   []hpack.HeaderField
	Conts    int  // CONTINUATION frames that completed these HEADERS
	Opens    bool // HEADERS that opened their stream
	ErrCode  http2.ErrCode
	Incr     uint32
	Settings []http2.Setting
	LastID   uint32
}

func (f *frame) endStream() bool {
	return (f.Type == http2.FrameData || f.Type == http2.FrameHeaders) && f.Flags.Has(http2.FlagDataEndStream)
}

func (f *frame) isAck() bool {
	return (f.Type == http2.FrameSettings || f.Type == http2.FramePing) && f.Flags.Has(http2.FlagSettingsAck)
}

// get returns the first value of the header field name.
func (f *frame) get(name string) string {
	for _, hf := range f.Fields {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

func (f *frame) has(name string) bool {
	for _, hf := range f.Fields {
		if hf.Name == name {
			return true
		}
	}
	return false
}

func (f *frame) String() string {
	s := fmt.Sprintf("%v stream=%d len=%d flags=%v", f.Type, f.StreamID, f.Length, f.Flags)
	switch f.Type {
	case http2.FrameRSTStream, http2.FrameGoAway:
		s += " code=" + f.ErrCode.String()
	case http2.FrameWindowUpdate:
		s += fmt.Sprintf(" incr=%d", f.Incr)
	}
	return s
}

func isType(t http2.FrameType, id uint32) func(*frame) bool {
	return func(f *frame) bool { return f.Type == t && f.StreamID == id }
}

// srvOpts configures a scripted server connection.
type srvOpts struct {
	// settings are the server's SETTINGS, its first frame.
	settings []http2.Setting
	// manualWindow stops the server from giving back the window of each
	// DATA frame it receives at once.
	manualWindow bool
	// lenient stops the server from recording the client's protocol
	// violations (for fuzzing).
	lenient bool
	// noSettings leaves the server's first frame to the test: the server
	// sends nothing of its own, not even SETTINGS ACKs.
	noSettings bool
	// waitForever makes the server wait for the client without a limit
	// (for synctest bubbles whose clock the test moves on).
	waitForever bool
}

type openState struct{ local, remote bool }

// srvConn is the server side of one connection, driven by a test. A
// reader goroutine logs every frame the client sends (acknowledging its
// SETTINGS and PINGs, and keeping the flow-control books), and a writer
// goroutine writes what the test queues, so that neither side can block
// the other.
type srvConn struct {
	t    testing.TB
	nc   *tls.Conn
	raw  net.Conn
	opts srvOpts
	rfr  *http2.Framer
	dec  *hpack.Decoder
	wg   sync.WaitGroup

	mu       sync.Mutex
	changed  chan struct{}
	wbuf     bytes.Buffer
	wfr      *http2.Framer
	ebuf     bytes.Buffer
	enc      *hpack.Encoder
	out      [][]byte
	closing  bool // close once out is written
	drop     bool // ...without TLS close_notify
	closed   bool
	readErr  error
	writeErr error
	log      []*frame
	reqPos   int
	acks     int // SETTINGS ACKs from the client

	ownInit    int64 // our INITIAL_WINDOW_SIZE
	ownMax     int   // our MAX_CONCURRENT_STREAMS, or -1
	ownAcked   bool
	recvConn   int64 // what the client may still send
	recvStream map[uint32]int64
	peerInit   int64 // the client's INITIAL_WINDOW_SIZE
	sendConn   int64 // what the server may still send
	sendStream map[uint32]int64
	open       map[uint32]*openState
	maxOpen    int
	lastID     uint32
	resets     map[uint32]http2.ErrCode
	violations []string
}

func newSrvConn(t testing.TB, nc *tls.Conn, opts srvOpts) *srvConn {
	sc := &srvConn{
		t:          t,
		nc:         nc,
		raw:        nc.NetConn(),
		opts:       opts,
		changed:    make(chan struct{}),
		ownInit:    65535,
		ownMax:     -1,
		recvConn:   65535,
		recvStream: make(map[uint32]int64),
		peerInit:   65535,
		sendConn:   65535,
		sendStream: make(map[uint32]int64),
		open:       make(map[uint32]*openState),
		resets:     make(map[uint32]http2.ErrCode),
	}
	maxFrame := uint32(16384)
	for _, s := range opts.settings {
		switch s.ID {
		case http2.SettingInitialWindowSize:
			sc.ownInit = int64(s.Val)
		case http2.SettingMaxConcurrentStreams:
			sc.ownMax = int(s.Val)
		case http2.SettingMaxFrameSize:
			maxFrame = max(maxFrame, s.Val)
		}
	}
	sc.rfr = http2.NewFramer(nil, bufio.NewReaderSize(nc, 64<<10))
	sc.rfr.SetMaxReadFrameSize(maxFrame)
	sc.dec = hpack.NewDecoder(4096, nil)
	sc.wfr = http2.NewFramer(&sc.wbuf, nil)
	sc.wfr.AllowIllegalWrites = true
	sc.enc = hpack.NewEncoder(&sc.ebuf)
	if !opts.noSettings {
		sc.writeFrame(func(fr *http2.Framer) error { return fr.WriteSettings(opts.settings...) })
	}
	sc.wg.Add(2)
	go sc.readLoop()
	go sc.writeLoop()
	return sc
}

func (sc *srvConn) notifyLocked() {
	close(sc.changed)
	sc.changed = make(chan struct{})
}

// waitLocked waits for a change; it reports false, with sc.mu held
// again, if none came within waitTimeout.
func (sc *srvConn) waitLocked() bool {
	ch := sc.changed
	sc.mu.Unlock()
	ok := true
	if sc.opts.waitForever {
		<-ch
	} else {
		timer := time.NewTimer(waitTimeout)
		select {
		case <-ch:
		case <-timer.C:
			ok = false
		}
		timer.Stop()
	}
	sc.mu.Lock()
	return ok
}

// failLocked unlocks sc.mu and fails the test.
func (sc *srvConn) failLocked(format string, args ...any) {
	sc.mu.Unlock()
	sc.fatalf(format, args...)
}

// fatalf fails the test and ends the calling goroutine (a server
// script's or the test's).
func (sc *srvConn) fatalf(format string, args ...any) {
	sc.t.Helper()
	sc.t.Errorf("server: "+format, args...)
	sc.abort()
	runtime.Goexit()
}

func (sc *srvConn) violationLocked(format string, args ...any) {
	if !sc.opts.lenient {
		sc.violations = append(sc.violations, fmt.Sprintf(format, args...))
	}
}

// abort closes the connection at once, without close_notify.
func (sc *srvConn) abort() {
	sc.mu.Lock()
	already := sc.closed
	sc.closed = true
	sc.notifyLocked()
	sc.mu.Unlock()
	if !already {
		sc.raw.Close()
	}
}

// finish closes the connection once everything queued is written; drop
// closes the TCP connection without TLS close_notify.
func (sc *srvConn) finish(drop bool) {
	sc.mu.Lock()
	sc.closing = true
	sc.drop = drop
	sc.notifyLocked()
	sc.mu.Unlock()
}

// wait waits for the reader and the writer to end.
func (sc *srvConn) wait() { sc.wg.Wait() }

// check reports the client's protocol violations.
func (sc *srvConn) check() {
	sc.mu.Lock()
	v := sc.violations
	sc.violations = nil
	sc.mu.Unlock()
	for _, s := range v {
		sc.t.Errorf("client violated the protocol: %s", s)
	}
}

var errBadFrames = errors.New("bad frames from the client")

func (sc *srvConn) readLoop() {
	defer sc.wg.Done()
	err := sc.read()
	sc.mu.Lock()
	sc.readErr = err
	var ce http2.ConnectionError
	var se http2.StreamError
	if errors.Is(err, errBadFrames) || errors.Is(err, http2.ErrFrameTooLarge) || errors.As(err, &ce) || errors.As(err, &se) {
		sc.violationLocked("reading the client's frames: %v", err)
	}
	sc.notifyLocked()
	sc.mu.Unlock()
}

func (sc *srvConn) read() error {
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(sc.nc, preface); err != nil {
		return err
	}
	if string(preface) != http2.ClientPreface {
		return fmt.Errorf("%w: preface %q", errBadFrames, preface)
	}
	first := true
	for {
		f, err := sc.rfr.ReadFrame()
		if err != nil {
			return err
		}
		fr := &frame{Type: f.Header().Type, Flags: f.Header().Flags, StreamID: f.Header().StreamID, Length: f.Header().Length}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			block := bytes.Clone(f.HeaderBlockFragment())
			ended := f.HeadersEnded()
			for !ended {
				nf, err := sc.rfr.ReadFrame()
				if err != nil {
					return err
				}
				cf := nf.(*http2.ContinuationFrame) // the framer makes sure
				block = append(block, cf.HeaderBlockFragment()...)
				ended = cf.HeadersEnded()
				fr.Conts++
			}
			fields, err := sc.dec.DecodeFull(block)
			if err != nil {
				return fmt.Errorf("%w: decoding a header block: %v", errBadFrames, err)
			}
			fr.Fields = fields
		case *http2.DataFrame:
			fr.Data = bytes.Clone(f.Data())
		case *http2.SettingsFrame:
			f.ForeachSetting(func(s http2.Setting) error {
				fr.Settings = append(fr.Settings, s)
				return nil
			})
		case *http2.PingFrame:
			fr.Data = bytes.Clone(f.Data[:])
		case *http2.GoAwayFrame:
			fr.LastID = f.LastStreamID
			fr.ErrCode = f.ErrCode
			fr.Data = bytes.Clone(f.DebugData())
		case *http2.RSTStreamFrame:
			fr.ErrCode = f.ErrCode
		case *http2.WindowUpdateFrame:
			fr.Incr = f.Increment
		}
		sc.mu.Lock()
		if first && (fr.Type != http2.FrameSettings || fr.isAck()) {
			sc.violationLocked("first frame %v is not SETTINGS", fr)
		}
		first = false
		sc.accountLocked(fr)
		sc.log = append(sc.log, fr)
		sc.notifyLocked()
		sc.mu.Unlock()
	}
}

// accountLocked keeps the books for a frame from the client.
func (sc *srvConn) accountLocked(f *frame) {
	id := f.StreamID
	switch f.Type {
	case http2.FrameSettings:
		if f.isAck() {
			sc.acks++
			if !sc.ownAcked {
				sc.ownAcked = true
				for sid := range sc.recvStream {
					sc.recvStream[sid] += sc.ownInit - 65535
				}
			}
			return
		}
		for _, s := range f.Settings {
			switch s.ID {
			case http2.SettingInitialWindowSize:
				for sid := range sc.sendStream {
					sc.sendStream[sid] += int64(s.Val) - sc.peerInit
				}
				sc.peerInit = int64(s.Val)
			case http2.SettingEnablePush:
				if s.Val != 0 {
					sc.violationLocked("client enables push")
				}
			}
		}
		if !sc.opts.noSettings {
			sc.writeFrameLocked(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
		}
	case http2.FramePing:
		if !f.isAck() {
			var data [8]byte
			copy(data[:], f.Data)
			sc.writeFrameLocked(func(fr *http2.Framer) error { return fr.WritePing(true, data) })
		}
	case http2.FrameWindowUpdate:
		if id == 0 {
			sc.sendConn += int64(f.Incr)
		} else if _, ok := sc.sendStream[id]; ok {
			sc.sendStream[id] += int64(f.Incr)
		}
	case http2.FrameHeaders:
		if _, ok := sc.recvStream[id]; !ok {
			f.Opens = true
			if id%2 == 0 || id <= sc.lastID {
				sc.violationLocked("HEADERS opens stream %d after %d", id, sc.lastID)
			}
			sc.lastID = id
			init := int64(65535)
			if sc.ownAcked {
				init = sc.ownInit
			}
			sc.recvStream[id] = init
			sc.sendStream[id] = sc.peerInit
			sc.open[id] = &openState{}
			if n := len(sc.open); sc.ownAcked && sc.ownMax >= 0 && n > sc.ownMax {
				sc.violationLocked("stream %d makes %d streams open; MAX_CONCURRENT_STREAMS is %d", id, n, sc.ownMax)
			}
			sc.maxOpen = max(sc.maxOpen, len(sc.open))
		}
		if f.endStream() {
			sc.endLocked(id, false)
		}
	case http2.FrameData:
		n := int64(f.Length)
		sc.recvConn -= n
		if sc.recvConn < 0 {
			sc.violationLocked("DATA on stream %d overruns the connection window by %d", id, -sc.recvConn)
		}
		w, ok := sc.recvStream[id]
		if !ok {
			sc.violationLocked("DATA on stream %d, which the client never opened", id)
		} else {
			w -= n
			sc.recvStream[id] = w
			if w < 0 {
				sc.violationLocked("DATA on stream %d overruns its window by %d", id, -w)
			}
		}
		if !sc.opts.manualWindow && n > 0 {
			sc.writeFrameLocked(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, uint32(n)) })
			sc.recvConn += n
			if ok && !f.endStream() {
				sc.writeFrameLocked(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(id, uint32(n)) })
				sc.recvStream[id] += n
			}
		}
		if f.endStream() {
			sc.endLocked(id, false)
		}
	case http2.FrameRSTStream:
		sc.resets[id] = f.ErrCode
		delete(sc.open, id)
	}
}

// endLocked records the end of one direction of stream id.
func (sc *srvConn) endLocked(id uint32, local bool) {
	st := sc.open[id]
	if st == nil {
		return
	}
	if local {
		st.local = true
	} else {
		st.remote = true
	}
	if st.local && st.remote {
		delete(sc.open, id)
	}
}

func (sc *srvConn) writeLoop() {
	defer sc.wg.Done()
	bw := bufio.NewWriterSize(sc.nc, 64<<10)
	for {
		sc.mu.Lock()
		for len(sc.out) == 0 && !sc.closing && !sc.closed {
			ch := sc.changed
			sc.mu.Unlock()
			<-ch
			sc.mu.Lock()
		}
		out, closing, closed, drop := sc.out, sc.closing, sc.closed, sc.drop
		sc.out = nil
		sc.mu.Unlock()
		if closed {
			return
		}
		if len(out) == 0 && closing {
			if drop {
				sc.raw.Close()
			} else {
				sc.nc.Close()
			}
			sc.mu.Lock()
			sc.closed = true
			sc.notifyLocked()
			sc.mu.Unlock()
			return
		}
		for _, b := range out {
			bw.Write(b)
		}
		if err := bw.Flush(); err != nil {
			sc.mu.Lock()
			sc.writeErr = err
			sc.notifyLocked()
			sc.mu.Unlock()
			return
		}
	}
}

// writeFrameLocked queues the frames fn writes.
func (sc *srvConn) writeFrameLocked(fn func(*http2.Framer) error) {
	sc.wbuf.Reset()
	if err := fn(sc.wfr); err != nil {
		sc.t.Errorf("server: writing a frame: %v", err)
	}
	sc.out = append(sc.out, bytes.Clone(sc.wbuf.Bytes()))
	sc.notifyLocked()
}

func (sc *srvConn) writeFrame(fn func(*http2.Framer) error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.writeFrameLocked(fn)
}

// encode returns the header block of the name, value pairs kv.
func (sc *srvConn) encode(kv ...string) []byte {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.encodeLocked(kv)
}

func (sc *srvConn) encodeLocked(kv []string) []byte {
	sc.ebuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		sc.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(sc.ebuf.Bytes())
}

// writeHeaders sends a header section of the name, value pairs kv, in
// HEADERS and CONTINUATION frames of at most 16 KiB.
func (sc *srvConn) writeHeaders(id uint32, end bool, kv ...string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	block := sc.encodeLocked(kv)
	// The client's own splitting; the client reads the frames with
	// x/net's framer, which checks them independently.
	sc.writeFrameLocked(func(fr *http2.Framer) error { return writeBlock(fr, id, block, 16384, end) })
	if end {
		sc.endLocked(id, true)
	}
}

// respond sends a whole response: status, the pairs kv, and body.
func (sc *srvConn) respond(id uint32, status string, body []byte, kv ...string) bool {
	if len(body) == 0 {
		sc.writeHeaders(id, true, append([]string{":status", status}, kv...)...)
		return true
	}
	sc.writeHeaders(id, false, append([]string{":status", status}, kv...)...)
	return sc.sendData(id, body, true)
}

// sendData sends data on stream id within the client's windows, in DATA
// frames of at most 16 KiB. It reports false, having sent what it could,
// if the client reset the stream or the connection ended.
func (sc *srvConn) sendData(id uint32, data []byte, end bool) bool {
	return sc.sendDataOpts(id, data, end, 16384, -1)
}

// sendDataOpts is sendData in frames of at most chunk bytes of data, each
// with pad bytes of padding if pad >= 0.
func (sc *srvConn) sendDataOpts(id uint32, data []byte, end bool, chunk, pad int) bool {
	over := 0
	if pad >= 0 {
		over = 1 + pad
	}
	sc.mu.Lock()
	for first := true; first || len(data) > 0; first = false {
		n := 0
		for {
			if _, ok := sc.resets[id]; ok || sc.closed || sc.readErr != nil {
				sc.mu.Unlock()
				return false
			}
			want := min(len(data), chunk)
			if want+over == 0 {
				break
			}
			avail := min(sc.sendConn, sc.sendStream[id])
			if int64(want+over) <= avail {
				n = want
				break
			}
			if avail > int64(over) {
				n = int(avail) - over
				break
			}
			if !sc.waitLocked() {
				sc.failLocked("timed out waiting for window to send on stream %d", id)
			}
		}
		sc.sendConn -= int64(n + over)
		sc.sendStream[id] -= int64(n + over)
		part := data[:n]
		data = data[n:]
		fin := end && len(data) == 0
		sc.writeFrameLocked(func(fr *http2.Framer) error {
			if pad >= 0 {
				return fr.WriteDataPadded(id, fin, part, make([]byte, pad))
			}
			return fr.WriteData(id, fin, part)
		})
		if fin {
			sc.endLocked(id, true)
		}
	}
	sc.mu.Unlock()
	return true
}

// writeData sends one DATA frame, ignoring flow control.
func (sc *srvConn) writeData(id uint32, end bool, data []byte) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.sendConn -= int64(len(data))
	sc.sendStream[id] -= int64(len(data))
	sc.writeFrameLocked(func(fr *http2.Framer) error { return fr.WriteData(id, end, data) })
	if end {
		sc.endLocked(id, true)
	}
}

func (sc *srvConn) writeRST(id uint32, code http2.ErrCode) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.writeFrameLocked(func(fr *http2.Framer) error { return fr.WriteRSTStream(id, code) })
	delete(sc.open, id)
}

func (sc *srvConn) writeGoAway(last uint32, code http2.ErrCode) {
	sc.writeFrame(func(fr *http2.Framer) error { return fr.WriteGoAway(last, code, []byte("test")) })
}

func (sc *srvConn) writeWindowUpdate(id uint32, n uint32) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if id == 0 {
		sc.recvConn += int64(n)
	} else {
		sc.recvStream[id] += int64(n)
	}
	sc.writeFrameLocked(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(id, n) })
}

// writeRaw queues bytes as they are.
func (sc *srvConn) writeRaw(b []byte) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.out = append(sc.out, bytes.Clone(b))
	sc.notifyLocked()
}

// next returns the first logged frame at index from or later that match
// accepts, and its index, waiting for it. It fails the test if the
// connection ends first or nothing comes in time.
func (sc *srvConn) next(what string, from int, match func(*frame) bool) (*frame, int) {
	f, i := sc.nextOrEnd(what, from, match)
	if f == nil {
		sc.fatalf("connection ended (%v) before %s", sc.readErrNow(), what)
	}
	return f, i
}

// nextOrEnd is next, but returns nil if the connection ends first.
func (sc *srvConn) nextOrEnd(what string, from int, match func(*frame) bool) (*frame, int) {
	sc.mu.Lock()
	for {
		for i := from; i < len(sc.log); i++ {
			if match(sc.log[i]) {
				f := sc.log[i]
				sc.mu.Unlock()
				return f, i
			}
		}
		from = len(sc.log)
		if sc.readErr != nil || sc.closed {
			sc.mu.Unlock()
			return nil, -1
		}
		if !sc.waitLocked() {
			sc.failLocked("timed out waiting for %s", what)
		}
	}
}

// await returns the first logged frame match accepts, waiting for it.
func (sc *srvConn) await(what string, match func(*frame) bool) *frame {
	f, _ := sc.next(what, 0, match)
	return f
}

// request returns the HEADERS of the next stream the client opens.
func (sc *srvConn) request() *frame {
	f := sc.maybeRequest()
	if f == nil {
		sc.fatalf("connection ended (%v) before a request", sc.readErrNow())
	}
	return f
}

// eachRequest calls serve with each request until the connection ends.
func (sc *srvConn) eachRequest(serve func(h *frame)) {
	for h := sc.maybeRequest(); h != nil; h = sc.maybeRequest() {
		serve(h)
	}
}

// maybeRequest is request, but returns nil if the connection ends first.
func (sc *srvConn) maybeRequest() *frame {
	sc.mu.Lock()
	from := sc.reqPos
	sc.mu.Unlock()
	f, i := sc.nextOrEnd("a request", from, func(f *frame) bool { return f.Opens })
	if f != nil {
		sc.mu.Lock()
		sc.reqPos = i + 1
		sc.mu.Unlock()
	}
	return f
}

// body returns the request body of stream id and its trailers (nil if
// none), once the client has ended the stream.
func (sc *srvConn) body(id uint32) ([]byte, *frame) {
	var data []byte
	from := 0
	sawHeaders := false
	for {
		f, i := sc.next(fmt.Sprintf("the body of stream %d", id), from, func(f *frame) bool {
			return f.StreamID == id && (f.Type == http2.FrameData || f.Type == http2.FrameHeaders || f.Type == http2.FrameRSTStream)
		})
		from = i + 1
		switch f.Type {
		case http2.FrameRSTStream:
			sc.fatalf("client reset stream %d (%v) while sending its body", id, f.ErrCode)
		case http2.FrameHeaders:
			if !sawHeaders {
				sawHeaders = true
				if f.endStream() {
					return nil, nil
				}
				continue
			}
			if !f.endStream() {
				sc.fatalf("trailers of stream %d without END_STREAM", id)
			}
			return data, f
		case http2.FrameData:
			data = append(data, f.Data...)
			if f.endStream() {
				return data, nil
			}
		}
	}
}

// waitReset returns the code of the client's RST_STREAM for stream id.
func (sc *srvConn) waitReset(id uint32) http2.ErrCode {
	return sc.await(fmt.Sprintf("RST_STREAM on stream %d", id), isType(http2.FrameRSTStream, id)).ErrCode
}

// waitClosed waits for the client to close the connection and returns
// how reading ended.
func (sc *srvConn) waitClosed() error {
	sc.mu.Lock()
	for sc.readErr == nil {
		if sc.closed {
			sc.mu.Unlock()
			return net.ErrClosed
		}
		if !sc.waitLocked() {
			sc.failLocked("timed out waiting for the client to close the connection")
		}
	}
	err := sc.readErr
	sc.mu.Unlock()
	return err
}

// waitAcked waits for the client to acknowledge n SETTINGS frames.
func (sc *srvConn) waitAcked(n int) {
	sc.mu.Lock()
	for sc.acks < n {
		if sc.readErr != nil || sc.closed {
			sc.failLocked("connection ended (%v) before SETTINGS ACK", sc.readErr)
		}
		if !sc.waitLocked() {
			sc.failLocked("timed out waiting for SETTINGS ACK")
		}
	}
	sc.mu.Unlock()
}

// frames returns what the client has sent so far.
func (sc *srvConn) frames() []*frame {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return append([]*frame(nil), sc.log...)
}

func (sc *srvConn) readErrNow() error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.readErr
}

func (sc *srvConn) maxOpenStreams() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.maxOpen
}

// scriptServer accepts TLS connections on 127.0.0.1 and runs a script,
// handler, on each; n counts connections from 1.
type scriptServer struct {
	t       *testing.T
	ln      net.Listener
	addr    string
	opts    srvOpts
	handler func(sc *srvConn, n int)
	accepts atomic.Int32
	first   chan *srvConn // the first connection, once it is set up
	ended   chan int      // the numbers of the connections whose handler returned
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []*srvConn
}

func newScriptServer(t *testing.T, opts srvOpts, handler func(sc *srvConn, n int)) *scriptServer {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{t: t, ln: ln, addr: ln.Addr().String(), opts: opts, handler: handler, first: make(chan *srvConn, 1), ended: make(chan int, 100)}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.close)
	return s
}

func (s *scriptServer) url(path string) string { return "https://" + s.addr + path }

func (s *scriptServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		n := int(s.accepts.Add(1))
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			tc := c.(*tls.Conn)
			if err := tc.Handshake(); err != nil {
				// net/http cancels a dial that another connection made
				// unneeded, which ends its handshake: that client went
				// away, and is no failure.
				if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
					s.t.Errorf("server: TLS handshake: %v", err)
				}
				c.Close()
				return
			}
			if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
				s.t.Errorf("server: negotiated %q, want h2", p)
				c.Close()
				return
			}
			sc := newSrvConn(s.t, tc, s.opts)
			s.mu.Lock()
			s.conns = append(s.conns, sc)
			s.mu.Unlock()
			if n == 1 && s.first != nil {
				s.first <- sc
			}
			defer func() { s.ended <- n }()
			defer sc.finish(false)
			s.handler(sc, n)
		}()
	}
}

func (s *scriptServer) close() {
	s.ln.Close()
	s.mu.Lock()
	conns := append([]*srvConn(nil), s.conns...)
	s.mu.Unlock()
	for _, sc := range conns {
		sc.abort()
	}
	s.wg.Wait()
	for _, sc := range conns {
		sc.wait()
		sc.check()
	}
}

// client returns a client whose transport carries HTTP/2 through a new
// Pool with cfg.
func (s *scriptServer) client(cfg Config) (*http.Client, *http.Transport, *Pool) {
	tr := &http.Transport{TLSClientConfig: clientTLSConfig(), DisableCompression: true, ForceAttemptHTTP2: true}
	watchDials(tr)
	p := Install(tr, cfg)
	s.t.Cleanup(func() {
		p.Close()
		tr.CloseIdleConnections()
	})
	return &http.Client{Transport: tr}, tr, p
}

// dial opens a connection of p to the server by hand.
func (s *scriptServer) dial(p *Pool) *Conn {
	s.t.Helper()
	cfg := clientTLSConfig()
	cfg.NextProtos = []string{"h2"}
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	if !unwatched {
		nc = netconn.Watch(nc)
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(s.addr)
	}
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		nc.Close()
		s.t.Fatal(err)
	}
	rt := p.Upgrade(s.addr, tc)
	cc, ok := rt.(*Conn)
	if !ok {
		s.t.Fatalf("Upgrade returned %T: %v", rt, rt.(erring).err)
	}
	s.t.Cleanup(cc.close)
	return cc
}

// waitHandlers waits for n connection handlers to return.
func (s *scriptServer) waitHandlers(n int) {
	s.t.Helper()
	for range n {
		select {
		case <-s.ended:
		case <-time.After(waitTimeout):
			s.t.Fatal("server handler did not return")
		}
	}
}

// firstConn returns the server side of the first connection.
func (s *scriptServer) firstConn() *srvConn {
	s.t.Helper()
	select {
	case sc := <-s.first:
		s.first <- sc
		return sc
	case <-time.After(waitTimeout):
		s.t.Fatal("no connection")
		return nil
	}
}

// pipeConn connects a new Conn of p to a scripted server over net.Pipe and
// TLS, for synctest bubbles. The caller must end both (closeAll) before
// the bubble ends.
func pipeConn(t testing.TB, p *Pool, opts srvOpts) (*Conn, *srvConn) {
	t.Helper()
	c1, c2 := net.Pipe()
	cfg := clientTLSConfig()
	cfg.ServerName = "example.com"
	cfg.NextProtos = []string{"h2"}
	ctls := tls.Client(c1, cfg)
	stls := tls.Server(c2, serverTLSConfig())
	errc := make(chan error, 1)
	go func() { errc <- stls.Handshake() }()
	if err := ctls.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	sc := newSrvConn(t, stls, opts)
	rt := p.Upgrade("example.com:443", ctls)
	cc, ok := rt.(*Conn)
	if !ok {
		t.Fatalf("Upgrade returned %T", rt)
	}
	return cc, sc
}

// closeAll ends a pipe connection's both sides.
func closeAll(cc *Conn, sc *srvConn) {
	cc.close()
	sc.abort()
	sc.wait()
	sc.check()
}

// ---- White-box views of the client ----

// connWindowLeak returns how much of cc's connection receive window is
// neither available nor waiting to be given back: received data that was
// never read nor dropped.
func connWindowLeak(cc *Conn) int {
	cc.flowMu.Lock()
	defer cc.flowMu.Unlock()
	return connWindow - cc.recv.avail - cc.recv.unsent
}

// waitIdle waits until cc carries no stream: a stream leaves its
// connection once the read loop has handled its end, which may be just
// after its body's Read returned io.EOF.
func waitIdle(t testing.TB, cc *Conn) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		cc.mu.Lock()
		for len(cc.streams)+cc.reserved > 0 && !cc.closed {
			cc.cond.Wait()
		}
		cc.mu.Unlock()
		close(done)
	}()
	recv(t, done)
}

// poolConns returns p's connections.
func poolConns(p *Pool) []*Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	var all []*Conn
	for _, l := range p.conns {
		all = append(all, l...)
	}
	return all
}

// ---- Small helpers ----

func newReq(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// onlyReader hides everything of a reader but Read, so that
// http.NewRequest knows neither its length nor how to rewind it.
type onlyReader struct{ io.Reader }

// closeTracker is a request body that records that it was closed.
type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }

// recv receives from ch, failing the test if nothing comes in time (a
// server script that failed).
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for the server script")
		panic("unreachable")
	}
}

func readAllString(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

func mustContain(t testing.TB, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err, s)
		}
	}
}

// getString GETs url with c and returns the body, failing t on an error.
func getString(t testing.TB, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return readAllString(t, resp.Body)
}

// roundTripString sends req with rt and returns the body, failing t on an
// error.
func roundTripString(t testing.TB, rt http.RoundTripper, req *http.Request) string {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return readAllString(t, resp.Body)
}

// rtResult is what a RoundTrip returned.
type rtResult struct {
	resp *http.Response
	err  error
}

// goRoundTrip sends req with rt in a goroutine of its own; the channel
// gets the result.
func goRoundTrip(rt http.RoundTripper, req *http.Request) <-chan rtResult {
	ch := make(chan rtResult, 1)
	go func() {
		resp, err := rt.RoundTrip(req)
		ch <- rtResult{resp, err}
	}()
	return ch
}

// getBytes GETs url with c, failing t if no response comes, and returns
// the body with the error that ended reading it.
func getBytes(t testing.TB, c *http.Client, url string) ([]byte, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
