package urlsession

import (
	"net"
	"strings"
	"testing"
)

func TestRedactURLs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"no url here", "no url here"},
		{"http://example.com/a:b@c", "http://example.com/a:b@c"},
		{"http://user@example.com/", "http://user@example.com/"},
		{"http://user:secret@example.com/", "http://user:xxxxx@example.com/"},
		{"Get \"https://u:p%40ss@h:8443/x?y=1\": EOF", "Get \"https://u:xxxxx@h:8443/x?y=1\": EOF"},
		{"proxyconnect tcp: socks5://a:b@127.0.0.1:1080 and ftp://c:d@e/", "proxyconnect tcp: socks5://a:xxxxx@127.0.0.1:1080 and ftp://c:xxxxx@e/"},
		{"http://u:xxxxx@h/", "http://u:xxxxx@h/"},
		{"://", "://"},
		{"x://:@", "x://:xxxxx@"},
	} {
		if got := redactURLs(c.in); got != c.want {
			t.Errorf("redactURLs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestErrorsHideURLPasswords: the text of a task's error, and its URL field,
// never carry the password of the request's URL or of a URL its cause
// quotes.
func TestErrorsHideURLPasswords(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: the connection is refused
	cfg := EphemeralConfiguration()
	cfg.Proxy = NoProxy
	s := newSession(t, cfg, nil)
	_, _, err = s.Data(t.Context(), get(t, "http://alice:hunter2@"+addr+"/private"))
	if CodeOf(err) != ErrCannotConnectToHost {
		t.Fatalf("err = %v, want code %d", err, ErrCannotConnectToHost)
	}
	e := err.(*Error)
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(e.URL, "hunter2") {
		t.Errorf("the error shows the password: %q (URL %q)", err, e.URL)
	}
	if !strings.Contains(e.URL, "alice:xxxxx@") {
		t.Errorf("URL = %q, want the user with a redacted password", e.URL)
	}

	// A cause that quotes a URL with a password.
	e2 := &Error{Code: ErrRedirectToNonExistentLocation, URL: "http://h/",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: errString(`location "http://bob:s3cret@x/" unusable`)}}
	if strings.Contains(e2.Error(), "s3cret") {
		t.Errorf("Error() = %q shows a password", e2.Error())
	}
}

type errString string

func (e errString) Error() string { return string(e) }
