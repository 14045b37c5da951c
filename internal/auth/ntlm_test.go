package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"golang.org/x/crypto/md4"
)

// The server side of NTLMv2 (MS-NLMP §3.3.2), written from the
// specification apart from the client library, to check what the client
// sends.

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// ntowfv2 is NTOWFv2(Passwd, User, UserDom) of MS-NLMP §3.3.2.
func ntowfv2(password, user, domain string) []byte {
	h := md4.New()
	h.Write(utf16le(password))
	return hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
}

// avPairs encodes AV_PAIRs (MS-NLMP §2.2.2.1) ending with MsvAvEOL.
func avPairs(pairs ...any) []byte {
	var b []byte
	for i := 0; i < len(pairs); i += 2 {
		id, v := pairs[i].(int), pairs[i+1].([]byte)
		b = binary.LittleEndian.AppendUint16(b, uint16(id))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	return append(b, 0, 0, 0, 0)
}

// TestNTLMv2Vectors checks the verifier below against MS-NLMP §4.2.4 (the
// NTLMv2 authentication example: User / Domain / Password, server
// challenge 0123456789abcdef, client challenge aa...aa, time 0, target
// info with NetBIOS domain "Domain" and computer "Server").
func TestNTLMv2Vectors(t *testing.T) {
	key := ntowfv2("Password", "User", "Domain")
	if got := hex.EncodeToString(key); got != "0c868a403bfd7a93a3001ef22ef02e3f" {
		t.Errorf("NTOWFv2 = %s", got)
	}
	serverChallenge, _ := hex.DecodeString("0123456789abcdef")
	clientChallenge := bytes.Repeat([]byte{0xaa}, 8)
	targetInfo := avPairs(2, utf16le("Domain"), 1, utf16le("Server"))
	temp := append([]byte{1, 1, 0, 0, 0, 0, 0, 0}, make([]byte, 8)...) // version, reserved, time 0
	temp = append(temp, clientChallenge...)
	temp = append(temp, 0, 0, 0, 0)
	temp = append(temp, targetInfo...)
	temp = append(temp, 0, 0, 0, 0)
	proof := hmacMD5(key, serverChallenge, temp)
	if got := hex.EncodeToString(proof); got != "68cd0ab851e51c96aabc927bebef6a1c" {
		t.Errorf("NTProofStr = %s", got)
	}
	lm := hmacMD5(key, serverChallenge, clientChallenge)
	if got := hex.EncodeToString(lm); got != "86c35097ac9cec102554764a57cccc19" {
		t.Errorf("LMv2 = %s", got)
	}
	if got := hex.EncodeToString(hmacMD5(key, proof)); got != "8de40ccadbc14a82f15cb0ad0de95ca3" {
		t.Errorf("SessionBaseKey = %s", got)
	}
	if err := verifyNTLMv2(key, serverChallenge, append(proof, temp...), nil); err != nil {
		t.Errorf("verifier rejects the specification's response: %v", err)
	}
}

// verifyNTLMv2 checks an NTLMv2 NtChallengeResponse. When timestamp is
// not nil, the response must carry it.
func verifyNTLMv2(key, serverChallenge, resp, timestamp []byte) error {
	if len(resp) < 16+28 {
		return fmt.Errorf("NtChallengeResponse of %d bytes", len(resp))
	}
	proof, temp := resp[:16], resp[16:]
	if temp[0] != 1 || temp[1] != 1 {
		return fmt.Errorf("response version %d.%d", temp[0], temp[1])
	}
	if timestamp != nil && !bytes.Equal(temp[8:16], timestamp) {
		return errors.New("timestamp differs from the server's")
	}
	if !hmac.Equal(proof, hmacMD5(key, serverChallenge, temp)) {
		return errors.New("NTProofStr does not match")
	}
	return nil
}

// ntlmServer is a loopback NTLM server: 401 NTLM, then a
// CHALLENGE_MESSAGE on the same connection, then it checks the
// AUTHENTICATE_MESSAGE.
type ntlmServer struct {
	domain, user, password string

	mu    sync.Mutex
	conns map[string][]byte // remote address -> server challenge sent
	seen  []string          // domain\user of accepted logons
}

var ntlmTimestamp = []byte{0x00, 0x90, 0xd3, 0x36, 0xb7, 0x34, 0xc3, 0x01}

func (s *ntlmServer) challengeMessage(serverChallenge []byte) []byte {
	target := utf16le("SERVER")
	info := avPairs(2, utf16le("DOMAIN"), 1, utf16le("SERVER"), 7, ntlmTimestamp)
	const flags = 0x00000001 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00010000 | 0x00080000 | 0x00800000 | 0x20000000 | 0x80000000
	b := []byte("NTLMSSP\x00")
	b = binary.LittleEndian.AppendUint32(b, 2)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(target)))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(target)))
	b = binary.LittleEndian.AppendUint32(b, 56)
	b = binary.LittleEndian.AppendUint32(b, flags)
	b = append(b, serverChallenge...)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(info)))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(info)))
	b = binary.LittleEndian.AppendUint32(b, uint32(56+len(target)))
	b = append(b, 6, 1, 0xb1, 0x1d, 0, 0, 0, 15) // version
	b = append(b, target...)
	return append(b, info...)
}

func field(msg []byte, off int) ([]byte, error) {
	n, at := int(binary.LittleEndian.Uint16(msg[off:])), int(binary.LittleEndian.Uint32(msg[off+4:]))
	if at+n > len(msg) {
		return nil, errors.New("field out of bounds")
	}
	return msg[at : at+n], nil
}

func fromUTF16le(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func (s *ntlmServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "NTLM ")
	if !ok {
		w.Header().Set("WWW-Authenticate", "NTLM")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	msg, err := base64.StdEncoding.DecodeString(token)
	if err != nil || len(msg) < 12 || string(msg[:8]) != "NTLMSSP\x00" {
		http.Error(w, "bad token", http.StatusBadRequest)
		return
	}
	fail := func(format string, args ...any) {
		w.Header().Set("X-Failure", fmt.Sprintf(format, args...))
		w.Header().Set("WWW-Authenticate", "NTLM")
		w.WriteHeader(http.StatusUnauthorized)
	}
	switch binary.LittleEndian.Uint32(msg[8:]) {
	case 1:
		if len(msg) < 16 || binary.LittleEndian.Uint32(msg[12:])&1 == 0 {
			fail("negotiate without unicode")
			return
		}
		sc := make([]byte, 8)
		copy(sc, r.RemoteAddr+"challenge")
		s.mu.Lock()
		if s.conns == nil {
			s.conns = map[string][]byte{}
		}
		s.conns[r.RemoteAddr] = sc
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", "NTLM "+base64.StdEncoding.EncodeToString(s.challengeMessage(sc)))
		w.WriteHeader(http.StatusUnauthorized)
	case 3:
		s.mu.Lock()
		sc := s.conns[r.RemoteAddr]
		delete(s.conns, r.RemoteAddr)
		s.mu.Unlock()
		if sc == nil {
			fail("AUTHENTICATE on a connection without CHALLENGE")
			return
		}
		if len(msg) < 64 {
			fail("short AUTHENTICATE")
			return
		}
		nt, err1 := field(msg, 20)
		dom, err2 := field(msg, 28)
		usr, err3 := field(msg, 36)
		if err := errors.Join(err1, err2, err3); err != nil {
			fail("%v", err)
			return
		}
		domain, user := fromUTF16le(dom), fromUTF16le(usr)
		if !strings.EqualFold(user, s.user) || domain != s.domain {
			fail("user %q domain %q", user, domain)
			return
		}
		if err := verifyNTLMv2(ntowfv2(s.password, user, domain), sc, nt, ntlmTimestamp); err != nil {
			fail("%v", err)
			return
		}
		s.mu.Lock()
		s.seen = append(s.seen, domain+`\`+user)
		s.mu.Unlock()
		w.Write([]byte("hello " + user))
	default:
		fail("message type")
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
		srv := &ntlmServer{domain: "CORP", user: "alice", password: "Pa$$w0rd \u00e9"}
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
	srv := &ntlmServer{}
	good := Challenge{Scheme: SchemeNTLM, Token68: base64.StdEncoding.EncodeToString(srv.challengeMessage(make([]byte, 8)))}
	withFlags := func(set, clear uint32) Challenge {
		m := srv.challengeMessage(make([]byte, 8))
		binary.LittleEndian.PutUint32(m[20:], le32(m[20:])&^clear|set)
		return Challenge{Scheme: SchemeNTLM, Token68: base64.StdEncoding.EncodeToString(m)}
	}
	short := srv.challengeMessage(make([]byte, 8))[:60]
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
	srv := &ntlmServer{}
	f.Add(srv.challengeMessage([]byte("12345678")))
	f.Add([]byte("NTLMSSP\x00\x02\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		NTLMAuthenticate(Challenge{Scheme: SchemeNTLM, Token68: base64.StdEncoding.EncodeToString(msg)}, "u", "p")
	})
}
