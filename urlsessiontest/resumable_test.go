package urlsessiontest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
)

func rsDo(t *testing.T, method, url string, h map[string]string, body string) (*http.Response, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestResumableUploadsProtocol(t *testing.T) {
	for _, v := range []string{"3", "5", "6"} {
		t.Run("v"+v, func(t *testing.T) {
			rs := &ResumableUploads{MaxAppendSize: 4}
			srv := httptest.NewServer(rs)
			defer srv.Close()
			incomplete := map[bool]map[string]string{
				true:  {"Upload-Complete": "?0"},
				false: {"Upload-Complete": "?1"},
			}
			if v == "3" {
				incomplete = map[bool]map[string]string{
					true:  {"Upload-Incomplete": "?1"},
					false: {"Upload-Incomplete": "?0"},
				}
			}
			with := func(m map[string]string, more map[string]string) map[string]string {
				out := map[string]string{"Upload-Draft-Interop-Version": v}
				for k, x := range m {
					out[k] = x
				}
				for k, x := range more {
					out[k] = x
				}
				return out
			}
			// Creation of an incomplete upload: 104 with the resumption URL.
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/up", strings.NewReader("abc"))
			for k, x := range with(incomplete[true], nil) {
				req.Header.Set(k, x)
			}
			var loc string
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
					if code == 104 {
						loc = h.Get("Location")
					}
					return nil
				},
			}))
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent || loc != "/uploads/1" || resp.Header.Get("Upload-Offset") != "3" {
				t.Fatalf("creation: %d, location %q, offset %q", resp.StatusCode, loc, resp.Header.Get("Upload-Offset"))
			}
			u := srv.URL + loc
			resp, _ = rsDo(t, http.MethodHead, u, with(nil, nil), "")
			if resp.StatusCode != 204 || resp.Header.Get("Upload-Offset") != "3" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("HEAD: %d %v", resp.StatusCode, resp.Header)
			}
			patch := map[string]string{"Upload-Offset": "3"}
			if v == "6" {
				resp, _ = rsDo(t, http.MethodPatch, u, with(incomplete[false], patch), "de")
				if resp.StatusCode != http.StatusUnsupportedMediaType {
					t.Errorf("untyped v6 append: %d", resp.StatusCode)
				}
				patch["Content-Type"] = "application/partial-upload"
			}
			resp, _ = rsDo(t, http.MethodPatch, u, with(incomplete[false], map[string]string{"Upload-Offset": "2", "Content-Type": patch["Content-Type"]}), "de")
			if resp.StatusCode != http.StatusConflict || resp.Header.Get("Upload-Offset") != "3" {
				t.Errorf("wrong offset: %d %v", resp.StatusCode, resp.Header)
			}
			resp, _ = rsDo(t, http.MethodPatch, u, with(incomplete[false], patch), "defgh")
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("append over max-append-size: %d", resp.StatusCode)
			}
			resp, body := rsDo(t, http.MethodPatch, u, with(incomplete[false], patch), "de")
			if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(body, "5 bytes") {
				t.Errorf("completing append: %d %q", resp.StatusCode, body)
			}
			resp, _ = rsDo(t, http.MethodOptions, u, with(nil, nil), "")
			if !strings.Contains(resp.Header.Get("Upload-Limit"), "max-append-size=4") {
				t.Errorf("OPTIONS: %v", resp.Header)
			}
			resp, _ = rsDo(t, http.MethodHead, u, map[string]string{"Upload-Draft-Interop-Version": "99"}, "")
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("HEAD with another version: %d", resp.StatusCode)
			}
			resp, _ = rsDo(t, http.MethodDelete, u, with(nil, nil), "")
			if resp.StatusCode != 204 {
				t.Errorf("DELETE: %d", resp.StatusCode)
			}
			resp, _ = rsDo(t, http.MethodHead, u, with(nil, nil), "")
			if resp.StatusCode != 404 {
				t.Errorf("HEAD after DELETE: %d", resp.StatusCode)
			}
			ups := rs.Uploads()
			if len(ups) != 1 || string(ups[0].Data) != "abcde" || !ups[0].Complete || !ups[0].Deleted || ups[0].Version != int(v[0]-'0') {
				t.Errorf("uploads: %+v", ups)
			}
			// Without the protocol, an ordinary upload.
			resp, body = rsDo(t, http.MethodPut, srv.URL+"/plain", nil, "xyz")
			if resp.StatusCode != 200 || !strings.HasPrefix(body, "3 bytes") {
				t.Errorf("plain upload: %d %q", resp.StatusCode, body)
			}
		})
	}
}
