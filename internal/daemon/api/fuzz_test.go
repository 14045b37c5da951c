package api

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecode feeds arbitrary bodies to every decoder: none may panic,
// and whatever one accepts must validate and survive a round trip.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"session":"s","kind":"download","request":{"method":"GET","url":"https://example.com/f"}}`))
	f.Add([]byte(`{"session":"s","kind":"upload","file":"/tmp/x","request":{"method":"PUT","url":"http://h/u","header":{"A":["b"]}},"priority":5,"earliest_begin":"2030-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"launch_command":["/usr/bin/app","--bg"],"sends_launch_events":true,"after":3}`))
	f.Add([]byte(`{"through":12}`))
	f.Add([]byte(`{"seq":4,"session":"s","job":"j","kind":"complete","error_code":-999,"resume_data":"AAEC"}`))
	f.Add([]byte(`{"disposition":"use-new-request","request":{"method":"GET","url":"https://example.com/x"}}`))
	f.Add([]byte(`{"seq":5,"session":"s","job":"j","kind":"complete","response":{"url":"https://h/","proto":"HTTP/2.0","status_code":200,"header":{"A":["b"]}},"metrics":{"transactions":[{"method":"GET","url":"https://h/"}]},"body":"AAEC"}`))
	f.Add([]byte(`}{`))
	f.Add([]byte(`{"session":"s"} trailing`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if n, err := DecodeNewJob(bytes.NewReader(data)); err == nil {
			if err := n.Validate(); err != nil {
				t.Fatalf("accepted new job does not validate: %v", err)
			}
			again, _ := json.Marshal(n)
			if _, err := DecodeNewJob(bytes.NewReader(again)); err != nil {
				t.Fatalf("round trip of %s: %v", again, err)
			}
		}
		if a, err := DecodeAttach(bytes.NewReader(data)); err == nil {
			if err := a.Validate(); err != nil {
				t.Fatal(err)
			}
		}
		if a, err := DecodeAck(bytes.NewReader(data)); err == nil && a.Through < 0 {
			t.Fatal("negative ack accepted")
		}
		if b, err := DecodeBegin(bytes.NewReader(data)); err == nil {
			if err := b.Validate(); err != nil {
				t.Fatalf("accepted answer does not validate: %v", err)
			}
		}
		if e, err := DecodeEvent(data); err == nil {
			if e.Seq <= 0 || !e.Kind.Valid() {
				t.Fatalf("bad event accepted: %+v", e)
			}
		}
	})
}
