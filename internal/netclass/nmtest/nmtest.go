// Package nmtest runs a stand-in for NetworkManager on a private D-Bus bus
// of its own, for tests of what the session does on cellular and metered
// networks. Start points DBUS_SYSTEM_BUS_ADDRESS at it for the test.
package nmtest

import (
	"bufio"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// NetworkManager's device types and metered values the fake reports.
const (
	DeviceEthernet uint32 = 1
	DeviceModem    uint32 = 8
	MeteredYes     uint32 = 1
	MeteredNo      uint32 = 2
	MeteredGuess   uint32 = 3
)

// Fake is a NetworkManager that knows the devices Set gives it.
type Fake struct {
	conn    *dbus.Conn
	mu      sync.Mutex
	devices map[string]*prop.Properties
}

// Start starts a private bus (dbus-daemon, skipping the test when it is
// not installed) with a Fake on it, and sets DBUS_SYSTEM_BUS_ADDRESS to
// the bus for the rest of the test.
func Start(t *testing.T) *Fake {
	t.Helper()
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed")
	}
	addr := "unix:path=" + filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command(bin, "--session", "--nofork", "--nopidfile", "--print-address=1", "--address="+addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	var busAddr string
	select {
	case busAddr = <-lines:
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-daemon did not start")
	}
	conn, err := dbus.Connect(busAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &Fake{conn: conn, devices: map[string]*prop.Properties{}}
	if err := conn.Export(f, "/org/freedesktop/NetworkManager", "org.freedesktop.NetworkManager"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.freedesktop.NetworkManager", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning NetworkManager's name: %v (%v)", err, reply)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", busAddr)
	return f
}

// GetDeviceByIpIface is NetworkManager's method: the device of iface.
func (f *Fake) GetDeviceByIpIface(iface string) (dbus.ObjectPath, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.devices[iface]; !ok {
		return "", dbus.NewError("org.freedesktop.NetworkManager.UnknownDevice", []any{"no device " + iface})
	}
	return devicePath(iface), nil
}

func devicePath(iface string) dbus.ObjectPath {
	return dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/NetworkManager/Devices/%x", iface))
}

// Set makes iface a device of the given type and metered value.
func (f *Fake) Set(t *testing.T, iface string, deviceType, metered uint32) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.devices[iface]; ok {
		p.SetMust("org.freedesktop.NetworkManager.Device", "DeviceType", deviceType)
		p.SetMust("org.freedesktop.NetworkManager.Device", "Metered", metered)
		return
	}
	p, err := prop.Export(f.conn, devicePath(iface), prop.Map{"org.freedesktop.NetworkManager.Device": {
		"DeviceType": {Value: deviceType},
		"Metered":    {Value: metered},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.devices[iface] = p
}
