package urlsession

import (
	"context"
	"net"
	"syscall"

	"github.com/urlsession-go/urlsession/internal/netclass"
)

// refusedNetwork is the error of a connection the configuration does not
// let leave by its network (see Configuration.DisallowCellularAccess). It
// unwraps to ENETUNREACH, so that the request fails with
// ErrNotConnectedToInternet, or waits with WaitsForConnectivity.
type refusedNetwork struct {
	reason NetworkUnavailableReason
}

func (e *refusedNetwork) Error() string {
	what := "a cellular network"
	if e.reason == NetworkUnavailableExpensive {
		what = "an expensive (metered) network"
	}
	return "the connection would go over " + what + ", which the configuration disallows"
}

func (e *refusedNetwork) Unwrap() error { return syscall.ENETUNREACH }

// refusingDial returns dial, refusing connections that leave by a cellular
// network (with cellular set) or an expensive one (with expensive set).
func refusingDial(dial func(ctx context.Context, network, addr string) (net.Conn, error), cellular, expensive bool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var classes netclass.Classifier
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		k := classes.Of(ctx, conn.LocalAddr())
		switch {
		case cellular && k.Cellular:
			conn.Close()
			return nil, &refusedNetwork{reason: NetworkUnavailableCellular}
		case expensive && k.Metered:
			conn.Close()
			return nil, &refusedNetwork{reason: NetworkUnavailableExpensive}
		}
		return conn, nil
	}
}
