package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tlsConfig returns the session's TLS configuration for -k, --cacert,
// --capath and -E/--key, nil when none is given (the system roots, no
// client certificate). A CA file or directory that cannot be used is
// curl's 77; a client certificate or key that cannot be used is curl's 58.
func (c *client) tlsConfig() (*tls.Config, *tls.Certificate, error) {
	o := c.o
	if !o.insecure && o.cacert == "" && o.capath == "" && o.cert == "" {
		return nil, nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: o.insecure}
	if o.cacert != "" || o.capath != "" {
		pool, err := loadRoots(o.cacert, o.capath)
		if err != nil {
			return nil, nil, &statusError{status: exitCACertFile, msg: err.Error()}
		}
		cfg.RootCAs = pool
	}
	var cert *tls.Certificate
	if o.cert != "" {
		cc, err := loadClientCert(o.cert, o.certType, o.key)
		if err != nil {
			return nil, nil, &statusError{status: exitClientCert, msg: err.Error()}
		}
		cert = &cc
		cfg.Certificates = []tls.Certificate{cc}
	}
	return cfg, cert, nil
}

// loadRoots returns the certificates of the PEM bundle file and of the
// files in dir (any name: c_rehash's hashed links and plain .pem files
// alike), which replace the system roots, as with curl.
func loadRoots(file, dir string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("error reading the CA certificates (--cacert): %v", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("error reading the CA certificates (--cacert): no PEM certificate in %s", file)
		}
	}
	if dir != "" {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("error reading the CA certificates (--capath): %v", err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				continue // a subdirectory, a dangling link: not a certificate
			}
			pool.AppendCertsFromPEM(b)
		}
	}
	return pool, nil
}

// splitCertArg splits -E's FILE[:PASSWORD] as curl does: the first colon
// not escaped with a backslash ends the file name; "\:" is a colon and
// "\\" a backslash in it, and a backslash before anything else stays.
func splitCertArg(arg string) (file, password string) {
	if !strings.ContainsAny(arg, ":\\") {
		return arg, ""
	}
	var b strings.Builder
	for i := 0; i < len(arg); i++ {
		switch c := arg[i]; c {
		case '\\':
			if i+1 < len(arg) && (arg[i+1] == '\\' || arg[i+1] == ':') {
				i++
				b.WriteByte(arg[i])
				continue
			}
			b.WriteByte(c)
		case ':':
			return b.String(), arg[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// loadClientCert loads the client certificate of -E FILE[:PASSWORD] and
// its key: from --key, else from FILE itself. Both are PEM (--cert-type
// PEM, the default); a key encrypted in the legacy PEM way ("Proc-Type:
// 4,ENCRYPTED") is decrypted with PASSWORD.
func loadClientCert(arg, certType, keyFile string) (tls.Certificate, error) {
	fail := func(format string, args ...any) (tls.Certificate, error) {
		return tls.Certificate{}, fmt.Errorf("unable to use the client certificate: "+format, args...)
	}
	if certType != "" && !strings.EqualFold(certType, "PEM") {
		return fail("certificate type %q is not supported (only PEM)", certType)
	}
	file, password := splitCertArg(arg)
	certPEM, err := os.ReadFile(file)
	if err != nil {
		return fail("%v", err)
	}
	var chain [][]byte
	for rest := certPEM; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			chain = append(chain, blk.Bytes)
		}
	}
	if len(chain) == 0 {
		return fail("no PEM certificate in %s", file)
	}
	keyPEM := certPEM
	if keyFile != "" {
		if keyPEM, err = os.ReadFile(keyFile); err != nil {
			return fail("%v", err)
		}
	} else {
		keyFile = file
	}
	key, err := privateKey(keyPEM, password)
	if err != nil {
		return fail("%s: %v", keyFile, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fail("%s: %v", keyFile, err)
	}
	var certs []byte
	for _, c := range chain {
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	// X509KeyPair checks that the key belongs to the certificate.
	cert, err := tls.X509KeyPair(certs, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		return fail("%v", err)
	}
	return cert, nil
}

// privateKey returns the first private key in the PEM data: PKCS #1 RSA,
// SEC 1 EC or PKCS #8, in the clear or (legacy PEM encryption) encrypted
// with password.
func privateKey(data []byte, password string) (any, error) {
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, errors.New("no PEM private key")
		}
		if !strings.HasSuffix(blk.Type, "PRIVATE KEY") {
			continue
		}
		if blk.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("encrypted PKCS #8 keys are not supported: decrypt it first (openssl pkcs8)")
		}
		der := blk.Bytes
		// Legacy PEM encryption, deprecated as weak, is what curl opens
		// with FILE:PASSWORD.
		if x509.IsEncryptedPEMBlock(blk) {
			if password == "" {
				return nil, errors.New("the key is encrypted: give its password with -E FILE:PASSWORD")
			}
			var err error
			if der, err = x509.DecryptPEMBlock(blk, []byte(password)); err != nil {
				return nil, fmt.Errorf("decrypting the key: %v", err)
			}
		}
		if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
			return k, nil
		}
		if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
			return k, nil
		}
		if k, err := x509.ParseECPrivateKey(der); err == nil {
			return k, nil
		}
		return nil, fmt.Errorf("cannot parse the %s", strings.ToLower(blk.Type))
	}
}
