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
		if err := refusal(ctx, &classes, conn.LocalAddr(), cellular, expensive); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}
}

// refusal returns the error of a connection from local over a network
// refused: cellular ones with cellular set, metered ones with expensive
// set; nil when the network may be used.
func refusal(ctx context.Context, classes *netclass.Classifier, local net.Addr, cellular, expensive bool) error {
	k := classes.Of(ctx, local)
	switch {
	case cellular && k.Cellular:
		return &refusedNetwork{reason: NetworkUnavailableCellular}
	case expensive && k.Metered:
		return &refusedNetwork{reason: NetworkUnavailableExpensive}
	}
	return nil
}

// connCheck returns the check of the connections of a request with
// options o, for the refusals o makes that the configuration does not
// already make when it dials; nil when there are none.
func (s *Session) connCheck(o RequestOptions) func(net.Conn) error {
	cellular := o.DisallowCellularAccess && !s.cfg.DisallowCellularAccess
	expensive := o.DisallowExpensiveNetworkAccess && !s.cfg.DisallowExpensiveNetworkAccess
	if !cellular && !expensive {
		return nil
	}
	return func(c net.Conn) error {
		return refusal(context.Background(), &s.netclass, c.LocalAddr(), cellular, expensive)
	}
}
