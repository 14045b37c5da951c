//go:build unix

package netconn

import (
	"errors"
	"io"
	"net"
	"syscall"
)

const supported = true

// reader reads through the socket's RawConn, so that it sees EAGAIN
// before the runtime waits: to notify the caller, or to ask for a batch.
type reader struct {
	rc syscall.RawConn
	fn func(fd uintptr) bool // read, built once

	b batch // batched wake-ups (Linux)

	// The Read in progress.
	p       []byte
	n       int
	err     error
	onBlock func() bool
}

func (r *reader) init(tc *net.TCPConn) error {
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	r.rc = rc
	r.fn = r.attempt
	r.b.init(rc)
	return nil
}

func (r *reader) attempt(fd uintptr) bool {
	n, err := syscall.Read(int(fd), r.p)
	switch {
	case errors.Is(err, syscall.EAGAIN):
		if r.onBlock != nil && r.onBlock() {
			r.n, r.err = 0, ErrWouldBlock
			return true
		}
		r.b.wait(fd)
		return false
	case errors.Is(err, syscall.EINTR):
		return false
	case err != nil:
		r.n, r.err = 0, err
	case n == 0:
		r.n, r.err = 0, io.EOF
	default:
		r.n, r.err = n, nil
		r.b.got(n)
	}
	return true
}

func (r *reader) read(p []byte, onBlock func() bool) (int, error) {
	r.p, r.onBlock = p, onBlock
	err := r.rc.Read(r.fn)
	r.b.woke()
	n, rerr := r.n, r.err
	r.p, r.onBlock, r.n, r.err = nil, nil, 0, nil
	if err != nil {
		return 0, err
	}
	return n, rerr
}
