package urlsession

// multipart/x-mixed-replace: a response whose body is a stream of parts,
// each replacing the one before (server push, camera feeds). A data task
// with a delegate gets each part as a new response followed by its data,
// as Apple's URL Loading System delivers it.

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/urlsession-go/urlsession/internal/fail"
)

// mixedReplaceBoundary returns the boundary of a multipart/x-mixed-replace
// response that the task delivers part by part, or "" when the response is
// delivered as it is: the task must be a data task whose delegate hears of
// responses or data (ResponseDelegate, DataDelegate), with no completion
// handler, context-first call or stream collecting the body (those get the
// whole multipart body and the response it came with); and the boundary must
// be one RFC 2046 allows (1 to 70 characters of its set, not ending in a
// space). A response with a missing or malformed boundary is delivered as
// it is.
func (t *Task) mixedReplaceBoundary(resp *http.Response, dels *taskDelegates) string {
	if t.data == nil || t.deliver.buffered() || t.deliver.stream != nil || t.deliver.result != nil ||
		(dels.response == nil && dels.data == nil) {
		return ""
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" {
		return ""
	}
	b := params["boundary"]
	if len(b) == 0 || len(b) > 70 || strings.HasSuffix(b, " ") ||
		strings.TrimLeft(b, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ") != "" {
		return ""
	}
	return b
}

// readParts delivers a multipart/x-mixed-replace body: for each part, a
// DidReceiveResponse with the part's response (see partResponse), whose
// disposition is honoured as for any response, then its data through
// DidReceiveData, streamed in pieces as any body is (memory stays bounded
// whatever the parts' sizes). The task completes when the stream ends: after
// the closing boundary, or when the body ends cleanly without one (a
// server that stops pushing); a part truncated that way ends the task
// without error too, as its bytes were delivered as they came. A body that
// fails mid-way fails the task with its error; one that is not multipart
// (no boundary line, a malformed part header) with ErrCannotParseResponse.
// It returns the last part's response, or resp when there was none.
func (t *Task) readParts(ctx context.Context, resp *http.Response, boundary string, dels *taskDelegates) (*http.Response, error) {
	defer resp.Body.Close()
	src := &endReader{r: resp.Body}
	buf := bufio.NewReaderSize(src, chunkSize)
	mr := multipart.NewReader(buf, boundary)
	t.expectedRecv.Store(TransferSizeUnknown)
	last := resp
	for {
		if err := t.waitRunning(ctx); err != nil {
			return last, err
		}
		part, err := mr.NextPart()
		if err == io.EOF && last != resp {
			return last, nil
		}
		if err == io.EOF {
			return last, fail.New(int(ErrCannotParseResponse), errors.New("multipart/x-mixed-replace: the body has no part"))
		}
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return last, context.Cause(ctx)
			case src.err != nil && src.err != io.EOF:
				return last, src.err
			case src.err == io.EOF && last != resp:
				return last, nil // the stream ended without its closing boundary
			}
			return last, fail.New(int(ErrCannotParseResponse), errors.New("multipart/x-mixed-replace: "+err.Error()))
		}
		pr := partResponse(resp, part)
		last = pr
		t.mu.Lock()
		t.response = pr
		t.mu.Unlock()
		if d := dels.response; d != nil {
			disp, err := askLater(ctx, t, func() ResponseDisposition { return d.DidReceiveResponse(t.session, t.data, pr) })
			if err == nil && disp != ResponseAllow {
				t.Cancel()
				err = errCancelled
			}
			if err != nil {
				part.Close()
				return last, err
			}
		}
		// readBody streams the part to the DataDelegate; its length is not
		// passed on, as the task's count of bytes spans every part.
		_, err = t.readBody(ctx, &http.Response{Body: &partPieces{part, buf}, ContentLength: -1})
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return last, context.Cause(ctx)
			case src.err != nil && src.err != io.EOF:
				return last, src.err
			case src.err == io.EOF:
				return last, nil // the stream ended inside this part
			}
			return last, fail.New(int(ErrCannotParseResponse), errors.New("multipart/x-mixed-replace: "+err.Error()))
		}
	}
}

// partResponse is the response of one part of a multipart/x-mixed-replace
// body: the status, protocol, request and TLS state of the response the
// parts came in, the part's own header fields as Header (Content-Type,
// Content-Length, ...), ContentLength from the part's Content-Length (-1
// when it has none or it is malformed), and no body: the part's bytes
// follow through DidReceiveData.
func partResponse(resp *http.Response, part *multipart.Part) *http.Response {
	h := make(http.Header, len(part.Header))
	for k, vs := range part.Header {
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	n := int64(-1)
	if v := h.Get("Content-Length"); v != "" {
		if x, err := strconv.ParseInt(v, 10, 64); err == nil && x >= 0 {
			n = x
		}
	}
	return &http.Response{
		Status: resp.Status, StatusCode: resp.StatusCode,
		Proto: resp.Proto, ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
		Header: h, ContentLength: n, Body: http.NoBody,
		Request: resp.Request, TLS: resp.TLS,
	}
}

// partPieces reads a part in pieces as large as the reader asks for while
// the data is already there: mime/multipart returns at most 4 KiB a read,
// and each read would otherwise be one DidReceiveData. It reads on only
// while buf holds enough that the multipart reader's next read cannot wait
// on the network, so data that came is never held back.
type partPieces struct {
	part *multipart.Part
	buf  *bufio.Reader
}

func (pp *partPieces) Read(p []byte) (int, error) {
	n, err := pp.part.Read(p)
	for err == nil && n < len(p) && pp.buf.Buffered() >= 8<<10 {
		var k int
		k, err = pp.part.Read(p[n:])
		n += k
	}
	return n, err
}

func (pp *partPieces) Close() error { return pp.part.Close() }

// endReader remembers how the reader under the multipart parser ended.
type endReader struct {
	r   io.Reader
	err error
}

func (e *endReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}
