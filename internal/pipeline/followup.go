package pipeline

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/urlsession-go/urlsession/internal/fail"
)

// MaxRedirects is the number of redirects a task follows before it fails
// with code -1007 (Apple documents 16).
const MaxRedirects = 16

// Followup follows redirects (asking the task first), answers
// authentication challenges (through AuthHooks), resends request bodies,
// and retries while there is no network when the call waits for
// connectivity.
type Followup struct{}

// Do implements Stage.
func (Followup) Do(ctx context.Context, call *Call, req *http.Request, next Next) (*http.Response, error) {
	waited := false
	backoff := time.Second
	ah, _ := call.Hooks.(AuthHooks)
	challenges := 0
	for {
		if ah != nil {
			req = ah.Authorize(req)
		}
		resp, err := next.Do(ctx, req)
		if _, ok := errors.AsType[*fail.LoginRefused](err); ok && ah != nil && challenges < MaxChallenges {
			// A protocol's refused login (FTP) is answered as a challenge:
			// with a credential, the request goes again carrying it.
			retry, aerr := ah.Authenticate(ctx, req, loginChallenge(req))
			if aerr != nil {
				return nil, aerr
			}
			if retry != nil {
				challenges++
				if req, err = withFreshBody(ctx, call, retry, hasBody(req)); err != nil {
					return nil, err
				}
				continue
			}
		}
		if err == nil && ah != nil {
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusProxyAuthRequired {
				var retry *http.Request
				if challenges < MaxChallenges {
					retry, err = ah.Authenticate(ctx, req, resp)
				}
				if err != nil {
					discard(resp)
					return nil, err
				}
				if retry != nil {
					challenges++
					discard(resp)
					if req, err = withFreshBody(ctx, call, retry, hasBody(req)); err != nil {
						return nil, err
					}
					continue
				}
			} else {
				ah.Authenticated(req, resp)
			}
		}
		if err != nil {
			if !call.WaitsForConnectivity || !NoConnectivity(err) || ctx.Err() != nil {
				return nil, err
			}
			if !waited {
				waited = true
				call.Hooks.WaitingForConnectivity()
			}
			if err := sleep(ctx, backoff); err != nil {
				return nil, err
			}
			backoff = min(backoff*2, 30*time.Second)
			if req, err = withFreshBody(ctx, call, req, hasBody(req)); err != nil {
				return nil, err
			}
			continue
		}
		nextReq, needBody, err := RedirectRequest(req, resp)
		if err != nil {
			discard(resp)
			return nil, err
		}
		if nextReq == nil {
			return resp, nil
		}
		if call.Redirects() >= MaxRedirects {
			discard(resp)
			return resp, fail.Newf(-1007, "stopped after %d redirects", MaxRedirects)
		}
		chosen, err := call.Hooks.WillRedirect(ctx, resp, nextReq)
		if err != nil {
			discard(resp)
			return nil, err
		}
		if chosen == nil {
			return resp, nil
		}
		discard(resp)
		if chosen == nextReq && needBody {
			if chosen, err = withFreshBody(ctx, call, chosen, true); err != nil {
				return nil, err
			}
		}
		call.mu.Lock()
		call.redirects++
		call.mu.Unlock()
		req = chosen
	}
}

// loginChallenge is the 401 response a refused login stands for: a Basic
// challenge without a realm, whose answer the protocol reads from the
// Authorization header of the request sent again.
func loginChallenge(req *http.Request) *http.Response {
	return &http.Response{
		Status: "401 Unauthorized", StatusCode: http.StatusUnauthorized,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Www-Authenticate": {"Basic"}},
		Body:    http.NoBody,
		Request: req,
	}
}

// MaxChallenges bounds the authentication challenges one task answers (the
// delegate sees the failure count, and default handling stops after one
// failure, but a delegate may answer forever): past it the 401 or 407 is
// the response.
const MaxChallenges = 16

// AuthHooks is implemented by Hooks that answer authentication challenges.
type AuthHooks interface {
	// Authorize returns req with the credentials the session sends
	// pre-emptively for it (or req itself).
	Authorize(req *http.Request) *http.Request
	// Authenticate is asked about a 401 or 407 response to req. It returns
	// the request to send instead, carrying credentials (its body is
	// supplied afresh by the stage), or nil to make resp the response.
	Authenticate(ctx context.Context, req *http.Request, resp *http.Response) (*http.Request, error)
	// Authenticated reports the response, neither 401 nor 407, to a
	// request Authorize or Authenticate returned.
	Authenticated(req *http.Request, resp *http.Response)
}

// withFreshBody returns req with a new copy of its body, from GetBody or the
// task's NewBodyStream; without either the body cannot be sent again (code
// -1021). need says whether req has a body to send again: a redirect's next
// request has no Body yet, and a stream of unknown length has neither a
// Content-Length nor a GetBody, so req alone cannot tell.
func withFreshBody(ctx context.Context, call *Call, req *http.Request, need bool) (*http.Request, error) {
	if !need {
		return req, nil
	}
	var body io.ReadCloser
	var err error
	if req.GetBody != nil {
		body, err = req.GetBody()
	} else {
		body, err = call.Hooks.NewBodyStream(ctx)
	}
	if err != nil {
		return nil, err
	}
	if body == nil {
		return nil, fail.Newf(-1021, "the request body must be sent again and no new body stream was provided")
	}
	r2 := *req
	r2.Body = body
	return &r2, nil
}

// discard drains a little of an unwanted response so its connection can be
// reused, then closes it.
func discard(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// NoConnectivity reports whether err means there is no network to use: the
// network or host is unreachable or a host name cannot be resolved.
func NoConnectivity(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsNotFound || dns.IsTemporary || dns.IsTimeout
	}
	return errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.ENETDOWN) ||
		errors.Is(err, syscall.EHOSTUNREACH)
}
