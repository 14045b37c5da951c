package hsts

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzReadEntries: any file reads without a panic, and what it yields
// writes and reads back the same.
func FuzzReadEntries(f *testing.F) {
	f.Add("# c\n.sub.test \"20991231 23:59:59\"\nexact.test \"unlimited\"\n")
	f.Add("x \"\"\n. \"unlimited\"\n127.0.0.1 \"unlimited\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := ReadEntries(strings.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := WriteEntries(&b, entries); err != nil {
			t.Fatal(err)
		}
		again, err := ReadEntries(&b)
		if err != nil || len(again) != len(entries) {
			t.Fatalf("%d entries read back as %d (%v) from %q", len(entries), len(again), err, b.String())
		}
		for i := range again {
			if again[i].Host != entries[i].Host || again[i].IncludeSubdomains != entries[i].IncludeSubdomains || !again[i].Expires.Equal(entries[i].Expires) {
				t.Fatalf("entry %d: %+v read back as %+v", i, entries[i], again[i])
			}
		}
	})
}

// FuzzParseField: any field parses without a panic to a max-age that is
// not negative.
func FuzzParseField(f *testing.F) {
	f.Add("max-age=31536000; includeSubDomains")
	f.Add(`max-age="0"; preload`)
	f.Fuzz(func(t *testing.T, v string) {
		if age, _, ok := ParseField(v); ok && age < 0 {
			t.Fatalf("%q: max-age %d", v, age)
		}
	})
}
