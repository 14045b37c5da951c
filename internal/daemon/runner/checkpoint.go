//go:build unix

package runner

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/resume"
)

// checkpointSuffix names a job's checkpoint file in PartialDir.
const checkpointSuffix = ".checkpoint"

// checkpointPath is the job's checkpoint file: its latest resume data,
// beside its partial file.
func (r *Runner) checkpointPath(job api.Job) string {
	return filepath.Join(r.opts.PartialDir, job.ID+checkpointSuffix)
}

// liveCheckpoint makes resume data for a task that keeps appending to
// the job's partial file, without stopping it, and records it in the
// job's checkpoint file. It keeps both files open between checkpoints of
// one task, and, when syncing (completed downloads are synced), has the
// partial file written back to disk as it grows.
type liveCheckpoint struct {
	syncing bool

	f   *os.File // the partial file, read for its length and tail
	cp  *os.File // the checkpoint file
	buf []byte
	wb  *writeback
}

// make returns from's resume data advanced to the partial file's current
// length n, or nil when n is below least. The task only appends to the
// file, so its first n bytes are final once written (in the page cache:
// a kill of the process does not lose them). The modification time
// recorded is the time of the call: a partial file found longer than n
// later is cut back to n and given that time (see repair) once its bytes
// before n end as recorded.
func (lc *liveCheckpoint) make(from *resume.Data, least int64) ([]byte, int64, error) {
	if lc.f == nil {
		f, err := os.Open(from.File)
		if err != nil {
			return nil, 0, err
		}
		lc.f = f
		if lc.syncing {
			lc.wb = startWriteback(from.File)
		}
	}
	info, err := lc.f.Stat()
	if err != nil {
		return nil, 0, err
	}
	n := info.Size()
	if n < least {
		return nil, 0, nil
	}
	k := min(n, resume.TailSize)
	if cap(lc.buf) < int(k) {
		lc.buf = make([]byte, resume.TailSize)
	}
	b := lc.buf[:k]
	if _, err := lc.f.ReadAt(b, n-k); err != nil {
		return nil, 0, err
	}
	sum := sha256.Sum256(b)
	d := *from
	d.SetFingerprint(resume.Fingerprint{Size: n, MTime: time.Now().UnixNano(), Tail: hex.EncodeToString(sum[:])})
	if d.Total >= 0 && n > d.Total {
		return nil, 0, fmt.Errorf("the partial file holds %d bytes, more than the %d of the whole", n, d.Total)
	}
	rd, err := resume.Encode(&d)
	if err != nil {
		return nil, 0, err
	}
	lc.wb.to(n)
	return rd, n, nil
}

// record writes rd to the job's checkpoint file (see writeCheckpoint).
func (lc *liveCheckpoint) record(r *Runner, job api.Job, rd []byte) {
	if lc.cp == nil {
		f, err := r.openCheckpoint(job)
		if err != nil {
			r.log.Warn("writing a checkpoint", "job", job.ID, "err", err)
			return
		}
		lc.cp = f
	}
	if err := putCheckpoint(lc.cp, rd, bootID()); err != nil {
		r.log.Warn("writing a checkpoint", "job", job.ID, "err", err)
	}
}

func (lc *liveCheckpoint) close() {
	lc.wb.stop()
	lc.wb = nil
	for _, f := range []*os.File{lc.f, lc.cp} {
		if f != nil {
			f.Close()
		}
	}
	lc.f, lc.cp = nil, nil
}

// writeCheckpoint records rd as the job's latest resume data in its
// checkpoint file, written in place at offset 0 in one write and not
// synced: it survives the daemon's death, not necessarily a power loss (a
// damaged file fails its checksum and is ignored). The file holds a
// 4-byte big-endian length, the data (which ends with its own checksum),
// then, for a checkpoint written while its task appends to the partial
// file (boot set), the kernel's boot ID (a length byte and the ID) and a
// CRC-32C of all that precedes it: an older, longer record's remains
// after it are ignored.
//
// The boot ID lets a later run continue from the partial file's end
// instead of the checkpoint's (see extend): while the machine has not
// restarted, the partial file holds, after the checkpoint's bytes, what
// the task appended to it since, whole, even when the daemon was killed.
func (r *Runner) writeCheckpoint(job api.Job, rd []byte, boot string) {
	f, err := r.openCheckpoint(job)
	if err != nil {
		r.log.Warn("writing a checkpoint", "job", job.ID, "err", err)
		return
	}
	defer f.Close()
	if err := putCheckpoint(f, rd, boot); err != nil {
		r.log.Warn("writing a checkpoint", "job", job.ID, "err", err)
	}
}

// openCheckpoint opens the job's checkpoint file for writing.
func (r *Runner) openCheckpoint(job api.Job) (*os.File, error) {
	return os.OpenFile(r.checkpointPath(job), os.O_WRONLY|os.O_CREATE, 0o600)
}

// putCheckpoint writes rd to a checkpoint file as writeCheckpoint says.
func putCheckpoint(f *os.File, rd []byte, boot string) error {
	b := make([]byte, 4, 4+len(rd)+1+len(boot)+4)
	binary.BigEndian.PutUint32(b, uint32(len(rd)))
	b = append(b, rd...)
	if boot != "" && len(boot) <= 255 {
		b = append(b, byte(len(boot)))
		b = append(b, boot...)
		b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	}
	_, err := f.WriteAt(b, 0)
	return err
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// readCheckpoint returns the resume data in the job's checkpoint file and
// the boot ID recorded with it (empty for none), or an error when there
// is no file or it is damaged.
func (r *Runner) readCheckpoint(job api.Job) (*resume.Data, []byte, string, error) {
	b, err := os.ReadFile(r.checkpointPath(job))
	if err != nil {
		return nil, nil, "", err
	}
	if len(b) < 4 {
		return nil, nil, "", errors.New("checkpoint file too short")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, "", errors.New("checkpoint file truncated")
	}
	end := 4 + int(n)
	rd := b[4:end]
	d, err := resume.Decode(rd)
	if err != nil {
		return nil, nil, "", err
	}
	var boot string
	if end < len(b) {
		if m := int(b[end]); end+1+m+4 <= len(b) && m > 0 {
			tail := end + 1 + m
			if crc32.Checksum(b[:tail], castagnoli) == binary.BigEndian.Uint32(b[tail:]) {
				boot = string(b[end+1 : tail])
			}
		}
	}
	return d, rd, boot, nil
}

// bootID is the kernel's identifier of the running boot, or "" where
// there is none (Linux: /proc/sys/kernel/random/boot_id).
var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

// latest returns the resume data a run of the job starts from: the
// stored data, or the checkpoint file's when that continues the same
// download (the job's own partial file, the same URL and validators)
// further on, as it does after the daemon was killed between two stored
// checkpoints. sameBoot reports that the data is the checkpoint file's,
// written during the running boot. The partial file is checked later
// (extend, adopt, and the task).
func (r *Runner) latest(job api.Job, stored []byte) (data []byte, sameBoot bool) {
	if job.Kind != api.Download {
		return stored, false
	}
	cp, cpData, boot, err := r.readCheckpoint(job)
	if err != nil || cp.File != r.partialPath(job) || cp.Segments != nil {
		return stored, false
	}
	sameBoot = boot != "" && boot == bootID()
	if stored == nil {
		return cpData, sameBoot
	}
	d, err := resume.Decode(stored)
	if err != nil {
		return cpData, sameBoot
	}
	if d.URL != cp.URL || d.ETag != cp.ETag || d.Modified != cp.Modified || cp.Offset <= d.Offset {
		return stored, false
	}
	return cpData, sameBoot
}

// extend returns resume data for the whole of the job's partial file when
// it is longer than data (a checkpoint written during the running boot,
// see writeCheckpoint) records and its bytes before data's length still
// end as recorded: the bytes after them are what the checkpoint's task
// appended after it, in the page cache since, so that a daemon killed
// between two checkpoints fetches none of them again. Otherwise (and
// when the file would hold the whole body or more) it returns data, which
// adopt then cuts the file back to.
func (r *Runner) extend(job api.Job, data []byte) []byte {
	d, err := resume.Decode(data)
	if err != nil || d.File != r.partialPath(job) || d.Segments != nil {
		return data
	}
	f, err := os.Open(d.File)
	if err != nil {
		return data
	}
	defer f.Close()
	fp, err := resume.FingerprintOf(f)
	if err != nil || fp.Size <= d.Size || (d.Total >= 0 && fp.Size >= d.Total) {
		return data
	}
	if err := checkTail(f, d); err != nil {
		return data
	}
	from := d.Size
	d.SetFingerprint(fp)
	out, err := resume.Encode(d)
	if err != nil {
		return data
	}
	r.log.Info("continuing from the partial file's end, past its checkpoint", "job", job.ID, "checkpoint", from, "file", fp.Size)
	return out
}

// removeOrphanCheckpoints removes checkpoint files in dir whose partial
// file is gone (the job ended, or its resume data was used elsewhere).
func removeOrphanCheckpoints(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), checkpointSuffix)
		if !ok {
			continue
		}
		if _, err := os.Lstat(filepath.Join(dir, id+".partial")); err != nil {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
