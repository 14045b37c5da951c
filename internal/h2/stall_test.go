package h2

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// A server that grants every window and then stops reading its socket
// cannot hold a request for good: once a write takes nothing for
// WriteTimeout, the connection closes and the request fails, and the one
// waiting behind it to write fails too.
func TestWriteTimeoutClosesStalledConnection(t *testing.T) {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	release := make(chan struct{})
	defer close(release)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if tc.Handshake() != nil {
			return
		}
		br := bufio.NewReader(tc)
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(br, preface); err != nil {
			return
		}
		fr := http2.NewFramer(tc, br)
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
		fr.WriteWindowUpdate(0, 1<<31-1-65535)
		fr.WriteSettingsAck()
		<-release // and read nothing more
	}()

	c, _, _ := (&scriptServer{t: t}).client(Config{WriteTimeout: 300 * time.Millisecond})
	url := "https://" + ln.Addr().String() + "/up"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			// Far more than the socket buffers hold.
			req, _ := http.NewRequestWithContext(ctx, "POST", url, io.LimitReader(zeros{}, 256<<20))
			if i == 1 {
				req.Body = nil // a GET queued behind the upload
				req.Method = "GET"
			}
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errs <- err
		}()
	}
	for range 2 {
		select {
		case err := <-errs:
			if err == nil {
				t.Error("a request on the stalled connection succeeded")
			}
		case <-ctx.Done():
			t.Fatal("a request on the stalled connection still waits after 30 s")
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
