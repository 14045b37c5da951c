package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/urlsession-go/urlsession"
)

// atsDiagnostics loads req under App Transport Security as a default
// urlsession.Configuration enforces it and reports the outcome; when ATS
// refuses the load it names the least exception the host needs (as
// Info.plist keys) and loads again with it, as Apple's
// nscurl --ats-diagnostics does. The diagnosis itself succeeds (nil)
// whatever the loads do.
func (c *client) atsDiagnostics(ctx context.Context, cfg *urlsession.Configuration, req *http.Request) *failure {
	try := func(title string, ts urlsession.TransportSecurity) error {
		trial := cfg.Clone()
		trial.TransportSecurity = ts
		s, err := urlsession.New(trial, nil)
		if err != nil {
			return err
		}
		defer s.InvalidateAndCancel()
		r := req.Clone(ctx)
		r.Method, r.Body, r.ContentLength, r.GetBody = http.MethodGet, nil, 0, nil
		_, resp, err := s.Data(ctx, r)
		fmt.Fprintf(c.stdout, "%s\n", title)
		if err != nil {
			fmt.Fprintf(c.stdout, "  Result: FAIL\n  %v\n\n", err)
			return err
		}
		fmt.Fprintf(c.stdout, "  Result: PASS (%s)\n\n", resp.Status)
		return nil
	}
	fmt.Fprintf(c.stdout, "Starting App Transport Security diagnostics for %s\n\n", req.URL.Redacted())
	err := try("Default App Transport Security policy:", urlsession.TransportSecurity{})
	var refusal *urlsession.TransportSecurityError
	if errors.As(err, &refusal) {
		domain := refusal.Domain
		if domain == "" {
			domain = refusal.Host
		}
		if domain == "" {
			domain = req.URL.Hostname()
		}
		fmt.Fprintf(c.stdout, "%s needs the exception domain %q with: %s\n\n", req.URL.Hostname(), domain, refusal.Needs)
		try(fmt.Sprintf("With that exception for %s:", domain), urlsession.TransportSecurity{
			ExceptionDomains: map[string]urlsession.TransportSecurityException{domain: refusal.Needs},
		})
	}
	try("Allowing arbitrary loads (App Transport Security off):", urlsession.TransportSecurity{AllowsArbitraryLoads: true})
	return nil
}
