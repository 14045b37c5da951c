package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/urlsession-go/urlsession"
)

// isWebSocket reports whether raw is a ws or wss URL.
func isWebSocket(raw string) bool {
	return hasPrefixFold(raw, "ws://") || hasPrefixFold(raw, "wss://")
}

// wsDelegate reports a WebSocket's opening and closing with -v.
type wsDelegate struct {
	c           *client
	opened      chan struct{}
	invalidated chan struct{}
}

var (
	_ urlsession.WebSocketOpenDelegate  = (*wsDelegate)(nil)
	_ urlsession.WebSocketCloseDelegate = (*wsDelegate)(nil)
	_ urlsession.InvalidationDelegate   = (*wsDelegate)(nil)
)

func (d *wsDelegate) DidOpenWithProtocol(_ *urlsession.Session, t *urlsession.WebSocketTask, protocol string) {
	close(d.opened)
	if d.c.o.verbose {
		if protocol == "" {
			protocol = "none"
		}
		fmt.Fprintf(d.c.stderr, "* WebSocket open: %s (subprotocol %s)\n", t.OriginalRequest().URL.Redacted(), protocol)
	}
}

func (d *wsDelegate) DidCloseWith(_ *urlsession.Session, _ *urlsession.WebSocketTask, code urlsession.CloseCode, reason []byte) {
	if d.c.o.verbose {
		fmt.Fprintf(d.c.stderr, "* WebSocket closed by the server: %d %s %q\n", int(code), code, reason)
	}
}

func (d *wsDelegate) DidBecomeInvalidWithError(*urlsession.Session, error) { close(d.invalidated) }

// webSocket runs a line-oriented WebSocket client, as websocat does: each
// line of standard input (without its line ending) is sent as a text
// message, and each message received is written to standard output
// followed by a newline. At the end of standard input the client closes
// the WebSocket with 1000 (normal closure) and exits once the server
// answered; when the server closes first, the client exits at once.
func (c *client) webSocket(ctx context.Context, cfg *urlsession.Configuration, req *http.Request) *failure {
	d := &wsDelegate{c: c, opened: make(chan struct{}), invalidated: make(chan struct{})}
	s, err := urlsession.New(cfg, d)
	if err != nil {
		return &failure{status: exitFailure, code: exitFailure, msg: err.Error()}
	}
	if p := c.o.wsProtocols; p != "" && req.Header.Get("Sec-WebSocket-Protocol") == "" {
		req.Header.Set("Sec-WebSocket-Protocol", p)
	}
	req.Header.Del("Accept") // the handshake needs none
	task := s.WebSocketTaskWithRequest(req)
	stopCancel := context.AfterFunc(ctx, task.Cancel)
	defer stopCancel()
	task.Resume()

	var wg sync.WaitGroup
	var writeErr error
	wg.Go(func() {
		out := bufio.NewWriter(c.stdout)
		for {
			m, err := task.Receive(context.Background())
			if err != nil {
				break
			}
			out.Write(m.Data)
			out.WriteByte('\n')
			if err := out.Flush(); err != nil {
				writeErr = err
				task.Cancel()
				break
			}
		}
		out.Flush()
	})
	go func() {
		in := bufio.NewReader(c.stdin)
		for {
			line, err := in.ReadString('\n')
			if line != "" || err == nil {
				line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
				if task.Send(context.Background(), urlsession.TextMessage(line)) != nil {
					return // the task ended
				}
			}
			if err != nil {
				break
			}
		}
		// Close once open: before, closing would cancel the handshake.
		select {
		case <-d.opened:
			task.CancelWith(urlsession.CloseNormalClosure, nil)
		case <-task.Done():
		}
	}()
	<-task.Done()
	wg.Wait()
	s.FinishTasksAndInvalidate()
	<-d.invalidated
	switch {
	case ctx.Err() != nil:
		return &failure{status: exitInterrupted, code: int(urlsession.ErrCancelled), msg: "interrupted"}
	case writeErr != nil:
		return &failure{status: 23, code: 23, msg: "could not write the output: " + writeErr.Error()}
	case task.Err() != nil:
		return failureOf(task.Err(), task.Response() != nil)
	}
	return nil
}
