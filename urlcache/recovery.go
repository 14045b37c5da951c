package urlcache

import (
	"errors"
	"log/slog"
	"strings"
)

// RecoveryError describes data of the disk store that a Cache could not
// read and discarded: an index that SQLite reports damaged (the store then
// starts empty), or an entry whose header block does not decode or whose
// body file is missing, truncated or altered (the entry is removed, and the
// lookup misses).
type RecoveryError struct {
	// Path is the file that could not be read: the index, or a body file.
	Path string
	// What names what was discarded: "index", or "entry for " and the
	// entry's URL without its query.
	What string
	// Err is why.
	Err error
}

func (e *RecoveryError) Error() string {
	return "urlcache: discarded " + e.What + " (" + e.Path + "): " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *RecoveryError) Unwrap() error { return e.Err }

// maxRecovered bounds the discards a Cache remembers for Recovered.
const maxRecovered = 32

// Recovered reports what the cache has discarded as unreadable since it was
// made: nil when nothing was, a *RecoveryError for one discard, or the
// errors.Join of the first 32 of several. Each discard is also logged, as
// it happens, to the Options' Logger at level Warn. Entries removed for any
// other reason (eviction, replacement, the leftovers of a writer that
// crashed) are not reported.
func (c *Cache) Recovered() error {
	c.recMu.Lock()
	defer c.recMu.Unlock()
	switch len(c.recovered) {
	case 0:
		return nil
	case 1:
		return c.recovered[0]
	}
	return errors.Join(c.recovered...)
}

// noteDiscard records and logs a discard.
func (c *Cache) noteDiscard(path, what string, err error) {
	re := &RecoveryError{Path: path, What: what, Err: err}
	c.recMu.Lock()
	if len(c.recovered) < maxRecovered {
		c.recovered = append(c.recovered, re)
	}
	c.recMu.Unlock()
	logger := c.logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.Warn("urlcache: discarded unreadable data", "what", what, "path", path, "err", err)
}

// entryWhat names an entry for a RecoveryError, leaving out the query (which
// may carry tokens).
func entryWhat(key string) string {
	if i := strings.IndexByte(key, '?'); i >= 0 {
		key = key[:i]
	}
	return "entry for " + key
}
