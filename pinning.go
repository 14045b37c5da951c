package urlsession

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"github.com/urlsession-go/urlsession/internal/fail"
)

// PinnedDomain is the identity pinning of a domain: an entry of Apple's
// NSPinnedDomains (App Transport Security). The connections a session makes
// to the domain (and, with IncludesSubdomains, to its subdomains) fail with
// ErrServerCertificateUntrusted (-1202), before any request is sent, unless
// the server's certificate chain matches the pins. Pinning only ever
// tightens trust: the default evaluation (or a delegate's ServerTrust
// decision) must still accept the chain.
//
// An identity is the Base64 (standard encoding, with padding) SHA-256
// digest of a certificate's DER-encoded SubjectPublicKeyInfo, Apple's
// SPKI-SHA256-BASE64; SPKISHA256 computes it, and so does
//
//	openssl x509 -pubkey -noout -in cert.pem | openssl pkey -pubin -outform der |
//	    openssl dgst -sha256 -binary | base64
//
// An entry needs at least one identity. When it has both kinds, the chain
// must match one of each, as Apple requires.
type PinnedDomain struct {
	// IncludesSubdomains extends the pins to every subdomain of the
	// domain, at any depth (Apple's NSIncludesSubdomains). A subdomain with
	// an entry of its own uses that entry instead.
	IncludesSubdomains bool
	// LeafIdentities are the accepted identities of the server's own
	// certificate, the leaf (Apple's NSPinnedLeafIdentities).
	LeafIdentities []string
	// CAIdentities are the accepted identities of a certificate authority
	// (root or intermediate) in the chain (Apple's NSPinnedCAIdentities).
	// They are matched against the chains the default evaluation verified,
	// never against certificates the server merely sent, so a CA pin
	// cannot be satisfied by a chain that does not verify.
	CAIdentities []string
}

// SPKISHA256 returns the identity of cert as PinnedDomain takes it: the
// Base64-encoded SHA-256 digest of its DER-encoded SubjectPublicKeyInfo
// (Apple's SPKI-SHA256-BASE64).
func SPKISHA256(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// clone returns a copy of p that shares no slice with it.
func (p PinnedDomain) clone() PinnedDomain {
	p.LeafIdentities = slices.Clone(p.LeafIdentities)
	p.CAIdentities = slices.Clone(p.CAIdentities)
	return p
}

// validatePins reports the first problem with a Configuration's
// PinnedDomains: an empty domain, an entry without identities, or an
// identity that is not the Base64 of a SHA-256 digest.
func validatePins(pins map[string]PinnedDomain) error {
	for _, domain := range slices.Sorted(maps.Keys(pins)) {
		p := pins[domain]
		if pinDomain(domain) == "" {
			return fmt.Errorf("urlsession: PinnedDomains has an empty domain name %q", domain)
		}
		if len(p.LeafIdentities) == 0 && len(p.CAIdentities) == 0 {
			return fmt.Errorf("urlsession: PinnedDomains[%q] pins no identity", domain)
		}
		for _, id := range slices.Concat(p.LeafIdentities, p.CAIdentities) {
			if _, ok := decodeIdentity(id); !ok {
				return fmt.Errorf("urlsession: PinnedDomains[%q]: %q is not a Base64 SHA-256 digest", domain, id)
			}
		}
	}
	return nil
}

// identity is a decoded SPKI-SHA256-BASE64 pin: a SHA-256 digest.
type identity = [sha256.Size]byte

// decodeIdentity decodes a pinned identity, reporting whether s is the
// Base64 of a SHA-256 digest.
func decodeIdentity(s string) (identity, bool) {
	var id identity
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != len(id) {
		return id, false
	}
	copy(id[:], b)
	return id, true
}

// decodeIdentities decodes the identities of a PinnedDomain, skipping
// malformed ones (which Validate refuses).
func decodeIdentities(ss []string) []identity {
	var ids []identity
	for _, s := range ss {
		if id, ok := decodeIdentity(s); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// pinDomain returns the form under which a host name is looked up: lower
// case, without a trailing dot or the brackets of an IPv6 literal.
func pinDomain(host string) string {
	host = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(host, "]"), "["), ".")
	return strings.ToLower(host)
}

// pinRule is a PinnedDomain ready for checking.
type pinRule struct {
	domain     string
	subdomains bool // of a domain name; an IP address has none
	leaf, ca   []identity
}

// pinSet holds a session's pinned domains; nil when it has none.
type pinSet map[string]*pinRule

// newPinSet compiles the pins of a validated configuration.
func newPinSet(pins map[string]PinnedDomain) pinSet {
	if len(pins) == 0 {
		return nil
	}
	set := make(pinSet, len(pins))
	for domain, p := range pins {
		d := pinDomain(domain)
		set[d] = &pinRule{
			domain:     d,
			subdomains: p.IncludesSubdomains && net.ParseIP(d) == nil,
			leaf:       decodeIdentities(p.LeafIdentities),
			ca:         decodeIdentities(p.CAIdentities),
		}
	}
	return set
}

// rule returns the pins that apply to host: its own entry, else that of the
// nearest parent domain that includes its subdomains; nil if none does. An
// IP address matches only an entry of its own.
func (s pinSet) rule(host string) *pinRule {
	if s == nil {
		return nil
	}
	host = pinDomain(host)
	if r := s[host]; r != nil {
		return r
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	for rest := host; ; {
		_, parent, ok := strings.Cut(rest, ".")
		if !ok || parent == "" {
			return nil
		}
		if r := s[parent]; r != nil && r.subdomains {
			return r
		}
		rest = parent
	}
}

// check applies the pins of host, if any. An empty host (a handshake
// net/http ran for an IP address, which the server name does not carry)
// takes the pins of a pinned IP address that the leaf certificate names.
func (s pinSet) check(host string, peer []*x509.Certificate, verified [][]*x509.Certificate) error {
	if s == nil {
		return nil
	}
	r := s.rule(host)
	if host == "" && len(peer) > 0 {
		for _, ip := range peer[0].IPAddresses {
			if r = s.rule(ip.String()); r != nil {
				host = ip.String()
				break
			}
		}
	}
	if r == nil {
		return nil
	}
	return r.check(host, peer, verified)
}

// check reports, as an error of code ErrServerCertificateUntrusted, a
// chain that does not match the rule: the leaf, peer[0], against the leaf
// identities, and the authorities of the verified chains against the CA
// identities.
func (r *pinRule) check(host string, peer []*x509.Certificate, verified [][]*x509.Certificate) error {
	if len(r.leaf) > 0 && (len(peer) == 0 || !slices.Contains(r.leaf, sha256.Sum256(peer[0].RawSubjectPublicKeyInfo))) {
		return fail.Newf(int(ErrServerCertificateUntrusted),
			"urlsession: the certificate of %s matches none of the leaf identities pinned for %s", host, r.domain)
	}
	if len(r.ca) > 0 && !r.caMatches(verified) {
		reason := "no certificate authority of its verified chains matches"
		if len(verified) == 0 {
			reason = "no chain was verified to match"
		}
		return fail.Newf(int(ErrServerCertificateUntrusted),
			"urlsession: the certificate chain of %s does not match the CA identities pinned for %s: %s", host, r.domain, reason)
	}
	return nil
}

func (r *pinRule) caMatches(verified [][]*x509.Certificate) bool {
	for _, chain := range verified {
		// The authorities are the chain's certificates after the leaf; a
		// chain of the leaf alone is a trusted self-signed certificate,
		// its own authority.
		for _, c := range chain[min(1, len(chain)-1):] {
			if slices.Contains(r.ca, sha256.Sum256(c.RawSubjectPublicKeyInfo)) {
				return true
			}
		}
	}
	return false
}
