// Package client is the Go client of urlsessiond's socket API (package
// api): it finds, starts and dials the daemon and wraps every route.
//
// # Finding and starting the daemon
//
// Start dials the socket (api.SocketPath unless told otherwise) and, when
// no daemon answers, starts one and waits for it to answer. The daemon's
// executable is, in order: the path in $URLSESSIOND (a bare name is looked
// up on PATH); "urlsessiond" on PATH; "urlsessiond" in the directory of
// the running executable. It starts detached (a session of its own, its
// standard streams on /dev/null), so it outlives the process that started
// it. Two processes starting a daemon at once are harmless: the second
// daemon finds the first one's lock and exits, and both clients reach the
// first.
//
// A Client is safe for concurrent use. Calls return an *api.Error for the
// daemon's refusals (match them with errors.Is and api.ErrConflict,
// api.ErrNotFound, api.ErrBadRequest).
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

// Client talks to one daemon socket.
type Client struct {
	socket string
	hc     *http.Client
	tr     *http.Transport
}

// New returns a Client for the socket at path; it does not connect until
// the first call.
func New(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:       4,
		DisableCompression: true,
	}
	return &Client{socket: socket, tr: tr, hc: &http.Client{Transport: tr}}
}

// Dial returns a Client for the socket at path after checking that a
// daemon of this API version answers there.
func Dial(ctx context.Context, socket string) (*Client, error) {
	c := New(socket)
	info, err := c.Info(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	if info.Version != api.Version {
		c.Close()
		return nil, fmt.Errorf("urlsessiond at %s speaks API version %d, not %d", socket, info.Version, api.Version)
	}
	return c, nil
}

// Socket returns the socket path.
func (c *Client) Socket() string { return c.socket }

// Close closes idle connections; streams close on their own Close.
func (c *Client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// do sends a request and decodes a 2xx JSON answer into out (when not
// nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, api.MaxBody))
		return nil
	}
	if err := api.Decode(resp.Body, api.MaxBody*4, out); err != nil {
		return fmt.Errorf("urlsessiond: %s %s: answer: %w", method, path, err)
	}
	return nil
}

// send sends a request; a non-2xx answer becomes an *api.Error.
func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://urlsessiond"+api.Prefix+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("urlsessiond at %s: %w", c.socket, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var eb api.ErrorBody
	if err := api.Decode(resp.Body, 64<<10, &eb); err != nil || eb.Error.Code == "" {
		return nil, &api.Error{Code: api.CodeInternal, Message: "status " + resp.Status, Status: resp.StatusCode}
	}
	eb.Error.Status = resp.StatusCode
	return nil, &eb.Error
}

// Info returns the daemon's version, pid and paths.
func (c *Client) Info(ctx context.Context) (api.Info, error) {
	var v api.Info
	return v, c.do(ctx, http.MethodGet, "/info", nil, &v)
}

// Sessions lists the sessions the daemon knows.
func (c *Client) Sessions(ctx context.Context) ([]api.Session, error) {
	var v []api.Session
	return v, c.do(ctx, http.MethodGet, "/sessions", nil, &v)
}

// Session returns one session.
func (c *Client) Session(ctx context.Context, id string) (api.Session, error) {
	var v api.Session
	return v, c.do(ctx, http.MethodGet, "/sessions/"+url.PathEscape(id), nil, &v)
}

// Jobs lists the jobs of a session, or of all sessions when session is "".
func (c *Client) Jobs(ctx context.Context, session string) ([]api.Job, error) {
	p := "/jobs"
	if session != "" {
		p += "?session=" + url.QueryEscape(session)
	}
	var v []api.Job
	return v, c.do(ctx, http.MethodGet, p, nil, &v)
}

// Job returns one job.
func (c *Client) Job(ctx context.Context, id string) (api.Job, error) {
	var v api.Job
	return v, c.do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(id), nil, &v)
}

// CreateJob hands a new job to the daemon.
func (c *Client) CreateJob(ctx context.Context, n api.NewJob) (api.Job, error) {
	var v api.Job
	return v, c.do(ctx, http.MethodPost, "/jobs", n, &v)
}

func (c *Client) action(ctx context.Context, id, what string) (api.Job, error) {
	var v api.Job
	return v, c.do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(id)+"/"+what, nil, &v)
}

// Pause stops a job into its resume data until Resume.
func (c *Client) Pause(ctx context.Context, id string) (api.Job, error) {
	return c.action(ctx, id, "pause")
}

// Resume queues a paused or waiting job at once.
func (c *Client) Resume(ctx context.Context, id string) (api.Job, error) {
	return c.action(ctx, id, "resume")
}

// Cancel ends a job with error -999.
func (c *Client) Cancel(ctx context.Context, id string) (api.Job, error) {
	return c.action(ctx, id, "cancel")
}

// Begin answers a job's begin-delayed event (see api.BeginDelayed).
func (c *Client) Begin(ctx context.Context, id string, b api.Begin) (api.Job, error) {
	var v api.Job
	return v, c.do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(id)+"/begin", b, &v)
}

// Events returns up to limit (1 to 500; 0 for 500) waiting events of a
// session after a sequence number.
func (c *Client) Events(ctx context.Context, session string, after int64, limit int) (api.Events, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var v api.Events
	return v, c.do(ctx, http.MethodGet, "/sessions/"+url.PathEscape(session)+"/events?"+q.Encode(), nil, &v)
}

// Ack acknowledges (deletes) a session's events up to through.
func (c *Client) Ack(ctx context.Context, session string, through int64) (api.Session, error) {
	var v api.Session
	return v, c.do(ctx, http.MethodPost, "/sessions/"+url.PathEscape(session)+"/ack", api.Ack{Through: through}, &v)
}

// Attachment is a live attachment to a session: the daemon counts the
// session attached until Close (or until this process dies and the
// connection drops).
type Attachment struct {
	// Session is the session as it was when attached.
	Session api.Session
	resp    *http.Response
	sse     *sseReader
}

// Attach attaches this process to a session and streams its events with
// a sequence number above a.After. A session attached elsewhere gives an
// error matching api.ErrConflict. ctx bounds the whole attachment.
func (c *Client) Attach(ctx context.Context, session string, a api.Attach) (*Attachment, error) {
	resp, err := c.send(ctx, http.MethodPost, "/sessions/"+url.PathEscape(session)+"/attach", a)
	if err != nil {
		return nil, err
	}
	at := &Attachment{resp: resp, sse: newSSEReader(resp.Body)}
	kind, data, err := at.sse.next()
	if err == nil && kind != "attached" {
		err = fmt.Errorf("urlsessiond: attach stream began with %q", kind)
	}
	if err == nil {
		err = api.DecodeBytes(data, &at.Session)
	}
	if err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("urlsessiond: attach: %w", err)
	}
	return at, nil
}

// Next blocks until the next event arrives and returns it; it returns
// io.EOF when the daemon ended the stream, or the error that broke it.
// Once the events that waited at attach time have been returned, Next
// returns one api.Event of kind api.EventsReplayed whose Seq is the last
// of them (or Attach.After when none waited).
func (a *Attachment) Next() (api.Event, error) {
	for {
		kind, data, err := a.sse.next()
		if err != nil {
			return api.Event{}, err
		}
		if kind == "replayed" {
			var r api.Replayed
			if err := api.DecodeBytes(data, &r); err != nil || r.Through < 0 {
				return api.Event{}, fmt.Errorf("urlsessiond: attach stream: bad replayed marker")
			}
			return api.Event{Seq: r.Through, Session: a.Session.ID, Kind: api.EventsReplayed}, nil
		}
		if kind != "event" {
			continue
		}
		e, err := api.DecodeEvent(data)
		if err != nil {
			return api.Event{}, fmt.Errorf("urlsessiond: attach stream: %w", err)
		}
		return *e, nil
	}
}

// Close detaches.
func (a *Attachment) Close() error { return a.resp.Body.Close() }

// Watcher streams job states.
type Watcher struct {
	resp *http.Response
	sse  *sseReader
}

// Watch streams the state of the jobs of a session ("" for all): first
// every job, then each change (progress at most once a second per job).
func (c *Client) Watch(ctx context.Context, session string) (*Watcher, error) {
	p := "/watch"
	if session != "" {
		p += "?session=" + url.QueryEscape(session)
	}
	resp, err := c.send(ctx, http.MethodGet, p, nil)
	if err != nil {
		return nil, err
	}
	return &Watcher{resp: resp, sse: newSSEReader(resp.Body)}, nil
}

// Next blocks until the next job state and returns it.
func (w *Watcher) Next() (api.Job, error) {
	for {
		kind, data, err := w.sse.next()
		if err != nil {
			return api.Job{}, err
		}
		if kind != "job" {
			continue
		}
		var j api.Job
		if err := api.DecodeBytes(data, &j); err != nil {
			return api.Job{}, fmt.Errorf("urlsessiond: watch stream: %w", err)
		}
		return j, nil
	}
}

// Close ends the stream.
func (w *Watcher) Close() error { return w.resp.Body.Close() }

// sseReader reads server-sent events, each line at most api.MaxBody
// bytes.
type sseReader struct {
	sc *bufio.Scanner
}

func newSSEReader(r io.Reader) *sseReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), api.MaxBody+64)
	return &sseReader{sc: sc}
}

// next returns the next event's type and data.
func (r *sseReader) next() (string, []byte, error) {
	var (
		kind string
		data []byte
		any  bool
	)
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case line == "":
			if any {
				return kind, data, nil
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			kind = strings.TrimSpace(line[len("event:"):])
			any = true
		case strings.HasPrefix(line, "data:"):
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, strings.TrimPrefix(line[len("data:"):], " ")...)
			any = true
		case strings.HasPrefix(line, "id:"):
			any = true
		}
	}
	if err := r.sc.Err(); err != nil {
		return "", nil, err
	}
	return "", nil, io.EOF
}
