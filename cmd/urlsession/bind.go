package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// bindSpec is where the command's TCP connections start from: --interface
// and --local-port.
type bindSpec struct {
	device   string // an interface to send through ("if!NAME", or a bare name that is one)
	host     string // an address or host name to send from ("host!ADDR", or a bare one)
	fromPort int    // the local ports to try, in order; 0: any
	toPort   int
}

// none reports whether nothing was asked.
func (b bindSpec) none() bool { return b.device == "" && b.host == "" && b.fromPort == 0 }

// parseInterface parses curl's --interface argument: "if!NAME" (an
// interface only), "host!ADDRESS" (an IP address or host name only),
// "ifhost!NAME!ADDRESS" (both), or a bare word, an interface's name when
// there is such an interface and otherwise an address or host name.
func parseInterface(s string, b *bindSpec) error {
	kind, rest, _ := strings.Cut(s, "!")
	switch {
	case s == "":
		return errors.New("empty")
	case kind == "if" && rest != "":
		b.device, b.host = rest, ""
	case kind == "host" && rest != "":
		b.device, b.host = "", rest
	case kind == "ifhost":
		dev, host, ok := strings.Cut(rest, "!")
		if !ok || dev == "" || host == "" {
			return errors.New("want ifhost!INTERFACE!HOST")
		}
		b.device, b.host = dev, host
	case strings.Contains(s, "!"):
		return errors.New("want NAME, if!NAME, host!HOST or ifhost!NAME!HOST")
	default:
		if _, err := net.InterfaceByName(s); err == nil {
			b.device, b.host = s, ""
		} else {
			b.device, b.host = "", s
		}
	}
	return nil
}

// parseLocalPort parses curl's --local-port argument: a port, or a range
// FROM-TO of them.
func parseLocalPort(s string, b *bindSpec) error {
	from, to, isRange := strings.Cut(s, "-")
	f, err1 := strconv.ParseUint(from, 10, 16)
	t := f
	var err2 error
	if isRange {
		t, err2 = strconv.ParseUint(to, 10, 16)
	}
	if err1 != nil || err2 != nil || f == 0 || t < f {
		return errors.New("want a port or a range FROM-TO, from 1 to 65535")
	}
	b.fromPort, b.toPort = int(f), int(t)
	return nil
}

// bindError is a failure to use the interface, address or local port
// asked for: curl's "interface failed" (45).
type bindError struct{ err error }

func (e *bindError) Error() string { return "cannot bind the connection: " + e.err.Error() }
func (e *bindError) Unwrap() error { return e.err }

// localIPs returns the addresses the connection may start from, for a
// remote address of the given family (IPv6 or not), or nil for any. An
// interface counts by its addresses unless the socket is bound to it
// (devBound).
func (b bindSpec) localIPs(v6, devBound bool) ([]net.IP, error) {
	var ips []net.IP
	switch {
	case b.host != "":
		if ip := net.ParseIP(b.host); ip != nil {
			ips = []net.IP{ip}
		} else {
			found, err := net.LookupIP(b.host)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", b.host, err)
			}
			ips = found
		}
	case b.device != "" && !devBound:
		// Not bound to the interface: send from its addresses.
		ifi, err := net.InterfaceByName(b.device)
		if err != nil {
			return nil, err
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				ips = append(ips, n.IP)
			}
		}
	default:
		return nil, nil
	}
	var fit []net.IP
	for _, ip := range ips {
		if (ip.To4() == nil) == v6 {
			fit = append(fit, ip)
		}
	}
	if len(fit) == 0 {
		name, version := b.host, 4
		if name == "" {
			name = b.device
		}
		if v6 {
			version = 6
		}
		return nil, fmt.Errorf("%s has no IPv%d address", name, version)
	}
	return fit, nil
}
