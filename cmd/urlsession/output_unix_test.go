//go:build linux || darwin

package main

import (
	"bytes"
	"io"
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

// TestOutputWritesThrough: -o opens the path it is given and writes into
// it, as curl does, whatever is there.
func TestOutputWritesThrough(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	body := urlsessiontest.PatternBytes(200000)
	url := s.URL + "/bytes/200000"

	t.Run("symlink", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
		writeFile(t, target, "old")
		if err := os.Symlink("target", link); err != nil {
			t.Fatal(err)
		}
		cli(t, "", "-o", link, url).want(t, 0)
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link is no longer a link: %v, %v", fi.Mode(), err)
		}
		if got := readFile(t, target); got != string(body) {
			t.Errorf("the target has %d bytes, not the body", len(got))
		}
	})

	t.Run("fifo", func(t *testing.T) {
		t.Parallel()
		name, wait := fifoReader(t, t.TempDir())
		cli(t, "", "-o", name, url).want(t, 0)
		if got := wait(); !bytes.Equal(got, body) {
			t.Errorf("the reader got %d bytes, not the body", len(got))
		}
		if fi, err := os.Lstat(name); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("the FIFO is no longer one: %v, %v", fi.Mode(), err)
		}
	})

	t.Run("existing", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		name := filepath.Join(dir, "out")
		if err := os.WriteFile(name, bytes.Repeat([]byte("x"), 300000), 0o640); err != nil {
			t.Fatal(err)
		}
		before, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		cli(t, "", "-o", name, url).want(t, 0)
		after, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(before, after) || after.Mode().Perm() != 0o640 {
			t.Errorf("the file was replaced: mode %v", after.Mode())
		}
		if got := readFile(t, name); got != string(body) {
			t.Errorf("the file has %d bytes, not the body", len(got))
		}
	})

	t.Run("devnull", func(t *testing.T) {
		t.Parallel()
		devNullIntact(t)
		r := cli(t, "", "-o", os.DevNull, url).want(t, 0)
		if r.stdout != "" || r.stderr != "" {
			t.Errorf("got %v", r)
		}
		devNullIntact(t)
	})

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
	url := setURL(s.URL, "", "a=1")
	const want = cookieFileHeader + "127.0.0.1\tFALSE\t/\tFALSE\t0\ta\t1\n"

	t.Run("symlink", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
		writeFile(t, target, "")
		if err := os.Symlink("target", link); err != nil {
			t.Fatal(err)
		}
		cli(t, "", "-c", link, url).want(t, 0)
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link is no longer a link: %v, %v", fi.Mode(), err)
		}
		if got := readFile(t, target); got != want {
			t.Errorf("target:\n%s", got)
		}
		noFiles(t, dir, "target", "link")
	})

	t.Run("fifo", func(t *testing.T) {
		t.Parallel()
		name, wait := fifoReader(t, t.TempDir())
		cli(t, "", "-c", name, url).want(t, 0)
		if got := wait(); string(got) != want {
			t.Errorf("the reader got:\n%s", got)
		}
	})

	t.Run("existing", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		name := filepath.Join(dir, "jar")
		if err := os.WriteFile(name, bytes.Repeat([]byte("#\n"), 1000), 0o640); err != nil {
			t.Fatal(err)
		}
		before, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		cli(t, "", "-c", name, url).want(t, 0)
		after, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(before, after) || after.Mode().Perm() != 0o640 {
			t.Errorf("the file was replaced: mode %v", after.Mode())
		}
		if got := readFile(t, name); got != want {
			t.Errorf("jar:\n%s", got)
		}
		noFiles(t, dir, "jar")
	})

	t.Run("devnull", func(t *testing.T) {
		t.Parallel()
		devNullIntact(t)
		cli(t, "", "-c", os.DevNull, url).want(t, 0)
		devNullIntact(t)
	})
}

// TestDumpHeaderWritesThrough: -D opens the path it is given and writes
// into it, as -o does.
func TestDumpHeaderWritesThrough(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	url := s.URL + "/Nepal"
	isHead := func(b string) bool {
		return strings.HasPrefix(b, "HTTP/1.1 200 OK\r\n") && strings.HasSuffix(b, "\r\n\r\n")
	}

	t.Run("symlink", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
		writeFile(t, target, "")
		if err := os.Symlink("target", link); err != nil {
			t.Fatal(err)
		}
		cli(t, "", "-D", link, url).want(t, 0)
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link is no longer a link: %v, %v", fi.Mode(), err)
		}
		if got := readFile(t, target); !isHead(got) {
			t.Errorf("target: %q", got)
		}
		noFiles(t, dir, "target", "link")
	})

	t.Run("fifo", func(t *testing.T) {
		t.Parallel()
		name, wait := fifoReader(t, t.TempDir())
		cli(t, "", "-D", name, url).want(t, 0)
		if got := wait(); !isHead(string(got)) {
			t.Errorf("the reader got %q", got)
		}
	})

	t.Run("existing", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		name := filepath.Join(dir, "head")
		if err := os.WriteFile(name, bytes.Repeat([]byte("x"), 1000), 0o640); err != nil {
			t.Fatal(err)
		}
		before, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		cli(t, "", "-D", name, url).want(t, 0)
		after, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(before, after) || after.Mode().Perm() != 0o640 {
			t.Errorf("the file was replaced: mode %v", after.Mode())
		}
		if got := readFile(t, name); !isHead(got) {
			t.Errorf("file: %q", got)
		}
	})

	t.Run("devnull", func(t *testing.T) {
		t.Parallel()
		devNullIntact(t)
		cli(t, "", "-D", os.DevNull, url).want(t, 0)
		devNullIntact(t)
	})
}
