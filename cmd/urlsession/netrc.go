package main

import (
	"errors"
	"fmt"
	"strings"
)

// A .netrc file, as curl reads it: "machine NAME" starts the entry of a
// host and "default" one for every host; "login NAME" and "password
// SECRET" follow in either order. Tokens are separated by spaces, tabs and
// line ends; a token may be double-quoted, with \n, \r and \t escapes and
// a backslash before any other character standing for it. A line whose
// first non-blank character is "#" is a comment. "macdef NAME" defines a
// macro that runs to the next empty line: it is skipped. Other words
// ("account" and its value) are ignored. Host names are compared without
// regard to case.

// netrcEntry is one entry of a .netrc file.
type netrcEntry struct {
	machine     string // "" for the default entry
	isDefault   bool
	login       string
	password    string
	hasLogin    bool
	hasPassword bool
}

// maxNetrcSize is the largest .netrc file read, as curl's limit.
const maxNetrcSize = 128 << 10

// parseNetrc parses a .netrc file. It fails on an unterminated quoted
// token, a keyword without its value and a file over 128 KiB.
func parseNetrc(data []byte) ([]netrcEntry, error) {
	if len(data) > maxNetrcSize {
		return nil, fmt.Errorf("the file is larger than %d bytes", maxNetrcSize)
	}
	var entries []netrcEntry
	var cur *netrcEntry
	want := "" // the keyword whose value comes next: machine, login or password
	macro := false
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if macro {
			if strings.TrimSpace(line) == "" {
				macro = false
			}
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		toks, err := netrcTokens(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n+1, err)
		}
		for _, tok := range toks {
			if want != "" {
				switch want {
				case "machine":
					entries = append(entries, netrcEntry{machine: tok})
					cur = &entries[len(entries)-1]
				case "login":
					if cur != nil {
						cur.login, cur.hasLogin = tok, true
					}
				case "password":
					if cur != nil {
						cur.password, cur.hasPassword = tok, true
					}
				}
				want = ""
				continue
			}
			switch k := strings.ToLower(tok); k {
			case "machine", "login", "password":
				want = k
			case "default":
				entries = append(entries, netrcEntry{isDefault: true})
				cur = &entries[len(entries)-1]
			case "macdef":
				// The name and the rest of the line, then every line
				// up to an empty one.
				macro = true
			}
			if macro {
				break
			}
		}
	}
	if want != "" {
		return nil, fmt.Errorf("%q without a value at the end of the file", want)
	}
	return entries, nil
}

// netrcTokens splits one line into its tokens.
func netrcTokens(line string) ([]string, error) {
	var toks []string
	for i := 0; i < len(line); {
		c := line[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' {
			i++
			continue
		}
		if c != '"' {
			j := i
			for j < len(line) && !strings.ContainsRune(" \t\r\v\f", rune(line[j])) {
				j++
			}
			toks = append(toks, line[i:j])
			i = j
			continue
		}
		var b strings.Builder
		closed := false
		for i++; i < len(line); i++ {
			c := line[i]
			if c == '"' {
				closed = true
				i++
				break
			}
			if c == '\\' && i+1 < len(line) {
				i++
				switch c = line[i]; c {
				case 'n':
					c = '\n'
				case 'r':
					c = '\r'
				case 't':
					c = '\t'
				}
			} else if c == '\\' {
				break
			}
			b.WriteByte(c)
		}
		if !closed {
			return nil, errors.New("unterminated quoted string")
		}
		toks = append(toks, b.String())
	}
	return toks, nil
}

// lookupNetrc returns the credentials of the first entry for host (its
// machine or the default entry) that has a login or a password; with
// login given, of the first such entry with that login. A missing password
// is empty, as with curl.
func lookupNetrc(entries []netrcEntry, host, login string) (credential, bool) {
	for _, e := range entries {
		if !e.isDefault && !strings.EqualFold(e.machine, host) {
			continue
		}
		if login != "" {
			if e.hasLogin && e.login == login {
				return credential{e.login, e.password}, true
			}
			continue
		}
		if e.hasLogin || e.hasPassword {
			return credential{e.login, e.password}, true
		}
	}
	return credential{}, false
}
