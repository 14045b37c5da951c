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
	for _, bad := range []string{"bogus-option x", `header "unclosed`, "silent yes", "K -", "o out", "--o out", "-header x"} {
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

// TestURLQuery: --url-query adds to the URL's query what --data-urlencode
// would send, or with "+" the piece as it is, after the URL's own and -G's.
func TestURLQuery(t *testing.T) {
	t.Parallel()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Method + " " + r.URL.RawQuery))
	}))
	t.Cleanup(s.Close)
	file := filepath.Join(t.TempDir(), "q")
	writeFile(t, file, "from file")
	r := cli(t, "", "--url-query", "name=a b&c", "--url-query", "+raw=1&2", "--url-query", "=only",
		"--url-query", "f@"+file, "-G", "-d", "g=1", s.URL+"/?z=0").want(t, 0)
	if r.stdout != "GET z=0&g=1&name=a+b%26c&raw=1&2&only&f=from+file" {
		t.Errorf("got %q", r.stdout)
	}
	// With -d and no -G, the data stays the body.
	r = cli(t, "", "--url-query", "q=1", "-d", "body", s.URL+"/").want(t, 0)
	if r.stdout != "POST q=1" {
		t.Errorf("got %q", r.stdout)
	}
	cli(t, "", "--url-query", "@-", s.URL+"/a", s.URL+"/b").want(t, 2)
}

// TestStderrFile: --stderr sends the messages to a file, or with "-" to
// standard output.
func TestStderrFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "messages")
	r := cli(t, "", "--stderr", file, closedPort(t)).want(t, 7)
	if r.stderr != "" || !strings.HasPrefix(readFile(t, file), "urlsession: (-1004) ") {
		t.Errorf("got %v, file %q", r, readFile(t, file))
	}
	r = cli(t, "", "--stderr", "-", closedPort(t)).want(t, 7)
	if r.stderr != "" || !strings.HasPrefix(r.stdout, "urlsession: (-1004) ") {
		t.Errorf("got %v", r)
	}
}
