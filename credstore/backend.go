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

	gokeyring "github.com/zalando/go-keyring"
)

// backend keeps the permanent tier. A Store calls it with its own mutex
// held, so a backend needs no locking of its own for in-process use.
//
// memBackend and fileBackend implement it; fileBackend keeps the
// passwords in its file or in the Secret Service.
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

// fileBackend keeps permanent credentials in dir/credentials: the
// passwords themselves, or (with a keyring) the names of the Secret
// Service items that hold them.
//
// Change detection: the backend keeps the file it last read open (on Unix),
// so that file's inode cannot be reused while it is held; every writer
// replaces the file by renaming a new one over it, so a different inode at
// the path means the contents changed. Size and modification time are
// compared too, for writers that do not replace the file.
type fileBackend struct {
	dir, path, lockPath string
	kr                  *boundedKeyring      // nil: passwords go in the file
	report              func(*RecoveryError) // called with the Store's lock held

	st      *tierState
	items   map[recKey]string // Secret Service item of each credential of st kept there
	cur     *os.File          // the file st was read from (Unix only), or nil
	curInfo os.FileInfo       // its metadata; nil when the file did not exist

	reported   os.FileInfo // the damaged file last reported, not to report it twice
	soft       error       // errSoft for the state read last, or nil
	tempsSwept bool

	failAside error // tests: keepAside fails with it
}

func openFileBackend(dir string, kr *boundedKeyring, report func(*RecoveryError)) (*fileBackend, error) {
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
		kr:       kr,
		report:   report,
		st:       newTier(),
		items:    map[recKey]string{},
	}
	if _, err := b.load(); err != nil && !errors.Is(err, errSoft) {
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

// errSoft is wrapped by errors that leave the backend usable: passwords
// the Secret Service did not give, a damaged file of which no copy could
// be kept, a file that could not be rewritten in the current format.
var errSoft = errors.New("credstore: permanent credentials partly unavailable")

func (b *fileBackend) load() (*tierState, error) {
	err := b.refresh(false, false)
	if errors.Is(err, errNeedLock) {
		err = b.withLock(func() error { return b.refresh(true, false) })
	}
	if err == nil {
		err = b.soft // still true of the file read last
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
		if err := b.refresh(true, true); err != nil && (!errors.Is(err, errSoft) || errors.Is(err, errNotKept)) {
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
	b.setState(newTier(), map[recKey]string{}, nil, nil)
	return nil
}

// errNotKept reports a damaged file of which no copy could be kept: it
// must not be replaced.
var errNotKept = errors.New("credstore: cannot keep a copy of the damaged credentials file")

// errNeedLock reports a file found to need rewriting (damaged, in the old
// format, or with passwords to move to the Secret Service) while the lock
// is not held: that must happen under the lock.
var errNeedLock = errors.New("credstore: need lock")

// refresh brings b.st up to date with the file. With force it rereads the
// file even when it looks unchanged. A file that needs rewriting is
// rewritten when locked is true; otherwise refresh returns errNeedLock.
// An error wrapping errSoft still leaves b.st up to date.
func (b *fileBackend) refresh(locked, force bool) error {
	fi, err := os.Stat(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		b.setState(newTier(), map[recKey]string{}, nil, nil)
		b.soft = nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	if !force && b.curInfo != nil && sameFile(fi, b.curInfo) {
		return nil
	}
	f, err := os.Open(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		b.setState(newTier(), map[recKey]string{}, nil, nil)
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
	dec, err := decode(data)
	if err != nil {
		f.Close()
		return fmt.Errorf("%w: %s", err, b.path)
	}
	migrate := dec.v1
	if b.kr != nil {
		for _, r := range dec.records {
			migrate = migrate || !r.keyring
		}
	}
	if (dec.irregular || migrate) && !locked {
		f.Close()
		return errNeedLock // before asking the Secret Service anything
	}
	st, items, lost, softErr := b.resolve(dec.records)
	repair := dec.irregular || len(lost) > 0
	if repair && !locked {
		f.Close()
		return errNeedLock
	}
	if info.Mode().Perm()&0o077 != 0 {
		f.Chmod(0o600) // best effort: tighten a file someone loosened
	}
	if !(b.reported != nil && sameFile(info, b.reported)) && (len(dec.damage) > 0 || len(lost) > 0) {
		var aside string
		if len(dec.damage) > 0 {
			// Never replace a damaged file without keeping it: until a
			// copy is kept, writes fail.
			if aside, err = b.keepAside(data); err != nil {
				b.setState(st, items, f, info)
				b.soft = fmt.Errorf("%w: %w: %s: %v", errSoft, errNotKept, b.path, err)
				return b.soft
			}
		}
		b.reported = info
		b.reportDamage(dec.damage, aside)
		for _, r := range lost {
			b.report(&RecoveryError{
				Path: b.path,
				What: fmt.Sprintf("the credential for %q at %s: its password is no longer in the Secret Service", r.user, r.space),
				Err:  fmt.Errorf("credstore: Secret Service item %q: %w", r.secret, gokeyring.ErrNotFound),
			})
		}
	}
	b.setState(st, items, f, info)
	if repair || migrate {
		if err := b.write(st); err != nil && softErr == nil {
			// The file keeps its old form; the next write replaces it.
			softErr = fmt.Errorf("%w: rewriting %s: %v", errSoft, b.path, err)
		}
	}
	b.soft = softErr
	return softErr
}

func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// reportDamage reports the parts of the file decode could not read; aside
// is where the damaged file was kept.
func (b *fileBackend) reportDamage(dmg []damage, aside string) {
	for _, d := range dmg {
		what := "the whole file"
		if d.line > 0 {
			what = fmt.Sprintf("line %d, which held a credential or part of one", d.line)
			if d.hint != "" {
				what = fmt.Sprintf("line %d, %s", d.line, d.hint)
			}
		}
		b.report(&RecoveryError{
			Path: b.path,
			What: what + "; the damaged file was kept as " + aside,
			Err:  d.err,
		})
	}
}

// resolve turns the records of a file into a state, fetching from the
// Secret Service the passwords it does not have yet. Records whose item
// is gone are lost; records whose password cannot be fetched now are held.
// After the first failure to fetch, it asks no more.
func (b *fileBackend) resolve(recs []record) (st *tierState, items map[recKey]string, lost []record, err error) {
	st, items = newTier(), map[recKey]string{}
	var defaults []recKey
	for _, r := range recs {
		k := recKey{r.space, r.user}
		if r.isDefault {
			defaults = append(defaults, k)
		}
		if !r.keyring {
			st.set(r.space, r.user, r.secret)
			delete(items, k)
			continue
		}
		pw, ok := b.st.get(r.space, r.user)
		if ok && b.items[k] == r.secret {
			st.set(r.space, r.user, pw)
			items[k] = r.secret
			continue
		}
		if b.kr == nil || err != nil {
			st.hold(r)
			delete(items, k)
			continue
		}
		pw, gerr := b.kr.get(r.secret)
		switch {
		case gerr == nil:
			st.set(r.space, r.user, pw)
			items[k] = r.secret
		case errors.Is(gerr, gokeyring.ErrNotFound):
			lost = append(lost, r)
			st.del(r.space, r.user)
			delete(items, k)
		default:
			err = fmt.Errorf("%w: reading from the Secret Service: %v", errSoft, gerr)
			st.hold(r)
			delete(items, k)
		}
	}
	for _, k := range defaults {
		st.setDefault(k.space, k.user) // no-op for a held credential, whose record keeps the flag
	}
	return st, items, lost, err
}

// records turns st into the records to write. With a keyring, passwords
// not yet there (new, changed or read from an older file) go into new
// items first; created lists them, for removal if the write fails.
func (b *fileBackend) records(st *tierState) (recs []record, items map[recKey]string, created []string, err error) {
	items = map[recKey]string{}
	for sp, ss := range st.spaces {
		for u, pw := range ss.users {
			k := recKey{sp, u}
			r := record{space: sp, user: u, secret: pw, isDefault: ss.hasDef && ss.def == u}
			if b.kr != nil {
				item, ok := b.items[k]
				if old, had := b.st.get(sp, u); !ok || !had || old != pw {
					item = newItemName(sp, u)
					if err := b.kr.set(item, pw); err != nil {
						b.deleteItems(created)
						return nil, nil, nil, fmt.Errorf("credstore: writing to the Secret Service: %w", err)
					}
					created = append(created, item)
				}
				r.keyring, r.secret = true, item
				items[k] = item
			}
			recs = append(recs, r)
		}
	}
	for _, r := range st.held {
		recs = append(recs, r)
	}
	return recs, items, created, nil
}

// obsoleteItems lists the Secret Service items the old state referenced
// and the new one does not.
func obsoleteItems(oldSt *tierState, oldItems map[recKey]string, newSt *tierState, newItems map[recKey]string) []string {
	keep := map[string]bool{}
	for _, item := range newItems {
		keep[item] = true
	}
	for _, r := range newSt.held {
		if r.keyring {
			keep[r.secret] = true
		}
	}
	var out []string
	for _, item := range oldItems {
		if !keep[item] {
			out = append(out, item)
		}
	}
	for _, r := range oldSt.held {
		if r.keyring && !keep[r.secret] {
			out = append(out, r.secret)
		}
	}
	return out
}

func (b *fileBackend) deleteItems(items []string) {
	for _, item := range items {
		if b.kr.delete(item) != nil {
			return // an item left behind costs little; a hung service, time
		}
	}
}

// setState records st as read from f (with metadata info), releasing the
// previously held file.
func (b *fileBackend) setState(st *tierState, items map[recKey]string, f *os.File, info os.FileInfo) {
	if b.cur != nil && b.cur != f {
		b.cur.Close()
	}
	if f != nil && !holdFiles {
		f.Close()
		f = nil
	}
	b.st, b.items, b.cur, b.curInfo = st, items, f, info
}

// keepAside writes data, the contents of the damaged file, to
// path.corrupt-<unix seconds>[-n] (mode 0600) and returns that name.
func (b *fileBackend) keepAside(data []byte) (string, error) {
	if b.failAside != nil {
		return "", b.failAside
	}
	base := b.path + corruptInfix + strconv.FormatInt(time.Now().Unix(), 10)
	name := base
	for i := 1; ; i++ {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) && i < 1000 {
			name = base + "-" + strconv.Itoa(i)
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(name)
			return "", err
		}
		syncDir(b.dir)
		return name, nil
	}
}

// write replaces the file with st atomically: a temporary file in the same
// directory (mode 0600), fsync, rename over the file, fsync the directory.
// With a keyring, new passwords go to the Secret Service first, and items
// no longer referenced are deleted after the rename.
func (b *fileBackend) write(st *tierState) (err error) {
	recs, items, created, err := b.records(st)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && len(created) > 0 {
			b.deleteItems(created)
		}
	}()
	data := encode(recs)
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
	if b.kr != nil {
		b.deleteItems(obsoleteItems(b.st, b.items, st, items))
	}
	info, serr := tmp.Stat()
	if serr != nil {
		// The new contents are in place; forget the identity so the next
		// read reloads them.
		tmp.Close()
		b.setState(st, items, nil, nil)
	} else {
		b.setState(st, items, tmp, info)
	}
	if len(st.held) == 0 {
		b.soft = nil
	}
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
