package decode_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/urlsession-go/urlsession/internal/decode"
)

// text returns n bytes of compressible, word-like data, the same for the
// same seed.
func text(n int, seed uint64) []byte {
	words := strings.Fields("the quick brown fox jumps over lazy dog URLSession data task " +
		"response header body gzip deflate brotli stream window buffer 0123 4567 89 {} [] <html>")
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 0, n+16)
	for len(b) < n {
		b = append(b, words[rng.IntN(len(words))]...)
		if rng.IntN(9) == 0 {
			b = append(b, '\n')
		} else {
			b = append(b, ' ')
		}
	}
	return b[:n]
}

// noise returns n incompressible bytes.
func noise(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// compress applies one coding. "deflate" means zlib-wrapped deflate, as HTTP
// defines it; "rawdeflate" is the bare deflate some servers send.
func compress(tb testing.TB, coding string, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch strings.ToLower(coding) {
	case "gzip", "x-gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "rawdeflate":
		w, _ = flate.NewWriter(&buf, flate.DefaultCompression)
	case "br":
		w = brotli.NewWriter(&buf)
	case "identity":
		return data
	default:
		tb.Fatalf("compress: unknown coding %q", coding)
	}
	if _, err := w.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// encode applies a Content-Encoding list in order.
func encode(tb testing.TB, contentEncoding string, data []byte) []byte {
	tb.Helper()
	for c := range strings.SplitSeq(contentEncoding, ",") {
		if c = strings.TrimSpace(c); c != "" {
			data = compress(tb, c, data)
		}
	}
	return data
}

// body is a test response body: it serves r, then err (io.EOF if nil), and
// counts Read and Close calls.
type body struct {
	r      io.Reader
	err    error
	reads  atomic.Int32
	closes atomic.Int32
	cerr   error // returned by Close
}

func newBody(data []byte) *body { return &body{r: bytes.NewReader(data)} }

func (b *body) Read(p []byte) (int, error) {
	b.reads.Add(1)
	n, err := b.r.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (b *body) Close() error {
	b.closes.Add(1)
	return b.cerr
}

// show prints a byte slice for a failure message, shortened.
func show(b []byte) string {
	if len(b) <= 48 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%d bytes %q...", len(b), b[:48])
}

// readAll decodes a whole body.
func readAll(t *testing.T, r io.Reader, contentEncoding string) ([]byte, error) {
	t.Helper()
	rc, err := decode.NewReader(io.NopCloser(r), contentEncoding)
	if err != nil {
		t.Fatalf("NewReader(%q): %v", contentEncoding, err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestSupported(t *testing.T) {
	tests := []struct {
		ce   string
		want bool
	}{
		{"", true},
		{"identity", true},
		{"gzip", true},
		{"x-gzip", true},
		{"deflate", true},
		{"br", true},
		{"GZIP", true},
		{"X-Gzip", true},
		{"Br", true},
		{"DeFlate", true},
		{"gzip, br", true},
		{" gzip ,\tbr ", true},
		{"gzip,,br,", true},
		{"identity, gzip, identity", true},
		{"gzip, gzip, gzip, gzip, gzip", true},
		{"gzip, gzip, gzip, gzip, gzip, identity", true},
		{"gzip, gzip, gzip, gzip, gzip, gzip", false}, // more than MaxCodings
		{"compress", false},
		{"x-compress", false},
		{"zstd", false},
		{"gzip, zstd", false},
		{"zstd, gzip", false},
		{"gzip;q=1", false},
		{"gzip br", false},
		{"gzip2", false},
		{"*", false},
	}
	for _, tt := range tests {
		if got := decode.Supported(tt.ce); got != tt.want {
			t.Errorf("Supported(%q) = %v, want %v", tt.ce, got, tt.want)
		}
		rc, err := decode.NewReader(newBody(nil), tt.ce)
		if got := err == nil; got != tt.want {
			t.Errorf("NewReader(%q) error = %v, want success %v", tt.ce, err, tt.want)
		}
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("NewReader(%q) error %v does not wrap errors.ErrUnsupported", tt.ce, err)
		}
		if err != nil && rc != nil {
			t.Errorf("NewReader(%q) returned a reader with its error", tt.ce)
		}
	}
}

func TestAcceptEncodingSupported(t *testing.T) {
	if !decode.Supported(decode.AcceptEncoding) {
		t.Errorf("Supported(AcceptEncoding %q) = false", decode.AcceptEncoding)
	}
}

func TestIdentityReturnsBody(t *testing.T) {
	for _, ce := range []string{"", "identity", "IDENTITY", " identity , ", ",", "identity, identity"} {
		b := newBody([]byte("hello"))
		rc, err := decode.NewReader(b, ce)
		if err != nil {
			t.Fatalf("NewReader(%q): %v", ce, err)
		}
		if rc != io.ReadCloser(b) {
			t.Errorf("NewReader(%q) = %T, want the body itself", ce, rc)
		}
	}
}

func TestDecode(t *testing.T) {
	payloads := map[string][]byte{
		"empty":  {},
		"byte":   []byte("x"),
		"short":  []byte("hello, world\n"),
		"text":   text(300_000, 1), // several source buffers
		"noise":  noise(100_000, 2),
		"zeroes": make([]byte, 1<<20),
	}
	codings := []struct {
		ce      string // the header value
		applied string // what encode applies
	}{
		{"gzip", "gzip"},
		{"x-gzip", "gzip"},
		{"GZIP", "gzip"},
		{"deflate", "deflate"},
		{"deflate", "rawdeflate"},
		{"Deflate", "rawdeflate"},
		{"br", "br"},
		{"BR", "br"},
		{"gzip, br", "gzip, br"},
		{"br, gzip", "br, gzip"},
		{"deflate, gzip, br", "deflate, gzip, br"},
		{"deflate, gzip, br", "rawdeflate, gzip, br"},
		{"gzip, identity, gzip", "gzip, gzip"},
		{"identity, br", "br"},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"plain", func(r io.Reader) io.Reader { return r }},
		{"onebyte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"dataerr", iotest.DataErrReader}, // last data comes with io.EOF
	}
	for _, c := range codings {
		for pname, data := range payloads {
			enc := encode(t, c.applied, data)
			for _, rd := range readers {
				if rd.name == "onebyte" && len(enc) > 50_000 {
					continue // slow, and the small payloads cover it
				}
				name := fmt.Sprintf("%s(%s)/%s/%s", c.ce, c.applied, pname, rd.name)
				t.Run(name, func(t *testing.T) {
					got, err := readAll(t, rd.wrap(bytes.NewReader(enc)), c.ce)
					if err != nil {
						t.Fatalf("read: %v", err)
					}
					if !bytes.Equal(got, data) {
						t.Errorf("got %s\nwant %s", show(got), show(data))
					}
				})
			}
		}
	}
}

// TestMultistreamGzip checks that concatenated gzip members decode as one body.
func TestMultistreamGzip(t *testing.T) {
	a, b := []byte("first member, "), []byte("second member")
	enc := append(compress(t, "gzip", a), compress(t, "gzip", b)...)
	got, err := readAll(t, bytes.NewReader(enc), "gzip")
	want := append(a, b...)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("got %q, %v; want %q, nil", got, err, want)
	}
}

// TestDeflateDetection checks zlib-wrapped and raw deflate under "deflate",
// at levels that give different zlib headers.
func TestDeflateDetection(t *testing.T) {
	data := text(20_000, 3)
	for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression, flate.HuffmanOnly} {
		var z bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&z, level)
		zw.Write(data)
		zw.Close()
		var raw bytes.Buffer
		fw, _ := flate.NewWriter(&raw, level)
		fw.Write(data)
		fw.Close()
		for name, enc := range map[string][]byte{"zlib": z.Bytes(), "raw": raw.Bytes()} {
			got, err := readAll(t, bytes.NewReader(enc), "deflate")
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s level %d (header % x): got %s, %v; want %s, nil", name, level, enc[:2], show(got), err, show(data))
			}
		}
	}
}

func TestCorrupt(t *testing.T) {
	data := text(50_000, 4)
	gz := compress(t, "gzip", data)
	zl := compress(t, "deflate", data)
	raw := compress(t, "rawdeflate", data)
	br := compress(t, "br", data)
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		if i < 0 {
			i += len(b)
		}
		b[i] ^= 0x55
		return b
	}
	cat := func(a, b []byte) []byte { return append(bytes.Clone(a), b...) }
	// A zlib stream with a preset dictionary, which HTTP gives no way to name.
	var dict bytes.Buffer
	dw, _ := zlib.NewWriterLevelDict(&dict, zlib.DefaultCompression, []byte("dictionary"))
	dw.Write(data)
	dw.Close()

	tests := []struct {
		name string
		ce   string
		enc  []byte
		is   error // also wrapped, when set
	}{
		{"gzip/magic", "gzip", flip(gz, 0), gzip.ErrHeader},
		{"gzip/not gzip at all", "gzip", []byte("<html>this is not gzip</html>"), gzip.ErrHeader},
		{"gzip/crc", "gzip", flip(gz, -8), gzip.ErrChecksum},
		{"gzip/size", "gzip", flip(gz, -1), gzip.ErrChecksum},
		{"gzip/data", "gzip", flip(gz, len(gz)/2), nil},
		{"gzip/trailing garbage", "gzip", cat(gz, []byte("trailing garbage")), gzip.ErrHeader},
		{"gzip/trailing zeroes", "gzip", cat(gz, make([]byte, 16)), gzip.ErrHeader},
		{"gzip/short trailing garbage", "gzip", cat(gz, []byte("xyz")), nil},
		{"deflate/zlib checksum", "deflate", flip(zl, -1), zlib.ErrChecksum},
		{"deflate/zlib data", "deflate", flip(zl, len(zl)/2), nil},
		{"deflate/zlib dictionary", "deflate", dict.Bytes(), zlib.ErrDictionary},
		{"deflate/zlib trailing", "deflate", cat(zl, []byte("trailing")), nil},
		{"deflate/raw reserved block type", "deflate", []byte{0xff, 0xff, 0xff, 0xff}, nil},
		{"deflate/raw block type", "deflate", func() []byte { b := bytes.Clone(raw); b[0] |= 0x06; return b }(), nil},
		{"deflate/raw trailing", "deflate", cat(raw, []byte("trailing")), nil},
		{"br/garbage", "br", []byte("this is plainly not brotli data, is it?"), nil},
		{"br/header", "br", flip(br, 3), nil}, // br has no checksum: corrupt its structure
		{"br/cut and padded", "br", cat(br[:len(br)/2], bytes.Repeat([]byte{0xff}, 64)), nil},
		{"br/trailing", "br", cat(br, []byte("trailing")), nil},
		{"gzip, br/inner gzip corrupt", "gzip, br", compress(t, "br", flip(gz, -8)), gzip.ErrChecksum},
		{"gzip, br/outer br corrupt", "gzip, br", flip(compress(t, "br", gz), 20), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, bytes.NewReader(tt.enc), tt.ce)
			if !errors.Is(err, decode.ErrCorrupt) {
				t.Fatalf("got %s, error %v; want an error wrapping ErrCorrupt", show(got), err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestTruncated(t *testing.T) {
	data := text(4_000, 5)
	for _, applied := range []string{"gzip", "deflate", "rawdeflate", "br", "gzip, br", "br, deflate"} {
		ce := strings.ReplaceAll(applied, "rawdeflate", "deflate")
		enc := encode(t, applied, data)
		t.Run(applied, func(t *testing.T) {
			for n := 1; n < len(enc); n++ {
				got, err := readAll(t, bytes.NewReader(enc[:n]), ce)
				if !errors.Is(err, decode.ErrCorrupt) || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("%d of %d bytes: got %d bytes, error %v; want an error wrapping ErrCorrupt and io.ErrUnexpectedEOF",
						n, len(enc), len(got), err)
				}
				if !bytes.HasPrefix(data, got) {
					t.Fatalf("%d of %d bytes: got %s, not a prefix of the data", n, len(enc), show(got))
				}
			}
		})
	}
}

func TestEmptyBody(t *testing.T) {
	for _, ce := range []string{"gzip", "deflate", "br", "gzip, br"} {
		got, err := readAll(t, bytes.NewReader(nil), ce)
		if err != nil || len(got) != 0 {
			t.Errorf("%s: got %q, %v; want empty, nil", ce, got, err)
		}
	}
}

var errNet = errors.New("connection reset by test")

// TestNetworkError checks that a body's own error comes out unchanged, at any
// point of the stream, for every coding.
func TestNetworkError(t *testing.T) {
	data := text(100_000, 6)
	for _, applied := range []string{"gzip", "deflate", "rawdeflate", "br", "gzip, br", "deflate, gzip"} {
		ce := strings.ReplaceAll(applied, "rawdeflate", "deflate")
		enc := encode(t, applied, data)
		for _, cut := range []int{0, 1, 2, 3, 10, len(enc) / 2, len(enc) - 1, len(enc)} {
			for _, sentinel := range []error{errNet, io.ErrUnexpectedEOF, iotest.ErrTimeout} {
				b := &body{r: bytes.NewReader(enc[:cut]), err: sentinel}
				rc, err := decode.NewReader(b, ce)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != sentinel || errors.Is(err, decode.ErrCorrupt) {
					t.Errorf("%s cut at %d of %d: got %d bytes, error %v; want %v unchanged",
						applied, cut, len(enc), len(got), err, sentinel)
				}
			}
		}
	}
}

// splitReader serves its parts one per Read.
type splitReader struct{ parts [][]byte }

func (s *splitReader) Read(p []byte) (int, error) {
	for len(s.parts) > 0 && len(s.parts[0]) == 0 {
		s.parts = s.parts[1:]
	}
	if len(s.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.parts[0])
	s.parts[0] = s.parts[0][n:]
	return n, nil
}

// randomSplit cuts b into pieces of 1 to max bytes.
func randomSplit(b []byte, max int, rng *rand.Rand) [][]byte {
	var parts [][]byte
	for len(b) > 0 {
		n := min(len(b), 1+rng.IntN(max))
		parts = append(parts, b[:n])
		b = b[n:]
	}
	return parts
}

// TestBrotliSplitInput feeds br streams in small random pieces, which makes
// the bare brotli decoder report excess input on some valid streams (see
// brotliReader); decoding must succeed all the same, and still fail on real
// excess input.
func TestBrotliSplitInput(t *testing.T) {
	bareFailures := 0
	for seed := range 300 {
		data := text(5000+seed*37, uint64(seed))
		enc := compress(t, "br", data)
		rng := rand.New(rand.NewPCG(uint64(seed), 9))
		split := randomSplit(enc, 8, rng)
		if _, err := io.ReadAll(brotli.NewReader(&splitReader{parts: slices.Clone(split)})); err != nil {
			bareFailures++
		}
		got, err := readAll(t, &splitReader{parts: split}, "br")
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("seed %d: got %s, %v; want %s, nil", seed, show(got), err, show(data))
		}
		for _, extra := range []string{"x", "xy", "trailing"} {
			bad := append(bytes.Clone(enc), extra...)
			got, err := readAll(t, &splitReader{parts: randomSplit(bad, 8, rng)}, "br")
			if !errors.Is(err, decode.ErrCorrupt) {
				t.Errorf("seed %d with %q after the stream: got %s, %v; want ErrCorrupt", seed, extra, show(got), err)
			}
		}
	}
	t.Logf("the bare brotli decoder failed on %d of 300 valid streams", bareFailures)
}

// TestErrorSticky checks that Read repeats its error.
func TestErrorSticky(t *testing.T) {
	b := &body{r: bytes.NewReader(compress(t, "gzip", text(1000, 7))[:50]), err: errNet}
	rc, _ := decode.NewReader(b, "gzip")
	defer rc.Close()
	if _, err := io.ReadAll(rc); err != errNet {
		t.Fatalf("first error %v, want %v", err, errNet)
	}
	reads := b.reads.Load()
	if n, err := rc.Read(make([]byte, 10)); n != 0 || err != errNet {
		t.Errorf("second Read = %d, %v; want 0, %v", n, err, errNet)
	}
	if b.reads.Load() != reads {
		t.Errorf("Read after the error read the body again")
	}
}

// blockingBody is a body whose Read blocks until Close.
type blockingBody struct {
	reads   atomic.Int32
	closed  chan struct{}
	once    sync.Once
	entered chan struct{}
}

func newBlockingBody() *blockingBody {
	return &blockingBody{closed: make(chan struct{}), entered: make(chan struct{}, 1)}
}

func (b *blockingBody) Read([]byte) (int, error) {
	b.reads.Add(1)
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.closed
	return 0, errNet
}

func (b *blockingBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// TestLazy checks that NewReader does not read, and that Close unblocks a Read.
func TestLazy(t *testing.T) {
	for _, ce := range []string{"gzip", "deflate", "br", "gzip, deflate, br"} {
		b := newBlockingBody()
		done := make(chan struct{})
		var rc io.ReadCloser
		go func() {
			defer close(done)
			var err error
			rc, err = decode.NewReader(b, ce)
			if err != nil {
				t.Error(err)
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: NewReader blocked", ce)
		}
		if n := b.reads.Load(); n != 0 {
			t.Fatalf("%s: NewReader read the body %d times", ce, n)
		}

		readErr := make(chan error)
		go func() {
			_, err := rc.Read(make([]byte, 100))
			readErr <- err
		}()
		<-b.entered // the Read is blocked in the body
		if err := rc.Close(); err != nil {
			t.Errorf("%s: Close: %v", ce, err)
		}
		select {
		case err := <-readErr:
			if err != errNet {
				t.Errorf("%s: blocked Read returned %v, want %v", ce, err, errNet)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Close did not unblock Read", ce)
		}
		if _, err := rc.Read(make([]byte, 100)); err != decode.ErrClosed {
			t.Errorf("%s: Read after Close = %v, want ErrClosed", ce, err)
		}
	}
}

func TestClose(t *testing.T) {
	enc := compress(t, "gzip", text(100_000, 8))
	cerr := errors.New("close error")
	for _, when := range []string{"before read", "mid read", "after EOF"} {
		b := &body{r: bytes.NewReader(enc), cerr: cerr}
		rc, _ := decode.NewReader(b, "gzip")
		switch when {
		case "mid read":
			if _, err := rc.Read(make([]byte, 1000)); err != nil {
				t.Fatal(err)
			}
		case "after EOF":
			if _, err := io.ReadAll(rc); err != nil {
				t.Fatal(err)
			}
		}
		if err := rc.Close(); err != cerr {
			t.Errorf("%s: first Close = %v, want the body's %v", when, err, cerr)
		}
		if err := rc.Close(); err != nil {
			t.Errorf("%s: second Close = %v, want nil", when, err)
		}
		if n := b.closes.Load(); n != 1 {
			t.Errorf("%s: body closed %d times, want 1", when, n)
		}
		if n, err := rc.Read(make([]byte, 10)); n != 0 || err != decode.ErrClosed {
			t.Errorf("%s: Read after Close = %d, %v; want 0, ErrClosed", when, n, err)
		}
	}
}

// TestConcurrentClose races Close against Read and against itself; run it
// with -race.
func TestConcurrentClose(t *testing.T) {
	enc := compress(t, "gzip", text(200_000, 9))
	var wg sync.WaitGroup
	for i := range 50 {
		b := newBody(enc)
		rc, _ := decode.NewReader(b, "gzip")
		wg.Go(func() {
			buf := make([]byte, 1000)
			for {
				if _, err := rc.Read(buf); err != nil {
					if err != decode.ErrClosed && err != io.EOF {
						t.Errorf("Read: %v", err)
					}
					return
				}
			}
		})
		for range 2 {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 20 * time.Microsecond)
				rc.Close()
			})
		}
	}
	wg.Wait()
}

// TestPools decodes many streams, good and bad, in parallel, so decoders come
// back from the pools after errors and are reused.
func TestPools(t *testing.T) {
	type stream struct {
		ce      string
		enc     []byte
		want    []byte
		corrupt bool
	}
	var streams []stream
	for i := range 8 {
		data := text(10_000+i*3_000, uint64(100+i))
		for _, applied := range []string{"gzip", "deflate", "rawdeflate", "br", "gzip, br"} {
			ce := strings.ReplaceAll(applied, "rawdeflate", "deflate")
			enc := encode(t, applied, data)
			streams = append(streams, stream{ce: ce, enc: enc, want: data})
			if applied != "rawdeflate" { // no checksum: a flipped byte may still decode
				bad := bytes.Clone(enc)
				bad[len(bad)/2] ^= 0xff
				streams = append(streams, stream{ce: ce, enc: bad, corrupt: true})
			}
			streams = append(streams, stream{ce: ce, enc: enc[:len(enc)-1], corrupt: true})
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for range 200 {
				s := streams[rng.IntN(len(streams))]
				rc, err := decode.NewReader(newBody(s.enc), s.ce)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				switch {
				case s.corrupt && !errors.Is(err, decode.ErrCorrupt):
					t.Errorf("%s corrupt stream: error %v, want ErrCorrupt", s.ce, err)
				case !s.corrupt && (err != nil || !bytes.Equal(got, s.want)):
					t.Errorf("%s: got %s, %v; want %s, nil", s.ce, show(got), err, show(s.want))
				}
			}
		})
	}
	wg.Wait()
}

func TestIOTestReader(t *testing.T) {
	data := text(100_000, 10)
	for _, ce := range []string{"gzip", "deflate", "br"} {
		rc, err := decode.NewReader(newBody(compress(t, ce, data)), ce)
		if err != nil {
			t.Fatal(err)
		}
		if err := iotest.TestReader(rc, data); err != nil {
			t.Errorf("%s: %v", ce, err)
		}
		rc.Close()
	}
}

// TestNoAllocsPerRead checks that steady-state reads allocate no more than
// the bare decoder does. (compress/flate allocates Huffman tables for some
// blocks, so its count is not quite zero.)
func TestNoAllocsPerRead(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("slow under the race detector, which also adds allocations")
	}
	data := text(8<<20, 11)
	buf := make([]byte, 32<<10)
	perRead := func(r io.Reader) float64 {
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(100, func() {
			if _, err := r.Read(buf); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, applied := range []string{"gzip", "deflate", "rawdeflate", "br"} {
		ce := strings.ReplaceAll(applied, "rawdeflate", "deflate")
		enc := compress(t, applied, data)
		var ref io.Reader
		switch applied {
		case "gzip":
			ref, _ = gzip.NewReader(bytes.NewReader(enc))
		case "deflate":
			ref, _ = zlib.NewReader(bytes.NewReader(enc))
		case "rawdeflate":
			ref = flate.NewReader(bytes.NewReader(enc))
		case "br":
			ref = brotli.NewReader(bytes.NewReader(enc))
		}
		want := perRead(ref)
		rc, err := decode.NewReader(newBody(enc), ce)
		if err != nil {
			t.Fatal(err)
		}
		got := perRead(rc)
		rc.Close()
		t.Logf("%s: %v allocations per 32 KiB Read, bare decoder %v", applied, got, want)
		if got > want {
			t.Errorf("%s: %v allocations per Read, want at most the bare decoder's %v", applied, got, want)
		}
	}
}

// FuzzNewReader decodes arbitrary bytes under each coding. It must never
// panic; every error must be ErrCorrupt (the body itself never fails); and
// where the reference decoder accepts the input, the result must match it.
func FuzzNewReader(f *testing.F) {
	data := text(2_000, 12)
	for i, applied := range []string{"gzip", "deflate", "rawdeflate", "br", "gzip, br", "br, deflate"} {
		ce := strings.ReplaceAll(applied, "rawdeflate", "deflate")
		enc := encode(f, applied, data)
		f.Add(enc, ce, uint8(i))
		f.Add(enc[:len(enc)/2], ce, uint8(1))
		f.Add(append(bytes.Clone(enc), "trailing"...), ce, uint8(0))
	}
	f.Add([]byte{}, "gzip", uint8(0))
	f.Add([]byte{0x78, 0x9c}, "deflate", uint8(0))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff}, "x-gzip", uint8(3))
	f.Add([]byte("plain"), "identity", uint8(0))
	f.Add([]byte("plain"), "zstd", uint8(0))

	const limit = 4 << 20 // bounds a decompression bomb's output
	f.Fuzz(func(t *testing.T, enc []byte, ce string, chunk uint8) {
		rc, err := decode.NewReader(io.NopCloser(bytes.NewReader(enc)), ce)
		if supported := decode.Supported(ce); supported != (err == nil) {
			t.Fatalf("Supported(%q) = %v but NewReader error = %v", ce, supported, err)
		}
		if err != nil {
			return
		}
		rc.Close()
		var r io.Reader = bytes.NewReader(enc)
		if chunk%4 == 1 {
			r = iotest.OneByteReader(r)
		} else if chunk%4 == 2 {
			r = iotest.DataErrReader(r)
		}
		rc, _ = decode.NewReader(io.NopCloser(r), ce)
		defer rc.Close()
		got, err := io.ReadAll(io.LimitReader(rc, limit))
		if err != nil && !errors.Is(err, decode.ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if len(got) == limit || len(enc) == 0 {
			return
		}

		// Compare with the reference decoder for a single coding.
		var ref io.Reader
		switch strings.ToLower(strings.TrimSpace(ce)) {
		case "gzip", "x-gzip":
			z, zerr := gzip.NewReader(bytes.NewReader(enc))
			if zerr != nil {
				if err == nil {
					t.Fatalf("gzip.NewReader failed (%v) but decode succeeded", zerr)
				}
				return
			}
			ref = z
		case "br":
			ref = brotli.NewReader(bytes.NewReader(enc))
		default:
			return
		}
		want, refErr := io.ReadAll(ref)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("decode error %v, reference error %v", err, refErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", show(got), show(want))
		}
	})
}

var benchData = sync.OnceValue(func() []byte { return text(64<<20, 13) })

// BenchmarkGzip decodes 64 MiB of gzip-compressed text with NewReader and,
// for comparison, with gzip.NewReader, each copied to io.Discard.
func BenchmarkGzip(b *testing.B) {
	data := benchData()
	enc := compress(b, "gzip", data)
	b.Logf("%d bytes, gzip %d bytes", len(data), len(enc))
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			rc, err := decode.NewReader(io.NopCloser(bytes.NewReader(enc)), "gzip")
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(len(data)) {
				b.Fatal(n, err)
			}
			rc.Close()
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			z, err := gzip.NewReader(bytes.NewReader(enc))
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, z); err != nil || n != int64(len(data)) {
				b.Fatal(n, err)
			}
		}
	})
}

// BenchmarkCodings decodes 8 MiB of text under each coding, with a body that
// hands out 16 KiB per Read like a network connection.
func BenchmarkCodings(b *testing.B) {
	data := benchData()[:8<<20]
	for _, applied := range []string{"gzip", "deflate", "rawdeflate", "br"} {
		ce := strings.ReplaceAll(applied, "rawdeflate", "deflate")
		enc := compress(b, applied, data)
		b.Run(applied, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				rc, _ := decode.NewReader(io.NopCloser(&chunkReader{b: enc, n: 16 << 10}), ce)
				if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(len(data)) {
					b.Fatal(n, err)
				}
				rc.Close()
			}
		})
	}
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), c.n)]
	k := copy(p, c.b)
	c.b = c.b[k:]
	return k, nil
}
