package credstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

// resum appends a fresh checksum to body.
func resum(body []byte) []byte {
	sum := sha256.Sum256(body)
	return append(bytes.Clone(body), sum[:]...)
}

func sampleTier() *tierState {
	st := newTier()
	sp := ProtectionSpace{Host: "example.com", Protocol: "https", Realm: "caf\xe9 \x00 realm"}.Normalize()
	st.set(sp, "alice", "pw\xff\x00")
	st.set(sp, "", "token")
	st.setDefault(sp, "alice")
	proxy := ProtectionSpace{Host: "proxy", Port: 1080, ProxyType: ProxySOCKS, AuthenticationMethod: AuthMethodHTTPBasic}.Normalize()
	st.set(proxy, "bob", "")
	return st
}

func TestCodecRoundTrip(t *testing.T) {
	for _, st := range []*tierState{newTier(), sampleTier()} {
		data := encode(st)
		got, err := decode(data)
		if err != nil {
			t.Fatalf("decode(encode): %v", err)
		}
		if !got.equal(st) {
			t.Errorf("round trip changed the state")
		}
		if !bytes.Equal(encode(got), data) {
			t.Errorf("encoding is not deterministic")
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := encode(sampleTier())
	body := valid[:len(valid)-sha256.Size]
	withBody := func(f func(b []byte) []byte) []byte { return resum(f(bytes.Clone(body))) }
	tests := map[string][]byte{
		"empty":          nil,
		"truncated":      valid[:len(valid)-1],
		"trailing bytes": withBody(func(b []byte) []byte { return append(b, 0) }),
		"version zero": withBody(func(b []byte) []byte {
			b[len(fileMagic)] = 0
			return b
		}),
		"huge count": withBody(func(b []byte) []byte {
			return append(b[:len(fileMagic)+1], 0xff, 0xff, 0xff, 0xff, 0x0f)
		}),
		"port out of range":          resum(append([]byte(fileMagic+"\x01\x01\x01h"), 0xff, 0xff, 0x04, 0, 0, 0, 0, 1, 1, 'u', 0, 0)),
		"default index out of range": resum([]byte(fileMagic + "\x01\x01\x01h\x50\x00\x00\x00\x00\x01\x01u\x00\x01\x05")),
	}
	for name, data := range tests {
		if _, err := decode(data); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: %v, want errCorrupt", name, err)
		}
	}
	if _, err := decode(withBody(func(b []byte) []byte {
		b[len(fileMagic)] = 9
		return b
	})); !errors.Is(err, errVersion) {
		t.Errorf("newer version: %v, want errVersion", err)
	}
}

// FuzzDecode: decode never panics, and what it accepts re-encodes to a file
// that decodes to the same state. Each input is tried as a whole file and,
// so that the fuzzer reaches the parser past the checksum, as a payload
// behind a valid header and checksum.
func FuzzDecode(f *testing.F) {
	valid := encode(sampleTier())
	f.Add(valid)
	f.Add(encode(newTier()))
	f.Add(valid[:len(valid)/2])
	f.Add([]byte(fileMagic))
	f.Add([]byte{})
	f.Add(resum([]byte(fileMagic + "\x01\x01\x01h\x50\x00\x00\x00\x00\x01\x01u\x00\x01\x00")))
	f.Add([]byte("\x01\x01h\x50\x00\x00\x00\x00\x01\x01u\x00\x01\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		checkDecode(t, resum(append([]byte(fileMagic+"\x01"), data...)))
	})
}

// checkDecode asserts decode's contract for one input.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	st, err := decode(data)
	if err != nil {
		if !errors.Is(err, errCorrupt) && !errors.Is(err, errVersion) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		return
	}
	again, err := decode(encode(st))
	if err != nil {
		t.Fatalf("re-decode: %v", err)
	}
	if !again.equal(st) {
		t.Fatal("re-encoding changed the state")
	}
	for sp, ss := range st.spaces {
		if sp != sp.Normalize() {
			t.Fatalf("space not normalised: %#v", sp)
		}
		if len(ss.users) == 0 {
			t.Fatal("empty space kept")
		}
		if _, ok := ss.users[ss.def]; ss.hasDef && !ok {
			t.Fatal("default names a missing user")
		}
	}
}
