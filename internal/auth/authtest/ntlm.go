package authtest

// The server side of NTLMv2 (MS-NLMP §3.3.2), written from the
// specification apart from the client library, to check what a client
// sends.

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"unicode/utf16"

	"golang.org/x/crypto/md4"
)

// UTF16LE encodes s as UTF-16 little-endian.
func UTF16LE(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// HMACMD5 is HMAC-MD5 of the concatenated data.
func HMACMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// NTOWFv2 is NTOWFv2(Passwd, User, UserDom) of MS-NLMP §3.3.2.
func NTOWFv2(password, user, domain string) []byte {
	h := md4.New()
	h.Write(UTF16LE(password))
	return HMACMD5(h.Sum(nil), UTF16LE(strings.ToUpper(user)+domain))
}

// AVPairs encodes AV_PAIRs (MS-NLMP §2.2.2.1) ending with MsvAvEOL.
func AVPairs(pairs ...any) []byte {
	var b []byte
	for i := 0; i < len(pairs); i += 2 {
		id, v := pairs[i].(int), pairs[i+1].([]byte)
		b = binary.LittleEndian.AppendUint16(b, uint16(id))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	return append(b, 0, 0, 0, 0)
}

// VerifyNTLMv2 checks an NTLMv2 NtChallengeResponse. When timestamp is
// not nil, the response must carry it.
func VerifyNTLMv2(key, serverChallenge, resp, timestamp []byte) error {
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
	if !hmac.Equal(proof, HMACMD5(key, serverChallenge, temp)) {
		return errors.New("NTProofStr does not match")
	}
	return nil
}

// NTLMServer is a loopback NTLM server: 401 NTLM, then a
// CHALLENGE_MESSAGE on the same connection, then it checks the
// AUTHENTICATE_MESSAGE.
type NTLMServer struct {
	// Domain, User and Password are the one account the server accepts.
	Domain, User, Password string

	mu    sync.Mutex
	conns map[string][]byte // remote address -> server challenge sent
	seen  []string          // domain\user of accepted logons
}

// NTLMTimestamp is the time the server's challenge carries.
var NTLMTimestamp = []byte{0x00, 0x90, 0xd3, 0x36, 0xb7, 0x34, 0xc3, 0x01}

// ChallengeMessage returns the CHALLENGE_MESSAGE the server sends with
// serverChallenge.
func (s *NTLMServer) ChallengeMessage(serverChallenge []byte) []byte {
	target := UTF16LE("SERVER")
	info := AVPairs(2, UTF16LE("DOMAIN"), 1, UTF16LE("SERVER"), 7, NTLMTimestamp)
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

func fromUTF16LE(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func (s *NTLMServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
		w.Header().Set("WWW-Authenticate", "NTLM "+base64.StdEncoding.EncodeToString(s.ChallengeMessage(sc)))
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
		domain, user := fromUTF16LE(dom), fromUTF16LE(usr)
		if !strings.EqualFold(user, s.User) || domain != s.Domain {
			fail("user %q domain %q", user, domain)
			return
		}
		if err := VerifyNTLMv2(NTOWFv2(s.Password, user, domain), sc, nt, NTLMTimestamp); err != nil {
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

// Logons returns the DOMAIN\user of each logon the server accepted.
func (s *NTLMServer) Logons() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}
