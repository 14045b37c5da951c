package urlsessiontest

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
)

// Capitals returns an http.Handler that serves the routes Apple's open-source
// URLSession tests (swift-corelibs-foundation) use, so those tests can be
// ported. Serve it on loopback with httptest.NewServer(Capitals()). The
// handler is stateless and safe for concurrent use.
//
// Unless a route says otherwise it answers any method, text bodies have
// Content-Type "text/plain; charset=utf-8", every body is sent with a
// Content-Length, and HEAD requests get the GET headers without a body (as
// net/http does).
//
// Delay: a request with the header "X-Pause: S", where S is a non-negative
// decimal number of seconds (fractions allowed, e.g. "0.25"), is answered
// after S seconds; if the request's context is cancelled first (the client
// went away), the handler returns without answering. An X-Pause that is not
// such a number gets 400.
//
// Fixed bodies:
//
//	/Nepal        "Kathmandu"
//	/Peru         "Lima"
//	/Italy        "Rome"
//	/USA          "Washington, D.C."
//	/UK           "London"
//	/country.txt  "A country is a region that is identified as a distinct national entity in political geography"
//
// Reflection of the request ("request headers" below are r.Header plus Host,
// and Transfer-Encoding when the request had one, since net/http moves those
// two out of r.Header; several values of one field are joined with ", "):
//
//	/jsonBody        Content-Type application/json, body
//	                 {"uri":"<METHOD> <request-target> HTTP/1.1","headers":{...},"body":"<base64>"}
//	                 where headers maps each canonical field name to its first value
//	                 and body is the standard base64 of the request body.
//	/echoHeaders     one line "Name: value\n" per request header field, sorted by name.
//	/requestHeaders  the same as a JSON object {"Name":"value",...}, Content-Type application/json.
//	/echo            the request body, with the request's Content-Type (none if it had none).
//	/echo-query      the raw query string, without the "?".
//	/upload          reads the whole request body and answers "upload: <n> bytes", n being
//	                 the bytes read, with header X-Transfer-Encoding set to the request's
//	                 transfer codings joined with ", " (empty if none).
//	/emptyPost       404 with an empty body if the request has a Content-Type header,
//	                 else 200 with an empty body.
//
// Encoded bodies, each the 12 bytes "Hello World!" compressed, with
// Content-Length the compressed size (clients that do not decode see the
// compressed bytes):
//
//	/gzipped-response  Content-Encoding: gzip (RFC 1952)
//	/brotli-response   Content-Encoding: br (RFC 7932)
//	/deflate-response  Content-Encoding: deflate (zlib, RFC 1950)
//
// Methods: /get, /head, /put, /post and /delete answer 200 "OK" to GET, HEAD,
// PUT, POST and DELETE respectively, and 405 with an Allow header naming that
// method and an empty body to any other method.
//
// Sizes: /bytes/N, N a decimal number of bytes, answers with N bytes equal to
// PatternBytes(N), Content-Type application/octet-stream.
//
// Statuses: /NNN, NNN three digits from 200 to 999 (e.g. /300, /301, /302,
// /303, /304, /307, /308, /404, /500, /999), answers with status NNN. For a
// 3xx other than 304 it sets Location to the "location" query parameter, or
// to "jsonBody" (relative, so it resolves to /jsonBody) if that is absent or
// empty, with body "Redirecting to <METHOD> <location>"; 304 and other
// statuses have no body. 401 adds WWW-Authenticate: Basic realm="Fake Relam".
//
// Redirect chains: /redirect/N, N a decimal number, answers 302 with Location
// "/redirect/<N-1>" for N > 0 and "/jsonBody" for N = 0, with body
// "Redirecting to <METHOD> <location>". A client following redirects from
// /redirect/N thus makes N+1 redirect hops and N+2 requests, ending at
// /jsonBody.
//
// Authentication: /auth/basic answers 200 "Authenticated" to a request with
// basic credentials user:passwd, and otherwise 401 with an empty body and
// WWW-Authenticate: Basic realm="Fake Relam". /unauthorized answers 401 with
// Content-Length: 0 and no WWW-Authenticate.
//
// Any other path gets 404 with body "404 page not found\n" (http.NotFound).
func Capitals() http.Handler {
	return http.HandlerFunc(serveCapitals)
}

// PatternBytes returns the n bytes the /bytes/N route of [Capitals] sends:
// byte i is byte(i*7+3). It panics if n is negative.
func PatternBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// realm is the WWW-Authenticate challenge of the Swift test server, typo
// included.
const realm = `Basic realm="Fake Relam"`

var capitals = map[string]string{
	"/Nepal":       "Kathmandu",
	"/Peru":        "Lima",
	"/Italy":       "Rome",
	"/USA":         "Washington, D.C.",
	"/UK":          "London",
	"/country.txt": "A country is a region that is identified as a distinct national entity in political geography",
}

var methodRoutes = map[string]string{
	"/get":    http.MethodGet,
	"/head":   http.MethodHead,
	"/put":    http.MethodPut,
	"/post":   http.MethodPost,
	"/delete": http.MethodDelete,
}

const hello = "Hello World!"

var (
	gzipHello = sync.OnceValue(func() []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(hello))
		w.Close()
		return b.Bytes()
	})
	brotliHello = sync.OnceValue(func() []byte {
		var b bytes.Buffer
		w := brotli.NewWriter(&b)
		w.Write([]byte(hello))
		w.Close()
		return b.Bytes()
	})
	deflateHello = sync.OnceValue(func() []byte {
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		w.Write([]byte(hello))
		w.Close()
		return b.Bytes()
	})
)

// patternChunk is a whole number of periods of PatternBytes (whose period is
// 256), so repeating it continues the pattern.
var patternChunk = PatternBytes(32 << 10)

func serveCapitals(w http.ResponseWriter, r *http.Request) {
	if _, ok := r.Header["X-Pause"]; ok {
		secs, err := strconv.ParseFloat(strings.TrimSpace(r.Header.Get("X-Pause")), 64)
		if err != nil || !(secs >= 0) || math.IsInf(secs, 0) {
			http.Error(w, "X-Pause must be a non-negative number of seconds", http.StatusBadRequest)
			return
		}
		d := time.Duration(math.MaxInt64) // about 292 years
		if secs < 1e9 {
			d = time.Duration(secs * float64(time.Second))
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}

	p := r.URL.Path
	if s, ok := capitals[p]; ok {
		writeBody(w, http.StatusOK, "text/plain; charset=utf-8", []byte(s))
		return
	}
	if m, ok := methodRoutes[p]; ok {
		if r.Method != m {
			w.Header().Set("Allow", m)
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		writeBody(w, http.StatusOK, "text/plain; charset=utf-8", []byte("OK"))
		return
	}
	switch p {
	case "/jsonBody":
		body, _ := io.ReadAll(r.Body)
		headers := map[string]string{}
		for k, v := range requestHeader(r) {
			headers[k] = v[0]
		}
		b, _ := json.Marshal(struct {
			URI     string            `json:"uri"`
			Headers map[string]string `json:"headers"`
			Body    string            `json:"body"`
		}{
			URI:     r.Method + " " + r.RequestURI + " HTTP/1.1",
			Headers: headers,
			Body:    base64.StdEncoding.EncodeToString(body),
		})
		writeBody(w, http.StatusOK, "application/json", b)
	case "/echoHeaders":
		h := requestHeader(r)
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(h)) {
			b.WriteString(k + ": " + strings.Join(h[k], ", ") + "\n")
		}
		writeBody(w, http.StatusOK, "text/plain; charset=utf-8", []byte(b.String()))
	case "/requestHeaders":
		h := requestHeader(r)
		m := make(map[string]string, len(h))
		for k, v := range h {
			m[k] = strings.Join(v, ", ")
		}
		b, _ := json.Marshal(m)
		writeBody(w, http.StatusOK, "application/json", b)
	case "/echo":
		body, _ := io.ReadAll(r.Body)
		// A nil value (no Content-Type in the request) suppresses sniffing.
		w.Header()["Content-Type"] = slices.Clone(r.Header["Content-Type"])
		writeBody(w, http.StatusOK, "", body)
	case "/echo-query":
		writeBody(w, http.StatusOK, "text/plain; charset=utf-8", []byte(r.URL.RawQuery))
	case "/upload":
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Transfer-Encoding", strings.Join(r.TransferEncoding, ", "))
		writeBody(w, http.StatusOK, "text/plain; charset=utf-8", []byte("upload: "+strconv.FormatInt(n, 10)+" bytes"))
	case "/emptyPost":
		if _, ok := r.Header["Content-Type"]; ok {
			writeBody(w, http.StatusNotFound, "", nil)
			return
		}
		writeBody(w, http.StatusOK, "", nil)
	case "/gzipped-response":
		w.Header().Set("Content-Encoding", "gzip")
		writeBody(w, http.StatusOK, "text/plain; charset=utf-8", gzipHello())
	case "/brotli-response":
		w.Header().Set("Content-Encoding", "br")
		writeBody(w, http.StatusOK, "text/plain; charset=utf-8", brotliHello())
	case "/deflate-response":
		w.Header().Set("Content-Encoding", "deflate")
		writeBody(w, http.StatusOK, "text/plain; charset=utf-8", deflateHello())
	case "/auth/basic":
		if u, pw, ok := r.BasicAuth(); ok && u == "user" && pw == "passwd" {
			writeBody(w, http.StatusOK, "text/plain; charset=utf-8", []byte("Authenticated"))
			return
		}
		w.Header().Set("WWW-Authenticate", realm)
		writeBody(w, http.StatusUnauthorized, "", nil)
	case "/unauthorized":
		writeBody(w, http.StatusUnauthorized, "", nil)
	default:
		if !serveNumbered(w, r, p) {
			http.NotFound(w, r)
		}
	}
}

// serveNumbered serves the routes with a number in the path: /redirect/N,
// /bytes/N and /NNN. It reports false if p is none of them.
func serveNumbered(w http.ResponseWriter, r *http.Request, p string) bool {
	if n, ok := strings.CutPrefix(p, "/redirect/"); ok && isDigits(n) {
		k, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return false
		}
		loc := "/jsonBody"
		if k > 0 {
			loc = "/redirect/" + strconv.FormatInt(k-1, 10)
		}
		redirect(w, r, http.StatusFound, loc)
		return true
	}
	if n, ok := strings.CutPrefix(p, "/bytes/"); ok && isDigits(n) {
		k, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return false
		}
		servePattern(w, r, k)
		return true
	}
	if len(p) == 4 && p[0] == '/' && isDigits(p[1:]) && p[1] >= '2' {
		code, _ := strconv.Atoi(p[1:])
		serveStatus(w, r, code)
		return true
	}
	return false
}

func serveStatus(w http.ResponseWriter, r *http.Request, code int) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", realm)
	}
	if code >= 300 && code < 400 && code != http.StatusNotModified {
		loc := r.URL.Query().Get("location")
		if loc == "" {
			loc = "jsonBody"
		}
		redirect(w, r, code, loc)
		return
	}
	w.WriteHeader(code)
}

// redirect answers code with Location loc and the Swift test server's
// redirect body.
func redirect(w http.ResponseWriter, r *http.Request, code int, loc string) {
	w.Header().Set("Location", loc)
	writeBody(w, code, "text/plain; charset=utf-8", []byte("Redirecting to "+r.Method+" "+loc))
}

func servePattern(w http.ResponseWriter, r *http.Request, n int64) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	for n > 0 {
		k := int(min(n, int64(len(patternChunk))))
		if _, err := w.Write(patternChunk[:k]); err != nil {
			return
		}
		n -= int64(k)
	}
}

// writeBody answers code with body and its Content-Length, and with
// Content-Type ct unless ct is empty.
func writeBody(w http.ResponseWriter, code int, ct string, body []byte) {
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

// requestHeader returns the request's header fields as sent, putting back
// Host and Transfer-Encoding, which net/http moves out of r.Header.
func requestHeader(r *http.Request) http.Header {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if r.Host != "" {
		h.Set("Host", r.Host)
	}
	if len(r.TransferEncoding) > 0 {
		h.Set("Transfer-Encoding", strings.Join(r.TransferEncoding, ", "))
	}
	return h
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
