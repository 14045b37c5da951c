package main

import (
	"net/url"
	"path/filepath"
	"testing"
)

// TestOtherSchemes: the command loads data: and file: URLs; a file that is
// not there is curl's 37.
func TestOtherSchemes(t *testing.T) {
	t.Parallel()
	if r := cli(t, "", "data:text/plain;base64,aGVsbG8="); r.code != 0 || r.stdout != "hello" {
		t.Errorf("data: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	cli(t, "", "data:no-comma").want(t, 3)
	dir := t.TempDir()
	name := filepath.Join(dir, "f.txt")
	writeFile(t, name, "file body")
	u := (&url.URL{Scheme: "file", Path: name}).String()
	if r := cli(t, "", u).want(t, 0); r.stdout != "file body" {
		t.Errorf("file: stdout %q", r.stdout)
	}
	if r := cli(t, "", "-r", "5-", u).want(t, 0); r.stdout != "body" {
		t.Errorf("file range: stdout %q", r.stdout)
	}
	cli(t, "", (&url.URL{Scheme: "file", Path: filepath.Join(dir, "none")}).String()).want(t, exitFileURL)
	cli(t, "", (&url.URL{Scheme: "file", Path: dir}).String()).want(t, exitFileURL)
}
