package urlcache

import "testing"

func TestSingleRange(t *testing.T) {
	for _, tc := range []struct {
		value         string
		size          int64
		start, length int64
		status        int
	}{
		{"bytes=0-4", 10, 0, 5, 206},
		{"bytes=2-2", 10, 2, 1, 206},
		{"bytes=5-", 10, 5, 5, 206},
		{"bytes=-3", 10, 7, 3, 206},
		{"bytes=-30", 10, 0, 10, 206},
		{"bytes=8-100", 10, 8, 2, 206},
		{"bytes=0-99999999999999999999999", 10, 0, 10, 206},
		{"BYTES=1-2", 10, 1, 2, 206},
		{"bytes=9-9", 10, 9, 1, 206},
		{"bytes=10-", 10, 0, 0, 416},
		{"bytes=10-20", 10, 0, 0, 416},
		{"bytes=99999999999999999999999-", 10, 0, 0, 416},
		{"bytes=-0", 10, 0, 0, 416},
		{"bytes=0-1,4-5", 10, 0, 0, 0},
		{"bytes=0-1, 4-5", 10, 0, 0, 0},
		{"bytes=5-4", 10, 0, 0, 0},
		{"bytes= 0-4", 10, 0, 0, 0},
		{"bytes=0 -4", 10, 0, 0, 0},
		{"bytes=+1-4", 10, 0, 0, 0},
		{"bytes=-", 10, 0, 0, 0},
		{"bytes=", 10, 0, 0, 0},
		{"bytes=1", 10, 0, 0, 0},
		{"bytes=a-b", 10, 0, 0, 0},
		{"items=0-4", 10, 0, 0, 0},
		{"bytes 0-4", 10, 0, 0, 0},
		{"bytes=-5", 0, 0, 0, 0},
		{"bytes=0-", 0, 0, 0, 0},
	} {
		start, length, status := SingleRange(tc.value, tc.size)
		if start != tc.start || length != tc.length || status != tc.status {
			t.Errorf("SingleRange(%q, %d) = %d, %d, %d; want %d, %d, %d", tc.value, tc.size, start, length, status, tc.start, tc.length, tc.status)
		}
	}
}
