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

// OpenPartial opens d's partial file for writing and checks that it is the
// file d describes. A missing file gives an error matching fs.ErrNotExist;
// one that is not a regular file, or a symbolic link, or that differs in
// size, time or tail, an error matching ErrChanged.
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
	f, err := os.OpenFile(d.File, os.O_RDWR, 0)
	if err != nil {
		return nil, err
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
