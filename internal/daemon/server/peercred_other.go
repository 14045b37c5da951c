//go:build unix && !linux && !darwin

package server

import (
	"fmt"
	"runtime"
)

// peerCred cannot read a Unix socket peer's credentials on this system,
// so the daemon refuses every connection (CheckPeer fails with ErrPeer)
// rather than accept one it cannot check.
func peerCred(fd int) (pid, uid int, err error) {
	return 0, 0, fmt.Errorf("reading a socket peer's credentials is not supported on %s", runtime.GOOS)
}
