package urlsession

// HTTP Alternative Services (RFC 7838): the Alt-Svc response header through
// which an https origin advertises that it also speaks HTTP/3, and the
// session's memory of what origins advertised.

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// altSvcDefaultMaxAge is how long an alternative is remembered when its
// advertisement has no ma parameter (RFC 7838 section 3.1).
const altSvcDefaultMaxAge = 24 * time.Hour

// altSvcMaxAgeCap bounds ma: a larger delta-seconds value is taken as
// 2^31 seconds, as RFC 9111 section 1.2.2 says of delta-seconds.
const altSvcMaxAgeCap = (1 << 31) * time.Second

// altSvcMaxOrigins bounds the origins a session remembers.
const altSvcMaxOrigins = 1024

// altSvcValue is one alt-value of an Alt-Svc field: an alternative for
// HTTP/3 ("h3") and its parameters.
type altSvcValue struct {
	host   string // "" for the origin's own host
	port   int
	maxAge time.Duration
}

// parseAltSvc parses the values of the Alt-Svc fields of a response. It
// returns the HTTP/3 alternatives in the order given, and clear when the
// field is the single value "clear". Alternatives of other protocols and
// malformed alt-values are skipped; ok is false when nothing in the fields
// could be read, so that a malformed field changes nothing.
//
//	Alt-Svc       = clear / 1#alt-value
//	alt-value     = alternative *( OWS ";" OWS parameter )
//	alternative   = protocol-id "=" alt-authority
//	alt-authority = quoted-string ; [ uri-host ] ":" port
//	parameter     = token "=" ( token / quoted-string )
func parseAltSvc(fields []string) (alts []altSvcValue, clear, ok bool) {
	joined := strings.TrimSpace(strings.Join(fields, ","))
	if joined == "" {
		return nil, false, false
	}
	if strings.EqualFold(joined, "clear") {
		return nil, true, true
	}
	p := altSvcParser{s: joined}
	for {
		p.skipSpace()
		if p.done() {
			break
		}
		if p.peek() == ',' {
			p.i++
			continue
		}
		v, isH3, good := p.altValue()
		if good {
			ok = true
			if isH3 {
				alts = append(alts, v)
			}
		}
		p.skipTo(',') // past what the alt-value left unread
	}
	return alts, false, ok
}

// altSvcParser reads an Alt-Svc field value.
type altSvcParser struct {
	s string
	i int
}

func (p *altSvcParser) done() bool { return p.i >= len(p.s) }
func (p *altSvcParser) peek() byte { return p.s[p.i] }

func (p *altSvcParser) skipSpace() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// skipTo advances to the next c outside a quoted string, or to the end.
func (p *altSvcParser) skipTo(c byte) {
	for !p.done() && p.s[p.i] != c {
		if p.s[p.i] == '"' {
			p.quoted()
			continue
		}
		p.i++
	}
}

// token reads a token (RFC 9110 section 5.6.2).
func (p *altSvcParser) token() string {
	start := p.i
	for !p.done() && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func isTokenChar(c byte) bool {
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// quoted reads a quoted-string at p.i and returns its content; ok is false
// when it is not terminated.
func (p *altSvcParser) quoted() (string, bool) {
	if p.done() || p.s[p.i] != '"' {
		return "", false
	}
	p.i++
	var b strings.Builder
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return b.String(), true
		case c == '\\' && !p.done():
			b.WriteByte(p.s[p.i])
			p.i++
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// value reads a parameter value: a token or a quoted-string.
func (p *altSvcParser) value() (string, bool) {
	if !p.done() && p.peek() == '"' {
		return p.quoted()
	}
	t := p.token()
	return t, t != ""
}

// altValue reads one alt-value. isH3 tells whether its protocol is HTTP/3;
// ok whether it is well formed.
func (p *altSvcParser) altValue() (v altSvcValue, isH3, ok bool) {
	proto := p.token()
	if proto == "" || p.done() || p.peek() != '=' {
		return v, false, false
	}
	p.i++
	authority, good := p.quoted()
	if !good {
		return v, false, false
	}
	host, port, good := splitAltAuthority(authority)
	if !good {
		return v, false, false
	}
	v = altSvcValue{host: host, port: port, maxAge: altSvcDefaultMaxAge}
	for {
		p.skipSpace()
		if p.done() || p.peek() != ';' {
			break
		}
		p.i++
		p.skipSpace()
		name := p.token()
		if name == "" || p.done() || p.peek() != '=' {
			return v, false, false
		}
		p.i++
		val, good := p.value()
		if !good {
			return v, false, false
		}
		if strings.EqualFold(name, "ma") {
			ma, good := deltaSeconds(val)
			if !good {
				return v, false, false
			}
			v.maxAge = ma
		}
		// persist=1 asks to keep the alternative across network changes;
		// the session does not watch the network, so every alternative
		// is kept until its max-age or a clear.
	}
	p.skipSpace()
	if !p.done() && p.peek() != ',' {
		return v, false, false
	}
	// The protocol-id is percent-encoded (RFC 7838 section 3); "h3" has
	// nothing to encode.
	return v, proto == "h3", true
}

// deltaSeconds parses delta-seconds, capping it at altSvcMaxAgeCap.
func deltaSeconds(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > int64(altSvcMaxAgeCap/time.Second) {
		return altSvcMaxAgeCap, true // all digits: only too large
	}
	return time.Duration(n) * time.Second, true
}

// splitAltAuthority splits an alt-authority, [ uri-host ] ":" port.
func splitAltAuthority(a string) (host string, port int, ok bool) {
	colon := strings.LastIndexByte(a, ':')
	if colon < 0 {
		return "", 0, false
	}
	host, portText := a[:colon], a[colon+1:]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return "", 0, false
		}
		host = host[1 : len(host)-1]
	} else if strings.ContainsAny(host, ":[]") {
		return "", 0, false
	}
	if portText == "" || len(portText) > 5 {
		return "", 0, false
	}
	for i := 0; i < len(portText); i++ {
		if portText[i] < '0' || portText[i] > '9' {
			return "", 0, false
		}
	}
	port, _ = strconv.Atoi(portText)
	if port < 1 || port > 65535 {
		return "", 0, false
	}
	return strings.ToLower(host), port, true
}

// altSvcCache is a session's memory of HTTP/3 alternatives, per https
// origin, and of alternatives that recently failed. It is safe for
// concurrent use; the zero value is empty and uses time.Now.
type altSvcCache struct {
	now func() time.Time // nil: time.Now

	// any is set once an origin advertised an alternative: until then a
	// request has nothing to look up.
	any atomic.Bool

	mu      sync.Mutex
	origins map[string]altSvcEntry // origin ("host:port") → its alternative
	broken  map[string]brokenAlt   // origin + " " + alternative address
}

// altSvcEntry is the alternative an origin advertised.
type altSvcEntry struct {
	port    int // on the origin's host
	expires time.Time
}

// brokenAlt is an alternative that failed: it is not used before until.
// Each failure in a row doubles the time, from brokenAltBase up to
// brokenAltMax.
type brokenAlt struct {
	until    time.Time
	failures int
}

// How long an alternative that failed is left alone: 5 minutes, doubling
// with every failure in a row up to 2 days, as Chromium does.
const (
	brokenAltBase = 5 * time.Minute
	brokenAltMax  = 48 * time.Hour
)

func (c *altSvcCache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// observe records the Alt-Svc fields of a response from origin (the host
// and port of an https request, host in lower case): the first HTTP/3
// alternative on the origin's own host replaces what the origin advertised
// before, for its max-age (an ma of 0 forgets it); "clear" forgets it.
// Alternatives on other hosts are ignored: the session uses only
// alternatives that need no certificate for another name and no other
// name resolution, so that Alt-Svc cannot send its requests to a host the
// origin does not share. Fields it cannot read change nothing.
func (c *altSvcCache) observe(origin, host string, fields []string) {
	if len(fields) == 0 {
		return
	}
	alts, clear, ok := parseAltSvc(fields)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if clear {
		delete(c.origins, origin)
		return
	}
	for _, a := range alts {
		if a.host != "" && a.host != host {
			continue
		}
		if a.maxAge <= 0 {
			delete(c.origins, origin)
			return
		}
		now := c.clock()
		if c.origins == nil {
			c.origins = make(map[string]altSvcEntry)
		}
		if _, known := c.origins[origin]; !known && len(c.origins) >= altSvcMaxOrigins {
			c.evictLocked(now)
		}
		c.origins[origin] = altSvcEntry{port: a.port, expires: now.Add(a.maxAge)}
		c.any.Store(true)
		return
	}
	// An advertisement of only other hosts' alternatives replaces the
	// origin's earlier one with none the session uses.
	delete(c.origins, origin)
}

// evictLocked makes room for one more origin: it drops the expired
// entries, or else the one that expires first.
func (c *altSvcCache) evictLocked(now time.Time) {
	var first string
	var firstExp time.Time
	for o, e := range c.origins {
		if !e.expires.After(now) {
			delete(c.origins, o)
			continue
		}
		if first == "" || e.expires.Before(firstExp) {
			first, firstExp = o, e.expires
		}
	}
	if len(c.origins) >= altSvcMaxOrigins {
		delete(c.origins, first)
	}
}

// known reports whether an origin may have an alternative.
func (c *altSvcCache) known() bool { return c.any.Load() }

// lookup returns the port of origin's HTTP/3 alternative on its own host,
// if it advertised one that has not expired.
func (c *altSvcCache) lookup(origin string) (port int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.origins[origin]
	if !ok {
		return 0, false
	}
	if !e.expires.After(c.clock()) {
		delete(c.origins, origin)
		return 0, false
	}
	return e.port, true
}

// isBroken reports whether the alternative at addr failed for origin
// recently.
func (c *altSvcCache) isBroken(origin, addr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.broken[origin+" "+addr]
	return ok && c.clock().Before(b.until)
}

// markBroken records that the alternative at addr failed for origin.
func (c *altSvcCache) markBroken(origin, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken == nil {
		c.broken = make(map[string]brokenAlt)
	}
	now := c.clock()
	if len(c.broken) >= altSvcMaxOrigins {
		for k, b := range c.broken {
			if !now.Before(b.until) {
				delete(c.broken, k)
			}
		}
		if len(c.broken) >= altSvcMaxOrigins {
			clear(c.broken)
		}
	}
	k := origin + " " + addr
	b := c.broken[k]
	d := brokenAltBase
	for i := 0; i < b.failures && d < brokenAltMax; i++ {
		d *= 2
	}
	b.until = now.Add(min(d, brokenAltMax))
	b.failures++
	c.broken[k] = b
}

// confirm records that the alternative at addr worked for origin.
func (c *altSvcCache) confirm(origin, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.broken, origin+" "+addr)
}

// reset forgets everything.
func (c *altSvcCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.origins, c.broken = nil, nil
}
