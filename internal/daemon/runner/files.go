//go:build unix

package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/resume"
)

// mkdirPrivate makes dir (and its parents) with mode 0700.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// place moves the complete file at src to dst so that dst appears whole
// or not at all, and durably when fsync is not nil: the file is synced
// with fsync, renamed (or, across file systems, copied to a temporary
// file beside dst, synced and renamed), and dst's directory synced. With
// a nil fsync nothing is synced: dst appears whole or not at all while
// the system runs, but a power loss may leave it short or damaged.
func place(src, dst string, fsync func(*os.File) error) error {
	if fsync != nil {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		err = fsync(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := os.Rename(src, dst); err != nil {
		if !errors.Is(err, syscall.EXDEV) {
			return err
		}
		if err := copyInto(src, dst, false, fsync); err != nil {
			return err
		}
		os.Remove(src)
	}
	if fsync == nil {
		return nil
	}
	return syncDir(filepath.Dir(dst), fsync)
}

// copyInto copies src to a temporary file in dst's directory (mode
// 0600), syncs it with fsync unless that is nil, gives it src's
// modification time when keepTime is set, and renames it to dst.
func copyInto(src, dst string, keepTime bool, fsync func(*os.File) error) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = io.Copy(tmp, in)
	if err == nil && fsync != nil {
		err = fsync(tmp)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && keepTime {
		err = os.Chtimes(name, time.Time{}, info.ModTime())
	}
	if err == nil {
		err = os.Rename(name, dst)
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}

// syncDir makes a rename in dir durable, syncing it with fsync.
func syncDir(dir string, fsync func(*os.File) error) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := fsync(d); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// adopt returns resume data whose partial file is the job's file in
// PartialDir: it moves the partial file there (keeping its modification
// time, which the data records) and, for a partial file already there
// that a killed daemon left longer than the data records, cuts it back
// when its bytes up to the recorded length still match. Data it cannot
// improve is returned as it is; a task made from it fails on its own,
// and the download starts over.
func (r *Runner) adopt(job api.Job, data []byte) []byte {
	if job.Kind != api.Download {
		return data
	}
	d, err := resume.Decode(data)
	if err != nil {
		return data
	}
	own := r.partialPath(job)
	if d.File != own {
		if err := os.Rename(d.File, own); err != nil {
			if !errors.Is(err, syscall.EXDEV) || copyInto(d.File, own, true, (*os.File).Sync) != nil {
				r.log.Warn("could not move a partial file into the partial directory", "job", job.ID, "err", err)
				return data
			}
			os.Remove(d.File)
		}
		syncDir(r.opts.PartialDir, (*os.File).Sync)
		d.File = own
		out, err := resume.Encode(d)
		if err != nil {
			return data
		}
		return out
	}
	if err := repair(d); err != nil {
		r.log.Info("partial file left as it is", "job", job.ID, "err", err)
	}
	return data
}

// repair makes the partial file of d match d again after a crash
// appended to it: when the file is at least d.Size long and the bytes
// before d.Size end as d records, it is truncated to d.Size and given
// d's modification time. A checkpoint (d.Checkpoint) needs no repair:
// the session checks and cuts its file back itself.
func repair(d *resume.Data) error {
	if d.Checkpoint {
		return nil
	}
	f, err := os.OpenFile(d.File, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fp, err := resume.FingerprintOf(f)
	if err != nil {
		return err
	}
	if fp == d.Fingerprint() {
		return nil
	}
	if fp.Size < d.Size {
		return errors.New("the partial file is shorter than its resume data")
	}
	if err := checkTail(f, d); err != nil {
		return err
	}
	if err := f.Truncate(d.Size); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return os.Chtimes(d.File, time.Time{}, time.Unix(0, d.MTime))
}

// checkTail checks that the bytes of f before d.Size end as d records.
func checkTail(f *os.File, d *resume.Data) error {
	n := min(d.Size, resume.TailSize)
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, d.Size-n, n)); err != nil {
		return err
	}
	want, err := hex.DecodeString(d.Tail)
	if err != nil || !bytes.Equal(h.Sum(nil), want) {
		return errors.New("the partial file's bytes differ from its resume data")
	}
	return nil
}
