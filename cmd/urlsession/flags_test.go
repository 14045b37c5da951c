package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// echoServer answers every request with one line, "METHOD URI
// Content-Type [transfer codings]", and the request body after it.
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %v\n%s", r.Method, r.RequestURI, r.Header.Get("Content-Type"), r.TransferEncoding, body)
	}))
	t.Cleanup(s.Close)
	return s
}

// rangeServer serves /file, 1000 bytes of PatternBytes, honouring Range
// as net/http does.
func rangeServer(t *testing.T) *httptest.Server {
	t.Helper()
	content := bytes.Repeat([]byte("0123456789"), 100)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "file", time.Unix(1e9, 0), bytes.NewReader(content))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestRange(t *testing.T) {
	t.Parallel()
	s := rangeServer(t)
	r := cli(t, "", "-r", "10-14", "-w", " %{http_code}", s.URL+"/file").want(t, 0)
	if r.stdout != "01234 206" {
		t.Errorf("-r 10-14: %q", r.stdout)
	}
	r = cli(t, "", "--range", "-3", s.URL+"/file").want(t, 0)
	if r.stdout != "789" {
		t.Errorf("--range -3: %q", r.stdout)
	}
	c := capitals(t)
	if h := requestHeaders(t, c, "-r", "0-1,5-"); h["Range"] != "bytes=0-1,5-" {
		t.Errorf("Range: %q", h["Range"])
	}
	cli(t, "", "-r", "1-2\r\nX: y", c.URL).want(t, 2)
}

func TestReferer(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	if h := requestHeaders(t, s, "-e", "http://from.test/page"); h["Referer"] != "http://from.test/page" {
		t.Errorf("-e: %q", h["Referer"])
	}
	// ";auto" sets the Referer of each redirect to the URL it came from.
	r := cli(t, "", "-L", "--referer", "http://from.test/;auto", s.URL+"/302?location=/requestHeaders").want(t, 0)
	if !strings.Contains(r.stdout, `"Referer":"`+s.URL+`/302?location=/requestHeaders"`) {
		t.Errorf(";auto: %s", r.stdout)
	}
	r = cli(t, "", "-e", ";auto", s.URL+"/requestHeaders").want(t, 0)
	if strings.Contains(r.stdout, "Referer") {
		t.Errorf(";auto alone: %s", r.stdout)
	}
}

func TestURLFlag(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	r := cli(t, "", "--url", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" {
		t.Errorf("got %v", r)
	}
	// --url and a URL: two URLs, --url's first, as curl.
	r = cli(t, "", s.URL+"/Peru", "--url", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "KathmanduLima" {
		t.Errorf("got %v", r)
	}
}

func TestFailWithBody(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	r := cli(t, "", "--fail-with-body", s.URL+"/nowhere").want(t, 22)
	if r.stdout != "404 page not found\n" || r.stderr != "urlsession: (22) the requested URL returned error: 404 Not Found\n" {
		t.Errorf("got %v", r)
	}
	r = cli(t, "", "--fail-with-body", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" {
		t.Errorf("got %v", r)
	}
	out := filepath.Join(t.TempDir(), "out")
	cli(t, "", "--fail-with-body", "-o", out, s.URL+"/nowhere").want(t, 22)
	if got := readFile(t, out); got != "404 page not found\n" {
		t.Errorf("-o: %q", got)
	}
	// As with curl, it cannot be combined with -f.
	cli(t, "", "-f", "--fail-with-body", s.URL+"/Nepal").want(t, 2)
}

// TestUploadFile: -T sends a file (or standard input) with PUT, and names
// the file in a URL that ends with "/" or has no path, as curl does.
func TestUploadFile(t *testing.T) {
	t.Parallel()
	s := echoServer(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "na me.txt")
	writeFile(t, file, "file body")
	for _, c := range []struct {
		args []string
		url  string
		want string
	}{
		{[]string{"-T", file}, "/up/", "PUT /up/na%20me.txt  []\nfile body"},
		{[]string{"-T", file}, "", "PUT /na%20me.txt  []\nfile body"},
		{[]string{"-T", file}, "/up/?q=1", "PUT /up/na%20me.txt?q=1  []\nfile body"},
		{[]string{"--upload-file", file}, "/x", "PUT /x  []\nfile body"},
		{[]string{"-T", file, "-X", "POST", "-H", "Content-Type: text/plain"}, "/x", "POST /x text/plain []\nfile body"},
	} {
		r := cli(t, "", append(c.args, s.URL+c.url)...).want(t, 0)
		if r.stdout != c.want {
			t.Errorf("%q %s: got %q, want %q", c.args, c.url, r.stdout, c.want)
		}
	}
	// Standard input is streamed, chunked; the URL is left as it is.
	r := cli(t, "from stdin", "-T", "-", s.URL+"/up/").want(t, 0)
	if r.stdout != "PUT /up/  [chunked]\nfrom stdin" {
		t.Errorf("-T -: %q", r.stdout)
	}
	// Standard input cannot be sent twice: a redirect that keeps the body
	// is curl's 65; one that drops it is followed.
	c := capitals(t)
	r = cli(t, "stdin", "-L", "-T", "-", c.URL+"/307?location=/upload").want(t, 65)
	if !strings.HasPrefix(r.stderr, "urlsession: (-1021) ") {
		t.Errorf("stderr: %q", r.stderr)
	}
	r = cli(t, "stdin", "-L", "-T", "-", c.URL+"/303?location=/jsonBody").want(t, 0)
	if j := decodeJSONBody(t, r.stdout); j.URI != "GET /jsonBody HTTP/1.1" {
		t.Errorf("303: %+v", j)
	}
	// A file is sent again.
	r = cli(t, "", "-L", "-T", file, c.URL+"/307?location=/upload").want(t, 0)
	if r.stdout != "upload: 9 bytes" {
		t.Errorf("file after a 307: %q", r.stdout)
	}
	// A file that cannot be read is curl's 26; -T excludes -d and -F.
	cli(t, "", "-T", filepath.Join(dir, "missing"), s.URL+"/x").want(t, 26)
	cli(t, "", "-T", file, "-d", "x", s.URL+"/x").want(t, 2)
	if _, err := os.Stat(file); err != nil {
		t.Error(err)
	}
}

// formServer answers a multipart/form-data POST with one line per part,
// "name filename content-type: content", in order.
func formServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, fmt.Sprintf("%s %s: %v", r.Method, r.Header.Get("Content-Type"), err), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s %d\n", r.Method, r.ContentLength)
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			fmt.Fprintf(w, "%s %s %s: %s\n", p.FormName(), p.FileName(), p.Header.Get("Content-Type"), b)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func TestForm(t *testing.T) {
	t.Parallel()
	s := formServer(t)
	dir := t.TempDir()
	txt, bin := filepath.Join(dir, "notes.txt"), filepath.Join(dir, "data.bin")
	writeFile(t, txt, "line 1\nline 2\n")
	writeFile(t, bin, "\x00\x01")
	r := cli(t, "stdin data",
		"-F", "plain=hello world",
		"-F", "upload=@"+txt,
		"-F", "blob=@"+bin+";type=application/x-thing;filename=renamed.bin",
		"--form", "content=<"+txt,
		"-F", `quoted="a;b"`,
		"-F", "typed=hi;type=text/x-hi",
		"-F", "in=<-",
		"--form-string", "literal=@not-a-file;type=x",
		s.URL+"/").want(t, 0)
	want := "plain  : hello world\n" +
		"upload notes.txt text/plain: line 1\nline 2\n\n" +
		"blob renamed.bin application/x-thing: \x00\x01\n" +
		"content  : line 1\nline 2\n\n" +
		"quoted  : a;b\n" +
		"typed  text/x-hi: hi\n" +
		"in  : stdin data\n" +
		"literal  : @not-a-file;type=x\n"
	first, rest, _ := strings.Cut(r.stdout, "\n")
	if rest != want {
		t.Errorf("got:\n%s\nwant:\n%s", rest, want)
	}
	if !strings.HasPrefix(first, "POST ") || first == "POST -1" {
		t.Errorf("want a POST with a length: %q", first)
	}
	// A missing file is curl's 26; -F excludes -d.
	cli(t, "", "-F", "f=@"+filepath.Join(dir, "missing"), s.URL+"/").want(t, 26)
	cli(t, "", "-F", "a=1", "-d", "b=2", s.URL+"/").want(t, 2)
	cli(t, "", "-F", "no-equals", s.URL+"/").want(t, 2)
}

func TestParseFormArg(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want formPart
		warn string
	}{
		{"a=b", formPart{name: "a", content: "b"}, ""},
		{"a=", formPart{name: "a"}, ""},
		{"a=b=c", formPart{name: "a", content: "b=c"}, ""},
		{"a=x;y", formPart{name: "a", content: "x"}, "skip unknown form field: y"},
		{`a="x;y";type=t`, formPart{name: "a", content: "x;y", contentType: "t"}, ""},
		{`a="q\"\\"`, formPart{name: "a", content: `q"\`}, ""},
		{`a="open`, formPart{name: "a", content: "open"}, ""},
		{"f=@dir/file.png", formPart{name: "f", content: "dir/file.png", upload: true, filename: "file.png"}, ""},
		{`f=@"a;b.txt";filename="c d"`, formPart{name: "f", content: "a;b.txt", upload: true, filename: "c d"}, ""},
		{"f=<in; type=text/x", formPart{name: "f", content: "in", fromFile: true, contentType: "text/x"}, ""},
	} {
		p, warnings, err := parseFormArg(formArg{value: c.in})
		if err != nil || p != c.want || strings.Join(warnings, "|") != c.warn {
			t.Errorf("%q: got %+v %q %v, want %+v %q", c.in, p, warnings, err, c.want, c.warn)
		}
	}
	for _, bad := range []string{"", "x", "=v"} {
		if _, _, err := parseFormArg(formArg{value: bad}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestDataForms(t *testing.T) {
	t.Parallel()
	s := echoServer(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "in")
	writeFile(t, file, "x y\n")
	const form = "application/x-www-form-urlencoded"
	for _, c := range []struct {
		args []string
		want string
	}{
		// --data-urlencode, in curl's five forms, joined with & to -d.
		{[]string{"--data-urlencode", "hello world/é"}, "POST /x " + form + " []\nhello+world%2F%C3%A9"},
		{[]string{"--data-urlencode", "=a&b=c"}, "POST /x " + form + " []\na%26b%3Dc"},
		{[]string{"--data-urlencode", "name=a b&c", "-d", "z=1"}, "POST /x " + form + " []\nname=a+b%26c&z=1"},
		{[]string{"--data-urlencode", "@" + file}, "POST /x " + form + " []\nx+y%0A"},
		{[]string{"--data-urlencode", "n@" + file}, "POST /x " + form + " []\nn=x+y%0A"},
		// --data-raw takes @ as it is.
		{[]string{"--data-raw", "@" + file}, "POST /x " + form + " []\n@" + file},
		// --data-ascii is -d.
		{[]string{"--data-ascii", "@" + file}, "POST /x " + form + " []\nx y"},
		// --json: pieces concatenated, JSON types.
		{[]string{"--json", `{"a":`, "--json", "1}"}, "POST /x application/json []\n{\"a\":1}"},
		{[]string{"--json", "@" + file}, "POST /x application/json []\nx y\n"},
		{[]string{"--json", "[]", "-H", "Content-Type: text/x"}, "POST /x text/x []\n[]"},
		// -G puts the data in the query and sends GET.
		{[]string{"-G", "-d", "a=1", "--data-urlencode", "b=c d"}, "GET /x?a=1&b=c+d  []\n"},
		{[]string{"--get", "-d", "a=1", "-X", "DELETE"}, "DELETE /x?a=1  []\n"},
	} {
		r := cli(t, "", append(c.args, s.URL+"/x")...).want(t, 0)
		if r.stdout != c.want {
			t.Errorf("%q: got %q, want %q", c.args, r.stdout, c.want)
		}
	}
	r := cli(t, "", "-G", "-d", "a=1", s.URL+"/x?q=0").want(t, 0)
	if r.stdout != "GET /x?q=0&a=1  []\n" {
		t.Errorf("-G with a query: %q", r.stdout)
	}
	// --json asks for JSON too, unless -H says otherwise.
	c := capitals(t)
	if h := requestHeaders(t, c, "--json", "{}"); h["Accept"] != "application/json" || h["Content-Type"] != "application/json" {
		t.Errorf("--json headers: %v", h)
	}
	if h := requestHeaders(t, c, "--json", "{}", "-H", "Accept: text/x"); h["Accept"] != "text/x" {
		t.Errorf("--json with -H Accept: %v", h)
	}
	// -G cannot carry a form or a file.
	cli(t, "", "-G", "-F", "a=1", s.URL+"/x").want(t, 2)
	cli(t, "", "-G", "-T", file, s.URL+"/x").want(t, 2)
	// -I -G -d is a HEAD with a query.
	r = cli(t, "", "-I", "-G", "-d", "a=1", "-w", "%{url_effective}", s.URL+"/x").want(t, 0)
	if !strings.HasSuffix(r.stdout, "\r\n\r\n"+s.URL+"/x?a=1") {
		t.Errorf("-I -G: %q", r.stdout)
	}
}

func TestMaxFilesize(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	// Known length: refused before any byte is written.
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	r := cli(t, "", "--max-filesize", "999", "-o", out, s.URL+"/bytes/1000").want(t, 63)
	if r.stdout != "" || !strings.HasPrefix(r.stderr, "urlsession: (-1103) ") {
		t.Errorf("got %v", r)
	}
	noFiles(t, dir)
	cli(t, "", "--max-filesize", "1000", s.URL+"/bytes/1000").want(t, 0)
	cli(t, "", "--max-filesize", "1k", s.URL+"/bytes/1025").want(t, 63)
	cli(t, "", "--max-filesize", "1K", s.URL+"/bytes/1024").want(t, 0)
	cli(t, "", "--max-filesize", "2M", s.URL+"/bytes/3000000").want(t, 63)
	// Decoded size: 12 bytes once gunzipped.
	cli(t, "", "--max-filesize", "11", s.URL+"/gzipped-response").want(t, 63)

	// Unknown length: stopped once the limit is passed, what came before
	// written.
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 10 {
			w.Write(bytes.Repeat([]byte("x"), 500))
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(chunked.Close)
	r = cli(t, "", "--max-filesize", "1200", chunked.URL).want(t, 63)
	if len(r.stdout) > 1200 {
		t.Errorf("%d bytes written", len(r.stdout))
	}
	cli(t, "", "--max-filesize", "5000", chunked.URL).want(t, 0)
	for _, bad := range []string{"-1", "x", "1q", "1.5"} {
		cli(t, "", "--max-filesize", bad, s.URL).want(t, 2)
	}
}

func TestCreateDirs(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "a", "b", "out")
	head := filepath.Join(dir, "c", "head")
	cli(t, "", "-o", out, s.URL+"/Nepal").want(t, 23)
	noFiles(t, dir)
	cli(t, "", "--create-dirs", "-o", out, "-D", head, s.URL+"/Nepal").want(t, 0)
	if got := readFile(t, out); got != "Kathmandu" {
		t.Errorf("out: %q", got)
	}
	if got := readFile(t, head); !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") {
		t.Errorf("head: %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "a")); err != nil || fi.Mode().Perm()&^0o750 != 0 {
		t.Errorf("created directory: %v, %v", fi.Mode(), err)
	}
	// No transfer, no directories.
	cli(t, "", "--create-dirs", "-o", filepath.Join(dir, "d", "out"), closedPort(t)).want(t, 7)
	if _, err := os.Stat(filepath.Join(dir, "d")); err == nil {
		t.Error("directory created for a failed transfer")
	}
}

// TestProgressBar: -# shows the bar on standard error, terminal or not,
// and leaves it complete with a newline, as curl does.
func TestProgressBar(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	out := filepath.Join(t.TempDir(), "out")
	r := cli(t, "", "-#", "-o", out, s.URL+"/bytes/3000").want(t, 0)
	if !strings.Contains(r.stderr, "100% [########################] (2.9/2.9 KiB, ") || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr: %q", r.stderr)
	}
	r = cli(t, "", "--progress-bar", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" || !strings.Contains(r.stderr, "100% [") {
		t.Errorf("got %v", r)
	}
	for _, args := range [][]string{{"-o", out}, {"-s", "-#", "-o", out}} {
		r = cli(t, "", append(args, s.URL+"/bytes/3000")...).want(t, 0)
		if r.stderr != "" {
			t.Errorf("%q: stderr %q", args, r.stderr)
		}
	}
}
