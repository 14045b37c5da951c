package client

import (
	"bytes"
	"io"
	"testing"
)

// FuzzSSE feeds arbitrary streams to the event-stream reader: it must
// end with io.EOF or an error, never panic or loop.
func FuzzSSE(f *testing.F) {
	f.Add([]byte("event: attached\ndata: {\"id\":\"s\"}\n\nid: 1\nevent: event\ndata: {\"seq\":1,\"kind\":\"complete\"}\n\n"))
	f.Add([]byte(": keep-alive\n\n"))
	f.Add([]byte("data: a\ndata: b\n\n\n\nevent:\n"))
	f.Add([]byte("event: event\ndata: {\"seq\":0}\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newSSEReader(bytes.NewReader(data))
		for range len(data) + 2 {
			_, _, err := r.next()
			if err != nil {
				return
			}
		}
		if _, _, err := r.next(); err != io.EOF {
			t.Fatalf("more events than lines: %v", err)
		}
		a := &Attachment{sse: newSSEReader(bytes.NewReader(data))}
		for range len(data) + 2 {
			if _, err := a.Next(); err != nil {
				return
			}
		}
	})
}
