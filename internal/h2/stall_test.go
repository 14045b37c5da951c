package h2

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
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
	stall := func(c net.Conn) {
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
	}
	go func() {
		// The first connection stalls; any other (a request sent again
		// after the stalled connection closed) is closed at once.
		for first := true; ; first = false {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if first {
				go stall(c)
			} else {
				c.Close()
			}
		}
	}()

	c, _, _ := (&scriptServer{t: t}).client(Config{WriteTimeout: 300 * time.Millisecond})
	url := "https://" + ln.Addr().String() + "/up"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	// The GET starts once the upload has its connection: started at
	// once, it could have the transport dial a second one, whose
	// handshake the server (which accepts one) never answers.
	pooled := make(chan struct{})
	var once sync.Once
	upCtx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { once.Do(func() { close(pooled) }) },
	})
	for i := range 2 {
		go func() {
			// Far more than the socket buffers hold.
			req, _ := http.NewRequestWithContext(upCtx, "POST", url, io.LimitReader(zeros{}, 256<<20))
			if i == 1 {
				select {
				case <-pooled:
				case <-ctx.Done():
				}
				// A GET queued behind the upload.
				req, _ = http.NewRequestWithContext(ctx, "GET", url, nil)
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
