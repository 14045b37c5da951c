//go:build unix

// Command urlsessiond is the per-user background-transfer daemon of
// urlsession: it keeps the uploads and downloads of background sessions
// going while their programs are not running, survives crashes, and
// replays missed events when a program comes back.
//
// Programs start it on demand (package client finds it on PATH, beside
// their own executable, or at $URLSESSIOND) as a detached process; or
// systemd starts it by socket activation on the first connection, with
// the user units dist/systemd/urlsessiond.socket and
// urlsessiond.service. It listens on
// $XDG_RUNTIME_DIR/urlsession/urlsessiond.sock and exits after
// -idle-timeout with no work.
//
// # Socket activation
//
// When LISTEN_FDS=1 and LISTEN_PID is its own process ID (the
// sd_listen_fds protocol), the daemon serves on file descriptor 3, which
// must be a listening Unix stream socket, instead of making its own
// socket; at its idle exit it leaves the socket file to systemd, which
// starts the daemon again on the next connection. LISTEN_FDS and
// LISTEN_PID inherited from another process (LISTEN_PID names another
// process) are ignored and removed from the environment. A descriptor 3
// that is missing or not a listening Unix stream socket, more than one
// descriptor, or malformed variables make the daemon exit with status 1
// and a message saying which. The peer uid check, the single-instance
// lock and the store are the same either way.
//
// Usage:
//
//	urlsessiond [flags]
//
// Flags:
//
//	-store PATH            job database ($XDG_DATA_HOME/urlsession/daemon/jobs.sqlite)
//	-idle-timeout D        exit after this long idle (5m; 0 or negative: never)
//	-max-concurrent N      transfers at once (6)
//	-log PATH              log to this file (appended, 0600) instead of standard error
//	-log-level LEVEL       debug, info, warn or error (info)
//	-checkpoint-bytes N    bytes between download checkpoints (1 MiB; negative: none)
//	-checkpoint-interval D least time between checkpoints that restart a download (5s)
//	-progress-interval D   least time between stored progress events (1s)
//	-receive-buffer N      receive buffer of transfer connections, bytes (0: sized to each path;
//	                       negative: the kernel's autotuning)
//	-sync-downloads        sync each completed download before reporting it (true; see below)
//
// A completed download is synced (file and directory) before its job is
// reported complete, so that the file survives a power loss. Where the
// network outruns the disk that sync bounds a download's time;
// -sync-downloads=false drops it (and the early write-back of partial
// files): the job completes once the file is renamed into place, and a
// power loss or kernel crash soon after may leave a file reported
// complete short or damaged. A kill of the daemon loses nothing either
// way.
//
// The log is slog's text format; on standard error under systemd (where
// JOURNAL_STREAM names it) the lines go to the journal without time
// stamps of their own.
//
// Beside the store it keeps downloads/ (finished downloads until handed
// over), partial/ (partial files of resume data) and tmp/ (the transfer
// session's temporary files, so that they share a file system with the
// others: a finished download is renamed, not copied). All are 0700.
//
// For profiling, URLSESSIOND_CPUPROFILE=FILE in the environment makes
// the daemon write a CPU profile (runtime/pprof) of its whole run to FILE
// when it exits normally (not after a kill).
//
// Exit status: 0 after an idle exit or SIGTERM/SIGINT, 3 when another
// daemon of the user is running, 1 on any other error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/runner"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
	"github.com/urlsession-go/urlsession/internal/daemon/store"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// staleTemp is the age after which a temporary entry left in tmp/ by a
// daemon that was killed is removed at start.
const staleTemp = 24 * time.Hour

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("urlsessiond", flag.ContinueOnError)
	fs.SetOutput(stderr)
	storePath := fs.String("store", "", "job database `path` (default $XDG_DATA_HOME/urlsession/daemon/jobs.sqlite)")
	idle := fs.Duration("idle-timeout", 5*time.Minute, "exit after this long with no work (0 or negative: never)")
	maxConc := fs.Int("max-concurrent", 6, "transfers run at once")
	logPath := fs.String("log", "", "log to this `file` (appended) instead of standard error")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	cpBytes := fs.Int64("checkpoint-bytes", runner.DefaultCheckpointBytes, "bytes between download checkpoints (negative: none)")
	cpInterval := fs.Duration("checkpoint-interval", runner.DefaultCheckpointInterval, "least time between checkpoints that stop a download and continue it with a range request")
	progress := fs.Duration("progress-interval", time.Second, "least time between stored progress events")
	rcvbuf := fs.Int("receive-buffer", 0, "receive buffer of transfer connections in `bytes`, which bounds what a kill loses in flight and caps throughput at about this much per round trip (0: sized to each connection's round-trip time on Linux, bounded on loopback and LANs, the kernel's autotuning on long paths; negative: the kernel's autotuning everywhere)")
	syncDownloads := fs.Bool("sync-downloads", true, "sync each completed download before reporting it complete; false is faster where the disk is slower than the network, but a power loss may then damage a file already reported complete")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "urlsessiond: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToLower(*level))); err != nil {
		fmt.Fprintf(stderr, "urlsessiond: -log-level: %v\n", err)
		return 2
	}
	out := stderr
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "urlsessiond: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	log := slog.New(logHandler(out, lvl, *logPath == "" && journalStderr()))
	if path := os.Getenv(cpuProfileEnv); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			log.Error("CPU profile", "err", err)
			return 1
		}
		defer stop()
	}

	if *storePath == "" {
		p, err := store.DefaultPath()
		if err != nil {
			log.Error("no store path", "err", err)
			return 1
		}
		*storePath = p
	}
	base := filepath.Dir(*storePath)
	tmp := filepath.Join(base, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		log.Error("temporary directory", "err", err)
		return 1
	}
	os.Chmod(base, 0o700)
	os.Chmod(tmp, 0o700)
	removeStale(tmp, time.Now().Add(-staleTemp), log)
	// The transfer session puts its files in os.TempDir: keep them in
	// the daemon's own directory, on the file system of the downloads.
	os.Setenv("TMPDIR", tmp)

	activated, err := server.Activated()
	if err != nil {
		log.Error("starting", "err", err)
		return 1
	}

	idleTimeout := *idle
	if idleTimeout <= 0 {
		idleTimeout = -1
	}
	rn, err := runner.New(runner.Options{
		PartialDir:         filepath.Join(base, "partial"),
		CheckpointBytes:    *cpBytes,
		CheckpointInterval: *cpInterval,
		ReceiveBuffer:      *rcvbuf,
		NoSyncDownloads:    !*syncDownloads,
		Logger:             log,
	})
	if err != nil {
		log.Error("starting", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err = server.Run(ctx, server.Config{
		Runner:           rn,
		Logger:           log,
		MaxConcurrent:    *maxConc,
		IdleTimeout:      idleTimeout,
		ProgressInterval: *progress,
		Listener:         activated,
	}, *storePath)
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if cerr := rn.Close(cctx); cerr != nil {
		log.Warn("closing the transfer session", "err", cerr)
	}
	cancel()
	switch {
	case errors.Is(err, server.ErrRunning):
		log.Info("another daemon is running", "err", err)
		return 3
	case err != nil:
		log.Error("stopped", "err", err)
		return 1
	}
	return 0
}

// cpuProfileEnv names the file of a CPU profile of the daemon's run.
const cpuProfileEnv = "URLSESSIOND_CPUPROFILE"

// startCPUProfile starts writing a CPU profile to path; stop ends it.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// logHandler returns the daemon's log handler: text lines, without the
// time when they go to the journal, which stamps each line itself.
func logHandler(out io.Writer, lvl slog.Level, journal bool) slog.Handler {
	opts := &slog.HandlerOptions{Level: lvl}
	if journal {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.NewTextHandler(out, opts)
}

// journalStderr reports whether standard error is the systemd journal:
// JOURNAL_STREAM names its device and inode.
func journalStderr() bool {
	v := os.Getenv("JOURNAL_STREAM")
	if v == "" {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(os.Stderr.Fd()), &st); err != nil {
		return false
	}
	return v == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// removeStale removes what killed daemons left in dir: entries last
// changed before cutoff (a live transfer's session directory changes
// while its download runs and moves to the partial directory at each
// checkpoint).
func removeStale(dir string, cutoff time.Time, log *slog.Logger) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		if !olderThan(name, cutoff) {
			continue
		}
		if err := os.RemoveAll(name); err == nil {
			log.Info("removed a stale temporary file", "name", e.Name())
		}
	}
}

// olderThan reports whether name and, for a directory, every entry in it
// were last changed before cutoff.
func olderThan(name string, cutoff time.Time) bool {
	info, err := os.Lstat(name)
	if err != nil || !info.ModTime().Before(cutoff) {
		return false
	}
	if !info.IsDir() {
		return true
	}
	entries, err := os.ReadDir(name)
	if err != nil {
		return false
	}
	for _, e := range entries {
		i, err := e.Info()
		if err != nil || !i.ModTime().Before(cutoff) {
			return false
		}
	}
	return true
}
