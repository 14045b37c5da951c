package main

import (
	"crypto/tls"
	"flag"
	"net/url"
	"strconv"
	"strings"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/credstore"
)

// proxyOptions are the proxy flags.
type proxyOptions struct {
	url      *string     // -x: nil when not given; "" turns proxies off
	user     *string     // -U USER[:PASSWORD]
	schemes  authSchemes // --proxy-basic, --proxy-digest, --proxy-ntlm; 0 means Basic
	noproxy  *string     // --noproxy LIST
	socks5h  string      // --socks5-hostname HOST[:PORT]
	insecure bool        // --proxy-insecure
	pac      string      // --pac URL
}

// optionalString is a string flag that records whether it was given.
type optionalString struct{ p **string }

func (f optionalString) String() string { return "" }

func (f optionalString) Set(v string) error {
	*f.p = &v
	return nil
}

// proxySchemeFlag is --proxy-basic, --proxy-digest or --proxy-ntlm.
type proxySchemeFlag struct {
	p   *proxyOptions
	bit authSchemes
}

func (f proxySchemeFlag) String() string   { return "" }
func (f proxySchemeFlag) IsBoolFlag() bool { return true }

func (f proxySchemeFlag) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	if b {
		f.p.schemes |= f.bit
	} else {
		f.p.schemes &^= f.bit
	}
	return nil
}

// register adds the proxy flags to fs.
func (p *proxyOptions) register(fs *flag.FlagSet) {
	for _, n := range []string{"x", "proxy"} {
		fs.Var(optionalString{&p.url}, n, "")
	}
	for _, n := range []string{"U", "proxy-user"} {
		fs.Var(optionalString{&p.user}, n, "")
	}
	fs.Var(proxySchemeFlag{p, authBasic}, "proxy-basic", "")
	fs.Var(proxySchemeFlag{p, authDigest}, "proxy-digest", "")
	fs.Var(proxySchemeFlag{p, authNTLM}, "proxy-ntlm", "")
	fs.Var(optionalString{&p.noproxy}, "noproxy", "")
	fs.StringVar(&p.socks5h, "socks5-hostname", "", "")
	fs.BoolVar(&p.insecure, "proxy-insecure", false, "")
	fs.StringVar(&p.pac, "pac", "", "")
}

// proxyUser splits -U into user and password.
func (p *proxyOptions) proxyUser() (user, password string, ok bool) {
	if p == nil || p.user == nil {
		return "", "", false
	}
	user, password, _ = strings.Cut(*p.user, ":")
	return user, password, true
}

// configure sets cfg's proxies from the flags; without any, the session
// uses the system settings (the environment, as curl reads it).
func (p *proxyOptions) configure(cfg *urlsession.Configuration) error {
	var exceptions []string
	if p.noproxy != nil {
		exceptions = []string{*p.noproxy}
	}
	var pc *urlsession.ProxyConfiguration
	switch {
	case p.pac != "":
		if u, err := url.Parse(p.pac); err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") {
			return usageErrorf("option --pac: %q is not an http, https or file URL", p.pac)
		}
		pc = &urlsession.ProxyConfiguration{PACURL: p.pac, Exceptions: exceptions}
	case p.socks5h != "" || p.url != nil:
		raw := ""
		if p.url != nil {
			raw = *p.url
		}
		if p.socks5h != "" {
			raw = "socks5h://" + p.socks5h // overrides -x, as curl has it
		}
		if raw == "" {
			pc = &urlsession.ProxyConfiguration{} // -x "": no proxy at all
			break
		}
		var err error
		if pc, err = urlsession.ProxyURL(raw, exceptions...); err != nil {
			return usageErrorf("option --proxy: %v", err)
		}
		if user, pw, ok := p.proxyUser(); ok && (p.schemes == 0 || p.schemes&authBasic != 0 || isSOCKS(pc.HTTPProxy)) {
			// Basic goes with the first request, as curl sends it; a
			// SOCKS5 gateway takes the user and password in its
			// handshake.
			for _, u := range []*url.URL{pc.HTTPProxy, pc.HTTPSProxy} {
				u.User = url.UserPassword(user, pw)
			}
		}
	case p.noproxy != nil:
		pc = urlsession.SystemProxyConfiguration()
		if pc != nil {
			pc.Exceptions = exceptions
		}
	}
	if pc != nil && p.insecure {
		pc.ProxyTLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	if pc != nil {
		cfg.ProxyConfiguration = pc
	}
	return nil
}

func isSOCKS(u *url.URL) bool { return u != nil && strings.HasPrefix(u.Scheme, "socks") }

// decide answers a proxy's challenge: -U's credential for the schemes
// chosen (Basic unless --proxy-digest or --proxy-ntlm), once; otherwise
// the default handling, which uses the proxy URL's user and password.
func (p *proxyOptions) decide(c *urlsession.Challenge) (urlsession.AuthChallengeDisposition, *urlsession.Credential) {
	user, pw, ok := p.proxyUser()
	if !ok {
		return urlsession.PerformDefaultHandling, nil
	}
	schemes := p.schemes
	if schemes == 0 {
		schemes = authBasic
	}
	if schemeOf(c.ProtectionSpace.AuthenticationMethod)&schemes == 0 {
		return urlsession.RejectProtectionSpace, nil
	}
	if c.PreviousFailureCount > 0 {
		return urlsession.PerformDefaultHandling, nil // the 407 is the response
	}
	return urlsession.UseCredential, urlsession.NewCredential(user, pw, credstore.None)
}
