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
	"github.com/urlsession-go/urlsession/credstore"
)

// vsftpd is a running vsftpd serving an anonymous root over plain FTP and
// explicit FTPS (AUTH TLS), passive only.
type vsftpd struct {
	addr  string // 127.0.0.1:port
	root  string // the anonymous root
	roots *x509.CertPool
}

// startVsftpd starts vsftpd for anonymous logins, or with local for the
// accounts of the system only (local_root the same directory).
func startVsftpd(t *testing.T, local bool) *vsftpd {
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
	// vsftpd picks a passive port at random in a range and tries another
	// when one cannot be bound; a single port leaves it no other, one
	// way to the "500 OOPS: priv_sock_get_int" a CI run once met.
	pasv := freePort(t)
	const pasvSpread = 15
	logins := "anonymous_enable=YES\nlocal_enable=NO\nno_anon_password=YES\nanon_root=" + root
	if local {
		logins = "anonymous_enable=NO\nlocal_enable=YES\nlocal_root=" + root
	}
	conf := fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%d
background=NO
%s
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
delay_failed_login=0
vsftpd_log_file=%s
dual_log_enable=YES
log_ftp_protocol=YES
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=NO
force_anon_data_ssl=NO
require_ssl_reuse=NO
ssl_ciphers=HIGH
rsa_cert_file=%s
rsa_private_key_file=%s
`, port, logins, pasv, pasv+pasvSpread, empty, filepath.Join(dir, "vsftpd.log"), certFile, keyFile)
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
	v := startVsftpd(t, false)
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

// TestVsftpdAccount: against a server without anonymous logins, over
// explicit FTPS, the refused anonymous login is a challenge; the delegate's
// credential (a system account made for the test) logs in, and is sent
// unasked to the next request; a wrong one fails with -1013.
func TestVsftpdAccount(t *testing.T) {
	need(t, "vsftpd")
	if os.Geteuid() != 0 {
		t.Skip("needs root to add an account")
	}
	for _, bin := range []string{"useradd", "userdel", "chpasswd"} {
		need(t, bin)
	}
	name := fmt.Sprintf("ftpit%d", os.Getpid()%100000)
	if out, err := exec.Command("useradd", "-M", "-d", "/", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	const password = "S3cret-for-ftp"
	cp := exec.Command("chpasswd")
	cp.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
	v := startVsftpd(t, true)
	write(t, filepath.Join(v.root, "pub", "a.txt"), []byte("account a"), 0o644)
	write(t, filepath.Join(v.root, "pub", "b.txt"), []byte("account b"), 0o644)

	asked := 0
	d := &ftpChallenges{answer: func(c *urlsession.Challenge) (urlsession.AuthChallengeDisposition, *urlsession.Credential) {
		if c.ProtectionSpace.AuthenticationMethod == credstore.AuthMethodServerTrust {
			return urlsession.PerformDefaultHandling, nil // the certificate is in RootCAs
		}
		asked++
		if c.ProtectionSpace.Protocol != "ftpes" || c.ProtectionSpace.AuthenticationMethod != credstore.AuthMethodDefault {
			t.Errorf("protection space %+v", c.ProtectionSpace)
		}
		if c.PreviousFailureCount > 0 {
			return urlsession.CancelAuthenticationChallenge, nil
		}
		return urlsession.UseCredential, urlsession.NewCredential(name, password, credstore.ForSession)
	}}
	// vsftpd lets accounts log in only over TLS (force_local_logins_ssl).
	cfg := urlsession.EphemeralConfiguration()
	cfg.TLSClientConfig = &tls.Config{RootCAs: v.roots}
	s, err := urlsession.New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	defer s.InvalidateAndCancel()
	base := "ftpes://" + v.addr
	for _, f := range []string{"a", "b"} {
		got, _, err := ftpGet(t, s, base+"/pub/"+f+".txt", nil)
		if err != nil || string(got) != "account "+f {
			b, _ := os.ReadFile(filepath.Join(filepath.Dir(v.root), "vsftpd.log"))
			t.Fatalf("%s: %q %v\n%s", f, got, err, b)
		}
	}
	if asked != 1 {
		t.Errorf("the delegate was asked %d times, want once", asked)
	}
	// Without a delegate, a wrong password is -1013.
	s2 := v.session(t)
	if _, _, err := ftpGet(t, s2, "ftpes://"+name+":wrong@"+v.addr+"/pub/a.txt", nil); urlsession.CodeOf(err) != urlsession.ErrUserAuthenticationRequired ||
		strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v", err)
	}
}

// ftpChallenges answers task-level challenges with answer, on the
// session's queue (one at a time).
type ftpChallenges struct {
	answer func(c *urlsession.Challenge) (urlsession.AuthChallengeDisposition, *urlsession.Credential)
}

func (f *ftpChallenges) TaskDidReceiveChallenge(s *urlsession.Session, t *urlsession.Task, c *urlsession.Challenge) (urlsession.AuthChallengeDisposition, *urlsession.Credential) {
	return f.answer(c)
}
