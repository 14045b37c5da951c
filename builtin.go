package urlsession

import (
	"context"
	"crypto/tls"

	"github.com/urlsession-go/urlsession/internal/pipeline"
	builtin "github.com/urlsession-go/urlsession/internal/protocols"
)

// builtinProtocols are the protocols of the schemes a session loads besides
// http and https, after Configuration.Protocols: data (RFC 2397, processed
// as the WHATWG Fetch standard does), file (local files, with byte ranges)
// and ftp, ftps and ftpes (see ftpProtocol).
func builtinProtocols(cfg *Configuration) []pipeline.Protocol {
	return []pipeline.Protocol{builtin.Data{}, builtin.File{}, ftpProtocol(cfg)}
}

// ftpProtocol is the FTP protocol of a session: its connections are dialled
// with Configuration.DialContext, each within ConnectTimeout, and those of ftps and ftpes URLs use the
// session's TLS configuration (TLSClientConfig, the TLS version bounds),
// held to App Transport Security's TLS rules and to PinnedDomains. When a
// delegate of the task answers challenges, a request's TLS connections
// raise a ServerTrust challenge as https connections do (one per request:
// its data connections present the certificate its control connection
// did), for the protection space of the URL's scheme.
func ftpProtocol(cfg *Configuration) builtin.FTP {
	tc := cfg.TLSClientConfig.Clone()
	if tc == nil {
		tc = new(tls.Config)
	}
	if v := cfg.TLSMinimumSupportedProtocolVersion; v != 0 {
		tc.MinVersion = v
	}
	if v := cfg.TLSMaximumSupportedProtocolVersion; v != 0 {
		tc.MaxVersion = v
	}
	tc = cfg.TransportSecurity.tlsConfig(tc)
	pins := newPinSet(cfg.PinnedDomains)
	d := &tlsDialer{base: tc.Clone(), pins: pins} // for the default evaluation
	verify := func(ctx context.Context, scheme, host string, port int, serverName string) func(tls.ConnectionState) error {
		t := taskFrom(ctx)
		if t == nil || !t.asksChallenges() {
			return nil
		}
		h := &handshake{d: d, ctx: ctx, task: t, host: host, port: port, serverName: serverName, protocol: scheme}
		return h.evaluate
	}
	if pins != nil {
		own := tc.VerifyConnection
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := pins.check(cs.ServerName, cs.PeerCertificates, cs.VerifiedChains); err != nil {
				return err
			}
			if own != nil {
				return own(cs)
			}
			return nil
		}
	}
	dial := cfg.DialContext
	if cfg.ConnectTimeout > 0 {
		dial = baseDial(cfg)
	}
	return builtin.FTP{TLSConfig: tc, DialContext: dial, Verify: verify}
}
