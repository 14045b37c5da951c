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
func interimTrace(req *http.Request, f func(*http.Response)) *httptrace.ClientTrace {
	var h2 atomic.Bool
	return &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if tc, ok := info.Conn.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
				h2.Store(true)
			}
		},
		Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
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
				Status:        status,
				StatusCode:    code,
				Proto:         "HTTP/" + strconv.Itoa(major) + "." + strconv.Itoa(minor),
				ProtoMajor:    major,
				ProtoMinor:    minor,
				Header:        http.Header(header).Clone(),
				Body:          http.NoBody,
				ContentLength: 0,
				Request:       req,
			})
			return nil
		},
	}
}
