package urlcache

import (
	"bytes"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleEntry() *entry {
	return &entry{
		URL:        "https://h.test/a?b=c",
		StatusCode: 200,
		Proto:      "HTTP/1.1",
		Status:     "200 Fantastic",
		Header: http.Header{
			"Content-Type": {"text/plain"},
			"Vary":         {"Accept-Language"},
			"X-Multi":      {"1", "2", ""},
			"Alpha":        {"α"},
		},
		Vary:         []field{{"Accept-Language", "fr-CA"}},
		Cred:         strings.Repeat("\xa5", 32),
		UserInfo:     map[string]string{"k": "v", "": "empty"},
		Policy:       AllowedInMemoryOnly,
		RequestTime:  time.Unix(1700000000, 5),
		ResponseTime: time.Unix(1700000001, 6),
		Stored:       time.Unix(1700000002, 7),
		BodyLen:      12345,
		BodyCRC:      0xdeadbeef,
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for _, e := range []*entry{sampleEntry(), {Header: http.Header{}}} {
		b := e.encode()
		got, err := decodeEntry(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !reflect.DeepEqual(normalised(got), normalised(e)) {
			t.Errorf("got  %+v\nwant %+v", got, e)
		}
		if !bytes.Equal(got.encode(), b) {
			t.Error("encoding is not deterministic")
		}
	}
}

// normalised makes times comparable with DeepEqual.
func normalised(e *entry) entry {
	c := *e
	for _, t := range []*time.Time{&c.RequestTime, &c.ResponseTime, &c.Stored} {
		if !t.IsZero() {
			*t = time.Unix(0, t.UnixNano()).UTC()
		}
	}
	if len(c.UserInfo) == 0 {
		c.UserInfo = nil
	}
	return c
}

func TestDecodeEntryRejects(t *testing.T) {
	good := sampleEntry().encode()
	for i := range good {
		b := bytes.Clone(good)
		b[i] ^= 0x41
		if _, err := decodeEntry(b); err == nil {
			t.Errorf("byte %d flipped: decoded", i)
		}
	}
	for n := range len(good) {
		if _, err := decodeEntry(good[:n]); err == nil {
			t.Errorf("truncated to %d: decoded", n)
		}
	}
}

// FuzzDecodeEntry checks that decoding any bytes neither panics nor
// accepts something that does not encode back to an equivalent entry.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(sampleEntry().encode())
	f.Add((&entry{Header: http.Header{}}).encode())
	f.Add([]byte(entryMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		again, err := decodeEntry(e.encode())
		if err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalised(again), normalised(e)) {
			t.Fatalf("round trip changed the entry:\n%+v\n%+v", e, again)
		}
	})
}

// FuzzDecodeEntryBody fuzzes the fields rather than the bytes: with a valid
// checksum, whatever the fields hold must decode without a panic.
func FuzzDecodeEntryBody(f *testing.F) {
	good := sampleEntry().encode()
	f.Add(good[4 : len(good)-4])
	f.Fuzz(func(t *testing.T, fields []byte) {
		b := append([]byte(entryMagic), fields...)
		b = appendCRC(b)
		if e, err := decodeEntry(b); err == nil {
			e.encode()
			e.cachedResponse(nil)
		}
	})
}

// FuzzParseHTTPDate checks that the date parser never panics and that what
// it accepts is a valid time that reads back the same in IMF-fixdate form.
func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Thu, 29 Feb 2024 23:59:60 gmt", "", "Sun, 06 Nov 1994 8:49:37 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseHTTPDate(s)
		if !ok {
			return
		}
		back, ok := ParseHTTPDate(d.Format(http.TimeFormat))
		if !ok || !back.Equal(d) {
			t.Fatalf("%q parsed as %v, which does not read back (%v, %v)", s, d, back, ok)
		}
	})
}

// FuzzSingleRange checks that a range it answers lies within the body.
func FuzzSingleRange(f *testing.F) {
	for _, s := range []string{"bytes=0-4", "bytes=-3", "bytes=5-", "bytes=0-1,2-3", "bytes=99999999999999999999-"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, value string, size int64) {
		start, length, status := SingleRange(value, size)
		switch status {
		case 206:
			if start < 0 || length < 1 || start > size-length {
				t.Fatalf("SingleRange(%q, %d) = %d, %d: outside the body", value, size, start, length)
			}
		case 0, 416:
		default:
			t.Fatalf("status %d", status)
		}
	})
}

func FuzzPlainKey(f *testing.F) {
	for _, s := range keyURLs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		if k, ok := plainKey(u); ok {
			if want := copyKey(u); k != want {
				t.Fatalf("%q: plainKey %q, copyKey %q", s, k, want)
			}
		}
	})
}
