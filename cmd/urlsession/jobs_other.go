//go:build !unix

package main

import (
	"context"
	"fmt"
	"io"
)

// errNoBackground is why background transfers are unavailable here: the
// daemon listens on a Unix socket.
const errNoBackground = "background transfers need urlsessiond, which runs on Unix systems only"

func (c *client) background(context.Context) *failure {
	return &failure{status: exitFailure, code: exitFailure, msg: errNoBackground}
}

func runJobs(_ context.Context, _ []string, _ io.Reader, _, stderr io.Writer) int {
	fmt.Fprintf(stderr, "urlsession: (%d) %s\n", exitFailure, errNoBackground)
	return exitFailure
}
