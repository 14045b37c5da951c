package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

// backgroundFlags are the flags --background takes (as registered, without
// dashes): what shapes the request of a plain download and where it goes.
// The daemon runs the download with its own session, so everything that
// configures a session (TLS, proxies, cookies, credentials, timeouts,
// protocols) or reads the response as it arrives is refused.
var backgroundFlags = map[string]bool{
	"background": true, "url": true,
	"o": true, "output": true, "create-dirs": true,
	"H": true, "header": true, "A": true, "user-agent": true,
	"e": true, "referer": true, "X": true, "request": true,
	"r": true, "range": true, "L": true, "location": true,
	"s": true, "silent": true, "S": true, "show-error": true,
	"compressed": true,
}

// checkBackground refuses what --background cannot do.
func (o *options) checkBackground() error {
	if err := api.ValidateIdentifier(o.background); err != nil {
		return usageErrorf("option --background: %v", err)
	}
	var refused []string
	for name := range o.given {
		if !backgroundFlags[name] {
			refused = append(refused, flagName(name))
		}
	}
	slices.Sort(refused)
	switch {
	case slices.Contains(refused, "-u") || slices.Contains(refused, "--user") ||
		slices.Contains(refused, "-n") || slices.Contains(refused, "--netrc") ||
		slices.Contains(refused, "--netrc-file") || slices.Contains(refused, "--netrc-optional"):
		return usageErrorf("option --background: credentials (-u, -n) are not handed to the daemon, which would keep them in its job database; it answers challenges from the user's credential storage")
	case len(refused) > 0:
		return usageErrorf("option %s: not with --background (the daemon downloads with its own session; it takes -o, --create-dirs, -H, -A, -e, -X, -r, -L, -s and -S)", refused[0])
	case o.output == "" || o.output == "-":
		return usageErrorf("option --background: needs -o FILE, the file the download appears at when complete")
	case strings.HasSuffix(o.referer, ";auto"):
		return usageErrorf(`option -e: ";auto" is not available with --background`)
	}
	return nil
}

// flagName returns a registered flag's name as written: -x or --name.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

var errURLCredentials = usageErrorf("option --background: credentials in the URL are not handed to the daemon, which would keep them in its job database")

// checkBackgroundURL refuses a URL with user information before anything
// asks for its password.
func checkBackgroundURL(raw string) error {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return errURLCredentials
	}
	return nil
}

// backgroundJob builds the daemon's job for --background: the request as
// an ordinary run would send it and the absolute destination.
func (c *client) backgroundJob(req *http.Request) (api.NewJob, error) {
	o := c.o
	if req.Host != "" && req.Host != req.URL.Host {
		return api.NewJob{}, usageErrorf(`option -H: "Host:" is not available with --background`)
	}
	if req.URL.User != nil {
		return api.NewJob{}, errURLCredentials
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return api.NewJob{}, &urlsession.Error{Code: urlsession.ErrUnsupportedURL, URL: api.RedactedURL(req.URL.String()),
			Err: fmt.Errorf("background downloads take only http and https URLs")}
	}
	h := req.Header.Clone()
	if _, ok := h["User-Agent"]; !ok {
		h.Set("User-Agent", "urlsession/"+urlsession.Version)
	}
	dest, err := backgroundDestination(o.output, o.createDirs)
	if err != nil {
		return api.NewJob{}, err
	}
	n := api.NewJob{
		Session:     o.background,
		Kind:        api.Download,
		Request:     api.Request{Method: req.Method, URL: req.URL.String(), Header: h},
		Destination: dest,
	}
	if err := n.Validate(); err != nil {
		return api.NewJob{}, &statusError{status: exitFailure, msg: err.Error()}
	}
	return n, nil
}

// backgroundDestination returns the absolute path the daemon moves the
// finished download to. A symbolic link is followed to its target, as -o
// writes through one; the path must name a regular file or nothing, in a
// directory that exists (made, 0750, with --create-dirs).
func backgroundDestination(name string, createDirs bool) (string, error) {
	cannot := func(format string, args ...any) error {
		return &statusError{status: 23, msg: fmt.Sprintf("--background: "+format, args...)}
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", cannot("%s: %v", name, err)
	}
	if info, err := os.Lstat(abs); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return "", cannot("%s is a symbolic link that cannot be followed: %v", name, err)
		}
		abs = target
	}
	switch info, err := os.Stat(abs); {
	case err == nil && info.IsDir():
		return "", cannot("%s is a directory", name)
	case err == nil && !info.Mode().IsRegular():
		return "", cannot("%s is not a regular file: the daemon writes whole files only (not a FIFO or device)", name)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", cannot("%s: %v", name, err)
	}
	dir := filepath.Dir(abs)
	switch info, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist) && createDirs:
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return "", cannot("creating %s: %v", dir, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		return "", cannot("the directory %s does not exist (--create-dirs makes it)", dir)
	case err != nil:
		return "", cannot("%s: %v", dir, err)
	case !info.IsDir():
		return "", cannot("%s is not a directory", dir)
	}
	return abs, nil
}

// jobsUsage is the help of "urlsession jobs".
const jobsUsage = `Usage: urlsession jobs [--session SESSION] [--json]
       urlsession jobs watch [--session SESSION] [--json]
       urlsession jobs pause|resume|cancel [--json] ID...
       urlsession jobs clear --session SESSION

Show and steer the background transfers of the user's urlsessiond daemon:
the downloads of "urlsession --background" and of programs' background
sessions.

  jobs                     list the jobs, oldest first: a table of ID,
                           session identifier, URL (without user
                           information and query), state (with the error
                           code of a failure), bytes done/expected, rate
                           and time left. Without a running daemon the
                           table is empty (none is started for it)
  jobs watch               follow the jobs until interrupted (Ctrl-C,
                           exit 0): on a terminal the table is redrawn at
                           each change, otherwise each change is one line
                           (progress at most once a second per job); on a
                           terminal q, Ctrl-D or the terminal closing end
                           it too (exit 0)
  jobs pause ID...         stop jobs into their resume data until resumed
  jobs resume ID...        queue paused or waiting jobs at once
  jobs cancel ID...        end jobs (error -999); a cancelled download
                           never appears at its -o FILE
  jobs clear --session SESSION
                           forget the session's completed, failed and
                           cancelled jobs: acknowledge its events, as a
                           program of that session does once it has
                           handled them. For the sessions of
                           --background, which no program receives; a
                           session attached to a program is refused
      --session SESSION    only the jobs of this session identifier
      --json               print JSON: the list as an array of jobs (as
                           the daemon's API shows them, without resume
                           data, with Authorization, Proxy-Authorization,
                           Cookie and Set-Cookie values and URL passwords
                           masked); watch prints one job per line; pause,
                           resume and cancel print the array of the jobs
                           acted on
  -h, --help               print this help

Completed, failed and cancelled jobs stay listed until the program of
their session has received their events, or until "jobs clear".

pause, resume, cancel and clear start the daemon when none answers (it keeps the
jobs of earlier runs in its store); watch needs a running one. Pause and
cancel of a running job take effect once the transfer has stopped, a
moment later: watch the job to see it.

Exit status:
    0  success
    1  the daemon refused (a job already completed, failed or cancelled)
       or failed
    2  usage error
    4  no job with that ID (the other IDs given are still acted on; the
       highest status wins), or no such session (clear)
    7  no daemon answers (watch), or none could be started (pause,
       resume, cancel, clear)
`
