package urlsession

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
)

// These tests run the session against go-httpbin, a third-party server, over
// HTTP/1.1 and HTTP/2.

var bin = httpbin.New(httpbin.WithMaxDuration(10 * time.Second))

func TestHTTPBinDecoding(t *testing.T) {
	bothProtocols(t, bin, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		for _, path := range []string{"/gzip", "/deflate"} {
			body, resp, err := s.Data(context.Background(), get(t, srv.URL+path))
			if err != nil || resp.StatusCode != 200 || !resp.Uncompressed {
				t.Fatalf("%s: %v %v", path, resp, err)
			}
			var v map[string]any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Errorf("%s: decoded body is not JSON: %v\n%q", path, err, body)
			}
		}
	})
}

func TestHTTPBinRedirects(t *testing.T) {
	bothProtocols(t, bin, func(t *testing.T, srv *server) {
		rec := newRecorder()
		s := newSession(t, srv.config(), rec)
		for _, path := range []string{"/redirect/3", "/relative-redirect/3", "/absolute-redirect/3"} {
			task := s.DataTask(get(t, srv.URL+path))
			task.Resume()
			wait(t, task)
			if task.Err() != nil || task.Response().StatusCode != 200 || !strings.HasSuffix(task.CurrentRequest().URL.Path, "/get") {
				t.Errorf("%s: %v, current %v", path, task.Err(), task.CurrentRequest().URL)
			}
			if n := rec.metrics.RedirectCount; n != 3 {
				t.Errorf("%s: %d redirects, want 3", path, n)
			}
		}
		_, _, err := s.Data(context.Background(), get(t, srv.URL+"/redirect/17"))
		if !errors.Is(err, ErrHTTPTooManyRedirects) {
			t.Errorf("/redirect/17: %v, want too many redirects", err)
		}
		body, _, err := s.Data(context.Background(), get(t, srv.URL+"/redirect/16"))
		if err != nil || !bytes.Contains(body, []byte(`"url"`)) {
			t.Errorf("/redirect/16: %v", err)
		}
	})
}

func TestHTTPBinStatusAndStreams(t *testing.T) {
	bothProtocols(t, bin, func(t *testing.T, srv *server) {
		rec := newRecorder()
		s := newSession(t, srv.config(), rec)
		_, resp, err := s.Data(context.Background(), get(t, srv.URL+"/status/418"))
		if err != nil || resp.StatusCode != 418 {
			t.Errorf("/status/418: %v %v", resp, err)
		}
		// Chunked body of unknown length, delivered in pieces.
		rec = newRecorder()
		s = newSession(t, srv.config(), rec)
		task := s.DataTask(get(t, srv.URL+"/stream-bytes/200000?chunk_size=1000&seed=1"))
		task.Resume()
		wait(t, task)
		if task.Err() != nil || len(rec.Body()) != 200000 || task.CountOfBytesReceived() != 200000 {
			t.Errorf("/stream-bytes: err %v, %d bytes", task.Err(), len(rec.Body()))
		}
		if task.CountOfBytesExpectedToReceive() != TransferSizeUnknown && srv.proto == "h1" {
			t.Errorf("expected length of a chunked body = %d", task.CountOfBytesExpectedToReceive())
		}
		// Upload echoed back.
		req := newReq(t, "POST", srv.URL+"/post", "")
		body, _, err := s.Upload(context.Background(), req, []byte("a=1&b=2"))
		if err != nil || !bytes.Contains(body, []byte(`"a"`)) || !bytes.Contains(body, []byte("application/x-www-form-urlencoded")) {
			t.Errorf("/post: %v\n%s", err, body)
		}
	})
}

func TestHTTPBinDelayTimesOut(t *testing.T) {
	srv := &server{newLoopbackServer(t, bin), "h1"}
	cfg := srv.config()
	req := WithOptions(get(t, srv.URL+"/delay/5"), RequestOptions{TimeoutInterval: 200 * time.Millisecond})
	start := time.Now()
	_, _, err := newSession(t, cfg, nil).Data(context.Background(), req)
	if !errors.Is(err, ErrTimedOut) {
		t.Fatalf("err = %v, want timed out", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timed out after %v", d)
	}
}
