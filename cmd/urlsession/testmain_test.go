package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cliArgsEnv, when set, makes the test binary run the command with the
// JSON-encoded arguments it holds instead of the tests (see cliProcess).
const cliArgsEnv = "URLSESSION_CLI_TEST_ARGS"

// daemonEnv, when set, makes the test binary run as urlsessiond (see
// testDaemon); the script that the tests name in $URLSESSIOND sets it.
const daemonEnv = "URLSESSION_CLI_TEST_DAEMON"

// testDaemon runs the daemon in a re-executed test binary; nil where
// there is none.
var testDaemon func() int

// homeEnv are the variables that locate the shared stores.
var homeEnv = []string{"HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"}

// proxyEnv are the variables that choose the system's proxies
// (urlsession.SystemProxyConfiguration), and REQUEST_METHOD.
var proxyEnv = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
	"NO_PROXY", "no_proxy", "XDG_CURRENT_DESKTOP", "REQUEST_METHOD"}

// TestMain points the shared stores (opened once per process) at a
// temporary directory before anything runs, so that no test touches the
// real home directory, and runs the command itself in the child processes
// cliProcess starts.
func TestMain(m *testing.M) {
	if os.Getenv(daemonEnv) != "" && testDaemon != nil {
		os.Exit(testDaemon())
	}
	if args, ok := os.LookupEnv(cliArgsEnv); ok {
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(99)
		}
		os.Exit(runMain(a))
	}
	// The CLI's credentials stay out of the desktop's Secret Service.
	os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
	// The tests choose their proxies: none from the machine's settings.
	for _, k := range proxyEnv {
		os.Unsetenv(k)
	}
	home, err := os.MkdirTemp("", "urlsession-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for k, v := range homeVars(home) {
		os.Setenv(k, v)
	}
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

// homeVars returns the values of homeEnv for a home directory.
func homeVars(home string) map[string]string {
	return map[string]string{
		"HOME":            home,
		"XDG_CACHE_HOME":  filepath.Join(home, ".cache"),
		"XDG_DATA_HOME":   filepath.Join(home, ".local", "share"),
		"XDG_CONFIG_HOME": filepath.Join(home, ".config"),
	}
}

// cliProcess runs the command in a new process (the test binary, see
// TestMain) with home as its home directory, env added to the environment
// (proxy variables are cleared unless env sets them) and stdin. A process
// of its own has shared stores of its own, opened afresh.
func cliProcess(t *testing.T, home string, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := cliCommand(t, home, env, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return result{code, out.String(), errOut.String()}
}

// cliCommand returns the command cliProcess runs, not started, for a test
// that starts it and signals it.
func cliCommand(t *testing.T, home string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	a, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	drop := append(append([]string{cliArgsEnv}, homeEnv...), proxyEnv...)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, d := range drop {
			if name == d {
				keep = false
			}
		}
		if keep {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range homeVars(home) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Env = append(cmd.Env, cliArgsEnv+"="+string(a))
	return cmd
}

// filesUnder returns the regular files under dir, relative to it, and
// whether anything at all (a directory included) is there.
func filesUnder(t *testing.T, dir string) (files []string, any bool) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		any = true
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, any
}
