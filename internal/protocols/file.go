package protocols

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
)

// URLError codes used by File; they match the urlsession package's Code
// constants of the same names.
const (
	fileErrUnsupportedURL          = -1002
	fileErrFileDoesNotExist        = -1100
	fileErrFileIsDirectory         = -1101
	fileErrNoPermissionsToReadFile = -1102
	fileErrCannotOpenFile          = -3001
)

// File loads file: URLs from the local file system.
//
// Only local files are served: file:///path and file://localhost/path (the
// host compared without regard to case). A URL naming any other host, an
// opaque URL such as file:name, or one without a path fails with -1002
// (ErrUnsupportedURL): remote file systems are not reachable through a file
// URL. The path is req.URL.Path, already percent-decoded; symbolic links
// are followed.
//
// GET (or an empty method) and HEAD are supported. Every other method,
// including an upload, fails with -1002 (ErrUnsupportedURL); a request body,
// if any, is closed. Opening the file fails with -1100 (ErrFileDoesNotExist)
// when it is missing, -1101 (ErrFileIsDirectory) for a directory, -1102
// (ErrNoPermissionsToReadFile) when it may not be read, and -3001
// (ErrCannotOpenFile) otherwise, including for files that are not regular
// files (devices, pipes, sockets).
//
// The response is 200 with Content-Type guessed from the file name's
// extension by mime.TypeByExtension (application/octet-stream when it is
// unknown; Apple derives the type from the file's uniform type identifier
// instead), Content-Length, Last-Modified from the modification time and
// Accept-Ranges: bytes. The body reads the open file as it is consumed; a
// HEAD response has no body.
//
// A single byte range (Range: bytes=a-b, a- or -n) is answered with 206 and
// Content-Range, so a download can resume; a range that cannot be satisfied
// is answered with 416 and Content-Range: bytes */size. Several ranges, or a
// Range header File does not understand, get the whole file. If-Range is
// honoured with the Last-Modified value: when it does not match (or is an
// entity tag, as File sends none), the whole file is sent with 200.
type File struct{}

// CanHandle reports whether req's URL has the scheme file.
func (File) CanHandle(req *http.Request) bool {
	return req != nil && req.URL != nil && strings.EqualFold(req.URL.Scheme, "file")
}

// RoundTrip loads the file named by req's URL.
func (File) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	u := req.URL
	if u == nil {
		return nil, fail.Newf(fileErrUnsupportedURL, "file: request without a URL")
	}
	head := false
	switch req.Method {
	case "", http.MethodGet:
	case http.MethodHead:
		head = true
	default:
		return nil, fail.Newf(fileErrUnsupportedURL, "file: method %s is not supported for %s; only GET and HEAD are", req.Method, u.Redacted())
	}
	if u.Opaque != "" {
		return nil, fail.Newf(fileErrUnsupportedURL, "file: %s has no absolute path", u.Redacted())
	}
	if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
		return nil, fail.Newf(fileErrUnsupportedURL, "file: host %q in %s is not local", u.Host, u.Redacted())
	}
	if u.Path == "" {
		return nil, fail.Newf(fileErrUnsupportedURL, "file: %s has no path", u.Redacted())
	}
	name := filepath.FromSlash(u.Path)

	// Stat before opening, so that opening a named pipe cannot block.
	info, err := os.Stat(name)
	if err != nil {
		return nil, fileOpenError(err)
	}
	if err := fileCheckMode(name, info); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fileOpenError(err)
	}
	if info, err = f.Stat(); err != nil {
		f.Close()
		return nil, fail.New(fileErrCannotOpenFile, err)
	}
	if err := fileCheckMode(name, info); err != nil {
		f.Close()
		return nil, err
	}

	size := info.Size()
	mod := info.ModTime()
	ctype := mime.TypeByExtension(filepath.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h := http.Header{}
	h.Set("Content-Type", ctype)
	h.Set("Last-Modified", mod.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")

	resp := localResponse(req, h)
	start, length, ok := answerRange(req, resp, size, mod)
	if !ok {
		f.Close()
		return resp, nil
	}
	resp.ContentLength = length
	if head {
		f.Close()
		resp.Body = http.NoBody
		return resp, nil
	}
	resp.Body = &fileBody{
		f:   f,
		r:   io.NewSectionReader(f, start, length),
		ctx: req.Context(),
	}
	return resp, nil
}

// fileCheckMode refuses directories and files that are not regular.
func fileCheckMode(name string, info fs.FileInfo) error {
	switch {
	case info.IsDir():
		return fail.Newf(fileErrFileIsDirectory, "file: %s is a directory", name)
	case !info.Mode().IsRegular():
		return fail.Newf(fileErrCannotOpenFile, "file: %s is not a regular file", name)
	}
	return nil
}

// fileOpenError gives err from stat or open its URLError code.
func fileOpenError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fail.New(fileErrFileDoesNotExist, err)
	case errors.Is(err, fs.ErrPermission):
		return fail.New(fileErrNoPermissionsToReadFile, err)
	}
	return fail.New(fileErrCannotOpenFile, err)
}

// answerRange applies req's Range header, where it applies (see
// fileRangeApplies), to resp, the response for a resource of size bytes
// last modified at mod, and returns the part of the resource to send: a
// satisfiable range makes resp a 206 with its Content-Range, an
// unsatisfiable one an empty 416 (ok false: nothing is to be sent). It
// sets Content-Length to the length sent.
func answerRange(req *http.Request, resp *http.Response, size int64, mod time.Time) (start, length int64, ok bool) {
	start, length = 0, size
	if fileRangeApplies(req.Header, mod) {
		switch a, n, found := fileParseRange(req.Header.Get("Range"), size); {
		case found && n < 0:
			resp.Status = "416 Requested Range Not Satisfiable"
			resp.StatusCode = http.StatusRequestedRangeNotSatisfiable
			resp.Header.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
			resp.Header.Set("Content-Length", "0")
			resp.ContentLength = 0
			resp.Body = http.NoBody
			return 0, 0, false
		case found:
			start, length = a, n
			resp.Status = "206 Partial Content"
			resp.StatusCode = http.StatusPartialContent
			resp.Header.Set("Content-Range", "bytes "+strconv.FormatInt(a, 10)+"-"+
				strconv.FormatInt(a+n-1, 10)+"/"+strconv.FormatInt(size, 10))
		}
	}
	resp.Header.Set("Content-Length", strconv.FormatInt(length, 10))
	return start, length, true
}

// fileRangeApplies reports whether h asks for a range and any If-Range
// condition holds for a file last modified at mod.
func fileRangeApplies(h http.Header, mod time.Time) bool {
	if h.Get("Range") == "" {
		return false
	}
	ir := h.Get("If-Range")
	if ir == "" {
		return true
	}
	t, err := http.ParseTime(ir)
	if err != nil { // an entity tag, or garbage: File has no entity tags
		return false
	}
	return t.Equal(mod.Truncate(time.Second))
}

// fileParseRange reads a Range header for a file of size bytes. It returns
// ok false when the header is not one byte range File understands (the whole
// file is then sent), and n < 0 when the range cannot be satisfied.
func fileParseRange(s string, size int64) (start, n int64, ok bool) {
	unit, spec, found := strings.Cut(s, "=")
	if !found || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return 0, 0, false
	}
	spec = strings.TrimSpace(spec)
	if strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" { // suffix: the last n bytes
		k, err := fileDigits(last)
		if err != nil {
			return 0, 0, false
		}
		if k == 0 || size == 0 {
			return 0, -1, true
		}
		k = min(k, size)
		return size - k, k, true
	}
	a, err := fileDigits(first)
	if err != nil {
		return 0, 0, false
	}
	b := size - 1
	if last != "" {
		if b, err = fileDigits(last); err != nil || b < a {
			return 0, 0, false
		}
	}
	if a >= size {
		return 0, -1, true
	}
	b = min(b, size-1)
	return a, b - a + 1, true
}

// fileDigits parses a non-negative decimal number made only of digits.
func fileDigits(s string) (int64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s, 10, 64)
}

// fileBody streams part of an open file; Close closes the file. Reads fail
// once the request's context is done.
type fileBody struct {
	f   *os.File
	r   io.Reader
	ctx context.Context
}

func (b *fileBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	return b.r.Read(p)
}

func (b *fileBody) Close() error { return b.f.Close() }
