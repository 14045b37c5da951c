package resume

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func sample() *Data {
	return &Data{
		URL:    "https://example.test/file.bin",
		Header: http.Header{"Accept": {"*/*"}},
		ETag:   `"abc"`,
		Offset: 10, Size: 10, Total: 100,
		File:  "/tmp/urlsession-x/part",
		MTime: 12345,
		Tail:  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	}
}

func TestRoundTrip(t *testing.T) {
	b, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := Encode(d)
	if !bytes.Equal(b, b2) {
		t.Errorf("re-encoding differs:\n%q\n%q", b, b2)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := Encode(sample())
	flip := bytes.Clone(good)
	flip[20] ^= 1
	future := bytes.Clone(good)
	future[4] = Version + 1
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrInvalid},
		{"garbage", []byte("hello, this is not resume data at all"), ErrInvalid},
		{"truncated", good[:len(good)-1], ErrInvalid},
		{"extended", append(bytes.Clone(good), 0), ErrInvalid},
		{"bit flip", flip, ErrInvalid},
		{"future version", future, ErrVersion},
	}
	for _, tt := range tests {
		_, err := Decode(tt.data)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	for name, mod := range map[string]func(d *Data){
		"no validator":  func(d *Data) { d.ETag = "" },
		"weak etag":     func(d *Data) { d.ETag = `W/"x"` },
		"relative path": func(d *Data) { d.File = "part" },
		"ftp":           func(d *Data) { d.URL = "ftp://example.test/x" },
		"offset":        func(d *Data) { d.Offset = 11 },
		"total":         func(d *Data) { d.Total = 5 },
		"credentials":   func(d *Data) { d.Header = http.Header{"Authorization": {"x"}} },
		"bad tail":      func(d *Data) { d.Tail = "zz" },
	} {
		d := sample()
		mod(d)
		if _, err := Encode(d); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

func TestDecide(t *testing.T) {
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name   string
		offset int64
		status int
		h      http.Header
		want   Action
		total  int64
	}{
		{"206 as asked", 10, 206, h("Content-Range", "bytes 10-99/100"), Append, 100},
		{"206 unknown total", 10, 206, h("Content-Range", "bytes 10-99/*"), Append, -1},
		{"206 elsewhere", 10, 206, h("Content-Range", "bytes 0-99/100"), Fail, -1},
		{"206 short", 10, 206, h("Content-Range", "bytes 10-20/100"), Fail, -1},
		{"206 no range", 10, 206, h(), Fail, -1},
		{"206 two ranges", 10, 206, h("Content-Range", "bytes 10-99/100", "Content-Range", "bytes 10-99/100"), Fail, -1},
		{"206 garbage", 10, 206, h("Content-Range", "bytes ten-99/100"), Fail, -1},
		{"416 complete", 100, 416, h("Content-Range", "bytes */100"), Complete, 100},
		{"416 other length", 100, 416, h("Content-Range", "bytes */90"), Fail, -1},
		{"416 no range", 100, 416, h(), Fail, -1},
		{"200", 10, 200, h(), Restart, -1},
		{"503", 10, 503, h("Retry-After", "5"), Keep, -1},
		{"404", 10, 404, h(), Keep, -1},
		{"500", 10, 500, h(), Keep, -1},
		{"304", 10, 304, h(), Keep, -1},
		{"204", 10, 204, h(), Keep, -1},
		{"302 not followed", 10, 302, h("Location", "/x"), Keep, -1},
	}
	for _, tt := range tests {
		got := Decide(tt.offset, tt.status, tt.h)
		if got.Action != tt.want || got.Total != tt.total || (got.Action == Fail) != (got.Err != nil) {
			t.Errorf("%s: got %+v, want action %d total %d", tt.name, got, tt.want, tt.total)
		}
	}
}

func TestValidators(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lm := now.Add(-time.Hour).Format(http.TimeFormat)
	tests := []struct {
		h    http.Header
		want Validators
	}{
		{http.Header{"Etag": {`"x"`}}, Validators{ETag: `"x"`}},
		{http.Header{"Etag": {`W/"x"`}}, Validators{}},
		{http.Header{"Etag": {`x`}}, Validators{}},
		{http.Header{"Last-Modified": {lm}, "Date": {now.Format(http.TimeFormat)}}, Validators{Modified: lm}},
		{http.Header{"Last-Modified": {lm}}, Validators{}},
		{http.Header{"Last-Modified": {now.Format(http.TimeFormat)}, "Date": {now.Format(http.TimeFormat)}}, Validators{}},
	}
	for _, tt := range tests {
		if got := ValidatorsOf(tt.h); got != tt.want {
			t.Errorf("ValidatorsOf(%v) = %+v, want %+v", tt.h, got, tt.want)
		}
	}
}

func TestOpenPartial(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "part")
	if err := os.WriteFile(name, bytes.Repeat([]byte("a"), 100<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(name)
	fp, err := FingerprintOf(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	d := sample()
	d.File = name
	d.SetFingerprint(fp)
	f, err = OpenPartial(d)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()

	// Same size and time, one byte changed in the tail.
	fi, _ := os.Stat(name)
	f, _ = os.OpenFile(name, os.O_RDWR, 0)
	f.WriteAt([]byte("b"), fi.Size()-1)
	f.Close()
	os.Chtimes(name, fi.ModTime(), fi.ModTime())
	if _, err := OpenPartial(d); !errors.Is(err, ErrChanged) {
		t.Errorf("altered tail: got %v, want ErrChanged", err)
	}
	os.Truncate(name, 10)
	if _, err := OpenPartial(d); !errors.Is(err, ErrChanged) {
		t.Errorf("shorter: got %v, want ErrChanged", err)
	}
	os.Remove(name)
	if _, err := OpenPartial(d); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: got %v, want fs.ErrNotExist", err)
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(sample())
	f.Add(good)
	seg, _ := Encode(segmented())
	f.Add(seg)
	cp, _ := Encode(checkpointed(segmented()))
	f.Add(cp)
	f.Add([]byte("USRD"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if err != nil {
			if d != nil {
				t.Fatal("data with an error")
			}
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v wraps neither ErrInvalid nor ErrVersion", err)
			}
			return
		}
		// What decodes encodes again, and decodes to the same.
		b2, err := Encode(d)
		if err != nil {
			t.Fatalf("decoded data does not encode: %v", err)
		}
		if _, err := Decode(b2); err != nil {
			t.Fatalf("re-encoded data does not decode: %v", err)
		}
	})
}

// envelope wraps payload in a valid header and checksum, so that the
// fuzzer reaches the payload's parsing and validation.
func envelope(payload []byte) []byte {
	b := append([]byte(magic), Version)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func FuzzDecodePayload(f *testing.F) {
	good, _ := Encode(sample())
	f.Add(good[headerLen : len(good)-4])
	seg, _ := Encode(segmented())
	f.Add(seg[headerLen : len(seg)-4])
	cp, _ := Encode(checkpointed(sample()))
	f.Add(cp[headerLen : len(cp)-4])
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"url":"http://a/","etag":"\"x\"","file":"/p","tail":""}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := Decode(envelope(payload))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if _, err := Encode(d); err != nil {
			t.Fatalf("decoded data does not encode: %v", err)
		}
	})
}
