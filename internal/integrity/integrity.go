// Package integrity checks downloaded bytes against expected digests: the
// RFC 9530 Content-Digest and Repr-Digest fields a server sends, and a digest
// the caller knows in advance.
//
// # Which bytes each digest covers
//
// The three sources cover different byte strings, and a caller must feed each
// [Verifier] exactly those bytes:
//
//   - Content-Digest (RFC 9530 section 2) covers the content of that one
//     message: the bytes of the body as transferred, after the transfer
//     coding (chunked) is removed and before any content coding
//     (Content-Encoding: gzip, br, ...) is undone. For a 206 it covers only
//     the part in that response (for multipart/byteranges, the whole
//     multipart body), so it can be checked when that response ends.
//   - Repr-Digest (RFC 9530 section 3) covers the whole selected
//     representation: all of its bytes, still content-coded (in HTTP the
//     content coding belongs to the representation). For a 200 that is the
//     same byte string as Content-Digest covers. For a 206 (a resumed or
//     segmented download) it covers the complete representation, not the
//     part: it can only be checked once every range is present, by hashing
//     the complete file from its first byte.
//   - An expected digest from the caller ([ParseExpected]) covers the file as
//     saved: the bytes after content decoding when the download decodes them.
//
// # Algorithms
//
// sha-256 and sha-512 are supported; members of a field naming any other
// algorithm (md5, sha, unixsum, ... which RFC 9530 lists as insecure or
// deprecated) are ignored. A field without a supported algorithm yields no
// digests and checks nothing.
//
// # Errors
//
// A field that is not a valid RFC 8941 dictionary, or whose sha-256/sha-512
// member is not a byte sequence of the right length, gives an error wrapping
// [ErrMalformed]. A digest that does not match gives a [*MismatchError],
// which matches [ErrMismatch] with errors.Is. Error texts carry algorithm
// names and digest values only.
//
// Parsing is pure and safe for concurrent use; a Verifier is used by one
// goroutine at a time.
package integrity

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// Algorithm is an RFC 9530 hash algorithm key, as registered in the Hash
// Algorithms for HTTP Digest Fields registry.
type Algorithm string

// The supported algorithms.
const (
	SHA256 Algorithm = "sha-256"
	SHA512 Algorithm = "sha-512"
)

// Size returns the length in bytes of the algorithm's digest, or 0 for an
// unsupported algorithm.
func (a Algorithm) Size() int {
	switch a {
	case SHA256:
		return sha256.Size
	case SHA512:
		return sha512.Size
	}
	return 0
}

func (a Algorithm) newHash() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New()
	case SHA512:
		return sha512.New()
	}
	return nil
}

// Source names where a digest came from; it appears in a [MismatchError].
type Source string

// The sources of a digest.
const (
	ContentDigest Source = "Content-Digest"
	ReprDigest    Source = "Repr-Digest"
	Expected      Source = "expected digest"
)

// Digest is one expected digest.
type Digest struct {
	Alg    Algorithm
	Sum    []byte // Alg.Size() bytes
	Source Source
}

// String returns the digest in RFC 9530 form, "sha-256=:BASE64:".
func (d Digest) String() string {
	return string(d.Alg) + "=:" + base64.StdEncoding.EncodeToString(d.Sum) + ":"
}

// ErrMalformed is wrapped by the errors of [ParseField] and [ParseExpected].
var ErrMalformed = errors.New("integrity: malformed digest")

// ErrMismatch matches every [*MismatchError] with errors.Is.
var ErrMismatch = errors.New("integrity: digest mismatch")

// MismatchError reports bytes whose digest differs from the expected one.
type MismatchError struct {
	Alg    Algorithm
	Source Source // which digest did not match
	Want   []byte // the expected digest
	Got    []byte // the digest of the bytes written
}

// Error states the algorithm, the source and both digests in hexadecimal.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("integrity: %s mismatch (%s): expected %x, got %x", e.Alg, e.Source, e.Want, e.Got)
}

// Is reports whether target is [ErrMismatch].
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// ParseField parses the values of a Content-Digest or Repr-Digest field (all
// its field lines, in order, as http.Header.Values returns them; they are
// joined with commas as RFC 8941 section 4.2 says) and returns its sha-512
// and sha-256 digests, strongest first, with Source set to source. Members
// with other algorithms are skipped. No values, or no supported algorithm,
// gives no digests and no error.
func ParseField(source Source, values []string) ([]Digest, error) {
	if len(values) == 0 {
		return nil, nil
	}
	members, err := parseDictionary(strings.Join(values, ","))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, source, err)
	}
	var out []Digest
	for _, m := range members {
		alg := Algorithm(m.key)
		size := alg.Size()
		if size == 0 {
			continue
		}
		if m.kind != kindBytes {
			return nil, fmt.Errorf("%w: %s: %s is a %v, not a byte sequence", ErrMalformed, source, alg, m.kind)
		}
		if len(m.bytes) != size {
			return nil, fmt.Errorf("%w: %s: %s value has %d bytes, want %d", ErrMalformed, source, alg, len(m.bytes), size)
		}
		out = append(out, Digest{Alg: alg, Sum: m.bytes, Source: source})
	}
	// Strongest first: sha-512 before sha-256.
	for i := 1; i < len(out); i++ {
		if out[i].Alg == SHA512 && out[0].Alg != SHA512 {
			out[0], out[i] = out[i], out[0]
		}
	}
	return out, nil
}

// ParseExpected parses a digest given by a user, with Source [Expected]. The
// algorithm is sha256, sha-256, sha512 or sha-512 (any case), then ':', '='
// or '-', then the digest in hexadecimal (either case), in base64 (standard
// or URL alphabet, padded or not), or as an RFC 8941 byte sequence
// ":BASE64:". So "sha256:9f86d0...", "sha-256=:n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=:"
// and the Subresource Integrity form "sha256-n4bQ..." are all accepted. The
// error for anything else wraps [ErrMalformed].
func ParseExpected(s string) (Digest, error) {
	s = strings.TrimSpace(s)
	lower := strings.ToLower(s)
	var alg Algorithm
	var rest string
	for _, name := range []struct {
		prefix string
		alg    Algorithm
	}{{"sha-256", SHA256}, {"sha256", SHA256}, {"sha-512", SHA512}, {"sha512", SHA512}} {
		if strings.HasPrefix(lower, name.prefix) {
			alg, rest = name.alg, s[len(name.prefix):]
			break
		}
	}
	if alg == "" {
		return Digest{}, fmt.Errorf("%w: unknown algorithm (want sha256:HEX or sha512:HEX)", ErrMalformed)
	}
	if rest == "" || !strings.ContainsRune(":=-", rune(rest[0])) {
		return Digest{}, fmt.Errorf("%w: expected ':' after %s", ErrMalformed, alg)
	}
	rest = rest[1:]
	if len(rest) >= 2 && rest[0] == ':' && rest[len(rest)-1] == ':' {
		rest = rest[1 : len(rest)-1]
	}
	size := alg.Size()
	if len(rest) == 2*size {
		if sum, err := hex.DecodeString(rest); err == nil {
			return Digest{Alg: alg, Sum: sum, Source: Expected}, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if sum, err := enc.DecodeString(rest); err == nil && len(sum) == size {
			return Digest{Alg: alg, Sum: sum, Source: Expected}, nil
		}
	}
	return Digest{}, fmt.Errorf("%w: %s value is neither %d hex digits nor base64 of %d bytes", ErrMalformed, alg, 2*size, size)
}

// Verifier is an io.Writer that hashes everything written to it and, at
// [Verifier.Check], compares the result with its expected digests. It runs
// one hash per algorithm however many digests use it. The zero Verifier, and
// one made with no digests, checks nothing.
type Verifier struct {
	want   []Digest
	hashes map[Algorithm]hash.Hash
	n      int64
}

// NewVerifier returns a Verifier for the given digests. Digests with an
// unsupported algorithm or a Sum of the wrong length are ignored; those of
// the same algorithm share one hash.
func NewVerifier(want ...Digest) *Verifier {
	v := &Verifier{hashes: map[Algorithm]hash.Hash{}}
	for _, d := range want {
		if d.Alg.Size() == 0 || len(d.Sum) != d.Alg.Size() {
			continue
		}
		v.want = append(v.want, d)
		if v.hashes[d.Alg] == nil {
			v.hashes[d.Alg] = d.Alg.newHash()
		}
	}
	return v
}

// Write hashes p. It never fails.
func (v *Verifier) Write(p []byte) (int, error) {
	for _, h := range v.hashes {
		h.Write(p)
	}
	v.n += int64(len(p))
	return len(p), nil
}

// Written returns the number of bytes written so far.
func (v *Verifier) Written() int64 { return v.n }

// Empty reports whether the Verifier has no digest to check.
func (v *Verifier) Empty() bool { return len(v.want) == 0 }

// Check compares the digest of the bytes written so far with every expected
// digest, in the order given to NewVerifier, and returns a [*MismatchError]
// for the first that differs, or nil. It may be called more than once; more
// writes may follow.
func (v *Verifier) Check() error {
	sums := map[Algorithm][]byte{}
	for _, d := range v.want {
		got, ok := sums[d.Alg]
		if !ok {
			got = v.hashes[d.Alg].Sum(nil)
			sums[d.Alg] = got
		}
		if !bytes.Equal(got, d.Sum) {
			return &MismatchError{Alg: d.Alg, Source: d.Source, Want: d.Sum, Got: got}
		}
	}
	return nil
}
