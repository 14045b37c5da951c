package urlsessiontest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// ResumableUploads is an http.Handler that accepts uploads by the protocol
// of "Resumable Uploads for HTTP" (draft-ietf-httpbis-resumable-upload) in
// the interop versions Apple's URLSession speaks: 3, 5 and 6. Serve it
// with httptest (HTTP/1.1 or HTTP/2) to test a client's resumable uploads,
// with the faults it can inject.
//
// A POST or PUT with an Upload-Draft-Interop-Version of 3, 5 or 6 creates
// an upload: the handler answers 104 Upload Resumption Supported at once,
// with the upload's resumption URL in Location (Path + "/" + a number),
// then stores the body as it arrives. Its final answer to the request that
// completes an upload is 201 Created with the body "<n> bytes, sha256
// <hex>" describing what it stored. On the resumption URL it answers HEAD
// (offset retrieval: 204 with Upload-Offset), PATCH (append: 409 Conflict
// with the current Upload-Offset when the offset sent is not the one it
// holds; version 6 requires Content-Type application/partial-upload),
// DELETE (cancellation: 204) and OPTIONS (Upload-Limit). Every response to
// the protocol carries Upload-Draft-Interop-Version and Upload-Complete
// (Upload-Incomplete in version 3). A request without the protocol's
// version field is an ordinary upload: its body is read and described in a
// 200 response.
//
// The handler works on one upload with one request at a time: a request on
// an upload waits until the one before it (a creation or an append whose
// client went away, say) has stored what it received.
//
// Set the hooks before serving; a ResumableUploads is safe for concurrent
// use once serving.
type ResumableUploads struct {
	// Path is the path prefix of resumption URLs; empty means "/uploads".
	Path string

	// MaxAppendSize, when positive, is announced in Upload-Limit as
	// max-append-size, and an append (PATCH) carrying more is refused with
	// 400. The creation request is not limited.
	MaxAppendSize int64

	// Interrupt, when set, is called before the handler reads the body of
	// a creation or an append, with the upload's offset at that point. It
	// returns after, the number of body bytes to store before the request
	// is interrupted (a negative after reads the whole body), and status:
	// zero resets the connection (HTTP/1.1) or the stream (HTTP/2), another
	// value is the status to answer instead, such as 503. Interrupt may
	// block, to wait until a test is ready for the fault. A reset soon
	// after the 104 can reach the client before it has read the 104 (the
	// reset discards what its kernel had not delivered), and a client that
	// never saw the resumption URL cannot resume: before a reset at the
	// start of a creation, wait until the client has seen the 104 (in its
	// DidReceiveInformationalResponse, say).
	Interrupt func(offset int64) (after int64, status int)

	// Conflict, when set, is called for each append whose offset is
	// right; returning true answers 409 Conflict all the same, as a server
	// that lost track of a concurrent request would.
	Conflict func(offset int64) bool

	mu      sync.Mutex
	uploads []*resumableUpload // indexed by identifier - 1
}

type resumableUpload struct {
	// busy is held by the request that works on the upload: one at a
	// time, so that an offset is never read while an earlier request
	// still stores bytes.
	busy     sync.Mutex
	version  string
	data     []byte
	length   int64 // -1 until known
	complete bool
	deleted  bool
}

// Upload is what a ResumableUploads holds of one upload.
type Upload struct {
	// ID is the upload's number, the last element of its resumption URL.
	ID int
	// Version is the interop version the upload was created with.
	Version int
	// Data is the body stored so far.
	Data []byte
	// Complete reports that the whole body arrived.
	Complete bool
	// Deleted reports that the client cancelled the upload with DELETE.
	Deleted bool
}

// Uploads returns a copy of every upload created so far, in order of
// creation.
func (s *ResumableUploads) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Upload, len(s.uploads))
	for i, u := range s.uploads {
		v, _ := strconv.Atoi(u.version)
		out[i] = Upload{ID: i + 1, Version: v, Data: append([]byte(nil), u.data...), Complete: u.complete, Deleted: u.deleted}
	}
	return out
}

func (s *ResumableUploads) prefix() string {
	if s.Path == "" {
		return "/uploads"
	}
	return strings.TrimSuffix(s.Path, "/")
}

// ServeHTTP implements http.Handler.
func (s *ResumableUploads) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	version := r.Header.Get("Upload-Draft-Interop-Version")
	if rest, ok := strings.CutPrefix(r.URL.Path, s.prefix()+"/"); ok {
		id, err := strconv.Atoi(rest)
		if err != nil || id < 1 {
			http.NotFound(w, r)
			return
		}
		s.resource(w, r, id, version)
		return
	}
	switch {
	case r.Method != http.MethodPost && r.Method != http.MethodPut:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	case version == "":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		fmt.Fprint(w, describe(b))
	case !knownVersion(version):
		http.Error(w, "unsupported interop version", http.StatusBadRequest)
	default:
		s.create(w, r, version)
	}
}

func knownVersion(v string) bool { return v == "3" || v == "5" || v == "6" }

func describe(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%d bytes, sha256 %s", len(b), hex.EncodeToString(sum[:]))
}

// completeField reads the completeness of the request for version v.
func completeField(h http.Header, v string) (complete, ok bool) {
	name := "Upload-Complete"
	if v == "3" {
		name = "Upload-Incomplete"
	}
	switch strings.TrimSpace(h.Get(name)) {
	case "?1":
		return v != "3", true
	case "?0":
		return v == "3", true
	}
	return false, false
}

func setComplete(h http.Header, v string, complete bool) {
	name, val := "Upload-Complete", complete
	if v == "3" {
		name, val = "Upload-Incomplete", !complete
	}
	if val {
		h.Set(name, "?1")
	} else {
		h.Set(name, "?0")
	}
}

func (s *ResumableUploads) limits() string {
	l := "min-size=0"
	if s.MaxAppendSize > 0 {
		l += ", max-append-size=" + strconv.FormatInt(s.MaxAppendSize, 10)
	}
	return l
}

func (s *ResumableUploads) create(w http.ResponseWriter, r *http.Request, version string) {
	complete, ok := completeField(r.Header, version)
	if !ok {
		http.Error(w, "missing or malformed completeness field", http.StatusBadRequest)
		return
	}
	length := int64(-1)
	if complete && r.ContentLength >= 0 {
		length = r.ContentLength
	}
	if v := r.Header.Get("Upload-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || (length >= 0 && n != length) {
			http.Error(w, "bad Upload-Length", http.StatusBadRequest)
			return
		}
		length = n
	}
	u := &resumableUpload{version: version, length: length}
	u.busy.Lock()
	defer u.busy.Unlock()
	s.mu.Lock()
	s.uploads = append(s.uploads, u)
	id := len(s.uploads)
	s.mu.Unlock()
	loc := s.prefix() + "/" + strconv.Itoa(id)

	h := w.Header()
	h.Set("Location", loc)
	h.Set("Upload-Draft-Interop-Version", version)
	h.Set("Upload-Limit", s.limits())
	w.WriteHeader(104)
	h.Del("Upload-Limit")
	s.receive(w, r, u, id, 0, complete)
}

// receive stores the body of a creation or append at offset and answers.
func (s *ResumableUploads) receive(w http.ResponseWriter, r *http.Request, u *resumableUpload, id int, offset int64, complete bool) {
	after, status := int64(-1), 0
	if s.Interrupt != nil {
		after, status = s.Interrupt(offset)
	}
	body := io.Reader(r.Body)
	if after >= 0 {
		body = io.LimitReader(r.Body, after)
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			s.mu.Lock()
			u.data = append(u.data, buf[:n]...)
			s.mu.Unlock()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return // the client went away: what arrived is stored
		}
	}
	if after >= 0 {
		if status == 0 {
			panic(http.ErrAbortHandler)
		}
		http.Error(w, "interrupted", status)
		return
	}
	s.mu.Lock()
	size := int64(len(u.data))
	if complete {
		if u.length >= 0 && size != u.length {
			s.mu.Unlock()
			http.Error(w, "the upload's length does not match", http.StatusBadRequest)
			return
		}
		u.complete = true
		u.length = size
	}
	data := u.data
	s.mu.Unlock()

	h := w.Header()
	h.Set("Upload-Draft-Interop-Version", u.version)
	h.Set("Upload-Offset", strconv.FormatInt(size, 10))
	h.Set("Location", s.prefix()+"/"+strconv.Itoa(id))
	setComplete(h, u.version, complete)
	if !complete {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, describe(data))
}

func (s *ResumableUploads) resource(w http.ResponseWriter, r *http.Request, id int, version string) {
	s.mu.Lock()
	var u *resumableUpload
	if id <= len(s.uploads) && !s.uploads[id-1].deleted {
		u = s.uploads[id-1]
	}
	s.mu.Unlock()
	if u == nil {
		http.NotFound(w, r)
		return
	}
	if version != u.version {
		http.Error(w, "the upload speaks interop version "+u.version, http.StatusBadRequest)
		return
	}
	h := w.Header()
	h.Set("Upload-Draft-Interop-Version", u.version)
	u.busy.Lock()
	defer u.busy.Unlock()
	switch r.Method {
	case http.MethodHead:
		s.mu.Lock()
		offset, complete := len(u.data), u.complete
		s.mu.Unlock()
		h.Set("Upload-Offset", strconv.Itoa(offset))
		h.Set("Cache-Control", "no-store")
		h.Set("Upload-Limit", s.limits())
		setComplete(h, u.version, complete)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodOptions:
		h.Set("Upload-Limit", s.limits())
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		s.mu.Lock()
		u.deleted = true
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		s.append(w, r, u, id)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *ResumableUploads) append(w http.ResponseWriter, r *http.Request, u *resumableUpload, id int) {
	if u.version == "6" && r.Header.Get("Content-Type") != "application/partial-upload" {
		http.Error(w, "an append must be of type application/partial-upload", http.StatusUnsupportedMediaType)
		return
	}
	complete, ok := completeField(r.Header, u.version)
	if !ok {
		http.Error(w, "missing or malformed completeness field", http.StatusBadRequest)
		return
	}
	offset, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || offset < 0 {
		http.Error(w, "missing or malformed Upload-Offset", http.StatusBadRequest)
		return
	}
	if s.MaxAppendSize > 0 && r.ContentLength > s.MaxAppendSize {
		http.Error(w, "the body exceeds max-append-size", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	have, done := int64(len(u.data)), u.complete
	s.mu.Unlock()
	if done {
		http.Error(w, "the upload is already complete", http.StatusBadRequest)
		return
	}
	if offset != have || (s.Conflict != nil && s.Conflict(offset)) {
		w.Header().Set("Upload-Offset", strconv.FormatInt(have, 10))
		setComplete(w.Header(), u.version, false)
		http.Error(w, "the offset is not the upload's", http.StatusConflict)
		return
	}
	s.receive(w, r, u, id, offset, complete)
}
