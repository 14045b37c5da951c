package pipeline

import (
	"context"
	"net/http/httptrace"
	"sync"
	"testing"
)

// doneLater is a context with an AfterFunc method, as the session's task
// context is: it records the functions registered and runs them when
// cancelled.
type doneLater struct {
	context.Context
	mu    sync.Mutex
	funcs []func()
	done  chan struct{}
}

func (c *doneLater) Done() <-chan struct{} { return c.done }

func (c *doneLater) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

func (c *doneLater) AfterFunc(f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.funcs = append(c.funcs, f)
	return func() bool { return true }
}

func (c *doneLater) cancel() {
	close(c.done)
	c.mu.Lock()
	fs := c.funcs
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// A trace added to a context with an AfterFunc method keeps the method:
// a context derived from the result registers with the parent instead of
// starting a goroutine to watch it, sees its cancellation, and the trace
// is still found.
func TestWithTraceKeepsAfterFunc(t *testing.T) {
	parent := &doneLater{Context: context.Background(), done: make(chan struct{})}
	got := false
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { got = true }}
	ctx := withTrace(withTrace(parent, &httptrace.ClientTrace{}), trace)

	child, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(ran) })
	defer stop()
	if n := len(parent.funcs); n != 2 {
		t.Fatalf("%d functions registered with the parent, want 2 (the child's and AfterFunc's)", n)
	}
	if tr := httptrace.ContextClientTrace(ctx); tr == nil || tr.GotFirstResponseByte == nil {
		t.Fatal("the trace is lost")
	}
	httptrace.ContextClientTrace(ctx).GotFirstResponseByte()
	if !got {
		t.Error("the composed trace does not reach the added one")
	}
	parent.cancel()
	<-child.Done()
	<-ran
	if child.Err() != context.Canceled {
		t.Errorf("child.Err() = %v", child.Err())
	}

	// A parent without the method gets the plain value context.
	if _, ok := withTrace(context.Background(), trace).(afterFuncer); ok {
		t.Error("a context without AfterFunc gained one")
	}
}
