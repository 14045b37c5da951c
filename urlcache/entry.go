package urlcache

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// entry is what the stores keep about a response besides its body: the
// decoded form of the header block.
type entry struct {
	URL        string
	StatusCode int
	Proto      string
	Status     string
	Header     http.Header
	Vary       []field // the request's values of the fields the response varies on, sorted by name
	Cred       string  // credentialTag of the request the response was fetched with; "" for none
	UserInfo   map[string]string
	Policy     StoragePolicy

	RequestTime, ResponseTime time.Time
	Stored                    time.Time

	BodyLen int64
	BodyCRC uint32
}

// field is one request field named by Vary, with its normalised value.
type field struct{ Name, Value string }

// Header block format, version 2. All integers are varints; strings are a
// length and bytes.
//
//	"UCE2"
//	url, status code, proto, status line
//	header count, then per name: name, value count, values
//	vary count, then name, value pairs
//	credential tag (empty, or the 32 bytes of a SHA-256)
//	user info count, then key, value pairs
//	storage policy
//	request time, response time, stored time (Unix nanoseconds, 0 = zero)
//	body length, body CRC-32C (4 bytes, little endian)
//	CRC-32C of everything before (4 bytes, little endian)
const entryMagic = "UCE2"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is the cause of every failure to decode a header block.
var errCorrupt = errors.New("urlcache: corrupt entry")

// maxHeaderBlock bounds a header block (so a garbage length cannot make a
// decoder allocate without bound).
const maxHeaderBlock = 16 << 20

// encode returns e's header block.
func (e *entry) encode() []byte {
	b := make([]byte, 0, 256)
	b = append(b, entryMagic...)
	b = appendString(b, e.URL)
	b = binary.AppendUvarint(b, uint64(max(e.StatusCode, 0)))
	b = appendString(b, e.Proto)
	b = appendString(b, e.Status)

	names := make([]string, 0, len(e.Header))
	for k := range e.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, k := range names {
		vs := e.Header[k]
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}

	b = binary.AppendUvarint(b, uint64(len(e.Vary)))
	for _, f := range e.Vary {
		b = appendString(b, f.Name)
		b = appendString(b, f.Value)
	}
	b = appendString(b, e.Cred)

	keys := make([]string, 0, len(e.UserInfo))
	for k := range e.UserInfo {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, e.UserInfo[k])
	}

	b = binary.AppendUvarint(b, uint64(e.Policy))
	b = binary.AppendVarint(b, unixNano(e.RequestTime))
	b = binary.AppendVarint(b, unixNano(e.ResponseTime))
	b = binary.AppendVarint(b, unixNano(e.Stored))
	b = binary.AppendUvarint(b, uint64(max(e.BodyLen, 0)))
	b = binary.LittleEndian.AppendUint32(b, e.BodyCRC)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeEntry parses a header block. Any inconsistency (bad checksum, bad
// length, trailing bytes, values out of range) gives errCorrupt; it never
// panics and allocates at most a small multiple of len(b).
func decodeEntry(b []byte) (*entry, error) {
	if len(b) < len(entryMagic)+4 || len(b) > maxHeaderBlock || string(b[:len(entryMagic)]) != entryMagic {
		return nil, errCorrupt
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, errCorrupt
	}
	d := decoder{b: body[len(entryMagic):]}
	e := &entry{}
	e.URL = d.string()
	status := d.uvarint()
	if status > 999 {
		d.fail()
	}
	e.StatusCode = int(status)
	e.Proto = d.string()
	e.Status = d.string()

	n := d.count()
	if n > 0 {
		e.Header = make(http.Header, n)
	} else {
		e.Header = http.Header{}
	}
	for range n {
		k := d.string()
		m := d.count()
		vs := make([]string, 0, m)
		for range m {
			vs = append(vs, d.string())
		}
		if d.err != nil {
			break
		}
		if _, dup := e.Header[k]; dup {
			d.fail()
		}
		e.Header[k] = vs
	}

	n = d.count()
	for range n {
		f := field{d.string(), d.string()}
		if d.err != nil {
			break
		}
		e.Vary = append(e.Vary, f)
	}
	e.Cred = d.string()
	if len(e.Cred) != 0 && len(e.Cred) != sha256.Size {
		d.fail()
	}

	n = d.count()
	if n > 0 {
		e.UserInfo = make(map[string]string, n)
	}
	for range n {
		k, v := d.string(), d.string()
		if d.err != nil {
			break
		}
		e.UserInfo[k] = v
	}

	p := d.uvarint()
	if p > uint64(NotAllowed) {
		d.fail()
	}
	e.Policy = StoragePolicy(p)
	e.RequestTime = fromUnixNano(d.varint())
	e.ResponseTime = fromUnixNano(d.varint())
	e.Stored = fromUnixNano(d.varint())
	bl := d.uvarint()
	if bl > 1<<62 {
		d.fail()
	}
	e.BodyLen = int64(bl)
	e.BodyCRC = d.uint32()
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	return e, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// decoder reads a header block, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of items, each of which takes at least one byte, so
// a count larger than what is left is corrupt.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(v)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) uint32() uint32 {
	if len(d.b) < 4 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

// newEntry builds the entry for storing cr as the response to req (whose
// Vary values it records), leaving the body figures for the caller.
func newEntry(key string, cr *CachedResponse, req *http.Request, stored time.Time) *entry {
	resp := cr.Response
	e := &entry{
		URL:          key,
		StatusCode:   resp.StatusCode,
		Proto:        resp.Proto,
		Status:       resp.Status,
		Header:       resp.Header.Clone(),
		Vary:         varyFields(resp.Header, req.Header),
		Policy:       cr.StoragePolicy,
		RequestTime:  cr.RequestTime,
		ResponseTime: cr.ResponseTime,
		Stored:       stored,
	}
	if e.Header == nil {
		e.Header = http.Header{}
	}
	removeUnstoredFields(e.Header)
	tag := credentialTag(key, req)
	e.Cred = tag.stored()
	if e.Proto == "" {
		e.Proto = "HTTP/1.1"
	}
	if len(cr.UserInfo) > 0 {
		e.UserInfo = make(map[string]string, len(cr.UserInfo))
		for k, v := range cr.UserInfo {
			e.UserInfo[k] = v
		}
	}
	return e
}

// cachedResponse returns a CachedResponse the caller owns for e and a copy
// of body.
func (e *entry) cachedResponse(body []byte) *CachedResponse {
	return e.cachedResponseOwning(slices.Clone(body))
}

// cachedResponseOwning is cachedResponse handing over body itself.
func (e *entry) cachedResponseOwning(body []byte) *CachedResponse {
	major, minor, ok := http.ParseHTTPVersion(e.Proto)
	if !ok {
		major, minor = 1, 1
	}
	status := e.Status
	if status == "" {
		status = http.StatusText(e.StatusCode)
		status = strings.TrimSpace(strconv.Itoa(e.StatusCode) + " " + status)
	}
	cr := &CachedResponse{
		Response: &http.Response{
			Status:        status,
			StatusCode:    e.StatusCode,
			Proto:         e.Proto,
			ProtoMajor:    major,
			ProtoMinor:    minor,
			Header:        e.Header.Clone(),
			ContentLength: int64(len(body)),
		},
		Body:          body,
		StoragePolicy: e.Policy,
		RequestTime:   e.RequestTime,
		ResponseTime:  e.ResponseTime,
	}
	if cr.Body == nil {
		cr.Body = []byte{}
	}
	if len(e.UserInfo) > 0 {
		cr.UserInfo = make(map[string]string, len(e.UserInfo))
		for k, v := range e.UserInfo {
			cr.UserInfo[k] = v
		}
	}
	return cr
}

// appendCRC appends the checksum that ends a header block.
func appendCRC(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}
