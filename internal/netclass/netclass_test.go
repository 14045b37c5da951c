package netclass_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/urlsession-go/urlsession/internal/netclass"
	"github.com/urlsession-go/urlsession/internal/netclass/nmtest"
)

func TestOf(t *testing.T) {
	lo := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	ctx := context.Background()
	// No NetworkManager: nothing is known.
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
	var none netclass.Classifier
	if k := none.Of(ctx, lo); k != (netclass.Kind{}) {
		t.Errorf("without a bus: %+v", k)
	}

	nm := nmtest.Start(t)
	c := &netclass.Classifier{MaxAge: time.Nanosecond}
	if k := c.Of(ctx, lo); k != (netclass.Kind{}) {
		t.Errorf("a device NetworkManager does not know: %+v", k)
	}
	for _, tc := range []struct {
		typ, metered uint32
		want         netclass.Kind
	}{
		{nmtest.DeviceEthernet, nmtest.MeteredNo, netclass.Kind{}},
		{nmtest.DeviceModem, nmtest.MeteredNo, netclass.Kind{Cellular: true}},
		{nmtest.DeviceEthernet, nmtest.MeteredYes, netclass.Kind{Metered: true}},
		{nmtest.DeviceEthernet, nmtest.MeteredGuess, netclass.Kind{Metered: true}},
		{nmtest.DeviceModem, nmtest.MeteredGuess, netclass.Kind{Cellular: true, Metered: true}},
	} {
		nm.Set(t, "lo", tc.typ, tc.metered)
		if k := c.Of(ctx, lo); k != tc.want {
			t.Errorf("type %d, metered %d: %+v, want %+v", tc.typ, tc.metered, k, tc.want)
		}
	}
	// An answer is kept for MaxAge.
	cached := &netclass.Classifier{MaxAge: time.Hour}
	nm.Set(t, "lo", nmtest.DeviceModem, nmtest.MeteredNo)
	cached.Of(ctx, lo)
	nm.Set(t, "lo", nmtest.DeviceEthernet, nmtest.MeteredNo)
	if k := cached.Of(ctx, lo); !k.Cellular {
		t.Errorf("the kept answer was not used: %+v", k)
	}
	// An address no interface has is nowhere.
	if k := c.Of(ctx, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}); k != (netclass.Kind{}) {
		t.Errorf("an address of no interface: %+v", k)
	}
}
