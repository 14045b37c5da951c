package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	fs := newFlagSet(new(options))
	got, err := parseConfig(fs, `# a comment
url = "http://example.test/a b"
  header: "X-Quoted: say \"hi\"\tthere"
--header "Y: 1"
-H Z:2
silent
location   # bool options take no value; a comment may follow
output=out.txt
user-agent unquoted value ignored-after-space

`)
	want := []string{"--url", "http://example.test/a b", "--header", "X-Quoted: say \"hi\"\tthere", "--header", "Y: 1",
		"-H", "Z:2", "--silent", "--location", "--output", "out.txt", "--user-agent", "unquoted"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	for _, bad := range []string{"bogus-option x", `header "unclosed`, "silent yes"} {
		if _, err := parseConfig(fs, bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestConfigFile: -K reads options from a file (or standard input) where
// it stands, so that a token need not be on the command line.
func TestConfigFile(t *testing.T) {
	t.Parallel()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.URL.Path + " " + r.Header.Get("Authorization")))
	}))
	t.Cleanup(s.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "secrets.cfg")
	writeFile(t, cfg, "header = \"Authorization: Bearer s3cret\"\nurl = "+s.URL+"/from-config\n")
	r := cli(t, "", "-K", cfg).want(t, 0)
	if r.stdout != "/from-config Bearer s3cret" {
		t.Errorf("got %v", r)
	}
	// From standard input; the command line adds to it.
	r = cli(t, "oauth2-bearer = tok\n", "-s", "--config", "-", s.URL+"/stdin").want(t, 0)
	if r.stdout != "/stdin Bearer tok" {
		t.Errorf("got %v", r)
	}
	// Nested, and a value that reads "-K" is a value.
	inner := filepath.Join(dir, "inner.cfg")
	writeFile(t, inner, "-H \"X: 1\"\n")
	writeFile(t, cfg, "config = "+inner+"\n")
	cli(t, "", "-K", cfg, "-A", "-K", s.URL+"/").want(t, 0)
	// A file that names itself stops.
	writeFile(t, cfg, "config = "+cfg+"\n")
	r = cli(t, "", "-K", cfg, s.URL+"/").want(t, 2)
	if !strings.Contains(r.stderr, "nest more than") {
		t.Errorf("got %v", r)
	}
	cli(t, "", "-K", filepath.Join(dir, "missing"), s.URL+"/").want(t, 2)
	writeFile(t, cfg, "no-such-option\n")
	cli(t, "", "-K", cfg, s.URL+"/").want(t, 2)
}
