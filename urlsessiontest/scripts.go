package urlsessiontest

import (
	"bufio"
	"strconv"
	"strings"
)

// Raw returns a script that writes response to the connection verbatim and
// returns, so the connection is then closed.
func Raw(response string) func(*Conn) {
	return func(c *Conn) {
		c.WriteString(response)
	}
}

// StatusLine returns a script that answers with the given status line and an
// empty body, writing exactly
//
//	line + "\r\nContent-Length: 0\r\n\r\n"
//
// and then closing the connection. For example, StatusLine("HTTP/1.1 99 OK")
// sends a status code that clients must reject.
func StatusLine(line string) func(*Conn) {
	return Raw(line + "\r\nContent-Length: 0\r\n\r\n")
}

// LyingContentLength returns a script that declares a body length of declared
// bytes but sends body, whatever its length, writing exactly
//
//	"HTTP/1.1 200 OK\r\nContent-Length: " + declared + "\r\n\r\n" + body
//
// and then closing the connection. With declared > len(body) the client sees
// the connection end early; with declared < len(body) the extra bytes follow
// the response on the connection.
func LyingContentLength(declared int, body string) func(*Conn) {
	return Raw("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(declared) + "\r\n\r\n" + body)
}

// NoLength returns a script that answers 200 with neither Content-Length nor
// chunking, so the body is delimited by the close of the connection, as in
// HTTP/1.0. It writes exactly
//
//	"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body
//
// and then closes the connection.
func NoLength(body string) func(*Conn) {
	return Raw("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)
}

// HugeHeadersMin is the size in bytes of the smallest head [HugeHeaders]
// writes: the status line, Content-Length, one shortest X-Filler line and the
// blank line.
const HugeHeadersMin = 51

// Compile-time check that HugeHeadersMin == hugeHeadersFixed + fillerMin.
const _ = uint(HugeHeadersMin-hugeHeadersFixed-fillerMin) + uint(hugeHeadersFixed+fillerMin-HugeHeadersMin)

// Parts of the head HugeHeaders writes.
const (
	hugeHeadersFixed = len("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n") + len("\r\n")
	fillerPrefix     = "X-Filler: "
	fillerMin        = len(fillerPrefix) + len("a\r\n") // shortest filler line
	fillerMax        = 1024                             // longest filler line
)

// HugeHeaders returns a script that answers 200 with an empty body whose
// response head, from the first byte of the status line through the blank
// line that ends the header section, is exactly max(n, HugeHeadersMin) bytes.
// The head is
//
//	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
//
// followed by as many "X-Filler: aaa…\r\n" lines (each at most 1024 bytes
// including CRLF) as it takes to reach the size, and "\r\n". The connection
// is closed afterwards. The head is streamed, so the script stops early if
// the client closes the connection.
func HugeHeaders(n int) func(*Conn) {
	return func(c *Conn) {
		w := bufio.NewWriterSize(c.Conn, 32<<10)
		w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n")
		filler := strings.Repeat("a", fillerMax)
		for r := max(n, HugeHeadersMin) - hugeHeadersFixed; r > 0; {
			l := min(r, fillerMax)
			if rest := r - l; rest > 0 && rest < fillerMin {
				l = r - fillerMin // leave room for one more shortest line
			}
			w.WriteString(fillerPrefix)
			w.WriteString(filler[:l-fillerMin+1])
			if _, err := w.WriteString("\r\n"); err != nil {
				return
			}
			r -= l
		}
		w.WriteString("\r\n")
		w.Flush()
	}
}

// Hang returns a script that accepts the connection, reads the request (the
// Server does that before any script runs) and never answers: it stalls until
// the Server is closed.
func Hang() func(*Conn) {
	return (*Conn).Stall
}

// RedirectLoop returns a script that redirects forever. Each request is
// answered with exactly
//
//	"HTTP/1.1 302 Found\r\nLocation: " + p + "x\r\nContent-Length: 0\r\n\r\n"
//
// where p is the request URL's escaped path ("/" if empty), the query being
// dropped; the Location is a relative reference with no scheme or host, so a
// request for /a is sent to /ax, then /axx, and so on. The connection is kept
// alive: the script reads the next request with [Conn.NextRequest] and
// returns when the client closes the connection, a request fails to parse, or
// a request asks for "Connection: close".
func RedirectLoop() func(*Conn) {
	return func(c *Conn) {
		for {
			p := c.Request.URL.EscapedPath()
			if p == "" {
				p = "/"
			}
			err := c.WriteString("HTTP/1.1 302 Found\r\nLocation: " + p + "x\r\nContent-Length: 0\r\n\r\n")
			if err != nil || c.Request.Close {
				return
			}
			if _, err := c.NextRequest(); err != nil {
				return
			}
		}
	}
}
