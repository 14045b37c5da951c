package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cookieServer answers /echo and /sub/echo with the request's Cookie
// header, and /set?c=LINE&c=LINE&to=URL with those
// Set-Cookie lines, redirecting to URL when given.
func cookieServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(cookieHandler())
	t.Cleanup(s.Close)
	return s
}

func cookieHandler() http.Handler {
	mux := http.NewServeMux()
	echo := func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Join(r.Header.Values("Cookie"), " | "))
	}
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/sub/echo", echo)
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for _, v := range q["c"] {
			w.Header().Add("Set-Cookie", v)
		}
		if to := q.Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		io.WriteString(w, "set")
	})
	return mux
}

// setURL is the /set URL that sets lines and then goes to "to" ("" for
// nowhere).
func setURL(base, to string, lines ...string) string {
	q := url.Values{"c": lines}
	if to != "" {
		q.Set("to", to)
	}
	return base + "/set?" + q.Encode()
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCookieString(t *testing.T) {
	t.Parallel()
	s := cookieServer(t)
	r := cli(t, "", "-b", "a=1; b=2", s.URL+"/echo").want(t, 0)
	if r.stdout != "a=1; b=2" {
		t.Errorf("got %v", r)
	}
	// Repeated strings are joined; -H Cookie wins over them.
	r = cli(t, "", "-b", "a=1", "--cookie", "b=2", s.URL+"/echo").want(t, 0)
	if r.stdout != "a=1; b=2" {
		t.Errorf("got %v", r)
	}
	r = cli(t, "", "-b", "a=1", "-H", "Cookie: h=1", s.URL+"/echo").want(t, 0)
	if r.stdout != "h=1" {
		t.Errorf("got %v", r)
	}
	// A string does not turn the engine on: what the redirect sets is not
	// sent to its target, the string is.
	r = cli(t, "", "-L", "-b", "a=1", setURL(s.URL, "/echo", "x=1")).want(t, 0)
	if r.stdout != "a=1" {
		t.Errorf("got %v", r)
	}
	cli(t, "", "-b", "a=1\r\nX-Evil: 1", s.URL+"/echo").want(t, 2)
}

// TestNoCookieEngine: without -b FILE or -c, cookies are neither kept
// within a run nor between runs, and nothing is written to disk.
func TestNoCookieEngine(t *testing.T) {
	t.Parallel()
	s := cookieServer(t)
	r := cli(t, "", "-L", setURL(s.URL, "/echo", "x=1", "p=2; Max-Age=3600")).want(t, 0)
	if r.stdout != "" {
		t.Errorf("cookies sent after the redirect: %v", r)
	}

	// In processes of their own, with a fresh home: the second run sends
	// nothing, and no file is written.
	home := t.TempDir()
	cliProcess(t, home, nil, "", setURL(s.URL, "", "x=1", "p=2; Max-Age=3600")).want(t, 0)
	r = cliProcess(t, home, nil, "", s.URL+"/echo").want(t, 0)
	if r.stdout != "" {
		t.Errorf("cookies sent by the next run: %v", r)
	}
	// The shared credential storage, which the CLI keeps, creates its
	// (empty) directory; no store writes a file.
	if files, _ := filesUnder(t, home); len(files) > 0 {
		t.Errorf("files written under HOME: %q", files)
	}
}

func TestCookieFile(t *testing.T) {
	t.Parallel()
	s := cookieServer(t)
	tlsSrv := httptest.NewTLSServer(cookieHandler())
	t.Cleanup(tlsSrv.Close)
	dir := t.TempDir()
	file := filepath.Join(dir, "cookies.txt")
	future := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	writeFile(t, file, strings.Join([]string{
		"# Netscape HTTP Cookie File",
		"",
		"127.0.0.1\tFALSE\t/\tFALSE\t0\thost\t1",
		".127.0.0.1\tTRUE\t/\tFALSE\t" + future + "\tdomain\t2", // an IP: host-only
		"example.com\tTRUE\t/\tFALSE\t0\tother\t3",
		"127.0.0.1\tFALSE\t/\tTRUE\t0\tsecure\t4",
		"127.0.0.1\tFALSE\t/\tFALSE\t1000000000\texpired\t5",
		"#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t" + future + "\thttponly\t6",
		"# 127.0.0.1\tFALSE\t/\tFALSE\t0\tcomment\t7",
		"127.0.0.1\tFALSE\t/sub\tFALSE\t0\tpath\t8",
		"Set-Cookie: raw=9",
		"",
	}, "\r\n"))
	r := cli(t, "", "-b", file, s.URL+"/echo").want(t, 0)
	if r.stdout != "host=1; domain=2; httponly=6; raw=9" {
		t.Errorf("http: %v", r)
	}
	r = cli(t, "", "-k", "-b", file, tlsSrv.URL+"/echo").want(t, 0)
	if r.stdout != "host=1; domain=2; secure=4; httponly=6; raw=9" {
		t.Errorf("https: %v", r)
	}
	r = cli(t, "", "-b", file, s.URL+"/sub/echo").want(t, 0)
	if r.stdout != "path=8; host=1; domain=2; httponly=6; raw=9" {
		t.Errorf("/sub: %v", r)
	}
	if r = cli(t, "", "-b", file, "-b", "lit=0", s.URL+"/echo").want(t, 0); r.stdout != "lit=0; host=1; domain=2; httponly=6; raw=9" {
		t.Errorf("file and string: %v", r)
	}

	// Standard input.
	r = cli(t, "127.0.0.1\tFALSE\t/\tFALSE\t0\tstdin\t1\n", "-b", "-", s.URL+"/echo").want(t, 0)
	if r.stdout != "stdin=1" {
		t.Errorf("stdin: %v", r)
	}

	// A missing file (or "") is no cookies, silently, but turns the engine
	// on: the cookie the redirect sets is sent to its target.
	for _, name := range []string{filepath.Join(dir, "missing"), ""} {
		r = cli(t, "", "-L", "-b", name, setURL(s.URL, "/echo", "x=1")).want(t, 0)
		if r.stdout != "x=1" || r.stderr != "" {
			t.Errorf("missing file %q: %v", name, r)
		}
	}
	r = cli(t, "", "-v", "-b", filepath.Join(dir, "missing"), s.URL+"/echo").want(t, 0)
	if !strings.Contains(r.stderr, "* WARNING: failed to read cookie file") {
		t.Errorf("-v: %v", r)
	}
}

// TestCookieFileDomains checks domain matching with real host names: the
// command runs in a process of its own whose http_proxy is a loopback
// server that answers for every host.
func TestCookieFileDomains(t *testing.T) {
	t.Parallel()
	proxy := httptest.NewServer(cookieHandler())
	t.Cleanup(proxy.Close)
	dir := t.TempDir()
	file := filepath.Join(dir, "cookies.txt")
	jar := filepath.Join(dir, "jar.txt")
	writeFile(t, file, strings.Join([]string{
		".example.test\tTRUE\t/\tFALSE\t0\tdomain\t1",
		"example.test\tFALSE\t/\tFALSE\t0\tapex\t2",
		"www.example.test\tFALSE\t/\tFALSE\t0\twww\t3",
		"a.www.example.test\tFALSE\t/\tFALSE\t0\tsub\t4",
		".other.test\tTRUE\t/\tFALSE\t0\tother\t5",
		"Set-Cookie: sc=6; Domain=example.test",
		"Set-Cookie: target=7",
	}, "\n"))
	env := []string{"http_proxy=" + proxy.URL, "NO_PROXY="}
	home := t.TempDir()
	r := cliProcess(t, home, env, "", "-b", file, "http://www.example.test/echo").want(t, 0)
	if r.stdout != "domain=1; www=3; sc=6; target=7" {
		t.Errorf("www: %v", r)
	}
	r = cliProcess(t, home, env, "", "-b", file, "http://example.test/echo").want(t, 0)
	if r.stdout != "domain=1; apex=2; sc=6; target=7" { // target=7: this run's host
		t.Errorf("apex: %v", r)
	}
	// A domain cookie set by the server is written with TRUE and a dot.
	cliProcess(t, home, env, "", "-c", jar, setURL("http://www.example.test", "", "d=1; Domain=example.test", "h=2")).want(t, 0)
	got := readFile(t, jar)
	for _, want := range []string{
		"\n.example.test\tTRUE\t/\tFALSE\t0\td\t1\n",
		"\nwww.example.test\tFALSE\t/\tFALSE\t0\th\t2\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("jar lacks %q:\n%s", want, got)
		}
	}
	r = cliProcess(t, home, env, "", "-b", jar, "http://a.example.test/echo").want(t, 0)
	if r.stdout != "d=1" {
		t.Errorf("jar: %v", r)
	}
}

func TestCookieJar(t *testing.T) {
	t.Parallel()
	s := cookieServer(t)
	dir := t.TempDir()
	jar := filepath.Join(dir, "jar.txt")
	// The first hop sets a persistent cookie and an HttpOnly one, the
	// second a session cookie.
	u := setURL(s.URL, setURL("", "", "s=3"), "p=1; Max-Age=3600", "h=2; HttpOnly; Path=/")
	r := cli(t, "", "-L", "-c", jar, u).want(t, 0)
	if r.stdout != "set" || r.stderr != "" {
		t.Errorf("got %v", r)
	}
	got := readFile(t, jar)
	if !strings.HasPrefix(got, "# Netscape HTTP Cookie File\n# https://curl.se/docs/http-cookies.html\n") {
		t.Errorf("header:\n%s", got)
	}
	lines := strings.Split(strings.TrimSuffix(strings.SplitN(got, "\n\n", 2)[1], "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 cookies:\n%s", got)
	}
	f := strings.Split(lines[0], "\t")
	exp, _ := strconv.ParseInt(f[4], 10, 64)
	if strings.Join(append(f[:4:4], f[5:]...), " ") != "127.0.0.1 FALSE / FALSE p 1" ||
		exp < time.Now().Add(59*time.Minute).Unix() || exp > time.Now().Add(61*time.Minute).Unix() {
		t.Errorf("persistent cookie: %q", lines[0])
	}
	if lines[1] != "#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\th\t2" || lines[2] != "127.0.0.1\tFALSE\t/\tFALSE\t0\ts\t3" {
		t.Errorf("cookies:\n%s", got)
	}
	if fi, err := os.Stat(jar); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	// -b reads it back.
	r = cli(t, "", "-b", jar, s.URL+"/echo").want(t, 0)
	if r.stdout != "p=1; h=2; s=3" {
		t.Errorf("read back: %v", r)
	}

	// "-" is standard output, after the body and -w.
	r = cli(t, "", "-c", "-", "-w", "[%{http_code}]", setURL(s.URL, "", "a=1")).want(t, 0)
	if r.stdout != "set[200]"+cookieFileHeader+"127.0.0.1\tFALSE\t/\tFALSE\t0\ta\t1\n" {
		t.Errorf("stdout: %q", r.stdout)
	}

	// A failed transfer still writes the jar, with what -b loaded.
	jar2 := filepath.Join(dir, "jar2.txt")
	writeFile(t, jar2, "127.0.0.1\tFALSE\t/\tFALSE\t0\tkept\t1\n")
	cli(t, "", "-b", jar2, "-c", jar2, closedPort(t)).want(t, 7)
	if got := readFile(t, jar2); got != cookieFileHeader+"127.0.0.1\tFALSE\t/\tFALSE\t0\tkept\t1\n" {
		t.Errorf("after a failure:\n%s", got)
	}
	// So does -f.
	jar3 := filepath.Join(dir, "jar3.txt")
	cli(t, "", "-f", "-c", jar3, s.URL+"/missing").want(t, 22)
	if got := readFile(t, jar3); got != cookieFileHeader {
		t.Errorf("empty jar:\n%q", got)
	}

	// A jar that cannot be written is a warning; the status is the
	// transfer's.
	bad := filepath.Join(dir, "missing", "jar.txt")
	r = cli(t, "", "-c", bad, setURL(s.URL, "", "a=1")).want(t, 0)
	if r.stdout != "set" || !strings.HasPrefix(r.stderr, "urlsession: WARNING: failed to save cookies in "+bad) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("got %v", r)
	}
	r = cli(t, "", "-s", "-c", bad, setURL(s.URL, "", "a=1")).want(t, 0)
	if r.stderr != "" {
		t.Errorf("-s: %v", r)
	}
	cli(t, "", "-c", bad, closedPort(t)).want(t, 7)
	if files, _ := filesUnder(t, dir); len(files) != 3 {
		t.Errorf("files: %q", files)
	}
}

// TestCookieRoundTrip: -b FILE -c FILE keeps the file up to date, as a
// browser session would, including deletions.
func TestCookieRoundTrip(t *testing.T) {
	t.Parallel()
	s := cookieServer(t)
	jar := filepath.Join(t.TempDir(), "jar.txt")
	writeFile(t, jar, "127.0.0.1\tFALSE\t/\tFALSE\t0\told\t1\n127.0.0.1\tFALSE\t/\tFALSE\t0\tgone\t2\n")
	cli(t, "", "-L", "-b", jar, "-c", jar, setURL(s.URL, "/echo", "new=3", "gone=; Max-Age=0")).want(t, 0)
	if got := readFile(t, jar); got != cookieFileHeader+
		"127.0.0.1\tFALSE\t/\tFALSE\t0\told\t1\n127.0.0.1\tFALSE\t/\tFALSE\t0\tnew\t3\n" {
		t.Errorf("jar:\n%s", got)
	}
	r := cli(t, "", "-b", jar, "-c", jar, s.URL+"/echo").want(t, 0)
	if r.stdout != "old=1; new=3" {
		t.Errorf("got %v", r)
	}
	// Unchanged by a run that sets nothing.
	if got := readFile(t, jar); !strings.HasSuffix(got, "\told\t1\n127.0.0.1\tFALSE\t/\tFALSE\t0\tnew\t3\n") {
		t.Errorf("jar:\n%s", got)
	}
}

// TestCookieJarConcurrentRuns: runs writing the same jar never leave a
// torn file (each writes it whole under a lock).
func TestCookieJarConcurrentRuns(t *testing.T) {
	t.Parallel()
	s := cookieServer(t)
	jar := filepath.Join(t.TempDir(), "jar.txt")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			// Values of different lengths, so that a torn file shows.
			cli(t, "", "-b", jar, "-c", jar, setURL(s.URL, "", "n"+strconv.Itoa(i)+"="+strings.Repeat("v", 1+i*300)))
		})
	}
	wg.Wait()
	got := readFile(t, jar)
	if !strings.HasPrefix(got, cookieFileHeader) {
		t.Fatalf("jar:\n%s", got)
	}
	// Each run kept what the one before wrote: every line is a whole
	// cookie.
	lines := strings.Split(strings.TrimSuffix(strings.TrimPrefix(got, cookieFileHeader), "\n"), "\n")
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 7 || len(f[5]) != 2 || f[6] != strings.Repeat("v", 1+int(f[5][1]-'0')*300) {
			t.Errorf("torn line %q", l)
		}
	}
	if len(lines) == 0 || len(lines) > 8 {
		t.Errorf("%d lines", len(lines))
	}
}

func TestCookieCacheOptions(t *testing.T) {
	t.Parallel()
	o, err := parseArgs([]string{"-sb", "a=1", "--cookie", "f1", "-bf2", "-c", "jar", "--cache", "--ephemeral", "u"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.silent || strings.Join(o.cookies, ",") != "a=1,f1,f2" || o.cookieJar != "jar" || !o.cache || !o.ephemeral ||
		o.cookieString() != "a=1" || strings.Join(o.cookieFiles(), ",") != "f1,f2" || !o.cookieEngine() {
		t.Errorf("got %+v", o)
	}
	for _, c := range []struct {
		args   []string
		engine bool
	}{
		{[]string{"u"}, false},
		{[]string{"-b", "a=1; b=2", "u"}, false},
		{[]string{"-b", "file", "u"}, true},
		{[]string{"-b", "", "u"}, true},
		{[]string{"--cookie-jar", "-", "u"}, true},
		{[]string{"--cache", "--ephemeral", "u"}, false},
	} {
		o, err := parseArgs(c.args)
		if err != nil || o.cookieEngine() != c.engine {
			t.Errorf("%q: engine %v, %v", c.args, o != nil && o.cookieEngine(), err)
		}
	}
	help := cli(t, "", "--help").want(t, 0).stdout
	for _, flag := range []string{"-b, --cookie DATA|FILE", "-c, --cookie-jar FILE", "--cache", "--ephemeral"} {
		if !strings.Contains(help, flag) {
			t.Errorf("help lacks %q", flag)
		}
	}
}
