package cookiestore

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// AcceptPolicy says which cookies a Store accepts through SetCookies,
// SetCookiesForURL and SetCookiesFromResponse. The values are Apple's
// HTTPCookie.AcceptPolicy raw values.
type AcceptPolicy int

const (
	// Always accepts every valid cookie. It is the zero value and, as for
	// Apple's HTTPCookieStorage, a new Store's policy.
	Always AcceptPolicy = 0
	// Never accepts no cookie.
	Never AcceptPolicy = 1
	// OnlyFromMainDocumentDomain accepts cookies only from hosts that
	// domain-match the registrable domain (eTLD+1) of the main document
	// URL. It is the default of a session configuration.
	OnlyFromMainDocumentDomain AcceptPolicy = 2
)

// String returns the policy's Apple name ("always", "never",
// "onlyFromMainDocumentDomain").
func (p AcceptPolicy) String() string {
	switch p {
	case Always:
		return "always"
	case Never:
		return "never"
	case OnlyFromMainDocumentDomain:
		return "onlyFromMainDocumentDomain"
	}
	return fmt.Sprintf("AcceptPolicy(%d)", int(p))
}

// Default limits, Chromium's (net/cookies/cookie_monster.h: kMaxCookies
// 3300, kDomainMaxCookies 180), above RFC 6265 6.1's minimums (3000 in
// all, 50 per domain).
const (
	DefaultMaxCookies          = 3300
	DefaultMaxCookiesPerDomain = 180
)

// Options configure a Store. The zero value is a memory-only store with
// the default limits and policy Always.
type Options struct {
	// Path is the SQLite file that keeps persistent cookies, shared safely
	// with other stores and processes using the same file. Missing
	// directories are created 0700; the file, SQLite's files beside it
	// (Path+"-wal", "-shm", "-journal") and copies of a damaged file are
	// owner-only (0600) whatever the umask, and an existing file that
	// grants group or others any permission is tightened on open. ""
	// keeps everything in memory. Stores of one process see each other's
	// changes at once, a store sees another process's within 100 ms.
	Path string
	// MaxCookies bounds the number of cookies in the store;
	// 0 (or negative) means DefaultMaxCookies.
	MaxCookies int
	// MaxCookiesPerDomain bounds the cookies per registrable domain
	// (eTLD+1, the unit browsers count by); 0 (or negative) means
	// DefaultMaxCookiesPerDomain. Over it, expired cookies go first, then
	// non-secure ones, then Secure ones, least recently accessed first.
	MaxCookiesPerDomain int
	// AcceptPolicy is the initial policy; the zero value is Always.
	AcceptPolicy AcceptPolicy
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// Logger receives a Warn record for each piece of persistent data the
	// Store discards because it cannot be read (see Store.Recovered); nil
	// means slog.Default() at the time of the record.
	Logger *slog.Logger
}

// Store is a cookie storage, the equivalent of Apple's HTTPCookieStorage.
// It implements RFC 6265 as revised by draft-ietf-httpbis-rfc6265bis (see
// the package documentation), satisfies http.CookieJar, and is safe for
// concurrent use. Create one with New; Close it when it has a Path.
type Store struct {
	maxCookies, maxPerSite int
	clock                  func() time.Time

	mu           sync.RWMutex // read-locked only by noneFor
	policy       AcceptPolicy
	entries      map[key]*entry
	byDomain     map[string][]*entry            // Domain (no dot) -> cookies
	bySite       map[string]map[*entry]struct{} // eTLD+1 -> cookies
	secureByName map[string][]*entry            // name -> Secure cookies
	seq          uint64
	lastCreated  int64
	db           *db
	seenGen      int64     // db.file's count when the store last synced
	synced       time.Time // when it last asked the file; zero: never
	pending      []op
	err          error // first persistence error since the last Flush

	logger    *slog.Logger
	recovered []error          // *RecoveryError, at most maxRecoveries
	badSeen   map[key]struct{} // skipped rows already reported
}

var _ http.CookieJar = (*Store)(nil)

// key identifies a cookie: name, domain in Apple's form (".d" for a domain
// cookie, "d" for a host-only one) and path. A host-only and a domain
// cookie with the same name and path are distinct, as in browsers and
// rfc6265bis ("same name, domain, host-only-flag, and path").
type key struct{ name, domain, path string }

// entry is a stored cookie. Times are Unix microseconds; expires is 0 for
// a session cookie.
type entry struct {
	k                            key
	name, value, domain, path    string
	hostOnly, secure, httpOnly   bool
	sameSite                     http.SameSite
	expires, created, lastAccess int64
	seq                          uint64 // insertion order, breaks ties
	site                         string
	accessDirty                  bool // lastAccess newer than on disk
}

func (e *entry) persistent() bool         { return e.expires != 0 }
func (e *entry) expiredAt(now int64) bool { return e.expires != 0 && e.expires <= now }

func appleDomain(domain string, hostOnly bool) string {
	if hostOnly {
		return domain
	}
	return "." + domain
}

// cookie returns e in the exported form.
func (e *entry) cookie() *Cookie {
	c := &Cookie{Name: e.name, Value: e.value, Domain: e.domain, HostOnly: e.hostOnly, Path: e.path,
		Secure: e.secure, HTTPOnly: e.httpOnly, SameSite: e.sameSite,
		Created: time.UnixMicro(e.created).UTC(), LastAccess: time.UnixMicro(e.lastAccess).UTC()}
	if e.expires != 0 {
		c.Expires = time.UnixMicro(e.expires).UTC()
	}
	return c
}

func (e *entry) httpCookie() *http.Cookie { return e.cookie().HTTPCookie() }

// op is a pending change to the database, applied at the end of the
// public call that made it, in one transaction.
type op struct {
	del bool
	k   key
	e   *entry // for upserts
}

// New returns a Store configured by opts. With opts.Path it opens (or
// creates) the SQLite file and loads the persistent cookies in it. A
// damaged file is moved aside to Path+".corrupt-<time>" and replaced by a
// fresh one holding the cookies that could be read from it; rows that do
// not make a valid cookie are skipped; Recovered reports both (see the
// package documentation). The error reports a file that cannot be created
// or opened at all.
func New(opts Options) (*Store, error) {
	s := &Store{
		maxCookies:   opts.MaxCookies,
		maxPerSite:   opts.MaxCookiesPerDomain,
		clock:        opts.Now,
		logger:       opts.Logger,
		policy:       opts.AcceptPolicy,
		entries:      map[key]*entry{},
		byDomain:     map[string][]*entry{},
		bySite:       map[string]map[*entry]struct{}{},
		secureByName: map[string][]*entry{},
	}
	if s.maxCookies <= 0 {
		s.maxCookies = DefaultMaxCookies
	}
	if s.maxPerSite <= 0 {
		s.maxPerSite = DefaultMaxCookiesPerDomain
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if opts.Path != "" {
		d, rep, err := openDB(opts.Path, s.clock())
		if err != nil {
			return nil, err
		}
		s.db = d
		s.mu.Lock()
		for _, e := range rep {
			s.recoverLocked(e)
		}
		s.mergeLocked(d.initial, s.clock().UnixMicro())
		d.initial = nil
		s.commitLocked() // deletes expired rows; an error waits for Flush
		s.mu.Unlock()
	}
	return s, nil
}

// AcceptPolicy returns the current accept policy.
func (s *Store) AcceptPolicy() AcceptPolicy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy
}

// SetAcceptPolicy changes the accept policy for cookies set from now on;
// stored cookies stay.
func (s *Store) SetAcceptPolicy(p AcceptPolicy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = p
}

// begin locks the store, brings it up to date with the file and returns
// the current time in Unix microseconds. end commits pending changes and
// unlocks.
func (s *Store) begin() int64 {
	s.mu.Lock()
	s.syncLocked()
	return s.clock().UnixMicro()
}

func (s *Store) end() {
	s.commitLocked()
	s.mu.Unlock()
}

// AllCookies returns every unexpired cookie, oldest first, as fresh
// *http.Cookie values the caller may keep (Apple's `cookies`).
func (s *Store) AllCookies() []*http.Cookie {
	now := s.begin()
	defer s.end()
	s.evictExpiredLocked(now)
	all := s.sortedEntriesLocked()
	out := make([]*http.Cookie, len(all))
	for i, e := range all {
		out[i] = e.httpCookie()
	}
	return out
}

// SortedCookies returns every unexpired cookie ordered by cmp (a
// slices.SortStableFunc comparison; ties keep creation order), Apple's
// sortedCookies(using:).
func (s *Store) SortedCookies(cmp func(a, b *http.Cookie) int) []*http.Cookie {
	out := s.AllCookies()
	slices.SortStableFunc(out, cmp)
	return out
}

// Cookies returns the cookies to send with a request to u, in Cookie
// header order (longer paths first, then older first; RFC 6265 5.4):
// those whose domain matches u's host (exactly for host-only cookies),
// whose path path-matches u's path, unexpired, and Secure only for https
// and wss. It updates their last-access time. URLs without a host or with
// a scheme other than http, https, ws and wss get none. It implements
// http.CookieJar; note that net/http writes a nameless cookie as "=value"
// and drops bytes it deems invalid, so a session should prefer
// CookieHeader.
func (s *Store) Cookies(u *url.URL) []*http.Cookie {
	var buf [16]*entry
	now := s.begin()
	defer s.end()
	m := s.matchLocked(u, now, buf[:0])
	out := make([]*http.Cookie, len(m))
	for i, e := range m {
		out[i] = e.httpCookie()
	}
	return out
}

// CookieHeader returns the value of the Cookie header for a request to u
// ("" when no cookie applies): the cookies Cookies returns, serialised as
// "name=value" pairs joined by "; ", a nameless cookie as its value alone
// (rfc6265bis 5.8.3). It is the fast path a session uses.
func (s *Store) CookieHeader(u *url.URL) string {
	if s.noneFor(u) {
		return ""
	}
	var buf [16]*entry
	now := s.begin()
	defer s.end()
	m := s.matchLocked(u, now, buf[:0])
	if len(m) == 0 {
		return ""
	}
	n := 2 * (len(m) - 1)
	for _, e := range m {
		n += len(e.name) + 1 + len(e.value)
	}
	var b strings.Builder
	b.Grow(n)
	for i, e := range m {
		if i > 0 {
			b.WriteString("; ")
		}
		if e.name != "" {
			b.WriteString(e.name)
			b.WriteByte('=')
		}
		b.WriteString(e.value)
	}
	return b.String()
}

// noneFor reports that a lookup for u would find no cookie to send and
// would change nothing: the store need not ask its file for other
// processes' changes first, and neither u's host nor any domain above it
// has a cookie (expired or not). It takes the read lock only, so that
// concurrent requests to hosts without cookies (most requests of most
// programs) do not queue for the lock; with 64 requests in flight and an
// empty store, CookieHeader went from a third of the process's mutex wait
// to none of it. When it reports false, the caller takes the full path.
func (s *Store) noneFor(u *url.URL) bool {
	if u == nil || !isCookieScheme(u.Scheme) {
		return false
	}
	host, ok := canonicalHost(u)
	if !ok {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.syncDueLocked() || len(s.byDomain[host]) > 0 {
		return false
	}
	if !isIP(host) {
		for i := 0; i < len(host); i++ {
			if host[i] == '.' && len(s.byDomain[host[i+1:]]) > 0 {
				return false
			}
		}
	}
	return true
}

// matchLocked appends to dst the cookies for a request to u in header
// order, updating their last-access times and evicting expired ones met
// on the way.
func (s *Store) matchLocked(u *url.URL, now int64, dst []*entry) []*entry {
	if u == nil || !isCookieScheme(u.Scheme) {
		return dst
	}
	host, ok := canonicalHost(u)
	if !ok {
		return dst
	}
	secure := isSecureScheme(u.Scheme)
	path := requestPath(u)
	var expired []*entry
	consider := func(e *entry) {
		switch {
		case e.expiredAt(now):
			expired = append(expired, e)
		case e.secure && !secure, !PathMatch(path, e.path):
		default:
			dst = append(dst, e)
		}
	}
	for _, e := range s.byDomain[host] {
		consider(e) // host-only cookies for host and domain cookies for host
	}
	if !isIP(host) {
		for i := 0; i < len(host); i++ {
			if host[i] != '.' {
				continue
			}
			for _, e := range s.byDomain[host[i+1:]] {
				if !e.hostOnly {
					consider(e)
				}
			}
		}
	}
	for _, e := range expired {
		s.removeLocked(e, true)
	}
	slices.SortFunc(dst, headerOrder)
	for _, e := range dst {
		if e.lastAccess != now {
			e.lastAccess = now
			e.accessDirty = e.persistent()
		}
	}
	return dst
}

// headerOrder is RFC 6265 5.4 step 2: longer paths first, then earlier
// creation times.
func headerOrder(a, b *entry) int {
	if c := cmp.Compare(len(b.path), len(a.path)); c != 0 {
		return c
	}
	return creationOrder(a, b)
}

func creationOrder(a, b *entry) int {
	if c := cmp.Compare(a.created, b.created); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// SetCookies stores cookies received in the response to a request for u
// (http.CookieJar). The policy applies with u as the main document, so
// OnlyFromMainDocumentDomain accepts them and Never refuses them. A cookie
// with Raw set (as net/http's client passes them) is re-parsed from Raw
// with this package's parser; otherwise its fields are read as Set-Cookie
// attributes: a Domain (leading dot or not) makes a domain cookie,
// MaxAge > 0 / < 0 and Expires give the expiry. Rejected cookies are
// dropped silently. Note that net/http's client hands a jar only the
// cookies its own parser accepts: nameless cookies, names that are not
// tokens and values with bytes outside ASCII never reach SetCookies. To
// store every Set-Cookie line as rfc6265bis does, as a session does, use
// SetCookiesFromResponse.
func (s *Store) SetCookies(u *url.URL, cookies []*http.Cookie) {
	now := s.begin()
	defer s.end()
	if !s.allowedLocked(u, u) {
		return
	}
	t := time.UnixMicro(now)
	secure := u != nil && isSecureScheme(u.Scheme)
	for _, hc := range cookies {
		if hc == nil {
			continue
		}
		if c, err := fromJarCookie(hc, u, t); err == nil {
			_ = s.storeLocked(c, secure, now)
		}
	}
}

// SetCookie stores c (Apple's setCookie(_:)) unless the policy is Never.
// c.Domain is required: ".example.com" makes a domain cookie,
// "example.com" a host-only one; a public suffix cannot be a cookie
// domain. An empty Path means "/". MaxAge > 0 counts from now, MaxAge < 0
// or an Expires in the past deletes the stored cookie with the same name,
// domain and path; a zero Expires makes a session cookie. The error wraps
// ErrPolicy, ErrMalformed, ErrDomain, ErrInsecure or ErrPrefix.
func (s *Store) SetCookie(c *http.Cookie) error {
	now := s.begin()
	defer s.end()
	if c == nil {
		return fmt.Errorf("%w: nil cookie", ErrMalformed)
	}
	if s.policy == Never {
		return ErrPolicy
	}
	ic, err := fromAppleCookie(c, nil, time.UnixMicro(now))
	if err != nil {
		return err
	}
	return s.storeLocked(ic, true, now)
}

// SetCookiesForURL stores cookies for u as Apple's
// setCookies(_:for:mainDocumentURL:) does, honouring the accept policy:
// Never stores none; OnlyFromMainDocumentDomain stores them only when u's
// host domain-matches the registrable domain (eTLD+1) of mainDocumentURL,
// and a nil mainDocumentURL means accept (there is no main document to
// compare with, as with Apple). Each cookie must fit u: an empty Domain
// means u's host, a host-only Domain must equal it, a domain cookie's
// Domain (".example.com") must domain-match it; Secure cookies need an
// https or wss u. Others are dropped silently.
func (s *Store) SetCookiesForURL(cookies []*http.Cookie, u, mainDocumentURL *url.URL) {
	now := s.begin()
	defer s.end()
	if !s.allowedLocked(u, mainDocumentURL) {
		return
	}
	t := time.UnixMicro(now)
	secure := isSecureScheme(u.Scheme)
	for _, hc := range cookies {
		if hc == nil {
			continue
		}
		if c, err := fromAppleCookie(hc, u, t); err == nil {
			_ = s.storeLocked(c, secure, now)
		}
	}
}

// SetCookiesFromResponse parses every Set-Cookie line of h, the header of
// the response to a request for u, with ParseSetCookie and stores the
// cookies the accept policy allows (mainDocumentURL as for
// SetCookiesForURL). Lines that do not parse, and cookies the storage
// model rejects, are ignored, as a user agent must.
func (s *Store) SetCookiesFromResponse(h http.Header, u, mainDocumentURL *url.URL) {
	s.setFromResponse(h, u, mainDocumentURL, nil)
}

// SetCookiesFromResponseWithPolicy is SetCookiesFromResponse with policy in
// place of the store's own, for a session whose configuration has a policy
// of its own (Apple's httpCookieAcceptPolicy).
func (s *Store) SetCookiesFromResponseWithPolicy(h http.Header, u, mainDocumentURL *url.URL, policy AcceptPolicy) {
	s.setFromResponse(h, u, mainDocumentURL, &policy)
}

func (s *Store) setFromResponse(h http.Header, u, mainDocumentURL *url.URL, policy *AcceptPolicy) {
	lines := h["Set-Cookie"] // h.Values, the name being canonical
	if len(lines) == 0 {
		return
	}
	now := s.begin()
	defer s.end()
	p := s.policy
	if policy != nil {
		p = *policy
	}
	if !p.Allows(u, mainDocumentURL) {
		return
	}
	t := time.UnixMicro(now)
	secure := isSecureScheme(u.Scheme)
	for _, line := range lines {
		if c, err := ParseSetCookie(line, u, t); err == nil {
			_ = s.storeLocked(c, secure, now)
		}
	}
}

// allowedLocked applies the accept policy to cookies from u with the
// given main document.
func (s *Store) allowedLocked(u, mainDocumentURL *url.URL) bool {
	return s.policy.Allows(u, mainDocumentURL)
}

// Allows reports whether policy p accepts cookies from a response to u
// loaded for the main document mainDocumentURL: Always accepts, Never
// refuses, OnlyFromMainDocumentDomain accepts when u's host domain-matches
// the registrable domain (eTLD+1) of mainDocumentURL's host, or when
// mainDocumentURL is nil. A nil u is refused.
func (p AcceptPolicy) Allows(u, mainDocumentURL *url.URL) bool {
	if u == nil {
		return false
	}
	switch p {
	case Never:
		return false
	case OnlyFromMainDocumentDomain:
		if mainDocumentURL == nil {
			return true
		}
		host, ok := canonicalHost(u)
		mainHost, mok := canonicalHost(mainDocumentURL)
		if !ok || !mok {
			return false
		}
		return domainMatch(host, registrableDomain(mainHost))
	}
	return true
}

// DeleteCookie removes the cookie with c's name, domain and path, domain
// in Apple's form (".example.com" for a domain cookie, "example.com" for a
// host-only one; case-insensitive; an internationalised name in Unicode or
// punycode), path "" meaning "/". Other attributes
// are ignored; deleting a missing cookie does nothing.
func (s *Store) DeleteCookie(c *http.Cookie) {
	if c == nil {
		return
	}
	s.begin()
	defer s.end()
	p := c.Path
	if p == "" {
		p = "/"
	}
	k := key{name: c.Name, domain: strings.ToLower(strings.TrimSpace(c.Domain)), path: p}
	if s.entries[k] == nil && !isASCII(k.domain) {
		// An internationalised domain given in Unicode: the store keeps
		// it in punycode.
		dot, bare := "", k.domain
		if strings.HasPrefix(bare, ".") {
			dot, bare = ".", bare[1:]
		}
		if cd, ok := canonicalizeHost(bare); ok {
			k.domain = dot + cd
		}
	}
	if e := s.entries[k]; e != nil {
		s.removeLocked(e, true)
	} else if s.db != nil {
		s.pending = append(s.pending, op{del: true, k: k})
	}
}

// RemoveCookies removes every cookie created at or after since
// (Apple's removeCookies(since:)), including those another process
// sharing the file created.
func (s *Store) RemoveCookies(since time.Time) {
	s.begin()
	defer s.end()
	t := since.UnixMicro()
	for _, e := range s.entries {
		if e.created >= t {
			s.removeLocked(e, false)
		}
	}
	if s.db != nil {
		s.commitLocked()
		s.noteErr(s.db.deleteSince(t))
		s.wroteLocked()
	}
}

// RemoveAll removes every cookie, session and persistent, including those
// of other processes sharing the file.
func (s *Store) RemoveAll() {
	s.begin()
	defer s.end()
	for _, e := range s.entries {
		s.removeLocked(e, false)
	}
	s.pending = s.pending[:0]
	if s.db != nil {
		s.noteErr(s.db.deleteAll())
		s.wroteLocked()
	}
}

// Flush writes what is only in memory about persistent cookies (their
// last-access times) to the file and returns the first persistence error
// met since the last Flush, if any; the store keeps working from memory
// when the file fails. It does nothing for a memory-only store.
func (s *Store) Flush() error {
	s.begin()
	defer s.mu.Unlock()
	s.commitLocked()
	if s.db != nil {
		var dirty []*entry
		for _, e := range s.entries {
			if e.accessDirty {
				dirty = append(dirty, e)
			}
		}
		if len(dirty) > 0 {
			if err := s.db.touch(dirty); err != nil {
				s.noteErr(err)
			} else {
				for _, e := range dirty {
					e.accessDirty = false
				}
			}
		}
	}
	err := s.err
	s.err = nil
	return err
}

// Close flushes and closes the file. Afterwards the store still answers
// from memory but persists nothing. Close is idempotent; it returns
// Flush's error.
func (s *Store) Close() error {
	err := s.Flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		if cerr := s.db.close(); err == nil {
			err = cerr
		}
		s.db = nil
	}
	return err
}

// String describes the store as Apple's does: its cookie count.
func (s *Store) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("<cookiestore.Store cookies count:%d>", len(s.entries))
}

func (s *Store) noteErr(err error) {
	if err != nil && s.err == nil {
		s.err = err
	}
}

// storeLocked runs the state-dependent steps of the storage model for c,
// received from an origin that is secure or not.
func (s *Store) storeLocked(c *Cookie, secureOrigin bool, now int64) error {
	if !c.Secure && !secureOrigin && s.shadowsSecureLocked(c, now) {
		return fmt.Errorf("%w: %s", ErrOverwriteSecure, c.Name)
	}
	k := key{name: c.Name, domain: appleDomain(c.Domain, c.HostOnly), path: c.Path}
	old := s.entries[k]
	var expires int64
	if c.Persistent() {
		expires = c.Expires.UnixMicro()
		if expires <= now {
			// A deletion: remove what is stored, store nothing.
			if old != nil {
				s.removeLocked(old, true)
			} else if s.db != nil {
				s.pending = append(s.pending, op{del: true, k: k})
			}
			return nil
		}
	}
	e := &entry{k: k, name: c.Name, value: c.Value, domain: c.Domain, path: c.Path,
		hostOnly: c.HostOnly, secure: c.Secure, httpOnly: c.HTTPOnly, sameSite: c.SameSite,
		expires: expires, lastAccess: now}
	if old != nil {
		// RFC 6265 5.3 step 11.3: keep the old creation time.
		e.created, e.seq, e.site = old.created, old.seq, old.site
		s.removeLocked(old, false)
		if old.persistent() && !e.persistent() {
			s.pending = append(s.pending, op{del: true, k: k})
		}
	} else {
		e.created = max(now, s.lastCreated+1)
		s.lastCreated = e.created
		s.seq++
		e.seq = s.seq
		e.site = registrableDomain(e.domain)
	}
	s.insertLocked(e)
	if e.persistent() && s.db != nil {
		s.pending = append(s.pending, op{k: k, e: e})
	}
	s.enforceLimitsLocked(e, now)
	return nil
}

// shadowsSecureLocked is rfc6265bis 5.7 step 16 ("leave secure cookies
// alone"): a non-secure cookie from a non-secure origin is ignored when a
// Secure cookie with the same name exists whose domain domain-matches the
// new one's (or vice versa) and whose path the new path path-matches.
func (s *Store) shadowsSecureLocked(c *Cookie, now int64) bool {
	for _, e := range s.secureByName[c.Name] {
		if e.expiredAt(now) {
			continue
		}
		if (domainMatch(e.domain, c.Domain) || domainMatch(c.Domain, e.domain)) && PathMatch(c.Path, e.path) {
			return true
		}
	}
	return false
}

func (s *Store) insertLocked(e *entry) {
	s.entries[e.k] = e
	s.byDomain[e.domain] = append(s.byDomain[e.domain], e)
	set := s.bySite[e.site]
	if set == nil {
		set = map[*entry]struct{}{}
		s.bySite[e.site] = set
	}
	set[e] = struct{}{}
	if e.secure {
		s.secureByName[e.name] = append(s.secureByName[e.name], e)
	}
	if e.seq > s.seq {
		s.seq = e.seq
	}
	if e.created > s.lastCreated {
		s.lastCreated = e.created
	}
}

// removeLocked takes e out of memory and, when persist is set and e is
// persistent, queues its deletion from the file.
func (s *Store) removeLocked(e *entry, persist bool) {
	if s.entries[e.k] != e {
		return
	}
	delete(s.entries, e.k)
	s.byDomain[e.domain] = removeEntry(s.byDomain[e.domain], e)
	if len(s.byDomain[e.domain]) == 0 {
		delete(s.byDomain, e.domain)
	}
	if set := s.bySite[e.site]; set != nil {
		delete(set, e)
		if len(set) == 0 {
			delete(s.bySite, e.site)
		}
	}
	if e.secure {
		s.secureByName[e.name] = removeEntry(s.secureByName[e.name], e)
		if len(s.secureByName[e.name]) == 0 {
			delete(s.secureByName, e.name)
		}
	}
	if persist && e.persistent() && s.db != nil {
		s.pending = append(s.pending, op{del: true, k: e.k})
	}
}

func removeEntry(list []*entry, e *entry) []*entry {
	for i, x := range list {
		if x == e {
			last := len(list) - 1
			list[i] = list[last]
			list[last] = nil
			return list[:last]
		}
	}
	return list
}

// enforceLimitsLocked evicts cookies after just was stored: first in its
// registrable domain, then in the whole store, expired cookies first and
// then the least recently accessed (oldest insertion on ties). Within a
// registrable domain, cookies without Secure go before Secure ones
// (rfc6265bis 5.7, the eviction priority after "remove excess cookies"),
// so that a non-secure origin cannot push a site's Secure cookies out by
// setting many cookies of its own.
func (s *Store) enforceLimitsLocked(just *entry, now int64) {
	if set := s.bySite[just.site]; len(set) > s.maxPerSite {
		for e := range set {
			if e.expiredAt(now) {
				s.removeLocked(e, true)
			}
		}
		for len(set) > s.maxPerSite {
			var victim *entry
			for e := range set {
				if victim == nil || evictBefore(e, victim) {
					victim = e
				}
			}
			s.removeLocked(victim, true)
		}
	}
	if len(s.entries) > s.maxCookies {
		s.evictExpiredLocked(now)
		// Usually one cookie over: a linear scan per victim beats a sort.
		for len(s.entries) > s.maxCookies {
			var victim *entry
			for _, e := range s.entries {
				if victim == nil || lruLess(e, victim) {
					victim = e
				}
			}
			s.removeLocked(victim, true)
		}
	}
}

// evictBefore orders the cookies of one registrable domain for eviction:
// non-secure before secure, then lruLess.
func evictBefore(a, b *entry) bool {
	if a.secure != b.secure {
		return !a.secure
	}
	return lruLess(a, b)
}

func lruLess(a, b *entry) bool {
	if a.lastAccess != b.lastAccess {
		return a.lastAccess < b.lastAccess
	}
	return a.seq < b.seq
}

func (s *Store) evictExpiredLocked(now int64) {
	for _, e := range s.entries {
		if e.expiredAt(now) {
			s.removeLocked(e, true)
		}
	}
}

func (s *Store) sortedEntriesLocked() []*entry {
	all := make([]*entry, 0, len(s.entries))
	for _, e := range s.entries {
		all = append(all, e)
	}
	slices.SortFunc(all, creationOrder)
	return all
}

// wroteLocked tells the other stores of the process on the same file that
// this one changed it. This one knows its own change, unless another
// store's came in between.
func (s *Store) wroteLocked() {
	if s.db.file.CompareAndSwap(s.seenGen, s.seenGen+1) {
		s.seenGen++
	} else {
		s.db.file.Add(1)
	}
}

// syncLocked brings the persistent cookies up to date when another store
// changed the file since we last looked (PRAGMA data_version): at once for
// the stores of this process, within externalSyncInterval for other
// processes.
func (s *Store) syncLocked() {
	if !s.syncDueLocked() {
		return
	}
	s.seenGen, s.synced = s.db.file.Load(), time.Now()
	changed, err := s.db.changed()
	if err != nil {
		s.noteErr(err)
		return
	}
	if !changed {
		return
	}
	dl, err := s.db.read()
	if err != nil {
		s.noteErr(err)
		return
	}
	s.mergeLocked(dl, s.clock().UnixMicro())
}

// syncDueLocked reports whether the store is to ask its file for other
// processes' changes (syncLocked) before its next answer: a store of this
// process wrote to the file, or externalSyncInterval has passed since it
// last asked. The read lock is enough.
func (s *Store) syncDueLocked() bool {
	if s.db == nil {
		return false
	}
	return s.db.file.Load() != s.seenGen || s.synced.IsZero() || time.Since(s.synced) >= externalSyncInterval
}

// mergeLocked applies what changed in the file. Rows replace the cookies
// with their keys, persistent or not: a row is newer than a session cookie
// with the same key, since this process deleted the row when it stored
// the session cookie. Tombstones remove persistent cookies. After a full
// read, persistent cookies missing from it were deleted elsewhere and go.
func (s *Store) mergeLocked(dl *delta, now int64) {
	if dl == nil {
		return
	}
	s.badRowsLocked(dl.bad)
	var seen map[key]struct{}
	if dl.full {
		seen = make(map[key]struct{}, len(dl.rows))
	}
	for _, r := range dl.rows {
		if r.expiredAt(now) {
			if old := s.entries[r.k]; old != nil && old.persistent() {
				s.removeLocked(old, false)
			}
			s.pending = append(s.pending, op{del: true, k: r.k})
			continue
		}
		if seen != nil {
			seen[r.k] = struct{}{}
		}
		old := s.entries[r.k]
		if old != nil {
			if old.value == r.value && old.expires == r.expires && old.created == r.created &&
				old.secure == r.secure && old.httpOnly == r.httpOnly && old.sameSite == r.sameSite {
				old.lastAccess = max(old.lastAccess, r.lastAccess)
				continue
			}
			r.seq, r.site = old.seq, old.site
			r.lastAccess = max(old.lastAccess, r.lastAccess)
			s.removeLocked(old, false)
		} else {
			s.seq++
			r.seq = s.seq
			r.site = registrableDomain(r.domain)
		}
		s.insertLocked(r)
	}
	for _, k := range dl.gone {
		if e := s.entries[k]; e != nil && e.persistent() {
			s.removeLocked(e, false)
		}
	}
	if seen != nil {
		for k, e := range s.entries {
			if _, ok := seen[k]; !ok && e.persistent() {
				s.removeLocked(e, false)
			}
		}
	}
}

// commitLocked writes the pending changes in one transaction.
func (s *Store) commitLocked() {
	if len(s.pending) == 0 {
		return
	}
	if s.db != nil {
		s.noteErr(s.db.apply(s.pending))
		s.wroteLocked()
	}
	clear(s.pending)
	s.pending = s.pending[:0]
}
