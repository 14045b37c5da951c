//go:build unix

package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/store"
)

// Run is the daemon's whole life, as the urlsessiond command runs it: it
// prepares the runtime directory (api.RuntimeDir), takes the
// single-instance lock (an error wrapping ErrRunning when another daemon
// of the user holds it), opens the store at storePath (store.DefaultPath
// when empty) unless cfg.Store is set, listens on api.SocketPath() and
// serves until ctx is done or the daemon is idle. With cfg.Listener set
// (socket activation) it serves on that socket instead and leaves its
// file in place when it ends, so that the next connection starts the
// daemon again. Discretionary jobs wait
// for DefaultConditions unless cfg.Conditions is set. It returns nil after an
// idle exit or ctx's end.
func Run(ctx context.Context, cfg Config, storePath string) error {
	if cfg.Listener != nil {
		defer cfg.Listener.Close() // on every path; Serve closes it too
	}
	dir := api.RuntimeDir()
	if err := PrepareRuntimeDir(dir); err != nil {
		return err
	}
	lock, err := AcquireLock(dir)
	if err != nil {
		return err
	}
	defer lock.Release()
	if cfg.Store == nil {
		if storePath == "" {
			if storePath, err = store.DefaultPath(); err != nil {
				return err
			}
		}
		st, err := store.Open(storePath)
		if err != nil {
			return err
		}
		defer st.Close()
		if st.Recovered() != "" && cfg.Logger != nil {
			cfg.Logger.Error("the job database was corrupt; it was moved aside and a new one started", "aside", st.Recovered())
		}
		cfg.Store = st
	}
	if cfg.Conditions == nil {
		cfg.Conditions = DefaultConditions
	}
	sock := filepath.Join(dir, api.SocketName)
	ln := cfg.Listener
	if ln != nil {
		ln.SetUnlinkOnClose(false)
		sock = ln.Addr().String()
	}
	cfg.Socket = sock
	srv, err := New(cfg)
	if err != nil {
		return err
	}
	if ln == nil {
		if ln, err = Listen(sock); err != nil {
			return err
		}
	}
	srv.log.Info("listening", "socket", sock, "store", cfg.Store.Path(), "activated", cfg.Listener != nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		serr := srv.Shutdown(sctx)
		cancel()
		err = <-served
		if serr != nil {
			return fmt.Errorf("stopping: %w", serr)
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
