package urlsession

import (
	"net/http"

	"github.com/urlsession-go/urlsession/internal/pipeline"
)

// InformationalResponseDelegate hears about interim responses: Apple's
// urlSession(_:task:didReceiveInformationalResponse:).
type InformationalResponseDelegate interface {
	// DidReceiveInformationalResponse is called for each informational
	// (1xx) response a server sends before its final response, on every
	// kind of task: 100 Continue to a request sent with "Expect:
	// 100-continue", 103 Early Hints, 104 Upload Resumption Supported (see
	// UploadTask), and any other but 101 Switching Protocols, which ends
	// the exchange instead. The calls come in the order the responses
	// arrived, after the request's DidSendBodyData calls that preceded
	// them and before DidReceiveResponse (or the completion handler) of
	// the final response; a redirect or an authentication retry may bring
	// more of them, each before its own final response. resp has the
	// status, the header fields and the request it answers (the fields of
	// a 100 Continue over HTTP/1.1 are left out: net/http reports that one,
	// ahead of the body, without them); it has no body. Tasks with a completion
	// handler get this callback too.
	DidReceiveInformationalResponse(s *Session, t *Task, resp *http.Response)
}

var _ pipeline.InformationalHooks = hooks{}

// Informational returns the function the pipeline calls with each interim
// response to req: it hands the response to the resumable upload, if any,
// and to the delegate on the delegate queue. Nil when nobody wants them.
func (h hooks) Informational(req *http.Request) func(*http.Response) {
	t := h.t
	d, ok := delegateFor[InformationalResponseDelegate](t)
	ru := t.resumableUpload()
	if !ok && ru == nil {
		return nil
	}
	return func(resp *http.Response) {
		t.touch()
		if ru != nil {
			ru.interim(req, resp)
		}
		if ok {
			t.session.queue.add(func() { t.deliverInformational(d, resp) })
		}
	}
}

// deliverInformational calls the delegate on the delegate queue; while the
// task is suspended the call is held until Resume.
func (t *Task) deliverInformational(d InformationalResponseDelegate, resp *http.Response) {
	if (t.paused.Load() || t.holding.Load()) && t.hold(func() { t.deliverInformational(d, resp) }) {
		return
	}
	d.DidReceiveInformationalResponse(t.session, t, resp)
}
