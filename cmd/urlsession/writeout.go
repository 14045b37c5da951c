package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urlsession-go/urlsession"
)

// The -w format is curl's: %{name} is a variable, %header{name} a header
// of the final response (its values joined with ", "), %% a "%", and \n,
// \r, \t and \\ the usual escapes; %{stdout} and %{stderr} choose where
// what follows goes. An unknown variable expands to nothing, with a
// warning. %{json} is every variable as one JSON object, %{header_json}
// the final response's headers as an object of arrays (names in lower
// case).

// writeOutKind says how a variable is printed.
type writeOutKind int

const (
	woString writeOutKind = iota
	woInt                 // a decimal integer
	woTime                // seconds, with six decimals
	woCode                // a status code, three digits
)

// writeOutVar is one -w variable.
type writeOutVar struct {
	kind  writeOutKind
	value func(w *writeOutInfo) any // string, int64 or time.Duration
}

// writeOutInfo is what the variables are taken from.
type writeOutInfo struct {
	x      *transfer
	task   *urlsession.Task
	status int    // the exit status
	errMsg string // the failure's message, "" on success
}

// total is %{time_total}: the transfer's whole time.
func (w *writeOutInfo) total() time.Duration {
	_, _, _, _, start, _ := w.phases()
	return max(w.x.elapsed, start)
}

// sizeUpload is %{size_upload}: the final request's body bytes sent.
func (w *writeOutInfo) sizeUpload() int64 {
	if tx := w.last(); tx != nil {
		return tx.RequestBodyBytesSent
	}
	return 0
}

// sum adds f over the run's transactions (every hop's).
func (w *writeOutInfo) sum(f func(tx *urlsession.TransactionMetrics) int64) int64 {
	var n int64
	if m := w.x.metrics; m != nil {
		for i := range m.Transactions {
			n += f(&m.Transactions[i])
		}
	}
	return n
}

// perSecond returns n bytes over the transfer's whole time, per second.
func (w *writeOutInfo) perSecond(n int64) int64 {
	if t := w.total(); t > 0 {
		return int64(float64(n) / t.Seconds())
	}
	return 0
}

// last returns the transaction of the final request, nil if none.
func (w *writeOutInfo) last() *urlsession.TransactionMetrics {
	if m := w.x.metrics; m != nil && len(m.Transactions) > 0 {
		return &m.Transactions[len(m.Transactions)-1]
	}
	return nil
}

// phases returns curl's times for the final request, from the start of
// the task: name lookup, connect (TCP), app connect (TLS, zero without),
// pretransfer, start of the response, redirects before the final
// request. A step that did not happen (a reused connection has no lookup
// or connect) takes the time of the step before, so the times never go
// back.
func (w *writeOutInfo) phases() (lookup, connect, appConnect, pretransfer, start, redirect time.Duration) {
	tx, m := w.last(), w.x.metrics
	if tx == nil || m == nil || m.TaskStart.IsZero() {
		return
	}
	since := func(t time.Time, prev time.Duration) time.Duration {
		if t.IsZero() {
			return prev
		}
		return max(t.Sub(m.TaskStart), prev)
	}
	if m.RedirectCount > 0 {
		redirect = since(tx.FetchStart, 0)
	}
	lookup = since(tx.DomainLookupEnd, since(tx.FetchStart, 0))
	connect = since(tx.SecureConnectionStart, since(tx.ConnectEnd, lookup))
	if !tx.SecureConnectionEnd.IsZero() {
		appConnect = since(tx.SecureConnectionEnd, connect)
	}
	pretransfer = since(tx.RequestStart, max(connect, appConnect))
	start = since(tx.ResponseStart, pretransfer)
	return
}

// addrPart returns the host or the port of a, "" for none.
func addrPart(a net.Addr, port bool) any {
	if a == nil {
		return ""
	}
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	if port {
		n, _ := strconv.ParseInt(p, 10, 64)
		return n
	}
	return h
}

var writeOutVars = map[string]writeOutVar{
	"http_code":     {woCode, func(w *writeOutInfo) any { return statusCode(w.task.Response()) }},
	"response_code": {woCode, func(w *writeOutInfo) any { return statusCode(w.task.Response()) }},
	"size_download": {woInt, func(w *writeOutInfo) any { return w.x.received }},
	"size_upload":   {woInt, func(w *writeOutInfo) any { return w.sizeUpload() }},
	"size_header": {woInt, func(w *writeOutInfo) any {
		return w.sum(func(tx *urlsession.TransactionMetrics) int64 { return tx.ResponseHeaderBytesReceived })
	}},
	"time_total":         {woTime, func(w *writeOutInfo) any { return w.total() }},
	"time_namelookup":    {woTime, func(w *writeOutInfo) any { d, _, _, _, _, _ := w.phases(); return d }},
	"time_connect":       {woTime, func(w *writeOutInfo) any { _, d, _, _, _, _ := w.phases(); return d }},
	"time_appconnect":    {woTime, func(w *writeOutInfo) any { _, _, d, _, _, _ := w.phases(); return d }},
	"time_pretransfer":   {woTime, func(w *writeOutInfo) any { _, _, _, d, _, _ := w.phases(); return d }},
	"time_starttransfer": {woTime, func(w *writeOutInfo) any { _, _, _, _, d, _ := w.phases(); return d }},
	"time_redirect":      {woTime, func(w *writeOutInfo) any { _, _, _, _, _, d := w.phases(); return d }},
	"url":                {woString, func(w *writeOutInfo) any { return w.x.o.url }},
	"url_effective": {woString, func(w *writeOutInfo) any {
		if r := w.task.CurrentRequest(); r != nil && r.URL != nil {
			return r.URL.String()
		}
		return ""
	}},
	"method": {woString, func(w *writeOutInfo) any {
		if r := w.task.CurrentRequest(); r != nil {
			return r.Method
		}
		return ""
	}},
	"redirect_url": {woString, func(w *writeOutInfo) any {
		resp, req := w.task.Response(), w.task.CurrentRequest()
		if resp == nil || req == nil || req.URL == nil || resp.StatusCode < 300 || resp.StatusCode > 399 {
			return ""
		}
		loc := resp.Header.Get("Location")
		if loc == "" {
			return ""
		}
		u, err := req.URL.Parse(loc)
		if err != nil {
			return ""
		}
		return u.String()
	}},
	"num_redirects": {woInt, func(w *writeOutInfo) any { return int64(w.x.hops) }},
	"content_type": {woString, func(w *writeOutInfo) any {
		if r := w.task.Response(); r != nil {
			return r.Header.Get("Content-Type")
		}
		return ""
	}},
	"http_version": {woString, func(w *writeOutInfo) any {
		r := w.task.Response()
		switch {
		case r == nil:
			return "0"
		case r.ProtoMajor >= 2:
			return strconv.Itoa(r.ProtoMajor)
		}
		return fmt.Sprintf("%d.%d", r.ProtoMajor, r.ProtoMinor)
	}},
	"remote_ip": {woString, func(w *writeOutInfo) any {
		if tx := w.last(); tx != nil {
			return addrPart(tx.RemoteAddr, false)
		}
		return ""
	}},
	"remote_port": {woInt, func(w *writeOutInfo) any {
		if tx := w.last(); tx != nil && tx.RemoteAddr != nil {
			return addrPart(tx.RemoteAddr, true)
		}
		return int64(0)
	}},
	"local_ip": {woString, func(w *writeOutInfo) any {
		if tx := w.last(); tx != nil {
			return addrPart(tx.LocalAddr, false)
		}
		return ""
	}},
	"local_port": {woInt, func(w *writeOutInfo) any {
		if tx := w.last(); tx != nil && tx.LocalAddr != nil {
			return addrPart(tx.LocalAddr, true)
		}
		return int64(0)
	}},
	"filename_effective": {woString, func(w *writeOutInfo) any {
		if w.x.body.toFile() {
			return w.x.body.name
		}
		return ""
	}},
	"speed_download": {woInt, func(w *writeOutInfo) any { return w.perSecond(w.x.received) }},
	"speed_upload":   {woInt, func(w *writeOutInfo) any { return w.perSecond(w.sizeUpload()) }},
	"size_request": {woInt, func(w *writeOutInfo) any {
		return w.sum(func(tx *urlsession.TransactionMetrics) int64 { return tx.RequestHeaderBytesSent })
	}},
	"num_connects": {woInt, func(w *writeOutInfo) any {
		return w.sum(func(tx *urlsession.TransactionMetrics) int64 {
			if tx.ResourceFetchType == urlsession.FetchTypeNetworkLoad && !tx.ReusedConnection {
				return 1
			}
			return 0
		})
	}},
	"num_headers": {woInt, func(w *writeOutInfo) any {
		var n int64
		if resp := w.task.Response(); resp != nil {
			for _, vs := range resp.Header {
				n += int64(len(vs))
			}
		}
		return n
	}},
	"scheme": {woString, func(w *writeOutInfo) any {
		// As curl 7.x writes it: upper case.
		if req := w.task.CurrentRequest(); req != nil && req.URL != nil {
			return strings.ToUpper(req.URL.Scheme)
		}
		return ""
	}},
	"exitcode": {woInt, func(w *writeOutInfo) any { return int64(w.status) }},
	"errormsg": {woString, func(w *writeOutInfo) any { return w.errMsg }},
}

// writeOutNames are the variables %{json} holds, sorted.
var writeOutNames = slices.Sorted(maps.Keys(writeOutVars))

func statusCode(r *http.Response) any {
	if r == nil {
		return int64(0)
	}
	return int64(r.StatusCode)
}

// text formats the variable's value for -w.
func (v writeOutVar) text(w *writeOutInfo) string {
	val := v.value(w)
	switch v.kind {
	case woCode:
		return fmt.Sprintf("%03d", val)
	case woTime:
		return strconv.FormatFloat(val.(time.Duration).Seconds(), 'f', 6, 64)
	}
	return fmt.Sprint(val)
}

// json formats the variable's value for %{json}.
func (v writeOutVar) json(w *writeOutInfo) string {
	val := v.value(w)
	switch v.kind {
	case woString:
		b, _ := json.Marshal(val)
		return string(b)
	case woTime:
		return strconv.FormatFloat(val.(time.Duration).Seconds(), 'f', 6, 64)
	}
	return fmt.Sprint(val)
}

// writeOut writes the -w format for the finished task, whose outcome is
// f (nil for success), to standard output or, after %{stderr}, standard
// error. Unknown variables are warned about on standard error unless -s.
func (x *transfer) writeOut(format string, task *urlsession.Task, f *failure) {
	w := &writeOutInfo{x: x, task: task}
	if f != nil {
		w.status, w.errMsg = f.status, f.msg
	}
	out := x.c.stdout
	var b strings.Builder
	flush := func() {
		io.WriteString(out, b.String())
		b.Reset()
	}
	for i := 0; i < len(format); i++ {
		ch := format[i]
		rest := format[i:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			b.WriteByte('%')
			i++
		case strings.HasPrefix(rest, "%{") && strings.IndexByte(rest, '}') > 0:
			end := strings.IndexByte(rest, '}')
			name := rest[2:end]
			i += end
			switch name {
			case "stdout", "stderr":
				flush()
				out = x.c.stdout
				if name == "stderr" {
					out = x.c.stderr
				}
			case "json":
				b.WriteString("{")
				for j, n := range writeOutNames {
					if j > 0 {
						b.WriteString(",")
					}
					fmt.Fprintf(&b, "%q:%s", n, writeOutVars[n].json(w))
				}
				b.WriteString("}")
			case "header_json":
				h := map[string][]string{}
				if r := task.Response(); r != nil {
					for k, vs := range r.Header {
						h[strings.ToLower(k)] = vs
					}
				}
				j, _ := json.Marshal(h)
				b.Write(j)
			default:
				v, ok := writeOutVars[name]
				if !ok {
					if !x.o.silent {
						fmt.Fprintf(x.c.stderr, "urlsession: unknown --write-out variable: '%s'\n", name)
					}
					continue
				}
				b.WriteString(v.text(w))
			}
		case strings.HasPrefix(rest, "%header{") && strings.IndexByte(rest, '}') > 0:
			end := strings.IndexByte(rest, '}')
			if r := task.Response(); r != nil {
				b.WriteString(strings.Join(r.Header.Values(rest[len("%header{"):end]), ", "))
			}
			i += end
		case ch == '\\' && i+1 < len(format) && strings.IndexByte(`nrt\`, format[i+1]) >= 0:
			i++
			switch format[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte('\\')
			}
		default:
			b.WriteByte(ch)
		}
	}
	flush()
}
