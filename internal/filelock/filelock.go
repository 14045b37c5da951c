// Package filelock takes advisory locks on files, so that the processes
// sharing a file (the CLI's cookie file, an HSTS file) never read one
// half written.
package filelock
