// Package auth is the machinery of HTTP authentication: it reads the
// challenges of a 401 or 407 response and computes the Authorization or
// Proxy-Authorization field values that answer them. It does no I/O of
// its own (Negotiate excepted, which may ask a Kerberos KDC for a
// ticket); choosing a credential, asking the delegate, counting failures
// and resending the request belong to the session's followup stage.
//
// # Challenges
//
// [Parse] and [ParseHeader] turn WWW-Authenticate or Proxy-Authenticate
// field values into [Challenge] values (RFC 9110 §11), strongest first
// (see [Sort]); broken challenges are skipped, unknown schemes are kept
// last. [Challenge.Method] names the Apple authentication method
// (NSURLAuthenticationMethodHTTPBasic, ...), [Challenge.Supported] says
// whether this package can answer it, and [Challenge.Stale] spots a Digest
// nonce that merely expired.
//
// # Schemes
//
//   - Basic (RFC 7617): [Basic] returns the field value for a user and
//     password.
//   - Digest (RFC 7616): a [DigestClient], one per session, answers
//     challenges with [DigestClient.Answer], remembers each protection
//     space's nonce and nonce count so that [DigestClient.Lookup] and
//     [DigestClient.Authorize] can authorize later requests pre-emptively,
//     and takes Authentication-Info through [DigestClient.Info]. [Request]
//     (built by [NewRequest]) describes the request, including its body
//     for qop=auth-int.
//   - NTLM (MS-NLMP, NTLMv2 only): [NTLMNegotiate] and [NTLMAuthenticate]
//     produce the two client messages of the handshake, which must run on
//     one connection; [SplitNTLMUser] splits DOMAIN\user.
//   - Negotiate (RFC 4559, SPNEGO with Kerberos): [Negotiate] makes the
//     initial token for [ServicePrincipal](host) from a FILE credential
//     cache ([DefaultCCache]) and krb5.conf ([DefaultKrb5Config]).
//
// A followup stage answering a 401 might do:
//
//	for _, c := range auth.ParseHeader(resp.Header, false) {
//		switch c.Scheme {
//		case auth.SchemeBasic:
//			v, err = auth.Basic(user, password, &c)
//		case auth.SchemeDigest:
//			a, err = digests.Answer(auth.Space{Origin: auth.Origin(req.URL)}, c, user, password, auth.NewRequest(req))
//		...
//		}
//	}
//
// # Errors and secrets
//
// Errors wrap the sentinels [ErrUnsupported], [ErrInvalidCredential],
// [ErrBodyNotHashable], [ErrNoState], [ErrMutualAuth], [ErrMalformed] and
// [ErrNoKerberosCredentials], for errors.Is. No error contains a password,
// password hash or token, and the errors of Basic, Digest and NTLM contain
// no user name either (Kerberos errors may name principals).
//
// # Concurrency
//
// Everything here is safe for concurrent use; a DigestClient serialises
// its own state.
package auth
