package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRetryConnRefused: a refused connection is retried only with
// --retry-connrefused (or --retry-all-errors), as with curl.
func TestRetryConnRefused(t *testing.T) {
	t.Parallel()
	url := closedPort(t)
	var w sleeps
	r := cliHooked(t, context.Background(), w.hooks(), "--retry", "2", url).want(t, 7)
	w.want(t)
	if strings.Contains(r.stderr, "will retry") {
		t.Errorf("retried without --retry-connrefused: %q", r.stderr)
	}
	for _, flag := range []string{"--retry-connrefused", "--retry-all-errors"} {
		var w sleeps
		r = cliHooked(t, context.Background(), w.hooks(), "--retry", "2", flag, url).want(t, 7)
		w.want(t, time.Second, 2*time.Second)
		if !strings.Contains(r.stderr, "will retry in 1s, 2 retries left") {
			t.Errorf("%s: stderr %q", flag, r.stderr)
		}
	}
}

// TestRetryAllErrors: with -f, an HTTP error is retried only with
// --retry-all-errors; the answer that finally succeeds is the output.
func TestRetryAllErrors(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 != 0 {
			http.Error(w, "not yet", http.StatusNotFound)
			return
		}
		fmt.Fprint(w, "here")
	}))
	t.Cleanup(s.Close)
	var w sleeps
	r := cliHooked(t, context.Background(), w.hooks(), "-f", "--retry", "3", s.URL+"/").want(t, 22)
	if n.Load() != 1 || r.stdout != "" {
		t.Errorf("without --retry-all-errors: %d requests, %v", n.Load(), r)
	}
	n.Store(0)
	r = cliHooked(t, context.Background(), w.hooks(), "-f", "--retry", "3", "--retry-all-errors", s.URL+"/").want(t, 0)
	if n.Load() != 3 || r.stdout != "here" {
		t.Errorf("with --retry-all-errors: %d requests, %v", n.Load(), r)
	}
	w.want(t, time.Second, 2*time.Second)
	// Retries run out: the last failure is the outcome.
	n.Store(0)
	cliHooked(t, context.Background(), w.hooks(), "-f", "--retry", "1", "--retry-all-errors", s.URL+"/").want(t, 22)
}

// TestTLSVersions: --tlsv1.N sets the oldest TLS version to use and
// --tls-max the newest.
func TestTLSVersions(t *testing.T) {
	t.Parallel()
	version := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%x", r.TLS.Version)
	})
	s := httptest.NewTLSServer(version)
	t.Cleanup(s.Close)
	if r := cli(t, "", "-k", s.URL+"/").want(t, 0); r.stdout != "304" {
		t.Errorf("default: %v", r)
	}
	if r := cli(t, "", "-k", "--tls-max", "1.2", s.URL+"/").want(t, 0); r.stdout != "303" {
		t.Errorf("--tls-max 1.2: %v", r)
	}
	if r := cli(t, "", "-k", "--tlsv1.2", "--tls-max", "default", s.URL+"/").want(t, 0); r.stdout != "304" {
		t.Errorf("--tlsv1.2: %v", r)
	}
	cli(t, "", "-k", "--tls-max", "1.5", s.URL+"/").want(t, 2)

	// A server that stops at TLS 1.2 refuses --tlsv1.3.
	old := httptest.NewUnstartedServer(version)
	old.TLS = &tls.Config{MaxVersion: tls.VersionTLS12}
	old.StartTLS()
	t.Cleanup(old.Close)
	if r := cli(t, "", "-k", old.URL+"/").want(t, 0); r.stdout != "303" {
		t.Errorf("TLS 1.2 server: %v", r)
	}
	if r := cli(t, "", "-k", "--tlsv1.3", old.URL+"/"); r.code != 35 {
		t.Errorf("--tlsv1.3 against TLS 1.2: %v", r)
	}
}
