package urlsession

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// Delegates with methods the session would never call.
type (
	taskNotDataTask struct{}
	missingParam    struct{}
	noResult        struct{}
	wrongResult     struct{}
	otherCase       struct{}
	pointerOnly     struct{}
	twoMistakes     struct{}
	variadic        struct{}
)

func (*taskNotDataTask) DidReceiveData(s *Session, t *Task, data []byte) {}
func (*missingParam) DidCompleteWithError(s *Session, t *Task)           {}
func (*noResult) WillPerformHTTPRedirection(*Session, *Task, *http.Response, *http.Request) {
}
func (*wrongResult) DidReceiveResponse(*Session, *DataTask, *http.Response) bool { return true }
func (*otherCase) DidReceiveDATA(s *Session, t *DataTask, data []byte)           {}
func (*pointerOnly) DidReceiveData(s *Session, t *DataTask, data []byte)         {}
func (twoMistakes) DidCreateTask(s *Session, t *DataTask)                        {}
func (twoMistakes) NeedNewBodyStream(s *Session, t *Task) io.ReadCloser          { return nil }
func (twoMistakes) DidCompleteWithError(s *Session, t *Task, err error)          {}
func (variadic) DidSendBodyData(s *Session, t *Task, n ...int64)                 {}

// Delegates the session calls.
type (
	valueDelegate   struct{}
	unrelatedMethod struct{}
)

func (valueDelegate) DidReceiveData(s *Session, t *DataTask, data []byte) {}
func (unrelatedMethod) DidSomethingElse(s *Session, t *Task)              {}
func (unrelatedMethod) String() string                                    { return "" }

func TestDelegateNearMiss(t *testing.T) {
	tests := []struct {
		d    any
		want []string
	}{
		{&taskNotDataTask{}, []string{"urlsession: delegate *urlsession.taskNotDataTask has DidReceiveData(*urlsession.Session, *urlsession.Task, []byte) " +
			"but the DataDelegate callback is DidReceiveData(*urlsession.Session, *urlsession.DataTask, []byte)"}},
		{&missingParam{}, []string{"urlsession: delegate *urlsession.missingParam has DidCompleteWithError(*urlsession.Session, *urlsession.Task) " +
			"but the CompletionDelegate callback is DidCompleteWithError(*urlsession.Session, *urlsession.Task, error)"}},
		{&noResult{}, []string{"urlsession: delegate *urlsession.noResult has WillPerformHTTPRedirection(*urlsession.Session, *urlsession.Task, *http.Response, *http.Request) " +
			"but the RedirectionDelegate callback is WillPerformHTTPRedirection(*urlsession.Session, *urlsession.Task, *http.Response, *http.Request) *http.Request"}},
		{&wrongResult{}, []string{"urlsession: delegate *urlsession.wrongResult has DidReceiveResponse(*urlsession.Session, *urlsession.DataTask, *http.Response) bool " +
			"but the ResponseDelegate callback is DidReceiveResponse(*urlsession.Session, *urlsession.DataTask, *http.Response) urlsession.ResponseDisposition"}},
		{&otherCase{}, []string{"urlsession: delegate *urlsession.otherCase has DidReceiveDATA(*urlsession.Session, *urlsession.DataTask, []byte) " +
			"but the DataDelegate callback is DidReceiveData(*urlsession.Session, *urlsession.DataTask, []byte)"}},
		{pointerOnly{}, []string{"urlsession: delegate urlsession.pointerOnly does not have the DataDelegate callback " +
			"DidReceiveData(*urlsession.Session, *urlsession.DataTask, []byte): it is declared on *urlsession.pointerOnly; pass a *urlsession.pointerOnly as the delegate"}},
		{twoMistakes{}, []string{
			// In the order of the method names.
			"urlsession: delegate urlsession.twoMistakes has DidCreateTask(*urlsession.Session, *urlsession.DataTask) " +
				"but the TaskCreationDelegate callback is DidCreateTask(*urlsession.Session, *urlsession.Task)",
			"urlsession: delegate urlsession.twoMistakes has NeedNewBodyStream(*urlsession.Session, *urlsession.Task) io.ReadCloser " +
				"but the BodyStreamDelegate callback is NeedNewBodyStream(*urlsession.Session, *urlsession.Task) (io.ReadCloser, error)",
		}},
		{variadic{}, []string{"urlsession: delegate urlsession.variadic has DidSendBodyData(*urlsession.Session, *urlsession.Task, ...int64) " +
			"but the SendProgressDelegate callback is DidSendBodyData(*urlsession.Session, *urlsession.Task, int64, int64, int64)"}},
	}
	for _, tt := range tests {
		s, err := New(EphemeralConfiguration(), tt.d)
		if s != nil {
			s.InvalidateAndCancel()
			t.Errorf("New(%T) returned a session", tt.d)
		}
		if err == nil {
			t.Errorf("New(%T): no error, want %q", tt.d, tt.want)
			continue
		}
		if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
			t.Errorf("New(%T) error:\n%s\nwant\n%s", tt.d, err, strings.Join(tt.want, "\n"))
		}
		var de *DelegateError
		if !errors.As(err, &de) || de.Delegate == "" || de.Interface == "" || de.Callback == "" || de.Method == "" {
			t.Errorf("New(%T) error %#v is not a complete *DelegateError", tt.d, de)
		}
		if got := checkDelegate(tt.d); got != err {
			t.Errorf("a second check of %T gave another error value: %v", tt.d, got)
		}
	}

	// One mistake is reported as a *DelegateError itself, several joined.
	de, ok := checkDelegate(pointerOnly{}).(*DelegateError)
	if !ok || !de.PointerReceiver {
		t.Errorf("pointerOnly{}: PointerReceiver not set: %#v", de)
	}
	if _, ok := checkDelegate(twoMistakes{}).(interface{ Unwrap() []error }); !ok {
		t.Error("two mistakes are not reported as joined errors")
	}
	if err := checkDelegate(&pointerOnly{}); err != nil {
		t.Errorf("a pointer to pointerOnly: %v", err)
	}
}

func TestDelegateCheckAcceptsDelegates(t *testing.T) {
	for _, d := range []any{
		nil, newRecorder(), valueDelegate{}, &valueDelegate{}, unrelatedMethod{}, 42, "string",
		func(*Session, *Task) {},
	} {
		if err := checkDelegate(d); err != nil {
			t.Errorf("checkDelegate(%T): %v", d, err)
		}
		s, err := New(EphemeralConfiguration(), d)
		if err != nil {
			t.Errorf("New(%T): %v", d, err)
			continue
		}
		s.InvalidateAndCancel()
	}
	// Once a type was examined the check costs a lookup.
	rec := newRecorder()
	checkDelegate(rec)
	if n := testing.AllocsPerRun(100, func() { checkDelegate(rec) }); n != 0 {
		t.Errorf("checkDelegate of a known type allocates %v times", n)
	}
}

func TestTaskDelegateNearMiss(t *testing.T) {
	var hits atomic.Int32
	srv := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "body")
	}))
	cfg := (&server{srv, "h1"}).config()
	rec := newRecorder()
	s := newSession(t, cfg, rec)
	wantErr := func(t *testing.T, what string, err error) {
		t.Helper()
		var de *DelegateError
		if !errors.Is(err, ErrUnknown) || !errors.As(err, &de) || de.Interface != "DataDelegate" {
			t.Errorf("%s: error %v, want code ErrUnknown caused by the DataDelegate mismatch", what, err)
		}
	}

	t.Run("SetDelegate", func(t *testing.T) {
		task := s.DataTask(get(t, srv.URL))
		err := task.SetDelegate(&taskNotDataTask{})
		var de *DelegateError
		if !errors.As(err, &de) {
			t.Fatalf("SetDelegate: %v, want a *DelegateError", err)
		}
		if _, ok := task.Delegate().(*taskNotDataTask); !ok {
			t.Errorf("the delegate was not set: %T", task.Delegate())
		}
		task.Resume()
		wait(t, task)
		wantErr(t, "task", task.Err())
		wantErr(t, "DidCompleteWithError", rec.err)
		if task.Response() != nil {
			t.Error("the task has a response")
		}
		// Replacing the delegate before the task starts clears the problem.
		task = s.DataTask(get(t, srv.URL))
		task.SetDelegate(&taskNotDataTask{})
		if err := task.SetDelegate(&valueDelegate{}); err != nil {
			t.Fatal(err)
		}
		task.Resume()
		wait(t, task)
		if task.Err() != nil {
			t.Errorf("a task with a good delegate: %v", task.Err())
		}
	})

	t.Run("WithDelegate", func(t *testing.T) {
		before := hits.Load()
		_, _, err := s.Data(context.Background(), get(t, srv.URL), WithDelegate(&taskNotDataTask{}))
		wantErr(t, "Data", err)
		_, _, err = s.Bytes(context.Background(), get(t, srv.URL), WithDelegate(&taskNotDataTask{}))
		wantErr(t, "Bytes", err)
		if n := hits.Load() - before; n != 0 {
			t.Errorf("%d requests reached the server", n)
		}
		body, _, err := s.Data(context.Background(), get(t, srv.URL), WithDelegate(valueDelegate{}))
		if err != nil || string(body) != "body" {
			t.Errorf("Data with a good delegate: %q, %v", body, err)
		}
	})
}

// TestDelegateInterfacesListed makes sure checkDelegate knows every delegate
// interface of the package: each exported interface whose name ends in
// Delegate, in any file.
func TestDelegateInterfacesListed(t *testing.T) {
	listed := map[string]bool{}
	for _, it := range delegateInterfaces {
		listed[it.Name()] = true
		if it.NumMethod() != 1 {
			t.Errorf("%s has %d methods, want 1", it.Name(), it.NumMethod())
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			if _, ok := ts.Type.(*ast.InterfaceType); ok && ts.Name.IsExported() && strings.HasSuffix(ts.Name.Name, "Delegate") {
				found++
				if !listed[ts.Name.Name] {
					t.Errorf("%s (%s) is not in delegateInterfaces", ts.Name.Name, name)
				}
			}
			return false
		})
	}
	if found != len(delegateInterfaces) {
		t.Errorf("found %d delegate interfaces in the package, delegateInterfaces lists %d", found, len(delegateInterfaces))
	}
}
