package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

func TestProcsFor(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string // GOMAXPROCS, "-" for unset
		want int
	}{
		{[]string{"http://127.0.0.1:1/"}, "-", 1},
		{[]string{"http://127.0.0.1:1/a", "http://127.0.0.1:1/b"}, "-", 1},
		{[]string{"--segments", "1", "-o", "f", "http://127.0.0.1:1/"}, "-", 1},
		{[]string{"--segments", "4", "-o", "f", "http://127.0.0.1:1/"}, "-", 0},
		{[]string{"--http3", "https://127.0.0.1:1/"}, "-", 0},
		{[]string{"--http3-only", "https://127.0.0.1:1/"}, "-", 0},
		{[]string{"http://127.0.0.1:1/"}, "2", 0},
		{[]string{"http://127.0.0.1:1/"}, "", 0},
	} {
		if c.env == "-" {
			t.Setenv("GOMAXPROCS", "") // restored when the test ends
			os.Unsetenv("GOMAXPROCS")
		} else {
			t.Setenv("GOMAXPROCS", c.env)
		}
		o, err := parseArgs(c.args)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if got := procsFor(o); got != c.want {
			t.Errorf("%q with GOMAXPROCS %q: procsFor = %d, want %d", c.args, c.env, got, c.want)
		}
	}
}

// TestProcsHook: the run hands its parsed options to hooks.procs before
// it starts, and not for a usage error.
func TestProcsHook(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	var got *options
	h := hooks{procs: func(o *options) { got = o }}
	code := runWith(context.Background(), []string{"--segments", "3", "-o", t.TempDir() + "/f", s.URL + "/"},
		strings.NewReader(""), io.Discard, io.Discard, h)
	if code != 0 || got == nil || got.segments != 3 {
		t.Fatalf("exit %d, options given to procs: %+v", code, got)
	}
	got = nil
	if code := runWith(context.Background(), []string{"--segments", "-1", s.URL}, strings.NewReader(""), io.Discard, io.Discard, h); code != exitUsage || got != nil {
		t.Fatalf("usage error: exit %d, procs called: %v", code, got != nil)
	}
}
