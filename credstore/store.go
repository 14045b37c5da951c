package credstore

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrClosed is returned by a Store's methods after Close.
var ErrClosed = errors.New("credstore: store closed")

// ErrInvalid is wrapped by the errors a Store returns for an argument it
// cannot store: a port outside 0 to 65535 or an unknown Persistence.
var ErrInvalid = errors.New("credstore: invalid argument")

// Options configures New. The zero value is a memory-only store.
type Options struct {
	// Dir is the directory that holds permanent credentials. It is
	// created (mode 0700, parents included) if missing, tightened to 0700
	// if it grants any permission to group or others, and refused if
	// another user owns it. Several processes may share it.
	//
	// Empty means memory only: permanent credentials are kept in memory for
	// the Store's lifetime, like session ones, and nothing is read from or
	// written to disk.
	Dir string

	// Backend chooses where the passwords of permanent credentials go when
	// Dir is set (see the package documentation): BackendAuto (the zero
	// value) the desktop's Secret Service when one answers, otherwise the
	// credentials file; BackendFile always the file; BackendSecretService
	// the Secret Service or New fails; BackendMemory memory only, as an
	// empty Dir. Store.Backend reports the choice.
	Backend Backend

	// KeyringTimeout bounds each call to the Secret Service, so that one
	// that does not answer (or shows an unlock prompt nobody answers)
	// never blocks the Store for longer; zero means
	// DefaultKeyringTimeout. With BackendAuto, a Secret Service that does
	// not answer within it at New means the file is used.
	KeyringTimeout time.Duration

	// Logger receives a Warn record for each credential or part of the
	// file the Store discards because it cannot be read (see
	// Store.Recovered), and a Debug record naming the backend chosen at
	// New; nil means slog.Default() at the time of the record. No record
	// contains a password.
	Logger *slog.Logger

	// keyring replaces the desktop's Secret Service (tests).
	keyring keyring
}

// Store is a credential storage: Apple's URLCredentialStorage. It maps
// protection spaces to credentials by user name and keeps a default
// credential per space. Create one with New; the zero Store is not usable.
// A Store is safe for concurrent use.
type Store struct {
	mu        sync.Mutex
	closed    bool
	session   *tierState // ForSession credentials
	perm      backend    // Permanent credentials
	backend   Backend    // where perm keeps them
	keyErr    error      // why the Secret Service is not used
	logger    *slog.Logger
	recovered []error // *RecoveryError, at most maxRecoveries

	obsMu   sync.Mutex
	obs     map[uint64]func()
	nextObs uint64
}

// New returns a Store configured by opts. With a Dir it reads the
// credentials file there: damaged lines (or a damaged file) are discarded
// after the file is copied aside, and Recovered reports them; an
// unreadable file, a directory that cannot be secured, or a file written
// by a newer incompatible version is an error. A Dir that does not exist
// yet is created (0700) when the first permanent credential is stored, so
// a Store that never keeps one writes nothing. With BackendAuto or
// BackendSecretService New asks the Secret Service once (within
// KeyringTimeout) whether it answers.
func New(opts Options) (*Store, error) {
	s := &Store{session: newTier(), obs: map[uint64]func(){}, logger: opts.Logger}
	switch opts.Backend {
	case BackendAuto, BackendFile, BackendSecretService, BackendMemory:
	default:
		return nil, fmt.Errorf("%w: backend %v", ErrInvalid, opts.Backend)
	}
	if opts.Dir == "" || opts.Backend == BackendMemory {
		s.perm, s.backend = &memBackend{st: newTier()}, BackendMemory
		return s, nil
	}
	var kr *boundedKeyring
	s.backend = BackendFile
	if opts.Backend != BackendFile {
		kr, s.keyErr = openKeyring(opts.keyring, opts.KeyringTimeout)
		if s.keyErr != nil {
			s.keyErr = fmt.Errorf("%w: %w", ErrNoSecretService, s.keyErr)
			if opts.Backend == BackendSecretService {
				return nil, s.keyErr
			}
		} else {
			s.backend = BackendSecretService
		}
	}
	fb, err := openFileBackend(opts.Dir, kr, s.recoverLocked)
	if err != nil {
		return nil, err
	}
	s.perm = fb
	if s.keyErr != nil {
		s.log().Debug("credstore: passwords kept in the credentials file", "dir", fb.dir, "backend", s.backend, "secret_service", s.keyErr)
	} else {
		s.log().Debug("credstore: passwords kept in the Secret Service", "dir", fb.dir, "backend", s.backend)
	}
	return s, nil
}

// Backend reports where the Store keeps permanent credentials:
// BackendMemory, BackendFile or BackendSecretService (never BackendAuto).
// SecretServiceError says why a Store with a Dir does not use the Secret
// Service.
func (s *Store) Backend() Backend { return s.backend }

// SecretServiceError reports why the Store does not keep passwords in
// the Secret Service, wrapping ErrNoSecretService (no D-Bus session bus,
// no Secret Service on it, a locked collection or a refused prompt, no
// answer within KeyringTimeout); nil when it does, or when it was not
// asked (BackendFile, BackendMemory, no Dir).
func (s *Store) SecretServiceError() error { return s.keyErr }

// checkSpace validates and normalises a protection space.
func checkSpace(sp ProtectionSpace) (ProtectionSpace, error) {
	if sp.Port < 0 || sp.Port > 65535 {
		return sp, fmt.Errorf("%w: port %d out of range", ErrInvalid, sp.Port)
	}
	return sp.Normalize(), nil
}

// AllCredentials returns every stored credential: a map from normalised
// protection space to a map from user name to credential. The maps are
// fresh copies the caller may keep and modify. The result is empty (not
// nil) when nothing is stored, and after Close.
func (s *Store) AllCredentials() map[ProtectionSpace]map[string]Credential {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := map[ProtectionSpace]map[string]Credential{}
	if s.closed {
		return all
	}
	perm, _ := s.perm.load()
	for _, t := range []*tierState{perm, s.session} {
		for sp := range t.spaces {
			if _, done := all[sp]; !done {
				all[sp] = mergeSpace(s.session, perm, sp).creds
			}
		}
	}
	return all
}

// Credentials returns the credentials stored for space, keyed by user name,
// or nil when there are none (and after Close). The map is a fresh copy.
// Each Credential's Persistence tells where it is kept (ForSession or
// Permanent). An invalid space has no credentials.
func (s *Store) Credentials(space ProtectionSpace) map[string]Credential {
	sp, err := checkSpace(space)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	perm, _ := s.perm.load()
	return mergeSpace(s.session, perm, sp).creds
}

// DefaultCredential returns the default credential for space and true, or
// false when the space has none (and after Close). The default is the
// credential set with SetDefaultCredential or, failing that, the first one
// stored for the space while it had no default.
func (s *Store) DefaultCredential(space ProtectionSpace) (Credential, bool) {
	sp, err := checkSpace(space)
	if err != nil {
		return Credential{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Credential{}, false
	}
	perm, _ := s.perm.load()
	v := mergeSpace(s.session, perm, sp)
	if !v.hasDef {
		return Credential{}, false
	}
	c, ok := v.creds[v.def]
	return c, ok
}

// Set stores c for space under c.User, replacing the credential this Store
// shows for that user there. If the space has no default credential, c
// becomes its default, as in Apple's Foundation.
//
// Persistence None stores nothing and returns nil, as Apple does.
// ForSession keeps c in memory only and never touches the disk: it shadows
// a Permanent credential of the same user (and a session default shadows a
// permanent default) for this Store's lifetime, leaving the permanent one on
// disk. Permanent writes c to disk before Set returns (in memory for a
// memory-only Store) and drops this Store's session credential for the
// user. Set notifies the OnChange callbacks when what the Store shows
// changed. It returns an error wrapping ErrInvalid for an invalid port or
// persistence, ErrClosed after Close, or the error of writing the
// credentials file or the Secret Service (then nothing changed).
func (s *Store) Set(c Credential, space ProtectionSpace) error {
	return s.put(c, space, false)
}

// SetDefaultCredential stores c for space like Set and makes it the space's
// default credential. Persistence None stores nothing and returns nil. A
// ForSession default lasts for the Store's lifetime and shadows (without
// changing) the default saved on disk; a Permanent default is saved on disk
// with the credential and replaces this Store's session default.
func (s *Store) SetDefaultCredential(c Credential, space ProtectionSpace) error {
	return s.put(c, space, true)
}

func (s *Store) put(c Credential, space ProtectionSpace, makeDefault bool) error {
	switch c.Persistence {
	case None:
		return nil
	case ForSession, Permanent:
	default:
		return fmt.Errorf("%w: persistence %d", ErrInvalid, int(c.Persistence))
	}
	sp, err := checkSpace(space)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	changed, err := s.putLocked(c, sp, makeDefault)
	s.mu.Unlock()
	if changed {
		s.notify()
	}
	return err
}

func (s *Store) putLocked(c Credential, sp ProtectionSpace, makeDefault bool) (changed bool, err error) {
	u := c.User
	ss := s.session
	perm, _ := s.perm.load()
	before := mergeSpace(ss, perm, sp)

	if c.Persistence == ForSession {
		// Memory only: the session entry shadows a permanent one for the
		// same user, which stays on disk for other Stores and later runs.
		ss.set(sp, u, c.Password)
		_, sessHasDef := ss.defaultUser(sp)
		_, permHasDef := perm.defaultUser(sp)
		if makeDefault || (!sessHasDef && !permHasDef) {
			ss.setDefault(sp, u)
		}
	} else {
		sessDef, sessHasDef := ss.defaultUser(sp)
		wantDef := makeDefault || (sessHasDef && sessDef == u)
		otherSessDef := sessHasDef && sessDef != u
		perm, _, err = s.perm.update(func(st *tierState) bool {
			ch := st.set(sp, u, c.Password)
			_, permHasDef := st.defaultUser(sp)
			if wantDef || (!otherSessDef && !permHasDef) {
				if st.setDefault(sp, u) {
					ch = true
				}
			}
			return ch
		})
		if err != nil {
			return false, err
		}
		ss.del(sp, u)
		if makeDefault {
			ss.clearDefault(sp)
		}
	}
	return !before.equal(mergeSpace(ss, perm, sp)), nil
}

// Remove removes the credential with c's user name from space, from memory
// and from disk, whatever c's password and persistence. If it was the
// space's default credential, the space no longer has a default (no other
// credential is promoted; only a permanent default that a removed session
// default was shadowing shows again). Removing a credential that is not stored is not
// an error. Remove notifies the OnChange callbacks when something was
// removed. It returns ErrClosed after Close, or the error of writing the
// credentials file (then the session credential is still removed).
func (s *Store) Remove(c Credential, space ProtectionSpace) error {
	sp, err := checkSpace(space)
	if err != nil {
		return nil // nothing can be stored under an invalid space
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	changed, err := s.removeLocked(c.User, sp)
	s.mu.Unlock()
	if changed {
		s.notify()
	}
	return err
}

func (s *Store) removeLocked(u string, sp ProtectionSpace) (bool, error) {
	perm, loadErr := s.perm.load()
	before := mergeSpace(s.session, perm, sp)
	s.session.del(sp, u)
	var err error
	if _, ok := perm.get(sp, u); ok || perm.holds(sp, u) || loadErr != nil {
		perm, _, err = s.perm.update(func(st *tierState) bool { return st.del(sp, u) })
	}
	return !before.equal(mergeSpace(s.session, perm, sp)), err
}

// RemoveAll removes every credential and default, from memory and from
// disk (including credentials other processes stored in the same
// directory). It notifies the OnChange callbacks when anything was stored.
// It returns ErrClosed after Close, or the error of writing the credentials
// file (then the session credentials are still removed).
func (s *Store) RemoveAll() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	perm, loadErr := s.perm.load()
	changed := !perm.empty() || !s.session.empty()
	var err error
	if !perm.empty() || loadErr != nil {
		var committed bool
		_, committed, err = s.perm.update(func(st *tierState) bool {
			if st.empty() {
				return false
			}
			*st = *newTier()
			return true
		})
		changed = changed || committed
	}
	s.session = newTier()
	s.mu.Unlock()
	if changed {
		s.notify()
	}
	return err
}

// Flush makes sure the Store is in step with its directory: it rereads the
// credentials file if another Store or process changed it and reports an
// error if the file cannot be read, if the Secret Service did not give the
// passwords of some credentials (which are then not shown; see the package
// documentation), or if a damaged or old-format file could not be
// rewritten. Every change is already durable on disk
// when the method that made it returns, so there is never anything buffered
// to write. For a memory-only Store Flush returns nil; after Close it
// returns ErrClosed.
func (s *Store) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	_, err := s.perm.load()
	return err
}

// Close discards the session credentials and releases the Store's files.
// Permanent credentials stay on disk. After Close, reading methods report
// no credentials and changing methods return ErrClosed. Close is idempotent
// and returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.session = newTier()
	return s.perm.close()
}

// OnChange registers f to be called after each change to the stored
// credentials or defaults made through this Store (Apple's
// NSURLCredentialStorageChanged notification): a credential added,
// replaced by a different one, or removed, or a default credential set or
// cleared. Setting a credential equal to the stored one, or removing one
// that is not stored, is no change. Changes made by other Stores or
// processes sharing the directory are visible to the reading methods but do
// not call f.
//
// f runs on the goroutine that made the change, after the Store's lock is
// released, before the changing method returns; f may call the Store's
// methods. Changes made concurrently call f concurrently, so f must be safe
// for concurrent use. The returned cancel function unregisters f; it is
// idempotent, and a call of f already under way may still finish after it
// returns. A nil f is ignored.
func (s *Store) OnChange(f func()) (cancel func()) {
	if f == nil {
		return func() {}
	}
	s.obsMu.Lock()
	id := s.nextObs
	s.nextObs++
	s.obs[id] = f
	s.obsMu.Unlock()
	return func() {
		s.obsMu.Lock()
		delete(s.obs, id)
		s.obsMu.Unlock()
	}
}

func (s *Store) notify() {
	s.obsMu.Lock()
	fs := make([]func(), 0, len(s.obs))
	for _, f := range s.obs {
		fs = append(fs, f)
	}
	s.obsMu.Unlock()
	for _, f := range fs {
		f()
	}
}
