package urlsession

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
)

// TestCancelledContextSendsNothing: a context-first call, or a task whose
// request carries a context, that is cancelled before the task starts ends
// with ErrCancelled and sends no request, every time.
func TestCancelledContextSendsNothing(t *testing.T) {
	var hits atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("sent"))
	})
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		hits.Store(0)
		s := newSession(t, srv.config(), nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		const n = 300
		for i := range n {
			var err error
			var body []byte
			switch i % 4 {
			case 0:
				body, _, err = s.Data(ctx, get(t, srv.URL))
			case 1:
				body, _, err = s.Upload(ctx, newReq(t, http.MethodPost, srv.URL, ""), []byte("x"))
			case 2:
				var bs *BodyStream
				bs, _, err = s.Bytes(ctx, get(t, srv.URL))
				if bs != nil {
					bs.Close()
				}
			case 3:
				task := s.DataTask(get(t, srv.URL).WithContext(ctx))
				task.Resume()
				wait(t, task)
				err = task.Err()
			}
			if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) || body != nil {
				t.Fatalf("call %d: body %q, err %v; want ErrCancelled and no body", i, body, err)
			}
		}
		if got := hits.Load(); got != 0 {
			t.Errorf("the server received %d requests from calls whose context was already cancelled", got)
		}
	})
}
