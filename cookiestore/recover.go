package cookiestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
)

// RecoveryError reports persistent data a Store discarded because it could
// not be read: a damaged database file, or a row that does not make a valid
// cookie. [Store.Recovered] returns them.
type RecoveryError struct {
	// Path is the database file the data was in.
	Path string
	// What says what was discarded and, when a damaged file was replaced,
	// where the damaged copy was kept.
	What string
	// Err is why the data could not be used.
	Err error
}

func (e *RecoveryError) Error() string {
	return fmt.Sprintf("cookiestore: %s: discarded %s: %v", e.Path, e.What, e.Err)
}

// Unwrap returns e.Err.
func (e *RecoveryError) Unwrap() error { return e.Err }

// maxRecoveries bounds how many RecoveryErrors a Store keeps for Recovered;
// every one is logged.
const maxRecoveries = 64

// errBadRow is wrapped by the Err of a RecoveryError for a skipped row.
var errBadRow = errors.New("not a valid cookie")

// badRow is a row of the file that does not make a valid cookie.
type badRow struct {
	name, domain, path string // as far as they could be read
	why                string
}

// Recovered reports what the Store has discarded since New because it
// could not be read: nil when nothing was, otherwise a *RecoveryError for
// each damaged file replaced and each row skipped (several joined with
// errors.Join; the first 64 are kept). A damaged database is moved aside,
// never deleted: its RecoveryError names the copy. A skipped row stays in
// the file and is reported once per Store. Each recovery is also logged at
// level Warn on Options.Logger when it happens. A memory-only Store
// returns nil.
func (s *Store) Recovered() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch len(s.recovered) {
	case 0:
		return nil
	case 1:
		return s.recovered[0]
	}
	return errors.Join(s.recovered...)
}

// recoverLocked records and logs what was discarded.
func (s *Store) recoverLocked(e *RecoveryError) {
	if len(s.recovered) < maxRecoveries {
		s.recovered = append(s.recovered, e)
	}
	l := s.logger
	if l == nil {
		l = slog.Default()
	}
	l.Warn("cookiestore: discarded unreadable cookie data", "path", e.Path, "what", e.What, "err", e.Err)
}

// badRowsLocked reports the rows of a read that were skipped, each key once.
func (s *Store) badRowsLocked(rows []badRow) {
	for _, r := range rows {
		k := key{name: r.name, domain: r.domain, path: r.path}
		if _, seen := s.badSeen[k]; seen {
			continue
		}
		if s.badSeen == nil {
			s.badSeen = map[key]struct{}{}
		}
		s.badSeen[k] = struct{}{}
		s.recoverLocked(&RecoveryError{
			Path: s.db.path,
			What: fmt.Sprintf("the row for cookie %q (domain %q, path %q), left in the file", r.name, r.domain, r.path),
			Err:  fmt.Errorf("%w: %s", errBadRow, r.why),
		})
	}
}

// salvage reads what it can of the cookies in the damaged database at
// path and its write-ahead log. It works on a private copy, so that the
// file kept aside stays as it was found. It reads the table in key order
// from both ends, each direction up to the first page that cannot be read;
// then it reads the keys in the seq index (another b-tree, also from both
// ends) and looks up each row not read yet. Damage to a page of the table
// thus costs the rows on that page, not all of them.
func salvage(path string) (rows []*entry, bad []badRow) {
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".cookiestore-salvage-")
	if err != nil {
		return nil, nil
	}
	defer os.RemoveAll(tmp)
	copyPath := filepath.Join(tmp, "db")
	if copyFile(path, copyPath) != nil {
		return nil, nil
	}
	_ = copyFile(path+"-wal", copyPath+"-wal") // usually absent
	dsn := (&url.URL{Scheme: "file", Path: copyPath, RawQuery: "_busy_timeout=1000"}).String()
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, nil
	}
	defer sdb.Close()
	sdb.SetMaxOpenConns(1)
	ctx := context.Background()

	seen := map[key]bool{}
	// take records one row and reports whether it had been read before.
	take := func(r *sql.Rows) (again bool) {
		e, b := scanRow(r)
		k := key{name: b.name, domain: b.domain, path: b.path}
		if e != nil {
			k = e.k
		}
		if seen[k] {
			return true
		}
		seen[k] = true
		if e != nil {
			rows = append(rows, e)
		} else {
			bad = append(bad, b)
		}
		return false
	}
	for _, order := range []string{"name, domain, path", "name DESC, domain DESC, path DESC"} {
		r, err := sdb.QueryContext(ctx, selectSQL+" ORDER BY "+order)
		if err != nil {
			continue
		}
		for r.Next() {
			if take(r) {
				break // the two scans met: every row was read
			}
		}
		r.Close() // an error here is the damaged page that ends this scan
	}

	var missing []key
	for _, order := range []string{"seq, name, domain, path", "seq DESC, name DESC, domain DESC, path DESC"} {
		r, err := sdb.QueryContext(ctx, "SELECT name, domain, path FROM cookies INDEXED BY cookies_by_seq ORDER BY "+order)
		if err != nil {
			continue
		}
		for r.Next() {
			var k key
			if r.Scan(&k.name, &k.domain, &k.path) == nil && !seen[k] {
				missing = append(missing, k)
			}
		}
		r.Close()
	}
	for _, k := range missing {
		if seen[k] {
			continue
		}
		r, err := sdb.QueryContext(ctx, selectSQL+" WHERE name = ? AND domain = ? AND path = ?", k.name, k.domain, k.path)
		if err != nil {
			continue
		}
		if r.Next() {
			take(r)
		}
		r.Close()
	}
	return rows, bad
}

// copyFile copies src to a new owner-only file dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
