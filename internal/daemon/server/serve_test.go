//go:build unix

package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

// TestServeIdleExit: with nothing to do and no connection, Serve returns
// nil by itself.
func TestServeIdleExit(t *testing.T) {
	st := newHTTPOnly(t)
	st.cfg.IdleTimeout = 10 * time.Millisecond
	ln, err := Listen(filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- st.Serve(ln) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after idle: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("no idle exit")
	}
}

func TestLaunchDetached(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if err := launchDetached("my.app", []string{"/bin/sh", "-c", `echo "$` + IdentifierEnv + `" > "$0.tmp" && mv "$0.tmp" "$0"`, out}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, err := os.ReadFile(out)
		if err == nil {
			if strings.TrimSpace(string(data)) != "my.app" {
				t.Fatalf("the command saw %q", data)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the launched command did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestUploadNeedsItsFile(t *testing.T) {
	s := newHTTPOnly(t)
	n := &api.NewJob{Session: "s", Kind: api.Upload, File: "/nonexistent/x", Request: api.Request{Method: "PUT", URL: "https://h/u"}}
	_, err := s.CreateJob(context.Background(), n)
	if !errors.Is(err, api.ErrBadRequest) {
		t.Fatalf("got %v", err)
	}
	f := filepath.Join(t.TempDir(), "body")
	os.WriteFile(f, []byte("12345"), 0o600)
	n.File = f
	j, err := s.CreateJob(context.Background(), n)
	if err != nil || j.BytesExpected != 5 {
		t.Fatalf("got %+v %v", j, err)
	}
}

func TestMaxJobs(t *testing.T) {
	s := newHTTPOnly(t)
	s.cfg.MaxJobs = 2
	n := &api.NewJob{Session: "s", Kind: api.Download, Request: api.Request{URL: "https://h/f"}}
	for range 2 {
		if _, err := s.CreateJob(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.CreateJob(context.Background(), n)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 429 || ae.Code != api.CodeTooMany {
		t.Fatalf("third job: %v", err)
	}
}
