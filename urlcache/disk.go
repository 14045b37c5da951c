package urlcache

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"

	"github.com/urlsession-go/urlsession/internal/changes"
)

// The disk store: an SQLite index (index.db, WAL mode) and one file per body
// under bodies/xx/, written first under tmp/ and renamed into place.
//
// Storing a body, crash-safely and with other processes at work:
//
//  1. write it to tmp/body-*.tmp;
//  2. record its final name in the pending table (so a crash before step 4
//     leaves a row that a later open cleans up, not an orphan file);
//  3. rename it to bodies/xx/<name>;
//  4. in one transaction: take the pending row (if another process cleaned
//     it meanwhile, give up), insert or replace the entries row, remove the
//     replaced body file and evict least recently used entries.
//
// A lookup verifies the header block's checksum and the body's length and
// checksum; any mismatch, a missing file or a garbage row is a miss, and the
// row is deleted (only if it still names the file that failed). Files are
// removed before the rows naming them are committed away, so a crash leaves
// at worst a row whose file is missing, which reads as a miss.
const (
	indexName  = "index.db"
	bodiesDir  = "bodies"
	tmpDir     = "tmp"
	schemaVers = 2
	// staleAfter is how old a temporary file or pending row must be before
	// an opening cache takes it for a crash's leftover.
	staleAfter = time.Hour
	// touchBatch is how many recency updates are gathered before they are
	// written in one transaction.
	touchBatch = 512
)

const schema = `
CREATE TABLE IF NOT EXISTS entries(
	key    TEXT PRIMARY KEY,
	file   TEXT NOT NULL,
	meta   BLOB NOT NULL,
	size   INTEGER NOT NULL,
	stored INTEGER NOT NULL,
	access INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_access ON entries(access);
CREATE INDEX IF NOT EXISTS entries_stored ON entries(stored);
CREATE TABLE IF NOT EXISTS usage(
	id      INTEGER PRIMARY KEY CHECK (id = 0),
	bytes   INTEGER NOT NULL,
	entries INTEGER NOT NULL
);
INSERT OR IGNORE INTO usage VALUES (0, 0, 0);
CREATE TRIGGER IF NOT EXISTS entries_insert AFTER INSERT ON entries BEGIN
	UPDATE usage SET bytes = bytes + NEW.size, entries = entries + 1 WHERE id = 0;
END;
CREATE TRIGGER IF NOT EXISTS entries_delete AFTER DELETE ON entries BEGIN
	UPDATE usage SET bytes = bytes - OLD.size, entries = entries - 1 WHERE id = 0;
END;
CREATE TRIGGER IF NOT EXISTS entries_update AFTER UPDATE OF size ON entries BEGIN
	UPDATE usage SET bytes = bytes - OLD.size + NEW.size WHERE id = 0;
END;
CREATE TABLE IF NOT EXISTS pending(
	file    TEXT PRIMARY KEY,
	created INTEGER NOT NULL
);
PRAGMA user_version = 2;
`

// Index format 2 differs from 1 in the header blocks (which record the
// credentials a response was fetched with, see entry.Cred); a format 1
// index is upgraded by dropping its entries, whose credentials are unknown.
const dropV1 = `
DELETE FROM entries;
UPDATE usage SET bytes = 0, entries = 0 WHERE id = 0;
`

type diskStore struct {
	dir     string
	db      *sql.DB
	getStmt *sql.Stmt
	now     func() time.Time
	discard func(path, what string, err error) // reports unreadable data removed

	puts *atomic.Int64 // entries the stores of this process stored in the directory

	mu       sync.RWMutex             // the read lock is enough to read misses and hot
	misses   map[string]miss          // keys recently missing from the index
	asking   map[string]chan struct{} // keys being looked up in the index; closed when done
	hot      map[string]hotEntry      // index rows recently read or written here
	touches  map[string]int64         // recency updates not yet written
	stamp    int64                    // the last recency stamp handed out
	unsynced map[string]bool          // body files written since the last flush
	syncAll  bool                     // too many to list: sync them all at flush
}

// openDisk opens the disk store in dir, creating it if needed. An index
// that SQLite reports corrupt (or that is not a database) is discarded with
// the bodies, and the store starts empty. discard hears of what is
// discarded as unreadable, then and later.
func openDisk(dir string, now func() time.Time, discard func(path, what string, err error)) (*diskStore, error) {
	d, err := tryOpenDisk(dir, now)
	if err != nil && isCorrupt(err) {
		for _, name := range []string{indexName, indexName + "-wal", indexName + "-shm", indexName + "-journal"} {
			os.Remove(filepath.Join(dir, name))
		}
		os.RemoveAll(filepath.Join(dir, bodiesDir))
		discard(filepath.Join(dir, indexName), "index", err)
		d, err = tryOpenDisk(dir, now)
	}
	if err != nil {
		return nil, fmt.Errorf("urlcache: opening the disk store in %s: %w", dir, err)
	}
	d.discard = discard
	d.cleanup()
	return d, nil
}

func tryOpenDisk(dir string, now func() time.Time) (*diskStore, error) {
	// The directory itself is made owner-only when it is created here; an
	// existing one is left as it is (it may be shared, and its names tell
	// nothing), while everything in it is made owner-only.
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := mkdirPrivate(dir); err != nil {
			return nil, err
		}
	}
	for _, sub := range []string{bodiesDir, tmpDir} {
		if err := mkdirPrivate(filepath.Join(dir, sub)); err != nil {
			return nil, err
		}
	}
	// SQLite creates a database with mode 0644 less the umask, and its
	// WAL and shared-memory files with the database's mode: create the
	// index owner-only first, and narrow what an older version left.
	f, err := os.OpenFile(filepath.Join(dir, indexName), os.O_RDWR|os.O_CREATE, privateFile)
	if err != nil {
		return nil, err
	}
	f.Close()
	for _, name := range []string{indexName, indexName + "-wal", indexName + "-shm", indexName + "-journal"} {
		if err := chmodPrivate(filepath.Join(dir, name), privateFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	abs, err := filepath.Abs(filepath.Join(dir, indexName))
	if err != nil {
		return nil, err
	}
	dsn := "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*diskStore, error) {
		db.Close()
		return nil, err
	}
	// Opening a connection switches the database to WAL mode, which SQLite
	// may refuse with "busy" without waiting while another process does
	// the same: retry that for a while.
	var version int
	for delay, waited := time.Millisecond, time.Duration(0); ; {
		err = db.QueryRow("PRAGMA user_version").Scan(&version)
		if err == nil || !isBusy(err) || waited > 10*time.Second {
			break
		}
		time.Sleep(delay)
		waited += delay
		delay = min(2*delay, 50*time.Millisecond)
	}
	if err != nil {
		return fail(err)
	}
	if version > schemaVers {
		return fail(fmt.Errorf("index format %d is newer than this package's %d", version, schemaVers))
	}
	if version < schemaVers {
		if err := upgrade(db, filepath.Join(dir, bodiesDir)); err != nil {
			return fail(err)
		}
	}
	getStmt, err := db.Prepare("SELECT file, meta FROM entries WHERE key = ?")
	if err != nil {
		return fail(err)
	}
	abs, aerr := filepath.Abs(dir)
	if aerr != nil {
		abs = dir
	}
	return &diskStore{
		dir:      dir,
		db:       db,
		getStmt:  getStmt,
		now:      now,
		puts:     changes.For(abs),
		misses:   map[string]miss{},
		asking:   map[string]chan struct{}{},
		hot:      map[string]hotEntry{},
		touches:  map[string]int64{},
		unsynced: map[string]bool{},
	}, nil
}

// upgrade brings an index to the current format: creates the tables of a
// new one, drops the entries of an older one and removes their body files.
func upgrade(db *sql.DB, bodies string) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var version int // again, now that the transaction holds the write lock
	if err := tx.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version >= schemaVers {
		return nil // another process did it meanwhile
	}
	var files []string
	if version > 0 {
		rows, err := tx.Query("SELECT file FROM entries")
		if err != nil {
			return err
		}
		for rows.Next() {
			var f string
			if rows.Scan(&f) == nil {
				files = append(files, f)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := tx.Exec(dropV1); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(schema); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, f := range files {
		if validName(f) {
			os.Remove(filepath.Join(bodies, f[:2], f))
		}
	}
	return nil
}

// Every file and directory of the disk store is its owner's alone,
// whatever the umask: bodies and the index hold what the user fetched.
const (
	privateFile fs.FileMode = 0o600
	privateDir  fs.FileMode = 0o700
)

// mkdirPrivate makes sure dir is a directory with mode 0700: a directory it
// creates gets that mode whatever the umask, and an existing one loses any
// permission of others.
func mkdirPrivate(dir string) error {
	err := os.Mkdir(dir, privateDir)
	switch {
	case err == nil:
		return os.Chmod(dir, privateDir) // the umask may have taken bits away
	case errors.Is(err, fs.ErrExist):
		return chmodPrivate(dir, privateDir)
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(dir), privateDir); err != nil {
			return err
		}
		if err := os.Mkdir(dir, privateDir); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return os.Chmod(dir, privateDir)
	}
	return err
}

// chmodPrivate sets path's permissions to mode when they differ.
func chmodPrivate(path string, mode fs.FileMode) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.Mode().Perm() == mode {
		return nil
	}
	return os.Chmod(path, mode)
}

// isCorrupt reports SQLite's "database disk image is malformed" and "file
// is not a database".
func isCorrupt(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
			return true
		}
	}
	return false
}

// isBusy reports SQLITE_BUSY and SQLITE_LOCKED.
func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6:
			return true
		}
	}
	return false
}

// cleanup removes what crashed writers left: pending bodies and temporary
// files older than staleAfter.
func (d *diskStore) cleanup() {
	cutoff := time.Now().Add(-staleAfter)
	rows, err := d.db.Query("SELECT file FROM pending WHERE created < ?", cutoff.UnixNano())
	if err == nil {
		var files []string
		for rows.Next() {
			var f string
			if rows.Scan(&f) == nil {
				files = append(files, f)
			}
		}
		rows.Close()
		for _, f := range files {
			d.removeBody(f)
			d.db.Exec("DELETE FROM pending WHERE file = ?", f)
		}
	}
	tmp := filepath.Join(d.dir, tmpDir)
	des, _ := os.ReadDir(tmp)
	for _, de := range des {
		if info, err := de.Info(); err == nil && info.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(tmp, de.Name()))
		}
	}
}

// newName returns a fresh body file name: 32 hex digits.
func newName() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validName reports whether name is one newName could have made, so that a
// garbage row can never name a file outside the bodies directory.
func validName(name string) bool {
	if len(name) != 32 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (d *diskStore) bodyPath(name string) string {
	return filepath.Join(d.dir, bodiesDir, name[:2], name)
}

func (d *diskStore) removeBody(name string) {
	if validName(name) {
		os.Remove(d.bodyPath(name))
	}
}

// createTemp creates a temporary body file, mode 0600 whatever the umask.
func (d *diskStore) createTemp() (*os.File, error) {
	f, err := os.CreateTemp(filepath.Join(d.dir, tmpDir), "body-*.tmp")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(privateFile); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// mkdirBodies makes sure a bodies/xx directory exists, mode 0700: the cheap
// check of every store, and mkdirPrivate when it is new.
func mkdirBodies(dir string) error {
	err := os.Mkdir(dir, privateDir)
	if err == nil {
		return os.Chmod(dir, privateDir)
	}
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return mkdirPrivate(dir)
}

// hotEntry is an index row kept in memory: its body file name and decoded
// header block. It needs no other validation than the file's presence,
// because every change to a row (replacing, removing, evicting, in any
// process) removes the body file the row named, and a new body always gets
// a new name: while the file is there, the row is the one cached here.
type hotEntry struct {
	file    string
	e       *entry
	metaLen int
}

// missMemoTTL is how long a miss is remembered: a key another process
// stores meanwhile is found after at most that long. (A cache may always
// miss; a store of this process forgets every remembered miss at once.)
const missMemoTTL = 100 * time.Millisecond

// missMax bounds the remembered misses.
const missMax = 4096

// miss is a key the index did not have at a time, when the stores of the
// process had made puts puts.
type miss struct {
	at   time.Time
	puts int64
}

func (d *diskStore) noteMiss(key string, puts int64) {
	d.mu.Lock()
	if len(d.misses) >= missMax {
		clear(d.misses)
	}
	d.misses[key] = miss{time.Now(), puts}
	d.mu.Unlock()
}

// hotMax bounds the hot index.
const hotMax = 4096

func (d *diskStore) setHot(key string, h hotEntry) {
	d.mu.Lock()
	if _, ok := d.hot[key]; !ok && len(d.hot) >= hotMax {
		for k := range d.hot { // drop an arbitrary entry
			delete(d.hot, k)
			break
		}
	}
	d.hot[key] = h
	d.mu.Unlock()
}

func (d *diskStore) dropHot(key string) {
	d.mu.Lock()
	delete(d.hot, key)
	d.mu.Unlock()
}

func (d *diskStore) clearHot() {
	d.mu.Lock()
	clear(d.hot)
	d.mu.Unlock()
}

// get returns the entry stored for key when it matches req's Vary fields
// and credentials (cred), with its body and the size of its header block; nil on a miss. A row that
// does not decode, or whose body is missing or fails its checks, is removed.
func (d *diskStore) get(key string, req *http.Request, cred *credTag) (*entry, []byte, int) {
	for waited := false; ; waited = true {
		// The count of the process's stores is read before the maps: a
		// store after it makes a miss remembered now count for nothing.
		puts := d.puts.Load()
		d.mu.RLock()
		h, hot := d.hot[key]
		m, missed := d.misses[key]
		d.mu.RUnlock()
		if !hot && missed && m.puts == puts && time.Since(m.at) < missMemoTTL {
			// A key the index did not have a moment ago, with no store of
			// this process having stored anything since, is a miss
			// without asking it.
			return nil, nil, 0
		}
		if hot && h.e.selects(req, cred) {
			body, err := readBody(d.bodyPath(h.file), h.e)
			if err == nil {
				d.touch(key)
				return h.e, body, h.metaLen
			}
			d.dropHot(key)
			// Only if the row still names the file: another process may
			// have replaced the entry, removing the file, which is no damage.
			d.removeCorrupt(key, h.file, d.bodyPath(h.file), err)
		}

		d.mu.Lock()
		if m, ok := d.misses[key]; ok && m.puts == puts && time.Since(m.at) < missMemoTTL {
			d.mu.Unlock()
			return nil, nil, 0
		}
		// While a lookup of the same key asks the index, wait for its
		// answer (a remembered miss or a hot row) instead of asking too:
		// when a remembered miss expires under many concurrent requests
		// for the URL, one query runs instead of one per request, each
		// of which took a connection of its own (opened and closed again
		// beyond the pool's two idle ones).
		wait := d.asking[key]
		if wait != nil && !waited {
			d.mu.Unlock()
			<-wait
			continue
		}
		var done chan struct{}
		if wait == nil {
			done = make(chan struct{})
			d.asking[key] = done
		}
		d.mu.Unlock()
		e, body, metaLen := d.query(key, puts, req, cred)
		if done != nil {
			d.mu.Lock()
			delete(d.asking, key)
			d.mu.Unlock()
			close(done)
		}
		return e, body, metaLen
	}
}

// query asks the index for key's row (see get); puts is the count of the
// process's stores read before, which a miss is remembered with.
func (d *diskStore) query(key string, puts int64, req *http.Request, cred *credTag) (*entry, []byte, int) {
	var file string
	var e *entry
	var metaLen int
	var bad error // why the row is unusable
	rows, err := d.getStmt.Query(key)
	if err != nil {
		return nil, nil, 0
	}
	if rows.Next() {
		var meta sql.RawBytes
		if bad = rows.Scan(&file, &meta); bad == nil {
			metaLen = len(meta)
			e, bad = decodeEntry(meta)
			switch {
			case bad != nil:
			case e.URL != key:
				bad = fmt.Errorf("%w: the header block is of %s", errCorrupt, e.URL)
			case !validName(file):
				bad = fmt.Errorf("%w: invalid body file name %q", errCorrupt, file)
			}
		}
	} else {
		rows.Close()
		d.noteMiss(key, puts)
		return nil, nil, 0
	}
	rows.Close()
	if bad != nil {
		d.removeCorrupt(key, file, filepath.Join(d.dir, indexName), bad)
		return nil, nil, 0
	}
	d.setHot(key, hotEntry{file, e, metaLen})
	if !e.selects(req, cred) {
		return nil, nil, 0
	}
	body, err := readBody(d.bodyPath(file), e)
	if err != nil {
		d.dropHot(key)
		d.removeCorrupt(key, file, d.bodyPath(file), err)
		return nil, nil, 0
	}
	d.touch(key)
	return e, body, metaLen
}

// readBody reads a body file and checks it against its entry's length and
// checksum.
func readBody(path string, e *entry) ([]byte, error) {
	body, err := readFull(path, e.BodyLen)
	if err != nil {
		return nil, err
	}
	if crc32.Checksum(body, castagnoli) != e.BodyCRC {
		return nil, fmt.Errorf("%w: the body does not match its checksum", errCorrupt)
	}
	return body, nil
}

// readFull reads a file that must hold exactly n bytes.
func readFull(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.Size() != n {
		return nil, fmt.Errorf("%w: the body is %d bytes, not %d", errCorrupt, info.Size(), n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(f, body); err != nil {
		return nil, err
	}
	return body, nil
}

// removeCorrupt removes key's row if it still names file, and the file,
// and reports the discard: path could not be read, because of why.
func (d *diskStore) removeCorrupt(key, file, path string, why error) {
	res, err := d.db.Exec("DELETE FROM entries WHERE key = ? AND file = ?", key, file)
	if err != nil {
		return
	}
	if n, _ := res.RowsAffected(); n > 0 {
		d.removeBody(file)
		if d.discard != nil {
			d.discard(path, entryWhat(key), why)
		}
	}
}

// nextStamp returns a recency stamp later than every one handed out before
// by this store. d.mu must be held.
func (d *diskStore) nextStampLocked() int64 {
	t := d.now().UnixNano()
	if t <= d.stamp {
		t = d.stamp + 1
	}
	d.stamp = t
	return t
}

// touch records that key was used; the update is written in a batch.
func (d *diskStore) touch(key string) {
	d.mu.Lock()
	d.touches[key] = d.nextStampLocked()
	full := len(d.touches) >= touchBatch
	d.mu.Unlock()
	if full {
		d.writeTouches()
	}
}

func (d *diskStore) takeTouches() map[string]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.touches) == 0 {
		return nil
	}
	t := d.touches
	d.touches = map[string]int64{}
	return t
}

func (d *diskStore) writeTouches() error {
	t := d.takeTouches()
	if t == nil {
		return nil
	}
	tx, err := d.db.Begin()
	if err != nil {
		return err
	}
	if err := touchTx(tx, t); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func touchTx(tx *sql.Tx, t map[string]int64) error {
	if len(t) == 0 {
		return nil
	}
	st, err := tx.Prepare("UPDATE entries SET access = ? WHERE key = ? AND access < ?")
	if err != nil {
		return err
	}
	defer st.Close()
	for k, a := range t {
		if _, err := st.Exec(a, k, a); err != nil {
			return err
		}
	}
	return nil
}

// put indexes the body in tmpPath (already complete and closed) for key,
// replacing key's earlier entry, and evicts to stay within capacity.
func (d *diskStore) put(key string, e *entry, meta []byte, tmpPath string, size, capacity int64) error {
	d.dropHot(key)
	name := newName()
	if _, err := d.db.Exec("INSERT INTO pending(file, created) VALUES (?, ?)", name, time.Now().UnixNano()); err != nil {
		os.Remove(tmpPath)
		return err
	}
	final := d.bodyPath(name)
	err := mkdirBodies(filepath.Dir(final))
	if err == nil {
		err = os.Rename(tmpPath, final)
	}
	if err != nil {
		os.Remove(tmpPath)
		d.db.Exec("DELETE FROM pending WHERE file = ?", name)
		return err
	}
	d.mu.Lock()
	d.unsynced[name] = true
	if len(d.unsynced) > 4096 {
		d.unsynced, d.syncAll = map[string]bool{}, true
	}
	access := d.nextStampLocked()
	d.mu.Unlock()
	touches := d.takeTouches()

	err = d.inTx(func(tx *sql.Tx) error {
		res, err := tx.Exec("DELETE FROM pending WHERE file = ?", name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errors.New("urlcache: the body was cleaned up before it was indexed")
		}
		if err := touchTx(tx, touches); err != nil {
			return err
		}
		var old string
		switch err := tx.QueryRow("SELECT file FROM entries WHERE key = ?", key).Scan(&old); err {
		case nil, sql.ErrNoRows:
		default:
			return err
		}
		_, err = tx.Exec(`INSERT INTO entries(key, file, meta, size, stored, access) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT(key) DO UPDATE SET file = excluded.file, meta = excluded.meta, size = excluded.size,
			stored = excluded.stored, access = excluded.access`,
			key, name, meta, size, d.now().UnixNano(), access)
		if err != nil {
			return err
		}
		if old != "" && old != name {
			d.removeBody(old)
		}
		return d.evictTx(tx, capacity, key)
	})
	if err != nil {
		os.Remove(final)
		d.db.Exec("DELETE FROM pending WHERE file = ?", name)
		return err
	}
	d.setHot(key, hotEntry{name, e, len(meta)})
	d.puts.Add(1)
	return nil
}

// inTx runs f in an immediate transaction.
func (d *diskStore) inTx(f func(tx *sql.Tx) error) error {
	tx, err := d.db.Begin()
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// evictTx removes least recently used entries other than keep until the
// store holds at most capacity bytes.
func (d *diskStore) evictTx(tx *sql.Tx, capacity int64, keep string) error {
	var used int64
	if err := tx.QueryRow("SELECT bytes FROM usage WHERE id = 0").Scan(&used); err != nil {
		return err
	}
	for used > capacity {
		rows, err := tx.Query("SELECT key, file, size FROM entries WHERE key != ? ORDER BY access LIMIT 64", keep)
		if err != nil {
			return err
		}
		type victim struct {
			key, file string
			size      int64
		}
		var vs []victim
		for rows.Next() {
			var v victim
			if err := rows.Scan(&v.key, &v.file, &v.size); err != nil {
				rows.Close()
				return err
			}
			vs = append(vs, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(vs) == 0 {
			return nil
		}
		for _, v := range vs {
			if _, err := tx.Exec("DELETE FROM entries WHERE key = ?", v.key); err != nil {
				return err
			}
			d.removeBody(v.file)
			used -= v.size
			if used <= capacity {
				break
			}
		}
	}
	return nil
}

// deleteWhere removes the entries a query selects (key, file) and their files.
func (d *diskStore) deleteWhere(query string, args ...any) error {
	return d.inTx(func(tx *sql.Tx) error {
		rows, err := tx.Query(query, args...)
		if err != nil {
			return err
		}
		var keys, files []string
		for rows.Next() {
			var k, f string
			if err := rows.Scan(&k, &f); err != nil {
				rows.Close()
				return err
			}
			keys, files = append(keys, k), append(files, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, k := range keys {
			if _, err := tx.Exec("DELETE FROM entries WHERE key = ?", k); err != nil {
				return err
			}
			d.removeBody(files[i])
		}
		return nil
	})
}

func (d *diskStore) remove(key string) {
	d.dropHot(key)
	d.deleteWhere("SELECT key, file FROM entries WHERE key = ?", key)
}

func (d *diskStore) removeSince(t time.Time) {
	d.clearHot()
	d.deleteWhere("SELECT key, file FROM entries WHERE stored >= ?", t.UnixNano())
}

// removeAll empties the index and removes every body file that no writer
// is about to index.
func (d *diskStore) removeAll() {
	d.clearHot()
	d.takeTouches()
	d.inTx(func(tx *sql.Tx) error {
		keep := map[string]bool{}
		rows, err := tx.Query("SELECT file FROM pending")
		if err != nil {
			return err
		}
		for rows.Next() {
			var f string
			if rows.Scan(&f) == nil {
				keep[f] = true
			}
		}
		rows.Close()
		if _, err := tx.Exec("DELETE FROM entries"); err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE usage SET bytes = 0, entries = 0 WHERE id = 0"); err != nil {
			return err
		}
		filepath.WalkDir(filepath.Join(d.dir, bodiesDir), func(path string, de fs.DirEntry, err error) error {
			if err == nil && !de.IsDir() && !keep[de.Name()] {
				os.Remove(path)
			}
			return nil
		})
		return nil
	})
}

// evict removes least recently used entries until the store fits capacity.
func (d *diskStore) evict(capacity int64) {
	d.clearHot()
	touches := d.takeTouches()
	d.inTx(func(tx *sql.Tx) error {
		if err := touchTx(tx, touches); err != nil {
			return err
		}
		return d.evictTx(tx, capacity, "")
	})
}

func (d *diskStore) usage() int64 {
	var n int64
	d.db.QueryRow("SELECT bytes FROM usage WHERE id = 0").Scan(&n)
	return max(n, 0)
}

// flush writes pending recency updates, syncs the body files written since
// the last flush and their directories, and makes every committed index
// transaction durable.
func (d *diskStore) flush() error {
	err := d.writeTouches()
	d.mu.Lock()
	names, all := d.unsynced, d.syncAll
	d.unsynced, d.syncAll = map[string]bool{}, false
	d.mu.Unlock()
	dirs := map[string]bool{}
	if all {
		filepath.WalkDir(filepath.Join(d.dir, bodiesDir), func(path string, de fs.DirEntry, werr error) error {
			if werr == nil {
				if de.IsDir() {
					dirs[path] = true
				} else {
					syncPath(path)
				}
			}
			return nil
		})
	}
	for name := range names {
		p := d.bodyPath(name)
		syncPath(p)
		dirs[filepath.Dir(p)] = true
	}
	for dir := range dirs {
		syncPath(dir)
	}
	syncPath(filepath.Join(d.dir, bodiesDir))
	// In WAL mode with synchronous=NORMAL, a commit is not synced; one
	// commit with synchronous=FULL syncs the log and with it every commit
	// before it.
	ctx := context.Background()
	conn, cerr := d.db.Conn(ctx)
	if cerr != nil {
		return errors.Join(err, cerr)
	}
	defer conn.Close()
	_, e1 := conn.ExecContext(ctx, "PRAGMA synchronous = FULL")
	_, e2 := conn.ExecContext(ctx, "UPDATE usage SET bytes = bytes WHERE id = 0")
	_, e3 := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL")
	return errors.Join(err, e1, e2, e3)
}

func syncPath(path string) {
	if f, err := os.Open(path); err == nil {
		f.Sync()
		f.Close()
	}
}

func (d *diskStore) close() error {
	err := d.writeTouches()
	if e := d.flush(); e != nil && err == nil {
		err = e
	}
	d.getStmt.Close()
	if e := d.db.Close(); e != nil && err == nil {
		err = e
	}
	return err
}
