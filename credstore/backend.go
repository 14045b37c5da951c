package credstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// backend keeps the permanent tier. A Store calls it with its own mutex
// held, so a backend needs no locking of its own for in-process use.
//
// This is the seam for other permanent stores: a desktop keyring (the
// freedesktop Secret Service, the macOS Keychain) would be a third
// implementation beside memBackend and fileBackend.
type backend interface {
	// load returns the current permanent state, reloading it when another
	// Store or process changed it. The result must not be modified. On
	// error it returns the last state it knew.
	load() (*tierState, error)
	// update calls f with a private copy of the freshest state, exclusive of
	// every other writer, and commits the copy when f reports a change. It
	// returns the state now current and whether f's change was committed.
	update(f func(*tierState) bool) (*tierState, bool, error)
	// close releases the backend's resources.
	close() error
}

// memBackend keeps permanent credentials of a memory-only Store.
type memBackend struct{ st *tierState }

func (m *memBackend) load() (*tierState, error) { return m.st, nil }

func (m *memBackend) update(f func(*tierState) bool) (*tierState, bool, error) {
	next := m.st.clone()
	if !f(next) {
		return m.st, false, nil
	}
	m.st = next
	return m.st, true, nil
}

func (m *memBackend) close() error { m.st = newTier(); return nil }

const (
	fileName     = "credentials"
	lockName     = "credentials.lock"
	tempPattern  = ".credentials-*.tmp"
	corruptInfix = ".corrupt-"
)

// fileBackend keeps permanent credentials in dir/credentials.
//
// Change detection: the backend keeps the file it last read open (on Unix),
// so that file's inode cannot be reused while it is held; every writer
// replaces the file by renaming a new one over it, so a different inode at
// the path means the contents changed. Size and modification time are
// compared too, for writers that do not replace the file.
type fileBackend struct {
	dir, path, lockPath string

	st      *tierState
	cur     *os.File    // the file st was read from (Unix only), or nil
	curInfo os.FileInfo // its metadata; nil when the file did not exist

	tempsSwept bool
}

func openFileBackend(dir string) (*fileBackend, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("credstore: %w", err)
	}
	// The directory is created with the first permanent credential; one
	// that exists already is checked now.
	if _, err := os.Stat(dir); err == nil {
		if err := prepareDir(dir); err != nil {
			return nil, err
		}
	}
	b := &fileBackend{
		dir:      dir,
		path:     filepath.Join(dir, fileName),
		lockPath: filepath.Join(dir, lockName),
		st:       newTier(),
	}
	if _, err := b.load(); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// prepareDir creates dir with mode 0700, or checks that an existing dir is
// a directory owned by the current user and tightens it to 0700.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("credstore: %s is not a directory", dir)
	}
	if err := checkOwner(fi); err != nil {
		return fmt.Errorf("credstore: directory %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("credstore: tightening permissions of %s: %w", dir, err)
		}
	}
	return nil
}

func (b *fileBackend) load() (*tierState, error) {
	err := b.refresh(false, false)
	if errors.Is(err, errNeedLock) {
		err = b.withLock(func() error { return b.refresh(true, false) })
	}
	return b.st, err
}

func (b *fileBackend) update(f func(*tierState) bool) (*tierState, bool, error) {
	if err := prepareDir(b.dir); err != nil {
		return b.st, false, err
	}
	committed := false
	err := b.withLock(func() error {
		b.sweepTemps()
		if err := b.refresh(true, true); err != nil {
			return err
		}
		next := b.st.clone()
		if !f(next) {
			return nil
		}
		if err := b.write(next); err != nil {
			return err
		}
		committed = true
		return nil
	})
	return b.st, committed, err
}

func (b *fileBackend) close() error {
	b.setState(newTier(), nil, nil)
	return nil
}

// errNeedLock reports a corrupt file found without the lock held: the
// recovery (moving it aside) must happen under the lock.
var errNeedLock = errors.New("credstore: need lock")

// refresh brings b.st up to date with the file. With force it rereads the
// file even when it looks unchanged. A corrupt file is moved aside when
// locked is true; otherwise refresh returns errNeedLock.
func (b *fileBackend) refresh(locked, force bool) error {
	fi, err := os.Stat(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		b.setState(newTier(), nil, nil)
		return nil
	}
	if err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	if !force && b.curInfo != nil && os.SameFile(fi, b.curInfo) &&
		fi.Size() == b.curInfo.Size() && fi.ModTime().Equal(b.curInfo.ModTime()) {
		return nil
	}
	f, err := os.Open(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		b.setState(newTier(), nil, nil)
		return nil
	}
	if err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("credstore: %w", err)
	}
	if info.Size() > maxFileSize {
		f.Close()
		return fmt.Errorf("credstore: %s is larger than %d bytes", b.path, maxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		f.Close()
		return fmt.Errorf("credstore: reading %s: %w", b.path, err)
	}
	st, err := decode(data)
	switch {
	case err == nil:
		if info.Mode().Perm()&0o077 != 0 {
			f.Chmod(0o600) // best effort: tighten a file someone loosened
		}
		b.setState(st, f, info)
		return nil
	case errors.Is(err, errCorrupt):
		if !locked {
			f.Close()
			return errNeedLock
		}
		b.quarantine()
		// Remember the corrupt file's identity too, so that a failed move
		// is not retried on every read; the next write replaces it.
		b.setState(newTier(), f, info)
		return nil
	default:
		f.Close()
		return fmt.Errorf("%w: %s", err, b.path)
	}
}

// quarantine moves the corrupt file aside to path.corrupt-<unix>[-n] with
// mode 0600. Failure is not fatal: the next write replaces the file.
func (b *fileBackend) quarantine() {
	base := b.path + corruptInfix + strconv.FormatInt(time.Now().Unix(), 10)
	name := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if i > 1000 {
			return
		}
		name = base + "-" + strconv.Itoa(i)
	}
	if err := os.Rename(b.path, name); err != nil {
		return
	}
	os.Chmod(name, 0o600)
	syncDir(b.dir)
}

// setState records st as read from f (with metadata info), releasing the
// previously held file.
func (b *fileBackend) setState(st *tierState, f *os.File, info os.FileInfo) {
	if b.cur != nil && b.cur != f {
		b.cur.Close()
	}
	if f != nil && !holdFiles {
		f.Close()
		f = nil
	}
	b.st, b.cur, b.curInfo = st, f, info
}

// write replaces the file with st atomically: a temporary file in the same
// directory (mode 0600), fsync, rename over the file, fsync the directory.
func (b *fileBackend) write(st *tierState) (err error) {
	data := encode(st)
	tmp, err := os.CreateTemp(b.dir, tempPattern) // mode 0600
	if err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("credstore: writing credentials: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("credstore: writing credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), b.path); err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	syncDir(b.dir)
	info, err := tmp.Stat()
	if err != nil {
		// The new contents are in place; forget the identity so the next
		// read reloads them.
		tmp.Close()
		b.setState(st, nil, nil)
		return nil
	}
	b.setState(st, tmp, info)
	return nil
}

// sweepTemps removes temporary files a crashed writer left behind. It runs
// with the lock held, when no other writer can be mid-write.
func (b *fileBackend) sweepTemps() {
	if b.tempsSwept {
		return
	}
	b.tempsSwept = true
	names, _ := filepath.Glob(filepath.Join(b.dir, tempPattern))
	for _, n := range names {
		if strings.HasPrefix(filepath.Base(n), ".credentials-") {
			os.Remove(n)
		}
	}
}

// withLock runs f holding the directory's exclusive advisory lock.
func (b *fileBackend) withLock(f func() error) error {
	unlock, err := lockFile(b.lockPath)
	if err != nil {
		return fmt.Errorf("credstore: locking %s: %w", b.lockPath, err)
	}
	defer unlock()
	return f()
}

func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
