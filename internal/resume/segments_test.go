package resume

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/urlsession-go/urlsession/internal/segment"
)

func segmented() *Data {
	d := sample()
	d.Segments = &segment.State{Total: 100, Segments: []segment.Segment{
		{Start: 0, End: 50, Done: 10}, {Start: 50, End: 100, Done: 30},
	}}
	d.Offset, d.Size = 40, 80
	return d
}

// reversion rewrites b's version byte and checksum.
func reversion(b []byte, v byte) []byte {
	b = append([]byte(nil), b...)
	b[4] = v
	end := len(b) - 4
	binary.BigEndian.PutUint32(b[end:], crc32.Checksum(b[:end], castagnoli))
	return b
}

func TestSegmentsVersion(t *testing.T) {
	plain, err := Encode(sample())
	if err != nil || plain[4] != 1 {
		t.Fatalf("without segments: version %d, %v; want 1", plain[4], err)
	}
	b, err := Encode(segmented())
	if err != nil {
		t.Fatal(err)
	}
	if b[4] != 2 {
		t.Errorf("with segments: version %d, want 2", b[4])
	}
	d, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.Segments == nil || d.Segments.Written() != 40 || d.Offset != 40 || d.Size != 80 {
		t.Errorf("decoded %+v, segments %+v", d, d.Segments)
	}
	// Version 2 without segments reads too; segments in version 1 do not.
	if _, err := Decode(reversion(plain, 2)); err != nil {
		t.Errorf("version 2 without segments: %v", err)
	}
	if _, err := Decode(reversion(b, 1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("segments in version 1: %v, want ErrInvalid", err)
	}
	if _, err := Decode(reversion(b, 3)); err != nil {
		t.Errorf("segments in version 3: %v", err)
	}
	if _, err := Decode(reversion(b, Version+1)); !errors.Is(err, ErrVersion) {
		t.Errorf("version %d: %v, want ErrVersion", Version+1, err)
	}
}

func TestSegmentsInvalid(t *testing.T) {
	for name, change := range map[string]func(d *Data){
		"offset":        func(d *Data) { d.Offset = 41 },
		"total":         func(d *Data) { d.Total = 200 },
		"size":          func(d *Data) { d.Size = 101 },
		"gap":           func(d *Data) { d.Segments.Segments[1].Start = 60 },
		"done too much": func(d *Data) { d.Segments.Segments[0].Done = 51 },
		"no segments":   func(d *Data) { d.Segments.Segments = nil },
	} {
		d := segmented()
		change(d)
		if _, err := Encode(d); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Encode = %v, want ErrInvalid", name, err)
		}
	}
}
