// Package hsts is a store of HTTP Strict Transport Security hosts (RFC
// 6797): the hosts that asked, with a Strict-Transport-Security response
// header field over https, to be reached over https only. A session whose
// Configuration has a Store upgrades its requests to those hosts from
// http to https before they are sent, as Apple's URL loading system does,
// and records the field from the https responses it receives.
//
// A Store is in memory (New) or kept in a file (Open) in curl's HSTS file
// format, which curl's --hsts and the urlsession command read and write.
// A Store is safe for concurrent use.
package hsts

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Entry is one known host.
type Entry struct {
	// Host is the host name, in lower case, without a trailing dot.
	Host string
	// IncludeSubdomains extends the entry to every subdomain of Host.
	IncludeSubdomains bool
	// Expires is when the entry lapses; zero for never (curl's
	// "unlimited", which a response cannot set).
	Expires time.Time
}

func (e Entry) live(now time.Time) bool { return e.Expires.IsZero() || e.Expires.After(now) }

// MaxEntries bounds the hosts a Store keeps: past it, an observation of a
// new host first drops the entry that lapses soonest.
const MaxEntries = 10000

// Store is a set of HSTS hosts.
type Store struct {
	mu      sync.Mutex
	entries map[string]Entry // by host
	file    *fileState       // nil for a store in memory
}

// New returns an empty store in memory.
func New() *Store { return &Store{entries: map[string]Entry{}} }

// normalHost returns host as entries key it, and whether it may be an HSTS
// host: a name, not an IP address (RFC 6797 section 8.1.1).
func normalHost(host string) (string, bool) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" || net.ParseIP(host) != nil || strings.HasPrefix(host, "[") {
		return "", false
	}
	return host, true
}

// Known reports whether host is to be reached over https only at now: a
// known host, or a subdomain of one that includes its subdomains. IP
// addresses never are.
func (s *Store) Known(host string, now time.Time) bool {
	if s == nil {
		return false
	}
	host, ok := normalHost(host)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[host]; ok && e.live(now) {
		return true
	}
	for i := 0; i < len(host); i++ {
		if host[i] == '.' {
			if e, ok := s.entries[host[i+1:]]; ok && e.IncludeSubdomains && e.live(now) {
				return true
			}
		}
	}
	return false
}

// Upgrade turns u, an http URL of a known host, into https (RFC 6797
// section 8.3): the scheme changes, and port 80, given or implied, becomes
// https's default; another port is kept. It reports whether it changed u.
func (s *Store) Upgrade(u *url.URL, now time.Time) bool {
	if s == nil || u == nil || !strings.EqualFold(u.Scheme, "http") || !s.Known(u.Hostname(), now) {
		return false
	}
	u.Scheme = "https"
	if u.Port() == "80" {
		u.Host = strings.TrimSuffix(u.Host, ":80")
	}
	return true
}

// Observe records the Strict-Transport-Security field of header, from a
// response to u received over https without certificate errors (RFC 6797
// section 8.1; the caller vouches for the connection): max-age sets the
// entry's expiry from now (0 forgets the host), includeSubDomains extends
// it to the subdomains. Only the first field counts. A field that does
// not parse, a URL that is not https and one whose host is an IP address
// change nothing. It reports whether the store changed.
func (s *Store) Observe(u *url.URL, header http.Header, now time.Time) bool {
	if s == nil || u == nil || !strings.EqualFold(u.Scheme, "https") {
		return false
	}
	host, ok := normalHost(u.Hostname())
	if !ok {
		return false
	}
	vs := header.Values("Strict-Transport-Security")
	if len(vs) == 0 {
		return false
	}
	maxAge, subdomains, ok := ParseField(vs[0])
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if maxAge == 0 {
		if _, had := s.entries[host]; !had {
			return false
		}
		delete(s.entries, host)
		s.noteLocked(host, nil)
		return true
	}
	e := Entry{Host: host, IncludeSubdomains: subdomains,
		Expires: now.Add(time.Duration(min(maxAge, 1<<31)) * time.Second).UTC().Truncate(time.Second)}
	if old, had := s.entries[host]; had && old == e {
		return false
	}
	if _, had := s.entries[host]; !had && len(s.entries) >= MaxEntries {
		s.dropSoonestLocked()
	}
	s.entries[host] = e
	s.noteLocked(host, &e)
	return true
}

// dropSoonestLocked removes the entry that lapses first.
func (s *Store) dropSoonestLocked() {
	var victim string
	var at time.Time
	for h, e := range s.entries {
		if e.Expires.IsZero() {
			continue
		}
		if victim == "" || e.Expires.Before(at) {
			victim, at = h, e.Expires
		}
	}
	if victim != "" {
		delete(s.entries, victim)
		s.noteLocked(victim, nil)
	}
}

// Remove forgets host; it reports whether the store had it.
func (s *Store) Remove(host string) bool {
	host, ok := normalHost(host)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, had := s.entries[host]; !had {
		return false
	}
	delete(s.entries, host)
	s.noteLocked(host, nil)
	return true
}

// RemoveAll forgets every host.
func (s *Store) RemoveAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h := range s.entries {
		s.noteLocked(h, nil)
	}
	clear(s.entries)
	if s.file != nil {
		s.file.cleared = true
	}
}

// Entries returns the entries live at now, sorted by host.
func (s *Store) Entries(now time.Time) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		if e.live(now) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// timeLayout is how curl's HSTS file writes an expiry (UTC).
const timeLayout = "20060102 15:04:05"

// maxLine bounds a line of an HSTS file.
const maxLine = 1024

// ReadEntries reads entries in curl's HSTS file format: lines that begin
// with "#" are comments; each other line is a host, with a leading "." for
// includeSubDomains, then its expiry in double quotes ("YYYYMMDD
// HH:MM:SS", UTC, or "unlimited"). A line that does not read is skipped,
// as curl skips it; at most MaxEntries are read.
func ReadEntries(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLine)
	for sc.Scan() && len(out) < MaxEntries {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		host, rest, ok := strings.Cut(line, " ")
		exp := strings.TrimSpace(rest)
		if !ok || len(exp) < 2 || exp[0] != '"' || exp[len(exp)-1] != '"' {
			continue
		}
		exp = exp[1 : len(exp)-1]
		var e Entry
		if strings.HasPrefix(host, ".") {
			e.IncludeSubdomains, host = true, host[1:]
		}
		if e.Host, ok = normalHost(host); !ok || strings.ContainsAny(e.Host, " \"/") {
			continue
		}
		if exp != "unlimited" {
			t, err := time.Parse(timeLayout, exp)
			if err != nil {
				continue
			}
			e.Expires = t
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil && err != bufio.ErrTooLong {
		return out, err
	}
	return out, nil
}

// WriteEntries writes entries in curl's HSTS file format, with its header
// comment.
func WriteEntries(w io.Writer, entries []Entry) error {
	var b strings.Builder
	b.WriteString("# Your HSTS cache. https://curl.se/docs/hsts.html\n# This file was generated by urlsession. Edit at your own risk.\n")
	for _, e := range entries {
		if e.IncludeSubdomains {
			b.WriteByte('.')
		}
		exp := "unlimited"
		if !e.Expires.IsZero() {
			exp = e.Expires.UTC().Format(timeLayout)
		}
		fmt.Fprintf(&b, "%s \"%s\"\n", e.Host, exp)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Add puts entries in the store, replacing those of the same hosts.
func (s *Store) Add(entries ...Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		h, ok := normalHost(e.Host)
		if !ok {
			continue
		}
		e.Host = h
		if _, had := s.entries[h]; !had && len(s.entries) >= MaxEntries {
			s.dropSoonestLocked()
		}
		s.entries[h] = e
		s.noteLocked(h, &e)
	}
}

// ParseField parses a Strict-Transport-Security field value (RFC 6797
// section 6.1): directives separated by ";", names without regard to case,
// values tokens or quoted strings; max-age is required, includeSubDomains
// takes no value, a directive given twice makes the field invalid, and
// unknown ones are ignored. A max-age beyond int64 is capped.
func ParseField(v string) (maxAge int64, includeSubdomains, ok bool) {
	seen := map[string]bool{}
	haveAge := false
	for d := range strings.SplitSeq(v, ";") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		name, value, hasValue := strings.Cut(d, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if seen[name] {
			return 0, false, false
		}
		seen[name] = true
		switch name {
		case "max-age":
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			n, err := strconv.ParseUint(value, 10, 63)
			if ne, isNum := err.(*strconv.NumError); isNum && ne.Err == strconv.ErrRange {
				n, err = 1<<63-1, nil
			}
			if !hasValue || err != nil || value == "" || value[0] == '+' {
				return 0, false, false
			}
			maxAge, haveAge = int64(n), true
		case "includesubdomains":
			if hasValue {
				return 0, false, false
			}
			includeSubdomains = true
		}
	}
	return maxAge, includeSubdomains, haveAge
}
