//go:build interop

package interop

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
)

// vsftpd is a running vsftpd serving an anonymous root over plain FTP and
// explicit FTPS (AUTH TLS), passive only.
type vsftpd struct {
	addr  string // 127.0.0.1:port
	root  string // the anonymous root
	roots *x509.CertPool
}

func startVsftpd(t *testing.T) *vsftpd {
	bin := need(t, "vsftpd")
	if os.Geteuid() != 0 {
		t.Skip("vsftpd needs root to start (it runs as root in CI)")
	}
	ftpUser, err := user.Lookup("ftp")
	if err != nil {
		t.Fatalf("vsftpd's ftp user: %v", err)
	}
	uid, _ := strconv.Atoi(ftpUser.Uid)
	gid, _ := strconv.Atoi(ftpUser.Gid)
	dir, err := os.MkdirTemp("", "vsftpd-interop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	root := filepath.Join(dir, "anon")
	empty := filepath.Join(dir, "empty")
	for _, d := range []string{root, empty, filepath.Join(root, "pub", "sub"), filepath.Join(root, "incoming")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The anonymous root must not be writable by the ftp user; uploads go
	// to a directory it owns.
	os.Chown(filepath.Join(root, "incoming"), uid, gid)
	certFile, keyFile, roots := writeCert(t, dir)
	port := freePort(t)
	pasv := freePort(t)
	conf := fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%d
background=NO
anonymous_enable=YES
local_enable=NO
no_anon_password=YES
anon_root=%s
write_enable=YES
anon_upload_enable=YES
anon_umask=022
pasv_enable=YES
pasv_min_port=%d
pasv_max_port=%d
pasv_address=127.0.0.1
port_enable=NO
secure_chroot_dir=%s
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
xferlog_enable=NO
vsftpd_log_file=%s
dual_log_enable=YES
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=NO
force_anon_data_ssl=NO
require_ssl_reuse=NO
ssl_ciphers=HIGH
rsa_cert_file=%s
rsa_private_key_file=%s
`, port, root, pasv, pasv, empty, filepath.Join(dir, "vsftpd.log"), certFile, keyFile)
	confFile := filepath.Join(dir, "vsftpd.conf")
	write(t, confFile, []byte(conf), 0o600)
	startDaemon(t, "vsftpd", exec.Command(bin, confFile), port, filepath.Join(dir, "vsftpd.log"))
	return &vsftpd{addr: fmt.Sprintf("127.0.0.1:%d", port), root: root, roots: roots}
}

func (v *vsftpd) session(t *testing.T) *urlsession.Session {
	cfg := urlsession.EphemeralConfiguration()
	cfg.TLSClientConfig = &tls.Config{RootCAs: v.roots}
	s, err := urlsession.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.InvalidateAndCancel)
	return s
}

func ftpGet(t *testing.T, s *urlsession.Session, rawURL string, h http.Header) ([]byte, *http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return s.Data(t.Context(), req)
}

// TestVsftpd loads from vsftpd: a file with its size and time, a resumed
// range (REST), both listings, the missing-file and directory errors, an
// upload, a refused login, and the same file over explicit FTPS.
func TestVsftpd(t *testing.T) {
	v := startVsftpd(t)
	body := bytes.Repeat([]byte("vsftpd interop\n"), 200_000)
	name := filepath.Join(v.root, "pub", "data.bin")
	write(t, name, body, 0o644)
	mod := time.Date(2026, 11, 29, 8, 30, 0, 0, time.UTC)
	os.Chtimes(name, mod, mod)
	s := v.session(t)
	base := "ftp://" + v.addr

	got, resp, err := ftpGet(t, s, base+"/pub/data.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) || resp.ContentLength != int64(len(body)) || resp.Header.Get("Last-Modified") != mod.Format(http.TimeFormat) {
		t.Errorf("file: %d bytes, length %d, Last-Modified %q", len(got), resp.ContentLength, resp.Header.Get("Last-Modified"))
	}

	got, resp, err = ftpGet(t, s, base+"/pub/data.bin", http.Header{"Range": {"bytes=1000000-"}})
	if err != nil || resp.StatusCode != 206 || !bytes.Equal(got, body[1000000:]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 1000000-%d/%d", len(body)-1, len(body)) {
		t.Errorf("range: %v, %d bytes, %v", resp, len(got), err)
	}

	got, _, err = ftpGet(t, s, base+"/pub/", nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(got), "\r\n"), "\r\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], fmt.Sprintf("- %d 2026-11-29T08:30:00Z data.bin", len(body))) ||
		!strings.HasPrefix(lines[1], "d ") || !strings.HasSuffix(lines[1], " sub") {
		t.Errorf("listing %q", got)
	}
	if got, _, err := ftpGet(t, s, base+"/pub/;type=d", nil); err != nil || !strings.Contains(string(got), "data.bin") {
		t.Errorf("names %q %v", got, err)
	}

	if _, _, err := ftpGet(t, s, base+"/pub/none", nil); urlsession.CodeOf(err) != urlsession.ErrFileDoesNotExist {
		t.Errorf("missing: %v", err)
	}
	if _, _, err := ftpGet(t, s, base+"/pub/sub", nil); urlsession.CodeOf(err) != urlsession.ErrFileIsDirectory {
		t.Errorf("directory: %v", err)
	}
	if _, _, err := ftpGet(t, s, "ftp://someone:pw@"+v.addr+"/pub/data.bin", nil); urlsession.CodeOf(err) != urlsession.ErrUserAuthenticationRequired {
		t.Errorf("refused login: %v", err)
	}

	up := bytes.Repeat([]byte("up"), 50_000)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, base+"/incoming/up.bin", nil)
	if _, _, err := s.Upload(t.Context(), req, up); err != nil {
		t.Errorf("upload: %v", err)
	} else if b, err := os.ReadFile(filepath.Join(v.root, "incoming", "up.bin")); err != nil || !bytes.Equal(b, up) {
		t.Errorf("uploaded %d bytes, %v", len(b), err)
	}

	got, _, err = ftpGet(t, s, "ftpes://"+v.addr+"/pub/data.bin", http.Header{"Range": {"bytes=-15"}})
	if err != nil || string(got) != "vsftpd interop\n" {
		t.Errorf("ftpes: %q %v", got, err)
	}
	// A certificate the session does not trust fails the handshake.
	plain := urlsession.EphemeralConfiguration()
	s2, _ := urlsession.New(plain, nil)
	defer s2.InvalidateAndCancel()
	if _, _, err := ftpGet(t, s2, "ftpes://"+v.addr+"/pub/data.bin", nil); err == nil {
		t.Error("ftpes with an untrusted certificate loaded")
	}
}
