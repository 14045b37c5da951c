package main

import (
	"encoding/json"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestWriteOutVariables checks curl's common -w variables against a
// transfer whose values are known.
func TestWriteOutVariables(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	out := filepath.Join(t.TempDir(), "out")
	vars := []string{
		"http_code", "response_code", "size_download", "size_upload", "size_header", "num_redirects",
		"url_effective", "url", "remote_ip", "remote_port", "http_version", "content_type", "method",
		"exitcode", "errormsg", "filename_effective", "redirect_url", "scheme", "num_connects", "num_headers",
		"size_request", "speed_download", "speed_upload",
	}
	var format strings.Builder
	for _, v := range vars {
		format.WriteString(v + "=%{" + v + "}\\n")
	}
	r := cli(t, "", "-L", "-d", "abc", "-o", out, "-w", format.String(), s.URL+"/307?location=/jsonBody").want(t, 0)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	size := strconv.Itoa(len(readFile(t, out)))
	for k, want := range map[string]string{
		"http_code": "200", "response_code": "200", "size_download": size, "size_upload": "3",
		"num_redirects": "1", "url_effective": s.URL + "/jsonBody", "url": s.URL + "/307?location=/jsonBody",
		"remote_ip": host, "remote_port": port, "http_version": "1.1", "content_type": "application/json",
		"method": "POST", "exitcode": "0", "errormsg": "", "filename_effective": out, "redirect_url": "",
		"scheme": "HTTP", "num_connects": "1",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if n, _ := strconv.Atoi(got["size_header"]); n < 100 {
		t.Errorf("size_header = %q", got["size_header"])
	}
	// Two requests' heads (the 307, then the redirect's), more than one
	// header in the answer, and rates that are whole bytes per second.
	if n, _ := strconv.Atoi(got["size_request"]); n < 100 {
		t.Errorf("size_request = %q", got["size_request"])
	}
	if n, _ := strconv.Atoi(got["num_headers"]); n < 2 {
		t.Errorf("num_headers = %q", got["num_headers"])
	}
	for _, k := range []string{"speed_download", "speed_upload"} {
		if n, err := strconv.ParseInt(got[k], 10, 64); err != nil || n <= 0 {
			t.Errorf("%s = %q", k, got[k])
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr: %q", r.stderr)
	}

	// Times: seconds with six decimals, each phase no earlier than the
	// one before.
	r = cli(t, "", "-w", "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_pretransfer} %{time_starttransfer} %{time_total} %{time_redirect}", "-o", out, s.URL+"/Nepal").want(t, 0)
	f := strings.Fields(r.stdout)
	if len(f) != 7 {
		t.Fatalf("times: %q", r.stdout)
	}
	var times []float64
	for _, v := range f {
		if !regexp.MustCompile(`^\d+\.\d{6}$`).MatchString(v) {
			t.Errorf("time %q", v)
		}
		n, _ := strconv.ParseFloat(v, 64)
		times = append(times, n)
	}
	if times[2] != 0 || times[6] != 0 {
		t.Errorf("appconnect and redirect without TLS or redirects: %q", r.stdout)
	}
	if !(times[0] <= times[1] && times[1] <= times[3] && times[3] <= times[4] && times[4] <= times[5]) || times[5] == 0 {
		t.Errorf("times out of order: %q", r.stdout)
	}

	// Over TLS and HTTP/2.
	tlsServer := capitalsTLS(t)
	r = cli(t, "", "-k", "-w", "%{http_version} %{time_connect} %{time_appconnect}", "-o", out, tlsServer.URL+"/Nepal").want(t, 0)
	f = strings.Fields(r.stdout)
	if len(f) != 3 || f[0] != "2" || f[2] <= f[1] {
		t.Errorf("TLS: %q", r.stdout)
	}

	// Not followed: where the redirect would go.
	r = cli(t, "", "-w", "%{redirect_url} %{http_code}", "-o", out, s.URL+"/302?location=/Peru").want(t, 0)
	if r.stdout != s.URL+"/Peru 302" {
		t.Errorf("redirect_url: %q", r.stdout)
	}
	// A failure has its message.
	r = cli(t, "", "-s", "-w", "%{exitcode}: %{errormsg}", closedPort(t)).want(t, 7)
	if !strings.HasPrefix(r.stdout, "7: could not connect to the server") {
		t.Errorf("errormsg: %q", r.stdout)
	}
}

func TestWriteOutForms(t *testing.T) {
	t.Parallel()
	s := capitals(t)
	// Unknown variables are warned about and expand to nothing.
	r := cli(t, "", "-w", "[%{nonsense}%{http_code}]", s.URL+"/UK").want(t, 0)
	if r.stdout != "London[200]" || r.stderr != "urlsession: unknown --write-out variable: 'nonsense'\n" {
		t.Errorf("got %v", r)
	}
	r = cli(t, "", "-s", "-w", "%{nonsense}", s.URL+"/UK").want(t, 0)
	if r.stderr != "" {
		t.Errorf("-s: %v", r)
	}
	// @file and @- read the format.
	dir := t.TempDir()
	format := filepath.Join(dir, "format")
	writeFile(t, format, `<%{http_code}>\n`)
	r = cli(t, "", "-w", "@"+format, s.URL+"/UK").want(t, 0)
	if r.stdout != "London<200>\n" {
		t.Errorf("@file: %q", r.stdout)
	}
	r = cli(t, "%{content_type}", "-w", "@-", s.URL+"/UK").want(t, 0)
	if r.stdout != "London"+"text/plain; charset=utf-8" {
		t.Errorf("@-: %q", r.stdout)
	}
	cli(t, "", "-w", "@"+filepath.Join(dir, "missing"), s.URL+"/UK").want(t, 26)
	// %header{name}, %{stderr} and %{stdout}.
	r = cli(t, "", "-w", "%header{content-length}%{stderr}%{http_code}%{stdout}!", s.URL+"/UK").want(t, 0)
	if r.stdout != "London6!" || r.stderr != "200" {
		t.Errorf("got %v", r)
	}
	// Unfinished and stray forms are written as they are.
	r = cli(t, "", "-w", `%{http_code %x \q`, s.URL+"/UK").want(t, 0)
	if r.stdout != `London%{http_code %x \q` {
		t.Errorf("got %q", r.stdout)
	}
	// %{json} and %{header_json}.
	r = cli(t, "", "-o", filepath.Join(dir, "out"), "-w", "%{json}", s.URL+"/UK").want(t, 0)
	var j map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		t.Fatalf("%%{json}: %v: %s", err, r.stdout)
	}
	if j["http_code"] != 200.0 || j["size_download"] != 6.0 || j["content_type"] != "text/plain; charset=utf-8" ||
		j["url_effective"] != s.URL+"/UK" || j["exitcode"] != 0.0 {
		t.Errorf("%%{json}: %s", r.stdout)
	}
	if _, ok := j["time_total"].(float64); !ok {
		t.Errorf("%%{json} time_total: %s", r.stdout)
	}
	r = cli(t, "", "-o", filepath.Join(dir, "out"), "-w", "%{header_json}", s.URL+"/UK").want(t, 0)
	var hj map[string][]string
	if err := json.Unmarshal([]byte(r.stdout), &hj); err != nil || len(hj["content-length"]) != 1 || hj["content-length"][0] != "6" {
		t.Errorf("%%{header_json}: %s, %v", r.stdout, err)
	}
}
