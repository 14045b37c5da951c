package main

import (
	"strings"
	"testing"
)

// FuzzParseConfig checks that any -K file parses without a panic, and that
// every option it yields is one the command knows, with a value where the
// option takes one.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"url = \"http://x/\"\nsilent\n", "header: \"a\\\"b\"", "-H x\n# c\n", "output=", "\"", "K -"} {
		f.Add(s)
	}
	fs := newFlagSet(new(options))
	f.Fuzz(func(t *testing.T, text string) {
		args, err := parseConfig(fs, text)
		if err != nil {
			return
		}
		for i := 0; i < len(args); i++ {
			fl := fs.Lookup(strings.TrimLeft(args[i], "-"))
			if fl == nil || !strings.HasPrefix(args[i], "-") {
				t.Fatalf("%q gave %q: %q is no option", text, args, args[i])
			}
			if !isBoolFlag(fl) {
				i++ // its value
				if i >= len(args) {
					t.Fatalf("%q gave %q: no value for the last option", text, args)
				}
			}
		}
	})
}

// FuzzConnectToAndProto checks --connect-to's and --proto's parsers on any
// input: no panic, ports that parse, only known protocols in a set.
func FuzzConnectToAndProto(f *testing.F) {
	for _, s := range []string{"a:1:b:2", "[::1]:80:[::2]:", ":::", "=https,-all,+ftp", "[", "a:1:[b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := parseConnectTo(s); err == nil {
			h, p := (&options{connectTo: []connectToEntry{e}}).connectTarget("host", "80")
			if h == "" && e.toHost != "" || p == "" {
				t.Fatalf("%q: target %q %q", s, h, p)
			}
		}
		set := setOf(knownProtocols)
		set.apply(s)
		for k := range set {
			if !strings.Contains(strings.Join(knownProtocols, ","), k) {
				t.Fatalf("%q: unknown protocol %q in the set", s, k)
			}
		}
		parseDate(s)
		validETag(s)
		validBearer(s)
	})
}
