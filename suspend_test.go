package urlsession

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// pieceLog is a delegate that records the data it receives, piece by piece,
// and whether the task completed.
type pieceLog struct {
	mu       sync.Mutex
	pieces   []string
	events   []string
	onData   func(t *DataTask, n int)
	complete bool
}

func (p *pieceLog) DidReceiveData(s *Session, t *DataTask, data []byte) {
	p.mu.Lock()
	p.pieces = append(p.pieces, string(data))
	p.events = append(p.events, "data")
	n := len(p.pieces)
	f := p.onData
	p.mu.Unlock()
	if f != nil {
		f(t, n)
	}
}

func (p *pieceLog) WillPerformHTTPRedirection(s *Session, t *Task, resp *http.Response, req *http.Request) *http.Request {
	p.mu.Lock()
	p.events = append(p.events, "redirect")
	p.mu.Unlock()
	return req
}

func (p *pieceLog) DidCompleteWithError(s *Session, t *Task, err error) {
	p.mu.Lock()
	p.events = append(p.events, "complete")
	p.complete = true
	p.mu.Unlock()
}

func (p *pieceLog) snapshot() (pieces, events []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.pieces...), append([]string(nil), p.events...)
}

// TestSuspendHoldsQueuedData: pieces of a body read before Suspend but not
// yet delivered, and the end of the body, wait for Resume; no callback runs
// while the task is suspended, however long, and no timeout fires.
func TestSuspendHoldsQueuedData(t *testing.T) {
	var finish chan struct{} // made in the bubble, so that waiting on it is durable
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range []string{"one ", "two ", "three "} {
			w.Write([]byte(p))
			w.(http.Flusher).Flush()
			time.Sleep(10 * time.Millisecond)
		}
		<-finish
	})
	inBubble(t, h, func(t *testing.T, cfg *Configuration) {
		cfg.TimeoutIntervalForRequest = 5 * time.Second
		finish = make(chan struct{})
		s := newSession(t, cfg, nil)
		release := make(chan struct{})
		first := make(chan *DataTask, 1)
		log := &pieceLog{onData: func(t *DataTask, n int) {
			if n == 1 {
				first <- t
				<-release // the reader goes on while the queue is busy here
			}
		}}
		type result struct {
			body []byte
			err  error
		}
		res := make(chan result, 1)
		go func() {
			body, _, err := s.Data(t.Context(), get(t, "http://example.test/"), WithDelegate(log))
			res <- result{body, err}
		}()
		task := <-first
		synctest.Wait() // the other pieces are read and queued
		task.Suspend()
		close(release)
		time.Sleep(time.Minute) // far past the idle timeout
		synctest.Wait()
		if pieces, _ := log.snapshot(); len(pieces) != 1 {
			t.Fatalf("delivered %q while suspended, want only the first piece", pieces)
		}
		close(finish) // the body ends while the task is suspended
		time.Sleep(time.Minute)
		synctest.Wait()
		if pieces, events := log.snapshot(); len(pieces) != 1 || len(events) != 1 {
			t.Fatalf("events %q while suspended, want only the first piece", events)
		}
		if st := task.State(); st != TaskSuspended {
			t.Fatalf("state = %v, want suspended", st)
		}
		task.Resume()
		r := <-res
		if r.err != nil || string(r.body) != "one two three " {
			t.Fatalf("Data = %q, %v", r.body, r.err)
		}
		<-task.Done()
		pieces, events := log.snapshot()
		if strings.Join(pieces, "") != "one two three " || events[len(events)-1] != "complete" {
			t.Errorf("pieces %q, events %q after Resume", pieces, events)
		}
	})
}

// TestSuspendHoldsRedirect: a redirect that arrives while the task is
// suspended is neither offered to the delegate nor followed until Resume.
func TestSuspendHoldsRedirect(t *testing.T) {
	var answer chan struct{} // made in the bubble
	var finals atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/final" {
			finals.Add(1)
			w.Write([]byte("final"))
			return
		}
		<-answer
		http.Redirect(w, r, "/final", http.StatusTemporaryRedirect)
	})
	inBubble(t, h, func(t *testing.T, cfg *Configuration) {
		answer = make(chan struct{})
		log := &pieceLog{}
		s := newSession(t, cfg, log)
		task := s.DataTask(get(t, "http://example.test/start"))
		task.Resume()
		synctest.Wait() // the request is at the server
		task.Suspend()
		close(answer)
		time.Sleep(time.Minute)
		synctest.Wait()
		if _, events := log.snapshot(); len(events) != 0 || finals.Load() != 0 {
			t.Fatalf("while suspended: events %q, %d requests for /final; want none", events, finals.Load())
		}
		task.Resume()
		<-task.Done()
		if err := task.Err(); err != nil || finals.Load() != 1 {
			t.Fatalf("err %v, %d requests for /final", err, finals.Load())
		}
		if _, events := log.snapshot(); strings.Join(events, " ") != "redirect data complete" {
			t.Errorf("events %q", events)
		}
	})
}

// TestSuspendStopsUpload: a suspended upload stops sending its body.
func TestSuspendStopsUpload(t *testing.T) {
	const size = 1 << 20
	var read atomic.Int64
	var started, more chan struct{} // made in the bubble
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 1000)
		n, _ := io.ReadFull(r.Body, buf)
		read.Add(int64(n))
		close(started)
		<-more
		m, _ := io.Copy(io.Discard, r.Body)
		read.Add(m)
		w.Write([]byte("ok"))
	})
	inBubble(t, h, func(t *testing.T, cfg *Configuration) {
		started, more = make(chan struct{}), make(chan struct{})
		s := newSession(t, cfg, nil)
		task := s.UploadTask(newReq(t, http.MethodPut, "http://example.test/up", ""), bytes.Repeat([]byte("u"), size))
		task.Resume()
		<-started
		synctest.Wait()
		task.Suspend()
		close(more)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := read.Load(); got >= size/4 {
			t.Fatalf("the server read %d of %d bytes from a suspended upload", got, size)
		}
		sent := task.CountOfBytesSent()
		time.Sleep(time.Minute)
		synctest.Wait()
		if task.CountOfBytesSent() != sent {
			t.Fatalf("CountOfBytesSent grew from %d to %d while suspended", sent, task.CountOfBytesSent())
		}
		task.Resume()
		<-task.Done()
		if err := task.Err(); err != nil || read.Load() != size {
			t.Fatalf("err %v; the server read %d bytes, want %d", err, read.Load(), size)
		}
	})
}
