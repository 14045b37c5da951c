// Package ftptest is a scripted FTP server on the loopback interface for
// tests: enough of RFC 959, RFC 2389 (FEAT), RFC 2428 (EPSV) and RFC 3659
// (SIZE, MDTM, REST STREAM) to serve files from memory, list directories
// and store uploads, with faults on demand (a refused login, no EPSV, a
// data connection dropped mid-transfer, a transfer held mid-way).
package ftptest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is an FTP server listening on 127.0.0.1. Set its fields before
// Start; they are read while it runs.
type Server struct {
	// Files maps absolute paths ("/pub/a.txt") to contents; the
	// directories are those the paths imply, and "/".
	Files map[string][]byte
	// User and Password are the only login accepted; an empty User
	// accepts any login.
	User, Password string
	// Mod is every file's modification time (MDTM, LIST).
	Mod time.Time
	// NoEPSV makes EPSV fail (500), so clients fall back to PASV.
	NoEPSV bool
	// DropAfter, when positive, makes RETR close the data connection after
	// that many bytes and reply 426.
	DropAfter int64
	// HoldAfter and Hold, when Hold is not nil, make RETR send HoldAfter
	// bytes and then wait until Hold is closed (or the session ends)
	// before sending the rest.
	HoldAfter int64
	Hold      chan struct{}
	// TLS, when set, offers AUTH TLS (RFC 4217): the control connection
	// turns to TLS after it, and the data connections after PROT P. With
	// Implicit, every connection is TLS from its first byte instead.
	TLS      *tls.Config
	Implicit bool

	ln   net.Listener
	mu   sync.Mutex
	cmds []string
	wg   sync.WaitGroup
	done chan struct{}
}

// Start listens on 127.0.0.1 at an unused port and serves until Close.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.ln = ln
	s.done = make(chan struct{})
	if s.Files == nil {
		s.Files = map[string][]byte{}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	return nil
}

// Addr is the server's address, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is "ftp://" followed by Addr and p.
func (s *Server) URL(p string) string { return "ftp://" + s.Addr() + p }

// Close stops the server and ends every session.
func (s *Server) Close() {
	close(s.done)
	s.ln.Close()
	s.wg.Wait()
}

// Commands returns the commands received so far, in order, across
// sessions (PASS with its argument hidden).
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

func (s *Server) record(line string) {
	if strings.HasPrefix(strings.ToUpper(line), "PASS ") {
		line = "PASS ****"
	}
	s.mu.Lock()
	s.cmds = append(s.cmds, line)
	s.mu.Unlock()
}

// File returns the content stored at p.
func (s *Server) File(p string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.Files[p]
	return b, ok
}

func (s *Server) isDir(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p == "/" {
		return true
	}
	for name := range s.Files {
		if strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return false
}

// session is one control connection's state.
type session struct {
	s      *Server
	c      net.Conn
	w      *bufio.Writer
	user   string
	logged bool
	rest   int64
	pasvMu sync.Mutex // pasv is closed from the session's closing goroutine
	pasv   net.Listener
	prot   bool          // data connections are TLS
	r      *bufio.Reader // the control connection's reader
}

func (s *Server) serve(c net.Conn) {
	if s.TLS != nil && s.Implicit {
		c = tls.Server(c, s.TLS)
	}
	ss := &session{s: s, c: c, w: bufio.NewWriter(c), prot: s.TLS != nil && s.Implicit}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-s.done:
		case <-stop:
		}
		c.Close()
		if ss.pasvListener() != nil {
			ss.pasvListener().Close()
		}
	}()
	defer func() {
		if l := ss.pasvListener(); l != nil {
			l.Close()
		}
	}()
	ss.reply("220 ftptest ready")
	ss.r = bufio.NewReader(c)
	for {
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.record(line)
		cmd, arg, _ := strings.Cut(line, " ")
		if !ss.handle(strings.ToUpper(cmd), arg) {
			return
		}
	}
}

func (ss *session) pasvListener() net.Listener {
	ss.pasvMu.Lock()
	defer ss.pasvMu.Unlock()
	return ss.pasv
}

func (ss *session) setPasv(l net.Listener) {
	ss.pasvMu.Lock()
	old := ss.pasv
	ss.pasv = l
	ss.pasvMu.Unlock()
	if old != nil {
		old.Close()
	}
}

func (ss *session) reply(lines ...string) {
	for _, l := range lines {
		ss.w.WriteString(l + "\r\n")
	}
	ss.w.Flush()
}

func (ss *session) abs(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return path.Clean(p)
}

// handle answers one command; false ends the session.
func (ss *session) handle(cmd, arg string) bool {
	s := ss.s
	if !ss.logged {
		switch cmd {
		case "USER", "PASS", "QUIT", "FEAT", "SYST", "AUTH", "PBSZ", "PROT":
		default:
			ss.reply("530 Please login with USER and PASS.")
			return true
		}
	}
	switch cmd {
	case "USER":
		ss.user = arg
		ss.reply("331 Please specify the password.")
	case "PASS":
		if s.User == "" || (ss.user == s.User && arg == s.Password) {
			ss.logged = true
			ss.reply("230 Login successful.")
		} else {
			ss.reply("530 Login incorrect.")
		}
	case "FEAT":
		if s.TLS != nil {
			ss.reply("211-Features:", " AUTH TLS", " EPSV", " MDTM", " PASV", " PBSZ", " PROT", " REST STREAM", " SIZE", "211 End")
		} else {
			ss.reply("211-Features:", " EPSV", " MDTM", " PASV", " REST STREAM", " SIZE", "211 End")
		}
	case "AUTH":
		if s.TLS == nil || s.Implicit || !strings.EqualFold(arg, "TLS") {
			ss.reply("502 AUTH not supported.")
			return true
		}
		ss.reply("234 Proceed with negotiation.")
		tc := tls.Server(ss.c, s.TLS)
		ss.c, ss.w, ss.r = tc, bufio.NewWriter(tc), bufio.NewReader(tc)
	case "PBSZ":
		ss.reply("200 PBSZ set to 0.")
	case "PROT":
		if s.TLS == nil || (arg != "P" && arg != "C") {
			ss.reply("536 PROT not supported.")
			return true
		}
		ss.prot = arg == "P"
		ss.reply("200 PROT now " + arg + ".")
	case "SYST":
		ss.reply("215 UNIX Type: L8")
	case "TYPE", "OPTS", "MODE", "STRU":
		ss.reply("200 OK.")
	case "PWD":
		ss.reply(`257 "/" is the current directory`)
	case "CWD":
		if s.isDir(ss.abs(arg)) {
			ss.reply("250 Directory successfully changed.")
		} else {
			ss.reply("550 Failed to change directory.")
		}
	case "EPSV", "PASV":
		if cmd == "EPSV" && s.NoEPSV {
			ss.reply("500 Unknown command.")
			return true
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			ss.reply("425 Cannot open a passive port.")
			return true
		}
		ss.setPasv(l)
		port := l.Addr().(*net.TCPAddr).Port
		if cmd == "EPSV" {
			ss.reply(fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)", port))
		} else {
			ss.reply(fmt.Sprintf("227 Entering Passive Mode (127,0,0,1,%d,%d).", port/256, port%256))
		}
	case "SIZE":
		b, ok := s.File(ss.abs(arg))
		if !ok {
			ss.reply("550 Could not get file size.")
			return true
		}
		ss.reply("213 " + strconv.Itoa(len(b)))
	case "MDTM":
		if _, ok := s.File(ss.abs(arg)); !ok {
			ss.reply("550 Could not get file modification time.")
			return true
		}
		ss.reply("213 " + s.Mod.UTC().Format("20060102150405"))
	case "REST":
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || n < 0 {
			ss.reply("501 Bad REST offset.")
			return true
		}
		ss.rest = n
		ss.reply("350 Restart position accepted (" + arg + ").")
	case "RETR":
		ss.retr(ss.abs(arg))
	case "LIST", "NLST":
		if strings.HasPrefix(arg, "-") {
			arg = ""
		}
		ss.list(cmd, ss.abs(arg))
	case "STOR":
		ss.stor(ss.abs(arg))
	case "NOOP":
		ss.reply("200 NOOP ok.")
	case "QUIT":
		ss.reply("221 Goodbye.")
		return false
	default:
		ss.reply("502 Command not implemented.")
	}
	return true
}

// data accepts the data connection of the last EPSV or PASV.
func (ss *session) data() net.Conn {
	l := ss.pasvListener()
	if l == nil {
		ss.reply("425 Use PORT or PASV first.")
		return nil
	}
	ss.reply("150 Opening BINARY mode data connection.")
	c, err := l.Accept()
	ss.setPasv(nil)
	if err != nil {
		ss.reply("425 Failed to establish connection.")
		return nil
	}
	if ss.prot {
		c = tls.Server(c, ss.s.TLS)
	}
	return c
}

func (ss *session) retr(p string) {
	s := ss.s
	rest := ss.rest
	ss.rest = 0
	b, ok := s.File(p)
	if !ok {
		ss.reply("550 Failed to open file.")
		return
	}
	b = b[min(rest, int64(len(b))):]
	c := ss.data()
	if c == nil {
		return
	}
	defer c.Close()
	if s.DropAfter > 0 && int64(len(b)) > s.DropAfter {
		c.Write(b[:s.DropAfter])
		c.Close()
		ss.reply("426 Failure writing network stream.")
		return
	}
	if s.Hold != nil && int64(len(b)) > s.HoldAfter {
		if _, err := c.Write(b[:s.HoldAfter]); err != nil {
			ss.reply("426 Failure writing network stream.")
			return
		}
		b = b[s.HoldAfter:]
		select {
		case <-s.Hold:
		case <-s.done:
			return
		}
	}
	if _, err := c.Write(b); err != nil {
		ss.reply("426 Failure writing network stream.")
		return
	}
	c.Close()
	ss.reply("226 Transfer complete.")
}

func (ss *session) list(cmd, dir string) {
	s := ss.s
	if !s.isDir(dir) {
		ss.reply("550 Failed to open directory.")
		return
	}
	seen := map[string]bool{}
	var lines []string
	prefix := strings.TrimSuffix(dir, "/") + "/"
	s.mu.Lock()
	files := make(map[string]int, len(s.Files))
	names := make([]string, 0, len(s.Files))
	for name, b := range s.Files {
		names = append(names, name)
		files[name] = len(b)
	}
	s.mu.Unlock()
	sort.Strings(names)
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		first, _, isDir := strings.Cut(rest, "/")
		if seen[first] {
			continue
		}
		seen[first] = true
		if cmd == "NLST" {
			lines = append(lines, first)
			continue
		}
		mode, size := "-rw-r--r--", files[name]
		if isDir {
			mode, size = "drwxr-xr-x", 4096
		}
		lines = append(lines, fmt.Sprintf("%s    1 ftp      ftp      %8d %s %s", mode, size, s.Mod.UTC().Format("Jan 02  2006"), first))
	}
	c := ss.data()
	if c == nil {
		return
	}
	for _, l := range lines {
		io.WriteString(c, l+"\r\n")
	}
	c.Close()
	ss.reply("226 Directory send OK.")
}

func (ss *session) stor(p string) {
	c := ss.data()
	if c == nil {
		return
	}
	b, err := io.ReadAll(c)
	c.Close()
	if err != nil {
		ss.reply("426 Failure reading network stream.")
		return
	}
	ss.s.mu.Lock()
	ss.s.Files[p] = b
	ss.s.mu.Unlock()
	ss.reply("226 Transfer complete.")
}
