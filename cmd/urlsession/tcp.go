package main

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/urlsession-go/urlsession"
)

// streamDelegate waits for the session's end.
type streamDelegate struct{ invalidated chan struct{} }

var _ urlsession.InvalidationDelegate = (*streamDelegate)(nil)

func (d *streamDelegate) DidBecomeInvalidWithError(*urlsession.Session, error) { close(d.invalidated) }

// parseHostPort splits the --tcp argument, HOST:PORT.
func parseHostPort(v string) (string, int, error) {
	host, p, err := net.SplitHostPort(v)
	port, perr := strconv.Atoi(p)
	if err != nil || perr != nil || host == "" || port < 1 || port > 65535 {
		return "", 0, usageErrorf("bad --tcp argument %q: want HOST:PORT", v)
	}
	return host, port, nil
}

// tcpStream runs a raw stream task, as nc does: standard input is written
// to the connection and what the connection reads is written to standard
// output. At the end of standard input the client shuts down its write
// side and goes on reading; once the server closed its side, the client
// exits. With --starttls the connection is secured with TLS (the stream
// task's StartSecureConnection, with the session's certificate checks)
// before any byte moves.
func (c *client) tcpStream(ctx context.Context, cfg *urlsession.Configuration) *failure {
	host, port, err := parseHostPort(c.o.tcp)
	if err != nil {
		return statusFailure(err)
	}
	d := &streamDelegate{invalidated: make(chan struct{})}
	s, err := urlsession.New(cfg, d)
	if err != nil {
		return &failure{status: exitFailure, code: exitFailure, msg: err.Error()}
	}
	task := s.StreamTask(host, port)
	stopCancel := context.AfterFunc(ctx, task.Cancel)
	defer stopCancel()
	task.Resume()
	if c.o.starttls {
		task.StartSecureConnection()
	}

	var wg sync.WaitGroup
	var writeErr error
	wg.Go(func() {
		for {
			data, eof, err := task.ReadData(context.Background(), 1, 64<<10)
			if err != nil {
				return
			}
			if _, err := c.stdout.Write(data); err != nil {
				writeErr = err
				task.Cancel()
				return
			}
			if eof {
				// The server is done: so is the client, as nc.
				task.CloseRead()
				task.CloseWrite()
				return
			}
		}
	})
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := c.stdin.Read(buf)
			if n > 0 {
				if _, werr := task.Write(context.Background(), buf[:n]); werr != nil {
					return // the task ended
				}
			}
			if err != nil {
				if err == io.EOF {
					task.CloseWrite()
				} else {
					task.Cancel()
				}
				return
			}
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
		return failureOf(task.Err(), true)
	}
	return nil
}
