package protocols

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/urlsession-go/urlsession/internal/fail"
)

const dataDefaultType = "text/plain;charset=US-ASCII"

// dataCases follow the Fetch standard's data: URL processor; many come from
// the web-platform-tests table of data: URLs. A nil body means failure.
var dataCases = []struct {
	url  string
	mime string
	body []byte
}{
	{"data:,X", dataDefaultType, []byte("X")},
	{"data:,", dataDefaultType, []byte{}},
	{"data:", "", nil},
	{"data:text/html", "", nil},
	{"data:text/html    ;charset=x   ", "", nil},
	{"data://test/,X", dataDefaultType, []byte("X")},
	{"data:,X#X", dataDefaultType, []byte("X")},
	{"data:,X#", dataDefaultType, []byte("X")},
	{"data:,%FF", dataDefaultType, []byte{0xff}},
	{"data:,A%20B", dataDefaultType, []byte("A B")},
	{"data:,A%2", dataDefaultType, []byte("A%2")},
	{"data:,%zz%41", dataDefaultType, []byte("%zzA")},
	{"data:,a?b", dataDefaultType, []byte("a?b")},
	{"data:,a,b", dataDefaultType, []byte("a,b")},
	{"data:,é", dataDefaultType, []byte("é")},
	{"data:text/plain,X", "text/plain", []byte("X")},
	{"data:text/plain ,X", "text/plain", []byte("X")},
	{"data:text/plain%20,X", "text/plain%20", []byte("X")},
	{"data:text/plain%0C,X", "text/plain%0c", []byte("X")},
	{"data:text/plain;,X", "text/plain", []byte("X")},
	{"data:;x=x;charset=x,X", "text/plain;x=x;charset=x", []byte("X")},
	{"data:;x=x,X", "text/plain;x=x", []byte("X")},
	{"data:text/html;charset=gbk,X", "text/html;charset=gbk", []byte("X")},
	{"data:text/html;charset=%30,X", "text/html;charset=%30", []byte("X")},
	{"data:IMAGE/GIF;HI=x,%C2%B1", "image/gif;hi=x", []byte{0xc2, 0xb1}},
	{"data:IMAGE/gif;CHARSET=x,%C2%B1", "image/gif;charset=x", []byte{0xc2, 0xb1}},
	{"data: ,%FF", dataDefaultType, []byte{0xff}},
	{"data:%20,%FF", dataDefaultType, []byte{0xff}},
	{"data:%00,%FF", dataDefaultType, []byte{0xff}},
	{"data:text/html  ,X", "text/html", []byte("X")},
	{"data:text / html,X", dataDefaultType, []byte("X")},
	{"data:†,X", dataDefaultType, []byte("X")},
	{"data:†/†,X", "%e2%80%a0/%e2%80%a0", []byte("X")}, // "%" is a token code point
	{"data:X,X", dataDefaultType, []byte("X")},
	{"data:image/png,X X", "image/png", []byte("X X")},
	{"data:text/plain;a=\",\",X", `text/plain;a=""`, []byte(`",X`)},
	{"data:text/plain;a=%2C,X", "text/plain;a=%2C", []byte("X")},
	{"data:;base64;base64,WA", "text/plain", []byte("X")},
	{"data:x/x;base64;base64,WA", "x/x", []byte("X")},
	{"data:x/x;base64;charset=x,WA", "x/x;charset=x", []byte("WA")},
	{"data:x/x;base64;charset=x;base64,WA", "x/x;charset=x", []byte("X")},
	{"data:x/x;base64;base64x,WA", "x/x", []byte("WA")},
	{"data:;base64,W%20A", dataDefaultType, []byte("X")},
	{"data:;base64,W%0CA", dataDefaultType, []byte("X")},
	{"data:x;base64x,WA", dataDefaultType, []byte("WA")},
	{"data:x;base64;x,WA", dataDefaultType, []byte("WA")},
	{"data:x;base64=x,WA", dataDefaultType, []byte("WA")},
	{"data:; base64,WA", dataDefaultType, []byte("X")},
	{"data:;  base64,WA", dataDefaultType, []byte("X")},
	{"data:  ;charset=x   ;  base64,WA", "text/plain;charset=x", []byte("X")},
	{"data:;base64;,WA", "text/plain", []byte("WA")},
	{"data:;base64 ,WA", dataDefaultType, []byte("X")}, // whitespace stripped first
	{"data:;base64   ,WA", dataDefaultType, []byte("X")},
	{"data:;base 64,WA", "text/plain", []byte("WA")},
	{"data:;BASe64,WA", dataDefaultType, []byte("X")},
	{"data:;%62ase64,WA", "text/plain", []byte("WA")},
	{"data:%3Bbase64,WA", dataDefaultType, []byte("WA")},
	{"data:;charset=x,X", "text/plain;charset=x", []byte("X")},
	{"data:; charset=x,X", "text/plain;charset=x", []byte("X")},
	{"data:;charset =x,X", "text/plain", []byte("X")},
	{"data:;charset= x,X", `text/plain;charset=" x"`, []byte("X")},
	{"data:;charset=,X", "text/plain", []byte("X")},
	{"data:;charset,X", "text/plain", []byte("X")},
	{`data:;charset="x",X`, "text/plain;charset=x", []byte("X")},
	{`data:;CHARSET="X",X`, "text/plain;charset=X", []byte("X")},
	{"data:;charset=utf-8,x", "text/plain;charset=utf-8", []byte("x")},
	{`data:text/plain;a="b\"c";a=d,X`, `text/plain;a="b\"c"`, []byte("X")},
	{`data:text/plain;a="b;c" junk;d=e,X`, `text/plain;a="b;c";d=e`, []byte("X")},
	{`data:text/plain;a="x\,X`, `text/plain;a="x\\"`, []byte("X")},
	{"data:text/plain;a=b c,X", `text/plain;a="b c"`, []byte("X")},

	// base64
	{"data:text/plain;base64,SGVsbG8=", "text/plain", []byte("Hello")},
	{"data:text/plain;BASE64,SGVsbG8=", "text/plain", []byte("Hello")},
	{"data:text/plain; base64,SGVsbG8", "text/plain", []byte("Hello")},
	{"data:;base64,SGVs%20bG8%0A%3D", dataDefaultType, []byte("Hello")},
	{"data:;base64,SGVsbA==", dataDefaultType, []byte("Hell")},
	{"data:;base64,SGVsbA", dataDefaultType, []byte("Hell")},
	{"data:;base64,SGVsbA=", "", nil},
	{"data:;base64,SGVsbA===", "", nil},
	{"data:;base64,SGVsb", "", nil},
	{"data:;base64,SGV=sbA", "", nil},
	{"data:;base64,SG-sbA", "", nil},
	{"data:;base64,SG_s", "", nil},
	{"data:;base64,%C3%A9AAA", "", nil},
	{"data:;base64,", dataDefaultType, []byte{}},
	{"data:;base64,YR", dataDefaultType, []byte("a")},   // non-zero spare bits
	{"data:;base64,YWJ", dataDefaultType, []byte("ab")}, // two bytes
	{"data:;base64,+/+/", dataDefaultType, []byte{0xfb, 0xff, 0xbf}},
	{"data:image/png;base64,iVBO#frag", "image/png", []byte{0x89, 0x50, 0x4e}},
}

func TestDataProcess(t *testing.T) {
	for _, c := range dataCases {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Errorf("url.Parse(%q): %v", c.url, err)
			continue
		}
		mime, body, err := dataProcess(dataSerialize(u))
		if c.body == nil {
			if err == nil {
				t.Errorf("%q: got %q %q, want failure", c.url, mime, body)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.url, err)
			continue
		}
		if mime != c.mime || !bytes.Equal(body, c.body) {
			t.Errorf("%q: got %q %q, want %q %q", c.url, mime, body, c.mime, c.body)
		}
	}
}

// URLs url.Parse refuses, built by hand as a caller might.
func TestDataRawURL(t *testing.T) {
	for _, c := range []struct {
		opaque, mime, body string
	}{
		{"text/plain\f,X", "text/plain%0c", "X"},
		{"\f,%FF", dataDefaultType, "\xff"},
		{"\x00,%FF", dataDefaultType, "\xff"},
		{"text/pl\tain,X\nY\r", "text/plain", "XY"},
		{",X ", dataDefaultType, "X"},
	} {
		u := &url.URL{Scheme: "data", Opaque: c.opaque}
		mime, body, err := dataProcess(dataSerialize(u))
		if err != nil || mime != c.mime || string(body) != c.body {
			t.Errorf("%q: got %q %q %v, want %q %q", c.opaque, mime, body, err, c.mime, c.body)
		}
	}
	// A trailing space before a fragment stays.
	u := &url.URL{Scheme: "data", Opaque: ",X ", Fragment: "f"}
	if _, body, _ := dataProcess(dataSerialize(u)); string(body) != "X " {
		t.Errorf("with fragment: body %q, want %q", body, "X ")
	}
}

func TestDataCanHandle(t *testing.T) {
	for s, want := range map[string]bool{
		"data:,x": true, "DATA:,x": true, "Data:,x": true,
		"file:///x": false, "https://example.com/": false, "datax:,x": false,
	} {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := (Data{}).CanHandle(&http.Request{URL: u}); got != want {
			t.Errorf("CanHandle(%q) = %v, want %v", s, got, want)
		}
	}
	if (Data{}).CanHandle(&http.Request{}) {
		t.Error("CanHandle of a request without URL")
	}
}

func TestDataRoundTrip(t *testing.T) {
	for _, method := range []string{"GET", "POST", "PUT", "HEAD"} {
		req, err := http.NewRequest(method, "data:text/plain;charset=utf-8;base64,SGVsbG8=", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := Data{}.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := "Hello"
		if method == "HEAD" {
			want = ""
		}
		if string(b) != want {
			t.Errorf("%s: body %q, want %q", method, b, want)
		}
		if resp.StatusCode != 200 || resp.Status != "200 OK" || resp.ProtoMajor != 1 || resp.Request != req {
			t.Errorf("%s: status %d %q proto %d.%d", method, resp.StatusCode, resp.Status, resp.ProtoMajor, resp.ProtoMinor)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain;charset=utf-8" {
			t.Errorf("%s: Content-Type %q", method, ct)
		}
		if cl := resp.Header.Get("Content-Length"); cl != "5" || resp.ContentLength != 5 {
			t.Errorf("%s: Content-Length %q, ContentLength %d", method, cl, resp.ContentLength)
		}
	}
}

func TestDataRoundTripFailure(t *testing.T) {
	for _, s := range []string{"data:text/plain", "data:;base64,A", "data:;base64,AB*D"} {
		req, err := http.NewRequest("GET", s, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := Data{}.RoundTrip(req)
		var fe *fail.Error
		if resp != nil || !errors.As(err, &fe) || fe.Code != -1000 {
			t.Errorf("%q: got %v, %v; want a -1000 error", s, resp, err)
		}
	}
}

type dataCloseBody struct {
	io.Reader
	closed bool
}

func (b *dataCloseBody) Close() error { b.closed = true; return nil }

func TestDataRoundTripClosesBody(t *testing.T) {
	body := &dataCloseBody{Reader: bytes.NewReader([]byte("ignored"))}
	req, err := http.NewRequest("POST", "data:,x", body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Data{}).RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if !body.closed {
		t.Error("request body not closed")
	}
}

func TestDataRoundTripCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "data:,x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Data{}).RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func FuzzDataURL(f *testing.F) {
	for _, c := range dataCases {
		f.Add(c.url)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Straight through the processor, as if from any URL string.
		mime, _, err := dataProcess(dataSerialize(&url.URL{Scheme: "data", Opaque: s}))
		if err == nil {
			m, ok := dataParseMIME(mime)
			if !ok || m.String() != mime {
				t.Errorf("%q: MIME type %q does not parse back to itself", s, mime)
			}
		}

		u, err := url.Parse(s)
		if err != nil || !(Data{}).CanHandle(&http.Request{URL: u}) {
			return
		}
		req := &http.Request{Method: "GET", URL: u, Header: http.Header{}}
		req = req.WithContext(context.Background())
		resp, err := Data{}.RoundTrip(req)
		if err != nil {
			var fe *fail.Error
			if !errors.As(err, &fe) || fe.Code != -1000 {
				t.Fatalf("%q: error %v is not a -1000 failure", s, err)
			}
			return
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(b)) || resp.ContentLength != int64(len(b)) {
			t.Errorf("%q: Content-Length %q, ContentLength %d, body %d bytes", s, cl, resp.ContentLength, len(b))
		}
	})
}
