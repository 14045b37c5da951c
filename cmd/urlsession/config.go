package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxConfigDepth bounds -K files that name other -K files.
const maxConfigDepth = 8

// expandConfig replaces each -K FILE (--config FILE) in args, which
// expandShort has split, with the options FILE holds, as curl reads them
// (see parseConfig); "-" is standard input. A FILE may name another, up
// to maxConfigDepth deep. Nothing after "--" is looked at.
func expandConfig(fs *flag.FlagSet, args []string, stdin io.Reader, depth int) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		var name string
		switch {
		case a == "-K" || a == "--config":
			if i+1 >= len(args) {
				return nil, usageErrorf("option %s: needs a file", a)
			}
			i++
			name = args[i]
		case strings.HasPrefix(a, "--config="):
			name = strings.TrimPrefix(a, "--config=")
		default:
			out = append(out, a)
			if f := fs.Lookup(strings.TrimLeft(a, "-")); f != nil && strings.HasPrefix(a, "-") && !isBoolFlag(f) && !strings.Contains(a, "=") && i+1 < len(args) {
				i++
				out = append(out, args[i]) // a value, even one that reads -K
			}
			continue
		}
		if depth >= maxConfigDepth {
			return nil, usageErrorf("-K %s: config files nest more than %d deep", name, maxConfigDepth)
		}
		var data []byte
		var err error
		if name == "-" {
			if stdin == nil {
				return nil, usageErrorf("-K -: no standard input to read")
			}
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			return nil, usageErrorf("-K %s: %v", name, err)
		}
		fileArgs, err := parseConfig(fs, string(data))
		if err != nil {
			return nil, usageErrorf("-K %s: %v", name, err)
		}
		fileArgs, err = expandConfig(fs, expandShort(fs, fileArgs), stdin, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, fileArgs...)
	}
	return out, nil
}

// isBoolFlag reports whether f takes no value.
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parseConfig turns a curl config file into command-line arguments. Each
// line holds one option: its name (long without dashes, or as on the
// command line with them), then for an option that takes one, its value
// after spaces, "=" or ":". A value in double quotes may hold spaces and
// the escapes \", \\, \t, \n, \r and \v; one without quotes ends at the
// first space. Lines starting with "#" and empty lines are skipped. A
// line "url = X" is --url X.
func parseConfig(fs *flag.FlagSet, text string) ([]string, error) {
	var args []string
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(strings.TrimSpace(line), "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, " \t=:")
		if end < 0 {
			end = len(line)
		}
		opt, rest := line[:end], line[end:]
		if !strings.HasPrefix(opt, "-") {
			opt = "--" + opt
		}
		name := strings.TrimLeft(opt, "-")
		f := fs.Lookup(name)
		if short := len(name) == 1; f == nil || short != (opt == "-"+name) {
			// A single letter goes with one dash, a long name with two
			// (or none): "o" and "--o" are not -o.
			return nil, fmt.Errorf("line %d: unknown option %q", n+1, opt)
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = strings.TrimLeft(rest[1:], " \t")
		}
		if isBoolFlag(f) {
			if rest != "" && !strings.HasPrefix(rest, "#") {
				return nil, fmt.Errorf("line %d: %s takes no value", n+1, opt)
			}
			args = append(args, opt)
			continue
		}
		value, err := configValue(rest)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n+1, err)
		}
		args = append(args, opt, value)
	}
	return args, nil
}

// configValue reads an option's value from the rest of its line.
func configValue(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		v, _, _ := strings.Cut(s, " ")
		v, _, _ = strings.Cut(v, "\t")
		return v, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), nil
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'v':
				b.WriteByte('\v')
			default:
				b.WriteByte(s[i]) // \" and \\, and any other escaped byte as itself
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("a quoted value has no closing quote")
}
