package proxy_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/proxy"
)

func find(t *testing.T, p *proxy.PAC, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, x := range p.Find(context.Background(), u) {
		s = append(s, x.String())
	}
	return strings.Join(s, "; ")
}

// A fixed clock: Wednesday 2026-03-18 14:30:15 UTC.
var pacNow = func() time.Time { return time.Date(2026, 3, 18, 14, 30, 15, 0, time.UTC) }

func TestPACFunctions(t *testing.T) {
	script := `
function FindProxyForURL(url, host) {
	var checks = [
		isPlainHostName("intranet"), !isPlainHostName("a.b"),
		dnsDomainIs("www.corp.test", ".corp.test"), !dnsDomainIs("www.other.test", ".corp.test"),
		localHostOrDomainIs("www", "www.corp.test"), localHostOrDomainIs("www.corp.test", "www.corp.test"),
		!localHostOrDomainIs("www.other.test", "www.corp.test"),
		isResolvable("127.0.0.1"), dnsResolve("127.0.0.1") == "127.0.0.1",
		isInNet("10.1.2.3", "10.0.0.0", "255.0.0.0"), !isInNet("11.1.2.3", "10.0.0.0", "255.0.0.0"),
		myIpAddress() == "192.0.2.7",
		dnsDomainLevels("www.corp.test") == 2, dnsDomainLevels("www") == 0,
		shExpMatch(url, "https://*.corp.test/*"), !shExpMatch("abc", "a?"),
		weekdayRange("MON", "FRI", "GMT"), weekdayRange("WED", "GMT"), !weekdayRange("SAT", "SUN", "GMT"),
		weekdayRange("FRI", "WED", "GMT"),
		dateRange("MAR", "GMT"), dateRange(18, "GMT"), dateRange(2026, "GMT"), dateRange("JAN", "JUN", "GMT"),
		dateRange(1, "MAR", 31, "MAR", "GMT"), !dateRange(1, "APR", 31, "DEC", "GMT"),
		dateRange(1, "NOV", 2026, 31, "MAR", 2027, "GMT") == false, dateRange("NOV", "APR", "GMT"),
		dateRange(2025, 2027, "GMT"), !dateRange(19, 31, "GMT"),
		timeRange(14, "GMT"), timeRange(9, 17, "GMT"), !timeRange(15, 17, "GMT"),
		timeRange(14, 30, 14, 31, "GMT"), timeRange(14, 30, 15, 14, 30, 16, "GMT"), timeRange(22, 15, "GMT"),
		!timeRange(2, 4, "GMT")
	];
	for (var i = 0; i < checks.length; i++) {
		if (!checks[i]) return "PROXY failed-check-" + i + ":1";
	}
	return "PROXY ok.test:3128; DIRECT";
}`
	p, err := proxy.NewPAC(script, proxy.PACOptions{Now: pacNow, MyIPAddress: func() string { return "192.0.2.7" }})
	if err != nil {
		t.Fatal(err)
	}
	if got := find(t, p, "https://www.corp.test/path?q=1"); got != "http://ok.test:3128; DIRECT" {
		t.Errorf("got %s", got)
	}
}

func TestPACCacheAndScope(t *testing.T) {
	script := `var n = 0;
function FindProxyForURL(url, host) {
	n++;
	if (url.indexOf("secret") >= 0 || url.indexOf("path") >= 0) return "PROXY leaked:1";
	if (host == "direct.test") return "DIRECT";
	return "PROXY p" + n + ".test:8080; SOCKS s.test:1080";
}`
	p, err := proxy.NewPAC(script, proxy.PACOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := find(t, p, "https://user:secret@a.test/path?x"); got != "http://p1.test:8080; socks5h://s.test:1080" {
		t.Errorf("first: %s", got)
	}
	// Cached per host: the script is not run again.
	if got := find(t, p, "https://a.test/other"); got != "http://p1.test:8080; socks5h://s.test:1080" {
		t.Errorf("cached: %s", got)
	}
	if got := find(t, p, "http://a.test/"); got != "http://p2.test:8080; socks5h://s.test:1080" {
		t.Errorf("another scheme: %s", got)
	}
	if got := find(t, p, "http://direct.test/"); got != "DIRECT" {
		t.Errorf("direct: %s", got)
	}
}

func TestPACBadScripts(t *testing.T) {
	for name, script := range map[string]string{
		"syntax":    "function FindProxyForURL(url, host) {",
		"no find":   "var x = 1;",
		"throws":    "throw new Error('no');",
		"top loops": "for(;;){}",
	} {
		if _, err := proxy.NewPAC(script, proxy.PACOptions{Timeout: 50 * time.Millisecond}); !errors.Is(err, proxy.ErrPAC) {
			t.Errorf("%s: %v; want ErrPAC", name, err)
		}
	}
	// Evaluation errors, loops and non-strings give DIRECT.
	for name, body := range map[string]string{
		"throws":    "throw 1;",
		"loops":     "for(;;){}",
		"recurses":  "function f(){return f();} return f();",
		"number":    "return 42;",
		"undefined": "return;",
	} {
		p, err := proxy.NewPAC("function FindProxyForURL(url, host) {"+body+"}", proxy.PACOptions{Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := find(t, p, "http://a.test/"); got != "DIRECT" {
			t.Errorf("%s: %s; want DIRECT", name, got)
		}
	}
}

func TestPACLoader(t *testing.T) {
	var calls atomic.Int32
	var fail atomic.Bool
	fail.Store(true)
	now := time.Unix(1e9, 0)
	clock := func() time.Time { return now }
	p := proxy.NewPACLoader(func(context.Context) (string, error) {
		calls.Add(1)
		if fail.Load() {
			return "", errors.New("unreachable")
		}
		return `function FindProxyForURL(u, h) { return "PROXY loaded.test:1"; }`, nil
	}, proxy.PACOptions{Now: clock})
	if got := find(t, p, "http://a.test/"); got != "DIRECT" || p.LoadError() == nil {
		t.Errorf("failing load: %s, %v", got, p.LoadError())
	}
	fail.Store(false)
	if got := find(t, p, "http://b.test/"); got != "DIRECT" || calls.Load() != 1 {
		t.Errorf("within the retry delay: %s, %d loads", got, calls.Load())
	}
	now = now.Add(time.Minute)
	if got := find(t, p, "http://c.test/"); got != "http://loaded.test:1" || p.LoadError() != nil {
		t.Errorf("after the delay: %s, %v", got, p.LoadError())
	}
}

func BenchmarkPACCached(b *testing.B) {
	p, err := proxy.NewPAC(`function FindProxyForURL(url, host) {
		if (isPlainHostName(host) || dnsDomainIs(host, ".corp.test")) return "DIRECT";
		if (shExpMatch(host, "*.example.*")) return "PROXY p.test:8080; DIRECT";
		return "SOCKS s.test:1080";
	}`, proxy.PACOptions{})
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse("https://www.example.com/index.html")
	ctx := context.Background()
	p.Find(ctx, u)
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		p.Find(ctx, u)
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	}
}
