//go:build unix

package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrActivation is returned (wrapped) by Activated when the environment
// says the daemon was started by socket activation but the socket it
// passed is missing or unusable.
var ErrActivation = errors.New("socket activation")

// listenFDsStart is the first file descriptor systemd passes (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// Activated returns the listening socket systemd passed when it started
// the daemon by socket activation (the sd_listen_fds protocol), or nil
// when it did not. It reads LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES and
// removes them from the environment either way, so that commands the
// daemon launches do not see them:
//
//   - LISTEN_FDS unset, empty or 0, or LISTEN_PID naming another process
//     (the variables were inherited, not meant for this process): nil, nil.
//     The daemon then makes its own socket.
//   - LISTEN_FDS=1 and LISTEN_PID this process: file descriptor 3 must be
//     a listening Unix stream socket; it becomes the returned listener
//     (close-on-exec, never unlinked when closed: the socket file is
//     systemd's). Anything else at descriptor 3 (nothing, a file, a
//     datagram socket, a socket that does not listen) gives an error
//     wrapping ErrActivation.
//   - LISTEN_FDS other than a small number, or more than one descriptor,
//     or LISTEN_PID that is not a number: an error wrapping ErrActivation.
//
// The caller owns the listener.
func Activated() (*net.UnixListener, error) {
	pidStr, hasPID := os.LookupEnv("LISTEN_PID")
	fdsStr := os.Getenv("LISTEN_FDS")
	names := os.Getenv("LISTEN_FDNAMES")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	if fdsStr == "" || fdsStr == "0" {
		return nil, nil
	}
	if hasPID {
		pid, err := strconv.Atoi(pidStr)
		if err != nil {
			return nil, fmt.Errorf("%w: LISTEN_PID=%q is not a process ID", ErrActivation, pidStr)
		}
		if pid != os.Getpid() {
			return nil, nil
		}
	} else {
		return nil, fmt.Errorf("%w: LISTEN_FDS is set without LISTEN_PID", ErrActivation)
	}
	n, err := strconv.Atoi(fdsStr)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("%w: LISTEN_FDS=%q is not a count of descriptors", ErrActivation, fdsStr)
	}
	if n != 1 {
		return nil, fmt.Errorf("%w: %d sockets passed (LISTEN_FDNAMES=%q), want exactly one: the socket unit must have a single ListenStream", ErrActivation, n, names)
	}
	fd := listenFDsStart
	if err := checkListeningUnix(fd); err != nil {
		return nil, fmt.Errorf("%w: descriptor %d: %w", ErrActivation, fd, err)
	}
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "systemd:"+names)
	ln, err := net.FileListener(f)
	f.Close() // FileListener made its own descriptor
	if err != nil {
		return nil, fmt.Errorf("%w: descriptor %d: %w", ErrActivation, fd, err)
	}
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		ln.Close()
		return nil, fmt.Errorf("%w: descriptor %d is not a Unix socket", ErrActivation, fd)
	}
	ul.SetUnlinkOnClose(false)
	return ul, nil
}

// checkListeningUnix checks that fd is an AF_UNIX SOCK_STREAM socket in
// the listening state.
func checkListeningUnix(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("not open: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return errors.New("not a socket")
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return err
	}
	if _, ok := sa.(*unix.SockaddrUnix); !ok {
		return errors.New("not a Unix socket")
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return err
	}
	if typ != unix.SOCK_STREAM {
		return errors.New("not a stream socket (ListenStream= in the socket unit)")
	}
	acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return err
	}
	if acc == 0 {
		return errors.New("a stream socket that does not listen (the unit must not set Accept=yes)")
	}
	return nil
}
