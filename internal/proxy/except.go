package proxy

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Exceptions are the hosts reached directly whatever the proxy settings:
// curl's no_proxy and Apple's ExceptionsList. The zero value excepts
// nothing.
type Exceptions struct {
	all     bool
	simple  bool // host names without a dot
	entries []exception
}

type exception struct {
	suffix string       // a domain: itself and its subdomains
	glob   string       // a pattern with * (Apple's "*.example.com")
	prefix netip.Prefix // an address range (an address is a /32 or /128)
	port   int          // 0: every port
}

// ParseExceptions reads exception patterns, each one of:
//
//   - "*": every host;
//   - "<local>" or "<simple>": host names without a dot;
//   - a domain, with or without a leading "." or "*.": the domain and
//     every subdomain ("example.com" matches example.com and
//     www.example.com, not badexample.com), as curl reads no_proxy;
//   - any other pattern with "*" wildcards, matched as shExpMatch does;
//   - an IP address or CIDR range ("10.0.0.0/8", "fd00::/8", Apple's
//     abbreviated "169.254/16"), matching hosts written as addresses;
//   - any of the above but "*" followed by ":port", which restricts it to
//     that port (an IPv6 address with a port goes in brackets).
//
// Patterns are separated by commas or white space; empty ones are skipped.
// Unreadable ones are skipped too, reported by the second result.
func ParseExceptions(patterns ...string) (Exceptions, []string) {
	var e Exceptions
	var bad []string
	for _, list := range patterns {
		for pat := range strings.FieldsFuncSeq(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == ';' }) {
			if !e.add(pat) {
				bad = append(bad, pat)
			}
		}
	}
	return e, bad
}

// ExcludeSimpleHostnames makes e except host names without a dot.
func (e *Exceptions) ExcludeSimpleHostnames() { e.simple = true }

func (e *Exceptions) add(pat string) bool {
	pat = strings.ToLower(strings.TrimSpace(pat))
	switch pat {
	case "":
		return true
	case "*":
		e.all = true
		return true
	case "<local>", "<simple>":
		e.simple = true
		return true
	}
	var x exception
	host := pat
	if h, p, err := net.SplitHostPort(pat); err == nil && !strings.Contains(p, "/") {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return false
		}
		host, x.port = h, n
	}
	if pr, ok := parsePrefix(host); ok {
		x.prefix = pr
		e.entries = append(e.entries, x)
		return true
	}
	host = strings.TrimSuffix(host, ".")
	switch {
	case strings.HasPrefix(host, "*.") && !strings.ContainsAny(host[2:], "*?"):
		x.suffix = host[2:]
	case strings.ContainsAny(host, "*?"):
		x.glob = host
	default:
		x.suffix = strings.TrimPrefix(host, ".")
	}
	if x.suffix == "" && x.glob == "" {
		return false
	}
	if x.suffix != "" && strings.ContainsAny(x.suffix, "/[]") {
		return false
	}
	e.entries = append(e.entries, x)
	return true
}

// parsePrefix reads an address or CIDR range, also in Apple's abbreviated
// IPv4 form with fewer than four parts ("169.254/16").
func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.NewReplacer("[", "", "]", "").Replace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	addr, bits, _ := strings.Cut(s, "/")
	n, err := strconv.Atoi(bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	if !strings.Contains(addr, ":") {
		parts := strings.Split(addr, ".")
		if len(parts) > 4 {
			return netip.Prefix{}, false
		}
		for len(parts) < 4 {
			parts = append(parts, "0")
		}
		addr = strings.Join(parts, ".")
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	p, err := a.Prefix(n)
	if err != nil || n > a.BitLen() {
		return netip.Prefix{}, false
	}
	return p, true
}

// Empty reports whether e excepts nothing.
func (e Exceptions) Empty() bool { return !e.all && !e.simple && len(e.entries) == 0 }

// Match reports whether host (a name or address, IPv6 with or without
// brackets) on port is excepted.
func (e Exceptions) Match(host string, port int) bool {
	if e.all {
		return true
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	addr, aerr := netip.ParseAddr(host)
	if e.simple && aerr != nil && !strings.Contains(host, ".") {
		return true
	}
	for _, x := range e.entries {
		if x.port != 0 && x.port != port {
			continue
		}
		switch {
		case x.prefix.IsValid():
			if aerr == nil && x.prefix.Contains(addr.Unmap()) {
				return true
			}
		case x.suffix != "":
			if host == x.suffix || strings.HasSuffix(host, "."+x.suffix) {
				return true
			}
		case x.glob != "":
			if ShExpMatch(host, x.glob) {
				return true
			}
		}
	}
	return false
}

// ShExpMatch reports whether s matches the shell expression pat, in which
// "*" matches any run of characters and "?" any one character (PAC's
// shExpMatch; no character classes, "/" not special).
func ShExpMatch(s, pat string) bool {
	// Iterative matching with one backtrack point: linear in practice,
	// never exponential.
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pat) && (pat[pi] == '?' || pat[pi] == s[si]):
			si++
			pi++
		case pi < len(pat) && pat[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi] == '*' {
		pi++
	}
	return pi == len(pat)
}
