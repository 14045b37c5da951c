//go:build linux || darwin

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// TestNewOutputAppearsComplete: an output that is not there appears only
// once the body is complete and verified: while it arrives the output
// does not exist and FILE.urlsession-partial (mode 0600) does; the output
// then has the mode curl gives a new file, 0666 less the umask; a body
// that fails its checksum leaves no output and no other file (exit 32,
// saying why). --create-dirs makes the directories, which a transfer that
// fails leaves no trace of.
func TestNewOutputAppearsComplete(t *testing.T) {
	t.Parallel()
	content := randomBytes(3 << 20)
	sum := sha256.Sum256(content)
	s := httptest.NewServer(urlsessiontest.NewResource(content))
	t.Cleanup(s.Close)
	for _, args := range [][]string{
		nil,
		{"--segments", "4"},
		{"--checksum", "sha256:" + hex.EncodeToString(sum[:])},
		{"--limit-rate", "200M"},
		{"--retry", "2"},
		{"--create-dirs"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			if len(args) == 1 {
				out = filepath.Join(dir, "a", "b", "out")
			}
			var seen atomic.Int32
			var bad atomic.Value
			h := hooks{wrote: func(int64) {
				seen.Add(1)
				if _, err := os.Lstat(out); err == nil {
					bad.Store("the output is there before the body is complete")
				}
				if fi, err := os.Lstat(out + partialSuffix); err != nil || fi.Mode().Perm() != 0o600 {
					bad.Store(fmt.Sprintf("no partial file of mode 0600 beside the output: %v", err))
				}
			}}
			cliHooked(t, context.Background(), h, append(append([]string{"-sS", "-o", out}, args...), s.URL+"/file")...).want(t, 0)
			if seen.Load() == 0 {
				t.Error("no progress seen")
			}
			if msg := bad.Load(); msg != nil {
				t.Error(msg)
			}
			fi, err := os.Lstat(out)
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o666&^testUmask() {
				t.Fatalf("the output: %v, %v; want a regular file of mode %v", fi, err, 0o666&^testUmask())
			}
			if got := readFile(t, out); sha256.Sum256([]byte(got)) != sum {
				t.Errorf("the output has %d bytes, not the content", len(got))
			}
			noFiles(t, filepath.Dir(out), "out")
		})
	}

	t.Run("checksum-mismatch", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		wrong := sha256.Sum256([]byte("something else"))
		r := cli(t, "", "-sS", "--checksum", "sha256:"+hex.EncodeToString(wrong[:]), "-o", out, s.URL+"/file").want(t, 32)
		if !strings.Contains(r.stderr, "(-10001)") || !strings.Contains(r.stderr, "digest") {
			t.Errorf("stderr: %q", r.stderr)
		}
		noFiles(t, dir)
	})

	t.Run("create-dirs-failure", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cli(t, "", "-s", "--create-dirs", "-o", filepath.Join(dir, "a", "b", "out"), s.URL+"/missing").want(t, 0)
		cli(t, "", "-s", "--create-dirs", "-o", filepath.Join(dir, "c", "d", "out"), closedPort(t)).want(t, 7)
		noFiles(t, dir, "a")
		noFiles(t, filepath.Join(dir, "a", "b"), "out")
	})
}

// TestDownloadTaskWritesThrough: --segments onto an output that is there
// (a file, a symbolic link to one) writes the complete body through it,
// never replacing it; its partial file lives beside the output meanwhile.
func TestDownloadTaskWritesThrough(t *testing.T) {
	t.Parallel()
	content := randomBytes(2 << 20)
	s := httptest.NewServer(urlsessiontest.NewResource(content))
	t.Cleanup(s.Close)
	for _, link := range []bool{false, true} {
		t.Run(map[bool]string{false: "file", true: "symlink"}[link], func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			target, out := filepath.Join(dir, "target"), filepath.Join(dir, "target")
			if err := os.WriteFile(target, []byte("old"), 0o640); err != nil {
				t.Fatal(err)
			}
			if link {
				out = filepath.Join(dir, "link")
				if err := os.Symlink("target", out); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := os.Stat(target)
			var beside atomic.Bool
			h := hooks{wrote: func(int64) {
				if _, err := os.Lstat(out + partialSuffix); err == nil {
					beside.Store(true)
				}
			}}
			cliHooked(t, context.Background(), h, "-sS", "--segments", "4", "-o", out, s.URL+"/file").want(t, 0)
			if !beside.Load() {
				t.Error("the partial file was not beside the output")
			}
			after, _ := os.Stat(target)
			if !os.SameFile(before, after) || after.Mode().Perm() != 0o640 {
				t.Errorf("the file was replaced: %v", after.Mode())
			}
			if got := readFile(t, target); got != string(content) {
				t.Errorf("got %d bytes", len(got))
			}
			if fi, err := os.Lstat(out); link && (err != nil || fi.Mode()&os.ModeSymlink == 0) {
				t.Errorf("the link is no longer one: %v", err)
			}
			if link {
				noFiles(t, dir, "target", "link")
			} else {
				noFiles(t, dir, "target")
			}
		})
	}
}

// TestForeignPartialFile: a FILE.urlsession-partial that is not a regular
// file of its own (a symbolic link to a victim, a dangling one, a
// directory, a hard link to the victim) is not the command's: the run fails (exit 23, saying so) without writing
// through it or removing it, whatever the mode.
func TestForeignPartialFile(t *testing.T) {
	t.Parallel()
	content := randomBytes(300_000)
	s := httptest.NewServer(urlsessiontest.NewResource(content))
	t.Cleanup(s.Close)
	for _, args := range [][]string{nil, {"-C", "-"}, {"--segments", "4"}, {"--retry", "2"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			victim := filepath.Join(dir, "victim")
			writeFile(t, victim, "mine")
			for _, setup := range []func(string) error{
				func(p string) error { return os.Symlink(victim, p) },
				func(p string) error { return os.Symlink(filepath.Join(dir, "nowhere"), p) },
				func(p string) error { return os.Mkdir(p, 0o700) },
				func(p string) error { return os.Link(victim, p) },
			} {
				partial := out + partialSuffix
				if err := setup(partial); err != nil {
					t.Fatal(err)
				}
				before, _ := os.Lstat(partial)
				r := cli(t, "", append(append([]string{"-sS", "-o", out}, args...), s.URL+"/file")...).want(t, 23)
				if !strings.Contains(r.stderr, "refusing to write through it or remove it") {
					t.Errorf("stderr: %q", r.stderr)
				}
				if after, err := os.Lstat(partial); err != nil || !os.SameFile(before, after) {
					t.Errorf("%s was touched: %v", filepath.Base(partial), err)
				}
				if got := readFile(t, victim); got != "mine" {
					t.Errorf("the victim holds %q", got)
				}
				if err := os.Remove(partial); err != nil {
					t.Fatal(err)
				}
				noFiles(t, dir, "victim")
			}
		})
	}
}
