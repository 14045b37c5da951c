//go:build linux || darwin

package main

import (
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// fifoReader makes a FIFO in dir and starts reading it. It holds the FIFO
// open for writing itself, so neither the reader's open nor the command's
// blocks, and a command that never opens it cannot hang the test; wait
// drops that hold and returns what the reader read.
func fifoReader(t *testing.T, dir string) (name string, wait func() []byte) {
	t.Helper()
	name = filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(name, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	hold, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(name)
	if err != nil {
		hold.Close()
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		r.Close()
		got <- b
	}()
	return name, func() []byte {
		hold.Close()
		return <-got
	}
}

// devNullIntact fails the test unless the null device is a character
// device.
func devNullIntact(t *testing.T) {
	t.Helper()
	fi, err := os.Lstat(os.DevNull)
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is not a character device: %v, %v", os.DevNull, fi.Mode(), err)
	}
}

// writesThrough checks that flag, given a path, opens it and writes into
// it, as curl does, whatever is there: through a symbolic link, into a
// FIFO, over an existing file in place, and into the null device, leaving
// no other name next to it. ok reports whether what a file holds is what
// the command writes for url; old, longer than that, is what an existing
// file holds first. With quiet, writing to the null device prints nothing.
func writesThrough(t *testing.T, flag, url string, old []byte, quiet bool, ok func(got string) bool) {
	t.Run("symlink", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
		writeFile(t, target, "old")
		if err := os.Symlink("target", link); err != nil {
			t.Fatal(err)
		}
		cli(t, "", flag, link, url).want(t, 0)
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link is no longer a link: %v, %v", fi.Mode(), err)
		}
		if got := readFile(t, target); !ok(got) {
			t.Errorf("the target has %d bytes: %.200q", len(got), got)
		}
		noFiles(t, dir, "target", "link")
	})

	t.Run("fifo", func(t *testing.T) {
		t.Parallel()
		name, wait := fifoReader(t, t.TempDir())
		cli(t, "", flag, name, url).want(t, 0)
		if got := wait(); !ok(string(got)) {
			t.Errorf("the reader got %d bytes: %.200q", len(got), got)
		}
		if fi, err := os.Lstat(name); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("the FIFO is no longer one: %v, %v", fi.Mode(), err)
		}
	})

	t.Run("existing", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		name := filepath.Join(dir, "out")
		if err := os.WriteFile(name, old, 0o640); err != nil {
			t.Fatal(err)
		}
		before, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		cli(t, "", flag, name, url).want(t, 0)
		after, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(before, after) || after.Mode().Perm() != 0o640 {
			t.Errorf("the file was replaced: mode %v", after.Mode())
		}
		if got := readFile(t, name); !ok(got) {
			t.Errorf("the file has %d bytes: %.200q", len(got), got)
		}
		noFiles(t, dir, "out")
	})

	t.Run("devnull", func(t *testing.T) {
		t.Parallel()
		devNullIntact(t)
		r := cli(t, "", flag, os.DevNull, url).want(t, 0)
		if quiet && (r.stdout != "" || r.stderr != "") {
			t.Errorf("got %v", r)
		}
		devNullIntact(t)
	})
}

// TestOutputWritesThrough: -o opens the path it is given and writes into
// it, as curl does, whatever is there.
func TestOutputWritesThrough(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	body := string(urlsessiontest.PatternBytes(200000))
	url := s.URL + "/bytes/200000"
	writesThrough(t, "-o", url, bytes.Repeat([]byte("x"), 300000), true,
		func(got string) bool { return got == body })

	t.Run("part", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		name := filepath.Join(dir, "out")
		writeFile(t, name+".part", "mine")
		cli(t, "", "-o", name, url).want(t, 0)
		if got := readFile(t, name+".part"); got != "mine" {
			t.Errorf("out.part: %q", got)
		}
		short := urlsessiontest.NewServer(urlsessiontest.LyingContentLength(100, "short"))
		t.Cleanup(short.Close)
		cli(t, "", "-o", name, short.URL+"/").want(t, 18)
		if got := readFile(t, name+".part"); got != "mine" {
			t.Errorf("out.part after a failure: %q", got)
		}
	})
}

// TestCookieJarWritesThrough: -c opens the path it is given and writes
// into it, as -o does.
func TestCookieJarWritesThrough(t *testing.T) {
	t.Parallel()
	s := cookieServer(t)
	const want = cookieFileHeader + "127.0.0.1\tFALSE\t/\tFALSE\t0\ta\t1\n"
	writesThrough(t, "-c", setURL(s.URL, "", "a=1"), bytes.Repeat([]byte("#\n"), 1000), false,
		func(got string) bool { return got == want })
}

// TestDumpHeaderWritesThrough: -D opens the path it is given and writes
// into it, as -o does.
func TestDumpHeaderWritesThrough(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	writesThrough(t, "-D", s.URL+"/Nepal", bytes.Repeat([]byte("x"), 1000), false,
		func(got string) bool {
			return strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") && strings.HasSuffix(got, "\r\n\r\n")
		})
}

// TestDownloadWritesThrough: with --retry the output is still written
// through the path: into an existing file in place, a FIFO, the null
// device.
func TestDownloadWritesThrough(t *testing.T) {
	t.Parallel()
	content := randomBytes(200_000)
	s := httptest.NewServer(urlsessiontest.NewResource(content))
	t.Cleanup(s.Close)

	t.Run("existing", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		name := filepath.Join(dir, "out")
		if err := os.WriteFile(name, bytes.Repeat([]byte("x"), 300_000), 0o640); err != nil {
			t.Fatal(err)
		}
		before, _ := os.Stat(name)
		cli(t, "", "--retry", "2", "-o", name, s.URL+"/file").want(t, 0)
		after, _ := os.Stat(name)
		if !os.SameFile(before, after) || after.Mode().Perm() != 0o640 {
			t.Errorf("the file was replaced: %v", after.Mode())
		}
		if got := readFile(t, name); got != string(content) {
			t.Errorf("got %d bytes", len(got))
		}
		noFiles(t, dir, "out")
	})
	t.Run("fifo", func(t *testing.T) {
		t.Parallel()
		name, wait := fifoReader(t, t.TempDir())
		cli(t, "", "--retry", "2", "-C", "-", "-o", name, s.URL+"/file").want(t, 0)
		if got := wait(); !bytes.Equal(got, content) {
			t.Errorf("the reader got %d bytes", len(got))
		}
	})
	t.Run("devnull", func(t *testing.T) {
		t.Parallel()
		devNullIntact(t)
		cli(t, "", "--retry", "2", "-C", "-", "-o", os.DevNull, s.URL+"/file").want(t, 0)
		devNullIntact(t)
	})
}
