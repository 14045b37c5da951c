// Package credstore stores user-name and password credentials per protection
// space, after Apple's URLCredentialStorage. It is usable on its own, without
// a session.
//
// A [ProtectionSpace] names where a credential applies: a server (host, port,
// protocol, realm, authentication method) or a proxy (host, port, proxy type,
// realm, method). A [Store] maps each protection space to credentials by user
// name, and remembers at most one default credential per space.
//
// # Persistence
//
// A [Credential]'s [Persistence] decides where it is kept, as in Apple's
// URLCredential.Persistence:
//
//   - [None]: never stored; Set and SetDefaultCredential accept and drop it.
//   - [ForSession]: kept in the Store's memory until Close or the end of the
//     process; never written to disk. A session credential shadows a
//     permanent one for the same user and space (and a session default a
//     permanent default) in this Store, leaving the permanent one on disk.
//   - [Permanent]: kept when the Store has a directory ([Options].Dir), so
//     that a later [New] on the same directory, in this or another process,
//     sees it: the password in the desktop's Secret Service or in the
//     credentials file (see Backends). A memory-only Store (empty Dir)
//     keeps permanent credentials in memory and writes nothing at all to
//     disk.
//
// Apple's Synchronizable persistence (iCloud Keychain) has no equivalent here.
//
// # Defaults
//
// As in Apple's Foundation, the first credential stored for a space that has
// no default becomes that space's default; SetDefaultCredential chooses a
// default explicitly (and stores the credential). Removing the default
// credential leaves the space without a default; no other credential is
// promoted.
//
// # Backends
//
// [Options].Backend chooses where the passwords of permanent credentials
// go, and [Store.Backend] reports the choice:
//
//   - [BackendAuto] (the zero value): the freedesktop Secret Service
//     (GNOME Keyring, KWallet, KeePassXC, ...) when New finds a D-Bus
//     session bus with org.freedesktop.secrets on it that answers within
//     [Options].KeyringTimeout, otherwise the credentials file.
//     [Store.SecretServiceError] says why the Secret Service was not used
//     (no session bus, no service, a locked collection or refused prompt,
//     no answer in time), and New logs the choice at level Debug.
//   - [BackendFile]: always the credentials file; no D-Bus at all. Tests
//     use it, and programs that must not touch the desktop session.
//   - [BackendSecretService]: the Secret Service, or New fails with an
//     error wrapping [ErrNoSecretService].
//   - [BackendMemory]: memory only, as an empty Dir.
//
// The Secret Service is reached through github.com/zalando/go-keyring on
// Linux and the BSDs only; elsewhere Auto means the file. Without a session
// bus (DBUS_SESSION_BUS_ADDRESS unset and no /run/user/<uid>/bus) the
// package does not try D-Bus, so it never starts a bus. Every call to the
// service is bounded by KeyringTimeout (5 seconds by default): a service
// that hangs, or shows an unlock prompt nobody answers, makes the call
// fail instead of blocking; the call goes on in one goroutine until the
// service answers, and the Store makes no other call meanwhile.
//
// With the Secret Service, each password is an item of the service
// "urlsession credentials" (label "Password for '<user> at <space> #<id>'
// on 'urlsession credentials'"), and the credentials file keeps, per
// credential, the protection space, the user name, whether it is the
// default, and the item's name, never the password. A changed password
// gets a new item and the old one is deleted, so other processes see the
// change. Passwords found in the file (written by the file backend or by
// an older version) are moved into the Secret Service when a Store using it
// opens the directory. A Store that cannot fetch an item's password (the
// file backend, a locked item, no answer) does not show that credential
// but keeps it in the file, and shows it again once the password can be
// fetched; Flush reports the failure. A credential whose item is gone
// (deleted in a keyring manager) is discarded and reported (see Damage).
// Session credentials never reach the Secret Service.
//
// # On disk
//
// Permanent credentials live in one file, Dir/credentials, with a lock file
// Dir/credentials.lock beside it. The directory is created with mode 0700 and
// tightened to 0700 when it already exists with wider permissions; New
// refuses a directory owned by another user (on Unix). The file, the lock
// file and any copy of a damaged file have mode 0600, whatever the umask.
// The file is replaced atomically (temporary file in the same directory,
// fsync, rename, directory fsync), so a crash leaves the old or the new
// contents, never a torn mix. With the file backend, passwords are stored
// unencrypted (base64) inside that owner-only file.
//
// The file is text: a header line, then one line per credential, each with
// its own SHA-256-based checksum, so that damage costs at most the
// credentials on the damaged lines (a damaged newline costs nothing: the
// two credentials it joined are both found). Files of the earlier binary
// format, which had a single checksum, are read and rewritten in this one.
//
// Several processes (and several Stores in one process) may share a
// directory. Writers serialise on an advisory lock (flock(2) on the lock
// file), re-read the file under the lock and apply their change to what they
// read, so one writer never erases another's change. Readers notice a
// replaced file (by its identity, size and modification time) and reload it
// before answering. On platforms without flock (not Unix) only one process at
// a time may use a directory.
//
// # Damage
//
// A line that fails its checksum or cannot be decoded, or a file that is
// not a credentials file at all, is discarded; nothing is lost silently:
//
//   - before the file is rewritten without the damaged lines, the damaged
//     file is copied to credentials.corrupt-<unix seconds> (mode 0600); if
//     no copy can be made, the file is left as it is and writes fail;
//   - [Store.Recovered] returns a [*RecoveryError] per discarded line (and
//     per credential whose Secret Service item is gone), naming the copy
//     and, when the damage spared it, whose credential the line held;
//   - each is logged at level Warn on [Options].Logger (slog.Default()
//     when nil).
//
// A file written by a newer, incompatible version is left alone and New
// reports an error instead of overwriting it.
//
// # Secrets
//
// The package logs only what it discards and the backend it chose, never a
// password. [Credential]'s String, GoString, Format and
// LogValue methods redact the password, so fmt verbs (%v, %+v, %#v, %s, %q,
// %x, %d, ...) and log/slog never print it. Encoding a Credential by other
// means (encoding/json, reflection) does include the password.
//
// # Concurrency
//
// A Store is safe for concurrent use by multiple goroutines. Change callbacks
// registered with [Store.OnChange] run after the change, outside the Store's
// lock, on the goroutine that made the change; callbacks for concurrent
// changes may therefore run concurrently.
package credstore
