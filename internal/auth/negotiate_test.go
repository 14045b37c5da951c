package auth

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jcmturner/goidentity/v6"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/urlsession-go/urlsession/internal/auth/authtest"
)

const testRealm = authtest.Realm

func TestDefaultCCache(t *testing.T) {
	for _, tt := range []struct {
		env, want string
		err       bool
	}{
		{"", "/tmp/krb5cc_", false},
		{"FILE:/run/user/1000/krb5cc", "/run/user/1000/krb5cc", false},
		{"/tmp/my cache", "/tmp/my cache", false},
		{"KEYRING:persistent:1000", "", true},
		{"KCM:", "", true},
		{"DIR:/run/user/1000/krb5cc", "", true},
	} {
		t.Setenv("KRB5CCNAME", tt.env)
		got, err := DefaultCCache()
		if tt.err {
			if !errors.Is(err, ErrNoKerberosCredentials) || !strings.Contains(err.Error(), "not supported") {
				t.Errorf("KRB5CCNAME=%q: %q, %v; want an unsupported-type error", tt.env, got, err)
			}
			continue
		}
		if err != nil || !strings.HasPrefix(got, tt.want) {
			t.Errorf("KRB5CCNAME=%q: %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
	t.Setenv("KRB5_CONFIG", "/etc/a.conf:/etc/b.conf")
	if got := DefaultKrb5Config(); got != "/etc/a.conf" {
		t.Errorf("DefaultKrb5Config() = %q", got)
	}
	t.Setenv("KRB5_CONFIG", "")
	if got := DefaultKrb5Config(); got != "/etc/krb5.conf" {
		t.Errorf("DefaultKrb5Config() = %q", got)
	}
}

func TestServicePrincipal(t *testing.T) {
	for in, want := range map[string]string{
		"WWW.Example.COM":      "HTTP/www.example.com",
		"www.example.com:8443": "HTTP/www.example.com",
		"www.example.com.":     "HTTP/www.example.com",
		"[::1]:80":             "HTTP/::1",
		"[::1]":                "HTTP/::1",
		"10.0.0.1":             "HTTP/10.0.0.1",
	} {
		if got := ServicePrincipal(in); got != want {
			t.Errorf("ServicePrincipal(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNegotiateEndToEnd makes a Negotiate token from a credential cache
// and has it accepted by a loopback server that checks SPNEGO and the
// Kerberos AP-REQ with the service's keytab.
func TestNegotiateEndToEnd(t *testing.T) {
	k := authtest.NewKerberos(t, "localhost", "secret")
	ccache := k.WriteCCache(t, k.TGT(t), k.Service(t, "localhost"))

	var who string
	ts := httptest.NewServer(spnego.SPNEGOKRB5Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := goidentity.FromHTTPRequestContext(r); id != nil {
			who = id.UserName() + "@" + id.Domain()
		}
		io.WriteString(w, "ok")
	}), k.Keytab))
	defer ts.Close()

	host := strings.Replace(ts.Listener.Addr().String(), "127.0.0.1", "localhost", 1)
	v, err := Negotiate(Kerberos{CCache: ccache, Config: filepath.Join(k.Dir, "missing.conf")}, host)
	if err == nil {
		t.Fatal("an explicit krb5.conf that does not exist should fail")
	}
	conf := filepath.Join(k.Dir, "krb5.conf")
	os.WriteFile(conf, []byte("[libdefaults]\n default_realm = "+testRealm+"\n"), 0o600)
	v, err = Negotiate(Kerberos{CCache: ccache, Config: conf}, host)
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(v, "Negotiate ")
	if raw, err := base64.StdEncoding.DecodeString(tok); !ok || err != nil || len(raw) < 10 || raw[0] != 0x60 {
		t.Fatalf("not a GSS-API initial context token: %q", v)
	}

	resp := challengeThenAnswer(t, ts, v)
	if resp.StatusCode != 200 || who != "alice@"+testRealm {
		t.Errorf("status %d, identity %q", resp.StatusCode, who)
	}

	// A ticket for another host is not accepted for this one.
	other := authtest.NewKerberos(t, "localhost", "other secret")
	ccache = other.WriteCCache(t, other.TGT(t), other.Service(t, "localhost"))
	v, err = Negotiate(Kerberos{CCache: ccache, Config: conf}, host)
	if err != nil {
		t.Fatal(err)
	}
	if resp := challengeThenAnswer(t, ts, v); resp.StatusCode == 200 {
		t.Error("a ticket under another service key was accepted")
	}
}

// challengeThenAnswer checks that ts challenges with Negotiate, then sends
// the request with authz.
func challengeThenAnswer(t *testing.T, ts *httptest.Server, authz string) *http.Response {
	t.Helper()
	resp, err := ts.Client().Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cs := ParseHeader(resp.Header, false); resp.StatusCode != 401 || len(cs) != 1 || cs[0].Scheme != SchemeNegotiate {
		t.Fatalf("challenge: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	req, _ := http.NewRequest("GET", ts.URL, nil)
	req.Header.Set("Authorization", authz)
	resp, err = ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestNegotiateCCacheErrors(t *testing.T) {
	k := authtest.NewKerberos(t, "localhost", "secret")
	good, _ := os.ReadFile(k.WriteCCache(t, k.TGT(t)))
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	conf := write("krb5.conf", []byte("[libdefaults]\n default_realm = "+testRealm+"\n"))
	for _, tt := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope"), "does not exist (run kinit)"},
		{"empty", write("empty", nil), "is not a Kerberos credential cache"},
		{"keytab", write("keytab", []byte{5, 2, 0, 0, 0, 10}), "keytab"},
		{"text", write("text", []byte("hello")), "is not a Kerberos credential cache"},
		{"truncated ticket", write("truncated", good[:len(good)/2]), "truncated or corrupt"},
		{"truncated record", write("short", good[:124]), "truncated or corrupt"},
		{"principal only", write("principal", good[:37]), "TGT not found"},
		{"no tgt", k.WriteCCache(t, k.Service(t, "localhost")), "TGT not found"},
		{"directory", dir, "credential cache"},
	} {
		_, err := Negotiate(Kerberos{CCache: tt.path, Config: conf}, "localhost")
		if !errors.Is(err, ErrNoKerberosCredentials) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want ErrNoKerberosCredentials with %q", tt.name, err, tt.want)
		}
	}
	t.Setenv("KRB5CCNAME", "KEYRING:persistent:1")
	if _, err := Negotiate(Kerberos{Config: conf}, "localhost"); !errors.Is(err, ErrNoKerberosCredentials) {
		t.Errorf("keyring cache: %v", err)
	}
}

// TestNegotiateNoKDC: without the service ticket in the cache the client
// must ask the KDC; an unreachable KDC fails with an error naming the
// service.
func TestNegotiateNoKDC(t *testing.T) {
	k := authtest.NewKerberos(t, "localhost", "secret")
	ccache := k.WriteCCache(t, k.TGT(t))
	conf := filepath.Join(k.Dir, "krb5.conf")
	os.WriteFile(conf, []byte("[libdefaults]\n default_realm = "+testRealm+"\n udp_preference_limit = 1\n dns_lookup_kdc = false\n"+
		"[realms]\n "+testRealm+" = {\n  kdc = 127.0.0.1:1\n }\n[domain_realm]\n localhost = "+testRealm+"\n"), 0o600)
	_, err := Negotiate(Kerberos{CCache: ccache, Config: conf}, "localhost")
	if err == nil || !strings.Contains(err.Error(), "HTTP/localhost") {
		t.Errorf("err = %v", err)
	}
}

// FuzzParseCCache: no credential cache, however corrupt, panics.
func FuzzParseCCache(f *testing.F) {
	f.Add([]byte{5, 4, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{5, 4, 0, 12, 0, 1, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseCCache(b, "fuzz")
	})
}
