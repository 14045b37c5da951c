//go:build unix

package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// control binds a socket the command is about to connect (net.Dialer's
// Control) as --interface and --local-port ask: to the interface where the
// system allows it, and to the address and the first free port of the
// range.
func (b bindSpec) control(network, _ string, c syscall.RawConn) error {
	v6 := network == "tcp6" || network == "udp6"
	var bindErr error
	cerr := c.Control(func(fd uintptr) {
		devBound := false
		if b.device != "" && bindsDevice {
			switch err := bindDevice(int(fd), b.device); {
			case err == nil:
				devBound = true
			case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES):
				// Not allowed (before Linux 5.7, without CAP_NET_RAW):
				// send from the interface's addresses instead, as curl.
			default:
				bindErr = fmt.Errorf("interface %s: %w", b.device, err)
				return
			}
		}
		ips, err := b.localIPs(v6, devBound)
		if err != nil {
			bindErr = err
			return
		}
		if ips == nil && b.fromPort == 0 {
			return
		}
		ip := net.IPv4zero
		if v6 {
			ip = net.IPv6unspecified
		}
		if ips != nil {
			ip = ips[0]
		}
		for port := b.fromPort; port <= b.toPort; port++ {
			err := syscall.Bind(int(fd), sockaddr(ip, port, v6))
			if err == nil {
				bindErr = nil
				return
			}
			bindErr = fmt.Errorf("%s: %w", net.JoinHostPort(ip.String(), fmt.Sprint(port)), err)
			if !errors.Is(err, syscall.EADDRINUSE) {
				return
			}
		}
	})
	if cerr != nil {
		return cerr
	}
	if bindErr != nil {
		return &bindError{bindErr}
	}
	return nil
}

// sockaddr is ip:port as the socket API takes it.
func sockaddr(ip net.IP, port int, v6 bool) syscall.Sockaddr {
	if v6 {
		sa := &syscall.SockaddrInet6{Port: port}
		copy(sa.Addr[:], ip.To16())
		return sa
	}
	sa := &syscall.SockaddrInet4{Port: port}
	copy(sa.Addr[:], ip.To4())
	return sa
}
