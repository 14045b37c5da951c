// Package store keeps the daemon's sessions, jobs (with their resume
// data) and every undelivered event in one SQLite database, so that a
// daemon killed at any moment loses no job and no event and delivers no
// event twice.
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: every committed
// transaction is in the fsynced log before the call returns, so it
// survives a kill -9 of the daemon and a power loss of the machine.
// (synchronous=NORMAL would survive only the first.) Each call is one
// transaction; PutJob writes a job and the events its change produces in
// the same transaction, so a job's state and its events never disagree.
//
// # Events
//
// Every session has its own sequence: an appended event gets the
// session's last sequence number plus one, stored in the sessions table,
// so numbers only grow, across restarts, and are never reused, even after
// the events are deleted. An event stays until the session's process
// acknowledges it (Ack deletes every event up to a sequence number).
// Progress events (api.WriteProgress, api.SendProgress) are coalesced:
// appending one deletes the undelivered progress event of the same kind
// and job, so at most one waits per job and it is the newest; it takes a
// new, higher, sequence number, which leaves a gap.
//
// # Files
//
// DefaultPath is $XDG_DATA_HOME/urlsession/daemon/jobs.sqlite (or
// ~/.local/share/urlsession/daemon/jobs.sqlite). Open makes the
// database's directory 0700 and the database and its -wal and -shm files
// 0600, whatever the umask. A file that SQLite reports corrupt is moved
// aside (named with ".corrupt-" and a time stamp, kept owner-only) and a
// fresh database takes its place; Recovered says so.
//
// A Store is safe for concurrent use; it holds one connection, so calls
// run one at a time.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

// ErrNotFound is returned (wrapped) for a session or job the store does
// not hold.
var ErrNotFound = errors.New("store: not found")

// errCorrupt marks a file that is not a usable database.
var errCorrupt = errors.New("store: corrupt database")

// schemaVersion is PRAGMA user_version of the format below.
const schemaVersion = 1

// The job's fields live as JSON in jobs.data except the resume data,
// which is a BLOB; events likewise. Times are in the JSON.
const schema = `
CREATE TABLE IF NOT EXISTS sessions (
	id           TEXT    PRIMARY KEY,
	launch       TEXT    NOT NULL DEFAULT '[]',
	sends_launch INTEGER NOT NULL DEFAULT 0,
	last_seq     INTEGER NOT NULL DEFAULT 0,
	acked_seq    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jobs (
	id      TEXT NOT NULL PRIMARY KEY,
	session TEXT NOT NULL,
	state   TEXT NOT NULL,
	data    TEXT NOT NULL,
	resume  BLOB
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_by_session ON jobs (session);
CREATE TABLE IF NOT EXISTS events (
	session TEXT    NOT NULL,
	seq     INTEGER NOT NULL,
	job     TEXT    NOT NULL,
	kind    TEXT    NOT NULL,
	data    TEXT    NOT NULL,
	resume  BLOB,
	PRIMARY KEY (session, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_job ON events (session, job, kind);
PRAGMA user_version = 1;
`

// Store is the daemon's database.
type Store struct {
	path      string
	db        *sql.DB
	recovered string
}

// Mode bits of what the store creates.
const (
	privateDir  fs.FileMode = 0o700
	privateFile fs.FileMode = 0o600
)

// DefaultPath returns $XDG_DATA_HOME/urlsession/daemon/jobs.sqlite, with
// ~/.local/share in place of an unset or relative XDG_DATA_HOME.
func DefaultPath() (string, error) {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("store: no data directory: %w", err)
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "urlsession", "daemon", "jobs.sqlite"), nil
}

// Open opens the database at path, creating it and its directory (0700)
// when missing. A corrupt database is moved aside and replaced by an
// empty one (see Recovered).
func Open(path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := mkdirPrivate(filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s, err := tryOpen(abs)
	if err == nil || !errors.Is(err, errCorrupt) {
		return s, err
	}
	aside := abs + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	if rerr := os.Rename(abs, aside); rerr != nil {
		return nil, fmt.Errorf("store: moving corrupt %s aside: %w (after %v)", abs, rerr, err)
	}
	_ = os.Chmod(aside, privateFile)
	for _, sfx := range []string{"-wal", "-shm"} {
		if os.Rename(abs+sfx, aside+sfx) == nil {
			_ = os.Chmod(aside+sfx, privateFile)
		} else {
			_ = os.Remove(abs + sfx)
		}
	}
	s, err2 := tryOpen(abs)
	if err2 != nil {
		return nil, err2
	}
	s.recovered = aside
	return s, nil
}

// mkdirPrivate makes dir (and missing parents) and gives dir mode 0700.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, privateDir); err != nil {
		return err
	}
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if info.Mode().Perm() != privateDir {
		return os.Chmod(dir, privateDir)
	}
	return nil
}

func tryOpen(abs string) (*Store, error) {
	// SQLite gives its -wal and -shm files the database's mode: create the
	// database owner-only first and narrow what exists.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, privateFile)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	f.Close()
	for _, p := range []string{abs, abs + "-wal", abs + "-shm"} {
		if err := os.Chmod(p, privateFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &Store{path: abs, db: db}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init() error {
	var version int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return classify(err)
	}
	if version > schemaVersion {
		return fmt.Errorf("store: database format %d is newer than this daemon's %d", version, schemaVersion)
	}
	var res string
	if err := s.db.QueryRow("PRAGMA quick_check").Scan(&res); err != nil {
		return classify(err)
	}
	if res != "ok" {
		return fmt.Errorf("%w: quick_check: %s", errCorrupt, res)
	}
	if _, err := s.db.Exec(schema); err != nil {
		return classify(err)
	}
	return nil
}

// classify marks SQLite's "malformed" and "not a database" errors as
// errCorrupt and prefixes the others.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%w: %v", errCorrupt, err)
		}
	}
	return fmt.Errorf("store: %w", err)
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Recovered returns where Open moved a corrupt database aside, or "".
func (s *Store) Recovered() string { return s.recovered }

// Close closes the database. Everything committed is on disk already.
func (s *Store) Close() error { return s.db.Close() }

// inTx runs f in one immediate transaction and commits it.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return classify(err)
	}
	return nil
}

// PutSession records a session's launch command and launch-events
// setting, creating the session when new; its sequence numbers are kept.
func (s *Store) PutSession(ctx context.Context, sess api.Session) error {
	if err := api.ValidateIdentifier(sess.ID); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	launch, err := json.Marshal(sess.LaunchCommand)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if sess.LaunchCommand == nil {
		launch = []byte("[]")
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, launch, sends_launch) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET launch = excluded.launch, sends_launch = excluded.sends_launch`,
			sess.ID, string(launch), sess.SendsLaunchEvents)
		if err != nil {
			return classify(err)
		}
		return nil
	})
}

const sessionColumns = `id, launch, sends_launch, last_seq, acked_seq, (SELECT count(*) FROM events WHERE events.session = sessions.id)`

func scanSession(row interface{ Scan(...any) error }) (api.Session, error) {
	var (
		sess   api.Session
		launch string
	)
	if err := row.Scan(&sess.ID, &launch, &sess.SendsLaunchEvents, &sess.LastSeq, &sess.AckedSeq, &sess.PendingEvents); err != nil {
		return sess, err
	}
	if err := json.Unmarshal([]byte(launch), &sess.LaunchCommand); err != nil {
		return sess, fmt.Errorf("%w: session %q has an unreadable launch command", errCorrupt, sess.ID)
	}
	return sess, nil
}

// Session returns the session with identifier id (Attached is false: the
// store does not know), or an error wrapping ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (api.Session, error) {
	sess, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return sess, fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	if err != nil {
		return sess, classify(err)
	}
	return sess, nil
}

// Sessions returns every session, ordered by identifier.
func (s *Store) Sessions(ctx context.Context) ([]api.Session, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions ORDER BY id`)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []api.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, classify(err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// DeleteSession removes a session that has no jobs and no waiting
// events; it reports whether it did.
func (s *Store) DeleteSession(ctx context.Context, id string) (bool, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?
			AND NOT EXISTS (SELECT 1 FROM jobs WHERE session = ?)
			AND NOT EXISTS (SELECT 1 FROM events WHERE session = ?)`, id, id, id)
		if err != nil {
			return classify(err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n > 0, err
}

// PutJob writes j (inserting or replacing it; its session is created,
// with no launch command, when missing) and appends evs to its session's events, in one
// transaction. It returns the events with their sequence numbers and
// session set. Events whose Session is empty take the job's.
func (s *Store) PutJob(ctx context.Context, j *api.Job, evs ...api.Event) ([]api.Event, error) {
	if j.ID == "" {
		return nil, errors.New("store: a job needs an ID")
	}
	if err := api.ValidateIdentifier(j.Session); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	c := *j
	c.ResumeData = nil
	data, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	var out []api.Event
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO sessions (id) VALUES (?)`, j.Session); err != nil {
			return classify(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, session, state, data, resume) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET session = excluded.session, state = excluded.state, data = excluded.data, resume = excluded.resume`,
			j.ID, j.Session, string(j.State), string(data), nullBlob(j.ResumeData)); err != nil {
			return classify(err)
		}
		for i := range evs {
			if evs[i].Session == "" {
				evs[i].Session = j.Session
			}
		}
		out, err = appendTx(ctx, tx, evs)
		return err
	})
	return out, err
}

// AppendEvents appends evs, each to the session its Session names, and
// returns them with their sequence numbers set.
func (s *Store) AppendEvents(ctx context.Context, evs ...api.Event) ([]api.Event, error) {
	var out []api.Event
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = appendTx(ctx, tx, evs)
		return err
	})
	return out, err
}

func nullBlob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func appendTx(ctx context.Context, tx *sql.Tx, evs []api.Event) ([]api.Event, error) {
	out := make([]api.Event, 0, len(evs))
	for _, e := range evs {
		if err := api.ValidateIdentifier(e.Session); err != nil {
			return nil, fmt.Errorf("store: event: %w", err)
		}
		if !e.Kind.Valid() {
			return nil, fmt.Errorf("store: event kind %q is unknown", e.Kind)
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO sessions (id) VALUES (?)`, e.Session); err != nil {
			return nil, classify(err)
		}
		if err := tx.QueryRowContext(ctx, `UPDATE sessions SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq`, e.Session).Scan(&e.Seq); err != nil {
			return nil, classify(err)
		}
		if e.Kind.Coalesced() {
			if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE session = ? AND job = ? AND kind = ?`, e.Session, e.Job, string(e.Kind)); err != nil {
				return nil, classify(err)
			}
		}
		c := e
		c.ResumeData = nil
		data, err := json.Marshal(&c)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (session, seq, job, kind, data, resume) VALUES (?, ?, ?, ?, ?, ?)`,
			e.Session, e.Seq, e.Job, string(e.Kind), string(data), nullBlob(e.ResumeData)); err != nil {
			return nil, classify(err)
		}
		out = append(out, e)
	}
	return out, nil
}

func scanJob(row interface{ Scan(...any) error }) (api.Job, error) {
	var (
		j      api.Job
		data   string
		resume []byte
	)
	if err := row.Scan(&data, &resume); err != nil {
		return j, err
	}
	if err := json.Unmarshal([]byte(data), &j); err != nil {
		return j, fmt.Errorf("%w: a job row is unreadable: %v", errCorrupt, err)
	}
	j.ResumeData = resume
	return j, nil
}

// Job returns the job with the given ID, or an error wrapping
// ErrNotFound.
func (s *Store) Job(ctx context.Context, id string) (api.Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT data, resume FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("%w: job %q", ErrNotFound, id)
	}
	if err != nil && !errors.Is(err, errCorrupt) {
		err = classify(err)
	}
	return j, err
}

// Jobs returns the jobs of a session, or of every session when session
// is "", in the order they were created.
func (s *Store) Jobs(ctx context.Context, session string) ([]api.Job, error) {
	q := `SELECT data, resume FROM jobs`
	var args []any
	if session != "" {
		q += ` WHERE session = ?`
		args = append(args, session)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []api.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			if errors.Is(err, errCorrupt) {
				return nil, err
			}
			return nil, classify(err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	sortJobs(out)
	return out, nil
}

// DeleteJob removes a job; its waiting events stay until acknowledged.
func (s *Store) DeleteJob(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE id = ?`, id); err != nil {
			return classify(err)
		}
		return nil
	})
}

// DeleteJobs deletes the jobs ids in one transaction: all of them or,
// on an error, none. Ids of jobs that do not exist are skipped.
func (s *Store) DeleteJobs(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE id = ?`, id); err != nil {
				return classify(err)
			}
		}
		return nil
	})
}

// Events returns up to limit events of a session with a sequence number
// above after, in order, and whether more follow.
func (s *Store) Events(ctx context.Context, session string, after int64, limit int) ([]api.Event, bool, error) {
	if limit <= 0 {
		limit = 1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT data, resume FROM events WHERE session = ? AND seq > ? ORDER BY seq LIMIT ?`,
		session, after, limit+1)
	if err != nil {
		return nil, false, classify(err)
	}
	defer rows.Close()
	var out []api.Event
	for rows.Next() {
		var (
			data   string
			resume []byte
			e      api.Event
		)
		if err := rows.Scan(&data, &resume); err != nil {
			return nil, false, classify(err)
		}
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return nil, false, fmt.Errorf("%w: an event row is unreadable: %v", errCorrupt, err)
		}
		e.ResumeData = resume
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, classify(err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// Ack deletes the events of a session with a sequence number up to
// through and records the acknowledgement. Acknowledging a number beyond
// the session's last event acknowledges only up to that event; an
// unknown session is an error wrapping ErrNotFound.
func (s *Store) Ack(ctx context.Context, session string, through int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var last int64
		err := tx.QueryRowContext(ctx, `SELECT last_seq FROM sessions WHERE id = ?`, session).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: session %q", ErrNotFound, session)
		}
		if err != nil {
			return classify(err)
		}
		through = min(through, last)
		if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE session = ? AND seq <= ?`, session, through); err != nil {
			return classify(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET acked_seq = max(acked_seq, ?) WHERE id = ?`, through, session); err != nil {
			return classify(err)
		}
		return nil
	})
}
