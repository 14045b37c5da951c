package urlsessiontest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func faultServer(t *testing.T, h http.Handler, h2 bool) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, srv.Client()
}

func TestFaultHandler(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 10000)
	for _, h2 := range []bool{false, true} {
		res := NewResource(content)
		kinds := []Fault{{Kind: Reset, At: 12345}, {Kind: Truncate, At: 5000}, {}}
		fh := &FaultHandler{Next: res, Choose: func(n int, r *http.Request) Fault { return kinds[n] }}
		srv, c := faultServer(t, fh, h2)

		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil || len(b) != 12345 || !bytes.Equal(b, content[:12345]) {
			t.Errorf("h2=%v reset: %d bytes, %v; want 12345 and an error", h2, len(b), err)
		}

		resp, err = c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(b, content[:5000]) {
			t.Errorf("h2=%v truncate: %d bytes, %v; want 5000 cleanly", h2, len(b), err)
		}

		resp, err = c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(b, content) || fh.Requests() != 3 {
			t.Errorf("h2=%v pass: %d bytes, %v, %d requests", h2, len(b), err, fh.Requests())
		}
	}
}

func TestFaultStall(t *testing.T) {
	fh := &FaultHandler{Next: NewResource(bytes.Repeat([]byte("x"), 100000)), Choose: func(int, *http.Request) Fault {
		return Fault{Kind: Stall, At: 1000}
	}}
	srv, c := faultServer(t, fh, false)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	// Nothing more comes until the client gives up.
	got := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 10))
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a read after the stall returned %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-got; err == nil {
		t.Error("the read after cancelling succeeded")
	}
}

// A Pause holds the body after At bytes until Resume is closed, then
// sends the rest; the whole body arrives, over HTTP/1.1 and HTTP/2.
func TestFaultPause(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 10000)
	for _, h2 := range []bool{false, true} {
		resume := make(chan struct{})
		fh := &FaultHandler{Next: NewResource(content), Choose: func(int, *http.Request) Fault {
			return Fault{Kind: Pause, At: 4000, Resume: resume}
		}}
		srv, c := faultServer(t, fh, h2)
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 4000)
		if _, err := io.ReadFull(resp.Body, head); err != nil || !bytes.Equal(head, content[:4000]) {
			t.Fatalf("h2=%v: the bytes before the pause: %v", h2, err)
		}
		// Nothing more comes until Resume is closed; the read that waits
		// gets the rest after it.
		got := make(chan []byte, 1)
		go func() {
			rest, _ := io.ReadAll(resp.Body)
			got <- rest
		}()
		select {
		case rest := <-got:
			t.Fatalf("h2=%v: %d bytes came before the pause ended", h2, len(rest))
		case <-time.After(20 * time.Millisecond):
		}
		close(resume)
		if rest := <-got; !bytes.Equal(rest, content[4000:]) {
			t.Errorf("h2=%v: %d bytes after the pause, want %d", h2, len(rest), len(content)-4000)
		}
		resp.Body.Close()
	}
}

func TestResource(t *testing.T) {
	res := NewResource([]byte("hello, world"))
	srv, c := faultServer(t, res, false)
	get := func(h ...string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		for i := 0; i < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	etag := res.ETag()
	if resp, body := get("Range", "bytes=7-", "If-Range", etag); resp.StatusCode != 206 || body != "world" {
		t.Errorf("range: %d %q", resp.StatusCode, body)
	}
	res.Replace([]byte("goodbye, world"))
	if res.ETag() == etag {
		t.Error("the entity tag did not change")
	}
	if resp, body := get("Range", "bytes=7-", "If-Range", etag); resp.StatusCode != 200 || body != "goodbye, world" {
		t.Errorf("stale If-Range: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get("Range", "bytes=100-"); resp.StatusCode != 416 || resp.Header.Get("Content-Range") != "bytes */14" {
		t.Errorf("past the end: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
}

func TestFaultProxy(t *testing.T) {
	content := bytes.Repeat([]byte("abc"), 50000)
	origin, _ := faultServer(t, NewResource(content), false)
	u, _ := url.Parse(origin.URL)
	proxy, c := faultServer(t, NewFaultProxy(u, func(n int, r *http.Request) Fault {
		if n == 0 {
			return Fault{Kind: Reset, At: 777}
		}
		return Fault{}
	}), false)
	resp, err := c.Get(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || len(b) != 777 {
		t.Errorf("first: %d bytes, %v", len(b), err)
	}
	resp, err = c.Get(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(b, content) || errors.Is(err, io.EOF) {
		t.Errorf("second: %d bytes, %v", len(b), err)
	}
}
