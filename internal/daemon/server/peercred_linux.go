package server

import "golang.org/x/sys/unix"

// peerCred reads the process ID and user ID of the peer of the Unix
// socket fd (SO_PEERCRED).
func peerCred(fd int) (pid, uid int, err error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0, 0, err
	}
	return int(cred.Pid), int(cred.Uid), nil
}
