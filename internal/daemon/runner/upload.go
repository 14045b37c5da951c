//go:build unix

package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/internal/daemon/api"
	"github.com/urlsession-go/urlsession/internal/daemon/server"
	uploadstate "github.com/urlsession-go/urlsession/internal/resumable"
)

// upload runs an upload job: from its resume data when it has some, else
// from its file; unusable resume data starts the upload over, unless the
// file holds only the end of the body (a file the daemon owns, written
// from the body that resume data of an upload from memory kept), which
// cannot: the job then fails.
func (r *Runner) upload(ctx context.Context, job api.Job, rep *reporter) server.Result {
	data := job.ResumeData
	s, err := r.session(job)
	if err != nil {
		return server.Result{Err: err, ResumeData: data}
	}
	for {
		var ut *urlsession.UploadTask
		if data != nil {
			ut = s.UploadTaskWithResumeData(data)
		} else {
			req, err := request(job)
			if err != nil {
				return server.Result{Err: err}
			}
			ut = s.UploadTaskFromFile(req, job.File)
		}
		d := &uploadDelegate{rep: rep}
		if err := ut.SetDelegate(d); err != nil {
			ut.Cancel()
			return server.Result{Err: err, ResumeData: data}
		}
		ut.Resume()
		select {
		case <-ut.Done():
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), stopWait)
			rd, err := ut.CancelByProducingResumeData(sctx)
			cancel()
			<-ut.Done()
			if ut.Err() == nil {
				break // it completed before the stop took effect
			}
			if err != nil || rd == nil {
				rd = data
			}
			return server.Result{ResumeData: rd, BytesDone: d.bytes()}
		}
		err := ut.Err()
		resp := ut.Response()
		if err == nil {
			if te := retryStatus(resp); te != nil {
				return server.Result{Err: te, StatusCode: resp.StatusCode, Response: api.NewResponse(resp)}
			}
			body, whole := d.responseBody()
			if !whole {
				// The upload is done; the app could not be given the
				// answer whole, so it is told so rather than handed a
				// part of it.
				return server.Result{StatusCode: resp.StatusCode, Response: api.NewResponse(resp), BytesDone: d.bytes(),
					Err: &server.TransferError{Code: int(urlsession.ErrDataLengthExceedsMaximum), Permanent: true,
						Message: fmt.Sprintf("the upload was sent, but its response body is larger than the %d bytes a background upload keeps", api.MaxResponseBody)}}
			}
			return server.Result{StatusCode: resp.StatusCode, Response: api.NewResponse(resp), Body: body, BytesDone: d.bytes()}
		}
		if data != nil && staleResumeData(err) && canStartOver(job, data) {
			r.log.Info("upload resume data unusable: starting over", "job", job.ID)
			data = nil
			continue
		}
		var rd []byte
		if e, ok := errors.AsType[*urlsession.Error](err); ok {
			rd = e.UploadTaskResumeData
		}
		return server.Result{Err: transferError(err), ResumeData: rd, BytesDone: d.bytes()}
	}
}

// uploadDelegate is an upload task's delegate.
type uploadDelegate struct {
	rep     *reporter
	mu      sync.Mutex
	sent    int64
	started bool
	resumed int64  // the bytes the server held when the upload continued
	body    []byte // the response body, up to api.MaxResponseBody
	over    bool   // the response body went past api.MaxResponseBody
}

var (
	_ urlsession.SendProgressDelegate = (*uploadDelegate)(nil)
	_ urlsession.DataDelegate         = (*uploadDelegate)(nil)
	_ urlsession.MetricsDelegate      = (*uploadDelegate)(nil)
)

func (d *uploadDelegate) DidFinishCollectingMetrics(s *urlsession.Session, t *urlsession.Task, m *urlsession.TaskMetrics) {
	d.rep.DidFinishCollectingMetrics(s, t, m)
}

// DidReceiveData keeps the response body for the app, up to
// api.MaxResponseBody bytes.
func (d *uploadDelegate) DidReceiveData(_ *urlsession.Session, _ *urlsession.DataTask, data []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.over || len(d.body)+len(data) > api.MaxResponseBody {
		d.over, d.body = true, nil
		return
	}
	d.body = append(d.body, data...)
}

// responseBody returns the response body and whether it is whole.
func (d *uploadDelegate) responseBody() ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.body, !d.over
}

func (d *uploadDelegate) DidSendBodyData(_ *urlsession.Session, _ *urlsession.Task, n, total, expected int64) {
	d.mu.Lock()
	if !d.started {
		// An upload from resume data counts from what the server held:
		// the first report's total less what it sent.
		d.started, d.resumed = true, max(total-n, 0)
	}
	d.sent = total
	resumed := d.resumed
	d.mu.Unlock()
	d.rep.report(server.Progress{BytesDone: total, BytesExpected: expected, Resumed: resumed})
}

func (d *uploadDelegate) bytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sent
}

// canStartOver reports whether an upload job can be sent again from the
// start of its file: not when the file is the daemon's or its resume data
// says the file's first bytes are not the upload's.
func canStartOver(job api.Job, data []byte) bool {
	if job.OwnsFile {
		return false
	}
	st, err := uploadstate.Decode(data)
	return err != nil || st.BodyOffset == 0
}
