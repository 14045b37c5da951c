package main

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/cookiestore"
)

var fileNow = time.Unix(1_700_000_000, 0).UTC()

func TestParseCookieFile(t *testing.T) {
	t.Parallel()
	future := time.Unix(1_800_000_000, 0).UTC()
	for _, c := range []struct {
		name      string
		in        string
		want      []*http.Cookie
		setCookie []string
	}{
		{"empty", "", nil, nil},
		{"header only", cookieFileHeader, nil, nil},
		{"host-only session", "example.com\tFALSE\t/\tFALSE\t0\tn\tv\n",
			[]*http.Cookie{{Name: "n", Value: "v", Domain: "example.com", Path: "/"}}, nil},
		{"domain cookie", ".example.com\tTRUE\t/p\tTRUE\t1800000000\tn\tv",
			[]*http.Cookie{{Name: "n", Value: "v", Domain: ".example.com", Path: "/p", Secure: true, Expires: future}}, nil},
		{"domain without dot", "example.com\tTRUE\t/\tFALSE\t0\tn\tv",
			[]*http.Cookie{{Name: "n", Value: "v", Domain: ".example.com", Path: "/"}}, nil},
		{"dot but FALSE is host-only", ".example.com\tFALSE\t/\tFALSE\t0\tn\tv",
			[]*http.Cookie{{Name: "n", Value: "v", Domain: "example.com", Path: "/"}}, nil},
		{"lower-case booleans", "example.com\ttrue\t/\ttrue\t0\tn\tv",
			[]*http.Cookie{{Name: "n", Value: "v", Domain: ".example.com", Path: "/", Secure: true}}, nil},
		{"HttpOnly", "#HttpOnly_.example.com\tTRUE\t/\tFALSE\t0\tn\tv\r\n",
			[]*http.Cookie{{Name: "n", Value: "v", Domain: ".example.com", Path: "/", HttpOnly: true}}, nil},
		{"comments and blank lines", "# Netscape HTTP Cookie File\n\n#example.com\tFALSE\t/\tFALSE\t0\tn\tv\n  \n", nil, nil},
		{"expired", "example.com\tFALSE\t/\tFALSE\t1600000000\tn\tv\nexample.com\tFALSE\t/\tFALSE\t1700000000\tm\tv\n", nil, nil},
		{"bad expiry", "example.com\tFALSE\t/\tFALSE\tsoon\tn\tv\nexample.com\tFALSE\t/\tFALSE\t-5\tn\tv\n", nil, nil},
		{"huge expiry is clamped", "example.com\tFALSE\t/\tFALSE\t99999999999999\tn\tv",
			[]*http.Cookie{{Name: "n", Value: "v", Domain: "example.com", Path: "/", Expires: time.Unix(maxCookieExpiry, 0).UTC()}}, nil},
		{"no value", "example.com\tFALSE\t/\tFALSE\t0\tn",
			[]*http.Cookie{{Name: "n", Domain: "example.com", Path: "/"}}, nil},
		{"empty value", "example.com\tFALSE\t/\tFALSE\t0\tn\t",
			[]*http.Cookie{{Name: "n", Domain: "example.com", Path: "/"}}, nil},
		{"no path field", "example.com\tFALSE\tTRUE\t0\tn\tv",
			[]*http.Cookie{{Name: "n", Value: "v", Domain: "example.com", Path: "/", Secure: true}}, nil},
		{"relative path", "example.com\tFALSE\tp\tFALSE\t0\tn\tv",
			[]*http.Cookie{{Name: "n", Value: "v", Domain: "example.com", Path: "/"}}, nil},
		{"value with spaces and =", "example.com\tFALSE\t/\tFALSE\t0\tn\ta b=c",
			[]*http.Cookie{{Name: "n", Value: "a b=c", Domain: "example.com", Path: "/"}}, nil},
		{"too few fields", "example.com\tFALSE\t/\tFALSE\n", nil, nil},
		{"too many fields", "example.com\tFALSE\t/\tFALSE\t0\tn\tv\textra\n", nil, nil},
		{"no domain", "\tFALSE\t/\tFALSE\t0\tn\tv\n.\tTRUE\t/\tFALSE\t0\tn\tv\n", nil, nil},
		{"Set-Cookie lines", "Set-Cookie: a=1; Path=/\n  set-cookie:b=2\nSet-Cookie:   \n", nil,
			[]string{"a=1; Path=/", "b=2"}},
		{"mixed, no final newline", "a.test\tFALSE\t/\tFALSE\t0\tx\t1\nSet-Cookie: y=2\n#HttpOnly_b.test\tFALSE\t/\tFALSE\t0\tz\t3",
			[]*http.Cookie{
				{Name: "x", Value: "1", Domain: "a.test", Path: "/"},
				{Name: "z", Value: "3", Domain: "b.test", Path: "/", HttpOnly: true},
			}, []string{"y=2"}},
	} {
		got := parseCookieFile([]byte(c.in), fileNow)
		if !reflect.DeepEqual(got.cookies, c.want) {
			t.Errorf("%s: cookies\n got %s\nwant %s", c.name, dumpCookies(got.cookies), dumpCookies(c.want))
		}
		if !reflect.DeepEqual(got.setCookie, c.setCookie) {
			t.Errorf("%s: Set-Cookie lines %q, want %q", c.name, got.setCookie, c.setCookie)
		}
	}
}

func dumpCookies(cs []*http.Cookie) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString("\n  ")
		b.WriteString(strings.Join([]string{c.Name, c.Value, c.Domain, c.Path, c.Expires.String()}, " "))
		if c.Secure {
			b.WriteString(" Secure")
		}
		if c.HttpOnly {
			b.WriteString(" HttpOnly")
		}
	}
	return b.String()
}

func TestWriteCookieFile(t *testing.T) {
	t.Parallel()
	future := time.Unix(1_800_000_000, 0).UTC()
	var b bytes.Buffer
	err := writeCookieFile(&b, []*http.Cookie{
		{Name: "host", Value: "1", Domain: "example.com", Path: "/"},
		{Name: "dom", Value: "2", Domain: ".example.com", Path: "/p", Secure: true, Expires: future},
		{Name: "ho", Value: "3", Domain: "127.0.0.1", Path: "", HttpOnly: true},
		{Name: "q", Value: "4 5", Quoted: true, Domain: "example.com", Path: "/"},
		{Name: "old", Value: "x", Domain: "example.com", Path: "/", Expires: fileNow},
		{Name: "tab", Value: "a\tb", Domain: "example.com", Path: "/"},
		{Name: "nodomain", Value: "x", Path: "/"},
		nil,
	}, fileNow)
	if err != nil {
		t.Fatal(err)
	}
	want := cookieFileHeader +
		"example.com\tFALSE\t/\tFALSE\t0\thost\t1\n" +
		".example.com\tTRUE\t/p\tTRUE\t1800000000\tdom\t2\n" +
		"#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tho\t3\n" +
		"example.com\tFALSE\t/\tFALSE\t0\tq\t\"4 5\"\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if !strings.HasPrefix(want, "# Netscape HTTP Cookie File\n") {
		t.Error("curl's first line")
	}
	// An empty jar is the header alone.
	b.Reset()
	writeCookieFile(&b, nil, fileNow)
	if b.String() != cookieFileHeader {
		t.Errorf("empty: %q", b.String())
	}
}

// TestCookieFileStoreRoundTrip loads a file into a store, writes the
// store back and reads that again: the same cookies, which the store
// sends where the file says.
func TestCookieFileStoreRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Now()
	exp := now.Add(time.Hour).Unix()
	in := strings.Join([]string{
		"www.example.com\tFALSE\t/\tFALSE\t0\thost\t1",
		".example.com\tTRUE\t/\tFALSE\t" + itoa(exp) + "\tdom\t2",
		"example.com\tFALSE\t/\tFALSE\t0\tapex\t3",
		"#HttpOnly_www.example.com\tFALSE\t/\tTRUE\t0\tsec\t4",
		"www.example.com\tFALSE\t/a\tFALSE\t0\tpath\t5",
		"www.example.com\tFALSE\t/\tFALSE\t1\texpired\t6",
		"localhost\tTRUE\t/\tFALSE\t0\tlocal\t7", // a public suffix: host-only
		".127.0.0.1\tTRUE\t/\tFALSE\t0\tip\t8",   // an IP address: host-only
		"Set-Cookie: raw=9; Domain=example.com",
		"Set-Cookie: target=10; Secure",
		"Set-Cookie: bad=11; Domain=other.test; Domain=",
	}, "\n")
	load := func(data string) *cookiestore.Store {
		s, err := cookiestore.New(cookiestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		parseCookieFile([]byte(data), now).load(s, &url.URL{Scheme: "http", Host: "target.test:8080", Path: "/x/y"})
		return s
	}
	check := func(s *cookiestore.Store) {
		t.Helper()
		for u, want := range map[string]string{
			"http://www.example.com/":    "host=1; dom=2; raw=9",
			"https://www.example.com/a/": "path=5; host=1; dom=2; sec=4; raw=9",
			"http://example.com/":        "dom=2; apex=3; raw=9",
			"http://a.www.example.com/":  "dom=2; raw=9",
			"http://localhost/":          "local=7",
			"http://a.localhost/":        "",
			"http://127.0.0.1:1234/":     "ip=8",
			"https://target.test/":       "target=10",
			"http://target.test/":        "",
			"http://other.test/":         "bad=11",
		} {
			pu, _ := url.Parse(u)
			if got := s.CookieHeader(pu); got != want {
				t.Errorf("%s: Cookie %q, want %q", u, got, want)
			}
		}
	}
	s := load(in)
	check(s)
	var b bytes.Buffer
	if err := writeCookieFile(&b, s.AllCookies(), now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#HttpOnly_www.example.com\tFALSE\t/\tTRUE\t0\tsec\t4\n",
		".example.com\tTRUE\t/\tFALSE\t" + itoa(exp) + "\tdom\t2\n",
		".example.com\tTRUE\t/\tFALSE\t0\traw\t9\n",
		"target.test\tFALSE\t/\tTRUE\t0\ttarget\t10\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("written file lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "expired") {
		t.Errorf("expired cookie written:\n%s", b.String())
	}
	s2 := load(b.String())
	check(s2)
	if a, b := s.AllCookies(), s2.AllCookies(); len(a) != len(b) {
		t.Errorf("%d cookies, then %d", len(a), len(b))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestSaveCookieFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "jar")
	cookies := []*http.Cookie{{Name: "n", Value: "v", Domain: "example.com", Path: "/"}}
	if err := os.WriteFile(name, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := saveCookieFile(name, nil, cookies, fileNow); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(name)
	if err != nil || string(got) != cookieFileHeader+"example.com\tFALSE\t/\tFALSE\t0\tn\tv\n" {
		t.Errorf("file %q, %v", got, err)
	}
	// An existing file keeps its mode; a new one is private.
	if fi, err := os.Stat(name); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644) {
		t.Errorf("mode: %v, %v", fi.Mode(), err)
	}
	if files, _ := filesUnder(t, dir); len(files) != 1 {
		t.Errorf("files: %q", files)
	}
	fresh := filepath.Join(dir, "fresh")
	if err := saveCookieFile(fresh, nil, cookies, fileNow); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(fresh); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("mode of a new file: %v, %v", fi.Mode(), err)
	}
	os.Remove(fresh)
	// "-" is the writer.
	var b bytes.Buffer
	if err := saveCookieFile("-", &b, cookies, fileNow); err != nil || !strings.HasSuffix(b.String(), "\tn\tv\n") {
		t.Errorf("stdout: %q, %v", b.String(), err)
	}
	// Failures: no such directory, a directory; nothing left behind.
	if err := saveCookieFile(filepath.Join(dir, "no", "jar"), nil, cookies, fileNow); err == nil {
		t.Error("missing directory: no error")
	}
	if err := saveCookieFile(dir, nil, cookies, fileNow); err == nil {
		t.Error("directory: no error")
	}
	if files, _ := filesUnder(t, dir); len(files) != 1 {
		t.Errorf("files: %q", files)
	}
}

// FuzzParseCookieFile checks that reading any file neither panics nor
// yields cookies a store or the writer cannot take, and that what the
// writer writes reads back the same.
func FuzzParseCookieFile(f *testing.F) {
	for _, s := range []string{
		"",
		cookieFileHeader + "example.com\tFALSE\t/\tFALSE\t0\tn\tv\n",
		"#HttpOnly_.example.com\tTRUE\t/p\tTRUE\t1800000000\tn\tv\r\n",
		"example.com\tFALSE\tTRUE\t0\tn\n",
		"Set-Cookie: a=1; Domain=example.com; Path=/x\n",
		"set-cookie:\t\t\n#\n\t\t\t\t\t\t\n",
		"127.0.0.1\tTRUE\t/\tFALSE\t99999999999999999999\tn\tv",
		".\tTRUE\t\t\t\t\t",
	} {
		f.Add([]byte(s))
	}
	target := &url.URL{Scheme: "http", Host: "target.test", Path: "/"}
	f.Fuzz(func(t *testing.T, data []byte) {
		cf := parseCookieFile(data, fileNow)
		for _, c := range cf.cookies {
			if c == nil || c.Domain == "" || c.Domain == "." || !strings.HasPrefix(c.Path, "/") {
				t.Fatalf("bad cookie %#v", c)
			}
			if !c.Expires.IsZero() && !c.Expires.After(fileNow) {
				t.Fatalf("expired cookie %#v", c)
			}
		}
		s, err := cookiestore.New(cookiestore.Options{Now: func() time.Time { return fileNow }})
		if err != nil {
			t.Fatal(err)
		}
		cf.load(s, target)
		all := s.AllCookies()
		var b bytes.Buffer
		if err := writeCookieFile(&b, all, fileNow); err != nil {
			t.Fatal(err)
		}
		again := parseCookieFile(b.Bytes(), fileNow)
		if len(again.setCookie) != 0 {
			t.Fatalf("the writer wrote a Set-Cookie line:\n%s", b.String())
		}
		// Every cookie the writer could write reads back as written.
		var b2 bytes.Buffer
		writeCookieFile(&b2, again.cookies, fileNow)
		if b.String() != b2.String() {
			t.Fatalf("rewritten file differs:\n%s\n---\n%s", b.String(), b2.String())
		}
	})
}
