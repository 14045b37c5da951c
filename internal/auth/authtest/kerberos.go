// Package authtest holds test fixtures for authentication: a Kerberos
// realm without a KDC, whose tickets are minted straight into a FILE
// credential cache, for tests of Negotiate against a loopback server that
// checks tickets with the realm's keytab.
package authtest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Realm is the test realm's name.
const Realm = "EXAMPLE.TEST"

// Kerberos is a realm without a KDC: a keytab holding the KDC's and an HTTP
// service's keys, from which tickets for the user alice are minted
// directly into a FILE credential cache, as kinit and kvno would leave it.
type Kerberos struct {
	// Keytab holds the service's key, for a server to check tickets with.
	Keytab *keytab.Keytab
	// Dir is a temporary directory for the cache and krb5.conf.
	Dir  string
	user types.PrincipalName
}

// NewKerberos returns a realm whose HTTP service on host has keys derived
// from password.
func NewKerberos(t testing.TB, host, password string) *Kerberos {
	kt := keytab.New()
	now := time.Now()
	for _, p := range []string{"krbtgt/" + Realm, "HTTP/" + host} {
		if err := kt.AddEntry(p, Realm, password+" of "+p, now, 1, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
			t.Fatal(err)
		}
	}
	return &Kerberos{Keytab: kt, Dir: t.TempDir(), user: types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice")}
}

// Credential is one credential cache entry.
type Credential struct {
	server types.PrincipalName
	tkt    messages.Ticket
	key    types.EncryptionKey
	start  time.Time
	end    time.Time
}

func (k *Kerberos) ticket(t testing.TB, server types.PrincipalName, lifetime time.Duration) Credential {
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	end := start.Add(lifetime)
	flags := types.NewKrbFlags()
	tkt, key, err := messages.NewTicket(k.user, Realm, server, Realm, flags, k.Keytab, etypeID.AES256_CTS_HMAC_SHA1_96, 1, start, start, end, end)
	if err != nil {
		t.Fatal(err)
	}
	return Credential{server, tkt, key, start, end}
}

// TGT returns a ticket-granting ticket for alice, valid for an hour.
func (k *Kerberos) TGT(t testing.TB) Credential {
	return k.ticket(t, types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", Realm}}, time.Hour)
}

// Service returns alice's ticket for the HTTP service on host, valid for an
// hour.
func (k *Kerberos) Service(t testing.TB, host string) Credential {
	return k.ticket(t, types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "HTTP/"+host), time.Hour)
}

// WriteCCache writes a version 4 FILE credential cache (MIT krb5's
// ccache_file_format) holding creds and returns its path.
func (k *Kerberos) WriteCCache(t testing.TB, creds ...Credential) string {
	be := binary.BigEndian
	b := []byte{5, 4, 0, 0} // version 4, empty header
	data := func(d []byte) {
		b = be.AppendUint32(b, uint32(len(d)))
		b = append(b, d...)
	}
	principal := func(p types.PrincipalName) {
		b = be.AppendUint32(b, uint32(p.NameType))
		b = be.AppendUint32(b, uint32(len(p.NameString)))
		data([]byte(Realm))
		for _, c := range p.NameString {
			data([]byte(c))
		}
	}
	principal(k.user)
	for _, c := range creds {
		principal(k.user)
		principal(c.server)
		b = be.AppendUint16(b, uint16(c.key.KeyType))
		data(c.key.KeyValue)
		for _, ts := range []time.Time{c.start, c.start, c.end, c.end} {
			b = be.AppendUint32(b, uint32(ts.Unix()))
		}
		b = append(b, 0)          // is_skey
		b = append(b, 0, 0, 0, 0) // ticket flags
		b = be.AppendUint32(b, 0) // addresses
		b = be.AppendUint32(b, 0) // authdata
		tb, err := c.tkt.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		data(tb)
		data(nil) // second ticket
	}
	path := filepath.Join(k.Dir, "krb5cc")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteConfig writes a krb5.conf naming the realm as the default and
// returns its path.
func (k *Kerberos) WriteConfig(t testing.TB) string {
	path := filepath.Join(k.Dir, "krb5.conf")
	if err := os.WriteFile(path, []byte("[libdefaults]\n default_realm = "+Realm+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
