// Package resume is the machinery of download resume data: its format,
// and the decisions about ranges and validators, as pure functions.
//
// # Format
//
// Resume data is a byte string:
//
//	offset  size  field
//	0       4     magic "USRD"
//	4       1     format version, 1 or 2
//	5       4     payload length n, big-endian
//	9       n     payload: a JSON object (below), UTF-8
//	9+n     4     CRC-32C (Castagnoli) of bytes 0 to 9+n, big-endian
//
// and nothing after it. Version 1's payload has these members; unknown
// members are refused, so that a change of meaning needs a new version:
//
//	url       string  absolute http or https URL the download resumes from
//	header    object  request header fields sent again, name → list of
//	                  values (never Authorization, Proxy-Authorization
//	                  or Cookie, which the session supplies again)
//	etag      string  the response's strong entity tag, quoted; may be ""
//	modified  string  the response's Last-Modified when strong; may be ""
//	offset    int     bytes of the body in the partial file
//	total     int     the body's whole length, -1 when not known
//	file      string  absolute path of the partial file
//	size      int     the partial file's size; equals offset
//	mtime     int     the partial file's modification time, Unix nanoseconds
//	tail      string  hex SHA-256 of the file's last min(size, 64 KiB) bytes
//
// At least one of etag and modified is set.
//
// Version 2 adds one member, for a download fetched in segments whose
// partial file has gaps:
//
//	segments  object  the segments' progress, as package segment's State
//	                  encodes it: {"total":N,"segments":[{"start":S,
//	                  "end":E,"done":D},...]}
//
// Its total equals total, offset is the sum of the segments' done (the
// bytes in the file), and size, the file's size, is at most total (the
// file may end before its last segment's bytes). Encode writes version 1
// when there are no segments, so that resume data without them stays
// readable by readers of version 1; Decode reads both, and refuses
// segments in version 1.
//
// Version 3 adds one more member, for a checkpoint: resume data made while
// the download was still writing its partial file (see Data.Checkpoint), which
// may therefore hold more than the data counts:
//
//	checkpoint  bool  true
//
// size and mtime are then 0 (not known), and tail hashes what the data
// counts rather than the file's end: without segments, the last
// min(offset, 64 KiB) bytes before offset; with segments, for each segment
// in order whose done is positive, its last min(done, 4 KiB) written
// bytes (those before start+done), all in one SHA-256. Encode writes
// version 3 only for a checkpoint.
//
// The checksum catches
// corruption, truncation and concatenation; it is not a signature: resume
// data is as trusted as any path a program hands the session.
package resume

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/urlsession-go/urlsession/internal/segment"
)

// Version is the latest format version, which Encode writes for a
// checkpoint (version 2 for other resume data with segments, and version 1
// without).
const Version = 3

// magic opens every resume data.
const magic = "USRD"

// MaxSize bounds the resume data Decode accepts.
const MaxSize = 1 << 20

const headerLen = 9 // magic, version, length

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of Decode. Each is wrapped with details.
var (
	// ErrInvalid is the error of data that is not resume data, or is damaged.
	ErrInvalid = errors.New("resume data is invalid")
	// ErrVersion is the error of resume data written by a later version of
	// the format.
	ErrVersion = errors.New("resume data has a format version this library does not read")
)

// Data is what resume data holds (see the package documentation).
type Data struct {
	URL      string      `json:"url"`
	Header   http.Header `json:"header,omitempty"`
	ETag     string      `json:"etag,omitempty"`
	Modified string      `json:"modified,omitempty"`
	Offset   int64       `json:"offset"`
	Total    int64       `json:"total"`
	File     string      `json:"file"`
	Size     int64       `json:"size"`
	MTime    int64       `json:"mtime"`
	Tail     string      `json:"tail"`
	// Segments is the progress of a download fetched in segments whose
	// file has gaps (version 2), or nil.
	Segments *segment.State `json:"segments,omitempty"`
	// Checkpoint marks resume data made while the partial file was still
	// written (version 3): the file may hold more than Offset (or the
	// segments' Done) counts, Size and MTime are 0, and Tail hashes what
	// is counted (see CheckpointTail).
	Checkpoint bool `json:"checkpoint,omitempty"`
}

// Encode returns d in the resume data format. It fails if d is not valid.
func Encode(d *Data) ([]byte, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if headerLen+len(payload)+4 > MaxSize {
		return nil, fmt.Errorf("%w: over %d bytes", ErrInvalid, MaxSize)
	}
	b := make([]byte, 0, headerLen+len(payload)+4)
	b = append(b, magic...)
	switch {
	case d.Checkpoint:
		b = append(b, 3)
	case d.Segments != nil:
		b = append(b, 2)
	default:
		b = append(b, 1)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return b, nil
}

// Decode parses and validates resume data. Its errors wrap ErrInvalid or
// ErrVersion.
func Decode(b []byte) (*Data, error) {
	switch {
	case len(b) > MaxSize:
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrInvalid, len(b), MaxSize)
	case len(b) < headerLen+4:
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrInvalid, len(b))
	case string(b[:4]) != magic:
		return nil, fmt.Errorf("%w: not resume data", ErrInvalid)
	case b[4] == 0:
		return nil, fmt.Errorf("%w: version 0", ErrInvalid)
	case b[4] > Version:
		return nil, fmt.Errorf("%w: version %d (this library reads up to %d)", ErrVersion, b[4], Version)
	}
	n := binary.BigEndian.Uint32(b[5:9])
	if uint64(n) != uint64(len(b)-headerLen-4) {
		return nil, fmt.Errorf("%w: the payload length %d does not match its %d bytes", ErrInvalid, n, len(b)-headerLen-4)
	}
	end := headerLen + int(n)
	if crc32.Checksum(b[:end], castagnoli) != binary.BigEndian.Uint32(b[end:]) {
		return nil, fmt.Errorf("%w: the checksum does not match", ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(b[headerLen:end]))
	dec.DisallowUnknownFields()
	var d Data
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the payload", ErrInvalid)
	}
	if b[4] < 2 && d.Segments != nil {
		return nil, fmt.Errorf("%w: segments in version %d", ErrInvalid, b[4])
	}
	if b[4] < 3 && d.Checkpoint {
		return nil, fmt.Errorf("%w: a checkpoint in version %d", ErrInvalid, b[4])
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// validate checks the invariants of the format.
func (d *Data) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("the URL is not an absolute http or https URL")
	}
	for k, vs := range d.Header {
		if k == "" || !validFieldName(k) {
			return bad("a header field name is not valid")
		}
		if dropped(k) {
			return bad("the header holds %s", k)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return bad("the value of header field %s is not valid", k)
			}
		}
	}
	if d.ETag == "" && d.Modified == "" {
		return bad("it has no validator")
	}
	if d.ETag != "" && !StrongETag(d.ETag) {
		return bad("the entity tag is not a strong entity tag")
	}
	if d.Modified != "" {
		if _, err := http.ParseTime(d.Modified); err != nil {
			return bad("the modification date is not an HTTP date")
		}
	}
	if d.Checkpoint && (d.Size != 0 || d.MTime != 0) {
		return bad("a checkpoint records a file size %d and time %d", d.Size, d.MTime)
	}
	if st := d.Segments; st != nil {
		if err := st.Validate(); err != nil {
			return bad("%v", err)
		}
		if st.Total != d.Total || st.Written() != d.Offset || d.Size < 0 || d.Size > d.Total {
			return bad("the segments (%d of %d bytes) do not match the offset %d, total %d and file size %d",
				st.Written(), st.Total, d.Offset, d.Total, d.Size)
		}
	} else if d.Offset < 0 || d.Size != d.Offset && !d.Checkpoint {
		return bad("the offset %d does not match the file size %d", d.Offset, d.Size)
	}
	if d.Total < -1 || (d.Total >= 0 && d.Total < d.Offset) {
		return bad("the total length %d is less than the offset %d", d.Total, d.Offset)
	}
	if d.File == "" || !filepath.IsAbs(d.File) || filepath.Clean(d.File) != d.File || strings.ContainsRune(d.File, 0) {
		return bad("the partial file's path is not a clean absolute path")
	}
	if len(d.Tail) != 64 || strings.Trim(d.Tail, "0123456789abcdef") != "" {
		return bad("the fingerprint is not a hex SHA-256")
	}
	return nil
}

// validFieldName reports whether s is an RFC 9110 token.
func validFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// droppedHeaders are never kept in resume data: credentials, which the
// session supplies again from its stores and delegate, and the fields
// a resumed request sets itself.
var droppedHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie",
	"Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
	"Accept-Encoding",
}

func dropped(name string) bool {
	for _, d := range droppedHeaders {
		if strings.EqualFold(name, d) {
			return true
		}
	}
	return false
}

// KeptHeader returns the fields of h that resume data keeps: all but
// credentials and the range and precondition fields.
func KeptHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if dropped(k) || !validFieldName(k) {
			continue
		}
		ok := true
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				ok = false
			}
		}
		if ok {
			out[k] = append([]string(nil), vs...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
