package urlsession_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/urlsession-go/urlsession"
)

func newServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/hello", http.StatusFound)
		case "/hello":
			fmt.Fprint(w, "hello, world")
		default:
			http.NotFound(w, r)
		}
	}))
}

// The context-first call runs a data task and waits for it.
func ExampleSession_Data() {
	srv := newServer()
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/hello", nil)
	body, resp, err := urlsession.Shared().Data(context.Background(), req)
	if err != nil {
		fmt.Println("failed:", err)
		return
	}
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello, world
}

// A completion handler gets the whole body once the task is done.
func ExampleSession_DataTaskWithCompletion() {
	srv := newServer()
	defer srv.Close()

	s, _ := urlsession.New(urlsession.DefaultConfiguration(), nil)
	defer s.FinishTasksAndInvalidate()
	req, _ := http.NewRequest("GET", srv.URL+"/missing", nil)
	task := s.DataTaskWithCompletion(req, func(body []byte, resp *http.Response, err error) {
		// A 404 is a response, not an error.
		fmt.Println(resp.StatusCode, err)
	})
	task.Resume()
	<-task.Done()
	// Output: 404 <nil>
}

// logger is a delegate: it implements the callbacks it cares about.
type logger struct{}

var (
	_ urlsession.RedirectionDelegate = logger{}
	_ urlsession.ResponseDelegate    = logger{}
	_ urlsession.DataDelegate        = logger{}
	_ urlsession.CompletionDelegate  = logger{}
)

func (logger) WillPerformHTTPRedirection(s *urlsession.Session, t *urlsession.Task, resp *http.Response, next *http.Request) *http.Request {
	fmt.Println("redirect", resp.StatusCode, "to", next.URL.Path)
	return next
}

func (logger) DidReceiveResponse(s *urlsession.Session, t *urlsession.DataTask, resp *http.Response) urlsession.ResponseDisposition {
	fmt.Println("response", resp.StatusCode)
	return urlsession.ResponseAllow
}

func (logger) DidReceiveData(s *urlsession.Session, t *urlsession.DataTask, data []byte) {
	fmt.Printf("data %q\n", data)
}

func (logger) DidCompleteWithError(s *urlsession.Session, t *urlsession.Task, err error) {
	fmt.Println("complete", err)
}

// A delegate sees each event of a transfer, in order, on the session's queue.
func ExampleNew_delegate() {
	srv := newServer()
	defer srv.Close()

	s, err := urlsession.New(urlsession.DefaultConfiguration(), logger{})
	if err != nil {
		panic(err)
	}
	defer s.FinishTasksAndInvalidate()
	req, _ := http.NewRequest("GET", srv.URL+"/old", nil)
	task := s.DataTask(req)
	task.Resume()
	<-task.Done()
	// Output:
	// redirect 302 to /hello
	// response 200
	// data "hello, world"
	// complete <nil>
}

// Bytes returns once the headers arrive; the body streams as it is read.
func ExampleSession_Bytes() {
	srv := newServer()
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/hello", nil)
	stream, resp, err := urlsession.Shared().Bytes(context.Background(), req)
	if err != nil {
		fmt.Println("failed:", err)
		return
	}
	defer stream.Close()
	body, _ := io.ReadAll(stream)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello, world
}

// Errors carry Apple's URLError codes and match them with errors.Is.
func ExampleCode() {
	req, _ := http.NewRequest("GET", "gopher://example.invalid/", nil)
	_, _, err := urlsession.Shared().Data(context.Background(), req)
	fmt.Println(urlsession.CodeOf(err) == urlsession.ErrUnsupportedURL, int(urlsession.CodeOf(err)))
	// Output: true -1002
}

// An ephemeral session keeps its cookies (and cache and credentials) in
// memory, private to its configuration.
func ExampleEphemeralConfiguration() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "42"})
			return
		}
		fmt.Fprintf(w, "cookie sent: %s", r.Header.Get("Cookie"))
	}))
	defer srv.Close()

	cfg := urlsession.EphemeralConfiguration()
	s, _ := urlsession.New(cfg, nil)
	defer s.FinishTasksAndInvalidate()
	for _, path := range []string{"/login", "/profile"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		body, _, err := s.Data(context.Background(), req)
		if err != nil {
			fmt.Println(err)
			return
		}
		if len(body) > 0 {
			fmt.Println(string(body))
		}
	}
	fmt.Println(len(cfg.HTTPCookieStorage.AllCookies()), "cookie stored")
	// Output:
	// cookie sent: session=42
	// 1 cookie stored
}

// A session whose transfers are not urgent marks its connections as
// background traffic, and a request the user waits for asks for responsive
// data: it goes over connections of its own, marked accordingly.
func ExampleNetworkServiceType() {
	srv := newServer()
	defer srv.Close()

	cfg := urlsession.DefaultConfiguration()
	cfg.NetworkServiceType = urlsession.NetworkServiceBackground
	s, err := urlsession.New(cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.FinishTasksAndInvalidate()

	req, _ := http.NewRequest("GET", srv.URL+"/hello", nil)
	req = urlsession.WithOptions(req, urlsession.RequestOptions{NetworkServiceType: urlsession.NetworkServiceResponsiveData})
	body, _, err := s.Data(context.Background(), req)
	if err != nil {
		fmt.Println("failed:", err)
		return
	}
	fmt.Println(string(body))
	fmt.Println(cfg.NetworkServiceType, cfg.NetworkServiceType.DSCP())
	fmt.Println(urlsession.NetworkServiceResponsiveData, urlsession.NetworkServiceResponsiveData.DSCP())
	// Output:
	// hello, world
	// background 10
	// responsiveData 18
}
