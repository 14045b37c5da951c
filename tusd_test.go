package urlsession

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"net/http"
	"os"
	"path"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	"golang.org/x/exp/slog"
)

// newTusd returns tusd's handler with its IETF resumable upload protocol
// on, storing in dir, under /files/.
func newTusd(t *testing.T, dir string) http.Handler {
	t.Helper()
	composer := tusd.NewStoreComposer()
	filestore.New(dir).UseIn(composer)
	memorylocker.New().UseIn(composer)
	h, err := tusd.NewHandler(tusd.Config{
		BasePath:                   "/files/",
		StoreComposer:              composer,
		EnableExperimentalProtocol: true,
		Logger:                     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return http.StripPrefix("/files/", h)
}

// cutBody is a request body that fails after n bytes, once the client has
// seen the 104.
type cutBody struct {
	io.ReadCloser
	n       int64
	seen104 <-chan struct{}
	cut     bool
}

var errCut = errors.New("cut by the test")

func (b *cutBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		select {
		case <-b.seen104:
		case <-time.After(10 * time.Second):
		}
		b.cut = true
		return 0, errCut
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.ReadCloser.Read(p)
	b.n -= int64(n)
	return n, err
}

// cutting serves h, cutting the body of the first len(at) requests that
// carry upload bytes (POST and PATCH) after the given numbers of bytes and
// then resetting the connection.
type cutting struct {
	h       http.Handler
	seen104 <-chan struct{}
	at      []int64
	next    atomic.Int32
}

func (c *cutting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if i := int(c.next.Add(1)) - 1; i < len(c.at) {
			b := &cutBody{ReadCloser: r.Body, n: c.at[i], seen104: c.seen104}
			r.Body = b
			c.h.ServeHTTP(w, r)
			if b.cut {
				panic(http.ErrAbortHandler)
			}
			return
		}
	}
	c.h.ServeHTTP(w, r)
}

func TestResumableUploadTusd(t *testing.T) {
	body := randomBody(512<<10, 9)
	for _, v := range []int{3, 5, 6} {
		for _, cut := range []bool{false, true} {
			t.Run(fmt.Sprintf("v%d/cut%v", v, cut), func(t *testing.T) {
				var c *cutting
				sw := &swapH{}
				bothProtocols(t, sw, func(t *testing.T, srv *server) {
					dir := t.TempDir()
					rec := newUpRecorder()
					c = &cutting{h: newTusd(t, dir), seen104: rec.seen104}
					if cut {
						c.at = []int64{100 << 10, 200 << 10}
					}
					sw.p.Store(c)
					s := newSession(t, versionConfig(srv.config(), v), rec)
					task := s.UploadTask(newReq(t, http.MethodPost, srv.URL+"/files/", ""), body)
					task.Resume()
					wait(t, task)
					if err := task.Err(); err != nil {
						t.Fatal(err)
					}
					resp := task.Response()
					want := http.StatusCreated
					if cut {
						want = http.StatusNoContent // tusd's answer to the completing append
					}
					if resp.StatusCode != want {
						t.Errorf("status %d, want %d", resp.StatusCode, want)
					}
					rec.infoRecorder.mu.Lock()
					if len(rec.infos) != 1 || rec.infos[0].StatusCode != 104 {
						t.Fatalf("informational responses: %v", rec.infos)
					}
					id := path.Base(rec.infos[0].Header.Get("Location"))
					rec.infoRecorder.mu.Unlock()
					got, err := os.ReadFile(filepath.Join(dir, id))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, body) {
						t.Errorf("tusd stored %d bytes, not the body", len(got))
					}
					rec.checkProgress(t, int64(len(body)))
					var methods []string
					for _, tx := range rec.metrics.Transactions {
						methods = append(methods, tx.Request.Method)
					}
					wantMethods := "[POST]"
					if cut {
						wantMethods = "[POST HEAD PATCH HEAD PATCH]"
					}
					if got := fmt.Sprint(methods); got != wantMethods {
						t.Errorf("requests %s, want %s", got, wantMethods)
					}
				})
			})
		}
	}
}

type swapH struct{ p atomic.Pointer[cutting] }

func (h *swapH) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.p.Load().ServeHTTP(w, r) }
