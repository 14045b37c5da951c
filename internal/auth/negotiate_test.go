package auth

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/goidentity/v6"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

const testRealm = "EXAMPLE.TEST"

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

// testKerberos is a realm without a KDC: a keytab holding the KDC's and
// the HTTP service's keys, from which tickets are minted directly into a
// FILE credential cache, as kinit and kvno would leave it.
type testKerberos struct {
	kt   *keytab.Keytab
	dir  string
	user types.PrincipalName
}

func newTestKerberos(t *testing.T, service, password string) *testKerberos {
	kt := keytab.New()
	now := time.Now()
	for _, p := range []string{"krbtgt/" + testRealm, "HTTP/" + service} {
		if err := kt.AddEntry(p, testRealm, password+" of "+p, now, 1, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
			t.Fatal(err)
		}
	}
	return &testKerberos{kt: kt, dir: t.TempDir(), user: types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice")}
}

// credential is one ccache entry.
type credential struct {
	server types.PrincipalName
	tkt    messages.Ticket
	key    types.EncryptionKey
	start  time.Time
	end    time.Time
}

func (k *testKerberos) ticket(t *testing.T, server types.PrincipalName, lifetime time.Duration) credential {
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	end := start.Add(lifetime)
	flags := types.NewKrbFlags()
	tkt, key, err := messages.NewTicket(k.user, testRealm, server, testRealm, flags, k.kt, etypeID.AES256_CTS_HMAC_SHA1_96, 1, start, start, end, end)
	if err != nil {
		t.Fatal(err)
	}
	return credential{server, tkt, key, start, end}
}

// writeCCache writes a version 4 FILE credential cache (MIT krb5's
// ccache_file_format) and returns its path.
func (k *testKerberos) writeCCache(t *testing.T, creds ...credential) string {
	be := binary.BigEndian
	b := []byte{5, 4, 0, 0} // version 4, empty header
	data := func(d []byte) {
		b = be.AppendUint32(b, uint32(len(d)))
		b = append(b, d...)
	}
	principal := func(p types.PrincipalName) {
		b = be.AppendUint32(b, uint32(p.NameType))
		b = be.AppendUint32(b, uint32(len(p.NameString)))
		data([]byte(testRealm))
		for _, c := range p.NameString {
			data([]byte(c))
		}
	}
	principal(k.user)
	for _, c := range creds {
		principal(k.user)
		principal(c.server)
		b = be.AppendUint16(b, uint16(c.key.KeyType))
		data(c.key.KeyValue)
		for _, ts := range []time.Time{c.start, c.start, c.end, c.end} {
			b = be.AppendUint32(b, uint32(ts.Unix()))
		}
		b = append(b, 0)          // is_skey
		b = append(b, 0, 0, 0, 0) // ticket flags
		b = be.AppendUint32(b, 0) // addresses
		b = be.AppendUint32(b, 0) // authdata
		tb, err := c.tkt.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		data(tb)
		data(nil) // second ticket
	}
	path := filepath.Join(k.dir, "krb5cc")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (k *testKerberos) tgt(t *testing.T) credential {
	return k.ticket(t, types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", testRealm}}, time.Hour)
}

func (k *testKerberos) service(t *testing.T, host string) credential {
	return k.ticket(t, types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "HTTP/"+host), time.Hour)
}

// TestNegotiateEndToEnd makes a Negotiate token from a credential cache
// and has it accepted by a loopback server that checks SPNEGO and the
// Kerberos AP-REQ with the service's keytab.
func TestNegotiateEndToEnd(t *testing.T) {
	k := newTestKerberos(t, "localhost", "secret")
	ccache := k.writeCCache(t, k.tgt(t), k.service(t, "localhost"))

	var who string
	ts := httptest.NewServer(spnego.SPNEGOKRB5Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := goidentity.FromHTTPRequestContext(r); id != nil {
			who = id.UserName() + "@" + id.Domain()
		}
		io.WriteString(w, "ok")
	}), k.kt))
	defer ts.Close()

	host := strings.Replace(ts.Listener.Addr().String(), "127.0.0.1", "localhost", 1)
	v, err := Negotiate(Kerberos{CCache: ccache, Config: filepath.Join(k.dir, "missing.conf")}, host)
	if err == nil {
		t.Fatal("an explicit krb5.conf that does not exist should fail")
	}
	conf := filepath.Join(k.dir, "krb5.conf")
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
	other := newTestKerberos(t, "localhost", "other secret")
	ccache = other.writeCCache(t, other.tgt(t), other.service(t, "localhost"))
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
	k := newTestKerberos(t, "localhost", "secret")
	good, _ := os.ReadFile(k.writeCCache(t, k.tgt(t)))
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
		{"no tgt", k.writeCCache(t, k.service(t, "localhost")), "TGT not found"},
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
	k := newTestKerberos(t, "localhost", "secret")
	ccache := k.writeCCache(t, k.tgt(t))
	conf := filepath.Join(k.dir, "krb5.conf")
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
