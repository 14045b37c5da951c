package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

// DaemonEnv is the environment variable that names the daemon's
// executable, overriding the search of FindDaemon.
const DaemonEnv = "URLSESSIOND"

// DaemonName is the daemon executable's name.
const DaemonName = "urlsessiond"

// ErrNoDaemon is returned (wrapped) by FindDaemon when no executable is
// found.
var ErrNoDaemon = errors.New("urlsessiond not found")

// FindDaemon returns the daemon's executable: $URLSESSIOND when set (a
// name without a slash is looked up on PATH), else urlsessiond on PATH,
// else urlsessiond beside the running executable.
func FindDaemon() (string, error) {
	if p := os.Getenv(DaemonEnv); p != "" {
		if !strings.ContainsAny(p, "/"+string(filepath.Separator)) {
			found, err := exec.LookPath(p)
			if err != nil {
				return "", fmt.Errorf("%w: $%s=%s: %v", ErrNoDaemon, DaemonEnv, p, err)
			}
			return found, nil
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%w: $%s: %v", ErrNoDaemon, DaemonEnv, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath(DaemonName); err == nil {
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		name := DaemonName
		if runtime.GOOS == "windows" {
			name += ".exe"
		}
		p := filepath.Join(filepath.Dir(exe), name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: not on PATH nor beside this program; set $%s", ErrNoDaemon, DaemonEnv)
}

// executable reports why the file at p cannot be run, or nil: as
// exec.LookPath judges a path (mode bits on Unix, the extension on
// Windows).
func executable(p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	if _, lerr := exec.LookPath(p); info.IsDir() || lerr != nil {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// StartOptions adjust Start; the zero value is the usual case.
type StartOptions struct {
	// Socket is the daemon's socket; empty means api.SocketPath().
	Socket string
	// Daemon is the executable to start; empty means FindDaemon().
	Daemon string
	// Args are the daemon's arguments.
	Args []string
	// Env is the daemon's environment; nil means this process's.
	Env []string
}

// Start returns a Client for a daemon that answers: the one already
// running, else one it starts. It waits for a started daemon until ctx is
// done (give it a deadline; a daemon usually answers within a second).
func Start(ctx context.Context, opts StartOptions) (*Client, error) {
	if opts.Socket == "" {
		opts.Socket = api.SocketPath()
	}
	if c, err := Dial(ctx, opts.Socket); err == nil {
		return c, nil
	}
	if opts.Daemon == "" {
		p, err := FindDaemon()
		if err != nil {
			return nil, err
		}
		opts.Daemon = p
	}
	cmd := exec.Command(opts.Daemon, opts.Args...)
	cmd.Env = opts.Env
	cmd.SysProcAttr = detached() // start_unix.go, start_windows.go
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", opts.Daemon, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // ends when the daemon exits
	var exitErr error
	delay := 5 * time.Millisecond
	for {
		c, err := Dial(ctx, opts.Socket)
		if err == nil {
			return c, nil
		}
		select {
		case exitErr = <-exited:
			// It may have found another daemon starting: keep
			// dialling until ctx ends.
			exited = nil
			if exitErr == nil {
				exitErr = errors.New("exited")
			}
		case <-ctx.Done():
			if exitErr != nil {
				return nil, fmt.Errorf("%s did not answer on %s (%v): %w", opts.Daemon, opts.Socket, exitErr, err)
			}
			return nil, fmt.Errorf("%s did not answer on %s in time: %w", opts.Daemon, opts.Socket, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}
