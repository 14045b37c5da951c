//go:build interop

package interop

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/credstore"
)

// A private MIT Kerberos realm: a KDC on a loopback port with its own
// database, kdc.conf and krb5.conf, none of them the system's.
type krbRealm struct {
	dir      string
	krb5conf string // for clients: KRB5_CONFIG
	kdcconf  string // for the KDC and its tools: KRB5_KDC_PROFILE
	log      string // the KDC's log
}

const (
	krbRealmName     = "URLSESSION.TEST"
	krbUser, krbPass = "alice", "alice-pw"
	krbService       = "HTTP/localhost"
)

// krbDir makes a directory the Apache workers (not root) can traverse.
func krbDir(t *testing.T, pattern string) string {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	return dir
}

func startKDC(t *testing.T) *krbRealm {
	bin := need(t, "krb5kdc")
	need(t, "kdb5_util")
	need(t, "kadmin.local")
	dir := krbDir(t, "kdc-interop-")
	r := &krbRealm{
		dir:      dir,
		krb5conf: filepath.Join(dir, "krb5.conf"),
		kdcconf:  filepath.Join(dir, "kdc.conf"),
		log:      filepath.Join(dir, "kdc.log"),
	}
	port := freePort(t)
	// TCP only for clients (udp_preference_limit = 1); the KDC listens on
	// both, on the loopback address only.
	write(t, r.krb5conf, []byte(fmt.Sprintf(`[libdefaults]
 default_realm = %[1]s
 dns_lookup_kdc = false
 dns_lookup_realm = false
 rdns = false
 udp_preference_limit = 1
[realms]
 %[1]s = {
  kdc = 127.0.0.1:%[2]d
 }
[domain_realm]
 localhost = %[1]s
`, krbRealmName, port)), 0o644)
	write(t, r.kdcconf, []byte(fmt.Sprintf(`[kdcdefaults]
 kdc_listen = 127.0.0.1:%[2]d
 kdc_tcp_listen = 127.0.0.1:%[2]d
[realms]
 %[1]s = {
  database_name = %[3]s/principal
  key_stash_file = %[3]s/stash
  acl_file = %[3]s/kadm5.acl
  max_life = 1h
 }
[logging]
 kdc = FILE:%[4]s
`, krbRealmName, port, dir, r.log)), 0o644)

	r.run(t, nil, "kdb5_util", "create", "-s", "-r", krbRealmName, "-P", "master key password")
	r.kadmin(t, "addprinc -pw "+krbPass+" "+krbUser, "created")
	r.kadmin(t, "addprinc -randkey "+krbService, "created")

	cmd := exec.Command(bin, "-n", "-r", krbRealmName, "-P", filepath.Join(dir, "kdc.pid"))
	cmd.Env = r.env()
	out, err := os.Create(filepath.Join(dir, "kdc.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	startDaemon(t, "krb5kdc", cmd, port, out.Name(), r.log)
	return r
}

// env is the environment of the realm's tools: its files, not the system's.
func (r *krbRealm) env(extra ...string) []string {
	return append(os.Environ(), append([]string{
		"KRB5_CONFIG=" + r.krb5conf,
		"KRB5_KDC_PROFILE=" + r.kdcconf,
		"KRB5CCNAME=FILE:" + filepath.Join(r.dir, "unused.cc"),
	}, extra...)...)
}

func (r *krbRealm) run(t *testing.T, extraEnv []string, name string, args ...string) string {
	t.Helper()
	return r.runInput(t, extraEnv, "", name, args...)
}

func (r *krbRealm) runInput(t *testing.T, extraEnv []string, stdin, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = r.env(extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// kadmin runs a kadmin.local query, which exits with 0 whether or not it
// succeeds: its output must contain success.
func (r *krbRealm) kadmin(t *testing.T, query, success string) {
	t.Helper()
	if out := r.run(t, nil, "kadmin.local", "-r", krbRealmName, "-q", query); !strings.Contains(out, success) {
		t.Fatalf("kadmin.local -q %q:\n%s", query, out)
	}
}

// kinit logs krbUser in, into a new FILE cache holding only the
// ticket-granting ticket, and returns its path.
func (r *krbRealm) kinit(t *testing.T, name string, args ...string) string {
	t.Helper()
	need(t, "kinit")
	cache := filepath.Join(r.dir, name)
	r.runInput(t, []string{"KRB5CCNAME=FILE:" + cache}, krbPass+"\n", "kinit", append(args, krbUser)...)
	return cache
}

// tickets lists the service principals of the tickets in cache.
func (r *krbRealm) tickets(t *testing.T, cache string) []string {
	t.Helper()
	need(t, "klist")
	out := r.run(t, []string{"KRB5CCNAME=FILE:" + cache}, "klist")
	var principals []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 5 && strings.Contains(f[4], "@") {
			principals = append(principals, f[4]) // start date and time, end date and time, principal
		}
	}
	return principals
}

// issued counts the service tickets for service the KDC has issued to
// krbUser.
func (r *krbRealm) issued(t *testing.T, service string) int {
	t.Helper()
	b, err := os.ReadFile(r.log)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "TGS_REQ") && strings.Contains(line, "ISSUE") &&
			strings.Contains(line, krbUser+"@"+krbRealmName+" for "+service+"@"+krbRealmName) {
			n++
		}
	}
	return n
}

// waitIssued waits until the KDC's log shows want tickets for service.
func (r *krbRealm) waitIssued(t *testing.T, service string, want int) int {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := r.issued(t, service)
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startGSSAPIApache starts Apache httpd with mod_auth_gssapi accepting
// Kerberos tickets for krbService from a keytab: /protected/ needs one,
// /open/ does not. It returns the base URL, on host localhost (the
// service principal's host), and the access log, which names the user.
func startGSSAPIApache(t *testing.T, r *krbRealm) (base, accessLog string) {
	bin := need(t, "apache2")
	modules := "/usr/lib/apache2/modules"
	if _, err := os.Stat(filepath.Join(modules, "mod_auth_gssapi.so")); err != nil {
		if os.Getenv("INTEROP_REQUIRED") == "1" {
			t.Fatalf("mod_auth_gssapi is not installed: %v", err)
		}
		t.Skipf("mod_auth_gssapi is not installed: %v", err)
	}
	dir := krbDir(t, "apache-gssapi-interop-")
	for _, d := range []string{"protected", "open"} {
		os.MkdirAll(filepath.Join(dir, "www", d), 0o755)
		write(t, filepath.Join(dir, "www", d, "file.txt"), []byte("this is "+d+"\n"), 0o644)
	}
	keytab := filepath.Join(dir, "http.keytab")
	r.kadmin(t, "ktadd -k "+keytab+" "+krbService, "added to keytab")
	rcache := filepath.Join(dir, "rcache")
	os.Mkdir(rcache, 0o700)

	if os.Geteuid() == 0 {
		// The workers drop to an unprivileged user; the keytab and the
		// replay cache are that user's alone.
		// (the user apacheConfig makes them run as)
		u, err := user.Lookup("www-data")
		if err != nil {
			if u, err = user.Lookup("nobody"); err != nil {
				t.Fatal(err)
			}
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, f := range []string{keytab, rcache} {
			if err := os.Chown(f, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}

	port := freePort(t)
	accessLog = filepath.Join(dir, "access.log")
	var conf strings.Builder
	conf.WriteString(apacheConfig(dir, port, "warn auth_gssapi:debug", "auth_gssapi"))
	fmt.Fprintf(&conf, `LogFormat "%%u \"%%r\" %%>s" user
CustomLog %[2]s user
<Directory %[1]s/www/protected>
  AuthType GSSAPI
  AuthName "Kerberos"
  GssapiCredStore keytab:%[3]s
  GssapiAllowedMech krb5
  Require valid-user
</Directory>
`, dir, accessLog, keytab)
	confFile := filepath.Join(dir, "httpd.conf")
	write(t, confFile, []byte(conf.String()), 0o644)

	cmd := exec.Command(bin, "-f", confFile, "-DFOREGROUND")
	// The acceptor reads the realm's krb5.conf, never the system's, and
	// keeps its replay cache in the private directory.
	cmd.Env = append(os.Environ(),
		"KRB5_CONFIG="+r.krb5conf,
		"KRB5_KTNAME=FILE:"+keytab,
		"KRB5RCACHEDIR="+rcache,
		"KRB5CCNAME=FILE:"+filepath.Join(dir, "unused.cc"))
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			k, _ := os.ReadFile(r.log)
			t.Logf("apache error log:\n%s\nKDC log:\n%s", b, k)
		}
	})
	startDaemon(t, "apache", cmd, port, stderr.Name(), filepath.Join(dir, "error.log"))
	return fmt.Sprintf("http://localhost:%d", port), accessLog
}

// negotiateDelegate answers the session-wide challenges with disp and
// records their protection spaces.
type negotiateDelegate struct {
	disp   urlsession.AuthChallengeDisposition
	mu     sync.Mutex
	spaces []credstore.ProtectionSpace
}

func (d *negotiateDelegate) DidReceiveChallenge(s *urlsession.Session, c *urlsession.Challenge) (urlsession.AuthChallengeDisposition, *urlsession.Credential) {
	d.mu.Lock()
	d.spaces = append(d.spaces, c.ProtectionSpace)
	d.mu.Unlock()
	return d.disp, nil
}

func krbSession(t *testing.T, d any) *urlsession.Session {
	cfg := urlsession.EphemeralConfiguration()
	cfg.Proxy = urlsession.NoProxy
	s, err := urlsession.New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.InvalidateAndCancel)
	return s
}

// TestKerberosNegotiate: a private MIT KDC, Apache httpd with
// mod_auth_gssapi, and a credential cache from kinit holding only the
// ticket-granting ticket. Default handling answers Apache's Negotiate
// challenge with a service ticket the session obtains from the KDC.
func TestKerberosNegotiate(t *testing.T) {
	r := startKDC(t)
	base, accessLog := startGSSAPIApache(t, r)
	protected := base + "/protected/file.txt"

	cache := r.kinit(t, "alice.cc")
	if got := r.tickets(t, cache); len(got) != 1 || got[0] != "krbtgt/"+krbRealmName+"@"+krbRealmName {
		t.Fatalf("the credential cache holds %v, want only the ticket-granting ticket", got)
	}
	t.Setenv("KRB5_CONFIG", r.krb5conf)
	t.Setenv("KRB5CCNAME", "FILE:"+cache)

	t.Run("service ticket from the KDC", func(t *testing.T) {
		s := krbSession(t, nil)
		before := r.issued(t, krbService)
		for i := range 2 {
			body, resp, err := fetch(t, s, protected)
			if err != nil || statusOf(resp) != 200 || string(body) != "this is protected\n" {
				t.Fatalf("request %d: %v %q %v", i, statusOf(resp), body, err)
			}
		}
		// Only the KDC could have issued the ticket Apache accepted: the
		// cache had none for the service, and still has none (tickets
		// obtained are not written back).
		if n := r.waitIssued(t, krbService, before+1); n <= before {
			t.Errorf("the KDC issued no ticket for %s", krbService)
		} else {
			t.Logf("service tickets issued for two requests: %d", n-before)
		}
		if got := r.tickets(t, cache); len(got) != 1 {
			t.Errorf("the credential cache now holds %v", got)
		}
		log, err := os.ReadFile(accessLog)
		if err != nil {
			t.Fatal(err)
		}
		if want := krbUser + "@" + krbRealmName + ` "GET /protected/file.txt HTTP/1.1" 200`; !strings.Contains(string(log), want) {
			t.Errorf("apache's access log does not show %q:\n%s", want, log)
		}
	})

	t.Run("no credential cache: the 401 is the response", func(t *testing.T) {
		t.Setenv("KRB5CCNAME", "FILE:"+filepath.Join(r.dir, "missing.cc"))
		s := krbSession(t, nil)
		_, resp, err := fetch(t, s, protected)
		if err != nil || statusOf(resp) != http.StatusUnauthorized {
			t.Fatalf("%v %v, want the 401", statusOf(resp), err)
		}
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Negotiate") {
			t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
		}
		// An unprotected resource is unaffected.
		body, resp, err := fetch(t, s, base+"/open/file.txt")
		if err != nil || statusOf(resp) != 200 || string(body) != "this is open\n" {
			t.Errorf("open: %v %q %v", statusOf(resp), body, err)
		}
	})

	t.Run("no such service principal: the 401 is the response", func(t *testing.T) {
		// HTTP/127.0.0.1 is not in the KDC's database.
		s := krbSession(t, nil)
		_, resp, err := fetch(t, s, strings.Replace(protected, "localhost", "127.0.0.1", 1))
		if err != nil || statusOf(resp) != http.StatusUnauthorized {
			t.Fatalf("%v %v, want the 401", statusOf(resp), err)
		}
		// The session asked the KDC, which refused.
		b, err := os.ReadFile(r.log)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "for HTTP/127.0.0.1@"+krbRealmName+", Server not found") {
			t.Errorf("the KDC's log shows no request for HTTP/127.0.0.1:\n%s", b)
		}
	})

	t.Run("delegate cancels", func(t *testing.T) {
		d := &negotiateDelegate{disp: urlsession.CancelAuthenticationChallenge}
		s := krbSession(t, d)
		before := r.issued(t, krbService)
		_, resp, err := fetch(t, s, protected)
		if urlsession.CodeOf(err) != urlsession.ErrCancelled {
			t.Fatalf("%v %v, want cancelled", statusOf(resp), err)
		}
		if len(d.spaces) != 1 {
			t.Fatalf("the delegate was asked %d times, want 1", len(d.spaces))
		}
		sp := d.spaces[0]
		if sp.AuthenticationMethod != credstore.AuthMethodNegotiate || sp.Host != "localhost" || sp.Protocol != "http" {
			t.Errorf("protection space %+v, want Negotiate on http://localhost", sp)
		}
		if n := r.issued(t, krbService); n != before {
			t.Errorf("the KDC issued %d tickets for a cancelled challenge", n-before)
		}
	})

	t.Run("delegate performs default handling", func(t *testing.T) {
		d := &negotiateDelegate{disp: urlsession.PerformDefaultHandling}
		s := krbSession(t, d)
		body, resp, err := fetch(t, s, protected)
		if err != nil || statusOf(resp) != 200 || string(body) != "this is protected\n" {
			t.Fatalf("%v %q %v", statusOf(resp), body, err)
		}
		if len(d.spaces) != 1 || d.spaces[0].AuthenticationMethod != credstore.AuthMethodNegotiate {
			t.Errorf("the delegate saw %+v, want one Negotiate challenge", d.spaces)
		}
	})

	t.Run("the ticket-granting ticket expires: the 401 is the response", func(t *testing.T) {
		short := r.kinit(t, "short.cc", "-l", "3s")
		expired := time.Now().Add(3200 * time.Millisecond) // the KDC's times are whole seconds
		t.Setenv("KRB5CCNAME", "FILE:"+short)
		s := krbSession(t, nil)
		body, resp, err := fetch(t, s, protected)
		if err != nil || statusOf(resp) != 200 || string(body) != "this is protected\n" {
			t.Fatalf("before the expiry: %v %q %v", statusOf(resp), body, err)
		}
		time.Sleep(time.Until(expired))
		before := r.issued(t, krbService)
		_, resp, err = fetch(t, s, protected)
		if err != nil || statusOf(resp) != http.StatusUnauthorized {
			t.Fatalf("after the expiry: %v %v, want the 401", statusOf(resp), err)
		}
		if n := r.issued(t, krbService); n != before {
			t.Errorf("the KDC issued a ticket for an expired ticket-granting ticket")
		}
	})
}
