package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/credstore"
)

// HTTP authentication, as curl does it. The credentials come from -u, else
// from the URL's user info, else (with -n, --netrc-file or
// --netrc-optional) from the .netrc entry of the host. They answer only
// the schemes chosen with --basic (the default), --digest or --anyauth,
// through the session's challenge delegate, with persistence None: nothing
// reaches the user's credential storage. With Basic alone the credentials
// go with the first request, without waiting for a 401, as curl sends them.
// After a redirect to another origin (scheme, host and port) the -u and
// URL credentials are not sent, unless --location-trusted; the .netrc
// entries are looked up for each host, so each host gets its own.

// authSchemes is a set of HTTP authentication schemes, as curl's
// CURLAUTH_* bits.
type authSchemes uint8

const (
	authBasic authSchemes = 1 << iota
	authDigest
	authNTLM
	authNegotiate

	authAny = authBasic | authDigest | authNTLM | authNegotiate
)

// authFlag is one of --basic, --digest, --ntlm, --negotiate and --anyauth:
// a boolean flag that adds its scheme to the set (--anyauth sets every
// scheme) and, as --no-NAME, removes it (--no-anyauth changes nothing), in
// the order given, as curl does.
type authFlag struct {
	o    *options
	bit  authSchemes
	name string
}

func (f authFlag) String() string   { return "" }
func (f authFlag) IsBoolFlag() bool { return true }

func (f authFlag) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	switch {
	case f.bit == authAny:
		if b {
			f.o.authSchemes = authAny
		}
	case b:
		f.o.authSchemes |= f.bit
	default:
		f.o.authSchemes &^= f.bit
	}
	return nil
}

// credential is a user name and password.
type credential struct{ user, password string }

// basic returns the Authorization value that sends c with Basic.
func (c credential) basic() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.password))
}

// empty reports whether c has neither a user nor a password, which is no
// credential at all.
func (c credential) empty() bool { return c.user == "" && c.password == "" }

// authenticator answers the run's authentication challenges and adds the
// Basic credentials sent without one. Its methods run on the session's
// delegate queue, one at a time.
type authenticator struct {
	schemes  authSchemes
	origin   *url.URL    // the URL fetched: the origin -u and URL credentials are for
	given    *credential // -u, or the URL's user info
	fallback *credential // with .netrc: the URL's user when the file has no entry for it
	trusted  bool        // --location-trusted: given goes to every host
	netrc    []netrcEntry
	useNetrc bool
	login    string // with .netrc: the user the URL names, whose entry is looked up

	// ownHeader: -H set (or removed) Authorization, so none is added.
	ownHeader bool
	// restore are the credential headers of the first request that the
	// session drops on a redirect to another origin: sent again there with
	// --location-trusted, as curl sends them.
	restore http.Header

	proxy    *proxyOptions    // -U and the proxy schemes
	insecure bool             // -k: a server trust challenge is accepted
	cert     *tls.Certificate // -E: the client certificate

	// pins are the --pinnedpubkey digests: every TLS connection's server
	// key must be one of them; pinMismatch records a refusal.
	pins        [][sha256.Size]byte
	pinMismatch bool
}

// preemptive reports whether Basic credentials go with each request
// without waiting for a 401: with Basic alone, as curl.
func (a *authenticator) preemptive() bool {
	return a.schemes == authBasic && !a.ownHeader
}

// credentialFor returns the credentials for the origin of u.
func (a *authenticator) credentialFor(u *url.URL) (credential, bool) {
	same := a.origin != nil && sameOrigin(u, a.origin)
	if a.given != nil && (same || a.trusted) {
		return *a.given, true
	}
	if a.useNetrc {
		login := ""
		if same {
			login = a.login
		}
		if c, ok := lookupNetrc(a.netrc, u.Hostname(), login); ok {
			return c, true
		}
	}
	if same && a.fallback != nil {
		return *a.fallback, true
	}
	return credential{}, false
}

// sameOrigin reports whether a and b have the same scheme, host and port,
// a default port counting as given: the curl test for sending
// credentials after a redirect.
func sameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		switch strings.ToLower(u.Scheme) {
		case "http":
			return "80"
		case "https":
			return "443"
		}
		return ""
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// spaceURL returns the origin of a server protection space as a URL.
func spaceURL(ps credstore.ProtectionSpace) *url.URL {
	host := ps.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if ps.Port != 0 {
		host += ":" + strconv.Itoa(ps.Port)
	}
	return &url.URL{Scheme: ps.Protocol, Host: host}
}

// schemeOf returns the scheme of an HTTP authentication method, 0 for
// the other methods.
func schemeOf(method string) authSchemes {
	switch method {
	case credstore.AuthMethodHTTPBasic:
		return authBasic
	case credstore.AuthMethodHTTPDigest:
		return authDigest
	case credstore.AuthMethodNTLM:
		return authNTLM
	case credstore.AuthMethodNegotiate:
		return authNegotiate
	}
	return 0
}

// decide answers a challenge:
//   - server trust: accepted with -k, else the default evaluation;
//   - client certificate: the -E certificate, else the default handling;
//   - a server's HTTP challenge with credentials for its origin: the
//     credentials, once, for the schemes chosen; any other scheme is
//     rejected so that the session tries the next one the server offered;
//     a challenge to credentials already sent (a second 401, or any with
//     Basic alone, whose credentials went with the request unless -H gave
//     an Authorization of its own) gets none, so that the 401 is the
//     response, as with curl;
//   - a proxy's challenge: -U's credential (see proxyOptions.decide);
//   - anything else (a host without credentials): the default handling,
//     as without a credential option.
func (a *authenticator) decide(c *urlsession.Challenge) (urlsession.AuthChallengeDisposition, *urlsession.Credential) {
	ps := c.ProtectionSpace
	switch ps.AuthenticationMethod {
	case credstore.AuthMethodServerTrust:
		if len(a.pins) > 0 {
			// Every connection, redirects included, as curl pins them.
			if st := c.ServerTrust; st == nil || len(st.PeerCertificates) == 0 ||
				!pinsMatch(a.pins, st.PeerCertificates[0].RawSubjectPublicKeyInfo) {
				a.pinMismatch = true
				return urlsession.CancelAuthenticationChallenge, nil
			}
		}
		if a.insecure && c.ServerTrust != nil {
			return urlsession.UseCredential, urlsession.NewTrustCredential(c.ServerTrust)
		}
		return urlsession.PerformDefaultHandling, nil
	case credstore.AuthMethodClientCertificate:
		if a.cert != nil {
			return urlsession.UseCredential, urlsession.NewCertificateCredential(*a.cert)
		}
		return urlsession.PerformDefaultHandling, nil
	}
	if ps.IsProxy() {
		return a.proxy.decide(c)
	}
	scheme := schemeOf(ps.AuthenticationMethod)
	if scheme == 0 {
		return urlsession.PerformDefaultHandling, nil
	}
	if scheme == authNegotiate {
		// Kerberos: the user's ticket cache, not a password (curl's
		// --negotiate with -u :).
		if a.schemes&authNegotiate == 0 {
			return urlsession.RejectProtectionSpace, nil
		}
		return urlsession.PerformDefaultHandling, nil
	}
	cred, ok := a.credentialFor(spaceURL(ps))
	if !ok {
		return urlsession.PerformDefaultHandling, nil
	}
	schemes := a.schemes
	if schemes == 0 {
		schemes = authBasic
	}
	if schemes&scheme == 0 {
		return urlsession.RejectProtectionSpace, nil
	}
	if c.PreviousFailureCount > 0 || schemes == authBasic || cred.empty() {
		return urlsession.UseCredential, nil
	}
	return urlsession.UseCredential, urlsession.NewCredential(cred.user, cred.password, credstore.None)
}

// authorize adds the Basic credentials to req when they go without a
// challenge.
func (a *authenticator) authorize(req *http.Request) {
	if !a.preemptive() {
		return
	}
	if cred, ok := a.credentialFor(req.URL); ok && !cred.empty() {
		req.Header.Set("Authorization", cred.basic())
	} else {
		req.Header.Del("Authorization")
	}
}

// redirect prepares next, the request that follows a redirect from cur:
// the Basic credentials for its origin, and with --location-trusted the
// credential headers the session dropped.
func (a *authenticator) redirect(cur, next *http.Request) {
	if cur != nil && cur.URL != nil && !sameOrigin(cur.URL, next.URL) && a.trusted {
		for k, vs := range a.restore {
			if len(next.Header[k]) == 0 {
				next.Header[k] = vs
			}
		}
	}
	a.authorize(next)
}

// newAuthenticator returns the authenticator for the options and the URL
// to fetch, whose user info it takes out (it travels only as credentials).
// It asks for the -u password when there is none.
func (c *client) newAuthenticator(u *url.URL) (*authenticator, error) {
	o := c.o
	a := &authenticator{schemes: o.authSchemes, origin: u, trusted: o.locationTrusted, insecure: o.insecure, proxy: &o.proxy}
	if a.schemes == 0 {
		a.schemes = authBasic
	}
	var urlUser *credential
	urlHasPassword := false
	if u.User != nil {
		p, ok := u.User.Password()
		urlUser, urlHasPassword = &credential{u.User.Username(), p}, ok
		u.User = nil
	}
	if o.user != nil {
		cred, err := c.userCredential(*o.user)
		if err != nil {
			return nil, err
		}
		a.given = &cred
		return a, nil // -u wins over the URL and .netrc
	}
	useNetrc := o.netrc || o.netrcFile != "" || o.netrcOptional
	switch {
	case urlUser == nil:
	case !useNetrc, o.netrcOptional && urlHasPassword:
		a.given = urlUser
	default:
		// As curl: with .netrc the URL's user picks the entry, and its
		// password is ignored unless --netrc-optional.
		a.login = urlUser.user
		a.fallback = &credential{user: urlUser.user}
	}
	if useNetrc {
		entries, err := c.readNetrc()
		if err != nil {
			return nil, err
		}
		a.netrc, a.useNetrc = entries, true
	}
	return a, nil
}

// userCredential parses -u USER[:PASSWORD]. Without a password it asks for
// one on the terminal, without echo, as curl does; when standard input is
// not a terminal that is a usage error.
func (c *client) userCredential(v string) (credential, error) {
	user, password, ok := strings.Cut(v, ":")
	if ok {
		return credential{user, password}, nil
	}
	if c.askPassword == nil {
		return credential{}, usageErrorf("option -u: no password given for user %q and standard input is not a terminal to ask for it (give -u user:password)", user)
	}
	p, err := c.askPassword(fmt.Sprintf("Enter host password for user '%s':", user))
	if err != nil {
		return credential{}, usageErrorf("option -u: reading the password: %v", err)
	}
	return credential{user, p}, nil
}

// terminalPassword returns the function that asks for a password on in,
// the prompt going to out, when in is a terminal; nil otherwise.
func terminalPassword(in io.Reader, out io.Writer) func(prompt string) (string, error) {
	f, ok := in.(*os.File)
	if !ok || f == nil || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(prompt string) (string, error) {
		io.WriteString(out, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		io.WriteString(out, "\n")
		return string(b), err
	}
}

// readNetrc reads the .netrc file: --netrc-file, else $NETRC, else
// $HOME/.netrc. A file that cannot be read holds no entries (-v says so),
// as with curl; one that does not parse is curl's read error, 26.
func (c *client) readNetrc() ([]netrcEntry, error) {
	name := c.o.netrcFile
	if name == "" {
		name = os.Getenv("NETRC")
	}
	if name == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, nil
		}
		name = home + string(os.PathSeparator) + ".netrc"
	}
	data, err := os.ReadFile(name)
	if err != nil {
		if c.o.verbose {
			fmt.Fprintf(c.stderr, "* no .netrc entries: %v\n", err)
		}
		return nil, nil
	}
	entries, err := parseNetrc(data)
	if err != nil {
		return nil, &statusError{status: exitReadError, msg: fmt.Sprintf(".netrc error: %s: %v", name, err)}
	}
	return entries, nil
}

// redactedHeader returns h with the values of Authorization and
// Proxy-Authorization replaced by their scheme and "<redacted>", for the
// -v log; h itself is left alone.
func redactedHeader(h http.Header) http.Header {
	var out http.Header
	for k, vs := range h {
		if !strings.EqualFold(k, "Authorization") && !strings.EqualFold(k, "Proxy-Authorization") {
			continue
		}
		if out == nil {
			out = h.Clone()
		}
		red := make([]string, len(vs))
		for i, v := range vs {
			red[i] = "<redacted>"
			if scheme, _, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
				red[i] = scheme + " <redacted>"
			}
		}
		out[k] = red
	}
	if out == nil {
		return h
	}
	return out
}
