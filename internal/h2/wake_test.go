package h2

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// watchedClient is rs.client over sockets from netconn.Watch, on which
// the connection holds its readers' wakes until a read would wait.
func watchedClient(t *testing.T, rs *realServer) *http.Client {
	c, tr, p := rs.client(t, Config{})
	watchAll(tr) // even when the tests run unwatched
	t.Cleanup(func() {
		for _, cc := range poolConns(p) {
			if !cc.holdWakes {
				t.Error("a connection over a watched socket does not hold wakes")
			}
		}
	})
	return c
}

// A reader waiting for more than has come still gets each piece of a
// body the server sends and then waits over: the connection wakes it
// before it waits for the socket.
func TestHeldWakeBeforeSocketWait(t *testing.T) {
	next := make(chan struct{})
	rs := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 5 {
			w.Write([]byte("piece " + strconv.Itoa(i) + ";"))
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	}), nil)
	c := watchedClient(t, rs)
	resp, err := c.Get(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 1<<20)
	for i := range 5 {
		got := make(chan string, 1)
		go func() {
			n, _ := resp.Body.Read(buf)
			got <- string(buf[:n])
		}()
		select {
		case s := <-got:
			if want := "piece " + strconv.Itoa(i) + ";"; s != want {
				t.Fatalf("read %q, want %q", s, want)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("piece %d never reached a reader waiting for 1 MiB", i)
		}
		next <- struct{}{}
	}
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Errorf("after the pieces: %q, %v", rest, err)
	}
}

// Big bodies on watched sockets arrive whole, read in pieces small and
// large, two at once on one connection, while a third stream's small
// pieces reach their reader as the big ones flow.
func TestHeldWakesBigBodies(t *testing.T) {
	big := payload(24<<20, 21)
	next := make(chan struct{})
	rs := newRealServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/trickle" {
			for i := range 3 {
				w.Write([]byte{byte('a' + i)})
				w.(http.Flusher).Flush()
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		w.Write(big)
	}), nil)
	c := watchedClient(t, rs)
	trickle, err := c.Get(rs.URL + "/trickle")
	if err != nil {
		t.Fatal(err)
	}
	defer trickle.Body.Close()
	errc := make(chan error, 2)
	for _, size := range []int{1000, 1 << 20} {
		go func() {
			resp, err := c.Get(rs.URL + "/big")
			if err != nil {
				errc <- err
				return
			}
			defer resp.Body.Close()
			var got bytes.Buffer
			buf := make([]byte, size)
			if _, err := io.CopyBuffer(&got, struct{ io.Reader }{resp.Body}, buf); err != nil {
				errc <- err
				return
			}
			if !bytes.Equal(got.Bytes(), big) {
				errc <- io.ErrUnexpectedEOF
				return
			}
			errc <- nil
		}()
	}
	buf := make([]byte, 1<<20)
	for i := range 3 {
		n, err := trickle.Body.Read(buf)
		if err != nil || string(buf[:n]) != string(rune('a'+i)) {
			t.Fatalf("trickle piece %d: %q, %v", i, buf[:n], err)
		}
		next <- struct{}{}
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}

// Readers of every size, whether they find bytes buffered or wait for
// them, get every byte of a run of frames once the run ends (the server
// then waits for the reader): no wake is held past the socket's running
// empty.
func TestReadsLendWithinARun(t *testing.T) {
	const run = 3 << 20
	body := payload(3*run, 22)
	next := make(chan struct{})
	rs := newRealServer(t, inRuns(body, run, next), nil)
	c := watchedClient(t, rs)
	for _, size := range []int{1000, 40000, 100000, 1 << 20} {
		resp, err := c.Get(rs.URL)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 0, len(body))
		buf := make([]byte, size)
		for len(got) < len(body) {
			done := make(chan error, 1)
			go func() {
				// One run, read whole before the server sends the next.
				for end := len(got) + run; len(got) < end; {
					n, err := resp.Body.Read(buf)
					got = append(got, buf[:n]...)
					if err != nil && (err != io.EOF || len(got) < end) {
						done <- err
						return
					}
				}
				done <- nil
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("reads of %d: after %d bytes: %v", size, len(got), err)
				}
			case <-time.After(waitTimeout):
				resp.Body.Close() // which ends the waiting Read
				<-done
				t.Fatalf("reads of %d: a run's end never reached the reader (%d bytes read)", size, len(got))
			}
			if len(got) < len(body) {
				next <- struct{}{}
			}
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("reads of %d: the body differs", size)
		}
		if n, err := resp.Body.Read(buf); n != 0 || err != io.EOF {
			t.Errorf("reads of %d: after the body: %d, %v", size, n, err)
		}
		resp.Body.Close()
	}
}

// inRuns serves body in runs of run bytes (run divides len(body)), each
// flushed, and each after the first once next receives.
func inRuns(body []byte, run int, next <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		for i := 0; i < len(body); i += run {
			if i > 0 {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
			w.Write(body[i : i+run])
			w.(http.Flusher).Flush()
		}
	}
}
