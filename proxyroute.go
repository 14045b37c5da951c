package urlsession

// How a session's connections go through proxies. The session decides the
// proxies of each request before handing it to net/http (routes), puts the
// one being tried in the request's context, and answers net/http's two
// questions from it: Transport.Proxy names an HTTP proxy only for an http
// request sent to it in absolute form; every other connection is opened by
// the session's DialContext, which reaches the origin through a CONNECT
// tunnel or a SOCKS gateway and hands net/http a connection to the origin
// (on which the session's TLS dialer then runs the origin's handshake,
// with its ServerTrust challenge). Owning the CONNECT lets a 407 to it
// become a response, hence a challenge, answered like a 401.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/urlsession-go/urlsession/internal/auth"
	"github.com/urlsession-go/urlsession/internal/fail"
	"github.com/urlsession-go/urlsession/internal/netconn"
	"github.com/urlsession-go/urlsession/internal/pipeline"
	"github.com/urlsession-go/urlsession/internal/proxy"
)

// badProxyDelay is how long a proxy that could not be connected to is
// skipped when a list offers another way.
const badProxyDelay = time.Minute

// proxyRouter picks and reaches a session's proxies.
type proxyRouter struct {
	custom func(*http.Request) (*url.URL, error) // Configuration.Proxy
	pc     *ProxyConfiguration                   // nil: the system settings
	dialer proxy.Dialer

	once sync.Once
	cfg  *proxy.Config // nil: always direct

	mu     sync.Mutex
	bad    map[string]time.Time    // proxy key: when it failed
	known  map[string]*proxyAnswer // proxy key: the credential it accepted
	digest auth.DigestClient
}

func newProxyRouter(cfg *Configuration, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *proxyRouter {
	r := &proxyRouter{custom: cfg.Proxy, pc: cfg.ProxyConfiguration.Clone()}
	r.dialer.Forward = dial
	if r.pc != nil {
		r.dialer.TLSConfig = r.pc.ProxyTLSConfig
	}
	return r
}

// config returns the proxy configuration, reading the system settings on
// first use.
func (r *proxyRouter) config() *proxy.Config {
	r.once.Do(func() {
		pc := r.pc
		if pc == nil && r.custom == nil {
			pc = SystemProxyConfiguration()
			if pc != nil {
				r.dialer.TLSConfig = pc.ProxyTLSConfig
			}
		}
		if pc != nil {
			if c := pc.config(); !c.Empty() {
				r.cfg = c
			}
		}
	})
	return r.cfg
}

// routeKey is the context key of the route being tried for a request.
type routeKey struct{}

// route is the proxy one attempt goes through.
type route struct {
	p proxy.Proxy
	// forward: an http request sent to an HTTP proxy in absolute form;
	// the connection is to the proxy itself.
	forward bool
}

func routeFrom(ctx context.Context) *route {
	r, _ := ctx.Value(routeKey{}).(*route)
	return r
}

// routes returns the proxies to try for req, in order.
func (r *proxyRouter) routes(req *http.Request) ([]proxy.Proxy, error) {
	if r.custom != nil {
		u, err := r.custom(req)
		if err != nil {
			return nil, fail.New(int(ErrCannotConnectToHost), err)
		}
		if u == nil {
			return nil, nil // direct, without a route to carry
		}
		if u != nil && u.Port() == "" && strings.EqualFold(u.Scheme, "http") {
			c := *u
			c.Host = net.JoinHostPort(u.Hostname(), "80") // net/http's default
			u = &c
		}
		p, err := proxy.FromURL(u)
		if err != nil {
			return nil, fail.New(int(ErrBadURL), err)
		}
		return []proxy.Proxy{p}, nil
	}
	cfg := r.config()
	if cfg == nil || req.URL == nil {
		return nil, nil
	}
	list := cfg.For(req.Context(), req.URL)
	if len(list) < 2 {
		return list, nil
	}
	// Skip the proxies that recently failed, unless nothing is left.
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	var good []proxy.Proxy
	for _, p := range list {
		if at, ok := r.bad[p.Key()]; ok && now.Sub(at) < badProxyDelay {
			continue
		}
		good = append(good, p)
	}
	if len(good) == 0 {
		return list, nil
	}
	return good, nil
}

func (r *proxyRouter) markBad(p proxy.Proxy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad == nil {
		r.bad = make(map[string]time.Time)
	}
	r.bad[p.Key()] = time.Now()
}

// usesProxy reports whether req would go through a proxy (for metrics).
func (r *proxyRouter) usesProxy(req *http.Request) (*url.URL, error) {
	list, err := r.routes(req)
	if err != nil || len(list) == 0 || list[0].IsDirect() {
		return nil, err
	}
	return &url.URL{Scheme: list[0].Kind.String(), Host: list[0].Addr}, nil
}

// forwarded reports whether req is sent to the HTTP proxy p in absolute
// form rather than through a tunnel: plain http requests, except protocol
// upgrades (WebSocket), which go through CONNECT as curl sends them, and
// CONNECT requests, whose tunnel must start at the server they name.
func forwarded(p proxy.Proxy, req *http.Request) bool {
	return (p.Kind == proxy.HTTP || p.Kind == proxy.HTTPS) && req.URL != nil &&
		strings.EqualFold(req.URL.Scheme, "http") && req.Header.Get("Upgrade") == "" && !isConnect(req)
}

// transportProxy is the transport's Proxy: the HTTP proxy an http request
// is forwarded to. The URL says http even for an https proxy, whose TLS
// the session's DialContext runs.
func transportProxy(req *http.Request) (*url.URL, error) {
	if rt := routeFrom(req.Context()); rt != nil && rt.forward {
		return &url.URL{Scheme: "http", Host: rt.p.Addr}, nil
	}
	return nil, nil
}

// dial is the transport's DialContext.
func (r *proxyRouter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	rt := routeFrom(ctx)
	switch {
	case rt == nil || rt.p.IsDirect():
		c, err := r.dialer.Dial(ctx, proxy.DirectProxy, addr, nil)
		if err != nil {
			return nil, err
		}
		// For internal/h2, which then wakes body readers per burst.
		return netconn.Watch(c), nil
	case rt.forward:
		return r.dialer.DialProxy(ctx, rt.p)
	}
	var h http.Header
	var next func(*http.Response) string
	if rt.p.Kind == proxy.HTTP || rt.p.Kind == proxy.HTTPS {
		v := r.authorization(ctx, rt.p, http.MethodConnect, addr)
		if v == "" {
			v, next = r.ntlmLegs(ctx, rt.p)
		}
		if v != "" {
			h = http.Header{"Proxy-Authorization": {v}}
		}
	}
	return r.dialer.DialAnswering(ctx, rt.p, addr, h, next)
}

// roundTrip sends req on tr through its proxies, trying the next when one
// cannot be connected to. A 407 to CONNECT is returned as the response.
func (r *proxyRouter) roundTrip(tr http.RoundTripper, req *http.Request) (*http.Response, error) {
	list, err := r.routes(req)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return tr.RoundTrip(withoutProxyAuthorization(req))
	}
	for i, p := range list {
		rt := &route{p: p, forward: forwarded(p, req) && !r.usesNTLM(req.Context(), p)}
		r2 := req.WithContext(context.WithValue(req.Context(), routeKey{}, rt))
		if rt.forward {
			if v := r.authorization(req.Context(), p, req.Method, absoluteURI(req.URL)); v != "" {
				r2.Header = req.Header.Clone()
				r2.Header.Set("Proxy-Authorization", v)
			}
		} else {
			r2 = withoutProxyAuthorization(r2)
		}
		resp, err := tr.RoundTrip(r2)
		if err != nil {
			if pe, ok := errors.AsType[*proxy.Error](err); ok && pe.Unreachable && req.Context().Err() == nil {
				r.markBad(p)
				if i < len(list)-1 {
					continue
				}
			}
			if ae, ok := errors.AsType[*proxy.AuthRequiredError](err); ok {
				resp = ae.Response
				resp.Request = req
				r.sawChallenge(req, p)
				return resp, nil
			}
			return nil, err
		}
		if resp.StatusCode == http.StatusProxyAuthRequired && rt.forward {
			r.sawChallenge(req, p)
		}
		return resp, nil
	}
	return nil, fail.Newf(int(ErrCannotConnectToHost), "no proxy to try")
}

// withoutProxyAuthorization returns req without a Proxy-Authorization
// header, which never goes to an origin.
func withoutProxyAuthorization(req *http.Request) *http.Request {
	if _, ok := req.Header["Proxy-Authorization"]; !ok {
		return req
	}
	r2 := *req
	r2.Header = req.Header.Clone()
	r2.Header.Del("Proxy-Authorization")
	return &r2
}

// absoluteURI is the request-target of u in absolute form, without user
// information or fragment.
func absoluteURI(u *url.URL) string {
	c := *u
	c.User, c.Fragment, c.RawFragment = nil, "", ""
	return c.String()
}

// proxiedTransport sends requests on a transport of their own (a task's
// NTLM handshake) through the session's proxies.
type proxiedTransport struct {
	r  *proxyRouter
	tr *http.Transport
}

func (p proxiedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return p.r.roundTrip(p.tr, req)
}

// dialFor opens a stream task's connection to addr ("host:port") through
// the session's proxies, chosen as for an https URL of that host and port:
// a CONNECT tunnel through an HTTP or HTTPS proxy, a SOCKS connection, or
// a direct one, trying the next entry of a list when a proxy cannot be
// connected to. A 407 to CONNECT is answered through t's challenge flow
// and the CONNECT sent again, at most pipeline.MaxChallenges times; one
// left unanswered fails with ErrUserAuthenticationRequired.
func (r *proxyRouter) dialFor(ctx context.Context, t *Task, addr string) (net.Conn, error) {
	req := (&http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Scheme: "https", Host: addr},
		Host:   addr,
		Header: http.Header{},
	}).WithContext(ctx)
	list, err := r.routes(req)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return r.dial(ctx, "tcp", addr)
	}
	h := hooks{t}
	challenges := 0
	for i := 0; i < len(list); i++ {
		p := list[i]
		conn, err := r.dial(context.WithValue(ctx, routeKey{}, &route{p: p}), "tcp", addr)
		if err == nil {
			h.proxyAuthenticated()
			return conn, nil
		}
		if pe, ok := errors.AsType[*proxy.Error](err); ok && pe.Unreachable && ctx.Err() == nil {
			r.markBad(p)
			if i < len(list)-1 {
				continue
			}
		}
		ae, ok := errors.AsType[*proxy.AuthRequiredError](err)
		if !ok {
			return nil, err
		}
		var again *http.Request
		if challenges < pipeline.MaxChallenges {
			challenges++
			t.more().proxy.last = p
			if again, err = h.proxyAuthenticate(ctx, req, ae.Response); err != nil {
				return nil, err
			}
		}
		if again == nil {
			return nil, fail.New(int(ErrUserAuthenticationRequired), ae)
		}
		i-- // the same proxy, with the credential chosen
	}
	return nil, fail.Newf(int(ErrCannotConnectToHost), "no proxy to try")
}
