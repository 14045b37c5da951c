package urlsession

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/urlsession-go/urlsession/credstore"
)

// slowDelegate answers challenges, redirects and responses later, handing
// the Decision to the test; it records the other tasks' completions.
type slowDelegate struct {
	decisions chan *Decision
	mu        sync.Mutex
	completed map[string]error
	proposed  *http.Request
	data      map[string]int
}

func newSlowDelegate() *slowDelegate {
	return &slowDelegate{decisions: make(chan *Decision, 4), completed: map[string]error{}, data: map[string]int{}}
}

func (d *slowDelegate) TaskDidReceiveChallenge(s *Session, t *Task, c *Challenge) (AuthChallengeDisposition, *Credential) {
	if c.ProtectionSpace.AuthenticationMethod == credstore.AuthMethodServerTrust {
		return PerformDefaultHandling, nil
	}
	if t.Later() != c.Later() {
		panic("Task.Later and Challenge.Later differ")
	}
	d.decisions <- c.Later()
	return CancelAuthenticationChallenge, nil // ignored: the Decision answers
}

func (d *slowDelegate) WillPerformHTTPRedirection(s *Session, t *Task, resp *http.Response, req *http.Request) *http.Request {
	if t.TaskDescription() == "slow redirect" {
		d.mu.Lock()
		d.proposed = req
		d.mu.Unlock()
		d.decisions <- t.Later()
		return nil
	}
	return req
}

func (d *slowDelegate) DidReceiveResponse(s *Session, t *DataTask, resp *http.Response) ResponseDisposition {
	if t.TaskDescription() == "slow response" {
		d.decisions <- t.Later()
		return ResponseAllow
	}
	return ResponseAllow
}

func (d *slowDelegate) DidReceiveData(s *Session, t *DataTask, data []byte) {
	d.mu.Lock()
	d.data[t.TaskDescription()] += len(data)
	d.mu.Unlock()
}

func (d *slowDelegate) DidCompleteWithError(s *Session, t *Task, err error) {
	d.mu.Lock()
	d.completed[t.TaskDescription()] = err
	d.mu.Unlock()
}

// TestSlowChallengeDoesNotHoldOtherTasks: a challenge answered later leaves
// the session's queue free: another task receives its data and completes
// meanwhile; the deferred answer then completes the first task.
func TestSlowChallengeDoesNotHoldOtherTasks(t *testing.T) {
	as := &authServer{user: "u", password: "p", realm: "r"}
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("plain body")) })
	mux := http.NewServeMux()
	mux.Handle("/auth", as)
	mux.Handle("/plain", plain)
	bothProtocols(t, mux, func(t *testing.T, srv *server) {
		d := newSlowDelegate()
		s := newSession(t, srv.config(), d)
		slow := s.DataTask(get(t, srv.URL+"/auth"))
		slow.SetTaskDescription("slow")
		slow.Resume()
		decision := <-d.decisions
		if decision == nil {
			t.Fatal("Later returned nil inside the challenge callback")
		}
		other := s.DataTask(get(t, srv.URL+"/plain"))
		other.SetTaskDescription("other")
		other.Resume()
		wait(t, other) // would never return if the queue waited for the challenge
		d.mu.Lock()
		got, done := d.data["other"], d.completed
		_, slowDone := done["slow"]
		d.mu.Unlock()
		if got != len("plain body") || slowDone {
			t.Fatalf("other task got %d bytes; slow task completed: %v", got, slowDone)
		}
		if err := decision.Redirect(nil); !errors.Is(err, ErrWrongDecision) {
			t.Errorf("Redirect on a challenge: %v, want ErrWrongDecision", err)
		}
		if err := decision.Challenge(UseCredential, NewCredential("u", "p", credstore.None)); err != nil {
			t.Fatal(err)
		}
		if err := decision.Challenge(UseCredential, nil); !errors.Is(err, ErrDecisionMade) {
			t.Errorf("second decision: %v, want ErrDecisionMade", err)
		}
		wait(t, slow)
		if err := slow.Err(); err != nil || slow.Response().StatusCode != 200 {
			t.Fatalf("slow task: %v", err)
		}
		if slow.Later() != nil {
			t.Error("Later outside a callback is not nil")
		}
	})
}

func TestDecisionLaterForRedirectAndResponse(t *testing.T) {
	bothProtocols(t, capitals, func(t *testing.T, srv *server) {
		d := newSlowDelegate()
		s := newSession(t, srv.config(), d)

		red := s.DataTask(get(t, srv.URL+"/302?location=jsonBody"))
		red.SetTaskDescription("slow redirect")
		red.Resume()
		dec := <-d.decisions
		d.mu.Lock()
		proposed := d.proposed
		d.mu.Unlock()
		go dec.Redirect(proposed) // answered from another goroutine
		wait(t, red)
		if err := red.Err(); err != nil || red.Response().StatusCode != 200 {
			t.Fatalf("redirect: %v %v", red.Response(), err)
		}
		// The request answered is the one asked about: refuse instead.
		red2 := s.DataTask(get(t, srv.URL+"/302?location=jsonBody"))
		red2.SetTaskDescription("slow redirect")
		red2.Resume()
		(<-d.decisions).Redirect(nil)
		wait(t, red2)
		if red2.Err() != nil || red2.Response().StatusCode != 302 {
			t.Fatalf("refused redirect: %v %v", red2.Response(), red2.Err())
		}

		resp := s.DataTask(get(t, srv.URL+"/jsonBody"))
		resp.SetTaskDescription("slow response")
		resp.Resume()
		(<-d.decisions).Response(ResponseCancel)
		wait(t, resp)
		if !errors.Is(resp.Err(), ErrCancelled) {
			t.Fatalf("cancelled response: %v", resp.Err())
		}
	})
}

// TestDecisionPendingTaskCancels: cancelling a task that waits for a
// Decision ends it; making the Decision afterwards does no harm.
func TestDecisionPendingTaskCancels(t *testing.T) {
	as := &authServer{user: "u", password: "p", realm: "r"}
	bothProtocols(t, as, func(t *testing.T, srv *server) {
		d := newSlowDelegate()
		s := newSession(t, srv.config(), d)
		task := s.DataTask(get(t, srv.URL))
		task.SetTaskDescription("slow")
		task.Resume()
		dec := <-d.decisions
		task.Cancel()
		wait(t, task)
		if !errors.Is(task.Err(), ErrCancelled) {
			t.Fatalf("err %v", task.Err())
		}
		if err := dec.Challenge(UseCredential, nil); err != nil {
			t.Errorf("late decision: %v", err)
		}
	})
}
