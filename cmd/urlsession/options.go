package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/integrity"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options are the parsed command line.
type options struct {
	url  string
	urls []string // --url
	// all are the URLs of a run that fetches several, one after another
	// (nil for one): url is then the first, and forURL gives each one's
	// options.
	all           []string
	outputs       []outputSpec // -o and -O in the order given: the outputs of the URLs in turn
	remoteNameAll bool         // --remote-name-all: -O for each URL without an output of its own
	remoteHeadAll bool         // -J as given, for the -O URLs of several
	outputDir     string       // --output-dir: the directory of relative -o and -O files
	failEarly     bool         // --fail-early: stop at the first URL that fails

	// The request.
	method    string
	head      bool
	headers   []string
	userAgent *string // nil: not given
	referer   string  // -e, with or without ";auto"
	rangeSpec string  // -r
	timeCond  string  // -z: a date or a file, "-" in front for "not modified since"
	etagComp  string  // --etag-compare: the file whose ETag goes in If-None-Match
	etagSave  string  // --etag-save: the file the response's ETag is written to
	data      []dataArg
	get       bool      // -G: the data goes in the query
	urlQuery  []string  // --url-query: pieces added to the URL's query
	forms     []formArg // -F and --form-string, in order
	upload    string    // -T: a file, "-" for standard input
	cookies   []string  // -b arguments in order: "N=V; ..." strings and files
	cookieJar string    // -c: "" for none, "-" for standard output

	// The transfer.
	location       bool          // -L
	maxRedirs      int           // -1: the session's limit
	maxTime        time.Duration // 0: no overall limit
	speedLimit     int64         // -Y: the least average bytes a second (see lowSpeed)
	bind           bindSpec      // --interface, --local-port
	speedTime      time.Duration // -y: the span it is averaged over
	maxFilesize    int64         // 0: no limit
	connectTimeout time.Duration // 0: none but the request's
	resolve        []resolveEntry
	connectTo      []connectToEntry // --connect-to, in order: the first that matches wins
	ipv4, ipv6     bool
	unixSocket     string // --unix-socket, --abstract-unix-socket ("@" in front): every connection goes there
	insecure       bool
	hstsFile       string   // --hsts: the HSTS cache file
	protos         protoSet // --proto: nil for every protocol
	protosRedir    protoSet // --proto-redir: nil for defaultRedirProtocols
	protoUnknown   []string // protocols --proto or --proto-redir did not know
	tlsMin, tlsMax uint16   // --tlsv1.N, --tls-max: 0 for the session's default
	ats            bool     // --ats: enforce App Transport Security
	atsDiagnostics bool     // --ats-diagnostics: report what ATS says of the URL
	http11         bool
	listOnly       bool // -l: names-only FTP listings (NLST)
	ftpPasv        bool // --ftp-pasv: passive FTP, the only mode there is
	sslReqd        bool // --ssl-reqd: FTP over TLS (AUTH TLS) or fail
	http3          int  // http3Off, http3Try or http3Only
	cache          bool
	ephemeral      bool

	// Sockets.
	tcp         string // --tcp HOST:PORT: a raw stream task instead of a URL
	starttls    bool   // --starttls: TLS on the --tcp stream
	wsProtocols string // --ws-protocol: the subprotocols a WebSocket offers

	// Authentication.
	user            *string     // -u, nil: not given
	bearer          string      // --oauth2-bearer: the token sent as Authorization: Bearer
	authSchemes     authSchemes // --basic, --digest, --anyauth, ...; 0 means Basic
	locationTrusted bool        // --location-trusted
	netrc           bool        // -n
	netrcFile       string      // --netrc-file
	netrcOptional   bool        // --netrc-optional

	// Proxies.
	proxy proxyOptions

	// TLS.
	cacert   string // --cacert
	pinned   string // --pinnedpubkey
	capath   string // --capath
	cert     string // -E: FILE[:PASSWORD]
	certType string // --cert-type
	key      string // --key

	// The output.
	output      string // "" or "-" for standard output
	dumpHeader  string // -D: "" for none, "-" for standard output
	createDirs  bool
	include     bool
	fail        bool
	failBody    bool // --fail-with-body
	writeOut    string
	silent      bool
	progressBar bool // -#
	noMeter     bool // --no-progress-meter: no bar, messages as usual
	remoteName  bool // -O: save under the URL's file name
	remoteHead  bool // -J: with -O, the name from Content-Disposition
	noClobber   bool // --no-clobber: never overwrite; FILE.1 ... instead
	// --skip-existing: no transfer when the output file is there.
	skipExisting bool
	// --remove-on-error: a failed run removes the output it wrote and
	// what it left beside it.
	removeOnError bool
	continueAt    bool // -C -: continue a partial -o/-O file
	remoteTime    bool // -R: give the output file the remote Last-Modified time
	pathAsIs      bool // --path-as-is: send "/../" and "/./" in the path as they are

	retry        int           // --retry: how many times to retry
	retryDelay   time.Duration // --retry-delay: 0 for exponential backoff
	retryMaxTime time.Duration // --retry-max-time: 0 for no limit
	retryRefused bool          // --retry-connrefused: a refused connection is transient too
	retryAll     bool          // --retry-all-errors: every failure is retried
	limitRate    int64         // --limit-rate: bytes per second, 0 for no limit
	segments     int           // --segments: ranges fetched at once
	checksum     string        // --checksum: the file's expected digest
	showError    bool
	stderrFile   string // --stderr: where messages go instead; "-" for standard output
	verbose      bool

	// --background: the session identifier the daemon runs the
	// download in; "" for an ordinary run.
	background string
	// given holds the names of the flags on the command line, as
	// registered (without dashes).
	given map[string]bool

	help    bool
	version bool
}

// cookieString returns the -b arguments that are cookies rather than file
// names (those with "="), joined as one Cookie header value.
func (o *options) cookieString() string {
	var parts []string
	for _, c := range o.cookies {
		if strings.Contains(c, "=") {
			parts = append(parts, c)
		}
	}
	return strings.Join(parts, "; ")
}

// cookieFiles returns the -b arguments that are file names (those without
// "="); "-" is standard input.
func (o *options) cookieFiles() []string {
	var files []string
	for _, c := range o.cookies {
		if !strings.Contains(c, "=") {
			files = append(files, c)
		}
	}
	return files
}

// cookieEngine reports whether the run keeps cookies: with a -b file or
// -c, as curl.
func (o *options) cookieEngine() bool {
	return o.cookieJar != "" || len(o.cookieFiles()) > 0
}

// json reports whether --json was given.
func (o *options) json() bool {
	return slices.ContainsFunc(o.data, func(d dataArg) bool { return d.kind == dataJSON })
}

// dataArg is one argument of -d or of its variants.
type dataArg struct {
	value string
	kind  dataKind
}

// dataKind says how a data argument is read.
type dataKind int

const (
	dataPlain     dataKind = iota // -d, --data-ascii: @file without its CR and LF
	dataBinary                    // --data-binary: @file as it is
	dataRaw                       // --data-raw: no @file
	dataURLEncode                 // --data-urlencode: curl's five forms
	dataJSON                      // --json: @file as it is, no "&" before it
)

// stringList is a repeatable string flag.
type stringList struct{ list *[]string }

func (s stringList) String() string {
	if s.list == nil {
		return ""
	}
	return strings.Join(*s.list, ", ")
}

func (s stringList) Set(v string) error {
	*s.list = append(*s.list, v)
	return nil
}

// dataFlag appends to the shared list of data arguments, so that -d and
// its variants keep their order.
type dataFlag struct {
	list *[]dataArg
	kind dataKind
}

func (d dataFlag) String() string { return "" }

func (d dataFlag) Set(v string) error {
	*d.list = append(*d.list, dataArg{value: v, kind: d.kind})
	return nil
}

// formFlag appends to the list of form arguments, so that -F and
// --form-string keep their order.
type formFlag struct {
	list    *[]formArg
	literal bool
}

func (f formFlag) String() string { return "" }

func (f formFlag) Set(v string) error {
	*f.list = append(*f.list, formArg{value: v, literal: f.literal})
	return nil
}

// resolveFlag parses and appends a --resolve argument.
type resolveFlag struct{ list *[]resolveEntry }

func (r resolveFlag) String() string { return "" }

func (r resolveFlag) Set(v string) error {
	e, ignore, err := parseResolve(v)
	if err == nil && !ignore {
		*r.list = append(*r.list, e)
	}
	return err
}

// sizeFlag parses a non-negative number of bytes with an optional
// suffix, as curl reads them: k or K for KiB, m or M for MiB, g or G for
// GiB.
type sizeFlag struct{ n *int64 }

func (s sizeFlag) String() string { return "" }

func (s sizeFlag) Set(v string) error {
	num, mult := v, int64(1)
	if v != "" {
		switch v[len(v)-1] {
		case 'k', 'K':
			num, mult = v[:len(v)-1], 1<<10
		case 'm', 'M':
			num, mult = v[:len(v)-1], 1<<20
		case 'g', 'G':
			num, mult = v[:len(v)-1], 1<<30
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return errors.New("expected a number of bytes (such as 500, 100k, 2M or 1G)")
	}
	*s.n = n * mult
	return nil
}

// bindFlag parses --interface or --local-port into a bindSpec.
type bindFlag struct {
	b     *bindSpec
	parse func(string, *bindSpec) error
}

func (f bindFlag) String() string     { return "" }
func (f bindFlag) Set(v string) error { return f.parse(v, f.b) }

// secondsFlag parses a non-negative, possibly fractional, number of seconds.
type secondsFlag struct{ d *time.Duration }

func (s secondsFlag) String() string { return "" }

func (s secondsFlag) Set(v string) error {
	var f float64
	if _, err := fmt.Sscanf(v, "%g", &f); err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) ||
		strings.TrimSpace(v) != v {
		return errors.New("expected a non-negative number of seconds")
	}
	if f*float64(time.Second) >= math.MaxInt64 {
		*s.d = 0 // no practical limit
		return nil
	}
	*s.d = time.Duration(f * float64(time.Second))
	return nil
}

// userFlag records -u, even empty.
type userFlag struct{ user **string }

func (u userFlag) String() string { return "" }

func (u userFlag) Set(v string) error {
	*u.user = &v
	return nil
}

// locationTrustedFlag is --location-trusted, which turns -L on (and
// --no-location-trusted off) as with curl.
type locationTrustedFlag struct{ o *options }

func (f locationTrustedFlag) String() string   { return "" }
func (f locationTrustedFlag) IsBoolFlag() bool { return true }

func (f locationTrustedFlag) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	f.o.location, f.o.locationTrusted = b, b
	return nil
}

// userAgentFlag records that -A was given, even empty (which removes the
// header).
type userAgentFlag struct{ ua **string }

func (u userAgentFlag) String() string { return "" }

func (u userAgentFlag) Set(v string) error {
	*u.ua = &v
	return nil
}

// validBearer reports whether tok is an RFC 6750 b64token (letters,
// digits, "-._~+/", then any "="): nothing that could break the header.
func validBearer(tok string) bool {
	body := strings.TrimRight(tok, "=")
	if body == "" {
		return false
	}
	for _, c := range []byte(body) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~+/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// outputSpec is one -o FILE or -O: the output of one URL.
type outputSpec struct {
	file   string // -o FILE
	remote bool   // -O
}

// outputFlag is -o: with one URL the last one given is its output; with
// several, each -o (or -O) is the output of the next URL, as with curl.
type outputFlag struct{ o *options }

func (f outputFlag) String() string { return "" }
func (f outputFlag) Set(v string) error {
	f.o.output = v
	f.o.outputs = append(f.o.outputs, outputSpec{file: v})
	return nil
}

// remoteNameFlag is -O, which outputFlag explains.
type remoteNameFlag struct{ o *options }

func (f remoteNameFlag) String() string   { return "" }
func (f remoteNameFlag) IsBoolFlag() bool { return true }
func (f remoteNameFlag) Set(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	f.o.remoteName = on
	if on {
		f.o.outputs = append(f.o.outputs, outputSpec{remote: true})
	}
	return nil
}

// outputFor returns the output of the i'th URL of several: its -o or -O
// in turn, else -O with --remote-name-all, else standard output.
func (o *options) outputFor(i int) (file string, remote bool) {
	if i < len(o.outputs) {
		return o.outputs[i].file, o.outputs[i].remote
	}
	return "", o.remoteNameAll
}

// forURL returns the options of the i'th URL of several: these, with
// that URL and its output.
func (o *options) forURL(i int) *options {
	c := *o
	c.url = o.all[i]
	c.output, c.remoteName = o.outputFor(i)
	c.remoteHead = o.remoteHeadAll && c.remoteName // -J names -O files only
	return &c
}

// readsStdin reports whether an option reads standard input: -T -, -d @-
// and its kin, -F with @- or <-, -b - and -w @-.
func (o *options) readsStdin() bool {
	if o.upload == "-" || o.writeOut == "@-" || slices.Contains(o.cookies, "-") {
		return true
	}
	for _, d := range o.data {
		switch d.kind {
		case dataRaw:
		case dataURLEncode:
			if urlencodeReadsStdin(d.value) {
				return true
			}
		default:
			if d.value == "@-" {
				return true
			}
		}
	}
	for _, a := range o.forms {
		if p, _, err := parseFormArg(a); err == nil && (p.upload || p.fromFile) && p.content == "-" {
			return true
		}
	}
	for _, q := range o.urlQuery {
		if !strings.HasPrefix(q, "+") && urlencodeReadsStdin(q) {
			return true
		}
	}
	return false
}

// urlencodeReadsStdin reports whether a --data-urlencode (or --url-query)
// argument reads standard input: @- or NAME@-, the first "=" or "@"
// deciding, as dataBytes reads it.
func urlencodeReadsStdin(v string) bool {
	i := strings.IndexAny(v, "=@")
	return i >= 0 && v[i] == '@' && v[i+1:] == "-"
}

// connectToFlag is --connect-to, repeatable.
type connectToFlag struct{ list *[]connectToEntry }

func (f connectToFlag) String() string { return "" }
func (f connectToFlag) Set(v string) error {
	e, err := parseConnectTo(v)
	if err != nil {
		return err
	}
	*f.list = append(*f.list, e)
	return nil
}

// abstractSocketFlag is --abstract-unix-socket NAME: the socket NAME of
// Linux's abstract namespace, which Go spells with "@" in front.
type abstractSocketFlag struct{ p *string }

func (f abstractSocketFlag) String() string { return "" }
func (f abstractSocketFlag) Set(v string) error {
	if v == "" {
		return errors.New("needs a name")
	}
	*f.p = "@" + v
	return nil
}

// inOutputDir returns name inside --output-dir when it is relative (and
// not "-", standard output); otherwise name.
func (o *options) inOutputDir(name string) string {
	if o.outputDir == "" || name == "" || name == "-" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(o.outputDir, name)
}

// tlsMinFlag is --tlsv1.N: the oldest TLS version to use (the last one
// given wins).
type tlsMinFlag struct {
	p       *uint16
	version uint16
}

func (f tlsMinFlag) String() string   { return "" }
func (f tlsMinFlag) IsBoolFlag() bool { return true }
func (f tlsMinFlag) Set(v string) error {
	if on, err := strconv.ParseBool(v); err != nil || !on {
		return errors.New("takes no value")
	}
	*f.p = f.version
	return nil
}

// tlsMaxFlag is --tls-max VERSION: the newest TLS version to use, 1.0 to
// 1.3, or "default".
type tlsMaxFlag struct{ p *uint16 }

func (f tlsMaxFlag) String() string { return "" }
func (f tlsMaxFlag) Set(v string) error {
	switch v {
	case "default":
		*f.p = 0
	case "1.0":
		*f.p = tls.VersionTLS10
	case "1.1":
		*f.p = tls.VersionTLS11
	case "1.2":
		*f.p = tls.VersionTLS12
	case "1.3":
		*f.p = tls.VersionTLS13
	default:
		return fmt.Errorf("unknown TLS version %q (1.0, 1.1, 1.2, 1.3 or default)", v)
	}
	return nil
}

// usageError is a command line that cannot be run: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// newFlagSet returns the flag set that fills o.
func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("urlsession", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	both := func(short, long string, f func(name string)) {
		f(short)
		f(long)
	}
	str := func(p *string, short, long string) {
		both(short, long, func(n string) {
			if n != "" {
				fs.StringVar(p, n, *p, "")
			}
		})
	}
	boolean := func(p *bool, short, long string) {
		both(short, long, func(n string) {
			if n != "" {
				fs.BoolVar(p, n, *p, "")
			}
		})
	}
	var ignored bool
	o.maxRedirs = -1

	both("o", "output", func(n string) { fs.Var(outputFlag{o}, n, "") })
	both("O", "remote-name", func(n string) { fs.Var(remoteNameFlag{o}, n, "") })
	boolean(&o.remoteNameAll, "", "remote-name-all")
	fs.StringVar(&o.outputDir, "output-dir", "", "")
	boolean(&ignored, "g", "globoff") // URLs are never globbed
	boolean(&ignored, "q", "disable") // no .curlrc is read
	boolean(&o.failEarly, "", "fail-early")
	boolean(&o.remoteHead, "J", "remote-header-name")
	boolean(&o.noClobber, "", "no-clobber")
	both("C", "continue-at", func(n string) { fs.Var(continueFlag{&o.continueAt}, n, "") })
	fs.IntVar(&o.retry, "retry", 0, "")
	fs.Var(secondsFlag{&o.retryDelay}, "retry-delay", "")
	fs.Var(secondsFlag{&o.retryMaxTime}, "retry-max-time", "")
	boolean(&o.retryRefused, "", "retry-connrefused")
	boolean(&o.retryAll, "", "retry-all-errors")
	fs.Var(sizeFlag{&o.limitRate}, "limit-rate", "")
	fs.IntVar(&o.segments, "segments", 0, "")
	fs.StringVar(&o.checksum, "checksum", "", "")
	str(&o.dumpHeader, "D", "dump-header")
	boolean(&o.createDirs, "", "create-dirs")
	boolean(&o.include, "i", "include")
	boolean(&o.include, "", "show-headers") // curl 8.10's name for -i
	boolean(&o.skipExisting, "", "skip-existing")
	boolean(&o.removeOnError, "", "remove-on-error")
	boolean(&o.head, "I", "head")
	str(&o.method, "X", "request")
	both("H", "header", func(n string) { fs.Var(stringList{&o.headers}, n, "") })
	both("d", "data", func(n string) { fs.Var(dataFlag{&o.data, dataPlain}, n, "") })
	fs.Var(dataFlag{&o.data, dataPlain}, "data-ascii", "")
	fs.Var(dataFlag{&o.data, dataBinary}, "data-binary", "")
	fs.Var(dataFlag{&o.data, dataRaw}, "data-raw", "")
	fs.Var(dataFlag{&o.data, dataURLEncode}, "data-urlencode", "")
	fs.Var(dataFlag{&o.data, dataJSON}, "json", "")
	boolean(&o.get, "G", "get")
	fs.Var(stringList{&o.urlQuery}, "url-query", "")
	boolean(&o.silent, "s", "silent")
	boolean(&o.progressBar, "#", "progress-bar")
	boolean(&o.noMeter, "", "no-progress-meter")
	boolean(&ignored, "N", "no-buffer") // standard output is never held back
	boolean(&o.showError, "S", "show-error")
	fs.StringVar(&o.stderrFile, "stderr", "", "")
	boolean(&o.verbose, "v", "verbose")
	both("m", "max-time", func(n string) { fs.Var(secondsFlag{&o.maxTime}, n, "") })
	both("Y", "speed-limit", func(n string) { fs.Var(sizeFlag{&o.speedLimit}, n, "") })
	both("y", "speed-time", func(n string) { fs.Var(secondsFlag{&o.speedTime}, n, "") })
	fs.IntVar(&o.maxRedirs, "max-redirs", -1, "")
	fs.Var(secondsFlag{&o.connectTimeout}, "connect-timeout", "")
	fs.Var(sizeFlag{&o.maxFilesize}, "max-filesize", "")
	fs.Var(resolveFlag{&o.resolve}, "resolve", "")
	fs.Var(bindFlag{&o.bind, parseInterface}, "interface", "")
	fs.Var(bindFlag{&o.bind, parseLocalPort}, "local-port", "")
	fs.Var(connectToFlag{&o.connectTo}, "connect-to", "")
	fs.StringVar(&o.unixSocket, "unix-socket", "", "")
	fs.Var(abstractSocketFlag{&o.unixSocket}, "abstract-unix-socket", "")
	boolean(&o.ipv4, "4", "ipv4")
	boolean(&o.ipv6, "6", "ipv6")
	boolean(&o.location, "L", "location")
	fs.Var(locationTrustedFlag{o}, "location-trusted", "")
	boolean(&o.pathAsIs, "", "path-as-is")
	boolean(&o.insecure, "k", "insecure")
	fs.StringVar(&o.hstsFile, "hsts", "", "")
	fs.Var(protoFlag{&o.protos, knownProtocols, &o.protoUnknown}, "proto", "")
	fs.Var(protoFlag{&o.protosRedir, defaultRedirProtocols, &o.protoUnknown}, "proto-redir", "")
	fs.Var(tlsMinFlag{&o.tlsMin, tls.VersionTLS10}, "tlsv1", "")
	fs.Var(tlsMinFlag{&o.tlsMin, tls.VersionTLS10}, "tlsv1.0", "")
	fs.Var(tlsMinFlag{&o.tlsMin, tls.VersionTLS11}, "tlsv1.1", "")
	fs.Var(tlsMinFlag{&o.tlsMin, tls.VersionTLS12}, "tlsv1.2", "")
	fs.Var(tlsMinFlag{&o.tlsMin, tls.VersionTLS13}, "tlsv1.3", "")
	fs.Var(tlsMaxFlag{&o.tlsMax}, "tls-max", "")
	boolean(&o.ats, "", "ats")
	boolean(&o.atsDiagnostics, "", "ats-diagnostics")
	fs.StringVar(&o.cacert, "cacert", "", "")
	fs.StringVar(&o.pinned, "pinnedpubkey", "", "")
	fs.StringVar(&o.capath, "capath", "", "")
	str(&o.cert, "E", "cert")
	fs.StringVar(&o.certType, "cert-type", "", "")
	fs.StringVar(&o.key, "key", "", "")
	both("u", "user", func(n string) { fs.Var(userFlag{&o.user}, n, "") })
	fs.StringVar(&o.bearer, "oauth2-bearer", "", "")
	fs.Var(authFlag{o, authBasic, "--basic"}, "basic", "")
	fs.Var(authFlag{o, authDigest, "--digest"}, "digest", "")
	fs.Var(authFlag{o, authNTLM, "--ntlm"}, "ntlm", "")
	fs.Var(authFlag{o, authNegotiate, "--negotiate"}, "negotiate", "")
	fs.Var(authFlag{o, authAny, "--anyauth"}, "anyauth", "")
	boolean(&o.netrc, "n", "netrc")
	fs.StringVar(&o.netrcFile, "netrc-file", "", "")
	boolean(&o.netrcOptional, "", "netrc-optional")
	fs.Var(httpVersionFlag{o, "1.1"}, "http1.1", "")
	fs.Var(httpVersionFlag{o, "2"}, "http2", "")
	fs.Var(httpVersionFlag{o, "3"}, "http3", "")
	fs.Var(httpVersionFlag{o, "3only"}, "http3-only", "")
	boolean(&o.listOnly, "l", "list-only")
	o.ftpPasv = true
	fs.BoolVar(&o.ftpPasv, "ftp-pasv", true, "")
	boolean(&o.sslReqd, "", "ssl-reqd")
	both("A", "user-agent", func(n string) { fs.Var(userAgentFlag{&o.userAgent}, n, "") })
	boolean(&o.fail, "f", "fail")
	boolean(&o.failBody, "", "fail-with-body")
	str(&o.rangeSpec, "r", "range")
	str(&o.timeCond, "z", "time-cond")
	fs.StringVar(&o.etagComp, "etag-compare", "", "")
	fs.StringVar(&o.etagSave, "etag-save", "", "")
	boolean(&o.remoteTime, "R", "remote-time")
	str(&o.referer, "e", "referer")
	fs.Var(stringList{&o.urls}, "url", "")
	str(&o.upload, "T", "upload-file")
	both("F", "form", func(n string) { fs.Var(formFlag{&o.forms, false}, n, "") })
	fs.Var(formFlag{&o.forms, true}, "form-string", "")
	str(&o.writeOut, "w", "write-out")
	boolean(&ignored, "", "compressed")
	both("b", "cookie", func(n string) { fs.Var(stringList{&o.cookies}, n, "") })
	str(&o.cookieJar, "c", "cookie-jar")
	boolean(&o.cache, "", "cache")
	boolean(&o.ephemeral, "", "ephemeral")
	fs.StringVar(&o.tcp, "tcp", "", "")
	boolean(&o.starttls, "", "starttls")
	fs.StringVar(&o.wsProtocols, "ws-protocol", "", "")
	fs.StringVar(&o.background, "background", "", "")
	both("K", "config", func(n string) { fs.String(n, "", "") }) // read by expandConfig
	boolean(&o.help, "h", "help")
	boolean(&o.version, "", "version")
	o.proxy.register(fs)
	return fs
}

// parseArgs parses the command line. Flags may come before and after the
// URL; "--" ends the flags.
func parseArgs(args []string) (*options, error) { return parseArgsFrom(args, nil) }

// parseArgsFrom is parseArgs with standard input, which -K - reads.
func parseArgsFrom(args []string, stdin io.Reader) (*options, error) {
	o := new(options)
	fs := newFlagSet(o)
	args, err := expandConfig(fs, expandShort(fs, args), stdin, 0)
	if err != nil {
		return nil, err
	}
	var urls []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, usageErrorf("%s", flagError(err, args))
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			urls = append(urls, rest...)
			break
		}
		urls = append(urls, rest[0])
		args = rest[1:]
	}
	if o.help || o.version {
		return o, nil
	}
	o.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.given[f.Name] = true })
	if o.given["background"] {
		if err := o.checkBackground(); err != nil {
			return nil, err
		}
	}
	urls = append(o.urls, urls...)
	switch {
	case o.tcp != "" && len(urls) > 0:
		return nil, usageErrorf("--tcp takes no URL")
	case o.tcp != "":
		if _, _, err := parseHostPort(o.tcp); err != nil {
			return nil, err
		}
		o.url = "tcp://" + o.tcp
		return o, nil
	case o.starttls:
		return nil, usageErrorf("--starttls needs --tcp")
	}
	switch len(urls) {
	case 0:
		return nil, usageErrorf("no URL specified")
	case 1:
		o.url = urls[0]
		if o.remoteNameAll && !o.given["output"] && !o.given["o"] {
			o.remoteName = true
		}
	default:
		switch {
		case o.background != "":
			return nil, usageErrorf("--background takes one URL, got %d", len(urls))
		case o.readsStdin():
			return nil, usageErrorf("standard input can be read for one URL only, got %d URLs", len(urls))
		}
		for _, u := range urls {
			if isWebSocket(u) {
				return nil, usageErrorf("a WebSocket URL (%s) must be the only URL", u)
			}
		}
		o.all = urls
		o.url = urls[0]
		o.remoteHeadAll = o.remoteHead
		o.output, o.remoteName = o.outputFor(0)
		o.remoteHead = o.remoteHead && o.remoteName
		for i := 1; i < len(urls); i++ {
			if err := o.forURL(i).checkDownload(); err != nil {
				return nil, err
			}
		}
	}
	if o.maxRedirs < -1 {
		return nil, usageErrorf("--max-redirs must be -1 (the session's limit) or more, got %d", o.maxRedirs)
	}
	for _, c := range o.cookies {
		if strings.ContainsAny(c, "\r\n\x00") {
			return nil, usageErrorf("bad -b argument %q: line breaks are not allowed", c)
		}
	}
	if !o.bind.none() && o.http3 != http3Off {
		return nil, usageErrorf("--interface and --local-port apply to TCP connections: they cannot be combined with --http3 or --http3-only")
	}
	if o.unixSocket != "" && o.http3 != http3Off {
		return nil, usageErrorf("--unix-socket and --abstract-unix-socket cannot be combined with --http3 or --http3-only")
	}
	if o.bearer != "" && !validBearer(o.bearer) {
		return nil, usageErrorf("bad --oauth2-bearer token: want the characters of RFC 6750's b64token")
	}
	for _, v := range []struct{ flag, value string }{{"-r", o.rangeSpec}, {"-e", o.referer}} {
		if strings.ContainsAny(v.value, "\r\n\x00") {
			return nil, usageErrorf("bad %s argument %q: line breaks are not allowed", v.flag, v.value)
		}
	}
	if o.key != "" && o.cert == "" {
		return nil, usageErrorf("option --key: needs --cert (-E)")
	}
	if !o.ftpPasv {
		return nil, usageErrorf("option --no-ftp-pasv: active FTP (PORT) is not supported; FTP is always passive")
	}
	if err := o.checkDownload(); err != nil {
		return nil, err
	}
	if o.fail && o.failBody {
		return nil, usageErrorf("-f (--fail) and --fail-with-body cannot be combined")
	}
	// As curl, one way of sending a body, and none with -I.
	var bodies []string
	if o.head {
		bodies = append(bodies, "-I (HEAD)")
	}
	if len(o.data) > 0 && !o.get {
		bodies = append(bodies, "-d (POST)")
	}
	if o.get && (o.upload != "" || len(o.forms) > 0) {
		return nil, usageErrorf("-G (GET) cannot be combined with -F or -T")
	}
	if o.upload != "" {
		bodies = append(bodies, "-T (PUT)")
	}
	if len(o.forms) > 0 {
		bodies = append(bodies, "-F (multipart POST)")
	}
	if len(bodies) > 1 {
		return nil, usageErrorf("only one request method may be chosen: %s", strings.Join(bodies, " and "))
	}
	return o, nil
}

// flagError rewords the flag package's errors in curl's words, naming
// the option as it appears in args (with its one or two dashes), such as
// "option --foo: is unknown".
func flagError(err error, args []string) string {
	msg := err.Error()
	option := func(name string) string {
		for _, a := range args {
			if a == "--" {
				break
			}
			if n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); n == name && strings.HasPrefix(a, "-") {
				return a[:len(a)-len(strings.TrimLeft(a, "-"))] + name
			}
		}
		if len(name) == 1 {
			return "-" + name
		}
		return "--" + name
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "option " + option(name) + ": is unknown"
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "option " + option(name) + ": requires parameter"
	}
	// invalid value "V" for flag -NAME: WHY, and for boolean flags
	// invalid boolean value "V" for -NAME: WHY.
	for _, prefix := range []string{"invalid value ", "invalid boolean value "} {
		rest, ok := strings.CutPrefix(msg, prefix)
		if !ok {
			continue
		}
		value, err := strconv.QuotedPrefix(rest)
		if err != nil {
			break
		}
		rest = strings.TrimPrefix(strings.TrimPrefix(rest[len(value):], " for flag -"), " for -")
		name, why, _ := strings.Cut(rest, ": ")
		switch {
		case prefix == "invalid boolean value ":
			why = "expected true or false"
		case why == "parse error" || why == "value out of range":
			why = "expected a whole number"
		}
		return "option " + option(name) + ": bad value " + value + ": " + why
	}
	return msg
}

// expandShort rewrites combined short flags as curl accepts them into the
// separate flags the flag package understands: -sSf becomes -s -S -f, -sLo
// file becomes -s -L -o file and -ofile becomes -o file. As with curl,
// --no-NAME turns a boolean long flag off: it becomes --NAME=false. The
// values of flags that take one are left alone, as is everything after
// "--".
func expandShort(fs *flag.FlagSet, args []string) []string {
	isBool := isBoolFlag
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 2 || a[0] != '-' {
			out = append(out, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			out = append(out, a)
			continue
		}
		if off, ok := strings.CutPrefix(a, "--no-"); ok && fs.Lookup(name) == nil {
			if f := fs.Lookup(off); f != nil && len(off) > 1 && isBool(f) {
				out = append(out, "--"+off+"=false")
				continue
			}
		}
		if f := fs.Lookup(name); f != nil || strings.HasPrefix(a, "--") {
			out = append(out, a)
			if f != nil && !isBool(f) && i+1 < len(args) {
				i++
				out = append(out, args[i]) // the value, whatever it looks like
			}
			continue
		}
		// A group of single-letter flags.
		var group []string
		ok := true
		for j := 1; j < len(a); j++ {
			f := fs.Lookup(a[j : j+1])
			if f == nil {
				ok = false
				break
			}
			group = append(group, "-"+a[j:j+1])
			if !isBool(f) {
				if rest := a[j+1:]; rest != "" {
					group = append(group, rest)
				} else if i+1 < len(args) {
					i++
					group = append(group, args[i])
				}
				break
			}
		}
		if !ok {
			out = append(out, a) // let the flag package report it
			continue
		}
		out = append(out, group...)
	}
	return out
}

// httpVersionFlag is --http1.1, --http2, --http3 or --http3-only: the
// last one given wins, as with curl. --http2 is the default (HTTP/2 over
// TLS where the server offers it through ALPN, HTTP/1.1 otherwise); it
// undoes an earlier --http1.1 or --http3.
type httpVersionFlag struct {
	o       *options
	version string // "1.1", "2", "3" or "3only"
}

// The values of options.http3.
const (
	http3Off  = iota // HTTP/3 is not used, as curl without --http3
	http3Try         // --http3: tried first, TCP when it cannot be used
	http3Only        // --http3-only: no fallback
)

func (f httpVersionFlag) String() string   { return "" }
func (f httpVersionFlag) IsBoolFlag() bool { return true }

func (f httpVersionFlag) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	if b {
		f.o.http11 = f.version == "1.1"
		switch f.version {
		case "3":
			f.o.http3 = http3Try
		case "3only":
			f.o.http3 = http3Only
		default:
			f.o.http3 = http3Off
		}
	}
	return nil
}

// continueFlag is -C: only "-", which continues from the size of the
// output file (or from its resume data), is taken.
type continueFlag struct{ on *bool }

func (f continueFlag) String() string { return "" }

func (f continueFlag) Set(v string) error {
	if v != "-" {
		return errors.New(`only "-" is supported: continue from where the output file ends`)
	}
	*f.on = true
	return nil
}

// checkDownload checks the combinations of -O, -J, --no-clobber, -C and
// --retry, as curl refuses them.
func (o *options) checkDownload() error {
	switch {
	case o.retry < 0:
		return usageErrorf("--retry must be 0 or more, got %d", o.retry)
	case o.segments < 0 || o.segments > maxSegments:
		return usageErrorf("--segments must be from 1 to %d, got %d", maxSegments, o.segments)
	case (o.segments > 1 || o.checksum != "" || o.limitRate > 0) && !o.remoteName && (o.output == "" || o.output == "-"):
		return usageErrorf("--segments, --checksum and --limit-rate need an output file: -o FILE or -O")
	case (o.segments > 1 || o.checksum != "" || o.limitRate > 0) && (o.head || o.upload != "" || len(o.data) > 0 && !o.get || len(o.forms) > 0):
		return usageErrorf("--segments, --checksum and --limit-rate apply to downloads: not with -I, -d, -F or -T")
	case o.remoteName && o.output != "":
		return usageErrorf("-O (--remote-name) and -o (--output) cannot be combined")
	case o.remoteHead && !o.remoteName:
		return usageErrorf("-J (--remote-header-name) needs -O (--remote-name)")
	case o.continueAt && o.noClobber:
		return usageErrorf("-C (--continue-at) and --no-clobber cannot be combined")
	case o.continueAt && o.remoteHead:
		return usageErrorf("-C (--continue-at) and -J (--remote-header-name) cannot be combined")
	case o.continueAt && !o.remoteName && (o.output == "" || o.output == "-"):
		return usageErrorf("-C - needs an output file: -o FILE or -O")
	case o.continueAt && (o.include || o.head):
		return usageErrorf("-C (--continue-at) cannot be combined with -i or -I")
	case o.continueAt && o.rangeSpec != "":
		return usageErrorf("-C (--continue-at) and -r (--range) cannot be combined")
	case o.continueAt && (o.head || o.upload != "" || len(o.data) > 0 && !o.get || len(o.forms) > 0):
		return usageErrorf("-C (--continue-at) continues a download: not with -I, -d, -F or -T")
	case o.remoteName && (o.head || o.tcp != ""):
		return usageErrorf("-O (--remote-name) needs a transfer with a body: not with -I or --tcp")
	}
	if o.checksum != "" {
		if _, err := integrity.ParseExpected(o.checksum); err != nil {
			return usageErrorf("--checksum: %v", err)
		}
	}
	return nil
}

// maxSegments is the most --segments takes: the library's limit.
const maxSegments = urlsession.MaxDownloadSegments
