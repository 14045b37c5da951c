package cookiestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPersistReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub", "dir")
	path := filepath.Join(dir, "cookies.db")
	clk := newClock()
	s, err := New(Options{Path: path, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	u := mustURL(t, "https://www.example.com/app/page")
	s.SetCookiesFromResponse(header(
		"persist=1; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Strict",
		"dom=2; Domain=example.com; Expires=Fri, 01 Jan 2027 00:00:00 GMT",
		`q="quoted"; Max-Age=3600`,
		"session=3",
		"short=4; Max-Age=10",
	), u, nil)
	s.CookieHeader(u)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v; want %v", p, got, want)
		}
	}

	clk.Advance(time.Minute) // "short" expires meanwhile
	s2, err := New(Options{Path: path, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got := map[string]*http.Cookie{}
	for _, c := range s2.AllCookies() {
		got[c.Name] = c
	}
	if ns := sortedNames(s2.AllCookies()); !slices.Equal(ns, []string{"dom", "persist", "q"}) {
		t.Fatalf("after reopening: %v; want [dom persist q] (no session, no expired cookie)", ns)
	}
	p := got["persist"]
	if p.Domain != "www.example.com" || p.Path != "/" || !p.Secure || !p.HttpOnly || p.SameSite != http.SameSiteStrictMode ||
		!p.Expires.Equal(time.Date(2026, 1, 2, 4, 4, 5, 0, time.UTC)) {
		t.Errorf("persist read back as %+v", p)
	}
	if d := got["dom"]; d.Domain != ".example.com" || d.Path != "/app" {
		t.Errorf("dom read back as %+v", d)
	}
	if h := s2.CookieHeader(u); h != `dom=2; q="quoted"; persist=1` {
		t.Errorf("Cookie header after reopening %q", h)
	}
}

// TestPersistSharedBetweenStores: two stores on one file (two connections,
// as two processes would have) see each other's changes.
func TestPersistSharedBetweenStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	a := newStore(t, Options{Path: path})
	b := newStore(t, Options{Path: path})
	u := mustURL(t, "http://example.com/")
	a.SetCookiesFromResponse(header("fromA=1; Max-Age=60", "sessionA=1"), u, nil)
	if got := b.CookieHeader(u); got != "fromA=1" {
		t.Fatalf("b sees %q; want fromA=1 (session cookies stay in a)", got)
	}
	b.SetCookiesFromResponse(header("fromB=1; Max-Age=60"), u, nil)
	if got := a.CookieHeader(u); got != "fromA=1; sessionA=1; fromB=1" {
		t.Fatalf("a sees %q", got)
	}
	b.SetCookiesFromResponse(header("fromA=2; Max-Age=60"), u, nil)
	if got := a.CookieHeader(u); got != "fromA=2; sessionA=1; fromB=1" {
		t.Fatalf("after b replaced fromA, a sees %q", got)
	}
	a.DeleteCookie(&http.Cookie{Name: "fromB", Domain: "example.com"})
	if got := b.CookieHeader(u); got != "fromA=2" {
		t.Fatalf("after a deleted fromB, b sees %q", got)
	}
	// Replacing a persistent cookie by a session one removes it from the file.
	a.SetCookiesFromResponse(header("fromA=session"), u, nil)
	if got := b.CookieHeader(u); got != "" {
		t.Fatalf("b sees %q; want nothing", got)
	}
	b.SetCookiesFromResponse(header("fromA=3; Max-Age=60"), u, nil)
	if got := a.CookieHeader(u); got != "sessionA=1; fromA=3" {
		t.Fatalf("a sees %q; the newer row must win over a's session cookie", got)
	}
	b.RemoveAll()
	if got := a.CookieHeader(u); got != "sessionA=1" {
		t.Fatalf("after b.RemoveAll a sees %q", got)
	}
	a.SetCookiesFromResponse(header("x=1; Max-Age=60"), u, nil)
	b.RemoveCookies(time.Now().Add(-time.Hour))
	if got := a.CookieHeader(u); got != "sessionA=1" {
		t.Fatalf("after b.RemoveCookies a sees %q", got)
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestPersistCorruptionRecovery(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{"garbage", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("this is not a database\n", 500)), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated", func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()/2+100); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated-to-50-bytes", func(t *testing.T, path string) {
			if err := os.Truncate(path, 50); err != nil {
				t.Fatal(err)
			}
		}},
		{"header-smashed", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte("garbage garbage garbage garbage!"), 0)
			f.Close()
		}},
		{"pages-smashed", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := f.Stat()
			junk := []byte(strings.Repeat("\xff\x00junk", 512))
			for off := int64(4096); off < fi.Size(); off += 8192 {
				f.WriteAt(junk, off)
			}
			f.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cookies.db")
			s, err := New(Options{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			for h := 0; h < 10; h++ { // 300 cookies, 30 per site, in 10 transactions
				var lines []string
				for i := 0; i < 30; i++ {
					lines = append(lines, fmt.Sprintf("c%d=%s; Max-Age=3600", h*30+i, strings.Repeat("v", 200)))
				}
				s.SetCookiesFromResponse(header(lines...), mustURL(t, fmt.Sprintf("http://www.site%d.com/", h)), nil)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tt.corrupt(t, path)

			damaged, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			logs := &recordingHandler{}
			s2, err := New(Options{Path: path, Logger: slog.New(logs)})
			if err != nil {
				t.Fatalf("New on a corrupt file: %v", err)
			}
			n := len(s2.AllCookies())
			t.Logf("after corruption: %d cookies survive", n)
			aside, _ := filepath.Glob(path + ".corrupt-*[0-9Z]")
			if len(aside) != 1 {
				t.Fatalf("kept copies %v, want 1", aside)
			}
			if got, _ := os.ReadFile(aside[0]); !bytes.Equal(got, damaged) {
				t.Error("the copy kept aside differs from the damaged file")
			}
			var re *RecoveryError
			if err := s2.Recovered(); !errors.As(err, &re) || re.Path != path ||
				!strings.Contains(re.What, aside[0]) || !strings.Contains(re.What, fmt.Sprintf("%d cookies were read back", n)) {
				t.Errorf("Recovered() = %v; want a RecoveryError for %s naming %s", err, path, aside[0])
			}
			if logs.count(slog.LevelWarn) == 0 {
				t.Error("nothing logged at level Warn")
			}
			// The store works and persists again.
			u := mustURL(t, "http://after.example.com/")
			s2.SetCookiesFromResponse(header("after=1; Max-Age=60"), u, nil)
			if err := s2.Close(); err != nil {
				t.Fatal(err)
			}
			s3 := newStore(t, Options{Path: path})
			if got := s3.CookieHeader(u); got != "after=1" {
				t.Errorf("after recovery and reopen: %q", got)
			}
		})
	}
}

func TestPersistSkipsBadRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s := newStore(t, Options{Path: path})
	u := mustURL(t, "http://example.com/")
	s.SetCookiesFromResponse(header("good=1; Max-Age=60"), u, nil)
	s.Close()

	future := time.Now().Add(time.Hour).UnixMicro()
	raw := insertRows(t, path, [][]any{
		{"badpath", "example.com", "nopath", "v", future},
		{"baddomain", "Example.COM", "/", "v", future},
		{"suffix", ".com", "/", "v", future},
		{"ctl", "example.com", "/", "v\x01", future},
		{"semi", "example.com", "/", "a;b", future},
		{"noexpiry", "example.com", "/", "v", 0},
		{"", "example.com", "/", "", future},
		{"ok2", "example.com", "/", "v", future},
	})
	if _, err := raw.Exec(`INSERT INTO cookies VALUES ('types', 'example.com', '/', 'v', 'not a number', 1, 1, 0, 0, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	logs := &recordingHandler{}
	s2 := newStore(t, Options{Path: path, Logger: slog.New(logs)})
	if got := sortedNames(s2.AllCookies()); !slices.Equal(got, []string{"good", "ok2"}) {
		t.Errorf("loaded %v; want [good ok2]", got)
	}
	// Each skipped row is reported once, by name, and stays in the file.
	wantBad := []string{"", "baddomain", "badpath", "ctl", "noexpiry", "semi", "suffix", "types"}
	checkBadRows := func(s *Store) {
		t.Helper()
		var got []string
		for _, e := range recoveries(s.Recovered()) {
			if e.Path != path || !errors.Is(e, errBadRow) {
				t.Errorf("unexpected recovery %v", e)
				continue
			}
			q, _, _ := strings.Cut(strings.TrimPrefix(e.What, "the row for cookie "), " (domain")
			name, err := strconv.Unquote(q)
			if err != nil {
				t.Errorf("What = %q", e.What)
			}
			got = append(got, name)
		}
		slices.Sort(got)
		if !slices.Equal(got, wantBad) {
			t.Errorf("reported rows %q; want %q", got, wantBad)
		}
	}
	checkBadRows(s2)
	if n := logs.count(slog.LevelWarn); n != len(wantBad) {
		t.Errorf("%d Warn records; want %d", n, len(wantBad))
	}
	// Later reads (another store's write makes this one reload) do not
	// report the same rows again.
	other := newStore(t, Options{Path: path})
	other.SetCookiesFromResponse(header("more=1; Max-Age=60"), u, nil)
	other.RemoveCookies(time.Now().Add(time.Hour)) // forces full reloads elsewhere
	s2.AllCookies()
	checkBadRows(s2)
	var raw2 int
	if db, err := sql.Open("sqlite", path); err == nil {
		db.QueryRow(`SELECT count(*) FROM cookies`).Scan(&raw2)
		db.Close()
	}
	if raw2 < len(wantBad) {
		t.Errorf("%d rows left in the file; the %d bad ones must stay", raw2, len(wantBad))
	}
}

// recoveries flattens what Store.Recovered returns.
func recoveries(err error) []*RecoveryError {
	if err == nil {
		return nil
	}
	var out []*RecoveryError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, recoveries(e)...)
		}
		return out
	}
	if re, ok := err.(*RecoveryError); ok {
		return []*RecoveryError{re}
	}
	return nil
}

// recordingHandler is a slog.Handler that keeps the records it gets.
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordingHandler) count(level slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Level == level {
			n++
		}
	}
	return n
}

// TestPersistTwoProcesses runs this test binary twice at once; each
// process writes 200 distinct persistent cookies to the same file.
func TestPersistTwoProcesses(t *testing.T) {
	if os.Getenv("COOKIESTORE_CHILD") != "" {
		t.Skip("child process")
	}
	path := filepath.Join(t.TempDir(), "shared.db")
	// Create the file first so both children open an existing database.
	newStore(t, Options{Path: path}).Close()
	var cmds []*exec.Cmd
	// Both children start writing at the same instant, once both are up.
	start := time.Now().Add(500 * time.Millisecond).UnixNano()
	for _, who := range []string{"A", "B"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPersistChildWriter$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "COOKIESTORE_CHILD="+who, "COOKIESTORE_PATH="+path,
			fmt.Sprintf("COOKIESTORE_START=%d", start))
		cmds = append(cmds, cmd)
	}
	outs := make([]strings.Builder, len(cmds))
	for i, cmd := range cmds {
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i].String())
		}
		if !strings.Contains(outs[i].String(), "--- PASS: TestPersistChildWriter") {
			t.Fatalf("child %d did not run:\n%s", i, outs[i].String())
		}
		for _, l := range strings.Split(outs[i].String(), "\n") {
			if strings.Contains(l, "wrote 200") {
				t.Log(strings.TrimSpace(l))
			}
		}
	}
	s := newStore(t, Options{Path: path})
	all := s.AllCookies()
	seen := map[string]bool{}
	for _, c := range all {
		seen[c.Name] = true
	}
	missing := 0
	for _, who := range []string{"A", "B"} {
		for i := 0; i < 200; i++ {
			if !seen[fmt.Sprintf("%s%d", who, i)] {
				missing++
			}
		}
	}
	if len(all) != 400 || missing != 0 {
		t.Errorf("%d cookies in the file, %d missing; want all 400", len(all), missing)
	}
}

// TestPersistChildWriter is the child of TestPersistTwoProcesses.
func TestPersistChildWriter(t *testing.T) {
	who := os.Getenv("COOKIESTORE_CHILD")
	if who == "" {
		t.Skip("only run as a child of TestPersistTwoProcesses")
	}
	s, err := New(Options{Path: os.Getenv("COOKIESTORE_PATH")})
	if err != nil {
		t.Fatal(err)
	}
	var start int64
	fmt.Sscan(os.Getenv("COOKIESTORE_START"), &start)
	time.Sleep(time.Until(time.Unix(0, start)))
	began := time.Now()
	for i := 0; i < 200; i++ {
		// Spread over 20 sites so that no site reaches the per-domain limit.
		u := mustURL(t, fmt.Sprintf("https://h%d.site%d.com/", i%3, i%20))
		s.SetCookiesFromResponse(header(fmt.Sprintf("%s%d=%d; Max-Age=3600", who, i, i)), u, nil)
		if i%20 == 0 {
			s.CookieHeader(u)
		}
	}
	mine := 0
	for _, c := range s.AllCookies() {
		if strings.HasPrefix(c.Name, who) {
			mine++
		}
	}
	if mine != 200 {
		t.Errorf("process %s sees %d of its own cookies; want 200", who, mine)
	}
	t.Logf("process %s wrote 200 cookies in %v", who, time.Since(began))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPersistIncrementalReload checks that a store reads only what another
// process changed, and reloads in full once it has fallen behind the
// pruned tombstones.
func TestPersistIncrementalReload(t *testing.T) {
	defer func(w int64) { tombstoneWindow = w }(tombstoneWindow)
	tombstoneWindow = 64
	path := filepath.Join(t.TempDir(), "c.db")
	a := newStore(t, Options{Path: path, MaxCookies: 10000, MaxCookiesPerDomain: 10000})
	b := newStore(t, Options{Path: path, MaxCookies: 10000, MaxCookiesPerDomain: 10000})
	u := mustURL(t, "http://example.com/")
	lines := make([]string, 500)
	for i := range lines {
		lines[i] = fmt.Sprintf("c%d=1; Max-Age=600", i)
	}
	a.SetCookiesFromResponse(header(lines...), u, nil)
	if n := len(b.AllCookies()); n != 500 {
		t.Fatalf("b sees %d cookies; want 500", n)
	}
	a.SetCookiesFromResponse(header("c7=2; Max-Age=600", "c8=; Max-Age=0", "new=1; Max-Age=600"), u, nil)
	b.mu.Lock()
	changed, err := b.db.changed()
	if err != nil || !changed {
		b.mu.Unlock()
		t.Fatalf("changed() = %v, %v; want true", changed, err)
	}
	dl, err := b.db.read()
	if err != nil {
		b.mu.Unlock()
		t.Fatal(err)
	}
	b.mergeLocked(dl, time.Now().UnixMicro())
	b.mu.Unlock()
	if dl.full || len(dl.rows) != 2 || len(dl.gone) != 1 {
		t.Fatalf("delta: full=%v rows=%d gone=%v; want 2 rows and 1 tombstone", dl.full, len(dl.rows), dl.gone)
	}
	if n := len(b.AllCookies()); n != 500 {
		t.Fatalf("b sees %d cookies; want 500", n)
	}

	// Fall behind the tombstone window: b must reload in full and still
	// notice a deletion whose tombstone was pruned.
	a.DeleteCookie(&http.Cookie{Name: "c1", Domain: "example.com"})
	for i := 0; i < int(tombstoneWindow)+10; i++ {
		a.SetCookiesFromResponse(header(fmt.Sprintf("churn=%d; Max-Age=600", i)), u, nil)
	}
	b.mu.Lock()
	b.db.changed()
	dl, err = b.db.read()
	if err == nil {
		b.mergeLocked(dl, time.Now().UnixMicro())
	}
	b.mu.Unlock()
	if err != nil || !dl.full {
		t.Fatalf("after falling behind: full=%v err=%v; want a full reload", dl != nil && dl.full, err)
	}
	for _, c := range b.AllCookies() {
		if c.Name == "c1" {
			t.Fatal("b still has c1, deleted by a")
		}
	}
	if n := len(b.AllCookies()); n != 500 {
		t.Errorf("b sees %d cookies; want 500", n)
	}
}

// TestPersistOtherProcessWithinInterval: a store that shares the file with
// another process (here: the same file through another path, which the
// process does not know is the same) sees that process's changes within
// externalSyncInterval; the stores of one process see each other's at once
// (TestPersistSharedBetweenStores).
func TestPersistOtherProcessWithinInterval(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	alias := filepath.Join(dir, "alias")
	if err := os.Symlink(real, alias); err != nil {
		t.Skip(err)
	}
	a := newStore(t, Options{Path: filepath.Join(real, "c.db")})
	b := newStore(t, Options{Path: filepath.Join(alias, "c.db")})
	u := mustURL(t, "http://example.com/")
	if got := b.CookieHeader(u); got != "" {
		t.Fatalf("b sees %q in an empty file", got)
	}
	a.SetCookiesFromResponse(header("x=1; Max-Age=60"), u, nil)
	deadline := time.Now().Add(externalSyncInterval + time.Second)
	for b.CookieHeader(u) != "x=1" {
		if time.Now().After(deadline) {
			t.Fatalf("b does not see a's cookie %v after it was set", externalSyncInterval+time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPersistSalvageAroundDamagedPage smashes one leaf page of the cookies
// table: the cookies on that page are lost, every other one survives with
// its value, and Recovered reports the replaced file.
func TestPersistSalvageAroundDamagedPage(t *testing.T) {
	for _, leaf := range []string{"first", "middle", "last"} {
		t.Run(leaf, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cookies.db")
			s := newStore(t, Options{Path: path})
			want := map[string]string{}
			for h := range 10 {
				var lines []string
				for i := range 30 {
					name, value := fmt.Sprintf("c%d", h*30+i), fmt.Sprintf("%03d%s", h*30+i, strings.Repeat("v", 200))
					want[name] = value
					lines = append(lines, name+"="+value+"; Max-Age=3600")
				}
				s.SetCookiesFromResponse(header(lines...), mustURL(t, fmt.Sprintf("http://www.site%d.com/", h)), nil)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Recovered(); err != nil {
				t.Fatalf("Recovered() = %v on a healthy file", err)
			}

			// Pick a leaf page of the table with dbstat and overwrite it.
			raw, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			var leaves []struct{ page, cells int64 }
			rows, err := raw.Query(`SELECT pageno, ncell FROM dbstat WHERE name = 'cookies' AND pagetype = 'leaf' ORDER BY path`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var l struct{ page, cells int64 }
				rows.Scan(&l.page, &l.cells)
				leaves = append(leaves, l)
			}
			var pageSize int64
			raw.QueryRow(`PRAGMA page_size`).Scan(&pageSize)
			raw.Close()
			if len(leaves) < 3 {
				t.Fatalf("only %d leaf pages", len(leaves))
			}
			target := map[string]int{"first": 0, "middle": len(leaves) / 2, "last": len(leaves) - 1}[leaf]
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt(bytes.Repeat([]byte("\xff\x00junk"), int(pageSize)/6), (leaves[target].page-1)*pageSize)
			f.Close()

			s2 := newStore(t, Options{Path: path, Logger: slog.New(&recordingHandler{})})
			got := s2.AllCookies()
			if lost := len(want) - len(got); lost != int(leaves[target].cells) {
				t.Errorf("%d cookies lost; want the %d on the damaged page", lost, leaves[target].cells)
			}
			for _, c := range got {
				if want[c.Name] != c.Value {
					t.Errorf("cookie %s came back with value %.10q", c.Name, c.Value)
				}
			}
			if re := recoveries(s2.Recovered()); len(re) != 1 || !strings.Contains(re[0].What, ".corrupt-") {
				t.Errorf("Recovered() = %v; want one RecoveryError naming the copy", re)
			}
			// What was read back is in the new file.
			s2.Close()
			if n := len(newStore(t, Options{Path: path}).AllCookies()); n != len(got) {
				t.Errorf("reopened: %d cookies; want %d", n, len(got))
			}
		})
	}
}

func TestRecoveredNilWhenNothingDiscarded(t *testing.T) {
	mem := newStore(t, Options{})
	mem.SetCookiesFromResponse(header("a=1; Max-Age=60"), mustURL(t, "http://example.com/"), nil)
	if err := mem.Recovered(); err != nil {
		t.Errorf("memory-only: %v", err)
	}
	path := filepath.Join(t.TempDir(), "c.db")
	s := newStore(t, Options{Path: path})
	s.SetCookiesFromResponse(header("a=1; Max-Age=60"), mustURL(t, "http://example.com/"), nil)
	s.Close()
	if err := newStore(t, Options{Path: path}).Recovered(); err != nil {
		t.Errorf("healthy file: %v", err)
	}
}

// TestPersistUnicodeDomainRows: files from before hosts were canonicalised
// to punycode may hold internationalised domains in lower-case Unicode.
// Such rows load as they are, without a damage report; new cookies for
// the same host are stored under its punycode form.
func TestPersistUnicodeDomainRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s := newStore(t, Options{Path: path})
	s.SetCookiesFromResponse(header("new=1; Max-Age=60"), mustURL(t, "https://b\u00fccher.example/"), nil)
	s.Close()
	future := time.Now().Add(time.Hour).UnixMicro()
	insertRows(t, path, [][]any{
		{"old", "b\u00fccher.example", "/", "v", future},
		{"olddom", ".b\u00fccher.example", "/", "v", future},
		{"upper", "B\u00dcCHER.example", "/", "v", future},
	}).Close()
	s2 := newStore(t, Options{Path: path})
	got := map[string]string{}
	for _, c := range s2.AllCookies() {
		got[c.Name] = c.Domain
	}
	want := map[string]string{"new": "xn--bcher-kva.example", "old": "b\u00fccher.example", "olddom": ".b\u00fccher.example"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("loaded %v; want %v", got, want)
	}
	if errs := recoveries(s2.Recovered()); len(errs) != 1 || !strings.Contains(errs[0].What, `"upper"`) {
		t.Errorf("reported %v; want only the row that is not lower case", errs)
	}
	if h := s2.CookieHeader(mustURL(t, "https://b\u00fccher.example/")); h != "new=1" {
		t.Errorf("Cookie header %q; want new=1", h)
	}
}

// insertRows writes rows (name, domain, path, value, expires) into the
// cookies table of the file at path behind the store's back and returns
// the open database.
func insertRows(t *testing.T, path string, rows [][]any) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if _, err := raw.Exec(`INSERT INTO cookies (name, domain, path, value, expires, created, last_access) VALUES (?, ?, ?, ?, ?, 1, 1)`, row...); err != nil {
			raw.Close()
			t.Fatal(err)
		}
	}
	return raw
}
