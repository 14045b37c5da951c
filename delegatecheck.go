package urlsession

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// DelegateError reports a delegate method that the session would never
// call: its name is a delegate callback's but its signature is not (a
// *Task where the callback takes a *DataTask, a missing parameter, another
// result), or it has the callback's signature but a pointer receiver while
// the delegate given is not a pointer. A delegate is any value, so such a
// method compiles; the session checks each delegate type once instead.
//
// New returns a DelegateError (joined with the others when a delegate has
// several) and no session. Task.SetDelegate returns it too; the delegate is
// set all the same, and the task, once resumed, completes with an *Error of
// code ErrUnknown whose cause is the DelegateError, as does a context-first
// call given the delegate with WithDelegate. Names compare
// case-insensitively, so DidReceiveDATA is reported as well. Guarding each
// implementation with an assertion such as
//
//	var _ urlsession.DataDelegate = (*myDelegate)(nil)
//
// catches the same mistakes at compile time.
type DelegateError struct {
	// Delegate is the delegate's type, such as "*main.handler".
	Delegate string
	// Method is the delegate's method with its parameters and results,
	// such as "DidReceiveData(*urlsession.Session, *urlsession.Task, []byte)".
	Method string
	// Interface is the delegate interface of the callback, such as
	// "DataDelegate".
	Interface string
	// Callback is the callback's method, such as
	// "DidReceiveData(*urlsession.Session, *urlsession.DataTask, []byte)".
	Callback string
	// PointerReceiver reports that Method is the callback but is declared
	// on a pointer receiver while the delegate is not a pointer: pass a
	// pointer to it as the delegate.
	PointerReceiver bool
}

// Error returns a one-line description naming the delegate's method and the
// callback's signature.
func (e *DelegateError) Error() string {
	if e.PointerReceiver {
		return fmt.Sprintf("urlsession: delegate %s does not have the %s callback %s: it is declared on *%s; pass a *%s as the delegate",
			e.Delegate, e.Interface, e.Method, e.Delegate, e.Delegate)
	}
	return fmt.Sprintf("urlsession: delegate %s has %s but the %s callback is %s",
		e.Delegate, e.Method, e.Interface, e.Callback)
}

// delegateInterfaces lists every delegate interface: a test checks that
// each exported interface of the package whose name ends in Delegate is
// here. Each has one method, the callback.
var delegateInterfaces = []reflect.Type{
	reflect.TypeFor[InvalidationDelegate](),
	reflect.TypeFor[TaskCreationDelegate](),
	reflect.TypeFor[RedirectionDelegate](),
	reflect.TypeFor[BodyStreamDelegate](),
	reflect.TypeFor[SendProgressDelegate](),
	reflect.TypeFor[ConnectivityDelegate](),
	reflect.TypeFor[MetricsDelegate](),
	reflect.TypeFor[CompletionDelegate](),
	reflect.TypeFor[ResponseDelegate](),
	reflect.TypeFor[DataDelegate](),
	reflect.TypeFor[CacheDelegate](),
	reflect.TypeFor[SessionChallengeDelegate](),
	reflect.TypeFor[TaskChallengeDelegate](),
	reflect.TypeFor[WebSocketOpenDelegate](),
	reflect.TypeFor[WebSocketCloseDelegate](),
	reflect.TypeFor[StreamReadClosedDelegate](),
	reflect.TypeFor[StreamWriteClosedDelegate](),
	reflect.TypeFor[StreamCaptureDelegate](),
	reflect.TypeFor[StreamConversionDelegate](),
	reflect.TypeFor[DownloadDelegate](),
	reflect.TypeFor[DownloadProgressDelegate](),
	reflect.TypeFor[DownloadResumeDelegate](),
	reflect.TypeFor[BecomeDownloadDelegate](),
	reflect.TypeFor[InformationalResponseDelegate](),
	reflect.TypeFor[BodyStreamFromOffsetDelegate](),
	reflect.TypeFor[BackgroundEventsDelegate](),
	reflect.TypeFor[DelayedRequestDelegate](),
}

// callback is one delegate callback.
type callback struct {
	iface reflect.Type
	name  string // the method's name
	sig   string // its name, parameters and results, as DelegateError shows them
}

var callbacks = sync.OnceValue(func() []callback {
	cs := make([]callback, 0, len(delegateInterfaces))
	for _, it := range delegateInterfaces {
		for m := range it.Methods() {
			cs = append(cs, callback{iface: it, name: m.Name, sig: signature(m.Name, m.Type, 0)})
		}
	}
	return cs
})

// delegateChecks caches checkDelegate's answer (an error or nil) per type.
var delegateChecks sync.Map // reflect.Type → error

// checkDelegate returns the DelegateErrors of delegate d's type, or nil.
// The type is examined once; later calls cost a map lookup.
func checkDelegate(d any) error {
	if d == nil {
		return nil
	}
	t := reflect.TypeOf(d)
	if v, ok := delegateChecks.Load(t); ok {
		err, _ := v.(error) // nil for a type without problems
		return err
	}
	err := examineDelegate(t)
	delegateChecks.Store(t, err)
	return err
}

// examineDelegate compares every method of t whose name is a callback's, in
// any case, with the callback. For a type that is not a pointer it looks at
// the pointer's methods too, which a value of the type does not have.
func examineDelegate(t reflect.Type) error {
	methods := t
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		methods = reflect.PointerTo(t)
	}
	var errs []error
	for m := range methods.Methods() {
		for _, c := range callbacks() {
			if !strings.EqualFold(m.Name, c.name) || t.Implements(c.iface) {
				continue
			}
			e := &DelegateError{
				Delegate:  t.String(),
				Method:    signature(m.Name, m.Type, 1),
				Interface: c.iface.Name(),
				Callback:  c.sig,
			}
			if _, own := t.MethodByName(m.Name); !own && m.Name == c.name && methods.Implements(c.iface) {
				e.PointerReceiver = true
			}
			errs = append(errs, e)
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// signature formats a method as "Name(P1, P2) R", skipping the first skip
// parameters (the receiver of a method from a concrete type's method set).
// []byte is written so, not as []uint8.
func signature(name string, ft reflect.Type, skip int) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('(')
	for i := skip; i < ft.NumIn(); i++ {
		if i > skip {
			b.WriteString(", ")
		}
		p := ft.In(i)
		if ft.IsVariadic() && i == ft.NumIn()-1 {
			b.WriteString("...")
			p = p.Elem()
		}
		b.WriteString(typeName(p))
	}
	b.WriteByte(')')
	switch n := ft.NumOut(); n {
	case 0:
	case 1:
		b.WriteString(" " + typeName(ft.Out(0)))
	default:
		b.WriteString(" (")
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(typeName(ft.Out(i)))
		}
		b.WriteByte(')')
	}
	return b.String()
}

func typeName(t reflect.Type) string {
	if t == reflect.TypeFor[[]byte]() {
		return "[]byte"
	}
	return t.String()
}

// delegateProblem returns the error a task with a per-task delegate that
// fails checkDelegate completes with.
func (t *Task) delegateProblem() error {
	t.mu.Lock()
	d := t.delegate
	t.mu.Unlock()
	if err := checkDelegate(d); err != nil {
		return &Error{Code: ErrUnknown, Err: err}
	}
	return nil
}
