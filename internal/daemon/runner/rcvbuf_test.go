//go:build unix

package runner

import (
	"testing"
	"time"
)

func TestPathReceiveBuffer(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		rtt   time.Duration
		limit int
		want  int
	}{
		{0, 32 * mib, 0},                        // no RTT sample: autotuning
		{-time.Microsecond, 32 * mib, 0},        // nonsense: autotuning
		{time.Microsecond, 32 * mib, 256 << 10}, // loopback: the floor
		{50 * time.Microsecond, 32 * mib, 256 << 10},
		{200 * time.Microsecond, 32 * mib, 256 << 10}, // 250,000 bytes: still the floor
		{300 * time.Microsecond, 32 * mib, 375000},
		{time.Millisecond, 32 * mib, 1250000},
		{time.Millisecond, 1250000, 1250000}, // at the limit
		{time.Millisecond, 1249999, 0},       // beyond it
		{25 * time.Millisecond, 32 * mib, 31250000},
		{27 * time.Millisecond, 32 * mib, 0}, // a WAN path: autotuning
		{100 * time.Millisecond, 6 * mib, 0},
		{20 * time.Microsecond, 212992, 256 << 10}, // rmem_max below the floor: the kernel caps it at rmem_max
		{200 * time.Microsecond, 212992, 0},        // 250,000 is beyond what SO_RCVBUF may be set to
		{300 * time.Microsecond, 212992, 0},
	} {
		if got := pathReceiveBuffer(c.rtt, c.limit); got != c.want {
			t.Errorf("pathReceiveBuffer(%v, %d) = %d, want %d", c.rtt, c.limit, got, c.want)
		}
	}
}
