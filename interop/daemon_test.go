//go:build interop

package interop

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// startDaemon starts a server process in the foreground, stops it when the
// test ends (an interrupt, then a kill), and waits until it accepts
// connections on the loopback port; if it does not within 15 s, the test
// fails with its standard error and the log file's contents.
func startDaemon(t *testing.T, name string, cmd *exec.Cmd, port int, logFile string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("%s did not start: %v\n%s\n%s", name, err, stderr.String(), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
