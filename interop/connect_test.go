//go:build interop

package interop

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession"
)

// streamBecomer answers every response with ResponseBecomeStream and keeps
// the stream task a data task becomes.
type streamBecomer struct {
	became chan *urlsession.StreamTask
}

var (
	_ urlsession.ResponseDelegate         = (*streamBecomer)(nil)
	_ urlsession.StreamConversionDelegate = (*streamBecomer)(nil)
)

func (b *streamBecomer) DidReceiveResponse(*urlsession.Session, *urlsession.DataTask, *http.Response) urlsession.ResponseDisposition {
	return urlsession.ResponseBecomeStream
}

func (b *streamBecomer) DidBecomeStreamTask(_ *urlsession.Session, _ *urlsession.DataTask, st *urlsession.StreamTask) {
	b.became <- st
}

// TestSquidConnectBecomesStream sends a data task's CONNECT to squid and
// turns the tunnel into a stream task.
func TestSquidConnectBecomesStream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	port := startSquid(t, proxyDir(t, "proxy"), "")
	cfg := urlsession.EphemeralConfiguration()
	cfg.Proxy = urlsession.NoProxy
	b := &streamBecomer{became: make(chan *urlsession.StreamTask, 1)}
	s, err := urlsession.New(cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	defer s.InvalidateAndCancel()
	req, _ := http.NewRequest(http.MethodConnect, fmt.Sprintf("http://127.0.0.1:%d", port), nil)
	req.Host = ln.Addr().String()
	task := s.DataTask(req)
	task.Resume()
	var st *urlsession.StreamTask
	select {
	case st = <-b.became:
	case <-task.Done():
		t.Fatalf("the CONNECT completed with %v, response %v", task.Err(), task.Response())
	case <-time.After(20 * time.Second):
		t.Fatal("no stream task within 20 s")
	}
	<-task.Done()
	if task.Err() != nil || task.Response().StatusCode != http.StatusOK {
		t.Fatalf("the CONNECT: %v %v", task.Response(), task.Err())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msg := []byte("through squid's tunnel")
	if _, err := st.Write(ctx, msg); err != nil {
		t.Fatal(err)
	}
	// The echo is read before the half-close: squid ends both directions
	// of a tunnel when one ends, dropping what was still on its way.
	got, _, err := st.ReadData(ctx, len(msg), len(msg))
	if err != nil || string(got) != string(msg) {
		t.Errorf("echo %q %v", got, err)
	}
	st.CloseWrite()
	st.CloseRead()
	<-st.Done()
	if st.Err() != nil {
		t.Errorf("stream task: %v", st.Err())
	}

	// A tunnel squid cannot open is an ordinary response.
	closed := freePort(t)
	req, _ = http.NewRequest(http.MethodConnect, fmt.Sprintf("http://127.0.0.1:%d", port), nil)
	req.Host = fmt.Sprintf("127.0.0.1:%d", closed)
	plain, _ := urlsession.New(cfg, nil)
	defer plain.InvalidateAndCancel()
	_, resp, err := plain.Data(ctx, req)
	if err != nil || resp.StatusCode/100 == 2 {
		t.Errorf("CONNECT to a closed port: %v %v", resp, err)
	}
}
