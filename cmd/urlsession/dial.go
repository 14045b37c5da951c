package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// dialer is the signature of Configuration.DialContext.
type dialer = func(ctx context.Context, network, addr string) (net.Conn, error)

// resolveEntry is one --resolve argument: connections to host:port go to
// addrs, tried in order.
type resolveEntry struct {
	host  string // lower case; "*" for any host
	port  string
	addrs []netip.Addr
}

// parseResolve parses curl's --resolve argument, [+]HOST:PORT:ADDR[,ADDR]...,
// HOST being a name or "*" and each ADDR an IP address, IPv6 ones in
// brackets. A leading "-" (curl's removal of an entry) is accepted and
// ignored: the command keeps no DNS cache between runs.
func parseResolve(s string) (e resolveEntry, ignore bool, err error) {
	bad := func(why string) (resolveEntry, bool, error) {
		return e, false, fmt.Errorf("%s (want HOST:PORT:ADDRESS[,ADDRESS]...)", why)
	}
	if strings.HasPrefix(s, "-") {
		return e, true, nil
	}
	rest := strings.TrimPrefix(s, "+")
	var host string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return bad("no port")
		}
		host, rest = rest[1:end], rest[end+2:]
	} else {
		var ok bool
		if host, rest, ok = strings.Cut(rest, ":"); !ok {
			return bad("no port")
		}
	}
	port, addrs, ok := strings.Cut(rest, ":")
	if !ok || host == "" {
		return bad("no address")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return bad("bad port")
	}
	e.host, e.port = strings.ToLower(host), port
	for _, a := range strings.Split(addrs, ",") {
		a = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(a), "["), "]")
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return bad("not an IP address: " + strconv.Quote(a))
		}
		e.addrs = append(e.addrs, ip.Unmap())
	}
	return e, false, nil
}

// dialFunc returns the session's DialContext for --resolve, -4 and -6,
// dialing with base; nil (the session's own dialer) when none is given. A
// host with no address of the family -4 or -6 asks for fails as a name
// that does not resolve, as with curl. (--connect-timeout is the
// configuration's ConnectTimeout, which bounds each call.)
func dialFunc(o *options, base dialer) dialer {
	if o.unixSocket != "" {
		// Every connection goes to the socket, whatever the URL's host.
		path := o.unixSocket
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	}
	if !o.dialsOwn() {
		return nil
	}
	family := func(network string) string {
		switch {
		case !strings.HasPrefix(network, "tcp"):
			return network
		case o.ipv4:
			return "tcp4"
		case o.ipv6:
			return "tcp6"
		}
		return network
	}
	fits := o.fits
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		network = family(network)
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return base(ctx, network, addr)
		}
		host, port = o.connectTarget(host, port)
		addr = net.JoinHostPort(host, port)
		notFound := &net.DNSError{Err: "no address of the IP version asked for", Name: host, IsNotFound: true}
		if ip, err := netip.ParseAddr(host); err == nil && !fits(ip.Unmap()) {
			return nil, notFound
		}
		addrs, ok := o.resolved(host, port)
		if !ok {
			return base(ctx, network, addr)
		}
		var errs []error
		for _, ip := range addrs {
			if !fits(ip) {
				continue
			}
			c, err := base(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
		if len(errs) == 0 {
			return nil, notFound
		}
		return nil, errors.Join(errs...)
	}
}

// dialsOwn reports whether the command chooses the addresses it connects
// to or from: --resolve, --connect-to, -4, -6, --interface or --local-port.
func (o *options) dialsOwn() bool {
	return len(o.resolve) != 0 || len(o.connectTo) != 0 || o.ipv4 || o.ipv6 || !o.bind.none()
}

// baseDialer is how the command connects: as the session would, from the
// interface, address and port --interface and --local-port ask for.
func baseDialer(o *options) dialer {
	if o.bind.none() {
		return netDialer
	}
	return (&net.Dialer{KeepAlive: 30 * time.Second, Control: o.bind.control}).DialContext
}

// connectToEntry is one --connect-to argument: a connection to host:port
// goes to toHost:toPort instead. An empty host or port matches any; an
// empty toHost or toPort keeps the original.
type connectToEntry struct {
	host, port, toHost, toPort string
}

// parseConnectTo parses curl's --connect-to argument,
// HOST1:PORT1:HOST2:PORT2, IPv6 addresses in brackets.
func parseConnectTo(s string) (connectToEntry, error) {
	bad := func(why string) (connectToEntry, error) {
		return connectToEntry{}, fmt.Errorf("%s (want HOST1:PORT1:HOST2:PORT2)", why)
	}
	var parts [4]string
	rest := s
	for i := range parts {
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return bad("an unclosed [")
			}
			parts[i], rest = rest[1:end], rest[end+1:]
		} else {
			j := strings.IndexByte(rest, ':')
			if j < 0 {
				j = len(rest)
			}
			parts[i], rest = rest[:j], rest[j:]
		}
		if i < 3 {
			if !strings.HasPrefix(rest, ":") {
				return bad("too few fields")
			}
			rest = rest[1:]
		}
	}
	if rest != "" {
		return bad("too many fields")
	}
	for _, p := range []string{parts[1], parts[3]} {
		if n, err := strconv.ParseUint(p, 10, 16); p != "" && (err != nil || n == 0) {
			return bad("bad port " + strconv.Quote(p))
		}
	}
	return connectToEntry{host: strings.ToLower(parts[0]), port: parts[1], toHost: parts[2], toPort: parts[3]}, nil
}

// connectTarget returns where a connection to host:port goes: the first
// --connect-to entry that matches, else host:port itself.
func (o *options) connectTarget(host, port string) (string, string) {
	for _, e := range o.connectTo {
		if (e.host == "" || e.host == strings.ToLower(host)) && (e.port == "" || e.port == port) {
			if e.toHost != "" {
				host = e.toHost
			}
			if e.toPort != "" {
				port = e.toPort
			}
			break
		}
	}
	return host, port
}

// fits reports whether ip is of the IP version -4 or -6 asks for.
func (o *options) fits(ip netip.Addr) bool { return !(o.ipv4 && ip.Is6() || o.ipv6 && ip.Is4()) }

// udpDialer is the signature of Configuration.DialUDPContext.
type udpDialer = func(ctx context.Context, network, addr string) (net.PacketConn, net.Addr, error)

// udpDialFunc returns the session's DialUDPContext for --resolve, -4 and
// -6, so that they apply to HTTP/3 as to TCP; nil when none is given. An
// HTTP/3 connection goes to the first address of its host and port that
// --resolve gives, or else the resolver finds (IPv4 first, as the session
// does), of the IP version asked for: UDP has no connect to try the next
// one with.
func udpDialFunc(o *options) udpDialer {
	if !o.dialsOwn() {
		return nil
	}
	return func(ctx context.Context, network, addr string) (net.PacketConn, net.Addr, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, nil, err
		}
		host, port = o.connectTarget(host, port)
		portNum, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return nil, nil, fmt.Errorf("bad port in %q", addr)
		}
		var addrs []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{ip.Unmap()}
		} else if pinned, ok := o.resolved(host, port); ok {
			addrs = pinned
		} else {
			found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil, nil, err
			}
			for _, ip := range found {
				if ip.Unmap().Is4() {
					addrs = append(addrs, ip.Unmap())
				}
			}
			for _, ip := range found {
				if !ip.Unmap().Is4() {
					addrs = append(addrs, ip.Unmap())
				}
			}
		}
		for _, ip := range addrs {
			if !o.fits(ip) {
				continue
			}
			udp := "udp4"
			if ip.Is6() {
				udp = "udp6"
			}
			pc, err := net.ListenUDP(udp, nil)
			if err != nil {
				return nil, nil, err
			}
			return pc, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(portNum))), nil
		}
		return nil, nil, &net.DNSError{Err: "no address of the IP version asked for", Name: host, IsNotFound: true}
	}
}

// resolved returns the addresses --resolve gives host:port: the last
// entry for that host wins, then the last for "*".
func (o *options) resolved(host, port string) ([]netip.Addr, bool) {
	host = strings.ToLower(host)
	var any []netip.Addr
	for i := len(o.resolve) - 1; i >= 0; i-- {
		e := o.resolve[i]
		if e.port != port {
			continue
		}
		if e.host == host {
			return e.addrs, true
		}
		if e.host == "*" && any == nil {
			any = e.addrs
		}
	}
	return any, any != nil
}

// netDialer is how the command connects when dialFunc needs a base: as the
// session would.
var netDialer = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
