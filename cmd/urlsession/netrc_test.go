package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseNetrc(t *testing.T) {
	t.Parallel()
	entries, err := parseNetrc([]byte(`# a comment
   # an indented comment
machine alpha.test login alice password "a b\"c\\d\te"
machine Beta.Test
	password pw-first
	login bob
machine alpha.test login carol password carol-pw account acct

macdef init
login mallory password macro-pw
machine evil.test login x password y

machine login.test
login "" password
empty
default login anon password anon-pw
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []netrcEntry{
		{machine: "alpha.test", login: "alice", password: "a b\"c\\d\te", hasLogin: true, hasPassword: true},
		{machine: "Beta.Test", login: "bob", password: "pw-first", hasLogin: true, hasPassword: true},
		{machine: "alpha.test", login: "carol", password: "carol-pw", hasLogin: true, hasPassword: true},
		{machine: "login.test", login: "", password: "empty", hasLogin: true, hasPassword: true},
		{isDefault: true, login: "anon", password: "anon-pw", hasLogin: true, hasPassword: true},
	}
	if len(entries) != len(want) {
		t.Fatalf("got %+v", entries)
	}
	for i := range want {
		if entries[i] != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, entries[i], want[i])
		}
	}
	for _, c := range []struct {
		host, login string
		want        credential
		ok          bool
	}{
		{"alpha.test", "", credential{"alice", "a b\"c\\d\te"}, true},
		{"ALPHA.test", "carol", credential{"carol", "carol-pw"}, true},
		{"beta.test", "", credential{"bob", "pw-first"}, true},
		{"evil.test", "", credential{"anon", "anon-pw"}, true}, // in the macro: not an entry
		{"other.test", "", credential{"anon", "anon-pw"}, true},
		{"alpha.test", "nobody", credential{}, false},
		{"other.test", "anon", credential{"anon", "anon-pw"}, true},
	} {
		got, ok := lookupNetrc(entries, c.host, c.login)
		if got != c.want || ok != c.ok {
			t.Errorf("%s %q: got %+v %v, want %+v %v", c.host, c.login, got, ok, c.want, c.ok)
		}
	}

	// A login without a password has an empty one; no default, no entry.
	entries, err = parseNetrc([]byte("machine a.test login solo\r\nmachine b.test\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := lookupNetrc(entries, "a.test", ""); !ok || got != (credential{"solo", ""}) {
		t.Errorf("login only: %+v %v", got, ok)
	}
	if _, ok := lookupNetrc(entries, "b.test", ""); ok {
		t.Error("an entry without login or password")
	}
	if _, ok := lookupNetrc(entries, "c.test", ""); ok {
		t.Error("no default")
	}

	for _, bad := range []string{
		`machine a login "open`,
		`machine a login "ends with a backslash\`,
		"machine a login x password",
		"machine",
		strings.Repeat("#", maxNetrcSize+1),
	} {
		if _, err := parseNetrc([]byte(bad)); err == nil {
			t.Errorf("%.40q: no error", bad)
		}
	}
}

// netrcHosts starts two servers named alpha.test and beta.test (through
// --resolve) and returns them with the --resolve arguments.
func netrcHosts(t *testing.T) (alpha, beta *authServer, resolve []string) {
	t.Helper()
	alpha, beta = newAuthServer(t, false), newAuthServer(t, false)
	for _, s := range []struct {
		name string
		srv  *authServer
	}{{"alpha.test", alpha}, {"beta.test", beta}} {
		u, _ := url.Parse(s.srv.URL)
		resolve = append(resolve, "--resolve", s.name+":"+u.Port()+":127.0.0.1")
	}
	return alpha, beta, resolve
}

// hostURL is s's URL with the host name given.
func hostURL(s *authServer, name, path string) string {
	u, _ := url.Parse(s.URL)
	return "http://" + name + ":" + u.Port() + path
}

const testNetrc = `machine alpha.test login alice password alpha-pw
machine alpha.test login bob password bob-pw
machine beta.test
  login beatrice
  password "beta pw"
default login anon password anon-pw
`

// TestNetrc: -n, --netrc-file and --netrc-optional take the credentials
// of the host's entry, for each host after a redirect; -u wins.
func TestNetrc(t *testing.T) {
	t.Parallel()
	alpha, beta, resolve := netrcHosts(t)
	file := writeNetrc(t, testNetrc)
	run := func(want string, args ...string) {
		t.Helper()
		r := cli(t, "", append(append([]string{}, resolve...), args...)...).want(t, 0)
		if r.stdout != want {
			t.Errorf("%q: got %v, want %q", args, r, want)
		}
	}
	run("alice:alpha-pw", "--netrc-file", file, hostURL(alpha, "alpha.test", "/whoami"))
	wantLog(t, alpha, "GET /whoami "+basicValue("alice", "alpha-pw")) // with the first request
	run("beatrice:beta pw", "--netrc-file", file, hostURL(beta, "beta.test", "/whoami"))
	run("anon:anon-pw", "--netrc-file", file, hostURL(alpha, "127.0.0.1", "/whoami"))
	// -u wins.
	run("u:p", "--netrc-file", file, "-u", "u:p", hostURL(alpha, "alpha.test", "/whoami"))
	// The URL's user picks the entry; its password is ignored, unless
	// --netrc-optional.
	run("bob:bob-pw", "--netrc-file", file, hostURL(alpha, "bob@alpha.test", "/whoami"))
	run("bob:bob-pw", "--netrc-file", file, hostURL(alpha, "bob:url-pw@alpha.test", "/whoami"))
	run("bob:url-pw", "--netrc-file", file, "--netrc-optional", hostURL(alpha, "bob:url-pw@alpha.test", "/whoami"))
	run("bob:bob-pw", "--netrc-file", file, "--netrc-optional", hostURL(alpha, "bob@alpha.test", "/whoami"))
	run("nobody:", "--netrc-file", file, hostURL(alpha, "nobody@alpha.test", "/whoami"))
	alpha.requests()
	beta.requests()

	// Each host gets its own entry after a redirect.
	to := hostURL(alpha, "alpha.test", "/redirect?to="+url.QueryEscape(hostURL(beta, "beta.test", "/whoami")))
	run("beatrice:beta pw", "-L", "--netrc-file", file, to)
	wantLog(t, alpha, "GET /redirect "+basicValue("alice", "alpha-pw"))
	wantLog(t, beta, "GET /whoami "+basicValue("beatrice", "beta pw"))
	// But -u credentials stay with the first host.
	r := cli(t, "", append(append([]string{}, resolve...), "-L", "-n", "--netrc-file", file, "-u", "u:p", "-w", "%{http_code}", to)...).want(t, 0)
	if !strings.HasSuffix(r.stdout, "401") {
		t.Errorf("-u and -n after a redirect: %v", r)
	}

	// Digest takes the entry too.
	r = cli(t, "", append(append([]string{}, resolve...), "--digest",
		"--netrc-file", writeNetrc(t, "machine alpha.test login alice password passwd"),
		hostURL(alpha, "alpha.test", "/digest-auth/auth/alice/passwd/MD5"))...).want(t, 0)
	if !strings.Contains(r.stdout, `"authenticated": true`) || !strings.Contains(r.stdout, `"user": "alice"`) {
		t.Errorf("--digest: %v", r)
	}

	// A file that is missing holds nothing; one that does not parse is
	// curl's 26.
	r = cli(t, "", append(append([]string{}, resolve...), "--netrc-file", filepath.Join(t.TempDir(), "missing"),
		"-w", "%{http_code}", hostURL(alpha, "alpha.test", "/whoami"))...).want(t, 0)
	if !strings.HasSuffix(r.stdout, "401") {
		t.Errorf("missing file: %v", r)
	}
	r = cli(t, "", append(append([]string{}, resolve...), "--netrc-file", writeNetrc(t, `machine alpha.test login "x`),
		hostURL(alpha, "alpha.test", "/whoami"))...).want(t, 26)
	if !strings.HasPrefix(r.stderr, "urlsession: (26) .netrc error: ") {
		t.Errorf("bad file: %q", r.stderr)
	}
}

// TestNetrcHome: -n reads $HOME/.netrc, or $NETRC.
func TestNetrcHome(t *testing.T) {
	t.Parallel()
	alpha, _, resolve := netrcHosts(t)
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".netrc"), testNetrc)
	args := append(append([]string{}, resolve...), "-n", hostURL(alpha, "alpha.test", "/whoami"))
	r := cliProcess(t, home, nil, "", args...).want(t, 0)
	if r.stdout != "alice:alpha-pw" {
		t.Errorf("$HOME/.netrc: %v", r)
	}
	other := writeNetrc(t, "default login other password other-pw")
	r = cliProcess(t, home, []string{"NETRC=" + other}, "", args...).want(t, 0)
	if r.stdout != "other:other-pw" {
		t.Errorf("$NETRC: %v", r)
	}
	// Without -n, no .netrc.
	r = cliProcess(t, home, nil, "", append(append([]string{}, resolve...), "-w", "%{http_code}", hostURL(alpha, "alpha.test", "/whoami"))...).want(t, 0)
	if !strings.HasSuffix(r.stdout, "401") {
		t.Errorf("without -n: %v", r)
	}
}
