package proxy

// Proxy auto-configuration: a JavaScript file whose FindProxyForURL(url,
// host) returns the proxies to try, evaluated with goja and the standard
// PAC functions (Netscape's definition, as browsers implement it).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
)

// PAC evaluation limits.
const (
	// DefaultPACTimeout bounds one evaluation of a script (its top level
	// or one FindProxyForURL call), DNS look-ups included.
	DefaultPACTimeout = time.Second
	// pacCacheTTL is how long a host's result is reused.
	pacCacheTTL = 5 * time.Minute
	// pacCacheMax bounds the cached hosts; the cache starts over past it.
	pacCacheMax = 4096
	// pacRetryLoad is how long a script that failed to load is not
	// loaded again: its URLs go DIRECT meanwhile.
	pacRetryLoad = 30 * time.Second
	// MaxPACBytes bounds a PAC script.
	MaxPACBytes = 1 << 20
)

// PACOptions tune a PAC evaluator. The zero value is the default.
type PACOptions struct {
	// Timeout bounds each evaluation; zero means DefaultPACTimeout. A
	// script past it is interrupted and its URL goes DIRECT.
	Timeout time.Duration
	// Resolver answers dnsResolve, isResolvable and isInNet; nil means
	// net.DefaultResolver.
	Resolver *net.Resolver
	// Now is the clock of weekdayRange, dateRange and timeRange and of the
	// cache; nil means time.Now.
	Now func() time.Time
	// MyIPAddress answers myIpAddress; nil means the first non-loopback
	// IPv4 address of the machine's interfaces, else 127.0.0.1.
	MyIPAddress func() string
}

// PAC evaluates a proxy auto-configuration script. It is safe for
// concurrent use; evaluations run one at a time, results are cached per
// scheme, host and port.
type PAC struct {
	opts PACOptions
	load func(context.Context) (string, error)

	mu       sync.Mutex
	vm       *goja.Runtime
	find     goja.Callable
	loadErr  error
	failedAt time.Time
	cache    map[string]pacEntry
	evalCtx  context.Context // of the evaluation running, for DNS
}

type pacEntry struct {
	at      time.Time
	proxies []Proxy
}

// ErrPAC is the cause of the errors of a script that cannot be used.
var ErrPAC = errors.New("proxy auto-configuration")

// NewPAC compiles script and runs its top level, failing when it does not
// parse, throws, takes longer than the timeout or defines no
// FindProxyForURL function.
func NewPAC(script string, opts PACOptions) (*PAC, error) {
	p := &PAC{opts: opts}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.compileLocked(script); err != nil {
		return nil, err
	}
	return p, nil
}

// NewPACLoader returns a PAC whose script load fetches on first use (a PAC
// URL). While the script cannot be loaded or used, URLs go DIRECT, and
// loading is tried again after 30 seconds; LoadError tells why.
func NewPACLoader(load func(context.Context) (string, error), opts PACOptions) *PAC {
	return &PAC{opts: opts, load: load}
}

// LoadError returns why the script could not be loaded or compiled, or
// nil.
func (p *PAC) LoadError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.loadErr
}

func (p *PAC) now() time.Time {
	if p.opts.Now != nil {
		return p.opts.Now()
	}
	return time.Now()
}

func (p *PAC) timeout() time.Duration {
	if p.opts.Timeout > 0 {
		return p.opts.Timeout
	}
	return DefaultPACTimeout
}

// Find returns the proxies to try for u, from the cache or by calling
// FindProxyForURL("scheme://host:port/", host): the script sees no path,
// query or credentials, so its answer holds for every URL of the host.
// A script that fails, throws or returns something else than a string
// gives DIRECT.
func (p *PAC) Find(ctx context.Context, u *url.URL) []Proxy {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	hostport := host
	if strings.Contains(host, ":") {
		hostport = "[" + host + "]"
	}
	if port := u.Port(); port != "" {
		hostport += ":" + port
	}
	key := scheme + "://" + hostport + "/"
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.cache[key]; ok && now.Sub(e.at) < pacCacheTTL {
		return e.proxies
	}
	if p.find == nil && !p.loadLocked(ctx, now) {
		return []Proxy{DirectProxy}
	}
	out, err := p.callLocked(ctx, key, host)
	if err != nil {
		out = []Proxy{DirectProxy}
	}
	if p.cache == nil || len(p.cache) >= pacCacheMax {
		p.cache = make(map[string]pacEntry)
	}
	p.cache[key] = pacEntry{at: now, proxies: out}
	return out
}

// loadLocked fetches and compiles the script of a loader.
func (p *PAC) loadLocked(ctx context.Context, now time.Time) bool {
	if p.load == nil {
		return false
	}
	if p.loadErr != nil && now.Sub(p.failedAt) < pacRetryLoad {
		return false
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*p.timeout())
	defer cancel()
	script, err := p.load(lctx)
	if err == nil {
		err = p.compileLocked(script)
	}
	if err != nil {
		p.loadErr, p.failedAt = err, now
		return false
	}
	p.loadErr = nil
	return true
}

// run calls f with the script interrupted past the timeout.
func (p *PAC) runLocked(ctx context.Context, f func() (goja.Value, error)) (goja.Value, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout())
	defer cancel()
	p.evalCtx = ctx
	stop := context.AfterFunc(ctx, func() { p.vm.Interrupt("PAC evaluation timed out") })
	defer func() {
		stop()
		p.vm.ClearInterrupt()
		p.evalCtx = nil
	}()
	return f()
}

func (p *PAC) compileLocked(script string) error {
	if len(script) > MaxPACBytes {
		return fmt.Errorf("%w: the script is larger than %d bytes", ErrPAC, MaxPACBytes)
	}
	prog, err := goja.Compile("proxy.pac", script, false)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPAC, err)
	}
	vm := goja.New()
	vm.SetMaxCallStackSize(512)
	p.vm = vm
	p.install(vm)
	if _, err := p.runLocked(context.Background(), func() (goja.Value, error) { return vm.RunProgram(prog) }); err != nil {
		p.vm = nil
		return fmt.Errorf("%w: %v", ErrPAC, err)
	}
	fn, ok := goja.AssertFunction(vm.Get("FindProxyForURL"))
	if !ok {
		p.vm = nil
		return fmt.Errorf("%w: the script defines no FindProxyForURL function", ErrPAC)
	}
	p.find = fn
	p.cache = nil
	return nil
}

func (p *PAC) callLocked(ctx context.Context, rawURL, host string) ([]Proxy, error) {
	v, err := p.runLocked(ctx, func() (goja.Value, error) {
		return p.find(goja.Undefined(), p.vm.ToValue(rawURL), p.vm.ToValue(host))
	})
	if err != nil {
		return nil, err
	}
	s, ok := v.Export().(string)
	if !ok {
		return nil, fmt.Errorf("%w: FindProxyForURL returned no string", ErrPAC)
	}
	return ParsePAC(s), nil
}

// install defines the standard PAC functions in vm.
func (p *PAC) install(vm *goja.Runtime) {
	str := func(c goja.FunctionCall, i int) string {
		a := c.Argument(i)
		if goja.IsUndefined(a) || goja.IsNull(a) {
			return ""
		}
		return a.String()
	}
	set := func(name string, f func(goja.FunctionCall) goja.Value) { vm.Set(name, f) }
	set("isPlainHostName", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(!strings.Contains(str(c, 0), "."))
	})
	set("dnsDomainIs", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(strings.HasSuffix(strings.ToLower(str(c, 0)), strings.ToLower(str(c, 1))))
	})
	set("localHostOrDomainIs", func(c goja.FunctionCall) goja.Value {
		h, hd := strings.ToLower(str(c, 0)), strings.ToLower(str(c, 1))
		return vm.ToValue(h == hd || (!strings.Contains(h, ".") && strings.HasPrefix(hd, h+".")))
	})
	set("isResolvable", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(p.resolve(str(c, 0)) != "")
	})
	set("dnsResolve", func(c goja.FunctionCall) goja.Value {
		if a := p.resolve(str(c, 0)); a != "" {
			return vm.ToValue(a)
		}
		return goja.Null()
	})
	set("isInNet", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(p.isInNet(str(c, 0), str(c, 1), str(c, 2)))
	})
	set("myIpAddress", func(goja.FunctionCall) goja.Value { return vm.ToValue(p.myIPAddress()) })
	set("dnsDomainLevels", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(strings.Count(str(c, 0), "."))
	})
	set("shExpMatch", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(ShExpMatch(str(c, 0), str(c, 1)))
	})
	set("weekdayRange", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(weekdayRange(p.now(), args(c)))
	})
	set("dateRange", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(dateRange(p.now(), args(c)))
	})
	set("timeRange", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(timeRange(p.now(), args(c)))
	})
	set("alert", func(goja.FunctionCall) goja.Value { return goja.Undefined() })
}

// args returns a call's arguments as strings (numbers in decimal).
func args(c goja.FunctionCall) []string {
	out := make([]string, len(c.Arguments))
	for i, a := range c.Arguments {
		out[i] = a.String()
	}
	return out
}

// resolve returns host's first IPv4 address (else its first address) as
// text, or "" when it does not resolve within the evaluation's time.
func (p *PAC) resolve(host string) string {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	if host == "" {
		return ""
	}
	r := p.opts.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx := p.evalCtx
	if ctx == nil {
		ctx = context.Background()
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return ""
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap().String()
		}
	}
	return addrs[0].String()
}

func (p *PAC) isInNet(host, pattern, mask string) bool {
	a, err := netip.ParseAddr(p.resolve(host))
	if err != nil || !a.Is4() {
		return false
	}
	pa, err1 := netip.ParseAddr(pattern)
	ma, err2 := netip.ParseAddr(mask)
	if err1 != nil || err2 != nil || !pa.Is4() || !ma.Is4() {
		return false
	}
	x, y, m := a.As4(), pa.As4(), ma.As4()
	for i := range 4 {
		if x[i]&m[i] != y[i]&m[i] {
			return false
		}
	}
	return true
}

func (p *PAC) myIPAddress() string {
	if p.opts.MyIPAddress != nil {
		return p.opts.MyIPAddress()
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
				return n.IP.To4().String()
			}
		}
	}
	return "127.0.0.1"
}

// clock returns now in GMT when the last argument says so, and the other
// arguments.
func clock(now time.Time, a []string) (time.Time, []string) {
	if len(a) > 0 && strings.EqualFold(a[len(a)-1], "GMT") {
		return now.UTC(), a[:len(a)-1]
	}
	return now.Local(), a
}

// inRange reports lo <= v <= hi, wrapping around when lo > hi.
func inRange(v, lo, hi int) bool {
	if lo <= hi {
		return lo <= v && v <= hi
	}
	return v >= lo || v <= hi
}

var weekdays = map[string]int{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

func weekdayRange(now time.Time, a []string) bool {
	now, a = clock(now, a)
	if len(a) == 0 || len(a) > 2 {
		return false
	}
	lo, ok := weekdays[strings.ToUpper(a[0])]
	if !ok {
		return false
	}
	hi := lo
	if len(a) == 2 {
		if hi, ok = weekdays[strings.ToUpper(a[1])]; !ok {
			return false
		}
	}
	return inRange(int(now.Weekday()), lo, hi)
}

var months = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}

// dateField is one argument of dateRange: a day (1-31), a month name or a
// year (four digits).
type dateField struct {
	kind byte // 'd', 'm' or 'y'
	v    int
}

func parseDateField(s string) (dateField, bool) {
	if m, ok := months[strings.ToUpper(s)]; ok {
		return dateField{'m', m}, true
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return dateField{}, false
	case n >= 1 && n <= 31:
		return dateField{'d', n}, true
	case n >= 1000:
		return dateField{'y', n}, true
	}
	return dateField{}, false
}

// dateValue folds fields of the kinds in kinds into one comparable number,
// year first.
func dateValue(y, m, d int, kinds string) int {
	v := 0
	if strings.Contains(kinds, "y") {
		v = y
	}
	if strings.Contains(kinds, "m") {
		v = v*100 + m
	}
	if strings.Contains(kinds, "d") {
		v = v*100 + d
	}
	return v
}

func dateRange(now time.Time, a []string) bool {
	now, a = clock(now, a)
	if len(a) == 0 || len(a) > 6 {
		return false
	}
	fs := make([]dateField, len(a))
	for i, s := range a {
		f, ok := parseDateField(s)
		if !ok {
			return false
		}
		fs[i] = f
	}
	y, m, d := now.Year(), int(now.Month()), now.Day()
	if len(fs) == 1 {
		f := fs[0]
		return (f.kind == 'd' && f.v == d) || (f.kind == 'm' && f.v == m) || (f.kind == 'y' && f.v == y)
	}
	if len(fs)%2 != 0 {
		return false
	}
	half := len(fs) / 2
	value := func(fs []dateField) (int, string, bool) {
		var yy, mm, dd int
		kinds := ""
		for _, f := range fs {
			if strings.IndexByte(kinds, f.kind) >= 0 {
				return 0, "", false
			}
			kinds += string(f.kind)
			switch f.kind {
			case 'y':
				yy = f.v
			case 'm':
				mm = f.v
			case 'd':
				dd = f.v
			}
		}
		return dateValue(yy, mm, dd, kinds), kinds, true
	}
	lo, k1, ok1 := value(fs[:half])
	hi, k2, ok2 := value(fs[half:])
	if !ok1 || !ok2 || !sameKinds(k1, k2) {
		return false
	}
	v := dateValue(y, m, d, k1)
	if strings.Contains(k1, "y") {
		return lo <= v && v <= hi // years do not wrap
	}
	return inRange(v, lo, hi)
}

func sameKinds(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if !strings.Contains(b, a[i:i+1]) {
			return false
		}
	}
	return true
}

// timeRange: (hour), (h1, h2), (h1, m1, h2, m2) or (h1, m1, s1, h2, m2,
// s2); a range includes its start and excludes its end, wrapping past
// midnight when the start is later.
func timeRange(now time.Time, a []string) bool {
	now, a = clock(now, a)
	n := make([]int, len(a))
	for i, s := range a {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > 59 || (len(a) != 6 && len(a) != 4 && v > 24) {
			return false
		}
		n[i] = v
	}
	h := now.Hour()
	t := h*3600 + now.Minute()*60 + now.Second()
	var lo, hi int
	switch len(n) {
	case 1:
		return h == n[0]
	case 2:
		lo, hi = n[0]*3600, n[1]*3600
	case 4:
		lo, hi = n[0]*3600+n[1]*60, n[2]*3600+n[3]*60
	case 6:
		lo, hi = n[0]*3600+n[1]*60+n[2], n[3]*3600+n[4]*60+n[5]
	default:
		return false
	}
	if lo <= hi {
		return lo <= t && t < hi
	}
	return t >= lo || t < hi
}
