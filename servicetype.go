package urlsession

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"

	"github.com/urlsession-go/urlsession/internal/dscp"
)

// NetworkServiceType is the kind of traffic a request carries (Apple's
// URLRequest.NetworkServiceType), which the session marks its connections
// with so that networks that honour Differentiated Services (RFC 2474) can
// queue it accordingly: Wi-Fi multimedia access categories, enterprise
// QoS policies, a home router's traffic shaping. The values are Apple's
// raw values.
//
// Each type is marked with the DiffServ code point Apple's kernel gives it
// (DSCP; see the DSCP method), in the IPv4 TOS byte (IP_TOS) or the IPv6
// traffic class (IPV6_TCLASS) of every packet the connection sends. The
// marking is advice to the network: the system may refuse to set it, and
// routers may rewrite or ignore it; neither fails a request. On Linux,
// setting IP_TOS also sets the socket's priority for the local queueing
// discipline. Connections are marked on Unix systems only.
type NetworkServiceType int32

const (
	// NetworkServiceDefault is ordinary traffic, not marked (DSCP 0).
	NetworkServiceDefault NetworkServiceType = 0
	// NetworkServiceVoIP is voice over IP control traffic. Apple deprecates
	// it in favour of CallKit; it is marked as NetworkServiceVoice is.
	NetworkServiceVoIP NetworkServiceType = 1
	// NetworkServiceVideo is video traffic (DSCP AF41, 34).
	NetworkServiceVideo NetworkServiceType = 2
	// NetworkServiceBackground is traffic the user did not ask for and
	// does not wait for: prefetching, backups, updates (DSCP AF11, 10).
	NetworkServiceBackground NetworkServiceType = 3
	// NetworkServiceVoice is voice traffic (DSCP EF, 46).
	NetworkServiceVoice NetworkServiceType = 4
	// NetworkServiceResponsiveData is data the user is waiting for, such
	// as the loading of what was just tapped (DSCP AF21, 18).
	NetworkServiceResponsiveData NetworkServiceType = 6
	// NetworkServiceAVStreaming is streamed audio or video that may be
	// buffered (DSCP AF31, 26).
	NetworkServiceAVStreaming NetworkServiceType = 8
	// NetworkServiceResponsiveAV is interactive audio or video, such as a
	// live conversation's media (DSCP CS4, 32).
	NetworkServiceResponsiveAV NetworkServiceType = 9
	// NetworkServiceCallSignaling is the signalling of calls: setting them
	// up and ending them (DSCP CS3, 24).
	NetworkServiceCallSignaling NetworkServiceType = 11
)

// DSCP returns the Differentiated Services code point (RFC 2474) that
// connections of type t are marked with, from 0 to 63: the code point
// Apple's kernel (XNU, bsd/netinet/in_tclass.c, its Fastlane table)
// assigns to the network service class that t stands for. It returns 0
// for NetworkServiceDefault and for values that are not service types.
func (t NetworkServiceType) DSCP() int {
	switch t {
	case NetworkServiceVoIP, NetworkServiceVoice:
		return 46 // EF, RFC 3246
	case NetworkServiceVideo:
		return 34 // AF41, RFC 2597
	case NetworkServiceBackground:
		return 10 // AF11
	case NetworkServiceResponsiveData:
		return 18 // AF21
	case NetworkServiceAVStreaming:
		return 26 // AF31
	case NetworkServiceResponsiveAV:
		return 32 // CS4, RFC 2474
	case NetworkServiceCallSignaling:
		return 24 // CS3
	}
	return 0
}

// valid reports whether t is one of Apple's values.
func (t NetworkServiceType) valid() bool {
	switch t {
	case NetworkServiceDefault, NetworkServiceVoIP, NetworkServiceVideo, NetworkServiceBackground, NetworkServiceVoice,
		NetworkServiceResponsiveData, NetworkServiceAVStreaming, NetworkServiceResponsiveAV, NetworkServiceCallSignaling:
		return true
	}
	return false
}

// String returns Apple's name of t ("responsiveData"), or a number.
func (t NetworkServiceType) String() string {
	switch t {
	case NetworkServiceDefault:
		return "default"
	case NetworkServiceVoIP:
		return "voip"
	case NetworkServiceVideo:
		return "video"
	case NetworkServiceBackground:
		return "background"
	case NetworkServiceVoice:
		return "voice"
	case NetworkServiceResponsiveData:
		return "responsiveData"
	case NetworkServiceAVStreaming:
		return "avStreaming"
	case NetworkServiceResponsiveAV:
		return "responsiveAV"
	case NetworkServiceCallSignaling:
		return "callSignaling"
	}
	return fmt.Sprintf("NetworkServiceType(%d)", int32(t))
}

// serviceTypeKey carries, in a dial's context, the service type that the
// connection being dialled is for, when it is not the configuration's.
type serviceTypeKey struct{}

// markControl returns the net.Dialer ControlContext that marks each new
// socket with its service type: the one in the dial's context, else def.
func markControl(def NetworkServiceType) func(ctx context.Context, network, address string, c syscall.RawConn) error {
	return func(ctx context.Context, network, _ string, c syscall.RawConn) error {
		t := def
		if v, ok := ctx.Value(serviceTypeKey{}).(NetworkServiceType); ok {
			t = v
		}
		if d := t.DSCP(); d != 0 {
			dscp.Mark(network, c, d) // advice to the network: a refusal fails nothing
		}
		return nil
	}
}

// serviceTransports are the transports of requests whose
// NetworkServiceType is not the configuration's: one per type, made from
// the session's transport when first asked for, so that connections of
// different markings are never shared. They are replaced along with the
// session's transport (Reset, Flush) and closed with it.
type serviceTransports struct {
	mu   sync.Mutex
	base *http.Transport // the session transport they were made from
	m    map[NetworkServiceType]*http.Transport
}

// transportFor returns the transport for requests of service type t.
func (s *Session) transportFor(t NetworkServiceType) *http.Transport {
	base := s.transport.Load()
	if t == s.cfg.NetworkServiceType || !t.valid() {
		return base
	}
	st := &s.svc
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.base != base {
		st.closeLocked()
		st.base = base
	}
	if tr := st.m[t]; tr != nil {
		return tr
	}
	tr := base.Clone()
	if dial := tr.DialContext; dial != nil {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dial(context.WithValue(ctx, serviceTypeKey{}, t), network, addr)
		}
	}
	if dial := tr.DialTLSContext; dial != nil {
		tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dial(context.WithValue(ctx, serviceTypeKey{}, t), network, addr)
		}
	}
	installPools(tr, !s.cfg.DisableHTTP2, s.cfg.requestTimeout()) // after the diallers
	if st.m == nil {
		st.m = map[NetworkServiceType]*http.Transport{}
	}
	st.m[t] = tr
	return tr
}

// close closes the idle connections of every service transport and
// forgets them.
func (st *serviceTransports) close() {
	st.mu.Lock()
	st.closeLocked()
	st.mu.Unlock()
}

func (st *serviceTransports) closeLocked() {
	for _, tr := range st.m {
		retire(tr)
	}
	st.m = nil
}

// requestServiceType returns the service type of req's task: its
// RequestOptions' when set, else the configuration's.
func (s *Session) requestServiceType(req *http.Request) NetworkServiceType {
	if t := taskFrom(req.Context()); t != nil {
		return t.serviceType()
	}
	return s.cfg.NetworkServiceType
}

// serviceType returns the service type of t's requests.
func (t *Task) serviceType() NetworkServiceType {
	if v := t.opts.NetworkServiceType; v != NetworkServiceDefault {
		return v
	}
	return t.session.cfg.NetworkServiceType
}
