package server

import "golang.org/x/sys/unix"

// peerCred reads the process ID (LOCAL_PEERPID) and user ID
// (LOCAL_PEERCRED) of the peer of the Unix socket fd.
func peerCred(fd int) (pid, uid int, err error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return 0, 0, err
	}
	pid, err = unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil {
		return 0, 0, err
	}
	return pid, int(cred.Uid), nil
}
