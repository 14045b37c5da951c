package urlsessiontest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// FaultKind is what a Fault does to a response.
type FaultKind int

const (
	// Pass leaves the response alone.
	Pass FaultKind = iota
	// Reset aborts the response after At bytes of its body: over HTTP/1.1
	// the connection closes before the body is complete (the client sees
	// an unexpected EOF), over HTTP/2 the stream is reset.
	Reset
	// Stall sends At bytes of the body, flushes them, then sends nothing
	// more until the client goes away or the handler's server closes.
	Stall
	// Truncate ends the body cleanly after At bytes, with its
	// Content-Length removed: a short body the client cannot tell from a
	// whole one by its framing (only validators or digests can).
	Truncate
	// Pause sends At bytes of the body, flushes them, then waits until
	// the Fault's Resume channel is closed and sends the rest; a client
	// that goes away meanwhile ends the response. It makes an order of
	// events certain, such as another request arriving before a body
	// ends.
	Pause
)

// Fault is what a FaultHandler does to one response.
type Fault struct {
	Kind FaultKind
	// At is the number of body bytes sent before the fault strikes.
	At int64
	// Resume, for Pause, lets the rest of the body go once it is closed.
	Resume <-chan struct{}
}

// FaultHandler wraps a handler and injects faults into its responses: a
// reset, a stall, a pause or a truncation at a chosen byte of the body, as Choose
// decides for each request. Serve it with net/http/httptest (HTTP/1.1 and
// HTTP/2 both work), or use NewFaultProxy to put it in front of another
// server. A FaultHandler is safe for concurrent use.
type FaultHandler struct {
	// Next serves the requests.
	Next http.Handler
	// Choose returns the fault for the n-th request (counting from 0). A
	// nil Choose passes every request.
	Choose func(n int, r *http.Request) Fault

	requests atomic.Int64
}

// Requests returns the number of requests the handler has received.
func (h *FaultHandler) Requests() int { return int(h.requests.Load()) }

// ServeHTTP serves r through Next, applying the fault Choose picks.
func (h *FaultHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(h.requests.Add(1) - 1)
	var f Fault
	if h.Choose != nil {
		f = h.Choose(n, r)
	}
	if f.Kind == Pass {
		h.Next.ServeHTTP(w, r)
		return
	}
	fw := &faultWriter{ResponseWriter: w, fault: f, r: r}
	h.Next.ServeHTTP(fw, r)
	if fw.struck && f.Kind == Reset {
		panic(http.ErrAbortHandler) // net/http closes the connection or resets the stream
	}
}

// faultWriter counts body bytes and strikes at the fault's byte.
type faultWriter struct {
	http.ResponseWriter
	fault   Fault
	r       *http.Request
	written int64
	struck  bool
	header  bool
}

func (fw *faultWriter) WriteHeader(code int) {
	if fw.header {
		return
	}
	fw.header = true
	if fw.fault.Kind == Truncate {
		fw.Header().Del("Content-Length")
	}
	fw.ResponseWriter.WriteHeader(code)
}

func (fw *faultWriter) Write(p []byte) (int, error) {
	if !fw.header {
		fw.WriteHeader(http.StatusOK)
	}
	if fw.struck {
		return 0, http.ErrHandlerTimeout // any error: the handler stops writing
	}
	room := fw.fault.At - fw.written
	if fw.fault.Kind == Pass || int64(len(p)) <= room {
		n, err := fw.ResponseWriter.Write(p)
		fw.written += int64(n)
		return n, err
	}
	n, err := fw.ResponseWriter.Write(p[:max(room, 0)])
	fw.written += int64(n)
	if err != nil {
		return n, err
	}
	http.NewResponseController(fw.ResponseWriter).Flush()
	if fw.fault.Kind == Pause {
		select {
		case <-fw.fault.Resume:
		case <-fw.r.Context().Done():
			fw.struck = true
			return n, http.ErrHandlerTimeout
		}
		fw.fault = Fault{Kind: Pass} // the rest goes through
		m, err := fw.ResponseWriter.Write(p[n:])
		fw.written += int64(m)
		return n + m, err
	}
	fw.struck = true
	if fw.fault.Kind == Stall {
		<-fw.r.Context().Done()
	}
	return n, http.ErrHandlerTimeout
}

func (fw *faultWriter) Flush() {
	if !fw.struck {
		http.NewResponseController(fw.ResponseWriter).Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (fw *faultWriter) Unwrap() http.ResponseWriter { return fw.ResponseWriter }

// NewFaultProxy returns a FaultHandler in front of a reverse proxy to
// target, for injecting faults into the responses of another server (a
// real one in an interop test, say).
func NewFaultProxy(target *url.URL, choose func(n int, r *http.Request) Fault) *FaultHandler {
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	rp.ErrorLog = nil
	return &FaultHandler{Next: rp, Choose: choose}
}

// Resource is an http.Handler serving one changeable resource the way a
// static file server does, through http.ServeContent: byte ranges,
// If-Range, conditional requests, with a strong entity tag (the quoted hex
// SHA-256 of the content, so a new content always has a new tag) and a
// Last-Modified date. Replace swaps the content between requests, as a file
// replaced on a server. A Resource is safe for concurrent use.
type Resource struct {
	// NoRanges makes the resource ignore Range, answering 200 with the
	// whole body, as servers without range support do. Set it before use.
	NoRanges bool
	// WeakETag makes the entity tag weak (W/"..."), as servers that
	// compress on the fly send, and the only validator: no Last-Modified
	// is sent. Set it before use.
	WeakETag bool
	// NoValidators sends neither ETag nor Last-Modified. Set it before use.
	NoValidators bool

	mu       sync.Mutex
	content  []byte
	etag     string
	modified time.Time
}

// NewResource returns a Resource serving content, last modified an hour
// before now.
func NewResource(content []byte) *Resource {
	r := &Resource{}
	r.set(content, time.Now().Add(-time.Hour))
	return r
}

// Replace changes the content, with a new entity tag and a Last-Modified
// one second after the previous one.
func (r *Resource) Replace(content []byte) {
	r.mu.Lock()
	mod := r.modified.Add(time.Second)
	if r.modified.IsZero() {
		mod = time.Now().Add(-time.Hour)
	}
	r.mu.Unlock()
	r.set(content, mod)
}

// Content returns the current content (do not modify it).
func (r *Resource) Content() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.content
}

// ETag returns the current entity tag, quoted.
func (r *Resource) ETag() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.etag
}

func (r *Resource) set(content []byte, mod time.Time) {
	sum := sha256.Sum256(content)
	r.mu.Lock()
	r.content = content
	r.etag = `"` + hex.EncodeToString(sum[:16]) + `"`
	r.modified = mod.Truncate(time.Second)
	r.mu.Unlock()
}

// ServeHTTP serves the current content.
func (r *Resource) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	content, etag, mod := r.content, r.etag, r.modified
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/octet-stream")
	if r.NoRanges {
		req.Header.Del("Range")
		w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	}
	switch {
	case r.NoValidators:
		mod = time.Time{}
	case r.WeakETag:
		w.Header().Set("Etag", "W/"+etag)
		mod = time.Time{}
	default:
		w.Header().Set("Etag", etag)
	}
	if r.NoRanges {
		w.WriteHeader(http.StatusOK)
		if req.Method != http.MethodHead {
			w.Write(content)
		}
		return
	}
	http.ServeContent(w, req, "", mod, bytes.NewReader(content))
}
