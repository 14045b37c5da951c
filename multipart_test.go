package urlsession

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// partLog records a data task's responses and data as one line each:
// "response TYPE LENGTH" and "data BYTES" (consecutive data joined).
type partLog struct {
	mu      sync.Mutex
	events  []string
	data    bytes.Buffer // the data since the last other event
	err     error
	cancelN int // cancel the response with this index (1-based); 0: none
	n       int
}

// flushLocked ends a run of data as one event.
func (p *partLog) flushLocked() {
	if p.data.Len() > 0 {
		p.events = append(p.events, "data "+p.data.String())
		p.data.Reset()
	}
}

func (p *partLog) DidReceiveResponse(s *Session, t *DataTask, resp *http.Response) ResponseDisposition {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushLocked()
	p.n++
	p.events = append(p.events, fmt.Sprintf("response %d %s %d", resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength))
	if p.n == p.cancelN {
		return ResponseCancel
	}
	return ResponseAllow
}

func (p *partLog) DidReceiveData(s *Session, t *DataTask, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.data.Write(data)
}

func (p *partLog) DidCompleteWithError(s *Session, t *Task, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushLocked()
	p.err = err
	p.events = append(p.events, fmt.Sprintf("complete %d", CodeOf(err)))
}

func (p *partLog) snapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

// mixedReplace serves body as multipart/x-mixed-replace with the boundary,
// flushing after each part so that the parts arrive one by one.
func mixedReplace(boundary string, parts ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ct := "multipart/x-mixed-replace"
		if boundary != "" {
			ct += `; boundary="` + boundary + `"`
		}
		w.Header().Set("Content-Type", ct)
		for _, p := range parts {
			io.WriteString(w, p)
			w.(http.Flusher).Flush()
		}
	}
}

func runParts(t *testing.T, h http.Handler, log *partLog) []string {
	t.Helper()
	srv := newLoopbackServer(t, h)
	s := newSession(t, DefaultConfiguration(), log)
	task := s.DataTask(get(t, srv.URL))
	task.Resume()
	wait(t, task)
	return log.snapshot()
}

func TestMixedReplaceParts(t *testing.T) {
	t.Parallel()
	h := mixedReplace("frame",
		"preamble\r\n--frame\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfirst\r\n",
		"--frame\r\nContent-Type: application/json\r\n\r\n{\"n\":2}\r\n",
		"--frame\r\nContent-Type: text/html\r\n\r\n<p>third</p>\r\n--frame--\r\nepilogue")
	want := []string{
		"response 200 text/plain 5", "data first",
		"response 200 application/json -1", `data {"n":2}`,
		"response 200 text/html -1", "data <p>third</p>",
		"complete 0",
	}
	bothProtocols(t, h, func(t *testing.T, srv *server) {
		log := &partLog{}
		s := newSession(t, srv.config(), log)
		task := s.DataTask(get(t, srv.URL))
		task.Resume()
		wait(t, task)
		if got := log.snapshot(); !sameEvents(got, want) {
			t.Errorf("events\n got %q\nwant %q", got, want)
		}
		if r := task.Response(); r == nil || r.Header.Get("Content-Type") != "text/html" || r.ProtoMajor != map[string]int{"h1": 1, "h2": 2}[srv.proto] {
			t.Errorf("the task's response is not the last part's: %v", r)
		}
	})
}

// TestMixedReplaceLargePart: a part of several MiB streams in pieces and
// arrives whole.
func TestMixedReplaceLargePart(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789abcdef", 300_000)
	h := mixedReplace("b", "--b\r\n\r\n"+big+"\r\n--b\r\n\r\nsmall\r\n--b--\r\n")
	got := runParts(t, h, &partLog{})
	if len(got) != 5 || got[1] != "data "+big || got[3] != "data small" || got[4] != "complete 0" {
		t.Errorf("got %d events, first data %d bytes", len(got), len(got[1]))
	}
}

// TestMixedReplaceEndsWithoutClosingBoundary: a server that stops pushing
// ends the stream; the task completes without error.
func TestMixedReplaceEndsWithoutClosingBoundary(t *testing.T) {
	t.Parallel()
	h := mixedReplace("b", "--b\r\n\r\none\r\n--b\r\n\r\ntwo")
	got := runParts(t, h, &partLog{})
	want := []string{"response 200  -1", "data one", "response 200  -1", "data two", "complete 0"}
	if !sameEvents(got, want) {
		t.Errorf("events\n got %q\nwant %q", got, want)
	}
}

func TestMixedReplaceCancelPart(t *testing.T) {
	t.Parallel()
	h := mixedReplace("b", "--b\r\n\r\none\r\n", "--b\r\n\r\ntwo\r\n--b\r\n\r\nthree\r\n--b--\r\n")
	got := runParts(t, h, &partLog{cancelN: 2})
	want := []string{"response 200  -1", "data one", "response 200  -1", "complete -999"}
	if !sameEvents(got, want) {
		t.Errorf("events\n got %q\nwant %q", got, want)
	}
}

func TestMixedReplaceMalformed(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		h    http.Handler
		want []string
	}{
		// No boundary parameter: delivered as one response.
		"no boundary": {mixedReplace("", "--b\r\n\r\nx\r\n"), []string{"response 200 multipart/x-mixed-replace -1", "data --b\r\n\r\nx\r\n", "complete 0"}},
		// A boundary RFC 2046 does not allow: the same.
		"long boundary": {mixedReplace(strings.Repeat("x", 71), "body"), []string{
			fmt.Sprintf("response 200 multipart/x-mixed-replace; boundary=%q -1", strings.Repeat("x", 71)), "data body", "complete 0"}},
		// No boundary line in the body: not multipart.
		"no part": {mixedReplace("b", "just text"), []string{"complete -1017"}},
		// A part header without a colon.
		"bad header": {mixedReplace("b", "--b\r\nno colon here\r\n\r\nx\r\n--b--\r\n"), []string{"complete -1017"}},
	} {
		t.Run(name, func(t *testing.T) {
			got := runParts(t, c.h, &partLog{})
			if !sameEvents(got, c.want) {
				t.Errorf("events\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// TestMixedReplaceConnectionLost: a connection that drops inside a part
// fails the task with -1005 after the data that came.
func TestMixedReplaceConnectionLost(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=b")
		io.WriteString(w, "--b\r\n\r\npart one\r\n--b\r\n\r\ncut")
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // no end of the chunked body
		}
	})
	got := runParts(t, h, &partLog{})
	if len(got) < 2 || got[0] != "response 200  -1" || got[1] != "data part one" || got[len(got)-1] != "complete -1005" {
		t.Errorf("events %q", got)
	}
}

// TestMixedReplaceCompletionHandler: a completion handler gets the whole
// multipart body and the response it came in, as a context-first call
// does.
func TestMixedReplaceCompletionHandler(t *testing.T) {
	t.Parallel()
	body := "--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n"
	srv := newLoopbackServer(t, mixedReplace("b", body))
	s := newSession(t, DefaultConfiguration(), &partLog{})
	got, resp, err := s.Data(t.Context(), get(t, srv.URL))
	if err != nil || string(got) != body || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/x-mixed-replace") {
		t.Errorf("Data: %q %v %v", got, resp, err)
	}
	done := make(chan struct{})
	task := s.DataTaskWithCompletion(get(t, srv.URL), func(b []byte, resp *http.Response, err error) {
		if err != nil || !bytes.Equal(b, []byte(body)) {
			t.Errorf("handler: %q %v", b, err)
		}
		close(done)
	})
	task.Resume()
	<-done
}
