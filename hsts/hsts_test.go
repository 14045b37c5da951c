package hsts

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseField(t *testing.T) {
	for _, c := range []struct {
		in         string
		age        int64
		subdomains bool
		ok         bool
	}{
		{"max-age=31536000", 31536000, false, true},
		{"max-age=0; includeSubDomains", 0, true, true},
		{`MAX-AGE="60" ; INCLUDESUBDOMAINS ; preload`, 60, true, true},
		{"max-age=99999999999999999999999", 1<<63 - 1, false, true},
		{"includeSubDomains", 0, true, false},
		{"max-age=60; max-age=70", 0, false, false},
		{"max-age=-1", 0, false, false},
		{"max-age=+1", 0, false, false},
		{"max-age", 0, false, false},
		{"max-age=60; includeSubDomains=1", 0, false, false},
	} {
		age, sub, ok := ParseField(c.in)
		if ok != c.ok || ok && (age != c.age || sub != c.subdomains) {
			t.Errorf("%q: got %d, %v, %v; want %d, %v, %v", c.in, age, sub, ok, c.age, c.subdomains, c.ok)
		}
	}
}

var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func sts(v string) http.Header { return http.Header{"Strict-Transport-Security": {v}} }

// Observe notes what https responses ask, and nothing else; Known and
// Upgrade follow it.
func TestObserveKnownUpgrade(t *testing.T) {
	s := New()
	for _, c := range []struct {
		url, field string
		changed    bool
	}{
		{"https://Sub.Example.TEST./", "max-age=3600; includeSubDomains", true},
		{"https://exact.test/", "max-age=60", true},
		{"https://exact.test/", "max-age=60", false}, // the same entry again
		{"http://plain.test/", "max-age=60", false},  // not over https
		{"https://127.0.0.1/", "max-age=60", false},  // an IP address
		{"https://[::1]/", "max-age=60", false},
		{"https://bad.test/", "max-age=x", false},
		{"https://gone.test/", "max-age=60", true},
		{"https://gone.test/", "max-age=0", true}, // forgets
	} {
		if got := s.Observe(mustURL(t, c.url), sts(c.field), now); got != c.changed {
			t.Errorf("Observe(%s, %q) = %t, want %t", c.url, c.field, got, c.changed)
		}
	}
	// Only the first field counts.
	s.Observe(mustURL(t, "https://first.test/"), http.Header{"Strict-Transport-Security": {"max-age=0", "max-age=60"}}, now)
	for host, want := range map[string]bool{
		"sub.example.test": true, "a.b.sub.example.test": true, "SUB.EXAMPLE.TEST.": true,
		"example.test": false, "exact.test": true, "x.exact.test": false, "plain.test": false,
		"127.0.0.1": false, "gone.test": false, "first.test": false, "bad.test": false,
	} {
		if got := s.Known(host, now); got != want {
			t.Errorf("Known(%q) = %t, want %t", host, got, want)
		}
	}
	if s.Known("exact.test", now.Add(61*time.Second)) {
		t.Error("exact.test is known past its max-age")
	}
	for in, want := range map[string]string{
		"http://a.sub.example.test:80/p?q": "https://a.sub.example.test/p?q",
		"http://exact.test:8080/":          "https://exact.test:8080/",
		"http://exact.test/x":              "https://exact.test/x",
		"http://other.test/":               "http://other.test/",
		"ws://exact.test/":                 "ws://exact.test/",
	} {
		u := mustURL(t, in)
		changed := s.Upgrade(u, now)
		if u.String() != want || changed != (in != want) {
			t.Errorf("Upgrade(%s) = %s (%t), want %s", in, u, changed, want)
		}
	}
	var nilStore *Store
	if nilStore.Known("exact.test", now) || nilStore.Upgrade(mustURL(t, "http://exact.test/"), now) {
		t.Error("a nil store knows a host")
	}
}

func TestReadWriteEntries(t *testing.T) {
	in := "# a comment\n.sub.test \"20991231 23:59:59\"\nexact.test \"unlimited\"\nold.test \"20000101 00:00:00\"\n" +
		"broken line\nnoquotes.test 20991231\n127.0.0.1 \"unlimited\"\n" + strings.Repeat("x", 5000) + " \"unlimited\"\nlast.test \"unlimited\"\n"
	entries, err := ReadEntries(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	s.Add(entries...)
	var got []string
	for _, e := range s.Entries(now) {
		got = append(got, e.Host)
	}
	if strings.Join(got, ",") != "exact.test,sub.test" {
		t.Errorf("live entries %v (a line past the bound ends the reading, as curl stops there)", got)
	}
	var b strings.Builder
	if err := WriteEntries(&b, s.Entries(now)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "\nexact.test \"unlimited\"\n.sub.test \"20991231 23:59:59\"\n") {
		t.Errorf("written: %q", b.String())
	}
}

// Two stores on one file, as two processes: each one's flush keeps the
// other's changes; the file is its owner's only.
func TestFileMerge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir", "HSTS.txt")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a.Observe(mustURL(t, "https://a.test/"), sts("max-age=3600"), time.Now())
	a.Observe(mustURL(t, "https://both.test/"), sts("max-age=3600"), time.Now())
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	b.Observe(mustURL(t, "https://b.test/"), sts("max-age=3600"), time.Now())
	b.Add(Entry{Host: "both.test"}) // then forgotten by b
	b.Remove("both.test")
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, e := range c.Entries(time.Now()) {
		hosts = append(hosts, e.Host)
	}
	if strings.Join(hosts, ",") != "a.test,b.test" {
		t.Errorf("merged file holds %v, want a.test and b.test", hosts)
	}
	if !b.Known("a.test", time.Now()) {
		t.Error("b does not know a's host after its flush")
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}
	c.RemoveAll()
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if d, _ := Open(path); len(d.Entries(time.Now())) != 0 {
		t.Errorf("after RemoveAll and Flush: %v", d.Entries(time.Now()))
	}
	// Nothing changed: nothing written, not even a missing file.
	none := filepath.Join(t.TempDir(), "none")
	if err := d0(t, none).Flush(); err != nil {
		t.Errorf("a flush without changes: %v", err)
	}
	if _, err := os.Stat(none); err == nil {
		t.Error("a flush without changes made the file")
	}
}

func d0(t *testing.T, path string) *Store {
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A file that cannot be an HSTS file fails Open with a clear error.
func TestOpenBadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, maxFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(big); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("an oversized file: %v", err)
	}
	if s, err := Open(filepath.Join(dir, "none")); err != nil || len(s.Entries(now)) != 0 {
		t.Errorf("a file that is not there: %v", err)
	}
}

// The store bounds its entries, dropping the soonest to lapse.
func TestMaxEntries(t *testing.T) {
	s := New()
	for i := range MaxEntries {
		s.Add(Entry{Host: "h" + strings.Repeat("x", i%7) + strconv.Itoa(i) + ".test", Expires: now.Add(time.Duration(i+1) * time.Hour)})
	}
	s.Observe(mustURL(t, "https://new.test/"), sts("max-age=99999999"), now)
	if n := len(s.Entries(now)); n != MaxEntries {
		t.Errorf("%d entries, want %d", n, MaxEntries)
	}
	if !s.Known("new.test", now) || s.Known("h0.test", now) {
		t.Error("the new host is not known, or the soonest to lapse was kept")
	}
}

func TestConcurrentUse(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "h"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				u := mustURL(t, "https://h"+strconv.Itoa(i*100+j)+".test/")
				s.Observe(u, sts("max-age=60"), time.Now())
				s.Known(u.Host, time.Now())
				if j%10 == 0 {
					s.Flush()
				}
			}
		})
	}
	wg.Wait()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := len(d0(t, s.file.path).Entries(time.Now())); n != 400 {
		t.Errorf("%d entries on file, want 400", n)
	}
}
