package api

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestDecodeNewJob(t *testing.T) {
	good := `{"session":"s","kind":"download","request":{"method":"GET","url":"https://example.com/f","header":{"Authorization":["Bearer x"]}},"resume_data":"AAEC","destination":"/home/u/f.iso","description":"episode 42"}`
	n, err := DecodeNewJob(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if n.Session != "s" || !bytes.Equal(n.ResumeData, []byte{0, 1, 2}) || n.Destination != "/home/u/f.iso" || n.Description != "episode 42" {
		t.Fatalf("got %+v", n)
	}
	bad := []struct{ name, body, want string }{
		{"empty", ``, "empty body"},
		{"garbage", `}{`, "invalid JSON"},
		{"truncated", `{"session":"s"`, "truncated"},
		{"unknown field", `{"session":"s","kind":"download","request":{"url":"https://h/"},"x":1}`, "unknown field"},
		{"trailing", `{"session":"s","kind":"download","request":{"url":"https://h/"}} {}`, "after the value"},
		{"wrong type", `{"session":1}`, "wants string"},
		{"no session", `{"kind":"download","request":{"url":"https://h/"}}`, "empty session"},
		{"kind", `{"session":"s","kind":"data","request":{"url":"https://h/"}}`, "kind"},
		{"scheme", `{"session":"s","kind":"download","request":{"url":"ftp://h/"}}`, "only http and https"},
		{"no host", `{"session":"s","kind":"download","request":{"url":"https:///x"}}`, "no host"},
		{"method", `{"session":"s","kind":"download","request":{"method":"G T","url":"https://h/"}}`, "not a token"},
		{"header value", `{"session":"s","kind":"download","request":{"url":"https://h/","header":{"X":["a\r\nb"]}}}`, "control character"},
		{"upload without file", `{"session":"s","kind":"upload","request":{"url":"https://h/"}}`, "needs the file"},
		{"relative file", `{"session":"s","kind":"upload","file":"x","request":{"url":"https://h/"}}`, "not absolute"},
		{"priority", `{"session":"s","kind":"download","priority":1000,"request":{"url":"https://h/"}}`, "priority"},
		{"base64", `{"session":"s","kind":"download","resume_data":"!!","request":{"url":"https://h/"}}`, "invalid JSON"},
		{"relative destination", `{"session":"s","kind":"download","destination":"out","request":{"url":"https://h/"}}`, "not absolute"},
		{"unclean destination", `{"session":"s","kind":"download","destination":"/a/../b","request":{"url":"https://h/"}}`, "not a clean file path"},
		{"directory destination", `{"session":"s","kind":"download","destination":"/a/","request":{"url":"https://h/"}}`, "not a clean file path"},
		{"upload destination", `{"session":"s","kind":"upload","file":"/f","destination":"/a","request":{"url":"https://h/"}}`, "only a download"},
		{"destination is file", `{"session":"s","kind":"download","file":"/a","destination":"/a","request":{"url":"https://h/"}}`, "same path"},
		{"download owning a file", `{"session":"s","kind":"download","owns_file":true,"request":{"url":"https://h/"}}`, "only an upload's"},
		{"task identifier", `{"session":"s","kind":"download","task_identifier":-1,"request":{"url":"https://h/"}}`, "negative"},
		{"description", `{"session":"s","kind":"download","description":"` + strings.Repeat("d", MaxDescription+1) + `","request":{"url":"https://h/"}}`, "description"},
	}
	for _, c := range bad {
		_, err := DecodeNewJob(strings.NewReader(c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
	big := `{"session":"` + strings.Repeat("a", MaxBody) + `"}`
	if _, err := DecodeNewJob(strings.NewReader(big)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: got %v, want ErrTooLarge", err)
	}
}

func TestErrorsDoNotEchoSecrets(t *testing.T) {
	body := `{"session":"s","kind":"download","request":{"url":"https://user:hunter2@h/?token=sekrit","header":{"Authorization":["Bearer sekrit"]}},"bogus":"sekrit"}`
	_, err := DecodeNewJob(strings.NewReader(body))
	if err == nil || strings.Contains(err.Error(), "sekrit") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("got %v", err)
	}
	_, err = DecodeNewJob(strings.NewReader(`{"session":"s","kind":"download","request":{"url":"ftp://user:hunter2@h/?t=sekrit"}}`))
	if err == nil || strings.Contains(err.Error(), "sekrit") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("got %v", err)
	}
}

func TestRequestLogValueRedacts(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	r := Request{Method: "GET", URL: "https://u:pw@example.com/a?token=t0k", Header: http.Header{
		"Authorization": {"Bearer s3cret"}, "Cookie": {"id=c00kie"}, "Accept": {"*/*"},
	}}
	log.Info("job", "request", r)
	out := buf.String()
	for _, secret := range []string{"s3cret", "c00kie", "pw", "t0k"} {
		if strings.Contains(out, secret) {
			t.Errorf("log %q shows %q", out, secret)
		}
	}
	if !strings.Contains(out, "example.com/a") || !strings.Contains(out, "Accept") {
		t.Errorf("log %q lacks the URL or header names", out)
	}
}

func TestDecodeAttachAckEvent(t *testing.T) {
	if a, err := DecodeAttach(strings.NewReader("")); err != nil || a.After != 0 {
		t.Fatalf("empty attach: %v %v", a, err)
	}
	if _, err := DecodeAttach(strings.NewReader(`{"launch_command":["relative"]}`)); err == nil {
		t.Error("relative launch command accepted")
	}
	if _, err := DecodeAck(strings.NewReader(`{"through":-1}`)); err == nil {
		t.Error("negative ack accepted")
	}
	if a, err := DecodeAck(strings.NewReader(`{"through":7}`)); err != nil || a.Through != 7 {
		t.Errorf("ack: %v %v", a, err)
	}
	if _, err := DecodeEvent([]byte(`{"seq":0,"kind":"complete"}`)); err == nil {
		t.Error("seq 0 accepted")
	}
	if _, err := DecodeEvent([]byte(`{"seq":1,"kind":"other"}`)); err == nil {
		t.Error("unknown kind accepted")
	}
	if e, err := DecodeEvent([]byte(`{"seq":3,"kind":"finish-downloading","file":"/f"}`)); err != nil || e.File != "/f" {
		t.Errorf("event: %v %v", e, err)
	}
}

func TestNewResponse(t *testing.T) {
	if NewResponse(nil) != nil {
		t.Error("NewResponse(nil) is not nil")
	}
	req, _ := http.NewRequest("GET", "https://example.com/final", nil)
	resp := &http.Response{StatusCode: 200, Proto: "HTTP/2.0", Request: req, Header: http.Header{
		"Content-Type": {"text/plain"}, "Set-Cookie": {"a=1", "b=2"},
	}}
	r := NewResponse(resp)
	if r.URL != "https://example.com/final" || r.Proto != "HTTP/2.0" || r.StatusCode != 200 ||
		r.Header.Get("Content-Type") != "text/plain" || len(r.Header["Set-Cookie"]) != 2 {
		t.Errorf("NewResponse = %+v", r)
	}
	// A hostile server's header is cut to the bounds.
	many := http.Header{}
	for i := range 1000 {
		many.Add(fmt.Sprintf("X-%04d", i), "v")
	}
	if r := NewResponse(&http.Response{StatusCode: 200, Header: many}); len(r.Header) != MaxHeaderFields {
		t.Errorf("%d fields kept of 1000, want %d", len(r.Header), MaxHeaderFields)
	}
	big := http.Header{"A": {strings.Repeat("a", MaxHeaderBytes/2)}, "B": {strings.Repeat("b", MaxHeaderBytes/2)}, "C": {"c"}}
	r = NewResponse(&http.Response{StatusCode: 200, Header: big})
	size := 0
	for k, vs := range r.Header {
		for _, v := range vs {
			size += len(k) + len(v)
		}
	}
	if size > MaxHeaderBytes || r.Header.Get("A") == "" {
		t.Errorf("kept %d bytes of header (%d fields), want at most %d, A first", size, len(r.Header), MaxHeaderBytes)
	}
}

func TestDecodeBegin(t *testing.T) {
	b, err := DecodeBegin(strings.NewReader(`{"disposition":"use-new-request","request":{"method":"GET","url":"https://example.com/x"}}`))
	if err != nil || b.Disposition != BeginUseNewRequest || b.Request.URL != "https://example.com/x" {
		t.Fatalf("DecodeBegin = %+v, %v", b, err)
	}
	for _, c := range []struct{ body, want string }{
		{`{"disposition":"maybe"}`, "want"},
		{`{"disposition":"use-new-request"}`, "needs the request"},
		{`{"disposition":"continue","request":{"url":"https://h/"}}`, "takes no request"},
		{`{"disposition":"use-new-request","request":{"url":"file:///etc/passwd"}}`, "only http and https"},
		{`{"disposition":"cancel","x":1}`, "unknown field"},
	} {
		if _, err := DecodeBegin(strings.NewReader(c.body)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.body, err, c.want)
		}
	}
	if _, err := DecodeNewJob(strings.NewReader(`{"session":"s","kind":"download","ask_before_begin":true,"request":{"url":"https://h/"}}`)); err == nil || !strings.Contains(err.Error(), "earliest_begin") {
		t.Errorf("ask_before_begin without a date: %v", err)
	}
}
