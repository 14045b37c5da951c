package store

import (
	"slices"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

// sortJobs orders jobs by creation time, then ID.
func sortJobs(jobs []api.Job) {
	slices.SortStableFunc(jobs, func(a, b api.Job) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}
