//go:build unix && !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package main

import "errors"

// cbreak is not available here: the terminal stays line by line.
func cbreak(int) (func(), error) {
	return nil, errors.New("the terminal mode cannot be switched here")
}
