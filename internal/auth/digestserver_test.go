package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// digestServer is a Digest server (RFC 7616 §3) for tests, written from the
// RFC apart from the client code: it challenges, checks every parameter of
// an answer, and proves itself with Authentication-Info.
type digestServer struct {
	realm, alg, qop   string // qop "" is RFC 2069 mode; alg "" sends none (MD5)
	userhash, charset bool
	opaque            string
	domain            string
	user, password    string
	nextnonce         bool // send a nextnonce in Authentication-Info

	mu       sync.Mutex
	nonces   map[string]uint32 // nonce -> highest nc seen
	expired  map[string]bool   // nonces to report stale
	counter  int
	answered []string // Authorization values accepted, in order
}

func (s *digestServer) newNonceLocked() string {
	s.counter++
	n := fmt.Sprintf("nonce-%d-%s", s.counter, strings.Repeat("x", s.counter%3))
	if s.nonces == nil {
		s.nonces = map[string]uint32{}
	}
	s.nonces[n] = 0
	return n
}

// expire makes every current nonce stale.
func (s *digestServer) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expired == nil {
		s.expired = map[string]bool{}
	}
	for n := range s.nonces {
		s.expired[n] = true
	}
}

func (s *digestServer) h(parts ...string) string {
	var d hash.Hash
	switch strings.TrimSuffix(strings.ToUpper(s.alg), "-SESS") {
	case "", "MD5":
		d = md5.New()
	case "SHA-256":
		d = sha256.New()
	case "SHA-512-256":
		d = sha512.New512_256()
	default:
		panic("alg " + s.alg)
	}
	d.Write([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(d.Sum(nil))
}

func (s *digestServer) challenge(w http.ResponseWriter, stale bool) {
	s.mu.Lock()
	nonce := s.newNonceLocked()
	s.mu.Unlock()
	v := fmt.Sprintf(`Digest realm=%s, nonce="%s"`, quote(s.realm), nonce)
	if s.qop != "" {
		v += `, qop="` + s.qop + `"`
	}
	if s.alg != "" {
		v += ", algorithm=" + s.alg
	}
	if s.opaque != "" {
		v += `, opaque="` + s.opaque + `"`
	}
	if s.domain != "" {
		v += `, domain="` + s.domain + `"`
	}
	if s.userhash {
		v += ", userhash=true"
	}
	if s.charset {
		v += `, charset=UTF-8`
	}
	if stale {
		v += ", stale=true"
	}
	w.Header().Add("WWW-Authenticate", v)
	w.WriteHeader(http.StatusUnauthorized)
}

func (s *digestServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	authz := r.Header.Get("Authorization")
	if authz == "" {
		s.challenge(w, false)
		return
	}
	cs := Parse(authz)
	if len(cs) != 1 || cs[0].Scheme != "digest" {
		http.Error(w, "bad authorization syntax", http.StatusBadRequest)
		return
	}
	p := cs[0].Params
	fail := func(format string, args ...any) {
		w.Header().Set("X-Failure", fmt.Sprintf(format, args...))
		s.challenge(w, false)
	}
	// The user name: plain, username* (RFC 8187), or hashed.
	user := p["username"]
	if ext, ok := p["username*"]; ok {
		if _, has := p["username"]; has {
			fail("both username and username*")
			return
		}
		enc, ok := strings.CutPrefix(ext, "UTF-8''")
		if !ok {
			fail("username* charset")
			return
		}
		var err error
		if user, err = url.PathUnescape(enc); err != nil {
			fail("username* encoding")
			return
		}
	}
	if s.userhash {
		if p["userhash"] != "true" || user != s.h(s.user, ":", s.realm) {
			fail("userhash")
			return
		}
		user = s.user
	} else if user != s.user {
		fail("user %q", user)
		return
	}
	if p["realm"] != s.realm {
		fail("realm")
		return
	}
	if p["uri"] != r.RequestURI {
		fail("uri %q != %q", p["uri"], r.RequestURI)
		return
	}
	if s.opaque != "" && p["opaque"] != s.opaque {
		fail("opaque")
		return
	}
	if _, ok := p["algorithm"]; ok != (s.alg != "") || (ok && p["algorithm"] != s.alg) {
		fail("algorithm %q", p["algorithm"])
		return
	}
	nonce, qop, cnonce, ncs := p["nonce"], p["qop"], p["cnonce"], p["nc"]
	s.mu.Lock()
	last, known := s.nonces[nonce]
	stale := s.expired[nonce]
	s.mu.Unlock()
	if !known {
		fail("unknown nonce")
		return
	}
	var nc uint64
	if s.qop != "" {
		if !strings.Contains(","+strings.ReplaceAll(s.qop, " ", "")+",", ","+qop+",") {
			fail("qop %q", qop)
			return
		}
		var err error
		if nc, err = strconv.ParseUint(ncs, 16, 32); err != nil || len(ncs) != 8 || nc <= uint64(last) || cnonce == "" {
			fail("nc %q after %d", ncs, last)
			return
		}
	} else if qop != "" || ncs != "" {
		fail("qop in RFC 2069 mode")
		return
	}
	password := s.password
	ha1 := s.h(user, ":", s.realm, ":", password)
	if strings.HasSuffix(strings.ToUpper(s.alg), "-SESS") {
		ha1 = s.h(ha1, ":", nonce, ":", cnonce)
	}
	a2 := r.Method + ":" + p["uri"]
	if qop == "auth-int" {
		a2 += ":" + s.h(string(body))
	}
	var want string
	if qop == "" {
		want = s.h(ha1, ":", nonce, ":", s.h(a2))
	} else {
		want = s.h(ha1, ":", nonce, ":", ncs, ":", cnonce, ":", qop, ":", s.h(a2))
	}
	if p["response"] != want {
		fail("response")
		return
	}
	if stale {
		s.challenge(w, true)
		return
	}
	s.mu.Lock()
	s.nonces[nonce] = uint32(nc)
	s.answered = append(s.answered, authz)
	info := ""
	if s.nextnonce {
		info = `nextnonce="` + s.newNonceLocked() + `", `
	}
	s.mu.Unlock()
	respBody := []byte("welcome " + s.user)
	ra2 := ":" + p["uri"]
	if qop == "auth-int" {
		ra2 += ":" + s.h(string(respBody))
	}
	var rsp string
	if qop == "" {
		rsp = s.h(ha1, ":", nonce, ":", s.h(ra2))
	} else {
		rsp = s.h(ha1, ":", nonce, ":", ncs, ":", cnonce, ":", qop, ":", s.h(ra2))
		info += fmt.Sprintf(`qop=%s, cnonce="%s", nc=%s, `, qop, cnonce, ncs)
	}
	w.Header().Set("Authentication-Info", info+`rspauth="`+rsp+`"`)
	w.Write(respBody)
}
