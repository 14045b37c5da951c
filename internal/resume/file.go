package resume

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// TailSize is how many bytes at the end of the partial file the
// fingerprint hashes.
const TailSize = 64 << 10

// ErrChanged is the error of a partial file that is not the one resume
// data describes: another size, another modification time or other bytes
// at its end.
var ErrChanged = errors.New("the partial file changed since the resume data was made")

// Fingerprint is the cheap identity of a partial file.
type Fingerprint struct {
	Size  int64
	MTime int64  // Unix nanoseconds
	Tail  string // hex SHA-256 of the last min(Size, TailSize) bytes
}

// FingerprintFile returns the fingerprint of the file at path, which it
// opens for reading and closes again.
func FingerprintFile(path string) (Fingerprint, error) {
	f, err := os.Open(path)
	if err != nil {
		return Fingerprint{}, err
	}
	defer f.Close()
	return FingerprintOf(f)
}

// FingerprintOf returns the fingerprint of the open file f.
func FingerprintOf(f *os.File) (Fingerprint, error) {
	fi, err := f.Stat()
	if err != nil {
		return Fingerprint{}, err
	}
	if !fi.Mode().IsRegular() {
		return Fingerprint{}, fmt.Errorf("%s is not a regular file", f.Name())
	}
	size := fi.Size()
	n := min(size, TailSize)
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, size-n, n)); err != nil {
		return Fingerprint{}, err
	}
	return Fingerprint{Size: size, MTime: fi.ModTime().UnixNano(), Tail: hex.EncodeToString(h.Sum(nil))}, nil
}

// Fingerprint returns the fingerprint d records.
func (d *Data) Fingerprint() Fingerprint {
	return Fingerprint{Size: d.Size, MTime: d.MTime, Tail: d.Tail}
}

// SetFingerprint records fp in d, with its size as the offset.
func (d *Data) SetFingerprint(fp Fingerprint) {
	d.Size, d.Offset, d.MTime, d.Tail = fp.Size, fp.Size, fp.MTime, fp.Tail
}

// CheckpointSegmentTail is how many bytes of each segment a checkpoint's
// tail hashes: the last ones written.
const CheckpointSegmentTail = 4 << 10

// CheckpointTail returns the tail a checkpoint of d records (see the
// package documentation), reading f, the partial file: for one stream the
// hash of the TailSize bytes before d.Offset, for segments the hash of
// each segment's last CheckpointSegmentTail bytes written. The bytes it
// reads are final (written, and never written again), so f may be
// written elsewhere meanwhile.
func CheckpointTail(f io.ReaderAt, d *Data) (string, error) {
	h := sha256.New()
	section := func(end, n int64) error {
		_, err := io.Copy(h, io.NewSectionReader(f, end-n, n))
		return err
	}
	if st := d.Segments; st != nil {
		for _, g := range st.Segments {
			if g.Done <= 0 {
				continue
			}
			if err := section(g.Start+g.Done, min(g.Done, CheckpointSegmentTail)); err != nil {
				return "", err
			}
		}
	} else if err := section(d.Offset, min(d.Offset, TailSize)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkpointNeeds returns the least size of a checkpoint's partial file:
// the end of the last byte it counts.
func checkpointNeeds(d *Data) int64 {
	if st := d.Segments; st != nil {
		var end int64
		for _, g := range st.Segments {
			if g.Done > 0 {
				end = g.Start + g.Done
			}
		}
		return end
	}
	return d.Offset
}

// OpenPartial opens d's partial file for writing and checks that it is the
// file d describes. A missing file gives an error matching fs.ErrNotExist;
// one that is not a regular file, or a symbolic link, or that differs in
// size, time or tail, an error matching ErrChanged.
//
// For a checkpoint (d.Checkpoint) the file may be longer than what d
// counts: it must hold the bytes d counts, ending as its tail records,
// and be no longer than the body (d.Total, when known). Without segments
// it is then cut back to d.Offset, so that it continues as a file of
// d.Offset bytes would.
func OpenPartial(d *Data) (*os.File, error) {
	fi, err := os.Lstat(d.File)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the partial file is gone: %w", fs.ErrNotExist)
		}
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: it is no longer a regular file", ErrChanged)
	}
	f, err := os.OpenFile(d.File, os.O_RDWR|noFollow, 0)
	if err != nil {
		return nil, err
	}
	if d.Checkpoint {
		if err := openCheckpoint(f, d); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	fp, err := FingerprintOf(f)
	if err == nil {
		switch want := d.Fingerprint(); {
		case fp.Size < want.Size:
			err = fmt.Errorf("%w: it is %d bytes, shorter than the %d recorded", ErrChanged, fp.Size, want.Size)
		case fp.Size > want.Size:
			err = fmt.Errorf("%w: it is %d bytes, longer than the %d recorded", ErrChanged, fp.Size, want.Size)
		case fp.MTime != want.MTime || fp.Tail != want.Tail:
			err = fmt.Errorf("%w: its contents were modified", ErrChanged)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// openCheckpoint checks f, opened for the checkpoint d, as OpenPartial
// says, and cuts a stream's file back to d.Offset.
func openCheckpoint(f *os.File, d *Data) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: it is no longer a regular file", ErrChanged)
	}
	size, need := fi.Size(), checkpointNeeds(d)
	switch {
	case size < need:
		return fmt.Errorf("%w: it is %d bytes, shorter than the %d recorded", ErrChanged, size, need)
	case d.Total >= 0 && size > d.Total:
		return fmt.Errorf("%w: it is %d bytes, longer than the %d of the whole", ErrChanged, size, d.Total)
	}
	tail, err := CheckpointTail(f, d)
	if err != nil {
		return err
	}
	if tail != d.Tail {
		return fmt.Errorf("%w: its contents were modified", ErrChanged)
	}
	if d.Segments == nil && size > d.Offset {
		return f.Truncate(d.Offset)
	}
	return nil
}
