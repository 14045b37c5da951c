package resumable

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// The resume data of an upload, format 1:
//
//	offset  size  field
//	0       4     magic "USRU"
//	4       1     format version (1)
//	5       4     n, the length of the description (big endian)
//	9       n     the description: a JSON object (State's fields)
//	9+n     8     m, the length of the body kept in memory (big endian)
//	17+n    m     the body kept, from State.BodyOffset on
//	17+n+m  4     CRC-32C (Castagnoli) of every byte before it
//
// A reader refuses data that is shorter or longer than these lengths say,
// whose checksum does not match, or whose format version is not one it
// knows: a newer format gets its own error (ErrFutureFormat).

// Format is the resume data format version this package writes.
const Format = 1

var magic = [4]byte{'U', 'S', 'R', 'U'}

// maxDescription bounds the JSON description a reader accepts.
const maxDescription = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of Decode.
var (
	// ErrCorrupt: the data is not resume data of an upload, or was damaged
	// or cut short.
	ErrCorrupt = errors.New("the upload resume data is corrupt or truncated")
	// ErrFutureFormat: the data was written by a newer version of this
	// package, in a format this one does not know.
	ErrFutureFormat = errors.New("the upload resume data has a newer format than this version reads")
)

// State is what resume data records of an interrupted upload.
type State struct {
	// Version is the interop version the upload speaks.
	Version int `json:"version"`
	// Location is the resumption URL.
	Location string `json:"location"`
	// Method, URL and Header are the upload's request; Header leaves out
	// credentials, cookies and the protocol's own fields.
	Method string      `json:"method"`
	URL    string      `json:"url"`
	Header http.Header `json:"header,omitempty"`
	// Size is the length of the whole body.
	Size int64 `json:"size"`
	// File is the path of the uploaded file, for an upload from a file;
	// empty for an upload from memory.
	File string `json:"file,omitempty"`
	// FileModTime (Unix nanoseconds) and Fingerprint (SHA-256 of the first
	// and last 64 KiB, see Fingerprint) identify the file's content as it
	// was when the upload began, with Size.
	FileModTime int64  `json:"mtime,omitempty"`
	Fingerprint []byte `json:"fingerprint,omitempty"`
	// BodyOffset is where Body starts in the upload: the offset the server
	// confirmed last. Bytes before it are not kept. With a File it is
	// where the upload's bytes start in the file (0 but for a file made
	// from the Body of resume data, whose first BodyOffset bytes are not
	// the upload's): the upload continues from the server's offset, which
	// may not be before it, and cannot start over.
	BodyOffset int64 `json:"body_offset,omitempty"`
	// Body is the rest of an upload from memory (not in the JSON: it
	// follows it).
	Body []byte `json:"-"`
}

// Encode returns s as resume data.
func (s *State) Encode() ([]byte, error) {
	desc, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 9+len(desc)+8+len(s.Body)+4)
	out = append(out, magic[:]...)
	out = append(out, Format)
	out = binary.BigEndian.AppendUint32(out, uint32(len(desc)))
	out = append(out, desc...)
	out = binary.BigEndian.AppendUint64(out, uint64(len(s.Body)))
	out = append(out, s.Body...)
	out = binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
	return out, nil
}

// Decode parses resume data made by Encode and checks that what it says
// is coherent. The returned State's Body aliases data.
func Decode(data []byte) (*State, error) {
	if len(data) < 9 || !bytes.Equal(data[:4], magic[:]) {
		return nil, fmt.Errorf("%w: no upload resume data header", ErrCorrupt)
	}
	if v := data[4]; v != Format {
		if v > Format {
			return nil, fmt.Errorf("%w (format %d, this version reads %d)", ErrFutureFormat, v, Format)
		}
		return nil, fmt.Errorf("%w: unknown format %d", ErrCorrupt, v)
	}
	if len(data) < 9+8+4 {
		return nil, fmt.Errorf("%w: %d bytes are too few", ErrCorrupt, len(data))
	}
	sum := binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(data[:len(data)-4], castagnoli) != sum {
		return nil, fmt.Errorf("%w: the checksum does not match", ErrCorrupt)
	}
	rest := data[9 : len(data)-4]
	n := binary.BigEndian.Uint32(data[5:9])
	if n > maxDescription || uint64(n)+8 > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: bad description length %d", ErrCorrupt, n)
	}
	desc, rest := rest[:n], rest[n:]
	m := binary.BigEndian.Uint64(rest[:8])
	rest = rest[8:]
	if m != uint64(len(rest)) {
		return nil, fmt.Errorf("%w: bad body length %d", ErrCorrupt, m)
	}
	s := new(State)
	dec := json.NewDecoder(bytes.NewReader(desc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("%w: the description does not parse: %v", ErrCorrupt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the description", ErrCorrupt)
	}
	if len(rest) > 0 {
		s.Body = rest
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// check reports a State that does not describe an upload this package can
// continue.
func (s *State) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if !Supported(s.Version) {
		return bad("interop version %d is not supported", s.Version)
	}
	if s.Method == "" || strings.ContainsAny(s.Method, " \t\r\n") {
		return bad("bad method")
	}
	req, err := url.Parse(s.URL)
	if err != nil || !httpURL(req) {
		return bad("bad request URL")
	}
	loc, err := url.Parse(s.Location)
	if err != nil || !httpURL(loc) {
		return bad("bad resumption URL")
	}
	if !SameOrigin(req, loc) {
		return bad("the resumption URL is not of the request's origin")
	}
	for k, vs := range s.Header {
		if !validFieldName(k) {
			return bad("bad header name")
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return bad("bad header value")
			}
		}
	}
	if s.Size < 0 || s.BodyOffset < 0 || s.BodyOffset > s.Size {
		return bad("bad sizes")
	}
	if s.File == "" {
		if int64(len(s.Body)) != s.Size-s.BodyOffset {
			return bad("the kept body has %d bytes, not %d", len(s.Body), s.Size-s.BodyOffset)
		}
		if s.FileModTime != 0 || s.Fingerprint != nil {
			return bad("file facts without a file")
		}
	} else {
		if len(s.Body) != 0 {
			return bad("a body kept for a file upload")
		}
		if len(s.Fingerprint) != sha256.Size {
			return bad("bad file fingerprint")
		}
	}
	return nil
}

func httpURL(u *url.URL) bool {
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Hostname() != ""
}

func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// fingerprintSpan is how much of each end of a file Fingerprint reads.
const fingerprintSpan = 64 << 10

// Fingerprint returns the SHA-256 of the first and the last 64 KiB of the
// size bytes of f (all of it when smaller), preceded by size: a cheap check
// that a file is still the one an upload began with, alongside its size
// and modification time.
func Fingerprint(f io.ReaderAt, size int64) ([]byte, error) {
	h := sha256.New()
	binary.Write(h, binary.BigEndian, size)
	head := min(size, fingerprintSpan)
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, head)); err != nil {
		return nil, err
	}
	if tail := max(size-fingerprintSpan, head); tail < size {
		if _, err := io.Copy(h, io.NewSectionReader(f, tail, size-tail)); err != nil {
			return nil, err
		}
	}
	return h.Sum(nil), nil
}

// ErrFileChanged: the file of an upload is not the one the upload began
// with.
var ErrFileChanged = errors.New("the file changed since the upload began")

// FileFacts returns the size, modification time and fingerprint of the
// open file f.
func FileFacts(f *os.File) (size, modTime int64, fp []byte, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, nil, err
	}
	fp, err = Fingerprint(f, fi.Size())
	if err != nil {
		return 0, 0, nil, err
	}
	return fi.Size(), fi.ModTime().UnixNano(), fp, nil
}

// CheckFile reports ErrFileChanged when the open file f no longer has the
// size, modification time and fingerprint s recorded.
func (s *State) CheckFile(f *os.File) error {
	size, mt, fp, err := FileFacts(f)
	if err != nil {
		return err
	}
	if size != s.Size || mt != s.FileModTime || !bytes.Equal(fp, s.Fingerprint) {
		return ErrFileChanged
	}
	return nil
}

// MoveBodyToFile makes s, the state of an upload from memory, describe
// the same upload from the file f (opened for writing, empty), whose
// absolute path is name: the kept Body is written at BodyOffset (the
// bytes before it, which the server already holds, stay a hole of zeros
// that is never sent), the file is made Size bytes long and synced, and
// s takes its path, modification time and fingerprint in place of Body.
func (s *State) MoveBodyToFile(f *os.File, name string) error {
	if s.File != "" {
		return errors.New("resumable: the upload is already from a file")
	}
	if _, err := f.WriteAt(s.Body, s.BodyOffset); err != nil {
		return err
	}
	if err := f.Truncate(s.Size); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	size, mt, fp, err := FileFacts(f)
	if err != nil {
		return err
	}
	s.File, s.FileModTime, s.Fingerprint, s.Size, s.Body = name, mt, fp, size, nil
	return nil
}
