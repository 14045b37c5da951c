package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLowSpeedDefaults(t *testing.T) {
	for _, c := range []struct {
		args  []string
		limit int64
		span  time.Duration
	}{
		{nil, 0, 0},
		{[]string{"-Y", "1000"}, 1000, 30 * time.Second},
		{[]string{"-y", "5"}, 1, 5 * time.Second},
		{[]string{"--speed-limit", "2k", "--speed-time", "0.5"}, 2048, 500 * time.Millisecond},
		{[]string{"-y", "0"}, 0, 0},
	} {
		o, err := parseArgs(append(c.args, "http://127.0.0.1/"))
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if limit, span := o.lowSpeed(); limit != c.limit || span != c.span {
			t.Errorf("%q: %d bytes a second over %v, want %d over %v", c.args, limit, span, c.limit, c.span)
		}
	}
}

// A transfer is too slow once a whole span holds fewer bytes than the
// limit asks for; before a whole span has passed it never is.
func TestSpeedWatch(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, c := range []struct {
		name    string
		samples []speedSample // the first starts the watch
		slow    int           // the index of the sample that finds it slow, or -1
	}{
		{"stalled", []speedSample{{at(0), 0}, {at(500), 0}, {at(999), 0}, {at(1000), 0}}, 3},
		{"steady", []speedSample{{at(0), 0}, {at(500), 600}, {at(1000), 1200}, {at(1500), 1800}, {at(2000), 2400}}, -1},
		{"slows down", []speedSample{{at(0), 0}, {at(500), 5000}, {at(1000), 10000}, {at(1500), 10100}, {at(2000), 10200}}, 4},
		{"a burst then nothing", []speedSample{{at(0), 0}, {at(100), 1000}, {at(1000), 1000}, {at(1100), 1000}}, 3},
		{"exactly the limit", []speedSample{{at(0), 0}, {at(1000), 1000}, {at(2000), 2000}}, -1},
	} {
		w := &speedWatch{limit: 1000, span: time.Second}
		w.add(c.samples[0])
		got := -1
		for i, s := range c.samples[1:] {
			if w.add(s) {
				got = i + 1
				break
			}
		}
		if got != c.slow {
			t.Errorf("%s: found slow at sample %d, want %d", c.name, got, c.slow)
		}
	}
}

// stallServer answers with a 1,000,000-byte body that could be resumed,
// sends 10 bytes of it and then nothing until the client goes away.
func stallServer(t *testing.T, requests *atomic.Int32) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Length", "1000000")
		w.Header().Set("ETag", `"stall"`)
		w.Header().Set("Accept-Ranges", "bytes")
		w.Write([]byte("0123456789"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(s.Close)
	return s
}

// -Y and -y stop a transfer that moves too few bytes, with 28, as curl;
// a download task's resume data is kept as after an interruption.
func TestSpeedLimit(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	s := stallServer(t, &requests)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-Y", "1000", "-y", "0.3", "-o", filepath.Join(dir, "data")},
		{"--speed-limit", "1000", "--speed-time", "0.3", "--limit-rate", "10M", "-o", filepath.Join(dir, "download")},
	} {
		start := time.Now()
		r := cli(t, "", append(args, s.URL+"/")...).want(t, 28)
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%q: stopped after %v", args, d)
		}
		if !strings.Contains(r.stderr, "operation too slow: less than 1000 bytes a second transferred in the last 300ms") {
			t.Errorf("%q: stderr %q", args, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "download") + resumeSuffix); err != nil {
		t.Errorf("the download's resume data: %v", err)
	}
	// --retry tries again, as after a time-out.
	requests.Store(0)
	cli(t, "", "-s", "--retry", "1", "--retry-delay", "0.01", "-Y", "1000", "-y", "0.3", "-o", filepath.Join(dir, "retried"), s.URL+"/").want(t, 28)
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests with --retry 1, want 2", n)
	}
	// Fast enough.
	c := capitals(t)
	if r := cli(t, "", "-Y", "1", "-y", "0.3", c.URL+"/Nepal").want(t, 0); !strings.Contains(r.stdout, "Kathmandu") {
		t.Errorf("stdout %q", r.stdout)
	}
	cli(t, "", "-y", "soon", c.URL).want(t, 2)
	cli(t, "", "-Y", "-1", c.URL).want(t, 2)
}
