// Command urlsession is a curl-like command-line HTTP client built on package
// urlsession (github.com/urlsession-go/urlsession), a Go implementation of
// Apple's URLSession.
//
// Usage:
//
//	urlsession [flags] URL... [flags]
//
// It fetches URL with a session and writes the response body to standard
// output, streaming it as it arrives; several URLs are fetched one after
// another, each -o or -O naming the output of the next, as with curl. Where curl has a flag, the command
// gives it curl's meaning and default; flags may come before or after the
// URL, short ones may be combined (-sSf, -sLo file) and --no-NAME turns a
// boolean long flag off. Run "urlsession --help" for the list of flags; the
// README's section "The command-line client" is the manual.
//
// As with curl, redirects are followed only with -L (-X then names the
// method of every hop), Accept: */* is sent unless -H gives an Accept, and
// compressed bodies (gzip, deflate, br) are decoded, with or without
// --compressed (which is accepted and changes nothing). Also as with curl,
// plain http loads from any host: App Transport Security, which a
// urlsession.Configuration enforces by default, is on only with --ats.
//
// Every file the command writes (-o, -D, -c) is opened as curl opens it:
// through the path given, following a symbolic link, writing into a FIFO
// or device, truncating an existing file in place. Nothing is renamed over
// the path and no other file is made next to it, so that a user's file, a
// link or /dev/null is never replaced. A transfer that fails part way
// leaves what arrived, as curl does; one that fails before the first byte
// has not touched the file, and neither has a 304 Not Modified (unless -i
// puts the head in it).
//
// -O names the file after the URL (-J after Content-Disposition) in the
// current directory, never outside it. With -C - or --retry and an output
// file, the body is downloaded with a download task and written through the
// path once complete; an interrupted download leaves the file as it was and
// keeps the task's partial file and resume data beside it
// (FILE.urlsession-partial and FILE.urlsession-resume, mode 0600, the only
// names the command makes next to a file), from which -C - continues with
// DownloadTaskWithResumeData. Without resume data -C - asks for the rest of
// the file with Range, as curl does. --retry retries transient failures
// with backoff, honouring Retry-After.
//
// As with curl, there is no cookie engine unless asked for: -b "N1=V1; N2=V2"
// (an argument with "=") only sends that Cookie header, while -b FILE reads
// cookies from FILE and -c FILE writes every cookie to FILE after the
// transfer, even a failed one (a file that cannot be written is a warning
// and leaves the exit status alone). Both turn the engine on: a fresh
// memory-only cookie storage that keeps cookies from every host, redirects
// included, and sends them where they match. The files are in curl's
// Netscape format (domain, include-subdomains, path, secure, expiry, name
// and value separated by tabs; "#HttpOnly_" before the domain marks an
// HttpOnly cookie), so they are interchangeable with curl's; "-" is
// standard input for -b and standard output for -c. Runs sharing a cookie
// file lock it while they read and write it.
//
// Nor is there a cache unless --cache is given: it uses the shared on-disk
// cache (urlsession.SharedURLCache), kept between runs, and -v then says
// "served from the local cache" for each response that came from it.
// --ephemeral starts from urlsession.EphemeralConfiguration: every store is
// private and in memory, nothing is written to disk but the files -o, -D and
// -c name, and --cache caches within the run only. Before it exits the
// command invalidates its session, waits for the session's last callback
// and flushes the stores, so that what the run stored is on disk.
//
// As with curl, -u USER:PASSWORD (or the URL's user info, or with -n the
// .netrc entry of the host) answers Basic only, sent with the first request
// without waiting for a 401; --digest answers Digest only and --anyauth
// whatever the server offers, strongest first, each after the server's
// 401. The credentials are the run's own (persistence None): they never
// reach the user's credential storage. A redirect to another scheme, host
// or port does not carry them, unless --location-trusted; .netrc entries
// are looked up for each host. -v shows Authorization and
// Proxy-Authorization with their scheme only ("Basic <redacted>").
// --cacert and --capath replace the system's CA certificates, -E and --key
// give a client certificate (PEM), and --pinnedpubkey pins the server's
// public key on every TLS connection.
//
// With --background SESSION -o FILE, the download is handed to the user's
// urlsessiond daemon (started when none answers: $URLSESSIOND, else
// urlsessiond on PATH, else beside this executable) and the command prints
// the job's ID and exits; the daemon moves the body to FILE only once it
// is complete. "urlsession jobs" lists the daemon's jobs, "urlsession jobs
// watch" follows them and "urlsession jobs pause|resume|cancel ID..." acts
// on them, with exit statuses of their own (see "urlsession jobs -h").
//
// On failure urlsession prints one line to standard error,
//
//	urlsession: (<code>) <message>
//
// where code is the URLError code of the failure (such as -1003 for a host
// that cannot be found) or, for failures that have none (-f, usage errors),
// the exit status; -s silences it unless -S is given too. Usage errors name
// the option as given, in curl's words ("option --foo: is unknown").
//
// Exit status, compatible with curl's where one maps:
//
//	  0  success, whatever the HTTP status (unless -f or --fail-with-body)
//	  1  unsupported protocol, or any failure not listed here
//	  2  usage error (unknown flag, bad value, no URL)
//	  3  malformed URL (also a redirect to a malformed location)
//	  6  could not resolve host
//	  7  failed to connect to host (with --background: no daemon answers and none could be started)
//	  8  weird server reply (malformed response)
//	 18  partial file: the body ended before its announced length
//	 22  HTTP status 400 or above with -f or --fail-with-body
//	 23  could not write the output
//	 26  could not read a local file (-d @file, -F, -T, -w @file, .netrc)
//	 28  operation timed out (-m, --connect-timeout, or 60 s without data), or too slow (-Y, -y)
//	 32  the downloaded file does not match its digest (--checksum, or the server's Content-Digest or Repr-Digest)
//	 33  -C -: the server's answer cannot continue the file (a range other than the one asked for)
//	 35  TLS handshake failed
//	 37  could not read the file of a file: URL (missing, a directory, no permission)
//	 45  cannot connect from the interface, address or port asked for (--interface, --local-port)
//	 47  too many redirects (-L with --max-redirs, or the session's limit of 16)
//	 52  empty reply from server
//	 56  failure receiving data (connection lost)
//	 58  problem with the local client certificate (-E, --key)
//	 60  server certificate not trusted or out of date
//	 61  bad content encoding
//	 63  maximum size exceeded (--max-filesize)
//	 65  request body cannot be sent again for a redirect
//	 67  the FTP server refused the login
//	 77  problem reading the CA certificates (--cacert, --capath)
//	 78  the file of an FTP URL does not exist (or is a directory)
//	 90  the server's public key matches no --pinnedpubkey pin
//	130  interrupted (SIGINT or SIGTERM)
package main

import (
	"context"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	os.Exit(runMain(os.Args[1:]))
}

// runMain runs the command with args as main does, SIGINT and SIGTERM
// cancelling the transfer, and returns its exit status.
func runMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first interrupt cancels the transfer; a second one, for a run
	// stuck where cancelling cannot reach (opening a FIFO no one reads),
	// kills the process as it would curl.
	context.AfterFunc(ctx, stop)
	// quic-go writes a line through the log package when the system caps
	// UDP socket buffers below what it asks for (net.core.rmem_max); the
	// command's standard error is for the transfer.
	if _, set := os.LookupEnv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING"); !set {
		os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "1")
	}
	// net/http writes a line through the log package when a server
	// misbehaves between requests (bytes after a response to HEAD, an
	// answer on an idle connection): the transfer's own messages say what
	// went wrong, and a broken server must not write to our standard error.
	log.SetOutput(io.Discard)
	code := runWith(ctx, args, os.Stdin, os.Stdout, os.Stderr, hooks{procs: setProcs})
	stop()
	return code
}

// procsFor returns how many threads should run the Go code of a run of o
// at once (GOMAXPROCS), or 0 to leave the runtime's choice.
//
// A run fetches its URLs one after another, and one transfer is one chain
// of goroutines handing each piece of the body to the next (the
// connection's reader, the task, the output): with more than one thread
// for Go code, every hand-off wakes an idle thread that spins looking for
// work and sleeps again, and that costs more than the hand-off. Over TLS
// and HTTP/2 from nginx on loopback (bench/README.md, "The CLI on one
// thread"), one thread took 0.75 of the CPU time and 0.75 of the wall
// time of two, and over HTTP/1.1 and plain HTTP the same as two. So a
// run takes one thread, except where it has work to run side by side:
// --segments (several connections decrypting at once) and HTTP/3 (whose
// QUIC connection reads, writes and times on goroutines of its own, not
// measured on one thread). A GOMAXPROCS in the environment is the user's
// choice and is kept.
func procsFor(o *options) int {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return 0
	}
	if o.segments > 1 || o.http3 != http3Off {
		return 0
	}
	return 1
}

// setProcs applies procsFor(o) to the process.
func setProcs(o *options) {
	if n := procsFor(o); n > 0 {
		runtime.GOMAXPROCS(n)
	}
}
