//go:build unix

package main

import "testing"

// The mask read for new output files is the process's own.
func TestUmaskIsTheProcesss(t *testing.T) {
	if got, want := umask(), testUmask(); got != want {
		t.Fatalf("umask() = %#o, the process's is %#o", got, want)
	}
}
