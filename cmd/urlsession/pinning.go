package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"strings"
)

// exitPinnedKey is curl's status for a server whose public key matches no
// --pinnedpubkey pin.
const exitPinnedKey = 90

// parsePins reads the --pinnedpubkey argument as curl does: either
// "sha256//BASE64" pins separated by ';', or the name of a file holding
// the public key, PEM ("PUBLIC KEY") or DER (a SubjectPublicKeyInfo). It
// returns the SHA-256 digests of the pinned SubjectPublicKeyInfos.
func parsePins(arg string) ([][sha256.Size]byte, error) {
	if strings.HasPrefix(arg, "sha256//") {
		var pins [][sha256.Size]byte
		for p := range strings.SplitSeq(arg, ";") {
			b64, ok := strings.CutPrefix(strings.TrimSpace(p), "sha256//")
			raw, err := base64.StdEncoding.DecodeString(b64)
			if !ok || err != nil || len(raw) != sha256.Size {
				return nil, fmt.Errorf("%q is not a sha256//BASE64 pin", p)
			}
			pins = append(pins, [sha256.Size]byte(raw))
		}
		return pins, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return nil, err
	}
	der := b
	if block, _ := pem.Decode(b); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%s holds a PEM %q, not a PUBLIC KEY", arg, block.Type)
		}
		der = block.Bytes
	}
	if _, err := x509.ParsePKIXPublicKey(der); err != nil {
		return nil, fmt.Errorf("%s holds no public key: %v", arg, err)
	}
	return [][sha256.Size]byte{sha256.Sum256(bytes.TrimSpace(der))}, nil
}

// pinsMatch reports whether the SubjectPublicKeyInfo spki is pinned.
func pinsMatch(pins [][sha256.Size]byte, spki []byte) bool {
	return slices.Contains(pins, sha256.Sum256(spki))
}
