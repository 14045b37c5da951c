package integrity

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The example content of RFC 9530 and its digests, computed here with
// openssl (printf '{"hello": "world"}' | openssl dgst -sha256 -binary | base64);
// they equal the values the RFC prints.
const (
	rfcBody   = `{"hello": "world"}`
	rfcSHA256 = "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
	rfcSHA512 = "WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew=="
)

func b64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestRFCVectorsComputed(t *testing.T) {
	s256 := sha256.Sum256([]byte(rfcBody))
	s512 := sha512.Sum512([]byte(rfcBody))
	if !bytes.Equal(s256[:], b64(rfcSHA256)) || !bytes.Equal(s512[:], b64(rfcSHA512)) {
		t.Fatal("RFC 9530 example digests do not match the example content")
	}
}

func TestParseField(t *testing.T) {
	tests := []struct {
		in   []string
		want []string // Digest.String() of each result
		err  bool
	}{
		{[]string{"sha-256=:" + rfcSHA256 + ":"}, []string{"sha-256=:" + rfcSHA256 + ":"}, false},
		{[]string{"sha-256=:" + rfcSHA256 + ":, sha-512=:" + rfcSHA512 + ":"},
			[]string{"sha-512=:" + rfcSHA512 + ":", "sha-256=:" + rfcSHA256 + ":"}, false},
		// Two field lines are joined.
		{[]string{"sha-256=:" + rfcSHA256 + ":", "sha-512=:" + rfcSHA512 + ":"},
			[]string{"sha-512=:" + rfcSHA512 + ":", "sha-256=:" + rfcSHA256 + ":"}, false},
		// Other algorithms, whatever their values, are ignored.
		{[]string{`md5=:AAAA:, unixsum=12, sha=?1, id-sha-256=(1 2);x="y", sha-256=:` + rfcSHA256 + ":"},
			[]string{"sha-256=:" + rfcSHA256 + ":"}, false},
		{[]string{"unixsum=30637"}, nil, false},
		{nil, nil, false},
		// Parameters and optional whitespace are allowed.
		{[]string{"  sha-256=:" + rfcSHA256 + ":;a=1;b\t,\tfoo  "}, []string{"sha-256=:" + rfcSHA256 + ":"}, false},
		// Unpadded base64 is accepted.
		{[]string{"sha-256=:" + strings.TrimRight(rfcSHA256, "=") + ":"}, []string{"sha-256=:" + rfcSHA256 + ":"}, false},
		// A repeated key keeps the last value.
		{[]string{"sha-256=:" + rfcSHA512 + ":, sha-256=:" + rfcSHA256 + ":"}, []string{"sha-256=:" + rfcSHA256 + ":"}, false},
		// Malformed.
		{[]string{"sha-256=" + rfcSHA256}, nil, true},
		{[]string{"sha-256=:" + rfcSHA512 + ":"}, nil, true},
		{[]string{"sha-256=:" + rfcSHA256}, nil, true},
		{[]string{"sha-256=:" + rfcSHA256 + ":,"}, nil, true},
		{[]string{"SHA-256=:" + rfcSHA256 + ":"}, nil, true},
		{[]string{"sha-256=:a*b:"}, nil, true},
		{[]string{"sha-256=:" + rfcSHA256 + ": x"}, nil, true},
		{[]string{`x="unterminated`}, nil, true},
		{[]string{`x=1.2345`}, nil, true},
		{[]string{`x=1234567890123456`}, nil, true},
		{[]string{`x=(1 2`}, nil, true},
		{[]string{`x=?2`}, nil, true},
		{[]string{`x="bad\q"`}, nil, true},
		{[]string{`x=@1.5`}, nil, true},
		{[]string{`x=-`}, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseField(ContentDigest, tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseField(%q) error = %v; want error %v", tt.in, err, tt.err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseField(%q) error %v does not wrap ErrMalformed", tt.in, err)
			}
			continue
		}
		var gs []string
		for _, d := range got {
			gs = append(gs, d.String())
			if d.Source != ContentDigest {
				t.Errorf("source = %q", d.Source)
			}
		}
		if fmt.Sprint(gs) != fmt.Sprint(tt.want) {
			t.Errorf("ParseField(%q) = %v; want %v", tt.in, gs, tt.want)
		}
	}
}

func TestParseExpected(t *testing.T) {
	s256 := b64(rfcSHA256)
	s512 := b64(rfcSHA512)
	h256 := hex.EncodeToString(s256)
	tests := []struct {
		in  string
		alg Algorithm
		sum []byte
	}{
		{"sha256:" + h256, SHA256, s256},
		{"SHA256:" + strings.ToUpper(h256), SHA256, s256},
		{"sha-256:" + h256, SHA256, s256},
		{"  sha256=" + h256 + "\n", SHA256, s256},
		{"sha512:" + hex.EncodeToString(s512), SHA512, s512},
		{"sha256:" + rfcSHA256, SHA256, s256},
		{"sha-256=:" + rfcSHA256 + ":", SHA256, s256},
		{"sha256-" + rfcSHA256, SHA256, s256},
		{"sha512-" + base64.RawURLEncoding.EncodeToString(s512), SHA512, s512},
		{"sha-512=:" + rfcSHA512 + ":", SHA512, s512},
	}
	for _, tt := range tests {
		d, err := ParseExpected(tt.in)
		if err != nil || d.Alg != tt.alg || !bytes.Equal(d.Sum, tt.sum) || d.Source != Expected {
			t.Errorf("ParseExpected(%q) = %v, %v; want %s %x", tt.in, d, err, tt.alg, tt.sum)
		}
	}
	for _, bad := range []string{
		"", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256", "sha256:", "sha256 " + h256,
		"sha256:" + h256[:62], "sha256:" + h256 + "00", "sha512:" + h256, "sha256:" + rfcSHA512,
		"sha256:" + strings.Replace(h256, "f", "g", 1) + "", "sha1:" + h256,
	} {
		if d, err := ParseExpected(bad); err == nil || !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseExpected(%q) = %v, %v; want ErrMalformed", bad, d, err)
		}
	}
}

func TestVerifier(t *testing.T) {
	cd, err := ParseField(ContentDigest, []string{"sha-256=:" + rfcSHA256 + ":, sha-512=:" + rfcSHA512 + ":"})
	if err != nil {
		t.Fatal(err)
	}
	exp, err := ParseExpected("sha256:" + hex.EncodeToString(b64(rfcSHA256)))
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(append(cd, exp)...)
	if len(v.hashes) != 2 {
		t.Errorf("%d hashes for two algorithms", len(v.hashes))
	}
	// Written in pieces.
	for _, piece := range []string{`{"hel`, `lo": "wo`, "", `rld"}`} {
		io.WriteString(v, piece)
	}
	if err := v.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if v.Written() != int64(len(rfcBody)) {
		t.Errorf("Written = %d", v.Written())
	}
	// One more byte: a mismatch naming the first digest that differs.
	io.WriteString(v, "\n")
	err = v.Check()
	var me *MismatchError
	if !errors.As(err, &me) || !errors.Is(err, ErrMismatch) {
		t.Fatalf("Check = %v; want a *MismatchError", err)
	}
	if me.Alg != SHA512 || me.Source != ContentDigest || !bytes.Equal(me.Want, b64(rfcSHA512)) {
		t.Errorf("mismatch = %+v", me)
	}
	got := sha512.Sum512([]byte(rfcBody + "\n"))
	if !bytes.Equal(me.Got, got[:]) {
		t.Errorf("Got = %x; want %x", me.Got, got)
	}
	msg := err.Error()
	for _, part := range []string{"sha-512", "Content-Digest", hex.EncodeToString(me.Want), hex.EncodeToString(me.Got)} {
		if !strings.Contains(msg, part) {
			t.Errorf("error %q lacks %q", msg, part)
		}
	}
	// Nothing to check.
	var zero Verifier
	zero.Write([]byte("x"))
	if zero.Check() != nil || !zero.Empty() || !NewVerifier().Empty() {
		t.Error("an empty Verifier must check nothing")
	}
	if !NewVerifier(Digest{Alg: "md5", Sum: make([]byte, 16)}, Digest{Alg: SHA256, Sum: []byte{1}}).Empty() {
		t.Error("unusable digests must be ignored")
	}
}

// TestLoopback checks both fields over real responses: a gzip-coded 200
// (Content-Digest and Repr-Digest both cover the coded bytes), then two 206
// parts (each Content-Digest covers its part, Repr-Digest the whole).
func TestLoopback(t *testing.T) {
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	io.WriteString(zw, strings.Repeat(rfcBody, 1000))
	zw.Close()
	repr := zbuf.Bytes()
	field := func(b []byte) string {
		s := sha256.Sum256(b)
		return "sha-256=:" + base64.StdEncoding.EncodeToString(s[:]) + ":"
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Repr-Digest", field(repr))
		var start, end int
		if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &start, &end); err == nil {
			part := repr[start : end+1]
			w.Header().Set("Content-Digest", field(part))
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, len(repr)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(part)
			return
		}
		w.Header().Set("Content-Digest", field(repr))
		w.Write(repr)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()

	get := func(rng string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		cd, err := ParseField(ContentDigest, resp.Header.Values("Content-Digest"))
		if err != nil {
			t.Fatal(err)
		}
		v := NewVerifier(cd...)
		var body bytes.Buffer
		if _, err := io.Copy(io.MultiWriter(&body, v), resp.Body); err != nil {
			t.Fatal(err)
		}
		if err := v.Check(); err != nil {
			t.Errorf("Content-Digest of %q: %v", rng, err)
		}
		return resp, body.Bytes()
	}

	resp, whole := get("")
	rd, err := ParseField(ReprDigest, resp.Header.Values("Repr-Digest"))
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(rd...)
	v.Write(whole)
	if err := v.Check(); err != nil {
		t.Errorf("Repr-Digest over a 200: %v", err)
	}

	mid := len(repr) / 3
	_, a := get(fmt.Sprintf("bytes=0-%d", mid-1))
	resp, b := get(fmt.Sprintf("bytes=%d-%d", mid, len(repr)-1))
	rd, _ = ParseField(ReprDigest, resp.Header.Values("Repr-Digest"))
	part := NewVerifier(rd...)
	part.Write(b)
	if err := part.Check(); !errors.Is(err, ErrMismatch) {
		t.Errorf("Repr-Digest over one part = %v; want a mismatch", err)
	}
	full := NewVerifier(rd...)
	full.Write(a)
	full.Write(b)
	if err := full.Check(); err != nil {
		t.Errorf("Repr-Digest over both parts: %v", err)
	}
}

func FuzzParseField(f *testing.F) {
	f.Add("sha-256=:" + rfcSHA256 + ":, sha-512=:" + rfcSHA512 + ":")
	f.Add(`md5=:AAAA:, unixsum=12;a=?0, x=(1 "two" :AA==: tok/en @12 -1.5);p`)
	f.Add("sha-512=:" + rfcSHA256 + ":")
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseField(ReprDigest, []string{s})
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		for _, d := range ds {
			if len(d.Sum) != d.Alg.Size() || d.Alg.Size() == 0 {
				t.Fatalf("bad digest %+v", d)
			}
		}
	})
}

func FuzzParseExpected(f *testing.F) {
	f.Add("sha256:" + hex.EncodeToString(b64(rfcSHA256)))
	f.Add("sha-512=:" + rfcSHA512 + ":")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseExpected(s)
		if err == nil && (d.Alg.Size() == 0 || len(d.Sum) != d.Alg.Size()) {
			t.Fatalf("bad digest %+v", d)
		}
	})
}
