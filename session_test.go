package urlsession

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestDataTaskDelegateCallbackOrder(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		rec := newRecorder()
		s := newSession(t, srv.config(), rec)
		task := s.DataTask(get(t, srv.URL+"/Nepal"))
		if got := task.State(); got != TaskSuspended {
			t.Fatalf("new task state = %v, want suspended", got)
		}
		task.Resume()
		wait(t, task)
		want := []string{"create", "response 200", "data", "metrics", "complete"}
		if got := rec.Events(); !sameEvents(got, want) {
			t.Errorf("events = %q, want %q", got, want)
		}
		if got := rec.Body(); got != "Kathmandu" {
			t.Errorf("body = %q, want Kathmandu", got)
		}
		if task.State() != TaskCompleted || task.Err() != nil {
			t.Errorf("state %v err %v, want completed, nil", task.State(), task.Err())
		}
		if got := task.CountOfBytesReceived(); got != 9 {
			t.Errorf("CountOfBytesReceived = %d, want 9", got)
		}
		m := rec.metrics
		if len(m.Transactions) != 1 {
			t.Fatalf("%d transactions, want 1", len(m.Transactions))
		}
		wantProto := map[string]string{"h1": "http/1.1", "h2": "h2"}[srv.proto]
		if got := m.Transactions[0].NetworkProtocolName; got != wantProto {
			t.Errorf("protocol = %q, want %q", got, wantProto)
		}
	})
}

func TestDataContext(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		s := newSession(t, srv.config(), nil)
		body, resp, err := s.Data(context.Background(), get(t, srv.URL+"/UK"))
		if err != nil || resp.StatusCode != 200 || string(body) != "London" {
			t.Fatalf("Data = %q, %v, %v; want London, 200, nil", body, resp, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _, err = s.Data(ctx, get(t, srv.URL+"/UK"))
		if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Data with a cancelled context: err = %v, want cancelled", err)
		}
	})
}

func TestCompletionHandlerSkipsDataCallbacks(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		rec := newRecorder()
		s := newSession(t, srv.config(), rec)
		var gotBody string
		var gotStatus int
		task := s.DataTaskWithCompletion(get(t, srv.URL+"/USA"), func(body []byte, resp *http.Response, err error) {
			gotBody, gotStatus = string(body), resp.StatusCode
			rec.add("handler")
		})
		task.Resume()
		wait(t, task)
		if gotBody != "Washington, D.C." || gotStatus != 200 {
			t.Errorf("handler got %q %d", gotBody, gotStatus)
		}
		want := []string{"create", "metrics", "handler"}
		if got := rec.Events(); !sameEvents(got, want) {
			t.Errorf("events = %q, want %q", got, want)
		}
	})
}
