package urlsession

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/urlsession-go/urlsession/hsts"
	"github.com/urlsession-go/urlsession/internal/pipeline"
)

// hstsStage is the pipeline stage of Configuration.HSTSStorage: it sends
// each request to a known HSTS host over https, and records the
// Strict-Transport-Security field of https responses received over a
// connection whose certificate the system verified. It sits under the
// redirect stage, so that every hop is upgraded, and above App Transport
// Security, which then sees the upgraded request.
type hstsStage struct{ store *hsts.Store }

func (h hstsStage) Do(ctx context.Context, call *pipeline.Call, req *http.Request, next pipeline.Next) (*http.Response, error) {
	if h.store == nil || req.URL == nil {
		return next.Do(ctx, req)
	}
	if strings.EqualFold(req.URL.Scheme, "http") {
		if u := *req.URL; h.store.Upgrade(&u, time.Now()) {
			r2 := *req
			r2.URL = &u
			if r2.Host == req.URL.Host {
				r2.Host = u.Host // the port 80 that went
			}
			req = &r2
		}
	}
	resp, err := next.Do(ctx, req)
	if err == nil && resp.TLS != nil && len(resp.TLS.VerifiedChains) > 0 && resp.Header["Strict-Transport-Security"] != nil &&
		strings.EqualFold(req.URL.Scheme, "https") {
		h.store.Observe(req.URL, resp.Header, time.Now())
	}
	return resp, err
}
