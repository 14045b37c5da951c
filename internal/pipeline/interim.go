package pipeline

// Interim responses: net/http reads 1xx responses (other than 101) and
// reports them only through httptrace; interimTrace turns them into
// responses for the task.

import (
	"crypto/tls"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"sync/atomic"
)

// interimStatusText names the informational statuses net/http does not.
var interimStatusText = map[int]string{104: "Upload Resumption Supported"}

// interimTrace returns a ClientTrace that calls f with each interim
// response to req.
//
// A 100 Continue over HTTP/1 is reported from Got100Continue, which
// net/http calls before it starts sending the body (Got1xxResponse comes
// after), so that the 100 precedes the body's progress; its fields are not
// known there. Over HTTP/2, Got1xxResponse comes first and reports it.
func interimTrace(req *http.Request, f func(*http.Response)) *httptrace.ClientTrace {
	var h2, continued atomic.Bool
	deliver := func(code int, header http.Header) {
		text := http.StatusText(code)
		if text == "" {
			text = interimStatusText[code]
		}
		major, minor := 1, 1
		if h2.Load() {
			major, minor = 2, 0
		}
		status := strconv.Itoa(code)
		if text != "" {
			status += " " + text
		}
		f(&http.Response{
			Status:     status,
			StatusCode: code,
			Proto:      "HTTP/" + strconv.Itoa(major) + "." + strconv.Itoa(minor),
			ProtoMajor: major,
			ProtoMinor: minor,
			Header:     header,
			Body:       http.NoBody,
			Request:    req,
		})
	}
	return &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if tc, ok := info.Conn.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
				h2.Store(true)
			}
		},
		Got100Continue: func() {
			if !h2.Load() {
				continued.Store(true)
				deliver(http.StatusContinue, http.Header{})
			}
		},
		Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
			if code == http.StatusContinue && continued.Swap(false) {
				return nil // reported by Got100Continue
			}
			deliver(code, http.Header(header).Clone())
			return nil
		},
	}
}
