package urlsession_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/urlsession-go/urlsession"
)

// A stream task writes and reads raw bytes on a TCP connection.
func ExampleSession_StreamTask() {
	// A server that echoes what it reads until the client closes its side.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
		c.(*net.TCPConn).CloseWrite()
	}()

	s, _ := urlsession.New(urlsession.DefaultConfiguration(), nil)
	defer s.FinishTasksAndInvalidate()
	task := s.StreamTask("127.0.0.1", ln.Addr().(*net.TCPAddr).Port)
	task.Resume()

	// Each call can have its own deadline, as Apple's timeout arguments.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := task.Write(ctx, []byte("ping")); err != nil {
		fmt.Println("write:", err)
		return
	}
	task.CloseWrite() // the server reads end-of-file and closes its side too
	var got []byte
	for {
		data, atEOF, err := task.ReadData(ctx, 1, 1024)
		if err != nil {
			fmt.Println("read:", err)
			return
		}
		got = append(got, data...)
		if atEOF {
			break
		}
	}
	task.CloseRead() // both sides closed: the task completes
	<-task.Done()
	fmt.Printf("%s, error %v\n", got, task.Err())
	// Output: ping, error <nil>
}
