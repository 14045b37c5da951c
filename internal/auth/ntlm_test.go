package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/urlsession-go/urlsession/internal/auth/authtest"
)

// TestNTLMv2Vectors checks authtest's verifier against MS-NLMP §4.2.4 (the
// NTLMv2 authentication example: User / Domain / Password, server
// challenge 0123456789abcdef, client challenge aa...aa, time 0, target
// info with NetBIOS domain "Domain" and computer "Server").
func TestNTLMv2Vectors(t *testing.T) {
	key := authtest.NTOWFv2("Password", "User", "Domain")
	if got := hex.EncodeToString(key); got != "0c868a403bfd7a93a3001ef22ef02e3f" {
		t.Errorf("NTOWFv2 = %s", got)
	}
	serverChallenge, _ := hex.DecodeString("0123456789abcdef")
	clientChallenge := bytes.Repeat([]byte{0xaa}, 8)
	targetInfo := authtest.AVPairs(2, authtest.UTF16LE("Domain"), 1, authtest.UTF16LE("Server"))
	temp := append([]byte{1, 1, 0, 0, 0, 0, 0, 0}, make([]byte, 8)...) // version, reserved, time 0
	temp = append(temp, clientChallenge...)
	temp = append(temp, 0, 0, 0, 0)
	temp = append(temp, targetInfo...)
	temp = append(temp, 0, 0, 0, 0)
	proof := authtest.HMACMD5(key, serverChallenge, temp)
	if got := hex.EncodeToString(proof); got != "68cd0ab851e51c96aabc927bebef6a1c" {
		t.Errorf("NTProofStr = %s", got)
	}
	lm := authtest.HMACMD5(key, serverChallenge, clientChallenge)
	if got := hex.EncodeToString(lm); got != "86c35097ac9cec102554764a57cccc19" {
		t.Errorf("LMv2 = %s", got)
	}
	if got := hex.EncodeToString(authtest.HMACMD5(key, proof)); got != "8de40ccadbc14a82f15cb0ad0de95ca3" {
		t.Errorf("SessionBaseKey = %s", got)
	}
	if err := authtest.VerifyNTLMv2(key, serverChallenge, append(proof, temp...), nil); err != nil {
		t.Errorf("verifier rejects the specification's response: %v", err)
	}
}

// TestNTLMHandshake runs the three legs against the loopback server on
// one connection.
func TestNTLMHandshake(t *testing.T) {
	for _, tt := range []struct {
		logon, password string
		wantOK          bool
	}{
		{`CORP\alice`, "Pa$$w0rd \u00e9", true},
		{`CORP\Alice`, "Pa$$w0rd \u00e9", true}, // user names are case-insensitive
		{`CORP\alice`, "wrong", false},
		{`OTHER\alice`, "Pa$$w0rd \u00e9", false}, // the domain is part of the key
	} {
		srv := &authtest.NTLMServer{Domain: "CORP", User: "alice", Password: "Pa$$w0rd \u00e9"}
		ts := httptest.NewServer(srv)
		var dials int
		var mu sync.Mutex
		tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dials++
			mu.Unlock()
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
		client := &http.Client{Transport: tr}
		do := func(authz string) *http.Response {
			req, _ := http.NewRequest("GET", ts.URL+"/secret", nil)
			if authz != "" {
				req.Header.Set("Authorization", authz)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		resp := do("")
		cs := ParseHeader(resp.Header, false)
		if resp.StatusCode != 401 || len(cs) != 1 || cs[0].Scheme != SchemeNTLM || cs[0].Token68 != "" {
			t.Fatalf("first leg: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
		}
		neg, err := NTLMNegotiate()
		if err != nil {
			t.Fatal(err)
		}
		resp = do(neg)
		cs = ParseHeader(resp.Header, false)
		if resp.StatusCode != 401 || len(cs) != 1 || cs[0].Token68 == "" {
			t.Fatalf("second leg: %d %q %s", resp.StatusCode, resp.Header.Values("WWW-Authenticate"), resp.Header.Get("X-Failure"))
		}
		authz, err := NTLMAuthenticate(cs[0], tt.logon, tt.password)
		if err != nil {
			t.Fatal(err)
		}
		resp = do(authz)
		if ok := resp.StatusCode == 200; ok != tt.wantOK {
			t.Errorf("%s: status %d (%s)", tt.logon, resp.StatusCode, resp.Header.Get("X-Failure"))
		}
		if dials != 1 {
			t.Errorf("handshake used %d connections", dials)
		}
		tr.CloseIdleConnections()
		ts.Close()
	}
}

func TestSplitNTLMUser(t *testing.T) {
	for _, tt := range []struct{ in, domain, user string }{
		{`CORP\alice`, "CORP", "alice"},
		{`alice@corp.example.com`, "", "alice@corp.example.com"},
		{`alice`, "", "alice"},
		{`CORP\`, "CORP", ""},
		{`A\B\c`, "A", `B\c`},
	} {
		if d, u := SplitNTLMUser(tt.in); d != tt.domain || u != tt.user {
			t.Errorf("SplitNTLMUser(%q) = %q, %q; want %q, %q", tt.in, d, u, tt.domain, tt.user)
		}
	}
}

func TestNTLMNegotiateMessage(t *testing.T) {
	v, err := NTLMNegotiate()
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(v, "NTLM ")
	msg, err := base64.StdEncoding.DecodeString(tok)
	if !ok || err != nil || len(msg) < 16 || string(msg[:8]) != "NTLMSSP\x00" || le32(msg[8:]) != 1 {
		t.Fatalf("NEGOTIATE_MESSAGE %q", v)
	}
	// Unicode, NTLM, extended session security.
	if f := le32(msg[12:]); f&0x00080201 != 0x00080201 {
		t.Errorf("flags %#x", f)
	}
}

func TestNTLMAuthenticateErrors(t *testing.T) {
	srv := &authtest.NTLMServer{}
	good := Challenge{Scheme: SchemeNTLM, Token68: base64.StdEncoding.EncodeToString(srv.ChallengeMessage(make([]byte, 8)))}
	withFlags := func(set, clear uint32) Challenge {
		m := srv.ChallengeMessage(make([]byte, 8))
		binary.LittleEndian.PutUint32(m[20:], le32(m[20:])&^clear|set)
		return Challenge{Scheme: SchemeNTLM, Token68: base64.StdEncoding.EncodeToString(m)}
	}
	short := srv.ChallengeMessage(make([]byte, 8))[:60]
	for _, tt := range []struct {
		name string
		c    Challenge
		user string
		want error
	}{
		{"ok", good, `D\u`, nil},
		{"empty user", good, `D\`, ErrInvalidCredential},
		{"basic", Challenge{Scheme: SchemeBasic}, "u", ErrUnsupported},
		{"no token", Challenge{Scheme: SchemeNTLM}, "u", ErrMalformed},
		{"not base64", Challenge{Scheme: SchemeNTLM, Token68: "!!"}, "u", ErrMalformed},
		{"negotiate message", Challenge{Scheme: SchemeNTLM, Token68: "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="}, "u", ErrMalformed},
		{"truncated", Challenge{Scheme: SchemeNTLM, Token68: base64.StdEncoding.EncodeToString(short)}, "u", ErrMalformed},
		{"lm key", withFlags(ntlmFlagLMKey, 0), "u", ErrUnsupported},
		{"key exchange", withFlags(ntlmFlagKeyExch, 0), "u", ErrUnsupported},
		{"oem only", withFlags(0, ntlmFlagUnicode), "u", ErrUnsupported},
	} {
		v, err := NTLMAuthenticate(tt.c, tt.user, "pw-secret")
		if !errors.Is(err, tt.want) || (err == nil) != (v != "") {
			t.Errorf("%s: %q, %v; want %v", tt.name, v, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("%s: error shows the password", tt.name)
		}
	}
}

// FuzzNTLMAuthenticate feeds arbitrary CHALLENGE_MESSAGEs: never a panic.
func FuzzNTLMAuthenticate(f *testing.F) {
	srv := &authtest.NTLMServer{}
	f.Add(srv.ChallengeMessage([]byte("12345678")))
	f.Add([]byte("NTLMSSP\x00\x02\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		NTLMAuthenticate(Challenge{Scheme: SchemeNTLM, Token68: base64.StdEncoding.EncodeToString(msg)}, "u", "p")
	})
}
