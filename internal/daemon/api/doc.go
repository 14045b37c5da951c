// Package api defines urlsessiond's wire format: HTTP/1.1 with JSON
// bodies on a Unix socket, readable with curl --unix-socket. It holds the
// types both sides share, their validation, and strict decoders.
//
// # Transport and versions
//
// The socket is SocketPath(): $XDG_RUNTIME_DIR/urlsession/urlsessiond.sock,
// or os.TempDir()/urlsession-<uid>/urlsessiond.sock when XDG_RUNTIME_DIR is
// unset. The socket is 0600 in a 0700 directory, and the daemon answers
// only processes of its own uid (SO_PEERCRED). Every route starts with
// /v1 (Prefix); a change an older peer would misread takes a new number,
// and GET /v1/info reports the daemon's Version.
//
// Bodies are JSON objects decoded strictly: at most MaxBody (4 MiB)
// bytes, no unknown fields, nothing after the value; the daemon refuses
// anything else with 400 (413 when too large, 415 for a Content-Type other
// than application/json; curl's default form type and an absent type are
// accepted). Times are RFC 3339, byte strings (resume data) base64. Error
// answers carry ErrorBody:
//
//	{"error": {"code": "conflict", "message": "session \"app\" is attached to another process (pid 4242); one process per identifier"}}
//
// with the codes bad_request (400), not_found (404), conflict (409),
// too_large (413), unsupported (415), too_many (429: the limit of
// unfinished jobs, 10,000 by default), internal (500), shutting_down (503).
// Error messages never contain request headers, URL credentials or query
// strings.
//
// # Routes
//
//	GET  /v1/info                      Info
//	GET  /v1/sessions                  []Session
//	GET  /v1/sessions/{id}             Session
//	POST /v1/sessions/{id}/attach      Attach → event stream (see below)
//	GET  /v1/sessions/{id}/events      ?after=N&limit=M (1–500) → Events
//	POST /v1/sessions/{id}/ack         Ack → Session
//	GET  /v1/jobs                      ?session=ID → []Job, oldest first
//	POST /v1/jobs                      NewJob → 201 Job
//	GET  /v1/jobs/{id}                 Job
//	POST /v1/jobs/{id}/pause           → Job
//	POST /v1/jobs/{id}/resume          → Job
//	POST /v1/jobs/{id}/cancel          → Job
//	POST /v1/jobs/{id}/begin           Begin → Job (answers a begin-delayed event)
//	GET  /v1/watch                     ?session=ID → job stream
//
// Pause and cancel of a running job answer at once with the job as it is
// then; its state becomes paused or cancelled when the transfer has
// stopped into its resume data (watch the job or poll it). Resume queues a
// paused or waiting job at once; it runs when the scheduler has room.
//
// # Destinations
//
// A download's body goes to File, the daemon's own file unless NewJob
// names one. A NewJob with a Destination (an absolute, clean path; a
// download only) asks the daemon to put the complete file there itself:
// when the body is complete in File, it is renamed to Destination (on
// another file system: copied to a temporary file in Destination's
// directory, synced, then renamed), replacing whatever is at that path,
// and the directory is synced. Destination therefore never holds a
// partial body, and is left alone until the download completes. The
// finish-downloading event names Destination, where the file stays; the
// process does not move it. When the move fails (the directory is gone or
// not writable, Destination is a directory) the job fails with error code
// -3005 (cannot move file), at once and without retrying, and the body
// stays complete in File (the job's "file"), from where it can be moved
// by hand. The file is the daemon's (mode 0600) whether or not something
// was at Destination before.
//
// An upload's body is read from File, the client's file. With owns_file
// the client hands the file to the daemon: a file written for the job
// (the body that resume data of an upload from memory kept), which the
// daemon removes when it forgets the job, unless the job ended with
// resume data, which names the file.
//
// # Streams
//
// Attach and watch answer with server-sent events (text/event-stream).
// The attach stream first sends "attached" with the Session, then every
// waiting event with a sequence number above Attach.After, in order, then
// new ones as they happen, each as
//
//	id: 12
//	event: event
//	data: {"seq":12,"session":"app","job":"3f9a0c1d2e4b","kind":"complete","time":"2026-11-30T20:00:00Z","status_code":200}
//
// When every event that waited at attach time has been sent, the stream
// sends, once,
//
//	event: replayed
//	data: {"through":12}
//
// after which the process delivers DidFinishEventsForBackgroundSession
// (as soon as it has handled those events). The session counts as
// attached while the stream's connection is open:
// one process per identifier (a second attach gets 409), detached when
// the connection drops, however the process ended. Events stay until
// acknowledged with POST /v1/sessions/{id}/ack {"through": N}, which
// deletes every event up to N; an event is acknowledged only after its
// callback has returned, so a process killed inside a callback gets that
// event again. Sequence numbers grow per session and are never reused;
// progress events are coalesced (only the newest per job waits), which
// leaves gaps. The watch stream sends "job" events with a Job (without
// resume data): every job first, then each change, progress at most once
// a second per job. Both streams send a comment line every 30 seconds.
//
// Event kinds: write-progress (DidWriteData: bytes_done,
// bytes_expected), send-progress (DidSendBodyData), finish-downloading
// (DidFinishDownloadingTo: file, which the process moves away before
// acknowledging), complete (DidCompleteWithError: error_code 0 for
// success, else a URLError code such as -999 cancelled or -1001 timed
// out, with resume_data where the transfer can continue), begin-delayed
// (willBeginDelayedRequest: a job created with "ask_before_begin" and an
// earliest_begin is due and waits, "asking", for POST
// /v1/jobs/{id}/begin with {"disposition": "continue" | "use-new-request"
// (with "request") | "cancel"}; a process that attaches while it waits
// and the question was acknowledged is asked again). The
// finish-downloading and complete events of a job that ended with a
// response carry its head as "response" (url after redirects, proto,
// status_code, header; bounded as a request's header is), which a Job
// keeps too; a complete event carries the last run's "metrics" (each
// request's method and URL, its response's head, timings and byte
// counts); the complete event of an upload that finished carries the
// response's body as "body" (base64, at most 2 MiB: a larger one fails
// the job with -1103). A NewJob's "description" (the app's taskDescription, at most
// 64 KiB) and "task_identifier" (its taskIdentifier) stay with its Job.
//
// # Examples
//
//	S=$XDG_RUNTIME_DIR/urlsession/urlsessiond.sock
//	curl --unix-socket $S http://localhost/v1/jobs
//	curl --unix-socket $S -d '{"session":"app","kind":"download","request":{"method":"GET","url":"https://example.com/big.iso"}}' http://localhost/v1/jobs
//	curl --unix-socket $S -d '{"session":"cli","kind":"download","destination":"/home/u/big.iso","request":{"url":"https://example.com/big.iso"}}' http://localhost/v1/jobs
//	curl --unix-socket $S -X POST http://localhost/v1/jobs/3f9a0c1d2e4b/pause
//	curl --unix-socket $S 'http://localhost/v1/sessions/app/events?after=0'
//	curl --unix-socket $S -d '{"through":12}' http://localhost/v1/sessions/app/ack
//	curl -N --unix-socket $S http://localhost/v1/watch
//
// A job as GET /v1/jobs/{id} shows it:
//
//	{
//	  "id": "3f9a0c1d2e4b",
//	  "session": "app",
//	  "kind": "download",
//	  "request": {"method": "GET", "url": "https://example.com/big.iso"},
//	  "file": "/home/u/.local/share/urlsession/daemon/downloads/3f9a0c1d2e4b.download",
//	  "state": "running",
//	  "bytes_done": 1048576,
//	  "bytes_expected": 734003200,
//	  "rate": 5242880,
//	  "priority": 0,
//	  "attempts": 1,
//	  "created": "2026-11-30T20:00:00Z",
//	  "deadline": "2026-12-07T20:00:00Z"
//	}
//
// A job's request headers travel to the daemon and back to the processes
// of the same user only; the daemon's log names header fields but never
// shows Authorization, Proxy-Authorization, Cookie or Set-Cookie values
// (Request.LogValue).
package api
