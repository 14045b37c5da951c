package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/cookiestore"
	"github.com/urlsession-go/urlsession/hsts"
	"github.com/urlsession-go/urlsession/internal/filename"
)

const usageHead = `Usage: urlsession [flags] URL... [flags]

Fetch URL with a urlsession.Session and write the body to standard output.
Flags keep curl's meanings and may come before or after the URL; short
flags combine (-sSf, -sLo file, -ofile); --no-NAME turns a boolean long flag
off (--no-location); "--" ends the flags. A URL without a scheme gets
http://. Several URLs are fetched one after another with the same flags,
cookies passing from one to the next; the exit status is the last one's.

Output:
  -o, --output FILE        write the body to FILE; "-" is standard output.
                           With several URLs, each -o (or -O) is the
                           output of the next URL, as with curl; a URL
                           left without one writes to standard output.
                           A FILE that is not there appears only once the
                           body is complete and verified: it is downloaded
                           to FILE.urlsession-partial beside it, with its
                           resume data in FILE.urlsession-resume, both
                           left for -C - if the run is interrupted or
                           killed. A FILE that is there is opened as curl
                           opens it: through a symlink, into a FIFO or
                           device, an existing file truncated in place
                           (nothing is renamed over it); a failed transfer
                           leaves what arrived. A 304 Not Modified writes
                           no file and leaves FILE as it was (but -i
                           writes the head into it)
  -O, --remote-name        write the body to a file of the current directory
                           named after the URL's last path segment (else
                           its host), made safe: never a path, never
                           hidden; an existing file is overwritten, as
                           with curl
      --remote-name-all    -O for every URL that has no -o or -O of its own
      --output-dir DIR     put the -o and -O files in DIR (not an absolute
                           -o FILE); --create-dirs makes DIR if need be
      --fail-early         with several URLs, stop at the first that fails
  -J, --remote-header-name with -O, take the name from the response's
                           Content-Disposition (filename*, filename) when
                           it gives one; an existing file is never
                           overwritten (status 23)
      --skip-existing      fetch nothing when the -o or -O file is there
      --remove-on-error    on failure, remove the -o or -O file the run
                           wrote to (a regular file) and the partial file
                           and resume data beside it
      --no-clobber         never overwrite a file with -o or -O: write to
                           FILE.1, FILE.2, ... FILE.100 instead
  -C, --continue-at -      continue the -o or -O file (only "-" is taken):
                           from its resume data FILE.urlsession-resume when
                           an earlier run left one (the rest is appended
                           if the server's validators still match, the
                           whole resource fetched again if it changed),
                           else from the file's size with Range, as curl
                           (a 206 from there is appended, a 200 rewrites
                           the file, a 416 for a whole file is success);
                           a new FILE continues from the
                           FILE.urlsession-partial and resume data an
                           interrupted or killed run left
      --retry N            retry a transient failure (time-out, lost
                           connection, HTTP 408, 429, 500, 502, 503, 504)
                           up to N times, waiting 1 s, then 2 s, 4 s ... (at
                           most 10 min) or what Retry-After asks; with an
                           output file a download continues from what
                           arrived where the server allows
      --retry-delay SECONDS
                           wait SECONDS between retries instead of backing
                           off (0: back off)
      --retry-max-time SECONDS
                           make no retry that would start more than
                           SECONDS after the first attempt (0: no limit)
      --retry-connrefused  with --retry, retry a refused connection too
      --retry-all-errors   with --retry, retry every failure, HTTP errors
                           of -f included (never a body already written
                           to standard output or a FIFO)
      --limit-rate RATE    download at most RATE bytes per second (such
                           as 500k or 2M), never in bursts of more than a
                           quarter second's worth; needs -o or -O
      --segments N         fetch the file in N ranges over N connections
                           at once, as aria2c -x N -s N does, when the
                           server offers ranges and a validator (1 to 32);
                           needs -o or -O
      --checksum ALG:HEX   the file's expected digest (sha256:HEX or
                           sha512:HEX, hex or base64); a file that does not
                           match is not kept (exit 32); needs -o or -O
  -D, --dump-header FILE   write the status line and headers of every
                           response, redirects included, to FILE, opened
                           as -o opens it; "-" is standard output
  -R, --remote-time        give the -o or -O file the modification time
                           of the response's Last-Modified
      --create-dirs        create the missing directories of the -o and -D
                           files (mode 0750)
  -i, --include            print the status line and headers before the body
      --show-headers       the same as -i
  -f, --fail               on HTTP status 400 or more, write no body and
                           exit 22
      --fail-with-body     on HTTP status 400 or more, write the body, then
                           exit 22 (not with -f)
  -w, --write-out FORMAT   after the transfer, print FORMAT on standard
                           output (@FILE reads it from FILE, @- from
                           standard input) with curl's variables:
                           %{http_code} %{response_code} %{http_version}
                           %{size_download} %{size_upload} %{size_header}
                           %{time_namelookup} %{time_connect}
                           %{time_appconnect} %{time_pretransfer}
                           %{time_starttransfer} %{time_redirect}
                           %{time_total} %{url} %{url_effective} %{method}
                           %{redirect_url} %{num_redirects} %{content_type}
                           %{remote_ip} %{remote_port} %{local_ip}
                           %{local_port} %{filename_effective} %{exitcode}
                           %{errormsg} %{scheme} %{num_connects}
                           %{num_headers} %{size_request}
                           %{speed_download} %{speed_upload};
                           %{json} (all of them),
                           %{header_json}, %header{NAME}; %{stderr} and
                           %{stdout} switch the stream; %% and \n \r \t \\;
                           an unknown variable is warned about
  -s, --silent             no progress bar, no error message, no warning
  -S, --show-error         with -s, still print the error message
      --stderr FILE        write the messages, -v's output and the progress
                           bar to FILE ("-": standard output)
  -K, --config FILE        read options from FILE where -K stands, one per
                           line as curl writes them (url = "...", header:
                           "N: V", silent; # comments); "-" is standard
                           input, so that secrets stay off the command line
  -g, --globoff            accepted, as curl's: URLs are never globbed
  -q, --disable            accepted, as curl's: no .curlrc is read
      --no-progress-meter  no progress bar (nor -#), but the error messages
                           and warnings -s would hide
  -N, --no-buffer          accepted, as curl's: standard output is written
                           as the body arrives, never held back
  -#, --progress-bar       show the progress bar for a body of any size,
                           even when standard error is not a terminal, and
                           leave it complete on its line at the end
  -v, --verbose            print each request and response head, then the
                           metrics of each transaction, on standard error

Request:
      --url URL            the URL to fetch, given as a flag
  -X, --request METHOD     use METHOD, on every redirect too
  -I, --head               send HEAD and print the status line and headers
  -H, --header "N: V"      add a header (repeatable); "Host: h" sets the
                           host; "N;" sends N with an empty value; "N:"
                           sends no N, not even the Accept: */* and
                           User-Agent sent by default
  -A, --user-agent NAME    send User-Agent NAME ("" sends none)
  -e, --referer URL        send Referer: URL; "URL;auto" (or ";auto") also
                           sets each redirect's Referer to the URL it left
  -r, --range RANGE        ask for part of the body: Range: bytes=RANGE
                           (such as 0-499, 500-, -100 or 0-1,5-9)
      --etag-compare FILE  send If-None-Match with the entity tag FILE
                           holds (none when FILE is not there or empty)
      --etag-save FILE     write the 2xx response's ETag to FILE (empty
                           without one; a 304 leaves FILE as it is)
  -z, --time-cond TIME     ask for the body only if it changed since TIME
                           (If-Modified-Since; "-TIME": only if it did not,
                           If-Unmodified-Since). TIME is a date (HTTP's
                           forms, 2006-01-02, 2006-01-02 15:04:05,
                           20060102, RFC 3339; UTC unless it gives a zone)
                           or else a file, whose modification time is
                           taken; anything else is warned about and sends
                           no condition. A 304 leaves the -o file as it is

Request body (one of -d, -F and -T; none with -I):
  -d, --data DATA          send DATA (POST unless -X); repeated data flags
                           are joined with &; @FILE reads FILE without its
                           CR and LF, @- standard input; data flags send
                           Content-Type application/x-www-form-urlencoded
                           unless -H gives one
      --data-ascii DATA    the same as -d
      --data-binary DATA   as -d, but @FILE is sent as it is (streamed)
      --data-raw DATA      as -d, but DATA is taken as it is: no @FILE
      --data-urlencode DATA
                           as -d, but percent-encoded: CONTENT, =CONTENT and
                           @FILE send CONTENT (FILE's, newlines and all)
                           encoded; NAME=CONTENT and NAME@FILE send NAME=
                           and the encoded content
      --json DATA          as --data-binary, with Content-Type and Accept
                           application/json (unless -H gives them);
                           repeated --json are joined with nothing between
  -G, --get                put the data flags' data in the URL's query
                           (after "&" if it has one) and send GET (HEAD
                           with -I)
      --url-query DATA     add DATA to the URL's query (after "&"), encoded
                           as --data-urlencode encodes it, or as it is with
                           "+" in front; repeatable; the method unchanged
  -F, --form NAME=CONTENT  send a multipart/form-data POST, one part per
                           -F: NAME=text, NAME=@FILE (a file upload, typed
                           by its extension), NAME=<FILE (the file's
                           content as text); "-" is standard input; add
                           ;type=TYPE or ;filename=NAME; double quotes keep
                           a ";" in a value
      --form-string NAME=CONTENT
                           as -F, but CONTENT is taken as it is
  -T, --upload-file FILE   send FILE (streamed) with PUT unless -X; a URL
                           whose path is empty or ends with "/" gets FILE's
                           name appended; "-" streams standard input
                           (chunked) and leaves the URL alone

Transfer:
  -L, --location           follow redirects (without it a 3xx is the
                           response); POST becomes GET on 301, 302 and 303
                           unless -X names the method
      --proto PROTOCOLS    the protocols the URL and its redirects may use:
                           a comma-separated list of http, https, ftp,
                           ftps, ftpes, file, data, ws, wss or all, each
                           added (+ or nothing), removed (-) or made the
                           only one (=), as curl; another is status 1
      --proto-redir PROTOCOLS
                           the protocols a redirect may lead to, written as
                           for --proto (by default http, https and FTP: a
                           redirect to data: is status 1; to file: never)
      --max-redirs N       with -L, fail (status 47) on a redirect after
                           following N; the session never follows more
                           than 16
  -m, --max-time SECONDS   limit the whole transfer (fractions allowed; also
                           the idle limit, which is otherwise 60 s)
  -Y, --speed-limit RATE   fail (28) a transfer that moves fewer than RATE
                           bytes a second over the -y span (30 s unless
                           given)
  -y, --speed-time SECONDS the span -Y averages over (fractions allowed;
                           alone, -Y is 1)
      --connect-timeout SECONDS
                           limit each connection attempt, name resolution
                           included (not the TLS handshake; over HTTP/3,
                           the wait for the server's first packets);
                           status 28
      --max-filesize BYTES fail (status 63) on a body over BYTES (k, M, G
                           suffixes allowed): at once when its length is
                           known, else when it passes BYTES (what came
                           before is written); the decoded size counts
      --resolve HOST:PORT:ADDR[,ADDR]...
                           connect to ADDR (tried in order; IPv6 in []) for
                           HOST:PORT, leaving the Host header and TLS name
                           alone; HOST "*" is any host; repeatable; HTTP/3
                           takes the first ADDR of the IP version allowed
      --connect-to HOST1:PORT1:HOST2:PORT2
                           connect to HOST2:PORT2 for HOST1:PORT1, leaving
                           the Host header and TLS name alone; an empty
                           HOST1 or PORT1 matches any, an empty HOST2 or
                           PORT2 keeps the original; the first entry that
                           matches wins; before --resolve
      --interface SPEC     connect from an interface (NAME or if!NAME;
                           on Linux bound to it, else from its addresses),
                           an address or host name (ADDR or host!ADDR),
                           or both (ifhost!NAME!ADDR); no HTTP/3
      --local-port N[-M]   connect from local port N, or the first free
                           one from N to M; no HTTP/3
  -4, --ipv4               connect over IPv4 only
  -6, --ipv6               connect over IPv6 only (a host without an
                           address of the version asked for is status 6)
      --unix-socket PATH   connect to the Unix domain socket PATH, whatever
                           the URL's host (a Docker daemon's API, say);
                           no proxy, no HTTP/3
      --abstract-unix-socket NAME
                           as --unix-socket, with the socket NAME of
                           Linux's abstract namespace
      --ats-diagnostics    load the URL under App Transport Security and
                           report whether it passes and, if not, the least
                           exception its host needs (Info.plist keys), as
                           Apple's nscurl --ats-diagnostics
      --ats                enforce App Transport Security, as a default
                           urlsession.Configuration does: cleartext http to
                           a public host name fails (-1022, exit 1) before
                           anything is sent, and https needs TLS 1.2 or
                           later with forward secrecy; without it, as with
                           curl, cleartext and older TLS are allowed
      --http1.1            use HTTP/1.1 only (no HTTP/2)
      --http2              HTTP/2 over TLS where the server offers it,
                           HTTP/1.1 otherwise (the default; undoes an
                           earlier --http1.1 or --http3)
      --http3              try HTTP/3 (QUIC over UDP) first for https,
                           on the URL's port and on alternatives the
                           server advertises (Alt-Svc); HTTP/2 or
                           HTTP/1.1 over TCP when the server does not
                           answer within 300 ms or the QUIC handshake
                           fails. Without it HTTP/3 is not used
      --http3-only         HTTP/3 only, no fallback: a server that
                           cannot be reached over QUIC is exit 7, an http
                           URL or a proxy too
  -l, --list-only          for an FTP URL, list names only (NLST, one per
                           line) rather than the full listing
      --ftp-pasv           use passive FTP (EPSV, then PASV): the default
                           and the only mode; --no-ftp-pasv is an error
      --ssl-reqd           for an ftp:// URL, require TLS on the control
                           and data connections (AUTH TLS, as ftpes://);
                           ftps:// is implicit TLS (port 990)
      --compressed         accepted and changes nothing: with or without
                           it the session asks for gzip, deflate and br
                           and writes the body decoded

Authentication:
      --oauth2-bearer TOKEN
                           send Authorization: Bearer TOKEN (RFC 6750) to
                           the server of the URL, as -H would (not to
                           another origin a redirect leads to, unless
                           --location-trusted); -H Authorization wins
  -u, --user USER[:PASSWORD]
                           send USER and PASSWORD to the server of the URL
                           (they win over the URL's own user info and
                           .netrc); without ":PASSWORD" it is asked for on
                           the terminal, without echo; never stored
      --basic              answer Basic only, and send it with the first
                           request without waiting for a 401 (the default)
      --digest             answer Digest only (the first request goes
                           without credentials)
      --anyauth            answer whatever the server offers, strongest
                           first (Negotiate, NTLM, Digest, then Basic)
      --ntlm               answer NTLM (NTLMv2; -u DOMAIN\user:password)
      --negotiate          answer Negotiate (Kerberos) with a ticket from
                           the user's credential cache (kinit)
      --path-as-is         send "/../" and "/./" in the URL's path as they
                           are (by default they are resolved, as curl does)
      --location-trusted   as -L, and send the credentials (and -H
                           Authorization and Cookie) to every host the
                           redirects lead to; without it they go only to
                           the URL's scheme, host and port
  -n, --netrc              take the user and password from ~/.netrc ($NETRC
                           if set): the entry of the URL's host (or of the
                           user the URL names), else "default"; each host
                           after a redirect gets its own entry; a missing
                           file holds no entries, one that does not parse
                           is status 26
      --netrc-file FILE    as -n, reading FILE
      --netrc-optional     as -n, but a password in the URL wins

Proxies (without -x, --socks5-hostname or --pac: the environment, as curl
reads it: http_proxy (never HTTP_PROXY), https_proxy, all_proxy, no_proxy):
  -x, --proxy URL          go through the proxy URL: http://, https:// (TLS
                           to the proxy), socks4://, socks4a://, socks5://
                           or socks5h:// (a4 and 5h: the proxy resolves
                           the host); no scheme is http://, no port 1080
                           (443 for https://); "" turns proxies off
  -U, --proxy-user USER[:PASSWORD]
                           authenticate to the proxy (SOCKS5 user and
                           password; for an HTTP proxy Basic, sent with
                           the first request, or Digest after its 407)
      --proxy-basic        answer the proxy with Basic (the default)
      --proxy-digest       answer the proxy with Digest only
      --proxy-ntlm         answer the proxy with NTLM (NTLMv2; -U
                           DOMAIN\user:password), on the CONNECT of a
                           tunnel (plain http is tunnelled too)
      --noproxy LIST       reach the hosts of LIST directly (commas: "*",
                           domains and their subdomains, addresses, CIDR
                           ranges, HOST:PORT); replaces no_proxy
      --socks5-hostname HOST[:PORT]
                           go through the SOCKS5 gateway HOST, which
                           resolves the host (overrides -x)
      --proxy-insecure     do not verify the https proxy's certificate
      --pac URL            choose the proxies with the PAC file at URL
                           (http, https or file), tried in order

TLS:
  -k, --insecure           do not verify the server's TLS certificate
      --hsts FILE          keep HTTP Strict Transport Security in FILE
                           (curl's format): the hosts an https response
                           names in Strict-Transport-Security, and with
                           includeSubDomains their subdomains, are then
                           reached over https only, redirects included
      --tlsv1.0            use TLS 1.0 or a newer version
      --tlsv1              the same as --tlsv1.0
      --tlsv1.1            use TLS 1.1 or a newer version
      --tlsv1.2            use TLS 1.2 or a newer version
      --tlsv1.3            use TLS 1.3 (of these, the last given wins)
      --tls-max VERSION    use TLS VERSION (1.0, 1.1, 1.2, 1.3) or an
                           older one; "default" lifts the limit
      --pinnedpubkey PINS  refuse a server whose public key is not pinned:
                           PINS is sha256//BASE64[;sha256//BASE64...] or a
                           file holding the key (PEM or DER); every TLS
                           connection is checked, redirects included
                           (status 90)
      --cacert FILE        trust the CA certificates of the PEM bundle
                           FILE instead of the system's (status 77 if it
                           cannot be read)
      --capath DIR         trust the PEM CA certificates of the files in
                           DIR instead of the system's (with --cacert: both)
  -E, --cert FILE[:PASSWORD]
                           send the client certificate of the PEM FILE,
                           with its key from FILE or --key, PASSWORD
                           opening an encrypted key ("\:" is a colon in
                           FILE); status 58 if they cannot be used
      --cert-type TYPE     the type of the -E file: PEM only
      --key FILE           the PEM private key of the -E certificate

Cookies and cache:
  -b, --cookie DATA|FILE   DATA with a "=" ("N1=V1; N2=V2") is sent as the
                           Cookie header (-H Cookie wins); anything else is
                           a cookie file to read (curl's Netscape format,
                           "-" is standard input, a missing file holds no
                           cookies) and turns the cookie engine on;
                           repeatable
  -c, --cookie-jar FILE    turn the cookie engine on and, after the
                           transfer (even a failed one), write every cookie
                           to FILE in curl's Netscape format, opened as -o
                           opens it (a new FILE gets mode 0600); "-" is
                           standard output; a FILE that cannot be written
                           is a warning, not a failure
      --cache              use the shared on-disk HTTP cache, kept between
                           runs; -v tells which responses came from it
      --ephemeral          keep every store in memory and write nothing to
                           disk but what -o, -D and -c ask for (--cache
                           then caches within the run only)

WebSocket and TCP (a ws:// or wss:// URL is a WebSocket):
      --ws-protocol LIST   offer the comma-separated WebSocket subprotocols
                           (-v tells which one the server chose)
      --tcp HOST:PORT      instead of a URL, open a raw TCP stream task,
                           as nc: standard input goes to the server and
                           what it sends to standard output; the run ends
                           once the server closed its side
      --starttls           with --tcp, secure the stream with TLS (the
                           stream task's StartSecureConnection) as soon as
                           it is open; -k, --cacert, -E apply

With a ws:// or wss:// URL each line of standard input is sent as a text
message and each message received is printed on a line of its own; at the
end of standard input the client closes with 1000 (normal closure). -H,
-b, -u, -A, -k, --cacert and --ats apply to the handshake.

Background downloads (urlsessiond; see "urlsession jobs -h"):
      --background SESSION hand the download to the user's urlsessiond
                           daemon under the session identifier SESSION,
                           print the job's ID and exit at once; the
                           download goes on after the command exits (and
                           after a logout or reboot, when the daemon next
                           runs) and appears at the -o FILE only once
                           complete, replacing a file there (a symlink is
                           followed); until then FILE is left alone.
                           Needs -o FILE; takes -H, -A, -e, -X, -r, -L (the
                           daemon always follows redirects), --create-dirs,
                           -s and -S; refuses every other option, -u and -n
                           included (credentials are not handed over). The
                           daemon is started when none answers
                           ($URLSESSIOND, else urlsessiond on PATH, else
                           beside this program); it retries failures and
                           continues interrupted downloads

  -h, --help               print this help
      --version            print the version

Without -b FILE or -c there is no cookie engine: cookies that responses set
are neither kept nor sent back, not even after a redirect. With it, cookies
from every host are kept for the run and sent where they match. Without
--cache nothing is cached. Whatever the run stored is on disk before the
command exits.

With -C - or --retry and an output file that is not a FIFO or device,
the body is downloaded with a download task and written through the output
path once complete (an interrupted run leaves the file as it was, and the
download's resume data and partial file beside it, mode 0600: those two
names are the command's own). Retries of a body already written to
standard output or a FIFO are not made.

A progress bar shows on standard error when it is a terminal (or with -#),
the body does not go to a terminal, -s is not given and the body is over
1 MiB (any size with -#): percentage, bytes received and in all, rate,
time elapsed and left (a download task's from its DidWriteData).

"urlsession jobs" lists the daemon's jobs (ID, session, URL, state, bytes,
rate, time left); "urlsession jobs watch" follows them live; "urlsession
jobs pause|resume|cancel ID..." acts on them: "urlsession jobs -h" tells
more. To fetch a host named "jobs", write http://jobs.

On failure one line goes to standard error: "urlsession: (<code>) <message>",
code being the URLError code, or the exit status when there is none.

Exit status:
`

// usage returns the help text.
func usage() string { return usageHead + exitStatusText() }

// run runs the command with args (without the program name) and returns its
// exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdin, stdout, stderr)
}

// runContext is run with a context whose cancellation (an interrupt) cancels
// the transfer.
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(ctx, args, stdin, stdout, stderr, hooks{})
}

// hooks let tests watch and steer a run without waiting real time.
type hooks struct {
	// sleep waits between retries; nil is sleepContext.
	sleep func(ctx context.Context, d time.Duration) error
	// wrote hears each DidWriteData of a download task: the bytes written
	// so far. It runs on the session's delegate queue.
	wrote func(total int64)
	// now is the retry loop's clock; nil is time.Now.
	now func() time.Time
	// procs, when set, is given the parsed options before the run starts:
	// the command sets the process's GOMAXPROCS there (setProcs), which
	// tests running in the test binary's process must not.
	procs func(o *options)
}

// runWith is runContext with hooks.
func runWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, h hooks) int {
	if len(args) > 0 && args[0] == "jobs" {
		return runJobs(ctx, args[1:], stdin, stdout, stderr)
	}
	o, err := parseArgsFrom(args, stdin)
	if err != nil {
		(&failure{status: exitUsage, code: exitUsage, msg: err.Error()}).report(stderr)
		return exitUsage
	}
	if o.help {
		io.WriteString(stdout, usage())
		return exitOK
	}
	if h.procs != nil {
		h.procs(o)
	}
	if o.version {
		fmt.Fprintf(stdout, "urlsession %s (%s %s/%s)\n", urlsession.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	}
	ask := terminalPassword(stdin, stderr) // the prompt stays on the terminal
	switch o.stderrFile {
	case "":
	case "-":
		stderr = stdout
	default:
		if f, _, err := openOutput(o.stderrFile, openTruncate); err != nil {
			fmt.Fprintf(stderr, "urlsession: WARNING: --stderr %s: %v; messages stay on standard error\n", o.stderrFile, err)
		} else {
			defer f.Close()
			stderr = f
		}
	}
	c := &client{o: o, stdin: stdin, stdout: stdout, stderr: stderr, askPassword: ask, hooks: h}
	if o.hstsFile != "" {
		cache, err := hsts.Open(o.hstsFile)
		if err != nil {
			if !o.silent {
				fmt.Fprintf(stderr, "urlsession: WARNING: --hsts %s: %v; starting with an empty cache, not saved\n", o.hstsFile, err)
			}
			cache = hsts.New()
		}
		c.hsts = cache
		defer func() {
			// Only what changed is written, over what the file holds then.
			if err := cache.Flush(); err != nil && !o.silent {
				fmt.Fprintf(stderr, "urlsession: WARNING: failed to save the HSTS cache in %s: %v\n", o.hstsFile, err)
			}
		}()
	}
	for _, p := range o.protoUnknown {
		if !o.silent {
			fmt.Fprintf(stderr, "urlsession: WARNING: unrecognized protocol %q in --proto or --proto-redir\n", p)
		}
	}
	if len(o.all) > 1 {
		return c.fetchAll(ctx)
	}
	var f *failure
	if o.background != "" {
		f = c.background(ctx)
	} else {
		f = c.fetch(ctx)
	}
	return c.exit(f)
}

// exit reports f (unless -s) and returns the exit status of the run.
func (c *client) exit(f *failure) int {
	if f == nil {
		return exitOK
	}
	if f.msg != "" && (!c.o.silent || c.o.showError) {
		f.report(c.stderr)
	}
	return f.status
}

// fetchAll fetches several URLs one after another, as curl does: each with
// its own output (see outputFor), its own -w and its own error message,
// the cookies of one sent with the next (-b, -c), the -c file written
// once at the end. The exit status is the last URL's; --fail-early stops
// at the first failure.
func (c *client) fetchAll(ctx context.Context) int {
	o := c.o
	run := &runState{}
	ask := c.askPassword
	if ask != nil {
		// The -u password is asked for once, for every URL.
		var once sync.Once
		var password string
		var err error
		ask = func(prompt string) (string, error) {
			once.Do(func() { password, err = c.askPassword(prompt) })
			return password, err
		}
	}
	code := exitOK
	for i := range o.all {
		ci := &client{o: o.forURL(i), stdin: c.stdin, stdout: c.stdout, stderr: c.stderr,
			askPassword: ask, hooks: c.hooks, run: run, hsts: c.hsts}
		code = ci.exit(ci.fetch(ctx))
		run.heads = run.heads || ci.headsWritten
		if ctx.Err() != nil || code != exitOK && o.failEarly {
			break
		}
	}
	if run.cookies != nil && o.cookieJar != "" {
		c.saveCookies(run.cookies)
	}
	return code
}

// runState is what the URLs of one run share.
type runState struct {
	cookies *cookiestore.Store // the cookie storage, made for the first URL
	heads   bool               // an earlier URL wrote to -D: the next ones append
}

// client runs one transfer.
type client struct {
	o              *options
	writeOut       string // the -w format, read from its file for @file
	stdin          io.Reader
	stdout, stderr io.Writer
	auth           *authenticator // set by request
	remoteURL      *url.URL       // -O: the URL the file is named after
	claimed        string         // the file an attempt made with -J or --no-clobber
	run            *runState      // shared with the other URLs of the run; nil for one
	headsWritten   bool           // an attempt wrote to -D
	hsts           *hsts.Store    // --hsts; nil without
	ownContentType bool           // -H gave the Content-Type (set by request)
	wroteOutput    string         // the output file an attempt opened, if any
	kept           bool           // an attempt kept resume data beside the output
	hooks          hooks

	// askPassword asks for the -u password on the terminal; nil when
	// standard input is not one.
	askPassword func(prompt string) (string, error)
}

// uploadBody is the request body: a file or standard input to stream,
// bytes, or none.
type uploadBody struct {
	stdin bool
	file  string
	data  []byte // nil for no body
}

// fetch runs the transfer and returns nil on success.
func (c *client) fetch(ctx context.Context) *failure {
	o := c.o
	if o.tcp == "" {
		if s := urlScheme(o.url); !o.protos.allows(s) {
			return protoDenied(s, "--proto")
		}
	}
	req, body, err := c.request(ctx)
	if f := statusFailure(err); f != nil {
		return f
	}

	c.writeOut = o.writeOut
	if name, ok := strings.CutPrefix(o.writeOut, "@"); ok && err == nil {
		b, rerr := c.readInput(name)
		if rerr != nil {
			err = rerr
		}
		c.writeOut = string(b)
	}

	cfg := c.configuration()
	if o.cookieEngine() {
		var target *url.URL
		if req != nil {
			target = req.URL
		}
		switch {
		case c.run != nil && c.run.cookies != nil:
			cfg.HTTPCookieStorage = c.run.cookies // an earlier URL's
		default:
			cfg.HTTPCookieStorage = c.cookieStore(target)
			if c.run != nil {
				c.run.cookies = cfg.HTTPCookieStorage
			}
		}
		cfg.HTTPCookieAcceptPolicy = urlsession.CookieAcceptAlways // curl keeps cookies from any host
		if o.cookieJar != "" && c.run == nil {
			// Deferred first, so it runs last: after the session is done
			// and after -w, whatever the outcome (as curl).
			defer c.saveCookies(cfg.HTTPCookieStorage)
		}
	}
	if err != nil {
		return failureOf(err, false)
	}
	cfg.UserAgent = "urlsession/" + urlsession.Version
	if o.maxTime > 0 {
		cfg.TimeoutIntervalForResource = o.maxTime
		cfg.TimeoutIntervalForRequest = o.maxTime
	}
	tc, cert, err := c.tlsConfig()
	if err != nil {
		return statusFailure(err)
	}
	if tc != nil {
		cfg.TLSClientConfig = tc
	}
	cfg.TLSMinimumSupportedProtocolVersion = o.tlsMin
	cfg.TLSMaximumSupportedProtocolVersion = o.tlsMax
	c.auth.cert = cert
	if o.pinned != "" {
		pins, err := parsePins(o.pinned)
		if err != nil {
			return &failure{status: exitPinnedKey, code: exitPinnedKey, msg: "--pinnedpubkey: " + err.Error()}
		}
		c.auth.pins = pins // checked in every ServerTrust challenge, through proxies too
	}
	if err := o.proxy.configure(cfg); err != nil {
		return statusFailure(err)
	}
	cfg.DisableHTTP2 = o.http11
	cfg.DisableHTTP3 = o.http3 == http3Off
	cfg.HTTP3Only = o.http3 == http3Only
	if o.http3 == http3Try && req != nil {
		opts, _ := urlsession.OptionsOf(req)
		opts.AssumesHTTP3Capable = true
		req = urlsession.WithOptions(req, opts)
	}
	cfg.DialContext = dialFunc(o, baseDialer(o))
	cfg.DialUDPContext = udpDialFunc(o)
	if o.unixSocket != "" {
		// The socket is the server: no proxy, and no HTTP/3 (UDP).
		cfg.Proxy = urlsession.NoProxy
		cfg.DisableHTTP3 = true
	}
	cfg.ConnectTimeout = o.connectTimeout
	if o.atsDiagnostics {
		return c.atsDiagnostics(ctx, cfg, req)
	}

	switch {
	case o.tcp != "":
		return c.tcpStream(ctx, cfg)
	case isWebSocket(o.url):
		return c.webSocket(ctx, cfg, req)
	}
	if o.remoteName {
		// -O: the URL's file name (-J may take the server's instead), in
		// the current directory.
		c.remoteURL = req.URL
		o.output = remoteFileName(req.URL)
		if o.output == "" && !o.remoteHead {
			return &failure{status: 23, code: 23, msg: "Remote file name has no length!"}
		}
	}
	o.output = o.inOutputDir(o.output)
	if o.skipExisting && o.output != "" && o.output != "-" {
		if _, err := os.Lstat(o.output); err == nil {
			if o.verbose {
				fmt.Fprintf(c.stderr, "* %s is there: skipped (--skip-existing)\n", o.output)
			}
			return nil
		}
	}
	f := c.transferLoop(ctx, cfg, req, body)
	if f != nil && o.removeOnError {
		c.removeOutput()
	}
	return f
}

// removeOutput removes, for --remove-on-error, the output file the run
// wrote to (a regular file only: not standard output, a FIFO or a device)
// and the partial file and resume data it left beside the output.
func (c *client) removeOutput() {
	if c.wroteOutput != "" {
		if fi, err := os.Lstat(c.wroteOutput); err == nil && fi.Mode().IsRegular() {
			os.Remove(c.wroteOutput)
		}
	}
	if out := c.o.output; out != "" && out != "-" {
		for _, suffix := range []string{partialSuffix, resumeSuffix} {
			if fi, err := os.Lstat(out + suffix); err == nil && fi.Mode().IsRegular() {
				os.Remove(out + suffix)
			}
		}
	}
}

// statusFailure returns the failure of a usage error or of an error with
// an exit status of its own; nil for any other error.
func statusFailure(err error) *failure {
	var ue *usageError
	if errors.As(err, &ue) {
		return &failure{status: exitUsage, code: exitUsage, msg: ue.Error()}
	}
	var se *statusError
	if errors.As(err, &se) {
		return &failure{status: se.status, code: se.status, msg: se.msg}
	}
	return nil
}

// invalidate ends the session and returns once what it stored is on disk,
// so that the process can exit: FinishTasksAndInvalidate, the wait for
// DidBecomeInvalidWithError (the session's last callback), then a flush of
// the stores, which waits for their writes still under way. A store that
// cannot be flushed is a warning with -v.
func (c *client) invalidate(s *urlsession.Session, x *transfer, cfg *urlsession.Configuration) {
	s.FinishTasksAndInvalidate()
	<-x.invalidated
	var errs []error
	if cfg.URLCache != nil {
		errs = append(errs, cfg.URLCache.Flush())
	}
	if cfg.HTTPCookieStorage != nil {
		errs = append(errs, cfg.HTTPCookieStorage.Flush())
	}
	if cfg.URLCredentialStorage != nil {
		errs = append(errs, cfg.URLCredentialStorage.Flush())
	}
	if err := errors.Join(errs...); err != nil && c.o.verbose {
		fmt.Fprintf(c.stderr, "* WARNING: the stores could not be saved: %v\n", err)
	}
}

// configuration returns the session configuration for the options: with
// --ephemeral EphemeralConfiguration, whose stores are private and in
// memory; otherwise DefaultConfiguration's settings, whose stores are the
// shared ones. Either way there is no cache without --cache and no cookie
// storage (curl has neither; fetch adds one for -b FILE and -c), the
// credential storage is the configuration's own, and App Transport
// Security is off unless --ats is given.
//
// The non-ephemeral configuration is spelled out rather than taken from
// DefaultConfiguration, which opens all three shared stores and so creates
// the shared cache and cookie database on disk even when they are then
// replaced.
func (c *client) configuration() *urlsession.Configuration {
	var cfg *urlsession.Configuration
	if c.o.ephemeral {
		cfg = urlsession.EphemeralConfiguration()
	} else {
		cfg = &urlsession.Configuration{
			TimeoutIntervalForRequest:     urlsession.DefaultTimeoutIntervalForRequest,
			TimeoutIntervalForResource:    urlsession.DefaultTimeoutIntervalForResource,
			HTTPMaximumConnectionsPerHost: urlsession.DefaultHTTPMaximumConnectionsPerHost,
			URLCredentialStorage:          urlsession.SharedCredentialStorage(),
		}
		if c.o.cache {
			cfg.URLCache = urlsession.SharedURLCache()
			if err := urlsession.SharedStoresError(); err != nil && c.o.verbose {
				fmt.Fprintf(c.stderr, "* shared stores kept in memory only: %v\n", err)
			}
		}
	}
	if !c.o.cache {
		cfg.URLCache = nil
	}
	cfg.HTTPCookieStorage = nil
	// --hsts is the command's own (see client.hsts): as curl, it records
	// the field of every https response, -k or not.
	cfg.HSTSStorage = nil
	// Bodies go as curl sends them, without the fields of resumable
	// uploads (Upload-Complete...), which the library's upload tasks add
	// for servers of the draft and which would make such a server take a
	// form post for the start of an upload.
	cfg.ResumableUploadVersion = -1
	// As curl, cleartext and older TLS are allowed unless --ats asks for
	// Apple's App Transport Security.
	cfg.TransportSecurity.AllowsArbitraryLoads = !c.o.ats
	return cfg
}

// cookieStore returns a fresh memory-only cookie storage holding the
// cookies of the -b files. A file that cannot be read counts as empty, as
// with curl (-v says so); target is the URL fetched, for the file's
// Set-Cookie lines without a Domain.
func (c *client) cookieStore(target *url.URL) *cookiestore.Store {
	s, err := cookiestore.New(cookiestore.Options{})
	if err != nil { // cannot happen without a Path
		panic(err)
	}
	now := time.Now()
	for _, name := range c.o.cookieFiles() {
		var data []byte
		if name == "-" {
			data, err = io.ReadAll(c.stdin)
		} else {
			data, err = readFileLocked(name)
		}
		if err != nil {
			if c.o.verbose {
				fmt.Fprintf(c.stderr, "* WARNING: failed to read cookie file %q: %v\n", name, err)
			}
			continue
		}
		parseCookieFile(data, now).load(s, target)
	}
	return s
}

// saveCookies writes the -c file. A failure is a warning (unless -s), not
// a failed run, as with curl.
func (c *client) saveCookies(s *cookiestore.Store) {
	if err := saveCookieFile(c.o.cookieJar, c.stdout, s.AllCookies(), time.Now()); err != nil && !c.o.silent {
		fmt.Fprintf(c.stderr, "urlsession: WARNING: failed to save cookies in %s: %v\n", c.o.cookieJar, err)
	}
}

// isFTP reports whether u is an FTP URL: ftp, ftps (implicit TLS) or ftpes
// (explicit TLS).
func isFTP(u *url.URL) bool {
	switch strings.ToLower(u.Scheme) {
	case "ftp", "ftps", "ftpes":
		return true
	}
	return false
}

// remoteFileName is curl's -O name for u: the last segment of its path as
// the URL writes it (percent-encoding kept: "/a%20b.txt" names
// "a%20b.txt"), made safe by filename.Sanitize; "" when there is none
// ("http://h/", "http://h/dir/"), which curl refuses.
func remoteFileName(u *url.URL) string {
	p := u.EscapedPath()
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	return filename.Sanitize(p)
}

// squashDotSegments removes the "." and ".." segments of u's path as RFC
// 3986 section 5.2.4 does, as curl does unless --path-as-is: "/a/../b/./c"
// becomes "/b/c". Segments written with percent-encoding ("%2e%2e") are
// not dot segments and stay, as do URLs without a hierarchical path.
func squashDotSegments(u *url.URL) {
	if u.Opaque != "" || !strings.Contains(u.EscapedPath(), ".") {
		return
	}
	escaped := removeDotSegments(u.EscapedPath())
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return
	}
	u.Path, u.RawPath = p, escaped // RawPath keeps the URL's own encoding
}

// removeDotSegments is RFC 3986's remove_dot_segments (section 5.2.4).
func removeDotSegments(in string) string {
	var out []string // output segments, each with its leading "/" if any
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			out = out[:max(len(out)-1, 0)]
		case in == "/..":
			in = "/"
			out = out[:max(len(out)-1, 0)]
		case in == "." || in == "..":
			in = ""
		default:
			end := strings.IndexByte(in[1:], '/') + 1
			if end == 0 {
				end = len(in)
			}
			out = append(out, in[:end])
			in = in[end:]
		}
	}
	return strings.Join(out, "")
}

// hasPrefixFold reports whether s begins with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// request builds the request from the options.
func (c *client) request(ctx context.Context) (*http.Request, uploadBody, error) {
	o := c.o
	var body uploadBody
	raw := o.url
	if !strings.Contains(raw, "://") && !hasPrefixFold(raw, "data:") {
		raw = "http://" + raw // as curl does
	}
	if strings.Contains(raw, " ") {
		// As curl: a space is not part of a URL (write %20, or + in a
		// query), and Go's parser would take it.
		return nil, body, &urlsession.Error{Code: urlsession.ErrBadURL, URL: o.url, Err: errors.New("the URL contains a space")}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, body, &urlsession.Error{Code: urlsession.ErrBadURL, URL: o.url, Err: err}
	}
	if !o.pathAsIs {
		squashDotSegments(u)
	}
	if c.hsts.Upgrade(u, time.Now()) && o.verbose {
		fmt.Fprintf(c.stderr, "* switched from HTTP to HTTPS for %s (HSTS)\n", u.Hostname())
	}
	if isFTP(u) {
		if o.sslReqd && strings.EqualFold(u.Scheme, "ftp") {
			u.Scheme = "ftpes" // AUTH TLS on the control connection, as curl's --ssl-reqd
		}
		if o.listOnly && !strings.Contains(u.EscapedPath(), ";type=") {
			u.Path += ";type=d" // RFC 1738's names-only listing: NLST
			u.RawPath = ""
		}
	}
	if c.auth, err = c.newAuthenticator(u); err != nil {
		return nil, body, err
	}
	if o.upload != "" && o.upload != "-" {
		u = withFileName(u, o.upload)
	}
	var data []byte // the joined data, unless it is streamed
	if len(o.data) > 0 && o.streamedData() == "" {
		if data, err = c.joinData(); err != nil {
			return nil, body, err
		}
	}
	if o.get && len(o.data) > 0 {
		// -G: the data is the query, after the URL's own.
		appendQuery(u, string(data))
		data = nil
	}
	for _, q := range o.urlQuery {
		// --url-query: --data-urlencode's forms, or "+" and the piece as
		// it is, after what the query holds.
		piece := []byte(strings.TrimPrefix(q, "+"))
		if !strings.HasPrefix(q, "+") {
			if piece, err = c.dataBytes(dataArg{q, dataURLEncode}); err != nil {
				return nil, body, err
			}
		}
		if len(piece) > 0 {
			appendQuery(u, string(piece))
		}
	}
	method := o.method
	switch {
	case method != "":
	case o.head:
		method = http.MethodHead
	case o.upload != "":
		method = http.MethodPut
	case data != nil, o.streamedData() != "", len(o.forms) > 0:
		method = http.MethodPost
	default:
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, body, usageErrorf("%v", err) // the URL parsed: the method is bad
	}

	// As with curl, "Name: value" adds a header, "Name;" sends it empty
	// and "Name:" sends no Name header at all, not even the one the
	// command would add (Accept, User-Agent, Cookie from -b).
	h := make(http.Header)
	removed := map[string]bool{}
	for _, line := range o.headers {
		name, value, ok := strings.Cut(line, ":")
		empty := false
		if !ok {
			name, ok = strings.CutSuffix(strings.TrimSpace(line), ";")
			value, empty = "", true
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !isToken(name) || strings.ContainsAny(value, "\r\n\x00") {
			return nil, body, usageErrorf("bad header %q: want \"Name: value\"", line)
		}
		key := http.CanonicalHeaderKey(name)
		if key == "Host" {
			req.Host = value
			continue
		}
		if value == "" && !empty {
			removed[key] = true
			h.Del(key)
			continue
		}
		h.Add(key, value)
	}
	given := func(key string) bool { return removed[key] || len(h[key]) > 0 }
	if o.bearer != "" && !given("Authorization") {
		// Sent as -H Authorization would be: to the URL's origin only,
		// unless --location-trusted.
		h.Set("Authorization", "Bearer "+o.bearer)
	}
	if v := o.cookieString(); v != "" && !given("Cookie") {
		h.Set("Cookie", v) // -H Cookie wins, as with curl
	}
	switch {
	case o.userAgent != nil && !given("User-Agent"):
		h["User-Agent"] = []string{*o.userAgent}
	case removed["User-Agent"]:
		h["User-Agent"] = []string{""} // sends none
	}
	switch {
	case given("Accept"):
	case o.json():
		h.Set("Accept", "application/json")
	default:
		h.Set("Accept", "*/*")
	}
	if o.rangeSpec != "" && !given("Range") {
		h.Set("Range", "bytes="+o.rangeSpec)
	}
	if o.etagComp != "" && !given("If-None-Match") {
		// A file that is not there, or holds no tag, sends none.
		if data, err := os.ReadFile(o.etagComp); err == nil {
			line, _, _ := strings.Cut(string(data), "\n")
			switch tag := strings.TrimSpace(line); {
			case tag == "":
			case !validETag(tag):
				return nil, body, usageErrorf("--etag-compare: %s does not hold an entity tag", o.etagComp)
			default:
				h.Set("If-None-Match", tag)
			}
		}
	}
	if o.timeCond != "" {
		name, when, err := timeCondition(o.timeCond)
		switch {
		case err != nil && !o.silent:
			fmt.Fprintf(c.stderr, "urlsession: WARNING: -z: %v; no time condition\n", err)
		case err == nil && !given(name):
			h.Set(name, when.UTC().Format(http.TimeFormat))
		}
	}
	if ref, _ := strings.CutSuffix(o.referer, ";auto"); ref != "" && !given("Referer") {
		h.Set("Referer", ref)
	}
	c.ownContentType = given("Content-Type")
	if len(o.data) > 0 && !o.get && !given("Content-Type") {
		if o.json() {
			h.Set("Content-Type", "application/json")
		} else {
			h.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	req.Header = h
	c.auth.ownHeader = given("Authorization")
	for _, k := range []string{"Authorization", "Cookie"} {
		if vs := h[k]; len(vs) > 0 {
			if c.auth.restore == nil {
				c.auth.restore = make(http.Header)
			}
			c.auth.restore[k] = vs
		}
	}
	c.auth.authorize(req)

	switch o.upload {
	case "":
	case "-":
		body.stdin = true
		return req, body, nil
	default:
		body.file = o.upload
		return req, body, nil
	}
	if len(o.forms) > 0 {
		var parts []formPart
		for _, a := range o.forms {
			p, warnings, err := parseFormArg(a)
			if err != nil {
				return nil, body, err
			}
			if !o.silent {
				for _, w := range warnings {
					fmt.Fprintf(c.stderr, "urlsession: WARNING: %s\n", w)
				}
			}
			parts = append(parts, p)
		}
		data, ct, err := formBody(parts, c.readInput)
		if err != nil {
			return nil, body, err
		}
		if !given("Content-Type") {
			h.Set("Content-Type", ct)
		}
		body.data = data
		return req, body, nil
	}
	if name := o.streamedData(); name != "" {
		body.file = name
		return req, body, nil
	}
	body.data = data
	return req, body, nil
}

// streamedData returns the file that is the whole body, to be streamed
// rather than read: that of a single --data-binary @file.
func (o *options) streamedData() string {
	if len(o.data) != 1 || o.get || o.data[0].kind != dataBinary {
		return ""
	}
	name, ok := strings.CutPrefix(o.data[0].value, "@")
	if !ok || name == "-" {
		return ""
	}
	return name
}

// joinData returns the data of -d and its variants, joined as curl joins
// them: with "&" between them, but --json pieces concatenated.
func (c *client) joinData() ([]byte, error) {
	b := []byte{}
	for i, d := range c.o.data {
		p, err := c.dataBytes(d)
		if err != nil {
			return nil, err
		}
		if i > 0 && d.kind != dataJSON {
			b = append(b, '&')
		}
		b = append(b, p...)
	}
	return b, nil
}

// dataBytes returns the bytes a data argument stands for.
func (c *client) dataBytes(d dataArg) ([]byte, error) {
	switch d.kind {
	case dataRaw:
		return []byte(d.value), nil
	case dataURLEncode:
		// content, =content, name=content, @file, name@file: the first
		// "=" or "@" decides.
		i := strings.IndexAny(d.value, "=@")
		if i < 0 {
			return []byte(curlFormEscape(d.value)), nil
		}
		name, content := d.value[:i], d.value[i+1:]
		if d.value[i] == '@' {
			b, err := c.readInput(content)
			if err != nil {
				return nil, err
			}
			content = string(b)
		}
		if name == "" {
			return []byte(curlFormEscape(content)), nil
		}
		return []byte(name + "=" + curlFormEscape(content)), nil
	}
	name, fromFile := strings.CutPrefix(d.value, "@")
	if !fromFile {
		return []byte(d.value), nil
	}
	b, err := c.readInput(name)
	if err != nil {
		return nil, err
	}
	if d.kind == dataPlain {
		b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r"), nil), []byte("\n"), nil)
	}
	return b, nil
}

// appendQuery adds piece to u's query, after "&" if it holds something.
func appendQuery(u *url.URL, piece string) {
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += piece
}

// readInput reads the file name, or standard input for "-". Its error is
// an *urlsession.Error with the code for the failure (exit status 26).
func (c *client) readInput(name string) ([]byte, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(c.stdin)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		code := urlsession.ErrCannotOpenFile
		switch {
		case errors.Is(err, fs.ErrNotExist):
			code = urlsession.ErrFileDoesNotExist
		case errors.Is(err, fs.ErrPermission):
			code = urlsession.ErrNoPermissionsToReadFile
		default:
			if fi, serr := os.Stat(name); serr == nil && fi.IsDir() {
				code = urlsession.ErrFileIsDirectory
			}
		}
		return nil, &urlsession.Error{Code: code, Err: err}
	}
	return b, nil
}

// isToken reports whether s is a valid header field name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}
