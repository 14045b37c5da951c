//go:build interop

package interop

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/credstore"
)

// apache is a running Apache httpd with Basic and Digest protected areas
// (mod_auth_basic, mod_auth_digest, mod_authn_file).
type apache struct {
	base string
	dir  string
}

const (
	apacheUser, apachePassword = "alice", "wonder land"
	apacheBasicRealm           = "basic area"
	apacheDigestRealm          = "digest area"
)

func startApache(t *testing.T, nonceLifetime int) *apache {
	bin := need(t, "apache2")
	dir, err := os.MkdirTemp("", "apache-interop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // the workers run as www-data when started as root
	docroot := filepath.Join(dir, "www")
	for _, d := range []string{"basic", "digest", "open"} {
		os.MkdirAll(filepath.Join(docroot, d), 0o755)
		write(t, filepath.Join(docroot, d, "index.txt"), []byte("this is "+d+"\n"), 0o644)
	}
	sum := sha1.Sum([]byte(apachePassword))
	write(t, filepath.Join(dir, "htpasswd"),
		[]byte(apacheUser+":{SHA}"+base64.StdEncoding.EncodeToString(sum[:])+"\n"), 0o644)
	ha1 := md5.Sum([]byte(apacheUser + ":" + apacheDigestRealm + ":" + apachePassword))
	write(t, filepath.Join(dir, "htdigest"),
		[]byte(apacheUser+":"+apacheDigestRealm+":"+hex.EncodeToString(ha1[:])+"\n"), 0o644)

	port := freePort(t)
	var conf strings.Builder
	conf.WriteString(apacheConfig(dir, port, "warn", "authn_file", "auth_basic", "auth_digest"))
	fmt.Fprintf(&conf, `<Directory %[1]s/www/basic>
  AuthType Basic
  AuthName "%[2]s"
  AuthBasicProvider file
  AuthUserFile %[1]s/htpasswd
  Require valid-user
</Directory>
<Directory %[1]s/www/digest>
  AuthType Digest
  AuthName "%[3]s"
  AuthDigestDomain /digest/
  AuthDigestProvider file
  AuthUserFile %[1]s/htdigest
  AuthDigestNonceLifetime %[4]d
  Require valid-user
</Directory>
`, dir, apacheBasicRealm, apacheDigestRealm, nonceLifetime)
	confFile := filepath.Join(dir, "httpd.conf")
	write(t, confFile, []byte(conf.String()), 0o644)

	startDaemon(t, "apache", exec.Command(bin, "-f", confFile, "-DFOREGROUND"), port, filepath.Join(dir, "error.log"))
	return &apache{base: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir}
}

// apacheConfig returns the start of an httpd.conf for a server in dir
// (ServerRoot, logs, www/ as the document root, readable by all) listening
// on the loopback port, with the core modules and the named others loaded.
// As root, the workers run as www-data (or nobody).
func apacheConfig(dir string, port int, logLevel string, modules ...string) string {
	var conf strings.Builder
	for _, m := range append([]string{"mpm_event", "authz_core", "authn_core", "authz_user", "mime"}, modules...) {
		fmt.Fprintf(&conf, "LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n", m, m)
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("www-data"); err == nil {
			conf.WriteString("User www-data\nGroup www-data\n")
		} else {
			conf.WriteString("User nobody\nGroup nogroup\n")
		}
	}
	fmt.Fprintf(&conf, `ServerRoot %[1]s
ServerName localhost
PidFile %[1]s/httpd.pid
ErrorLog %[1]s/error.log
LogLevel %[3]s
Mutex file:%[1]s default
DefaultRuntimeDir %[1]s
Listen 127.0.0.1:%[2]d
DocumentRoot %[1]s/www
TypesConfig /dev/null
AddType text/plain .txt
<Directory %[1]s/www>
  Require all granted
</Directory>
`, dir, port, logLevel)
	return conf.String()
}

// answering is a task-level challenge delegate that answers with the
// Apache user's credential and counts the challenges.
type answering struct {
	mu       sync.Mutex
	methods  []string
	counts   []int
	password string
	asked    atomic.Int32
}

func (a *answering) TaskDidReceiveChallenge(s *urlsession.Session, t *urlsession.Task, c *urlsession.Challenge) (urlsession.AuthChallengeDisposition, *urlsession.Credential) {
	a.asked.Add(1)
	a.mu.Lock()
	a.methods = append(a.methods, c.ProtectionSpace.AuthenticationMethod)
	a.counts = append(a.counts, c.PreviousFailureCount)
	a.mu.Unlock()
	if c.PreviousFailureCount > 1 {
		return urlsession.CancelAuthenticationChallenge, nil
	}
	return urlsession.UseCredential, urlsession.NewCredential(apacheUser, a.password, credstore.ForSession)
}

func (a *apache) session(t *testing.T, d any) *urlsession.Session {
	cfg := urlsession.EphemeralConfiguration()
	cfg.Proxy = urlsession.NoProxy
	s, err := urlsession.New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.InvalidateAndCancel)
	return s
}

func TestApacheAuthentication(t *testing.T) {
	a := startApache(t, 300)

	t.Run("no credential: the 401 is the response", func(t *testing.T) {
		s := a.session(t, nil)
		for _, area := range []string{"basic", "digest"} {
			_, resp, err := fetch(t, s, a.base+"/"+area+"/index.txt")
			if err != nil || statusOf(resp) != http.StatusUnauthorized {
				t.Errorf("%s: %v %v", area, statusOf(resp), err)
			}
		}
	})
	t.Run("user info", func(t *testing.T) {
		s := a.session(t, nil)
		for _, area := range []string{"basic", "digest"} {
			u := strings.Replace(a.base, "://", "://"+apacheUser+":wonder%20land@", 1) + "/" + area + "/index.txt"
			body, resp, err := fetch(t, s, u)
			if err != nil || statusOf(resp) != 200 || string(body) != "this is "+area+"\n" {
				t.Errorf("%s: %v %q %v", area, statusOf(resp), body, err)
			}
		}
	})
	t.Run("delegate, then pre-emptive", func(t *testing.T) {
		for _, area := range []string{"basic", "digest"} {
			d := &answering{password: apachePassword}
			s := a.session(t, d)
			for i := range 5 {
				body, resp, err := fetch(t, s, a.base+"/"+area+"/index.txt")
				if err != nil || statusOf(resp) != 200 || string(body) != "this is "+area+"\n" {
					t.Fatalf("%s request %d: %v %q %v", area, i, statusOf(resp), body, err)
				}
			}
			if n := d.asked.Load(); n != 1 {
				t.Errorf("%s: the delegate was asked %d times, want 1 (then the credential goes pre-emptively)", area, n)
			}
			want := map[string]string{"basic": credstore.AuthMethodHTTPBasic, "digest": credstore.AuthMethodHTTPDigest}[area]
			if d.methods[0] != want {
				t.Errorf("%s: method %q, want %q", area, d.methods[0], want)
			}
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		for _, area := range []string{"basic", "digest"} {
			d := &answering{password: "wrong"}
			s := a.session(t, d)
			_, _, err := fetch(t, s, a.base+"/"+area+"/index.txt")
			if urlsession.CodeOf(err) != urlsession.ErrCancelled {
				t.Errorf("%s: %v, want cancelled by the delegate", area, err)
			}
			if fmt.Sprint(d.counts) != "[0 1 2]" {
				t.Errorf("%s: failure counts %v, want [0 1 2]", area, d.counts)
			}
		}
	})
}

// TestApacheDigestStaleNonce: once Apache's nonce expires it answers a
// pre-emptive request with stale=true; the session answers the new nonce
// with the same credential without asking the delegate again.
func TestApacheDigestStaleNonce(t *testing.T) {
	a := startApache(t, 1)
	d := &answering{password: apachePassword}
	s := a.session(t, d)
	for i := range 2 {
		if i == 1 {
			time.Sleep(2500 * time.Millisecond) // the server's clock: past the 1 s nonce lifetime
		}
		body, resp, err := fetch(t, s, a.base+"/digest/index.txt")
		if err != nil || statusOf(resp) != 200 || string(body) != "this is digest\n" {
			t.Fatalf("request %d: %v %q %v", i, statusOf(resp), body, err)
		}
	}
	if n := d.asked.Load(); n != 1 {
		t.Errorf("the delegate was asked %d times, want 1: a stale nonce is answered again without asking", n)
	}
}
