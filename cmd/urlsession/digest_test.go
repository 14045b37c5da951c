package main

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServerDigestsWrittenThrough checks the server's Content-Digest and
// Repr-Digest against a body written through the output by a data task
// (-o without --segments, --checksum or --limit-rate, and standard
// output): a mismatch is status 32 and leaves no resume data to continue
// the wrong bytes from.
func TestServerDigestsWrittenThrough(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("the body the digests describe\n", 4096)
	sum := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return "sha-256=:" + base64.StdEncoding.EncodeToString(h[:]) + ":"
	}
	mux := http.NewServeMux()
	serve := func(path, field, value string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Accept-Ranges", "bytes")
			if field != "" {
				w.Header().Set(field, value)
			}
			w.Write([]byte(body))
		})
	}
	serve("/none", "", "")
	serve("/content-good", "Content-Digest", sum(body))
	serve("/repr-good", "Repr-Digest", sum(body))
	serve("/content-bad", "Content-Digest", sum("another body"))
	serve("/repr-bad", "Repr-Digest", sum("another body"))
	serve("/unknown-algorithm", "Repr-Digest", "md7=:AAAA:")
	for _, proto := range []string{"h1", "h2"} {
		t.Run(proto, func(t *testing.T) {
			srv := protoServer(t, proto, mux)
			for _, c := range []struct {
				path string
				want int
			}{
				{"/none", 0}, {"/content-good", 0}, {"/repr-good", 0}, {"/unknown-algorithm", 0},
				{"/content-bad", 32}, {"/repr-bad", 32},
			} {
				out := filepath.Join(t.TempDir(), "out")
				r := cli(t, "", "-k", "-S", "-s", "-o", out, srv.URL+c.path)
				if r.code != c.want {
					t.Errorf("%s -o: exit %d, want %d (%v)", c.path, r.code, c.want, r)
				}
				if c.want == 32 && !strings.Contains(r.stderr, "(-10001)") {
					t.Errorf("%s: stderr %q names no digest mismatch", c.path, r.stderr)
				}
				if _, err := os.Stat(out + resumeSuffix); !os.IsNotExist(err) {
					t.Errorf("%s: resume data left beside the output (%v)", c.path, err)
				}
				if got := cli(t, "", "-k", "-s", srv.URL+c.path); got.code != c.want || got.stdout != body {
					t.Errorf("%s to standard output: exit %d, want %d, %d bytes", c.path, got.code, c.want, len(got.stdout))
				}
			}
		})
	}
}

// protoServer starts a test server for h: over HTTP/1.1 without TLS for
// "h1", over TLS with HTTP/2 for "h2". It is closed when the test ends.
func protoServer(t *testing.T, proto string, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if proto == "h2" {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}
