package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressThreshold is the body size from which the progress bar shows.
const progressThreshold = 1 << 20

// progressInterval is the shortest time between two redraws.
const progressInterval = 100 * time.Millisecond

// progressWidth is the number of cells of the bar itself when standard
// error is not a terminal (on a terminal the bar takes the line's width).
const progressWidth = 24

// progress is the progress bar on standard error, drawn by
// github.com/schollz/progressbar: the bar, the percentage, the bytes so
// far and in all, the rate and the time elapsed and left (the bytes and
// rate alone, with a spinner, when the length is not known). It is redrawn
// in place at most every progressInterval. Its methods are called from one
// goroutine at a time (the session's delegate queue, then fetch).
type progress struct {
	w      io.Writer
	always bool  // -#: whatever the size, and left complete at the end
	total  int64 // -1 when unknown
	bar    *progressbar.ProgressBar
}

func newProgress(w io.Writer, total int64) *progress {
	return &progress{w: w, total: total}
}

// update shows n bytes received, unless the body is small.
func (p *progress) update(n int64) {
	if p == nil {
		return
	}
	if !p.always && (p.total >= 0 && p.total <= progressThreshold || p.total < 0 && n <= progressThreshold) {
		return
	}
	p.set(n)
}

// set moves the bar to n bytes, making it on first use.
func (p *progress) set(n int64) {
	if p.bar == nil {
		max := p.total
		if max <= 0 {
			max = -1 // a spinner
		}
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(progressInterval),
			progressbar.OptionSetSpinnerChangeInterval(0), // no goroutine: redrawn as bytes arrive
			progressbar.OptionSetWidth(progressWidth),
			progressbar.OptionSetTheme(progressbar.Theme{Saucer: "#", SaucerPadding: "-", BarStart: "[", BarEnd: "]"}),
		}
		if isTerminal(p.w) {
			opts = append(opts, progressbar.OptionFullWidth())
		}
		p.bar = progressbar.NewOptions64(max, opts...)
	}
	if p.total > 0 && n > p.total {
		// More than announced (a decoded body): grow rather than fail.
		p.total = n
		p.bar.ChangeMax64(n)
	}
	p.bar.Set64(n)
}

// done ends the bar after n bytes: with -# it is left on its line, full
// when the body is complete, as curl leaves it; otherwise it is cleared.
func (p *progress) done(n int64) {
	if p == nil {
		return
	}
	if !p.always {
		p.clear()
		if p.bar != nil {
			p.bar.Exit()
		}
		return
	}
	p.set(n)
	if p.total < 0 || n >= p.total {
		p.bar.Finish()
	} else {
		p.bar.Exit()
	}
	io.WriteString(p.w, "\n")
}

// clear erases the bar if it is shown, as before the -v log; the next
// update draws it again.
func (p *progress) clear() {
	if p == nil || p.bar == nil {
		return
	}
	p.bar.Clear()
}

// formatBytes formats n with a binary unit: "512 B", "1.5 KiB", "12.3 MiB".
func formatBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 || u == "TiB" {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	panic("unreachable")
}

// isTerminal reports whether w is a terminal: a character device other than
// the null device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(fi, null) {
		return false
	}
	return true
}
