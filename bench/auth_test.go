//go:build unix

package bench

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/credstore"
)

// The user and password the server's protected routes accept.
const authUser, authPassword = "bench", "secret"

// authRoutes adds the protected 1 KiB routes to the server:
// /auth/basic/1k checks Basic credentials; /auth/digest/1k challenges
// with a fixed SHA-256 Digest nonce and accepts an Authorization that
// answers it for authUser (it checks the fields, not the hash: the
// figures are the client's).
func authRoutes(mux *http.ServeMux, small []byte) {
	ok := func(w http.ResponseWriter) {
		w.Header()["Content-Length"] = []string{"1024"}
		w.Write(small)
	}
	mux.HandleFunc("/auth/basic/1k", func(w http.ResponseWriter, r *http.Request) {
		if u, p, good := r.BasicAuth(); good && u == authUser && p == authPassword {
			ok(w)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="bench"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("/auth/digest/1k", func(w http.ResponseWriter, r *http.Request) {
		a := r.Header.Get("Authorization")
		if strings.HasPrefix(a, "Digest ") && strings.Contains(a, `username="`+authUser+`"`) &&
			strings.Contains(a, `nonce="benchnonce"`) && strings.Contains(a, "response=") {
			ok(w)
			return
		}
		w.Header().Set("WWW-Authenticate", `Digest realm="bench", nonce="benchnonce", algorithm=SHA-256, qop="auth"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
}

const (
	clientNoAuth = "session Data, no authentication"
	clientBasic  = "session Data, Basic from the store"
	clientDigest = "session Data, Digest from the store"
)

// newAuthClient returns a session client whose credential storage holds
// the server's credential as the default for both realms.
func newAuthClient(name, base string, l limit) *getClient {
	cfg := urlsession.EphemeralConfiguration()
	cfg.URLCache, cfg.HTTPCookieStorage = nil, nil
	cfg.Proxy = urlsession.NoProxy
	if l == unlimited {
		cfg.HTTPMaximumConnectionsPerHost = -1
	}
	u, _ := url.Parse(base)
	port, _ := strconv.Atoi(u.Port())
	for _, m := range []string{credstore.AuthMethodHTTPBasic, credstore.AuthMethodHTTPDigest} {
		sp := credstore.ProtectionSpace{Host: u.Hostname(), Port: port, Protocol: "http", Realm: "bench", AuthenticationMethod: m}
		cfg.URLCredentialStorage.SetDefaultCredential(credstore.Credential{User: authUser, Password: authPassword, Persistence: credstore.ForSession}, sp)
	}
	s, err := urlsession.New(cfg, nil)
	if err != nil {
		panic(err)
	}
	path := map[string]string{clientNoAuth: "/1k", clientBasic: "/auth/basic/1k", clientDigest: "/auth/digest/1k"}[name]
	target := base + path
	return &getClient{name: name, close: s.FinishTasksAndInvalidate, get: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		body, resp, err := s.Data(ctx, req)
		return checkSmall(resp, body, err)
	}}
}

// reportAuth compares 1 KiB GETs that carry credentials (sent
// pre-emptively after the first challenge) with GETs that need none.
func reportAuth(t *testing.T, p printer, rounds int) {
	srv := sharedServer(t)
	seqN := envInt("BENCH_GET_N", 10000)
	parN := envInt("BENCH_GET_PAR_N", 30000)
	names := []string{clientNoAuth, clientBasic, clientDigest}
	p("\n### 1 KiB GETs with credentials, HTTP/1.1 loopback, 6 connections per host\n\n")
	p("| in flight | client | req/s | min–max req/s | paired ratio | against | target |\n")
	p("|---|---|---:|---|---:|---|---|\n")
	for _, conc := range []int{1, 64} {
		n := seqN
		if conc > 1 {
			n = parN
		}
		clients := make([]*getClient, len(names))
		for i, name := range names {
			clients[i] = newAuthClient(name, srv.base, limit6)
			if err := warmGets(clients[i], conc); err != nil {
				t.Fatal(err)
			}
		}
		rps := make([][]float64, len(clients))
		for r := range rounds {
			for _, i := range rotate(len(clients), r) {
				runtime.GC()
				res, err := runGets(clients[i], n, conc)
				if err != nil {
					t.Fatal(err)
				}
				rps[i] = append(rps[i], res.rps())
			}
		}
		for _, c := range clients {
			c.close()
		}
		row := func(i, base int, target float64) {
			ratio := pairedRatio(rps[i], rps[base])
			against, verdictText := "—", "—"
			if base != i {
				against = names[base]
				verdictText = verdict(ratio >= target) + " ≥ " + strconv.FormatFloat(target, 'f', 2, 64)
			}
			p("| %d | %s | %.0f | %.0f–%.0f | %.2f | %s | %s |\n", conc, names[i], median(rps[i]),
				slices.Min(rps[i]), slices.Max(rps[i]), ratio, against, verdictText)
		}
		row(0, 0, 0)
		row(1, 0, 0.95)
		row(2, 1, 0.90)
	}
}

// BenchmarkAuthGet1K runs the three clients of reportAuth one at a time.
func BenchmarkAuthGet1K(b *testing.B) {
	srv := sharedServer(b)
	for _, name := range []string{clientNoAuth, clientBasic, clientDigest} {
		b.Run(benchName(name), func(b *testing.B) {
			c := newAuthClient(name, srv.base, limit6)
			defer c.close()
			if err := warmGets(c, 1); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			res, err := runGets(c, b.N, 1)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.rps(), "req/s")
		})
	}
}
