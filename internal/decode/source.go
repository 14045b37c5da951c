package decode

import (
	"errors"
	"io"
	"sync"
)

// sourceSize is the input buffer of each layer: large enough that reads of
// the body are few, like io.Copy's buffer.
const sourceSize = 32 << 10

// maxEmptyReads is how many (0, nil) results in a row from the input are
// taken as a failure, as bufio does.
const maxEmptyReads = 100

var errBadRead = errors.New("decode: body returned an invalid count from Read")

// source is a buffered reader over a layer's input, much like bufio.Reader,
// that keeps the first error the input returned (io.EOF included) and never
// hands out data and an error from one call. It implements io.ByteReader, so
// compress/flate, gzip and zlib read it as is: without a buffer of their own,
// and without consuming a byte past the end of their stream.
type source struct {
	r          io.Reader
	buf        []byte
	rpos, wpos int   // buf[rpos:wpos] is unread
	err        error // the input's error, kept once seen
	sawEOF     bool  // io.EOF was handed to the decoder
}

var sourcePool = sync.Pool{New: func() any { return &source{buf: make([]byte, sourceSize)} }}

func getSource(r io.Reader) *source {
	s := sourcePool.Get().(*source)
	s.r = r
	return s
}

func putSource(s *source) {
	*s = source{buf: s.buf}
	sourcePool.Put(s)
}

// readInput reads from the input into p, retrying (0, nil), and records an
// error. It returns the count read.
func (s *source) readInput(p []byte) int {
	for range maxEmptyReads {
		n, err := s.r.Read(p)
		if n < 0 || n > len(p) {
			s.err = errBadRead
			return 0
		}
		if err != nil {
			s.err = err
		}
		if n > 0 || err != nil {
			return n
		}
	}
	s.err = io.ErrNoProgress
	return 0
}

// fill refills an empty buffer, unless the input has already failed or ended.
func (s *source) fill() {
	s.rpos, s.wpos = 0, 0
	if s.err == nil {
		s.wpos = s.readInput(s.buf)
	}
}

// readErr returns the kept error, noting when that hands io.EOF to the decoder.
func (s *source) readErr() error {
	if s.err == io.EOF {
		s.sawEOF = true
	}
	return s.err
}

func (s *source) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.rpos == s.wpos {
		if s.err != nil {
			return 0, s.readErr()
		}
		if len(p) >= len(s.buf) {
			// Large read (br asks for 32 KiB): skip the copy.
			if n := s.readInput(p); n > 0 {
				return n, nil
			}
			return 0, s.readErr()
		}
		s.fill()
		if s.rpos == s.wpos {
			return 0, s.readErr()
		}
	}
	n := copy(p, s.buf[s.rpos:s.wpos])
	s.rpos += n
	return n, nil
}

func (s *source) ReadByte() (byte, error) {
	if s.rpos < s.wpos {
		b := s.buf[s.rpos]
		s.rpos++
		return b, nil
	}
	return s.readByteSlow()
}

func (s *source) readByteSlow() (byte, error) {
	if s.err == nil {
		s.fill()
	}
	if s.rpos == s.wpos {
		return 0, s.readErr()
	}
	b := s.buf[s.rpos]
	s.rpos++
	return b, nil
}

// peek returns the unread bytes, reading until there are at least n of them
// or the input fails or ends; the error is the input's, set only when fewer
// than n bytes are returned. It consumes nothing.
func (s *source) peek(n int) ([]byte, error) {
	for s.wpos-s.rpos < n && s.err == nil {
		if s.rpos > 0 {
			s.wpos = copy(s.buf, s.buf[s.rpos:s.wpos])
			s.rpos = 0
		}
		s.wpos += s.readInput(s.buf[s.wpos:])
	}
	if s.wpos-s.rpos < n {
		return s.buf[s.rpos:s.wpos], s.err
	}
	return s.buf[s.rpos:s.wpos], nil
}

// trailing reports whether any input is left, reading the input if the buffer
// is empty; err is the input's error other than io.EOF.
func (s *source) trailing() (trailing bool, err error) {
	if s.rpos == s.wpos {
		s.fill()
	}
	switch {
	case s.rpos < s.wpos:
		return true, nil
	case s.err == io.EOF:
		return false, nil
	}
	return false, s.err
}
