package auth

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// ErrNoKerberosCredentials is returned by Negotiate when there is no
// usable Kerberos credential cache: none at the path, an unsupported cache
// type, a corrupt file, or no ticket-granting ticket in it. The usual
// remedy is kinit.
var ErrNoKerberosCredentials = errors.New("auth: no Kerberos credentials")

// Kerberos says where Negotiate finds the user's Kerberos state. The zero
// value uses the environment's defaults.
type Kerberos struct {
	// CCache is the path of a FILE credential cache (as written by kinit);
	// "" means [DefaultCCache].
	CCache string
	// Config is the path of krb5.conf; "" means [DefaultKrb5Config], and a
	// missing default file then means an empty configuration (enough
	// when the cache already holds the service's ticket).
	Config string
}

// DefaultCCache returns the credential cache path from KRB5CCNAME ("FILE:"
// prefix removed), or /tmp/krb5cc_<uid> when it is unset. Cache types
// other than FILE (DIR, KEYRING, KCM, MEMORY, API) fail with
// ErrNoKerberosCredentials.
func DefaultCCache() (string, error) {
	name := os.Getenv("KRB5CCNAME")
	if name == "" {
		uid := os.Getuid()
		if uid < 0 {
			return "", fmt.Errorf("%w: no KRB5CCNAME and no user id on this system", ErrNoKerberosCredentials)
		}
		return "/tmp/krb5cc_" + strconv.Itoa(uid), nil
	}
	if path, ok := strings.CutPrefix(name, "FILE:"); ok {
		return path, nil
	}
	if typ, _, ok := strings.Cut(name, ":"); ok && !strings.ContainsAny(typ, `/\`) {
		return "", fmt.Errorf("%w: credential cache type %s (KRB5CCNAME) is not supported; only FILE caches are", ErrNoKerberosCredentials, typ)
	}
	return name, nil
}

// DefaultKrb5Config returns the first path of KRB5_CONFIG, or
// /etc/krb5.conf.
func DefaultKrb5Config() string {
	if v := os.Getenv("KRB5_CONFIG"); v != "" {
		first, _, _ := strings.Cut(v, ":")
		return first
	}
	return "/etc/krb5.conf"
}

// ServicePrincipal returns the Kerberos principal name of the HTTP service
// on host, "HTTP/host" (the GSS-API host-based service name "HTTP@host"
// of RFC 4559 §4), with host in lower case, without a port, IPv6 brackets
// or a trailing dot. host may be a URL's Host ("example.com:8443").
func ServicePrincipal(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	return "HTTP/" + strings.ToLower(host)
}

// Negotiate returns the Authorization (or Proxy-Authorization) field value
// "Negotiate <token>" for the HTTP service on host (RFC 4559 §4.2): an
// SPNEGO NegTokenInit carrying a Kerberos AP-REQ for
// [ServicePrincipal](host), made from the tickets in k's credential cache.
//
// A service ticket already in the cache is used as is; otherwise the
// ticket-granting ticket obtains one from the realm's KDC as krb5.conf
// says, which is network I/O without a deadline of its own, so callers
// should not call Negotiate where blocking matters. Tickets obtained are
// not written back to the cache.
//
// Negotiate fails with ErrNoKerberosCredentials when the cache is missing,
// corrupt, of an unsupported type or without a ticket-granting ticket, and
// otherwise with an error that names the step that failed.
func Negotiate(k Kerberos, host string) (string, error) {
	cl, err := kerberosClient(k)
	if err != nil {
		return "", err
	}
	return negotiateToken(cl, ServicePrincipal(host))
}

// negotiateToken builds the SPNEGO token for spn with cl.
func negotiateToken(cl *client.Client, spn string) (string, error) {
	tkt, key, err := cl.GetServiceTicket(spn)
	if err != nil {
		return "", fmt.Errorf("auth: kerberos ticket for %s: %w", spn, err)
	}
	init, err := spnego.NewNegTokenInitKRB5(cl, tkt, key)
	if err != nil {
		return "", fmt.Errorf("auth: spnego token for %s: %w", spn, err)
	}
	tok := spnego.SPNEGOToken{Init: true, NegTokenInit: init}
	b, err := tok.Marshal()
	if err != nil {
		return "", fmt.Errorf("auth: spnego token for %s: %w", spn, err)
	}
	return "Negotiate " + base64.StdEncoding.EncodeToString(b), nil
}

// kerberosClient loads k's configuration and credential cache.
func kerberosClient(k Kerberos) (*client.Client, error) {
	cfgPath := k.Config
	explicit := cfgPath != ""
	if !explicit {
		cfgPath = DefaultKrb5Config()
	}
	cfg, err := loadKrb5Config(cfgPath, explicit)
	if err != nil {
		return nil, err
	}
	path := k.CCache
	if path == "" {
		if path, err = DefaultCCache(); err != nil {
			return nil, err
		}
	}
	cc, err := loadCCache(path)
	if err != nil {
		return nil, err
	}
	cl, err := client.NewFromCCache(cc, cfg, client.DisablePAFXFAST(true))
	if err != nil {
		return nil, fmt.Errorf("%w: credential cache %s: %v", ErrNoKerberosCredentials, path, err)
	}
	return cl, nil
}

// loadKrb5Config reads krb5.conf at path. A missing file is an empty
// configuration unless the path was given explicitly.
func loadKrb5Config(path string, explicit bool) (*config.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return config.New(), nil
		}
		return nil, fmt.Errorf("auth: kerberos configuration: %w", err)
	}
	defer f.Close()
	cfg, err := config.NewFromReader(f)
	if err != nil {
		// An unsupported directive still leaves a usable configuration.
		var unsupported config.UnsupportedDirective
		if !errors.As(err, &unsupported) {
			return nil, fmt.Errorf("auth: kerberos configuration %s: %w", path, err)
		}
	}
	return cfg, nil
}

// loadCCache reads a FILE credential cache. The parser indexes its input
// without bounds checks, so a truncated file is caught here.
func loadCCache(path string) (*credentials.CCache, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: credential cache %s does not exist (run kinit)", ErrNoKerberosCredentials, path)
		}
		return nil, fmt.Errorf("%w: credential cache: %v", ErrNoKerberosCredentials, err)
	}
	return parseCCache(b, path)
}

// parseCCache parses the credential cache b read from path.
func parseCCache(b []byte, path string) (cc *credentials.CCache, err error) {
	if len(b) < 2 || b[0] != 5 || b[1] < 1 || b[1] > 4 {
		return nil, fmt.Errorf("%w: %s is not a Kerberos credential cache", ErrNoKerberosCredentials, path)
	}
	if !ccacheWellFormed(b) {
		return nil, fmt.Errorf("%w: credential cache %s is truncated or corrupt", ErrNoKerberosCredentials, path)
	}
	defer func() {
		if recover() != nil {
			cc, err = nil, fmt.Errorf("%w: credential cache %s is truncated or corrupt", ErrNoKerberosCredentials, path)
		}
	}()
	cc = new(credentials.CCache)
	if err := cc.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("%w: credential cache %s: %v", ErrNoKerberosCredentials, path, err)
	}
	return cc, nil
}

// ccacheWellFormed walks a FILE credential cache (MIT krb5's
// ccache_file_format, versions 1 to 4) the way the parser does and
// reports whether every length and count stays within b. The parser
// trusts them, so a corrupt count could otherwise make it allocate
// without bound.
func ccacheWellFormed(b []byte) bool {
	if len(b) < 2 || b[0] != 5 || b[1] < 1 || b[1] > 4 {
		return false
	}
	version := b[1]
	var order binary.ByteOrder = binary.BigEndian
	if version <= 2 {
		order = binary.NativeEndian
	}
	p := 2
	ok := true
	take := func(n int) int { // the offset of n bytes, or -1
		if !ok || n < 0 || n > len(b)-p {
			ok = false
			return -1
		}
		at := p
		p += n
		return at
	}
	u16 := func() int {
		if at := take(2); at >= 0 {
			return int(order.Uint16(b[at:]))
		}
		return 0
	}
	i32 := func() int {
		if at := take(4); at >= 0 {
			return int(int32(order.Uint32(b[at:])))
		}
		return -1
	}
	data := func() { take(i32()) }
	principal := func() {
		if version != 1 {
			take(4) // name type
		}
		n := i32()
		if version == 1 {
			n--
		}
		data() // realm
		for i := 0; ok && i < n; i++ {
			data()
		}
	}
	counted := func(min int) int { // a count of items of at least min bytes
		n := i32()
		if n < 0 || n > (len(b)-p)/min {
			ok = false
			return 0
		}
		return n
	}
	if version == 4 {
		// The parser reads header fields while its offset is at most the
		// header length.
		hlen := u16()
		for ok && p <= hlen {
			tag, n := u16(), u16()
			take(n)
			if tag != 1 || n != 8 {
				return ok // the parser rejects the field itself
			}
		}
	}
	principal()
	for ok && p < len(b) {
		principal() // client
		principal() // server
		take(2)     // key type
		if version == 3 {
			take(2)
		}
		data()            // key
		take(4*4 + 1 + 4) // times, is_skey, flags
		for range counted(6) {
			take(2) // address type
			data()
		}
		for range counted(6) {
			take(2) // authorization data type
			data()
		}
		data() // ticket
		data() // second ticket
	}
	return ok
}
