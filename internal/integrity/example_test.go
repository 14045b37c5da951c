package integrity_test

import (
	"errors"
	"fmt"
	"io"

	"github.com/urlsession-go/urlsession/internal/integrity"
)

func ExampleVerifier() {
	// A response's Content-Digest (RFC 9530's example) and a digest the
	// user expects.
	fromServer, err := integrity.ParseField(integrity.ContentDigest,
		[]string{"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"})
	if err != nil {
		fmt.Println(err)
		return
	}
	expected, err := integrity.ParseExpected("sha256:5f8f04f6a3a892aaabbddb6cf273894493773960d4a325b105fee46eef4304f1")
	if err != nil {
		fmt.Println(err)
		return
	}
	v := integrity.NewVerifier(append(fromServer, expected)...)
	io.WriteString(v, `{"hello": "world"}`)
	fmt.Println(v.Check())

	io.WriteString(v, "!")
	err = v.Check()
	fmt.Println(errors.Is(err, integrity.ErrMismatch))
	// Output:
	// <nil>
	// true
}
