package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestPinnedPubKey: --pinnedpubkey accepts a server whose key is pinned
// (as sha256// digests or a key file) and refuses one whose key is not
// with status 90 before any request; a redirect to another server is
// checked too.
func TestPinnedPubKey(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	// Another server, with a key of its own.
	pki := newTestPKI(t)
	var otherHits atomic.Int32
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		w.Write([]byte("other"))
	}))
	other.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{pki.certDER}, PrivateKey: pki.key}}}
	other.Config.ErrorLog = log.New(io.Discard, "", 0)
	other.StartTLS()
	defer other.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/away" {
			http.Redirect(w, r, other.URL+"/", http.StatusFound)
			return
		}
		w.Write([]byte("pinned"))
	}))
	defer srv.Close()
	leaf := srv.Certificate()
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	pin := "sha256//" + base64.StdEncoding.EncodeToString(sum[:])
	wrong := sha256.Sum256([]byte("another key"))
	wrongPin := "sha256//" + base64.StdEncoding.EncodeToString(wrong[:])

	// httptest's servers share one certificate: -k leaves the chain
	// unchecked, the pins are checked all the same.
	if r := cli(t, "", "-k", "--pinnedpubkey", wrongPin+";"+pin, srv.URL+"/").want(t, 0); r.stdout != "pinned" {
		t.Errorf("stdout %q", r.stdout)
	}
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	der, err := x509.MarshalPKIXPublicKey(leaf.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	cli(t, "", "-k", "--pinnedpubkey", keyFile, srv.URL+"/").want(t, 0)

	before := hits.Load()
	r := cli(t, "", "-k", "--pinnedpubkey", wrongPin, srv.URL+"/")
	r.want(t, exitPinnedKey)
	if !strings.Contains(r.stderr, "does not match pinned public key") || hits.Load() != before {
		t.Errorf("stderr %q; the server saw %d requests", r.stderr, hits.Load()-before)
	}
	cli(t, "", "-k", "--pinnedpubkey", "sha256//not-base64", srv.URL+"/").want(t, exitPinnedKey)
	// The host a redirect leads to is checked too: its key is not pinned.
	cli(t, "", "-k", "-L", "--pinnedpubkey", pin, srv.URL+"/away").want(t, exitPinnedKey)
	if otherHits.Load() != 0 {
		t.Errorf("the unpinned server received %d requests", otherHits.Load())
	}
	otherSum := sha256.Sum256(other.Certificate().RawSubjectPublicKeyInfo)
	both := pin + ";sha256//" + base64.StdEncoding.EncodeToString(otherSum[:])
	if r := cli(t, "", "-k", "-L", "--pinnedpubkey", both, srv.URL+"/away").want(t, 0); r.stdout != "other" {
		t.Errorf("stdout %q", r.stdout)
	}
}
