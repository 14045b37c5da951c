package main

import (
	"bytes"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"path/filepath"
	"strings"
)

// curlEscape percent-encodes every byte of s but the unreserved characters
// of RFC 3986 (letters, digits, "-", ".", "_", "~"), as curl_easy_escape
// does: a space becomes %20.
func curlEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// curlFormEscape is curlEscape with a space written as "+", as curl
// writes the content of --data-urlencode and --url-query
// (application/x-www-form-urlencoded).
func curlFormEscape(s string) string {
	return strings.ReplaceAll(curlEscape(s), "%20", "+")
}

// withFileName returns u with the last element of the file name appended
// to its path when the path is empty or ends with "/", as curl -T names
// the file it uploads; otherwise u unchanged.
func withFileName(u *url.URL, file string) *url.URL {
	p := u.EscapedPath()
	if p != "" && !strings.HasSuffix(p, "/") {
		return u
	}
	if p == "" {
		p = "/"
	}
	base := file
	if i := strings.LastIndexAny(file, `/\`); i >= 0 {
		base = file[i+1:]
	}
	if base == "" {
		base = filepath.Base(file)
	}
	u2 := *u
	u2.RawPath = p + curlEscape(base)
	u2.Path, _ = url.PathUnescape(u2.RawPath)
	return &u2
}

// formArg is one -F (--form) or --form-string argument.
type formArg struct {
	value   string
	literal bool // --form-string: the content is taken as it is
}

// formPart is a parsed form argument, one part of the multipart body.
type formPart struct {
	name        string
	content     string // the text, or the file name for @ and <
	upload      bool   // name=@file: the file, as a file upload
	fromFile    bool   // name=<file: the file's content, as text
	contentType string // ;type=, "" for the default
	filename    string // ;filename=, or the file's own name for @
}

// parseFormArg parses a form argument as curl does:
//
//	name=content           a text part
//	name=@file             a file upload (filename and type from the file)
//	name=<file             a text part with the file's content
//	...;type=TYPE          the part's Content-Type
//	...;filename=NAME      the part's file name
//
// "-" as the file is standard input. Content, file and parameter values
// may be double-quoted to hold ";" (with \" and \\ inside). Parameters
// other than type and filename are skipped; each is returned as a warning.
func parseFormArg(a formArg) (p formPart, warnings []string, err error) {
	name, rest, ok := strings.Cut(a.value, "=")
	if !ok || name == "" {
		return p, nil, usageErrorf("bad -F argument %q: want name=content", a.value)
	}
	p.name = name
	if a.literal {
		p.content = rest
		return p, nil, nil
	}
	switch {
	case strings.HasPrefix(rest, "@"):
		p.upload, rest = true, rest[1:]
	case strings.HasPrefix(rest, "<"):
		p.fromFile, rest = true, rest[1:]
	}
	p.content, rest = formWord(rest)
	if p.upload {
		p.filename = p.content
		if i := strings.LastIndexAny(p.filename, `/\`); i >= 0 {
			p.filename = p.filename[i+1:]
		}
	}
	for strings.HasPrefix(rest, ";") {
		rest = strings.TrimLeft(rest[1:], " \t")
		var v string
		switch {
		case strings.HasPrefix(rest, "type="):
			p.contentType, rest = formWord(rest[len("type="):])
		case strings.HasPrefix(rest, "filename="):
			p.filename, rest = formWord(rest[len("filename="):])
		default:
			v, rest = formWord(rest)
			warnings = append(warnings, "skip unknown form field: "+v)
		}
	}
	return p, warnings, nil
}

// formWord reads one value from the start of s, up to the next ";" or, when
// s starts with a double quote, the closing quote; it returns the value
// and what follows.
func formWord(s string) (word, rest string) {
	if !strings.HasPrefix(s, `"`) {
		if i := strings.IndexByte(s, ';'); i >= 0 {
			return s[:i], s[i:]
		}
		return s, ""
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			i++
			b.WriteByte(s[i])
		case c == '"':
			rest = s[i+1:]
			// Anything between the quote and the next ";" is dropped.
			if j := strings.IndexByte(rest, ';'); j >= 0 {
				return b.String(), rest[j:]
			}
			return b.String(), ""
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), "" // no closing quote: the rest is the value
}

// fileContentType is the Content-Type curl gives a file upload: from a few
// well-known extensions, else application/octet-stream.
func fileContentType(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".gif":
		return "image/gif"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".svg":
		return "image/svg+xml"
	case ".txt":
		return "text/plain"
	case ".htm", ".html":
		return "text/html"
	case ".pdf":
		return "application/pdf"
	case ".xml":
		return "application/xml"
	}
	return "application/octet-stream"
}

// formEscaper escapes a name or file name in Content-Disposition as
// browsers (and curl) do.
var formEscaper = strings.NewReplacer(`"`, "%22", "\r", "%0D", "\n", "%0A")

// formBody builds the multipart/form-data body of parts, reading files
// with read, and returns it with its Content-Type.
func formBody(parts []formPart, read func(name string) ([]byte, error)) ([]byte, string, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		content := []byte(p.content)
		if p.upload || p.fromFile {
			var err error
			if content, err = read(p.content); err != nil {
				return nil, "", err
			}
		}
		cd := `form-data; name="` + formEscaper.Replace(p.name) + `"`
		if p.upload || p.filename != "" {
			cd += `; filename="` + formEscaper.Replace(p.filename) + `"`
		}
		h := textproto.MIMEHeader{"Content-Disposition": {cd}}
		switch {
		case p.contentType != "":
			h.Set("Content-Type", p.contentType)
		case p.upload:
			h.Set("Content-Type", fileContentType(p.filename))
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		w.Write(content)
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), mw.FormDataContentType(), nil
}
