package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
)

// Version is the version of the wire format. Every route starts with
// "/v" and this number; a change that an older client or daemon would
// misread gets a new number.
const Version = 1

// Prefix is the path prefix of every route of this version.
const Prefix = "/v1"

// Kind is what a job does.
type Kind string

// The kinds of job.
const (
	Download Kind = "download" // GET (or another method) into a file the daemon creates
	Upload   Kind = "upload"   // the body read from a file the app names
)

// State is where a job is in its life. A job starts queued (or paused
// when created so), runs, and ends completed, failed or cancelled; those
// three are final. Waiting means a retry is scheduled after a failure or a
// stall.
//
//	queued ──> running ──> completed | failed | cancelled
//	  ▲  │        │  ▲
//	  │  ▼        ▼  │
//	paused     waiting (retry at NextAttempt)
type State string

// The states of a job.
const (
	Queued    State = "queued"
	Running   State = "running"
	Paused    State = "paused"
	Waiting   State = "waiting"
	Completed State = "completed"
	Failed    State = "failed"
	Cancelled State = "cancelled"
)

// Final reports whether s is a state a job never leaves.
func (s State) Final() bool { return s == Completed || s == Failed || s == Cancelled }

// Valid reports whether s is one of the states above.
func (s State) Valid() bool {
	switch s {
	case Queued, Running, Paused, Waiting, Completed, Failed, Cancelled:
		return true
	}
	return false
}

// Request is the HTTP request of a job. Header never appears in logs: a
// Request logs through LogValue, which names the header fields but shows
// only those that carry no credentials, and drops the URL's user
// information.
type Request struct {
	Method string      `json:"method"`
	URL    string      `json:"url"`
	Header http.Header `json:"header,omitempty"`
}

// Response is the head of a transfer's final response, for the task's
// Response: the status, the protocol, the header fields and the URL that
// answered (after redirects). Its header holds at most MaxHeaderFields
// fields and MaxHeaderBytes bytes (see NewResponse).
type Response struct {
	URL        string      `json:"url"`
	Proto      string      `json:"proto"`
	StatusCode int         `json:"status_code"`
	Header     http.Header `json:"header,omitempty"`
}

// NewResponse returns the head of resp, or nil for nil. Fields beyond the
// bounds are left out, in name order, so that a hostile server cannot make
// a job's record or its events grow without bound.
func NewResponse(resp *http.Response) *Response {
	if resp == nil {
		return nil
	}
	r := &Response{Proto: resp.Proto, StatusCode: resp.StatusCode}
	if resp.Request != nil && resp.Request.URL != nil {
		r.URL = resp.Request.URL.String()
	}
	if len(resp.Header) == 0 {
		return r
	}
	names := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	r.Header = make(http.Header, len(names))
	fields, size := 0, 0
	for _, k := range names {
		for _, v := range resp.Header[k] {
			if fields == MaxHeaderFields || size+len(k)+len(v) > MaxHeaderBytes {
				return r
			}
			fields++
			size += len(k) + len(v)
			r.Header[k] = append(r.Header[k], v)
		}
	}
	return r
}

// Metrics are a finished transfer's metrics, as its runs collected them
// (continuations after checkpoints, and the runs before a retry or a
// pause, since the daemon last started), for the app's
// DidFinishCollectingMetrics: each request sent (its
// method and URL only: no header of the daemon's, credentials included,
// leaves it) with its response's head and timings.
type Metrics struct {
	RedirectCount int           `json:"redirect_count,omitempty"`
	Transactions  []Transaction `json:"transactions,omitempty"`
}

// MaxTransactions bounds the transactions a Metrics carries (the first
// request and at most 16 redirects, with room for authentication legs).
const MaxTransactions = 32

// Append returns the metrics of a job whose earlier runs (the job was
// retried, paused and resumed) collected m and whose latest run collected
// later: the transactions of both in order, the latest MaxTransactions
// kept when there are more, and the latest run's redirect count, which
// its final response was reached with. Either may be nil.
func (m *Metrics) Append(later *Metrics) *Metrics {
	switch {
	case later == nil:
		return m
	case m == nil:
		return later
	}
	txs := append(append([]Transaction(nil), m.Transactions...), later.Transactions...)
	if len(txs) > MaxTransactions {
		txs = txs[len(txs)-MaxTransactions:]
	}
	return &Metrics{RedirectCount: later.RedirectCount, Transactions: txs}
}

// Transaction is one request of a transfer and its response.
type Transaction struct {
	Method   string    `json:"method"`
	URL      string    `json:"url"`
	Response *Response `json:"response,omitempty"`

	FetchStart            time.Time `json:"fetch_start,omitzero"`
	DomainLookupStart     time.Time `json:"domain_lookup_start,omitzero"`
	DomainLookupEnd       time.Time `json:"domain_lookup_end,omitzero"`
	ConnectStart          time.Time `json:"connect_start,omitzero"`
	ConnectEnd            time.Time `json:"connect_end,omitzero"`
	SecureConnectionStart time.Time `json:"secure_connection_start,omitzero"`
	SecureConnectionEnd   time.Time `json:"secure_connection_end,omitzero"`
	RequestStart          time.Time `json:"request_start,omitzero"`
	RequestEnd            time.Time `json:"request_end,omitzero"`
	ResponseStart         time.Time `json:"response_start,omitzero"`
	ResponseEnd           time.Time `json:"response_end,omitzero"`

	NetworkProtocolName string `json:"network_protocol_name,omitempty"`
	RemoteAddr          string `json:"remote_addr,omitempty"`
	LocalAddr           string `json:"local_addr,omitempty"`
	ReusedConnection    bool   `json:"reused_connection,omitempty"`
	ProxyConnection     bool   `json:"proxy_connection,omitempty"`
	TLSVersion          uint16 `json:"tls_version,omitempty"`
	TLSCipherSuite      uint16 `json:"tls_cipher_suite,omitempty"`
	FetchType           int    `json:"fetch_type,omitempty"`

	RequestHeaderBytesSent         int64 `json:"request_header_bytes_sent,omitempty"`
	RequestBodyBytesSent           int64 `json:"request_body_bytes_sent,omitempty"`
	ResponseHeaderBytesReceived    int64 `json:"response_header_bytes_received,omitempty"`
	ResponseBodyBytesReceived      int64 `json:"response_body_bytes_received,omitempty"`
	ResponseBodyBytesAfterDecoding int64 `json:"response_body_bytes_after_decoding,omitempty"`
}

// sensitive are the header fields whose values never appear in logs.
var sensitive = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Set-Cookie":          true,
}

// RedactedURL returns u without user information and without the query,
// which may carry tokens; a URL that does not parse is shown as "(invalid)".
func RedactedURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid)"
	}
	p.User = nil
	if p.RawQuery != "" {
		p.RawQuery = "…"
	}
	p.Fragment = ""
	return p.String()
}

// LogValue implements slog.LogValuer: the method, the redacted URL and
// the header field names, with values only for fields other than
// Authorization, Proxy-Authorization, Cookie and Set-Cookie.
func (r Request) LogValue() slog.Value {
	var names []string
	for k := range r.Header {
		if sensitive[http.CanonicalHeaderKey(k)] {
			names = append(names, k+"=(redacted)")
		} else {
			names = append(names, k)
		}
	}
	return slog.GroupValue(
		slog.String("method", r.Method),
		slog.String("url", RedactedURL(r.URL)),
		slog.String("header", strings.Join(names, ",")),
	)
}

// Job is one transfer the daemon keeps. It is the body of GET
// /v1/jobs/{id} and an element of GET /v1/jobs.
type Job struct {
	ID      string  `json:"id"`
	Session string  `json:"session"`
	Kind    Kind    `json:"kind"`
	Request Request `json:"request"`
	// File is where a download's body goes while it runs (the daemon's
	// own file, handed over in a finish-downloading event) or the file an
	// upload's body is read from.
	File string `json:"file"`
	// Destination, when set, is where a download's file ends: once the
	// body is complete in File the daemon moves it there (see NewJob).
	Destination string `json:"destination,omitempty"`
	// OwnsFile says that an upload's File is the daemon's (see NewJob).
	OwnsFile      bool  `json:"owns_file,omitempty"`
	State         State `json:"state"`
	BytesDone     int64 `json:"bytes_done"`
	BytesExpected int64 `json:"bytes_expected"` // -1 when unknown
	// BytesResumed is, for a job created from resume data, where its
	// first run began: the bytes the server (an upload) or the partial
	// file (a download) already held. -1 until that run reports; 0 for a
	// job created without resume data.
	BytesResumed int64 `json:"bytes_resumed,omitempty"`
	// Response is the head of the final response of the job's last run,
	// once it ended with one.
	Response *Response `json:"response,omitempty"`
	// AskBeforeBegin: the app answers before the job starts (see
	// BeginDelayed); Asking: the job is due and waits for that answer.
	AskBeforeBegin bool `json:"ask_before_begin,omitempty"`
	Asking         bool `json:"asking,omitempty"`
	// DisallowCellular and DisallowExpensive: the job's connections may
	// not leave by a cellular, or a metered, network (the app's
	// configuration's); a refused run fails with -1009 and is retried.
	DisallowCellular  bool `json:"disallow_cellular,omitempty"`
	DisallowExpensive bool `json:"disallow_expensive,omitempty"`
	// ServiceType is the network service type the job's connections are
	// marked with: the raw value of the app's configuration's
	// urlsession.NetworkServiceType (Apple's values); 0 marks nothing.
	ServiceType int `json:"service_type,omitempty"`
	// TaskIdentifier is the identifier of the task that created the job,
	// which the task made when the app reattaches keeps; 0 for none.
	TaskIdentifier int `json:"task_identifier,omitempty"`
	// Description is the app's description of the task (its
	// taskDescription), kept for the task made when the app reattaches.
	Description   string    `json:"description,omitempty"`
	Rate          float64   `json:"rate"` // bytes per second, recent
	EarliestBegin time.Time `json:"earliest_begin,omitzero"`
	Discretionary bool      `json:"discretionary,omitempty"`
	Priority      int       `json:"priority"`
	// ResumeData is what the transfer needs to continue where it
	// stopped; base64 in JSON, empty when there is none.
	ResumeData   []byte    `json:"resume_data,omitempty"`
	ErrorCode    int       `json:"error_code,omitempty"` // URLError code of the last failure
	ErrorMessage string    `json:"error_message,omitempty"`
	StatusCode   int       `json:"status_code,omitempty"` // of the final response
	Attempts     int       `json:"attempts"`
	NextAttempt  time.Time `json:"next_attempt,omitzero"` // when waiting
	Created      time.Time `json:"created"`
	// Deadline is when the daemon gives up (the resource timeout): the
	// job then fails with error code -1001.
	Deadline time.Time `json:"deadline"`
}

// Priority bounds: higher runs first.
const (
	MinPriority = -100
	MaxPriority = 100
)

// NewJob is the body of POST /v1/jobs.
type NewJob struct {
	Session string  `json:"session"`
	Kind    Kind    `json:"kind"`
	Request Request `json:"request"`
	// File: for an upload, the absolute path of the body; for a download,
	// empty (the daemon picks a file) or an absolute path the daemon
	// writes to.
	File string `json:"file,omitempty"`
	// Destination is, for a download, an absolute path where the daemon
	// puts the file once it is complete: renamed from File (or, on
	// another file system, copied to a temporary file in Destination's
	// directory and renamed), replacing what is there, so that
	// Destination never holds a partial body. The finish-downloading
	// event then names Destination, where the file stays. A move that
	// fails fails the job with -3005 (cannot move file) and leaves the
	// body in File. Empty: the file stays in File for the process.
	Destination string `json:"destination,omitempty"`
	// OwnsFile, for an upload, hands File to the daemon: a file written
	// for the job (the body kept in resume data of an upload from memory),
	// which the daemon removes when it forgets the job, unless the job
	// ended with resume data, which names File.
	OwnsFile      bool      `json:"owns_file,omitempty"`
	BytesExpected int64     `json:"bytes_expected,omitempty"`
	EarliestBegin time.Time `json:"earliest_begin,omitzero"`
	Discretionary bool      `json:"discretionary,omitempty"`
	Priority      int       `json:"priority,omitempty"`
	ResumeData    []byte    `json:"resume_data,omitempty"`
	// ResourceTimeout in seconds; 0 means the daemon's default (7 days).
	ResourceTimeout float64 `json:"resource_timeout,omitempty"`
	// Paused creates the job paused, as Apple's tasks start suspended.
	Paused bool `json:"paused,omitempty"`
	// Description is the app's description of the task, at most
	// MaxDescription bytes (see Job.Description).
	Description string `json:"description,omitempty"`
	// TaskIdentifier is the creating task's identifier (see
	// Job.TaskIdentifier); not negative.
	TaskIdentifier int `json:"task_identifier,omitempty"`
	// AskBeforeBegin, with EarliestBegin, has the daemon ask the app
	// before the job starts (see BeginDelayed).
	AskBeforeBegin bool `json:"ask_before_begin,omitempty"`
	// DisallowCellular and DisallowExpensive refuse the job's connections
	// over cellular and metered networks (see Job).
	DisallowCellular  bool `json:"disallow_cellular,omitempty"`
	DisallowExpensive bool `json:"disallow_expensive,omitempty"`
	// ServiceType marks the job's connections (see Job).
	ServiceType int `json:"service_type,omitempty"`
}

// Begin is the body of POST /v1/jobs/{id}/begin: the app's answer to a
// begin-delayed event.
type Begin struct {
	// Disposition is "continue" (start the job), "use-new-request" (start
	// it with Request instead) or "cancel" (cancel it).
	Disposition string `json:"disposition"`
	// Request replaces the job's request with "use-new-request".
	Request *Request `json:"request,omitempty"`
}

// The dispositions of a Begin.
const (
	BeginContinue      = "continue"
	BeginUseNewRequest = "use-new-request"
	BeginCancel        = "cancel"
)

// Validate reports what is wrong with an answer.
func (b *Begin) Validate() error {
	switch b.Disposition {
	case BeginContinue, BeginCancel:
		if b.Request != nil {
			return fmt.Errorf("disposition %q takes no request", b.Disposition)
		}
	case BeginUseNewRequest:
		if b.Request == nil {
			return fmt.Errorf("disposition %q needs the request", b.Disposition)
		}
		return b.Request.Validate()
	default:
		return fmt.Errorf("disposition %q: want %q, %q or %q", b.Disposition, BeginContinue, BeginUseNewRequest, BeginCancel)
	}
	return nil
}

// Limits on what a message may hold.
const (
	MaxBody          = 4 << 20 // bytes of a request or response body
	MaxIdentifier    = 256     // bytes of a session identifier
	MaxURL           = 8 << 10
	MaxHeaderFields  = 200
	MaxHeaderBytes   = 64 << 10 // all names and values together
	MaxResumeData    = 2 << 20
	MaxLaunchArgs    = 64
	MaxLaunchArgSize = 4 << 10
	MaxPath          = 4096
	MaxDescription   = 64 << 10 // bytes of a job's description
	MaxResponseBody  = 2 << 20  // bytes of an upload's response body kept for the app
)

// Validate reports what is wrong with a new job.
func (n *NewJob) Validate() error {
	if err := ValidateIdentifier(n.Session); err != nil {
		return err
	}
	switch n.Kind {
	case Download, Upload:
	default:
		return fmt.Errorf("kind %q: want %q or %q", n.Kind, Download, Upload)
	}
	if err := n.Request.Validate(); err != nil {
		return err
	}
	if n.Kind == Upload && n.File == "" {
		return fmt.Errorf("an upload needs the file its body is read from")
	}
	if n.AskBeforeBegin && n.EarliestBegin.IsZero() {
		return fmt.Errorf("ask_before_begin needs an earliest_begin")
	}
	if n.TaskIdentifier < 0 {
		return fmt.Errorf("task identifier %d is negative", n.TaskIdentifier)
	}
	if len(n.Description) > MaxDescription {
		return fmt.Errorf("description: %d bytes, more than %d", len(n.Description), MaxDescription)
	}
	if n.File != "" {
		if err := validatePath(n.File); err != nil {
			return fmt.Errorf("file: %w", err)
		}
	}
	if n.OwnsFile && n.Kind != Upload {
		return fmt.Errorf("owns_file: only an upload's file can be the daemon's")
	}
	if n.Destination != "" {
		if n.Kind != Download {
			return fmt.Errorf("destination: only a download has one")
		}
		if err := validatePath(n.Destination); err != nil {
			return fmt.Errorf("destination: %w", err)
		}
		if strings.HasSuffix(n.Destination, "/") || path.Clean(n.Destination) != n.Destination {
			return fmt.Errorf("destination: path %q is not a clean file path", n.Destination)
		}
		if n.Destination == n.File {
			return fmt.Errorf("destination: the same path as file")
		}
	}
	if n.BytesExpected < 0 {
		return fmt.Errorf("bytes_expected %d is negative", n.BytesExpected)
	}
	if n.Priority < MinPriority || n.Priority > MaxPriority {
		return fmt.Errorf("priority %d outside [%d, %d]", n.Priority, MinPriority, MaxPriority)
	}
	if len(n.ResumeData) > MaxResumeData {
		return fmt.Errorf("resume data of %d bytes exceeds %d", len(n.ResumeData), MaxResumeData)
	}
	if n.ResourceTimeout < 0 || n.ResourceTimeout > 10*365*24*3600 || n.ResourceTimeout != n.ResourceTimeout {
		return fmt.Errorf("resource_timeout %v seconds out of range", n.ResourceTimeout)
	}
	return nil
}

// Validate reports what is wrong with a request: only http and https
// URLs with a host, a token method, and a bounded header.
func (r *Request) Validate() error {
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	if !isToken(r.Method) {
		return fmt.Errorf("method %q is not a token", r.Method)
	}
	if len(r.URL) > MaxURL {
		return fmt.Errorf("URL of %d bytes exceeds %d", len(r.URL), MaxURL)
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return fmt.Errorf("URL does not parse: %v", RedactedURL(r.URL))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL scheme %q: background transfers take only http and https", u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("URL %s has no host", RedactedURL(r.URL))
	}
	if len(r.Header) > MaxHeaderFields {
		return fmt.Errorf("%d header fields exceed %d", len(r.Header), MaxHeaderFields)
	}
	size := 0
	for k, vs := range r.Header {
		if !isToken(k) {
			return fmt.Errorf("header field name %q is not a token", k)
		}
		size += len(k)
		for _, v := range vs {
			size += len(v)
			if strings.ContainsAny(v, "\r\n\x00") {
				return fmt.Errorf("header field %s has a control character in its value", k)
			}
		}
	}
	if size > MaxHeaderBytes {
		return fmt.Errorf("header of %d bytes exceeds %d", size, MaxHeaderBytes)
	}
	return nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// ValidateIdentifier reports what is wrong with a session identifier:
// 1 to 256 bytes of printable ASCII.
func ValidateIdentifier(id string) error {
	if id == "" {
		return fmt.Errorf("empty session identifier")
	}
	if len(id) > MaxIdentifier {
		return fmt.Errorf("session identifier of %d bytes exceeds %d", len(id), MaxIdentifier)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < ' ' || id[i] >= 0x7f {
			return fmt.Errorf("session identifier has a byte %#x outside printable ASCII", id[i])
		}
	}
	return nil
}

func validatePath(p string) error {
	if len(p) > MaxPath {
		return fmt.Errorf("path of %d bytes exceeds %d", len(p), MaxPath)
	}
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q is not absolute", p)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("path has a NUL byte")
	}
	return nil
}

// Session is a background session the daemon knows: the body of GET
// /v1/sessions/{id} and an element of GET /v1/sessions.
type Session struct {
	ID       string `json:"id"`
	Attached bool   `json:"attached"`
	// LaunchCommand is run, with URLSESSION_IDENTIFIER set to ID, when
	// events wait and no process is attached; empty for none.
	LaunchCommand []string `json:"launch_command,omitempty"`
	// SendsLaunchEvents is Apple's sessionSendsLaunchEvents.
	SendsLaunchEvents bool  `json:"sends_launch_events"`
	PendingEvents     int   `json:"pending_events"`
	LastSeq           int64 `json:"last_seq"`  // sequence number of the newest event
	AckedSeq          int64 `json:"acked_seq"` // events up to here are acknowledged
}

// Attach is the body of POST /v1/sessions/{id}/attach. The response is a
// server-sent event stream that lasts as long as the attachment.
type Attach struct {
	LaunchCommand     []string `json:"launch_command,omitempty"`
	SendsLaunchEvents bool     `json:"sends_launch_events"`
	// After: stream the waiting events with a sequence number above it.
	After int64 `json:"after"`
}

// Validate reports what is wrong with an attach request.
func (a *Attach) Validate() error {
	if len(a.LaunchCommand) > MaxLaunchArgs {
		return fmt.Errorf("launch command of %d arguments exceeds %d", len(a.LaunchCommand), MaxLaunchArgs)
	}
	for i, s := range a.LaunchCommand {
		if len(s) > MaxLaunchArgSize || strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("launch command argument %d is too long or has a NUL byte", i)
		}
	}
	if len(a.LaunchCommand) > 0 {
		if err := validatePath(a.LaunchCommand[0]); err != nil {
			return fmt.Errorf("launch command: %w", err)
		}
	}
	if a.After < 0 {
		return fmt.Errorf("after %d is negative", a.After)
	}
	return nil
}

// EventKind names what an event reports; the names follow Apple's
// delegate callbacks.
type EventKind string

// The kinds of event.
const (
	// WriteProgress is DidWriteData: bytes done and expected. The daemon
	// keeps only the newest undelivered one per job.
	WriteProgress EventKind = "write-progress"
	// SendProgress is DidSendBodyData for uploads, coalesced the same way.
	SendProgress EventKind = "send-progress"
	// FinishDownloading is DidFinishDownloadingTo: File is handed over;
	// the app moves it away before acknowledging the event.
	FinishDownloading EventKind = "finish-downloading"
	// Complete is DidCompleteWithError: ErrorCode 0 for success, else a
	// URLError code with ResumeData where the transfer can continue.
	Complete EventKind = "complete"
	// BeginDelayed is willBeginDelayedRequest: a job created with
	// AskBeforeBegin is due and waits (Job.Asking) for the app's answer,
	// POST /v1/jobs/{id}/begin. A process that attaches while the job
	// still waits, its earlier question acknowledged, is asked again.
	BeginDelayed EventKind = "begin-delayed"
)

// EventsReplayed is not an event of the store but a marker of the attach
// stream: every event that waited when the process attached has been
// sent (Seq is the last of them, or Attach.After when none waited). The
// process delivers DidFinishEventsForBackgroundSession once it has
// handled them. It is sent once per attachment, as the SSE event
// "replayed" with a Replayed body.
const EventsReplayed EventKind = "events-replayed"

// Replayed is the data of the attach stream's "replayed" event.
type Replayed struct {
	Through int64 `json:"through"`
}

// Coalesced reports whether events of kind k replace the undelivered
// event of the same kind and job.
func (k EventKind) Coalesced() bool { return k == WriteProgress || k == SendProgress }

// Valid reports whether k is one of the kinds above.
func (k EventKind) Valid() bool {
	switch k {
	case WriteProgress, SendProgress, FinishDownloading, Complete, BeginDelayed:
		return true
	}
	return false
}

// Event is one delegate callback waiting for a session's process.
type Event struct {
	// Seq increases by one per event of a session, never reused; a
	// coalesced progress event leaves gaps.
	Seq           int64     `json:"seq"`
	Session       string    `json:"session"`
	Job           string    `json:"job"`
	Kind          EventKind `json:"kind"`
	Time          time.Time `json:"time"`
	BytesDone     int64     `json:"bytes_done,omitempty"`
	BytesExpected int64     `json:"bytes_expected,omitempty"`
	// BytesResumed, in progress, finish-downloading and complete events,
	// is the job's BytesResumed (-1 while unknown): progress callbacks of
	// a task made from resume data count from there, and a download's
	// DidResumeAtOffset reports it.
	BytesResumed int64  `json:"bytes_resumed,omitempty"`
	File         string `json:"file,omitempty"`
	StatusCode   int    `json:"status_code,omitempty"`
	// Response, in finish-downloading and complete events of a job that
	// ended with a response, is its head (see Job.Response).
	Response *Response `json:"response,omitempty"`
	// Metrics, in the complete event of a job that ran, are the metrics
	// its runs collected since the daemon last started (see Metrics).
	Metrics *Metrics `json:"metrics,omitempty"`
	// Body, in the complete event of an upload that finished, is the
	// response's body (base64 in JSON), at most MaxResponseBody bytes:
	// the app's DidReceiveData.
	Body         []byte `json:"body,omitempty"`
	ErrorCode    int    `json:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	ResumeData   []byte `json:"resume_data,omitempty"`
}

// Events is the body of GET /v1/sessions/{id}/events.
type Events struct {
	Events []Event `json:"events"`
	// More is true when events beyond the last one wait.
	More bool `json:"more"`
}

// Ack is the body of POST /v1/sessions/{id}/ack: every event of the
// session with a sequence number up to Through has been handled and is
// deleted.
type Ack struct {
	Through int64 `json:"through"`
}

// Info is the body of GET /v1/info.
type Info struct {
	Version int    `json:"version"`
	PID     int    `json:"pid"`
	Socket  string `json:"socket"`
	Store   string `json:"store"`
}

// ErrorBody is the body of every response with a status of 400 or
// above.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error is a refusal from the daemon. Code is one of the constants below;
// Status is the HTTP status it came with (not sent in the body).
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"-"`
}

// Error codes.
const (
	CodeBadRequest  = "bad_request"   // 400: the body or parameters are invalid
	CodeNotFound    = "not_found"     // 404: no such session, job or route
	CodeConflict    = "conflict"      // 409: the session is attached elsewhere, the job is final
	CodeTooLarge    = "too_large"     // 413: the body exceeds MaxBody
	CodeTooMany     = "too_many"      // 429: the daemon holds its limit of unfinished jobs
	CodeUnsupported = "unsupported"   // 415: not application/json
	CodeInternal    = "internal"      // 500: the daemon failed (its store, usually)
	CodeShutdown    = "shutting_down" // 503: the daemon is stopping
)

// Sentinels for errors.Is: an *Error matches the one with its Code.
var (
	ErrBadRequest = &Error{Code: CodeBadRequest}
	ErrNotFound   = &Error{Code: CodeNotFound}
	ErrConflict   = &Error{Code: CodeConflict}
)

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func (e *Error) Error() string {
	return "urlsessiond: " + e.Code + ": " + e.Message
}
