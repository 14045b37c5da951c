package main

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/ftptest"
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

// TestFTP: ftp:// URLs load through the library: a file, a range, the full
// listing and -l's names, -u, and curl's exit statuses for a missing file
// (78) and a refused login (67).
func TestFTP(t *testing.T) {
	t.Parallel()
	srv := &ftptest.Server{Files: map[string][]byte{"/pub/a.txt": []byte("hello ftp"), "/pub/b": nil}, Mod: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if r := cli(t, "", srv.URL("/pub/a.txt")).want(t, 0); r.stdout != "hello ftp" {
		t.Errorf("file: %q", r.stdout)
	}
	if r := cli(t, "", "-r", "6-", srv.URL("/pub/a.txt")).want(t, 0); r.stdout != "ftp" {
		t.Errorf("range: %q", r.stdout)
	}
	if r := cli(t, "", srv.URL("/pub/")).want(t, 0); r.stdout != "- 9 2026-11-30T00:00:00Z a.txt\r\n- 0 2026-11-30T00:00:00Z b\r\n" {
		t.Errorf("listing: %q", r.stdout)
	}
	if r := cli(t, "", "-l", srv.URL("/pub/")).want(t, 0); r.stdout != "a.txt\r\nb\r\n" {
		t.Errorf("-l: %q", r.stdout)
	}
	cli(t, "", srv.URL("/pub/none")).want(t, exitFTPNotFound)
	up := filepath.Join(t.TempDir(), "up.txt")
	writeFile(t, up, "uploaded by -T")
	cli(t, "", "-T", up, srv.URL("/incoming/")).want(t, 0)
	if b, ok := srv.File("/incoming/up.txt"); !ok || string(b) != "uploaded by -T" {
		t.Errorf("-T: stored %q %v", b, ok)
	}
	cli(t, "", "--no-ftp-pasv", srv.URL("/pub/a.txt")).want(t, exitUsage)
	cli(t, "", "--ftp-pasv", srv.URL("/pub/a.txt")).want(t, 0)

	auth := &ftptest.Server{Files: map[string][]byte{"/f": []byte("private")}, User: "u", Password: "pw"}
	if err := auth.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(auth.Close)
	cli(t, "", auth.URL("/f")).want(t, exitLoginDenied)
	if r := cli(t, "", "-u", "u:pw", auth.URL("/f")).want(t, 0); r.stdout != "private" {
		t.Errorf("-u: %q", r.stdout)
	}
	if r := cli(t, "", "ftp://u:pw@"+auth.Addr()+"/f").want(t, 0); r.stdout != "private" {
		t.Errorf("URL user: %q", r.stdout)
	}
}

// TestFTPSSLReqd: --ssl-reqd turns an ftp:// URL into explicit FTPS (AUTH
// TLS), trusting --cacert.
func TestFTPSSLReqd(t *testing.T) {
	t.Parallel()
	hs := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate
	hs.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})))
	srv := &ftptest.Server{Files: map[string][]byte{"/f": []byte("secure")}, TLS: hs.TLS}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if r := cli(t, "", "--ssl-reqd", "--cacert", ca, srv.URL("/f")).want(t, 0); r.stdout != "secure" {
		t.Errorf("stdout %q", r.stdout)
	}
	if cmds := srv.Commands(); len(cmds) == 0 || cmds[0] != "AUTH TLS" {
		t.Errorf("commands %q", cmds)
	}
	cli(t, "", "--ssl-reqd", srv.URL("/f")).want(t, 60) // not trusted without --cacert
}

// TestOtherSchemesToNewFile: data:, file: and ftp:// URLs download to an
// -o file that is not there as http does (beside it, then renamed), with
// the same exit statuses, and a failure leaves no file.
func TestOtherSchemesToNewFile(t *testing.T) {
	t.Parallel()
	srv := &ftptest.Server{Files: map[string][]byte{"/pub/a.txt": []byte("hello ftp")}, Mod: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "f.txt")
	writeFile(t, src, "file body")
	for _, c := range []struct {
		url, want string
		code      int
	}{
		{"data:text/plain;base64,aGVsbG8=", "hello", 0},
		{(&url.URL{Scheme: "file", Path: src}).String(), "file body", 0},
		{srv.URL("/pub/a.txt"), "hello ftp", 0},
		{(&url.URL{Scheme: "file", Path: src + ".none"}).String(), "", exitFileURL},
		{srv.URL("/pub/none"), "", exitFTPNotFound},
	} {
		out := filepath.Join(dir, "out")
		cli(t, "", "-s", "-o", out, c.url).want(t, c.code)
		if c.code != 0 {
			noFiles(t, dir)
			continue
		}
		if got := readFile(t, out); got != c.want {
			t.Errorf("%s: %q", c.url, got)
		}
		noFiles(t, dir, "out")
		os.Remove(out)
	}
}
