//go:build unix

// Package server is urlsessiond's machinery: the HTTP+JSON API of package
// api on a Unix socket, the scheduler that runs the stored jobs through a
// Runner, and the launcher of sessions' commands.
//
// # Socket and single instance
//
// The socket is RuntimeDir()/urlsessiond.sock: $XDG_RUNTIME_DIR/urlsession,
// or, when XDG_RUNTIME_DIR is unset, os.TempDir()/urlsession-<uid>.
// PrepareRuntimeDir makes that directory 0700 and refuses one owned by
// another user, a symbolic link or a non-directory. AcquireLock takes an
// exclusive flock on urlsessiond.lock in it: a second daemon of the same
// user gets ErrRunning naming the first one's pid. Listen then replaces a
// stale socket file and makes the socket 0600. Serve accepts only peers
// whose SO_PEERCRED uid is the daemon's own (CheckPeer); others are closed
// at once and logged.
//
// Under systemd socket activation, Activated returns the listening socket
// systemd passed (the sd_listen_fds protocol; see Activated for what it
// accepts and refuses) and Run serves on it (Config.Listener) instead of
// calling Listen: the runtime directory, the lock and the peer check are
// the same, and the socket file is left in place when Serve ends, so
// that systemd starts the daemon again at the next connection.
//
// # Scheduling
//
// At most Config.MaxConcurrent transfers run (default 6); due jobs start
// by priority (higher first), then age. A job is due when queued, its
// earliest begin date has passed and, for a discretionary job,
// Config.Conditions allows it (Run uses DefaultConditions: on external
// power, read from /sys/class/power_supply; metered networks are not
// detected). A transient failure schedules a retry after
// 30 s, doubling per attempt up to 1 hour, or after the server's
// Retry-After when longer (capped at 24 hours); the job is "waiting"
// meanwhile, with its resume data. A transfer that moves fewer than
// MinThroughput (1 KiB/s) × StallWindow (60 s) bytes in a window is
// stopped into resume data and retried the same way. The resource timeout
// (7 days from creation by default, per job) is the final give-up: the
// job fails with -1001. Every figure is a Config field.
//
// # Events and launches
//
// A finished download produces a finish-downloading event (the file is
// handed over) and a complete event; a failure or cancellation a complete
// event with the error code and resume data; progress is stored at most
// once per second per job as a coalesced write-progress (send-progress for
// uploads) event. One process per session identifier may attach; it gets
// the waiting events on its attach stream and acknowledges them. When
// events wait, nobody is attached and the session sends launch events,
// its launch command runs with URLSESSION_IDENTIFIER set; the next launch
// waits 60 s, the delay doubling per launch (up to 6 hours) and falling
// back to 60 s once a delay passes with no launch needed, as nsurlsessiond
// rate-limits relaunches.
//
// # Lifetime
//
// Serve ends on Shutdown, or when the daemon has had no unfinished job, no
// connection and no pending launch for Config.IdleTimeout (5 minutes).
// Running transfers are then stopped into resume data and stored as
// queued; the next daemon continues them. Every goroutine of the package
// ends when Serve has returned (a launched command's reaper ends with the
// command).
package server
