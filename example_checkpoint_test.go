package urlsession_test

import (
	"fmt"
	"net/http"
	"os"

	"github.com/urlsession-go/urlsession"
)

// checkpointer keeps a download's latest checkpoint in a file beside its
// partial file, and moves the finished file to its name.
type checkpointer struct {
	name string // the file's final name
}

func (c checkpointer) DidWriteData(s *urlsession.Session, t *urlsession.DownloadTask, n, total, expected int64) {
	if data, err := t.Checkpoint(); err == nil {
		// Written in place of the last one; a real program writes a
		// temporary file and renames it.
		os.WriteFile(c.name+".resume", data, 0o600)
	}
}

func (c checkpointer) DidFinishDownloadingTo(s *urlsession.Session, t *urlsession.DownloadTask, path string) {
	if err := os.Rename(path, c.name); err != nil {
		fmt.Println(err)
	}
	os.Remove(c.name + ".resume")
}

// A program that may be killed during a long download keeps a checkpoint
// of it beside the partial file; started again, it continues from the
// checkpoint instead of from byte 0.
func ExampleDownloadTask_Checkpoint() {
	const name = "big.iso"
	s, err := urlsession.New(urlsession.DefaultConfiguration(), checkpointer{name: name})
	if err != nil {
		panic(err)
	}
	defer s.FinishTasksAndInvalidate()

	var task *urlsession.DownloadTask
	if data, err := os.ReadFile(name + ".resume"); err == nil {
		// An earlier run died: continue it. Should its partial file no
		// longer hold what the checkpoint counts, the task fails with
		// ErrPartialFileChanged, and the download starts again.
		task = s.DownloadTaskWithResumeData(data)
	} else {
		os.Remove(name + ".partial")
		req, _ := http.NewRequest(http.MethodGet, "https://example.com/big.iso", nil)
		task = s.DownloadTask(req)
		if err := task.SetPartialFile(name + ".partial"); err != nil {
			panic(err)
		}
	}
	task.Resume()
	<-task.Done()
	fmt.Println(task.Err())
}
