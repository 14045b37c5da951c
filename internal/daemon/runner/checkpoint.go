package runner

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
// one task, and has the partial file written back to disk as it grows.
type liveCheckpoint struct {
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
		lc.wb = startWriteback(from.File)
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
	if err := putCheckpoint(lc.cp, rd); err != nil {
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
// checkpoint file: a 4-byte big-endian length, then the data (which ends
// with its own checksum), written in place at offset 0 in one write and
// not synced: it survives the daemon's death, not necessarily a power
// loss (a damaged file fails its checksum and is ignored).
func (r *Runner) writeCheckpoint(job api.Job, rd []byte) {
	f, err := r.openCheckpoint(job)
	if err != nil {
		r.log.Warn("writing a checkpoint", "job", job.ID, "err", err)
		return
	}
	defer f.Close()
	if err := putCheckpoint(f, rd); err != nil {
		r.log.Warn("writing a checkpoint", "job", job.ID, "err", err)
	}
}

// openCheckpoint opens the job's checkpoint file for writing.
func (r *Runner) openCheckpoint(job api.Job) (*os.File, error) {
	return os.OpenFile(r.checkpointPath(job), os.O_WRONLY|os.O_CREATE, 0o600)
}

// putCheckpoint writes rd to a checkpoint file as writeCheckpoint says.
func putCheckpoint(f *os.File, rd []byte) error {
	b := make([]byte, 4+len(rd))
	binary.BigEndian.PutUint32(b, uint32(len(rd)))
	copy(b[4:], rd)
	_, err := f.WriteAt(b, 0)
	return err
}

// readCheckpoint returns the resume data in the job's checkpoint file, or
// an error when there is none or it is damaged.
func (r *Runner) readCheckpoint(job api.Job) (*resume.Data, []byte, error) {
	b, err := os.ReadFile(r.checkpointPath(job))
	if err != nil {
		return nil, nil, err
	}
	if len(b) < 4 {
		return nil, nil, errors.New("checkpoint file too short")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, errors.New("checkpoint file truncated")
	}
	rd := b[4 : 4+n]
	d, err := resume.Decode(rd)
	if err != nil {
		return nil, nil, err
	}
	return d, rd, nil
}

// latest returns the resume data a run of the job starts from: the
// stored data, or the checkpoint file's when that continues the same
// download (the job's own partial file, the same URL and validators)
// further on, as it does after the daemon was killed between two stored
// checkpoints. The partial file is checked later (adopt, and the task).
func (r *Runner) latest(job api.Job, stored []byte) []byte {
	if job.Kind != api.Download {
		return stored
	}
	cp, cpData, err := r.readCheckpoint(job)
	if err != nil || cp.File != r.partialPath(job) || cp.Segments != nil {
		return stored
	}
	if stored == nil {
		return cpData
	}
	d, err := resume.Decode(stored)
	if err != nil {
		return cpData
	}
	if d.URL != cp.URL || d.ETag != cp.ETag || d.Modified != cp.Modified || cp.Offset <= d.Offset {
		return stored
	}
	return cpData
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
