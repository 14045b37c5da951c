package changes

import "testing"

func TestFor(t *testing.T) {
	a, b := For("/x/a"), For("/x/b")
	if a == b {
		t.Fatal("two paths share a counter")
	}
	a.Add(1)
	if For("/x/a").Load() != 1 || b.Load() != 0 {
		t.Fatal("the counter of a path is not the same on every call")
	}
}
