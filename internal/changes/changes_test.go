package changes

import (
	"path/filepath"
	"sync"
	"testing"
)

// The counters are process-wide and live as long as the process, so each
// test works on paths no other test (or earlier run of this one under
// -count) has used, and checks changes relative to what it found.

func TestFor(t *testing.T) {
	dir := t.TempDir() // unique per run
	pa, pb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	a, b := For(pa), For(pb)
	if a == b {
		t.Fatal("two paths share a counter")
	}
	if For(pa) != a {
		t.Fatal("For returns a different counter for the same path")
	}
	a0, b0 := a.Load(), b.Load()
	a.Add(1)
	if got := For(pa).Load(); got != a0+1 {
		t.Errorf("count of a after one change: %d, want %d", got, a0+1)
	}
	if got := b.Load(); got != b0 {
		t.Errorf("a change to a moved b's count from %d to %d", b0, got)
	}
}

func TestForConcurrent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "shared")
	const n = 8
	got := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := For(p)
			c.Add(1)
			got[i] = c
		})
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if got[i] != got[0] {
			t.Fatal("concurrent first calls for one path returned different counters")
		}
	}
	if c := For(p).Load(); c != n {
		t.Errorf("count %d after %d concurrent changes, want %d", c, n, n)
	}
}
