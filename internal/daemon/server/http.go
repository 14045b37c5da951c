//go:build unix

package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/store"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	p := api.Prefix
	mux.HandleFunc("GET "+p+"/info", s.handleInfo)
	mux.HandleFunc("GET "+p+"/sessions", s.handleSessions)
	mux.HandleFunc("GET "+p+"/sessions/{id}", s.handleSession)
	mux.HandleFunc("POST "+p+"/sessions/{id}/attach", s.handleAttach)
	mux.HandleFunc("GET "+p+"/sessions/{id}/events", s.handleEvents)
	mux.HandleFunc("POST "+p+"/sessions/{id}/ack", s.handleAck)
	mux.HandleFunc("GET "+p+"/jobs", s.handleJobs)
	mux.HandleFunc("POST "+p+"/jobs", s.handleCreate)
	mux.HandleFunc("GET "+p+"/jobs/{id}", s.handleJob)
	mux.HandleFunc("POST "+p+"/jobs/{id}/{action}", s.handleAction)
	mux.HandleFunc("POST "+p+"/jobs/{id}/begin", s.handleBegin)
	mux.HandleFunc("GET "+p+"/watch", s.handleWatch)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path), Status: http.StatusNotFound})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

// writeError answers with an api.ErrorBody; errors that are not an
// *api.Error are the daemon's own failures (500) and keep their detail
// in the log only.
func writeError(w http.ResponseWriter, err error) {
	var ae *api.Error
	if !errors.As(err, &ae) {
		ae = &api.Error{Code: api.CodeInternal, Message: "the daemon failed; see its log", Status: http.StatusInternalServerError}
		if errors.Is(err, store.ErrNotFound) {
			ae = &api.Error{Code: api.CodeNotFound, Message: "not found", Status: http.StatusNotFound}
		}
	}
	data, _ := json.Marshal(api.ErrorBody{Error: *ae})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ae.Status)
	w.Write(append(data, '\n'))
}

func badRequest(err error) error {
	if errors.Is(err, api.ErrTooLarge) {
		return &api.Error{Code: api.CodeTooLarge, Message: err.Error(), Status: http.StatusRequestEntityTooLarge}
	}
	return &api.Error{Code: api.CodeBadRequest, Message: err.Error(), Status: http.StatusBadRequest}
}

// jsonBody checks that a request with a body says it is JSON.
func jsonBody(r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil // curl -d sends a form type; an absent type is accepted
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && mt != "application/x-www-form-urlencoded") {
		return &api.Error{Code: api.CodeUnsupported, Message: "the body must be application/json", Status: http.StatusUnsupportedMediaType}
	}
	return nil
}

func (s *Server) logError(r *http.Request, err error) {
	var ae *api.Error
	if !errors.As(err, &ae) {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.Info{Version: api.Version, PID: os.Getpid(), Socket: s.cfg.Socket, Store: s.st.Path()})
}

func (s *Server) sessionInfo(ctx context.Context, id string) (api.Session, error) {
	sess, err := s.st.Session(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return sess, notFound("session", id)
	}
	if err != nil {
		return sess, err
	}
	sess.Attached = s.Attached(id)
	return sess, nil
}

func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) {
	all, err := s.st.Sessions(r.Context())
	if err != nil {
		s.logError(r, err)
		writeError(w, err)
		return
	}
	for i := range all {
		all[i].Attached = s.Attached(all[i].ID)
	}
	if all == nil {
		all = []api.Session{}
	}
	writeJSON(w, http.StatusOK, all)
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	sess, err := s.sessionInfo(r.Context(), r.PathValue("id"))
	if err != nil {
		s.logError(r, err)
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Jobs(r.URL.Query().Get("session")))
}

func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	j, err := s.Job(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	if err := jsonBody(r); err != nil {
		writeError(w, err)
		return
	}
	n, err := api.DecodeNewJob(r.Body)
	if err != nil {
		writeError(w, badRequest(err))
		return
	}
	j, err := s.CreateJob(r.Context(), n)
	if err != nil {
		s.logError(r, err)
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, j)
}

func (s *Server) handleBegin(w http.ResponseWriter, r *http.Request) {
	if err := jsonBody(r); err != nil {
		writeError(w, err)
		return
	}
	b, err := api.DecodeBegin(r.Body)
	if err != nil {
		writeError(w, badRequest(err))
		return
	}
	j, err := s.Begin(r.Context(), r.PathValue("id"), b)
	if err != nil {
		s.logError(r, err)
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) handleAction(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var (
		j   api.Job
		err error
	)
	switch r.PathValue("action") {
	case "pause":
		j, err = s.Pause(r.Context(), id)
	case "resume":
		j, err = s.Resume(r.Context(), id)
	case "cancel":
		j, err = s.Cancel(r.Context(), id)
	default:
		err = &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no action %q: want pause, resume or cancel", r.PathValue("action")), Status: http.StatusNotFound}
	}
	if err != nil {
		s.logError(r, err)
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

// eventPage is how many events one GET or one stream read takes.
const eventPage = 500

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	after, limit := int64(0), eventPage
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, badRequest(fmt.Errorf("after %q is not a sequence number", v)))
			return
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > eventPage {
			writeError(w, badRequest(fmt.Errorf("limit %q: want 1 to %d", v, eventPage)))
			return
		}
		limit = n
	}
	if _, err := s.sessionInfo(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	evs, more, err := s.st.Events(r.Context(), id, after, limit)
	if err != nil {
		s.logError(r, err)
		writeError(w, err)
		return
	}
	if evs == nil {
		evs = []api.Event{}
	}
	writeJSON(w, http.StatusOK, api.Events{Events: evs, More: more})
}

func (s *Server) handleAck(w http.ResponseWriter, r *http.Request) {
	if err := jsonBody(r); err != nil {
		writeError(w, err)
		return
	}
	a, err := api.DecodeAck(r.Body)
	if err != nil {
		writeError(w, badRequest(err))
		return
	}
	id := r.PathValue("id")
	if err := s.Ack(r.Context(), id, a.Through); err != nil {
		s.logError(r, err)
		writeError(w, err)
		return
	}
	sess, err := s.sessionInfo(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

// sse writes server-sent events.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) (*sse, error) {
	f, ok := w.(http.Flusher)
	if !ok {
		return nil, errors.New("the connection cannot stream")
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return &sse{w: w, f: f}, nil
}

// send writes one event; id is omitted when empty.
func (e *sse) send(kind, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if id != "" {
		if _, err := fmt.Fprintf(e.w, "id: %s\n", id); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", kind, data); err != nil {
		return err
	}
	e.f.Flush()
	return nil
}

// keepAlive is how often a quiet stream gets a comment line, so that a
// vanished peer is noticed.
const keepAlive = 30 * time.Second

func (s *Server) handleAttach(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := api.ValidateIdentifier(id); err != nil {
		writeError(w, badRequest(err))
		return
	}
	if err := jsonBody(r); err != nil {
		writeError(w, err)
		return
	}
	a, err := api.DecodeAttach(r.Body)
	if err != nil {
		writeError(w, badRequest(err))
		return
	}
	peer, _ := peerFrom(r.Context())
	att := &attachment{peer: peer, notify: make(chan struct{}, 1)}
	s.mu.Lock()
	ss := s.sessionLocked(id)
	if ss.attached != nil {
		other := ss.attached.peer.PID
		s.mu.Unlock()
		writeError(w, conflict("session %q is attached to another process (pid %d); one process per identifier", id, other))
		return
	}
	err = s.st.PutSession(r.Context(), api.Session{ID: id, LaunchCommand: a.LaunchCommand, SendsLaunchEvents: a.SendsLaunchEvents})
	if err != nil {
		s.mu.Unlock()
		s.logError(r, err)
		writeError(w, err)
		return
	}
	ss.attached = att
	s.mu.Unlock()
	s.log.Info("attached", "session", id, "pid", peer.PID)
	defer func() {
		s.mu.Lock()
		if ss.attached == att {
			ss.attached = nil
		}
		s.mu.Unlock()
		s.poke()
		s.log.Info("detached", "session", id, "pid", peer.PID)
	}()
	sess, err := s.sessionInfo(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	s.mu.Lock()
	s.askAgainLocked(r.Context(), id, sess.AckedSeq)
	s.mu.Unlock()
	stream, err := startSSE(w)
	if err != nil {
		writeError(w, err)
		return
	}
	if stream.send("attached", "", sess) != nil {
		return
	}
	cursor := a.After
	replayed := false
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		evs, more, err := s.st.Events(r.Context(), id, cursor, eventPage)
		if err != nil {
			if r.Context().Err() == nil {
				s.logError(r, err)
			}
			return
		}
		for _, e := range evs {
			if stream.send("event", strconv.FormatInt(e.Seq, 10), e) != nil {
				return
			}
			cursor = e.Seq
		}
		if more {
			continue
		}
		if !replayed {
			replayed = true
			if stream.send("replayed", "", api.Replayed{Through: cursor}) != nil {
				return
			}
		}
		for waiting := true; waiting; {
			select {
			case <-r.Context().Done():
				return
			case <-att.notify:
				waiting = false
			case <-tick.C:
				if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
					return
				}
				stream.f.Flush()
			}
		}
	}
}

// watcher receives job snapshots for a watch stream.
type watcher struct {
	session string
	ch      chan api.Job
}

// publishLocked sends a job's state to the watchers; a watcher that is
// behind misses the update (the next one carries the newer state).
func (s *Server) publishLocked(j *api.Job) {
	for w := range s.watchers {
		if w.session != "" && w.session != j.Session {
			continue
		}
		c := *j
		c.ResumeData = nil
		select {
		case w.ch <- c:
		default:
		}
	}
}

func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) {
	wt := &watcher{session: r.URL.Query().Get("session"), ch: make(chan api.Job, 256)}
	s.mu.Lock()
	s.watchers[wt] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, wt)
		s.mu.Unlock()
	}()
	stream, err := startSSE(w)
	if err != nil {
		writeError(w, err)
		return
	}
	for _, j := range s.Jobs(wt.session) {
		j.ResumeData = nil
		if stream.send("job", "", j) != nil {
			return
		}
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case j := <-wt.ch:
			if stream.send("job", "", j) != nil {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			stream.f.Flush()
		}
	}
}
