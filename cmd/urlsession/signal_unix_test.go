//go:build unix

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/resume"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// pacedWriter hands the body on in small pieces with a pause after each,
// so that a signal lands while the body is still arriving.
type pacedWriter struct {
	http.ResponseWriter
	piece int
	pause time.Duration
}

func (w pacedWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		m, err := w.ResponseWriter.Write(p[:min(len(p), w.piece)])
		n += m
		if err != nil {
			return n, err
		}
		http.NewResponseController(w.ResponseWriter).Flush()
		p = p[m:]
		time.Sleep(w.pause)
	}
	return n, nil
}

// pacedServer serves res slowly (about 8 MB/s) over HTTP/1.1, or HTTP/2
// with TLS, logging the ranges asked for. While stall holds n > 0, each
// response stops after n bytes of its body until the client goes away, so
// that a signal lands mid-transfer however loaded the machine is.
func pacedServer(t *testing.T, res http.Handler, h2 bool, log *rangeLog, stall *atomic.Int64) *httptest.Server {
	paced := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		res.ServeHTTP(pacedWriter{w, 16 << 10, 2 * time.Millisecond}, r)
	})
	s := httptest.NewUnstartedServer(&urlsessiontest.FaultHandler{Next: paced, Choose: func(int, *http.Request) urlsessiontest.Fault {
		if n := stall.Load(); n > 0 {
			return urlsessiontest.Fault{Kind: urlsessiontest.Stall, At: n}
		}
		return urlsessiontest.Fault{}
	}})
	if h2 {
		s.EnableHTTP2 = true
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// waitUntil polls ok until it holds (true) or the process ends (false,
// its exit left in exited for the caller); it fails the test after 30 s,
// saying what did not come.
func waitUntil(t *testing.T, what string, ok func() bool, exited chan error) bool {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err // for the caller
			return false
		default:
		}
		if ok() {
			return true
		}
		time.Sleep(time.Millisecond) // polls for the event, not a timing
	}
	t.Fatalf("%s did not come", what)
	return false
}

// waitSize waits until the file at name holds at least n bytes, or the
// process ends (reported by exited).
func waitSize(t *testing.T, name string, n int64, exited chan error) bool {
	t.Helper()
	return waitUntil(t, fmt.Sprintf("%s of %d bytes", name, n), func() bool {
		fi, err := os.Stat(name)
		return err == nil && fi.Size() >= n
	}, exited)
}

// waitCheckpoint waits until the resume record at name is a checkpoint
// counting at least n bytes, and returns what it counts; false when the
// process ends first.
func waitCheckpoint(t *testing.T, name string, n int64, exited chan error) (int64, bool) {
	t.Helper()
	var got int64
	ok := waitUntil(t, fmt.Sprintf("a checkpoint of %d bytes in %s", n, name), func() bool {
		b, err := os.ReadFile(name)
		if err != nil {
			return false
		}
		d, err := resume.Decode(b)
		if err != nil || !d.Checkpoint || d.Offset < n {
			return false
		}
		got = d.Offset
		return true
	}, exited)
	return got, ok
}

// startCLI starts the command in a process of its own, with TMPDIR set
// to tmp, and returns it with a channel that gets its end.
func startCLI(t *testing.T, tmp string, args ...string) (*exec.Cmd, *bytes.Buffer, chan error) {
	t.Helper()
	cmd := cliCommand(t, t.TempDir(), []string{"TMPDIR=" + tmp}, args...)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return cmd, &errOut, exited
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return -1000
	}
	return 0
}

// TestSignalLeavesResumableOutput: SIGINT or SIGTERM during a plain -o
// leaves resume data beside the output that records the size and
// fingerprint of what arrived: in FILE.urlsession-partial when the output
// was not there (the output itself does not appear), in the output when
// it was; -C - then continues with Range and If-Range to a byte-identical
// file and removes the rest.
func TestSignalLeavesResumableOutput(t *testing.T) {
	t.Parallel()
	content := randomBytes(3 << 20)
	res := urlsessiontest.NewResource(content)
	for _, c := range []struct {
		name     string
		sig      os.Signal
		h2       bool
		existing bool // the output is there (empty) before the run
	}{
		{"SIGINT-h1", os.Interrupt, false, false},
		{"SIGTERM-h2", syscall.SIGTERM, true, false},
		{"SIGINT-h1-existing", os.Interrupt, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log rangeLog
			var stall atomic.Int64
			const at = 1<<20 + 5
			stall.Store(at)
			s := pacedServer(t, res, c.h2, &log, &stall)
			dir, tmp := t.TempDir(), t.TempDir()
			out := filepath.Join(dir, "out")
			holder := out + partialSuffix
			if c.existing {
				writeFile(t, out, "")
				holder = out
			}
			cmd, errOut, exited := startCLI(t, tmp, "-k", "-s", "-o", out, s.URL+"/file")
			// The output is buffered 64 KiB at a time; the partial file is
			// written out when the stream stalls.
			least := int64(at)
			if c.existing {
				least = at - 64<<10
			}
			if !waitSize(t, holder, least, exited) {
				t.Fatalf("the command ended before the signal: %s", errOut)
			}
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			if code := exitCode(<-exited); code != exitInterrupted {
				t.Fatalf("exit %d, want %d; stderr %q", code, exitInterrupted, errOut)
			}
			if c.existing {
				wantResumeFiles(t, out, content)
			} else {
				wantPartialFiles(t, out, content)
			}
			part, _ := os.ReadFile(holder)
			if len(part) != at {
				t.Fatalf("%s holds %d bytes, want the %d that came before the stall", filepath.Base(holder), len(part), at)
			}
			stall.Store(0)
			d, err := resume.Decode([]byte(readFile(t, out+resumeSuffix)))
			if err != nil {
				t.Fatal(err)
			}
			if d.Size != int64(len(part)) || d.ETag != res.ETag() || d.Total != int64(len(content)) {
				t.Errorf("resume data: size %d etag %s total %d; want %d %s %d", d.Size, d.ETag, d.Total, len(part), res.ETag(), len(content))
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("left in TMPDIR: %v", ents)
			}

			r := cliProcess(t, t.TempDir(), []string{"TMPDIR=" + tmp}, "", "-k", "-s", "-C", "-", "-o", out, s.URL+"/file")
			if r.code != 0 {
				t.Fatalf("-C -: %v", r)
			}
			if got := readFile(t, out); sha256.Sum256([]byte(got)) != sha256.Sum256(content) {
				t.Fatalf("the output (%d bytes) differs from the resource", len(got))
			}
			noFiles(t, dir, "out")
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("left in TMPDIR: %v", ents)
			}
			seen := log.get()
			if want := fmt.Sprintf("bytes=%d- if %s", len(part), res.ETag()); len(seen) != 2 || seen[1] != want {
				t.Errorf("requests %q; want the second %q", seen, want)
			}
		})
	}
}

// TestKilledAndContinued: a download written through an output that was
// there, killed with SIGKILL at random points and continued with -C -
// each time, ends byte-identical to the resource, each run asking for the
// rest with If-Range, and leaves no file but the output, in its directory
// or in TMPDIR.
func TestKilledAndContinued(t *testing.T) {
	t.Parallel()
	content := randomBytes(6 << 20)
	res := urlsessiontest.NewResource(content)
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "h1", true: "h2"}[h2], func(t *testing.T) {
			var log rangeLog
			var stall atomic.Int64
			s := pacedServer(t, res, h2, &log, &stall)
			dir, tmp := t.TempDir(), t.TempDir()
			out := filepath.Join(dir, "out")
			writeFile(t, out, "")
			seed := time.Now().UnixNano()
			t.Logf("seed %d", seed)
			rnd := rand.New(rand.NewPCG(uint64(seed), 7))
			kills := 0
			for run := 0; ; run++ {
				if run > 100 {
					t.Fatal("no end after 100 runs")
				}
				var size int64
				if fi, err := os.Stat(out); err == nil {
					size = fi.Size()
				}
				// This run's response stalls at a random offset, 160 to 480
				// KiB on; the kill comes once the output has grown to
				// within its 64 KiB buffer of it, or up to 64 KiB earlier
				// while the body still flows. The last run gets the rest.
				at := 160<<10 + rnd.Int64N(320<<10)
				if kills < 12 {
					stall.Store(at)
				} else {
					stall.Store(0)
				}
				cmd, errOut, exited := startCLI(t, tmp, "-k", "-s", "-C", "-", "-o", out, s.URL+"/file")
				if kills < 12 && waitSize(t, out, size+at-rnd.Int64N(64<<10)-64<<10, exited) {
					cmd.Process.Signal(syscall.SIGKILL)
					if code := exitCode(<-exited); code != -int(syscall.SIGKILL) && code != 0 {
						t.Fatalf("run %d: exit %d; stderr %q", run, code, errOut)
					}
					kills++
					part, _ := os.ReadFile(out)
					if !bytes.HasPrefix(content, part) {
						t.Fatalf("after kill %d the output (%d bytes) is not a beginning of the resource", kills, len(part))
					}
					continue
				}
				if code := exitCode(<-exited); code != 0 {
					t.Fatalf("run %d: exit %d; stderr %q", run, code, errOut)
				}
				break
			}
			if kills < 10 {
				t.Errorf("%d kills landed, want at least 10", kills)
			}
			if got := readFile(t, out); sha256.Sum256([]byte(got)) != sha256.Sum256(content) {
				t.Fatalf("the output (%d bytes) differs from the resource", len(got))
			}
			noFiles(t, dir, "out")
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("left in TMPDIR: %v", ents)
			}
			seen := log.get()
			resumed := 0
			for _, v := range seen[1:] {
				if strings.HasPrefix(v, "bytes=") && strings.HasSuffix(v, " if "+res.ETag()) {
					resumed++
				}
			}
			if seen[0] != "" || resumed < kills-1 {
				t.Errorf("requests %q: want the first whole and at least %d continued with If-Range", seen, kills-1)
			}
		})
	}
}

// TestKilledNewOutputContinued: a download to an output that is not there,
// plain, in segments, with a checksum and with a rate limit, killed with
// SIGKILL at random points and continued with -C - each time: while it
// runs the output does not exist and FILE.urlsession-partial does; each
// kill leaves nothing but that and FILE.urlsession-resume beside the
// output and nothing in TMPDIR; the end is byte-identical to the
// resource. A single stream continues with If-Range from what the partial
// file holds; a segmented one, whose partial file has gaps, from its last
// checkpoint, each run after a kill asking for ranges with If-Range.
// The plain download's resource changes after its last kill: the next run
// fetches the new version whole rather than splicing.
func TestKilledNewOutputContinued(t *testing.T) {
	t.Parallel()
	content := randomBytes(3 << 20)
	sum := sha256.Sum256(content)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"plain", nil},
		{"segments", []string{"--segments", "4"}},
		{"checksum", []string{"--checksum", "sha256:" + hex.EncodeToString(sum[:])}},
		{"limit-rate", []string{"--limit-rate", "20M"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := urlsessiontest.NewResource(content)
			want := content
			var log rangeLog
			var stall atomic.Int64
			s := pacedServer(t, res, false, &log, &stall)
			dir, tmp := t.TempDir(), t.TempDir()
			out := filepath.Join(dir, "out")
			partial := out + partialSuffix
			seed := time.Now().UnixNano()
			t.Logf("seed %d", seed)
			rnd := rand.New(rand.NewPCG(uint64(seed), 11))
			segmented := c.name == "segments"
			const kills = 4
			killed := 0
			var checkpointed int64  // segments: the bytes the last checkpoint counts
			var firstRequests []int // segments: where each run after a kill starts in the log
			for run := 0; ; run++ {
				if run > 30 {
					t.Fatal("no end after 30 runs")
				}
				var size int64
				if _, err := os.Stat(out + resumeSuffix); err == nil && !segmented {
					if fi, err := os.Stat(partial); err == nil {
						size = fi.Size()
					}
				}
				at := 160<<10 + rnd.Int64N(320<<10)
				if segmented {
					// Per response, four at once: a segment writes its
					// bytes 128 KiB at a time, so each run writes 128 KiB
					// of each.
					at = 128<<10 + rnd.Int64N(128<<10)
				}
				if killed < kills {
					stall.Store(at)
				} else {
					stall.Store(0)
				}
				before := len(log.get())
				if segmented && killed > 0 {
					firstRequests = append(firstRequests, before)
				}
				cmd, errOut, exited := startCLI(t, tmp, append(append([]string{"-s", "-C", "-", "-o", out}, c.args...), s.URL+"/file")...)
				least := size + at - rnd.Int64N(128<<10)
				reached := false
				if segmented {
					// Each response stalls at its at-th byte, so each
					// run brings at least that much: the kill comes
					// once a checkpoint counts part of it.
					least = checkpointed + 1 + rnd.Int64N(128<<10)
					if killed < kills {
						checkpointed, reached = waitCheckpoint(t, out+resumeSuffix, least, exited)
					}
				} else {
					reached = killed < kills && waitSize(t, partial, least, exited)
				}
				if killed < kills && reached {
					if _, err := os.Lstat(out); err == nil {
						t.Fatalf("run %d: the output is there before the download is complete", run)
					}
					cmd.Process.Signal(syscall.SIGKILL)
					if code := exitCode(<-exited); code != -int(syscall.SIGKILL) {
						t.Fatalf("run %d: exit %d; stderr %q", run, code, errOut)
					}
					killed++
					noFiles(t, dir, "out"+partialSuffix, "out"+resumeSuffix)
					if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
						t.Fatalf("after kill %d, left in TMPDIR: %v", killed, ents)
					}
					if part, _ := os.ReadFile(partial); !segmented && !bytes.HasPrefix(content, part) {
						t.Fatalf("after kill %d the partial file (%d bytes) is not a beginning of the resource", killed, len(part))
					}
					if killed == kills && c.name == "plain" {
						want = randomBytes(2<<20 + 7)[1<<20:]
						res.Replace(want)
					}
					continue
				}
				if code := exitCode(<-exited); code != 0 {
					t.Fatalf("run %d: exit %d; stderr %q", run, code, errOut)
				}
				break
			}
			if got := readFile(t, out); sha256.Sum256([]byte(got)) != sha256.Sum256(want) {
				t.Fatalf("the output (%d bytes) differs from the resource", len(got))
			}
			if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o666&^testUmask() {
				t.Errorf("the output has mode %v, want %v", fi.Mode().Perm(), 0o666&^testUmask())
			}
			noFiles(t, dir, "out")
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("left in TMPDIR: %v", ents)
			}
			seen := log.get()
			if segmented {
				// Each run after a kill continues from the checkpoint:
				// its first request asks for a range, with If-Range.
				for _, i := range firstRequests {
					if v := seen[i]; !strings.HasPrefix(v, "bytes=") || !strings.HasSuffix(v, " if "+res.ETag()) {
						t.Errorf("a run after a kill began with %q, want a range with If-Range (requests %q)", v, seen)
					}
				}
				if len(firstRequests) != kills {
					t.Errorf("%d runs after a kill, want %d", len(firstRequests), kills)
				}
				return
			}
			resumed := 0
			for _, v := range seen[1:] {
				if strings.HasPrefix(v, "bytes=") && strings.Contains(v, " if ") {
					resumed++
				}
			}
			// A kill may land before the record of the body is written:
			// that run's successor starts again.
			if seen[0] != "" || resumed < kills-2 {
				t.Errorf("requests %q: want the first whole and at least %d continued with If-Range", seen, kills-2)
			}
		})
	}
}

// testUmask returns the process's umask, which the command inherits.
func testUmask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}
