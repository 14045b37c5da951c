//go:build unix

package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urlsession-go/urlsession/internal/daemon/api"
)

// Runner runs transfers for the daemon. The daemon calls Run on a
// goroutine of its own, at most Config.MaxConcurrent at a time.
//
// Run performs job's transfer (continuing from job.ResumeData when it is
// set) and returns when it has finished, failed, or ctx is done. It
// reports progress through progress, from any goroutine, never after it
// has returned. When ctx is done (the job was paused, cancelled, stalled,
// timed out, or the daemon is stopping; context.Cause tells which) Run
// stops promptly and returns with the resume data that continues the
// transfer, or with none when the transfer must start over. A Run that
// fails before transferring anything returns the resume data it was given.
type Runner interface {
	Run(ctx context.Context, job api.Job, progress func(Progress)) Result
}

// Progress is a transfer's report while it runs.
type Progress struct {
	BytesDone     int64
	BytesExpected int64 // -1 when unknown
	// Resumed is where this run of the transfer began: the bytes the
	// server or the partial file already held when it continued from
	// resume data (0 for a run from the start). The first report of a
	// job made from resume data sets the job's BytesResumed.
	Resumed int64
	// ResumeData, when set, is a checkpoint: the daemon stores it with
	// the job, so that a daemon killed now continues from it.
	ResumeData []byte
}

// Result is how a transfer ended.
type Result struct {
	// Err is nil when the transfer finished (whatever the HTTP status:
	// a status is never an error), else a *TransferError or any error,
	// which counts as a transient failure with code -1.
	Err error
	// StatusCode is the final response's status. A finished transfer
	// has one; a Run stopped by its context before finishing leaves it
	// 0 (with Err nil or not), and a result with Err nil and no status
	// counts as a transient failure (-1011, bad server response).
	StatusCode int
	// Response is the final response's head, when there is one.
	Response *api.Response
	// Body is an upload's response body (at most api.MaxResponseBody
	// bytes), which its complete event carries.
	Body []byte
	// Metrics are the run's metrics, which the complete event carries
	// when the job ends with this run.
	Metrics *api.Metrics
	// File is the downloaded file, which the daemon hands over in a
	// finish-downloading event; empty for uploads.
	File       string
	BytesDone  int64
	ResumeData []byte
}

// TransferError is a transfer's failure.
type TransferError struct {
	Code    int    // URLError code, e.g. -1004 cannot connect to host
	Message string // free of credentials
	// Permanent failures end the job; the others are retried with
	// backoff until the resource timeout.
	Permanent bool
	// RetryAfter is the server's Retry-After, honoured (up to
	// Config.MaxRetryAfter) when longer than the backoff.
	RetryAfter time.Duration
}

func (e *TransferError) Error() string {
	return fmt.Sprintf("transfer failed: %d: %s", e.Code, e.Message)
}

// URLError codes the daemon itself produces.
const (
	codeUnknown   = -1
	codeCancelled = -999  // the job was cancelled
	codeTimedOut  = -1001 // the resource timeout passed
)

// Reasons a running transfer's context is cancelled with.
var (
	errPaused    = errors.New("paused")
	errCancelled = errors.New("cancelled")
	errStalled   = errors.New("throughput below the floor")
	errDeadline  = errors.New("resource timeout")
	errStopping  = errors.New("daemon stopping")
)
