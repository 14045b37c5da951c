//go:build unix

package client

import (
	"context"
	"fmt"
	"testing"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

// BenchmarkReplay1000 attaches and receives 1,000 waiting events over
// the socket, then acknowledges them (issue figure: under 1 s).
func BenchmarkReplay1000(b *testing.B) {
	_, st, sock := startServerStore(b, &fileRunner{})
	c := New(sock)
	defer c.Close()
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		evs := make([]api.Event, 1000)
		for i := range evs {
			evs[i] = api.Event{Session: "app", Job: fmt.Sprint("j", i), Kind: api.Complete}
		}
		stored, err := st.AppendEvents(ctx, evs...)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		at, err := c.Attach(ctx, "app", api.Attach{})
		if err != nil {
			b.Fatal(err)
		}
		for range stored {
			if _, err := at.Next(); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := c.Ack(ctx, "app", stored[len(stored)-1].Seq); err != nil {
			b.Fatal(err)
		}
		at.Close()
		b.StopTimer()
		for {
			s, err := c.Session(ctx, "app")
			if err != nil {
				b.Fatal(err)
			}
			if !s.Attached {
				break
			}
		}
		b.StartTimer()
	}
}
