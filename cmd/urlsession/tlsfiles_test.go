package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pemFile writes PEM blocks to dir/name and returns its path.
func pemFile(t *testing.T, dir, name string, blocks ...*pem.Block) string {
	t.Helper()
	var b []byte
	for _, blk := range blocks {
		b = append(b, pem.EncodeToMemory(blk)...)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func certBlock(der []byte) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: der} }

// serverCA writes the certificate of the TLS test server s to a file and
// returns its path.
func serverCA(t *testing.T, s *httptest.Server) string {
	t.Helper()
	return pemFile(t, t.TempDir(), "server-ca.pem", certBlock(s.Certificate().Raw))
}

// testPKI is a certificate authority and a client certificate it issued,
// CN "cli-client", with its ECDSA key.
type testPKI struct {
	pool    *x509.CertPool
	caDER   []byte
	certDER []byte
	key     *ecdsa.PrivateKey
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cli test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "cli-client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	certDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &testPKI{pool: pool, caDER: caDER, certDER: certDER, key: key}
}

// clientCertServer starts a TLS server (HTTP/2 offered) that requires a
// client certificate from pki and answers with its common name.
func clientCertServer(t *testing.T, pki *testPKI) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName+" "+r.Proto)
	}))
	s.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// TestCACert: --cacert and --capath replace the system roots; a file that
// cannot be used is curl's 77.
func TestCACert(t *testing.T) {
	t.Parallel()
	s := capitalsTLS(t)
	ca := serverCA(t, s)
	r := cli(t, "", "--cacert", ca, "-v", s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" || !strings.Contains(r.stderr, "* protocol h2, ") {
		t.Errorf("--cacert: %v", r)
	}
	cli(t, "", "--cacert", ca, "--http1.1", s.URL+"/Nepal").want(t, 0)
	// Without it, or with another CA, the test certificate is not trusted.
	cli(t, "", s.URL+"/Nepal").want(t, 60)
	other := pemFile(t, t.TempDir(), "other.pem", certBlock(newTestPKI(t).caDER))
	r = cli(t, "", "--cacert", other, s.URL+"/Nepal").want(t, 60)
	if !strings.HasPrefix(r.stderr, "urlsession: (-1202) ") {
		t.Errorf("another CA: %q", r.stderr)
	}
	// -k wins.
	cli(t, "", "-k", "--cacert", other, s.URL+"/Nepal").want(t, 0)

	// A directory of certificates, whatever their names.
	dir := t.TempDir()
	if err := os.Link(ca, filepath.Join(dir, "5a1b2c3d.0")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "README"), "not a certificate")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	r = cli(t, "", "--capath", dir, s.URL+"/Nepal").want(t, 0)
	if r.stdout != "Kathmandu" {
		t.Errorf("--capath: %v", r)
	}
	cli(t, "", "--capath", t.TempDir(), s.URL+"/Nepal").want(t, 60)
	cli(t, "", "--capath", t.TempDir(), "--cacert", ca, s.URL+"/Nepal").want(t, 0)

	// Files that cannot be used.
	notPEM := filepath.Join(t.TempDir(), "x")
	writeFile(t, notPEM, "hello")
	for _, args := range [][]string{
		{"--cacert", filepath.Join(t.TempDir(), "missing")},
		{"--cacert", notPEM},
		{"--capath", filepath.Join(t.TempDir(), "missing")},
	} {
		r := cli(t, "", append(args, s.URL+"/Nepal")...).want(t, 77)
		if !strings.HasPrefix(r.stderr, "urlsession: (77) error reading the CA certificates") {
			t.Errorf("%q: stderr %q", args, r.stderr)
		}
	}
}

// TestClientCert: -E and --key present a client certificate to a server
// that requires one.
func TestClientCert(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	s := clientCertServer(t, pki)
	ca := serverCA(t, s)
	dir := t.TempDir()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(pki.key)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(pki.key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pemFile(t, dir, "client.pem", certBlock(pki.certDER), certBlock(pki.caDER))
	key8 := pemFile(t, dir, "key8.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	keyEC := pemFile(t, dir, "keyec.pem", &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	pemFile(t, dir, "a:b.pem", certBlock(pki.certDER), &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	enc, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", sec1, []byte("pass:word"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	keyEnc := pemFile(t, dir, "keyenc.pem", enc)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDER, _ := x509.MarshalPKCS8PrivateKey(other)
	keyOther := pemFile(t, dir, "other.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: otherDER})

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-E", cert, "--key", key8}, "cli-client HTTP/2.0"},
		{[]string{"--cert", cert, "--key", keyEC, "--http1.1"}, "cli-client HTTP/1.1"},
		{[]string{"-E", filepath.Join(dir, `a\:b.pem`), "--cert-type", "pem"}, "cli-client HTTP/2.0"},
		{[]string{"-E", cert + ":pass:word", "--key", keyEnc, "--cert-type", "PEM"}, "cli-client HTTP/2.0"},
	} {
		r := cli(t, "", append(append([]string{"--cacert", ca}, c.args...), s.URL)...).want(t, 0)
		if r.stdout != c.want {
			t.Errorf("%q: %v", c.args, r)
		}
	}

	// Without a certificate the server refuses the connection.
	// With TLS 1.3 the refusal comes after the client's side of the
	// handshake: it fails the handshake (35) or, when the connection is
	// already in use, the exchange (56).
	r := cli(t, "", "--cacert", ca, s.URL)
	if (r.code != 35 && r.code != 56) || r.stdout != "" {
		t.Errorf("no certificate: %v", r)
	}

	for _, args := range [][]string{
		{"-E", filepath.Join(dir, "missing.pem")},
		{"-E", cert},                    // no key in the file
		{"-E", key8},                    // no certificate in the file
		{"-E", cert, "--key", keyOther}, // not its key
		{"-E", cert, "--key", keyEnc},   // encrypted, no password
		{"-E", cert + ":bad", "--key", keyEnc},
		{"-E", cert, "--key", key8, "--cert-type", "DER"},
		{"-E", cert, "--key", filepath.Join(dir, "missing.pem")},
	} {
		r := cli(t, "", append(append([]string{"--cacert", ca}, args...), s.URL)...).want(t, 58)
		if !strings.HasPrefix(r.stderr, "urlsession: (58) unable to use the client certificate: ") {
			t.Errorf("%q: stderr %q", args, r.stderr)
		}
	}
	cli(t, "", "--key", key8, s.URL).want(t, 2)
}

func TestSplitCertArg(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, file, password string }{
		{"cert.pem", "cert.pem", ""},
		{"cert.pem:secret", "cert.pem", "secret"},
		{"cert.pem:se:cret", "cert.pem", "se:cret"},
		{`a\:b.pem:pw`, "a:b.pem", "pw"},
		{`a\\b.pem`, `a\b.pem`, ""},
		{`a\xb.pem`, `a\xb.pem`, ""},
		{`trailing\`, `trailing\`, ""},
		{"cert.pem:", "cert.pem", ""},
	} {
		file, password := splitCertArg(c.in)
		if file != c.file || password != c.password {
			t.Errorf("%q: got %q %q, want %q %q", c.in, file, password, c.file, c.password)
		}
	}
}
