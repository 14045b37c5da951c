package protocols

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	server "goftp.io/server/v2"
	"goftp.io/server/v2/driver/file"
)

// TestFTPAgainstGoftp loads from another FTP server implementation
// (goftp.io/server/v2, serving a directory) what the scripted server's
// tests load: a file, a range, listings, an upload, the two missing-file
// errors.
func TestFTPAgainstGoftp(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	body := bytes.Repeat([]byte("goftp "), 200_000)
	if err := os.MkdirAll(filepath.Join(root, "pub", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "pub", "big.dat"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	mod := time.Date(2026, 11, 30, 18, 30, 15, 0, time.UTC)
	os.Chtimes(filepath.Join(root, "pub", "big.dat"), mod, mod)
	drv, err := file.NewDriver(root)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(&server.Options{
		Driver: drv, Auth: &server.SimpleAuth{Name: "user", Password: "pass"},
		Perm: server.NewSimplePerm("user", "user"), Hostname: "127.0.0.1", Logger: &server.DiscardLogger{},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { ln.Close() })
	base := "ftp://user:pass@" + ln.Addr().String()

	resp, err := ftpGet(t, "GET", base+"/pub/big.dat", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, resp)
	if err != nil || !bytes.Equal(got, body) || resp.ContentLength != int64(len(body)) {
		t.Fatalf("file: %d bytes (length %d), %v", len(got), resp.ContentLength, err)
	}
	if lm := resp.Header.Get("Last-Modified"); lm != mod.Format(http.TimeFormat) {
		t.Errorf("Last-Modified %q", lm)
	}

	resp, err = ftpGet(t, "GET", base+"/pub/big.dat", http.Header{"Range": {"bytes=1199990-"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(t, resp); err != nil || resp.StatusCode != 206 || string(got) != "goftp " && string(got) != "ftp " {
		if string(got) != string(body[1199990:]) {
			t.Errorf("range: %d %q %v", resp.StatusCode, got, err)
		}
	}

	resp, err = ftpGet(t, "GET", base+"/pub/", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = readAll(t, resp)
	lines := strings.Split(strings.TrimSuffix(string(got), "\r\n"), "\r\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "- 1200000 ") || !strings.HasSuffix(lines[0], " big.dat") ||
		!strings.HasPrefix(lines[1], "d ") || !strings.HasSuffix(lines[1], " sub") {
		t.Errorf("listing %q", got)
	}

	resp, err = ftpGet(t, "GET", base+"/pub/;type=d", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := readAll(t, resp); !strings.Contains(string(got), "big.dat\r\n") {
		t.Errorf("names %q", got)
	}

	req, _ := http.NewRequestWithContext(t.Context(), "PUT", base+"/pub/sub/up.txt", strings.NewReader("stored"))
	if resp, err := (FTP{}).RoundTrip(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if b, err := os.ReadFile(filepath.Join(root, "pub", "sub", "up.txt")); err != nil || string(b) != "stored" {
		t.Errorf("upload: %q %v", b, err)
	}

	if _, err := ftpGet(t, "GET", base+"/pub/none", nil); codeOf(err) != -1100 {
		t.Errorf("missing: %v", err)
	}
	if _, err := ftpGet(t, "GET", base+"/pub/sub", nil); codeOf(err) != -1101 {
		t.Errorf("directory: %v", err)
	}
	if _, err := ftpGet(t, "GET", "ftp://user:bad@"+ln.Addr().String()+"/pub/big.dat", nil); codeOf(err) != -1013 {
		t.Errorf("bad password: %v", err)
	}
}
