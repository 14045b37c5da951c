package resume

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/urlsession-go/urlsession/internal/segment"
)

// checkpointed returns d made a checkpoint (its tail is not that of any
// file).
func checkpointed(d *Data) *Data {
	d.Checkpoint, d.Size, d.MTime = true, 0, 0
	return d
}

func TestCheckpointVersion(t *testing.T) {
	for _, d := range []*Data{checkpointed(sample()), checkpointed(segmented())} {
		b, err := Encode(d)
		if err != nil {
			t.Fatal(err)
		}
		if b[4] != 3 {
			t.Errorf("a checkpoint: version %d, want 3", b[4])
		}
		got, err := Decode(b)
		if err != nil || !got.Checkpoint || got.Offset != d.Offset || (got.Segments == nil) != (d.Segments == nil) {
			t.Errorf("decoded %+v, %v", got, err)
		}
		if _, err := Decode(reversion(b, 2)); !errors.Is(err, ErrInvalid) {
			t.Errorf("a checkpoint in version 2: %v, want ErrInvalid", err)
		}
	}
	for name, change := range map[string]func(d *Data){
		"size":  func(d *Data) { d.Size = 10 },
		"mtime": func(d *Data) { d.MTime = 1 },
	} {
		d := checkpointed(sample())
		change(d)
		if _, err := Encode(d); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Encode = %v, want ErrInvalid", name, err)
		}
	}
}

// checkpointFile writes content to a new file and returns the checkpoint
// d of it, its tail computed.
func checkpointFile(t *testing.T, content []byte, d *Data) *Data {
	t.Helper()
	d.File = filepath.Join(t.TempDir(), "part")
	if err := os.WriteFile(d.File, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(d.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if d.Tail, err = CheckpointTail(f, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func randomContent(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{7})
	r.Read(b)
	return b
}

// TestOpenCheckpointStream: a stream's checkpoint opens a file longer
// than it counts and cuts it back; one whose counted bytes changed, or
// that is shorter than they are, or longer than the body, or a symbolic
// link, does not open.
func TestOpenCheckpointStream(t *testing.T) {
	content := randomContent(300 << 10)
	newData := func() *Data {
		d := checkpointed(sample())
		d.Offset, d.Total = 200<<10, 300<<10
		return checkpointFile(t, content[:250<<10], d)
	}
	d := newData()
	f, err := OpenPartial(d)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, _ := os.ReadFile(d.File); !bytes.Equal(b, content[:200<<10]) {
		t.Errorf("the file holds %d bytes, want the checkpoint's %d", len(b), 200<<10)
	}

	for name, change := range map[string]func(d *Data) error{
		"changed": func(d *Data) error {
			f, err := os.OpenFile(d.File, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte{content[d.Offset-1] ^ 1}, d.Offset-1)
			return err
		},
		"shorter":   func(d *Data) error { return os.Truncate(d.File, d.Offset-1) },
		"too long":  func(d *Data) error { return os.Truncate(d.File, d.Total+1) },
		"a symlink": func(d *Data) error { return os.Rename(d.File, d.File+".x") },
	} {
		d := newData()
		if err := change(d); err != nil {
			t.Fatal(err)
		}
		if name == "a symlink" {
			if err := os.Symlink(d.File+".x", d.File); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := os.ReadFile(d.File)
		if f, err := OpenPartial(d); err == nil {
			f.Close()
			t.Errorf("%s: opened", name)
		} else if name != "a symlink" && !errors.Is(err, ErrChanged) {
			t.Errorf("%s: %v, want ErrChanged", name, err)
		}
		if after, _ := os.ReadFile(d.File); !bytes.Equal(before, after) {
			t.Errorf("%s: the file was changed", name)
		}
	}
}

// TestOpenCheckpointSegments: a segmented checkpoint opens a file with
// bytes past each segment's count, as they are; a changed byte among
// each segment's last counted ones stops it, one past them does not.
func TestOpenCheckpointSegments(t *testing.T) {
	content := randomContent(200 << 10)
	newData := func() *Data {
		d := checkpointed(sample())
		d.Total = 200 << 10
		d.Segments = &segment.State{Total: d.Total, Segments: []segment.Segment{
			{Start: 0, End: 100 << 10, Done: 50 << 10},
			{Start: 100 << 10, End: 200 << 10, Done: 10 << 10},
		}}
		d.Offset = d.Segments.Written()
		return checkpointFile(t, content[:150<<10], d)
	}
	d := newData()
	f, err := OpenPartial(d)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, _ := os.ReadFile(d.File); !bytes.Equal(b, content[:150<<10]) {
		t.Error("the file was changed")
	}
	flip := func(d *Data, at int64) {
		f, err := os.OpenFile(d.File, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte{content[at] ^ 1}, at); err != nil {
			t.Fatal(err)
		}
	}
	for _, at := range []int64{50<<10 - 1, 110<<10 - CheckpointSegmentTail} {
		d := newData()
		flip(d, at)
		if _, err := OpenPartial(d); !errors.Is(err, ErrChanged) {
			t.Errorf("byte %d changed: %v, want ErrChanged", at, err)
		}
	}
	d = newData()
	flip(d, 60<<10) // not counted: it is fetched again
	if f, err := OpenPartial(d); err != nil {
		t.Errorf("a byte past the count changed: %v", err)
	} else {
		f.Close()
	}
	d = newData()
	os.Truncate(d.File, 110<<10-1)
	if _, err := OpenPartial(d); !errors.Is(err, ErrChanged) {
		t.Errorf("shorter than the last count: %v, want ErrChanged", err)
	}
}
