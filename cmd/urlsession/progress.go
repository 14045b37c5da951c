package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressThreshold is the body size from which the progress bar shows.
const progressThreshold = 1 << 20

// progressInterval is the shortest time between two redraws.
const progressInterval = 100 * time.Millisecond

// progressWidth is the number of cells of the bar itself.
const progressWidth = 24

// progress draws a one-line progress bar, redrawn in place with \r. Its
// methods are called from one goroutine at a time.
type progress struct {
	w      io.Writer
	always bool  // -#: whatever the size, and left complete at the end
	total  int64 // -1 when unknown
	now    func() time.Time
	start  time.Time
	last   time.Time
	shown  int // length of the line on screen, 0 when none
}

func newProgress(w io.Writer, total int64, now func() time.Time) *progress {
	return &progress{w: w, total: total, now: now, start: now()}
}

// update redraws the bar for n bytes received, unless the body is small or
// the last redraw was less than progressInterval ago.
func (p *progress) update(n int64) {
	if p == nil {
		return
	}
	if !p.always && (p.total >= 0 && p.total <= progressThreshold || p.total < 0 && n <= progressThreshold) {
		return
	}
	now := p.now()
	if p.shown > 0 && now.Sub(p.last) < progressInterval {
		return
	}
	p.draw(n, now)
}

// draw draws the bar for n bytes at time now.
func (p *progress) draw(n int64, now time.Time) {
	p.last = now
	line := p.line(n, now)
	pad := ""
	if len(line) < p.shown {
		pad = strings.Repeat(" ", p.shown-len(line))
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.shown = len(line)
}

// line is the text of the bar for n bytes at time now.
func (p *progress) line(n int64, now time.Time) string {
	rate := "--"
	if el := now.Sub(p.start).Seconds(); el > 0 {
		rate = formatBytes(int64(float64(n)/el)) + "/s"
	}
	if p.total <= 0 {
		return fmt.Sprintf("%s  %s", formatBytes(n), rate)
	}
	frac := min(float64(n)/float64(p.total), 1)
	filled := int(frac * progressWidth)
	bar := strings.Repeat("#", filled) + strings.Repeat("-", progressWidth-filled)
	return fmt.Sprintf("[%s] %5.1f%%  %s / %s  %s", bar, frac*100, formatBytes(n), formatBytes(p.total), rate)
}

// done ends the bar after n bytes: with -# it is drawn complete and
// left on its line, as curl leaves it; otherwise it is cleared.
func (p *progress) done(n int64) {
	if p == nil {
		return
	}
	if !p.always {
		p.clear()
		return
	}
	if p.total < 0 {
		p.total = n
	}
	p.draw(n, p.now())
	io.WriteString(p.w, "\n")
	p.shown = 0
}

// clear erases the bar if it is shown.
func (p *progress) clear() {
	if p == nil || p.shown == 0 {
		return
	}
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.shown))
	p.shown = 0
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
