package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestRemoveDotSegments(t *testing.T) {
	for in, want := range map[string]string{
		// RFC 3986 section 5.2.4's examples.
		"/a/b/c/./../../g":   "/a/g",
		"mid/content=5/../6": "mid/6",
		// And others.
		"/a/../b/./c":  "/b/c",
		"/..":          "/",
		"/a/b/..":      "/a/",
		"/a/b/.":       "/a/b/",
		"/../../x":     "/x",
		"/a/%2e%2e/b":  "/a/%2e%2e/b",
		"/a/..b/.c":    "/a/..b/.c",
		"":             "",
		"/":            "/",
		"//a/../b":     "//b",
		"/a/./../../b": "/b",
	} {
		if got := removeDotSegments(in); got != want {
			t.Errorf("removeDotSegments(%q) = %q, want %q", in, got, want)
		}
	}
	u, _ := url.Parse("http://h/a%2Fb/../c/%7e/./d")
	squashDotSegments(u)
	if got := u.String(); got != "http://h/c/%7e/d" {
		t.Errorf("squashDotSegments kept the encoding wrong: %s", got)
	}
}

// TestPathAsIs: the request's path has its dot segments resolved, as curl
// sends it, unless --path-as-is.
func TestPathAsIs(t *testing.T) {
	t.Parallel()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.RequestURI))
	}))
	t.Cleanup(s.Close)
	if r := cli(t, "", s.URL+"/a/../b/./c?x=/../y").want(t, 0); r.stdout != "/b/c?x=/../y" {
		t.Errorf("default: %q", r.stdout)
	}
	if r := cli(t, "", "--path-as-is", s.URL+"/a/../b/./c").want(t, 0); r.stdout != "/a/../b/./c" {
		t.Errorf("--path-as-is: %q", r.stdout)
	}
}

// TestNoResumableUploadFields: a body goes without the fields of the
// resumable uploads draft, as curl sends it.
func TestNoResumableUploadFields(t *testing.T) {
	t.Parallel()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k := range r.Header {
			if strings.HasPrefix(k, "Upload-") {
				w.Write([]byte(k + " "))
			}
		}
	}))
	t.Cleanup(s.Close)
	for _, args := range [][]string{{"-d", "x=1"}, {"-F", "a=b"}, {"-X", "PUT", "--data-binary", "z"}} {
		if r := cli(t, "", append(args, s.URL)...).want(t, 0); r.stdout != "" {
			t.Errorf("%v sent %s", args, r.stdout)
		}
	}
}

// TestBrokenServerLogsNothing: a server that sends a body after its
// answer to HEAD makes net/http write a line through the log package; the
// command's standard error stays its own.
func TestBrokenServerLogsNothing(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				http.ReadRequest(bufio.NewReader(c))
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
				io.Copy(io.Discard, c) // open until the command closes it: the extra bytes reach its idle connection
			}()
		}
	}()
	r := cliProcess(t, t.TempDir(), nil, "", "-s", "-I", "http://"+ln.Addr().String()+"/")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("exit %d, standard error %q", r.code, r.stderr)
	}
}

// TestURLWithSpace: a URL with a space is malformed (exit 3), as curl
// has it, where Go's parser would take it.
func TestURLWithSpace(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://127.0.0.1:1/a b", "http://127.0.0.1:1/?q=a b", "http://127.0.0.1:1/\tx"} {
		r := cli(t, "", u)
		if r.code != 3 {
			t.Errorf("%q: %v, want exit 3", u, r)
		}
	}
}

// TestRedirectDropsPostBody: as curl, a body of -d goes on a 301 or 302
// whatever -X says (its Content-Type too, unless -H gave it), and one of
// -T is sent again.
func TestRedirectDropsPostBody(t *testing.T) {
	t.Parallel()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code, ok := strings.CutPrefix(r.URL.Path, "/r"); ok {
			n, _ := strconv.Atoi(code)
			w.Header().Set("Location", "/echo")
			w.WriteHeader(n)
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %q %q", r.Method, r.Header.Get("Content-Type"), body)
	}))
	t.Cleanup(s.Close)
	file := filepath.Join(t.TempDir(), "f")
	writeFile(t, file, "file")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-X", "PUT", "-d", "y", s.URL + "/r301"}, `PUT "" ""`},
		{[]string{"-X", "PUT", "-d", "y", s.URL + "/r302"}, `PUT "" ""`},
		{[]string{"-X", "PUT", "-d", "y", "-H", "Content-Type: text/plain", s.URL + "/r301"}, `PUT "text/plain" ""`},
		{[]string{"-X", "PUT", "-d", "y", s.URL + "/r307"}, `PUT "application/x-www-form-urlencoded" "y"`},
		{[]string{"-X", "POST", "-d", "y", s.URL + "/r301"}, `POST "" ""`},
		{[]string{"-d", "y", s.URL + "/r302"}, `GET "" ""`},
		{[]string{"-T", file, s.URL + "/r301"}, `PUT "" "file"`},
	} {
		if r := cli(t, "", append([]string{"-L"}, c.args...)...).want(t, 0); r.stdout != c.want {
			t.Errorf("%v: %s, want %s", c.args, r.stdout, c.want)
		}
	}
}
