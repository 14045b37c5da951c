//go:build unix

package bench

// The ftp section of TestReport: one download of BENCH_FTP_BYTES (256 MiB by
// default; 1073741824 for the 1 GiB of issue 10) per round from an FTP server on loopback, by the session (with
// a delegate, and through Bytes), by github.com/jlaffaye/ftp alone (the
// library the session's FTP protocol is built on) and by curl, against the
// in-process scripted server of internal/ftptest and, when it is installed
// and the run is root, vsftpd.

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/urlsession-go/urlsession/internal/ftptest"
)

// ftpServer is a server with a file of the benchmark's size.
type ftpServer struct {
	name string
	addr string // 127.0.0.1:port
	path string // the file's path in URLs
	stop func()
}

func startBenchFTPServers(t *testing.T, size int64) []ftpServer {
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i)
	}
	s := &ftptest.Server{Files: map[string][]byte{"/big.bin": body}}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	servers := []ftpServer{{name: "in-process ftptest", addr: s.Addr(), path: "/big.bin", stop: s.Close}}
	if v, err := startBenchVsftpd(body); err == nil {
		servers = append(servers, v)
	} else {
		t.Logf("vsftpd: %v", err)
	}
	return servers
}

// startBenchVsftpd runs vsftpd (anonymous, passive) from a configuration in
// a temporary directory, serving body as /big.bin.
func startBenchVsftpd(body []byte) (ftpServer, error) {
	bin, err := exec.LookPath("vsftpd")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/vsftpd"); err != nil {
			return ftpServer{}, err
		}
	}
	if os.Geteuid() != 0 {
		return ftpServer{}, fmt.Errorf("not root: vsftpd is not started")
	}
	dir, err := os.MkdirTemp("", "bench-vsftpd-")
	if err != nil {
		return ftpServer{}, err
	}
	os.Chmod(dir, 0o755)
	root, empty := filepath.Join(dir, "anon"), filepath.Join(dir, "empty")
	os.MkdirAll(root, 0o755)
	os.MkdirAll(empty, 0o755)
	if err := os.WriteFile(filepath.Join(root, "big.bin"), body, 0o644); err != nil {
		os.RemoveAll(dir)
		return ftpServer{}, err
	}
	port, pasv := freeBenchPort(), freeBenchPort()
	conf := fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%d
background=NO
anonymous_enable=YES
local_enable=NO
no_anon_password=YES
anon_root=%s
pasv_enable=YES
pasv_min_port=%d
pasv_max_port=%d
pasv_address=127.0.0.1
port_enable=NO
secure_chroot_dir=%s
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
xferlog_enable=NO
`, port, root, pasv, pasv, empty)
	confFile := filepath.Join(dir, "vsftpd.conf")
	os.WriteFile(confFile, []byte(conf), 0o600)
	cmd := exec.Command(bin, confFile)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return ftpServer{}, err
	}
	stop := func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return ftpServer{}, fmt.Errorf("did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ftpServer{name: "vsftpd", addr: addr, path: "/big.bin", stop: stop}, nil
}

func freeBenchPort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ftpClients are the clients of the ftp section; the last is the peer the
// others are compared with.
var ftpClients = []string{"jlaffaye/ftp alone", bigSessionDelegate, bigSessionBytes, bigCurl}

func newFTPClient(name string, srv ftpServer, size int64) (*bigClient, error) {
	url := "ftp://" + srv.addr + srv.path
	switch name {
	case "jlaffaye/ftp alone":
		return &bigClient{name: name, close: func() {}, download: func(ctx context.Context) error {
			c, err := ftp.Dial(srv.addr, ftp.DialWithContext(ctx))
			if err != nil {
				return err
			}
			defer c.Quit()
			if err := c.Login("anonymous", "anonymous@"); err != nil {
				return err
			}
			r, err := c.Retr(strings.TrimPrefix(srv.path, "/"))
			if err != nil {
				return err
			}
			n, err := io.Copy(io.Discard, r)
			if cerr := r.Close(); err == nil {
				err = cerr
			}
			return checkBig(n, size, err)
		}}, nil
	}
	return newBigClient(name, url, size) // the session's two ways, and curl
}

func reportFTP(t *testing.T, p printer, rounds int) {
	size := int64(envInt("BENCH_FTP_BYTES", 256<<20))
	servers := startBenchFTPServers(t, size)
	for _, srv := range servers {
		defer srv.stop()
		p("\n### FTP: downloading a %d MiB file from %s on loopback (passive, binary), discarded\n\n", size>>20, srv.name)
		p("| client | MB/s | min–max MB/s | wall time vs curl | paired ratio | CPU s/GiB | ≤ 1.0 of curl's time? |\n")
		p("|---|---:|---|---:|---:|---:|---|\n")
		var clients []*bigClient
		for _, name := range ftpClients {
			c, err := newFTPClient(name, srv, size)
			if err != nil {
				p("| %s: %v, skipped | | | | | | |\n", name, err)
				continue
			}
			clients = append(clients, c)
		}
		runs := timeRounds(t, clients, size, rounds)
		mbs, cpu := runField(runs, mbpsOf), runField(runs, cpuOfRun)
		peer := len(clients) - 1
		if peer < 0 || clients[peer].name != bigCurl {
			peer = -1
		}
		for i, c := range clients {
			c.close()
			wall, paired, target := "—", "—", "—"
			if peer >= 0 {
				// Wall time is inverse to throughput: time/curl's = curl's MB/s / ours.
				w := median(mbs[peer]) / median(mbs[i])
				pw := 1 / pairedRatio(mbs[i], mbs[peer])
				wall = fmt.Sprintf("%.2f", w)
				paired = fmt.Sprintf("%.2f", pw)
				if strings.HasPrefix(c.name, "session") {
					// The paired ratio: each round ran the clients back
					// to back, so the machine's changing load disturbs it
					// least.
					target = verdict(pw <= 1.0)
				}
			}
			p("| %s | %.0f | %.0f–%.0f | %s | %s | %.3f | %s |\n", c.name, median(mbs[i]),
				slices.Min(mbs[i]), slices.Max(mbs[i]), wall, paired, median(cpu[i]), target)
		}
	}
}
