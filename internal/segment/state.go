package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxSegments bounds the number of segments a State may hold, including
// those made by splitting.
const MaxSegments = 1024

// Range is a byte range [Start, End) of the body: Start is its first byte,
// End one past its last. Its Range header is "bytes=Start-(End-1)".
type Range struct {
	Start int64
	End   int64
}

// Len returns the number of bytes in r.
func (r Range) Len() int64 { return r.End - r.Start }

// Header returns the value of a Range request header asking for r.
func (r Range) Header() string {
	return "bytes=" + strconv.FormatInt(r.Start, 10) + "-" + strconv.FormatInt(r.End-1, 10)
}

// Segment is one range of the body and how much of it is in the file: the
// bytes [Start, Start+Done) are written.
type Segment struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	Done  int64 `json:"done"`
}

// Remaining returns the range still to fetch.
func (s Segment) Remaining() Range { return Range{s.Start + s.Done, s.End} }

// State is the progress of a segmented download: the body's total length and
// its segments, which tile [0, Total) in order. It is small and plain, meant
// to be embedded in resume data; encode it with encoding/json (as
// {"total":N,"segments":[{"start":S,"end":E,"done":D},...]}) and decode it
// with [ParseState], which validates it.
type State struct {
	Total    int64     `json:"total"`
	Segments []Segment `json:"segments"`
}

// ErrInvalidState is wrapped by every error of [State.Validate] and
// [ParseState].
var ErrInvalidState = errors.New("segment: invalid state")

// Plan cuts a body of total bytes into n segments of nearly equal length,
// none shorter than minSize bytes (fewer segments when the body is small; at
// least one). total must be positive, n at least 1 and at most
// [MaxSegments]; minSize below 1 counts as 1.
func Plan(total int64, n int, minSize int64) (State, error) {
	if total <= 0 {
		return State{}, fmt.Errorf("%w: total length %d is not positive", ErrInvalidState, total)
	}
	if n < 1 || n > MaxSegments {
		return State{}, fmt.Errorf("%w: %d segments (want 1 to %d)", ErrInvalidState, n, MaxSegments)
	}
	minSize = max(minSize, 1)
	if most := total / minSize; int64(n) > most {
		n = int(max(most, 1))
	}
	st := State{Total: total, Segments: make([]Segment, n)}
	size, extra := total/int64(n), total%int64(n)
	var start int64
	for i := range st.Segments {
		l := size
		if int64(i) < extra {
			l++
		}
		st.Segments[i] = Segment{Start: start, End: start + l}
		start += l
	}
	return st, nil
}

// Written returns the number of bytes written, the sum of the segments'
// Done.
func (s State) Written() int64 {
	var n int64
	for _, g := range s.Segments {
		n += g.Done
	}
	return n
}

// Complete reports whether every byte is written.
func (s State) Complete() bool { return s.Written() == s.Total }

// Clone returns a deep copy of s.
func (s State) Clone() State {
	s.Segments = append([]Segment(nil), s.Segments...)
	return s
}

// Validate checks that s describes a download: a positive Total, 1 to
// [MaxSegments] non-empty segments tiling [0, Total) in order, each with
// 0 <= Done <= End-Start. The error wraps [ErrInvalidState].
func (s State) Validate() error {
	if s.Total <= 0 {
		return fmt.Errorf("%w: total length %d is not positive", ErrInvalidState, s.Total)
	}
	if len(s.Segments) == 0 || len(s.Segments) > MaxSegments {
		return fmt.Errorf("%w: %d segments (want 1 to %d)", ErrInvalidState, len(s.Segments), MaxSegments)
	}
	var next int64
	for i, g := range s.Segments {
		switch {
		case g.Start != next:
			return fmt.Errorf("%w: segment %d starts at %d, want %d", ErrInvalidState, i, g.Start, next)
		case g.End <= g.Start || g.End > s.Total:
			return fmt.Errorf("%w: segment %d ends at %d (starts at %d, total %d)", ErrInvalidState, i, g.End, g.Start, s.Total)
		case g.Done < 0 || g.Done > g.End-g.Start:
			return fmt.Errorf("%w: segment %d has %d of %d bytes done", ErrInvalidState, i, g.Done, g.End-g.Start)
		}
		next = g.End
	}
	if next != s.Total {
		return fmt.Errorf("%w: segments end at %d, total is %d", ErrInvalidState, next, s.Total)
	}
	return nil
}

// ParseState decodes a State encoded with encoding/json and validates it.
// Unknown fields, trailing data and anything [State.Validate] rejects give
// an error wrapping [ErrInvalidState].
func ParseState(data []byte) (State, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return State{}, fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return State{}, fmt.Errorf("%w: data after the state", ErrInvalidState)
	}
	if err := s.Validate(); err != nil {
		return State{}, err
	}
	return s, nil
}
