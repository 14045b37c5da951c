//go:build !unix

package resume

// noFollow is 0 where opening cannot refuse a symbolic link; OpenPartial's
// Lstat still does.
const noFollow = 0
