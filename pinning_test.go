package urlsession

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urlsession-go/urlsession/credstore"
)

func TestSPKISHA256(t *testing.T) {
	leaf := pki().leaf.Leaf
	der, err := x509.MarshalPKIXPublicKey(leaf.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	if got, want := SPKISHA256(leaf), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("SPKISHA256 = %s, want %s", got, want)
	}
	if SPKISHA256(leaf) == SPKISHA256(pki().ca) {
		t.Error("two keys have one identity")
	}
}

func TestPinRule(t *testing.T) {
	id := SPKISHA256(pki().leaf.Leaf)
	set := newPinSet(map[string]PinnedDomain{
		"Example.COM.":      {IncludesSubdomains: true, LeafIdentities: []string{id}},
		"exact.example.com": {LeafIdentities: []string{id}},
		"only.test":         {LeafIdentities: []string{id}},
		"127.0.0.1":         {IncludesSubdomains: true, LeafIdentities: []string{id}},
		"::1":               {LeafIdentities: []string{id}},
	})
	tests := []struct {
		host, want string // want: the rule's domain, "" for none
	}{
		{"example.com", "example.com"},
		{"EXAMPLE.com.", "example.com"},
		{"a.example.com", "example.com"},
		{"a.b.example.com", "example.com"},
		{"exact.example.com", "exact.example.com"},
		{"a.exact.example.com", "example.com"}, // exact.example.com does not include subdomains
		{"notexample.com", ""},
		{"only.test", "only.test"},
		{"sub.only.test", ""},
		{"127.0.0.1", "127.0.0.1"},
		{"1.127.0.0.1", ""}, // not a subdomain: a different name
		{"[::1]", "::1"},
		{"", ""},
		{"com", ""},
	}
	for _, tt := range tests {
		r := set.rule(tt.host)
		got := ""
		if r != nil {
			got = r.domain
		}
		if got != tt.want {
			t.Errorf("rule(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
	if pinSet(nil).rule("example.com") != nil || newPinSet(nil) != nil {
		t.Error("no pins, yet a rule")
	}
}

func TestPinCheck(t *testing.T) {
	p := pki()
	leaf, ca, self := p.leaf.Leaf, p.ca, p.self.Leaf
	verified := [][]*x509.Certificate{{leaf, ca}}
	bogus := base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name     string
		pin      PinnedDomain
		peer     []*x509.Certificate
		verified [][]*x509.Certificate
		ok       bool
	}{
		{"leaf", PinnedDomain{LeafIdentities: []string{bogus, SPKISHA256(leaf)}}, []*x509.Certificate{leaf}, verified, true},
		{"leaf unverified", PinnedDomain{LeafIdentities: []string{SPKISHA256(self)}}, []*x509.Certificate{self}, nil, true},
		{"leaf mismatch", PinnedDomain{LeafIdentities: []string{bogus}}, []*x509.Certificate{leaf}, verified, false},
		{"leaf is not a CA", PinnedDomain{CAIdentities: []string{SPKISHA256(leaf)}}, []*x509.Certificate{leaf}, verified, false},
		{"CA", PinnedDomain{CAIdentities: []string{SPKISHA256(ca)}}, []*x509.Certificate{leaf}, verified, true},
		{"CA mismatch", PinnedDomain{CAIdentities: []string{bogus}}, []*x509.Certificate{leaf}, verified, false},
		{"CA only sent, not verified", PinnedDomain{CAIdentities: []string{SPKISHA256(ca)}}, []*x509.Certificate{leaf, ca}, nil, false},
		{"self-signed anchor", PinnedDomain{CAIdentities: []string{SPKISHA256(self)}}, []*x509.Certificate{self}, [][]*x509.Certificate{{self}}, true},
		{"both", PinnedDomain{LeafIdentities: []string{SPKISHA256(leaf)}, CAIdentities: []string{SPKISHA256(ca)}}, []*x509.Certificate{leaf}, verified, true},
		{"both, CA mismatch", PinnedDomain{LeafIdentities: []string{SPKISHA256(leaf)}, CAIdentities: []string{bogus}}, []*x509.Certificate{leaf}, verified, false},
		{"both, leaf mismatch", PinnedDomain{LeafIdentities: []string{bogus}, CAIdentities: []string{SPKISHA256(ca)}}, []*x509.Certificate{leaf}, verified, false},
		{"no certificate", PinnedDomain{LeafIdentities: []string{SPKISHA256(leaf)}}, nil, nil, false},
	}
	for _, tt := range tests {
		set := newPinSet(map[string]PinnedDomain{"127.0.0.1": tt.pin})
		err := set.check("127.0.0.1", tt.peer, tt.verified)
		if (err == nil) != tt.ok {
			t.Errorf("%s: check = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && classify(err, "").Code != ErrServerCertificateUntrusted {
			t.Errorf("%s: %v has code %d", tt.name, err, classify(err, "").Code)
		}
		if set.check("other.test", tt.peer, tt.verified) != nil {
			t.Errorf("%s: an unpinned host was checked", tt.name)
		}
	}
	// A handshake net/http ran for an IP address reports no server name:
	// the leaf's IP addresses find the pins.
	set := newPinSet(map[string]PinnedDomain{"127.0.0.1": {LeafIdentities: []string{bogus}}})
	if set.check("", []*x509.Certificate{leaf}, verified) == nil {
		t.Error("no server name: the IP address's pins were not applied")
	}
}

func TestPinnedDomainsValidate(t *testing.T) {
	id := SPKISHA256(pki().leaf.Leaf)
	bad := []map[string]PinnedDomain{
		{"": {LeafIdentities: []string{id}}},
		{".": {LeafIdentities: []string{id}}},
		{"example.com": {}},
		{"example.com": {IncludesSubdomains: true}},
		{"example.com": {LeafIdentities: []string{"not base64!"}}},
		{"example.com": {CAIdentities: []string{base64.StdEncoding.EncodeToString(make([]byte, 20))}}}, // SHA-1 size
		{"example.com": {LeafIdentities: []string{id, strings.TrimRight(id, "=")}}},
	}
	for _, pins := range bad {
		cfg := trustConfig()
		cfg.PinnedDomains = pins
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate accepted %v", pins)
		}
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("New accepted %v", pins)
		}
	}
	cfg := trustConfig()
	cfg.PinnedDomains = map[string]PinnedDomain{"example.com": {CAIdentities: []string{id}}, "127.0.0.1": {LeafIdentities: []string{" " + id + "\n"}}}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
}

func TestPinnedDomainsClone(t *testing.T) {
	id := SPKISHA256(pki().leaf.Leaf)
	cfg := trustConfig()
	cfg.PinnedDomains = map[string]PinnedDomain{"example.com": {LeafIdentities: []string{id}}}
	c := cfg.Clone()
	cfg.PinnedDomains["example.com"].LeafIdentities[0] = "changed"
	cfg.PinnedDomains["other.test"] = PinnedDomain{}
	if len(c.PinnedDomains) != 1 || c.PinnedDomains["example.com"].LeafIdentities[0] != id {
		t.Errorf("the clone changed with the original: %v", c.PinnedDomains)
	}
}

// pinsFor returns a configuration trusting pki's CA with the given pins
// for 127.0.0.1.
func pinsFor(p PinnedDomain) *Configuration {
	cfg := trustConfig()
	cfg.PinnedDomains = map[string]PinnedDomain{"127.0.0.1": p}
	return cfg
}

func TestPinnedDomains(t *testing.T) {
	p := pki()
	bogus := base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name     string
		cert     tls.Certificate
		pin      PinnedDomain
		delegate bool // a delegate that accepts every server trust
		want     Code
	}{
		{"leaf", p.leaf, PinnedDomain{LeafIdentities: []string{SPKISHA256(p.leaf.Leaf)}}, false, 0},
		{"CA", p.leaf, PinnedDomain{CAIdentities: []string{SPKISHA256(p.ca)}}, false, 0},
		{"both", p.leaf, PinnedDomain{LeafIdentities: []string{SPKISHA256(p.leaf.Leaf)}, CAIdentities: []string{SPKISHA256(p.ca)}}, false, 0},
		{"leaf mismatch", p.leaf, PinnedDomain{LeafIdentities: []string{bogus}}, false, ErrServerCertificateUntrusted},
		{"CA mismatch", p.leaf, PinnedDomain{CAIdentities: []string{bogus}}, false, ErrServerCertificateUntrusted},
		{"CA mismatch, both", p.leaf, PinnedDomain{LeafIdentities: []string{SPKISHA256(p.leaf.Leaf)}, CAIdentities: []string{bogus}}, false, ErrServerCertificateUntrusted},
		{"leaf, delegate", p.leaf, PinnedDomain{LeafIdentities: []string{SPKISHA256(p.leaf.Leaf)}}, true, 0},
		{"leaf mismatch, delegate", p.leaf, PinnedDomain{LeafIdentities: []string{bogus}}, true, ErrServerCertificateUntrusted},
		{"CA mismatch, delegate", p.leaf, PinnedDomain{CAIdentities: []string{bogus}}, true, ErrServerCertificateUntrusted},
		{"untrusted leaf pinned, delegate", p.self, PinnedDomain{LeafIdentities: []string{SPKISHA256(p.self.Leaf)}}, true, 0},
		{"untrusted leaf mismatch, delegate", p.self, PinnedDomain{LeafIdentities: []string{SPKISHA256(p.leaf.Leaf)}}, true, ErrServerCertificateUntrusted},
		{"untrusted, CA pinned, delegate", p.self, PinnedDomain{CAIdentities: []string{SPKISHA256(p.self.Leaf)}}, true, ErrServerCertificateUntrusted},
		{"expired, leaf mismatch, delegate", p.expired, PinnedDomain{LeafIdentities: []string{bogus}}, true, ErrServerCertificateHasBadDate},
	}
	eachProtocol(t, func(t *testing.T, h2 bool) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				srv := newTLSServer(t, tt.cert, h2, false)
				d := newChallenger(acceptTrust)
				var delegate any = d.recorder
				if tt.delegate {
					delegate = sessionLevel{d}
				}
				s := newSession(t, pinsFor(tt.pin), delegate)
				task := s.DataTask(get(t, srv.URL))
				task.Resume()
				wait(t, task)
				if got := CodeOf(task.Err()); got != tt.want {
					t.Fatalf("error %v (code %d), want %d", task.Err(), got, tt.want)
				}
				seen, _ := d.challenges()
				if tt.want != 0 {
					// The connection failed in the handshake: no request
					// byte reached the server, and the delegate was not
					// asked about a chain the pins refuse.
					if srv.requests.Load() != 0 || srv.active.Load() != 0 {
						t.Errorf("the server saw %d requests on %d connections", srv.requests.Load(), srv.active.Load())
					}
					if len(seen) != 0 {
						t.Errorf("the delegate was asked %d times", len(seen))
					}
					if !sameEvents(d.Events(), []string{"create", "metrics", "complete " + strconv.Itoa(int(tt.want))}) {
						t.Errorf("events %q", d.Events())
					}
					return
				}
				if want := "hello " + srv.proto() + " -"; d.Body() != want {
					t.Errorf("body %q, want %q", d.Body(), want)
				}
				if tt.delegate != (len(seen) == 1) {
					t.Errorf("%d challenges", len(seen))
				}
			})
		}
	})
}

// connectProxy is an http proxy that only tunnels (CONNECT).
func connectProxy(t *testing.T) *url.URL {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "tunnels only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() {
			io.Copy(up, buf)
			up.(*net.TCPConn).CloseWrite()
		}()
		io.Copy(c, up)
		c.Close()
		up.Close()
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

// TestTLSThroughProxy: through a proxy's tunnel the session runs the
// handshake as on a direct connection: the pins, the ServerTrust and the
// ClientCertificate challenges all apply.
func TestTLSThroughProxy(t *testing.T) {
	t.Parallel()
	p := pki()
	proxy := connectProxy(t)
	viaProxy := func(cfg *Configuration) *Configuration {
		cfg.Proxy = http.ProxyURL(proxy)
		return cfg
	}
	trusted := newTLSServer(t, p.leaf, false, false)

	s := newSession(t, viaProxy(pinsFor(PinnedDomain{LeafIdentities: []string{SPKISHA256(p.leaf.Leaf)}})), nil)
	if body, _, err := s.Data(context.Background(), get(t, trusted.URL)); err != nil || string(body) != "hello HTTP/1.1 -" {
		t.Fatalf("pin match: %q %v", body, err)
	}
	s = newSession(t, viaProxy(pinsFor(PinnedDomain{LeafIdentities: []string{SPKISHA256(p.self.Leaf)}})), nil)
	if _, _, err := s.Data(context.Background(), get(t, trusted.URL)); CodeOf(err) != ErrServerCertificateUntrusted {
		t.Fatalf("pin mismatch: %v, want -1202", err)
	}

	mtls := newTLSServer(t, p.leaf, false, true)
	d := newChallenger(func(c *Challenge) (AuthChallengeDisposition, *Credential) {
		if c.ProtectionSpace.AuthenticationMethod == credstore.AuthMethodServerTrust {
			return PerformDefaultHandling, nil
		}
		return UseCredential, NewCertificateCredential(p.client)
	})
	s = newSession(t, viaProxy(trustConfig()), sessionLevel{d})
	if body, _, err := s.Data(context.Background(), get(t, mtls.URL)); err != nil || string(body) != "hello HTTP/1.1 client" {
		t.Fatalf("client certificate: %q %v", body, err)
	}
	seen, _ := d.challenges()
	var got []string
	for _, c := range seen {
		got = append(got, strings.TrimPrefix(c.ProtectionSpace.AuthenticationMethod, "NSURLAuthenticationMethod")+" "+c.ProtectionSpace.Host+":"+strconv.Itoa(c.ProtectionSpace.Port))
	}
	port := strconv.Itoa(mtls.port())
	if want := []string{"ServerTrust 127.0.0.1:" + port, "ClientCertificate 127.0.0.1:" + port}; !slices.Equal(got, want) {
		t.Errorf("challenges %q, want %q", got, want)
	}

	untrusted := newTLSServer(t, p.self, false, false)
	d = newChallenger(acceptTrust)
	s = newSession(t, viaProxy(trustConfig()), sessionLevel{d})
	if _, _, err := s.Data(context.Background(), get(t, untrusted.URL)); err != nil {
		t.Fatalf("untrusted server accepted by the delegate through a proxy: %v", err)
	}
	if seen, _ := d.challenges(); len(seen) != 1 || seen[0].ProtectionSpace.AuthenticationMethod != credstore.AuthMethodServerTrust {
		t.Errorf("challenges %v, want one ServerTrust", seen)
	}
}
