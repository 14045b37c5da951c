//go:build !unix

package netconn

import "net"

const supported = false

type reader struct{ b batch }

func (r *reader) init(*net.TCPConn) error { return nil }

func (r *reader) read([]byte, func() bool) (int, error) { panic("netconn: unsupported") }
