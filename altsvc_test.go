package urlsession

import (
	"fmt"
	"testing"
	"time"
)

func TestParseAltSvc(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		in        string
		alts      string // host:port/max-age, space separated
		clear, ok bool
	}{
		{`h3=":443"`, ":443/" + day.String(), false, true},
		{`h3=":8443"; ma=60`, ":8443/1m0s", false, true},
		{`h3=":8443";ma=60;persist=1`, ":8443/1m0s", false, true},
		{`h3="alt.example:443"; ma=3600, h3=":443"`, "alt.example:443/1h0m0s :443/" + day.String(), false, true},
		{`h2=":443", h3-29=":443", h3=":9443"`, ":9443/" + day.String(), false, true},
		{`h2=":443"`, "", false, true},
		{`clear`, "", true, true},
		{` CLEAR `, "", true, true},
		{`h3="[::1]:443"`, "::1:443/" + day.String(), false, true},
		{`h3="ALT.Example:1"`, "alt.example:1/" + day.String(), false, true},
		{`h3=":443"; ma=0`, ":443/0s", false, true},
		{`h3=":443"; ma=99999999999999999999`, ":443/" + altSvcMaxAgeCap.String(), false, true},
		{`h3=":443"; ma="120"`, ":443/2m0s", false, true},
		{`h3=":443"; foo="a,b", h3=":444"`, ":443/" + day.String() + " :444/" + day.String(), false, true},
		// Malformed alt-values are skipped, the rest kept.
		{`h3=":0", h3=":443"`, ":443/" + day.String(), false, true},
		{`h3=":65536"`, "", false, false},
		{`h3=443`, "", false, false},
		{`h3=":443`, "", false, false},
		{`h3=":x"`, "", false, false},
		{`h3=":443"; ma=-1`, "", false, false},
		{`h3=":443"; ma=1.5`, "", false, false},
		{`h3=":443" junk`, "", false, false},
		{`h3="a:b:443"`, "", false, false},
		{`=":443"`, "", false, false},
		{``, "", false, false},
		{`clear, h3=":443"`, ":443/" + day.String(), false, true},
	} {
		alts, clear, ok := parseAltSvc([]string{c.in})
		got := ""
		for i, a := range alts {
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("%s:%d/%s", a.host, a.port, a.maxAge)
		}
		if got != c.alts || clear != c.clear || ok != c.ok {
			t.Errorf("parseAltSvc(%q) = %q clear=%v ok=%v, want %q clear=%v ok=%v", c.in, got, clear, ok, c.alts, c.clear, c.ok)
		}
	}
	// Several fields are one list.
	alts, _, ok := parseAltSvc([]string{`h2=":443"`, `h3=":8443"`})
	if !ok || len(alts) != 1 || alts[0].port != 8443 {
		t.Errorf("two fields: %v %v", alts, ok)
	}
}

func TestAltSvcCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &altSvcCache{now: func() time.Time { return now }}
	const origin = "h.test:443"
	if _, ok := c.lookup(origin); ok {
		t.Fatal("empty cache found an alternative")
	}
	c.observe(origin, "h.test", []string{`h3="other.test:443", h3="h.test:8443"; ma=100`})
	if p, ok := c.lookup(origin); !ok || p != 8443 {
		t.Fatalf("lookup = %d %v, want the same-host alternative", p, ok)
	}
	// A malformed field changes nothing; a new one replaces the old.
	c.observe(origin, "h.test", []string{`h3=`})
	if p, _ := c.lookup(origin); p != 8443 {
		t.Fatalf("after a malformed field: %d", p)
	}
	c.observe(origin, "h.test", []string{`h3=":9443"`})
	if p, _ := c.lookup(origin); p != 9443 {
		t.Fatalf("after a new field: %d", p)
	}
	// Default max-age: 24 hours.
	now = now.Add(24*time.Hour - time.Second)
	if _, ok := c.lookup(origin); !ok {
		t.Fatal("expired before 24 h")
	}
	now = now.Add(time.Second)
	if _, ok := c.lookup(origin); ok {
		t.Fatal("not expired after 24 h")
	}
	// Only other hosts' alternatives: none used, the old one forgotten.
	c.observe(origin, "h.test", []string{`h3=":443"`})
	c.observe(origin, "h.test", []string{`h3="other.test:443"`})
	if _, ok := c.lookup(origin); ok {
		t.Fatal("another host's alternative kept the origin's")
	}
	c.observe(origin, "h.test", []string{`h3=":443"`})
	c.observe(origin, "h.test", []string{`clear`})
	if _, ok := c.lookup(origin); ok {
		t.Fatal("clear kept the alternative")
	}
	c.observe(origin, "h.test", []string{`h3=":443"`})
	c.observe(origin, "h.test", []string{`h3=":443"; ma=0`})
	if _, ok := c.lookup(origin); ok {
		t.Fatal("ma=0 kept the alternative")
	}

	// Broken alternatives: 5 minutes, doubling; confirm forgets.
	const addr = "h.test:443"
	c.markBroken(origin, addr)
	if !c.isBroken(origin, addr) || c.isBroken("g.test:443", addr) {
		t.Fatal("markBroken")
	}
	now = now.Add(5 * time.Minute)
	if c.isBroken(origin, addr) {
		t.Fatal("still broken after 5 minutes")
	}
	c.markBroken(origin, addr)
	now = now.Add(9 * time.Minute)
	if !c.isBroken(origin, addr) {
		t.Fatal("a second failure is not 10 minutes")
	}
	c.confirm(origin, addr)
	if c.isBroken(origin, addr) {
		t.Fatal("confirm kept it broken")
	}
	for range 20 {
		c.markBroken(origin, addr)
	}
	now = now.Add(brokenAltMax)
	if c.isBroken(origin, addr) {
		t.Fatal("broken for longer than brokenAltMax")
	}

	// Bounded.
	for i := range altSvcMaxOrigins + 10 {
		o := fmt.Sprintf("h%d.test:443", i)
		c.observe(o, fmt.Sprintf("h%d.test", i), []string{`h3=":443"`})
	}
	c.mu.Lock()
	n := len(c.origins)
	c.mu.Unlock()
	if n > altSvcMaxOrigins {
		t.Errorf("%d origins remembered, want at most %d", n, altSvcMaxOrigins)
	}
	c.reset()
	if _, ok := c.lookup("h1.test:443"); ok {
		t.Error("reset kept an alternative")
	}
}

func FuzzParseAltSvc(f *testing.F) {
	for _, s := range []string{`h3=":443"; ma=60`, `clear`, `h3="[::1]:443";persist=1, h2=":443"`, `h3="a\"b:1"`, `h3=":1"; x="\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		alts, clear, ok := parseAltSvc([]string{s})
		if clear && len(alts) > 0 {
			t.Fatal("clear with alternatives")
		}
		if !ok && (clear || len(alts) > 0) {
			t.Fatal("alternatives from an unreadable field")
		}
		for _, a := range alts {
			if a.port < 1 || a.port > 65535 || a.maxAge < 0 || a.maxAge > altSvcMaxAgeCap {
				t.Fatalf("bad alternative %+v", a)
			}
		}
	})
}
