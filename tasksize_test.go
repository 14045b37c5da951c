package urlsession

import (
	"testing"
	"unsafe"
)

// TestTaskSizeClass guards a measured cost: a Task (with the 8-byte header
// the runtime gives objects over 512 bytes that hold pointers) fits the
// 768-byte allocation size class, which it fills: one field more moves
// every task to the 896-byte class, 128 bytes per task, which the
// per-request benchmarks and the heap with 10,000 tasks in flight see;
// keep rarely used state in taskExtra instead.
func TestTaskSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(Task{}) + 8; size > 768 {
		t.Errorf("a Task takes %d bytes with its header, over the 768-byte size class", size)
	}
}
