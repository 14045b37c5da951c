package main

import (
	"fmt"
	"slices"
	"strings"
)

// knownProtocols are the protocols --proto and --proto-redir name: the
// schemes the command loads.
var knownProtocols = []string{"http", "https", "ftp", "ftps", "ftpes", "file", "data", "ws", "wss"}

// defaultRedirProtocols are those a redirect may lead to without
// --proto-redir, as with curl: http, https and FTP (with or without TLS).
var defaultRedirProtocols = []string{"http", "https", "ftp", "ftps", "ftpes"}

// protoSet is a set of protocols that --proto or --proto-redir changes.
type protoSet map[string]bool

// setOf returns the set of names.
func setOf(names []string) protoSet {
	s := protoSet{}
	for _, n := range names {
		s[n] = true
	}
	return s
}

// apply changes s as curl reads a --proto argument: a comma-separated list
// of protocols (or "all"), each added ("+" or nothing in front), removed
// ("-") or made the only one ("="), left to right. It returns the
// protocols it does not know, which change nothing.
func (s protoSet) apply(spec string) (unknown []string) {
	for _, tok := range strings.Split(spec, ",") {
		tok = strings.TrimSpace(tok)
		op := byte('+')
		if tok != "" && strings.IndexByte("+-=", tok[0]) >= 0 {
			op, tok = tok[0], tok[1:]
		}
		names := []string{strings.ToLower(tok)}
		switch {
		case tok == "":
			continue
		case strings.EqualFold(tok, "all"):
			names = knownProtocols
		case !slices.Contains(knownProtocols, names[0]):
			unknown = append(unknown, tok)
			continue
		}
		if op == '=' {
			clear(s)
		}
		for _, n := range names {
			s[n] = op != '-'
		}
	}
	return unknown
}

// protoFlag is --proto or --proto-redir: each occurrence changes the set.
type protoFlag struct {
	set     *protoSet
	initial []string // the set before the first occurrence
	unknown *[]string
}

func (f protoFlag) String() string { return "" }
func (f protoFlag) Set(v string) error {
	if *f.set == nil {
		*f.set = setOf(f.initial)
	}
	*f.unknown = append(*f.unknown, f.set.apply(v)...)
	return nil
}

// allows reports whether s, or every protocol if s is nil, takes scheme.
func (s protoSet) allows(scheme string) bool {
	return s == nil || s[strings.ToLower(scheme)]
}

// protoDenied is the failure of a URL whose protocol --proto (or, for a
// redirect, --proto-redir) leaves out: exit status 1, as with curl.
func protoDenied(scheme, flag string) *failure {
	return &failure{status: exitFailure, code: exitFailure,
		msg: fmt.Sprintf("protocol %q is not allowed (%s)", strings.ToLower(scheme), flag)}
}

// redirectAllowed reports whether a redirect may lead to scheme: both
// --proto and --proto-redir (by default http, https and FTP) must take it.
func (o *options) redirectAllowed(scheme string) bool {
	redir := o.protosRedir
	if redir == nil {
		redir = setOf(defaultRedirProtocols)
	}
	return o.protos.allows(scheme) && redir.allows(scheme)
}

// urlScheme returns the scheme of a URL as given on the command line:
// http for one without (as the command fetches it), lower case.
func urlScheme(raw string) string {
	if hasPrefixFold(raw, "data:") {
		return "data"
	}
	s, _, ok := strings.Cut(raw, "://")
	if !ok {
		return "http"
	}
	return strings.ToLower(s)
}
