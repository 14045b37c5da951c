package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: its master side, and its terminal
// (slave) side, neither becoming this process's controlling terminal.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Fatalf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		t.Fatalf("naming the pseudo-terminal: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		t.Fatalf("opening the pseudo-terminal: %v", err)
	}
	return master, tty
}

// screen collects what a program writes to a terminal's master side.
type screen struct {
	mu    sync.Mutex
	out   bytes.Buffer
	moved chan struct{} // capacity 1: out grew
	ended chan struct{} // closed when reading the master failed
}

func readScreen(master *os.File) *screen {
	sc := &screen{moved: make(chan struct{}, 1), ended: make(chan struct{})}
	go func() {
		defer close(sc.ended)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				sc.mu.Lock()
				sc.out.Write(buf[:n])
				sc.mu.Unlock()
				select {
				case sc.moved <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return sc
}

// clearScreen is what the watch writes before each drawing of the table.
const clearScreen = "\x1b[H\x1b[2J"

// awaitDrawing waits (a minute at most) for a drawing of the table after
// the first skip ones whose rows satisfy ok, and returns its number.
func (sc *screen) awaitDrawing(t *testing.T, skip int, what string, ok func(table string) bool) int {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		sc.mu.Lock()
		drawings := strings.Split(sc.out.String(), clearScreen)[1:]
		sc.mu.Unlock()
		// The last drawing may be partly written: ok sees a row only
		// once it has its state.
		for i := skip; i < len(drawings); i++ {
			if ok(drawings[i]) {
				return i + 1
			}
		}
		select {
		case <-sc.moved:
		case <-sc.ended:
			t.Fatalf("the terminal closed before %s; it showed %q", what, sc.String())
		case <-deadline:
			t.Fatalf("no drawing with %s in a minute; the terminal showed %q", what, sc.String())
		}
	}
}

func (sc *screen) String() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.out.String()
}

// TestJobsWatchTerminal runs "urlsession jobs watch" on a pseudo-terminal:
// the table is drawn, redrawn when a job changes, and the watch ends with
// status 0, the terminal's mode restored, on SIGINT, on q, on Ctrl-D and
// when the terminal closes.
func TestJobsWatchTerminal(t *testing.T) {
	e := newBgEnv(t)
	o := newHeldOrigin(t, 64<<10)
	dest := filepath.Join(t.TempDir(), "out.bin")
	r := e.cli("--background", "tty", "-o", dest, o.srv.URL+"/f")
	if r.code != 0 {
		t.Fatalf("--background: %v", r)
	}
	id := strings.TrimSpace(r.stdout)
	o.awaitRequest(t)
	c := e.client()
	defer c.Close()

	for _, how := range []string{"SIGINT", "q", "Ctrl-D", "hangup"} {
		t.Run(how, func(t *testing.T) {
			master, tty := openPTY(t)
			defer master.Close()
			defer tty.Close()
			before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			sc := readScreen(master)
			cmd := cliCommand(t, e.home, e.env, "jobs", "watch", "--session", "tty")
			cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			waited := false
			defer func() {
				if !waited {
					cmd.Process.Kill()
					<-exited
				}
			}()

			row := func(state string) func(string) bool {
				return func(table string) bool {
					for _, l := range strings.Split(table, "\n") {
						if strings.HasPrefix(l, id+"  tty  ") && strings.Contains(l, "  "+state) {
							return strings.HasPrefix(table, "ID  ")
						}
					}
					return false
				}
			}
			first := sc.awaitDrawing(t, 0, "the job", row(""))
			// A change of the job redraws the table.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := c.Pause(ctx, id); err != nil {
				t.Fatal(err)
			}
			sc.awaitDrawing(t, first, "the job paused", row("paused"))
			if _, err := c.Resume(ctx, id); err != nil {
				t.Fatal(err)
			}

			switch how {
			case "SIGINT":
				err = cmd.Process.Signal(os.Interrupt)
			case "q":
				_, err = master.Write([]byte("q"))
			case "Ctrl-D":
				_, err = master.Write([]byte{0x04})
			case "hangup":
				err = master.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				waited = true
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					t.Fatal(err)
				}
				if code := cmd.ProcessState.ExitCode(); code != 0 {
					t.Errorf("watch ended on %s with status %d, want 0; the terminal showed %q", how, code, sc.String())
				}
			case <-time.After(time.Minute):
				t.Fatalf("watch still running a minute after %s; the terminal showed %q", how, sc.String())
			}
			if how == "hangup" {
				return // the terminal is gone
			}
			after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			if after.Lflag != before.Lflag || after.Cc != before.Cc {
				t.Errorf("the terminal's mode after the watch: lflag %#x, want %#x as before", after.Lflag, before.Lflag)
			}
			if after.Lflag&unix.ECHO == 0 || after.Lflag&unix.ICANON == 0 {
				t.Errorf("the terminal is left without echo or line editing")
			}
		})
	}
	if j, err := c.Job(context.Background(), id); err != nil || j.State.Final() {
		t.Errorf("job after the watches: %+v, %v; watching does not change it", j, err)
	}
}
