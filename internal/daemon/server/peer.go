//go:build unix

package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
)

// Peer is the process at the other end of a connection, from the
// socket's peer credentials (SO_PEERCRED on Linux, LOCAL_PEERCRED and
// LOCAL_PEERPID on macOS).
type Peer struct {
	PID int
	UID int
}

// ErrPeer is returned (wrapped) by CheckPeer for a connection from
// another user or one whose credentials cannot be read.
var ErrPeer = errors.New("peer refused")

// CheckPeer reads the credentials of c's peer and accepts only a process
// running as uid.
func CheckPeer(c net.Conn, uid int) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("%w: not a Unix socket connection", ErrPeer)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("%w: %v", ErrPeer, err)
	}
	var (
		p    Peer
		gerr error
	)
	if err := raw.Control(func(fd uintptr) {
		p.PID, p.UID, gerr = peerCred(int(fd)) // peercred_*.go
	}); err != nil {
		return Peer{}, fmt.Errorf("%w: %v", ErrPeer, err)
	}
	if gerr != nil {
		return Peer{}, fmt.Errorf("%w: peer credentials: %v", ErrPeer, gerr)
	}
	if p.UID != uid {
		return p, fmt.Errorf("%w: uid %d (pid %d) is not the daemon's uid %d", ErrPeer, p.UID, p.PID, uid)
	}
	return p, nil
}

// peerListener accepts only connections from the daemon's own user; it
// closes the others at once and logs them.
type peerListener struct {
	net.Listener
	uid int
	log *slog.Logger
}

// peerConn is an accepted connection with its peer.
type peerConn struct {
	net.Conn
	peer Peer
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		p, err := CheckPeer(c, l.uid)
		if err != nil {
			l.log.Warn("refused a connection", "err", err)
			c.Close()
			continue
		}
		return &peerConn{Conn: c, peer: p}, nil
	}
}

type peerKey struct{}

// peerContext stores the peer of c in ctx (http.Server.ConnContext).
func peerContext(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*peerConn); ok {
		return context.WithValue(ctx, peerKey{}, pc.peer)
	}
	return ctx
}

// peerFrom returns the peer stored by peerContext.
func peerFrom(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// Listen listens on the Unix socket at path, replacing a stale socket
// file, and makes the socket 0600. Call it only while holding the Lock:
// the lock is what tells a stale socket from a live daemon's.
func Listen(path string) (*net.UnixListener, error) {
	if info, err := os.Lstat(path); err == nil {
		if info.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("listen: %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen: removing the stale socket: %w", err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	return ln, nil
}
