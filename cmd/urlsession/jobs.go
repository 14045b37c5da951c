//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
	daemonclient "github.com/urlsession-go/urlsession/internal/daemon/client"
)

// daemonWait bounds how long the command waits for the daemon to answer,
// a started one included.
const daemonWait = 15 * time.Second

// background hands the download to the daemon and prints the job's ID.
func (c *client) background(ctx context.Context) *failure {
	if f := statusFailure(checkBackgroundURL(c.o.url)); f != nil {
		return f
	}
	req, _, err := c.request(ctx)
	if f := statusFailure(err); f != nil {
		return f
	}
	if err != nil {
		return failureOf(err, false)
	}
	n, err := c.backgroundJob(req)
	if f := statusFailure(err); f != nil {
		return f
	}
	if err != nil {
		return failureOf(err, false)
	}
	ctx, cancel := context.WithTimeout(ctx, daemonWait)
	defer cancel()
	cl, err := daemonclient.Start(ctx, daemonclient.StartOptions{})
	if err != nil {
		return &failure{status: exitNoDaemon, code: exitNoDaemon, msg: err.Error()}
	}
	defer cl.Close()
	j, err := cl.CreateJob(ctx, n)
	if err != nil {
		return &failure{status: exitFailure, code: exitFailure, msg: err.Error()}
	}
	fmt.Fprintln(c.stdout, j.ID)
	return nil
}

// runJobs runs "urlsession jobs ..." (args after "jobs") and returns the
// exit status.
func runJobs(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("urlsession jobs", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var (
		session       string
		asJSON, help  bool
		positional    []string
		failStatus    int
		reportFailure = func(status int, msg string) {
			fmt.Fprintf(stderr, "urlsession: (%d) %s\n", status, msg)
			failStatus = max(failStatus, status)
		}
	)
	fs.StringVar(&session, "session", "", "")
	fs.BoolVar(&asJSON, "json", false, "")
	fs.BoolVar(&help, "h", false, "")
	fs.BoolVar(&help, "help", false, "")
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			reportFailure(exitUsage, flagError(err, args))
			return exitUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	if help {
		io.WriteString(stdout, jobsUsage)
		return exitOK
	}
	if session != "" {
		if err := api.ValidateIdentifier(session); err != nil {
			reportFailure(exitUsage, "option --session: "+err.Error())
			return exitUsage
		}
	}
	verb := ""
	if len(positional) > 0 {
		verb, positional = positional[0], positional[1:]
	}
	switch verb {
	case "", "watch":
		if len(positional) > 0 {
			reportFailure(exitUsage, fmt.Sprintf("jobs %s takes no argument, got %q", verb, positional[0]))
			return exitUsage
		}
	case "clear":
		if len(positional) > 0 || session == "" {
			reportFailure(exitUsage, "jobs clear takes --session SESSION and no job ID")
			return exitUsage
		}
	case "pause", "resume", "cancel":
		if len(positional) == 0 {
			reportFailure(exitUsage, fmt.Sprintf("jobs %s needs the ID of a job (the first column of urlsession jobs)", verb))
			return exitUsage
		}
		if session != "" {
			reportFailure(exitUsage, fmt.Sprintf("jobs %s takes job IDs, not --session", verb))
			return exitUsage
		}
	default:
		reportFailure(exitUsage, fmt.Sprintf("jobs: unknown command %q (want watch, pause, resume, cancel or clear)", verb))
		return exitUsage
	}

	switch verb {
	case "":
		dctx, cancel := context.WithTimeout(ctx, daemonWait)
		defer cancel()
		cl, err := daemonclient.Dial(dctx, api.SocketPath())
		var jobs []api.Job
		switch {
		case err != nil && noDaemon(err):
			// Nothing runs, nothing to list; a daemon is not started
			// for this.
		case err != nil:
			reportFailure(exitNoDaemon, err.Error())
			return failStatus
		default:
			defer cl.Close()
			if jobs, err = cl.Jobs(dctx, session); err != nil {
				reportFailure(exitFailure, err.Error())
				return failStatus
			}
		}
		if asJSON {
			out := make([]api.Job, 0, len(jobs))
			for _, j := range jobs {
				out = append(out, publicJob(j))
			}
			b, _ := json.MarshalIndent(out, "", "  ")
			fmt.Fprintf(stdout, "%s\n", b)
			return exitOK
		}
		writeTable(stdout, jobs, time.Now())
		return exitOK

	case "watch":
		dctx, cancel := context.WithTimeout(ctx, daemonWait)
		cl, err := daemonclient.Dial(dctx, api.SocketPath())
		cancel()
		if err != nil {
			if noDaemon(err) {
				reportFailure(exitNoDaemon, "urlsessiond is not running: no jobs to watch")
			} else {
				reportFailure(exitNoDaemon, err.Error())
			}
			return failStatus
		}
		defer cl.Close()
		return watchJobs(ctx, cl, session, asJSON, stdin, stdout, reportFailure, failStatus)
	}

	dctx, cancel := context.WithTimeout(ctx, daemonWait)
	defer cancel()
	// The daemon keeps the jobs in its store: one that is not running
	// is started to act on them.
	cl, err := daemonclient.Start(dctx, daemonclient.StartOptions{})
	if err != nil {
		reportFailure(exitNoDaemon, err.Error())
		return failStatus
	}
	defer cl.Close()
	if verb == "clear" {
		return clearSession(dctx, cl, session, reportFailure, failStatus)
	}
	act := map[string]func(context.Context, string) (api.Job, error){
		"pause": cl.Pause, "resume": cl.Resume, "cancel": cl.Cancel,
	}[verb]
	var done []api.Job
	for _, id := range positional {
		j, err := act(dctx, id)
		switch {
		case errors.Is(err, api.ErrNotFound):
			reportFailure(exitNoJob, fmt.Sprintf("no job %q", id))
		case err != nil:
			reportFailure(exitFailure, err.Error())
		default:
			done = append(done, publicJob(j))
		}
	}
	if asJSON {
		if done == nil {
			done = []api.Job{}
		}
		b, _ := json.MarshalIndent(done, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return failStatus
}

// clearSession acknowledges every event of a session no process is
// attached to, which makes the daemon forget its completed, failed and
// cancelled jobs.
func clearSession(ctx context.Context, cl *daemonclient.Client, session string, reportFailure func(int, string), failStatus int) int {
	sess, err := cl.Session(ctx, session)
	switch {
	case errors.Is(err, api.ErrNotFound):
		reportFailure(exitNoJob, fmt.Sprintf("no session %q", session))
		return exitNoJob
	case err != nil:
		reportFailure(exitFailure, err.Error())
		return exitFailure
	case sess.Attached:
		reportFailure(exitFailure, fmt.Sprintf("session %q is attached to a running program, which receives its events", session))
		return exitFailure
	}
	if _, err := cl.Ack(ctx, session, sess.LastSeq); err != nil {
		reportFailure(exitFailure, err.Error())
		return exitFailure
	}
	return failStatus
}

// noDaemon reports whether a dial failed because no daemon listens.
func noDaemon(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED)
}

// watchJobs prints the daemon's watch stream until ctx ends (exit 0) or
// the stream does (exit 1). On a terminal the table is redrawn on each
// change; otherwise each change is one line (one JSON object with
// --json). When standard input is a terminal too, the watch also ends
// (exit 0) on q, Q or Ctrl-D, or when the input ends (the terminal
// closed): see watchKeys.
func watchJobs(ctx context.Context, cl *daemonclient.Client, session string, asJSON bool, stdin io.Reader, stdout io.Writer, reportFailure func(int, string), failStatus int) int {
	term := !asJSON && isTerminal(stdout)
	if term {
		var quit context.CancelFunc
		ctx, quit = context.WithCancel(ctx)
		defer quit()
		defer watchKeys(stdin, quit)()
	}
	w, err := cl.Watch(ctx, session)
	if err != nil {
		if ctx.Err() != nil {
			return exitOK
		}
		reportFailure(exitFailure, err.Error())
		return exitFailure
	}
	defer w.Close()
	seen := map[string]api.Job{}
	enc := json.NewEncoder(stdout)
	for {
		j, err := w.Next()
		if err != nil {
			if ctx.Err() != nil {
				return exitOK
			}
			reportFailure(exitFailure, "the daemon ended the watch stream: "+err.Error())
			return exitFailure
		}
		switch {
		case asJSON:
			enc.Encode(publicJob(j))
		case term:
			seen[j.ID] = j
			jobs := make([]api.Job, 0, len(seen))
			for _, j := range seen {
				jobs = append(jobs, j)
			}
			slices.SortFunc(jobs, func(a, b api.Job) int {
				if c := a.Created.Compare(b.Created); c != 0 {
					return c
				}
				return strings.Compare(a.ID, b.ID)
			})
			io.WriteString(stdout, "\x1b[H\x1b[2J") // home, clear
			writeTable(stdout, jobs, time.Now())
		default:
			io.WriteString(stdout, strings.Join(jobRow(j, time.Now()), "  ")+"\n")
		}
	}
}

// writeTable prints jobs as a table: ID, session, URL, state, bytes,
// rate, ETA.
func writeTable(w io.Writer, jobs []api.Job, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSESSION\tURL\tSTATE\tBYTES\tRATE\tETA")
	for _, j := range jobs {
		fmt.Fprintln(tw, strings.Join(jobRow(j, now), "\t"))
	}
	tw.Flush()
}

// jobRow returns the table's columns for a job.
func jobRow(j api.Job, now time.Time) []string {
	state := string(j.State)
	if j.ErrorCode != 0 && j.State != api.Cancelled {
		state += fmt.Sprintf(" (%d)", j.ErrorCode)
	}
	size := "?"
	if j.BytesExpected >= 0 {
		size = formatBytes(j.BytesExpected)
	}
	bytes := formatBytes(j.BytesDone) + "/" + size
	rate, eta := "-", "-"
	if j.State == api.Running && j.Rate > 0 {
		rate = formatBytes(int64(j.Rate)) + "/s"
		if j.BytesExpected >= j.BytesDone {
			left := time.Duration(float64(j.BytesExpected-j.BytesDone) / j.Rate * float64(time.Second))
			eta = left.Round(time.Second).String()
		}
	}
	if j.State == api.Waiting && !j.NextAttempt.IsZero() {
		eta = "retry in " + max(j.NextAttempt.Sub(now), 0).Round(time.Second).String()
	}
	return []string{j.ID, j.Session, api.RedactedURL(j.Request.URL), state, bytes, rate, eta}
}

// publicJob returns a job as the command prints it with --json: without
// its resume data, the URL's password masked and the values of
// Authorization, Proxy-Authorization, Cookie and Set-Cookie, in the
// request's header and in the response's, replaced by "(redacted)".
func publicJob(j api.Job) api.Job {
	j.ResumeData = nil
	if u, err := url.Parse(j.Request.URL); err == nil && u.User != nil {
		j.Request.URL = u.Redacted()
	}
	j.Request.Header = redactHeader(j.Request.Header)
	if j.Response != nil {
		r := *j.Response
		r.Header = redactHeader(r.Header)
		if u, err := url.Parse(r.URL); err == nil && u.User != nil {
			r.URL = u.Redacted()
		}
		j.Response = &r
	}
	return j
}

// redactHeader returns a copy of h with the values of the fields that
// carry credentials replaced by "(redacted)"; nil for nil.
func redactHeader(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	h = h.Clone()
	for k, vs := range h {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie":
			for i := range vs {
				vs[i] = "(redacted)"
			}
		}
	}
	return h
}

// watchKeys, when stdin is a terminal, reads it for the keys that end a
// watch: q, Q and Ctrl-D, or the end of the input, each of which calls
// quit. The terminal is switched to non-canonical mode without echo, so
// that a key counts without Enter and does not show, keeping its signal
// keys (Ctrl-C still interrupts); the returned function puts the
// terminal back as it was. Where the mode cannot be switched, a key
// counts once Enter is pressed.
func watchKeys(stdin io.Reader, quit func()) (restore func()) {
	f, ok := stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return func() {}
	}
	restore, err := cbreak(int(f.Fd()))
	if err != nil {
		restore = func() {}
	}
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := f.Read(buf)
			for _, c := range buf[:n] {
				if c == 'q' || c == 'Q' || c == 0x04 {
					quit()
					return
				}
			}
			if err != nil {
				quit()
				return
			}
		}
	}()
	return restore
}
