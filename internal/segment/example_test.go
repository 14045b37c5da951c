package segment_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/urlsession-go/urlsession/internal/segment"
)

func ExamplePlan() {
	st, _ := segment.Plan(10<<20, 4, 1<<20)
	for _, g := range st.Segments {
		r := g.Remaining()
		fmt.Println(r.Header())
	}
	// Output:
	// bytes=0-2621439
	// bytes=2621440-5242879
	// bytes=5242880-7864319
	// bytes=7864320-10485759
}

func ExampleParseState() {
	// A State saved in resume data after an interruption.
	saved, _ := json.Marshal(segment.State{Total: 100, Segments: []segment.Segment{
		{Start: 0, End: 50, Done: 50},
		{Start: 50, End: 100, Done: 20},
	}})
	fmt.Println(string(saved))
	st, err := segment.ParseState(saved)
	fmt.Println(st.Written(), st.Complete(), err)
	_, err = segment.ParseState([]byte(`{"total":100,"segments":[{"start":0,"end":60,"done":0}]}`))
	fmt.Println(err)
	// Output:
	// {"total":100,"segments":[{"start":0,"end":50,"done":50},{"start":50,"end":100,"done":20}]}
	// 70 false <nil>
	// segment: invalid state: segments end at 60, total is 100
}

func ExampleExecutor() {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "", time.Unix(1e9, 0), bytes.NewReader(body))
	}))
	defer srv.Close()

	dir, _ := os.MkdirTemp("", "segment-example-")
	defer os.RemoveAll(dir)
	f, _ := os.Create(filepath.Join(dir, "download"))
	defer f.Close()

	st, _ := segment.Plan(int64(len(body)), 4, 64<<10)
	e, err := segment.NewExecutor(segment.Config{
		Fetch: func(ctx context.Context, r segment.Range) (*http.Response, error) {
			req, err := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Range", r.Header())
			req.Header.Set("If-Range", `"v1"`)
			return srv.Client().Do(req)
		},
		Dst:      f,
		MinSplit: -1, // keep the four planned segments
	}, st)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := e.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	got, _ := os.ReadFile(f.Name())
	fmt.Println(bytes.Equal(got, body), len(e.State().Segments), e.State().Complete())
	// Output:
	// true 4 true
}
