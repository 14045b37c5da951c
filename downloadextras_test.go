package urlsession

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/resume"
	"github.com/urlsession-go/urlsession/internal/segment"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// sfDigest returns the RFC 9530 field value of sha-256 over b.
func sfDigest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(s[:]) + ":"
}

// withFields serves next with the given header fields added.
func withFields(next http.Handler, fields map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range fields {
			w.Header().Set(k, v)
		}
		next.ServeHTTP(w, r)
	})
}

// checkNoFileLeft fails t if the session's directory still holds a file.
func checkNoFileLeft(t *testing.T, s *Session) {
	t.Helper()
	if names := sessionFiles(s); len(names) != 0 {
		t.Errorf("files left in the session's directory: %q", names)
	}
}

func TestDownloadServerDigests(t *testing.T) {
	content := testContent(300<<10, 31)
	other := testContent(10, 32)
	for _, tc := range []struct {
		name   string
		fields map[string]string
		ok     bool
	}{
		{"content-digest", map[string]string{"Content-Digest": sfDigest(content)}, true},
		{"repr-digest", map[string]string{"Repr-Digest": sfDigest(content)}, true},
		{"both", map[string]string{"Content-Digest": sfDigest(content), "Repr-Digest": sfDigest(content)}, true},
		{"unknown-algorithm", map[string]string{"Content-Digest": "md5=:AAAAAAAAAAAAAAAAAAAAAA==:"}, true},
		{"malformed", map[string]string{"Content-Digest": "sha-256=not a digest"}, true},
		{"content-digest-wrong", map[string]string{"Content-Digest": sfDigest(other)}, false},
		{"repr-digest-wrong", map[string]string{"Repr-Digest": sfDigest(other)}, false},
		{"one-of-two-wrong", map[string]string{"Content-Digest": sfDigest(content), "Repr-Digest": sfDigest(other)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := withFields(urlsessiontest.NewResource(content), tc.fields)
			bothProtocols(t, h, func(t *testing.T, srv *server) {
				s := newSession(t, srv.config(), nil)
				path, _, err := s.Download(context.Background(), get(t, srv.URL))
				if tc.ok {
					if err != nil {
						t.Fatal(err)
					}
					defer os.Remove(path)
					if b, _ := os.ReadFile(path); !bytes.Equal(b, content) {
						t.Errorf("the file has %d bytes", len(b))
					}
					return
				}
				if !errors.Is(err, ErrDigestMismatch) || path != "" {
					t.Fatalf("Download = %q, %v; want ErrDigestMismatch", path, err)
				}
				if ErrorResumeData(err) != nil {
					t.Error("a mismatch carries resume data")
				}
				checkNoFileLeft(t, s)
			})
		})
	}
}

func TestDownloadDigestMismatchDelegate(t *testing.T) {
	content := testContent(200<<10, 33)
	h := withFields(urlsessiontest.NewResource(content), map[string]string{"Content-Digest": sfDigest(content[1:])})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		rec := newDLRecorder()
		s := newSession(t, srv.config(), rec)
		task := s.DownloadTask(get(t, srv.URL))
		task.Resume()
		wait(t, task)
		if err := task.Err(); !errors.Is(err, ErrDigestMismatch) || ErrorResumeData(err) != nil {
			t.Errorf("err = %v, want ErrDigestMismatch without resume data", err)
		}
		for _, e := range rec.Events() {
			if e == "finish" {
				t.Error("DidFinishDownloadingTo was called for a file that does not match its digest")
			}
		}
		checkNoFileLeft(t, s)
		invalidate(t, s)
	})
}

func TestDownloadIgnoreServerDigests(t *testing.T) {
	content := testContent(50000, 34)
	h := withFields(urlsessiontest.NewResource(content), map[string]string{"Repr-Digest": sfDigest(nil)})
	srv := newLoopbackServer(t, h)
	cfg := (&server{srv, "h1"}).config()
	cfg.IgnoreServerDigests = true
	s := newSession(t, cfg, nil)
	path, _, err := s.Download(context.Background(), get(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	// The caller's digest is checked all the same.
	_, _, err = s.Download(context.Background(), get(t, srv.URL), WithExpectedDigest("sha256:"+hex.EncodeToString(make([]byte, 32))))
	if !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("err = %v, want ErrDigestMismatch", err)
	}
}

func TestDownloadExpectedDigest(t *testing.T) {
	content := testContent(400<<10, 35)
	s256 := sha256.Sum256(content)
	s512 := sha512.Sum512(content)
	bothProtocols(t, urlsessiontest.NewResource(content), func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		for _, d := range []string{
			"sha256:" + hex.EncodeToString(s256[:]),
			"SHA-512=" + hex.EncodeToString(s512[:]),
			"sha256-" + base64.StdEncoding.EncodeToString(s256[:]),
		} {
			path, _, err := s.Download(context.Background(), get(t, srv.URL), WithExpectedDigest(d))
			if err != nil {
				t.Fatalf("%s: %v", d, err)
			}
			os.Remove(path)
		}
		bad := s256
		bad[0]++
		path, _, err := s.Download(context.Background(), get(t, srv.URL), WithExpectedDigest("sha256:"+hex.EncodeToString(bad[:])))
		if !errors.Is(err, ErrDigestMismatch) || path != "" || ErrorResumeData(err) != nil {
			t.Errorf("Download = %q, %v; want ErrDigestMismatch without resume data", path, err)
		}
		checkNoFileLeft(t, s)
	})
}

func TestDownloadInvalidExpectedDigest(t *testing.T) {
	var requests atomic.Int32
	srv := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	s := newSession(t, (&server{srv, "h1"}).config(), nil)
	for _, d := range []string{"md5:00", "sha256:xyz", "sha256:" + hex.EncodeToString(make([]byte, 31))} {
		_, _, err := s.Download(context.Background(), get(t, srv.URL), WithExpectedDigest(d))
		if !errors.Is(err, ErrUnknown) || !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("%q: err = %v, want ErrUnknown with ErrInvalidDigest", d, err)
		}
	}
	task := s.DownloadTaskWithCompletion(get(t, srv.URL), func(string, *http.Response, error) {})
	if err := task.SetExpectedDigest("sha1:00"); !errors.Is(err, ErrInvalidDigest) {
		t.Errorf("SetExpectedDigest = %v, want ErrInvalidDigest", err)
	}
	task.Resume()
	wait(t, task)
	if !errors.Is(task.Err(), ErrInvalidDigest) {
		t.Errorf("task error %v, want ErrInvalidDigest", task.Err())
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent with an invalid digest", n)
	}
}

// A resumed download's Repr-Digest and the caller's digest cover the
// whole file, the part from before the interruption included.
func TestDownloadResumedDigests(t *testing.T) {
	content := testContent(1<<20, 36)
	res := urlsessiontest.NewResource(content)
	const at = 300 << 10
	for _, tc := range []struct {
		name     string
		repr     []byte // the Repr-Digest is over this
		expected []byte // the caller's digest is over this, if not nil
		ok       bool
	}{
		{"repr", content, nil, true},
		{"repr-wrong", content[:at], nil, false},
		{"expected", content, content, true},
		{"expected-wrong", content, content[at:], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := withFields(res, map[string]string{"Repr-Digest": sfDigest(tc.repr)})
			bothProtocols(t, interrupted(h, func(n int) int64 {
				if n%2 == 0 {
					return at
				}
				return 0
			}), func(t *testing.T, srv *server) {
				s := newSession(t, srv.config(), nil)
				data := firstCut(t, s, srv.URL, at)
				var opts []TaskOption
				if tc.expected != nil {
					s := sha256.Sum256(tc.expected)
					opts = append(opts, WithExpectedDigest("sha256:"+hex.EncodeToString(s[:])))
				}
				d, _ := resume.Decode(data)
				path, resp, err := s.DownloadWithResumeData(context.Background(), data, opts...)
				if tc.ok {
					if err != nil {
						t.Fatal(err)
					}
					defer os.Remove(path)
					if b, _ := os.ReadFile(path); resp.StatusCode != 206 || sum(b) != sum(content) {
						t.Errorf("status %d, %d bytes", resp.StatusCode, len(b))
					}
					return
				}
				if !errors.Is(err, ErrDigestMismatch) || ErrorResumeData(err) != nil {
					t.Errorf("err = %v, want ErrDigestMismatch without resume data", err)
				}
				if _, err := os.Stat(d.File); err == nil {
					t.Error("the partial file is still there after the mismatch")
				}
				checkNoFileLeft(t, s)
			})
		})
	}
}

// Server digests cover the body before content decoding: a decoded body is
// not checked against them; the caller's digest covers the decoded file.
func TestDownloadDigestContentCoding(t *testing.T) {
	content := bytes.Repeat([]byte("digest "), 40000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(content)
	zw.Close()
	srv := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Digest", sfDigest(gz.Bytes()))
		w.Header().Set("Repr-Digest", sfDigest(gz.Bytes()))
		w.Write(gz.Bytes())
	}))
	s := newSession(t, (&server{srv, "h1"}).config(), nil)
	sum := sha256.Sum256(content)
	path, _, err := s.Download(context.Background(), get(t, srv.URL), WithExpectedDigest("sha256:"+hex.EncodeToString(sum[:])))
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	if b, _ := os.ReadFile(path); !bytes.Equal(b, content) {
		t.Errorf("the file has %d bytes", len(b))
	}
}

// elapsedDownload downloads u with opts and returns how long it took.
func elapsedDownload(t *testing.T, s *Session, u string, want []byte, opts ...TaskOption) time.Duration {
	t.Helper()
	start := time.Now()
	path, _, err := s.Download(context.Background(), get(t, u), opts...)
	took := time.Since(start)
	if err != nil {
		t.Error(err)
		return took
	}
	defer os.Remove(path)
	if b, _ := os.ReadFile(path); sum(b) != sum(want) {
		t.Errorf("the file has %d bytes", len(b))
	}
	return took
}

// The rate tests check lower bounds only: a loaded machine can make a
// download slower, never faster, than its limit allows. With a bucket of a
// quarter second's worth, n bytes at rate r take at least n/r - 1/4 s.

func TestDownloadTaskRateLimit(t *testing.T) {
	content := testContent(192<<10, 37)
	bothProtocols(t, urlsessiontest.NewResource(content), func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		const rate = 256 << 10 // 192 KiB take at least 0.75 - 0.25 s
		if took := elapsedDownload(t, s, srv.URL, content, WithMaximumBytesPerSecond(rate)); took < 500*time.Millisecond {
			t.Errorf("192 KiB at 256 KiB/s took %v, under 0.5 s", took)
		}
	})
}

func TestDownloadSessionRateLimit(t *testing.T) {
	content := testContent(96<<10, 38)
	bothProtocols(t, urlsessiontest.NewResource(content), func(t *testing.T, srv *server) {
		cfg := srv.config()
		cfg.MaximumBytesPerSecond = 256 << 10
		s := newSession(t, cfg, nil)
		// Two downloads share the session's rate: 192 KiB in all.
		start := time.Now()
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { elapsedDownload(t, s, srv.URL, content) })
		}
		wg.Wait()
		if took := time.Since(start); took < 500*time.Millisecond {
			t.Errorf("2 × 96 KiB at 256 KiB/s for the session took %v, under 0.5 s", took)
		}
		// A task's own limit holds within the session's.
		if took := elapsedDownload(t, s, srv.URL, content, WithMaximumBytesPerSecond(64<<10)); took < 1250*time.Millisecond {
			t.Errorf("96 KiB at 64 KiB/s took %v, under 1.25 s", took)
		}
	})
}

func TestDownloadRateLimitCancel(t *testing.T) {
	content := testContent(1<<20, 39)
	srv := newLoopbackServer(t, urlsessiontest.NewResource(content))
	s := newSession(t, (&server{srv, "h1"}).config(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	rec := newDLRecorder()
	rec.onWrite = func(*DownloadTask, int64) { cancel() }
	// 1 byte a second: only the cancellation ends it.
	_, _, err := s.Download(ctx, get(t, srv.URL), WithMaximumBytesPerSecond(1), WithDelegate(rec))
	if !errors.Is(err, ErrCancelled) {
		t.Errorf("err = %v, want ErrCancelled", err)
	}
	if data := ErrorResumeData(err); data != nil {
		RemoveResumeData(data)
	}
}

func TestConfigurationRateValidate(t *testing.T) {
	cfg := baseConfiguration()
	cfg.MaximumBytesPerSecond = -1
	if err := cfg.Validate(); err == nil {
		t.Error("a negative MaximumBytesPerSecond passed Validate")
	}
}

func TestSuggestedFilename(t *testing.T) {
	u, _ := url.Parse("https://example.com/files/report%202026.pdf?x=1")
	for _, tc := range []struct {
		disposition string
		u           *url.URL
		want        string
	}{
		{"", u, "report 2026.pdf"},
		{`attachment; filename="a.txt"; filename*=UTF-8''na%C3%AFve.txt`, u, "naïve.txt"},
		{`attachment; filename="../../etc/passwd"`, u, "passwd"},
		{`attachment; filename=".profile"`, u, "profile"},
		{"", nil, "Unknown"},
	} {
		resp := &http.Response{Header: http.Header{}}
		if tc.disposition != "" {
			resp.Header.Set("Content-Disposition", tc.disposition)
		}
		if tc.u != nil {
			resp.Request = &http.Request{URL: tc.u}
		}
		if got := SuggestedFilename(resp); got != tc.want {
			t.Errorf("SuggestedFilename(%q, %v) = %q, want %q", tc.disposition, tc.u, got, tc.want)
		}
	}
	if got := SuggestedFilename(nil); got != "Unknown" {
		t.Errorf("SuggestedFilename(nil) = %q", got)
	}
}

func TestDownloadTaskSuggestedFilename(t *testing.T) {
	h := withFields(urlsessiontest.NewResource([]byte("data")), map[string]string{
		"Content-Disposition": `attachment; filename="data set.csv"`,
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		var got string
		task := s.DownloadTaskWithCompletion(get(t, srv.URL+"/x.bin"), func(string, *http.Response, error) {})
		if name := task.SuggestedFilename(); name != "Unknown" {
			t.Errorf("before the response: %q", name)
		}
		task.Resume()
		wait(t, task)
		got = task.SuggestedFilename()
		if got != "data set.csv" {
			t.Errorf("SuggestedFilename = %q", got)
		}
	})
}

// rangeSplit serves requests without Range from whole and those with one
// from ranges, counting the latter.
type rangeSplit struct {
	whole, ranges http.Handler
	n             atomic.Int32
}

func (h *rangeSplit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Range") == "" {
		h.whole.ServeHTTP(w, r)
		return
	}
	h.n.Add(1)
	if r.Header.Get("If-Range") == "" {
		http.Error(w, "a range request without If-Range", http.StatusBadRequest)
		return
	}
	h.ranges.ServeHTTP(w, r)
}

// rangeGate is closed by the first range request after the response
// that made it, or after 5 s.
type rangeGate struct {
	open chan struct{}
	once sync.Once
}

func newRangeGate() *rangeGate {
	g := &rangeGate{open: make(chan struct{})}
	time.AfterFunc(5*time.Second, g.release) // a guard: no test waits on it
	return g
}

func (g *rangeGate) release() { g.once.Do(func() { close(g.open) }) }

func TestDownloadSegmented(t *testing.T) {
	content := testContent(4<<20+17, 40)
	res := urlsessiontest.NewResource(content)
	// The first response pauses after 1 MiB until a range request comes
	// (or, should none come, for 5 s): a fast machine could otherwise send
	// it all before the segments start, which would be a correct download
	// without ranges.
	var gate atomic.Pointer[rangeGate]
	whole := &urlsessiontest.FaultHandler{Next: withFields(res, map[string]string{"Repr-Digest": sfDigest(content)}),
		Choose: func(int, *http.Request) urlsessiontest.Fault {
			g := newRangeGate()
			gate.Store(g)
			return urlsessiontest.Fault{Kind: urlsessiontest.Pause, At: 1 << 20, Resume: g.open}
		}}
	ranges := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g := gate.Load(); g != nil {
			g.release()
		}
		res.ServeHTTP(w, r)
	})
	h := &rangeSplit{whole: whole, ranges: ranges}
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		cfg := srv.config()
		cfg.DownloadSegments = 4
		rec := newDLRecorder()
		s := newSession(t, cfg, rec)
		before := h.n.Load()
		task := s.DownloadTask(get(t, srv.URL))
		task.Resume()
		wait(t, task)
		if err := task.Err(); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		got, written, last, expected := rec.content, rec.written, rec.lastTotal, rec.expected
		rec.mu.Unlock()
		if sum(got) != sum(content) {
			t.Errorf("the file has %d bytes, not the content", len(got))
		}
		if n := h.n.Load() - before; n < 1 {
			t.Error("no range request: the download was not segmented")
		}
		if written != int64(len(content)) || last != written || expected != written {
			t.Errorf("DidWriteData: %d written, last total %d of %d; want %d", written, last, expected, len(content))
		}
		if task.CountOfBytesReceived() < int64(len(content)) {
			t.Errorf("CountOfBytesReceived = %d", task.CountOfBytesReceived())
		}
		invalidate(t, s)
	})
}

func TestDownloadSegmentedDigestMismatch(t *testing.T) {
	content := testContent(2<<20, 41)
	res := urlsessiontest.NewResource(content)
	h := &rangeSplit{whole: withFields(res, map[string]string{"Content-Digest": sfDigest(content[1:])}), ranges: res}
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		path, _, err := s.Download(context.Background(), get(t, srv.URL), WithSegments(3))
		if !errors.Is(err, ErrDigestMismatch) || path != "" || ErrorResumeData(err) != nil {
			t.Errorf("Download = %q, %v; want ErrDigestMismatch without resume data", path, err)
		}
		checkNoFileLeft(t, s)
	})
}

// A server that answers a range with the whole body gets the download
// continued as one stream.
func TestDownloadSegmentedServerIgnoresRange(t *testing.T) {
	content := testContent(2<<20+5, 42)
	ignoring := urlsessiontest.NewResource(content)
	ignoring.NoRanges = true
	h := &rangeSplit{whole: urlsessiontest.NewResource(content), ranges: ignoring}
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		path, resp, err := s.Download(context.Background(), get(t, srv.URL), WithSegments(4))
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		if b, _ := os.ReadFile(path); sum(b) != sum(content) || resp.StatusCode != 200 {
			t.Errorf("status %d, %d bytes, not the content", resp.StatusCode, len(b))
		}
	})
}

// A resource replaced between the first response and the ranges (of the
// same length) is downloaded whole again, never spliced.
func TestDownloadSegmentedResourceReplaced(t *testing.T) {
	old := testContent(2<<20, 43)
	updated := testContent(2<<20, 44)
	// The first response stalls at 256 KiB, so it cannot finish with the
	// old content before the ranges are asked for (a fast machine could
	// otherwise send it all first, which is a correct download of it).
	h := &rangeSplit{whole: stalled(urlsessiontest.NewResource(old), 256<<10), ranges: urlsessiontest.NewResource(updated)}
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		path, _, err := s.Download(context.Background(), get(t, srv.URL), WithSegments(4))
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		if b, _ := os.ReadFile(path); sum(b) != sum(updated) {
			t.Errorf("the file (%d bytes) is not the new content", len(b))
		}
	})
}

// A segment that fails ends the download with resume data for the bytes
// from the first on, which a later task completes.
func TestDownloadSegmentedFailureResumes(t *testing.T) {
	content := testContent(2<<20, 45)
	res := urlsessiontest.NewResource(content)
	h := &rangeSplit{whole: stalled(res, 1<<20), ranges: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	})}
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		_, _, err := s.Download(context.Background(), get(t, srv.URL), WithSegments(2))
		if !errors.Is(err, ErrBadServerResponse) {
			t.Fatalf("err = %v, want ErrBadServerResponse", err)
		}
		data := ErrorResumeData(err)
		if data == nil {
			t.Fatal("no resume data")
		}
		d, _ := resume.Decode(data)
		if b, _ := os.ReadFile(d.File); !bytes.Equal(b, content[:d.Offset]) {
			t.Fatalf("the partial file: %d bytes at offset %d, not the content's first", len(b), d.Offset)
		}
		srv2 := newLoopbackServer(t, res)
		data, err = RetargetResumeData(data, mustParse(t, srv2.URL))
		if err != nil {
			t.Fatal(err)
		}
		path, _, err := s.DownloadWithResumeData(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		if b, _ := os.ReadFile(path); sum(b) != sum(content) {
			t.Errorf("the resumed file has %d bytes, not the content", len(b))
		}
	})
}

func TestConfigurationSegmentsValidate(t *testing.T) {
	for _, n := range []int{-1, MaxDownloadSegments + 1} {
		cfg := baseConfiguration()
		cfg.DownloadSegments = n
		if err := cfg.Validate(); err == nil {
			t.Errorf("DownloadSegments %d passed Validate", n)
		}
	}
}

// A segmented download cut off with gaps in its file gives resume data
// with the segments (format version 2), from which every missing range is
// fetched.
func TestDownloadSegmentedResumeData(t *testing.T) {
	content := testContent(2<<20, 46)
	res := urlsessiontest.NewResource(content)
	// The first response stalls; the first range completes, the next is
	// refused, which ends the task.
	var ranges atomic.Int32
	h := &rangeSplit{whole: stalled(res, 512<<10), ranges: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ranges.Add(1)%2 == 0 {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		res.ServeHTTP(w, r)
	})}
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		ranges.Store(0)
		_, _, err := s.Download(context.Background(), get(t, srv.URL), WithSegments(2))
		if !errors.Is(err, ErrBadServerResponse) {
			t.Fatalf("err = %v, want ErrBadServerResponse", err)
		}
		data := ErrorResumeData(err)
		if data == nil {
			t.Fatal("no resume data")
		}
		d, err := resume.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		if data[4] != 2 || d.Segments == nil || d.Offset <= 512<<10 {
			t.Fatalf("resume data version %d, segments %v, offset %d; want version 2 with segments past the gap", data[4], d.Segments, d.Offset)
		}
		checkPartialFile(t, data, content)
		srv2 := newLoopbackServer(t, res)
		if data, err = RetargetResumeData(data, mustParse(t, srv2.URL)); err != nil {
			t.Fatal(err)
		}
		rec := newDLRecorder()
		path, resp, err := s.DownloadWithResumeData(context.Background(), data, WithDelegate(rec))
		rec.settled(t)
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		if b, _ := os.ReadFile(path); sum(b) != sum(content) || resp.StatusCode != 206 {
			t.Errorf("status %d, the resumed file has %d bytes, not the content", resp.StatusCode, len(b))
		}
		if ev := rec.Events(); len(ev) == 0 || ev[0] != "resume "+strconv.FormatInt(d.Offset, 10)+" "+strconv.Itoa(len(content)) {
			t.Errorf("events %q, want DidResumeAtOffset(%d, %d) first", ev, d.Offset, len(content))
		}
		rec.mu.Lock()
		last := rec.lastTotal
		rec.mu.Unlock()
		if last != int64(len(content)) {
			t.Errorf("the last DidWriteData total is %d, want %d", last, len(content))
		}
	})
}

// A segmented download's connections share the task's limit.
func TestDownloadSegmentedRateLimit(t *testing.T) {
	content := testContent(768<<10, 47)
	res := urlsessiontest.NewResource(content)
	h := &rangeSplit{whole: res, ranges: res}
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		before := h.n.Load()
		// 768 KiB at 1 MiB/s take at least 0.75 - 0.25 s.
		if took := elapsedDownload(t, s, srv.URL, content, WithSegments(4), WithMaximumBytesPerSecond(1<<20)); took < 500*time.Millisecond {
			t.Errorf("768 KiB at 1 MiB/s in 4 segments took %v, under 0.5 s", took)
		}
		if h.n.Load() == before {
			t.Error("no range request: the download was not segmented")
		}
	})
}

// CancelByProducingResumeData on a segmented download gives resume data
// that a later task completes, whatever each range had written.
func TestDownloadSegmentedCancelByProducingResumeData(t *testing.T) {
	content := testContent(2<<20, 48)
	res := urlsessiontest.NewResource(content)
	arrived := make(chan struct{}, 16)
	stallRanges := stalled(res, 256<<10)
	h := &rangeSplit{whole: stalled(res, 512<<10), ranges: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		stallRanges.ServeHTTP(w, r)
	})}
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		rec := newDLRecorder()
		s := newSession(t, srv.config(), rec)
		task := s.DownloadTask(get(t, srv.URL))
		task.SetSegments(2)
		task.Resume()
		<-arrived
		data, err := task.CancelByProducingResumeData(context.Background())
		if err != nil || data == nil {
			t.Fatalf("CancelByProducingResumeData = %v, %v; want resume data", data != nil, err)
		}
		wait(t, task)
		checkPartialFile(t, data, content)
		srv2 := newLoopbackServer(t, res)
		if data, err = RetargetResumeData(data, mustParse(t, srv2.URL)); err != nil {
			t.Fatal(err)
		}
		path, _, err := s.DownloadWithResumeData(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		if b, _ := os.ReadFile(path); sum(b) != sum(content) {
			t.Errorf("the resumed file has %d bytes, not the content (%s)", len(b), fileDifferences(b, content))
		}
		for len(arrived) > 0 {
			<-arrived
		}
	})
}

// checkPartialFile checks that the partial file of resume data holds the
// bytes of content the data says it holds: its offset's, or its
// segments'.
func checkPartialFile(t *testing.T, data, content []byte) {
	t.Helper()
	d, err := resume.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(d.File)
	ranges := []segment.Segment{{Start: 0, End: d.Offset, Done: d.Offset}}
	if d.Segments != nil {
		ranges = d.Segments.Segments
	}
	for _, g := range ranges {
		end := g.Start + g.Done
		if int64(len(b)) < end {
			t.Errorf("resume data version %d: the partial file has %d bytes, %+v is done", data[4], len(b), g)
		} else if !bytes.Equal(b[g.Start:end], content[g.Start:end]) {
			t.Errorf("resume data version %d: %+v is done, but the partial file differs (%s)", data[4], g, fileDifferences(b[:end], content[:end]))
		}
	}
}

// fileDifferences describes where got differs from want: each run of
// differing 1 KiB blocks, with where in want its bytes come from (if
// anywhere) or whether they are zeros.
func fileDifferences(got, want []byte) string {
	const block = 1 << 10
	var runs []string
	start, from := -1, ""
	end := func(at int) {
		if start >= 0 {
			runs = append(runs, fmt.Sprintf("[%d,%d) %s", start, at, from))
			start = -1
		}
	}
	for off := 0; off < len(got); off += block {
		g := got[off:min(off+block, len(got))]
		if off+len(g) <= len(want) && bytes.Equal(g, want[off:off+len(g)]) {
			end(off)
			continue
		}
		// Where the block's first differing byte comes from.
		i := 0
		for i < len(g) && off+i < len(want) && g[i] == want[off+i] {
			i++
		}
		desc := "other bytes"
		if bytes.Count(g[i:], []byte{0}) == len(g)-i {
			desc = "zeros"
		} else if i+32 <= len(g) {
			if at := bytes.Index(want, g[i:i+32]); at >= 0 {
				desc = fmt.Sprintf("want's at offset %+d", at-(off+i))
			}
		}
		if start >= 0 && desc == from {
			continue
		}
		end(off)
		start, from = off+i, desc
		if len(runs) >= 8 {
			break
		}
	}
	end(len(got))
	if len(runs) == 0 {
		return fmt.Sprintf("%d bytes, a prefix of the %d wanted", len(got), len(want))
	}
	return fmt.Sprintf("%d bytes differ: %s", len(got), strings.Join(runs, ", "))
}

// TestDownloadPartialFile: SetPartialFile puts the body in the caller's
// file, created exclusively with mode 0600: it is the path handed over,
// the one resume data names and continues, and nothing goes to the
// session's directory; whatever is at the path already is never touched.
func TestDownloadPartialFile(t *testing.T) {
	content := testContent(600<<10, 61)
	res := urlsessiontest.NewResource(content)
	var cut atomic.Int64
	h := &urlsessiontest.FaultHandler{Next: res, Choose: func(int, *http.Request) urlsessiontest.Fault {
		if at := cut.Swap(0); at > 0 {
			return urlsessiontest.Fault{Kind: urlsessiontest.Reset, At: at}
		}
		return urlsessiontest.Fault{}
	}}
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		dir := t.TempDir()
		partial := filepath.Join(dir, "file.partial")
		final := filepath.Join(dir, "file")
		rec := newDLRecorder()
		rec.keep = final
		s := newSession(t, srv.config(), rec)

		// Cut short: the partial file stays at the path, named by the
		// resume data.
		cut.Store(200 << 10)
		task := s.DownloadTask(get(t, srv.URL))
		if err := task.SetPartialFile(partial); err != nil {
			t.Fatal(err)
		}
		task.Resume()
		wait(t, task)
		data := ErrorResumeData(task.Err())
		if data == nil {
			t.Fatalf("no resume data: %v", task.Err())
		}
		d, err := resume.Decode(data)
		if err != nil || d.File != partial {
			t.Fatalf("resume data names %q (%v), want %q", d.File, err, partial)
		}
		if fi, err := os.Lstat(partial); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != d.Offset {
			t.Fatalf("the partial file: %v, %v; want mode 0600 and %d bytes", fi, err, d.Offset)
		}

		// Continued: appended in place, then handed over from there.
		rt := s.DownloadTaskWithResumeData(data)
		rt.Resume()
		wait(t, rt)
		if rt.Err() != nil {
			t.Fatal(rt.Err())
		}
		rec.mu.Lock()
		path, got := rec.path, rec.content
		rec.mu.Unlock()
		if path != partial || sum(got) != sum(content) {
			t.Errorf("handed over %q with %d bytes; want %q with the content", path, len(got), partial)
		}
		if b, err := os.ReadFile(final); err != nil || sum(b) != sum(content) {
			t.Errorf("the moved file: %d bytes, %v", len(b), err)
		}
		if _, err := os.Lstat(partial); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the partial file is still there: %v", err)
		}
		if d := s.downloads.dir; d != "" {
			t.Errorf("the session made its directory %s", d)
		}
		if err := rt.SetPartialFile(partial); !errors.Is(err, ErrPartialFileNotSettable) {
			t.Errorf("SetPartialFile after Resume: %v", err)
		}

		// Whatever is at the path is left alone: a file, a symbolic link
		// to another file, a dangling link.
		victim := filepath.Join(dir, "victim")
		if err := os.WriteFile(victim, []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, setup := range []func(string) error{
			func(p string) error { return os.WriteFile(p, []byte("mine"), 0o644) },
			func(p string) error { return os.Symlink(victim, p) },
			func(p string) error { return os.Symlink(filepath.Join(dir, "nowhere"), p) },
		} {
			os.Remove(partial)
			if err := setup(partial); err != nil {
				t.Fatal(err)
			}
			task := s.DownloadTask(get(t, srv.URL))
			if err := task.SetPartialFile(partial); err != nil {
				t.Fatal(err)
			}
			task.Resume()
			wait(t, task)
			if !errors.Is(task.Err(), ErrCannotCreateFile) {
				t.Errorf("err = %v, want ErrCannotCreateFile", task.Err())
			}
			if _, err := os.Lstat(partial); err != nil {
				t.Errorf("what was at the path is gone: %v", err)
			}
		}
		if b, _ := os.ReadFile(victim); string(b) != "mine" {
			t.Errorf("the victim holds %q", b)
		}
		if _, err := os.Lstat(filepath.Join(dir, "nowhere")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the dangling link's target was made: %v", err)
		}
		os.Remove(partial)

		// Segmented, and not moved by the delegate: removed after it.
		rec.keep = ""
		seg := s.DownloadTask(get(t, srv.URL))
		seg.SetSegments(4)
		if err := seg.SetPartialFile(partial); err != nil {
			t.Fatal(err)
		}
		seg.Resume()
		wait(t, seg)
		rec.mu.Lock()
		path, got = rec.path, rec.content
		rec.mu.Unlock()
		if seg.Err() != nil || path != partial || sum(got) != sum(content) {
			t.Errorf("segmented: %v, handed over %q with %d bytes", seg.Err(), path, len(got))
		}
		if _, err := os.Lstat(partial); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the file is still there after DidFinishDownloadingTo: %v", err)
		}

		// A plain Cancel removes the file.
		stall := s.DownloadTask(get(t, srv.URL))
		stall.SetPartialFile(partial)
		rec.mu.Lock()
		rec.onWrite = func(t *DownloadTask, _ int64) { t.Cancel() }
		rec.mu.Unlock()
		stall.Resume()
		wait(t, stall)
		rec.mu.Lock()
		rec.onWrite = nil
		rec.mu.Unlock()
		if _, err := os.Lstat(partial); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the file is still there after Cancel: %v", err)
		}
		empty := s.DownloadTask(get(t, srv.URL))
		if err := empty.SetPartialFile(""); err == nil {
			t.Error("SetPartialFile accepted an empty path")
		}
		empty.Cancel()
		// (Its partial file is gone by now: cancelling it removes nothing.)
		unused := s.DownloadTaskWithResumeData(data)
		if err := unused.SetPartialFile(partial); !errors.Is(err, ErrPartialFileNotSettable) {
			t.Errorf("SetPartialFile on a task made from resume data: %v", err)
		}
		unused.Cancel()
		invalidate(t, s)
	})
}
