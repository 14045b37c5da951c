// Package netclass tells what kind of network a connection leaves by: a
// cellular one (a modem) or a metered one, as NetworkManager knows the
// interface the connection's local address belongs to. It asks over the
// system bus (DBUS_SYSTEM_BUS_ADDRESS, else the standard socket); where
// NetworkManager cannot be asked, nothing is known and every network is
// ordinary.
package netclass

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// Kind is what is known of a network.
type Kind struct {
	Cellular bool // the interface is a modem (NetworkManager's device type 8)
	Metered  bool // NetworkManager counts it metered (yes or guessed yes)
}

// NetworkManager's names and values.
const (
	nmService     = "org.freedesktop.NetworkManager"
	nmPath        = dbus.ObjectPath("/org/freedesktop/NetworkManager")
	nmDevice      = "org.freedesktop.NetworkManager.Device"
	deviceModem   = 8 // NM_DEVICE_TYPE_MODEM
	meteredYes    = 1 // NM_METERED_YES
	meteredGuess  = 3 // NM_METERED_GUESS_YES
	askTimeout    = 2 * time.Second
	defaultMaxAge = 5 * time.Second
)

// Classifier answers Of from NetworkManager, remembering each interface's
// answer for a few seconds. Each question opens a connection to the bus of
// its own, closed after the answer, so a Classifier holds nothing open.
// Its zero value is ready to use; it is safe for concurrent use.
type Classifier struct {
	// MaxAge is how long an answer is kept; zero means 5 seconds.
	MaxAge time.Duration

	mu    sync.Mutex
	known map[string]answer
}

type answer struct {
	kind Kind
	at   time.Time
}

func (c *Classifier) maxAge() time.Duration {
	if c.MaxAge > 0 {
		return c.MaxAge
	}
	return defaultMaxAge
}

// Of returns what is known of the network a connection from local leaves
// by.
func (c *Classifier) Of(ctx context.Context, local net.Addr) Kind {
	iface := interfaceOf(local)
	if iface == "" {
		return Kind{}
	}
	now := time.Now()
	c.mu.Lock()
	if a, ok := c.known[iface]; ok && now.Sub(a.at) < c.maxAge() {
		c.mu.Unlock()
		return a.kind
	}
	c.mu.Unlock()
	k := c.ask(ctx, iface)
	c.mu.Lock()
	if c.known == nil {
		c.known = map[string]answer{}
	}
	c.known[iface] = answer{k, now}
	c.mu.Unlock()
	return k
}

// ask asks NetworkManager about the device of iface.
func (c *Classifier) ask(ctx context.Context, iface string) Kind {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		return Kind{}
	}
	defer conn.Close()
	var dev dbus.ObjectPath
	if err := conn.Object(nmService, nmPath).CallWithContext(ctx, nmService+".GetDeviceByIpIface", 0, iface).Store(&dev); err != nil {
		return Kind{}
	}
	obj := conn.Object(nmService, dev)
	var k Kind
	var v dbus.Variant
	if obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, nmDevice, "DeviceType").Store(&v) == nil {
		if t, ok := v.Value().(uint32); ok {
			k.Cellular = t == deviceModem
		}
	}
	if obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, nmDevice, "Metered").Store(&v) == nil {
		if m, ok := v.Value().(uint32); ok {
			k.Metered = m == meteredYes || m == meteredGuess
		}
	}
	return k
}

// interfaceOf returns the name of the interface that has the IP address
// of local, or "".
func interfaceOf(local net.Addr) string {
	var ip net.IP
	switch a := local.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	default:
		return ""
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return ifc.Name
			}
		}
	}
	return ""
}
