package segment_test

import (
	"encoding/json"
	"fmt"

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
