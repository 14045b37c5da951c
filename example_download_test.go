package urlsession_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/urlsession-go/urlsession"
	"github.com/urlsession-go/urlsession/urlsessiontest"
)

// Download writes the body to a file the caller then owns.
func ExampleSession_Download() {
	srv := httptest.NewServer(urlsessiontest.NewResource(bytes.Repeat([]byte("x"), 100000)))
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL, nil)
	path, resp, err := urlsession.Shared().Download(context.Background(), req)
	if err != nil {
		fmt.Println("failed:", err)
		return
	}
	defer os.Remove(path) // or os.Rename it where it belongs
	fi, _ := os.Stat(path)
	fmt.Println(resp.StatusCode, fi.Size())
	// Output: 200 100000
}

// A download that fails on the network carries resume data in its error;
// a new task continues from where it stopped.
func ExampleSession_DownloadWithResumeData() {
	content := bytes.Repeat([]byte("0123456789"), 50000)
	// This server drops the connection after 200000 bytes the first time.
	srv := httptest.NewServer(&urlsessiontest.FaultHandler{
		Next: urlsessiontest.NewResource(content),
		Choose: func(n int, r *http.Request) urlsessiontest.Fault {
			if n == 0 {
				return urlsessiontest.Fault{Kind: urlsessiontest.Reset, At: 200000}
			}
			return urlsessiontest.Fault{}
		},
	})
	defer srv.Close()

	s, _ := urlsession.New(urlsession.DefaultConfiguration(), nil)
	defer s.FinishTasksAndInvalidate()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	_, _, err := s.Download(context.Background(), req)
	fmt.Println(urlsession.CodeOf(err) == urlsession.ErrNetworkConnectionLost)

	data := urlsession.ErrorResumeData(err) // nil if the download cannot resume
	path, resp, err := s.DownloadWithResumeData(context.Background(), data)
	if err != nil {
		fmt.Println("failed:", err)
		return
	}
	defer os.Remove(path)
	got, _ := os.ReadFile(path)
	fmt.Println(resp.StatusCode, bytes.Equal(got, content))
	// Output:
	// true
	// 206 true
}

// saver is a download delegate: it keeps each file by moving it.
type saver struct{ dir string }

var _ urlsession.DownloadDelegate = saver{}

func (s saver) DidFinishDownloadingTo(_ *urlsession.Session, t *urlsession.DownloadTask, path string) {
	// The file is removed when this returns, unless moved.
	os.Rename(path, filepath.Join(s.dir, fmt.Sprint(t.TaskIdentifier())))
}

// A delegate-driven download task hands its file to DidFinishDownloadingTo.
func ExampleSession_DownloadTask() {
	srv := httptest.NewServer(urlsessiontest.NewResource([]byte("hello, world")))
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	s, _ := urlsession.New(urlsession.DefaultConfiguration(), saver{dir})
	defer s.FinishTasksAndInvalidate()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	task := s.DownloadTask(req)
	task.Resume()
	<-task.Done()
	b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprint(task.TaskIdentifier())))
	fmt.Println(string(b))
	// Output: hello, world
}
