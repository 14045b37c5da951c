package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"
)

// TestUnixSocket: --unix-socket sends the request to a server on a Unix
// domain socket, whatever the URL's host, and --abstract-unix-socket to
// one in Linux's abstract namespace.
func TestUnixSocket(t *testing.T) {
	t.Parallel()
	serve := func(t *testing.T, addr string) {
		ln, err := net.Listen("unix", addr)
		if err != nil {
			t.Skipf("no Unix domain socket here: %v", err)
		}
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(r.Host + r.URL.Path))
		}))
		s.Listener = ln
		s.Start()
		t.Cleanup(s.Close)
	}
	path := filepath.Join(t.TempDir(), "api.sock")
	serve(t, path)
	r := cli(t, "", "--unix-socket", path, "http://localhost/containers/json").want(t, 0)
	if r.stdout != "localhost/containers/json" {
		t.Errorf("got %v", r)
	}
	// A proxy in the environment is not asked.
	r = cli(t, "", "--unix-socket", path, "-x", "http://127.0.0.1:1", "http://docker/v1").want(t, 0)
	if r.stdout != "docker/v1" {
		t.Errorf("with -x: %v", r)
	}
	cli(t, "", "--unix-socket", filepath.Join(t.TempDir(), "none.sock"), "http://localhost/").want(t, 7)
	cli(t, "", "--unix-socket", path, "--http3", "https://localhost/").want(t, 2)

	if runtime.GOOS != "linux" {
		return
	}
	name := "urlsession-test-" + filepath.Base(t.TempDir())
	serve(t, "@"+name)
	r = cli(t, "", "--abstract-unix-socket", name, "http://h/abstract").want(t, 0)
	if r.stdout != "h/abstract" {
		t.Errorf("abstract: %v", r)
	}
}
