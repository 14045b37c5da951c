//go:build interop

package interop

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// startDaemon starts a server process in the foreground, stops it when the
// test ends (SIGTERM, then SIGKILL after 10 s), and waits until it accepts
// connections on the loopback port; if it does not within 15 s, the test
// fails with its standard error (unless the caller sent that elsewhere)
// and the contents of the log files named.
func startDaemon(t *testing.T, name string, cmd *exec.Cmd, port int, logs ...string) {
	t.Helper()
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(cmd) })
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s did not start: %v\n%s", name, err, stderr.String())
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				msg += "\n" + l + ":\n" + string(b)
			}
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends a daemon started in the foreground: SIGTERM, then SIGKILL.
func stop(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}
