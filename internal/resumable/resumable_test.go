package resumable

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

func TestParseBool(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
		ok   bool
	}{
		{"?1", true, true}, {"?0", false, true}, {" ?1 ", true, true}, {"?1;a=b", true, true},
		{"1", false, false}, {"?2", false, false}, {"", false, false}, {"true", false, false},
	} {
		got, err := ParseBool(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseInteger(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"42", 42, true}, {"-7", -7, true}, {"999999999999999", 999999999999999, true},
		{"1000000000000000", 0, false}, {"", 0, false}, {"-", 0, false}, {"+1", 0, false},
		{"1.5", 0, false}, {"0x10", 0, false}, {" 12;p", 12, true},
	} {
		got, err := ParseInteger(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseInteger(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestCompleteByVersion(t *testing.T) {
	for _, v := range []int{Version3, Version5, Version6} {
		for _, c := range []bool{true, false} {
			h := http.Header{}
			SetComplete(h, v, c)
			got, present, err := Complete(h, v)
			if err != nil || !present || got != c {
				t.Errorf("version %d complete %v: read %v %v %v (header %v)", v, c, got, present, err, h)
			}
		}
	}
	h := http.Header{}
	SetComplete(h, Version3, true)
	if got := h.Get(HeaderIncomplete); got != "?0" {
		t.Errorf("version 3 complete: Upload-Incomplete = %q, want ?0", got)
	}
	h = http.Header{HeaderComplete: {"?1", "?0"}}
	if _, _, err := Complete(h, Version6); !errors.Is(err, ErrProtocol) {
		t.Errorf("two Upload-Complete fields: err = %v", err)
	}
}

func TestOffset(t *testing.T) {
	for _, tc := range []struct {
		h    http.Header
		want int64
		ok   bool
	}{
		{http.Header{HeaderOffset: {"100"}}, 100, true},
		{http.Header{}, 0, false},
		{http.Header{HeaderOffset: {"-1"}}, 0, false},
		{http.Header{HeaderOffset: {"1", "2"}}, 0, false},
		{http.Header{HeaderOffset: {"abc"}}, 0, false},
	} {
		got, err := Offset(tc.h)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Offset(%v) = %v, %v; want %v ok %v", tc.h, got, err, tc.want, tc.ok)
		}
	}
}

func TestAnnounceAndAppend(t *testing.T) {
	h := http.Header{}
	Announce(h, Version6, 10)
	if h.Get(HeaderInteropVersion) != "6" || h.Get(HeaderComplete) != "?1" || h.Get(HeaderLength) != "10" {
		t.Errorf("Announce v6: %v", h)
	}
	h = http.Header{}
	Announce(h, Version3, 10)
	if h.Get(HeaderInteropVersion) != "3" || h.Get(HeaderIncomplete) != "?0" || h.Get(HeaderLength) != "" || h.Get(HeaderComplete) != "" {
		t.Errorf("Announce v3: %v", h)
	}
	a := AppendHeader(Version6, 5, true)
	if a.Get("Content-Type") != PartialUploadType || a.Get(HeaderOffset) != "5" || a.Get(HeaderComplete) != "?1" {
		t.Errorf("AppendHeader v6: %v", a)
	}
	a = AppendHeader(Version5, 5, false)
	if a.Get("Content-Type") != "" || a.Get(HeaderComplete) != "?0" {
		t.Errorf("AppendHeader v5: %v", a)
	}
}

func TestResumptionURL(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:8080/files/")
	for _, tc := range []struct {
		loc, want string
		ok        bool
	}{
		{"/files/abc", "http://127.0.0.1:8080/files/abc", true},
		{"abc", "http://127.0.0.1:8080/files/abc", true},
		{"http://127.0.0.1:8080/x#frag", "http://127.0.0.1:8080/x", true},
		{"https://127.0.0.1:8080/x", "", false},
		{"http://127.0.0.1:8081/x", "", false},
		{"http://example.com/x", "", false},
		{"//other/x", "", false},
		{"", "", false},
		{"http://[::1", "", false},
	} {
		u, err := ResumptionURL(base, tc.loc)
		if (err == nil) != tc.ok || (err == nil && u.String() != tc.want) {
			t.Errorf("ResumptionURL(%q) = %v, %v; want %q ok %v", tc.loc, u, err, tc.want, tc.ok)
		}
	}
	a, _ := url.Parse("https://h/x")
	b, _ := url.Parse("https://H:443/y")
	if !SameOrigin(a, b) {
		t.Errorf("default port not equal to explicit 443")
	}
}

func TestParseLimits(t *testing.T) {
	l, err := ParseLimits(http.Header{HeaderLimit: {"max-size=1000, min-size=0, max-append-size=100;x, expires=60, unknown=?1, flag"}})
	if err != nil || l.MaxSize != 1000 || l.MinSize != 0 || l.MaxAppendSize != 100 || l.MinAppendSize != -1 || l.Expires != 60 {
		t.Errorf("ParseLimits = %+v, %v", l, err)
	}
	if _, err := ParseLimits(http.Header{HeaderLimit: {"max-size=-1"}}); err == nil {
		t.Errorf("negative max-size accepted")
	}
	if _, err := ParseLimits(http.Header{HeaderLimit: {"max-size=1,,"}}); err == nil {
		t.Errorf("empty member accepted")
	}
	if l, err := ParseLimits(http.Header{}); err != nil || l.MaxSize != -1 {
		t.Errorf("no field: %+v %v", l, err)
	}
}

func sampleState() *State {
	return &State{
		Version: 6, Location: "http://127.0.0.1:1/up/1", Method: "POST", URL: "http://127.0.0.1:1/up",
		Header: http.Header{"Content-Type": {"text/plain"}}, Size: 10, BodyOffset: 4, Body: []byte("456789"),
	}
}

func TestEncodeDecode(t *testing.T) {
	s := sampleState()
	data, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Location != s.Location || got.Size != 10 || got.BodyOffset != 4 || !bytes.Equal(got.Body, s.Body) ||
		got.Header.Get("Content-Type") != "text/plain" || got.Version != 6 || got.Method != "POST" {
		t.Errorf("round trip: %+v", got)
	}
	// Every truncation and every single-byte change is refused.
	for i := range data {
		if _, err := Decode(data[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: err = %v", i, err)
		}
		bad := bytes.Clone(data)
		bad[i] ^= 0x20
		if _, err := Decode(bad); err == nil {
			t.Fatalf("byte %d flipped: accepted", i)
		}
	}
	future := bytes.Clone(data)
	future[4] = Format + 1
	if _, err := Decode(future); !errors.Is(err, ErrFutureFormat) {
		t.Errorf("future format: err = %v", err)
	}
}

func TestDecodeRefusesIncoherent(t *testing.T) {
	for name, change := range map[string]func(*State){
		"version":      func(s *State) { s.Version = 4 },
		"cross-origin": func(s *State) { s.Location = "http://127.0.0.2:1/up/1" },
		"scheme":       func(s *State) { s.URL = "ftp://127.0.0.1:1/up" },
		"body length":  func(s *State) { s.Body = s.Body[:2] },
		"offset":       func(s *State) { s.BodyOffset = 11 },
		"method":       func(s *State) { s.Method = "PO ST" },
		"header":       func(s *State) { s.Header = http.Header{"X\r\nY": {"1"}} },
		"file no fp":   func(s *State) { s.File, s.Body, s.BodyOffset = "/x", nil, 0 },
	} {
		s := sampleState()
		change(s)
		data, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestFileFacts(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	content := bytes.Repeat([]byte("0123456789"), 20000) // 200 kB: head and tail differ
	if err := os.WriteFile(name, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, mt, fp, err := FileFacts(f)
	if err != nil || size != int64(len(content)) {
		t.Fatal(size, err)
	}
	s := &State{Size: size, FileModTime: mt, Fingerprint: fp}
	if err := s.CheckFile(f); err != nil {
		t.Errorf("unchanged file: %v", err)
	}
	s.Fingerprint = bytes.Clone(fp)
	s.Fingerprint[0] ^= 1
	if err := s.CheckFile(f); !errors.Is(err, ErrFileChanged) {
		t.Errorf("changed fingerprint: %v", err)
	}
}

func TestMoveBodyToFile(t *testing.T) {
	s := sampleState()
	name := filepath.Join(t.TempDir(), "body")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.MoveBodyToFile(f, name); err != nil {
		t.Fatal(err)
	}
	data, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatalf("the file's state does not decode: %v", err)
	}
	if got.File != name || got.BodyOffset != 4 || got.Size != 10 || got.Body != nil {
		t.Errorf("state %+v, want the file from offset 4", got)
	}
	if err := got.CheckFile(f); err != nil {
		t.Errorf("the file does not match its state: %v", err)
	}
	content, err := os.ReadFile(name)
	if err != nil || string(content[4:]) != "456789" || len(content) != 10 {
		t.Errorf("file %q, %v", content, err)
	}
	if err := got.MoveBodyToFile(f, name); err == nil {
		t.Error("moved the body of a file upload")
	}
}

func FuzzDecode(f *testing.F) {
	data, _ := sampleState().Encode()
	f.Add(data)
	fs := &State{Version: 3, Location: "https://h/u/1", Method: "PUT", URL: "https://h/u", Size: 3,
		File: "/tmp/x", FileModTime: 1, Fingerprint: make([]byte, 32)}
	data2, _ := fs.Encode()
	f.Add(data2)
	f.Add([]byte("USRU\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			return
		}
		// What decodes encodes again to data that decodes the same.
		again, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded data does not decode: %v", err)
		}
		if s2.Location != s.Location || s2.Size != s.Size || !bytes.Equal(s2.Body, s.Body) {
			t.Fatalf("re-encoded data differs")
		}
	})
}
