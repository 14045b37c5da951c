package urlsession

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// BodyStream is the body of a response being loaded by Session.Bytes: Apple's
// URLSession.AsyncBytes. Reading it reads the network as data arrives; the
// task completes when the body ends, fails, or the stream is closed.
//
// A BodyStream is an io.ReadCloser for one goroutine at a time. Close it
// when done: closing before the end cancels the task.
type BodyStream struct {
	t    *Task
	ctx  context.Context
	body io.ReadCloser
	stop func() bool

	mu    sync.Mutex
	once  sync.Once
	ended atomic.Bool // err is set
	err   error       // the task's outcome once finished; io.EOF on success
}

func newBodyStream(ctx context.Context, t *Task, resp *http.Response) *BodyStream {
	b := &BodyStream{t: t, ctx: ctx, body: resp.Body}
	resp.Body = b
	// A task cancelled or timed out while nobody reads still completes.
	b.stop = context.AfterFunc(ctx, func() { b.end(context.Cause(ctx)) })
	return b
}

// Task returns the data task loading the body.
func (b *BodyStream) Task() *DataTask { return b.t.data }

// Read reads the next bytes of the body. At the end of the body it returns
// io.EOF; on failure the task's *Error. Reads block while the task is
// suspended.
func (b *BodyStream) Read(p []byte) (int, error) {
	if err := b.finished(); err != nil {
		return 0, err
	}
	if err := b.t.waitRunning(b.ctx); err != nil {
		b.end(err)
		return 0, b.finished()
	}
	n, err := b.body.Read(p)
	if n > 0 {
		b.t.received.Add(int64(n))
	}
	if err != nil {
		if err == io.EOF {
			b.end(nil)
		} else {
			b.end(err)
		}
		return n, b.finished()
	}
	return n, nil
}

// WriteTo writes the rest of the body to w, reading in large pieces; io.Copy
// uses it. It returns the number of bytes written and the first error other
// than the body's end.
func (b *BodyStream) WriteTo(w io.Writer) (int64, error) {
	pool := chunkPoolFor(b.t.expectedRecv.Load())
	pooled := pool.Get().(*[]byte)
	defer pool.Put(pooled)
	buf := *pooled
	var total int64
	for {
		n, err := b.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Close ends the stream. Before the end of the body it cancels the task,
// which completes with ErrCancelled. Close always returns nil.
func (b *BodyStream) Close() error {
	b.t.Cancel()
	b.end(errCancelled)
	b.body.Close()
	return nil
}

func (b *BodyStream) finished() error {
	if !b.ended.Load() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// end completes the task once with err (nil for success).
func (b *BodyStream) end(err error) {
	b.once.Do(func() {
		b.stop()
		resp := b.t.Response()
		if err != nil && b.ctx.Err() != nil {
			err = context.Cause(b.ctx)
		}
		b.t.complete(nil, resp, err, false)
		out := b.t.Err()
		if out == nil {
			out = io.EOF
		}
		b.mu.Lock()
		b.err = out
		b.mu.Unlock()
		b.ended.Store(true)
	})
}
