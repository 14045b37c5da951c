package credstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestURLProtectionSpace: IsProxy and the ReceivesCredentialSecurely matrix.

func TestIsProxy(t *testing.T) {
	tests := []struct {
		sp   ProtectionSpace
		want bool
	}{
		{ProtectionSpace{Host: "h", Port: 80, Protocol: "http"}, false},
		{ProtectionSpace{Host: "h", Port: 443, Protocol: "https"}, false},
		{ProtectionSpace{Host: "h", Port: 3128, ProxyType: ProxyHTTP}, true},
		{ProtectionSpace{Host: "h", Port: 3128, ProxyType: ProxyHTTPS}, true},
		{ProtectionSpace{Host: "h", Port: 1080, ProxyType: ProxySOCKS}, true},
		{ProtectionSpace{Host: "h", Port: 21, ProxyType: ProxyFTP}, true},
	}
	for _, tt := range tests {
		if got := tt.sp.IsProxy(); got != tt.want {
			t.Errorf("%v.IsProxy() = %v, want %v", tt.sp, got, tt.want)
		}
	}
}

func TestReceivesCredentialSecurely(t *testing.T) {
	methods := []string{"", AuthMethodDefault, AuthMethodHTTPBasic, AuthMethodHTTPDigest, AuthMethodHTMLForm,
		AuthMethodNTLM, AuthMethodNegotiate, AuthMethodClientCertificate, AuthMethodServerTrust}
	// secureMethod: the methods secure on any transport.
	secureMethod := map[string]bool{AuthMethodHTTPDigest: true, AuthMethodClientCertificate: true, AuthMethodServerTrust: true}
	transports := []struct {
		sp     ProtectionSpace
		secure bool
	}{
		{ProtectionSpace{Host: "h", Protocol: "http"}, false},
		{ProtectionSpace{Host: "h", Protocol: "HTTP"}, false},
		{ProtectionSpace{Host: "h", Protocol: "ftp"}, false},
		{ProtectionSpace{Host: "h", Protocol: "https"}, true},
		{ProtectionSpace{Host: "h", Protocol: "HTTPS"}, true},
		{ProtectionSpace{Host: "h", Protocol: "ftps"}, true},
		{ProtectionSpace{Host: "h", ProxyType: ProxyHTTP}, false},
		{ProtectionSpace{Host: "h", ProxyType: ProxyHTTPS}, true},
		{ProtectionSpace{Host: "h", ProxyType: ProxySOCKS}, false},
		{ProtectionSpace{Host: "h", ProxyType: ProxyFTP}, false},
	}
	for _, tr := range transports {
		for _, m := range methods {
			sp := tr.sp
			sp.AuthenticationMethod = m
			want := tr.secure || secureMethod[m]
			if got := sp.ReceivesCredentialSecurely(); got != want {
				t.Errorf("%v.ReceivesCredentialSecurely() = %v, want %v", sp, got, want)
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want ProtectionSpace
	}{
		{ProtectionSpace{Host: "Example.COM", Protocol: "HTTP"},
			ProtectionSpace{Host: "example.com", Port: 80, Protocol: "http", AuthenticationMethod: AuthMethodDefault}},
		{ProtectionSpace{Host: "h", Protocol: "https", Realm: "MiXed"},
			ProtectionSpace{Host: "h", Port: 443, Protocol: "https", Realm: "MiXed", AuthenticationMethod: AuthMethodDefault}},
		{ProtectionSpace{Host: "h", Protocol: "ftp", AuthenticationMethod: AuthMethodHTTPBasic},
			ProtectionSpace{Host: "h", Port: 21, Protocol: "ftp", AuthenticationMethod: AuthMethodHTTPBasic}},
		{ProtectionSpace{Host: "h", Protocol: "gopher"},
			ProtectionSpace{Host: "h", Protocol: "gopher", AuthenticationMethod: AuthMethodDefault}},
		{ProtectionSpace{Host: "h", Port: 8443, Protocol: "https"},
			ProtectionSpace{Host: "h", Port: 8443, Protocol: "https", AuthenticationMethod: AuthMethodDefault}},
		{ProtectionSpace{Host: "[::1]", Protocol: "http"},
			ProtectionSpace{Host: "::1", Port: 80, Protocol: "http", AuthenticationMethod: AuthMethodDefault}},
		{ProtectionSpace{Host: "Proxy", Protocol: "http", ProxyType: "SOCKS"},
			ProtectionSpace{Host: "proxy", ProxyType: ProxySOCKS, AuthenticationMethod: AuthMethodDefault}},
	}
	for _, tt := range tests {
		got := tt.in.Normalize()
		if got != tt.want {
			t.Errorf("Normalize(%#v)\n got %#v\nwant %#v", tt.in, got, tt.want)
		}
		if again := got.Normalize(); again != got {
			t.Errorf("Normalize is not idempotent: %#v -> %#v", got, again)
		}
	}
}

func TestProtectionSpaceString(t *testing.T) {
	tests := []struct {
		sp   ProtectionSpace
		want string
	}{
		{ProtectionSpace{Host: "example.com", Port: 443, Protocol: "https", Realm: "r", AuthenticationMethod: AuthMethodHTTPBasic},
			`https://example.com:443 realm="r" NSURLAuthenticationMethodHTTPBasic`},
		{ProtectionSpace{Host: "10.0.0.1", Port: 1080, ProxyType: ProxySOCKS},
			`socks proxy 10.0.0.1:1080 realm="" NSURLAuthenticationMethodDefault`},
		{ProtectionSpace{Host: "::1", Port: 80, Protocol: "http"},
			`http://[::1]:80 realm="" NSURLAuthenticationMethodDefault`},
	}
	for _, tt := range tests {
		if got := tt.sp.String(); got != tt.want {
			t.Errorf("String() = %s, want %s", got, tt.want)
		}
	}
}

// TestURLCredential.

func TestCredentialConstruction(t *testing.T) {
	c := Credential{User: "swiftUser", Password: "swiftPassword", Persistence: ForSession}
	if c.User != "swiftUser" || c.Password != "swiftPassword" || c.Persistence != ForSession || !c.HasPassword() {
		t.Errorf("construction: %#v HasPassword=%v", c, c.HasPassword())
	}
	if (Credential{User: "u"}).HasPassword() {
		t.Error("HasPassword() true without a password")
	}
	copyOf := c
	if copyOf != c {
		t.Error("a copy is not equal")
	}
}

func TestPersistenceValues(t *testing.T) {
	// Apple's raw values.
	for p, want := range map[Persistence]int{None: 0, ForSession: 1, Permanent: 2} {
		if int(p) != want {
			t.Errorf("%v = %d, want %d", p, int(p), want)
		}
	}
	for p, want := range map[Persistence]string{None: "none", ForSession: "forSession", Permanent: "permanent", 7: "Persistence(7)"} {
		if got := p.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

func TestCredentialRedaction(t *testing.T) {
	const secret = "hunter2-s3cr3t"
	c := Credential{User: "alice", Password: secret, Persistence: Permanent}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10v", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c))
	}
	outs = append(outs,
		fmt.Sprint(c), fmt.Sprintln(c), c.String(), c.GoString(),
		fmt.Sprintf("%v", map[string]Credential{"alice": c}),
		fmt.Sprintf("%+v", []Credential{c}),
		fmt.Sprintf("%#v", map[ProtectionSpace]map[string]Credential{exampleSpace: {"alice": c}}),
		fmt.Sprintf("%+v", struct{ C Credential }{c}),
	)
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("login", "cred", c)
	}
	outs = append(outs, buf.String())
	for _, out := range outs {
		if strings.Contains(out, secret) {
			t.Errorf("password leaked: %s", out)
		}
	}
	if got := fmt.Sprintf("%v", c); !strings.Contains(got, "alice") || !strings.Contains(got, "<redacted>") {
		t.Errorf("%%v = %s, want user and <redacted>", got)
	}
	if got := fmt.Sprintf("%#v", c); got != `credstore.Credential{User:"alice", Password:"<redacted>", Persistence:2}` {
		t.Errorf("%%#v = %s", got)
	}
	if got := fmt.Sprint(Credential{User: "bob"}); !strings.Contains(got, "<none>") {
		t.Errorf("no password: %s", got)
	}
	// JSON of the log record carries the fields the LogValuer gives.
	var rec map[string]any
	line, _, _ := bytes.Cut(buf.Bytes(), []byte("\n"))
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rec["cred"]); got != "map[hasPassword:true persistence:permanent user:alice]" {
		t.Errorf("slog JSON cred = %s", got)
	}
}
