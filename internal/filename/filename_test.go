package filename

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestFromContentDisposition(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{`attachment; filename="foo.html"`, "foo.html", true},
		{`attachment; filename=foo.html`, "foo.html", true},
		{`inline; filename="foo.html"`, "foo.html", true},
		{`ATTACHMENT; FILENAME="foo.html"`, "foo.html", true},
		{`attachment;filename="foo.html";`, "foo.html", true},
		{`attachment ; filename = "foo.html" `, "foo.html", true},
		{`attachment; filename="f\"oo\\.html"`, `f"oo\.html`, true},
		{`attachment; filename="a;b=c.txt"`, "a;b=c.txt", true},
		// RFC 6266 appendix D examples.
		{`attachment; filename*=UTF-8''%e2%82%ac%20rates`, "€ rates", true},
		{`attachment; filename="EURO rates"; filename*=utf-8''%e2%82%ac%20rates`, "€ rates", true},
		{`attachment; filename*=utf-8''%e2%82%ac%20rates; filename="EURO rates"`, "€ rates", true},
		{`attachment; filename*=iso-8859-1'en'%A3%20rates`, "£ rates", true},
		// An undecodable filename* falls back to filename.
		{`attachment; filename="plain.txt"; filename*=KOI8-R''%c1`, "plain.txt", true},
		{`attachment; filename="plain.txt"; filename*=UTF-8''%ff%fe`, "plain.txt", true},
		{`attachment; filename="plain.txt"; filename*=UTF-8''%zz`, "plain.txt", true},
		{`attachment; filename="plain.txt"; filename*=UTF-8''%e`, "plain.txt", true},
		{`attachment; filename*=UTF-8''%ff`, "", false},
		// An ext-value is never a quoted-string (RFC 8187 section 3.2.1).
		{`attachment; filename*="UTF-8''foo-%c3%a4.html"`, "", false},
		{`attachment; filename="foo-ae.html"; filename*="UTF-8''foo-%c3%a4.html"`, "foo-ae.html", true},
		// Not decoded: percent signs in filename, RFC 2047 words, and
		// RFC 2231 continuations (which RFC 6266 does not take up).
		{`attachment; filename="foo-%41.html"`, "foo-%41.html", true},
		{`attachment; filename="=?ISO-8859-1?Q?foo-=E4.html?="`, "=?ISO-8859-1?Q?foo-=E4.html?=", true},
		{`attachment; filename*0="foo."; filename*1="html"`, "", false},
		{`attachment; filename*=UTF-8''A-%2541.html`, "A-%41.html", true},
		// Raw bytes in a quoted-string: UTF-8 when valid, else ISO-8859-1.
		{"attachment; filename=\"caf\xc3\xa9.txt\"", "café.txt", true},
		{"attachment; filename=\"caf\xe9.txt\"", "café.txt", true},
		// No file name.
		{`attachment`, "", false},
		{`attachment; size=12`, "", false},
		{`attachment; filename=""`, "", false},
		{``, "", false},
		// Malformed headers are ignored whole.
		{`attachment; filename="foo.html`, "", false},
		{`attachment; filename=foo bar.html`, "", false},
		{`attachment; filename`, "", false},
		{`attachment; filename=`, "", false},
		{`attachment; filename="a"; filename="b"`, "", false},
		{`; filename="foo.html"`, "", false},
		{`attachment filename="foo.html"`, "", false},
		{`attachment; filename="a` + "\x00" + `b"`, "", false},
		{`attachment; filename="a\`, "", false},
	}
	for _, tt := range tests {
		got, ok := FromContentDisposition(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FromContentDisposition(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSanitize(t *testing.T) {
	long := strings.Repeat("a", 300)
	longUTF8 := strings.Repeat("é", 200) // 400 bytes
	tests := []struct {
		in, want string
	}{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`..\..\windows\system.ini`, "system.ini"},
		{"dir/", ""},
		{"..", ""},
		{".", ""},
		{"...", ""},
		{"/", ""},
		{"", ""},
		{".bashrc", "bashrc"},
		{"..hidden", "hidden"},
		{"  spaced name.txt  ", "spaced name.txt"},
		{"trailing.", "trailing"},
		{"a\x00b\x01c\x7fd\u0085e.txt", "abcde.txt"},
		{"tab\there", "tabhere"},
		{"evil\u202Etxt.exe", "eviltxt.exe"},
		{"what?.txt", "what_.txt"},
		{`a<b>c:d"e|f*g`, "a_b_c_d_e_f_g"},
		{"CON", "_CON"},
		{"nul.txt", "_nul.txt"},
		{"com1.tar.gz", "_com1.tar.gz"},
		{"console.txt", "console.txt"},
		{"bad\xffbyte", "bad_byte"},
		{"€ rates", "€ rates"},
		{long + ".tar.gz", strings.Repeat("a", MaxLen-3) + ".gz"},
		{long, strings.Repeat("a", MaxLen)},
		{longUTF8 + ".txt", strings.Repeat("é", (MaxLen-4)/2) + ".txt"},
		{"x." + strings.Repeat("e", 300), ("x." + strings.Repeat("e", 300))[:MaxLen]},
		{strings.Repeat(".", 300) + "ext", "ext"},
	}
	for _, tt := range tests {
		got := Sanitize(tt.in)
		if got != tt.want {
			t.Errorf("Sanitize(%q) = %q; want %q", tt.in, got, tt.want)
		}
		if got != "" {
			checkSafe(t, tt.in, got)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		cd, url, want string
	}{
		{`attachment; filename="server.bin"`, "http://h/path/file.txt", "server.bin"},
		{`attachment; filename*=UTF-8''%e2%82%ac.pdf`, "http://h/x", "€.pdf"},
		{`attachment; filename="../../.ssh/authorized_keys"`, "http://h/x", "authorized_keys"},
		{`attachment; filename=".."`, "http://h/file.txt", "file.txt"},
		{`attachment; filename="x`, "http://h/file.txt", "file.txt"},
		{"", "http://h/a/b%20c.txt?q=1#f", "b c.txt"},
		{"", "http://h/a/..%2F..%2Fetc%2Fpasswd", "passwd"},
		{"", "http://h/dir/", "dir"},
		{"", "http://example.com/", "example.com"},
		{"", "http://example.com:8080", "example.com"},
		{"", "http://127.0.0.1/", "127.0.0.1"},
		{"", "http://[::1]/", "__1"},
		{"", "file:///tmp/x.iso", "x.iso"},
		{"", "data:,hello", "Unknown"},
		{"", "http://h/.%2e/", "h"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		got := Suggest(tt.cd, u)
		if got != tt.want {
			t.Errorf("Suggest(%q, %q) = %q; want %q", tt.cd, tt.url, got, tt.want)
		}
		checkSafe(t, tt.cd+" "+tt.url, got)
	}
	if got := Suggest("", nil); got != Fallback {
		t.Errorf("Suggest(\"\", nil) = %q; want %q", got, Fallback)
	}
}

// checkSafe fails t unless name obeys every rule of the package contract.
func checkSafe(t *testing.T, in, name string) {
	t.Helper()
	bad := func(why string) { t.Errorf("input %q gave unsafe name %q: %s", in, name, why) }
	switch {
	case name == "":
		bad("empty")
	case len(name) > MaxLen:
		bad("too long")
	case !utf8.ValidString(name):
		bad("invalid UTF-8")
	case strings.ContainsAny(name, `/\`):
		bad("path separator")
	case name == "." || name == "..":
		bad("dot name")
	case name[0] == '.':
		bad("leading dot")
	case strings.TrimSpace(name) != name:
		bad("surrounding space")
	case strings.HasSuffix(name, "."):
		bad("trailing dot")
	case strings.ContainsAny(name, `<>:"|?*`):
		bad("reserved character")
	case !filepath.IsLocal(name) || filepath.Base(name) != name:
		bad("not a local single element")
	case reservedDevice(name):
		bad("device name")
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			bad("control character")
		}
	}
}

func FuzzSuggest(f *testing.F) {
	f.Add(`attachment; filename*=UTF-8''%e2%82%ac%20rates`, "http://h/a/b.txt")
	f.Add(`attachment; filename="../x"`, "http://h/")
	f.Add(`inline; filename=".."; filename*=iso-8859-1''%85`, "http://h/%2e%2e")
	f.Add("", "http://[::1]:80/"+strings.Repeat("%C3%A9", 200)+".txt")
	f.Fuzz(func(t *testing.T, cd, rawURL string) {
		u, _ := url.Parse(rawURL)
		checkSafe(t, cd+" "+rawURL, Suggest(cd, u))
		if name, ok := FromContentDisposition(cd); ok {
			if s := Sanitize(name); s != "" {
				checkSafe(t, cd, s)
			}
		}
		if s := Sanitize(cd); s != "" {
			checkSafe(t, cd, s)
			if again := Sanitize(s); again != s {
				t.Errorf("Sanitize is not idempotent: %q -> %q -> %q", cd, s, again)
			}
		}
	})
}
