package urlsession_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/coder/websocket"

	"github.com/urlsession-go/urlsession"
)

// closer is a delegate that hears which subprotocol a WebSocket opened
// with. Its callbacks run on the session's delegate queue, not the
// goroutine that sends and receives, so the protocol goes through a
// channel. (Whether the server answers the close frame before it hangs up
// is a race, so the example does not print DidCloseWith.)
type closer struct{ opened chan string }

func (c closer) DidOpenWithProtocol(_ *urlsession.Session, _ *urlsession.WebSocketTask, protocol string) {
	c.opened <- protocol
}

var _ urlsession.WebSocketOpenDelegate = closer{}

// A WebSocket task sends and receives messages until one side closes.
func ExampleSession_WebSocketTask() {
	// A server that answers each message in upper case.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"shout"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, data, err := c.Read(r.Context())
			if err != nil {
				return
			}
			c.Write(r.Context(), typ, []byte(strings.ToUpper(string(data))))
		}
	}))
	defer srv.Close()

	d := closer{opened: make(chan string, 1)}
	s, _ := urlsession.New(urlsession.DefaultConfiguration(), d)
	defer s.FinishTasksAndInvalidate()
	u, _ := url.Parse("ws" + strings.TrimPrefix(srv.URL, "http") + "/chat")
	task := s.WebSocketTask(u, []string{"shout"})
	task.Resume()
	fmt.Println("open, protocol", <-d.opened)

	ctx := context.Background()
	for _, text := range []string{"hello", "world"} {
		if err := task.Send(ctx, urlsession.TextMessage(text)); err != nil {
			fmt.Println("send:", err)
			return
		}
		m, err := task.Receive(ctx)
		if err != nil {
			fmt.Println("receive:", err)
			return
		}
		fmt.Println(m.Type, m.Text())
	}
	task.CancelWith(urlsession.CloseNormalClosure, []byte("done"))
	<-task.Done()
	fmt.Println("error:", task.Err(), "close code:", task.CloseCode())
	// Output:
	// open, protocol shout
	// text HELLO
	// text WORLD
	// error: <nil> close code: normalClosure
}
