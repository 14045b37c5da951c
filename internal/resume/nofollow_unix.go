//go:build unix

package resume

import "syscall"

// noFollow makes opening a partial file fail on a symbolic link.
const noFollow = syscall.O_NOFOLLOW
