// Package bench holds loopback benchmarks that compare urlsession with raw
// net/http (and curl, when installed) doing the same work in one run. Its
// code is all in _test.go files; see README.md for the commands and the
// latest figures.
package bench
