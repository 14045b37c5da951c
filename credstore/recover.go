package credstore

import (
	"errors"
	"fmt"
	"log/slog"
)

// RecoveryError reports permanent credentials a Store discarded because
// they could not be read: a damaged line of the credentials file, a
// damaged file, or a credential whose password is no longer in the Secret
// Service. [Store.Recovered] returns them. No RecoveryError contains a
// password.
type RecoveryError struct {
	// Path is the credentials file.
	Path string
	// What says what was discarded and, when a damaged file was replaced,
	// where the damaged copy was kept.
	What string
	// Err is why it could not be read.
	Err error
}

func (e *RecoveryError) Error() string {
	return fmt.Sprintf("credstore: %s: discarded %s: %v", e.Path, e.What, e.Err)
}

// Unwrap returns e.Err.
func (e *RecoveryError) Unwrap() error { return e.Err }

// maxRecoveries bounds how many RecoveryErrors a Store keeps for Recovered;
// every one is logged.
const maxRecoveries = 64

// Recovered reports what the Store has discarded since New because it
// could not be read: nil when nothing was, otherwise a *RecoveryError for
// each damaged line or file and each credential whose Secret Service item
// is gone (several joined with errors.Join; the first 64 are kept). A
// damaged file is copied aside before it is rewritten, never just
// replaced: the RecoveryError names the copy. Each recovery is also logged
// at level Warn on Options.Logger when it happens. Only the Store that
// repairs a file reports it; other Stores and processes then read the
// repaired file.
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
	s.log().Warn("credstore: discarded unreadable credentials", "path", e.Path, "what", e.What, "err", e.Err)
}

func (s *Store) log() *slog.Logger {
	if s.logger != nil {
		return s.logger
	}
	return slog.Default()
}
