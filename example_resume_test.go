package urlsession_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// An upload to a server of "Resumable Uploads for HTTP" resumes by itself
// after an interruption: here the server answers 503 once it has stored the
// first 1000 bytes, and the task sends the rest with a PATCH.
func ExampleUploadTask_resumable() {
	var interrupted atomic.Bool
	uploads := &urlsessiontest.ResumableUploads{
		Interrupt: func(offset int64) (after int64, status int) {
			if interrupted.Swap(true) {
				return -1, 0 // the rest arrives whole
			}
			return 1000, http.StatusServiceUnavailable
		},
	}
	srv := httptest.NewServer(uploads)
	defer srv.Close()

	s, err := urlsession.New(urlsession.DefaultConfiguration(), nil)
	if err != nil {
		panic(err)
	}
	defer s.FinishTasksAndInvalidate()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/upload", nil)
	body, resp, err := s.Upload(context.Background(), req, make([]byte, 5000))
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, string(body))
	u := uploads.Uploads()[0]
	fmt.Println(len(u.Data), u.Complete)
	// Output:
	// 201 5000 bytes, sha256 7ca5bd879f393d9dd05b14f38add9c0fc6b67928f7f2d261b2e47a32ee8219e3
	// 5000 true
}

// hints prints the interim responses of a task.
type hints struct{}

func (hints) DidReceiveInformationalResponse(s *urlsession.Session, t *urlsession.Task, resp *http.Response) {
	fmt.Println(resp.Status, resp.Header.Get("Link"))
}

func (hints) DidReceiveResponse(s *urlsession.Session, t *urlsession.DataTask, resp *http.Response) urlsession.ResponseDisposition {
	fmt.Println(resp.Status)
	return urlsession.ResponseAllow
}

// A delegate hears of the 103 Early Hints a server sends before its
// response.
func ExampleInformationalResponseDelegate() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		fmt.Fprint(w, "page")
	}))
	defer srv.Close()

	s, err := urlsession.New(urlsession.DefaultConfiguration(), hints{})
	if err != nil {
		panic(err)
	}
	defer s.FinishTasksAndInvalidate()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	task := s.DataTask(req)
	task.Resume()
	<-task.Done()
	// Output:
	// 103 Early Hints </app.css>; rel=preload; as=style
	// 200 OK
}
