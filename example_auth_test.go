package urlsession_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/credstore"
)

// login answers HTTP authentication challenges with one credential, and
// gives up if the server refuses it.
type login struct{}

var _ urlsession.TaskChallengeDelegate = login{}

func (login) TaskDidReceiveChallenge(s *urlsession.Session, t *urlsession.Task, c *urlsession.Challenge) (urlsession.AuthChallengeDisposition, *urlsession.Credential) {
	if c.ProtectionSpace.AuthenticationMethod == credstore.AuthMethodServerTrust {
		return urlsession.PerformDefaultHandling, nil
	}
	fmt.Printf("challenge for realm %q, %d failures so far\n", c.ProtectionSpace.Realm, c.PreviousFailureCount)
	if c.PreviousFailureCount > 0 {
		return urlsession.CancelAuthenticationChallenge, nil
	}
	return urlsession.UseCredential, urlsession.NewCredential("alice", "s3cret", credstore.ForSession)
}

// A delegate answers a 401; the session then sends the credential that
// worked with later requests to the same origin without being asked.
func ExampleTaskChallengeDelegate() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="reports"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "report for alice")
	}))
	defer srv.Close()

	s, err := urlsession.New(urlsession.EphemeralConfiguration(), login{})
	if err != nil {
		panic(err)
	}
	defer s.FinishTasksAndInvalidate()
	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/reports/today", nil)
		body, resp, err := s.Data(context.Background(), req)
		if err != nil {
			panic(err)
		}
		fmt.Println(resp.StatusCode, string(body))
	}
	// Output:
	// challenge for realm "reports", 0 failures so far
	// 200 report for alice
	// 200 report for alice
}
