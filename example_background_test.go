package urlsession_test

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"

	"github.com/urlsession-go/urlsession"
)

// syncer is the delegate of a background session: its events may come in
// a later run of the program, after the transfers finished in the daemon.
type syncer struct {
	dir  string
	done chan struct{}
}

var (
	_ urlsession.DownloadDelegate         = (*syncer)(nil)
	_ urlsession.CompletionDelegate       = (*syncer)(nil)
	_ urlsession.BackgroundEventsDelegate = (*syncer)(nil)
)

// DidFinishDownloadingTo moves the daemon's file away before returning:
// the session removes it afterwards.
func (s *syncer) DidFinishDownloadingTo(_ *urlsession.Session, t *urlsession.DownloadTask, path string) {
	dest := filepath.Join(s.dir, filepath.Base(t.OriginalRequest().URL.Path))
	if err := os.Rename(path, dest); err != nil {
		log.Print(err)
	}
}

func (s *syncer) DidCompleteWithError(_ *urlsession.Session, t *urlsession.Task, err error) {
	if data := urlsession.ErrorResumeData(err); data != nil {
		log.Printf("%s stopped; it can continue from %d bytes of resume data", t.OriginalRequest().URL, len(data))
	} else if err != nil {
		log.Print(err)
	}
}

// DidFinishEventsForBackgroundSession comes once the events that waited
// for this process have been handled.
func (s *syncer) DidFinishEventsForBackgroundSession(*urlsession.Session) { close(s.done) }

// A background session hands its transfers to the urlsessiond daemon,
// which starts on demand and keeps them going after the program exits.
// The next run of the program, creating a session with the same
// identifier, gets the events it missed.
func ExampleBackgroundConfiguration() {
	d := &syncer{dir: os.TempDir(), done: make(chan struct{})}
	s, err := urlsession.New(urlsession.BackgroundConfiguration("com.example.sync"), d)
	if err != nil {
		log.Fatal(err) // another process uses the identifier, or no daemon could start
	}
	<-d.done // what finished while the program was not running has been delivered
	if len(s.AllTasks()) == 0 {
		req, _ := http.NewRequest("GET", "https://example.com/big.iso", nil)
		t := s.DownloadTask(req)
		t.SetCountOfBytesClientExpectsToReceive(700 << 20)
		t.Resume()
	}
	for _, t := range s.AllTasks() {
		fmt.Println(t.OriginalRequest().URL, t.State())
	}
	// Detach: the daemon goes on without this process.
	s.FinishTasksAndInvalidate()
	<-s.Invalidated()
}
