// Package decode undoes HTTP content codings (RFC 9110 section 8.4) on a response body.
//
// It decodes gzip (and its alias x-gzip), deflate (zlib-wrapped as RFC 9110
// says, or the raw deflate many servers send instead) and br (Brotli), in any
// stack of up to [MaxCodings] of them, plus identity, which is a no-op.
//
// # Streaming and memory
//
// Decoding is streaming: a reader from [NewReader] holds, per coding, a 32 KiB
// input buffer and the decoder's own state (for deflate and gzip about 40 KiB;
// for br a window of at most 16 MiB, as RFC 7932 bounds it), however large the
// decoded body grows. A small body can still decode to a very large one (a
// "zip bomb": deflate reaches about 1000:1, stacked codings multiply that), so
// a caller that needs a bound on the decoded size must impose it itself, for
// example with [io.LimitReader].
//
// # Errors
//
// Errors fall into three classes, which a caller can tell apart:
//
//   - An error returned by the underlying body (a network error) is returned
//     unchanged: the same value, not wrapped, and never wrapping [ErrCorrupt].
//     That holds even for io.ErrUnexpectedEOF, which net/http's bodies return
//     when the connection ends before the declared length: the body's framing
//     failed, not the content coding.
//   - Data that does not decode (a bad header, a bad checksum, an invalid
//     stream, data after the end of a stream) gives an error wrapping
//     [ErrCorrupt] and the decoder's own error.
//   - A compressed stream cut short (the body ends cleanly with io.EOF before
//     the stream does) gives an error wrapping both [ErrCorrupt] and
//     [io.ErrUnexpectedEOF].
//
// Decoding is strict about the end: the body must end where the encoded
// data does, so bytes after a gzip member (other than further gzip members),
// after a deflate or zlib stream, or after a br stream make the body corrupt.
// (compress/flate alone would ignore them.) The one exception: an empty body
// (zero bytes) decodes to an empty body under any coding, as in net/http and
// browsers, since servers label empty responses with a Content-Encoding too.
package decode

import (
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
)

// AcceptEncoding is the Accept-Encoding value a client sends by default: "gzip, deflate, br".
// Every coding it lists is one [NewReader] decodes.
const AcceptEncoding = "gzip, deflate, br"

// MaxCodings is the largest number of codings other than identity that one
// Content-Encoding value may stack (curl's limit too). Each costs a decoder,
// so an unbounded stack would let a response header claim unbounded memory.
const MaxCodings = 5

// ErrTooManyCodings is wrapped (with [errors.ErrUnsupported]) by the error
// for a Content-Encoding value that stacks more than [MaxCodings] codings.
// Unlike a coding this package does not know, which a client passes through
// undecoded, such a stack is a hostile or broken response.
var ErrTooManyCodings = errors.New("decode: too many stacked content codings")

// ErrCorrupt is wrapped by every error that comes from a body that does not decode.
var ErrCorrupt = errors.New("decode: corrupt content encoding")

// ErrClosed is returned by Read on a reader from [NewReader] after its Close.
var ErrClosed = errors.New("decode: read on closed body")

// errConcurrentRead is returned by a Read that overlaps another Read, which
// the reader does not support (io.Reader does not promise it either).
var errConcurrentRead = errors.New("decode: concurrent Read calls")

// coding is one content coding this package decodes.
type coding uint8

const (
	identity coding = iota
	gzipCoding
	deflateCoding
	brCoding
)

func (c coding) String() string {
	switch c {
	case gzipCoding:
		return "gzip"
	case deflateCoding:
		return "deflate"
	case brCoding:
		return "br"
	}
	return "identity"
}

// parseCoding reads one list element, already trimmed of whitespace.
func parseCoding(tok string) (coding, bool) {
	switch {
	case strings.EqualFold(tok, "gzip"), strings.EqualFold(tok, "x-gzip"):
		return gzipCoding, true
	case strings.EqualFold(tok, "deflate"):
		return deflateCoding, true
	case strings.EqualFold(tok, "br"):
		return brCoding, true
	case strings.EqualFold(tok, "identity"):
		return identity, true
	}
	return 0, false
}

// parse appends to dst the codings of a Content-Encoding value, in the order
// they were applied, leaving out identity and empty list elements.
func parse(contentEncoding string, dst []coding) ([]coding, error) {
	for tok := range strings.SplitSeq(contentEncoding, ",") {
		tok = strings.Trim(tok, " \t")
		if tok == "" {
			continue // RFC 9110 section 5.6.1: recipients ignore empty elements
		}
		c, ok := parseCoding(tok)
		if !ok {
			return nil, fmt.Errorf("decode: unsupported content coding %q: %w", tok, errors.ErrUnsupported)
		}
		if c == identity {
			continue
		}
		if len(dst) == MaxCodings {
			return nil, fmt.Errorf("%w: more than %d in %q (%w)", ErrTooManyCodings, MaxCodings, contentEncoding, errors.ErrUnsupported)
		}
		dst = append(dst, c)
	}
	return dst, nil
}

// Supported reports whether every coding listed in a Content-Encoding header value is one this package decodes
// (gzip, x-gzip, deflate, br, identity; case-insensitive; comma-separated list, applied in order, so decoding goes in reverse).
//
// Empty list elements are ignored, so "" (no coding) is supported. A list
// stacking more than [MaxCodings] codings other than identity is not.
// Supported(v) is true exactly when NewReader(body, v) returns no error. A
// response carrying several Content-Encoding fields is checked with their
// values joined by ", ".
func Supported(contentEncoding string) bool {
	var buf [MaxCodings]coding
	_, err := parse(contentEncoding, buf[:0])
	return err == nil
}

// NewReader returns a ReadCloser yielding the decoded body: it undoes the
// codings listed in contentEncoding, the last one listed first. Closing it
// closes body.
//
// NewReader does not read from body: each decoder is built at the first Read
// that needs it, so a response can be handed over before any body byte
// arrives. It returns an error, wrapping [errors.ErrUnsupported], only when
// [Supported](contentEncoding) is false; body is then left as it was, open.
// When the value names no coding but identity (or nothing), it returns body
// itself.
//
// Read returns errors as the package documentation describes: body's own
// errors unchanged, undecodable data wrapping [ErrCorrupt], and a truncated
// stream wrapping both [ErrCorrupt] and [io.ErrUnexpectedEOF]. Once Read has
// returned an error it returns the same error again; once it has returned
// io.EOF the decoders have checked that body held nothing after the encoded
// data.
//
// Close closes body and returns its error. It is idempotent (later calls
// return nil) and may be called while a Read is blocked in another goroutine,
// to unblock it if closing body unblocks body's Read; the decoders go back to
// their pools only once that Read has returned. After Close, Read returns
// [ErrClosed]. Read itself must not be
// called from several goroutines at once. The reader keeps decoder state in
// pools, so a body should be read to its end or closed so that state returns
// to them.
func NewReader(body io.ReadCloser, contentEncoding string) (io.ReadCloser, error) {
	var buf [MaxCodings]coding
	codings, err := parse(contentEncoding, buf[:0])
	if err != nil {
		return nil, err
	}
	if len(codings) == 0 {
		return body, nil
	}
	r := &reader{body: body}
	if len(codings) == 1 {
		r.layers = r.one[:]
	} else {
		r.layers = make([]layer, len(codings))
	}
	// Decoding undoes the last coding applied first, so the first layer
	// reads body and undoes codings[len-1].
	var in io.Reader = body
	for i := range r.layers {
		l := &r.layers[i]
		l.kind = codings[len(codings)-1-i]
		l.in = in
		in = l
	}
	r.top = in
	return r, nil
}

// reader is the io.ReadCloser NewReader returns for a body with codings.
type reader struct {
	body   io.ReadCloser
	top    io.Reader // the last layer
	layers []layer
	one    [1]layer // backs layers for a single coding, saving an allocation

	mu       sync.Mutex // guards the fields below, never held across I/O
	reading  bool       // a Read is using the layers
	closed   bool
	released bool  // the layers' pooled state has gone back to the pools
	err      error // sticky error (io.EOF included) from the layers
}

func (r *reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	switch {
	case r.closed:
		r.mu.Unlock()
		return 0, ErrClosed
	case r.err != nil:
		err := r.err
		r.mu.Unlock()
		return 0, err
	case r.reading:
		r.mu.Unlock()
		return 0, errConcurrentRead
	case len(p) == 0:
		r.mu.Unlock()
		return 0, nil
	}
	r.reading = true
	r.mu.Unlock()

	n, err := r.top.Read(p)

	r.mu.Lock()
	r.reading = false
	if err != nil {
		r.err = err
	}
	// Give the decoders back as soon as they are done with, or now if a
	// Close came while this Read was running and so left this to us.
	release := (err != nil || r.closed) && !r.released
	if release {
		r.released = true
	}
	r.mu.Unlock()
	if release {
		r.release()
	}
	return n, err
}

func (r *reader) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	// A running Read still uses the layers; it releases them when it returns.
	release := !r.reading && !r.released
	if release {
		r.released = true
	}
	r.mu.Unlock()
	err := r.body.Close()
	if release {
		r.release()
	}
	return err
}

func (r *reader) release() {
	for i := range r.layers {
		r.layers[i].release()
	}
}

// layer undoes one coding. It reads its input through a pooled source, which
// keeps the error its input returned, so that errors can be classified, and
// which is an io.ByteReader, so that the flate-based decoders neither add a
// buffer of their own nor read past the end of their stream.
type layer struct {
	kind coding
	in   io.Reader // body, or the layer that undoes the next coding out
	src  *source   // nil until the first Read
	dec  io.Reader // the decoder, nil until the first Read
	err  error     // sticky error, io.EOF included

	// The decoder's pooled object, to give back; at most one is set.
	gz *gzip.Reader
	fl io.ReadCloser // from flate.NewReader
	zl io.ReadCloser // from zlib.NewReader
	br *brotli.Reader
}

var (
	gzipPool   sync.Pool // of *gzip.Reader
	flatePool  sync.Pool // of io.ReadCloser from flate.NewReader
	zlibPool   sync.Pool // of io.ReadCloser from zlib.NewReader
	brotliPool sync.Pool // of *brotli.Reader
)

func (l *layer) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.dec == nil {
		if err := l.start(); err != nil {
			l.err = err
			return 0, err
		}
	}
	n, err := l.dec.Read(p)
	if err != nil {
		err = l.classify(err)
		l.err = err
	}
	return n, err
}

// start builds the decoder, reading as little as it needs: one byte to tell
// an empty body, two for deflate's zlib header.
func (l *layer) start() error {
	l.src = getSource(l.in)
	need := 1
	if l.kind == deflateCoding {
		need = 2
	}
	b, err := l.src.peek(need)
	if len(b) == 0 {
		if err == io.EOF {
			l.dec = eofReader{} // empty body, empty result
			return nil
		}
		return err // from the input: unchanged
	}
	if err != nil && err != io.EOF {
		return err
	}
	switch l.kind {
	case gzipCoding:
		z, _ := gzipPool.Get().(*gzip.Reader)
		if z == nil {
			z = new(gzip.Reader) // Reset makes a zero Reader usable
		}
		l.gz = z
		if err := z.Reset(l.src); err != nil {
			return l.classify(err)
		}
		l.dec = z
	case deflateCoding:
		if len(b) >= 2 && isZlibHeader(b[0], b[1]) {
			var z io.ReadCloser
			if v := zlibPool.Get(); v != nil {
				z = v.(io.ReadCloser)
				err = z.(zlib.Resetter).Reset(l.src, nil)
			} else {
				z, err = zlib.NewReader(l.src) // nil on error
			}
			l.zl = z
			if err != nil {
				return l.classify(err)
			}
			l.dec = z
		} else {
			if v := flatePool.Get(); v != nil {
				l.fl = v.(io.ReadCloser)
				l.fl.(flate.Resetter).Reset(l.src, nil)
			} else {
				l.fl = flate.NewReader(l.src)
			}
			l.dec = l.fl
		}
	case brCoding:
		z, _ := brotliPool.Get().(*brotli.Reader)
		if z == nil {
			z = brotli.NewReader(l.src) // reads nothing
		} else {
			z.Reset(l.src)
		}
		l.br = z
		l.dec = brotliReader{z}
	}
	return nil
}

// isZlibHeader reports whether two bytes open a zlib stream (RFC 1950
// section 2.2) as compress/zlib accepts it: CM 8 (deflate), a window of at
// most 32 KiB, and a check that makes CMF*256+FLG a multiple of 31.
func isZlibHeader(cmf, flg byte) bool {
	return cmf&0x0f == 8 && cmf>>4 <= 7 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}

// classify turns an error from the decoder into what Read returns.
func (l *layer) classify(err error) error {
	if err == io.EOF {
		return l.finish()
	}
	// The input failed (a network error, or a lower layer's classified
	// error); whatever the decoder made of it, that failure is the cause.
	if e := l.src.err; e != nil && e != io.EOF {
		return e
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w (%v): truncated stream: %w", ErrCorrupt, l.kind, err)
	}
	if l.src.sawEOF {
		// The decoder asked for more input than there was.
		return fmt.Errorf("%w (%v): truncated stream: %w: %w", ErrCorrupt, l.kind, io.ErrUnexpectedEOF, err)
	}
	return fmt.Errorf("%w (%v): %w", ErrCorrupt, l.kind, err)
}

// finish checks, once the decoder has reached the end of its stream, that the
// input ends there too. (The gzip and br decoders check this themselves; the
// flate-based ones do not.)
func (l *layer) finish() error {
	trailing, err := l.src.trailing()
	switch {
	case err != nil:
		return err // from the input: unchanged
	case trailing:
		return fmt.Errorf("%w (%v): data after end of stream", ErrCorrupt, l.kind)
	}
	return io.EOF
}

func (l *layer) release() {
	switch {
	case l.gz != nil:
		gzipPool.Put(l.gz)
	case l.fl != nil:
		flatePool.Put(l.fl)
	case l.zl != nil:
		zlibPool.Put(l.zl)
	case l.br != nil:
		brotliPool.Put(l.br)
	}
	l.gz, l.fl, l.zl, l.br, l.dec = nil, nil, nil, nil, nil
	if l.src != nil {
		putSource(l.src)
		l.src = nil
	}
	l.in = nil
	if l.err == nil {
		l.err = ErrClosed
	}
}

// eofReader is the decoder of an empty body.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
