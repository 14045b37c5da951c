package cookiestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/urlsession-go/urlsession/internal/changes"
)

// The file holds the cookies, tombstones of deleted ones and a change
// counter. domain is in Apple's form (".d" for a domain cookie); times are
// Unix microseconds. Several processes share the file: each write is an
// IMMEDIATE transaction (busy_timeout 5 s) that takes the next value of
// meta.seq and stamps it on the rows it upserts and on tombstones of the
// rows it deletes. A reader notices other processes' commits through
// PRAGMA data_version and reads only rows and tombstones stamped after the
// last sequence number it saw; tombstones older than meta.floor are pruned,
// and a reader that has fallen behind the floor reloads the whole table.
const schema = `
CREATE TABLE IF NOT EXISTS cookies (
	name        TEXT    NOT NULL,
	domain      TEXT    NOT NULL,
	path        TEXT    NOT NULL,
	value       TEXT    NOT NULL,
	expires     INTEGER NOT NULL,
	created     INTEGER NOT NULL,
	last_access INTEGER NOT NULL,
	secure      INTEGER NOT NULL DEFAULT 0,
	http_only   INTEGER NOT NULL DEFAULT 0,
	same_site   INTEGER NOT NULL DEFAULT 0,
	seq         INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (name, domain, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cookies_by_seq ON cookies (seq);
CREATE TABLE IF NOT EXISTS deleted (
	name   TEXT    NOT NULL,
	domain TEXT    NOT NULL,
	path   TEXT    NOT NULL,
	seq    INTEGER NOT NULL,
	PRIMARY KEY (name, domain, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deleted_by_seq ON deleted (seq);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (k, v) VALUES ('seq', 0), ('floor', 0);
`

const upsertSQL = `INSERT INTO cookies (name, domain, path, value, expires, created, last_access, secure, http_only, same_site, seq)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name, domain, path) DO UPDATE SET
	value = excluded.value, expires = excluded.expires, created = excluded.created,
	last_access = max(last_access, excluded.last_access), secure = excluded.secure,
	http_only = excluded.http_only, same_site = excluded.same_site, seq = excluded.seq`

const selectSQL = `SELECT name, domain, path, value, expires, created, last_access, secure, http_only, same_site FROM cookies`

// tombstoneWindow is how many sequence numbers of tombstones are kept; a
// variable so that tests can shrink it.
var tombstoneWindow int64 = 4096

// db is the SQLite side of a Store. It uses one connection, so that
// PRAGMA data_version reports exactly the commits of other connections.
type db struct {
	path    string        // absolute path of the file
	file    *atomic.Int64 // commits of the stores of this process to the file
	sql     *sql.DB
	conn    *sql.Conn
	version *sql.Stmt
	last    int64  // data_version at the last check
	seq     int64  // meta.seq up to which this process has read; -1 = nothing
	initial *delta // what init read, for New to take
}

// delta is what changed in the file since a process last read it: with
// full set, rows is the whole table; otherwise rows were upserted and gone
// deleted since.
type delta struct {
	full bool
	rows []*entry
	gone []key
	bad  []badRow // rows skipped: they do not make a valid cookie
}

// errCorrupt marks a file that is not a usable cookie database.
var errCorrupt = errors.New("cookiestore: corrupt cookie database")

// openDB opens (creating it if needed) the cookie database at path. A
// corrupt file is moved aside with its -wal and -shm companions, a fresh
// one is created, and the cookies that can still be read from the damaged
// copy are written to it; the returned RecoveryErrors say so.
func openDB(path string, now time.Time) (*db, []*RecoveryError, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cookiestore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, nil, fmt.Errorf("cookiestore: %w", err)
	}
	for attempt := 0; ; attempt++ {
		before, _ := os.Stat(abs)
		d, err := tryOpenDB(abs)
		if err == nil {
			d.file = changes.For(abs)
			return d, nil, nil
		}
		if !errors.Is(err, errCorrupt) {
			return nil, nil, err
		}
		// Another process may have replaced the damaged file meanwhile:
		// move aside only the file found damaged.
		if after, serr := os.Stat(abs); serr == nil && before != nil && !os.SameFile(before, after) && attempt < 3 {
			continue
		}
		return recoverDB(abs, now, err)
	}
}

// recoverDB replaces the damaged database at abs: it moves the file and
// its companions aside (owner-only), creates a fresh database and writes
// into it the cookies salvage can read from the damaged copy.
func recoverDB(abs string, now time.Time, cause error) (*db, []*RecoveryError, error) {
	aside := abs + ".corrupt-" + now.UTC().Format("20060102T150405.000000000Z")
	if rerr := os.Rename(abs, aside); rerr != nil {
		return nil, nil, fmt.Errorf("cookiestore: moving corrupt %s aside: %w (after %v)", abs, rerr, cause)
	}
	ownerOnly(aside)
	for _, sfx := range []string{"-wal", "-shm"} {
		if rerr := os.Rename(abs+sfx, aside+sfx); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			_ = os.Remove(abs + sfx)
		}
		ownerOnly(aside + sfx)
	}
	rows, bad := salvage(aside)
	d, err := tryOpenDB(abs)
	if err != nil {
		return nil, nil, err
	}
	d.file = changes.For(abs)
	if len(rows) > 0 {
		ops := make([]op, len(rows))
		for i, e := range rows {
			ops[i] = op{k: e.k, e: e}
		}
		if err := d.apply(ops); err != nil {
			d.close()
			return nil, nil, err
		}
		d.seq = -1 // read the salvaged rows back in full
		if d.initial, err = d.read(); err != nil {
			d.close()
			return nil, nil, err
		}
	}
	rep := []*RecoveryError{{
		Path: abs,
		What: fmt.Sprintf("the damaged database (kept as %s); %d cookies were read back from it and any others are lost", aside, len(rows)),
		Err:  cause,
	}}
	for _, b := range bad {
		rep = append(rep, &RecoveryError{
			Path: abs,
			What: fmt.Sprintf("the row for cookie %q (domain %q, path %q) of the damaged database", b.name, b.domain, b.path),
			Err:  fmt.Errorf("%w: %s", errBadRow, b.why),
		})
	}
	return d, rep, nil
}

// externalSyncInterval is how often a store asks the file whether another
// process changed it (a read transaction, some microseconds); in between it
// answers from memory. Stores of the same process on the same file see each
// other's changes at once (see changes.For).
const externalSyncInterval = 100 * time.Millisecond

func tryOpenDB(abs string) (*db, error) {
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cookiestore: %w", err)
	}
	f.Close()
	// SQLite gives the files it creates beside the database (-wal, -shm,
	// -journal) the database's mode, so an owner-only database keeps them
	// owner-only too, whatever the umask.
	for _, p := range []string{abs, abs + "-wal", abs + "-shm", abs + "-journal"} {
		ownerOnly(p)
	}
	dsn := (&url.URL{Scheme: "file", Path: abs,
		RawQuery: "_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate"}).String()
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("cookiestore: %w", err)
	}
	sdb.SetMaxOpenConns(1)
	sdb.SetConnMaxLifetime(0)
	sdb.SetConnMaxIdleTime(0)
	d := &db{path: abs, sql: sdb, last: -1, seq: -1}
	if err := d.init(); err != nil {
		d.close()
		return nil, classify(err)
	}
	return d, nil
}

func (d *db) init() error {
	ctx := context.Background()
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return err
	}
	d.conn = conn
	if _, err := conn.ExecContext(ctx, schema); err != nil {
		return err
	}
	var res string
	if err := conn.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("%w: quick_check: %s", errCorrupt, res)
	}
	if d.version, err = conn.PrepareContext(ctx, "PRAGMA data_version"); err != nil {
		return err
	}
	if _, err := d.changed(); err != nil { // version first, so no commit is missed
		return err
	}
	// A full read proves every page of the table is readable.
	d.initial, err = d.read()
	return err
}

// classify marks SQLite's "malformed" and "not a database" errors as
// errCorrupt.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%w: %v", errCorrupt, err)
		}
	}
	if errors.Is(err, errCorrupt) {
		return err
	}
	return fmt.Errorf("cookiestore: %w", err)
}

// changed reports whether another connection committed since the last
// call.
func (d *db) changed() (bool, error) {
	var v int64
	if err := d.version.QueryRow().Scan(&v); err != nil {
		return false, classify(err)
	}
	if v == d.last {
		return false, nil
	}
	d.last = v
	return true, nil
}

// read returns what changed since the process last read, in one read
// transaction so that the sequence number and the rows agree.
func (d *db) read() (*delta, error) {
	ctx := context.Background()
	tx, err := d.conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, classify(err)
	}
	defer tx.Rollback()
	var seq, floor int64
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT v FROM meta WHERE k = 'seq'), (SELECT v FROM meta WHERE k = 'floor')`).Scan(&seq, &floor); err != nil {
		return nil, classify(err)
	}
	dl := &delta{full: d.seq < 0 || d.seq < floor || d.seq > seq}
	if dl.full {
		dl.rows, dl.bad, err = queryRows(tx, selectSQL+` ORDER BY created, name, domain, path`)
	} else if seq != d.seq {
		dl.rows, dl.bad, err = queryRows(tx, selectSQL+` WHERE seq > ? ORDER BY created, name, domain, path`, d.seq)
		if err == nil {
			dl.gone, err = queryKeys(tx, d.seq)
		}
	}
	if err != nil {
		return nil, err
	}
	d.seq = seq
	return dl, nil
}

// queryRows reads the cookies a query selects, setting aside the rows that
// do not make a valid cookie.
func queryRows(tx *sql.Tx, query string, args ...any) ([]*entry, []badRow, error) {
	rows, err := tx.Query(query, args...)
	if err != nil {
		return nil, nil, classify(err)
	}
	defer rows.Close()
	var (
		out []*entry
		bad []badRow
	)
	for rows.Next() {
		if e, b := scanRow(rows); e != nil {
			out = append(out, e)
		} else {
			bad = append(bad, b)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, classify(err)
	}
	return out, bad, nil
}

// selectColumns are the columns of selectSQL, in order.
var selectColumns = [...]string{"name", "domain", "path", "value", "expires", "created", "last_access", "secure", "http_only", "same_site"}

// scanRow reads the current row of a selectSQL query. It returns the
// cookie, or nil and what is wrong with the row.
func scanRow(rows *sql.Rows) (*entry, badRow) {
	var (
		vals [len(selectColumns)]any
		ptrs [len(selectColumns)]any
	)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs[:]...); err != nil {
		return nil, badRow{why: err.Error()}
	}
	var (
		texts [4]string
		ints  [6]int64
		why   string
	)
	for i, v := range vals {
		switch x := v.(type) {
		case string:
			if i < len(texts) {
				texts[i] = x
				continue
			}
		case int64:
			if i >= len(texts) {
				ints[i-len(texts)] = x
				continue
			}
		}
		if i < len(texts) {
			texts[i] = fmt.Sprint(v)
		}
		if why == "" {
			why = fmt.Sprintf("column %s holds %T %v", selectColumns[i], v, v)
		}
	}
	b := badRow{name: texts[0], domain: texts[1], path: texts[2], why: why}
	if why != "" {
		return nil, b
	}
	e, why := rowEntry(texts[0], texts[1], texts[2], texts[3], ints[0], ints[1], ints[2], ints[3], ints[4], ints[5])
	b.why = why
	return e, b
}

// queryKeys reads the keys of the tombstones stamped after seq.
func queryKeys(tx *sql.Tx, seq int64) ([]key, error) {
	rows, err := tx.Query(`SELECT name, domain, path FROM deleted WHERE seq > ?`, seq)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.name, &k.domain, &k.path); err == nil {
			out = append(out, k)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// rowEntry validates a row. It returns the cookie, or nil and what is
// wrong with the row.
func rowEntry(name, domain, path, value string, expires, created, access, secure, httpOnly, sameSite int64) (*entry, string) {
	switch {
	case expires <= 0:
		return nil, "no expiry time"
	case !strings.HasPrefix(path, "/"):
		return nil, "path does not start with /"
	case name == "" && value == "":
		return nil, "empty name and value"
	case indexCTL(name) >= 0 || indexCTL(value) >= 0 || indexCTL(path) >= 0:
		return nil, "control character"
	case strings.ContainsAny(name, ";=") || strings.Contains(value, ";"):
		return nil, "name or value holds a separator"
	case len(name)+len(value) > MaxNameValueSize:
		return nil, "name and value too long"
	case sameSite < 0 || sameSite > int64(http.SameSiteNoneMode):
		return nil, "unknown SameSite value"
	}
	hostOnly := !strings.HasPrefix(domain, ".")
	bare := strings.TrimPrefix(domain, ".")
	if !rowDomainOK(bare) {
		return nil, "domain is not a canonical host name"
	}
	if !hostOnly && (isIP(bare) || isPublicSuffix(bare)) {
		return nil, "domain cookie for an IP address or a public suffix"
	}
	return &entry{
		k:    key{name: name, domain: domain, path: path},
		name: name, value: value, domain: bare, path: path,
		hostOnly: hostOnly, secure: secure != 0, httpOnly: httpOnly != 0, sameSite: normSameSite(http.SameSite(sameSite)),
		expires: expires, created: created, lastAccess: access,
	}, ""
}

// rowDomainOK reports whether a row's domain (without its leading dot) is
// a canonical host name. Files written before hosts were converted to
// punycode may hold internationalised names in lower-case Unicode; such
// rows still load as they are, though requests (whose hosts are compared
// in punycode) no longer reach them, and they expire in time.
func rowDomainOK(bare string) bool {
	if bare == "" || strings.HasPrefix(bare, ".") {
		return false
	}
	if !isASCII(bare) {
		return strings.ToLower(bare) == bare && validDomainName(bare)
	}
	cd, ok := canonicalizeHost(bare)
	return ok && cd == bare
}

// write runs fn in an IMMEDIATE transaction stamped with the next
// sequence number.
func (d *db) write(fn func(tx *sql.Tx, seq int64) error) error {
	ctx := context.Background()
	tx, err := d.conn.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	defer tx.Rollback()
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE meta SET v = v + 1 WHERE k = 'seq' RETURNING v`).Scan(&seq); err != nil {
		return classify(err)
	}
	if err := fn(tx, seq); err != nil {
		return classify(err)
	}
	if seq%max(tombstoneWindow/16, 1) == 0 { // now and then, prune old tombstones
		if _, err := tx.Exec(`DELETE FROM deleted WHERE seq <= ?`, seq-tombstoneWindow); err != nil {
			return classify(err)
		}
		if _, err := tx.Exec(`UPDATE meta SET v = max(v, ?) WHERE k = 'floor'`, seq-tombstoneWindow); err != nil {
			return classify(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return classify(err)
	}
	if seq-1 == d.seq {
		d.seq = seq // nobody else wrote since we last read: we are current
	}
	return nil
}

// apply writes ops in one transaction.
func (d *db) apply(ops []op) error {
	return d.write(func(tx *sql.Tx, seq int64) error {
		for _, o := range ops {
			k := o.k
			if o.del {
				if _, err := tx.Exec(`DELETE FROM cookies WHERE name = ? AND domain = ? AND path = ?`, k.name, k.domain, k.path); err != nil {
					return err
				}
				if _, err := tx.Exec(`INSERT OR REPLACE INTO deleted (name, domain, path, seq) VALUES (?, ?, ?, ?)`, k.name, k.domain, k.path, seq); err != nil {
					return err
				}
				continue
			}
			e := o.e
			if _, err := tx.Exec(upsertSQL, k.name, k.domain, k.path, e.value, e.expires, e.created,
				e.lastAccess, b2i(e.secure), b2i(e.httpOnly), int64(e.sameSite), seq); err != nil {
				return err
			}
			if _, err := tx.Exec(`DELETE FROM deleted WHERE name = ? AND domain = ? AND path = ?`, k.name, k.domain, k.path); err != nil {
				return err
			}
		}
		return nil
	})
}

// touch records the last-access times of entries. It stamps no sequence
// number: other processes need not reload for it.
func (d *db) touch(entries []*entry) error {
	ctx := context.Background()
	tx, err := d.conn.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	defer tx.Rollback()
	for _, e := range entries {
		if _, err := tx.ExecContext(ctx, `UPDATE cookies SET last_access = max(last_access, ?) WHERE name = ? AND domain = ? AND path = ?`,
			e.lastAccess, e.k.name, e.k.domain, e.k.path); err != nil {
			return classify(err)
		}
	}
	return classify0(tx.Commit())
}

// deleteSince deletes the cookies created at or after t; other processes
// reload in full (the floor moves past their sequence numbers).
func (d *db) deleteSince(t int64) error {
	return d.write(func(tx *sql.Tx, seq int64) error {
		if _, err := tx.Exec(`DELETE FROM cookies WHERE created >= ?`, t); err != nil {
			return err
		}
		_, err := tx.Exec(`UPDATE meta SET v = ? WHERE k = 'floor'`, seq)
		return err
	})
}

// deleteAll empties the file.
func (d *db) deleteAll() error {
	return d.write(func(tx *sql.Tx, seq int64) error {
		for _, q := range []string{`DELETE FROM cookies`, `DELETE FROM deleted`} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`UPDATE meta SET v = ? WHERE k = 'floor'`, seq)
		return err
	})
}

func (d *db) close() error {
	if d.version != nil {
		d.version.Close()
	}
	if d.conn != nil {
		d.conn.Close()
	}
	return d.sql.Close()
}

// ownerOnly takes the group and other permissions off the file at path, if
// it exists. Failure is not an error: the file may belong to someone else,
// in which case opening it tells.
func ownerOnly(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
		_ = os.Chmod(path, fi.Mode().Perm()&0o700)
	}
}

func classify0(err error) error {
	if err == nil {
		return nil
	}
	return classify(err)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
