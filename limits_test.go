package urlsession

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// gzipOf returns data gzipped n times over.
func gzipOf(data []byte, n int) []byte {
	for range n {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(data)
		zw.Close()
		data = b.Bytes()
	}
	return data
}

// TestCollectedBodyIsBounded: a body collected in memory stops at
// Configuration.MaxCollectedBodySize with ErrDataLengthExceedsMaximum,
// counted after decoding; streaming to a DataDelegate is not bounded.
func TestCollectedBodyIsBounded(t *testing.T) {
	const limit = 1 << 20
	bomb := gzipOf(make([]byte, 64<<20), 1) // 64 MiB of zeros in about 64 KiB
	big := bytes.Repeat([]byte("x"), 2*limit)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bomb":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb)
		case "/announced":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		case "/chunked":
			w.Write(big[:limit/2])
			w.(http.Flusher).Flush()
			w.Write(big[limit/2:])
		case "/fits":
			w.Write(big[:limit])
		}
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		cfg := srv.config()
		cfg.MaxCollectedBodySize = limit
		s := newSession(t, cfg, nil)
		for _, path := range []string{"/bomb", "/announced", "/chunked"} {
			body, _, err := s.Data(t.Context(), get(t, srv.URL+path))
			if CodeOf(err) != ErrDataLengthExceedsMaximum || body != nil {
				t.Errorf("Data(%s) = %d bytes, %v; want code %d", path, len(body), err, ErrDataLengthExceedsMaximum)
			}
			var hErr error
			task := s.DataTaskWithCompletion(get(t, srv.URL+path), func(b []byte, _ *http.Response, err error) { hErr = err })
			task.Resume()
			wait(t, task)
			if CodeOf(hErr) != ErrDataLengthExceedsMaximum {
				t.Errorf("completion handler for %s got %v; want code %d", path, hErr, ErrDataLengthExceedsMaximum)
			}
		}
		if body, _, err := s.Data(t.Context(), get(t, srv.URL+"/fits")); err != nil || len(body) != limit {
			t.Errorf("Data(/fits) = %d bytes, %v; want %d bytes", len(body), err, limit)
		}

		// A delegate that streams is not bounded.
		rec := newRecorder()
		var n atomic.Int64
		rec.onData = func(*DataTask) {}
		sd := newSession(t, cfg, countingDelegate{rec, &n})
		task := sd.DataTask(get(t, srv.URL+"/bomb"))
		task.Resume()
		wait(t, task)
		if err := task.Err(); err != nil || n.Load() != 64<<20 {
			t.Errorf("streamed %d bytes, err %v; want %d and no error", n.Load(), err, 64<<20)
		}
	})
}

type countingDelegate struct {
	*recorder
	n *atomic.Int64
}

func (c countingDelegate) DidReceiveData(s *Session, t *DataTask, data []byte) {
	c.n.Add(int64(len(data)))
}

// TestStackedCodings: up to five stacked codings decode; more fail with
// ErrCannotDecodeRawData instead of passing through undecoded, however the
// field lines split the list. Unknown codings pass through.
func TestStackedCodings(t *testing.T) {
	const text = "layered"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		codings := strings.TrimSuffix(strings.Repeat("gzip, ", n), ", ")
		if r.URL.Query().Has("lines") {
			for range n {
				w.Header().Add("Content-Encoding", "gzip")
			}
		} else if n > 0 {
			w.Header().Set("Content-Encoding", codings)
		}
		if r.URL.Query().Has("unknown") {
			w.Header().Set("Content-Encoding", "zstd-ish")
		}
		w.Write(gzipOf([]byte(text), n))
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		for _, q := range []string{"n=1", "n=5", "n=5&lines"} {
			body, _, err := s.Data(t.Context(), get(t, srv.URL+"/?"+q))
			if err != nil || string(body) != text {
				t.Errorf("%s: body %q, err %v; want %q", q, body, err, text)
			}
		}
		for _, q := range []string{"n=6", "n=6&lines", "n=40"} {
			body, _, err := s.Data(t.Context(), get(t, srv.URL+"/?"+q))
			if CodeOf(err) != ErrCannotDecodeRawData {
				t.Errorf("%s: body %d bytes, err %v; want code %d", q, len(body), err, ErrCannotDecodeRawData)
			}
		}
		body, resp, err := s.Data(t.Context(), get(t, srv.URL+"/?n=0&unknown"))
		if err != nil || string(body) != text || resp.Header.Get("Content-Encoding") != "zstd-ish" {
			t.Errorf("unknown coding: body %q, err %v; want it passed through", body, err)
		}
	})
}

// TestGetWithBodyFails: a GET or HEAD request with a body fails with
// ErrDataLengthExceedsMaximum, as Apple's does, and sends nothing.
func TestGetWithBodyFails(t *testing.T) {
	var hits atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		hits.Store(0)
		s := newSession(t, srv.config(), nil)
		for _, m := range []string{"", http.MethodGet, http.MethodHead} {
			req := newReq(t, http.MethodGet, srv.URL, "body")
			req.Method = m
			_, _, err := s.Data(t.Context(), req)
			if CodeOf(err) != ErrDataLengthExceedsMaximum {
				t.Errorf("%q with a body: err %v, want code %d", m, err, ErrDataLengthExceedsMaximum)
			}
			_, _, err = s.Upload(t.Context(), newReq(t, m, srv.URL, ""), []byte("upload"))
			if CodeOf(err) != ErrDataLengthExceedsMaximum {
				t.Errorf("upload %q: err %v, want code %d", m, err, ErrDataLengthExceedsMaximum)
			}
		}
		req := newReq(t, http.MethodGet, srv.URL, "")
		req.Body = io.NopCloser(strings.NewReader("")) // a stream that happens to be empty
		req.ContentLength = 0
		if _, _, err := s.Data(t.Context(), req); CodeOf(err) != ErrDataLengthExceedsMaximum {
			t.Errorf("GET with a stream body: err %v, want code %d", err, ErrDataLengthExceedsMaximum)
		}
		if _, _, err := s.Upload(t.Context(), newReq(t, http.MethodGet, srv.URL, ""), nil); err != nil {
			t.Errorf("GET upload of no bytes: %v", err)
		}
		if got := hits.Load(); got != 1 {
			t.Errorf("the server saw %d requests, want 1 (the body-less GET)", got)
		}
	})
}
