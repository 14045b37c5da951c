// Package interop holds the interoperability suite: tests that run the
// session against real servers from the operating system's packages (nginx
// today). They build only with the interop tag:
//
//	go test -race -tags interop ./interop/
//
// A test whose server is not installed skips, unless INTEROP_REQUIRED=1 is set
// (as .ci/run does), when it fails instead.
package interop
